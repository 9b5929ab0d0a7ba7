/**
 * One benchmark variant in its own process: `node out/bench/server.js <variant> [redis-or-postgres-url]`.
 * Listens on 127.0.0.1 on a free port and prints `{"port":N}` on stdout; SIGTERM closes it.
 * With an IPC channel it answers `{ type: 'memory' }` with `process.memoryUsage()`, `{ type: 'cpu' }`
 * with `process.cpuUsage()` and `{ type: 'stats' }` with the requests its handlers served and the store round
 * trips made so far (bench/round-trips.ts); `profile-start` / `profile-stop` (with `file`) record a CPU
 * profile of what runs in between (the measured rounds only, without start-up and warm-up); `count-start` /
 * `count-stop` count the async resources (promises, timers, ...) created per request.
 *
 * Routes: `GET /` counts in the session, `GET /read` only reads it, `GET /hot/:k` adds 1 to the session's key
 * `c<k>` (the hot-session scenario: one session, a key per connection), `GET /hot-total` sums those keys.
 */
import 'reflect-metadata';
import { createHook } from 'node:async_hooks';
import { writeFileSync } from 'node:fs';
import { Session as InspectorSession } from 'node:inspector';
import { CanActivate, Controller, Get, Injectable, Module, Param, Session as NestSession } from '@nestjs/common';
import type { CallHandler, DynamicModule, ExecutionContext, NestInterceptor, Provider, Type } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import connectPgSimple from 'connect-pg-simple';
import { RedisStore } from 'connect-redis';
import session from 'express-session';
import type { SessionData, Store } from 'express-session';
import { SessionModule as NestjsSessionModule } from 'nestjs-session';
import pg from 'pg';
import { createClient } from 'redis';
import type { Observable } from 'rxjs';
import {
  redisStore as moduleRedisStore,
  postgresStore,
  Session,
  SESSION_MODULE_OPTIONS,
  SessionModule,
  SessionService,
} from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import { countQueries, countRedisCommands, countStoreCalls, roundTrips } from './round-trips.js';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
/** Held sessions: far more than the connections, so no variant evicts a live session. */
const MAX_SESSIONS = Number(process.env.BENCH_MAX_SESSIONS ?? 100_000);
const TOUCH_AFTER = 60_000;

type Counter = Partial<SessionData>;

/** Requests the handlers served (the denominator of round trips per request). */
let handled = 0;
/** Requests the hot-session handler served: each added 1 to a counter in the session. */
let hotHandled = 0;

function count(session: Counter): { views: number } {
  handled += 1;
  session.views = (session.views ?? 0) + 1;
  return { views: session.views };
}

function read(session: Counter): { views: number } {
  handled += 1;
  return { views: session.views ?? 0 };
}

/** The hot-session write: connection `k` adds 1 to its own key of the session all connections share. */
function bump(session: Counter, k: string): { n: number } {
  handled += 1;
  hotHandled += 1;
  const values = session as Record<string, unknown>;
  const n = ((values[`c${k}`] as number | undefined) ?? 0) + 1;
  values[`c${k}`] = n;
  return { n };
}

/** The hot-session counters as stored, summed, and how many increments the handler made: the difference was lost. */
function hotTotal(session: Counter): { stored: number; handled: number } {
  let stored = 0;
  for (const [key, value] of Object.entries(session)) {
    if (/^c\d+$/.test(key) && typeof value === 'number') stored += value;
  }
  return { stored, handled: hotHandled };
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
    handled += 1;
    return { views: views ?? 0 };
  }

  @Get('hot-total')
  hotTotal(@Session() session: Counter): { stored: number; handled: number } {
    return hotTotal(session);
  }

  @Get('hot/:k')
  hot(@Session() session: Counter, @Param('k') k: string): { n: number } {
    return bump(session, k);
  }
}

/** The same handler reading through SessionService. */
@Controller()
class ServiceController {
  constructor(private readonly sessions: SessionService) {}

  @Get()
  count(): { views: number } {
    handled += 1;
    const views = (this.sessions.get('views') ?? 0) + 1;
    this.sessions.set('views', views);
    return { views };
  }

  @Get('read')
  read(): { views: number } {
    handled += 1;
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
    return read(session);
  }

  @Get('hot-total')
  hotTotal(@NestSession() session: Counter): { stored: number; handled: number } {
    return hotTotal(session);
  }

  @Get('hot/:k')
  hot(@NestSession() session: Counter, @Param('k') k: string): { n: number } {
    return bump(session, k);
  }
}

/** No session at all: the counter lives in the process. */
@Controller()
class PlainController {
  private views = 0;

  @Get()
  count(): { views: number } {
    handled += 1;
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
  /**
   * The in-memory store whose calls are counted as round trips: one given to express-session, or 'module'
   * for the store the module resolved. Redis and PostgreSQL variants count their client's commands instead.
   */
  counted?: Store | 'module';
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

/** A connected client (its commands counted), and connect-redis over it (raw) or the module's redisStore(). */
async function redisStore(
  url: string,
  prefix: string,
  kind: 'connect-redis' | 'module',
): Promise<{ store: Store; close: () => Promise<void> }> {
  const client = createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  countRedisCommands(client);
  const store = kind === 'module' ? moduleRedisStore({ client, prefix }) : new RedisStore({ client, prefix });
  return { store, close: () => client.quit().then(() => undefined) };
}

/**
 * A pool of 10 connections (its queries counted), and connect-pg-simple over it (raw) or the module's
 * postgresStore(), on a table of this process's own.
 */
async function pgStore(
  url: string,
  kind: 'connect-pg-simple' | 'module',
): Promise<{ store: Store; close: () => Promise<void> }> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => undefined);
  countQueries(pool);
  const tableName = `session_${process.pid}`;
  if (kind === 'module') return { store: postgresStore({ pool, tableName }), close: () => pool.end() };
  // connect-pg-simple's own table script names its primary key "session_pkey" whatever the table: a second
  // server's table would collide with it. The same table, its key named by PostgreSQL.
  await pool.query(
    `CREATE TABLE "${tableName}" (sid varchar NOT NULL PRIMARY KEY, sess json NOT NULL, expire timestamp(6) NOT NULL);` +
      ` CREATE INDEX ON "${tableName}" (expire)`,
  );
  const PgStore = connectPgSimple(session);
  const store = new PgStore({ pool, tableName });
  return {
    store,
    close: async () => {
      store.close();
      await pool.end();
    },
  };
}

