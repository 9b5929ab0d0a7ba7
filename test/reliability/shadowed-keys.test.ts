import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import type { SessionData, Store } from 'express-session';
import { Session, SessionModule, SessionService } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { asError } from '../support/errors.js';
import { storeKinds } from '../support/store-kinds.js';

/** A handler that copies a key and value from the body into the session, as careless code does. */
@Controller('shadow')
class ShadowController {
  constructor(private readonly sessions: SessionService) {}

  @Post()
  @HttpCode(200)
  shadow(@Session() session: Record<string, unknown>, @Body() body: { key: string; value: unknown }): { ok: true } {
    session.note = 'from the shadowing request';
    session[body.key] = body.value;
    return { ok: true };
  }

  /** The same, saving at once through SessionService (before a redirect, say). */
  @Post('save')
  @HttpCode(200)
  async shadowAndSave(@Body() body: { key: string; value: unknown }): Promise<{ ok: true }> {
    const session = this.sessions.session as unknown as Record<string, unknown>;
    session.note = 'from the shadowing request';
    session[body.key] = body.value;
    await this.sessions.save();
    return { ok: true };
  }
}

/** Keys of express-session's session object that a handler must not overwrite, and what each is set to. */
const shadowing: [string, unknown][] = [
  ['touch', 'x'],
  ['resetMaxAge', 'x'],
  ['save', 'x'],
  ['reload', 1],
  ['destroy', 'x'],
  ['regenerate', null],
  ['cookie', 'x'],
  ['cookie', { maxAge: 'soon' }],
  ['__proto__', {}],
];

/** A POST of the shadowing request, failed if it takes more than a few seconds (a hung response fails the test). */
async function postBounded(
  url: string,
  path: string,
  cookie: string,
  body: unknown,
): Promise<{ status: number; body: any; setCookie: string | null }> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, setCookie: res.headers.get('set-cookie') };
}

function read(store: Store, sid: string): Promise<SessionData | null | undefined> {
  return new Promise((resolve, reject) => store.get(sid, (err, data) => (err ? reject(asError(err)) : resolve(data))));
}

/** How many sessions the store holds, where it can say. */
function countOf(store: Store): Promise<number | undefined> {
  const length = store.length?.bind(store);
  if (!length) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => length((err, n) => (err ? reject(asError(err)) : resolve(n))));
}

for (const kind of storeKinds) {
  describe(`session keys that shadow its methods on the ${kind.name} store`, { skip: kind.skip }, () => {
    it(
      'touch, save, resetMaxAge, cookie, __proto__, ...: a clear 500 at once, the key logged, nothing stored',
      { timeout: 60_000 },
      async (t) => {
        const store = await kind.create(t);
        const logs: string[] = [];
        const app = await startApp(t, {
          imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store } })],
          controllers: [AuthController, ShadowController],
          logs,
        });
        const client = app.client();
        const { body } = await client.post('/auth/set', { a: 'kept' });
        const stored = await countOf(store);
        for (const [key, value] of shadowing) {
          const what = `${key} = ${JSON.stringify(value)}`;
          const loggedBefore = logs.length;
          // A session loaded for the cookie, and a new one (express-session touches it to send its cookie).
          for (const [who, cookie] of [
            ['an existing session', client.cookieHeader()],
            ['a new session', ''],
          ]) {
            for (const path of ['/shadow', '/shadow/save']) {
              const res = await postBounded(app.url, path, cookie, { key, value });
              assert.equal(res.status, 500, `${what}, ${who}, ${path}`);
              assert.match(res.body.message, /overwrote one of its methods or its cookie/, `${what}, ${who}, ${path}`);
              assert.equal(res.setCookie, null, `${what}, ${who}, ${path}: no cookie`);
            }
          }
          assert.ok(
            logs.slice(loggedBefore).some((line) => line.startsWith('error') && line.includes(`"${key}"`)),
            `${what}: a log line names the key`,
          );
          const record = (await read(store, body.id)) as Record<string, unknown> | null | undefined;
          assert.equal(record?.a, 'kept', `${what}: the stored session is intact`);
          assert.equal(record?.note, undefined, `${what}: nothing from that request was stored`);
          assert.equal(await countOf(store), stored, `${what}: no new session stored`);
        }
        const state = await client.get('/auth/state');
        assert.equal(state.status, 200, 'the session still works');
        assert.equal(state.body.id, body.id);
        assert.deepEqual(state.body.data, { a: 'kept' });
      },
    );
  });
}
