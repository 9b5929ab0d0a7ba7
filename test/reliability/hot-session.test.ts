import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BadRequestException, Controller, HttpCode, Param, Post } from '@nestjs/common';
import type { Store } from 'express-session';
import { Session, SESSION_MODULE_OPTIONS, SessionModule } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import type { TestApp } from '../support/app.js';
import { defer } from '../support/cleanup.js';
import type { Cleanup } from '../support/cleanup.js';
import { AuthController, openGate, ReliabilityController } from '../support/controllers.js';
import { REDIS_URL } from '../support/env.js';
import { sidOf } from '../support/http.js';
import type { TestResponse } from '../support/http.js';
import { eventually, portOf, redisCommands } from '../support/net.js';
import { countRoundTrips } from '../support/round-trips.js';
import { peek, storeKinds, withPool } from '../support/store-kinds.js';
import type { StoreKind } from '../support/store-kinds.js';

/** Concurrent clients sharing one cookie, and the writes each makes of its own key. */
const CLIENTS = 40;
const WRITES = 10;

/** Adds one to a key of the session: each client of the hot session has its own top-level key. */
@Controller('hot')
class HotController {
  @Post(':key')
  @HttpCode(200)
  bump(@Param('key') key: string, @Session() session: Record<string, unknown>): { userId: unknown; value: number } {
    if (!/^k\d+$/.test(key)) throw new BadRequestException('keys are k0, k1, ...');
    const value = ((session[key] as number | undefined) ?? 0) + 1;
    session[key] = value;
    return { userId: session.userId ?? null, value };
  }
}

/** An app over a fresh store of this kind, and that store. */
async function hotApp(t: Cleanup, kind: StoreKind): Promise<{ app: TestApp; store: Store }> {
  const given = kind.isDefault ? undefined : await kind.create(t);
  const app = await startApp(t, {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store: given } })],
    controllers: [AuthController, ReliabilityController, HotController],
  });
  const store = app.nest.get<{ session: { store: Store } }>(SESSION_MODULE_OPTIONS).session.store;
  return { app, store };
}

/** Logs alice in, with a key nobody touches afterwards; the cookie header and the session id. */
async function logIn(app: TestApp): Promise<{ cookie: string; sid: string }> {
  const client = app.client();
  const res = await client.post('/auth/login', { userId: 'alice', data: { untouched: 'kept' } });
  assert.equal(res.status, 200);
  return { cookie: client.cookieHeader(), sid: sidOf(client.jar.get('connect.sid'))! };
}

/** How many responses had each status. */
function tally(statuses: Map<number, number>, res: TestResponse): void {
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
}

/**
 * How many records the server behind a Redis or PostgreSQL kind holds for this id, read with the server's own
 * tools rather than the store (undefined for the other kinds: their records live in this process).
 */
