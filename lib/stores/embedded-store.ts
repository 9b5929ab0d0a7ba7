import { Store } from 'express-session';
import type { SessionData } from 'express-session';
import type { EmbeddedStoreOptions } from '../interfaces/index.js';
import { CHANGED_KEY_WRITES, cookieExpiry } from './changed-key-writes.js';
import type { ChangedKeyWrites, RecordWrite } from './changed-key-writes.js';
import { ownValue, serialise } from './session-record.js';
import type { Callback } from './store-call.js';
import { SessionLru } from './session-lru.js';
import {
  changesLogin,
  isLoggedIn,
  isObject,
  parse,
  keyMap,
  patchedSize,
  patchEntry,
  sizeOf,
  toEntry,
} from './embedded-entry.js';
import type { Entry } from './embedded-entry.js';
import { SESSION_INDEX } from '../controls/session-index.js';
import { EmbeddedIndex } from './embedded-index.js';

/** Default cap on the number of sessions the embedded store holds. */
export const DEFAULT_MAX_SESSIONS = 10_000;
/** Default cap on the total serialised size of the sessions the embedded store holds: 64 MiB. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** Default lifetime of a session whose cookie has no `maxAge` or `expires`: one day. */
export const DEFAULT_EMBEDDED_TTL = 86_400_000;
/** Default time between two sweeps of expired sessions. */
export const DEFAULT_SWEEP_INTERVAL = 60_000;

/**
 * The module's default store: in memory, bounded, expiring. Sessions expire with their cookie
 * (`expires`, which express-session derives from `maxAge`), the least recently used is evicted past
 * `maxSessions` or `maxBytes` (anonymous sessions before any logged-in one: see SessionLru), and a sweep that
 * never keeps the process alive removes what expired.
 * One process only: use Redis, PostgreSQL or SQLite when the app runs as more than one instance or must
 * keep its sessions across restarts.
 */
export class EmbeddedStore extends Store {
  private readonly cache: SessionLru<Entry>;
  private readonly maxBytes: number;
  private readonly defaultTtl: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: EmbeddedStoreOptions = {}) {
    super();
    const max = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    if (!Number.isInteger(max) || max < 1) {
      throw new TypeError(`embeddedStore.maxSessions must be a whole number of at least 1, not ${String(max)}`);
    }
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    if (!Number.isInteger(this.maxBytes) || this.maxBytes < 1) {
      throw new TypeError(
        `embeddedStore.maxBytes must be a whole number of bytes of at least 1, not ${String(options.maxBytes)}`,
      );
    }
    const sweepInterval = options.sweepInterval ?? DEFAULT_SWEEP_INTERVAL;
    if (typeof sweepInterval !== 'number' || !(sweepInterval > 0) || !Number.isFinite(sweepInterval)) {
      throw new TypeError(
        `embeddedStore.sweepInterval must be a number of milliseconds above 0, not ${String(sweepInterval)}`,
      );
    }
    this.defaultTtl = options.defaultTtl ?? DEFAULT_EMBEDDED_TTL;
    this.cache = new SessionLru<Entry>({ maxCount: max, maxSize: this.maxBytes, ttl: this.defaultTtl });
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
    const refused = this.put(sid, entry, cookieExpiry(session.cookie), isLoggedIn(entry));
    callback?.(refused);
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
      const entry = toEntry(write.cookie, write.set);
      callback(this.put(sid, entry, write.expires, isLoggedIn(entry)));
    },
    patch: (sid: string, write: RecordWrite, callback: Callback<boolean>) => {
      const entry = this.cache.get(sid);
      if (entry === undefined || typeof entry === 'string') return callback(null, false);
      // Checked before the entry changes: a refused change leaves the stored session as it was.
      const values = keyMap(entry, write);
      const size = patchedSize(entry, write, values);
      if (size > this.maxBytes) return callback(this.tooLarge(size));
      const patched = patchEntry(entry, write, values);
      this.put(sid, patched, write.expires, changesLogin(write) ? isLoggedIn(patched) : undefined, size);
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

  /**
   * Stores an entry until `expires` (epoch ms; undefined: the default lifetime), or removes it if that has passed.
   * `loggedIn` undefined keeps the entry in the list it is in. Returns the error when the entry alone is larger
   * than `maxBytes` (nothing is stored then).
   */
  private put(
    sid: string,
    entry: Entry,
    expires: number | undefined,
    loggedIn?: boolean,
    size = sizeOf(entry),
  ): Error | undefined {
    if (size > this.maxBytes) return this.tooLarge(size);
    const ttl = expires === undefined ? this.defaultTtl : expires - Date.now();
    if (ttl <= 0) this.cache.delete(sid);
    else this.cache.set(sid, entry, { ttl, size, loggedIn });
    return undefined;
  }

  private tooLarge(size: number): Error {
    return new RangeError(`A session of ${size} bytes is larger than embeddedStore.maxBytes (${this.maxBytes})`);
  }
}
