import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import expressSession from 'express-session';
import { SessionModule, SessionRegistry } from 'nest-express-session';
import type { SessionInfo } from 'nest-express-session';
import { createApp, startApp, TEST_SECRET } from '../support/app.js';
import { AuthController, openGate } from '../support/controllers.js';
import { ControlsController, controlsApp } from '../support/controls-app.js';
import { sidOf } from '../support/http.js';
import { sleep } from '../support/net.js';
import { indexedStoreKinds, peek } from '../support/store-kinds.js';

const firefox = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0' };

for (const kind of indexedStoreKinds) {
  describe(`session controls on the ${kind.name} store`, { skip: kind.skip }, () => {
    it('lists the user’s sessions by handle, most recently used first, with device details and never an id', async (t) => {
      const store = await kind.create(t);
      const app = await startApp(t, controlsApp(store));
      const laptop = app.client();
      const phone = app.client();
      const login = await laptop.post('/login', { userId: 'alice' }, { ...firefox, 'x-forwarded-for': '203.0.113.7' });
      assert.equal(login.status, 200);
      assert.equal(typeof login.body.handle, 'string');
      await phone.post('/login', { userId: 'alice' });
      await app.client().post('/login', { userId: 'bob' });
      await sleep(5);
      assert.equal((await laptop.get('/me')).status, 200, 'the laptop is used last');
      const listed = await laptop.get('/sessions');
      assert.equal(listed.status, 200);
      const list = listed.body as (Omit<SessionInfo, 'createdAt'> & Record<string, unknown>)[];
      assert.equal(list.length, 2, 'only alice’s sessions');
      assert.equal(list[0].handle, login.body.handle, 'most recently used first');
      assert.equal(list[0].current, true);
      assert.equal(list[1].current, false);
      assert.equal(list[0].userAgent, firefox['user-agent']);
      assert.equal(list[0].ip, '203.0.113.7', 'req.ip under trust proxy');
      assert.equal(list[0].userId, 'alice');
      for (const key of ['createdAt', 'lastSeenAt']) assert.ok(!Number.isNaN(Date.parse(String(list[0][key]))));
      assert.equal(list[0].expiresAt, null, 'a browser-session cookie');
      assert.ok(Date.parse(String(list[0].lastSeenAt)) > Date.parse(String(list[1].lastSeenAt)));
      const sids = [laptop, phone].map((c) => sidOf(c.jar.get('connect.sid'))!);
      const text = JSON.stringify(list);
      for (const sid of sids) assert.ok(!text.includes(sid), 'no session id in the listing (R22)');
      assert.equal((await app.client().get('/handle')).body.handle, null, 'anonymous: no handle');
    });

    it('every login is indexed with no option and nothing injecting the registry; the handle is not a session key', async (t) => {
      const store = await kind.create(t);
      const app = await startApp(t, {
        imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store } })],
        controllers: [AuthController],
      });
      const [laptop, phone] = [app.client(), app.client()];
      for (const client of [laptop, phone])
        assert.equal((await client.post('/auth/login', { userId: 'carol' })).status, 200);
      assert.equal((await laptop.get('/auth/me')).status, 200);
      // An admin job asking only now: both logins, made before anything used the registry, are listed.
      const listed = await app.nest.get(SessionRegistry).list('carol');
      assert.equal(listed.length, 2);
      assert.deepEqual(Object.keys((await laptop.get('/auth/state')).body.data as object), ['userId']);
      const stored = (await peek(store, sidOf(laptop.jar.get('connect.sid'))!)) as unknown as Record<string, unknown>;
      assert.ok(
        listed.some((info) => info.handle === stored.__handle),
        'the record holds its handle',
      );
    });

    it('R19: a revoked session is anonymous on its next request; the revoker’s stays logged in', async (t) => {
      const store = await kind.create(t);
      const app = await startApp(t, controlsApp(store));
      const mine = app.client();
      const other = app.client();
      await mine.post('/login', { userId: 7 });
      const target = (await other.post('/login', { userId: 7 })).body.handle as string;
      const otherSid = sidOf(other.jar.get('connect.sid'))!;
      assert.deepEqual((await mine.post('/revoke', { handle: target })).body, { revoked: true });
      assert.equal((await other.get('/me')).status, 401);
      assert.equal(await peek(store, otherSid), null, 'the record is gone');
      assert.equal((await mine.get('/me')).status, 200);
      assert.deepEqual(
        ((await mine.get('/sessions')).body as SessionInfo[]).map((s) => s.current),
        [true],
      );
      assert.deepEqual((await mine.post('/revoke', { handle: target })).body, { revoked: false }, 'only once');
      assert.deepEqual((await mine.post('/revoke', { handle: 'not-a-handle' })).body, { revoked: false });
    });

    it('R19: logOutEverywhere ends every session of the user, the current one only without keepCurrent', async (t) => {
      const store = await kind.create(t);
      const app = await startApp(t, controlsApp(store));
      const [a, b, c] = [app.client(), app.client(), app.client()];
      for (const client of [a, b, c]) await client.post('/login', { userId: 'carol' });
      const bob = app.client();
      await bob.post('/login', { userId: 'bob' });
      assert.deepEqual((await a.post('/everywhere', { keepCurrent: true })).body, { ended: 2 });
      assert.equal((await a.get('/me')).status, 200);
      assert.equal((await b.get('/me')).status, 401);
      assert.equal((await c.get('/me')).status, 401);
      assert.equal((await bob.get('/me')).status, 200, 'another user is untouched');
      await b.post('/login', { userId: 'carol' });
      assert.deepEqual((await a.post('/everywhere', {})).body, { ended: 2 });
      assert.equal((await a.get('/me')).status, 401);
      assert.equal((await b.get('/me')).status, 401);
    });

    it('R20: 20 parallel logins of one user with a limit of 3 leave exactly 3, the least recently used evicted', async (t) => {
      const store = await kind.create(t);
      const app = await startApp(t, controlsApp(store, { maxSessionsPerUser: 3 }));
      const clients = Array.from({ length: 20 }, () => app.client());
      const logins = await Promise.all(clients.map((c) => c.post('/login', { userId: 'dave' })));
      assert.deepEqual(new Set(logins.map((r) => r.status)), new Set([200]));
      const statuses = await Promise.all(clients.map(async (c) => (await c.get('/me')).status));
      assert.equal(statuses.filter((s) => s === 200).length, 3, 'exactly three sessions remain usable');
      const survivor = clients[statuses.indexOf(200)];
      assert.equal(((await survivor.get('/sessions')).body as SessionInfo[]).length, 3);
      // LRU: of three sessions, the one not used since gets evicted by a fourth login, never the newcomer.
      const [x, y, z] = [app.client(), app.client(), app.client()];
      for (const client of [x, y, z]) await client.post('/login', { userId: 'erin' });
      await sleep(5);
      await x.get('/me');
      await z.get('/me');
      const w = app.client();
      await w.post('/login', { userId: 'erin' });
      assert.deepEqual(
        await Promise.all([x, y, z, w].map(async (c) => (await c.get('/me')).status)),
        [200, 401, 200, 200],
      );
    });

    it("R20: 'refuse' answers a login past the limit with 403 and leaves the others untouched", async (t) => {
      const store = await kind.create(t);
      const app = await startApp(t, controlsApp(store, { maxSessionsPerUser: 2, onSessionLimit: 'refuse' }));
      const [a, b, c] = [app.client(), app.client(), app.client()];
      await a.post('/login', { userId: 'frank' });
      await b.post('/login', { userId: 'frank' });
      const refused = await c.post('/login', { userId: 'frank' });
      assert.equal(refused.status, 403);
      assert.match(String(refused.body.message), /2 sessions/);
      assert.equal((await c.get('/me')).status, 401);
      assert.equal((await a.get('/me')).status, 200);
      assert.equal((await b.get('/me')).status, 200);
      assert.equal(((await a.get('/sessions')).body as SessionInfo[]).length, 2);
      const parallel = await Promise.all(
        Array.from({ length: 10 }, () => app.client().post('/login', { userId: 'grace' })),
      );
      assert.equal(parallel.filter((r) => r.status === 200).length, 2, 'parallel logins cannot slip past it');
    });

    it('R19: a request in flight when its session is revoked cannot bring it back', async (t) => {
      const store = await kind.create(t);
      const app = await startApp(t, controlsApp(store));
      const victim = app.client();
      const handle = (await victim.post('/login', { userId: 'heidi' })).body.handle as string;
      const sid = sidOf(victim.jar.get('connect.sid'))!;
      const gate = `revoke-${kind.name}`;
      const slow = victim.post(`/set-slow/${gate}`, { note: 'written after the revoke' });
      await reached(gate);
      assert.deepEqual((await app.client().post('/revoke', { handle })).body, { revoked: true });
      await openGateWhenReached(gate);
      assert.equal((await slow).status, 200);
      assert.equal(await peek(store, sid), null, 'the in-flight write did not resurrect the session');
      assert.equal((await victim.get('/me')).status, 401);
    });

    it('R21: an index entry never outlives its session, and a user whose sessions expired leaves nothing', async (t) => {
      const store = await kind.create(t);
      const app = await startApp(t, controlsApp(store, { session: { secret: TEST_SECRET, cookie: { maxAge: 300 } } }));
      const client = app.client();
      await client.post('/login', { userId: 'ivan' });
      const registry = app.nest.get(SessionRegistry);
      assert.equal((await registry.list('ivan')).length, 1);
      await sleep(450);
      assert.deepEqual(await registry.list('ivan'), []);
      assert.equal((await client.get('/me')).status, 401);
    });

    it('R21: a session in constant use stays listed and revocable for many lifetimes: its entry is renewed', async (t) => {
      const store = await kind.create(t);
      // An idle timeout of 500 ms is the session's lifetime here: each use extends it, as maxAge with touches.
      // Without renewal the index entry would be kept until 1 s after the login (expiry plus one lifetime).
      const app = await startApp(t, controlsApp(store, { idleTimeout: 500 }));
      const client = app.client();
      await client.post('/login', { userId: 'judy' });
      // 2 s of use, a request every 100 ms: four of the session's lifetimes, twice the entry's first term.
      for (let i = 0; i < 20; i++) {
        await sleep(100);
        assert.equal((await client.get('/me')).status, 200, `request ${i}`);
      }
      const registry = app.nest.get(SessionRegistry);
      assert.equal((await registry.list('judy')).length, 1, 'still listed');
      assert.equal(await registry.revokeAll('judy'), 1, 'and found by sign-out-everywhere');
      assert.equal((await client.get('/me')).status, 401);
    });

    it('emits created, loggedIn, revoked, evicted and loggedOut events; a throwing subscriber breaks nothing', async (t) => {
      const store = await kind.create(t);
      const app = await startApp(t, controlsApp(store, { maxSessionsPerUser: 1 }));
      const registry = app.nest.get(SessionRegistry);
      const seen: string[] = [];
      const subscriptions = [
        registry.events.subscribe((event) => seen.push(`${event.type}:${String(event.userId ?? '')}`)),
        registry.events.subscribe(() => {
          throw new Error('a broken subscriber');
        }),
      ];
      t.after(() => subscriptions.forEach((s) => s.unsubscribe()));
      const a = app.client();
      const handle = (await a.post('/login', { userId: 'judy' })).body.handle as string;
      const b = app.client();
      assert.equal((await b.post('/login', { userId: 'judy' })).status, 200);
      assert.equal((await a.get('/me')).status, 401, 'evicted by the limit of 1');
      await b.post('/logout');
      const c = app.client();
      await c.post('/login', { userId: 'judy' });
      await registry.revokeAll('judy');
      assert.deepEqual(seen, [
        'created:judy',
        'loggedIn:judy',
        'evicted:judy',
        'created:judy',
        'loggedIn:judy',
        'loggedOut:judy',
        'created:judy',
        'loggedIn:judy',
        'revoked:judy',
      ]);
      void handle;
    });
  });
}

