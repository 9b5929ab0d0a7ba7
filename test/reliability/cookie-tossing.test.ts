import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startApp } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import { asError } from '../support/errors.js';
import { FaultStore } from '../support/fault-store.js';
import { setCookieFor, sidOf } from '../support/http.js';
import { sleep } from '../support/net.js';
import { reliabilityApp } from '../support/reliability.js';

/** How the victim's own session ends while the planted cookie waits behind it. */
const endings: {
  name: string;
  idleTimeout?: number;
  end: (store: FaultStore, sid: string, attackerVisit: () => Promise<void>) => Promise<void>;
}[] = [
  {
    name: 'revoked (removed from the store)',
    end: (store, sid) =>
      new Promise((resolve, reject) => store.inner.destroy(sid, (err) => (err ? reject(asError(err)) : resolve()))),
  },
  // The idle timeout is the module's own (R9): the victim waits past it while the attacker keeps visiting.
  {
    name: 'idle past idleTimeout',
    idleTimeout: 400,
    end: async (_store, _sid, attackerVisit) => {
      for (let i = 0; i < 6; i++) {
        await sleep(150);
        await attackerVisit();
      }
    },
  },
];

async function logIn(app: TestApp, userId: string): Promise<string> {
  const client = app.client();
  assert.equal((await client.post('/auth/login', { userId })).status, 200);
  return client.jar.get('connect.sid')!;
}

// R4 revised, finding 1 of the hardening review: a page on a sibling subdomain planted the attacker's own
// logged-in cookie with the parent Domain. The browser sends the victim's host-only cookie first (created
// earlier, same Path), the planted one second. When the victim's session ends, falling through to the second
// cookie logged the victim into the attacker's account.
describe('R4: a planted second cookie never takes over when the first one’s session ends', () => {
  for (const ending of endings) {
    it(`the victim's session ${ending.name}: the victim is anonymous, never the attacker`, async (t) => {
      const store = new FaultStore();
      const app = await startApp(t, reliabilityApp(store, { idleTimeout: ending.idleTimeout }));
      const attacker = await logIn(app, 'mallory');
      const victim = await logIn(app, 'alice');
      const browser = `connect.sid=${victim}; connect.sid=${attacker}`;
      assert.deepEqual((await app.client().get('/auth/me', { cookie: browser })).body, { userId: 'alice' });

      await ending.end(store, sidOf(victim)!, async () => {
        const visit = await app.client().get('/auth/me', { cookie: `connect.sid=${attacker}` });
        assert.equal(visit.status, 200, "the attacker's own session stays alive");
      });

      const me = await app.client().get('/auth/me', { cookie: browser });
      assert.equal(me.status, 401, `the victim is anonymous, not ${JSON.stringify(me.body)}`);
      const who = await app.client().get('/whoami', { cookie: browser });
      assert.deepEqual(who.body, { userId: null });
      // A change writes a fresh session into the victim's own cookie, never the attacker's id.
      const write = await app.client().post('/auth/set', { theme: 'dark' }, { cookie: browser });
      assert.equal(write.status, 200);
      assert.notEqual(write.body.id, sidOf(attacker));
      assert.notEqual(
        sidOf(setCookieFor(write, 'connect.sid')?.split(';')[0].slice('connect.sid='.length)),
        sidOf(attacker),
      );
      const state = await app.client().get('/auth/state', { cookie: `connect.sid=${attacker}` });
      assert.equal(state.body.data.userId, 'mallory');
      assert.equal(state.body.data.theme, undefined, "nothing the victim did reached the attacker's session");
    });
  }
});
