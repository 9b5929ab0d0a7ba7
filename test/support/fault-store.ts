import { Store } from 'express-session';
import type { SessionData } from 'express-session';
import { EmbeddedStore } from 'nest-express-session';
import { asError } from './errors.js';

/** The store calls a fault can be put on. */
export type StoreOp = 'get' | 'set' | 'destroy' | 'touch';

/** One injected fault. */
export type Fault =
  | { kind: 'reject'; error?: Error }
  | { kind: 'throw'; error?: Error }
  | { kind: 'hang' }
  | { kind: 'return'; value: unknown };

type Callback = (err?: unknown, value?: any) => void;

/**
 * Wraps a real store and injects the faults no real server produces on demand: rejections,
 * synchronous throws, calls that never answer, corrupt records, latency and store events.
 * Every call that is not faulted goes to the real store underneath. It also counts calls.
 */
export class FaultStore extends Store {
  readonly calls: Record<StoreOp, number> = { get: 0, set: 0, destroy: 0, touch: 0 };
  readonly latency: Partial<Record<StoreOp, number>> = {};
  private readonly queued: Record<StoreOp, Fault[]> = { get: [], set: [], destroy: [], touch: [] };
  private readonly always: Partial<Record<StoreOp, Fault>> = {};
  /** Callbacks of calls left hanging, so a test can prove nothing waits on them. */
  readonly hanging: Callback[] = [];

  constructor(readonly inner: Store = new EmbeddedStore()) {
    super();
  }

  /** The next `times` calls of `op` get this fault. */
  next(op: StoreOp, fault: Fault, times = 1): this {
    for (let i = 0; i < times; i++) this.queued[op].push(fault);
    return this;
  }

  /** Every call of `op` gets this fault until `heal()`. */
  always_(op: StoreOp, fault: Fault): this {
    this.always[op] = fault;
    return this;
  }

  /** Removes every fault. */
  heal(): this {
    for (const op of Object.keys(this.queued) as StoreOp[]) this.queued[op] = [];
    for (const op of Object.keys(this.always) as StoreOp[]) delete this.always[op];
    return this;
  }

  resetCounts(): void {
    for (const op of Object.keys(this.calls) as StoreOp[]) this.calls[op] = 0;
  }

  /** Reads the real store directly (no fault, not counted). */
  peek(sid: string): Promise<SessionData | null | undefined> {
    return new Promise((resolve, reject) => this.inner.get(sid, (err, s) => (err ? reject(asError(err)) : resolve(s))));
  }

  /** Writes the real store directly (no fault, not counted). */
  put(sid: string, value: unknown): Promise<void> {
    return new Promise((resolve, reject) =>
      this.inner.set(sid, value as SessionData, (err) => (err ? reject(asError(err)) : resolve())),
    );
  }

  override get(sid: string, cb: Callback): void {
    this.run('get', cb, (done) => this.inner.get(sid, done));
  }

  override set(sid: string, session: SessionData, cb?: Callback): void {
    this.run('set', cb, (done) => this.inner.set(sid, session, done));
  }

  override destroy(sid: string, cb?: Callback): void {
    this.run('destroy', cb, (done) => this.inner.destroy(sid, done));
  }

  override touch(sid: string, session: SessionData, cb?: Callback): void {
    this.run('touch', cb, (done) => (this.inner.touch ? this.inner.touch(sid, session, done) : done()));
  }

  override all(cb: Callback): void {
    if (this.inner.all) this.inner.all(cb);
    else cb(null, []);
  }

  override length(cb: Callback): void {
    if (this.inner.length) this.inner.length(cb);
    else cb(null, 0);
  }

  override clear(cb?: Callback): void {
    if (this.inner.clear) this.inner.clear(cb);
    else cb?.();
  }

  private run(op: StoreOp, cb: Callback | undefined, real: (done: Callback) => void): void {
    this.calls[op] += 1;
    const fault = this.queued[op].shift() ?? this.always[op];
    const callback = cb ?? (() => undefined);
    const proceed = (): void => {
      if (!fault) return real(callback);
      switch (fault.kind) {
        case 'reject':
          return callback(fault.error ?? new Error(`injected ${op} failure`));
        case 'throw':
          throw fault.error ?? new Error(`injected synchronous ${op} throw`);
        case 'hang':
          this.hanging.push(callback);
          return;
        case 'return':
          return callback(null, fault.value);
      }
    };
    const delay = this.latency[op];
    if (delay && fault?.kind !== 'throw') setTimeout(proceed, delay);
    else proceed();
  }
}