/** Resolves once a handler waits at the controller's gate. */
async function reached(gate: string): Promise<void> {
  for (let i = 0; i < 500 && !ControlsController.gates.has(gate); i++) await sleep(10);
  assert.ok(ControlsController.gates.has(gate), `no handler reached gate ${gate}`);
}

/** Opens the controller's gate once its handler reached it. */
async function openGateWhenReached(gate: string): Promise<void> {
  await openGate(ControlsController.gates, gate);
}

describe('session controls on a store without a per-user index', () => {
  it('the options fail at boot, naming the stores that have an index', async (t) => {
    await assert.rejects(
      createApp(t, {
        imports: [
          SessionModule.forRoot({
            session: { secret: TEST_SECRET, store: new expressSession.MemoryStore() },
            maxSessionsPerUser: 2,
          }),
        ],
      }),
      /maxSessionsPerUser need a store with a per-user index.*embedded store, redisStore\(\).*postgresStore\(\)/,
    );
  });

  it('a record that carries a handle (written while the store had an index) costs a MemoryStore nothing more', async (t) => {
    const store = new expressSession.MemoryStore();
    const app = await startApp(t, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store } })],
      controllers: [AuthController],
    });
    const client = app.client();
    assert.equal((await client.post('/auth/login', { userId: 'kim' })).status, 200);
    const sid = sidOf(client.jar.get('connect.sid'))!;
    const held = (store as unknown as { sessions: Record<string, string> }).sessions;
    held[sid] = JSON.stringify({ ...JSON.parse(held[sid]), __handle: `${'h'.repeat(22)}.a2lt` });
    let sets = 0;
    const set = store.set.bind(store);
    store.set = (...args: Parameters<typeof set>) => {
      sets += 1;
      set(...args);
    };
    for (let i = 0; i < 5; i++) assert.equal((await client.get('/auth/me')).status, 200);
    assert.equal(sets, 0, 'read-only requests only touch: no use is recorded where there is no index');
    assert.deepEqual(Object.keys((await client.get('/auth/state')).body.data as object), ['userId']);
  });

  it('the registry’s methods reject with the same advice', async (t) => {
    const app = await startApp(t, controlsApp(new expressSession.MemoryStore()));
    const registry = app.nest.get(SessionRegistry);
    await assert.rejects(registry.list('x'), /per-user index.*redisStore\(\)/);
    await assert.rejects(registry.revoke('x'), /per-user index/);
    await assert.rejects(registry.revokeAll('x'), /per-user index/);
    const client = app.client();
    assert.equal((await client.post('/login', { userId: 'x' })).status, 200, 'logins still work');
  });

  it('malformed options fail at boot', async (t) => {
    for (const [options, message] of [
      [{ maxSessionsPerUser: 0 }, /maxSessionsPerUser must be a whole number/],
      [{ onSessionLimit: 'drop' }, /onSessionLimit must be 'evict' or 'refuse'/],
      [{ userIdOf: 'userId' }, /userIdOf must be a function/],
    ] as const) {
      await assert.rejects(
        createApp(t, {
          imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET }, ...(options as object) })],
        }),
        message,
      );
    }
  });
});
