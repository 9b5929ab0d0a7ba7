import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { SESSION_RUNTIME } from './session.constants.js';
import { describe } from './log-format.js';
import type { SessionRuntime } from './middleware/session-runtime.js';

/** How long a health probe waits for the store by default, in milliseconds. */
export const DEFAULT_HEALTH_TIMEOUT = 1_000;

/**
 * What a health check reports under one key: the shape of `HealthIndicatorResult` from `@nestjs/terminus`,
 * so `HealthCheckService.check([() => indicator.isHealthy()])` takes it as it is.
 */
export type SessionHealthResult<Key extends string = string> = Record<Key, { status: 'up' | 'down'; message?: string }>;

/** Options of {@link SessionHealthIndicator.isHealthy}. */
export interface SessionHealthOptions {
  /**
   * The longest the probe waits for the store, in milliseconds; a slower store is reported down.
   * @default 1000
   */
  timeout?: number;
  /**
   * Whether a down store's message carries the store's own error (host names, addresses, driver messages); off,
   * it only says that the store failed, since health output is often public.
   * @default false
   */
  verbose?: boolean;
}

/**
 * A health indicator for `@nestjs/terminus` that reports the session store up or down. It reads one
 * session id that does not exist (a store that answers is up) and writes nothing. It imports nothing
 * from terminus, so apps without it do not need it installed. Provided and exported by SessionModule.
 *
 * ```ts
 * @Get('health')
 * @HealthCheck()
 * check() {
 *   return this.health.check([() => this.sessions.isHealthy('session')]);
 * }
 * ```
 */
@Injectable()
export class SessionHealthIndicator {
  constructor(@Inject(SESSION_RUNTIME) private readonly runtime: SessionRuntime) {}

  /**
   * `{ [key]: { status: 'up' } }`, or `{ [key]: { status: 'down', message } }` saying what went wrong: the store's
   * own error only with `verbose: true`.
   */
  async isHealthy<const Key extends string = 'session'>(
    key: Key = 'session' as Key,
    options: SessionHealthOptions = {},
  ): Promise<SessionHealthResult<Key>> {
    const problem = await this.probe(options.timeout ?? DEFAULT_HEALTH_TIMEOUT, options.verbose === true);
    const detail = problem === undefined ? { status: 'up' as const } : { status: 'down' as const, message: problem };
    return { [key]: detail } as SessionHealthResult<Key>;
  }

  /** Undefined when the store answered in time; otherwise why it is down. */
  private probe(timeout: number, verbose: boolean): Promise<string | undefined> {
    const guarded = this.runtime.store;
    if (!guarded.isConnected) return Promise.resolve('The session store reported a disconnect.');
    const store = guarded.inner;
    return new Promise((resolve) => {
      let settled = false;
      const finish = (problem?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(problem);
      };
      const timer = setTimeout(() => finish(`The session store did not answer within ${timeout} ms.`), timeout);
      const failed = (err: unknown): void =>
        finish(verbose ? `The session store failed: ${describe(err)}` : 'The session store failed.');
      try {
        const result: unknown = store.get(`nest-express-session-health-${randomUUID()}`, (err) =>
          err ? failed(err) : finish(),
        );
        // Some stores return a promise as well as (or instead of) calling back.
        if (result && typeof (result as Promise<unknown>).then === 'function') {
          (result as Promise<unknown>).then(() => finish(), failed);
        }
      } catch (err) {
        failed(err);
      }
    });
  }
}
