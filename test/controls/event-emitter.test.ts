import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Injectable } from '@nestjs/common';
import type { OnModuleInit, Type } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import type { Store } from 'express-session';
import { SessionModule, SessionRegistry } from 'nest-express-session';
import type { SessionEvent, SessionModuleOptions } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import type { Cleanup } from '../support/cleanup.js';
import { AuthController } from '../support/controllers.js';
import type { Client } from '../support/http.js';
import { sidOf } from '../support/http.js';
import { indexedStoreKinds } from '../support/store-kinds.js';

/** What the app's `@OnEvent` handlers received: the event name each was registered for, and the payload. */
type Received = [name: string, event: SessionEvent];

/** Records what `@nestjs/event-emitter` delivers to `@OnEvent` handlers of the session events. */
@Injectable()
class SessionEventLog {
  /** What the handlers of one event name each received, in order. */
  readonly named: Received[] = [];
  /** What the `session.*` wildcard handler received, in order. */
  readonly all: SessionEvent[] = [];

  @OnEvent('session.loggedIn')
  loggedIn(event: SessionEvent): void {
    this.named.push(['session.loggedIn', event]);
  }

  @OnEvent('session.loggedOut')
  loggedOut(event: SessionEvent): void {
    this.named.push(['session.loggedOut', event]);
  }

  @OnEvent('session.revoked')
  revoked(event: SessionEvent): void {
    this.named.push(['session.revoked', event]);
  }

  @OnEvent('session.evicted')
  evicted(event: SessionEvent): void {
    this.named.push(['session.evicted', event]);
  }

  @OnEvent('session.*')
  any(event: SessionEvent): void {
    this.all.push(event);
  }
}

/** Injects SessionRegistry, as an app's admin or audit service does. */
@Injectable()
class SessionAdmin {
  constructor(readonly registry: SessionRegistry) {}
}

/**
 * Handlers that fail, each in its own way: on session.loggedIn, `@OnEvent` handlers that throw and reject; on
 * session.loggedOut, a listener added to the emitter itself, which throws into whatever calls `emit`.
 */
@Injectable()
class BrokenListeners implements OnModuleInit {
  /** Which failing handlers ran, in order. */
  readonly calls: string[] = [];

  constructor(private readonly emitter: EventEmitter2) {}

  onModuleInit(): void {
    this.emitter.on('session.loggedOut', () => {
      this.calls.push('on');
      throw new Error('a listener registered with EventEmitter2.on throws');
    });
  }

  @OnEvent('session.loggedIn')
  throws(): void {
    this.calls.push('throws');
    throw new Error('an @OnEvent handler throws');
  }

  @OnEvent('session.loggedIn')
  rejects(): Promise<void> {
    this.calls.push('rejects');
    return Promise.reject(new Error('an async @OnEvent handler rejects'));
  }
}

/** An `@OnEvent` handler with `suppressErrors: false`: the emitter's wrapper hands `emit` a rejected promise. */
@Injectable()
class RethrowingListener {
  /** How many times it ran. */
  calls = 0;

  @OnEvent('session.loggedIn', { suppressErrors: false })
  rethrows(): void {
    this.calls++;
    throw new Error('an @OnEvent handler with suppressErrors: false throws');
  }
}

interface Spec {
  store: Store;
  options?: Partial<SessionModuleOptions>;
  /** Whether the app imports EventEmitterModule (with wildcards, for the `session.*` handler). */
  emitter?: boolean;
  providers?: Type<unknown>[];
}

function start(t: Cleanup, spec: Spec): Promise<TestApp> {
  return startApp(t, {
    imports: [
      ...(spec.emitter === false ? [] : [EventEmitterModule.forRoot({ wildcard: true })]),
      SessionModule.forRoot({ ...spec.options, session: { secret: TEST_SECRET, store: spec.store } }),
    ],
    controllers: [AuthController],
    providers: spec.providers ?? [SessionEventLog, SessionAdmin],
  });
}

