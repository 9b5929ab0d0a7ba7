import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redisStore, SessionModule } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import { defer } from '../support/cleanup.js';
import { AuthController, CounterController } from '../support/controllers.js';
import { skipWithout } from '../support/env.js';
import { asError } from '../support/errors.js';
import type { FaultStore } from '../support/fault-store.js';
import { signedCookie, sidOf } from '../support/http.js';
import { RedisServer } from '../support/launchers.js';
import { redisCommands } from '../support/net.js';
import { reliabilityApp } from '../support/reliability.js';
import { faultStore, storeKinds } from '../support/store-kinds.js';

/** Validly signed cookies of the session's name that one request carries besides the user's own. */
const FARMED = 150;
/** Node refuses a request whose headers pass 16 KiB (431): the Cookie header must stay under it. */
const HEADER_LIMIT = 16 * 1024;
/** R4: the first validly signed cookie decides, unread: express-session's own read is the only one. */
const MOST_READS = 1;

/** `count` cookies of the session's name, each signed by the app for a session it stored (one visit each). */
async function farmCookies(app: TestApp, count: number): Promise<string[]> {
  const cookies: string[] = [];
  for (let batch = 0; batch < count; batch += 25) {
    const visits = Array.from({ length: Math.min(25, count - batch) }, async () => {
      const client = app.client();
      assert.equal((await client.get('/')).status, 200);
      cookies.push(`connect.sid=${client.jar.get('connect.sid')!}`);
    });
    await Promise.all(visits);
  }
  return cookies;
}

/** One request carrying the farmed cookies with the user's own first or last. */
function cookieHeader(own: string, farmed: string[], ownFirst: boolean): string {
  const header = (ownFirst ? [own, ...farmed] : [...farmed, own]).join('; ');
  assert.ok(header.length < HEADER_LIMIT - 1024, `the Cookie header fits Node's limit (${header.length} bytes)`);
  return header;
}

function destroy(store: FaultStore, cookie: string): Promise<void> {
  const sid = sidOf(cookie.slice(cookie.indexOf('=') + 1))!;
  return new Promise((resolve, reject) => store.inner.destroy(sid, (err) => (err ? reject(asError(err)) : resolve())));
}

// R4 and the hardening note on duplicate cookies: a client sending many cookies of the session's name buys no
// more store reads than one cookie costs.
for (const kind of storeKinds) {
  describe(`${FARMED} duplicate session cookies on the ${kind.name} store`, { skip: kind.skip }, () => {
    for (const farmed of ['live', 'destroyed'] as const) {
      it(`their sessions ${farmed}: one request with them and the user's own cookie, first or last, makes at most ${MOST_READS} store reads`, async (t) => {
        const store = await faultStore(t, kind);
        const app = await startApp(t, reliabilityApp(store));
        const user = app.client();
        assert.equal((await user.post('/auth/login', { userId: 'alice' })).status, 200);
        const own = user.cookieHeader();
        const cookies = await farmCookies(app, FARMED);
        assert.equal(new Set(cookies).size, FARMED, 'each visit got its own cookie');
        if (farmed === 'destroyed') for (const cookie of cookies) await destroy(store, cookie);

        const reads: number[] = [];
        let size = 0;
        for (const ownFirst of [true, false]) {
          const header = cookieHeader(own, cookies, ownFirst);
          size = header.length;
          store.resetCounts();
          const res = await app.client().get('/whoami', { cookie: header });
          reads.push(store.calls.get);
          const which = `own cookie ${ownFirst ? 'first' : 'last'}`;
          assert.ok(store.calls.get <= MOST_READS, `${which}: ${store.calls.get} reads`);
          assert.equal(res.status, 200, `${which}: ${res.status} ${res.text}`);
          // The first validly signed cookie decides, whether its session exists or not.
          assert.deepEqual(res.body, { userId: ownFirst ? 'alice' : null }, which);
        }
        t.diagnostic(`Cookie header of ${size} bytes; store reads, own cookie first then last: ${reads.join(', ')}`);
        const me = await user.get('/auth/me');
        assert.deepEqual([me.status, me.body], [200, { userId: 'alice' }], "the user's own session is untouched");
      });
    }

    it(`${FARMED} garbage, unsigned and foreign-signed cookies before the user's own are skipped and cost no store read of their own`, async (t) => {
      const store = await faultStore(t, kind);
      const app = await startApp(t, reliabilityApp(store));
      const user = app.client();
      assert.equal((await user.post('/auth/login', { userId: 'alice' })).status, 200);
      const sid = sidOf(user.jar.get('connect.sid'))!;
      const foreign = signedCookie(sid, 'another-apps-secret-0123456789-abcdefghijklmnop');
      const skipped = Array.from({ length: FARMED }, (_, i) =>
        [`connect.sid=garbage${i}`, `connect.sid=${sid}`, `connect.sid=${foreign}`].at(i % 3),
      ) as string[];
      store.resetCounts();
      const res = await app.client().get('/whoami', { cookie: cookieHeader(user.cookieHeader(), skipped, false) });
      assert.deepEqual([res.status, res.body], [200, { userId: 'alice' }]);
      assert.ok(store.calls.get <= MOST_READS, `${store.calls.get} reads`);
    });
  });
}

describe(
  `${FARMED} duplicate session cookies on redisStore(), counted by Redis`,
  { skip: skipWithout('REDIS_SERVER_BIN') },
  () => {
    it(`one request makes at most ${MOST_READS} HGETALLs (the sessions of the farmed cookies destroyed)`, async (t) => {
      const server = await RedisServer.start();
      defer(t, () => server.dispose());
      const app = await startApp(t, {
        imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store: redisStore({ url: server.url }) } })],
        controllers: [AuthController, CounterController],
      });
      const user = app.client();
      assert.equal((await user.post('/auth/login', { userId: 'alice' })).status, 200);
      const cookies = await farmCookies(app, FARMED);
      const sids = cookies.map((c) => sidOf(c.slice(c.indexOf('=') + 1))!);
      assert.match(
        await redisCommands(server.port, ['DEL', ...sids.map((sid) => `sess:${sid}`)]),
        new RegExp(`^:${FARMED}\r\n`),
      );
      for (const ownFirst of [true, false]) {
        await redisCommands(server.port, ['CONFIG', 'RESETSTAT']);
        const res = await app.client().get('/whoami', { cookie: cookieHeader(user.cookieHeader(), cookies, ownFirst) });
        const stats = await redisCommands(server.port, ['INFO', 'commandstats']);
        const hgetall = Number(/cmdstat_hgetall:calls=(\d+)/.exec(stats)?.[1] ?? 0);
        const which = `own cookie ${ownFirst ? 'first' : 'last'}`;
        t.diagnostic(`${which}: ${hgetall} HGETALL`);
        assert.ok(hgetall >= 1 && hgetall <= MOST_READS, `${which}: ${hgetall} HGETALL`);
        assert.equal(res.status, 200);
        assert.deepEqual(res.body, { userId: ownFirst ? 'alice' : null }, which);
      }
    });
  },
);
