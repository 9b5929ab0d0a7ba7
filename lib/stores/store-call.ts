import { StoreCallError, StoreDisconnectedError, StoreTimeoutError } from '../session.errors.js';

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
}

/**
 * Every call the module makes to the user's store goes through one of these: it fails fast while the store
 * has reported `disconnect`, turns throws and rejections into errors, enforces the deadline and retries
 * failed reads. Internal.
 */
export class StoreCaller {
  private connected = true;

  constructor(private readonly options: StoreCallOptions) {}

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
    callStore(operation, this.options.timeout, invoke, (err, value) => {
      // An HttpException (a value that cannot be serialised) is the request's answer as it is.
      if (err && !(err instanceof StoreTimeoutError) && !isHttpException(err)) err = new StoreCallError(operation, err);
      callback?.(err, value);
    });
  }

  /** Calls the store, and again after a failure as `retries` allows (never after a timeout). */
  read<T>(operation: string, invoke: (cb: Callback<T>) => void, callback: Callback<T>): void {
    let attempt = 0;
    const once = (): void =>
      this.call<T>(operation, invoke, (err, value) => {
        if (err && attempt < this.options.retries && !(err instanceof StoreTimeoutError)) {
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
 * the deadline. The timer is armed only for a store that has not answered when the call returns: one that
 * answers at once (the embedded store; MemoryStore answers on the next turn, so it gets a timer) cannot hang, and a timer per call was a measurable
 * part of each request's cost. A late answer after the deadline is ignored.
 */
export function callStore<T>(
  operation: string,
  timeout: number,
  invoke: (cb: Callback<T>) => void,
  callback?: Callback<T>,
): void {
  let settled = false;
  let timer: NodeJS.Timeout | undefined;
  const done: Callback<T> = (err, value) => {
    if (settled) return;
    settled = true;
    if (timer !== undefined) clearTimeout(timer);
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
  if (!settled) {
    timer = setTimeout(() => {
      settled = true;
      callback?.(new StoreTimeoutError(operation, timeout));
    }, timeout);
  }
}

/** Hands a promise's outcome to a node-style store callback. */
export function toCallback<T>(promise: Promise<T>, callback?: Callback<T>): void {
  promise.then(
    (value) => callback?.(null, value),
    (err: unknown) => callback?.(err),
  );
}

function isHttpException(err: unknown): boolean {
  return typeof (err as { getStatus?: unknown } | null)?.getStatus === 'function';
}
