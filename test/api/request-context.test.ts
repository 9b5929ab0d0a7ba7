import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Controller, Get, Query } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { SessionData } from 'express-session';
import { Session, SessionModule, SessionService } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import { sidOf } from '../support/http.js';
import { sleep } from '../support/net.js';

const sessionModule = () => SessionModule.forRoot({ session: { secret: TEST_SECRET } });

/** Reads the session through the service before and after awaits, and through @Session() for comparison. */
@Controller('who')
class WhoController {
  constructor(private readonly sessions: SessionService) {}

  @Get('claim')
  claim(@Query('client') client: string): { id: string } {
    this.sessions.set('client', client);
    return { id: this.sessions.id };
  }

  @Get()
  async who(
    @Session() session: Partial<SessionData> & { id: string },
    @Query('wait') wait: string,
  ): Promise<{ before: unknown; after: unknown; id: string; decoratorId: string; counter: number }> {
    const before = this.sessions.get('client');
    const counter = (this.sessions.get('counter') ?? 0) + 1;
    this.sessions.set('counter', counter);
    // Yield in different ways so that requests overtake each other.
    await sleep(Number(wait));
    await new Promise<void>((resolve) => setImmediate(resolve));
    await Promise.resolve();
    return { before, after: this.sessions.get('client'), id: this.sessions.id, decoratorId: session.id, counter };
  }
}

describe('SessionService request context', () => {
  it('40 interleaved requests from 4 clients: each sees only its own session, across awaits', async (t) => {
    const app = await startApp(t, { imports: [sessionModule()], controllers: [WhoController] });
    const names = ['ann', 'bob', 'cyd', 'dee'];
    const clients = names.map(() => app.client());
    const ids = await Promise.all(
      clients.map(async (client, i) => {
        const res = await client.get(`/who/claim?client=${names[i]}`);
        assert.equal(res.status, 200);
        assert.equal(sidOf(client.jar.get('connect.sid')), res.body.id);
        return res.body.id as string;
      }),
    );
    assert.equal(new Set(ids).size, 4, 'four distinct sessions');
    // Request k goes to client k % 4 with a wait that makes later requests finish first.
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, k) => clients[k % 4].get(`/who?wait=${(40 - k) % 7}`).then((res) => ({ k, res }))),
    );
    const counters = new Map<number, number[]>();
    for (const { k, res } of responses) {
      const i = k % 4;
      assert.equal(res.status, 200, `request ${k}`);
      assert.equal(res.body.before, names[i], `request ${k} read its own session before awaiting`);
      assert.equal(res.body.after, names[i], `request ${k} read its own session after awaiting`);
      assert.equal(res.body.id, ids[i], `request ${k} saw its own session id`);
      assert.equal(res.body.decoratorId, ids[i], `request ${k}: @Session() agrees`);
      counters.set(i, [...(counters.get(i) ?? []), res.body.counter]);
    }
    for (const [i, seen] of counters) {
      assert.equal(seen.length, 10, `client ${names[i]} sent 10 requests`);
      assert.ok(
        seen.every((n) => n >= 1 && n <= 10),
        `client ${names[i]} counted only its own requests: ${seen.join(',')}`,
      );
    }
  });

  describe('in an app that never injects SessionService', () => {
    @Controller()
    class LookupController {
      constructor(private readonly moduleRef: ModuleRef) {}

      @Get('decorator')
      decorator(@Session() session: Partial<SessionData>): { views: number } {
        session.views = (session.views ?? 0) + 1;
        return { views: session.views };
      }

      @Get('lookup')
      lookup(): { error: string | null } {
        try {
          this.moduleRef.get(SessionService, { strict: false }).get('views');
          return { error: null };
        } catch (err) {
          return { error: (err as Error).message };
        }
      }
    }

    it('@Session() works, and a service reached through ModuleRef says how to inject it', async (t) => {
      const app = await startApp(t, { imports: [sessionModule()], controllers: [LookupController] });
      const client = app.client();
      assert.deepEqual((await client.get('/decorator')).body, { views: 1 });
      assert.deepEqual((await client.get('/decorator')).body, { views: 2 });
      const res = await client.get('/lookup');
      assert.equal(res.status, 200);
      assert.match(res.body.error, /SessionService was reached without a request context/);
      assert.match(res.body.error, /constructor or @Inject\(\) property dependency/);
    });
  });

  it('outside a request the service says so, even where the context is open', async (t) => {
    const app = await startApp(t, { imports: [sessionModule()], controllers: [WhoController] });
    const sessions = app.nest.get(SessionService);
    assert.throws(() => sessions.id, /outside an HTTP request/);
  });
});
