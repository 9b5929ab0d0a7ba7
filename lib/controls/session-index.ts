import { randomBytes } from 'node:crypto';

/**
 * The per-user index capability of a store the module ships (internal): a store with one exposes it under this
 * symbol, and the module indexes logged-in sessions there.
 */
export const SESSION_INDEX = Symbol.for('nest-express-session:session-index');

/** The stores that have a per-user index, as error messages name them. */
export const INDEXED_STORES =
  'the embedded store, redisStore() (Redis Cluster included), postgresStore() and sqliteStore()';

/** One logged-in session in its user's index (internal: `sid` never leaves the module). */
export interface IndexEntry {
  handle: string;
  sid: string;
  /** The user id as the app gave it (a string or a number). */
  userId: string | number;
  createdAt: number;
  lastSeenAt: number;
  /** The cookie's expiry in epoch ms; null: a browser-session cookie. */
  expiresAt: number | null;
  /** Until when the entry is kept (the session's expiry in the store, never null). */
  keepUntil: number;
  userAgent?: string;
  ip?: string;
}

/** What the limit does with a new login once the user has that many sessions. */
export type LimitMode = 'evict' | 'refuse';

/** The outcome of adding an entry: refused, or added with the entries evicted to make room. */
export interface AddOutcome {
  refused: boolean;
  evicted: IndexEntry[];
}

/** A per-user index of sessions (internal). Every method drops the entries that have expired. */
export interface SessionIndex {
  /**
   * Adds `entry` to its user's index in one atomic step: with `limit`, either evicts the least recently used
   * entries of others (`'evict'`) so that at most `limit` remain, or adds nothing (`'refuse'`).
   */
  add(entry: IndexEntry, limit: number | undefined, mode: LimitMode): Promise<AddOutcome>;
  /** Records a use of an indexed session; an entry that is gone stays gone. */
  seen(userKey: string, handle: string, lastSeenAt: number, expiresAt: number | null, keepUntil: number): Promise<void>;
  /** The user's live entries, in no particular order. */
  list(userKey: string): Promise<IndexEntry[]>;
  /** Removes the entries of `handles` (or all of the user's but `except`) and returns the removed ones. */
  remove(userKey: string, which: { handles: string[] } | { except?: string }): Promise<IndexEntry[]>;
}

/** A store's per-user index, when it has one. */
export function indexOf(store: object): SessionIndex | undefined {
  return (store as { [SESSION_INDEX]?: SessionIndex })[SESSION_INDEX];
}

/** The key under which a user's sessions are indexed: numbers and their strings are one user. */
export function userKeyOf(userId: string | number): string {
  return String(userId);
}

/**
 * A new handle: random, so the session id cannot be derived from it, followed by the user's key (so that
 * a handle alone finds its user's index on every store, a Redis Cluster slot included).
 */
export function newHandle(userKey: string): string {
  return `${randomBytes(16).toString('base64url')}.${Buffer.from(userKey).toString('base64url')}`;
}

/** The user key a handle was made for, or undefined when it is not a handle. */
export function userKeyOfHandle(handle: unknown): string | undefined {
  if (typeof handle !== 'string') return undefined;
  const dot = handle.indexOf('.');
  if (dot !== 22 || handle.length === dot + 1) return undefined;
  return Buffer.from(handle.slice(dot + 1), 'base64url').toString();
}

/** Entries that have not expired at `now`. */
export function liveEntries(entries: Iterable<IndexEntry>, now = Date.now()): IndexEntry[] {
  const live: IndexEntry[] = [];
  for (const entry of entries) if (entry.keepUntil > now) live.push(entry);
  return live;
}

/**
 * The entries a new login evicts under `limit` (least recently used first), or 'refuse'. `others` are the
 * user's live entries but the new one.
 */
export function overLimit(others: IndexEntry[], limit: number | undefined, mode: LimitMode): IndexEntry[] | 'refuse' {
  if (limit === undefined || others.length < limit) return [];
  if (mode === 'refuse') return 'refuse';
  const sorted = [...others].sort((a, b) => a.lastSeenAt - b.lastSeenAt || (a.handle < b.handle ? -1 : 1));
  return sorted.slice(0, others.length - limit + 1);
}
