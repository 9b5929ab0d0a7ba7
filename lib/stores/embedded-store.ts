import { Store } from 'express-session';
import type { SessionData } from 'express-session';
import { LRUCache } from 'lru-cache';
import type { EmbeddedStoreOptions } from '../interfaces/index.js';
import { CHANGED_KEY_WRITES, cookieExpiry, recordJson } from './changed-key-writes.js';
import type { ChangedKeyWrites, RecordWrite } from './changed-key-writes.js';
import { ownValue, serialise } from './session-record.js';
import type { Callback } from './store-call.js';
import { SESSION_INDEX } from '../controls/session-index.js';
import { EmbeddedIndex } from './embedded-index.js';

/** Default cap on the number of sessions the embedded store holds. */
export const DEFAULT_MAX_SESSIONS = 10_000;
/** Default lifetime of a session whose cookie has no `maxAge` or `expires`: one day. */
export const DEFAULT_EMBEDDED_TTL = 86_400_000;
/** Default time between two sweeps of expired sessions. */
export const DEFAULT_SWEEP_INTERVAL = 60_000;

/**
 * One stored session: each value as JSON (the cookie apart), so a change rewrites only its own keys. A record
 * that is not a session object (stored through `set` by other code) is kept as its JSON text.
 */
interface Entry {
  values: Map<string, string>;
  cookie?: string;
  text?: string;
}

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
      entry =
        typeof session === 'object' && session !== null && !Array.isArray(session)
          ? { values: serialise(session), cookie: JSON.stringify(session.cookie) }
          : { values: new Map(), text: JSON.stringify(session) };
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
      const touched =
        entry.text === undefined ? { values: entry.values, cookie: JSON.stringify(session.cookie) } : entry;
      this.put(sid, touched, cookieExpiry(session.cookie));
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
      this.put(sid, { values: new Map(write.set), cookie: write.cookie }, write.expires);
      callback();
    },
    patch: (sid: string, write: RecordWrite, callback: Callback<boolean>) => {
      const entry = this.cache.get(sid);
      if (entry === undefined || entry.text !== undefined) return callback(null, false);
      for (const [key, value] of write.set) entry.values.set(key, value);
      for (const key of write.unset) entry.values.delete(key);
      entry.cookie = write.cookie;
      this.put(sid, entry, write.expires);
      callback(null, true);
    },
  };

  /** The per-user index of logged-in sessions (internal; see EmbeddedIndex). */
  readonly [SESSION_INDEX] = new EmbeddedIndex();

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
  return JSON.parse(entry.text ?? recordJson({ set: entry.values, cookie: entry.cookie })) as SessionData;
}
