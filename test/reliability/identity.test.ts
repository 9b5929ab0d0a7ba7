import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import session from 'express-session';
import { SessionModule } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import { createApp, startApp, TEST_SECRET } from '../support/app.js';
import { FaultStore } from '../support/fault-store.js';
import { Client, signedCookie, sidOf } from '../support/http.js';
import { reliabilityApp } from '../support/reliability.js';

describe('identity and cookies', () => {
  it('R1: tampered, unsigned and garbage cookies get a new anonymous session, 200, never the victim', async (t) => {
    const store = new FaultStore();
    const app = await startApp(t, reliabilityApp(store));
    const victim = app.client();
    await victim.post('/auth/login', { userId: 'alice' });
    const good = victim.jar.get('connect.sid')!;
    const sid = sidOf(good)!;
    const values = [
      good.slice(0, -3) + (good.endsWith('abc') ? 'xyz' : 'abc'),
      encodeURIComponent(sid),
      's%3A' + encodeURIComponent(sid),
      'garbage',
      '%E0%A4%A',
      's:' + 'A'.repeat(4000),
      '',
      '"quoted"',
    ];
    for (const value of values) {
      const res = await app.client().get('/', { cookie: `connect.sid=${value}` });
      assert.equal(res.status, 200, `cookie ${JSON.stringify(value.slice(0, 40))}`);
      assert.deepEqual(res.body, { views: 1 }, 'a fresh session');
      assert.equal((await app.client().get('/auth/me', { cookie: `connect.sid=${value}` })).status, 401);
    }
    assert.equal((await app.client().get('/', { cookie: 'a=1; ;;; =; connect.sid; b' })).status, 200);
    assert.equal((await victim.get('/auth/me')).status, 200, 'the real session is untouched');
  });

  it('R2: a validly signed id that is not in the store gets a fresh id, never the one the client chose', async (t) => {
    const store = new FaultStore();
    const app = await startApp(t, reliabilityApp(store));
    const chosen = 'attacker-chosen-session-id-000000';
    const client = new Client(app.url);
    client.jar.set('connect.sid', signedCookie(chosen, TEST_SECRET));
    const res = await client.post('/auth/set', { a: 'x' });
    assert.equal(res.status, 200);
    assert.notEqual(res.body.id, chosen);
    assert.notEqual(sidOf(client.jar.get('connect.sid')), chosen);
    assert.equal(await store.peek(chosen), null);
  });

  it('R3: a cookie signed with the old secret is accepted and re-signed with the new one; dropping the old secret then logs nobody out', async (t) => {
    const store = new FaultStore();
    const OLD = 'old-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
    const NEW = 'new-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
    const before = await startApp(t, reliabilityApp(store, { session: { secret: OLD } }));
    const client = before.client();
    await client.post('/auth/login', { userId: 'alice' });
    await before.close();
    const sid = sidOf(client.jar.get('connect.sid'))!;
    assert.equal(client.jar.get('connect.sid'), signedCookie(sid, OLD));

    const rotating = await startApp(t, reliabilityApp(store, { session: { secret: [NEW, OLD] } }));
    const me = await client.at(rotating.url).get('/auth/me');
    assert.equal(me.status, 200, 'the old signature is still accepted');
    assert.equal(
      client.jar.get('connect.sid'),
      signedCookie(sid, NEW),
      're-signed with the new secret in the same response',
    );
    const again = await client.at(rotating.url).get('/auth/me');
    assert.equal(again.setCookies.length, 0, 'a cookie already on the new secret is not sent again');
    await rotating.close();

    const after = await startApp(t, reliabilityApp(store, { session: { secret: NEW } }));
    assert.deepEqual(
      (await client.at(after.url).get('/auth/me')).body,
      { userId: 'alice' },
      'still logged in without the old secret',
    );
  });

  it('R4: of several cookies of the session name, garbage, unsigned and foreign-signed ones are skipped and the first validly signed one decides', async (t) => {
    const store = new FaultStore();
    const app = await startApp(t, reliabilityApp(store));
    const live = app.client();
    await live.post('/auth/login', { userId: 'alice' });
    const liveCookie = live.jar.get('connect.sid')!;
    const sid = sidOf(liveCookie)!;
    const skipped = [
      'garbage',
      encodeURIComponent(sid),
      signedCookie(sid, 'another-apps-secret-0123456789-abcdefghijklmnop'),
    ];
    for (const first of skipped) {
      const res = await app.client().get('/auth/me', { cookie: `connect.sid=${first}; connect.sid=${liveCookie}` });
      assert.equal(res.status, 200, `${first.slice(0, 12)} first is skipped`);
      assert.deepEqual(res.body, { userId: 'alice' });
    }
    const order = await app
      .client()
      .get('/auth/me', { cookie: `connect.sid=${liveCookie}; connect.sid=garbage; connect.sid=${skipped[2]}` });
    assert.deepEqual(order.body, { userId: 'alice' }, 'the live cookie first decides');
  });

  it('R4: when the first validly signed cookie has no session, the request is anonymous: it never falls through to a later cookie', async (t) => {
    const store = new FaultStore();
    const app = await startApp(t, reliabilityApp(store));
    const stale = app.client();
    await stale.post('/auth/login', { userId: 'old-login' });
    const staleCookie = stale.jar.get('connect.sid')!;
    await stale.post('/auth/logout');
    const live = app.client();
    await live.post('/auth/login', { userId: 'alice' });
    const liveCookie = live.jar.get('connect.sid')!;
    for (const first of [staleCookie, signedCookie('never-existed-000000000000000000', TEST_SECRET)]) {
      const cookie = `connect.sid=garbage; connect.sid=${first}; connect.sid=${liveCookie}`;
      const res = await app.client().get('/auth/me', { cookie });
      assert.equal(res.status, 401, `signed cookie ${first.slice(0, 12)} without a session first: anonymous`);
      const fresh = await app.client().post('/auth/set', { a: 1 }, { cookie });
      assert.equal(fresh.status, 200);
      assert.ok(![sidOf(first), sidOf(liveCookie)].includes(fresh.body.id), 'a fresh session, not a later cookie');
    }
    assert.deepEqual((await live.get('/auth/me')).body, { userId: 'alice' }, "the later cookie's session is untouched");
  });

  describe('R5: production boot refuses what cannot be safe, and says what to change', () => {
    const boot = async (t: TestContext, options: SessionModuleOptions): Promise<void> => {
      const app = await createApp(t, { imports: [SessionModule.forRoot(options)] });
      await app.close();
    };
    const inProduction = async (run: () => Promise<void>): Promise<void> => {
      const previous = process.env.NODE_ENV;
      process.env.NODE_ENV = 'production';
      try {
        await run();
      } finally {
        process.env.NODE_ENV = previous;
      }
    };
    const refused: [string, SessionModuleOptions, RegExp][] = [
      ['a short secret', { session: { secret: 'short' } }, /shorter than 32 characters/],
      ['a sample secret', { session: { secret: 'keyboard cat' } }, /well-known sample/],
      ['a short old secret in a rotation', { session: { secret: [TEST_SECRET, 'old'] } }, /shorter than 32/],
      ['the MemoryStore', { session: { secret: TEST_SECRET, store: new session.MemoryStore() } }, /MemoryStore/],
      [
        '__Host- with a Domain',
        { session: { secret: TEST_SECRET, name: '__Host-sid', cookie: { secure: true, domain: 'example.com' } } },
        /must not have cookie\.domain/,
      ],
      [
        '__Host- with a Path',
        { session: { secret: TEST_SECRET, name: '__Host-sid', cookie: { secure: true, path: '/app' } } },
        /cookie\.path '\/'/,
      ],
      ['__Host- without Secure', { session: { secret: TEST_SECRET, name: '__Host-sid' } }, /needs cookie\.secure/],
      [
        'SameSite=None without Secure',
        { session: { secret: TEST_SECRET, cookie: { sameSite: 'none' } } },
        /'none' needs cookie\.secure/,
      ],
    ];
    for (const [what, options, message] of refused) {
      it(`refuses ${what}`, (t) => inProduction(() => assert.rejects(boot(t, options), message)));
    }
    it('boots a sound configuration, and allows in development what it refuses in production', async (t) => {
      await inProduction(() =>
        boot(t, { session: { secret: TEST_SECRET, name: '__Host-sid', cookie: { secure: true } } }),
      );
      await boot(t, { session: { secret: 'keyboard cat' } });
    });
  });
});
