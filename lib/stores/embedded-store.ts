import { Store } from 'express-session';
import type { SessionData } from 'express-session';
import { LRUCache } from 'lru-cache';
import type { EmbeddedStoreOptions } from '../interfaces/index.js';
import { CONDITIONAL } from './conditional-store.js';
import type { ConditionalWrites } from './conditional-store.js';
import { ownValue } from './session-record.js';
import type { Callback } from './store-call.js';

/** Default cap on the number of sessions the embedded store holds. */
export const DEFAULT_MAX_SESSIONS = 10_000;
/** Default lifetime of a session whose cookie has no `maxAge` or `expires`: one day. */
export const DEFAULT_EMBEDDED_TTL = 86_400_000;
/** Default time between two sweeps of expired sessions. */
export const DEFAULT_SWEEP_INTERVAL = 60_000;

/**
 * The module's default store: in memory, bounded, expiring. Sessions expire with their cookie
 * (`expires`, which express-session derives from `maxAge`), the least recently used is evicted past
 * `maxSessions`, and a sweep that never keeps the process alive removes what expired.
 * One process only: use Redis or PostgreSQL when the app runs as more than one instance.
 */
export class EmbeddedStore extends Store {
  private readonly cache: LRUCache<string, string>;
  private readonly defaultTtl: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: EmbeddedStoreOptions = {}) {
    super();
    const max = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    if (!Number.isInteger(max) || max < 1) {
      throw new TypeError(`embeddedStore.maxSessions must be a whole number of at least 1, not ${String(max)}`);
    }
    this.defaultTtl = options.defaultTtl ?? DEFAULT_EMBEDDED_TTL;
    this.cache = new LRUCache<string, string>({ max, ttl: this.defaultTtl, updateAgeOnGet: false });
    const sweepInterval = options.sweepInterval ?? DEFAULT_SWEEP_INTERVAL;
    if (typeof sweepInterval !== 'number' || !(sweepInterval > 0) || !Number.isFinite(sweepInterval)) {
      throw new TypeError(`embeddedStore.sweepInterval must be a number of milliseconds above 0, not ${String(sweepInterval)}`);
    }
    this.sweeper = setInterval(() => this.cache.purgeStale(), sweepInterval);
    this.sweeper.unref();
  }

  override get(sid: string, callback: Callback<SessionData | null>): void {
    const raw = this.cache.get(sid);
    callback(null, raw === undefined ? null : (JSON.parse(raw) as SessionData));
  }

  override set(sid: string, session: SessionData, callback?: Callback): void {
    try {
      this.save(sid, session);
    } catch (err) {
      callback?.(err);
      return;
    }
    callback?.();
  }

  override touch(sid: string, session: SessionData, callback?: Callback): void {
    const raw = this.cache.get(sid);
    if (raw !== undefined) {
      // Only the cookie (and so the expiry) changes: the data stays as last saved.
      const stored = JSON.parse(raw) as SessionData;
      stored.cookie = session.cookie;
      this.write(sid, JSON.stringify(stored), stored);
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
    for (const [sid, raw] of this.cache.entries()) ownValue(sessions, sid, JSON.parse(raw));
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

  /** Conditional writes (internal): the revision of a session is its stored text. */
  readonly [CONDITIONAL]: ConditionalWrites = {
    replaces: { get: EmbeddedStore.prototype.get, set: EmbeddedStore.prototype.set },
    get: (sid, callback) => {
      const raw = this.cache.get(sid);
      callback(null, raw === undefined ? null : { record: JSON.parse(raw), revision: raw });
    },
    setIf: (sid, record, revision, callback) => {
      const current = this.cache.peek(sid);
      if (current === undefined) return callback(null, { status: 'gone' });
      if (current !== revision)
        return callback(null, { status: 'changed', latest: JSON.parse(current), revision: current });
      let raw: string;
      try {
        raw = this.save(sid, record as SessionData);
      } catch (err) {
        return callback(err);
      }
      callback(null, { status: 'written', revision: raw });
    },
  };

  /** Stops the sweep and drops every session. */
  close(): void {
    clearInterval(this.sweeper);
    this.cache.clear();
  }

  /** Stores the session as JSON and returns that text; throws what JSON.stringify throws. */
  private save(sid: string, session: SessionData): string {
    const raw = JSON.stringify(session);
    this.write(sid, raw, session);
    return raw;
  }

  private write(sid: string, raw: string, session: SessionData): void {
    const ttl = this.ttlOf(session);
    if (ttl <= 0) {
      this.cache.delete(sid);
      return;
    }
    this.cache.set(sid, raw, { ttl });
  }

  private ttlOf(session: SessionData): number {
    const expires = (session.cookie as { expires?: Date | string | null } | undefined)?.expires;
    if (expires == null) return this.defaultTtl;
    const at = expires instanceof Date ? expires.getTime() : Date.parse(expires);
    return Number.isNaN(at) ? this.defaultTtl : at - Date.now();
  }
}
