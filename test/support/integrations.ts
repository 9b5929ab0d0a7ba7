import 'reflect-metadata';
import { Module } from '@nestjs/common';
import type { DynamicModule, INestApplication, LoggerService, Provider, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import { Client } from './http.js';
import type { TestApp } from './app.js';

/** A Nest app with a hook that runs before it listens (adapters, app.use). */
export interface IntegrationAppSpec {
  imports?: (Type<unknown> | DynamicModule)[];
  controllers?: Type<unknown>[];
  providers?: Provider[];
  /** Runs after NestFactory.create and before listen. */
  setup?: (app: NestExpressApplication) => void | Promise<void>;
  /** Collects what the app logs (errors included), for tests that read the log. */
  logs?: string[];
}

/** Boots a real Nest application over HTTP on 127.0.0.1 and a free port. */
export async function startIntegrationApp(spec: IntegrationAppSpec): Promise<TestApp> {
  @Module({ imports: spec.imports ?? [], controllers: spec.controllers ?? [], providers: spec.providers ?? [] })
  class IntegrationRootModule {}
  const logger = spec.logs ? collectingLogger(spec.logs) : process.env.TEST_LOGS ? undefined : false;
  const app = await NestFactory.create<NestExpressApplication>(IntegrationRootModule, { logger });
  await spec.setup?.(app);
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { app: app as INestApplication, url, client: () => new Client(url), close: () => app.close() };
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

/** Opens a socket.io connection; rejects with the server's `connect_error`. */
export function connectSocket(
  url: string,
  options: { cookie?: string; transports?: ('polling' | 'websocket')[] } = {},
): Promise<Socket> {
  const socket = io(url, {
    transports: options.transports ?? ['polling', 'websocket'],
    extraHeaders: options.cookie ? { cookie: options.cookie } : {},
    reconnection: false,
    forceNew: true,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

/** What a gateway answered to one message: its acknowledgement, or the `exception` event Nest emits. */
export type SocketAnswer = { ack: any } | { exception: { status: string; message: string } };

/** Emits a message and waits for the acknowledgement or the exception, whichever comes first. */
export function ask(socket: Socket, event: string, data: unknown = {}): Promise<SocketAnswer> {
  return new Promise((resolve) => {
    const onException = (exception: { status: string; message: string }): void => resolve({ exception });
    socket.once('exception', onException);
    socket.emit(event, data, (ack: unknown) => {
      socket.off('exception', onException);
      resolve({ ack });
    });
  });
}
