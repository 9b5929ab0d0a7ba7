import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createCluster } from 'redis';
import { SessionModule, STORE_UNAVAILABLE_MESSAGE, redisStore } from 'nest-express-session';
import type { RedisSessionStore } from 'nest-express-session';
import type { SessionData } from 'express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import { defer, suiteCleanup } from '../support/cleanup.js';
import type { Cleanup } from '../support/cleanup.js';
import { AuthController } from '../support/controllers.js';
import { uniqueName } from '../support/env.js';
import { asError } from '../support/errors.js';
import { assertOutage, driveThroughOutage, probe } from '../support/failover.js';
import { eventually, redisCommands } from '../support/net.js';
import { RedisClusterTopology, skipWithoutTopology } from '../support/redis-topologies.js';

// redisStore() on a real Redis Cluster of three masters and three replicas (test/support/redis-topologies.ts).

const STORE_TIMEOUT = 2000;

function boot(t: Cleanup, store: RedisSessionStore): Promise<TestApp> {
  return startApp(t, {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store }, storeTimeout: STORE_TIMEOUT })],
    controllers: [AuthController],
  });
}

function call<T>(invoke: (cb: (err?: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => invoke((err, value) => (err ? reject(asError(err)) : resolve(value as T))));
}

describe('redisStore() options for a cluster or sentinels', () => {
  it('refuses at once what cannot work, saying why', () => {
    const rootNodes = [{ url: 'redis://127.0.0.1:7000' }];
    const sentinel = { name: 'sessions', sentinelRootNodes: [{ host: '127.0.0.1', port: 26379 }] };
    assert.throws(() => redisStore({ cluster: { rootNodes }, url: 'redis://127.0.0.1' } as never), /exactly one/);
    assert.throws(() => redisStore({ cluster: { rootNodes }, sentinel } as never), /given: cluster, sentinel/);
    assert.throws(() => redisStore({ cluster: {} } as never), /cluster\.rootNodes must list at least one node/);
    assert.throws(() => redisStore({ cluster: { rootNodes: [] } }), /cluster\.rootNodes must list/);
    assert.throws(
      () => redisStore({ cluster: { rootNodes, useReplicas: true } } as never),
      /useReplicas must stay off/,
    );
    assert.throws(() => redisStore({ sentinel: { ...sentinel, name: '' } }), /sentinel\.name must be/);
    assert.throws(() => redisStore({ sentinel: { name: 'x' } } as never), /sentinelRootNodes must list/);
    assert.throws(() => redisStore({ sentinel: { ...sentinel, replicaPoolSize: 1 } } as never), /replicaPoolSize/);
    assert.throws(() => redisStore({ cluster: { rootNodes }, ttl: 0 }), /ttl must be/);
  });
});

describe('redisStore() on a Redis Cluster', { skip: skipWithoutTopology('cluster') }, () => {
  const suite = suiteCleanup();
  let cluster: RedisClusterTopology;
  before(async () => {
    cluster = await RedisClusterTopology.start(suite);
  });

  it('three instances (two with { cluster }, one with { client: createCluster() }) share sessions', async (t) => {
    const prefix = `${uniqueName('shared')}:`;
    const given = createCluster({ rootNodes: cluster.rootNodes });
    given.on('error', () => undefined);
    await given.connect();
    defer(t, () => given.close());
    const ownedStore = redisStore({ cluster: { rootNodes: cluster.rootNodes }, prefix });
    const a = await boot(t, ownedStore);
    const b = await boot(t, redisStore({ cluster: { rootNodes: cluster.rootNodes }, prefix }));
    const c = await boot(t, redisStore({ client: given, prefix }));

    const onA = a.client();
    const login = await onA.post('/auth/login', { userId: 'alice' });
    assert.equal(login.status, 200);
    const cookie = onA.cookieHeader();
    const key = prefix + (login.body as { id: string }).id;
    const master = await cluster.masterOf(key);
    assert.match(await redisCommands(master.port, ['HGET', key, 'userId']), /"alice"/, 'a hash on its master');

    const onB = b.client();
    assert.deepEqual((await onB.get('/auth/me', { cookie })).body, { userId: 'alice' }, 'B reads what A wrote');
    assert.equal((await onB.post('/auth/set', { role: 'admin' }, { cookie })).status, 200);
    const onC = c.client();
    assert.equal((await onC.get('/auth/state', { cookie })).body.data.role, 'admin', 'C reads what B wrote');
    assert.equal((await onB.post('/auth/logout', undefined, { cookie })).status, 200);
    assert.equal((await onA.get('/auth/me')).status, 401, 'A sees the logout made on B');
    assert.equal((await onC.get('/auth/me', { cookie })).status, 401, 'so does C');

    await Promise.all([a.close(), c.close()]);
    assert.equal(ownedStore.client?.isOpen, false, 'app.close() closed the cluster client the store created');
    assert.equal(given.isOpen, true, 'and left the one it was given open');
  });

  it('sessions spread over the masters; length, all and clear see every one of them', async (t) => {
    const prefix = `${uniqueName('many')}:`;
    const store = redisStore({ cluster: { rootNodes: cluster.rootNodes }, prefix });
    const app = await boot(t, store);
    const users = Array.from({ length: 30 }, (_, i) => `user-${i}`);
    const clients = await Promise.all(
      users.map(async (userId) => {
        const client = app.client();
        assert.equal((await client.post('/auth/login', { userId })).status, 200);
        return client;
      }),
    );
    const perMaster = await Promise.all(
      (await cluster.masters()).map(async (m) => {
        // Each user's session index is a key too (`<prefix>user:{...}`): only sessions are counted.
        const reply = await redisCommands(m.port, ['KEYS', `${prefix}*`]);
        return reply.split('\r\n').filter((line) => line.startsWith(prefix) && !line.includes('user:{')).length;
      }),
    );
    assert.equal(
      perMaster.reduce((sum, n) => sum + n, 0),
      users.length,
      `every session is a key (${perMaster.join('/')})`,
    );
    assert.ok(perMaster.filter((n) => n > 0).length >= 2, `keys on more than one master: ${perMaster.join('/')}`);

    assert.equal(await call<number>((cb) => store.length(cb)), users.length, 'length counts them all');
    const all = await call<Record<string, SessionData>>((cb) => store.all(cb));
    assert.deepEqual(
      Object.values(all)
        .map((s) => s.userId)
        .sort(),
      [...users].sort(),
      'all returns them all',
    );
    await call<void>((cb) => store.clear(cb));
    assert.equal(await call<number>((cb) => store.length(cb)), 0, 'clear removed them all');
    assert.equal((await clients[0].get('/auth/me')).status, 401, 'and the users are logged out');
  });

  it('40 concurrent clients over two instances write their own key of one session 10 times: none is lost', async (t) => {
    const prefix = `${uniqueName('hot')}:`;
    const a = await boot(t, redisStore({ cluster: { rootNodes: cluster.rootNodes }, prefix }));
    const b = await boot(t, redisStore({ cluster: { rootNodes: cluster.rootNodes }, prefix }));
    const first = a.client();
    assert.equal((await first.post('/auth/login', { userId: 'alice', data: { untouched: 'kept' } })).status, 200);
    const cookie = first.cookieHeader();
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const client = (i % 2 === 0 ? a : b).client();
        for (let n = 1; n <= 10; n++)
          statuses.push((await client.post('/auth/set', { [`k${i}`]: n }, { cookie })).status);
      }),
    );
    assert.deepEqual(new Set(statuses), new Set([200]), 'every response is a 200');
    const { data } = (await first.get('/auth/state')).body as { data: Record<string, unknown> };
    for (let i = 0; i < 40; i++) assert.equal(data[`k${i}`], 10, `k${i} ends at 10`);
    assert.equal(data.untouched, 'kept', 'a key nobody wrote is kept');
    assert.equal(data.userId, 'alice');
  });

  it('the cluster unreachable when the app starts: 503s, then sessions once it is up', async (t) => {
    const late = await RedisClusterTopology.create(t);
    const app = await boot(t, redisStore({ cluster: { rootNodes: late.rootNodes } }));
    const client = app.client();
    const refused = await client.post('/auth/login', { userId: 'alice' });
    assert.equal(refused.status, 503, `login while the cluster is down: ${refused.status}`);
    assert.equal(refused.body.message, STORE_UNAVAILABLE_MESSAGE);
    await late.start();
    assert.ok(
      await eventually(async () => (await client.post('/auth/login', { userId: 'alice' })).status === 200, 100, 200),
      'login succeeds once the cluster is up',
    );
    assert.deepEqual((await client.get('/auth/me')).body, { userId: 'alice' });
  });

  // Last: it kills a master of the suite's cluster.
  it('the master of a session dies: a short run of 503s for that session only, then the same session on the promoted replica', async (t) => {
    const prefix = `${uniqueName('failover')}:`;
    const app = await boot(t, redisStore({ cluster: { rootNodes: cluster.rootNodes }, prefix }));
    // And an instance over a cluster client of the app's, with node-redis's defaults (an offline queue).
    const given = createCluster({ rootNodes: cluster.rootNodes });
    given.on('error', () => undefined);
    await given.connect();
    defer(t, () => given.close());
    const other = await boot(t, redisStore({ client: given, prefix }));
    const alice = app.client();
    const login = await alice.post('/auth/login', { userId: 'alice', data: { role: 'admin' } });
    assert.equal(login.status, 200);
    const victim = await cluster.masterOf(prefix + (login.body as { id: string }).id);
    // A second user whose session lives on another master.
    let bob = app.client();
    for (let i = 0; i < 20; i++) {
      bob = app.client();
      const { body } = await bob.post('/auth/login', { userId: 'bob' });
      if ((await cluster.masterOf(prefix + (body as { id: string }).id)).port !== victim.port) break;
    }
    // The replica has alice's session before its master dies.
    assert.match(await redisCommands(victim.port, ['WAIT', '1', '1000']), /^:1/, 'the replica has the writes');

    await victim.stop('SIGKILL');
    const cookie = alice.cookieHeader();
    const answers = await driveThroughOutage(
      [
        probe('alice', alice, '/auth/me'),
        probe('alice on the given client', other.client(), '/auth/me', cookie),
        probe('bob', bob, '/auth/me'),
      ],
      { boundMs: STORE_TIMEOUT + 2000 },
    );
    const outage = assertOutage('alice', answers.get('alice')!, 1);
    const onGiven = assertOutage('alice on the given client', answers.get('alice on the given client')!, 1);
    assertOutage('bob', answers.get('bob')!, 0);
    assert.ok(
      answers.get('bob')!.every((a) => a.status === 200),
      "bob's session, on another master, is served throughout",
    );
    t.diagnostic(`alice: ${outage.unavailable} × 503 from ${outage.from} ms to ${outage.to} ms after the kill`);
    t.diagnostic(
      `alice on the given client: ${onGiven.unavailable} × 503 from ${onGiven.from} ms to ${onGiven.to} ms after the kill`,
    );

    assert.deepEqual((await alice.get('/auth/me')).body, { userId: 'alice' }, 'alice is still logged in');
    assert.equal((await alice.get('/auth/state')).body.data.role, 'admin', 'her session kept its data');
    assert.equal((await alice.post('/auth/set', { after: 'failover' })).status, 200, 'and can be changed');
    assert.equal(
      (await other.client().get('/auth/state', { cookie })).body.data.after,
      'failover',
      'on both instances',
    );
    assert.ok(await cluster.healthy(), 'the cluster is ok again');
  });
});
