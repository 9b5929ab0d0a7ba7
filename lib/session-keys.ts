import { InternalServerErrorException } from '@nestjs/common';
import { Cookie, Session } from 'express-session';
import { sessionStateOf } from './session-state.js';
import { unserialisableSession } from './session.errors.js';
import { serialise } from './stores/session-record.js';

/** The methods of express-session's session object (`touch`, `save`, `resetMaxAge`, ...). */
const SESSION_METHODS = Object.getOwnPropertyNames(Session.prototype).filter((name) => name !== 'constructor');

/**
 * The 500 for a session a handler broke by overwriting one of its methods or its cookie (as
 * `session[body.key] = body.value` can). express-session calls those methods while the response is sent,
 * so saving such a session would hang the response or store a session that cannot be loaded again.
 */
export class OverwrittenSessionKeyError extends InternalServerErrorException {
  constructor(
    /** The key that was overwritten (only one of the fixed names checked here, never arbitrary input). */
    readonly key: string,
  ) {
    super('The session cannot be saved: a handler overwrote one of its methods or its cookie.');
  }
}

/** The method or reserved key of a session object that a handler overwrote, if any. */
function overwrittenKey(session: object): string | undefined {
  // Plain data handed to store.set() by the app itself is not a session the module made: only its keys count.
  const made = sessionStateOf(session) !== undefined;
  if (made && !(session instanceof Session)) return '__proto__';
  for (const name of SESSION_METHODS) {
    // express-session gives each session its own `save` and `reload`, not enumerable: overwriting those keeps
    // them out of the JSON, so their type tells.
    if (Object.prototype.propertyIsEnumerable.call(session, name)) return name;
    if (made && typeof (session as Record<string, unknown>)[name] !== 'function') return name;
  }
  return made && !((session as { cookie?: unknown }).cookie instanceof Cookie) ? 'cookie' : undefined;
}

/**
 * Each value of a session about to be saved as JSON, as `serialise` makes it; throws the
 * `OverwrittenSessionKeyError` for a session a handler broke, or what JSON throws (R15).
 */
export function serialiseSession(session: object): Map<string, string> {
  const key = overwrittenKey(session);
  if (key !== undefined) throw new OverwrittenSessionKeyError(key);
  return serialise(session);
}

/** The 500 for an error `serialiseSession` threw. */
export function sessionSaveError(err: unknown): InternalServerErrorException {
  return err instanceof OverwrittenSessionKeyError ? err : unserialisableSession(err);
}
