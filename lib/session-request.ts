import type { Request } from 'express';

const STATE = Symbol.for('nest-express-session:request-state');

/** What the module's middleware recorded about one request (internal). */
export interface SessionRequestState {
  /** The store error that left the request without its session, if any. */
  failure?: unknown;
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
