import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EmbeddedStore, PostgresSessionStore, RedisSessionStore, SESSION_MODULE_OPTIONS } from 'nest-express-session';
import { AppModule } from '../../sample/app.module.js';
import { startApp } from '../support/app.js';
import { DATABASE_URL, REDIS_URL, skipWithout } from '../support/env.js';

/** Boots the sample with only the given store variables set, and runs its login flow. */
async function sampleWith(env: { REDIS_URL?: string; DATABASE_URL?: string }): Promise<unknown> {
  const saved = { REDIS_URL: process.env.REDIS_URL, DATABASE_URL: process.env.DATABASE_URL };
  for (const key of ['REDIS_URL', 'DATABASE_URL'] as const) {
    if (env[key] === undefined) delete process.env[key];
    else process.env[key] = env[key];
  }
  let t;
  try {
    t = await startApp(AppModule);
  } finally {
    Object.assign(process.env, saved);
    for (const key of ['REDIS_URL', 'DATABASE_URL'] as const) if (saved[key] === undefined) delete process.env[key];
  }
  try {
    const client = t.client();
    assert.equal((await client.post('/login', { username: 'demo', password: 'demo' })).status, 200);
    assert.deepEqual((await client.get('/dashboard')).body, { username: 'demo', views: 0 });
    assert.equal((await client.post('/logout')).status, 200);
    assert.equal((await client.get('/dashboard')).status, 401);
    return t.app.get(SESSION_MODULE_OPTIONS).session.store;
  } finally {
    await t.close();
  }
}

describe('the sample picks its store from the environment', () => {
  it('no REDIS_URL or DATABASE_URL: the embedded store', async () => {
    assert.ok((await sampleWith({})) instanceof EmbeddedStore);
  });

  it('REDIS_URL: Redis', { skip: skipWithout('REDIS_URL') }, async () => {
    assert.ok((await sampleWith({ REDIS_URL })) instanceof RedisSessionStore);
  });

  it('DATABASE_URL: PostgreSQL', { skip: skipWithout('DATABASE_URL') }, async () => {
    assert.ok((await sampleWith({ DATABASE_URL })) instanceof PostgresSessionStore);
  });
});
