import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionRegistry } from 'nest-express-session';
import { AppModule } from '../../sample/app.module.js';
import { launchChromium, skipWithoutChromium } from '../support/chromium.js';
import { startApp } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import type { Cleanup } from '../support/cleanup.js';
import { Client, tokenIn } from '../support/http.js';

const STORE_VARIABLES = ['SESSION_STORE', 'SQLITE_PATH', 'REDIS_URL', 'DATABASE_URL'] as const;

/** The sample on its own embedded store, so other tests' logins of the demo users are not in its lists. */
async function sample(t: Cleanup): Promise<TestApp> {
  const saved = STORE_VARIABLES.map((key) => [key, process.env[key]] as const);
  for (const key of STORE_VARIABLES) delete process.env[key];
  try {
    return await startApp(t, AppModule);
  } finally {
    for (const [key, value] of saved) if (value !== undefined) process.env[key] = value;
  }
}

/** A client logged in through the sample's login form. */
async function loggedIn(url: string, username: string): Promise<Client> {
  const client = new Client(url);
  const page = await client.get('/pages/login');
  const res = await client.postForm('/pages/login', { username, password: username, _csrf: tokenIn(page.text) });
  assert.equal(res.headers.get('location'), '/pages/dashboard');
  return client;
}

describe('the sample "Your sessions" page', () => {
  it("a handle of another user's session cannot be revoked through the page; that session keeps working", async (t) => {
    const app = await sample(t);
    const mine = await loggedIn(app.url, 'demo');
    const other = await loggedIn(app.url, 'demo2');
    const [theirs] = await app.nest.get(SessionRegistry).list(2);
    assert.ok(theirs, 'demo2 has a session');
    const page = await mine.get('/pages/sessions');
    assert.equal(page.status, 200);
    assert.ok(!page.text.includes(theirs.handle), "the page lists only the user's own sessions");
    const res = await mine.postForm('/pages/sessions/revoke', { handle: theirs.handle, _csrf: tokenIn(page.text) });
    assert.equal(res.status, 404);
    assert.equal((await app.nest.get(SessionRegistry).list(2)).length, 1, 'demo2 is still signed in');
    assert.equal((await other.get('/dashboard')).status, 200, "demo2's session still works");
  });

  it('without the CSRF token the sign-out buttons are refused', async (t) => {
    const app = await sample(t);
    const a = await loggedIn(app.url, 'demo');
    const b = await loggedIn(app.url, 'demo');
    const [other] = (await app.nest.get(SessionRegistry).list(1)).filter((s) => !s.current);
    assert.equal((await a.postForm('/pages/sessions/revoke', { handle: other.handle })).status, 403);
    assert.equal((await a.postForm('/pages/sessions/others', {})).status, 403);
    assert.equal((await b.get('/dashboard')).status, 200);
  });

  it('"sign out everywhere else" ends the other sessions and keeps this one', async (t) => {
    const app = await sample(t);
    const a = await loggedIn(app.url, 'demo');
    const b = await loggedIn(app.url, 'demo');
    const c = await loggedIn(app.url, 'demo');
    const page = await a.get('/pages/sessions');
    assert.equal((page.text.match(/class="session"/g) ?? []).length, 3);
    const res = await a.postForm('/pages/sessions/others', { _csrf: tokenIn(page.text) });
    assert.equal(res.headers.get('location'), '/pages/sessions');
    assert.equal((await b.get('/dashboard')).status, 401);
    assert.equal((await c.get('/dashboard')).status, 401);
    const after = await a.get('/pages/sessions');
    assert.equal(after.status, 200);
    assert.equal((after.text.match(/class="session"/g) ?? []).length, 1);
    assert.match(after.text, /this device/);
    assert.match(after.text, /Signed out on 2 other devices\./);
  });

  const skip = skipWithoutChromium;
  it(
    "in Chromium: two browser contexts of one user; A signs B out; B's reload lands on the login page",
    { skip },
    async (t) => {
      const app = await sample(t);
      const browser = await launchChromium(t);
      const pages = [];
      for (const name of ['A', 'B']) {
        // Each context has its own cookie jar, like two devices.
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(`${app.url}/pages/login`);
        await page.fill('#username', 'demo');
        await page.fill('#password', 'demo');
        await Promise.all([page.waitForURL(`${app.url}/pages/dashboard`), page.click('#submit')]);
        assert.equal(await page.locator('#user strong').textContent(), 'demo', `context ${name} is signed in`);
        pages.push(page);
      }
      const [a, b] = pages;
      await Promise.all([a.waitForURL(`${app.url}/pages/sessions`), a.click('#your-sessions')]);
      assert.equal(await a.locator('li.session').count(), 2);
      assert.equal(await a.locator('li.session .current').count(), 1);
      assert.match((await a.locator('li.session').first().textContent()) ?? '', /Chrome/);
      assert.match((await a.locator('li.session').first().textContent()) ?? '', /127\.0\.0\.1/);
      await Promise.all([a.waitForURL(`${app.url}/pages/sessions`), a.click('button.revoke')]);
      assert.equal(await a.locator('#flash').textContent(), 'That device is signed out.');
      assert.equal(await a.locator('li.session').count(), 1);
      await b.reload();
      assert.equal(new URL(b.url()).pathname, '/pages/login', 'B is signed out');
      await a.goto(`${app.url}/pages/dashboard`);
      assert.equal(new URL(a.url()).pathname, '/pages/dashboard', 'A is still signed in');
    },
  );
});
