import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Store } from 'express-session';
import { LRUCache } from 'lru-cache';
import type { SessionData } from 'express-session';
import { StoreDisconnectedError, StoreTimeoutError } from '../session.errors.js';

/** How the guarded store calls the store underneath. */
export interface GuardedStoreOptions {
  retries: number;
  retriesStrategy: (attempt: number) => number;
  timeout: number;
  /** Milliseconds during which a session written or touched by this process is not touched again (0: off). */
  touchAfter: number;
}

/** Most session ids whose last touch this process remembers for `touchAfter`; past it, a touch is merely not saved. */
const TOUCH_MEMORY = 100_000;

type Callback<T = void> = (err?: unknown, value?: T) => void;
type StoreData = SessionData & Record<string, unknown>;

/** A short, irreversible name for a session id, fit for logs. */
export function hashId(sid: string): string {
  return createHash('sha256').update(sid).digest('hex').slice(0, 12);
}

/**
 * The store express-session talks to: it forwards every call to the user's store and adds what
 * express-session lacks: a deadline on every call, retries on reads, a `disconnect` state that fails
 * fast, an `error` listener so a store error never crashes the process, and rejection of corrupt or
 * expired records. Internal; the user's store stays in `SESSION_MODULE_OPTIONS.session.store`.
 */
export class GuardedStore extends Store {
  /** Set by express-session on the store it is given: makes a fresh session on a request. */
  declare generate: (req: Parameters<Store['regenerate']>[0]) => void;
  private readonly logger = new Logger('SessionStore');
  private connected = true;
  /** Sessions written or touched within the last `touchAfter` ms by this process. */
  private readonly fresh?: LRUCache<string, true>;

  constructor(
    readonly inner: Store,
    private readonly options: GuardedStoreOptions,
  ) {
    super();
    if (options.touchAfter > 0) this.fresh = new LRUCache<string, true>({ max: TOUCH_MEMORY, ttl: options.touchAfter });
    inner.on('disconnect', () => {
      this.connected = false;
    });
    inner.on('connect', () => {
      this.connected = true;
    });
    inner.on('error', (err: unknown) => {
      this.logger.error(`Session store error: ${describe(err)}`);
    });
  }

  /** Whether the store has not reported `disconnect` since it last reported `connect`. */
  get isConnected(): boolean {
    return this.connected;
  }

  override get(sid: string, callback: Callback<SessionData | null>): void {
    let attempt = 0;
    const read = (): void => {
      this.call<StoreData | null>('get', (cb) => this.inner.get(sid, cb as Callback<SessionData | null>), (err, sess) => {
        if (err) {
          if (attempt < this.options.retries && !(err instanceof StoreTimeoutError)) {
            attempt += 1;
            setTimeout(read, Math.max(0, this.options.retriesStrategy(attempt)));
            return;
          }
          callback(err);
          return;
        }
        callback(null, this.checkRecord(sid, sess) as SessionData | null);
      });
    };
    read();
  }

  override set(sid: string, session: SessionData, callback?: Callback): void {
    this.call('set', (cb) => this.inner.set(sid, session, cb), (err) => {
      if (!err) this.fresh?.set(sid, true);
      callback?.(err);
    });
  }

  override destroy(sid: string, callback?: Callback): void {
    this.fresh?.delete(sid);
    this.call('destroy', (cb) => this.inner.destroy(sid, cb), callback);
  }

  override touch(sid: string, session: SessionData, callback?: Callback): void {
    // A session written or touched less than touchAfter ago already has an expiry at most touchAfter
    // short of what this touch would give it; touchAfter < maxAge keeps it alive until the next touch.
    if (typeof this.inner.touch !== 'function' || this.fresh?.has(sid)) {
      callback?.();
      return;
    }
    this.call('touch', (cb) => this.inner.touch!(sid, session, cb), (err) => {
      if (!err) this.fresh?.set(sid, true);
      callback?.(err);
    });
  }

  override regenerate(req: Parameters<Store['regenerate']>[0], callback: Callback): void {
    // Unlike Store#regenerate, a failed destroy leaves the request on its old session: the caller
    // learns of the failure and no second live session is made while the old one survives.
    this.destroy(req.sessionID, (err) => {
      if (err) {
        callback(err);
        return;
      }
      this.generate(req);
      callback();
    });
  }

  override all(callback: Parameters<Store['all'] & {}>[0]): void {
    if (typeof this.inner.all !== 'function') {
      callback(new Error('The session store does not implement all()'));
      return;
    }
    this.call('all', (cb) => this.inner.all!(cb as never), callback);
  }

  override length(callback: Callback<number>): void {
    if (typeof this.inner.length !== 'function') {
      callback(new Error('The session store does not implement length()'));
      return;
    }
    this.call('length', (cb) => this.inner.length!(cb as never), callback);
  }

  override clear(callback?: Callback): void {
    if (typeof this.inner.clear !== 'function') {
      callback?.(new Error('The session store does not implement clear()'));
      return;
    }
    this.call('clear', (cb) => this.inner.clear!(cb), callback);
  }

  /** Calls the store once: fails fast while disconnected, turns throws into errors, enforces the deadline. */
  private call<T>(operation: string, invoke: (cb: Callback<T>) => void, callback?: Callback<T>): void {
    if (!this.connected) {
      callback?.(new StoreDisconnectedError());
      return;
    }
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      callback?.(new StoreTimeoutError(operation, this.options.timeout));
    }, this.options.timeout);
    const done: Callback<T> = (err, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      callback?.(err ?? null, value);
    };
    try {
      const result: unknown = invoke(done);
      // Some stores return a promise as well as (or instead of) calling back.
      if (result && typeof (result as Promise<unknown>).catch === 'function') {
        (result as Promise<unknown>).catch((err: unknown) => done(err ?? new Error(`store ${operation} failed`)));
      }
    } catch (err) {
      done(err);
    }
  }

  /** A record that is not a session, or whose cookie has expired, is dropped and read as "no session". */
  private checkRecord(sid: string, sess: StoreData | null | undefined): StoreData | null {
    if (sess == null) return null;
    const problem = recordProblem(sess);
    if (problem === undefined) return sess;
    if (problem !== 'expired') {
      this.logger.warn(`Session ${hashId(sid)} had a corrupt record (${problem}); it was replaced by a new session`);
    }
    this.destroy(sid, (err) => {
      if (err) this.logger.warn(`Could not remove the ${problem} record of session ${hashId(sid)}: ${describe(err)}`);
    });
    return null;
  }
}

function recordProblem(sess: unknown): string | undefined {
  if (typeof sess !== 'object' || Array.isArray(sess)) return 'not an object';
  const cookie = (sess as { cookie?: unknown }).cookie;
  if (typeof cookie !== 'object' || cookie === null || Array.isArray(cookie)) return 'no cookie';
  const expires = (cookie as { expires?: unknown }).expires;
  if (expires == null) return undefined;
  const at = expires instanceof Date ? expires.getTime() : typeof expires === 'string' ? Date.parse(expires) : NaN;
  if (Number.isNaN(at)) return 'bad cookie.expires';
  return at <= Date.now() ? 'expired' : undefined;
}

/** An error's name and message, never its stack. */
export function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
