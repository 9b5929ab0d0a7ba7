import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SessionData } from 'express-session';
import { EmbeddedStore, SESSION_MODULE_OPTIONS, SessionModule } from 'nest-express-session';
import type { EmbeddedStoreOptions } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import type { Cleanup } from '../support/cleanup.js';
import { AuthController, CounterController } from '../support/controllers.js';
import { asError } from '../support/errors.js';

// The embedded store's bounds (maxSessions, maxBytes) and its eviction order: anonymous sessions go before any
// logged-in one, so anonymous traffic cannot log users out.

async function boot(t: Cleanup, embeddedStore: EmbeddedStoreOptions): Promise<{ app: TestApp; store: EmbeddedStore }> {
  const app = await startApp(t, {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET }, embeddedStore })],
    controllers: [AuthController, CounterController],
  });
  const store = app.nest.get(SESSION_MODULE_OPTIONS).session.store as EmbeddedStore;
  assert.ok(store instanceof EmbeddedStore);
  return { app, store };
}

function all(store: EmbeddedStore): Promise<SessionData[]> {
  return new Promise((resolve, reject) =>
    store.all((err, sessions) => (err ? reject(asError(err)) : resolve(Object.values(sessions ?? {})))),
  );
}

/** What the store holds: how many sessions, their JSON's total length, and how many are logged in. */
async function held(store: EmbeddedStore): Promise<{ count: number; bytes: number; loggedIn: number }> {
  const sessions = await all(store);
  return {
    count: sessions.length,
    bytes: sessions.reduce((sum, s) => sum + JSON.stringify(s).length, 0),
    loggedIn: sessions.filter((s) => s.userId != null).length,
  };
}

describe('the embedded store evicts anonymous sessions before logged-in ones', () => {
  it('more anonymous visits than maxSessions leave the logged-in users logged in', async (t) => {
    const { app, store } = await boot(t, { maxSessions: 10 });
    const users = [app.client(), app.client()];
    for (const [i, user] of users.entries()) {
      assert.equal((await user.post('/auth/login', { userId: `user${i}` })).status, 200);
    }
    for (let i = 0; i < 40; i++) assert.deepEqual((await app.client().get('/')).body, { views: 1 });
    for (const [i, user] of users.entries()) {
      const me = await user.get('/auth/me');
      assert.equal(me.status, 200, `user${i} is still logged in after 40 anonymous visits`);
      assert.deepEqual(me.body, { userId: `user${i}` });
    }
    assert.deepEqual(await held(store).then(({ count, loggedIn }) => ({ count, loggedIn })), {
      count: 10,
      loggedIn: 2,
    });
    // Between anonymous sessions the order stays least recently used: the newest visitor is still there.
    const visitor = app.client();
    await visitor.get('/');
    await app.client().get('/');
    assert.deepEqual((await visitor.get('/')).body, { views: 2 });
  });

  it('logged-in sessions that fill the store are evicted among themselves, least recently used first', async (t) => {
    const { app } = await boot(t, { maxSessions: 2 });
    const [first, second, third] = [app.client(), app.client(), app.client()];
    await first.post('/auth/login', { userId: 'first' });
    await second.post('/auth/login', { userId: 'second' });
    // No anonymous session is left to evict: a new anonymous one is not kept, and nobody is logged out.
    const visitor = app.client();
    assert.deepEqual((await visitor.get('/')).body, { views: 1 });
    assert.deepEqual((await visitor.get('/')).body, { views: 1 }, 'the anonymous session was not kept');
    assert.equal((await first.get('/auth/me')).status, 200);
    assert.equal((await second.get('/auth/me')).status, 200);
    await third.post('/auth/login', { userId: 'third' });
    assert.equal((await first.get('/auth/me')).status, 401, 'the least recently used login made room');
    assert.equal((await second.get('/auth/me')).status, 200);
    assert.equal((await third.get('/auth/me')).status, 200);
  });
});

