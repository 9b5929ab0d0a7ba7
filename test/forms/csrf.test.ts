import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { APP_GUARD } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { CsrfGuard, EmbeddedStore, SessionModule } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import type { TestApp } from '../support/app.js';
import { createApp, startApp, TEST_SECRET } from '../support/app.js';
import { asError } from '../support/errors.js';
import type { Cleanup } from '../support/cleanup.js';
import type { Client } from '../support/http.js';
import { sidOf } from '../support/http.js';
import { peek } from '../support/store-kinds.js';
import { FaultStore } from '../support/fault-store.js';
import { FormController, ran } from './forms-app.js';

const TRUSTED = 'https://partner.example';
const EVIL = 'https://evil.example';

function start(t: Cleanup, options: Partial<SessionModuleOptions> = {}, appGuard = false): Promise<TestApp> {
  return startApp(t, {
    imports: [
      SessionModule.forRoot({ session: { secret: TEST_SECRET }, csrf: { trustedOrigins: [TRUSTED] }, ...options }),
    ],
    controllers: [FormController],
    providers: appGuard ? [{ provide: APP_GUARD, useClass: CsrfGuard }] : [],
  });
}

async function tokenOf(client: Client, path = '/form/token'): Promise<string> {
  const res = await client.get(path);
  assert.equal(res.status, 200);
  assert.equal(typeof res.body.token, 'string');
  return res.body.token as string;
}

function sessionCount(store: EmbeddedStore): Promise<number> {
  return new Promise((resolve, reject) => store.length((err, n) => (err ? reject(asError(err)) : resolve(n ?? 0))));
}

/** A POST to the guarded route, and whether its handler ran. */
async function submit(
  client: Client,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; message: string | undefined; ran: boolean }> {
  const before = ran.count;
  const res = await client.post('/form/submit', body, headers);
  return { status: res.status, message: res.body?.message as string | undefined, ran: ran.count > before };
}

function assertRefused(result: { status: number; message: string | undefined; ran: boolean }, says: RegExp): void {
  assert.equal(result.status, 403);
  assert.match(result.message ?? '', says);
  assert.equal(result.ran, false, 'the handler must not run');
}

describe('CsrfGuard: the browser says where a request comes from', () => {
  it('GET, HEAD and OPTIONS pass without a token or a session', async (t) => {
    const app = await start(t);
    const client = app.client();
    assert.equal((await client.get('/form/submit', { 'sec-fetch-site': 'cross-site', origin: EVIL })).status, 200);
    assert.equal((await client.request('HEAD', '/form/submit')).status, 200);
    assert.notEqual((await client.request('OPTIONS', '/form/submit')).status, 403);
  });

  it('Sec-Fetch-Site: same-origin or none passes without a token', async (t) => {
    const app = await start(t);
    const client = app.client();
    assert.deepEqual(await submit(client, { 'sec-fetch-site': 'same-origin', origin: app.url }), {
      status: 200,
      message: undefined,
      ran: true,
    });
    assert.equal((await submit(client, { 'sec-fetch-site': 'none' })).status, 200);
  });

  it('Sec-Fetch-Site: cross-site from an untrusted origin is refused, even with a valid token', async (t) => {
    const app = await start(t);
    const client = app.client();
    const token = await tokenOf(client);
    assertRefused(
      await submit(client, { 'sec-fetch-site': 'cross-site', origin: EVIL, 'x-csrf-token': token }),
      /cross-site/,
    );
    assertRefused(await submit(client, { 'sec-fetch-site': 'cross-site', 'x-csrf-token': token }), /cross-site/);
    // The same token from the app's own pages still works.
    assert.equal((await submit(client, { 'x-csrf-token': token })).status, 200);
  });

  it('Sec-Fetch-Site: same-site needs a valid token', async (t) => {
    const app = await start(t);
    const client = app.client();
    const token = await tokenOf(client);
    const sibling = 'https://shop.example';
    assertRefused(await submit(client, { 'sec-fetch-site': 'same-site', origin: sibling }), /needs a CSRF token/);
    assert.equal(
      (await submit(client, { 'sec-fetch-site': 'same-site', origin: sibling, 'x-csrf-token': token })).status,
      200,
    );
  });

  it('without Sec-Fetch-Site (plain HTTP), an Origin equal to the app’s own passes; another Origin needs a token', async (t) => {
    const app = await start(t);
    const client = app.client();
    assert.equal((await submit(client, { origin: app.url })).status, 200);
    assertRefused(await submit(client, { origin: EVIL }), /Origin is not this app's origin.*needs a CSRF token/);
    assertRefused(await submit(client, { origin: 'null' }), /needs a CSRF token/);
    // Same host, other port: another origin.
    assertRefused(await submit(client, { origin: 'http://127.0.0.1:1' }), /needs a CSRF token/);
    const token = await tokenOf(client);
    assert.equal((await submit(client, { origin: EVIL, 'x-csrf-token': token })).status, 200);
  });

  it('the app’s own origin follows trust proxy (X-Forwarded-Proto and X-Forwarded-Host)', async (t) => {
    const forwarded = {
      origin: 'https://app.example',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'app.example',
    };
    const plain = await start(t);
    assertRefused(await submit(plain.client(), forwarded), /needs a CSRF token/);
    const nest = await createApp<NestExpressApplication>(t, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET } })],
      controllers: [FormController],
    });
    nest.set('trust proxy', 'loopback');
    await nest.listen(0, '127.0.0.1');
    const url = (await nest.getUrl()).replace('[::1]', '127.0.0.1');
    const proxied = await fetch(`${url}/form/submit`, { method: 'POST', headers: forwarded });
    assert.equal(proxied.status, 200);
    const spoofed = await fetch(`${url}/form/submit`, {
      method: 'POST',
      headers: { ...forwarded, 'x-forwarded-host': 'other.example' },
    });
    assert.equal(spoofed.status, 403);
  });

  it('a trusted origin passes without a token, even when marked cross-site', async (t) => {
    const app = await start(t);
    const client = app.client();
    assert.equal((await submit(client, { 'sec-fetch-site': 'cross-site', origin: TRUSTED })).status, 200);
    assert.equal((await submit(client, { origin: `${TRUSTED}:443` })).status, 200, 'default port normalised');
    assertRefused(
      await submit(client, { 'sec-fetch-site': 'cross-site', origin: 'https://partner.example.evil.example' }),
      /cross-site/,
    );
  });

  it('no browser headers at all: a token is needed', async (t) => {
    const app = await start(t);
    const client = app.client();
    await tokenOf(client);
    assertRefused(await submit(client, {}), /needs a CSRF token in the x-csrf-token header or the _csrf body field/);
  });

  it('@SkipCsrf() lets a handler through', async (t) => {
    const app = await start(t);
    const res = await app.client().post('/form/skip', undefined, { 'sec-fetch-site': 'cross-site', origin: EVIL });
    assert.equal(res.status, 200);
  });
});

