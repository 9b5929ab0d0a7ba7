import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { UseGuards } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApolloDriver } from '@nestjs/apollo';
import type { ApolloDriverConfig } from '@nestjs/apollo';
import { Args, GraphQLModule, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import type { Request, Response } from 'express';
import type { SessionData } from 'express-session';
import {
  AllowAnonymous,
  AuthenticatedGuard,
  EmbeddedStore,
  Session,
  SessionModule,
  SessionService,
  STORE_UNAVAILABLE_MESSAGE,
} from 'nest-express-session';
import type { TestApp } from '../support/app.js';
import { startApp, TEST_SECRET } from '../support/app.js';
import { defer, suiteCleanup } from '../support/cleanup.js';
import { FaultStore } from '../support/fault-store.js';
import type { Client, TestResponse } from '../support/http.js';
import { setCookieFor, sidOf } from '../support/http.js';

const runs = { count: 0 };

@Resolver()
class SessionResolver {
  constructor(private readonly sessions: SessionService) {}

  @Query(() => Int)
  visit(@Session() session: Partial<SessionData>): number {
    runs.count += 1;
    session.views = (session.views ?? 0) + 1;
    return session.views;
  }

  @Query(() => String, { nullable: true })
  whoami(@Session('userId') userId: string | number | undefined): string | null {
    return userId === undefined ? null : String(userId);
  }

  @Query(() => String)
  @UseGuards(AuthenticatedGuard)
  secret(@Session('userId') userId: string | number): string {
    runs.count += 1;
    return `secret of ${userId}`;
  }

  @Query(() => Boolean)
  authenticated(): boolean | Promise<boolean> {
    return this.sessions.isAuthenticated();
  }

  @Mutation(() => String)
  @AllowAnonymous()
  async login(@Args('userId') userId: string): Promise<string> {
    await this.sessions.logIn(userId, {}, { keep: ['views'] });
    return this.sessions.id;
  }

  @Mutation(() => Boolean)
  async logout(): Promise<boolean> {
    await this.sessions.logOut();
    return true;
  }
}

function graphqlModule() {
  return GraphQLModule.forRoot<ApolloDriverConfig>({
    driver: ApolloDriver,
    autoSchemaFile: true,
    context: ({ req, res }: { req: Request; res: Response }) => ({ req, res }),
  });
}

function gql(client: Client, query: string, variables?: Record<string, unknown>): Promise<TestResponse> {
  return client.post('/graphql', { query, variables });
}

describe('GraphQL (Apollo driver on Express, code first)', () => {
  const suite = suiteCleanup();
  const store = new FaultStore(new EmbeddedStore());
  defer(suite, () => (store.inner as EmbeddedStore).close());
  let app: TestApp;
  before(async () => {
    app = await startApp(suite, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store } }), graphqlModule()],
      providers: [SessionResolver],
    });
  });

  it('@Session() in a query: the counter goes 1, 2 with the cookie it set', async () => {
    const client = app.client();
    const first = await gql(client, '{ visit }');
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, { data: { visit: 1 } });
    assert.ok(setCookieFor(first, 'connect.sid'), 'the GraphQL response sets the session cookie');
    const second = await gql(client, '{ visit }');
    assert.deepEqual(second.body, { data: { visit: 2 } });
  });

  it('login mutation (SessionService.logIn): a new id, then @Session("userId") and the guarded query see the user', async () => {
    const client = app.client();
    await gql(client, '{ visit }');
    const anonymousId = sidOf(client.jar.get('connect.sid'));
    const login = await gql(client, 'mutation($u: String!) { login(userId: $u) }', { u: 'alice' });
    assert.equal(login.status, 200);
    const newId = login.body.data.login;
    assert.notEqual(newId, anonymousId, 'logging in changes the session id');
    assert.equal(sidOf(client.jar.get('connect.sid')), newId, 'the new cookie carries the new id');
    assert.equal(await store.peek(anonymousId!), null, 'the anonymous id is gone from the store');
    const me = await gql(client, '{ whoami secret authenticated visit }');
    assert.deepEqual(me.body, { data: { whoami: 'alice', secret: 'secret of alice', authenticated: true, visit: 2 } });
  });

  it('AuthenticatedGuard refuses an anonymous query with an UNAUTHENTICATED error and the resolver does not run', async () => {
    const client = app.client();
    runs.count = 0;
    const res = await gql(client, '{ secret }');
    assert.equal(res.status, 200);
    assert.equal(res.body.data, null);
    assert.equal(res.body.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.equal(res.body.errors[0].extensions.originalError.statusCode, 401);
    assert.equal(runs.count, 0);
    const check = await gql(client, '{ authenticated whoami }');
    assert.deepEqual(check.body, { data: { authenticated: false, whoami: null } });
  });

  it('logout mutation (SessionService.logOut): the cookie is expired, the record removed, the old cookie is anonymous', async () => {
    const client = app.client();
    const login = await gql(client, 'mutation { login(userId: "bob") }');
    const id = login.body.data.login;
    const oldCookie = client.cookieHeader();
    const logout = await gql(client, 'mutation { logout }');
    assert.deepEqual(logout.body, { data: { logout: true } });
    const cleared = setCookieFor(logout, 'connect.sid');
    assert.ok(cleared, 'the logout response clears the cookie');
    assert.match(cleared, /Expires=Thu, 01 Jan 1970/);
    assert.equal(await store.peek(id), null);
    const replay = await app.client().post('/graphql', { query: '{ secret }' }, { cookie: oldCookie });
    assert.equal(replay.body.errors[0].extensions.code, 'UNAUTHENTICATED');
  });

  it('a store that fails to load the session answers the HTTP request with the 503; no resolver runs', async () => {
    const client = app.client();
    await gql(client, 'mutation { login(userId: "carol") }');
    runs.count = 0;
    store.next('get', { kind: 'reject' });
    const res = await gql(client, '{ visit }');
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, { statusCode: 503, message: STORE_UNAVAILABLE_MESSAGE, error: 'Service Unavailable' });
    assert.equal(runs.count, 0);
    const next = await gql(client, '{ whoami }');
    assert.deepEqual(next.body, { data: { whoami: 'carol' } }, 'the next request is served');
  });
});

