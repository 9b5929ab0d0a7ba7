import { StoreCallError } from '../session.errors.js';
import { sessionStateOf } from '../session-state.js';
import type { SessionSnapshot, SessionState } from '../session-state.js';
import { FORMS_KEY, formsJson } from '../forms/forms-state.js';

/** The key under which the module keeps its own timestamps in a stored record (never seen by the app). */
export const META_KEY = '__session';

/** The module's timestamps in a stored record, in epoch milliseconds. */
export interface RecordMeta {
  createdAt: number;
  lastSeen: number;
  /** Until when a logged-in session's entry in its user's index is kept (only in records of indexed sessions). */
  indexedUntil?: number;
}

/** The session key that holds a logged-in session's handle (see lib/controls). */
export const HANDLE_KEY = '__handle';

/** The handle of a session object (its state holds it) or of a stored record (a key), if any. */
export function handleOf(session: object | null | undefined): string | undefined {
  const handle = sessionStateOf(session)?.handle ?? (session as Data | null | undefined)?.[HANDLE_KEY];
  return typeof handle === 'string' ? handle : undefined;
}

/**
 * Whether a session carries a handle: a logged-in session in its user's index. On a store with an index its
 * record carries the module's timestamps, so that its last use rides on the write or touch each request makes.
 */
export function isIndexed(session: object): boolean {
  return handleOf(session) !== undefined;
}

/** Takes a loaded record's handle off its keys (the app never sees it) and returns it. */
export function takeHandle(record: Data): string | undefined {
  const handle = record[HANDLE_KEY];
  if (handle === undefined) return undefined;
  delete record[HANDLE_KEY];
  return typeof handle === 'string' ? handle : undefined;
}

/** Server-side lifetimes checked on every load. */
export interface RecordLimits {
  idleTimeout?: number;
  absoluteTimeout?: number;
  /**
   * Whether the stored `cookie.expires` decides expiry. Only for stores without `touch`: a store that
   * touches extends its own expiry (a key TTL, an expire column) without rewriting the stored cookie, so
   * for those the record's presence is the store's word that it has not expired.
   */
  cookieExpiry?: boolean;
}

type Values = Map<string, string>;
type Data = Record<string, unknown>;

/** Each value of the session (but its cookie) as JSON; throws on what JSON cannot hold (circular, BigInt). */
export function serialise(session: object): Values {
  const values: Values = new Map();
  for (const key of Object.keys(session)) {
    if (key === 'cookie') continue;
    const json = JSON.stringify((session as Data)[key]);
    if (json !== undefined) values.set(key, json);
  }
  const forms = formsJson(session);
  if (forms !== undefined) values.set(FORMS_KEY, forms);
  const handle = sessionStateOf(session)?.handle;
  if (handle !== undefined) values.set(HANDLE_KEY, JSON.stringify(handle));
  return values;
}

/** Whether two serialised sessions hold the same values. */
export function sameValues(a: Values, b: Values): boolean {
  if (a.size !== b.size) return false;
  for (const [key, json] of a) if (b.get(key) !== json) return false;
  return true;
}

/** The keys whose values differ from `before` to `after` (with their new values), and the keys `after` dropped. */
export function changedValues(before: Values, after: Values): { set: Map<string, string>; unset: string[] } {
  const set = new Map<string, string>();
  for (const [key, json] of after) if (before.get(key) !== json) set.set(key, json);
  const unset: string[] = [];
  for (const key of before.keys()) if (!after.has(key)) unset.push(key);
  return { set, unset };
}

/** Whether the session must be written: a new id with something to keep, or values changed since the snapshot. */
export function isDirty(snapshot: SessionSnapshot | undefined, sid: string, values: Values): boolean {
  if (!snapshot || snapshot.sid !== sid) return true;
  if (!snapshot.stored) return values.size > 0;
  return !sameValues(snapshot.values, values);
}

/** Removes the module's timestamps from a loaded record and returns them. */
export function takeMeta(record: Data): RecordMeta | undefined {
  const meta = record[META_KEY] as Partial<RecordMeta> | undefined;
  if (meta === undefined) return undefined;
  // Only records written while an idle or absolute timeout was set, or of logged-in sessions on a store with a
  // per-user index, carry them.
  delete record[META_KEY];
  if (typeof meta !== 'object' || meta === null) return undefined;
  const { createdAt, lastSeen, indexedUntil } = meta;
  if (typeof createdAt !== 'number' || typeof lastSeen !== 'number') return undefined;
  return typeof indexedUntil === 'number' ? { createdAt, lastSeen, indexedUntil } : { createdAt, lastSeen };
}

