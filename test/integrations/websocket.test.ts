import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { UseGuards } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { SessionData } from 'express-session';
import {
  AuthenticatedGuard,
  EmbeddedStore,
  Session,
  SessionModule,
  SessionService,
  STORE_UNAVAILABLE_MESSAGE,
} from 'nest-express-session';
import type { RequestSession } from 'nest-express-session';
import { SessionIoAdapter } from 'nest-express-session/socket.io';
import type { TestApp } from '../support/app.js';
import { startApp, TEST_SECRET } from '../support/app.js';
import { defer, suiteCleanup } from '../support/cleanup.js';
import type { Cleanup } from '../support/cleanup.js';
import { AuthController } from '../support/controllers.js';
import { asError } from '../support/errors.js';
import { FaultStore } from '../support/fault-store.js';
import { sidOf } from '../support/http.js';
import { ask, connectSocket } from '../support/sockets.js';

@WebSocketGateway()
class SessionGateway {
  constructor(private readonly sessions: SessionService) {}

  @SubscribeMessage('whoami')
  whoami(@Session('userId') userId: string | number | undefined): { userId: string | number | null } {
    return { userId: userId ?? null };
  }

  @UseGuards(AuthenticatedGuard)
  @SubscribeMessage('secret')
  secret(@Session('userId') userId: string | number): { secret: number; userId: string | number } {
    return { secret: 42, userId };
  }

  @SubscribeMessage('count')
  async count(@Session() session: RequestSession & Partial<SessionData>): Promise<{ views: number; id: string }> {
    session.views = (session.views ?? 0) + 1;
    await new Promise<void>((resolve, reject) => session.save((err) => (err ? reject(asError(err)) : resolve())));
    return { views: session.views, id: session.id };
  }

  @SubscribeMessage('service')
  service(): { error: string } | { id: string } {
    try {
      return { id: this.sessions.id };
    } catch (err) {
      return { error: (err as Error).message };
    }
  }
}

/** Boots the gateway and the auth controller over this store (closed when `t` ends). */
function start(
  t: Cleanup,
  store: EmbeddedStore | FaultStore,
  adapter: 'session' | 'plain' = 'session',
  logs?: string[],
): Promise<TestApp> {
  return startApp(t, {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store } })],
    controllers: [AuthController],
    providers: [SessionGateway],
    setup: (app) => {
      app.useWebSocketAdapter(adapter === 'session' ? new SessionIoAdapter(app) : new IoAdapter(app));
    },
    logs,
  });
}

