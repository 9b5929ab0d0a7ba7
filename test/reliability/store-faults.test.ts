import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STORE_UNAVAILABLE_MESSAGE } from 'nest-express-session';
import { startApp } from '../support/app.js';
import { handled } from '../support/controllers.js';
import { sidOf } from '../support/http.js';
import { sleep } from '../support/net.js';
import { reliabilityApp } from '../support/reliability.js';
import { faultStore, reliabilityStoreKinds } from '../support/store-kinds.js';

const UNAVAILABLE = { statusCode: 503, message: STORE_UNAVAILABLE_MESSAGE, error: 'Service Unavailable' };

for (const kind of reliabilityStoreKinds) {
  describe(`store faults on the ${kind.family}`, { skip: kind.skip }, () => {
    it('R10: a failing read is retried as configured, then a 503 with a clear JSON body, no stack, handler not run', async (t) => {
      const store = await faultStore(t, kind);
      const attempts: number[] = [];
      const app = await startApp(
        t,
        reliabilityApp(store, { retries: 1, retriesStrategy: (n) => (attempts.push(n), 10) }),
      );
      const client = app.client();
      await client.post('/auth/login', { userId: 'alice' });
      store.next('get', { kind: 'reject', error: new Error('ECONNRESET 10.0.0.7:6379') }, 1);
      assert.deepEqual((await client.get('/whoami')).body, { userId: 'alice' }, 'one failure, one retry: served');
      store.next('get', { kind: 'reject', error: new Error('ECONNRESET 10.0.0.7:6379') }, 2);
      const before = handled.count;
      const res = await client.get('/whoami');
      assert.equal(res.status, 503);
      assert.deepEqual(res.body, UNAVAILABLE);
      assert.doesNotMatch(res.text, /ECONNRESET|10\.0\.0\.7|\.js:\d+/, 'no internals, no stack');
      assert.equal(handled.count, before, 'the handler did not run');
      assert.deepEqual(attempts, [1, 1]);
    });

    it(
      'R11: a store.get or store.set that never answers is a 503 after storeTimeout; the next request is served',
      { timeout: 20_000 },
      async (t) => {
        const store = await faultStore(t, kind);
        const app = await startApp(t, reliabilityApp(store, { storeTimeout: 300 }));
        const client = app.client();
        await client.post('/auth/login', { userId: 'alice' });
        store.next('get', { kind: 'hang' });
        assert.equal((await client.get('/whoami')).status, 503);
        store.next('set', { kind: 'hang' });
        assert.equal((await client.post('/auth/set', { a: 'x' })).status, 503);
        assert.equal(store.hanging.length, 2, 'both store calls were left hanging; the requests were not');
        assert.deepEqual((await client.get('/whoami')).body, { userId: 'alice' });
      },
    );

    it('R12: when saving a changed session fails, the client gets a 503, not a 2xx, and the store keeps the old value', async (t) => {
      const store = await faultStore(t, kind);
      const app = await startApp(t, reliabilityApp(store));
      const client = app.client();
      const { body } = await client.post('/auth/set', { a: 'first' });
      store.next('set', { kind: 'reject' });
      const res = await client.post('/auth/set', { a: 'second' });
      assert.equal(res.status, 503);
      assert.deepEqual(res.body, UNAVAILABLE);
      assert.equal((await store.peek(body.id))?.a, 'first');
      store.next('set', { kind: 'throw' });
      assert.equal((await client.post('/auth/set', { a: 'third' })).status, 503, 'a synchronous throw too');
      assert.equal((await client.get('/auth/state')).body.data.a, 'first');
    });

    it('R13: after disconnect, routes that need the session get 503 (not 401, not 500); after connect they work; error events never crash', async (t) => {
      const store = await faultStore(t, kind);
      const app = await startApp(t, reliabilityApp(store));
      const client = app.client();
      await client.post('/auth/login', { userId: 'alice' });
      store.emit('disconnect');
      const me = await client.get('/auth/me');
      assert.equal(me.status, 503);
      assert.deepEqual(me.body, UNAVAILABLE);
      assert.equal((await client.get('/')).status, 503);
      store.emit('connect');
      assert.deepEqual((await client.get('/auth/me')).body, { userId: 'alice' });
      store.emit('error', new Error('socket closed unexpectedly'));
      setImmediate(() => store.emit('error', new Error('emitted from a callback')));
      await sleep(20);
      assert.equal((await client.get('/auth/me')).status, 200, 'the process is alive and serving');
    });

    it('R14: a corrupt record is replaced by a fresh session once (200), never a permanent 500', async (t) => {
      const store = await faultStore(t, kind);
      const app = await startApp(t, reliabilityApp(store));
      const corrupt: unknown[] = [{}, { cookie: 5 }, 'garbage', [1, 2], { cookie: { expires: 'not a date' } }, 42];
      for (const value of corrupt) {
        const client = app.client();
        const { body } = await client.post('/auth/set', { a: 'x' });
        store.next('get', { kind: 'return', value });
        const res = await client.get('/');
        assert.equal(res.status, 200, JSON.stringify(value));
        assert.deepEqual(res.body, { views: 1 }, 'a fresh session');
        assert.notEqual(sidOf(client.jar.get('connect.sid')), body.id, 'under a new id');
        assert.equal(await store.peek(body.id), null, 'the corrupt record was removed');
        assert.deepEqual((await client.get('/')).body, { views: 2 }, 'and the new one works');
      }
      // A record stored without a cookie (written by something else) is handled the same way.
      const client = app.client();
      const { body } = await client.post('/auth/set', { a: 'x' });
      await store.put(body.id, { a: 'no cookie here' });
      assert.equal((await client.get('/')).status, 200);
    });

    it(
      'R15: a circular object or a BigInt in the session is a clear 500 that completes at once; the stored session is intact',
      { timeout: 20_000 },
      async (t) => {
        const store = await faultStore(t, kind);
        const app = await startApp(t, reliabilityApp(store));
        const client = app.client();
        const { body } = await client.post('/auth/set', { a: 'kept' });
        for (const kind of ['circular', 'bigint']) {
          const res = await client.post(`/r/poison/${kind}`);
          assert.equal(res.status, 500, kind);
          assert.match(res.body.message, /cannot be serialised/);
          assert.equal((await store.peek(body.id))?.a, 'kept');
        }
        const raw = await client.post('/r/poison-raw');
        assert.equal(raw.status, 500, 'a @Res() handler that answered itself gets the 500 too');
        assert.match(raw.body.message, /cannot be serialised/);
        assert.equal((await client.get('/auth/state')).body.data.a, 'kept');
      },
    );
  });
}
