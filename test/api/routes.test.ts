import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Controller, Get, RequestMethod } from '@nestjs/common';
import { SessionModule, SessionService } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import { CounterController } from '../support/controllers.js';

@Controller('health')
class HealthController {
  constructor(private readonly sessions: SessionService) {}

  @Get()
  health(): { ok: true } {
    return { ok: true };
  }

  /** Reaches for the service on a route without a session: the error must say so. */
  @Get('service')
  service(): { error: string } {
    try {
      void this.sessions.id;
      return { error: 'none' };
    } catch (err) {
      return { error: (err as Error).message };
    }
  }
}

describe('where the session is mounted', () => {
  it('by default: `/`, a nested path and a route added by another controller all have a session', async (t) => {
    const app = await startApp(t, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET } })],
      controllers: [CounterController],
    });
    const client = app.client();
    for (const path of ['/', '/nested/deep/path', '/other']) {
      const res = await client.get(path);
      assert.equal(res.status, 200, path);
    }
    const res = await client.get('/');
    assert.deepEqual(res.body, { views: 4 }, 'the three paths shared one session');
  });

  it('by default, under a global prefix: the prefix root and nested paths have a session', async (t) => {
    const app = await startApp(t, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET } })],
      controllers: [CounterController],
      globalPrefix: 'api',
    });
    const client = app.client();
    assert.deepEqual((await client.get('/api')).body, { views: 1 });
    assert.deepEqual((await client.get('/api/nested/deep/path')).body, { views: 2 });
    assert.deepEqual((await client.get('/api/')).body, { views: 3 });
  });

  it('exclude: the excluded route gets no session (@Session() is undefined, the service says why), others do', async (t) => {
    const app = await startApp(t, {
      imports: [
        SessionModule.forRoot({
          session: { secret: TEST_SECRET },
          exclude: [{ path: 'other', method: RequestMethod.GET }, 'health/{*rest}', 'health'],
        }),
      ],
      controllers: [CounterController, HealthController],
    });
    const client = app.client();
    assert.deepEqual((await client.get('/')).body, { views: 1 });
    const other = await client.get('/other');
    assert.equal(other.status, 200);
    assert.deepEqual(other.body, { views: null });
    assert.equal(other.setCookies.length, 0);
    const service = await client.get('/health/service');
    assert.match(service.body.error, /has no session/);
    assert.deepEqual((await client.get('/nested/deep/path')).body, { views: 2 });
  });

  it('forRoutes: only the listed routes (by path and by controller) get a session', async (t) => {
    const app = await startApp(t, {
      imports: [
        SessionModule.forRoot({
          session: { secret: TEST_SECRET },
          forRoutes: [{ path: 'nested/{*rest}', method: RequestMethod.ALL }, HealthController],
        }),
      ],
      controllers: [CounterController, HealthController],
    });
    const client = app.client();
    assert.deepEqual((await client.get('/other')).body, { views: null }, 'not listed: no session');
    assert.deepEqual((await client.get('/nested/deep/path')).body, { views: 1 });
    assert.deepEqual((await client.get('/nested/deep/path')).body, { views: 2 });
    const service = await client.get('/health/service');
    assert.equal(service.body.error, 'none', 'the controller given to forRoutes has a session');
  });
});
