import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { EmbeddedStore, Session, SessionModule, SessionRegistry } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import { SessionIoAdapter } from 'nest-express-session/socket.io';
import type { Socket } from 'socket.io-client';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import type { Cleanup } from '../support/cleanup.js';
import { defer } from '../support/cleanup.js';
import { AuthController } from '../support/controllers.js';
import { ask, connectSocket } from '../support/sockets.js';

@WebSocketGateway()
class WhoGateway {
  constructor(readonly registry: SessionRegistry) {}

  @SubscribeMessage('whoami')
  whoami(@Session('userId') userId: string | undefined): { userId: string | null } {
    return { userId: userId ?? null };
  }
}

function start(t: Cleanup, options: Partial<SessionModuleOptions> = {}): Promise<TestApp> {
  const store = new EmbeddedStore();
  defer(t, () => store.close?.());
  return startApp(t, {
    imports: [SessionModule.forRoot({ ...options, session: { secret: TEST_SECRET, store } })],
    controllers: [AuthController],
    providers: [WhoGateway],
    setup: (app) => void app.useWebSocketAdapter(new SessionIoAdapter(app)),
  });
}

/** A logged-in HTTP client and a socket opened with its cookie. */
async function loggedInSocket(t: Cleanup, app: TestApp, userId: string) {
  const http = app.client();
  assert.equal((await http.post('/auth/login', { userId })).status, 200);
  const socket = await connectSocket(app.url, { cookie: http.cookieHeader() });
  defer(t, () => void socket.close());
  assert.deepEqual(await ask(socket, 'whoami'), { ack: { userId } });
  return { http, socket };
}

/** Resolves with the reason the socket was disconnected for. */
function disconnected(socket: Socket): Promise<string> {
  return new Promise((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
}

describe('socket.io: a socket of an ended session is disconnected', () => {
  it(
    "revoked through SessionRegistry: its socket is disconnected by the server; another session's socket stays",
    { timeout: 10_000 },
    async (t) => {
      const app = await start(t);
      const registry = app.nest.get(SessionRegistry);
      const a = await loggedInSocket(t, app, 'alice');
      const [handleOfA] = (await registry.list('alice')).map((s) => s.handle);
      const b = await loggedInSocket(t, app, 'alice');
      const handles = (await registry.list('alice')).map((s) => s.handle);
      assert.equal(handles.length, 2);
      const handleOfB = handles.find((h) => h !== handleOfA)!;
      const gone = disconnected(b.socket);
      assert.equal(await registry.revoke(handleOfB), true);
      assert.equal(await gone, 'io server disconnect');
      assert.equal(a.socket.connected, true);
      assert.deepEqual(await ask(a.socket, 'whoami'), { ack: { userId: 'alice' } });
    },
  );

  it('logged out over HTTP: its socket is disconnected', { timeout: 10_000 }, async (t) => {
    const app = await start(t);
    const { http, socket } = await loggedInSocket(t, app, 'bob');
    const gone = disconnected(socket);
    assert.equal((await http.post('/auth/logout')).status, 200);
    assert.equal(await gone, 'io server disconnect');
  });

  it(
    "evicted by maxSessionsPerUser: the first session's socket is disconnected, the new one's stays",
    { timeout: 10_000 },
    async (t) => {
      // The default onSessionLimit, 'evict': the second login ends the first session.
      const app = await start(t, { maxSessionsPerUser: 1 });
      const a = await loggedInSocket(t, app, 'carol');
      const gone = disconnected(a.socket);
      const b = await loggedInSocket(t, app, 'carol');
      // The server disconnected A while B logged in, so it can no longer answer A: an answer means A was kept.
      const kept = ask(a.socket, 'whoami').then((answer) => `still connected, answered ${JSON.stringify(answer)}`);
      assert.equal(await Promise.race([gone, kept]), 'io server disconnect');
      assert.equal(b.socket.connected, true);
      assert.deepEqual(await ask(b.socket, 'whoami'), { ack: { userId: 'carol' } });
      assert.equal((await a.http.get('/auth/me')).status, 401);
      assert.equal((await b.http.get('/auth/me')).status, 200);
    },
  );
});
