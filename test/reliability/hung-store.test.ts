import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { NextFunction, Request, Response } from 'express';
import { createClient } from 'redis';
import { redisStore, SessionModule, STORE_UNAVAILABLE_MESSAGE } from 'nest-express-session';
import { createApp, startApp, TEST_SECRET } from '../support/app.js';
import { defer } from '../support/cleanup.js';
import { AuthController, CounterController } from '../support/controllers.js';
import { skipWithout } from '../support/env.js';
import { RedisServer } from '../support/launchers.js';
import { eventually, redisCommands } from '../support/net.js';

setFlagsFromString('--expose-gc');
/** A full garbage collection, to see whether anything still holds the requests a hung store served. */
const gc = runInNewContext('gc') as () => void;

/** Calls the store may leave unanswered at once in this test's app. */
const CAP = 8;
/** Requests sent while Redis is stopped: more than the cap. */
const SENT = 30;

/** A GET of /whoami with the client's cookie, failed if it takes more than a generous bound. */
async function whoami(url: string, cookie: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/whoami`, {
    headers: { cookie, connection: 'close', 'x-track': '1' },
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, body: await res.json() };
}

/** How many HGETALL commands (session reads) Redis has run since its statistics were reset. */
async function sessionReads(port: number): Promise<number> {
  const stats = await redisCommands(port, ['INFO', 'commandstats']);
  return Number(/cmdstat_hgetall:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

describe('a hung Redis (stopped with SIGSTOP)', { skip: skipWithout('REDIS_SERVER_BIN') }, () => {
  it(
    `every request gets its 503, at most ${CAP} store calls wait (the rest fail at once), the requests are released, and Redis runs at most ${CAP} stale reads`,
    { timeout: 60_000 },
    async (t) => {
      const server = await RedisServer.start();
      defer(t, () => server.dispose());
      const pid = Number(/process_id:(\d+)/.exec(await redisCommands(server.port, ['INFO', 'server']))?.[1]);
      assert.ok(pid > 0, 'the server says its pid');
      const client = createClient({ url: server.url, disableOfflineQueue: true });
      client.on('error', () => undefined);
      await client.connect();
      defer(t, () => client.destroy());
      /** Each request the app got while Redis was stopped, held only weakly. */
      const served: WeakRef<Request>[] = [];
      const logs: string[] = [];
      const app = await startApp(t, {
        imports: [
          SessionModule.forRoot({
            session: { secret: TEST_SECRET, store: redisStore({ client }) },
            storeTimeout: 1_000,
            maxPendingStoreCalls: CAP,
          }),
        ],
        controllers: [AuthController, CounterController],
        logs,
        setup: (nest) => {
          nest.use((req: Request, _res: Response, next: NextFunction) => {
            if (req.headers['x-track']) served.push(new WeakRef(req));
            next();
          });
        },
      });
      // Whatever happens, Redis runs again before the app and the server are closed.
      let stopped = false;
      defer(t, () => stopped && process.kill(pid, 'SIGCONT'));
      const user = app.client();
      await user.post('/auth/login', { userId: 'alice' });
      const cookie = user.cookieHeader();
      assert.deepEqual((await whoami(app.url, cookie)).body, { userId: 'alice' });
      served.length = 0;

      await redisCommands(server.port, ['CONFIG', 'RESETSTAT']);
      process.kill(pid, 'SIGSTOP');
      stopped = true;
      const logged = logs.length;
      const answers = await Promise.all(Array.from({ length: SENT }, () => whoami(app.url, cookie)));
      for (const [i, res] of answers.entries()) {
        assert.equal(res.status, 503, `request ${i}`);
        assert.equal(res.body.message, STORE_UNAVAILABLE_MESSAGE);
      }
      const failures = logs.slice(logged).filter((line) => line.includes('Session could not be loaded'));
      const timedOut = failures.filter((line) => line.includes('did not answer within')).length;
      const refused = failures.filter((line) => line.includes('calls are still waiting')).length;
      assert.deepEqual({ timedOut, refused }, { timedOut: CAP, refused: SENT - CAP }, 'the cap held');
      assert.equal((await whoami(app.url, cookie)).status, 503, 'still refused while the calls wait');

      // Nothing but the store's own queue waits for Redis now, and it no longer holds the requests.
      const released = await eventually(async () => {
        await new Promise((resolve) => setImmediate(resolve));
        gc();
        return served.every((ref) => ref.deref() === undefined);
      }, 20);
      const held = served.filter((ref) => ref.deref() !== undefined).length;
      assert.ok(released, `${held} of ${served.length} requests are still held while Redis hangs`);

      process.kill(pid, 'SIGCONT');
      stopped = false;
      // Replies come in order on the one connection: once this PING is answered, every stale command has run.
      assert.equal(await client.ping(), 'PONG');
      assert.equal(await sessionReads(server.port), CAP, 'Redis ran only the reads that were let through');
      assert.ok(
        await eventually(async () => (await whoami(app.url, cookie)).status === 200),
        'served again once Redis answers',
      );
      assert.deepEqual((await whoami(app.url, cookie)).body, { userId: 'alice' });
    },
  );

  it('maxPendingStoreCalls must be a whole number of 1 or more', async (t) => {
    for (const maxPendingStoreCalls of [0, 2.5, -1, NaN]) {
      const module = SessionModule.forRoot({ session: { secret: TEST_SECRET }, maxPendingStoreCalls });
      await assert.rejects(createApp(t, { imports: [module] }), /maxPendingStoreCalls must be a whole number/);
    }
  });
});
