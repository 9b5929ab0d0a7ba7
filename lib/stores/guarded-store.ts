import { Logger } from '@nestjs/common';
import { Store } from 'express-session';
import type { SessionData } from 'express-session';
import { LRUCache } from 'lru-cache';
import { StoreDisconnectedError, StoreTimeoutError, unserialisableSession } from '../session.errors.js';
import { callStore, conditionalOf, describe, hashId } from './store-call.js';
import type { Callback, CONDITIONAL, ConditionalStore } from './store-call.js';
import { attachSessionState, sessionStateOf } from '../session-request.js';
import type { SessionSnapshot } from '../session-request.js';
import { recordProblem, sameValues, serialise, takeMeta } from './session-record.js';
import type { RecordLimits, RecordMeta } from './session-record.js';
import { ChangeWriter } from './change-writer.js';

/** How the guarded store calls the store underneath. */
export interface GuardedStoreOptions extends RecordLimits {
  retries: number;
  retriesStrategy: (attempt: number) => number;
  timeout: number;
  /** Milliseconds during which a session written or touched by this process is not touched again (0: off). */
  touchAfter: number;
}

/** Most session ids whose last touch this process remembers for `touchAfter`; past it, a touch is merely not saved. */
const TOUCH_MEMORY = 100_000;

/** Carries a loaded record's store revision from `get` to `createSession` (never stored: JSON skips symbols). */
const LOADED_REVISION = Symbol('loaded revision');

type Data = Record<string, unknown>;
type SessionRequest = Parameters<Store['regenerate']>[0];

/**
 * The store express-session talks to. It forwards every call to the user's store and adds what
 * express-session lacks: a deadline on every call, retries on reads, a `disconnect` state that fails fast,
 * an `error` listener (a store error never crashes the process), rejection of corrupt or expired records
 * (cookie expiry, idle and absolute timeouts from the module's own timestamps), writes that merge this
 * request's changes into the latest stored copy and never bring back a destroyed session (ChangeWriter), and
 * touch throttling. Internal; the user's store stays in `SESSION_MODULE_OPTIONS.session.store`.
 */
export class GuardedStore extends Store {
  /** Set by express-session on the store it is given: makes a fresh session on a request. */
  declare generate: (req: SessionRequest) => void;
  private readonly logger = new Logger('SessionStore');
  private connected = true;
  /** Sessions written or touched within the last `touchAfter` ms by this process. */
  private readonly fresh?: LRUCache<string, true>;
  /** How sessions are written and removed. */
  private readonly writer: ChangeWriter;
  /** What a loaded record is checked against; fixed for the store's life. */
  private readonly limits: RecordLimits;
  /** The store's conditional writes, when it has them (see CONDITIONAL). */
  private readonly conditional?: ConditionalStore[typeof CONDITIONAL];

