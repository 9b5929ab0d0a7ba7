import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Controller, HttpCode, Injectable, Module, Post, UnauthorizedException, UseGuards } from '@nestjs/common';
import type { ExecutionContext, MiddlewareConsumer, NestModule } from '@nestjs/common';
import { AuthGuard, PassportModule, PassportSerializer, PassportStrategy } from '@nestjs/passport';
import passport from 'passport';
import { Strategy } from 'passport-local';
import { SessionRegistry, whenSessionLoaded } from 'nest-express-session';
import { startApp } from '../support/app.js';
import { ControlsController, controlsApp } from '../support/controls-app.js';
import { indexedStoreKinds } from '../support/store-kinds.js';

@Injectable()
class LocalStrategy extends PassportStrategy(Strategy) {
  validate(username: string, password: string): { id: number } {
    if (password !== 'secret') throw new UnauthorizedException();
    return { id: username === 'alice' ? 1 : 2 };
  }
}

@Injectable()
class Serializer extends PassportSerializer {
  serializeUser(user: { id: number }, done: (err: unknown, id?: number) => void): void {
    done(null, user.id);
  }

  deserializeUser(id: number, done: (err: unknown, user?: { id: number }) => void): void {
    done(null, { id });
  }
}

@Injectable()
class LocalAuthGuard extends AuthGuard('local') {
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const ok = (await super.canActivate(context)) as boolean;
    await super.logIn(context.switchToHttp().getRequest());
    return ok;
  }
}

@Controller('passport')
class PassportLoginController {
  @Post('login')
  @HttpCode(200)
  @UseGuards(LocalAuthGuard)
  login(): { ok: true } {
    return { ok: true };
  }
}

@Module({
  imports: [PassportModule.register({ session: true })],
  controllers: [PassportLoginController],
  providers: [LocalStrategy, Serializer],
})
class PassportAuthModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(whenSessionLoaded(passport.session())).forRoutes('{*path}');
  }
}

for (const kind of indexedStoreKinds) {
  describe(`session controls with a Passport login on the ${kind.name} store`, { skip: kind.skip }, () => {
    it('a Passport login is indexed under passport.user, limited, and revocable', async (t) => {
      const store = await kind.create(t);
      const spec = controlsApp(store, { maxSessionsPerUser: 1, onSessionLimit: 'refuse' });
      const app = await startApp(t, {
        ...spec,
        imports: [...spec.imports!, PassportAuthModule],
        controllers: [ControlsController],
      });
      const client = app.client();
      const credentials = { username: 'alice', password: 'secret' };
      assert.equal((await client.post('/passport/login', credentials)).status, 200);
      assert.equal((await client.get('/me')).status, 200);
      const registry = app.nest.get(SessionRegistry);
      const [listed, ...rest] = await registry.list(1);
      assert.equal(rest.length, 0);
      assert.equal(listed.userId, 1);
      assert.equal((await client.get('/handle')).body.handle, listed.handle);
      assert.equal((await client.post('/passport/login', credentials)).status, 200, 'logging in again replaces it');
      assert.equal((await registry.list(1)).length, 1);
      assert.equal((await app.client().post('/passport/login', credentials)).status, 403, 'a second device is refused');
      assert.equal(await registry.revoke((await registry.list(1))[0].handle), true);
      assert.equal((await client.get('/me')).status, 401);
    });
  });
}
