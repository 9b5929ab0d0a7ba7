import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Body, Controller, Get, HttpCode, Injectable, Post, UseGuards } from '@nestjs/common';
import type { Type } from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import { AllowAnonymous, AuthenticatedGuard, SessionModule, SessionService } from 'nest-express-session';
import type { RequestSession } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';

/** A guard that extends AuthenticatedGuard and overrides its check, as the README suggests. */
@Injectable()
class AdminGuard extends AuthenticatedGuard {
  protected override isAuthenticated(session: RequestSession | undefined): boolean {
    return session?.role === 'admin';
  }
}

/** Whether the guard under test runs on a route (`applies`) or `@AllowAnonymous()` exempts the route from it. */
type Outcome = 'applies' | 'exempt';

/**
 * One route per cell of the scope rule, for one guard class. Each entry: the path, and what the guard under
 * test does there when it is also the app-wide guard (`global`) and when there is no app-wide guard (`local`).
 */
function scopeRoutes(Guard: Type<AuthenticatedGuard>): {
  controllers: Type<unknown>[];
  cells: { path: string; cell: string; global: Outcome; local: Outcome }[];
} {
  @Controller('login')
  @AllowAnonymous()
  class LoginController {
    constructor(private readonly sessions: SessionService) {}

    @Post()
    @HttpCode(200)
    async login(@Body() body: { role: string }): Promise<{ ok: true }> {
      await this.sessions.logIn('alice', { role: body.role });
      return { ok: true };
    }
  }

  @Controller('plain')
  class PlainController {
    @Get('closed')
    closed(): string {
      return 'closed';
    }

    @Get('open')
    @AllowAnonymous()
    open(): string {
      return 'open';
    }

    @Get('guarded-open')
    @UseGuards(Guard)
    @AllowAnonymous()
    guardedOpen(): string {
      return 'guarded-open';
    }
  }

  @Controller('anon')
  @AllowAnonymous()
  class AnonymousController {
    @Get('open')
    open(): string {
      return 'open';
    }

    @Get('guarded')
    @UseGuards(Guard)
    guarded(): string {
      return 'guarded';
    }

    @Get('guarded-instance')
    @UseGuards(new Guard(new Reflector()))
    guardedInstance(): string {
      return 'guarded-instance';
    }

    @Get('both')
    @UseGuards(Guard)
    @AllowAnonymous()
    both(): string {
      return 'both';
    }
  }

  @Controller('ctl-guard')
  @UseGuards(Guard)
  class GuardedController {
    @Get('open')
    @AllowAnonymous()
    open(): string {
      return 'open';
    }

    @Get('closed')
    closed(): string {
      return 'closed';
    }
  }

  @Controller('ctl-guard-anon')
  @UseGuards(Guard)
  @AllowAnonymous()
  class GuardedAnonymousController {
    @Get()
    closed(): string {
      return 'closed';
    }

    @Get('both')
    @AllowAnonymous()
    both(): string {
      return 'both';
    }
  }

  @Controller('ctl-instance')
  @UseGuards(new Guard(new Reflector()))
  class InstanceGuardedController {
    @Get('open')
    @AllowAnonymous()
    open(): string {
      return 'open';
    }
  }

  return {
    controllers: [
      LoginController,
      PlainController,
      AnonymousController,
      GuardedController,
      GuardedAnonymousController,
      InstanceGuardedController,
    ],
    cells: [
      { path: '/plain/closed', cell: 'no decorator', global: 'applies', local: 'exempt' },
      { path: '/anon/open', cell: 'app-wide guard, decorator on the controller', global: 'exempt', local: 'exempt' },
      { path: '/plain/open', cell: 'app-wide guard, decorator on the handler', global: 'exempt', local: 'exempt' },
      {
        path: '/ctl-guard/open',
        cell: 'controller guard, decorator on the handler',
        global: 'exempt',
        local: 'exempt',
      },
      { path: '/ctl-guard/closed', cell: 'controller guard, no decorator', global: 'applies', local: 'applies' },
      {
        path: '/ctl-guard-anon',
        cell: 'controller guard, decorator on the controller',
        global: 'applies',
        local: 'applies',
      },
      {
        path: '/anon/guarded',
        cell: 'handler guard, decorator on the controller',
        global: 'applies',
        local: 'applies',
      },
      {
        path: '/anon/guarded-instance',
        cell: 'handler guard as an instance, decorator on the controller',
        global: 'applies',
        local: 'applies',
      },
      {
        path: '/plain/guarded-open',
        cell: 'handler guard, decorator on the handler',
        global: 'applies',
        local: 'applies',
      },
      { path: '/anon/both', cell: 'handler guard, decorator on both', global: 'applies', local: 'applies' },
      { path: '/ctl-guard-anon/both', cell: 'controller guard, decorator on both', global: 'exempt', local: 'exempt' },
      {
        path: '/ctl-instance/open',
        cell: 'controller guard as an instance, decorator on the handler',
        global: 'exempt',
        local: 'exempt',
      },
    ],
  };
}

