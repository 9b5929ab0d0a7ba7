import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import type { Store } from 'express-session';
import { SessionModule } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { FaultStore } from '../support/fault-store.js';
import { sleep } from '../support/net.js';
import { storeKinds } from '../support/store-kinds.js';

const REQUESTS = 5;

/** A logged-in client on an app whose store counts its calls. */
async function setUp(t: TestContext, inner: Store, touchAfter: number | undefined, maxAge: number) {
  const store = new FaultStore(inner);
  const app = await startApp(t, {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store, cookie: { maxAge } }, touchAfter })],
    controllers: [AuthController],
  });
  const client = app.client();
  assert.equal((await client.post('/auth/login', { userId: 'alice' })).status, 200);
  store.resetCounts();
  return { store, client };
}

/** Store calls per request over `n` unchanged (read-only) requests. */
async function unchangedRequests(setup: Awaited<ReturnType<typeof setUp>>, n: number) {
  const { store, client } = setup;
  store.resetCounts();
  for (let i = 0; i < n; i++) {
    const res = await client.get('/auth/me');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { userId: 'alice' });
  }
  const { get, set, touch, destroy } = store.calls;
  return { get: get / n, set: set / n, touch: touch / n, destroy: destroy / n, writes: (set + touch) / n };
}

for (const kind of storeKinds) {
  describe(`touchAfter on the ${kind.name} store`, { skip: kind.skip }, () => {
    it(`store writes per unchanged request: 1 without touchAfter, 0 within the window`, async (t) => {
      const inner = await kind.create(t);
      const off = await setUp(t, inner, undefined, 3_600_000);
      const on = await setUp(t, inner, 60_000, 3_600_000);
      const without = await unchangedRequests(off, REQUESTS);
      const within = await unchangedRequests(on, REQUESTS);
      t.diagnostic(`store calls per unchanged request, touchAfter off: ${JSON.stringify(without)}`);
      t.diagnostic(`store calls per unchanged request, touchAfter 60000: ${JSON.stringify(within)}`);
      assert.deepEqual(
        without,
        { get: 1, set: 0, touch: 1, destroy: 0, writes: 1 },
        'express-session touches on every read',
      );
      assert.deepEqual(within, { get: 1, set: 0, touch: 0, destroy: 0, writes: 0 }, 'no write within the window');
    });

    it('once the window has passed, the next unchanged request touches once, then none again', async (t) => {
      const inner = await kind.create(t);
      const s = await setUp(t, inner, 400, 60_000);
      assert.equal((await unchangedRequests(s, 2)).touch, 0, 'the login save counts as a touch');
      await sleep(500);
      const after = await unchangedRequests(s, 1);
      assert.equal(after.touch, 1, 'a touch once the window has passed');
      assert.equal((await unchangedRequests(s, 2)).touch, 0, 'and none again within the new window');
    });

    it('a session changed on every request is saved with a renewed expiry: it outlives its first maxAge', async (t) => {
      const inner = await kind.create(t);
      const maxAge = 2_000;
      const s = await setUp(t, inner, undefined, maxAge);
      const until = Date.now() + maxAge + 1_500;
      let requests = 0;
      while (Date.now() < until && requests < 40) {
        // Only writes: no read-only request touches the session in between.
        const res = await s.client.post('/auth/set', { role: `r${requests}` });
        assert.equal(res.status, 200);
        requests += 1;
        await sleep(300);
      }
      assert.ok(requests >= 8, `enough requests to pass maxAge (${requests})`);
      const me = await s.client.get('/auth/state');
      assert.equal(me.body.authenticated, true, `still logged in after ${requests} writes, past the first maxAge`);
      assert.equal(me.body.data.role, `r${requests - 1}`);
    });

    it('a session in use is never expired early: used every 250 ms for longer than its maxAge, it stays alive', async (t) => {
      const inner = await kind.create(t);
      const maxAge = 2_500;
      const s = await setUp(t, inner, 1_000, maxAge);
      const until = Date.now() + maxAge + 1_500;
      let requests = 0;
      while (Date.now() < until && requests < 40) {
        const res = await s.client.get('/auth/me');
        assert.equal(res.status, 200, `request ${requests} after ${maxAge} ms of use is still logged in`);
        requests += 1;
        await sleep(250);
      }
      assert.ok(s.store.calls.touch < requests, `fewer touches (${s.store.calls.touch}) than requests (${requests})`);
    });
  });
}
