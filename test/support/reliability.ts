import assert from 'node:assert/strict';
import { SessionModule } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import type { SessionOptions } from 'express-session';
import { TEST_SECRET } from './app.js';
import type { AppSpec, TestApp } from './app.js';
import { AuthController, CounterController, ReliabilityController } from './controllers.js';
import { asError } from './errors.js';
import type { FaultStore } from './fault-store.js';
import type { Client } from './http.js';

/** The test controllers over this store with these module options (for `startApp`). */
export function reliabilityApp(
  store: FaultStore,
  options: Omit<Partial<SessionModuleOptions>, 'session'> & { session?: Partial<SessionOptions> } = {},
): AppSpec {
  const { session, ...rest } = options;
  return {
    imports: [SessionModule.forRoot({ ...rest, session: { secret: TEST_SECRET, ...session, store } })],
    controllers: [AuthController, CounterController, ReliabilityController],
  };
}

/** Every record in the store underneath (no faults, not counted). */
export function records(store: FaultStore): Promise<Record<string, any>[]> {
  return new Promise((resolve, reject) =>
    store.inner.all!((err, all) =>
      err ? reject(asError(err)) : resolve(Array.isArray(all) ? all : Object.values(all ?? {})),
    ),
  );
}

/**
 * Two apps (two instances over one store) serve one logged-in session: each round, a change of a different
 * key reaches each instance at the same moment; at the end every change of every round is in the session.
 */
export async function assertNoChangeLostAcrossInstances(
  a: TestApp,
  b: TestApp,
  rounds = 30,
): Promise<{ onA: Client; onB: Client; cookie: string }> {
  const onA = a.client();
  assert.equal((await onA.post('/auth/login', { userId: 'alice' })).status, 200);
  const cookie = onA.cookieHeader();
  const onB = b.client();
  for (let i = 0; i < rounds; i++) {
    // Both load the same version, then both write: each instance's write either lands first or finds the
    // other's change and merges into it.
    const [fromA, fromB] = await Promise.all([
      onA.post('/auth/set', { [`a${i}`]: i }),
      onB.post('/auth/set', { [`b${i}`]: i }, { cookie }),
    ]);
    assert.equal(fromA.status, 200);
    assert.equal(fromB.status, 200);
  }
  const { data } = (await onA.get('/auth/state')).body as { data: Record<string, unknown> };
  for (let i = 0; i < rounds; i++) {
    assert.equal(data[`a${i}`], i, `A's change ${i} kept`);
    assert.equal(data[`b${i}`], i, `B's change ${i} kept`);
  }
  assert.equal(data.userId, 'alice');
  return { onA, onB, cookie };
}
