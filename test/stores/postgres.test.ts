import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import type { PostgresSessionStore } from 'nest-express-session';
import { SessionModule, STORE_UNAVAILABLE_MESSAGE, postgresStore } from 'nest-express-session';
import type { SessionData } from 'express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import { defer } from '../support/cleanup.js';
import type { Cleanup } from '../support/cleanup.js';
import { AuthController } from '../support/controllers.js';
import { asError } from '../support/errors.js';
import { assertNoChangeLostAcrossInstances } from '../support/reliability.js';
import { sidOf } from '../support/http.js';
import { DATABASE_URL, skipWithout, uniqueName } from '../support/env.js';
import { eventually, TcpRelay } from '../support/net.js';
import { withPool } from '../support/store-kinds.js';

/** Boots the auth controller over this PostgreSQL store (closed when `t` ends). */
function bootOn(t: Cleanup, store: PostgresSessionStore): Promise<TestApp> {
  return startApp(t, {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store }, storeTimeout: 3000 })],
    controllers: [AuthController],
  });
}

/** DATABASE_URL with a query parameter set (e.g. application_name) or its host:port replaced. */
function databaseUrl(change: { params?: Record<string, string>; port?: number }): string {
  const url = new URL(DATABASE_URL!);
  for (const [k, v] of Object.entries(change.params ?? {})) url.searchParams.set(k, v);
  if (change.port) {
    url.hostname = '127.0.0.1';
    url.port = String(change.port);
  }
  return url.toString();
}

function dropTable(tableName: string): Promise<unknown> {
  return withPool((pool) => pool.query(`DROP TABLE IF EXISTS "${tableName}"`));
}

