import type { Callback } from './store-call.js';

/** Runs work one after another per key (callbacks, no promises: it sits on every write's path). Internal. */
export class KeyedQueue {
  private readonly waiting = new Map<string, (() => void)[]>();

  /** Runs `work` after the work already queued for `key`; `callback` gets its outcome. */
  run<T = void>(key: string, callback: Callback<T>, work: (finish: Callback<T>) => void): void {
    const start = (): void =>
      work((err, value) => {
        const queue = this.waiting.get(key)!;
        const next = queue.shift();
        if (next) process.nextTick(next);
        else this.waiting.delete(key);
        callback(err, value);
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
