import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Store } from 'express-session';
import { SESSION_MODULE_OPTIONS, SessionModule } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import { suiteCleanup } from '../support/cleanup.js';
import type { Cleanup } from '../support/cleanup.js';
import { AuthController } from '../support/controllers.js';
import { sidOf } from '../support/http.js';
import type { Client } from '../support/http.js';
import { sleep } from '../support/net.js';
import { peek, storeKinds } from '../support/store-kinds.js';

const COOKIE = 'connect.sid';

/** The same behaviour, store by store: login, read, modify, logout, expiry, regenerate. */
for (const kind of storeKinds) {
  describe(`session behaviour on the ${kind.name} store`, { skip: kind.skip }, () => {
    const suite = suiteCleanup();
    /** The store the kind made (undefined: the module's default). */
    let given: Store | undefined;
    let app: TestApp;
    /** The store the app uses. */
    let store: Store;

    async function boot(t: Cleanup, extra: Partial<SessionModuleOptions> = {}, cookie: object = {}): Promise<TestApp> {
      const booted = await startApp(t, {
        imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store: given, cookie }, ...extra })],
        controllers: [AuthController],
      });
      store = booted.nest.get<{ session: { store: Store } }>(SESSION_MODULE_OPTIONS).session.store;
      return booted;
    }

    async function loggedIn(client: Client, userId = 'alice'): Promise<string> {
      const res = await client.post('/auth/login', { userId });
      assert.equal(res.status, 200);
      const sid = sidOf(client.jar.get(COOKIE));
      assert.ok(sid, 'login sets the session cookie');
      return sid;
    }

    before(async () => {
      given = kind.isDefault ? undefined : await kind.create(suite);
      app = await boot(suite);
    });

    it('login: a new id, the user in the store under it, the guarded route open', async () => {
      const client = app.client();
      await client.get('/auth/state');
      const sid = await loggedIn(client);
      const record = await peek(store, sid);
      assert.equal(record?.userId, 'alice', 'the store holds the user under the new id');
      const me = await client.get('/auth/me');
      assert.equal(me.status, 200);
      assert.deepEqual(me.body, { userId: 'alice' });
    });

    it('read: the session is found again from its cookie, and only from it', async () => {
      const client = app.client();
      const sid = await loggedIn(client, 'bob');
      const state = await client.get('/auth/state');
      assert.equal(state.status, 200);
      assert.equal(state.body.id, sid);
      assert.equal(state.body.authenticated, true);
      assert.equal(state.body.data.userId, 'bob');
      assert.equal((await app.client().get('/auth/me')).status, 401, 'another client without the cookie is anonymous');
    });

    it('modify: a changed key is saved to the store and read back on the next request', async () => {
      const client = app.client();
      const sid = await loggedIn(client);
      assert.equal((await client.post('/auth/set', { role: 'admin', cart: ['a', 'b'] })).status, 200);
      const record = await peek(store, sid);
      assert.equal(record?.role, 'admin');
      assert.deepEqual(record?.cart, ['a', 'b']);
      const state = await client.get('/auth/state');
      assert.equal(state.body.data.role, 'admin');
      assert.deepEqual(state.body.data.cart, ['a', 'b']);
      assert.equal(state.body.data.userId, 'alice', 'the other keys are kept');
    });

    it('logout: the record is removed, the cookie expired, the old cookie anonymous', async () => {
      const client = app.client();
      const sid = await loggedIn(client);
      const cookie = client.cookieHeader();
      const res = await client.post('/auth/logout');
      assert.equal(res.status, 200);
      assert.ok(
        res.setCookies.some((c) => c.startsWith(`${COOKIE}=;`) || /Expires=Thu, 01 Jan 1970/.test(c)),
        'the cookie is expired',
      );
      assert.equal(await peek(store, sid), null, 'the store no longer holds the session');
      const replay = await app.client().get('/auth/me', { cookie });
      assert.equal(replay.status, 401, 'the old cookie no longer authenticates');
    });

    it('regenerate: a new id holding the kept keys, the old id gone from the store', async () => {
      const client = app.client();
      const oldSid = await loggedIn(client);
      const oldCookie = client.cookieHeader();
      await client.post('/auth/set', { role: 'editor', views: 3 });
      const res = await client.post('/auth/regenerate', { keep: ['userId', 'role'] });
      assert.equal(res.status, 200);
      const newSid = sidOf(client.jar.get(COOKIE));
      assert.ok(newSid && newSid !== oldSid, 'a new session id');
      assert.equal(res.body.id, newSid);
      assert.equal(await peek(store, oldSid), null, 'the old id is gone from the store');
      const record = await peek(store, newSid);
      assert.equal(record?.userId, 'alice');
      assert.equal(record?.role, 'editor');
      assert.equal(record?.views, undefined, 'keys not kept are dropped');
      assert.equal((await client.get('/auth/me')).status, 200);
      assert.equal(
        (await app.client().get('/auth/me', { cookie: oldCookie })).status,
        401,
        'the old cookie is anonymous',
      );
    });

    it('expiry: a session past its cookie maxAge is anonymous and not returned by the store', async (t) => {
      const short = await boot(t, {}, { maxAge: 1200 });
      const client = short.client();
      const sid = await loggedIn(client);
      assert.equal((await client.get('/auth/me')).status, 200);
      // Stores count expiry in whole seconds (connect-redis rounds the TTL up): wait past the rounded second.
      await sleep(2300);
      // Sent by hand: the client's jar would drop the cookie itself once its Expires passed.
      const late = await short.client().get('/auth/me', { cookie: client.cookieHeader() });
      assert.equal(late.status, 401, 'an expired session does not authenticate');
      assert.equal(await peek(store, sid), null, 'the store does not return the expired session');
    });
  });
}
