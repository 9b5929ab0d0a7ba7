import type { Request } from 'express';
import { storeUnavailable } from './session.errors.js';

const STATE = Symbol.for('nest-express-session:request-state');

/** The session as this request last read or wrote it: its id and each value as JSON (internal). */
export interface SessionSnapshot {
  sid: string;
  values: Map<string, string>;
  /** Whether a record with this id is known to exist in the store (loaded or written by this request). */
  stored: boolean;
  /** Whether this request already wrote these values. */
  written: boolean;
  /** The store's revision of the record as this request read or wrote it (stores with conditional writes). */
  revision?: string;
}

/** What the module recorded about one request (internal). */
export interface SessionRequestState {
  /** The store error that left the request without its session, if any. */
  failure?: unknown;
  /** The session as loaded or last written, to find what this request changed. */
  snapshot?: SessionSnapshot;
  /** The id of the session loaded for the request's cookie: the one express-session touches when unchanged. */
  loadedId?: string;
  /** When the loaded session was created (the module's own timestamp in the record). */
  createdAt?: number;
  /** Set once the session was checked before the response (serialisable, saved if changed). */
  committed?: boolean;
  /** Set once the module has saved or touched the session itself: the response ends without express-session's end. */
  ended?: boolean;
  /** The values just serialised by the commit, for the store write it starts at once (not serialised twice). */
  pending?: Map<string, string>;
}

type StatefulRequest = Request & { [STATE]?: SessionRequestState };

/** The state of a request the session middleware has seen, or undefined on a route without a session. */
export function sessionState(req: Request): SessionRequestState | undefined {
  return (req as StatefulRequest)[STATE];
}

/** Marks a request as served by the session middleware (internal). */
export function initSessionState(req: Request): SessionRequestState {
  const state: SessionRequestState = {};
  (req as StatefulRequest)[STATE] = state;
  return state;
}

/** Throws the 503 when the session middleware could not load this request's session. */
export function assertSessionLoaded(req: Request): void {
  const failure = sessionState(req)?.failure;
  if (failure !== undefined) throw storeUnavailable(failure);
}
