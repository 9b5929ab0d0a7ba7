import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import connectPgSimple from 'connect-pg-simple';
import { RedisStore } from 'connect-redis';
import expressSession from 'express-session';
import type { Store } from 'express-session';
import { createClient } from 'redis';
import { postgresStore, redisStore, SessionModule } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import { defer } from '../support/cleanup.js';
import type { Cleanup } from '../support/cleanup.js';
import { AuthController } from '../support/controllers.js';
import { DATABASE_URL, REDIS_URL, skipWithout, uniqueName } from '../support/env.js';
import { sidOf } from '../support/http.js';
import type { Client } from '../support/http.js';
import { peek, withPool } from '../support/store-kinds.js';

const MAX_AGE = 3_600_000;

/** What the old store holds besides the user: values whose JSON must come back exactly. */
const VALUES = {
  count: 42,
  ratio: 1.0000000000000002,
  huge: 1e300,
  negative: -0.5,
  nested: { a: { b: [1, { c: null }], empty: {} } },
  list: [1, 'two', [3], {}, []],
  quoted: 'she said "hi" \\ \'there\'',
  unicode: 'ünïcødé ✓ 𝄞',
  flag: false,
  nothing: null,
};

/** The session data once the user is logged in with VALUES. */
const LOGGED_IN = { ...VALUES, userId: 'alice' };

/** An app of the auth controller over this store, cookies with a lifetime (closed when `t` ends, or before). */
function appOver(t: Cleanup, store: Store): Promise<TestApp> {
  return startApp(t, {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store, cookie: { maxAge: MAX_AGE } } })],
    controllers: [AuthController],
  });
}

/** The session's data as the app reads it (GET /auth/state). */
async function stateOf(client: Client): Promise<Record<string, unknown>> {
  const res = await client.get('/auth/state');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.authenticated, true);
  return res.body.data as Record<string, unknown>;
}

describe('switching from connect-redis to redisStore() keeps sessions', { skip: skipWithout('REDIS_URL') }, () => {
  it('a record connect-redis wrote is read, then turned into a hash at its first change with every key kept; connect-redis cannot read it after', async (t) => {
    const prefix = `${uniqueName('switch')}:`;
    const redis = createClient({ url: REDIS_URL });
    redis.on('error', () => undefined);
    await redis.connect();
    defer(t, () => redis.destroy());

    const before = await appOver(t, new RedisStore({ client: redis, prefix }));
    const browser = before.client();
    assert.equal((await browser.post('/auth/login', { userId: 'alice', data: VALUES })).status, 200);
    const sid = sidOf(browser.jar.get('connect.sid'))!;
    const key = prefix + sid;
    assert.equal(await redis.type(key), 'string', 'connect-redis keeps one JSON string per session');
    await before.close();

    const after = await appOver(t, redisStore({ url: REDIS_URL!, prefix }));
    const same = browser.at(after.url);
    assert.deepEqual(await stateOf(same), LOGGED_IN, 'redisStore() reads the record connect-redis wrote');
    assert.equal(await redis.type(key), 'string', 'a read leaves the record as it is');

    assert.equal((await same.post('/auth/set', { role: 'admin' })).status, 200);
    assert.equal(await redis.type(key), 'hash', 'the first change turned it into a hash');
    const fields = await redis.hGetAll(key);
    const stored = Object.fromEntries(Object.entries(fields).map(([field, json]) => [field, JSON.parse(json)]));
    const { cookie, __forms, __handle, __session, ...data } = stored;
    assert.deepEqual(data, { ...LOGGED_IN, role: 'admin' }, 'a field per key, every key kept, values as they were');
    assert.equal(typeof __handle, 'string', 'the logged-in session joined its user’s index at that first write');
    assert.equal(typeof (__session as { lastSeen?: unknown }).lastSeen, 'number', 'its last use in the record');
    assert.equal(typeof (__forms as { loggedInAt?: unknown }).loggedInAt, 'number', "the module's login time kept");
    assert.equal(cookie.originalMaxAge, MAX_AGE, 'the cookie is a field too');
    const ttl = await redis.pTTL(key);
    assert.ok(ttl > MAX_AGE - 60_000 && ttl <= MAX_AGE, `the hash expires with the cookie (PTTL ${ttl} ms)`);
    assert.deepEqual(await stateOf(same), { ...LOGGED_IN, role: 'admin' }, 'and reads back the same');

    // One way only: redisStore() writes hashes, which connect-redis's GET cannot read.
    await assert.rejects(peek(new RedisStore({ client: redis, prefix }), sid), /WRONGTYPE/);
  });
});

describe(
  'switching from connect-pg-simple to postgresStore() keeps sessions',
  { skip: skipWithout('DATABASE_URL') },
  () => {
    it('a row connect-pg-simple wrote is read and updated in place on the same table, every key kept', async (t) => {
      // A schema of its own: connect-pg-simple names its index and key constraint after "session" whatever the
      // table's name, so two of its tables in one schema collide.
      const schemaName = uniqueName('switch');
      const tableName = 'session';
      await withPool((pool) => pool.query(`CREATE SCHEMA ${schemaName}`));
      defer(t, () => withPool((pool) => pool.query(`DROP SCHEMA ${schemaName} CASCADE`)));
      const PGStore = connectPgSimple(expressSession);
      const direct = new PGStore({ conString: DATABASE_URL, schemaName, tableName, createTableIfMissing: true });
      // connect-pg-simple 10's close() ends the pool it made and returns a promise (its types say void): awaited.
      defer(t, () => direct.close());
      const rows = (): Promise<{ sid: string; sess: Record<string, unknown> }[]> =>
        withPool(async (pool) => (await pool.query(`SELECT sid, sess FROM ${schemaName}.${tableName}`)).rows);

      const before = await appOver(t, direct);
      const browser = before.client();
      assert.equal((await browser.post('/auth/login', { userId: 'alice', data: VALUES })).status, 200);
      const sid = sidOf(browser.jar.get('connect.sid'))!;
      assert.deepEqual(
        (await rows()).map((row) => row.sid),
        [sid],
      );
      await before.close();

      const after = await appOver(t, postgresStore({ connectionString: DATABASE_URL!, schemaName, tableName }));
      const same = browser.at(after.url);
      assert.deepEqual(await stateOf(same), LOGGED_IN, 'postgresStore() reads the row connect-pg-simple wrote');
      assert.equal((await same.post('/auth/set', { role: 'admin' })).status, 200);

      const [row, ...others] = await rows();
      assert.equal(row.sid, sid, 'the same row');
      assert.equal(others.length, 0, 'updated in place, no second row');
      const { cookie, __forms, __handle, __session, ...data } = row.sess;
      assert.deepEqual(data, { ...LOGGED_IN, role: 'admin' }, 'every key kept, the change applied');
      assert.equal(typeof __handle, 'string', 'the logged-in session joined its user’s index at that first write');
      assert.equal(typeof (__session as { lastSeen?: unknown }).lastSeen, 'number', 'its last use in the record');
      assert.equal(typeof (__session as { lastSeen?: unknown }).lastSeen, 'number', 'its last use in the record');
      assert.equal(typeof (__forms as { loggedInAt?: unknown }).loggedInAt, 'number', "the module's login time kept");
      assert.equal((cookie as { originalMaxAge: number }).originalMaxAge, MAX_AGE);
      assert.deepEqual(await stateOf(same), { ...LOGGED_IN, role: 'admin' });
      // Both write the same JSON column, so on PostgreSQL the way back is open too.
      assert.equal((await peek(direct, sid))?.role, 'admin', 'connect-pg-simple still reads the row');
    });
  },
);
