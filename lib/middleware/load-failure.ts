import type { Request } from 'express';
import { storeUnavailable } from '../session.errors.js';

const LOAD_FAILURE = Symbol.for('nest-express-session:load-failure');

type WithFailure = Request & { [LOAD_FAILURE]?: unknown };

/**
 * Records that the store failed to load this request's session (internal). Only on that path: the one
 * property the module adds to a request, where a guard, a decorator or the socket.io adapter finds it.
 */
export function markLoadFailure(req: Request, err: unknown): void {
  (req as WithFailure)[LOAD_FAILURE] = err;
}

/** The store error that left the request without its session, if any. */
export function loadFailure(req: Request): unknown {
  return (req as WithFailure)[LOAD_FAILURE];
}

/** Throws the 503 when the session middleware could not load this request's session. */
export function assertSessionLoaded(req: Request): void {
  const failure = loadFailure(req);
  if (failure !== undefined) throw storeUnavailable(failure);
}
