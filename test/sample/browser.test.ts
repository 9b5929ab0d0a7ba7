import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { AppModule } from '../../sample/app.module.js';
import { UsersService } from '../../sample/users.service.js';
import { launchChromium, skipWithoutChromium } from '../support/chromium.js';
import { startApp } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import { defer, suiteCleanup } from '../support/cleanup.js';

const ARTIFACTS = resolve('test-artifacts');
const COOKIE = 'sample.sid';

const skip = skipWithoutChromium;
if (skip) console.log(`# ${skip}`);

describe('A real browser (Chromium) on the sample pages', { skip }, () => {
  const suite = suiteCleanup();
  let app: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    app = await startApp(suite, AppModule);
    browser = await launchChromium(suite);
    context = await browser.newContext({ viewport: { width: 800, height: 600 } });
    page = await context.newPage();
  });

  const path = (): string => new URL(page.url()).pathname;
  const sessionCookie = async () => (await context.cookies(app.url)).find((c) => c.name === COOKIE);

  it('the dashboard sends an anonymous visitor to the login form', async () => {
    await page.goto(`${app.url}/pages/dashboard`);
    assert.equal(path(), '/pages/login');
    assert.equal(await page.locator('h1').textContent(), 'Sign in');
  });

  it('a wrong password shows the form again with an error; the form carries the CSRF token', async () => {
    await page.fill('#username', 'demo');
    await page.fill('#password', 'wrong');
    await Promise.all([page.waitForURL(`${app.url}/pages/login`), page.click('#submit')]);
    assert.equal(await page.locator('#error').textContent(), 'Wrong username or password.');
    assert.ok(await page.locator('input[name="_csrf"]').getAttribute('value'), 'the form carries the token');
  });

  it('logs in through the form and lands on the dashboard', async () => {
    await page.fill('#username', 'demo');
    await page.fill('#password', 'demo');
    await Promise.all([page.waitForURL(`${app.url}/pages/dashboard`), page.click('#submit')]);
    assert.equal(await page.locator('#user strong').textContent(), 'demo');
    assert.equal(await page.locator('#views').textContent(), '1');
  });

  it('stays logged in across reloads; the visit counter goes up', async () => {
    await page.reload();
    assert.equal(path(), '/pages/dashboard');
    assert.equal(await page.locator('#views').textContent(), '2');
    await page.reload();
    assert.equal(await page.locator('#views').textContent(), '3');
    await page.goto(`${app.url}/pages/login`);
    assert.equal(path(), '/pages/dashboard', 'the login page sends a logged-in user to the dashboard');
    assert.equal(await page.locator('#views').textContent(), '4');
  });

  it('the session cookie is HttpOnly: the browser holds it, document.cookie does not show it', async () => {
    const cookie = await sessionCookie();
    assert.ok(cookie, 'the browser holds the session cookie');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Lax');
    const visible = String(await page.evaluate('document.cookie'));
    assert.ok(!visible.includes(COOKIE), `document.cookie must not show ${COOKIE}: ${JSON.stringify(visible)}`);
  });

  it('saves a screenshot of the dashboard', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = resolve(ARTIFACTS, 'dashboard.png');
    await page.screenshot({ path: file, fullPage: true });
    assert.ok(statSync(file).size > 1000, `a screenshot was written to ${file}`);
  });

  it('changes the password on the page that wants a recent login; the notice shows once', async () => {
    await Promise.all([page.waitForURL(`${app.url}/pages/password`), page.click('#change-password')]);
    await page.fill('#new-password', 'demo');
    await Promise.all([page.waitForURL(`${app.url}/pages/dashboard`), page.click('#save')]);
    assert.equal(await page.locator('#flash').textContent(), 'Your password was changed.');
    await page.reload();
    assert.equal(await page.locator('#flash').count(), 0, 'the notice shows once');
  });

  it('a form posted from another origin (another port) is refused, and changes nothing', async () => {
    const evil = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><form id="f" method="post" action="${app.url}/pages/password">
        <input name="password" value="stolen"></form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    defer(suite, () => new Promise<void>((resolve) => evil.close(() => resolve())));
    const port = (evil.address() as AddressInfo).port;
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${app.url}/pages/password` && r.request().method() === 'POST'),
      page.goto(`http://127.0.0.1:${port}/`),
    ]);
    assert.equal(answer.status(), 403);
    assert.match(await page.content(), /CSRF check failed/);
    assert.ok(app.nest.get(UsersService).validate('demo', 'demo'), 'the password is unchanged');
    assert.equal(app.nest.get(UsersService).validate('demo', 'stolen'), undefined);
    await page.goto(`${app.url}/pages/dashboard`);
    assert.equal(path(), '/pages/dashboard', 'still logged in');
  });

  it('logs out with the button: the old session is gone, the login form says "You are signed out." once', async () => {
    const before = await sessionCookie();
    assert.ok(before);
    await Promise.all([page.waitForURL(`${app.url}/pages/login`), page.click('#logout')]);
    assert.equal(await page.locator('#flash').textContent(), 'You are signed out.');
    assert.notEqual((await sessionCookie())?.value, before.value, 'the logged-in session cookie is gone');
    await page.reload();
    assert.equal(await page.locator('#flash').count(), 0, 'the notice shows once');
    await page.goto(`${app.url}/pages/dashboard`);
    assert.equal(path(), '/pages/login');
    // A copy of the old cookie is worth nothing: the session is gone from the store.
    await context.addCookies([before]);
    await page.goto(`${app.url}/pages/dashboard`);
    assert.equal(path(), '/pages/login');
  });
});