/** Logs a new client in as `userId`; resolves with the client and its session's handle, as the registry lists it. */
async function logIn(app: TestApp, userId: string): Promise<{ client: Client; handle: string; secrets: string[] }> {
  const registry = app.nest.get(SessionRegistry);
  const before = new Set((await registry.list(userId)).map((s) => s.handle));
  const client = app.client();
  const res = await client.post('/auth/login', { userId });
  assert.equal(res.status, 200);
  const handles = (await registry.list(userId)).map((s) => s.handle).filter((h) => !before.has(h));
  assert.equal(handles.length, 1, 'the registry lists the new session');
  const cookie = client.jar.get('connect.sid')!;
  // What must never reach an event: the session id (as the login answered it and as the cookie carries it).
  const secrets = [res.body.id as string, sidOf(cookie)!, cookie];
  for (const secret of secrets) assert.ok(secret.length >= 20, 'a real session id and cookie');
  return { client, handle: handles[0], secrets };
}

/** Asserts that no event carries a session id or a cookie value. */
function assertNoSecrets(events: unknown[], secrets: string[]): void {
  const text = JSON.stringify(events);
  for (const secret of secrets) assert.ok(!text.includes(secret), 'no session id or cookie value in an event');
}

/** An event as `@OnEvent` handlers must get it. */
function event(type: SessionEvent['type'], handle: string, userId: string): Received {
  return [`session.${type}`, { type, handle, userId, at: anyDate }];
}

const anyDate = new Date(0);

/** The events, with each `at` checked to be a Date and then replaced, for a deepEqual on the rest. */
function withoutTimes(received: Received[]): Received[] {
  return received.map(([name, e]) => {
    assert.ok(e.at instanceof Date && !Number.isNaN(e.at.getTime()), `${name}: at is a Date`);
    return [name, { ...e, at: anyDate }];
  });
}

