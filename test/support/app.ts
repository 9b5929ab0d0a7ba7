import 'reflect-metadata';
import { Module } from '@nestjs/common';
import type { DynamicModule, INestApplication, Provider, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Client } from './http.js';

/** A Nest app listening on 127.0.0.1 on a free port. */
export interface TestApp {
  app: INestApplication;
  url: string;
  client(): Client;
  close(): Promise<void>;
}

/** What a test app is made of. */
export interface TestAppSpec {
  imports?: (Type<unknown> | DynamicModule)[];
  controllers?: Type<unknown>[];
  providers?: Provider[];
  globalPrefix?: string;
}

/** Boots a real Nest application over HTTP. */
export async function startApp(spec: TestAppSpec | Type<unknown>): Promise<TestApp> {
  let root: Type<unknown>;
  let prefix: string | undefined;
  if (typeof spec === 'function') {
    root = spec;
  } else {
    @Module({ imports: spec.imports ?? [], controllers: spec.controllers ?? [], providers: spec.providers ?? [] })
    class TestRootModule {}
    root = TestRootModule;
    prefix = spec.globalPrefix;
  }
  const app = await NestFactory.create<NestExpressApplication>(root, {
    logger: process.env.TEST_LOGS ? undefined : false,
  });
  if (prefix) app.setGlobalPrefix(prefix);
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    app,
    url,
    client: () => new Client(url),
    close: () => app.close(),
  };
}

/** A secret long enough for production checks; tests use it everywhere. */
export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