function call<T>(run: (cb: (err?: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((err, value) => (err ? reject(asError(err)) : resolve(value as T))));
}

describe('postgresStore() options', () => {
  it('refuses at once what cannot work: no connectionString and no pool, both, a bad ttl', () => {
    assert.throws(() => postgresStore({} as never), /either \{ connectionString \}.*or \{ pool \}/);
    assert.throws(() => postgresStore({ connectionString: 'postgres://x', pool: {} } as never), /not both or neither/);
    assert.throws(
      () => postgresStore({ connectionString: 'postgres://x', ttl: 0 }),
      /ttl must be a number of milliseconds/,
    );
    assert.throws(() => postgresStore({ connectionString: 'postgres://x', pruneInterval: -5 }), /pruneInterval/);
  });
});

describe('PostgreSQL store', { skip: skipWithout('DATABASE_URL') }, () => {
  it('two instances changing different keys of one session at the same moment: no change is lost', async (t) => {
    const tableName = uniqueName('race');
    const a = await bootOn(t, postgresStore({ connectionString: DATABASE_URL!, tableName }));
    const b = await bootOn(t, postgresStore({ connectionString: DATABASE_URL!, tableName }));
    const { onA, onB, cookie } = await assertNoChangeLostAcrossInstances(a, b);
    // Logged out on B: A's next change lands in a new anonymous session, and the old id has no row.
    const sid = sidOf(onA.jar.get('connect.sid'))!;
    assert.equal((await onB.post('/auth/logout', undefined, { cookie })).status, 200);
    assert.equal((await onA.post('/auth/set', { late: true })).status, 200);
    assert.equal((await onA.get('/auth/state')).body.authenticated, false);
    const rows = await withPool(
      async (pool) =>
        (await pool.query(`SELECT count(*)::int AS n FROM "${tableName}" WHERE sid = $1`, [sid])).rows[0].n,
    );
    assert.equal(rows, 0, 'the logged-out session has no row');
  });

  it('creates its table on first use, not before, and keeps each session as a row', async (t) => {
    const tableName = uniqueName('session');
    const exists = () =>
      withPool(async (pool) => (await pool.query('SELECT to_regclass($1) AS t', [tableName])).rows[0].t !== null);
    defer(t, () => dropTable(tableName));
    const app = await bootOn(t, postgresStore({ connectionString: DATABASE_URL!, tableName }));
    assert.equal(await exists(), false, 'booting the app made no table');
    const client = app.client();
    assert.equal((await client.post('/auth/login', { userId: 'alice' })).status, 200);
    assert.equal(await exists(), true, 'the first session write created the table');
    const sid = sidOf(client.jar.get('connect.sid'))!;
    const row = await withPool(
      async (pool) => (await pool.query(`SELECT sess, expire FROM "${tableName}" WHERE sid = $1`, [sid])).rows[0],
    );
    assert.equal(row.sess.userId, 'alice');
    assert.ok(row.expire instanceof Date, 'the row has an expiry');
    assert.deepEqual((await client.get('/auth/me')).body, { userId: 'alice' });
  });

  it('implements all, length and clear besides get, set, destroy and touch', async (t) => {
    const tableName = uniqueName('session');
    const store = postgresStore({ connectionString: DATABASE_URL!, tableName });
    defer(t, async () => {
      await store.close();
      await dropTable(tableName);
    });
    const cookie = { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000) };
    await call((cb) => store.set('one', { cookie, userId: 'a' } as unknown as SessionData, cb));
    await call((cb) => store.set('two', { cookie, userId: 'b' } as unknown as SessionData, cb));
    const gone = { originalMaxAge: 1, expires: new Date(Date.now() - 60_000) };
    await call((cb) => store.set('old', { cookie: gone } as unknown as SessionData, cb));
    assert.equal(await call<number>((cb) => store.length(cb)), 2, 'length counts live sessions only');
    const all = await call<Record<string, SessionData>>((cb) => store.all(cb));
    assert.deepEqual(Object.keys(all).sort(), ['one', 'two']);
    assert.equal(all.one.userId, 'a');
    await call((cb) => store.touch('one', { cookie, userId: 'a' } as unknown as SessionData, cb));
    await call((cb) => store.clear(cb));
    assert.equal(await call<number>((cb) => store.length(cb)), 0);
  });

  it('app.close() ends the pool postgresStore({ connectionString }) opened, and leaves a given pool open', async (t) => {
    const name = uniqueName('owned');
    const tableName = uniqueName('session');
    const connections = () =>
      withPool(
        async (pool) =>
          (await pool.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [name]))
            .rows[0].n as number,
      );
    defer(t, () => dropTable(tableName));
    const owned = await bootOn(
      t,
      postgresStore({ connectionString: databaseUrl({ params: { application_name: name } }), tableName }),
    );
    assert.equal((await owned.client().post('/auth/login')).status, 200);
    assert.ok((await connections()) > 0, 'the store opened connections');
    await owned.close();
    assert.equal(
      await eventually(async () => (await connections()) === 0, 50, 100),
      true,
      'app.close() ended the pool',
    );

    const pool = new pg.Pool({ connectionString: DATABASE_URL });
    defer(t, () => pool.end());
    const given = await bootOn(t, postgresStore({ pool, tableName }));
    assert.equal((await given.client().post('/auth/login')).status, 200);
    await given.close();
    assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1, 'the given pool is still usable');
  });

  it('database down at boot and cut mid-run: 503 while it is unreachable, served again once it is back', async (t) => {
    const target = new URL(DATABASE_URL!);
    const relay = await TcpRelay.start({ host: target.hostname, port: Number(target.port || 5432) });
    const tableName = uniqueName('session');
    defer(t, () => dropTable(tableName));
    defer(t, () => relay.close());
    relay.cut();
    const app = await bootOn(t, postgresStore({ connectionString: databaseUrl({ port: relay.port }), tableName }));
    const client = app.client();
    const down = await client.post('/auth/login', { userId: 'alice' });
    assert.equal(down.status, 503);
    assert.equal(down.body.message, STORE_UNAVAILABLE_MESSAGE);

    relay.restore();
    assert.equal(
      await eventually(async () => (await client.post('/auth/login', { userId: 'alice' })).status === 200, 50, 100),
      true,
      'a failed first table creation is tried again: login works once the database is reachable',
    );
    assert.deepEqual((await client.get('/auth/me')).body, { userId: 'alice' });

    relay.cut();
    assert.equal((await client.get('/auth/me')).status, 503, 'a 503 while the database is unreachable');
    relay.restore();
    assert.equal(await eventually(async () => (await client.get('/auth/me')).status === 200, 50, 100), true);
    assert.deepEqual((await client.get('/auth/me')).body, { userId: 'alice' }, 'the session is still there');
  });
});
