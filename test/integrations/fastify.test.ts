import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { Controller, Get } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Session } from 'nest-express-session';
import { createApp, TEST_SECRET } from '../support/app.js';
import { moduleVariants } from '../support/module-variants.js';

@Controller()
class VisitController {
  @Get()
  visit(@Session('views') views: number | undefined): { views: number | null } {
    return { views: views ?? null };
  }
}

/** The app on Fastify, not listening yet (closed when `t` ends). */
function boot(t: TestContext, sessionModule: DynamicModule): Promise<NestFastifyApplication> {
  return createApp<NestFastifyApplication>(
    t,
    { imports: [sessionModule], controllers: [VisitController] },
    new FastifyAdapter(),
  );
}

describe('Fastify: refused at boot', () => {
  for (const [name, sessionModule] of moduleVariants({ session: { secret: TEST_SECRET } })) {
    it(`${name}: listen() rejects with a message naming the platform and what to use instead`, async (t) => {
      const app = await boot(t, sessionModule);
      await assert.rejects(app.listen(0, '127.0.0.1'), (err: Error) => {
        assert.match(err.message, /SessionModule needs the Express platform \(@nestjs\/platform-express\)/);
        assert.match(err.message, /this app runs on 'fastify'/);
        assert.match(err.message, /@fastify\/session/);
        return true;
      });
      assert.equal(app.getHttpServer().listening, false, 'nothing serves requests without sessions');
    });
  }

  it('init() alone (as in e2e tests without listen) fails the same way', async (t) => {
    const app = await boot(t, moduleVariants({ session: { secret: TEST_SECRET } })[0][1]);
    await assert.rejects(app.init(), /needs the Express platform/);
  });
});
