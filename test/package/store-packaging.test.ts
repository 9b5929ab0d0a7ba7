import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { REDIS_URL, skipWithout } from '../support/env.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

function node(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('store helpers as a package', () => {
  it('without the optional peers installed, each helper says exactly what to install', async () => {
    const run = await node([fileURLToPath(new URL('../fixtures/missing-peers.js', import.meta.url))]);
    assert.equal(run.code, 0, run.stderr);
    const errors = JSON.parse(run.stdout) as { redis: string; postgres: string };
    assert.match(
      errors.redis,
      /redisStore\(\) needs the optional peer dependency redis@5, which is not installed: npm install redis@5$/,
    );
    assert.match(
      errors.postgres,
      /postgresStore\(\) needs the optional peer dependencies pg@8 and connect-pg-simple@10.*npm install pg@8 connect-pg-simple@10/,
    );
  });

  it('redisStore works from the CommonJS build (require) as well', { skip: skipWithout('REDIS_URL') }, async () => {
    const script = `
      const { redisStore } = require('nest-express-session');
      const store = redisStore({ url: process.env.REDIS_URL, prefix: 'cjs-' + process.pid + ':' });
      const cookie = { originalMaxAge: 60000, expires: new Date(Date.now() + 60000) };
      store.set('sid', { cookie, userId: 'cjs' }, (err) => {
        if (err) throw err;
        store.get('sid', (err2, sess) => {
          if (err2) throw err2;
          console.log(JSON.stringify({ userId: sess.userId, resolved: require.resolve('nest-express-session') }));
          store.destroy('sid', () => store.close());
        });
      });`;
    const run = await node(['-e', script], { REDIS_URL: REDIS_URL! });
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { userId: string; resolved: string };
    assert.equal(out.userId, 'cjs');
    assert.match(out.resolved, /dist[\\/]cjs[\\/]index\.js$/, 'the CommonJS build was loaded');
  });
});
