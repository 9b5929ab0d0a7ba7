import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { Controller, Get } from '@nestjs/common';
import { Session, SessionModule } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import { CounterController } from '../support/controllers.js';
import { FaultStore } from '../support/fault-store.js';
import { sidOf } from '../support/http.js';

/** Reads the counter without changing the session. */
@Controller('peek')
class PeekController {
  @Get()
  peek(@Session('views') views: number | undefined): { views: number | null } {
    return { views: views ?? null };
  }
}

/** A client of an app over a store that answers after `latency` ms, and that store (it counts its calls). */
async function appOverSlowStore(t: TestContext, options: Partial<SessionModuleOptions>, latency: number) {
  const store = new FaultStore();
  store.latency.get = latency;
  store.latency.set = latency;
  store.latency.touch = latency;
  const app = await startApp(t, {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store }, ...options })],
    controllers: [CounterController, PeekController],
  });
  return { client: app.client(), store };
}

// What each request costs the store: the round trips the benchmarks count on Redis.
describe('store calls per request', () => {
  for (const latency of [0, 2]) {
    const kind = latency ? 'a store that answers later' : 'a store that answers at once';

    it(`${kind}: a request that changes the session writes it once and sends no touch after`, async (t) => {
      const { client, store } = await appOverSlowStore(t, {}, latency);
      assert.deepEqual((await client.get('/')).body, { views: 1 });
      store.resetCounts();
      assert.deepEqual((await client.get('/')).body, { views: 2 });
      assert.equal(store.calls.set, 1, 'one write');
      assert.equal(store.calls.touch, 0, 'no touch after the write');
      assert.equal((await store.peek(sidOf(client.jar.get('connect.sid'))!))?.views, 2, 'the write holds the change');
    });

    it(`${kind}: an unchanged request reads and touches, and writes nothing`, async (t) => {
      const { client, store } = await appOverSlowStore(t, {}, latency);
      await client.get('/');
      store.resetCounts();
      assert.deepEqual((await client.get('/peek')).body, { views: 1 });
      assert.deepEqual(store.calls, { get: 1, set: 0, destroy: 0, touch: 1 });
    });

    it(`${kind}: with touchAfter, unchanged requests only read`, async (t) => {
      const { client, store } = await appOverSlowStore(t, { touchAfter: 60_000 }, latency);
      await client.get('/');
      store.resetCounts();
      for (let i = 0; i < 3; i++) assert.deepEqual((await client.get('/peek')).body, { views: 1 });
      assert.deepEqual(store.calls, { get: 3, set: 0, destroy: 0, touch: 0 });
    });
  }
});
