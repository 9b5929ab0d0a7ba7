import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionModule } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { AppSpec } from '../support/app.js';
import { AuthController, CounterController } from '../support/controllers.js';
import { setCookieFor } from '../support/http.js';
import { eventually } from '../support/net.js';

/** An app with a Secure session cookie, reached over plain HTTP as from a proxy that ended TLS. */
function secureApp(logs: string[], trustProxy: boolean): AppSpec {
  return {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, cookie: { secure: true } } })],
    controllers: [AuthController, CounterController],
    logs,
    setup: (app) => {
      if (trustProxy) app.set('trust proxy', 1);
    },
  };
}

const FROM_PROXY = { 'x-forwarded-proto': 'https' };
const isTrustProxyWarning = (line: string): boolean =>
  line.startsWith('warn') && line.includes("app.set('trust proxy'");

// Finding 11 of the hardening review: behind a TLS proxy without `trust proxy`, express-session stores the
// session but sends no cookie, so a login "works" and the browser stays anonymous, silently.
describe('cookie.secure over plain HTTP without trust proxy', () => {
  it("warns once, naming app.set('trust proxy', ...), when a session was stored but its cookie not sent", async (t) => {
    const logs: string[] = [];
    const app = await startApp(t, secureApp(logs, false));
    const read = await app.client().get('/whoami', FROM_PROXY);
    assert.equal(read.status, 200);
    assert.deepEqual(logs.filter(isTrustProxyWarning), [], 'nothing stored, nothing to warn about');

    const login = await app.client().post('/auth/login', { userId: 'alice' }, FROM_PROXY);
    assert.equal(login.status, 200);
    assert.equal(setCookieFor(login, 'connect.sid'), undefined, 'express-session sends no Secure cookie over HTTP');
    assert.ok(await eventually(() => Promise.resolve(logs.some(isTrustProxyWarning)), 50, 20), logs.join('\n'));
    for (let i = 0; i < 3; i++) await app.client().post('/auth/login', { userId: `user${i}` }, FROM_PROXY);
    await app.client().get('/', FROM_PROXY);
    assert.equal(logs.filter(isTrustProxyWarning).length, 1, 'once');
  });

  it("with app.set('trust proxy', 1) the cookie is sent and nothing is logged", async (t) => {
    const logs: string[] = [];
    const app = await startApp(t, secureApp(logs, true));
    const client = app.client();
    const login = await client.post('/auth/login', { userId: 'alice' }, FROM_PROXY);
    assert.match(setCookieFor(login, 'connect.sid') ?? '', /; Secure/);
    assert.deepEqual((await client.get('/auth/me', FROM_PROXY)).body, { userId: 'alice' });
    assert.deepEqual(logs.filter(isTrustProxyWarning), []);
  });
});
