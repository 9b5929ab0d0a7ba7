import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { SessionData } from 'express-session';
import { EmbeddedStore, SESSION_MODULE_OPTIONS, SessionModule } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import { defer } from '../support/cleanup.js';
import { AuthController } from '../support/controllers.js';
import { asError } from '../support/errors.js';
import { sidOf } from '../support/http.js';
import { sleep } from '../support/net.js';
import { peek } from '../support/store-kinds.js';

function record(ttlMs: number | null, data: Record<string, unknown> = {}): SessionData {
  const cookie =
    ttlMs === null
      ? { originalMaxAge: null, expires: null }
      : { originalMaxAge: ttlMs, expires: new Date(Date.now() + ttlMs) };
  return { cookie, ...data } as unknown as SessionData;
}

function count(store: EmbeddedStore): Promise<number> {
  return new Promise((resolve, reject) => store.length((err, n) => (err ? reject(asError(err)) : resolve(n!))));
}

/** Runs a compiled fixture in its own Node process; resolves with its exit code and output, or a timeout. */
function runFixture(
  name: string,
  args: string[],
  nodeFlags: string[] = [],
  limitMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  const file = fileURLToPath(new URL(`../fixtures/${name}.js`, import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeFlags, file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

describe('the embedded store', () => {
  it('entries expire with their cookie, and without one after defaultTtl', async (t) => {
    const store = new EmbeddedStore({ defaultTtl: 300 });
    defer(t, () => store.close());
    store.set('short', record(200, { userId: 'a' }));
    store.set('long', record(60_000, { userId: 'b' }));
    store.set('no-expiry', record(null, { userId: 'c' }));
    assert.equal((await peek(store, 'short'))?.userId, 'a');
    assert.equal(await count(store), 3);
    await sleep(450);
    assert.equal(await peek(store, 'short'), null, 'gone once its cookie expired');
    assert.equal(await peek(store, 'no-expiry'), null, 'a cookie without expiry lives defaultTtl');
    assert.equal((await peek(store, 'long'))?.userId, 'b');
    assert.equal(await count(store), 1, 'length counts live sessions only');
    store.set('past', record(-1000));
    assert.equal(await peek(store, 'past'), null, 'a session that has already expired is not kept');
  });

  it('touch extends the expiry and keeps the stored data; it never writes the touched copy', async (t) => {
    const store = new EmbeddedStore();
    defer(t, () => store.close());
    store.set('sid', record(300, { userId: 'a', views: 1 }));
    await sleep(150);
    store.touch('sid', record(60_000, { userId: 'changed-but-not-saved', views: 99 }));
    await sleep(300);
    const kept = await peek(store, 'sid');
    assert.ok(kept, 'still there past its first expiry');
    assert.equal(kept.userId, 'a', 'touch changed the expiry only');
    assert.equal(kept.views, 1);
    store.touch('unknown', record(60_000));
    assert.equal(await peek(store, 'unknown'), null, 'touching an unknown id creates nothing');
  });

  it('the cap evicts the least recently used session', async (t) => {
    const store = new EmbeddedStore({ maxSessions: 3 });
    defer(t, () => store.close());
    for (const sid of ['a', 'b', 'c']) store.set(sid, record(60_000, { userId: sid }));
    await peek(store, 'a');
    store.set('d', record(60_000, { userId: 'd' }));
    assert.equal(await peek(store, 'b'), null, 'b, used least recently, was evicted');
    for (const sid of ['a', 'c', 'd']) assert.equal((await peek(store, sid))?.userId, sid);
    assert.equal(await count(store), 3);
  });

  it('all, length and clear', async (t) => {
    const store = new EmbeddedStore();
    defer(t, () => store.close());
    store.set('x', record(60_000, { userId: 'x' }));
    store.set('y', record(60_000, { userId: 'y' }));
    const all = await new Promise<Record<string, SessionData>>((resolve, reject) =>
      store.all((err, v) => (err ? reject(asError(err)) : resolve(v as Record<string, SessionData>))),
    );
    assert.deepEqual(Object.keys(all).sort(), ['x', 'y']);
    assert.equal(all.x.userId, 'x');
    store.destroy('x');
    assert.equal(await count(store), 1);
    store.clear();
    assert.equal(await count(store), 0);
  });

  it('all() keeps sessions whose ids are __proto__ or constructor, as own entries', async (t) => {
    const store = new EmbeddedStore();
    defer(t, () => store.close());
    store.set('__proto__', record(60_000, { userId: 'p' }));
    store.set('constructor', record(60_000, { userId: 'c' }));
    const all = await new Promise<Record<string, SessionData>>((resolve, reject) =>
      store.all((err, v) => (err ? reject(asError(err)) : resolve(v as Record<string, SessionData>))),
    );
    assert.deepEqual(Object.keys(all).sort(), ['__proto__', 'constructor']);
    assert.equal((Object.getOwnPropertyDescriptor(all, '__proto__')?.value as SessionData).userId, 'p');
    assert.equal((Object.getOwnPropertyDescriptor(all, 'constructor')?.value as SessionData).userId, 'c');
    assert.equal(Object.getPrototypeOf(all), Object.prototype, 'the result object keeps its prototype');
  });

  it('refuses a sweep interval that is not a number of milliseconds above 0', () => {
    for (const sweepInterval of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '60000' as unknown as number]) {
      assert.throws(() => new EmbeddedStore({ sweepInterval }), /embeddedStore\.sweepInterval/);
    }
    new EmbeddedStore({ sweepInterval: 5 }).close();
  });

  it('refuses a cap that is not a whole number of at least 1', () => {
    assert.throws(() => new EmbeddedStore({ maxSessions: 0 }), /maxSessions/);
    assert.throws(() => new EmbeddedStore({ maxSessions: 1.5 }), /maxSessions/);
  });

  it('in the module: embeddedStore.maxSessions caps the sessions, the oldest login is evicted first', async (t) => {
    const app = await startApp(t, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET }, embeddedStore: { maxSessions: 2 } })],
      controllers: [AuthController],
    });
    const clients = [app.client(), app.client(), app.client()];
    for (const [i, client] of clients.entries())
      assert.equal((await client.post('/auth/login', { userId: `user${i}` })).status, 200);
    const store = app.nest.get(SESSION_MODULE_OPTIONS).session.store as EmbeddedStore;
    assert.ok(store instanceof EmbeddedStore);
    assert.equal(await count(store), 2);
    assert.equal((await clients[0].get('/auth/me')).status, 401, 'the least recently used session was evicted');
    assert.deepEqual((await clients[1].get('/auth/me')).body, { userId: 'user1' });
    assert.deepEqual((await clients[2].get('/auth/me')).body, { userId: 'user2' });
    assert.equal(await peek(store, sidOf(clients[0].jar.get('connect.sid'))!), null);
  });

  it('a subclass that overrides get and set is read and written through them on every request', async (t) => {
    /** Marks what it stores, and counts its calls: stands for a store that encrypts or logs. */
    class MarkingStore extends EmbeddedStore {
      readonly calls = { get: 0, set: 0 };
      override get(sid: string, callback: (err?: unknown, session?: SessionData | null) => void): void {
        this.calls.get += 1;
        super.get(sid, callback);
      }
      override set(sid: string, session: SessionData, callback?: (err?: unknown) => void): void {
        this.calls.set += 1;
        super.set(sid, { ...session, marked: this.calls.set } as SessionData, callback);
      }
    }
    const store = new MarkingStore();
    const app = await startApp(t, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store } })],
      controllers: [AuthController],
    });
    const client = app.client();
    assert.equal((await client.post('/auth/login', { userId: 'alice' })).status, 200);
    const calls = { ...store.calls };
    const changed = await client.post('/auth/set', { role: 'admin' });
    assert.equal(changed.status, 200);
    assert.ok(store.calls.get > calls.get, 'the changed request loaded through the subclass get');
    assert.ok(store.calls.set > calls.set, 'and was written through the subclass set');
    const stored = await peek(store, changed.body.id);
    assert.equal(stored?.role, 'admin');
    assert.equal((stored as { marked?: number } | null)?.marked, store.calls.set, 'the last write went through set');
  });

  it('100k distinct sessions stay within the cap: the count stays at the cap and the heap does not grow past it', async (t) => {
    const cap = 1000;
    const total = 100_000;
    const run = await runFixture('embedded-heap', [String(cap), String(total)], ['--expose-gc']);
    assert.equal(run.code, 0, run.stderr);
    const m = JSON.parse(run.stdout) as Record<string, number | boolean>;
    const capCost = (m.atCap as number) - (m.base as number);
    const growth = (m.afterAll as number) - (m.atCap as number);
    t.diagnostic(
      `heap after gc: ${cap} sessions cost ${(capCost / 1024).toFixed(0)} KiB; ${total - cap} more writes changed it by ${(growth / 1024).toFixed(0)} KiB`,
    );
    assert.equal(m.lengthAtCap, cap);
    assert.equal(m.lengthAfterAll, cap, `after ${total} writes the store holds ${cap} sessions`);
    assert.equal(m.newestKept, true, 'the newest session is kept');
    assert.equal(m.oldestKept, false, 'the oldest session was evicted');
    // Keeping all 100k would cost ~99× the cap's footprint; what is held must stay within about one cap's worth.
    assert.ok(growth < capCost + 1024 * 1024, `heap grew ${growth} bytes past the cap's ${capCost}`);
  });

  it('the process exits by itself with a store still open (the sweep timer never keeps it alive)', async () => {
    const bare = await runFixture('embedded-exit', [], [], 20_000);
    assert.equal(bare.timedOut, false, 'a process holding an open store exited by itself');
    assert.equal(bare.code, 0, bare.stderr);
    assert.match(bare.stdout, /stored/);

    const app = await runFixture('embedded-exit', ['app'], [], 20_000);
    assert.equal(app.timedOut, false, 'a Nest app on the default store exited by itself once its server closed');
    assert.equal(app.code, 0, app.stderr);
    assert.match(app.stdout, /app 200 \{"views":1\}/);
  });
});
