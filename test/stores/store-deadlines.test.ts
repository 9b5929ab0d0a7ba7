import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startApp } from '../support/app.js';
import { sleep } from '../support/net.js';
import { FaultStore } from '../support/fault-store.js';
import { reliabilityApp } from '../support/reliability.js';

// The deadlines of pending store calls share one timer (lib/stores/store-call.ts): these check that each call
// still gets its own deadline when many are pending at once, answered or not, in any order.
describe('store call deadlines, many calls pending at once', () => {
  it(
    'among concurrent reads, exactly the ones that never answer get the 503; the others are served',
    { timeout: 20_000 },
    async (t) => {
      const store = new FaultStore();
      // Every read answers later (so each gets a deadline), and some never answer.
      store.latency.get = 30;
      const app = await startApp(t, reliabilityApp(store, { storeTimeout: 400 }));
      const clients = Array.from({ length: 24 }, () => app.client());
      for (const [i, client] of clients.entries()) {
        assert.equal((await client.post('/auth/login', { userId: `u${i}` })).status, 200);
      }
      for (const round of [1, 2]) {
        store.heal();
        // Reads are taken from the queue in the order the requests reach the store, so which request hangs is not
        // known in advance: the counts are what must hold.
        for (let i = 0; i < 8; i++)
          store.next('get', i % 2 === 0 ? { kind: 'hang' } : { kind: 'return', value: undefined });
        const hungBefore = store.hanging.length;
        const statuses = await Promise.all(clients.map(async (client) => (await client.get('/whoami')).status));
        const hung = store.hanging.length - hungBefore;
        assert.equal(hung, 4, `round ${round}: four reads were left hanging`);
        assert.equal(
          statuses.filter((s) => s === 503).length,
          hung,
          `round ${round}: one 503 per read that never answered`,
        );
        assert.equal(
          statuses.filter((s) => s === 200).length,
          clients.length - hung,
          `round ${round}: every other request served`,
        );
      }
      // A call answered after its deadline is ignored: the hanging reads answer now, and nothing breaks.
      for (const callback of store.hanging.splice(0)) callback(null, null);
      store.heal();
      assert.equal((await clients[0].get('/whoami')).status, 200, 'served after the late answers');
    },
  );

  it('a call still pending when an older one times out keeps its own deadline', { timeout: 20_000 }, async (t) => {
    const store = new FaultStore();
    const app = await startApp(t, reliabilityApp(store, { storeTimeout: 500 }));
    const [first, second] = [app.client(), app.client()];
    for (const client of [first, second]) assert.equal((await client.post('/auth/login', { userId: 'u' })).status, 200);
    for (let round = 1; round <= 3; round++) {
      // Reads answer after 400 ms: within the 500 ms deadline. The first request's read never answers; the
      // second starts while it is pending, so it is still waiting when the first one's deadline passes.
      store.latency.get = 400;
      store.next('get', { kind: 'hang' });
      const hung = first.get('/whoami');
      await sleep(250);
      const served = second.get('/whoami');
      assert.equal((await hung).status, 503, `round ${round}: the read that never answered`);
      assert.equal((await served).status, 200, `round ${round}: the read that answered in time`);
    }
  });
});
