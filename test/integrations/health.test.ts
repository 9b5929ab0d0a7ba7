import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import type { HealthCheckResult } from '@nestjs/terminus';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { EmbeddedStore, postgresStore, SessionHealthIndicator, SessionModule } from 'nest-express-session';
import type { TestApp } from '../support/app.js';
import { startApp, TEST_SECRET } from '../support/app.js';
import { defer, suiteCleanup } from '../support/cleanup.js';
import { AuthController } from '../support/controllers.js';
import { FaultStore } from '../support/fault-store.js';
import { skipWithout } from '../support/env.js';
import { RedisServer } from '../support/launchers.js';
import { freePort, sleep } from '../support/net.js';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly session: SessionHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.session.isHealthy('session', { timeout: 500 })]);
  }
}

describe(
  'SessionHealthIndicator with @nestjs/terminus and a real Redis (connect-redis 9)',
  { skip: skipWithout('REDIS_SERVER_BIN') },
  () => {
    const suite = suiteCleanup();
    let redis: RedisServer;
    let client: ReturnType<typeof createClient>;
    let app: TestApp;

    before(async () => {
      redis = await RedisServer.start();
      defer(suite, () => redis.dispose());
      client = createClient({
        url: redis.url,
        socket: { reconnectStrategy: (retries) => Math.min(50 * (retries + 1), 200) },
      });
      client.on('error', () => undefined);
      await client.connect();
      defer(suite, () => client.destroy());
      app = await startApp(suite, {
        imports: [
          SessionModule.forRoot({
            session: { secret: TEST_SECRET, store: new RedisStore({ client, prefix: 'health-test:' }) },
            exclude: ['health'],
            storeTimeout: 1000,
          }),
          TerminusModule,
        ],
        controllers: [HealthController, AuthController],
      });
    });

    it('reports the store up while Redis runs, and the probe writes nothing', async () => {
      const http = app.client();
      const res = await http.get('/health');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, {
        status: 'ok',
        info: { session: { status: 'up' } },
        error: {},
        details: { session: { status: 'up' } },
      });
      assert.equal(await client.dbSize(), 0, 'no key was written by the probe');
    });

    it('reports the store down (503) once Redis is stopped, and the health route still answers', async () => {
      const user = app.client();
      assert.equal((await user.post('/auth/login', { userId: 'alice' })).status, 200);
      await redis.stop();
      const res = await user.get('/health');
      assert.equal(res.status, 503);
      assert.equal(res.body.status, 'error');
      assert.equal(res.body.error.session.status, 'down');
      assert.match(res.body.error.session.message, /session store/);
      const me = await user.get('/auth/me');
      assert.equal(me.status, 503, 'requests that need the session get the 503 meanwhile');
    });

    it('reports the store up again once Redis is back, and sessions work', async () => {
      await redis.start();
      let status = 0;
      for (let attempt = 0; attempt < 100 && status !== 200; attempt++) {
        if (attempt > 0) await sleep(100);
        status = (await app.client().get('/health')).status;
      }
      assert.equal(status, 200, 'the indicator is up after the restart');
      const res = await app.client().get('/health');
      assert.deepEqual(res.body.info, { session: { status: 'up' } });
      const user = app.client();
      await user.post('/auth/login', { userId: 'bob' });
      assert.deepEqual((await user.get('/auth/me')).body, { userId: 'bob' });
    });
  },
);

describe('SessionHealthIndicator with faults', () => {
  const suite = suiteCleanup();
  const store = new FaultStore(new EmbeddedStore());
  defer(suite, () => (store.inner as EmbeddedStore).close());
  let app: TestApp;
  let indicator: SessionHealthIndicator;
  before(async () => {
    app = await startApp(suite, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store } }), TerminusModule],
      controllers: [HealthController],
    });
    indicator = app.nest.get(SessionHealthIndicator);
  });

  it('a store that fails a read is down, with the error in the message only when verbose; the next check is up', async () => {
    store.next('get', { kind: 'reject', error: new Error('connection refused') });
    assert.deepEqual(await indicator.isHealthy(), {
      session: { status: 'down', message: 'The session store failed.' },
    });
    store.next('get', { kind: 'reject', error: new Error('connection refused') });
    assert.deepEqual(await indicator.isHealthy('session', { verbose: true }), {
      session: { status: 'down', message: 'The session store failed: Error: connection refused' },
    });
    assert.deepEqual(await indicator.isHealthy(), { session: { status: 'up' } });
  });

  it('a store that never answers is down after the timeout', async () => {
    store.next('get', { kind: 'hang' });
    assert.deepEqual(await indicator.isHealthy('sessions', { timeout: 50 }), {
      sessions: { status: 'down', message: 'The session store did not answer within 50 ms.' },
    });
  });

  it("a store that emitted 'disconnect' is down until it emits 'connect'", async () => {
    store.emit('disconnect');
    const down = await app.client().get('/health');
    assert.equal(down.status, 503);
    assert.deepEqual(down.body.error, {
      session: { status: 'down', message: 'The session store reported a disconnect.' },
    });
    store.emit('connect');
    assert.equal((await app.client().get('/health')).status, 200);
  });
});

// Finding 9 of the hardening review: health output is often public, and the store's own error names
// internal hosts and addresses.
describe('SessionHealthIndicator with a store on an unreachable host', () => {
  it('reports a generic message; only verbose: true gives the store error', async (t) => {
    const port = await freePort();
    const app = await startApp(t, {
      imports: [
        SessionModule.forRoot({
          session: {
            secret: TEST_SECRET,
            store: postgresStore({ connectionString: `postgres://app@127.0.0.1:${port}/app` }),
          },
        }),
      ],
    });
    const indicator = app.nest.get(SessionHealthIndicator);
    const quiet = JSON.stringify(await indicator.isHealthy('session', { timeout: 3000 }));
    assert.equal(quiet, JSON.stringify({ session: { status: 'down', message: 'The session store failed.' } }));
    for (const secret of ['127.0.0.1', String(port), 'ECONNREFUSED']) assert.ok(!quiet.includes(secret), quiet);
    const verbose = await indicator.isHealthy('session', { timeout: 3000, verbose: true });
    assert.equal(verbose.session.status, 'down');
    assert.match(verbose.session.message ?? '', new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
  });
});
