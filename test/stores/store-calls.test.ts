import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Controller, Get } from '@nestjs/common';
import { Session, SessionModule } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { TestApp } from '../support/app.js';
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

async function withStore(
  options: Partial<SessionModuleOptions>,
  latency: number,
  run: (t: TestApp, store: FaultStore) => Promise<void>,
): Promise<void> {
  const store = new FaultStore();
  store.latency.get = latency;
  store.latency.set = latency;
  store.latency.touch = latency;
  const t = await startApp({
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store }, ...options })],
    controllers: [CounterController, PeekController],
  });
  try {
    await run(t, store);
  } finally {
    await t.close();
  }
}

// What each request costs the store: the round trips the benchmarks count on Redis.
describe('store calls per request', () => {
  for (const latency of [0, 2]) {
    const kind = latency ? 'a store that answers later' : 'a store that answers at once';

    it(`${kind}: a request that changes the session writes it once and sends no touch after`, async () => {
      await withStore({}, latency, async (t, store) => {
        const client = t.client();
        assert.deepEqual((await client.get('/')).body, { views: 1 });
        store.resetCounts();
        assert.deepEqual((await client.get('/')).body, { views: 2 });
        assert.equal(store.calls.set, 1, 'one write');
        assert.equal(store.calls.touch, 0, 'no touch after the write');
        assert.equal((await store.peek(sidOf(client.jar.get('connect.sid'))!))?.views, 2, 'the write holds the change');
      });
    });

    it(`${kind}: an unchanged request reads and touches, and writes nothing`, async () => {
      await withStore({}, latency, async (t, store) => {
        const client = t.client();
        await client.get('/');
        store.resetCounts();
        assert.deepEqual((await client.get('/peek')).body, { views: 1 });
        assert.deepEqual(store.calls, { get: 1, set: 0, destroy: 0, touch: 1 });
      });
    });

    it(`${kind}: with touchAfter, unchanged requests only read`, async () => {
      await withStore({ touchAfter: 60_000 }, latency, async (t, store) => {
        const client = t.client();
        await client.get('/');
        store.resetCounts();
        for (let i = 0; i < 3; i++) assert.deepEqual((await client.get('/peek')).body, { views: 1 });
        assert.deepEqual(store.calls, { get: 3, set: 0, destroy: 0, touch: 0 });
      });
    });
  }
});
