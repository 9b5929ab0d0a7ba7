import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { SessionModule, STORE_UNAVAILABLE_MESSAGE, redisStore } from 'nest-express-session';
import type { RedisSessionStore, SessionModuleOptions } from 'nest-express-session';
import type { CookieOptions } from 'express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import { defer } from '../support/cleanup.js';
import type { Cleanup } from '../support/cleanup.js';
import { AuthController } from '../support/controllers.js';
import { REDIS_URL, skipWithout, uniqueName } from '../support/env.js';
import { asError } from '../support/errors.js';
import { sidOf } from '../support/http.js';
import type { TestResponse } from '../support/http.js';
import { RedisServer } from '../support/launchers.js';
import { eventually, portOf, redisCommands } from '../support/net.js';
import { assertNoChangeLostAcrossInstances } from '../support/reliability.js';
import { peek } from '../support/store-kinds.js';

/** Boots the auth controller over this Redis store (closed when `t` ends). */
function bootOn(
  t: Cleanup,
  store: RedisSessionStore,
  extra: Partial<SessionModuleOptions> = {},
  cookie: CookieOptions = {},
): Promise<TestApp> {
  return startApp(t, {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store, cookie }, storeTimeout: 2000, ...extra })],
    controllers: [AuthController],
  });
}

function assertUnavailable(res: TestResponse, what: string): void {
  assert.equal(res.status, 503, `${what}: ${res.status} ${res.text}`);
  assert.equal(res.body.message, STORE_UNAVAILABLE_MESSAGE, what);
}

describe('Redis: many instances share sessions', { skip: skipWithout('REDIS_URL') }, () => {
  it('log in on A, read on B, modify on B, read on A, log out on B: A sees it gone', async (t) => {
    const prefix = `${uniqueName('shared')}:`;
    const a = await bootOn(t, redisStore({ url: REDIS_URL!, prefix }));
    const b = await bootOn(t, redisStore({ url: REDIS_URL!, prefix }));
    assert.notEqual(a.url, b.url, 'two apps on two ports');
    const onA = a.client();
    const login = await onA.post('/auth/login', { userId: 'alice' });
    assert.equal(login.status, 200);
    const cookie = onA.cookieHeader();

    const onB = b.client();
    const read = await onB.get('/auth/me', { cookie });
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, { userId: 'alice' }, 'B reads the session A created');

    assert.equal((await onB.post('/auth/set', { role: 'admin' }, { cookie })).status, 200);
    const state = await onA.get('/auth/state');
    assert.equal(state.body.data.role, 'admin', 'A reads what B wrote');

    assert.equal((await onB.post('/auth/logout', undefined, { cookie })).status, 200);
    assert.equal((await onA.get('/auth/me')).status, 401, 'A sees the logout made on B');
  });

  it('two instances changing different keys of one session at the same moment: no change is lost', async (t) => {
    const prefix = `${uniqueName('race')}:`;
    const a = await bootOn(t, redisStore({ url: REDIS_URL!, prefix }));
    const b = await bootOn(t, redisStore({ url: REDIS_URL!, prefix }));
    await assertNoChangeLostAcrossInstances(a, b);
  });

  it('the session is a Redis hash under the prefix, a field per key, expiring with the cookie', async (t) => {
    const prefix = `${uniqueName('keys')}:`;
    const maxAge = 3_600_000;
    const app = await bootOn(t, redisStore({ url: REDIS_URL!, prefix }), {}, { maxAge });
    const client = app.client();
    await client.post('/auth/login', { userId: 'alice' });
    const sid = sidOf(client.jar.get('connect.sid'))!;
    const reply = await redisCommands(
      portOf(REDIS_URL!),
      ['TYPE', prefix + sid],
      ['HGET', prefix + sid, 'userId'],
      ['PTTL', prefix + sid],
    );
    assert.match(reply, /^\+hash\r\n/, 'the key is a hash');
    assert.match(reply, /\r\n"alice"\r\n/, 'its userId field holds the value as JSON');
    const pttl = Number(/\r\n:(-?\d+)\r\n/.exec(reply)?.[1]);
    assert.ok(pttl > maxAge - 60_000 && pttl <= maxAge, `the key expires with the cookie (PTTL ${pttl} ms)`);
    await client.post('/auth/logout');
    assert.match(await redisCommands(portOf(REDIS_URL!), ['EXISTS', prefix + sid]), /^:0/, 'logout deletes the key');
  });
});