/**
 * The module's state of a loaded record: its snapshot, and its timestamps and handle taken off its keys (the
 * app sees neither). A record stored before an idle or absolute timeout was turned on has no timestamps: its
 * age counts from this load, and it is marked so that even a read-only request stores them.
 */
export function loadedState(sid: string, record: Data, limits: RecordLimits): SessionState {
  const meta = takeMeta(record);
  const snapshot: SessionSnapshot = { sid, values: serialise(record), stored: true, written: false };
  const handle = takeHandle(record);
  const unstamped = meta === undefined && Boolean(limits.idleTimeout || limits.absoluteTimeout);
  const state: SessionState = unstamped
    ? { snapshot, createdAt: Date.now(), unstamped }
    : { snapshot, createdAt: meta?.createdAt };
  if (meta?.indexedUntil !== undefined) state.indexedUntil = meta.indexedUntil;
  if (handle !== undefined) state.handle = handle;
  return state;
}

/**
 * Whether a store's read failed on the record itself rather than on the store: a `SyntaxError` (the store's
 * `JSON.parse` of what it holds, as connect-redis does), or Redis's WRONGTYPE (the key holds a list, a set, or
 * a hash that connect-redis reads as a string). Such a record is corrupt (R14), not an outage: it is replaced.
 */
export function unreadableRecord(err: unknown): boolean {
  const cause = err instanceof StoreCallError ? err.cause : err;
  return cause instanceof SyntaxError || (cause instanceof Error && cause.message.startsWith('WRONGTYPE'));
}

/** Why a loaded record cannot be used, or undefined when it can. */
export function recordProblem(record: unknown, limits: RecordLimits, now = Date.now()): string | undefined {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return 'not an object';
  const cookie = (record as { cookie?: unknown }).cookie;
  if (typeof cookie !== 'object' || cookie === null || Array.isArray(cookie)) return 'no cookie';
  const expires = (cookie as { expires?: unknown }).expires;
  if (expires != null) {
    const at = expires instanceof Date ? expires.getTime() : typeof expires === 'string' ? Date.parse(expires) : NaN;
    if (Number.isNaN(at)) return 'bad cookie.expires';
    if (limits.cookieExpiry && at <= now) return 'expired';
  }
  const meta = (record as Data)[META_KEY] as Partial<RecordMeta> | undefined;
  if (meta && typeof meta === 'object') {
    if (limits.idleTimeout && typeof meta.lastSeen === 'number' && now - meta.lastSeen > limits.idleTimeout) {
      return 'expired';
    }
    if (limits.absoluteTimeout && typeof meta.createdAt === 'number' && now - meta.createdAt > limits.absoluteTimeout) {
      return 'expired';
    }
  }
  return undefined;
}

/**
 * The record to write when this request changed a session that other requests may have changed too:
 * the latest stored copy, with only the keys this request set or removed since `before` applied.
 */
export function mergeChanges(latest: Data, session: object, before: Values, after: Values): Data {
  const merged: Data = { ...latest };
  for (const [key, json] of after) {
    // The form state and the handle are not keys of the session object: they are taken from their JSON.
    if (before.get(key) !== json) merged[key] = key in session ? (session as Data)[key] : JSON.parse(json);
  }
  for (const key of before.keys()) if (!after.has(key)) delete merged[key];
  merged.cookie = (session as Data).cookie;
  return merged;
}

/** A plain copy of the session for the store, with the module's timestamps. */
export function toRecord(session: object, meta: RecordMeta): Data {
  return { ...(session as Data), [META_KEY]: meta };
}

/**
 * Sets `record[sid]` as an own property whatever the id, so that a result of `all()` keeps sessions whose ids
 * are `__proto__` or `constructor` (an assignment to `__proto__` would set the object's prototype instead).
 */
export function ownValue(record: Record<string, unknown>, sid: string, value: unknown): void {
  Object.defineProperty(record, sid, { value, enumerable: true, writable: true, configurable: true });
}
