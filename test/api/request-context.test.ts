import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CallHandler,
  CanActivate,
  Controller,
  ExecutionContext,
  Get,
  Inject,
  Injectable,
  Module,
  NestInterceptor,
  NestMiddleware,
  Query,
  Req,
  UseGuards,
  UseInterceptors,
  forwardRef,
} from '@nestjs/common';
import type { MiddlewareConsumer, NestModule, Provider, Type } from '@nestjs/common';
import { APP_GUARD, ModuleRef } from '@nestjs/core';
import type { SessionData } from 'express-session';
import type { Observable } from 'rxjs';
import { Session, SessionModule, SessionService } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { AppSpec } from '../support/app.js';
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

  describe('is opened when something in the app injects SessionService', () => {
    /** The route each case calls: counts through whatever reads the service, echoed in the body. */
    interface Counter {
      count(): number;
    }
    const counterOf = (sessions: SessionService): Counter => ({
      count: () => {
        const views = (sessions.get('views') ?? 0) + 1;
        sessions.set('views', views);
        return views;
      },
    });

    @Injectable()
    class CountingProvider {
      constructor(private readonly sessions: SessionService) {}
      count(): number {
        return counterOf(this.sessions).count();
      }
    }

    @Injectable()
    class PropertyProvider {
      @Inject(SessionService) private readonly sessions!: SessionService;
      count(): number {
        return counterOf(this.sessions).count();
      }
    }

    @Injectable()
    class ForwardRefProvider {
      constructor(@Inject(forwardRef(() => SessionService)) private readonly sessions: SessionService) {}
      count(): number {
        return counterOf(this.sessions).count();
      }
    }

    @Injectable()
    class MySessions extends SessionService {
      count(): number {
        return counterOf(this).count();
      }
    }

    /** Counts through the service in a guard; the handler echoes what the guard stored on the request. */
    @Injectable()
    class CountingGuard implements CanActivate {
      constructor(private readonly sessions: SessionService) {}
      canActivate(context: ExecutionContext): boolean {
        context.switchToHttp().getRequest().counted = counterOf(this.sessions).count();
        return true;
      }
    }

    @Injectable()
    class CountingInterceptor implements NestInterceptor {
      constructor(private readonly sessions: SessionService) {}
      intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
        context.switchToHttp().getRequest().counted = counterOf(this.sessions).count();
        return next.handle();
      }
    }

    @Injectable()
    class CountingMiddleware implements NestMiddleware {
      constructor(private readonly sessions: SessionService) {}
      use(req: { counted?: number }, _res: unknown, next: () => void): void {
        req.counted = counterOf(this.sessions).count();
        next();
      }
    }

    const COUNTER = 'TEST_COUNTER';
    const ALIAS = 'TEST_SESSION_ALIAS';

    @Controller('count')
    class ViaController {
      constructor(private readonly sessions: SessionService) {}
      @Get() get(): { views: number } {
        return { views: counterOf(this.sessions).count() };
      }
    }
    @Controller('count')
    class ViaProvider {
      constructor(private readonly counter: CountingProvider) {}
      @Get() get(): { views: number } {
        return { views: this.counter.count() };
      }
    }
    @Controller('count')
    class ViaProperty {
      constructor(private readonly counter: PropertyProvider) {}
      @Get() get(): { views: number } {
        return { views: this.counter.count() };
      }
    }
    @Controller('count')
    class ViaForwardRef {
      constructor(private readonly counter: ForwardRefProvider) {}
      @Get() get(): { views: number } {
        return { views: this.counter.count() };
      }
    }
    @Controller('count')
    class ViaSubclass {
      constructor(private readonly sessions: MySessions) {}
      @Get() get(): { views: number } {
        return { views: this.sessions.count() };
      }
    }
    @Controller('count')
    class ViaFactory {
      constructor(@Inject(COUNTER) private readonly counter: Counter) {}
      @Get() get(): { views: number } {
        return { views: this.counter.count() };
      }
    }
    @Controller('count')
    class ViaAlias {
      constructor(@Inject(ALIAS) private readonly sessions: SessionService) {}
      @Get() get(): { views: number } {
        return { views: counterOf(this.sessions).count() };
      }
    }
    /** Echo what an enhancer or middleware counted through the service; they inject nothing themselves. */
    @Controller('count')
    class GuardedEcho {
      @Get()
      @UseGuards(CountingGuard)
      get(@Req() req: { counted?: number }): { views: number | undefined } {
        return { views: req.counted };
      }
    }
    @Controller('count')
    class InterceptedEcho {
      @Get()
      @UseInterceptors(CountingInterceptor)
      get(@Req() req: { counted?: number }): { views: number | undefined } {
        return { views: req.counted };
      }
    }
    @Controller('count')
    class PlainEcho {
      @Get()
      get(@Req() req: { counted?: number }): { views: number | undefined } {
        return { views: req.counted };
      }
    }

    @Module({ imports: [sessionModule()], controllers: [PlainEcho] })
    class MiddlewareApp implements NestModule {
      configure(consumer: MiddlewareConsumer): void {
        consumer.apply(CountingMiddleware).forRoutes('{*path}');
      }
    }

    const cases: [string, AppSpec | Type<unknown>][] = [
      ['a controller constructor', { imports: [sessionModule()], controllers: [ViaController] }],
      [
        'a provider constructor',
        { imports: [sessionModule()], controllers: [ViaProvider], providers: [CountingProvider] },
      ],
      [
        'an @Inject() property',
        { imports: [sessionModule()], controllers: [ViaProperty], providers: [PropertyProvider] },
      ],
      ['a forwardRef()', { imports: [sessionModule()], controllers: [ViaForwardRef], providers: [ForwardRefProvider] }],
      [
        'a subclass of SessionService',
        { imports: [sessionModule()], controllers: [ViaSubclass], providers: [MySessions] },
      ],
      [
        "a factory's inject",
        {
          imports: [sessionModule()],
          controllers: [ViaFactory],
          providers: [{ provide: COUNTER, useFactory: counterOf, inject: [SessionService] } as Provider],
        },
      ],
      [
        'a useExisting alias',
        {
          imports: [sessionModule()],
          controllers: [ViaAlias],
          providers: [{ provide: ALIAS, useExisting: SessionService }],
        },
      ],
      ['a guard in @UseGuards()', { imports: [sessionModule()], controllers: [GuardedEcho] }],
      ['an interceptor in @UseInterceptors()', { imports: [sessionModule()], controllers: [InterceptedEcho] }],
      [
        'a global guard (APP_GUARD)',
        {
          imports: [sessionModule()],
          controllers: [PlainEcho],
          providers: [{ provide: APP_GUARD, useClass: CountingGuard }],
        },
      ],
      ['a middleware class', MiddlewareApp],
    ];

    for (const [name, spec] of cases) {
      it(`${name}: counts 1 then 2 through the service`, async (t) => {
        const app = await startApp(t, spec);
        const client = app.client();
        const first = await client.get('/count');
        assert.equal(first.status, 200, JSON.stringify(first.body));
        assert.deepEqual(first.body, { views: 1 });
        const second = await client.get('/count');
        assert.deepEqual(second.body, { views: 2 });
      });
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
