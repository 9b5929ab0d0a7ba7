import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SessionData } from 'express-session';
import { EmbeddedStore, SessionModule } from 'nest-express-session';
import { asError } from '../support/errors.js';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { Cleanup } from '../support/cleanup.js';
import { AuthController } from '../support/controllers.js';
import type { Client } from '../support/http.js';
import { sidOf } from '../support/http.js';
import { peek } from '../support/store-kinds.js';
import type { TestApp } from '../support/app.js';
import { AccountController, DangerController, FormController } from './forms-app.js';

async function start(t: Cleanup): Promise<{ app: TestApp; store: EmbeddedStore }> {
  const store = new EmbeddedStore();
  t.after(() => store.close());
  const app = await startApp(t, {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store } })],
    controllers: [AccountController, DangerController, FormController, AuthController],
  });
  return { app, store };
}

/** Moves the session's recorded login `ms` into the past, in the store (no waiting). */
async function ageLogin(store: EmbeddedStore, client: Client, ms: number): Promise<void> {
  const sid = sidOf(client.jar.get('connect.sid'))!;
  const record = (await peek(store, sid)) as unknown as { __forms: { loggedInAt: number } } & SessionData;
  record.__forms.loggedInAt -= ms;
  await new Promise<void>((resolve, reject) =>
    store.set(sid, record, (err) => (err ? reject(asError(err)) : resolve())),
  );
}

describe('recent login', () => {
  it('logIn records when; @RequireRecentLogin(ms) passes within the window, 401 after it, again after confirmLogin()', async (t) => {
    const { app, store } = await start(t);
    const client = app.client();
    assert.equal((await client.post('/account/password')).status, 401, 'not logged in');
    const loginTime = Date.now();
    await client.post('/form/login', { userId: 'alice' }, { 'sec-fetch-site': 'same-origin' });
    const me = await client.get('/account/me');
    const at = Date.parse(me.body.loggedInAt as string);
    assert.ok(at >= loginTime - 1 && at <= Date.now() + 1, 'loggedInAt is the time of the login');
    assert.equal((await client.post('/account/password')).status, 200, 'within the window');
    assert.equal((await client.post('/danger/delete')).status, 200, 'within the window (on the controller)');

    await ageLogin(store, client, 2 * 60_000);
    const stale = await client.post('/account/password');
    assert.equal(stale.status, 401);
    assert.match(stale.body.message as string, /fresh login is needed/);
    assert.equal((await client.post('/danger/delete')).status, 401, 'the controller-level decorator');
    assert.equal((await client.get('/account/me')).status, 200, 'routes without the decorator still pass');

    assert.equal((await client.post('/account/confirm')).status, 200);
    assert.equal((await client.post('/account/password')).status, 200, 'after confirmLogin()');
    assert.equal((await client.post('/danger/delete')).status, 200);
  });

  it('the time is kept out of the session keys, and a session logged in without logIn() is not recent', async (t) => {
    const { app, store } = await start(t);
    const client = app.client();
    await client.post('/form/login', { userId: 'alice' }, { 'sec-fetch-site': 'same-origin' });
    const record = (await peek(store, sidOf(client.jar.get('connect.sid'))!)) as unknown as Record<string, unknown>;
    // The module's own keys in the record: the form state, the session index's handle and timestamps.
    assert.deepEqual(Object.keys(record).sort(), ['__forms', '__handle', '__session', 'cookie', 'userId']);
    assert.deepEqual(Object.keys((await client.get('/auth/state')).body.data as object), ['userId']);

    const other = app.client();
    await other.post('/auth/set', { userId: 'bob' });
    assert.equal((await other.get('/auth/me')).status, 200, 'authenticated');
    assert.deepEqual((await other.get('/account/me')).body, { loggedInAt: null });
    const res = await other.post('/account/password');
    assert.equal(res.status, 401);
    assert.match(res.body.message as string, /fresh login is needed/);
  });
});
