import { Logger } from '@nestjs/common';
import { Store } from 'express-session';
import type { SessionData } from 'express-session';
import { LRUCache } from 'lru-cache';
import { serialiseSession, sessionSaveError } from '../session-keys.js';
import { describe, hashId } from '../log-format.js';
import { attachSessionState, sessionStateOf } from '../session-state.js';
import { changedKeyWritesOf } from './changed-key-writes.js';
import { StoreCaller } from './store-call.js';
import type { Callback, StoreCallOptions } from './store-call.js';
import { isIndexed, loadedState, recordProblem, unreadableRecord } from './session-record.js';
import type { RecordLimits } from './session-record.js';
import { ChangeWriter } from './change-writer.js';
import { restoreFormsState, takeFormsState } from '../forms/forms-state.js';

/** How the guarded store calls the store underneath. */
export interface GuardedStoreOptions extends StoreCallOptions, RecordLimits {
  /** Milliseconds during which a session written or touched by this process is not touched again (0: off). */
  touchAfter: number;
  /** Whether the store keeps a per-user index: its logged-in sessions record each use in their record. */
  indexed?: boolean;
}

/** Most session ids whose last touch this process remembers for `touchAfter`; past it, a touch is merely not saved. */
const TOUCH_MEMORY = 100_000;

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
  private readonly logger = new Logger('SessionStore');
  /** Every call to the user's store: deadline, retries, fail-fast while disconnected. */
  private readonly caller: StoreCaller;
  /** express-session's own factory of a fresh session, which it assigns to `generate` on the store it is given. */
  private makeSession?: (req: SessionRequest) => void;
  /** Sessions written or touched within the last `touchAfter` ms by this process. */
  protected readonly fresh?: LRUCache<string, true>;
  /** How sessions are written and removed. */
  private readonly writer: ChangeWriter;
  /** What a loaded record is checked against; fixed for the store's life. */
  private readonly limits: RecordLimits;

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
    this.caller = new StoreCaller(options);
    this.writer = new ChangeWriter({
      inner,
      keyed: changedKeyWritesOf(inner),
      caller: this.caller,
      logger: this.logger,
      stamped: Boolean(options.idleTimeout || options.absoluteTimeout),
      indexed: options.indexed === true,
    });
    if (options.touchAfter > 0) this.fresh = new LRUCache<string, true>({ max: TOUCH_MEMORY, ttl: options.touchAfter });
    inner.on('disconnect', () => this.caller.setConnected(false));
    inner.on('connect', () => this.caller.setConnected(true));
    inner.on('error', (err: unknown) => this.logger.error(`Session store error: ${describe(err)}`));
  }

  /** Whether the store has not reported `disconnect` since it last reported `connect`. */
  get isConnected(): boolean {
    return this.caller.isConnected;
  }

  /**
   * The factory of a fresh session for a request. express-session assigns its own here when it is given the
   * store; every session it makes gets the module's state, with nothing stored yet.
   */
  get generate(): (req: SessionRequest) => void {
    return this.generateSession;
  }

  set generate(make: (req: SessionRequest) => void) {
    this.makeSession = make;
  }

  private readonly generateSession = (req: SessionRequest): void => {
    this.makeSession!(req);
    attachSessionState(req.session, {
      snapshot: { sid: req.sessionID, values: new Map(), stored: false, written: false },
    });
  };

  override get(sid: string, callback: Callback<SessionData | null>): void {
    afterReturn<Data | null>(
      (cb) => this.caller.read('get', (got) => this.inner.get(sid, got as Callback<SessionData | null>), cb),
      (err, record) => {
        if (err && !unreadableRecord(err)) return callback(err);
        callback(null, this.usable(sid, err ? null : record, err ? 'unparsable' : undefined) as SessionData | null);
      },
    );
  }

  /** Called by express-session with each loaded record: keeps the module's timestamps and a snapshot aside. */
  override createSession(req: SessionRequest, record: SessionData): ReturnType<Store['createSession']> {
    const state = loadedState(req.sessionID, record as unknown as Data, this.limits);
    const forms = takeFormsState(record as unknown as Data);
    const session = super.createSession(req, record);
    attachSessionState(session, state);
    restoreFormsState(session, forms, record);
    return session;
  }

  override set(sid: string, session: SessionData, callback?: Callback): void {
    let values: Map<string, string>;
    try {
      values = serialiseSession(session);
    } catch (err) {
      callback?.(sessionSaveError(err));
      return;
    }
    this.write(sid, session, values, callback);
  }

  /**
   * Stores a request's session whose values the caller has already serialised (`values`, as `serialise`
   * makes them): only what changed since the request loaded it is written into the latest stored copy.
   */
  write(sid: string, session: SessionData, values: Map<string, string>, callback?: Callback): void {
    afterReturn<boolean>(
      (cb) => this.writer.save(sid, session, values, cb),
      (err, written) => {
        if (written) this.fresh?.set(sid, true);
        callback?.(err);
      },
    );
  }

  override destroy(sid: string, callback?: Callback): void {
    this.fresh?.delete(sid);
    afterReturn((cb) => this.writer.destroy(sid, cb), callback ?? (() => undefined));
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
    const stamps = this.options.idleTimeout || state?.unstamped || (this.options.indexed && isIndexed(session));
    if (stamps && state?.snapshot.sid === sid && state.snapshot.stored) {
      // A plain touch does not write the timestamps: the idle timeout's (or the session index's) last-seen
      // time, an unstamped record's first. The write takes the touch's place: still one store call.
      afterReturn<boolean>(
        (cb) => this.writer.refresh(sid, session, state, cb),
        (err, written) => {
          if (written) this.fresh?.set(sid, true);
          done(err);
        },
      );
      return;
    }
    if (typeof this.inner.touch !== 'function') {
      done();
      return;
    }
    afterReturn(
      (cb) => this.caller.call('touch', (touched) => this.inner.touch!(sid, session, touched), cb),
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
    this.forward('all', callback as Callback<unknown>);
  }

  override length(callback: Callback<number>): void {
    this.forward('length', callback);
  }

  override clear(callback?: Callback): void {
    this.forward('clear', callback ?? (() => undefined));
  }

  /** Calls one of the store's optional listing methods, or fails when the store has none. */
  private forward<T>(operation: 'all' | 'length' | 'clear', callback: Callback<T>): void {
    const method = (this.inner as unknown as Record<string, ((cb: Callback<T>) => void) | undefined>)[operation];
    if (typeof method !== 'function') {
      callback(new Error(`The session store does not implement ${operation}()`));
      return;
    }
    this.caller.call(operation, (cb) => method.call(this.inner, cb), callback);
  }

  /** A record that is not a session, or has expired, is removed and read as "no session". */
  protected usable(sid: string, record: Data | null | undefined, problem?: string): Data | null {
    problem ??= record == null ? undefined : recordProblem(record, this.limits);
    if (problem === undefined) return record ?? null;
    if (problem !== 'expired') {
      this.logger.warn(`Session ${hashId(sid)} had a corrupt record (${problem}); it was replaced by a new session`);
    }
    this.destroy(sid, (err) => {
      if (err) this.logger.warn(`Could not remove the ${problem} record of session ${hashId(sid)}: ${describe(err)}`);
    });
    return null;
  }
}

/**
 * Hands a store call's answer to `callback` only after the call returned: a store that answers at once (the
 * embedded store) is answered from the check phase, as MemoryStore answers. On a busy server the requests that
 * arrived together then go through each step together, for less CPU per request (BENCHMARKS.md).
 */
function afterReturn<T = void>(call: (callback: Callback<T>) => void, callback: Callback<T>): void {
  let returned = false;
  call((err, value) => (returned ? callback(err, value) : void setImmediate(callback, err, value)));
  returned = true;
}