describe('what the embedded store counts as logged in', () => {
  it('a userId set on a stored anonymous session, and a Passport user, count as logged in', async (t) => {
    const { app, store } = await boot(t, { maxSessions: 6 });
    const user = app.client();
    await user.get('/');
    // The session's own record changes (no new id): the store moves it to the logged-in list.
    assert.equal((await user.post('/auth/set', { userId: 'bob' })).status, 200);
    const cookie = { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000) };
    store.set('passport-user', { cookie, passport: { user: 'carol' } } as unknown as SessionData);
    store.set('passport-anonymous', { cookie, passport: {} } as unknown as SessionData);
    for (let i = 0; i < 20; i++) await app.client().get('/');
    assert.deepEqual((await user.get('/auth/me')).body, { userId: 'bob' });
    const ids = Object.keys(
      await new Promise<Record<string, SessionData>>((resolve, reject) =>
        store.all((err, v) => (err ? reject(asError(err)) : resolve(v as Record<string, SessionData>))),
      ),
    );
    assert.ok(ids.includes('passport-user'), 'the Passport login was kept');
    assert.ok(!ids.includes('passport-anonymous'), 'a Passport session without a user was evicted as anonymous');
    // Logging out by removing the key moves the session back among the anonymous ones.
    assert.equal((await user.post('/auth/set', { userId: null })).status, 200);
    for (let i = 0; i < 20; i++) await app.client().get('/');
    assert.equal((await user.get('/auth/me')).status, 401);
    assert.deepEqual((await user.get('/')).body, { views: 1 }, 'its session was evicted as anonymous');
  });
});

describe('embeddedStore.maxBytes bounds the total size of the sessions held', () => {
  it('large anonymous sessions are evicted to stay under maxBytes; the logged-in ones survive', async (t) => {
    const maxBytes = 20_000;
    const { app, store } = await boot(t, { maxBytes });
    const user = app.client();
    await user.post('/auth/login', { userId: 'alice', data: { notes: 'n'.repeat(4_000) } });
    for (let i = 0; i < 30; i++) {
      const res = await app.client().post('/auth/set', { upload: String(i).padEnd(3_000, 'x') });
      assert.equal(res.status, 200);
    }
    const { count, bytes, loggedIn } = await held(store);
    t.diagnostic(`held ${count} sessions, ${bytes} bytes of JSON`);
    assert.ok(bytes <= maxBytes, `the sessions held take ${bytes} bytes, over ${maxBytes}`);
    assert.ok(count >= 4, `the bound is on bytes, not on sessions: ${count} kept`);
    assert.equal(loggedIn, 1, 'the logged-in session is among them');
    const state = await user.get('/auth/state');
    assert.equal(state.body.authenticated, true);
    assert.equal(state.body.data.notes, 'n'.repeat(4_000));
  });

  it('a session larger than maxBytes by itself is refused (503) and the stored copy stays as it was', async (t) => {
    const { app, store } = await boot(t, { maxBytes: 10_000 });
    const user = app.client();
    await user.post('/auth/login', { userId: 'alice', data: { notes: 'kept' } });
    const res = await user.post('/auth/set', { notes: 'x'.repeat(12_000) });
    assert.equal(res.status, 503, res.text);
    const state = await user.get('/auth/state');
    assert.equal(state.body.authenticated, true, 'still logged in');
    assert.equal(state.body.data.notes, 'kept');
    const fresh = await app.client().post('/auth/set', { notes: 'x'.repeat(12_000) });
    assert.equal(fresh.status, 503, 'a new session that large is refused too');
    assert.equal((await held(store)).count, 1);
  });

  it('refuses a maxBytes that is not a whole number of at least 1', () => {
    for (const maxBytes of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1000' as unknown as number]) {
      assert.throws(() => new EmbeddedStore({ maxBytes }), /embeddedStore\.maxBytes must be a whole number/);
    }
    new EmbeddedStore({ maxBytes: 1 }).close();
  });
});
