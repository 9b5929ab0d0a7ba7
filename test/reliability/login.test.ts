import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startApp } from '../support/app.js';
import { openGate, ReliabilityController } from '../support/controllers.js';
import { setCookieFor, sidOf } from '../support/http.js';
import { sleep } from '../support/net.js';
import { records, reliabilityApp } from '../support/reliability.js';
import { faultStore, reliabilityStoreKinds } from '../support/store-kinds.js';

for (const kind of reliabilityStoreKinds) {
  describe(`login, logout and expiry on the ${kind.family}`, { skip: kind.skip }, () => {
    it('R6: logIn changes the id and the old id is anonymous afterwards', async (t) => {
      const store = await faultStore(t, kind);
      const app = await startApp(t, reliabilityApp(store));
      const client = app.client();
      await client.post('/auth/set', { a: 'anonymous' });
      const before = client.jar.get('connect.sid')!;
      await client.post('/auth/login', { userId: 'alice' });
      assert.notEqual(sidOf(client.jar.get('connect.sid')), sidOf(before));
      assert.equal((await app.client().get('/auth/me', { cookie: `connect.sid=${before}` })).status, 401);
      assert.equal(await store.peek(sidOf(before)!), null);
    });

    it('R6: when the store fails during logIn, the response is 503 and no session is authenticated under any id', async (t) => {
      const store = await faultStore(t, kind);
      const app = await startApp(t, reliabilityApp(store));
      // The write of the new session fails; then the removal of the old one fails.
      for (const op of ['set', 'destroy'] as const) {
        const client = app.client();
        await client.post('/auth/set', { a: 'anonymous' });
        const before = client.jar.get('connect.sid')!;
        store.next(op, { kind: 'reject' });
        const login = await client.post('/auth/login', { userId: 'mallory' });
        assert.equal(login.status, 503, `${op} failure`);
        assert.equal(setCookieFor(login, 'connect.sid'), undefined, 'no cookie for a half-made login');
        assert.equal((await client.get('/auth/me')).status, 401);
        assert.equal((await app.client().get('/auth/me', { cookie: `connect.sid=${before}` })).status, 401);
        const authenticated = (await records(store)).filter((r) => r.userId === 'mallory');
        assert.deepEqual(authenticated, [], 'no record holds the user');
      }
    });

    it('R7: logOut removes the record and expires the cookie with the same Path, Domain, SameSite and Secure', async (t) => {
      const store = await faultStore(t, kind);
      const app = await startApp(
        t,
        reliabilityApp(store, {
          session: { proxy: true, cookie: { path: '/', domain: 'app.example', sameSite: 'strict', secure: true } },
        }),
      );
      const client = app.client();
      const https = { 'x-forwarded-proto': 'https' };
      const login = await client.post('/auth/login', { userId: 'alice' }, https);
      const set = setCookieFor(login, 'connect.sid')!;
      assert.match(set, /Domain=app\.example/);
      const sid = sidOf(client.jar.get('connect.sid'))!;
      const out = await client.post('/auth/logout', undefined, https);
      const cleared = setCookieFor(out, 'connect.sid')!;
      assert.ok(cleared);
      assert.match(cleared, /^connect\.sid=;/);
      assert.match(cleared, /Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
      for (const attribute of [/Path=\//, /Domain=app\.example/, /SameSite=Strict/, /Secure/, /HttpOnly/]) {
        assert.match(cleared, attribute);
      }
      assert.equal(await store.peek(sid), null);
    });

    it('R8: a request still in flight when its session is destroyed cannot bring it back', async (t) => {
      const store = await faultStore(t, kind);
      const app = await startApp(t, reliabilityApp(store));
      const client = app.client();
      const cookie = (await client.post('/auth/login', { userId: 'alice' }), client.jar.get('connect.sid')!);
      const sid = sidOf(cookie)!;
      const slow = client.post('/r/set-slow/r8', { a: 'written by the slow request' });
      await sleep(50);
      assert.equal((await client.post('/auth/logout')).status, 200);
      assert.equal(await store.peek(sid), null);
      await openGate(ReliabilityController.gates, 'r8');
      assert.equal((await slow).status, 200);
      assert.equal(await store.peek(sid), null, 'the slow request did not resurrect the session');
      assert.equal((await app.client().get('/auth/me', { cookie: `connect.sid=${cookie}` })).status, 401);
    });

    it('R9: idleTimeout: an unused session is destroyed and anonymous, a used one lives on', async (t) => {
      const store = await faultStore(t, kind);
      const app = await startApp(
        t,
        reliabilityApp(store, { idleTimeout: 400, session: { cookie: { maxAge: 3_600_000 } } }),
      );
      const idle = app.client();
      const busy = app.client();
      await idle.post('/auth/login', { userId: 'idle' });
      await busy.post('/auth/login', { userId: 'busy' });
      const idleSid = sidOf(idle.jar.get('connect.sid'))!;
      for (let i = 0; i < 6; i++) {
        await sleep(150);
        assert.equal((await busy.get('/auth/me')).status, 200, `busy request ${i}`);
      }
      assert.equal((await idle.get('/auth/me')).status, 401, 'idle for 900 ms > 400 ms');
      assert.equal(await store.peek(idleSid), null, 'the idle record was destroyed');
    });

    it('R9: absoluteTimeout: a session expires however active, whatever the cookie and store TTL say', async (t) => {
      const store = await faultStore(t, kind);
      const app = await startApp(
        t,
        reliabilityApp(store, {
          absoluteTimeout: 500,
          session: { cookie: { maxAge: 3_600_000 }, rolling: true },
        }),
      );
      const client = app.client();
      await client.post('/auth/login', { userId: 'alice' });
      const cookie = client.jar.get('connect.sid')!;
      let last = 200;
      for (let i = 0; i < 8 && last === 200; i++) {
        await sleep(100);
        last = (await client.get('/auth/me')).status;
      }
      assert.equal(last, 401, 'refused once 500 ms had passed since login');
      assert.equal(
        (await app.client().get('/auth/me', { cookie: `connect.sid=${cookie}` })).status,
        401,
        'a replayed cookie too',
      );
    });
  });
}
