import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  Post,
  Req,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import type { ExecutionContext, MiddlewareConsumer, NestModule } from '@nestjs/common';
import { AuthGuard, PassportModule, PassportSerializer, PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import type { SessionData } from 'express-session';
import passport from 'passport';
import { Strategy } from 'passport-local';
import {
  AuthenticatedGuard,
  EmbeddedStore,
  Session,
  SessionModule,
  SessionService,
  STORE_UNAVAILABLE_MESSAGE,
  whenSessionLoaded,
} from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import type { TestApp } from '../support/app.js';
import { startApp, TEST_SECRET } from '../support/app.js';
import { defer, suiteCleanup } from '../support/cleanup.js';
import { asError } from '../support/errors.js';
import { FaultStore } from '../support/fault-store.js';
import { setCookieFor, sidOf } from '../support/http.js';

interface User {
  id: number;
  username: string;
}

const USERS = [
  { id: 1, username: 'alice', password: 'wonderland' },
  { id: 2, username: 'bob', password: 'builder' },
];

@Injectable()
class LocalStrategy extends PassportStrategy(Strategy) {
  validate(username: string, password: string): User {
    const user = USERS.find((u) => u.username === username && u.password === password);
    if (!user) throw new UnauthorizedException('Wrong username or password');
    return { id: user.id, username: user.username };
  }
}

@Injectable()
class SessionSerializer extends PassportSerializer {
  serializeUser(user: User, done: (err: unknown, id?: number) => void): void {
    done(null, user.id);
  }

  deserializeUser(id: number, done: (err: unknown, user?: User | false) => void): void {
    const user = USERS.find((u) => u.id === id);
    done(null, user ? { id: user.id, username: user.username } : false);
  }
}

/** Checks the credentials, then logs in through Passport (which regenerates the session). */
@Injectable()
class LocalAuthGuard extends AuthGuard('local') {
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const ok = (await super.canActivate(context)) as boolean;
    await super.logIn(context.switchToHttp().getRequest());
    return ok;
  }
}

@Controller()
class PassportController {
  constructor(private readonly sessions: SessionService) {}

  @Get('visit')
  visit(@Session() session: Partial<SessionData>): { views: number } {
    session.views = (session.views ?? 0) + 1;
    return { views: session.views };
  }

  @Post('login')
  @HttpCode(200)
  @UseGuards(LocalAuthGuard)
  login(@Req() req: Request): { user: Express.User | undefined; id: string } {
    return { user: req.user, id: req.sessionID };
  }

  @Get('profile')
  @UseGuards(AuthenticatedGuard)
  async profile(@Req() req: Request): Promise<{ user: Express.User | undefined; authenticated: boolean }> {
    return { user: req.user, authenticated: await this.sessions.isAuthenticated() };
  }

  /** Passport's own logout: drops the user, then regenerates the session. */
  @Post('logout')
  @HttpCode(200)
  async logout(@Req() req: Request): Promise<{ ok: true }> {
    await new Promise<void>((resolve, reject) => req.logout((err) => (err ? reject(asError(err)) : resolve())));
    return { ok: true };
  }

  /** The module's logout: removes the session and expires its cookie. */
  @Post('logout-all')
  @HttpCode(200)
  async logoutAll(): Promise<{ ok: true }> {
    await this.sessions.logOut();
    return { ok: true };
  }
}

@Module({
  imports: [PassportModule.register({ session: true })],
  controllers: [PassportController],
  providers: [LocalStrategy, SessionSerializer],
})
class AuthModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    // After the session middleware (a module's configure(), not app.use() in main.ts), and skipped when
    // the store could not load the session, so that such a request gets the module's 503.
    consumer.apply(whenSessionLoaded(passport.session())).forRoutes('{*path}');
  }
}

const variants: [string, Partial<SessionModuleOptions>][] = [
  ['session middleware mounted for all routes', {}],
  ['session middleware mounted through forRoutes/exclude', { exclude: ['health'] }],
];