async function build(variant: string, backendUrl: string | undefined): Promise<Built> {
  // What express-session uses when given no store; made here so that its calls can be counted.
  const memoryStore = (): Store => new session.MemoryStore();
  const raw = (controller: Type<unknown>, providers: Provider[] = []): Built => {
    const store = memoryStore();
    return {
      root: rootModule([], controller, providers),
      main: (app) => app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, store })),
      counted: store,
    };
  };
  const rawMain = (store: Store) => (app: NestExpressApplication) => {
    app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, store }));
  };
  const moduleOptions = (extra: Partial<SessionModuleOptions> = {}): SessionModuleOptions => ({
    session: { secret: SECRET },
    embeddedStore: { maxSessions: MAX_SESSIONS },
    ...extra,
  });
  const onModule = (options: SessionModuleOptions, controller: Type<unknown> = ModuleController): Built => ({
    root: rootModule([SessionModule.forRoot(options)], controller),
    counted: 'module',
  });
  const url = (): string => {
    if (!backendUrl) throw new Error(`variant ${variant} needs a Redis or PostgreSQL URL`);
    return backendUrl;
  };
  const redis = (kind: 'connect-redis' | 'module') => redisStore(url(), `bench:${variant}:${process.pid}:`, kind);

  switch (variant) {
    case 'none':
      return { root: rootModule([], PlainController) };
    case 'raw':
      return raw(NestSessionController);
    case 'raw-guard':
      return raw(NestSessionController, [{ provide: APP_GUARD, useClass: NoopGuard }]);
    case 'raw-interceptor':
      return raw(NestSessionController, [{ provide: APP_INTERCEPTOR, useClass: NoopInterceptor }]);
    case 'module':
      return onModule(moduleOptions());
    case 'module-memorystore':
      // The module's path for stores it does not ship: the latest copy is read before each write.
      return onModule(moduleOptions({ session: { secret: SECRET, store: memoryStore() } }));
    case 'module-forroutes':
      return onModule(moduleOptions({ forRoutes: ['{*path}'] }));
    case 'service':
      return onModule(moduleOptions(), ServiceController);
    case 'nestjs-session': {
      const store = memoryStore();
      return {
        root: rootModule(
          [
            // nestjs-session brings its own (older) @nestjs/common typings.
            NestjsSessionModule.forRoot({
              session: { secret: SECRET, resave: false, saveUninitialized: false, store },
              forRoutes: ['{*path}'],
            }) as unknown as DynamicModule,
          ],
          NestSessionController,
        ),
        counted: store,
      };
    }
    case 'new-session':
      return onModule(moduleOptions({ session: { secret: SECRET, saveUninitialized: true } }));
    case 'soak':
      // The soak: a new session per request through SessionService (request context on, store evicting).
      return onModule(moduleOptions({ session: { secret: SECRET, saveUninitialized: true } }), ServiceController);
    case 'redis-raw': {
      const { store, close } = await redis('connect-redis');
      return { root: rootModule([], NestSessionController), main: rawMain(store), close };
    }
    case 'redis-module':
    case 'redis-touchafter-read': {
      const { store, close } = await redis('module');
      const touchAfter = variant === 'redis-touchafter-read' ? { touchAfter: TOUCH_AFTER } : {};
      const options = moduleOptions({ session: { secret: SECRET, store }, ...touchAfter });
      return { root: rootModule([SessionModule.forRoot(options)], ModuleController), close };
    }
    case 'pg-raw': {
      const { store, close } = await pgStore(url(), 'connect-pg-simple');
      return { root: rootModule([], NestSessionController), main: rawMain(store), close };
    }
    case 'pg-module': {
      const { store, close } = await pgStore(url(), 'module');
      const options = moduleOptions({ session: { secret: SECRET, store } });
      return { root: rootModule([SessionModule.forRoot(options)], ModuleController), close };
    }
    default:
      throw new Error(`unknown variant '${variant}'`);
  }
}

async function main(): Promise<void> {
  const [variant, backendUrl] = process.argv.slice(2);
  if (!variant) throw new Error('usage: node out/bench/server.js <variant> [redis-or-postgres-url]');
  const built = await build(variant, backendUrl);
  const app = await NestFactory.create<NestExpressApplication>(built.root, { logger: ['error', 'warn'] });
  built.main?.(app);
  // Counted once the module has looked at the store, so that it sees the store exactly as it was given.
  if (built.counted === 'module') {
    countStoreCalls(app.get<{ session: { store: Store } }>(SESSION_MODULE_OPTIONS, { strict: false }).session.store);
  } else if (built.counted) {
    countStoreCalls(built.counted);
  }
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
    if (message?.type === 'stats') process.send?.({ type: 'stats', usage: { handled, roundTrips: { ...roundTrips } } });
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
