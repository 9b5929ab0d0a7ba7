/**
 * One benchmark variant in its own process: `node out/bench/server.js <variant> [redis-url]`.
 * Listens on 127.0.0.1 on a free port and prints `{"port":N}` on stdout; SIGTERM closes it.
 * With an IPC channel it answers `{ type: 'memory' }` with `process.memoryUsage()` and `{ type: 'cpu' }`
 * with `process.cpuUsage()`; `profile-start` / `profile-stop` (with `file`) record a CPU profile of what runs
 * in between (the measured rounds only, without start-up and warm-up); `count-start` / `count-stop` count
 * the async resources (promises, timers, ...) created per request.
 */
import 'reflect-metadata';
import { createHook } from 'node:async_hooks';
import { writeFileSync } from 'node:fs';
import { Session as InspectorSession } from 'node:inspector';
import { CanActivate, Controller, Get, Injectable, Module, Session as NestSession } from '@nestjs/common';
import type { CallHandler, DynamicModule, ExecutionContext, NestInterceptor, Provider, Type } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { RedisStore } from 'connect-redis';
import session from 'express-session';
import type { SessionData, Store } from 'express-session';
import { SessionModule as NestjsSessionModule } from 'nestjs-session';
import { createClient } from 'redis';
import type { Observable } from 'rxjs';
import {
  EmbeddedStore,
  redisStore as moduleRedisStore,
  Session,
  SessionModule,
  SessionService,
} from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
/** Held sessions: far more than the connections, so no variant evicts a live session. */
const MAX_SESSIONS = Number(process.env.BENCH_MAX_SESSIONS ?? 100_000);
const TOUCH_AFTER = 60_000;

type Counter = Partial<SessionData>;

function count(session: Counter): { views: number } {
  session.views = (session.views ?? 0) + 1;
  return { views: session.views };
}

/** The handler of every variant that uses our @Session(). */
@Controller()
class ModuleController {
  @Get()
  count(@Session() session: Counter): { views: number } {
    return count(session);
  }

  @Get('read')
  read(@Session('views') views: number | undefined): { views: number } {
    return { views: views ?? 0 };
  }
}

/** The same handler reading through SessionService. */
@Controller()
class ServiceController {
  constructor(private readonly sessions: SessionService) {}

  @Get()
  count(): { views: number } {
    const views = (this.sessions.get('views') ?? 0) + 1;
    this.sessions.set('views', views);
    return { views };
  }

  @Get('read')
  read(): { views: number } {
    return { views: this.sessions.get('views') ?? 0 };
  }
}

/** The same handler with Nest's own @Session() (raw express-session and nestjs-session). */
@Controller()
class NestSessionController {
  @Get()
  count(@NestSession() session: Counter): { views: number } {
    return count(session);
  }

  @Get('read')
  read(@NestSession() session: Counter): { views: number } {
    return { views: session.views ?? 0 };
  }
}

/** No session at all: the counter lives in the process. */
@Controller()
class PlainController {
  private views = 0;

  @Get()
  count(): { views: number } {
    this.views += 1;
    return { views: this.views };
  }
}

/** A global guard doing what SessionAvailabilityGuard does on a healthy request. */
@Injectable()
class NoopGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() === 'http') context.switchToHttp().getRequest<{ session?: unknown }>();
    return true;
  }
}

/** A global interceptor that only passes the handler's result on. */
@Injectable()
class NoopInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle();
  }
}

interface Built {
  root: Type<unknown>;
  /** Runs on the app before listen (the `main.ts` part). */
  main?: (app: NestExpressApplication) => void;
  close?: () => Promise<void>;
}

function rootModule(
  imports: (Type<unknown> | DynamicModule)[],
  controller: Type<unknown>,
  providers: Provider[] = [],
): Type<unknown> {
  @Module({ imports, controllers: [controller], providers })
  class BenchModule {}
  return BenchModule;
}

/** A connected client, and connect-redis over it (raw variants) or the module's redisStore() over it. */
async function redisStore(
  url: string,
  prefix: string,
  kind: 'connect-redis' | 'module',
): Promise<{ store: Store; close: () => Promise<void> }> {
  const client = createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  const store = kind === 'module' ? moduleRedisStore({ client, prefix }) : new RedisStore({ client, prefix });
  return { store, close: () => client.quit().then(() => undefined) };
}

