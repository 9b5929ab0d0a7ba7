import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { redisStore, SessionRegistry } from 'nest-express-session';
import type { SessionInfo } from 'nest-express-session';
import { startApp } from '../support/app.js';
import { suiteCleanup } from '../support/cleanup.js';
import type { Cleanup } from '../support/cleanup.js';
import { controlsApp } from '../support/controls-app.js';
import { REDIS_URL, skipWithout, uniqueName } from '../support/env.js';
import { redisCommands, sleep } from '../support/net.js';
import { RedisClusterTopology, skipWithoutTopology } from '../support/redis-topologies.js';

// Session controls across app instances that share one Redis, and on a Redis Cluster.

describe('session controls across two app instances on one Redis', { skip: skipWithout('REDIS_URL') }, () => {
  async function twoInstances(t: Cleanup, limit?: number) {
    const prefix = `${uniqueName('controls')}:`;
    const options = limit ? { maxSessionsPerUser: limit } : {};
    const a = await startApp(t, controlsApp(redisStore({ url: REDIS_URL!, prefix }), options));
    const b = await startApp(t, controlsApp(redisStore({ url: REDIS_URL!, prefix }), options));
    return { a, b, prefix };
  }

  it('R19: a session revoked on one instance is refused on the other', async (t) => {
    const { a, b } = await twoInstances(t);
    const admin = a.client();
    await admin.post('/login', { userId: 'mallory' });
    const laptop = b.client();
    const handle = (await laptop.post('/login', { userId: 'mallory' })).body.handle as string;
    assert.equal((await laptop.get('/me')).status, 200);
    const listedOnA = (await admin.get('/sessions')).body as SessionInfo[];
    assert.deepEqual(listedOnA.map((s) => s.handle).sort(), [handle, (await admin.get('/me')).body.handle].sort());
    assert.deepEqual((await admin.post('/revoke', { handle })).body, { revoked: true });
    assert.equal((await laptop.get('/me')).status, 401, 'instance B refuses it');
    assert.equal((await laptop.at(a.url).get('/me')).status, 401, 'and so does A');
    assert.equal((await admin.at(b.url).get('/me')).status, 200, 'the admin’s session works on B');
  });

  it('R20: parallel logins spread over both instances keep to the limit', async (t) => {
    const { a, b } = await twoInstances(t, 2);
    const clients = Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).client());
    const logins = await Promise.all(clients.map((c) => c.post('/login', { userId: 'oscar' })));
    assert.deepEqual(new Set(logins.map((r) => r.status)), new Set([200]));
    const statuses = await Promise.all(clients.map(async (c) => (await c.get('/me')).status));
    assert.equal(statuses.filter((s) => s === 200).length, 2);
    assert.equal((await a.nest.get(SessionRegistry).list('oscar')).length, 2);
  });

  it('R21: the index of a user whose sessions all expired takes no space in Redis', async (t) => {
    const prefix = `${uniqueName('expiry')}:`;
    const app = await startApp(
      t,
      controlsApp(redisStore({ url: REDIS_URL!, prefix }), {
        session: { secret: 'x'.repeat(40), cookie: { maxAge: 400 } },
      }),
    );
    await app.client().post('/login', { userId: 'peggy' });
    const port = Number(new URL(REDIS_URL!).port);
    const key = `${prefix}user:{peggy}`;
    assert.match(await redisCommands(port, ['EXISTS', key]), /^:1/);
    const pttl = Number(/^:(-?\d+)/.exec(await redisCommands(port, ['PTTL', key]))?.[1]);
    // An entry is kept one lifetime past its session's expiry (so that uses renew it only now and then, see
    // docs/sessions.md); every read checks entries against their records.
    assert.ok(pttl > 400 && pttl <= 800, `the index key expires one lifetime after its last session (PTTL ${pttl})`);
    await sleep(450);
    assert.deepEqual(await app.nest.get(SessionRegistry).list('peggy'), [], 'the expired session is not listed');
    assert.match(await redisCommands(port, ['EXISTS', key]), /^:0/, 'and that listing left nothing behind');
  });
});

describe('session controls on a Redis Cluster', { skip: skipWithoutTopology('cluster') }, () => {
  const suite = suiteCleanup();
  let cluster: RedisClusterTopology;
  before(async () => {
    cluster = await RedisClusterTopology.start(suite);
  });

  it('lists, revokes and limits, with the user’s index in one slot and sessions in others', async (t) => {
    const prefix = `${uniqueName('cluster')}:`;
    const store = (): ReturnType<typeof redisStore> =>
      redisStore({ cluster: { rootNodes: cluster.rootNodes }, prefix });
    const a = await startApp(t, controlsApp(store(), { maxSessionsPerUser: 3 }));
    const b = await startApp(t, controlsApp(store(), { maxSessionsPerUser: 3 }));
    const clients = Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).client());
    const logins = await Promise.all(clients.map((c) => c.post('/login', { userId: 'quinn' })));
    assert.deepEqual(new Set(logins.map((r) => r.status)), new Set([200]));
    const alive = clients.filter((_, i) => i >= 0);
    const statuses = await Promise.all(alive.map(async (c) => (await c.get('/me')).status));
    assert.equal(statuses.filter((s) => s === 200).length, 3, 'exactly three left');
    const survivor = alive[statuses.indexOf(200)];
    const listed = (await survivor.get('/sessions')).body as SessionInfo[];
    assert.equal(listed.length, 3);
    const other = listed.find((s) => !s.current)!;
    assert.deepEqual((await survivor.post('/revoke', { handle: other.handle })).body, { revoked: true });
    const after = await Promise.all(alive.map(async (c) => (await c.get('/me')).status));
    assert.equal(after.filter((s) => s === 200).length, 2, 'the revoked one is refused on every instance');
    const master = await cluster.masterOf(`${prefix}user:{quinn}`);
    assert.match(await redisCommands(master.port, ['HLEN', `${prefix}user:{quinn}`]), /^:2/);
  });
});