describe('Redis: the same keys as connect-redis', { skip: skipWithout('REDIS_URL') }, () => {
  it('sessions written by connect-redis are read by redisStore (switching keeps sessions); not the other way round', async (t) => {
    const prefix = `${uniqueName('interop')}:`;
    const client = createClient({ url: REDIS_URL });
    client.on('error', () => undefined);
    await client.connect();
    defer(t, () => client.destroy());
    const helper = redisStore({ url: REDIS_URL!, prefix });
    defer(t, () => helper.close());
    const direct = new RedisStore({ client, prefix });
    const cookie = { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000).toISOString() };
    await new Promise<void>((resolve, reject) => {
      // connect-redis's set() answers through the callback; the promise it also returns never rejects.
      void direct.set('from-direct', { cookie, userId: 'a' } as never, (e) => (e ? reject(asError(e)) : resolve()));
    });
    assert.equal((await peek(helper, 'from-direct'))?.userId, 'a');
    await new Promise<void>((resolve, reject) =>
      helper.set('from-helper', { cookie, userId: 'b' } as never, (e) => (e ? reject(asError(e)) : resolve())),
    );
    assert.equal((await peek(helper, 'from-helper'))?.userId, 'b');
    // redisStore() keeps a hash per session, which connect-redis (one JSON string per key) cannot read.
    await assert.rejects(peek(direct, 'from-helper'), /WRONGTYPE/);
    const length = await new Promise<number>((resolve, reject) =>
      helper.length((e, n) => (e ? reject(asError(e)) : resolve(n!))),
    );
    assert.equal(length, 2, "length sees both, connect-redis's record and redisStore's");
  });
});

describe('redisStore() options', () => {
  it('refuses at once what cannot work: no url and no client, both, a URL that is not redis://', () => {
    assert.throws(() => redisStore({} as never), /either \{ url \}.*or \{ client \}/);
    assert.throws(() => redisStore({ url: 'redis://127.0.0.1', client: {} } as never), /not both or neither/);
    assert.throws(() => redisStore({ url: 'http://127.0.0.1:6379' }), /redis:\/\/ or rediss:\/\/ URL/);
    assert.throws(() => redisStore({ url: 'redis://127.0.0.1', ttl: -1 }), /ttl must be a number of milliseconds/);
  });
});

describe('Redis: ownership of the connection', { skip: skipWithout('REDIS_URL') }, () => {
  it('app.close() closes the client that redisStore({ url }) opened', async (t) => {
    const name = uniqueName('owned');
    const store = redisStore({ url: REDIS_URL!, prefix: `${name}:`, clientOptions: { name } });
    const app = await bootOn(t, store);
    const connected = async (): Promise<boolean> =>
      (await redisCommands(portOf(REDIS_URL!), ['CLIENT', 'LIST'])).includes(`name=${name} `);
    assert.equal((await app.client().post('/auth/login')).status, 200);
    assert.equal(await connected(), true, 'the store opened a connection');
    await app.close();
    assert.equal(await eventually(async () => !(await connected()), 50, 50), true, 'app.close() closed it');
    assert.equal(store.client?.isOpen, false);
  });

  it('app.close() leaves a client the app passed in open', async (t) => {
    const client = createClient({ url: REDIS_URL });
    client.on('error', () => undefined);
    await client.connect();
    defer(t, () => client.destroy());
    const app = await bootOn(t, redisStore({ client, prefix: `${uniqueName('user')}:` }));
    assert.equal((await app.client().post('/auth/login')).status, 200);
    await app.close();
    assert.equal(client.isOpen, true, 'the client is still open');
    assert.equal(await client.ping(), 'PONG', 'and still usable');
  });

  it('a client the app never connected: a 503 that says so in the log, not a hang', async (t) => {
    const client = createClient({ url: REDIS_URL });
    const app = await bootOn(t, redisStore({ client }));
    assertUnavailable(await app.client().post('/auth/login'), 'unconnected client');
  });
});

