import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from 'express-session';
import { SessionModule } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import type { Cleanup } from '../support/cleanup.js';
import { AuthController } from '../support/controllers.js';
import { sidOf } from '../support/http.js';
import { sleep } from '../support/net.js';
import { indexedStoreKinds, peek, storeKinds } from '../support/store-kinds.js';

// R9 for sessions stored before a timeout was turned on: they carry none of the module's timestamps, and their
// age counts from the first load that sees them so (a restart with `absoluteTimeout` set, say).

function boot(t: Cleanup, store: Store, options: Partial<SessionModuleOptions> = {}): Promise<TestApp> {
  return startApp(t, {
    imports: [
      SessionModule.forRoot({ session: { secret: TEST_SECRET, store, cookie: { maxAge: 3_600_000 } }, ...options }),
    ],
    controllers: [AuthController],
  });
}

for (const kind of storeKinds) {
  describe(`timeouts turned on after the fact, on the ${kind.name} store`, { skip: kind.skip }, () => {
    it('R9: absoluteTimeout ends a session stored without timestamps, even with read-only use', async (t) => {
      const store = await kind.create(t);
      const before = await boot(t, store);
      const client = before.client();
      assert.equal((await client.post('/auth/login', { userId: 'old' })).status, 200);
      const sid = sidOf(client.jar.get('connect.sid'))!;
      const stored = (await peek(store, sid)) as Record<string, unknown> | null;
      assert.equal(stored?.userId, 'old');
      if (indexedStoreKinds.includes(kind)) {
        // A logged-in session on a store with a session index carries the module's timestamps: the record is
        // stored again without them, as a version without timeouts or another store (connect-redis) left it.
        const { __session: stamp, ...bare } = stored ?? {};
        assert.equal(typeof (stamp as { createdAt?: unknown }).createdAt, 'number');
        await new Promise<void>((resolve, reject) =>
          store.set(sid, bare as never, (err) => (err ? reject(err as Error) : resolve())),
        );
      }
      const bare = (await peek(store, sid)) as unknown as Record<string, unknown>;
      assert.equal(bare.__session, undefined, 'stored without the module timestamps');

      const after = await boot(t, store, { absoluteTimeout: 300 });
      const browser = client.at(after.url);
      assert.equal((await browser.get('/auth/me')).status, 200, 'the first load starts counting');
      const stamped = (await peek(store, sid)) as Record<string, any> | null;
      assert.equal(typeof stamped?.__session?.createdAt, 'number', 'that read-only request stored the first stamp');
      let last = 200;
      for (let i = 0; i < 12 && last === 200; i++) {
        await sleep(100);
        last = (await browser.get('/auth/me')).status;
      }
      assert.equal(last, 401, 'anonymous once 300 ms had passed since the first load');
      assert.equal(await peek(store, sid), null, 'and the record was destroyed');
    });
  });
}
