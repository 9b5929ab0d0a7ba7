import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import type { SessionData, Store } from 'express-session';
import { Session, SessionModule, SqliteSessionStore, sqliteStore } from 'nest-express-session';
import type { SessionModuleOptions, SqliteStoreOptions } from 'nest-express-session';
import { createApp, startApp, TEST_SECRET } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import { defer } from '../support/cleanup.js';
import type { Cleanup } from '../support/cleanup.js';
import { AuthController } from '../support/controllers.js';
import { asError } from '../support/errors.js';
import { Client, sidOf } from '../support/http.js';
import { startAppProcess } from '../support/processes.js';
import { eventually, sleep } from '../support/net.js';
import { assertNoChangeLostAcrossInstances } from '../support/reliability.js';
import { HAS_SQLITE, openDatabase, skipWithoutSqlite, tempDatabase } from '../support/sqlite.js';
import type { TestDatabase } from '../support/sqlite.js';

const COOKIE = 'connect.sid';
const HOUR = 3_600_000;
/** The store's changed-key writes (internal to the package; the symbol is global by design). */
const CHANGED_KEY_WRITES = Symbol.for('nest-express-session:changed-key-writes');

interface RecordWrite {
  set: Map<string, string>;
  unset: string[];
  cookie: string;
  expires?: number;
}
interface ChangedKeyWrites {
  replace(sid: string, write: RecordWrite, callback: (err?: unknown) => void): void;
  patch(sid: string, write: RecordWrite, callback: (err: unknown, applied?: boolean) => void): void;
}

/** Increments and removes session keys by name, for the tests of concurrent writes and removals. */
@Controller('keys')
class KeysController {
  @Post('inc/:key')
  @HttpCode(200)
  inc(@Param('key') key: string, @Session() session: Record<string, unknown>): { value: number } {
    const value = ((session[key] as number | undefined) ?? 0) + 1;
    session[key] = value;
    return { value };
  }

  @Post('unset')
  @HttpCode(200)
  unset(@Body() body: { keys: string[] }, @Session() session: Record<string, unknown>): { ok: true } {
    for (const key of body.keys) delete session[key];
    return { ok: true };
  }
}

/** An app over this store (closed when `t` ends). */
function bootOn(
  t: Cleanup,
  store: Store,
  extra: Partial<SessionModuleOptions> = {},
  maxAge?: number,
): Promise<TestApp> {
  return startApp(t, {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store, cookie: { maxAge } }, ...extra })],
    controllers: [AuthController, KeysController],
  });
}

/** A store on `path` closed when `t` ends (app.close() closes it first when it is an app's store). */
function storeOn(t: Cleanup, path: string, options: Omit<SqliteStoreOptions, 'path'> = {}): SqliteSessionStore {
  const store = sqliteStore({ path, ...options });
  defer(t, () => store.close());
  return store;
}