describe('Redis commands per request', { skip: skipWithout('REDIS_SERVER_BIN') }, () => {
  it('an unchanged request sends HGETALL, plus PEXPIRE without touchAfter (a script when logged in); a changed one HGETALL and one script', async (t) => {
    const server = await RedisServer.start();
    defer(t, () => server.dispose());
    const perRequest: Record<string, Record<string, number>> = {};
    const n = 10;
    /** Redis commands per request over `n` requests made by `send`. */
    const measure = async (send: (i: number) => Promise<number>): Promise<Record<string, number>> => {
      await redisCommands(server.port, ['CONFIG', 'RESETSTAT']);
      for (let i = 0; i < n; i++) assert.equal(await send(i), 200);
      const stats = await redisCommands(server.port, ['INFO', 'commandstats']);
      const counts: Record<string, number> = {};
      for (const [, name, calls] of stats.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) {
        if (!['config', 'info', 'quit', 'client'].includes(name)) counts[name] = Number(calls) / n;
      }
      return counts;
    };
    for (const touchAfter of [undefined, 60_000]) {
      const app = await bootOn(t, redisStore({ url: server.url }), { touchAfter }, { maxAge: 3_600_000 });
      const anonymous = app.client();
      assert.equal((await anonymous.post('/auth/set', { role: 'visitor' })).status, 200);
      perRequest[`anonymous unchanged, touchAfter ${touchAfter ?? 'off'}`] = await measure(
        async () => (await anonymous.get('/auth/state')).status,
      );
      const client = app.client();
      assert.equal((await client.post('/auth/login', { userId: 'alice' })).status, 200);
      // Loads the write script into Redis's script cache (EVAL once, EVALSHA after).
      assert.equal((await client.post('/auth/set', { role: 'warm-up' })).status, 200);
      perRequest[`unchanged, touchAfter ${touchAfter ?? 'off'}`] = await measure(
        async () => (await client.get('/auth/me')).status,
      );
      perRequest[`changed, touchAfter ${touchAfter ?? 'off'}`] = await measure(
        async (i) => (await client.post('/auth/set', { role: `r${i}` })).status,
      );
      assert.equal((await client.get('/auth/state')).body.data.role, `r${n - 1}`, 'the last change is stored');
      await app.close();
    }
    t.diagnostic(`Redis commands per request: ${JSON.stringify(perRequest)}`);
    assert.deepEqual(perRequest['anonymous unchanged, touchAfter off'], { hgetall: 1, pexpire: 1 });
    assert.deepEqual(perRequest['anonymous unchanged, touchAfter 60000'], { hgetall: 1 });
    // A logged-in session records its last use for the session index in the touch itself: one script in place
    // of PEXPIRE (HSET of the timestamps and the cookie, PEXPIRE, inside Redis), still two round trips.
    assert.deepEqual(perRequest['unchanged, touchAfter off'], { hgetall: 1, evalsha: 1, hset: 1, pexpire: 1 });
    assert.deepEqual(perRequest['unchanged, touchAfter 60000'], { hgetall: 1 });
    // Redis counts the commands a script runs too: the client sends HGETALL and EVALSHA (two round trips);
    // the script's PEXPIRE (which also finds the record still exists) and one HSET of the cookie and role run
    // inside Redis.
    const changed = { hgetall: 1, evalsha: 1, pexpire: 1, hset: 1 };
    assert.deepEqual(perRequest['changed, touchAfter off'], changed);
    assert.deepEqual(perRequest['changed, touchAfter 60000'], changed);
  });
});

describe('Redis outages', { skip: skipWithout('REDIS_SERVER_BIN') }, () => {
  it('Redis down at boot: the app starts, requests get 503, and succeed once Redis is up', async (t) => {
    const server = await RedisServer.create();
    defer(t, () => server.dispose());
    const app = await bootOn(t, redisStore({ url: server.url }));
    const client = app.client();
    const anonymous = await client.get('/auth/state');
    assert.equal(anonymous.status, 200, 'a request without a session cookie needs no store call, so it is served');
    assertUnavailable(await client.post('/auth/login', { userId: 'alice' }), 'login while down');
    assertUnavailable(await client.post('/auth/set', { role: 'x' }), 'a new session that cannot be saved');

    await server.start();
    assert.equal(
      await eventually(async () => (await client.post('/auth/login', { userId: 'alice' })).status === 200),
      true,
      'login succeeds once Redis is up',
    );
    assert.deepEqual((await client.get('/auth/me')).body, { userId: 'alice' });
  });

  it('Redis restarted mid-run: 503 while it is down, the same session works after, no crash', async (t) => {
    const server = await RedisServer.start({ persist: true });
    defer(t, () => server.dispose());
    const store = redisStore({ url: server.url });
    const events: string[] = [];
    store.on('disconnect', () => events.push('disconnect'));
    store.on('connect', () => events.push('connect'));
    const app = await bootOn(t, store);
    const client = app.client();
    assert.equal((await client.post('/auth/login', { userId: 'alice' })).status, 200);
    assert.deepEqual((await client.get('/auth/me')).body, { userId: 'alice' });

    await server.stop();
    assert.equal(
      await eventually(async () => (await client.get('/auth/me')).status === 503),
      true,
      'a 503 once Redis is down',
    );
    for (let i = 0; i < 5; i++) assertUnavailable(await client.get('/auth/me'), `request ${i} while down`);
    assertUnavailable(await client.post('/auth/set', { role: 'x' }), 'a write while down');

    await server.start();
    assert.equal(
      await eventually(async () => (await client.get('/auth/me')).status === 200),
      true,
      'requests succeed once Redis is back',
    );
    assert.deepEqual((await client.get('/auth/me')).body, { userId: 'alice' }, 'the session survived the restart');
    assert.equal((await client.post('/auth/set', { role: 'editor' })).status, 200);
    assert.equal((await client.get('/auth/state')).body.data.role, 'editor');
    assert.deepEqual(events.slice(-2), ['disconnect', 'connect'], 'the store reported the outage and the recovery');
  });

  it('app.close() while Redis is down does not hang', async (t) => {
    const server = await RedisServer.create();
    defer(t, () => server.dispose());
    const store = redisStore({ url: server.url });
    const app = await bootOn(t, store);
    assertUnavailable(await app.client().post('/auth/login'), 'down');
    await app.close();
    assert.equal(store.client?.isOpen, false, 'the reconnecting client was stopped');
  });
});