describe('CsrfGuard: the session-bound token', () => {
  it('is accepted from the header, a JSON body field and an urlencoded form field', async (t) => {
    const app = await start(t);
    const client = app.client();
    const token = await tokenOf(client);
    assert.equal((await submit(client, { 'x-csrf-token': token })).status, 200);
    assert.equal((await submit(client, {}, { _csrf: token })).status, 200);
    assert.equal((await client.postForm('/form/submit', { name: 'x' })).status, 403);
    assert.equal((await client.postForm('/form/submit', { _csrf: token, name: 'x' })).status, 200);
    assertRefused(await submit(client, {}, { csrf: token }), /needs a CSRF token/);
  });

  it('@CsrfToken() gives tokens as the service does', async (t) => {
    const app = await start(t);
    const client = app.client();
    const token = await tokenOf(client, '/form/token-param');
    assert.equal((await submit(client, { 'x-csrf-token': token })).status, 200);
  });

  it('is masked differently on every call, and every token of the session verifies (several tabs)', async (t) => {
    const app = await start(t);
    const client = app.client();
    const tabs = [await tokenOf(client), await tokenOf(client), await tokenOf(client, '/form/token-param')];
    assert.equal(new Set(tabs).size, 3, 'each call masks the secret anew');
    for (const token of [...tabs, ...tabs.reverse()]) {
      assert.equal((await submit(client, { 'x-csrf-token': token })).status, 200);
    }
  });

  it('making a token on a new session stores the session and sets its cookie; the secret is not a session key', async (t) => {
    const store = new EmbeddedStore();
    t.after(() => store.close());
    const app = await start(t, { session: { secret: TEST_SECRET, store } });
    const client = app.client();
    const res = await client.get('/form/token');
    assert.equal(res.setCookies.length, 1, 'the session gets its cookie');
    const sid = sidOf(client.jar.get('connect.sid'));
    const record = (await peek(store, sid!)) as unknown as Record<string, { csrf?: string }>;
    assert.equal(typeof record.__forms?.csrf, 'string', 'the secret is stored with the session');
    assert.ok(!res.text.includes(record.__forms.csrf!), 'the secret itself never leaves the server');
    const seen = await client.get('/form/keys');
    assert.deepEqual(seen.body.keys, ['cookie'], 'the handler sees no key of the module');
    assert.ok(!JSON.stringify(seen.body.json).includes(record.__forms.csrf!), 'a dump of the session shows no secret');
    assert.equal(seen.setCookies.length, 0);
  });

  it('a loaded session with a secret and a login time is neither written again nor sent its cookie again when unchanged', async (t) => {
    const store = new FaultStore(new EmbeddedStore());
    t.after(() => (store.inner as EmbeddedStore).close());
    const app = await start(t, { session: { secret: TEST_SECRET, store, cookie: { maxAge: 60_000 } } });
    const client = app.client();
    await client.post('/form/login', {}, { 'sec-fetch-site': 'same-origin' });
    await tokenOf(client);
    store.resetCounts();
    for (let i = 0; i < 3; i++) {
      const res = await client.get('/form/keys');
      assert.equal(res.status, 200);
      assert.equal(res.setCookies.length, 0, 'no cookie sent again');
    }
    assert.equal(store.calls.set, 0, 'nothing written');
  });

  it('is replaced at login: a token from before the login is refused after it', async (t) => {
    const app = await start(t);
    const client = app.client();
    const before = await tokenOf(client);
    assert.equal((await client.post('/form/login', { userId: 'alice' }, { 'x-csrf-token': before })).status, 200);
    assertRefused(await submit(client, { 'x-csrf-token': before }), /no CSRF token yet/);
    const after = await tokenOf(client);
    assertRefused(await submit(client, { 'x-csrf-token': before }), /not valid for this session/);
    assert.equal((await submit(client, { 'x-csrf-token': after })).status, 200);
  });

  it('from another session is refused', async (t) => {
    const app = await start(t);
    const mine = app.client();
    const theirs = app.client();
    await tokenOf(mine);
    const foreign = await tokenOf(theirs);
    assertRefused(await submit(mine, { 'x-csrf-token': foreign }), /not valid for this session/);
  });

  it('tampered, truncated or garbage tokens are refused', async (t) => {
    const app = await start(t);
    const client = app.client();
    const token = await tokenOf(client);
    const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    for (const bad of [
      flip(token, 3),
      flip(token, token.length - 5),
      token.slice(0, -4),
      token + 'AAAA',
      'x',
      '%%%%',
    ]) {
      assertRefused(await submit(client, { 'x-csrf-token': bad }), /not valid for this session/);
    }
    assert.equal((await submit(client, { 'x-csrf-token': token })).status, 200);
  });

  it('a request without a session is refused and gets no session (the guard never creates one)', async (t) => {
    const store = new EmbeddedStore();
    t.after(() => store.close());
    const app = await start(t, { session: { secret: TEST_SECRET, store } });
    const stranger = app.client();
    const someone = app.client();
    const token = await tokenOf(someone);
    const before = await sessionCount(store);
    const res = await stranger.post('/form/submit', undefined, { 'x-csrf-token': token });
    assert.equal(res.status, 403);
    assert.match(res.body.message as string, /no CSRF token yet/);
    assert.equal(res.setCookies.length, 0);
    assert.equal(await sessionCount(store), before);
  });

  it('as APP_GUARD: every state-changing route is protected, GET and @SkipCsrf() pass', async (t) => {
    const app = await start(t, {}, true);
    const client = app.client();
    assert.equal((await client.get('/form/submit')).status, 200);
    assert.equal((await client.post('/form/submit')).status, 403);
    assert.equal((await client.post('/form/login', {}, { 'sec-fetch-site': 'cross-site', origin: EVIL })).status, 403);
    assert.equal((await client.post('/form/skip')).status, 200);
    const token = await tokenOf(client);
    assert.equal((await client.post('/form/submit', undefined, { 'x-csrf-token': token })).status, 200);
  });

  it('the header and field names are options', async (t) => {
    const app = await start(t, { csrf: { header: 'X-XSRF-TOKEN', field: 'authenticity_token' } });
    const client = app.client();
    const token = await tokenOf(client);
    assert.equal((await submit(client, { 'x-csrf-token': token })).status, 403);
    assert.equal((await submit(client, { 'x-xsrf-token': token })).status, 200);
    assert.equal((await submit(client, {}, { authenticity_token: token })).status, 200);
  });

  it('a wrong csrf option fails at boot with a message that names it', async (t) => {
    const cases: [unknown, RegExp][] = [
      [{ trustedOrigins: ['https://a.example/path'] }, /trustedOrigins holds "https:\/\/a.example\/path"/],
      [{ trustedOrigins: ['a.example'] }, /trustedOrigins holds "a.example"/],
      [{ trustedOrigins: 'https://a.example' }, /trustedOrigins must be an array/],
      [{ header: '' }, /csrf.header/],
      [{ header: 'bad header' }, /csrf.header/],
      [{ field: 42 }, /csrf.field/],
      ['yes', /options.csrf must be an object/],
    ];
    for (const [csrf, says] of cases) {
      await assert.rejects(
        createApp(t, {
          imports: [
            SessionModule.forRoot({ session: { secret: TEST_SECRET }, csrf: csrf as SessionModuleOptions['csrf'] }),
          ],
        }),
        says,
      );
    }
  });
});
