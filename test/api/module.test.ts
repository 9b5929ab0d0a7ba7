import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Controller, Get, Inject, Injectable, Module } from '@nestjs/common';
import { EmbeddedStore, SESSION_MODULE_OPTIONS, SessionModule, SessionService } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import { createApp, startApp, TEST_SECRET } from '../support/app.js';
import { CounterController } from '../support/controllers.js';
import { moduleVariants } from '../support/module-variants.js';

describe('SessionModule configuration', () => {
  for (const [name, module] of moduleVariants({ session: { secret: TEST_SECRET } })) {
    it(`${name}: counts 1 then 2 with the cookie it set`, async (t) => {
      const app = await startApp(t, { imports: [module], controllers: [CounterController] });
      const client = app.client();
      const first = await client.get('/');
      assert.equal(first.status, 200);
      assert.deepEqual(first.body, { views: 1 });
      const cookie = first.setCookies.find((c) => c.startsWith('connect.sid='));
      assert.ok(cookie, 'a session cookie is set');
      assert.match(cookie, /HttpOnly/i);
      assert.match(cookie, /SameSite=Lax/i);
      const second = await client.get('/');
      assert.deepEqual(second.body, { views: 2 });
    });
  }

  it('SESSION_MODULE_OPTIONS holds the resolved options: defaults under, user values over, the store in use', async (t) => {
    const seen: SessionModuleOptions[] = [];
    @Injectable()
    class Reader {
      constructor(@Inject(SESSION_MODULE_OPTIONS) options: SessionModuleOptions) {
        seen.push(options);
      }
    }
    await startApp(t, {
      imports: [
        SessionModule.forRoot({ session: { secret: TEST_SECRET, rolling: true, cookie: { sameSite: 'strict' } } }),
      ],
      providers: [Reader],
    });
    const [options] = seen;
    assert.equal(options.session.resave, false);
    assert.equal(options.session.saveUninitialized, false);
    assert.equal(options.session.rolling, true);
    const cookie = options.session.cookie as { httpOnly?: boolean; sameSite?: unknown };
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'strict', 'the user value wins over the default');
    assert.ok(options.session.store instanceof EmbeddedStore, 'the embedded store is used when none is given');
  });

  it('a user value of resave/saveUninitialized wins: saveUninitialized true sets a cookie on a bare request', async (t) => {
    @Controller()
    class Bare {
      @Get('bare') bare(): string {
        return 'ok';
      }
    }
    const saving = await startApp(t, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, saveUninitialized: true } })],
      controllers: [Bare],
    });
    const res = await saving.client().get('/bare');
    assert.equal(res.status, 200);
    assert.ok(res.setCookies.some((c) => c.startsWith('connect.sid=')));
    await saving.close();
    const byDefault = await startApp(t, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET } })],
      controllers: [Bare],
    });
    const untouched = await byDefault.client().get('/bare');
    assert.equal(untouched.setCookies.length, 0, 'by default an untouched session sets no cookie');
  });

  it('refuses to boot without a secret, with a message that says so', async (t) => {
    @Module({ imports: [SessionModule.forRoot({ session: {} as never })] })
    class NoSecret {}
    await assert.rejects(createApp(t, NoSecret), /session\.secret is required/);
  });

  describe('isGlobal', () => {
    @Injectable()
    class NeedsService {
      constructor(readonly sessions: SessionService) {}
    }
    @Module({ providers: [NeedsService] })
    class FeatureWithoutImport {}

    for (const [name, module] of moduleVariants({ session: { secret: TEST_SECRET } })) {
      it(`${name}: global by default, SessionService injectable in a module that does not import it`, async (t) => {
        const app = await startApp(t, { imports: [module, FeatureWithoutImport] });
        assert.ok(app.nest.get(NeedsService).sessions instanceof SessionService);
      });
    }

    for (const [name, module] of moduleVariants({ session: { secret: TEST_SECRET } }, { isGlobal: false })) {
      it(`${name}: isGlobal false keeps SessionService out of modules that do not import it`, async (t) => {
        await assert.rejects(createApp(t, { imports: [module, FeatureWithoutImport] }), /SessionService|dependencies/);
      });
    }
  });
});
