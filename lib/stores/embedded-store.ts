import { Store } from 'express-session';
import type { SessionData } from 'express-session';
import { LRUCache } from 'lru-cache';
import type { EmbeddedStoreOptions } from '../interfaces/index.js';
import { CHANGED_KEY_WRITES, cookieExpiry } from './changed-key-writes.js';
import type { ChangedKeyWrites, RecordWrite } from './changed-key-writes.js';
import { ownValue, serialise } from './session-record.js';
import type { Callback } from './store-call.js';

/** Default cap on the number of sessions the embedded store holds. */
export const DEFAULT_MAX_SESSIONS = 10_000;
/** Default lifetime of a session whose cookie has no `maxAge` or `expires`: one day. */
export const DEFAULT_EMBEDDED_TTL = 86_400_000;
/** Default time between two sweeps of expired sessions. */
export const DEFAULT_SWEEP_INTERVAL = 60_000;

/**
 * One stored session: its cookie as JSON, then each key and its value as JSON, in one flat array, so a change
 * rewrites only its own keys (a Map and an entry object per session took 230 more bytes per session). A record
 * that is not a session object (stored through `set` by other code) is kept as its JSON text.
 */
type Entry = string[] | string;

/**
 * The module's default store: in memory, bounded, expiring. Sessions expire with their cookie
 * (`expires`, which express-session derives from `maxAge`), the least recently used is evicted past
 * `maxSessions`, and a sweep that never keeps the process alive removes what expired.
 * One process only: use Redis, PostgreSQL or SQLite when the app runs as more than one instance or must
 * keep its sessions across restarts.
 */
export class EmbeddedStore extends Store {
  private readonly cache: LRUCache<string, Entry>;
  private readonly defaultTtl: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: EmbeddedStoreOptions = {}) {
    super();
    const max = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    if (!Number.isInteger(max) || max < 1) {
      throw new TypeError(`embeddedStore.maxSessions must be a whole number of at least 1, not ${String(max)}`);
    }
    const sweepInterval = options.sweepInterval ?? DEFAULT_SWEEP_INTERVAL;
    if (typeof sweepInterval !== 'number' || !(sweepInterval > 0) || !Number.isFinite(sweepInterval)) {
      throw new TypeError(
        `embeddedStore.sweepInterval must be a number of milliseconds above 0, not ${String(sweepInterval)}`,
      );
    }
    this.defaultTtl = options.defaultTtl ?? DEFAULT_EMBEDDED_TTL;
    this.cache = new LRUCache<string, Entry>({ max, ttl: this.defaultTtl, updateAgeOnGet: false });
    this.sweeper = setInterval(() => this.cache.purgeStale(), sweepInterval);
    this.sweeper.unref();
  }

  override get(sid: string, callback: Callback<SessionData | null>): void {
    const entry = this.cache.get(sid);
    callback(null, entry === undefined ? null : parse(entry));
  }

  override set(sid: string, session: SessionData, callback?: Callback): void {
    let entry: Entry;
    try {
      // A record without a cookie (never one the module writes) is kept as its text, like any other non-session.
      const cookie = isObject(session) ? (JSON.stringify(session.cookie) as string | undefined) : undefined;
      entry = cookie === undefined ? JSON.stringify(session) : toEntry(cookie, serialise(session));
    } catch (err) {
      callback?.(err);
      return;
    }
    this.put(sid, entry, cookieExpiry(session.cookie));
    callback?.();
  }

  override touch(sid: string, session: SessionData, callback?: Callback): void {
    const entry = this.cache.get(sid);
    // Only the cookie (and so the expiry) changes: the data stays as last saved.
    if (entry !== undefined) {
      if (typeof entry !== 'string') entry[0] = JSON.stringify(session.cookie);
      this.put(sid, entry, cookieExpiry(session.cookie));
    }
    callback?.();
  }

  override destroy(sid: string, callback?: Callback): void {
    this.cache.delete(sid);
    callback?.();
  }

  override all(callback: Callback<Record<string, SessionData>>): void {
    this.cache.purgeStale();
    const sessions: Record<string, SessionData> = {};
    for (const [sid, entry] of this.cache.entries()) ownValue(sessions, sid, parse(entry));
    callback(null, sessions);
  }

  override length(callback: Callback<number>): void {
    this.cache.purgeStale();
    callback(null, this.cache.size);
  }

  override clear(callback?: Callback): void {
    this.cache.clear();
    callback?.();
  }

  /** Changed-key writes (internal): synchronous updates of the stored values, nothing parsed or serialised again. */
  readonly [CHANGED_KEY_WRITES]: ChangedKeyWrites = {
    owner: EmbeddedStore,
    replace: (sid: string, write: RecordWrite, callback: Callback) => {
      this.put(sid, toEntry(write.cookie, write.set), write.expires);
      callback();
    },
    patch: (sid: string, write: RecordWrite, callback: Callback<boolean>) => {
      const entry = this.cache.get(sid);
      if (entry === undefined || typeof entry === 'string') return callback(null, false);
      const patched = patchEntry(entry, write);
      this.put(sid, patched, write.expires);
      callback(null, true);
    },
  };

  /** Stops the sweep and drops every session. */
  close(): void {
    clearInterval(this.sweeper);
    this.cache.clear();
  }

  /** Stores an entry until `expires` (epoch ms; undefined: the default lifetime), or removes it if that has passed. */
  private put(sid: string, entry: Entry, expires: number | undefined): void {
    const ttl = expires === undefined ? this.defaultTtl : expires - Date.now();
    if (ttl <= 0) this.cache.delete(sid);
    else this.cache.set(sid, entry, { ttl });
  }
}

