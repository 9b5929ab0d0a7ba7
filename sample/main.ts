import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, process.env.HOST ?? '127.0.0.1');
  new Logger('Sample').log(
    `Listening on ${await app.getUrl()} (browser: /pages/login; JSON: GET /, POST /login {"username":"demo","password":"demo"}, GET /dashboard, POST /logout)`,
  );
}

void bootstrap();
