import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Controller, Get, HttpCode, Param, ParseIntPipe, Post } from '@nestjs/common';
import { Session, SessionModule, redisStore } from 'nest-express-session';
import { startApp, TEST_SECRET } from '../support/app.js';
import { REDIS_URL, skipWithout, uniqueName } from '../support/env.js';
import { sidOf } from '../support/http.js';
import { portOf, redisCommands } from '../support/net.js';

type Bag = Record<string, unknown>;

@Controller('many')
class ManyKeysController {
  /** Sets keys k0..k<count-1> to `value`. */
  @Post('set/:count/:value')
  @HttpCode(200)
  set(@Session() session: Bag, @Param('count', ParseIntPipe) count: number, @Param('value') value: string): object {
    for (let i = 0; i < count; i++) session[`k${i}`] = `${value}${i}`;
    return {};
  }

  /** Removes keys k0..k<count-1>. */
  @Post('drop/:count')
  @HttpCode(200)
  drop(@Session() session: Bag, @Param('count', ParseIntPipe) count: number): object {
    for (let i = 0; i < count; i++) delete session[`k${i}`];
    return {};
  }

  @Get()
  read(@Session() session: Bag): { keys: string[]; values: Record<string, unknown> } {
    const keys = Object.keys(session).filter((key) => /^k\d+$/.test(key));
    return { keys, values: Object.fromEntries(keys.map((key) => [key, session[key]])) };
  }
}

// The change script sets and removes fields in batches (Lua's unpack takes at most about 8,000 values): a
// change bigger than one batch must still be applied whole, in its one step.
describe('Redis: changes larger than one batch of the script', { skip: skipWithout('REDIS_URL') }, () => {
  it('5,000 keys set in one request, 4,900 of them changed, then 4,800 removed: the hash holds exactly the rest', async (t) => {
    const prefix = `${uniqueName('large')}:`;
    const app = await startApp(t, {
      imports: [
        SessionModule.forRoot({ session: { secret: TEST_SECRET, store: redisStore({ url: REDIS_URL!, prefix }) } }),
      ],
      controllers: [ManyKeysController],
    });
    const client = app.client();
    assert.equal((await client.post('/many/set/5000/a')).status, 200, 'a new session with 5,000 keys');
    const sid = sidOf(client.jar.get('connect.sid'))!;
    const fields = async (): Promise<number> =>
      Number(/^:(\d+)/.exec(await redisCommands(portOf(REDIS_URL!), ['HLEN', prefix + sid]))?.[1]);
    assert.equal(await fields(), 5001, 'the cookie and 5,000 fields');
    assert.equal((await client.post('/many/set/4900/b')).status, 200, 'a change of 4,900 keys');
    let read = (await client.get('/many')).body as { keys: string[]; values: Record<string, string> };
    assert.equal(read.keys.length, 5000);
    assert.equal(read.values.k0, 'b0');
    assert.equal(read.values.k4899, 'b4899', 'the last changed key');
    assert.equal(read.values.k4900, 'a4900', 'the first key left alone');
    assert.equal((await client.post('/many/drop/4800')).status, 200, 'a removal of 4,800 keys');
    assert.equal(await fields(), 201, 'the cookie and the 200 keys left');
    read = (await client.get('/many')).body as { keys: string[]; values: Record<string, string> };
    assert.deepEqual(
      read.keys.sort(),
      Array.from({ length: 200 }, (_, i) => `k${4800 + i}`).sort(),
      'exactly the keys not removed',
    );
    assert.equal(read.values.k4800, 'b4800');
    assert.equal(read.values.k4999, 'a4999');
  });
});