for (const [variant, extra] of variants) {
  describe(`Passport (local strategy, session: true) — ${variant}`, () => {
    const suite = suiteCleanup();
    const store = new FaultStore(new EmbeddedStore());
    defer(suite, () => (store.inner as EmbeddedStore).close());
    let app: TestApp;
    before(async () => {
      app = await startApp(suite, {
        imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store }, ...extra }), AuthModule],
      });
    });

    it('a login through Passport persists across requests; AuthenticatedGuard honours req.isAuthenticated()', async () => {
      const client = app.client();
      const login = await client.post('/login', { username: 'alice', password: 'wonderland' });
      assert.equal(login.status, 200);
      assert.deepEqual(login.body.user, { id: 1, username: 'alice' });
      assert.ok(setCookieFor(login, 'connect.sid'), 'the login sets the session cookie');
      for (let i = 0; i < 3; i++) {
        const profile = await client.get('/profile');
        assert.equal(profile.status, 200);
        assert.deepEqual(profile.body, { user: { id: 1, username: 'alice' }, authenticated: true });
      }
      const stored = (await store.peek(login.body.id)) as Record<string, unknown> | null;
      assert.deepEqual(stored?.passport, { user: 1 }, 'Passport keeps the serialized user in the session');
      assert.equal(stored?.userId, undefined, 'no userId: the guard passed on req.isAuthenticated() alone');
    });

    it("Passport's regeneration on login works: a new id, the anonymous id gone from the store, its data dropped", async () => {
      const client = app.client();
      await client.get('/visit');
      const anonymousId = sidOf(client.jar.get('connect.sid'));
      assert.ok(anonymousId);
      assert.ok(await store.peek(anonymousId), 'the anonymous session was stored');
      const anonymousCookie = client.cookieHeader();
      const login = await client.post('/login', { username: 'bob', password: 'builder' });
      assert.equal(login.status, 200);
      assert.notEqual(login.body.id, anonymousId);
      assert.equal(sidOf(client.jar.get('connect.sid')), login.body.id);
      assert.equal(await store.peek(anonymousId), null, 'the pre-login id cannot be used any more');
      const replay = await app.client().get('/visit', { cookie: anonymousCookie });
      assert.deepEqual(replay.body, { views: 1 }, 'the pre-login cookie starts over');
      assert.notEqual(sidOf(replay.setCookies[0]?.split(';')[0].split('=')[1]), anonymousId);
      assert.equal((await app.client().get('/profile', { cookie: anonymousCookie })).status, 401);
      const stored = (await store.peek(login.body.id)) as Record<string, unknown> | null;
      assert.equal(stored?.views, undefined, 'anonymous data is not carried into the logged-in session');
    });

    it('wrong credentials: 401, nothing authenticated', async () => {
      const client = app.client();
      const login = await client.post('/login', { username: 'alice', password: 'nope' });
      assert.equal(login.status, 401);
      assert.equal(setCookieFor(login, 'connect.sid'), undefined);
      assert.equal((await client.get('/profile')).status, 401);
    });

    it("Passport's req.logout(): the logged-in id is removed from the store and the old cookie is refused", async () => {
      const client = app.client();
      const login = await client.post('/login', { username: 'alice', password: 'wonderland' });
      const cookie = client.cookieHeader();
      const logout = await client.post('/logout');
      assert.equal(logout.status, 200);
      assert.equal(await store.peek(login.body.id), null);
      const fresh = sidOf(client.jar.get('connect.sid'));
      assert.ok(fresh && fresh !== login.body.id, 'Passport regenerated the session: a new cookie for a new id');
      const keys = Object.keys((await store.peek(fresh)) ?? {}).filter((k) => k !== '__session'); // the module's timestamps
      assert.deepEqual(keys, ['cookie'], 'the new session is empty');
      assert.equal((await app.client().get('/profile', { cookie })).status, 401);
      assert.equal((await client.get('/profile')).status, 401);
    });

    it('SessionService.logOut() logs a Passport user out too: record removed and cookie expired', async () => {
      const client = app.client();
      const login = await client.post('/login', { username: 'bob', password: 'builder' });
      const cookie = client.cookieHeader();
      const logout = await client.post('/logout-all');
      assert.equal(logout.status, 200);
      assert.match(setCookieFor(logout, 'connect.sid') ?? '', /Expires=Thu, 01 Jan 1970/);
      assert.equal(await store.peek(login.body.id), null);
      assert.equal((await app.client().get('/profile', { cookie })).status, 401);
    });

    it('a store failure is the 503 of the module, not a 500 from passport.session()', async () => {
      const client = app.client();
      await client.post('/login', { username: 'alice', password: 'wonderland' });
      store.next('get', { kind: 'reject' });
      const res = await client.get('/profile');
      assert.equal(res.status, 503);
      assert.equal(res.body.message, STORE_UNAVAILABLE_MESSAGE);
      assert.equal((await client.get('/profile')).status, 200, 'the next request is served');
    });
  });
}

describe('Passport logins on the embedded store', () => {
  it('survive more anonymous visits than maxSessions: passport.user counts as logged in', async (t) => {
    const app = await startApp(t, {
      imports: [
        SessionModule.forRoot({ session: { secret: TEST_SECRET }, embeddedStore: { maxSessions: 5 } }),
        AuthModule,
      ],
    });
    const client = app.client();
    assert.equal((await client.post('/login', { username: 'alice', password: 'wonderland' })).status, 200);
    for (let i = 0; i < 20; i++) assert.deepEqual((await app.client().get('/visit')).body, { views: 1 });
    const profile = await client.get('/profile');
    assert.equal(profile.status, 200, 'still logged in after 20 anonymous visits');
    assert.deepEqual(profile.body.user, { id: 1, username: 'alice' });
  });
});
