import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SessionData, Store } from 'express-session';
import { SESSION_MODULE_OPTIONS } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import { AppModule } from '../../sample/app.module.js';
import { startApp } from '../support/app.js';
import { asError } from '../support/errors.js';
import { sidOf, tokenIn } from '../support/http.js';
import { peek } from '../support/store-kinds.js';

const COOKIE = 'sample.sid';

describe('the sample pages: CSRF tokens, flash messages, recent login', () => {
  it('the forms carry the token, a POST without it is refused, logout says so once, the password page wants a recent login', async (t) => {
    const app = await startApp(t, AppModule);
    const store = app.nest.get<SessionModuleOptions>(SESSION_MODULE_OPTIONS).session.store as Store;
    const client = app.client();

    const loginPage = await client.get('/pages/login');
    assert.equal(loginPage.status, 200);
    const token = tokenIn(loginPage.text);
    const refused = await client.postForm('/pages/login', { username: 'demo', password: 'demo' });
    assert.equal(refused.status, 403);
    assert.match((refused.body as { message: string }).message, /CSRF token/);

    const login = await client.postForm('/pages/login', { username: 'demo', password: 'demo', _csrf: token });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/pages/dashboard');
    const dashboard = await client.get('/pages/dashboard');
    assert.match(dashboard.text, /action="\/pages\/logout"><input type="hidden" name="_csrf"/);
    assert.equal((await client.get('/pages/password')).status, 200, 'a fresh login may change the password');

    // Two hours later (the login time moved back in the store), the page asks for the password again.
    const sid = sidOf(client.jar.get(COOKIE))!;
    const record = (await peek(store, sid)) as SessionData & { __forms: { loggedInAt: number } };
    record.__forms.loggedInAt -= 2 * 60 * 60 * 1000;
    await new Promise<void>((resolve, reject) =>
      store.set(sid, record, (err) => (err ? reject(asError(err)) : resolve())),
    );
    const stale = await client.get('/pages/password');
    assert.equal(stale.status, 303);
    assert.equal(stale.headers.get('location'), '/pages/confirm');
    const stalePost = await client.postForm('/pages/password', { password: 'new', _csrf: tokenIn(dashboard.text) });
    assert.equal(stalePost.headers.get('location'), '/pages/confirm', 'the change itself is refused too');
    const confirmPage = await client.get('/pages/confirm');
    const wrong = await client.postForm('/pages/confirm', { password: 'nope', _csrf: tokenIn(confirmPage.text) });
    assert.equal(wrong.status, 401);
    const confirmed = await client.postForm('/pages/confirm', { password: 'demo', _csrf: tokenIn(confirmPage.text) });
    assert.equal(confirmed.headers.get('location'), '/pages/password');
    assert.equal((await client.get('/pages/password')).status, 200, 'recent again after confirmLogin()');

    const logout = await client.postForm('/pages/logout', { _csrf: tokenIn(dashboard.text) });
    assert.equal(logout.status, 303);
    assert.equal(logout.headers.get('location'), '/pages/login');
    assert.match((await client.get('/pages/login')).text, /<p id="flash" role="status">You are signed out.<\/p>/);
    assert.doesNotMatch((await client.get('/pages/login')).text, /You are signed out/, 'shown once');
    assert.equal((await client.get('/pages/password')).headers.get('location'), '/pages/login');
  });

  it('a single-page app gets its token from GET /csrf-token', async (t) => {
    const app = await startApp(t, AppModule);
    const client = app.client();
    const res = await client.get('/csrf-token');
    assert.equal(res.status, 200);
    assert.equal(typeof res.body.token, 'string');
    assert.notEqual((await client.get('/csrf-token')).body.token, res.body.token, 'masked anew each time');
  });
});
