import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Controller, Get, Inject, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EmbeddedStore, SESSION_MODULE_OPTIONS, SessionModule, SessionService } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import { CounterController } from '../support/controllers.js';
import { moduleVariants } from '../support/variants.js';

describe('SessionModule configuration', () => {
  for (const [name, module] of moduleVariants({ session: { secret: TEST_SECRET } })) {
    it(`${name}: counts 1 then 2 with the cookie it set`, async () => {
      const t = await startApp({ imports: [module], controllers: [CounterController] });
      try {
        const client = t.client();
        const first = await client.get('/');
        assert.equal(first.status, 200);
        assert.deepEqual(first.body, { views: 1 });
        const cookie = first.setCookies.find((c) => c.startsWith('connect.sid='));
        assert.ok(cookie, 'a session cookie is set');
        assert.match(cookie, /HttpOnly/i);
        assert.match(cookie, /SameSite=Lax/i);
        const second = await client.get('/');
        assert.deepEqual(second.body, { views: 2 });
      } finally {
        await t.close();
      }
    });
  }

  it('SESSION_MODULE_OPTIONS holds the resolved options: defaults under, user values over, the store in use', async () => {
    const seen: SessionModuleOptions[] = [];
    @Injectable()
    class Reader {
      constructor(@Inject(SESSION_MODULE_OPTIONS) options: SessionModuleOptions) {
        seen.push(options);
      }
    }
    const t = await startApp({
      imports: [
        SessionModule.forRoot({ session: { secret: TEST_SECRET, rolling: true, cookie: { sameSite: 'strict' } } }),
      ],
      providers: [Reader],
    });
    try {
      const [options] = seen;
      assert.equal(options.session.resave, false);
      assert.equal(options.session.saveUninitialized, false);
      assert.equal(options.session.rolling, true);
      const cookie = options.session.cookie as { httpOnly?: boolean; sameSite?: unknown };
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'strict', 'the user value wins over the default');
      assert.ok(options.session.store instanceof EmbeddedStore, 'the embedded store is used when none is given');
    } finally {
      await t.close();
    }
  });

  it('a user value of resave/saveUninitialized wins: saveUninitialized true sets a cookie on a bare request', async () => {
    @Controller()
    class Bare {
      @Get('bare') bare(): string {
        return 'ok';
      }
    }
    const t = await startApp({
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, saveUninitialized: true } })],
      controllers: [Bare],
    });
    try {
      const res = await t.client().get('/bare');
      assert.equal(res.status, 200);
      assert.ok(res.setCookies.some((c) => c.startsWith('connect.sid=')));
    } finally {
      await t.close();
    }
    const d = await startApp({
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET } })],
      controllers: [Bare],
    });
    try {
      const res = await d.client().get('/bare');
      assert.equal(res.setCookies.length, 0, 'by default an untouched session sets no cookie');
    } finally {
      await d.close();
    }
  });

  it('refuses to boot without a secret, with a message that says so', async () => {
    @Module({ imports: [SessionModule.forRoot({ session: {} as never })] })
    class NoSecret {}
    await assert.rejects(
      NestFactory.create(NoSecret, { logger: false, abortOnError: false }),
      /session\.secret is required/,
    );
  });

  describe('isGlobal', () => {
    @Injectable()
    class NeedsService {
      constructor(readonly sessions: SessionService) {}
    }
    @Module({ providers: [NeedsService] })
    class FeatureWithoutImport {}

    for (const [name, module] of moduleVariants({ session: { secret: TEST_SECRET } })) {
      it(`${name}: global by default, SessionService injectable in a module that does not import it`, async () => {
        const t = await startApp({ imports: [module, FeatureWithoutImport] });
        try {
          assert.ok(t.app.get(NeedsService).sessions instanceof SessionService);
        } finally {
          await t.close();
        }
      });
    }

    for (const [name, module] of moduleVariants({ session: { secret: TEST_SECRET } }, { isGlobal: false })) {
      it(`${name}: isGlobal false keeps SessionService out of modules that do not import it`, async () => {
        @Module({ imports: [module, FeatureWithoutImport] })
        class Root {}
        await assert.rejects(
          NestFactory.create(Root, { logger: false, abortOnError: false }),
          /SessionService|dependencies/,
        );
      });
    }
  });
});
