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
  Req,
  UseGuards,
  UseInterceptors,
  forwardRef,
} from '@nestjs/common';
import type { MiddlewareConsumer, NestModule, Provider, Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { SessionModule, SessionService } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { AppSpec } from '../support/app.js';

// Every way an app can reach SessionService opens its request context. (The rest of the suite is in
// request-context.test.ts.)

const sessionModule = () => SessionModule.forRoot({ session: { secret: TEST_SECRET } });

describe('SessionService request context', () => {
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
});
