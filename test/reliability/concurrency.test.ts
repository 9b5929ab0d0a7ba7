import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LoggerService } from '@nestjs/common';
import { startApp } from '../support/app.js';
import { openGate, ReliabilityController } from '../support/controllers.js';
import { sidOf } from '../support/http.js';
import { sleep } from '../support/net.js';
import { reliabilityApp } from '../support/reliability.js';
import { faultStore, reliabilityStoreKinds } from '../support/store-kinds.js';

for (const kind of reliabilityStoreKinds) {
  describe(`concurrency on the ${kind.family}`, { skip: kind.skip }, () => {
    it('R16: two concurrent requests setting different keys of one session both keep their key', async (t) => {
      const store = await faultStore(t, kind);
      const app = await startApp(t, reliabilityApp(store));
      const client = app.client();
      const { body } = await client.post('/auth/set', { role: 'base' });
      const first = client.post('/r/set-slow/a', { a: 'from A' });
      const second = client.post('/r/set-slow/b', { b: 'from B' });
      await sleep(50); // both have loaded the same version
      await openGate(ReliabilityController.gates, 'a');
      assert.equal((await first).status, 200);
      await openGate(ReliabilityController.gates, 'b');
      assert.equal((await second).status, 200);
      const stored = await store.peek(body.id);
      assert.equal(stored?.a, 'from A');
      assert.equal(stored?.b, 'from B');
      assert.equal(stored?.role, 'base');
    });

    it(
      'R17: 2,000 requests from 50 concurrent clients: each sees only its own session, no 5xx, no lost increment',
      { timeout: 120_000 },
      async (t) => {
        const store = await faultStore(t, kind);
        const app = await startApp(t, reliabilityApp(store));
        const clients = Array.from({ length: 50 }, (_, i) => ({ user: `user-${i}`, client: app.client() }));
        await Promise.all(clients.map(({ user, client }) => client.post('/auth/login', { userId: user })));
        const perClient = 40;
        let serverErrors = 0;
        let foreign = 0;
        await Promise.all(
          clients.map(async ({ user, client }) => {
            for (let i = 1; i <= perClient; i++) {
              const res = await client.post('/r/increment');
              if (res.status >= 500) serverErrors += 1;
              if (res.body?.userId !== user) foreign += 1;
              else assert.equal(res.body.counter, i, `${user} increment ${i}`);
            }
          }),
        );
        assert.equal(serverErrors, 0);
        assert.equal(foreign, 0, "no client saw another client's session");
        for (const { user, client } of clients) {
          const stored = await store.peek(sidOf(client.jar.get('connect.sid'))!);
          assert.equal(stored?.userId, user);
          assert.equal(stored?.counter, perClient, `${user}: every increment kept`);
        }
      },
    );
  });
}

describe('logs', () => {
  it('never contain a raw session id or cookie value, even when records are corrupt or the store fails', async (t) => {
    const lines: string[] = [];
    const capture: LoggerService = {
      log: (m: unknown) => void lines.push(String(m)),
      error: (m: unknown) => void lines.push(String(m)),
      warn: (m: unknown) => void lines.push(String(m)),
      debug: (m: unknown) => void lines.push(String(m)),
      verbose: (m: unknown) => void lines.push(String(m)),
    };
    const store = await faultStore(t, reliabilityStoreKinds[0]);
    const app = await startApp(t, reliabilityApp(store));
    app.nest.useLogger(capture);
    const client = app.client();
    await client.post('/auth/login', { userId: 'alice' });
    const cookie = client.jar.get('connect.sid')!;
    const sid = sidOf(cookie)!;
    store.next('get', { kind: 'return', value: { broken: true } });
    await client.get('/');
    store.next('get', { kind: 'reject', error: new Error('boom') });
    await client.get('/');
    store.next('set', { kind: 'reject' });
    await client.post('/auth/set', { a: 'x' });
    assert.ok(lines.length >= 3, `the faults were logged (${lines.length} lines)`);
    for (const line of lines) {
      assert.ok(!line.includes(sid), `a log line names the raw id: ${line}`);
      assert.ok(!line.includes(decodeURIComponent(cookie)), 'a log line holds the cookie');
    }
    assert.ok(
      lines.some((l) => /Session [0-9a-f]{12} had a corrupt record/.test(l)),
      'the corrupt record is named by a short hash',
    );
  });
});