describe('@AllowAnonymous() exempts a route only from guards declared at a wider scope', () => {
  it('the bypass: in an @AllowAnonymous() controller, a handler guard (or an AdminGuard) still refuses a request with no cookie', async (t) => {
    for (const Guard of [AuthenticatedGuard, AdminGuard]) {
      const { controllers } = scopeRoutes(Guard);
      const app = await startApp(t, {
        imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET } })],
        controllers,
      });
      const res = await app.client().get('/anon/guarded');
      assert.equal(res.status, 401, `${Guard.name} on the handler`);
      assert.equal(res.text.includes('guarded'), false, 'the handler did not answer');
      await app.close();
    }
  });

  for (const Guard of [AuthenticatedGuard, AdminGuard]) {
    for (const appWide of [true, false]) {
      const name = `${Guard.name}${appWide ? ' (also as APP_GUARD)' : ' (no APP_GUARD)'}`;
      it(`${name}: every cell, anonymous, logged in, and admin`, async (t) => {
        const { controllers, cells } = scopeRoutes(Guard);
        const app = await startApp(t, {
          imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET } })],
          controllers,
          providers: appWide ? [{ provide: APP_GUARD, useClass: Guard }] : [],
        });
        const anonymous = app.client();
        const user = app.client();
        const admin = app.client();
        assert.equal((await user.post('/login', { role: 'user' })).status, 200);
        assert.equal((await admin.post('/login', { role: 'admin' })).status, 200);
        for (const { path, cell, global, local } of cells) {
          const outcome = appWide ? global : local;
          const what = `${cell} (${path}): the guard ${outcome === 'applies' ? 'applies' : 'is exempted'}`;
          const refusesUser = outcome === 'applies' && Guard === AdminGuard;
          assert.equal((await anonymous.get(path)).status, outcome === 'applies' ? 401 : 200, `anonymous: ${what}`);
          assert.equal((await user.get(path)).status, refusesUser ? 401 : 200, `logged-in user: ${what}`);
          assert.equal((await admin.get(path)).status, 200, `admin: ${what}`);
        }
      });
    }
  }

  it('the class must match exactly: an app-wide AdminGuard is exempted where a handler declares AuthenticatedGuard', async (t) => {
    @Controller('mixed')
    class MixedController {
      @Get('handler')
      @UseGuards(AuthenticatedGuard)
      @AllowAnonymous()
      handler(): string {
        return 'handler';
      }

      @Get('handler-admin')
      @UseGuards(AdminGuard)
      @AllowAnonymous()
      handlerAdmin(): string {
        return 'handler-admin';
      }
    }
    const { controllers } = scopeRoutes(AuthenticatedGuard);
    const app = await startApp(t, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET } })],
      controllers: [controllers[0], MixedController],
      providers: [{ provide: APP_GUARD, useClass: AdminGuard }],
    });
    const anonymous = app.client();
    const user = app.client();
    await user.post('/login', { role: 'user' });
    assert.equal((await anonymous.get('/mixed/handler')).status, 401, "the handler's AuthenticatedGuard applies");
    assert.equal((await user.get('/mixed/handler')).status, 200, 'the app-wide AdminGuard is exempted');
    assert.equal((await user.get('/mixed/handler-admin')).status, 401, "the handler's AdminGuard applies");
  });
});
