import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { inspect } from 'node:util';
import { BadRequestException, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import type { Store } from 'express-session';
import type { TestContext } from 'node:test';
import { Session, SESSION_MODULE_OPTIONS, SessionModule } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import { sidOf } from '../support/http.js';
import { peek, storeKinds } from '../support/store-kinds.js';
import type { StoreKind } from '../support/store-kinds.js';

/** Values JSON holds exactly, each under its own top-level key (some with names that need quoting). */
const FIRST: Record<string, unknown> = {
  closeToOne: 1.0000000000000002,
  negativeZero: -0,
  huge: 1e300,
  tiny: 5e-324,
  maxSafe: 9007199254740991,
  negative: -123.456,
  emptyArray: [],
  emptyObject: {},
  arrayOfNull: [null],
  nestedEmpty: { a: { b: { c: {} } }, d: [[], [{}]] },
  mixed: [1, 'two', { three: [3] }, false, null],
  unicode: 'ünïcødé ✓ 𝄞 日本語',
  quotes: `"double" 'single' \\ backslash \n newline \t tab`,
  nothing: null,
  'key with "quotes"': 'q',
  'ключ ✓': 'k',
  'a.b[0]': 'dotted',
};

/** The second round: some keys change, some are removed (absent here), one is new. */
const SECOND: Record<string, unknown> = {
  closeToOne: 0.30000000000000004,
  huge: -1e300,
  emptyArray: [[]],
  nestedEmpty: { a: {} },
  unicode: '😀 «»',
  'key with "quotes"': { now: 'an object' },
  added: [1e-7, 123456789012345680000],
};

/** Every round a test writes, by name: the two above, and two with a string holding U+0000 (which JSON escapes). */
const ROUNDS: Record<string, Record<string, unknown>> = {
  first: FIRST,
  second: SECOND,
  nul: { withNul: 'before\u0000after', other: 1 },
  'after-nul': { withNul: 'before\u0000after', other: 2 },
};

/** What a store must give back for a round: the session's keys as JSON would carry them. */
function expected(round: string): Record<string, unknown> {
  if (!Object.hasOwn(ROUNDS, round)) throw new BadRequestException(`no round ${round}`);
  return JSON.parse(JSON.stringify(ROUNDS[round])) as Record<string, unknown>;
}

/** Each key of the values, and every round's keys, as the session holds them. */
function valuesIn(session: Record<string, unknown>): Record<string, unknown> {
  const keys = new Set(Object.values(ROUNDS).flatMap((values) => Object.keys(values)));
  return Object.fromEntries([...keys].filter((key) => key in session).map((key) => [key, session[key]]));
}

/** Writes a round's values into the session, and says on the next request whether it reads them back exactly. */
@Controller('values')
class ValuesController {
  @Post(':round')
  @HttpCode(200)
  write(@Param('round') round: string, @Session() session: Record<string, unknown>): { ok: true } {
    const values = expected(round);
    for (const key of Object.keys(valuesIn(session))) if (!(key in values)) delete session[key];
    // The round's own values (-0 among them), not their JSON copy.
    Object.assign(session, structuredClone(ROUNDS[round]));
    return { ok: true };
  }

  @Get(':round')
  read(@Param('round') round: string, @Session() session: Record<string, unknown>): { differences: string[] } {
    // Compared here, not in the test: the response's own JSON would hide what this comparison must see (-0).
    const got = valuesIn(session);
    const want = expected(round);
    const keys = new Set([...Object.keys(got), ...Object.keys(want)]);
    const differences = [...keys]
      .filter((key) => !isDeepStrictEqual(got[key], want[key]))
      .map((key) => `${key}: read ${inspect(got[key])}, expected ${inspect(want[key])}`);
    return { differences };
  }
}

/** Writes each round in turn on one session, and checks the next request and the store give its values back. */
async function assertRoundTrips(t: TestContext, kind: StoreKind, rounds: string[]): Promise<void> {
  const given = kind.isDefault ? undefined : await kind.create(t);
  const app = await startApp(t, {
    imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, store: given } })],
    controllers: [ValuesController],
  });
  const store = app.nest.get<{ session: { store: Store } }>(SESSION_MODULE_OPTIONS).session.store;
  const client = app.client();
  for (const round of rounds) {
    const write = await client.post(`/values/${round}`);
    assert.equal(write.status, 200, `round ${round}: ${write.status} ${write.text}`);
    const sid = sidOf(client.jar.get('connect.sid'))!;
    const read = await client.get(`/values/${round}`);
    assert.equal(read.status, 200);
    assert.deepEqual(read.body.differences, [], `round ${round}: the next request reads the values back`);
    const record = (await peek(store, sid)) as unknown as Record<string, unknown> | null;
    assert.ok(record, `round ${round}: stored`);
    assert.deepEqual(valuesIn(record), expected(round), `round ${round}: the store holds them`);
  }
}

for (const kind of storeKinds) {
  describe(`JSON values on the ${kind.name} store`, { skip: kind.skip }, () => {
    // The first round makes the session (a whole record); the second changes and removes keys of the stored one.
    it('numbers, arrays, empty and nested values, unicode and quotes come back as JSON gives them, round after round', (t) =>
      assertRoundTrips(t, kind, ['first', 'second']));

    // PostgreSQL's jsonb has no U+0000 in text: postgresStore() must change a session without going through it.
    it('a string holding U+0000 is kept, and the session can still be changed', (t) =>
      assertRoundTrips(t, kind, ['nul', 'after-nul']));
  });
}