async function build(variant: string, redisUrl: string | undefined): Promise<Built> {
  const embedded = (): EmbeddedStore => new EmbeddedStore({ maxSessions: MAX_SESSIONS });
  const rawMain = (store: Store) => (app: NestExpressApplication) => {
    app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, store }));
  };
  const moduleOptions = (extra: Partial<SessionModuleOptions> = {}): SessionModuleOptions => ({
    session: { secret: SECRET },
    embeddedStore: { maxSessions: MAX_SESSIONS },
    ...extra,
  });
  const redis = async (kind: 'connect-redis' | 'module') => {
    if (!redisUrl) throw new Error(`variant ${variant} needs a Redis URL`);
    return redisStore(redisUrl, `bench:${variant}:${process.pid}:`, kind);
  };

  switch (variant) {
    case 'none':
      return { root: rootModule([], PlainController) };
    case 'raw':
      return { root: rootModule([], NestSessionController), main: rawMain(embedded()) };
    case 'raw-guard':
      return {
        root: rootModule([], NestSessionController, [{ provide: APP_GUARD, useClass: NoopGuard }]),
        main: rawMain(embedded()),
      };
    case 'raw-interceptor':
      return {
        root: rootModule([], NestSessionController, [{ provide: APP_INTERCEPTOR, useClass: NoopInterceptor }]),
        main: rawMain(embedded()),
      };
    case 'module':
      return { root: rootModule([SessionModule.forRoot(moduleOptions())], ModuleController) };
    case 'module-forroutes':
      return { root: rootModule([SessionModule.forRoot(moduleOptions({ forRoutes: ['{*path}'] }))], ModuleController) };
    case 'service':
      return { root: rootModule([SessionModule.forRoot(moduleOptions())], ServiceController) };
    case 'nestjs-session':
      return {
        root: rootModule(
          [
            // nestjs-session brings its own (older) @nestjs/common typings.
            NestjsSessionModule.forRoot({
              session: { secret: SECRET, resave: false, saveUninitialized: false, store: embedded() },
              forRoutes: ['{*path}'],
            }) as unknown as DynamicModule,
          ],
          NestSessionController,
        ),
      };
    case 'new-session':
      return {
        root: rootModule(
          [SessionModule.forRoot(moduleOptions({ session: { secret: SECRET, saveUninitialized: true } }))],
          ModuleController,
        ),
      };
    case 'soak':
      // The soak: a new session per request through SessionService (request context on, store evicting).
      return {
        root: rootModule(
          [SessionModule.forRoot(moduleOptions({ session: { secret: SECRET, saveUninitialized: true } }))],
          ServiceController,
        ),
      };
    case 'redis-raw':
    case 'redis-raw-read': {
      const { store, close } = await redis('connect-redis');
      return { root: rootModule([], NestSessionController), main: rawMain(store), close };
    }
    case 'redis-module':
    case 'redis-module-read':
    case 'redis-touchafter-read': {
      const { store, close } = await redis('module');
      const touchAfter = variant === 'redis-touchafter-read' ? { touchAfter: TOUCH_AFTER } : {};
      const options = moduleOptions({ session: { secret: SECRET, store }, ...touchAfter });
      return { root: rootModule([SessionModule.forRoot(options)], ModuleController), close };
    }
    default:
      throw new Error(`unknown variant '${variant}'`);
  }
}

async function main(): Promise<void> {
  const [variant, redisUrl] = process.argv.slice(2);
  if (!variant) throw new Error('usage: node out/bench/server.js <variant> [redis-url]');
  const built = await build(variant, redisUrl);
  const app = await NestFactory.create<NestExpressApplication>(built.root, { logger: ['error', 'warn'] });
  built.main?.(app);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  process.stdout.write(`${JSON.stringify({ port: address.port, pid: process.pid })}\n`);

  let closing = false;
  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    await app.close();
    await built.close?.();
    process.exit(0);
  };
  process.on('SIGTERM', () => void close());
  process.on('SIGINT', () => void close());
  let profiler: InspectorSession | undefined;
  // `count-start` / `count-stop`: async resources created per request, by type (a hook that slows the
  // server, so only for a short pass after the measured rounds).
  const counted = { requests: 0, types: {} as Record<string, number> };
  const countHook = createHook({
    init(_id, type) {
      counted.types[type] = (counted.types[type] ?? 0) + 1;
    },
  });
  const countRequest = (): void => void (counted.requests += 1);
  const httpServer = app.getHttpServer();
  process.on('message', (message: { type?: string; file?: string }) => {
    if (message?.type === 'memory') {
      const before = process.memoryUsage();
      // With --expose-gc, also the heap that survives a full collection: what a leak would grow.
      (globalThis as { gc?: () => void }).gc?.();
      process.send?.({ type: 'memory', usage: { ...before, heapAfterGc: process.memoryUsage().heapUsed } });
    }
    if (message?.type === 'cpu') process.send?.({ type: 'cpu', usage: process.cpuUsage() });
    if (message?.type === 'count-start') {
      counted.requests = 0;
      counted.types = {};
      httpServer.on('request', countRequest);
      countHook.enable();
      process.send?.({ type: 'count-start', usage: {} });
    }
    if (message?.type === 'count-stop') {
      countHook.disable();
      httpServer.off('request', countRequest);
      process.send?.({ type: 'count-stop', usage: { requests: counted.requests, types: counted.types } });
    }
    if (message?.type === 'profile-start') {
      profiler = new InspectorSession();
      profiler.connect();
      profiler.post('Profiler.enable', () =>
        profiler!.post('Profiler.start', () => process.send?.({ type: 'profile-start', usage: {} })),
      );
    }
    if (message?.type === 'profile-stop' && profiler && message.file) {
      const file = message.file;
      profiler.post('Profiler.stop', (err, result) => {
        if (!err) writeFileSync(file, JSON.stringify(result.profile));
        profiler!.disconnect();
        profiler = undefined;
        process.send?.({ type: 'profile-stop', usage: { file } });
      });
    }
  });
  // The IPC channel closes when the runner dies: never outlive it.
  process.on('disconnect', () => void close());
}

main().catch((err: unknown) => {
  process.stderr.write(`bench server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
