import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { SessionModule, postgresStore, redisStore, sqliteStore } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import { defer } from '../support/cleanup.js';
import type { Cleanup } from '../support/cleanup.js';
import { AuthController, CounterController } from '../support/controllers.js';
import { DATABASE_URL, REDIS_URL, skipWithout, uniqueName } from '../support/env.js';
import { sidOf } from '../support/http.js';
import { skipWithoutSqlite, openDatabase, tempDatabase } from '../support/sqlite.js';
import { withPool } from '../support/store-kinds.js';

// A record the store cannot parse is corrupt (R14): the request gets a fresh session once (200), and the
// damaged record is removed, instead of a 503 on every request of that cookie.

type RedisClient = ReturnType<typeof createClient>;

function boot(t: Cleanup, store: Store): Promise<TestApp> {
  return startApp(t, {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store }, storeTimeout: 2000 })],
    controllers: [AuthController, CounterController],
  });
}

async function rawRedis(t: Cleanup): Promise<RedisClient> {
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => undefined);
  await client.connect();
  defer(t, () => client.destroy());
  return client;
}

/**
 * Logs a client in, lets `damage` spoil its record, and checks the next request gets a fresh anonymous
 * session (200) that then works, and that `stillThere` no longer finds the damaged record.
 */
async function assertReplacedOnce(
  app: TestApp,
  damage: (sid: string) => Promise<unknown>,
  stillThere: (sid: string) => Promise<boolean>,
  what: string,
): Promise<void> {
  const client = app.client();
  const login = await client.post('/auth/login', { userId: 'victim' });
  assert.equal(login.status, 200, what);
  const sid = login.body.id as string;
  await damage(sid);
  const first = await client.get('/');
  assert.equal(first.status, 200, `${what}: ${first.status} ${first.text}`);
  assert.deepEqual(first.body, { views: 1 }, `${what}: a fresh session`);
  const fresh = sidOf(client.jar.get('connect.sid'));
  assert.notEqual(fresh, sid, `${what}: under a new id`);
  assert.equal(await stillThere(sid), false, `${what}: the damaged record was removed`);
  assert.deepEqual((await client.get('/')).body, { views: 2 }, `${what}: the new session works`);
  assert.equal((await client.get('/auth/me')).status, 401, `${what}: and it is anonymous`);
}

describe('unparsable records are corrupt (R14): a fresh session once, not a permanent 503', () => {
  it(
    'redisStore(): invalid JSON in a hash field, a legacy JSON string key, a key of another type',
    {
      skip: skipWithout('REDIS_URL'),
    },
    async (t) => {
      const prefix = `${uniqueName('unparsable')}:`;
      const redis = await rawRedis(t);
      const store = redisStore({ url: REDIS_URL!, prefix });
      defer(t, () => store.close());
      const app = await boot(t, store);
      const exists = async (sid: string): Promise<boolean> => (await redis.exists(prefix + sid)) === 1;
      await assertReplacedOnce(app, (sid) => redis.hSet(prefix + sid, 'userId', '{not json'), exists, 'hash field');
      await assertReplacedOnce(
        app,
        async (sid) => {
          await redis.del(prefix + sid);
          await redis.set(prefix + sid, '{"cookie":{"expires":null},"userId":', { PX: 60_000 });
        },
        exists,
        'legacy JSON string',
      );
      await assertReplacedOnce(
        app,
        async (sid) => {
          await redis.del(prefix + sid);
          await redis.rPush(prefix + sid, 'not a session');
          await redis.pExpire(prefix + sid, 60_000);
        },
        exists,
        'a list',
      );
    },
  );

  it(
    'connect-redis used directly: a key holding text that is not JSON',
    {
      skip: skipWithout('REDIS_URL'),
    },
    async (t) => {
      const prefix = `${uniqueName('unparsable-direct')}:`;
      const redis = await rawRedis(t);
      const app = await boot(t, new RedisStore({ client: redis, prefix }));
      await assertReplacedOnce(
        app,
        (sid) => redis.set(prefix + sid, 'garbage{', { PX: 60_000 }),
        async (sid) => (await redis.exists(prefix + sid)) === 1,
        'connect-redis',
      );
    },
  );

  it('sqliteStore(): a row whose sess is not JSON', { skip: skipWithoutSqlite() }, async (t) => {
    const path = tempDatabase(t);
    const store = sqliteStore({ path });
    defer(t, () => store.close());
    const app = await boot(t, store);
    const db = openDatabase(t, path);
    await assertReplacedOnce(
      app,
      () => Promise.resolve(db.prepare(`UPDATE sessions SET sess = '{"cookie":'`).run()),
      (sid) => Promise.resolve(db.prepare('SELECT 1 FROM sessions WHERE sid = ?').get(sid) !== undefined),
      'sqlite',
    );
  });

  it(
    'postgresStore(): the json column refuses text that is not JSON, so no such record can exist',
    {
      skip: skipWithout('DATABASE_URL'),
    },
    async (t) => {
      const tableName = uniqueName('unparsable');
      const store = postgresStore({ connectionString: DATABASE_URL!, tableName });
      defer(t, async () => {
        await store.close();
        await withPool((pool) => pool.query(`DROP TABLE IF EXISTS "${tableName}"`));
      });
      const app = await boot(t, store);
      const client = app.client();
      const login = await client.post('/auth/login', { userId: 'victim' });
      assert.equal(login.status, 200);
      await assert.rejects(
        withPool((pool) => pool.query(`UPDATE "${tableName}" SET sess = '{"cookie":'`)),
        /invalid input syntax for type json/,
      );
      assert.equal((await client.get('/auth/me')).status, 200, 'the session is intact');
    },
  );
});
