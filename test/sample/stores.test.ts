import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { EmbeddedStore, PostgresSessionStore, RedisSessionStore, SESSION_MODULE_OPTIONS } from 'nest-express-session';
import { AppModule } from '../../sample/app.module.js';
import { startApp } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import { DATABASE_URL, REDIS_URL, skipWithout } from '../support/env.js';

/** Boots the sample with only the given store variables set, runs its login flow, and returns the store it used. */
async function sampleWith(t: TestContext, env: { REDIS_URL?: string; DATABASE_URL?: string }): Promise<unknown> {
  const saved = { REDIS_URL: process.env.REDIS_URL, DATABASE_URL: process.env.DATABASE_URL };
  for (const key of ['REDIS_URL', 'DATABASE_URL'] as const) {
    if (env[key] === undefined) delete process.env[key];
    else process.env[key] = env[key];
  }
  let app: TestApp;
  try {
    app = await startApp(t, AppModule);
  } finally {
    Object.assign(process.env, saved);
    for (const key of ['REDIS_URL', 'DATABASE_URL'] as const) if (saved[key] === undefined) delete process.env[key];
  }
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
});
