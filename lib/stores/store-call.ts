import { Logger } from '@nestjs/common';
import type { SessionData, Store } from 'express-session';
import { describe } from '../log-format.js';
import { StoreBusyError, StoreCallError, StoreDisconnectedError, StoreTimeoutError } from '../session.errors.js';
import { deadlinesOf } from './deadlines.js';
import type { PendingCall } from './deadlines.js';

/** A store callback (internal). */
export type Callback<T = void> = (err?: unknown, value?: T) => void;

/** How the module calls the user's store. */
export interface StoreCallOptions {
  /** The longest one call may take, in milliseconds. */
  timeout: number;
  /** Extra attempts of a failed read. */
  retries: number;
  /** Delay in milliseconds before read attempt number `attempt` + 1. */
  retriesStrategy: (attempt: number) => number;
  /** Most calls the store has not answered yet (timed-out ones included); beyond it calls fail at once. */
  maxPending?: number;
}

/**
 * Every call the module makes to the user's store goes through one of these: it fails fast while the store
 * has reported `disconnect` or has `maxPending` calls unanswered, turns throws and rejections into errors,
 * enforces the deadline and retries failed reads. Internal.
 */
export class StoreCaller {
  private connected = true;
  /** Calls the store has not answered yet, timed out or not: what a hung store holds on to. */
  private pending = 0;
  /** Whether the bound was reached since the store last caught up (it is logged once per episode). */
  private saturated = false;

  /** Most calls the store may leave unanswered before new ones fail at once. */
  private readonly maxPending: number;

  constructor(private readonly options: StoreCallOptions) {
    this.maxPending = options.maxPending ?? Infinity;
  }

  /** Whether the store has not reported `disconnect` since it last reported `connect`. */
  get isConnected(): boolean {
    return this.connected;
  }

  /** Records what the store reported last: `connect` (true) or `disconnect` (false). */
  setConnected(connected: boolean): void {
    this.connected = connected;
  }

  /** Calls the store once. */
  call<T>(operation: string, invoke: (cb: Callback<T>) => void, callback?: Callback<T>): void {
    if (!this.connected) {
      callback?.(new StoreDisconnectedError(operation));
      return;
    }
    const max = this.maxPending;
    if (this.pending >= max) {
      if (!this.saturated) {
        this.saturated = true;
        logger.error(`${this.pending} session store calls are unanswered; new ones fail at once until it catches up`);
      }
      callback?.(new StoreBusyError(operation, max));
      return;
    }
    this.pending += 1;
    callStore(
      operation,
      this.options.timeout,
      invoke,
      (err, value) => {
        // An HttpException (a value that cannot be serialised) is the request's answer as it is.
        if (err && !(err instanceof StoreTimeoutError) && !isHttpException(err)) {
          err = new StoreCallError(operation, err);
        }
        callback?.(err, value);
      },
      this.answered,
    );
  }

  /**
   * What runs when the store answers a call. One function for every call, not a closure made inside `call`:
   * that would share `call`'s scope with the request's callback, and a hung store holding it would hold the
   * request too.
   */
  private readonly answered = (): void => {
    this.pending -= 1;
    if (this.pending < this.maxPending / 2) this.saturated = false;
  };

  /** Calls the store, and again after a failure as `retries` allows (never after a timeout or with too many pending). */
  read<T>(operation: string, invoke: (cb: Callback<T>) => void, callback: Callback<T>): void {
    let attempt = 0;
    const once = (): void =>
      this.call<T>(operation, invoke, (err, value) => {
        const final = err instanceof StoreTimeoutError || err instanceof StoreBusyError;
        if (err && attempt < this.options.retries && !final) {
          attempt += 1;
          setTimeout(once, Math.max(0, this.options.retriesStrategy(attempt)));
          return;
        }
        callback(err, value);
      });
    once();
  }
}

/**
 * Calls a store method once: turns a synchronous throw or a rejected promise into an error and enforces
 * the deadline. Only a call that has not answered when it returns gets a deadline: one that answers at once
 * (the embedded store) cannot hang. The deadlines of pending calls share one timer (see Deadlines): a timer
 * per call was a measurable part of each request's cost. A late answer after the deadline is ignored. At the
 * deadline the call lets go of `callback`: a hung store keeps the callback it was given until it answers (or
 * forever), and through `callback` that would hold the request, its response and all they reference.
 * `answered` runs once, when the store answers, even after the deadline.
 */
export function callStore<T>(
  operation: string,
  timeout: number,
  invoke: (cb: Callback<T>) => void,
  callback?: Callback<T>,
  answered?: () => void,
): void {
  // What the closures below share (and so what a store holding `done` keeps): nothing of the request's
  // once `waiting` is cleared.
  let waiting = callback;
  let onAnswer = answered;
  let pending: PendingCall | undefined;
  const done: Callback<T> = (err, value) => {
    const first = onAnswer;
    onAnswer = undefined;
    first?.();
    const settle = waiting;
    if (settle === undefined) return;
    waiting = undefined;
    if (pending !== undefined) deadlinesOf(timeout).settle(pending);
    settle(err ?? null, value);
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
  if (waiting !== undefined) {
    pending = {
      at: 0,
      expire: () => {
        const settle = waiting;
        waiting = undefined;
        settle?.(new StoreTimeoutError(operation, timeout));
      },
    };
    deadlinesOf(timeout).add(pending);
  }
}

/** A store's `get` as a promise: the record, or null when there is none (a failure rejects with an Error). */
export function readRecord<T = SessionData>(store: Pick<Store, 'get'>, sid: string): Promise<T | null> {
  return new Promise((resolve, reject) =>
    store.get(sid, (err: unknown, record?: SessionData | null) =>
      err ? reject(err instanceof Error ? err : new Error(describe(err))) : resolve((record as T | null) ?? null),
    ),
  );
}

/** Hands a promise's outcome to a node-style store callback. */
export function toCallback<T>(promise: Promise<T>, callback?: Callback<T>): void {
  promise.then(
    (value) => callback?.(null, value),
    (err: unknown) => callback?.(err),
  );
}

const logger = new Logger('SessionStore');

function isHttpException(err: unknown): boolean {
  return typeof (err as { getStatus?: unknown } | null)?.getStatus === 'function';
}
