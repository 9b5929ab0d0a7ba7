import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionModule, SessionService } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { AppSpec } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { FaultStore } from '../support/fault-store.js';
import { Client, setCookieFor, sidOf } from '../support/http.js';
import { sleep } from '../support/net.js';

/** The auth controller over this store. */
function onStore(store: FaultStore): AppSpec {
  return {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store } })],
    controllers: [AuthController],
  };
}

describe('SessionService', () => {
  it('logIn changes the session id; the pre-login cookie does not authenticate and its record is gone', async (t) => {
    const store = new FaultStore();
    const app = await startApp(t, onStore(store));
    const client = app.client();
    await client.post('/auth/set', { a: 'anonymous' });
    const before = client.jar.get('connect.sid');
    assert.ok(before);
    const login = await client.post('/auth/login', { userId: 'alice' });
    const after = client.jar.get('connect.sid');
    assert.ok(after && after !== before, 'a new cookie at login');
    assert.equal(login.body.id, sidOf(after));
    assert.notEqual(sidOf(before), sidOf(after));
    assert.equal(await store.peek(sidOf(before)!), null, 'the anonymous record was destroyed');
    assert.equal((await store.peek(sidOf(after)!))?.userId, 'alice');

    const attacker = new Client(app.url);
    attacker.jar.set('connect.sid', before);
    assert.equal((await attacker.get('/auth/me')).status, 401, 'the old cookie is anonymous');
    assert.equal((await client.get('/auth/me')).status, 200);
  });

  it('logIn drops the anonymous data unless kept', async (t) => {
    const app = await startApp(t, onStore(new FaultStore()));
    const client = app.client();
    await client.post('/auth/set', { a: 'dropped', cart: ['book'] });
    await client.post('/auth/login', { userId: 'alice', keep: ['cart'] });
    const state = await client.get('/auth/state');
    assert.deepEqual(state.body.data, { cart: ['book'], userId: 'alice' });
  });

  it('logOut removes the record and expires the cookie with the same name and path', async (t) => {
    const store = new FaultStore();
    const app = await startApp(t, onStore(store));
    const client = app.client();
    await client.post('/auth/login', { userId: 'alice' });
    const sid = sidOf(client.jar.get('connect.sid'))!;
    assert.ok(await store.peek(sid));
    const out = await client.post('/auth/logout');
    assert.equal(out.status, 200);
    const cleared = setCookieFor(out, 'connect.sid');
    assert.ok(cleared, 'a Set-Cookie clears the cookie');
    assert.match(cleared, /Expires=Thu, 01 Jan 1970/);
    assert.match(cleared, /Path=\//);
    assert.equal(await store.peek(sid), null, 'the record is gone');
    assert.equal(client.jar.has('connect.sid'), false);
    assert.equal((await client.get('/auth/me')).status, 401);
  });

  it('regenerate keeps only the keys named in keep, under a new id', async (t) => {
    const store = new FaultStore();
    const app = await startApp(t, onStore(store));
    const client = app.client();
    const first = await client.post('/auth/set', { a: 'x', b: 'y', role: 'r' });
    const regen = await client.post('/auth/regenerate', { keep: ['b', 'role'] });
    assert.notEqual(regen.body.id, first.body.id);
    const state = await client.get('/auth/state');
    assert.deepEqual(state.body.data, { b: 'y', role: 'r' });
    assert.equal(await store.peek(first.body.id), null, 'the old id is unusable');
  });

  it('save() writes the store before the response is sent', async (t) => {
    const store = new FaultStore();
    const app = await startApp(t, onStore(store));
    const client = app.client();
    const first = await client.post('/auth/set', { a: 'x' });
    const pending = client.post('/auth/save-and-wait', { gate: 'g1', role: 'editor' });
    // The handler is now parked after save(): the store already holds the new value.
    for (let i = 0; i < 200 && !AuthController.gates.has('g1'); i++) await sleep(10);
    const stored: unknown = (await store.peek(first.body.id))?.role;
    AuthController.gates.get('g1')!();
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(stored, 'editor');
  });

  it('reload() re-reads the store and drops unsaved changes', async (t) => {
    const app = await startApp(t, onStore(new FaultStore()));
    const client = app.client();
    await client.post('/auth/set', { role: 'saved' });
    const res = await client.post('/auth/reload', { role: 'unsaved' });
    assert.deepEqual(res.body, { role: 'saved' });
  });

  it('destroy() removes the record from the store', async (t) => {
    const store = new FaultStore();
    const app = await startApp(t, onStore(store));
    const client = app.client();
    const { body } = await client.post('/auth/set', { a: 'x' });
    assert.ok(await store.peek(body.id));
    assert.equal((await client.post('/auth/destroy')).status, 200);
    assert.equal(await store.peek(body.id), null);
  });

  it('40 interleaved requests from 4 clients through the singleton service see no cross-talk', async (t) => {
    const store = new FaultStore();
    const app = await startApp(t, onStore(store));
    const clients = ['c0', 'c1', 'c2', 'c3'].map((name) => ({ name, client: app.client() }));
    for (const { name, client } of clients) await client.post('/auth/login', { userId: name, data: { client: name } });
    // Store reads take a while, so the 40 requests overlap inside the app.
    store.latency.get = 15;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const { name, client } = clients[i % 4];
        return client.get('/auth/state').then((res) => ({ name, res }));
      }),
    );
    for (const { name, res } of results) {
      assert.equal(res.status, 200);
      assert.equal(res.body.data.client, name);
      assert.equal(res.body.data.userId, name);
    }
  });

  it('outside a request every member throws a clear error', async (t) => {
    const app = await startApp(t, onStore(new FaultStore()));
    const service = app.nest.get(SessionService);
    assert.throws(() => service.session, /outside an HTTP request/);
    assert.throws(() => service.id, /outside an HTTP request/);
    assert.throws(() => service.get('userId'), /outside an HTTP request/);
    assert.throws(() => service.set('userId', 1), /outside an HTTP request/);
    assert.throws(() => service.isAuthenticated(), /outside an HTTP request/);
    for (const call of [
      () => service.save(),
      () => service.reload(),
      () => service.destroy(),
      () => service.regenerate(),
      () => service.logIn(1),
      () => service.logOut(),
    ]) {
      await assert.rejects(call(), /outside an HTTP request/);
    }
  });
});