async function serverRecords(kind: StoreKind, sid: string): Promise<number | undefined> {
  if (kind.family === 'Redis') {
    // Whatever the prefix: an id is 32 random base64url characters, which no other key holds.
    const reply = await redisCommands(portOf(REDIS_URL!), ['KEYS', `*${sid}`]);
    return Number(/^\*(\d+)/.exec(reply)?.[1]);
  }
  if (kind.family === 'PostgreSQL') {
    return withPool(async (pool) => {
      // Every session table on the server (each test makes its own): the tables with a sid column.
      const { rows: tables } = await pool.query<{ schema: string; name: string }>(
        `SELECT table_schema AS schema, table_name AS name FROM information_schema.columns
         WHERE column_name = 'sid' AND table_schema NOT IN ('pg_catalog', 'information_schema')`,
      );
      let count = 0;
      for (const { schema, name } of tables) {
        const { rows } = await pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM "${schema}"."${name}" WHERE sid = $1`,
          [sid],
        );
        count += rows[0].n;
      }
      return count;
    });
  }
  return undefined;
}

for (const kind of storeKinds) {
  describe(`a hot session on the ${kind.name} store`, { skip: kind.skip }, () => {
    it(
      `R18: ${CLIENTS} clients on one cookie, each writing its own key ${WRITES} times: all 200, every key kept, still logged in`,
      { timeout: 60_000 },
      async (t) => {
        const { app, store } = await hotApp(t, kind);
        const { cookie, sid } = await logIn(app);
        // The first change of a logged-in session: Redis loads its write script here, not in the counted run.
        assert.equal((await app.client().post('/auth/set', { role: 'warm' }, { cookie })).status, 200);
        const trips = countRoundTrips(t, store);
        const statuses = new Map<number, number>();
        const unexpected: string[] = [];
        await Promise.all(
          Array.from({ length: CLIENTS }, async (_, i) => {
            const client = app.client();
            for (let n = 1; n <= WRITES; n++) {
              const res = await client.post(`/hot/k${i}`, undefined, { cookie });
              tally(statuses, res);
              // As if alone: the request found its client's previous write, in alice's session.
              if (res.status === 200 && (res.body.userId !== 'alice' || res.body.value !== n)) {
                unexpected.push(`k${i} write ${n}: ${res.text}`);
              }
            }
          }),
        );
        // What the run cost, before the checks below read the store themselves.
        const cost = trips && { ...trips };
        assert.deepEqual(Object.fromEntries(statuses), { 200: CLIENTS * WRITES }, 'every request answered 200');
        assert.deepEqual(unexpected.slice(0, 5), [], 'each request saw its own previous write, in the same session');
        const record = await peek(store, sid);
        assert.ok(record, 'the session is still stored');
        const data = record as unknown as Record<string, unknown>;
        const kept = Array.from({ length: CLIENTS }, (_, i) => data[`k${i}`]);
        assert.deepEqual(kept, Array<number>(CLIENTS).fill(WRITES), 'every key holds its last write');
        assert.equal(data.untouched, 'kept', 'a key nobody wrote during the run is kept');
        assert.equal(data.role, 'warm');
        assert.equal(data.userId, 'alice');
        const me = await app.client().get('/auth/me', { cookie });
        assert.deepEqual([me.status, me.body], [200, { userId: 'alice' }], 'the user is still logged in');
        if (cost) {
          t.diagnostic(`store round trips for ${CLIENTS * WRITES} changed requests: ${JSON.stringify(cost)}`);
          assert.deepEqual(
            cost,
            { reads: CLIENTS * WRITES, writes: CLIENTS * WRITES },
            'one read and one write per changed request, whatever the contention',
          );
        }
      },
    );

    it(
      'R8, R18: a logout racing those writes leaves no record, and later writes of the old cookie do not bring it back',
      { timeout: 60_000 },
      async (t) => {
        const { app, store } = await hotApp(t, kind);
        const { cookie, sid } = await logIn(app);
        // Read with the server's tools too (Redis, PostgreSQL): found now, so that the zeros below mean something.
        const before = await serverRecords(kind, sid);
        if (before !== undefined) assert.equal(before, 1, 'the server holds the record before the logout');
        // One request loads the session and waits at a gate until the logout is done: it writes after the destroy.
        const gate = `late-${sid}`;
        // Should the test fail before opening the gate, the request is let go, so the app can close.
        defer(t, () => ReliabilityController.gates.get(gate)?.());
        const late = app.client().post(`/r/set-slow/${gate}`, { role: 'late' }, { cookie });
        assert.equal(await eventually(() => Promise.resolve(ReliabilityController.gates.has(gate)), 500, 10), true);
        const statuses = new Map<number, number>();
        const seen = { alice: 0, anonymous: 0 };
        let served = 0;
        let logout: Promise<TestResponse> | undefined;
        await Promise.all(
          Array.from({ length: CLIENTS }, async (_, i) => {
            const client = app.client();
            for (let n = 1; n <= WRITES; n++) {
              const res = await client.post(`/hot/k${i}`, undefined, { cookie });
              tally(statuses, res);
              if (res.body?.userId === 'alice') seen.alice += 1;
              else seen.anonymous += 1;
              // Mid-run, with the other clients' requests in flight.
              if ((served += 1) === (CLIENTS * WRITES) / 4)
                logout = app.client().post('/auth/logout', undefined, { cookie });
            }
          }),
        );
        assert.equal((await logout!).status, 200, 'the logout');
        await openGate(ReliabilityController.gates, gate);
        assert.equal((await late).status, 200, 'the request that loaded the session before the logout');
        assert.deepEqual(Object.fromEntries(statuses), { 200: CLIENTS * WRITES }, 'every request answered 200');
        t.diagnostic(`responses in alice's session: ${seen.alice}; after the logout, anonymous: ${seen.anonymous}`);
        assert.ok(seen.alice > 0 && seen.anonymous > 0, 'the logout came in the middle of the run');
        assert.equal(await peek(store, sid), null, 'the store holds no session under the old id');
        const raw = await serverRecords(kind, sid);
        if (raw !== undefined) assert.equal(raw, 0, 'the server holds no record for the old id');

        for (let n = 0; n < 3; n++) {
          const res = await app.client().post('/hot/k0', undefined, { cookie });
          assert.equal(res.status, 200);
          assert.deepEqual(res.body, { userId: null, value: 1 }, 'the old cookie starts a fresh anonymous session');
        }
        assert.equal(await peek(store, sid), null, 'the old id stays gone');
        if (raw !== undefined) assert.equal(await serverRecords(kind, sid), 0, 'on the server too');
        assert.equal((await app.client().get('/auth/me', { cookie })).status, 401, 'the old cookie is logged out');
      },
    );
  });
}
