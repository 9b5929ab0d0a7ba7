import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionModule } from 'nest-express-session';
import { startApp, TEST_SECRET } from './support/app.js';
import { AuthController, CounterController } from './support/controllers.js';
import { FaultStore } from './support/fault-store.js';
import { sidOf } from './support/http.js';

describe('bad cookies', () => {
  it('tampered, unsigned, garbage and oversized-but-legal cookies give a new anonymous session, never an error', async () => {
    const store = new FaultStore();
    const t = await startApp({
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store } })],
      controllers: [AuthController, CounterController],
    });
    try {
      const victim = t.client();
      await victim.post('/auth/login', { userId: 'alice' });
      const good = victim.jar.get('connect.sid')!;
      const sid = sidOf(good)!;
      const tampered = good.slice(0, -3) + (good.endsWith('abc') ? 'xyz' : 'abc');
      const values = [
        tampered,
        encodeURIComponent(sid), // unsigned id
        's%3A' + encodeURIComponent(sid), // signed prefix, no signature
        'garbage',
        '%E0%A4%A', // broken percent-encoding
        's:' + 'A'.repeat(4000),
        '',
        '"quoted"',
      ];
      for (const value of values) {
        const res = await t.client().get('/', { cookie: `connect.sid=${value}` });
        assert.equal(res.status, 200, `cookie ${JSON.stringify(value.slice(0, 40))}`);
        assert.deepEqual(res.body, { views: 1 }, 'a fresh session');
        const me = await t.client().get('/auth/me', { cookie: `connect.sid=${value}` });
        assert.equal(me.status, 401, 'never the victim');
      }
      const header = await t.client().get('/', { cookie: 'a=1; ;;; =; connect.sid; b' });
      assert.equal(header.status, 200);
      assert.equal((await victim.get('/auth/me')).status, 200, 'the real session is untouched');
    } finally {
      await t.close();
    }
  });

  it('a validly signed id that is not in the store gets a fresh id, never the one the client chose', async () => {
    const store = new FaultStore();
    const t = await startApp({
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store } })],
      controllers: [AuthController, CounterController],
    });
    try {
      const client = t.client();
      await client.post('/auth/login', { userId: 'alice' });
      const cookie = client.jar.get('connect.sid')!;
      const sid = sidOf(cookie)!;
      await new Promise<void>((resolve) => store.inner.destroy(sid, () => resolve()));
      const res = await client.post('/auth/set', { a: 'x' });
      assert.equal(res.status, 200);
      assert.notEqual(res.body.id, sid);
      assert.notEqual(sidOf(client.jar.get('connect.sid')), sid);
    } finally {
      await t.close();
    }
  });
});