  constructor(
    readonly inner: Store,
    private readonly options: GuardedStoreOptions,
  ) {
    super();
    this.limits = {
      idleTimeout: options.idleTimeout,
      absoluteTimeout: options.absoluteTimeout,
      cookieExpiry: typeof inner.touch !== 'function',
    };
    this.conditional = conditionalOf(inner);
    this.writer = new ChangeWriter({
      inner,
      conditional: this.conditional,
      call: (operation, invoke, callback) => this.call(operation, invoke, callback),
      logger: this.logger,
      stamped: Boolean(options.idleTimeout || options.absoluteTimeout),
    });
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
      this.call<Data | null>(
        'get',
        (cb) => this.readRecord(sid, cb),
        (err, record) => {
          if (err) {
            if (attempt < this.options.retries && !(err instanceof StoreTimeoutError)) {
              attempt += 1;
              setTimeout(read, Math.max(0, this.options.retriesStrategy(attempt)));
              return;
            }
            callback(err);
            return;
          }
          callback(null, this.usable(sid, record) as SessionData | null);
        },
      );
    };
    read();
  }

  /** Reads a record, with its revision when the store has conditional writes. */
  private readRecord(sid: string, callback: Callback<Data | null>): void {
    if (!this.conditional) {
      this.inner.get(sid, callback as Callback<SessionData | null>);
      return;
    }
    this.conditional.get(sid, (err, found) => {
      if (err || !found) return callback(err, null);
      // The revision travels with the record to createSession (JSON skips symbol keys).
      const record = found.record as Data;
      if (record && typeof record === 'object')
        (record as { [LOADED_REVISION]?: string })[LOADED_REVISION] = found.revision;
      callback(null, record);
    });
  }

  /** Called by express-session with each loaded record: keeps the module's timestamps and a snapshot aside. */
  override createSession(req: SessionRequest, record: SessionData): ReturnType<Store['createSession']> {
    const meta = takeMeta(record as unknown as Data);
    const snapshot: SessionSnapshot = {
      sid: req.sessionID,
      values: serialise(record),
      stored: true,
      written: false,
      revision: (record as { [LOADED_REVISION]?: string })[LOADED_REVISION],
    };
    const session = super.createSession(req, record);
    attachSessionState(session, { snapshot, createdAt: meta?.createdAt });
    return session;
  }

  override set(sid: string, session: SessionData, callback?: Callback): void {
    const done = callback ?? (() => undefined);
    const state = sessionStateOf(session);
    // A request's session is stored with its expiry renewed, as express-session renews it before its own save:
    // a session changed on every request would otherwise keep the expiry it was loaded with.
    if (state) (session as { resetMaxAge?: () => void }).resetMaxAge?.();
    let values: Map<string, string>;
    try {
      values = state?.pending ?? serialise(session);
    } catch (err) {
      done(unserialisableSession(err));
      return;
    }
    if (state) state.pending = undefined;
    const snapshot = state?.snapshot.sid === sid ? state.snapshot : undefined;
    if (snapshot?.written && sameValues(snapshot.values, values)) {
      // Written by this request already: express-session saving again at the end adds nothing.
      done();
      return;
    }
    const now = Date.now();
    const meta: RecordMeta = { createdAt: (snapshot && state?.createdAt) || now, lastSeen: now };
    const remember = (revision?: string): void => {
      if (state) {
        state.snapshot = { sid, values, stored: true, written: true, revision };
        state.createdAt = meta.createdAt;
      }
      this.fresh?.set(sid, true);
    };
    if (snapshot?.stored) this.writer.write(sid, session, snapshot, values, meta, remember, done);
    else this.writer.put(sid, session, meta, remember, done);
  }

  override destroy(sid: string, callback?: Callback): void {
    this.fresh?.delete(sid);
    this.writer.destroy(sid, callback ?? (() => undefined));
  }

  override touch(sid: string, session: SessionData, callback?: Callback): void {
    const done = callback ?? (() => undefined);
    // A session written or touched less than touchAfter ago already has an expiry at most touchAfter
    // short of what this touch would give it; touchAfter < maxAge keeps it alive until the next touch.
    if (this.fresh?.has(sid)) {
      done();
      return;
    }
    const state = sessionStateOf(session);
    if (state?.snapshot.sid === sid && state.snapshot.written) {
      // Written by this request (the commit before the response): that write set the new expiry, so the
      // touch express-session sends at the end would be a second store round trip for nothing.
      done();
      return;
    }
    if (this.options.idleTimeout && state?.snapshot.sid === sid && state.snapshot.stored) {
      // The idle timeout reads the last-seen time in the record, which a plain touch does not write.
      const snapshot = state.snapshot;
      const meta: RecordMeta = { createdAt: state.createdAt || Date.now(), lastSeen: Date.now() };
      const remember = (revision?: string): void => {
        snapshot.revision = revision;
        this.fresh?.set(sid, true);
      };
      this.writer.write(sid, session, snapshot, snapshot.values, meta, remember, done);
      return;
    }
    if (typeof this.inner.touch !== 'function') {
      done();
      return;
    }
    this.call(
      'touch',
      (cb) => this.inner.touch!(sid, session, cb),
      (err) => {
        if (!err) this.fresh?.set(sid, true);
        done(err);
      },
    );
  }

  override regenerate(req: SessionRequest, callback: Callback): void {
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
    callStore(operation, this.options.timeout, invoke, callback);
  }

  /** A record that is not a session, or has expired, is removed and read as "no session". */
  private usable(sid: string, record: Data | null | undefined): Data | null {
    if (record == null) return null;
    const problem = recordProblem(record, this.limits);
    if (problem === undefined) return record;
    if (problem !== 'expired') {
      this.logger.warn(`Session ${hashId(sid)} had a corrupt record (${problem}); it was replaced by a new session`);
    }
    this.destroy(sid, (err) => {
      if (err) this.logger.warn(`Could not remove the ${problem} record of session ${hashId(sid)}: ${describe(err)}`);
    });
    return null;
  }
}
