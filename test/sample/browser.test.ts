import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { AppModule } from '../../sample/app.module.js';
import { startApp } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import { defer, suiteCleanup } from '../support/cleanup.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve('test-artifacts');
const COOKIE = 'sample.sid';

const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is not installed (apt-get install chromium); browser test skipped`;
if (skip) console.log(`# ${skip}`);

describe('A real browser (Chromium) on the sample pages', { skip }, () => {
  const suite = suiteCleanup();
  let app: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    app = await startApp(suite, AppModule);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    defer(suite, () => browser.close());
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

  it('a wrong password shows the form again with an error, and no session cookie', async () => {
    await page.fill('#username', 'demo');
    await page.fill('#password', 'wrong');
    await Promise.all([page.waitForURL(`${app.url}/pages/login`), page.click('#submit')]);
    assert.equal(await page.locator('#error').textContent(), 'Wrong username or password.');
    assert.equal(await sessionCookie(), undefined);
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

  it('logs out with the button: the cookie is gone and the dashboard sends the browser back to the login form', async () => {
    const before = await sessionCookie();
    assert.ok(before);
    await Promise.all([page.waitForURL(`${app.url}/pages/login`), page.click('#logout')]);
    assert.equal(await sessionCookie(), undefined, 'the logout expired the cookie');
    await page.goto(`${app.url}/pages/dashboard`);
    assert.equal(path(), '/pages/login');
    // A copy of the old cookie is worth nothing: the session is gone from the store.
    await context.addCookies([before]);
    await page.goto(`${app.url}/pages/dashboard`);
    assert.equal(path(), '/pages/login');
  });
});