for (const kind of indexedStoreKinds) {
  describe(`@nestjs/event-emitter bridge on the ${kind.name} store`, { skip: kind.skip }, () => {
    it('@OnEvent handlers get session.loggedIn and session.loggedOut with the listed handle, never the id', async (t) => {
      const app = await start(t, { store: await kind.create(t) });
      const log = app.nest.get(SessionEventLog);
      const alice = await logIn(app, 'alice');
      assert.deepEqual(withoutTimes(log.named), [event('loggedIn', alice.handle, 'alice')]);
      assert.equal((await alice.client.post('/auth/logout')).status, 200);
      assert.equal((await alice.client.get('/auth/me')).status, 401);
      assert.deepEqual(withoutTimes(log.named), [
        event('loggedIn', alice.handle, 'alice'),
        event('loggedOut', alice.handle, 'alice'),
      ]);
      assertNoSecrets([log.named, log.all], alice.secrets);
      assert.deepEqual(
        log.all.map((e) => e.type),
        ['created', 'loggedIn', 'loggedOut'],
        'the session.* handler gets every type',
      );
    });

    it('SessionRegistry.revoke emits session.revoked; the revoked client is then anonymous', async (t) => {
      const app = await start(t, { store: await kind.create(t) });
      const log = app.nest.get(SessionEventLog);
      const bob = await logIn(app, 'bob');
      const other = await logIn(app, 'bob');
      assert.equal(await app.nest.get(SessionRegistry).revoke(bob.handle), true);
      assert.deepEqual(withoutTimes(log.named), [
        event('loggedIn', bob.handle, 'bob'),
        event('loggedIn', other.handle, 'bob'),
        event('revoked', bob.handle, 'bob'),
      ]);
      assert.equal((await bob.client.get('/auth/me')).status, 401);
      assert.equal((await other.client.get('/auth/me')).status, 200);
      assertNoSecrets([log.named, log.all], [...bob.secrets, ...other.secrets]);
    });

    it('maxSessionsPerUser: 1 emits session.evicted for the first session, whose client then gets 401', async (t) => {
      const app = await start(t, { store: await kind.create(t), options: { maxSessionsPerUser: 1 } });
      const log = app.nest.get(SessionEventLog);
      const first = await logIn(app, 'carol');
      const second = await logIn(app, 'carol');
      assert.deepEqual(withoutTimes(log.named), [
        event('loggedIn', first.handle, 'carol'),
        event('evicted', first.handle, 'carol'),
        event('loggedIn', second.handle, 'carol'),
      ]);
      assert.equal((await first.client.get('/auth/me')).status, 401);
      assert.deepEqual((await second.client.get('/auth/me')).body, { userId: 'carol' });
      assertNoSecrets([log.named, log.all], [...first.secrets, ...second.secrets]);
      assert.deepEqual(
        log.all.map((e) => `${e.type}:${e.handle === first.handle ? 'first' : 'second'}`),
        ['created:first', 'loggedIn:first', 'evicted:first', 'created:second', 'loggedIn:second'],
      );
    });

    it('handlers that throw or reject break neither the request nor the events that follow', async (t) => {
      const app = await start(t, {
        store: await kind.create(t),
        providers: [BrokenListeners, SessionEventLog, SessionAdmin],
      });
      const broken = app.nest.get(BrokenListeners);
      const first = await logIn(app, 'dave');
      assert.deepEqual((await first.client.get('/auth/me')).body, { userId: 'dave' });
      assert.deepEqual([...broken.calls].sort(), ['rejects', 'throws'], 'the @OnEvent handlers ran and failed');
      assert.equal((await first.client.post('/auth/logout')).status, 200);
      assert.ok(broken.calls.includes('on'), 'the emitter listener ran and threw');
      assert.equal((await first.client.get('/auth/me')).status, 401, 'the logout took effect');
      const second = await logIn(app, 'dave');
      assert.deepEqual((await second.client.get('/auth/me')).body, { userId: 'dave' });
      assert.deepEqual(
        withoutTimes(app.nest.get(SessionEventLog).named.filter(([name]) => name === 'session.loggedIn')),
        [event('loggedIn', first.handle, 'dave'), event('loggedIn', second.handle, 'dave')],
        'the bridge still delivers after handlers threw',
      );
    });

    it('an @OnEvent handler with suppressErrors: false that throws leaves no unhandled rejection', async (t) => {
      const app = await start(t, { store: await kind.create(t), providers: [RethrowingListener, SessionAdmin] });
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      t.after(() => void process.off('unhandledRejection', onUnhandled));
      const client = app.client();
      assert.equal((await client.post('/auth/login', { userId: 'dave' })).status, 200);
      assert.deepEqual((await client.get('/auth/me')).body, { userId: 'dave' });
      assert.equal(app.nest.get(RethrowingListener).calls, 1, 'the handler ran and threw');
      // An unhandled rejection is reported after the microtasks that made it: wait past them.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        unhandled.map((r) => (r instanceof Error ? r.message : String(r))),
        [],
        'a handler failure must not reach the process (by default Node ends on an unhandled rejection)',
      );
    });

    it('an app whose only use of the controls is @OnEvent handlers gets session.loggedIn with a handle', async (t) => {
      // Nothing injects SessionRegistry and no control option is set: logins are indexed all the same.
      const app = await start(t, { store: await kind.create(t), providers: [SessionEventLog] });
      const log = app.nest.get(SessionEventLog);
      const client = app.client();
      assert.equal((await client.post('/auth/login', { userId: 'erin' })).status, 200);
      assert.deepEqual(
        log.all.map((e) => [e.type, typeof e.handle, e.userId]),
        [
          ['created', 'string', 'erin'],
          ['loggedIn', 'string', 'erin'],
        ],
      );
    });

    it('an app without EventEmitterModule boots, and SessionRegistry.events still emits', async (t) => {
      const app = await start(t, { store: await kind.create(t), emitter: false, providers: [SessionAdmin] });
      const seen: string[] = [];
      const subscription = app.nest
        .get(SessionRegistry)
        .events.subscribe((e) => seen.push(`${e.type}:${String(e.userId)}`));
      t.after(() => subscription.unsubscribe());
      const client = app.client();
      assert.equal((await client.post('/auth/login', { userId: 'frank' })).status, 200);
      assert.equal((await client.post('/auth/logout')).status, 200);
      assert.deepEqual(seen, ['created:frank', 'loggedIn:frank', 'loggedOut:frank']);
      assert.throws(() => app.nest.get(EventEmitter2, { strict: false }), 'the app really has no EventEmitter2');
    });
  });
}
