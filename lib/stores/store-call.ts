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
 * An in-process store can say at once whether a record changed since it was read: it returns a value that
 * stays the same (`===`) until the record is written or removed. The guarded store then skips the read
 * before a write when nothing else wrote the session since this request loaded it (internal).
 */
export const REVISION = Symbol.for('nest-express-session:revision');

/** A store with the revision capability (internal). */
export interface RevisionedStore {
  [REVISION](sid: string): unknown;
}

/** The store's revision function, when it has one. */
export function revisionOf(store: object): ((sid: string) => unknown) | undefined {
  const revision = (store as Partial<RevisionedStore>)[REVISION];
  return typeof revision === 'function' ? revision.bind(store) : undefined;
}
