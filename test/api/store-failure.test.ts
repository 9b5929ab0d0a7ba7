import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { SessionModule, STORE_UNAVAILABLE_MESSAGE } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import { AuthController, CounterController, handled } from '../support/controllers.js';
import { FaultStore } from '../support/fault-store.js';
import { moduleVariants } from '../support/module-variants.js';

/** A client logged in as alice on an app over this store (closed when the test ends). */
async function loggedIn(
  t: TestContext,
  options: Omit<SessionModuleOptions, 'session'>,
  store: FaultStore,
  variant = 0,
) {
  const [, module] = moduleVariants({ session: { secret: TEST_SECRET, store }, ...options })[variant];
  const app = await startApp(t, { imports: [module], controllers: [AuthController, CounterController] });
  const client = app.client();
  await client.post('/auth/login', { userId: 'alice' });
  return client;
}

describe('a failing store', () => {
  for (const variant of [0, 1]) {
    it(`${variant ? 'forRootAsync' : 'forRoot'}: a failed read is a 503 with a clear JSON message, no stack, and the handler does not run`, async (t) => {
      const store = new FaultStore();
      const client = await loggedIn(t, {}, store, variant);
      store.next('get', { kind: 'reject' });
      const before = handled.count;
      const res = await client.get('/whoami');
      assert.equal(res.status, 503);
      assert.deepEqual(res.body, {
        statusCode: 503,
        message: STORE_UNAVAILABLE_MESSAGE,
        error: 'Service Unavailable',
      });
      assert.doesNotMatch(res.text, /at .*\.js/);
      assert.equal(handled.count, before, 'the handler did not run');
      const again = await client.get('/whoami');
      assert.deepEqual(again.body, { userId: 'alice' }, 'the next request succeeds once the store answers');
    });
  }

  it('a synchronous throw from store.get is a 503 too, not a 500', async (t) => {
    const store = new FaultStore();
    const client = await loggedIn(t, {}, store);
    store.next('get', { kind: 'throw' });
    assert.equal((await client.get('/whoami')).status, 503);
  });

  it('the guard answers 503, not 401, when the store fails', async (t) => {
    const store = new FaultStore();
    const client = await loggedIn(t, {}, store);
    store.next('get', { kind: 'reject' });
    assert.equal((await client.get('/auth/me')).status, 503);
  });

  it('retries: two failures then success is a 200 when retries is 2, with retriesStrategy called with 1 and 2', async (t) => {
    const store = new FaultStore();
    const attempts: number[] = [];
    const client = await loggedIn(t, { retries: 2, retriesStrategy: (attempt) => (attempts.push(attempt), 5) }, store);
    store.resetCounts();
    store.next('get', { kind: 'reject' }, 2);
    const res = await client.get('/whoami');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { userId: 'alice' });
    assert.deepEqual(attempts, [1, 2]);
    assert.equal(store.calls.get, 3, 'one read and two retries');
  });

  it('retries exhausted: three failures with retries 2 is a 503 after exactly three reads', async (t) => {
    const store = new FaultStore();
    const client = await loggedIn(t, { retries: 2 }, store);
    store.resetCounts();
    store.next('get', { kind: 'reject' }, 3);
    assert.equal((await client.get('/whoami')).status, 503);
    assert.equal(store.calls.get, 3);
  });

  it("the 503's log line names the store call that failed: get for a load, set for a save", async (t) => {
    const logs: string[] = [];
    const store = new FaultStore();
    const app = await startApp(t, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store } })],
      controllers: [AuthController, CounterController],
      logs,
    });
    const client = app.client();
    assert.equal((await client.post('/auth/login', { userId: 'alice' })).status, 200);
    const failed = (pattern: RegExp): string[] => logs.filter((line) => pattern.test(line));

    store.next('get', { kind: 'reject', error: new Error('connection reset') });
    assert.equal((await client.get('/whoami')).status, 503);
    assert.equal(
      failed(/Session could not be loaded: StoreCallError: Session store get failed: Error: connection reset/).length,
      1,
      `the load failure names get; the log:\n${logs.join('\n')}`,
    );

    store.next('set', { kind: 'reject', error: new Error('out of memory') });
    assert.equal((await client.post('/auth/set', { role: 'x' })).status, 503);
    assert.equal(
      failed(
        /Session could not be saved; the response is a 503: StoreCallError: Session store set failed: Error: out of memory/,
      ).length,
      1,
      `the save failure names set; the log:\n${logs.join('\n')}`,
    );
  });

  it('a store.get that never answers is a 503 after storeTimeout', async (t) => {
    const store = new FaultStore();
    const client = await loggedIn(t, { storeTimeout: 200 }, store);
    store.next('get', { kind: 'hang' });
    const res = await client.get('/whoami');
    assert.equal(res.status, 503);
    assert.equal(store.hanging.length, 1, 'the store call was left hanging, the request was not');
    store.hanging[0](null, null); // a late answer is ignored
    assert.deepEqual((await client.get('/whoami')).body, { userId: 'alice' });
  });
});
