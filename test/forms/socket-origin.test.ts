import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { io } from 'socket.io-client';
import { Session, SessionModule } from 'nest-express-session';
import { SessionIoAdapter } from 'nest-express-session/socket.io';
import { startApp, TEST_SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { ask } from '../support/sockets.js';

@WebSocketGateway()
class WhoGateway {
  @SubscribeMessage('whoami')
  whoami(@Session('userId') userId: string | number | undefined): { userId: string | number | null } {
    return { userId: userId ?? null };
  }
}

const TRUSTED = 'https://partner.example';

/** Opens a socket with these headers; resolves with the socket or the connect_error's message and data. */
function open(
  url: string,
  headers: Record<string, string>,
  transports: ('polling' | 'websocket')[],
): Promise<{ socket?: ReturnType<typeof io>; error?: string; data?: unknown }> {
  const socket = io(url, { transports, extraHeaders: headers, reconnection: false, forceNew: true });
  return new Promise((resolve) => {
    socket.once('connect', () => resolve({ socket }));
    socket.once('connect_error', (err: Error & { data?: unknown }) => {
      socket.close();
      resolve({ error: err.message, data: err.data });
    });
  });
}

describe('socket.io handshake: the Origin is checked as CsrfGuard checks it', () => {
  for (const transports of [['polling'], ['websocket']] as ('polling' | 'websocket')[][]) {
    it(`a cross-site origin is refused, the app's own, a trusted one or none go on (${transports[0]})`, async (t) => {
      const app = await startApp(t, {
        imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET }, csrf: { trustedOrigins: [TRUSTED] } })],
        controllers: [AuthController],
        providers: [WhoGateway],
        setup: (nest) => {
          nest.useWebSocketAdapter(new SessionIoAdapter(nest));
        },
      });
      const http = app.client();
      await http.post('/auth/login', { userId: 'alice' });
      const cookie = http.cookieHeader();

      const evil = await open(app.url, { cookie, origin: 'https://evil.example' }, transports);
      assert.equal(evil.socket, undefined, 'refused');
      assert.match(evil.error ?? '', /cross-site handshake/);
      assert.deepEqual(evil.data, { status: 403 });

      for (const origin of [app.url, TRUSTED, undefined]) {
        const headers: Record<string, string> = origin === undefined ? { cookie } : { cookie, origin };
        const opened = await open(app.url, headers, transports);
        assert.ok(opened.socket, `${origin ?? 'no origin'}: ${opened.error ?? ''}`);
        try {
          assert.deepEqual(await ask(opened.socket, 'whoami'), { ack: { userId: 'alice' } });
        } finally {
          opened.socket.close();
        }
      }
    });
  }
});
