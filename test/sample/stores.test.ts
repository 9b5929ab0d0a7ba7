import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  EmbeddedStore,
  PostgresSessionStore,
  RedisSessionStore,
  SESSION_MODULE_OPTIONS,
  SqliteSessionStore,
} from 'nest-express-session';
import { AppModule, DEFAULT_SQLITE_PATH } from '../../sample/app.module.js';
import { createApp, startApp } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import { DATABASE_URL, REDIS_URL, skipWithout } from '../support/env.js';
import { HAS_SQLITE, skipWithoutSqlite, tempDatabase } from '../support/sqlite.js';

/** The variables the sample picks its store from. */
const STORE_VARIABLES = ['SESSION_STORE', 'SQLITE_PATH', 'REDIS_URL', 'DATABASE_URL'] as const;
type StoreEnv = Partial<Record<(typeof STORE_VARIABLES)[number], string>>;

/** Runs `boot` with only the given store variables set, and the environment as it was afterwards. */
async function withStoreEnv<T>(env: StoreEnv, boot: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(STORE_VARIABLES.map((key) => [key, process.env[key]]));
  for (const key of STORE_VARIABLES) {
    if (env[key] === undefined) delete process.env[key];
    else process.env[key] = env[key];
  }
  try {
    return await boot();
  } finally {
    for (const key of STORE_VARIABLES) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
}

/** Boots the sample with only the given store variables set, runs its login flow, and returns the store it used. */
async function sampleWith(t: TestContext, env: StoreEnv): Promise<unknown> {
  const app: TestApp = await withStoreEnv(env, () => startApp(t, AppModule));
  const client = app.client();
  assert.equal((await client.post('/login', { username: 'demo', password: 'demo' })).status, 200);
  assert.deepEqual((await client.get('/dashboard')).body, { username: 'demo', views: 0 });
  assert.equal((await client.post('/logout')).status, 200);
  assert.equal((await client.get('/dashboard')).status, 401);
  const store: unknown = app.nest.get(SESSION_MODULE_OPTIONS).session.store;
  await app.close();
  return store;
}

describe('the sample picks its store from the environment', () => {
  it('no REDIS_URL or DATABASE_URL: the embedded store', async (t) => {
    assert.ok((await sampleWith(t, {})) instanceof EmbeddedStore);
  });

  it('REDIS_URL: Redis', { skip: skipWithout('REDIS_URL') }, async (t) => {
    assert.ok((await sampleWith(t, { REDIS_URL })) instanceof RedisSessionStore);
  });

  it('DATABASE_URL: PostgreSQL', { skip: skipWithout('DATABASE_URL') }, async (t) => {
    assert.ok((await sampleWith(t, { DATABASE_URL })) instanceof PostgresSessionStore);
  });

  it('SESSION_STORE=sqlite: SQLite, in the file SQLITE_PATH names', { skip: skipWithoutSqlite() }, async (t) => {
    const path = tempDatabase(t);
    assert.ok((await sampleWith(t, { SESSION_STORE: 'sqlite', SQLITE_PATH: path })) instanceof SqliteSessionStore);
    assert.ok(existsSync(path), 'the sessions are in the file');
    assert.equal(DEFAULT_SQLITE_PATH, resolve('sample/data/sessions.db'), 'by default, in sample/data/');
  });

  it('SESSION_STORE=sqlite: restart the sample, still logged in', { skip: skipWithoutSqlite() }, async (t) => {
    const env = { SESSION_STORE: 'sqlite', SQLITE_PATH: tempDatabase(t) };
    const first = await withStoreEnv(env, () => startApp(t, AppModule));
    const client = first.client();
    assert.equal((await client.post('/login', { username: 'demo', password: 'demo' })).status, 200);
    assert.equal((await client.get('/dashboard')).status, 200);
    await first.close();
    const second = await withStoreEnv(env, () => startApp(t, AppModule));
    const dashboard = await second.client().get('/dashboard', { cookie: client.cookieHeader() });
    assert.equal(dashboard.status, 200, 'the cookie from before the restart opens the dashboard');
    assert.deepEqual(dashboard.body, { username: 'demo', views: 0 });
  });

  it(
    'SESSION_STORE=sqlite on a Node.js without node:sqlite: the sample fails at boot, saying what it needs',
    { skip: HAS_SQLITE && 'this Node.js has node:sqlite' },
    async (t) => {
      await assert.rejects(
        withStoreEnv({ SESSION_STORE: 'sqlite', SQLITE_PATH: tempDatabase(t) }, () => createApp(t, AppModule)),
        /SESSION_STORE=sqlite needs Node\.js 22\.5 or later/,
      );
    },
  );

  it('an unknown SESSION_STORE: the sample fails at boot, naming it', async (t) => {
    await assert.rejects(
      withStoreEnv({ SESSION_STORE: 'mongo' }, () => createApp(t, AppModule)),
      /SESSION_STORE=mongo is not a store the sample knows/,
    );
  });
});