function call<T>(run: (cb: (err?: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((err, value) => (err ? reject(asError(err)) : resolve(value as T))));
}

/** A client logged in as `userId`, with its session id. */
async function loggedIn(app: TestApp, userId = 'alice'): Promise<{ client: Client; sid: string }> {
  const client = app.client();
  assert.equal((await client.post('/auth/login', { userId })).status, 200);
  const sid = sidOf(client.jar.get(COOKIE));
  assert.ok(sid, 'the login set the session cookie');
  return { client, sid };
}

/** The row of a session in the file, as another connection reads it. */
function rowOf(db: TestDatabase, sid: string): { sess: string; expire: number } | undefined {
  return db.prepare('SELECT sess, expire FROM sessions WHERE sid = ?').get(sid) as
    { sess: string; expire: number } | undefined;
}

/** One more app instance on `path`, in a process of its own (stopped when `t` ends); its URL. */
async function startSecondProcess(t: Cleanup, path: string): Promise<string> {
  const file = fileURLToPath(new URL('../fixtures/sqlite-app.js', import.meta.url));
  return (await startAppProcess(t, [file, path])).url;
}

describe('sqliteStore() and the Node.js it needs', () => {
  it(
    'without node:sqlite (Node.js before 22.5): sqliteStore() throws at once, naming the Node.js it needs, and the app fails at boot',
    { skip: HAS_SQLITE && 'this Node.js has node:sqlite: the next test boots with it' },
    async (t) => {
      const path = tempDatabase(t);
      assert.throws(
        () => sqliteStore({ path }),
        (err: Error) => {
          assert.match(err.message, /^sqliteStore\(\) needs node:sqlite, built into Node\.js 22\.5 and later/);
          assert.ok(err.message.includes(`this is Node.js ${process.versions.node}`), err.message);
          return true;
        },
      );
      await assert.rejects(
        createApp(t, {
          imports: [
            SessionModule.forRootAsync({
              useFactory: () => ({ session: { secret: TEST_SECRET, store: sqliteStore({ path }) } }),
            }),
          ],
          controllers: [AuthController],
        }),
        /sqliteStore\(\) needs node:sqlite, built into Node\.js 22\.5/,
      );
      assert.equal(existsSync(path), false, 'no database file was made');
    },
  );

  it(
    'with node:sqlite (Node.js 22.5 or later): the same app boots, and its sessions are in the file',
    { skip: skipWithoutSqlite() },
    async (t) => {
      const path = tempDatabase(t);
      const app = await startApp(t, {
        imports: [
          SessionModule.forRootAsync({
            useFactory: () => ({ session: { secret: TEST_SECRET, store: sqliteStore({ path }) } }),
          }),
        ],
        controllers: [AuthController],
      });
      const { client, sid } = await loggedIn(app);
      assert.deepEqual((await client.get('/auth/me')).body, { userId: 'alice' });
      assert.equal(JSON.parse(rowOf(openDatabase(t, path), sid)!.sess).userId, 'alice');
    },
  );
});

describe('SQLite store', { skip: skipWithoutSqlite() }, () => {
  it('refuses at once what cannot work, saying what: no path, a bad ttl or pruneInterval, a file it cannot use', (t) => {
    assert.throws(() => sqliteStore({} as never), /path must be the database file's path/);
    assert.throws(() => sqliteStore({ path: '' }), /path must be/);
    assert.throws(() => sqliteStore({ path: ':memory:', ttl: 0 }), /ttl must be a number of milliseconds above 0/);
    assert.throws(() => sqliteStore({ path: ':memory:', ttl: Infinity }), /ttl must be/);
    assert.throws(() => sqliteStore({ path: ':memory:', pruneInterval: -5 }), /pruneInterval must be/);
    assert.throws(() => sqliteStore({ path: ':memory:', tableName: '' }), /tableName must be a non-empty string/);
    const folder = dirname(tempDatabase(t));
    assert.throws(() => sqliteStore({ path: join(folder, 'missing', 'sessions.db') }), /cannot use .*missing/);
    const notADatabase = join(folder, 'notes.txt');
    writeFileSync(notADatabase, 'these are not the pages of a database '.repeat(200));
    assert.throws(() => sqliteStore({ path: notADatabase }), /cannot use .*notes\.txt: file is not a database/);
  });

  it('restart the app, still logged in: a new app on the same file opens the dashboard with the old cookie', async (t) => {
    const path = tempDatabase(t);
    const first = await bootOn(t, sqliteStore({ path }), {}, HOUR);
    const { client } = await loggedIn(first);
    assert.equal((await client.post('/auth/set', { cart: ['book'] })).status, 200);
    const cookie = client.cookieHeader();
    await first.close();

    const second = await bootOn(t, sqliteStore({ path }), {}, HOUR);
    const browser = second.client();
    const me = await browser.get('/auth/me', { cookie });
    assert.equal(me.status, 200, 'the cookie from before the restart still opens the guarded route');
    assert.deepEqual(me.body, { userId: 'alice' });
    const state = await browser.get('/auth/state', { cookie });
    assert.deepEqual(state.body.data.cart, ['book'], 'the data from before the restart is there');
  });

  it('app.close() closes the database sqliteStore() opened: a call after it fails cleanly; a store made with new is left open', async (t) => {
    const path = tempDatabase(t);
    const owned = sqliteStore({ path });
    const app = await bootOn(t, owned, {}, HOUR);
    const { sid } = await loggedIn(app);
    await app.close();
    await assert.rejects(
      call((cb) => owned.get(sid, cb)),
      /The SQLite session store was closed/,
    );
    await assert.rejects(
      call((cb) => owned.set(sid, { cookie: {} } as SessionData, cb)),
      /closed/,
    );
    owned.close();

    const yours = new SqliteSessionStore({ path });
    defer(t, () => yours.close());
    const again = await bootOn(t, yours, {}, HOUR);
    await again.close();
    assert.equal((await call<SessionData | null>((cb) => yours.get(sid, cb)))?.userId, 'alice', 'still open');
  });

  it('R16: two app instances in two processes on one file share sessions: login on A is read on B, concurrent changes all kept, logout on B is refused on A', async (t) => {
    const path = tempDatabase(t);
    const a = await bootOn(t, sqliteStore({ path }));
    const urlOfB = await startSecondProcess(t, path);
    // B is in another process: only its URL is used (a client of it).
    const b = { client: () => new Client(urlOfB) } as TestApp;

    const { client: onA, sid } = await loggedIn(a);
    const cookie = onA.cookieHeader();
    const onB = new Client(urlOfB);
    const readOnB = await onB.get('/auth/me', { cookie });
    assert.equal(readOnB.status, 200, 'B reads the session A wrote');
    assert.deepEqual(readOnB.body, { userId: 'alice' });
    assert.equal((await onB.post('/auth/set', { fromB: 1 }, { cookie })).status, 200);
    assert.equal((await onA.get('/auth/state')).body.data.fromB, 1, 'A reads what B wrote');

    await assertNoChangeLostAcrossInstances(a, b, 20);

    assert.equal((await onB.post('/auth/logout', undefined, { cookie })).status, 200);
    assert.equal((await a.client().get('/auth/me', { cookie })).status, 401, 'A refuses the cookie B logged out');
    assert.equal(rowOf(openDatabase(t, path), sid), undefined, 'the logged-out session has no row');
  });

  it('tricky keys and values round-trip through real requests: set, changed, removed, exactly as JSON gives them back', async (t) => {
    const path = tempDatabase(t);
    const app = await bootOn(t, sqliteStore({ path }), {}, HOUR);
    const db = openDatabase(t, path);
    // Not `constructor` nor other names a session object inherits: express-session drops those when it loads one.
    const keys = ['a"b', 'a\\b', 'a.b', '$.x', 'a[0]', 'ünï 😀', 'line\nbreak', "it's", ''];
    const value = {
      big: 2 ** 64,
      beyondSafe: 2 ** 53 + 2,
      nested: { none: null, list: [], object: {}, deep: [null, [{}], { x: [] }] },
      text: 'é"\\\u0000\n😀',
      float: 1.5e-7,
    };
    const { client, sid } = await loggedIn(app);
    const expected: Record<string, unknown> = { userId: 'alice' };
    const send = async (body: Record<string, unknown>): Promise<void> => {
      assert.equal((await client.post('/auth/set', body)).status, 200);
      Object.assign(expected, JSON.parse(JSON.stringify(body)));
    };
    const check = async (when: string): Promise<void> => {
      const { data } = (await client.get('/auth/state')).body as { data: Record<string, unknown> };
      assert.deepEqual(data, expected, `the session read back ${when}`);
      const { __forms, __handle, __session, ...stored } = JSON.parse(rowOf(db, sid)!.sess) as Record<string, unknown>;
      delete stored.cookie;
      assert.deepEqual(stored, expected, `the row ${when}`);
      assert.equal(typeof __handle, 'string', "the session index's handle, kept off the session's keys");
      assert.equal(typeof (__session as { lastSeen?: unknown }).lastSeen, 'number', 'its last use');
      assert.equal(typeof (__forms as { loggedInAt?: unknown }).loggedInAt, 'number', "the module's login time kept");
    };

    await send(Object.fromEntries(keys.map((key) => [key, value])));
    await check('after new keys were set');
    assert.ok(rowOf(db, sid)!.sess.includes('18446744073709552000'), 'a big integer is kept as JSON writes it');
    await send(Object.fromEntries(keys.map((key, i) => [key, i % 2 ? [i, null, {}] : { i, empty: [] }])));
    await check('after every key was changed');
    assert.equal((await client.post('/keys/unset', { keys: keys.slice(0, 5) })).status, 200);
    for (const key of keys.slice(0, 5)) delete expected[key];
    await check('after half the keys were removed');
  });

  it('tricky keys and values round-trip through the changed-key writes: replace, patch, remove', async (t) => {
    const store = storeOn(t, tempDatabase(t));
    const writes = (store as unknown as Record<symbol, ChangedKeyWrites>)[CHANGED_KEY_WRITES];
    // SQLite's JSON paths take "a" to find "a\u0000b": keys with a NUL must still be told apart.
    const keys = [
      'a"b',
      'a\\b',
      'a.b',
      '$',
      '$.x',
      'a[0]',
      '\u0000nul',
      '\ud800lone',
      'ünï 😀',
      '__proto__',
      '',
      'a',
      'a\u0000b',
    ];
    const values = [
      '123456789012345678901234567890',
      '-9223372036854775809',
      '1e+300',
      '{"a":null,"b":[],"c":{},"d":[null,{"e":[]}]}',
      '"\\ud800 \\u0000 é"',
      'null',
      '[]',
      '{}',
    ];
    const cookie = JSON.stringify({ originalMaxAge: HOUR, expires: new Date(Date.now() + HOUR) });
    const record = (entries: [string, string][]): string =>
      `{"cookie":${cookie}${entries.map(([k, v]) => `,${JSON.stringify(k)}:${v}`).join('')}}`;
    const read = async (): Promise<unknown> => call((cb) => store.get('sid', cb));

    const first = keys.map((key, i): [string, string] => [key, values[i % values.length]]);
    await call((cb) => writes.replace('sid', { set: new Map(first), unset: [], cookie }, cb));
    assert.deepEqual(await read(), JSON.parse(record(first)));

    const changed = keys.map((key, i): [string, string] => [key, values[(i + 3) % values.length]]);
    const applied = await call<boolean>((cb) => writes.patch('sid', { set: new Map(changed), unset: [], cookie }, cb));
    assert.equal(applied, true);
    const patched = (await read()) as Record<string, unknown>;
    assert.deepEqual(patched, JSON.parse(record(changed)), 'every key changed in place, no key added');
    assert.ok(Object.hasOwn(patched, '__proto__'), 'a key named __proto__ is an own key of the record');

    // Keys without a NUL, in a record that has some.
    const plain: [string, string][] = [
      ['', '"empty"'],
      ['a', '"just a"'],
    ];
    await call((cb) => writes.patch('sid', { set: new Map(plain), unset: [], cookie }, cb));
    for (const [key, json] of plain) changed[keys.indexOf(key)][1] = json;
    assert.deepEqual(await read(), JSON.parse(record(changed)), 'only "" and "a" changed');

    const kept = changed.filter((_, i) => i % 2 === 0);
    const removed = changed.filter((_, i) => i % 2 === 1).map(([key]) => key);
    await call((cb) => writes.patch('sid', { set: new Map(), unset: removed, cookie }, cb));
    assert.deepEqual(await read(), JSON.parse(record(kept)));

    // More keys in one change than SQLite takes arguments in one call (127 before SQLite 3.48).
    const many = Array.from({ length: 600 }, (_, i): [string, string] => [`k${i}`, String(i)]);
    await call((cb) => writes.patch('sid', { set: new Map(many), unset: [], cookie }, cb));
    assert.deepEqual(await read(), JSON.parse(record([...kept, ...many])));
    const gone = many.map(([key]) => key);
    await call((cb) => writes.patch('sid', { set: new Map(), unset: gone, cookie }, cb));
    assert.deepEqual(await read(), JSON.parse(record(kept)));

    assert.equal(
      await call<boolean>((cb) => writes.patch('absent', { set: new Map([['x', '1']]), unset: [], cookie }, cb)),
      false,
      'a patch of a session that does not exist writes nothing',
    );
    assert.equal(await call((cb) => store.get('absent', cb)), null);
  });

  it('R14: a corrupt row is replaced by a fresh session (200, never a 500), and the bad row is removed', async (t) => {
    const path = tempDatabase(t);
    const app = await bootOn(t, sqliteStore({ path }), {}, HOUR);
    const db = openDatabase(t, path);
    for (const bad of ['{"cookie": {"expires": ', 'not json at all', '[1,2]', '"text"', '{"userId":"alice"}']) {
      const { client, sid } = await loggedIn(app);
      db.prepare('UPDATE sessions SET sess = ? WHERE sid = ?').run(bad, sid);
      const me = await client.get('/auth/me');
      assert.equal(me.status, 401, `a session whose row holds ${bad} is anonymous`);
      assert.equal(rowOf(db, sid), undefined, `the row holding ${bad} was removed`);
      const set = await client.post('/auth/set', { fresh: true });
      assert.equal(set.status, 200);
      const fresh = sidOf(client.jar.get(COOKIE));
      assert.ok(fresh && fresh !== sid, 'a new session id');
      assert.equal(JSON.parse(rowOf(db, fresh)!.sess).fresh, true, 'the new session is stored');
    }
  });

  it('expired rows are never read, and pruned: by prune(), and by the pruneInterval timer', async (t) => {
    const path = tempDatabase(t);
    const store = sqliteStore({ path, pruneInterval: false });
    const app = await bootOn(t, store, {}, 1_000);
    const db = openDatabase(t, path);
    const { client, sid } = await loggedIn(app);
    const cookie = client.cookieHeader();
    assert.equal((await client.get('/auth/me')).status, 200);
    await sleep(1_300);
    assert.equal((await app.client().get('/auth/me', { cookie })).status, 401, 'the expired session is anonymous');
    assert.ok(rowOf(db, sid), 'its row is still in the file (no pruning yet)');
    assert.equal(await call((cb) => store.get(sid, cb)), null, 'get does not return it');
    assert.equal(await call((cb) => store.length(cb)), 0, 'length does not count it');
    assert.deepEqual(await call((cb) => store.all(cb)), {}, 'all does not list it');
    store.prune();
    assert.equal(rowOf(db, sid), undefined, 'prune() removed it');

    const timed = storeOn(t, path, { pruneInterval: 100 });
    const expires = new Date(Date.now() - 1_000);
    await call((cb) => timed.set('old', { cookie: { originalMaxAge: 1, expires } } as SessionData, cb));
    const live = { cookie: { originalMaxAge: HOUR, expires: new Date(Date.now() + HOUR) } } as SessionData;
    await call((cb) => timed.set('live', live, cb));
    assert.equal(
      await eventually(() => Promise.resolve(rowOf(db, 'old') === undefined), 50, 100),
      true,
      'the timer pruned the expired row',
    );
    assert.ok(rowOf(db, 'live'), 'and left the live one');
  });

  it('ttl: a session whose cookie has no expiry lives ttl milliseconds in the store', async (t) => {
    const path = tempDatabase(t);
    const app = await bootOn(t, sqliteStore({ path, ttl: 1_500 }));
    const before = Date.now();
    const { client, sid } = await loggedIn(app);
    const after = Date.now();
    const { expire } = rowOf(openDatabase(t, path), sid)!;
    assert.ok(expire >= before + 1_500 && expire <= after + 1_500, `expire ${expire - before} ms after the login`);
    assert.equal((await client.get('/auth/me')).status, 200);
    await sleep(1_800);
    assert.equal((await client.get('/auth/me')).status, 401, 'gone once ttl has passed without a request');
  });

  it('touch extends the expiry and the stored cookie, and never brings back an expired row', async (t) => {
    const path = tempDatabase(t);
    const store = sqliteStore({ path });
    const app = await bootOn(t, store, {}, HOUR);
    const db = openDatabase(t, path);
    const { client, sid } = await loggedIn(app);
    const before = rowOf(db, sid)!;
    await sleep(20);
    assert.equal((await client.get('/auth/me')).status, 200);
    const after = rowOf(db, sid)!;
    assert.ok(after.expire > before.expire, 'the expiry moved on');
    const stored = JSON.parse(after.sess) as { cookie: { expires: string }; userId: string };
    assert.equal(Date.parse(stored.cookie.expires), after.expire, 'the stored cookie says the same expiry');
    assert.equal(stored.userId, 'alice', 'the data is untouched');

    const gone = { originalMaxAge: 1, expires: new Date(Date.now() - 1_000) };
    await call((cb) => store.set('expired', { cookie: gone } as SessionData, cb));
    const live = { originalMaxAge: HOUR, expires: new Date(Date.now() + HOUR) };
    await call((cb) => store.touch('expired', { cookie: live } as SessionData, cb));
    assert.equal(await call((cb) => store.get('expired', cb)), null, 'a touch does not revive an expired session');
  });

  it('all, length and clear: live sessions only, ids such as __proto__ and constructor kept', async (t) => {
    const store = storeOn(t, tempDatabase(t));
    const cookie = { originalMaxAge: HOUR, expires: new Date(Date.now() + HOUR) };
    for (const sid of ['__proto__', 'constructor', 'plain']) {
      await call((cb) => store.set(sid, { cookie, userId: sid } as unknown as SessionData, cb));
    }
    const gone = { originalMaxAge: 1, expires: new Date(Date.now() - 1_000) };
    await call((cb) => store.set('old', { cookie: gone } as SessionData, cb));
    const all = await call<Record<string, SessionData>>((cb) => store.all(cb));
    assert.deepEqual(Object.keys(all).sort(), ['__proto__', 'constructor', 'plain']);
    assert.equal(Object.getPrototypeOf(all), Object.prototype);
    assert.equal((Object.getOwnPropertyDescriptor(all, '__proto__')?.value as SessionData).userId, '__proto__');
    assert.equal((all as Record<string, { userId?: string }>)['constructor'].userId, 'constructor');
    assert.equal(await call((cb) => store.length(cb)), 3);
    await call((cb) => store.destroy('plain', cb));
    assert.equal(await call((cb) => store.get('plain', cb)), null);
    await call((cb) => store.clear(cb));
    assert.equal(await call((cb) => store.length(cb)), 0);
    assert.deepEqual(await call((cb) => store.all(cb)), {});
  });

  it('a table name of your choice, even one with a quote in it', async (t) => {
    const path = tempDatabase(t);
    const app = await bootOn(t, sqliteStore({ path, tableName: 'app "sessions"' }), {}, HOUR);
    const { client, sid } = await loggedIn(app);
    assert.equal((await client.get('/auth/me')).status, 200);
    const row = openDatabase(t, path).prepare('SELECT sess FROM "app ""sessions""" WHERE sid = ?').get(sid);
    assert.equal(JSON.parse(row!.sess as string).userId, 'alice');
  });

  describe('R18: 40 concurrent clients on one session, each writing its own key 10 times', () => {
    const CLIENTS = 40;
    const WRITES = 10;

    /** Each client's answers (status, and the value its key reached), its writes one after another. */
    function writeAll(app: TestApp, cookie: string, onAnswer: () => void = () => undefined) {
      return Promise.all(
        Array.from({ length: CLIENTS }, async (_, i) => {
          const client = app.client();
          const answers: { status: number; value?: number }[] = [];
          for (let n = 1; n <= WRITES; n++) {
            const res = await client.post(`/keys/inc/k${i}`, undefined, { cookie });
            answers.push({ status: res.status, value: (res.body as { value?: number } | undefined)?.value });
            onAnswer();
          }
          return answers;
        }),
      );
    }

    it('every request is answered 200, every key ends at 10, and an untouched key is kept', async (t) => {
      const app = await bootOn(t, sqliteStore({ path: tempDatabase(t) }), {}, HOUR);
      const { client } = await loggedIn(app);
      assert.equal((await client.post('/auth/set', { keep: 'me' })).status, 200);
      const answers = await writeAll(app, client.cookieHeader());
      const counting = Array.from({ length: WRITES }, (_, n) => ({ status: 200, value: n + 1 }));
      for (const [i, mine] of answers.entries()) {
        assert.deepEqual(mine, counting, `client ${i}: each write answered 200, as if alone, counting 1 to ${WRITES}`);
      }
      const { data } = (await client.get('/auth/state')).body as { data: Record<string, unknown> };
      for (let i = 0; i < CLIENTS; i++) assert.equal(data[`k${i}`], WRITES, `k${i} ends at ${WRITES}`);
      assert.equal(data.keep, 'me', 'the untouched key is kept');
      assert.equal(data.userId, 'alice');
    });

    it('R8: a logout racing those writes leaves no row of the session', async (t) => {
      const path = tempDatabase(t);
      const app = await bootOn(t, sqliteStore({ path }), {}, HOUR);
      const { client, sid } = await loggedIn(app);
      const cookie = client.cookieHeader();
      let answered = 0;
      let logout: Promise<number> | undefined;
      const answers = await writeAll(app, cookie, () => {
        answered += 1;
        if (answered === (CLIENTS * WRITES) / 4) logout = client.post('/auth/logout').then((res) => res.status);
      });
      assert.ok(logout, 'the logout was sent while the writes went on');
      assert.equal(await logout, 200, 'the logout was answered 200');
      const statuses = answers.flat().map((a) => a.status);
      // After the logout a write lands in a new anonymous session of its own.
      assert.deepEqual(statuses, Array(CLIENTS * WRITES).fill(200), 'every write was answered 200');
      assert.equal(rowOf(openDatabase(t, path), sid), undefined, 'no row of the logged-out session');
      assert.equal((await app.client().get('/auth/me', { cookie })).status, 401);
    });
  });
});