describe('GraphQL with the session middleware mounted through forRoutes/exclude', () => {
  const suite = suiteCleanup();
  let app: TestApp;
  before(async () => {
    app = await startApp(suite, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET }, exclude: ['health'] }), graphqlModule()],
      providers: [SessionResolver],
    });
  });

  it('/graphql gets the session: login mutation, guarded query, logout mutation', async () => {
    const client = app.client();
    await gql(client, 'mutation { login(userId: "erin") }');
    assert.deepEqual((await gql(client, '{ secret }')).body, { data: { secret: 'secret of erin' } });
    assert.deepEqual((await gql(client, 'mutation { logout }')).body, { data: { logout: true } });
    assert.equal((await gql(client, '{ secret }')).body.errors[0].extensions.code, 'UNAUTHENTICATED');
  });
});

describe('GraphQL with AuthenticatedGuard as APP_GUARD', () => {
  const suite = suiteCleanup();
  let app: TestApp;
  before(async () => {
    app = await startApp(suite, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET } }), graphqlModule()],
      providers: [SessionResolver, { provide: APP_GUARD, useClass: AuthenticatedGuard }],
    });
  });

  it('every resolver is guarded except the @AllowAnonymous() login mutation', async () => {
    const client = app.client();
    const refused = await gql(client, '{ whoami }');
    assert.equal(refused.body.errors[0].extensions.code, 'UNAUTHENTICATED');
    const login = await gql(client, 'mutation { login(userId: "dana") }');
    assert.equal(typeof login.body.data.login, 'string');
    const me = await gql(client, '{ whoami }');
    assert.deepEqual(me.body, { data: { whoami: 'dana' } });
  });
});
