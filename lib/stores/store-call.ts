import { createHash } from 'node:crypto';
import { StoreTimeoutError } from '../session.errors.js';

/** A store callback (internal). */
export type Callback<T = void> = (err?: unknown, value?: T) => void;

/** A short, irreversible name for a session id, fit for logs. */
export function hashId(sid: string): string {
  return createHash('sha256').update(sid).digest('hex').slice(0, 12);
}

/** An error's name and message, never its stack. */
export function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Calls a store method once: turns a synchronous throw or a rejected promise into an error and enforces
 * the deadline. The timer is armed only for a store that has not answered when the call returns: one that
 * answers at once (the embedded store, MemoryStore) cannot hang, and a timer per call was a measurable
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
export function settle<T>(promise: Promise<T>, callback?: Callback<T>): void {
  promise.then(
    (value) => callback?.(null, value),
    (err: unknown) => callback?.(err),
  );
}

/** Runs work one after another per key (callbacks, no promises: it sits on every write's path). */
export class KeyedQueue {
  private readonly waiting = new Map<string, (() => void)[]>();

  /** Runs `work` after the work already queued for `key`; `callback` gets its outcome. */
  run(key: string, callback: Callback, work: (finish: Callback) => void): void {
    const start = (): void =>
      work((err) => {
        const queue = this.waiting.get(key)!;
        const next = queue.shift();
        if (next) process.nextTick(next);
        else this.waiting.delete(key);
        callback(err);
      });
    const queue = this.waiting.get(key);
    if (queue) {
      queue.push(start);
      return;
    }
    this.waiting.set(key, []);
    start();
  }
}

/**
 * A store that can write a session only if it is still as a request read it. Each record read comes with its
 * revision (the stored text); `setIf` writes only when the stored record is still at that revision, and
 * otherwise hands back the latest record, or says it is gone. The guarded store then writes a changed session in
 * one step when no other request wrote it since it was read, and merges only when one did (internal; the
 * embedded store and redisStore() have it; any other store is read again before each write).
 */
export const CONDITIONAL = Symbol.for('nest-express-session:conditional-store');

/** What `setIf` found: written (with the new revision), the record gone, or changed since (with the latest). */
export type SetIfResult =
  | { status: 'written'; revision: string }
  | { status: 'gone' }
  | { status: 'changed'; latest: unknown; revision: string };

/** The conditional-write capability (internal). */
export interface ConditionalStore {
  [CONDITIONAL]: {
    /** Reads a record (parsed) and its revision. */
    get(sid: string, callback: Callback<{ record: unknown; revision: string } | null>): void;
    /** Writes `record` only if the stored record is still at `revision`. */
    setIf(sid: string, record: object, revision: string, callback: Callback<SetIfResult>): void;
    /** The store's own `get` and `set`, which these two stand in for. */
    replaces: { get: unknown; set: unknown };
  };
}

/**
 * The store's conditional-write capability, when it has one and the store's `get` and `set` are still its
 * own: a subclass that overrides either (to encrypt, to log) is read and written through them, never around.
 */
export function conditionalOf(store: object): ConditionalStore[typeof CONDITIONAL] | undefined {
  const capability = (store as Partial<ConditionalStore>)[CONDITIONAL];
  if (!capability || typeof capability.setIf !== 'function') return undefined;
  const { get, set } = store as { get?: unknown; set?: unknown };
  return get === capability.replaces.get && set === capability.replaces.set ? capability : undefined;
}