describe('WebSockets (socket.io gateway with SessionIoAdapter)', () => {
  const suite = suiteCleanup();
  const store = new FaultStore(new EmbeddedStore());
  defer(suite, () => (store.inner as EmbeddedStore).close?.());
  let app: TestApp;
  before(async () => {
    app = await start(suite, store);
  });

  for (const transports of [['polling', 'websocket'], ['websocket']] as const) {
    it(`a login over HTTP is seen by a socket opened with the same cookie (${transports.join(' then ')})`, async () => {
      const http = app.client();
      const login = await http.post('/auth/login', { userId: 'alice' });
      assert.equal(login.status, 200);
      const socket = await connectSocket(app.url, { cookie: http.cookieHeader(), transports: [...transports] });
      try {
        assert.deepEqual(await ask(socket, 'whoami'), { ack: { userId: 'alice' } });
        assert.deepEqual(await ask(socket, 'secret'), { ack: { secret: 42, userId: 'alice' } });
      } finally {
        socket.close();
      }
    });
  }

  it('a socket without a session cookie is anonymous and AuthenticatedGuard refuses it with a WsException', async () => {
    const socket = await connectSocket(app.url);
    try {
      assert.deepEqual(await ask(socket, 'whoami'), { ack: { userId: null } });
      const refused = await ask(socket, 'secret');
      assert.ok('exception' in refused, 'the guarded message gets an exception, not an answer');
      assert.equal(refused.exception.status, 'error');
      assert.equal(refused.exception.message, 'Unauthorized');
    } finally {
      socket.close();
    }
  });

  it('a logout over HTTP reaches a socket that is already open: the next guarded message is refused', async () => {
    const http = app.client();
    await http.post('/auth/login', { userId: 'bob' });
    const socket = await connectSocket(app.url, { cookie: http.cookieHeader() });
    try {
      assert.deepEqual(await ask(socket, 'secret'), { ack: { secret: 42, userId: 'bob' } });
      assert.equal((await http.post('/auth/logout')).status, 200);
      const refused = await ask(socket, 'secret');
      assert.ok('exception' in refused);
      assert.equal(refused.exception.message, 'Unauthorized');
      assert.deepEqual(await ask(socket, 'whoami'), { ack: { userId: null } }, 'the guard left the socket anonymous');
    } finally {
      socket.close();
    }
  });

  it('a change saved in a gateway is in the store and seen over HTTP with the same cookie', async () => {
    const http = app.client();
    const login = await http.post('/auth/login', { userId: 'carol' });
    const socket = await connectSocket(app.url, { cookie: http.cookieHeader() });
    try {
      assert.deepEqual(await ask(socket, 'count'), { ack: { views: 1, id: login.body.id } });
      assert.deepEqual(await ask(socket, 'count'), { ack: { views: 2, id: login.body.id } });
      const stored = (await store.peek(login.body.id)) as Partial<SessionData> | null;
      assert.equal(stored?.views, 2);
      const state = await http.get('/auth/state');
      assert.equal(state.body.data.views, 2);
      assert.equal(state.body.data.userId, 'carol');
    } finally {
      socket.close();
    }
  });

  it('SessionService is not reachable from a gateway: the handshake request does not leak into the socket', async () => {
    const http = app.client();
    await http.post('/auth/login', { userId: 'dave' });
    const socket = await connectSocket(app.url, { cookie: http.cookieHeader(), transports: ['websocket'] });
    try {
      const answer = await ask(socket, 'service');
      assert.ok('ack' in answer);
      assert.match(answer.ack.error, /outside an HTTP request/);
    } finally {
      socket.close();
    }
  });

  it('a handshake whose session cannot be loaded is refused with the 503 message; the next one connects', async () => {
    const http = app.client();
    const login = await http.post('/auth/login', { userId: 'erin' });
    const before = store.calls.get;
    store.next('get', { kind: 'reject' });
    await assert.rejects(connectSocket(app.url, { cookie: http.cookieHeader() }), (err: Error & { data?: unknown }) => {
      assert.equal(err.message, STORE_UNAVAILABLE_MESSAGE);
      assert.deepEqual(err.data, { status: 503 });
      return true;
    });
    assert.equal(store.calls.get, before + 1, 'the handshake read the session once');
    const socket = await connectSocket(app.url, { cookie: http.cookieHeader() });
    try {
      assert.deepEqual(await ask(socket, 'whoami'), { ack: { userId: 'erin' } });
      assert.equal(sidOf(http.jar.get('connect.sid')), login.body.id);
    } finally {
      socket.close();
    }
  });

  it('a store failure while the guard rereads the session is refused with the 503 message, not a 401', async () => {
    const http = app.client();
    await http.post('/auth/login', { userId: 'frank' });
    const socket = await connectSocket(app.url, { cookie: http.cookieHeader() });
    try {
      store.next('get', { kind: 'reject' });
      const refused = await ask(socket, 'secret');
      assert.ok('exception' in refused);
      assert.equal(refused.exception.message, STORE_UNAVAILABLE_MESSAGE);
      assert.deepEqual(
        await ask(socket, 'secret'),
        { ack: { secret: 42, userId: 'frank' } },
        'the next message passes',
      );
    } finally {
      socket.close();
    }
  });

  it('engine.io long-polls after the handshake do not read the session again', async () => {
    const http = app.client();
    await http.post('/auth/login', { userId: 'gina' });
    store.resetCounts();
    const socket = await connectSocket(app.url, { cookie: http.cookieHeader(), transports: ['polling'] });
    try {
      for (let i = 0; i < 3; i++) assert.deepEqual(await ask(socket, 'whoami'), { ack: { userId: 'gina' } });
      assert.equal(store.calls.get, 1, 'one store read, on the handshake');
    } finally {
      socket.close();
    }
  });
});

describe('WebSockets without SessionIoAdapter', () => {
  it('@Session() in a gateway fails with an error that names the adapter, not a silent undefined', async (t) => {
    const logs: string[] = [];
    const store = new EmbeddedStore();
    defer(t, () => store.close());
    const app = await start(t, store, 'plain', logs);
    const socket = await connectSocket(app.url);
    try {
      const answer = await ask(socket, 'whoami');
      assert.ok('exception' in answer, 'no answer with an undefined session');
      assert.ok(
        logs.some((line) => line.includes('new SessionIoAdapter(app)')),
        `the log names the fix; got:\n${logs.join('\n')}`,
      );
    } finally {
      socket.close();
    }
  });
});
