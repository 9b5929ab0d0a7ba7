import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { Page } from 'playwright-core';
import { launchChromium, skipWithoutChromium } from '../support/chromium.js';
import { startApp } from '../support/app.js';
import { asError } from '../support/errors.js';
import { FaultStore } from '../support/fault-store.js';
import { sidOf } from '../support/http.js';
import { reliabilityApp } from '../support/reliability.js';

const skip = skipWithoutChromium;
if (skip) console.log(`# ${skip}`);

/** A page of the sibling host: it sets the attacker's own session cookie on the parent domain. */
@Controller('sibling')
class SiblingController {
  /** The cookie value (URL-encoded, as set) the sibling plants. */
  static planted = '';

  @Get('plant')
  plant(@Res() res: Response): void {
    res.setHeader('Set-Cookie', `connect.sid=${SiblingController.planted}; Domain=app.test; Path=/; HttpOnly`);
    res.type('html').end('<p>planted</p>');
  }
}

/** The JSON a same-origin fetch from the page gets, with the browser's own cookies. */
async function fetchJson(page: Page, path: string, method = 'GET', body?: unknown): Promise<[number, unknown]> {
  return page.evaluate(
    async ([p, m, b]) => {
      const res = await fetch(p, {
        method: m,
        headers: b === undefined ? {} : { 'content-type': 'application/json' },
        body: b === undefined ? undefined : JSON.stringify(b),
      });
      return [res.status, await res.json()] as [number, unknown];
    },
    [path, method, body] as const,
  );
}

// Finding 1 of the hardening review, in a real browser: a page on a sibling subdomain plants the attacker's
// logged-in cookie with the parent Domain. Chromium sends the victim's host-only cookie first (older, same
// Path) and the planted one second; once the victim's session ends, the victim must be anonymous.
describe('Cookie tossing from a sibling subdomain, in Chromium', { skip }, () => {
  it("after the victim's session ends the victim is anonymous, not the attacker", async (t) => {
    const store = new FaultStore();
    const spec = reliabilityApp(store);
    const app = await startApp(t, { ...spec, controllers: [...(spec.controllers ?? []), SiblingController] });
    const port = new URL(app.url).port;
    const attacker = app.client();
    assert.equal((await attacker.post('/auth/login', { userId: 'mallory' })).status, 200);
    SiblingController.planted = attacker.jar.get('connect.sid')!;

    const browser = await launchChromium(t, ['--host-resolver-rules=MAP *.app.test 127.0.0.1']);
    const context = await browser.newContext();
    const page = await context.newPage();
    const victimOrigin = `http://victim.app.test:${port}`;

    await page.goto(`${victimOrigin}/auth/public`);
    const [loginStatus, login] = await fetchJson(page, '/auth/login', 'POST', { userId: 'alice' });
    assert.equal(loginStatus, 200);
    const victimSid = (login as { id: string }).id;

    await page.goto(`http://evil.app.test:${port}/sibling/plant`);
    const held = (await context.cookies(victimOrigin)).filter((c) => c.name === 'connect.sid');
    assert.deepEqual(
      held.map((c) => c.domain).sort(),
      ['.app.test', 'victim.app.test'],
      'the browser holds both cookies for the victim host',
    );

    await page.goto(`${victimOrigin}/auth/public`);
    assert.deepEqual(await fetchJson(page, '/auth/me'), [200, { userId: 'alice' }], 'the own cookie is sent first');
    await new Promise<void>((resolve, reject) =>
      store.inner.destroy(victimSid, (err) => (err ? reject(asError(err)) : resolve())),
    );
    const [status, body] = await fetchJson(page, '/auth/me');
    assert.equal(status, 401, `the victim is anonymous, not ${JSON.stringify(body)}`);
    const [, after] = await fetchJson(page, '/auth/set', 'POST', { theme: 'dark' });
    assert.notEqual((after as { id: string }).id, sidOf(SiblingController.planted));
    const own = (await context.cookies(victimOrigin)).find((c) => c.domain === 'victim.app.test');
    assert.notEqual(sidOf(own?.value), sidOf(SiblingController.planted), "the attacker's id is not in the own cookie");
  });
});
