import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EmbeddedStore, SessionModule } from 'nest-express-session';
import type { Store } from 'express-session';
import { asError } from '../support/errors.js';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { Cleanup } from '../support/cleanup.js';
import type { Client } from '../support/http.js';
import { FaultStore } from '../support/fault-store.js';
import { reliabilityStoreKinds, storeKinds } from '../support/store-kinds.js';
import type { TestApp } from '../support/app.js';
import { FlashController, FormController } from './forms-app.js';

function start(t: Cleanup, store?: Store): Promise<TestApp> {
  return startApp(t, {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store } })],
    controllers: [FlashController, FormController],
  });
}

/**
 * Sets a flash message and follows the redirect as a browser does: as soon as the status and headers arrive,
 * without waiting for the end of the body. Returns what the next page read.
 */
async function setAndFollow(client: Client, message: string): Promise<unknown> {
  const res = await fetch(`${client.baseUrl}/flash/set`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(client.jar.size ? { cookie: client.cookieHeader() } : {}) },
    body: JSON.stringify({ message }),
    redirect: 'manual',
  });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), '/flash/read');
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(';');
    client.jar.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
  }
  const next = client.get('/flash/read');
  const [read] = await Promise.all([next, res.arrayBuffer()]);
  assert.equal(read.status, 200);
  return read.body.info;
}

function sessionCount(store: EmbeddedStore): Promise<number> {
  return new Promise((resolve, reject) => store.length((err, n) => (err ? reject(asError(err)) : resolve(n ?? 0))));
}

describe('flash messages', () => {
  for (const kind of storeKinds) {
    it(`set, redirect, read exactly once; tokens keep working (${kind.name})`, { skip: kind.skip }, async (t) => {
      const app = await start(t, await kind.create(t));
      const client = app.client();
      assert.deepEqual(await setAndFollow(client, 'Saved.'), ['Saved.']);
      assert.deepEqual((await client.get('/flash/read')).body.info, [], 'read once');
      const token = (await client.get('/form/token')).body.token as string;
      assert.deepEqual(await setAndFollow(client, 'Again.'), ['Again.']);
      const posted = await client.post('/form/submit', undefined, { 'x-csrf-token': token });
      assert.equal(posted.status, 200, 'the CSRF secret survived the flash being set and taken');
      assert.deepEqual((await client.get('/flash/read')).body.info, []);
    });
  }

  for (const kind of reliabilityStoreKinds) {
    it(
      `with a slow store, the redirect is sent only after the flash was saved: 30 times (${kind.name})`,
      { skip: kind.skip },
      async (t) => {
        const store = new FaultStore(await kind.create(t));
        store.latency.set = 40;
        store.latency.get = 5;
        const app = await start(t, store);
        const client = app.client();
        for (let i = 0; i < 30; i++) {
          assert.deepEqual(await setAndFollow(client, `message ${i}`), [`message ${i}`], `round ${i}`);
          assert.deepEqual((await client.get('/flash/read')).body.info, [], `round ${i}: read once`);
        }
      },
    );
  }

  it('takeFlash(type), takeFlash() and @Flash() take what they return, and only that', async (t) => {
    const app = await start(t);
    const client = app.client();
    await client.post('/flash/set', { type: 'info', message: 'one' });
    await client.post('/flash/set', { type: 'info', message: 'two' });
    await client.post('/flash/set', { type: 'error', message: 'bad' });
    await client.post('/flash/set', { type: 'warning', message: { code: 7 } });
    const taken = await client.get('/flash/take');
    assert.deepEqual(taken.body, { info: ['one', 'two'], rest: { error: ['bad'], warning: [{ code: 7 }] } });
    assert.deepEqual((await client.get('/flash/all')).body.all, {});
    await client.post('/flash/set', { type: 'error', message: 'again' });
    assert.deepEqual((await client.get('/flash/all')).body.all, { error: ['again'] });
    assert.deepEqual((await client.get('/flash/all')).body.all, {});
  });

  it('reading an empty flash never creates a session or sets a cookie', async (t) => {
    const store = new EmbeddedStore();
    t.after(() => store.close());
    const app = await start(t, store);
    const client = app.client();
    for (const path of ['/flash/read', '/flash/all', '/flash/take']) {
      const res = await client.get(path);
      assert.equal(res.status, 200);
      assert.equal(res.setCookies.length, 0, path);
    }
    assert.equal(await sessionCount(store), 0);
  });

  it('a flash set after logout reaches the next page once, in a new session', async (t) => {
    const app = await start(t);
    const client = app.client();
    await client.post('/form/login', {}, { 'sec-fetch-site': 'same-origin' });
    const before = client.jar.get('connect.sid');
    const res = await client.post('/flash/logout');
    assert.equal(res.status, 303);
    assert.notEqual(client.jar.get('connect.sid'), before, 'a new session carries the flash');
    assert.deepEqual((await client.get('/flash/read')).body.info, ['You are signed out.']);
    assert.deepEqual((await client.get('/flash/read')).body.info, []);
  });
});
