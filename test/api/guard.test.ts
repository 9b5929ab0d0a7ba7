import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Controller, Get, Injectable, UseGuards } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { Request } from 'express';
import { AllowAnonymous, AuthenticatedGuard, SessionModule } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { moduleVariants } from '../support/module-variants.js';

@Controller('open')
@AllowAnonymous()
class OpenController {
  @Get()
  open(): { open: true } {
    return { open: true };
  }
}

@Controller('admin')
class AdminController {
  @Get()
  admin(): { admin: true } {
    return { admin: true };
  }
}

describe('AuthenticatedGuard', () => {
  for (const [name, module] of moduleVariants({ session: { secret: TEST_SECRET } })) {
    it(`${name}: 401 before login, 200 after login, 401 after logout`, async (t) => {
      const app = await startApp(t, { imports: [module], controllers: [AuthController] });
      const client = app.client();
      const before = await client.get('/auth/me');
      assert.equal(before.status, 401);
      assert.equal(before.body.statusCode, 401);
      assert.equal((await client.post('/auth/login', { userId: 'alice' })).status, 200);
      const after = await client.get('/auth/me');
      assert.equal(after.status, 200);
      assert.deepEqual(after.body, { userId: 'alice' });
      assert.equal((await client.post('/auth/logout')).status, 200);
      assert.equal((await client.get('/auth/me')).status, 401);
    });
  }

  it('as APP_GUARD: every route refuses anonymous requests except @AllowAnonymous() handlers and controllers', async (t) => {
    const app = await startApp(t, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET } })],
      controllers: [AuthController, OpenController, AdminController],
      providers: [{ provide: APP_GUARD, useClass: AuthenticatedGuard }],
    });
    const client = app.client();
    assert.equal((await client.get('/admin')).status, 401);
    assert.equal((await client.get('/auth/public')).status, 200, '@AllowAnonymous() on a handler');
    assert.equal((await client.get('/open')).status, 200, '@AllowAnonymous() on a controller');
    assert.equal((await client.post('/auth/login')).status, 401, 'login itself is guarded here');
  });

  it('uses the isAuthenticated option when given (here: a role in the session)', async (t) => {
    const options: SessionModuleOptions = {
      session: { secret: TEST_SECRET },
      isAuthenticated: (session) => session.role === 'admin',
    };
    for (const [name, module] of moduleVariants(options)) {
      const app = await startApp(t, { imports: [module], controllers: [AuthController] });
      const client = app.client();
      await client.post('/auth/login', { userId: 'bob' });
      assert.equal((await client.get('/auth/me')).status, 401, `${name}: logged in but not admin`);
      await client.post('/auth/set', { role: 'admin' });
      assert.equal((await client.get('/auth/me')).status, 200, `${name}: admin`);
      await app.close();
    }
  });

  it('a subclass can override the protected isAuthenticated hook', async (t) => {
    @Injectable()
    class HeaderGuard extends AuthenticatedGuard {
      protected override isAuthenticated(_s: unknown, request: Request): boolean {
        return request.headers['x-pass'] === 'yes';
      }
    }
    @Controller('custom')
    class CustomController {
      @Get()
      @UseGuards(HeaderGuard)
      custom(): { ok: true } {
        return { ok: true };
      }
    }
    const app = await startApp(t, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET } })],
      controllers: [CustomController],
      providers: [HeaderGuard],
    });
    const client = app.client();
    assert.equal((await client.get('/custom')).status, 401);
    assert.equal((await client.get('/custom', { 'x-pass': 'yes' })).status, 200);
  });
});
