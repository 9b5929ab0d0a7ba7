import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Controller, Get, Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Session } from 'nest-express-session';
import { TEST_SECRET } from '../support/app.js';
import { moduleVariants } from '../support/variants.js';

@Controller()
class VisitController {
  @Get()
  visit(@Session('views') views: number | undefined): { views: number | null } {
    return { views: views ?? null };
  }
}

async function boot(sessionModule: DynamicModule): Promise<NestFastifyApplication> {
  @Module({ imports: [sessionModule], controllers: [VisitController] })
  class FastifyAppModule {}
  return NestFactory.create<NestFastifyApplication>(FastifyAppModule, new FastifyAdapter(), {
    logger: false,
    abortOnError: false,
  });
}

describe('Fastify: refused at boot', () => {
  for (const [name, sessionModule] of moduleVariants({ session: { secret: TEST_SECRET } })) {
    it(`${name}: listen() rejects with a message naming the platform and what to use instead`, async () => {
      const app = await boot(sessionModule);
      try {
        await assert.rejects(app.listen(0, '127.0.0.1'), (err: Error) => {
          assert.match(err.message, /SessionModule needs the Express platform \(@nestjs\/platform-express\)/);
          assert.match(err.message, /this app runs on 'fastify'/);
          assert.match(err.message, /@fastify\/session/);
          return true;
        });
        assert.equal(app.getHttpServer().listening, false, 'nothing serves requests without sessions');
      } finally {
        await app.close();
      }
    });
  }

  it('init() alone (as in e2e tests without listen) fails the same way', async () => {
    const app = await boot(moduleVariants({ session: { secret: TEST_SECRET } })[0][1]);
    try {
      await assert.rejects(app.init(), /needs the Express platform/);
    } finally {
      await app.close();
    }
  });
});