/** A fresh session object from a stored entry. */
function parse(entry: Entry): SessionData {
  if (typeof entry === 'string') return JSON.parse(entry) as SessionData;
  let json = `{"cookie":${entry[0]}`;
  for (let i = 1; i < entry.length; i += 2) json += `,${JSON.stringify(entry[i])}:${entry[i + 1]}`;
  return JSON.parse(json + '}') as SessionData;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An entry holding `cookie` and `values` (the cookie is never among the values). */
function toEntry(cookie: string, values: ReadonlyMap<string, string>): string[] {
  // Sized up front: an array grown by push keeps room for 16 more elements, 136 bytes per session.
  const entry = new Array<string>(1 + 2 * (values.size - (values.has('cookie') ? 1 : 0)));
  entry[0] = cookie;
  let i = 1;
  for (const [key, value] of values) {
    if (key === 'cookie') continue;
    entry[i++] = key;
    entry[i++] = value;
  }
  return entry;
}

/** Past this many keys a patch indexes the entry's keys rather than scanning them once per changed key. */
const SCAN_LIMIT = 16;

/** `entry` with `write` applied: in place when the session is small, else rebuilt through a map of its keys. */
function patchEntry(entry: string[], write: RecordWrite): string[] {
  const keys = (entry.length - 1) / 2;
  if (keys > SCAN_LIMIT && write.set.size + write.unset.length > 1) {
    const values = new Map<string, string>();
    for (let i = 1; i < entry.length; i += 2) values.set(entry[i], entry[i + 1]);
    for (const [key, value] of write.set) values.set(key, value);
    for (const key of write.unset) values.delete(key);
    return toEntry(write.cookie, values);
  }
  entry[0] = write.cookie;
  for (const [key, value] of write.set) {
    if (key === 'cookie') continue;
    const at = indexOfKey(entry, key);
    if (at < 0) entry.push(key, value);
    else entry[at + 1] = value;
  }
  for (const key of write.unset) {
    const at = indexOfKey(entry, key);
    if (at > 0) entry.splice(at, 2);
  }
  return entry;
}

/** Where `key` is among the entry's keys (the odd indexes), or -1. */
function indexOfKey(entry: string[], key: string): number {
  for (let i = 1; i < entry.length; i += 2) if (entry[i] === key) return i;
  return -1;
}
