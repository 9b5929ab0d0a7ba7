import type { Callback } from './store-call.js';

/**
 * A store that applies a request's changes itself, in one step: the keys the request set and the keys it
 * removed go into the latest stored copy of the session, and only if that copy still exists. Concurrent
 * requests on one session then never conflict: each writes its own keys, the later write wins for a key both
 * set, and a session destroyed meanwhile is never written back. The embedded store, redisStore(),
 * postgresStore() and sqliteStore() have it; any other store is read again before each write (internal).
 */
export const CHANGED_KEY_WRITES = Symbol.for('nest-express-session:changed-key-writes');

/** One write of a session's record. */
export interface RecordWrite {
  /** Top-level keys with their values as JSON (the module's `__session` timestamps among them when set). */
  set: ReadonlyMap<string, string>;
  /** Top-level keys to remove (always empty for `replace`). */
  unset: readonly string[];
  /** The session's cookie as JSON: it is written with every change, since it carries the expiry. */
  cookie: string;
  /** When the session expires, in epoch milliseconds; undefined: the store's default lifetime. */
  expires?: number;
}

/** The changed-key write capability (internal). */
export interface ChangedKeyWrites {
  /** Stores a whole record, replacing any under this id (a new or regenerated session). */
  replace(sid: string, write: RecordWrite, callback: Callback): void;
  /**
   * Applies `write` to the stored record in one step: sets its keys, removes its `unset` keys, replaces the
   * cookie and the expiry. Calls back with `true`, or `false` when no record with this id exists (nothing is
   * written then).
   */
  patch(sid: string, write: RecordWrite, callback: Callback<boolean>): void;
  /** The class that defines these writes: they are used only while the store's `get` and `set` are that class's own. */
  owner: abstract new (...args: never[]) => object;
}

/** A store with changed-key writes (internal). */
export interface ChangedKeyStore {
  [CHANGED_KEY_WRITES]: ChangedKeyWrites;
}

/**
 * The store's changed-key writes, when it has them and its `get` and `set` are still its own: a subclass that
 * overrides either (to encrypt, to log) is read and written through them, never around.
 */
export function changedKeyWritesOf(store: object): ChangedKeyWrites | undefined {
  const capability = (store as Partial<ChangedKeyStore>)[CHANGED_KEY_WRITES];
  if (!capability || typeof capability.patch !== 'function') return undefined;
  const own = capability.owner.prototype as { get?: unknown; set?: unknown };
  const { get, set } = store as { get?: unknown; set?: unknown };
  return get === own.get && set === own.set ? capability : undefined;
}

/**
 * The record `write` describes, as the JSON text of one object (values are already JSON: nothing is parsed).
 * A record without a cookie (never one the module writes) has none.
 */
export function recordJson(write: { set: ReadonlyMap<string, string>; cookie?: string }): string {
  let json = write.cookie === undefined ? '{' : `{"cookie":${write.cookie}`;
  for (const [key, value] of write.set) {
    if (key !== 'cookie') json += `${json.length > 1 ? ',' : ''}${JSON.stringify(key)}:${value}`;
  }
  return json + '}';
}

/** When a stored session's cookie says it expires, in epoch milliseconds (undefined: no expiry, or unreadable). */
export function cookieExpiry(cookie: unknown): number | undefined {
  const expires = (cookie as { expires?: unknown } | null | undefined)?.expires;
  if (expires == null) return undefined;
  const at = expires instanceof Date ? expires.getTime() : typeof expires === 'string' ? Date.parse(expires) : NaN;
  return Number.isNaN(at) ? undefined : at;
}
