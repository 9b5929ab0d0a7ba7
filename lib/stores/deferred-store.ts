import { Logger } from '@nestjs/common';
import { Store } from 'express-session';
import type { Callback } from './store-call.js';

/**
 * A store whose backend (`S`: a driver's store or client) is built asynchronously (its driver is an optional
 * dependency, loaded with `import()` on first use), so that the helpers that make one can be called
 * synchronously, inside `SessionModule.forRoot()`. Calls made before the backend exists wait for it; if it
 * cannot be built, every call fails with the reason (the request gets the module's 503). Internal.
 */
export abstract class DeferredStore<S> extends Store {
  protected readonly logger: Logger;
  private loaded?: S;
  private failure?: unknown;
  private loading?: Promise<S>;

  constructor(context: string) {
    super();
    this.logger = new Logger(context);
  }

  /** Starts building the real store; subclasses call it once, at the end of their constructor. */
  protected start(load: () => Promise<S>): void {
    this.loading = load().then(
      (store) => {
        this.loaded = store;
        return store;
      },
      (err: unknown) => {
        this.failure = err;
        this.logger.error(err instanceof Error ? err.message : String(err));
        throw err;
      },
    );
    // The failure is reported to every caller; this only keeps it from being "unhandled".
    this.loading.catch(() => undefined);
  }

  /** The real store once built (it rejects with the reason it could not be). */
  protected whenLoaded(): Promise<S> {
    if (!this.loading) return Promise.reject(new Error('store not started'));
    return this.loading;
  }

  /** Runs `use` with the real store, at once when it exists; hands a load failure to `callback`. */
  protected withStore(callback: Callback<any> | undefined, use: (store: S) => void): void {
    // The common case (built already) makes no closure: this runs for every store call of every request.
    if (this.loaded) return this.guard(this.loaded, use, callback);
    const fail = (err: unknown): void => callback?.(err);
    if (this.failure !== undefined) return fail(this.failure);
    this.whenLoaded().then((store) => this.guard(store, use, fail), fail);
  }

  /** A hook to refuse a call before it reaches the real store (e.g. while disconnected). */
  protected refuse(_store: S): Error | undefined {
    return undefined;
  }

  private guard(store: S, use: (store: S) => void, fail: ((err: unknown) => void) | undefined): void {
    const refused = this.refuse(store);
    if (refused) return fail?.(refused);
    try {
      use(store);
    } catch (err) {
      fail?.(err);
    }
  }
}

/**
 * Loads an optional peer dependency, or fails with an error that says what to install.
 * `packages` are npm install specs, e.g. `['pg@8', 'connect-pg-simple@10']`.
 */
export async function loadOptional<T>(load: () => Promise<T>, helper: string, packages: string[]): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const code = (err as { code?: string } | undefined)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error(
        (packages.length === 1
          ? `${helper} needs the optional peer dependency ${packages[0]}, which is not installed: `
          : `${helper} needs the optional peer dependencies ${packages.join(' and ')}, which are not installed: `) +
          `npm install ${packages.join(' ')}`,
        { cause: err },
      );
    }
    throw err;
  }
}
