import 'reflect-metadata';
import { Module } from '@nestjs/common';
import type {
  DynamicModule,
  INestApplication,
  LoggerService,
  NestApplicationOptions,
  Provider,
  Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AbstractHttpAdapter } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { defer } from './cleanup.js';
import type { Cleanup } from './cleanup.js';
import { Client } from './http.js';

/** A secret long enough for production checks; tests use it everywhere. */
export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

/** What a test app is made of: the root module's parts, and what to do before it listens. */
export interface AppSpec<A extends INestApplication = NestExpressApplication> {
  imports?: (Type<unknown> | DynamicModule)[];
  controllers?: Type<unknown>[];
  providers?: Provider[];
  globalPrefix?: string;
  /** Runs after NestFactory.create and before listen (adapters, app.use). */
  setup?: (app: A) => void | Promise<void>;
  /** Collects what the app logs (errors included), for tests that read the log. */
  logs?: string[];
}

/** A Nest app listening on 127.0.0.1 on a free port. */
export interface TestApp {
  nest: NestExpressApplication;
  url: string;
  /** A new client (its own cookie jar) of this app. */
  client(): Client;
  /** Closes the app (once: when the test closed it, the cleanup `startApp` registered does nothing). */
  close(): Promise<void>;
}

/**
 * Boots a real Nest application over HTTP, on 127.0.0.1 and a free port, from a spec or a root module.
 * It is closed when the test (or suite) `t` ends.
 */
export async function startApp(t: Cleanup, app: AppSpec | Type<unknown>): Promise<TestApp> {
  const nest = await createApp(t, app);
  await nest.listen(0, '127.0.0.1');
  const url = (await nest.getUrl()).replace('[::1]', '127.0.0.1');
  return { nest, url, client: () => new Client(url), close: () => nest.close() };
}

/**
 * The application `startApp` boots, before it listens: for tests of what booting refuses. Express unless
 * another HTTP adapter is given. It is closed when the test (or suite) `t` ends, unless the test closed it.
 */
export async function createApp<A extends INestApplication = NestExpressApplication>(
  t: Cleanup,
  app: AppSpec<A> | Type<unknown>,
  adapter?: AbstractHttpAdapter,
): Promise<A> {
  const spec: AppSpec<A> = typeof app === 'function' ? {} : app;
  const root = typeof app === 'function' ? app : rootModule(app);
  const options: NestApplicationOptions = {
    logger: spec.logs ? collectingLogger(spec.logs) : process.env.TEST_LOGS ? undefined : false,
    abortOnError: false,
  };
  const nest = adapter
    ? await NestFactory.create<A>(root, adapter, options)
    : await NestFactory.create<A>(root, options);
  // Closed once: by the test, or else when the test ends.
  const close = nest.close.bind(nest);
  let closed: Promise<void> | undefined;
  nest.close = () => (closed ??= close());
  defer(t, () => nest.close());
  if (spec.globalPrefix) nest.setGlobalPrefix(spec.globalPrefix);
  await spec.setup?.(nest);
  return nest;
}

function rootModule(spec: AppSpec<never>): Type<unknown> {
  @Module({ imports: spec.imports ?? [], controllers: spec.controllers ?? [], providers: spec.providers ?? [] })
  class TestRootModule {}
  return TestRootModule;
}

function collectingLogger(lines: string[]): LoggerService {
  const push =
    (level: string) =>
    (message: unknown, ...rest: unknown[]) => {
      const text = message instanceof Error ? `${message.name}: ${message.message}` : String(message);
      lines.push(`${level} ${text} ${rest.map(String).join(' ')}`);
    };
  return { log: push('log'), error: push('error'), warn: push('warn'), debug: push('debug'), verbose: push('verbose') };
}
