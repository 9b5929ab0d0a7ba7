import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSentinel } from 'redis';
import { SessionModule, redisStore } from 'nest-express-session';
import type { RedisSessionStore } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import { defer } from '../support/cleanup.js';
import type { Cleanup } from '../support/cleanup.js';
import { AuthController } from '../support/controllers.js';
import { uniqueName } from '../support/env.js';
import { asError } from '../support/errors.js';
import { assertOutage, driveThroughOutage, probe } from '../support/failover.js';
import { RedisSentinelTopology, skipWithoutTopology } from '../support/redis-topologies.js';

// redisStore() on a real master, its replica and three sentinels (test/support/redis-topologies.ts).

const STORE_TIMEOUT = 2000;

function boot(t: Cleanup, store: RedisSessionStore): Promise<TestApp> {
  return startApp(t, {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store }, storeTimeout: STORE_TIMEOUT })],
    controllers: [AuthController],
  });
}

describe('redisStore() through Redis Sentinel', { skip: skipWithoutTopology('sentinel') }, () => {
  it('instances share sessions; the master dies: a short run of 503s, then the same sessions on the new master', async (t) => {
    const set = await RedisSentinelTopology.start(t);
    const prefix = `${uniqueName('sentinel')}:`;
    const sentinel = {
      name: set.name,
      sentinelRootNodes: set.sentinelRootNodes,
      nodeClientOptions: { password: set.password },
    };
    const given = createSentinel(sentinel);
    given.on('error', () => undefined);
    await given.connect();
    defer(t, () => given.destroy());
    const ownedStore = redisStore({ sentinel, prefix });
    const a = await boot(t, ownedStore);
    const b = await boot(t, redisStore({ sentinel, prefix }));
    const c = await boot(t, redisStore({ client: given, prefix }));

    const onA = a.client();
    assert.equal((await onA.post('/auth/login', { userId: 'alice' })).status, 200);
    const cookie = onA.cookieHeader();
    const onB = b.client();
    const onC = c.client();
    assert.deepEqual((await onB.get('/auth/me', { cookie })).body, { userId: 'alice' }, 'B reads what A wrote');
    assert.equal((await onB.post('/auth/set', { role: 'admin' }, { cookie })).status, 200);
    assert.equal((await onC.get('/auth/state', { cookie })).body.data.role, 'admin', 'C reads what B wrote');
    const bob = b.client();
    assert.equal((await bob.post('/auth/login', { userId: 'bob' })).status, 200);
    const length = await new Promise<number>((resolve, reject) =>
      ownedStore.length((err, n) => (err ? reject(asError(err)) : resolve(n!))),
    );
    assert.equal(length, 2, 'length sees both sessions (SCAN on the master)');

    // The replica has every write before its master dies.
    assert.match(await set.commands(set.master, ['WAIT', '1', '1000']), /^:1/, 'the replica has the writes');
    await set.master.stop('SIGKILL');
    const answers = await driveThroughOutage(
      [
        probe('alice on A', onA, '/auth/me'),
        probe('alice on C', onC, '/auth/me', cookie),
        probe('bob on B', bob, '/auth/me'),
      ],
      { boundMs: STORE_TIMEOUT + 2000 },
    );
    // Every probe's answers are reported before any is checked, so that a failure shows all three.
    for (const [name, list] of answers) t.diagnostic(`${name}: ${list.map((a) => a.status).join(' ')}`);
    for (const [name, list] of answers) {
      const outage = assertOutage(name, list, 1);
      t.diagnostic(`${name}: ${outage.unavailable} × 503 from ${outage.from} ms to ${outage.to} ms after the kill`);
    }
    assert.equal(await set.masterPort(), set.replica.port, 'the sentinels promoted the replica');

    assert.deepEqual((await onB.get('/auth/me', { cookie })).body, { userId: 'alice' }, 'alice is still logged in');
    assert.equal((await onA.get('/auth/state')).body.data.role, 'admin', 'her session kept its data');
    assert.equal((await onA.post('/auth/set', { after: 'failover' })).status, 200, 'and can be changed');
    assert.equal((await onC.get('/auth/state', { cookie })).body.data.after, 'failover', 'C reads the change');
    assert.equal((await onC.post('/auth/logout', undefined, { cookie })).status, 200);
    assert.equal((await onA.get('/auth/me')).status, 401, 'A sees the logout made on C');
    assert.deepEqual((await bob.get('/auth/me')).body, { userId: 'bob' }, 'bob is still logged in');

    await Promise.all([a.close(), c.close()]);
    assert.equal(ownedStore.client?.isOpen, false, 'app.close() closed the sentinel client the store created');
    assert.equal(given.isOpen, true, 'and left the one it was given open');
  });
});
