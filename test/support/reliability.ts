import { SessionModule } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import type { SessionOptions } from 'express-session';
import { startApp, TEST_SECRET } from './app.js';
import type { TestApp } from './app.js';
import { AuthController, CounterController, ReliabilityController } from './controllers.js';
import type { FaultStore } from './fault-store.js';

/** Boots the test controllers over this store with these module options. */
export function appOver(
  store: FaultStore,
  options: Omit<Partial<SessionModuleOptions>, 'session'> & { session?: Partial<SessionOptions> } = {},
): Promise<TestApp> {
  const { session, ...rest } = options;
  return startApp({
    imports: [SessionModule.forRoot({ ...rest, session: { secret: TEST_SECRET, ...session, store } })],
    controllers: [AuthController, CounterController, ReliabilityController],
  });
}

/** Every record in the store underneath (no faults, not counted). */
export function records(store: FaultStore): Promise<Record<string, any>[]> {
  return new Promise((resolve, reject) =>
    store.inner.all!((err, all) => (err ? reject(err) : resolve(Array.isArray(all) ? all : Object.values(all ?? {})))),
  );
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
