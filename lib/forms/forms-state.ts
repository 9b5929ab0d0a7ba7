import { createHash } from 'node:crypto';

/** The key under which a stored record keeps the module's form state (never seen by the app as a session key). */
export const FORMS_KEY = '__forms';

/** What the module keeps per session for forms and sensitive actions (internal). */
export interface FormsState {
  /** The session's CSRF secret, base64url. */
  csrf?: string;
  /** When the session last logged in or confirmed its login, in epoch milliseconds. */
  loggedInAt?: number;
  /** Flash messages by type, in the order they were set. */
  flash?: Record<string, unknown[]>;
}

const FORMS_STATE = Symbol.for('nest-express-session:forms-state');

type WithForms = { [FORMS_STATE]?: FormsState };
type Data = Record<string, unknown>;

/** The form state of a session object, if it has any. */
export function formsStateOf(session: object | null | undefined): FormsState | undefined {
  return session ? (session as WithForms)[FORMS_STATE] : undefined;
}

/** Whether a form state holds nothing worth storing. */
function isEmpty(state: FormsState): boolean {
  return state.csrf === undefined && state.loggedInAt === undefined && state.flash === undefined;
}

/**
 * The form state of a session object, made empty on first use. It sits under a symbol, not enumerable, so
 * spreads, `Object.keys` and the app's own keys never see it; `serialise` and the writer add it to the record.
 */
export function formsStateFor(session: object): FormsState {
  const existing = formsStateOf(session);
  if (existing) return existing;
  const state: FormsState = {};
  Object.defineProperty(session, FORMS_STATE, { value: state, writable: true, configurable: true });
  // express-session decides whether a new session gets its cookie from a hash of JSON.stringify(session);
  // a digest of the hidden state takes part in it, so a session that only got a CSRF secret or a flash
  // message still gets its cookie, without the secret ever appearing in a dump of the session. Like
  // express-session's own hash, that JSON leaves the cookie out (its expiry changes on every touch).
  Object.defineProperty(session, 'toJSON', { value: sessionJson, writable: true, configurable: true });
  return state;
}

function sessionJson(this: object): Data {
  const out: Data = {};
  for (const key of Object.keys(this)) if (key !== 'cookie') out[key] = (this as Data)[key];
  const json = formsJson(this);
  if (json !== undefined) out[FORMS_KEY] = createHash('sha256').update(json).digest('base64url').slice(0, 22);
  return out;
}

/** The form state of a session object as JSON, or undefined when there is nothing to store. */
export function formsJson(session: object): string | undefined {
  const state = formsStateOf(session);
  return state && !isEmpty(state) ? JSON.stringify(state) : undefined;
}

/** Moves the form state out of a loaded record onto the session object made from it. */
export function takeFormsState(record: Data): FormsState | undefined {
  if (!(FORMS_KEY in record)) return undefined;
  const value = record[FORMS_KEY];
  delete record[FORMS_KEY];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  // Copied in the record's own key order (a jsonb column reorders keys), so that an unchanged state
  // serialises exactly as it was loaded and the session is not written again for nothing.
  const state: Data = {};
  for (const [key, item] of Object.entries(value as Data)) {
    const valid =
      (key === 'csrf' && typeof item === 'string') ||
      (key === 'loggedInAt' && typeof item === 'number') ||
      (key === 'flash' && typeof item === 'object' && item !== null && !Array.isArray(item));
    if (valid) state[key] = item;
  }
  return state;
}

/**
 * Gives a session object loaded from `record` the form state the record held. express-session hashes the loaded
 * record (not the session) to tell later whether the session changed: the record then serialises as the session
 * does, or every session with form state would look changed and be saved and sent its cookie again.
 */
export function restoreFormsState(session: object, state: FormsState | undefined, record: object): void {
  if (!state) return;
  Object.assign(formsStateFor(session), state);
  Object.defineProperty(record, 'toJSON', { value: () => sessionJson.call(session), configurable: true });
}

/** A plain copy of the session with its form state as a key, for stores that are handed whole records. */
export function withFormsState(session: object): object {
  const json = formsJson(session);
  return json === undefined ? session : { ...session, [FORMS_KEY]: JSON.parse(json) as unknown };
}
