import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  asyncPerRequest,
  commandDelta,
  countTargetOf,
  median,
  parseCommandStats,
  perRequest,
  ratioOf,
  sampleOf,
  servedDelta,
  soakGrowth,
  summarise,
  toMB,
} from '../../bench/statistics.js';
import type { LoadTotals, Sample, SoakSample, VariantResult } from '../../bench/statistics.js';

/** A sample of round `round` with these req/s, CPU µs per request and p99, the rest made up. */
function sample(round: number, rps: number, cpuUs: number, p99: number, extra: Partial<Sample> = {}): Sample {
  return {
    round,
    rps,
    cpuUs,
    p99,
    p50: p99 / 2,
    requests: rps,
    sent: rps,
    non2xx: 0,
    errors: 0,
    timeouts: 0,
    ...extra,
  };
}

function variant(name: string, samples: Sample[]): VariantResult {
  return { name, label: name, samples };
}

describe('benchmark statistics', () => {
  it('median: the middle value, the mean of the two middle ones, NaN for none; the input is left as it was', () => {
    const values = [5, 1, 3];
    assert.equal(median(values), 3);
    assert.deepEqual(values, [5, 1, 3]);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([7]), 7);
    assert.ok(Number.isNaN(median([])));
  });

  it('sampleOf: req/s over the run, CPU per completed request (never divided by zero)', () => {
    const run: LoadTotals = {
      duration: 2,
      requests: { total: 1000, sent: 1004 },
      latency: { p50: 1.5, p99: 9 },
      non2xx: 1,
      errors: 2,
      timeouts: 3,
    };
    assert.deepEqual(sampleOf(4, run, 250_000, { get: 1000 }), {
      round: 4,
      rps: 500,
      cpuUs: 250,
      p99: 9,
      p50: 1.5,
      requests: 1000,
      sent: 1004,
      non2xx: 1,
      errors: 2,
      timeouts: 3,
      commands: { get: 1000 },
    });
    assert.equal(sampleOf(1, { ...run, requests: { total: 0, sent: 0 } }, 700).cpuUs, 700);
    const served = sampleOf(2, run, 1, undefined, { handled: 998, roundTrips: { get: 998, patch: 997 } });
    assert.equal(served.handled, 998);
    assert.deepEqual(served.roundTrips, { get: 998, patch: 997 });
    assert.equal('handled' in sampleOf(2, run, 1), false, 'nothing counted, nothing reported');
  });

  it('servedDelta: requests served and round trips by operation between two readings; unchanged ones left out', () => {
    assert.deepEqual(
      servedDelta(
        { handled: 10, roundTrips: { get: 10, set: 4, touch: 2 } },
        { handled: 110, roundTrips: { get: 110, set: 4, touch: 52, patch: 50 } },
      ),
      { handled: 100, roundTrips: { get: 100, touch: 50, patch: 50 } },
    );
  });

  it('perRequest: counts summed over runs, per request in total and by kind; undefined for no requests', () => {
    assert.deepEqual(
      perRequest(
        [
          { get: 100, set: 100 },
          { get: 300, evalsha: 200 },
        ],
        400,
      ),
      {
        total: 1.75,
        breakdown: { get: 1, set: 0.25, evalsha: 0.5 },
      },
    );
    assert.deepEqual(perRequest([], 10), { total: 0, breakdown: {} });
    assert.equal(perRequest([{ get: 1 }], 0), undefined);
  });

  it('summarise: medians over the rounds; Redis commands per request sent, in total and by command', () => {
    const samples = [
      sample(1, 100, 30, 4, { sent: 100, commands: { get: 100, set: 100 } }),
      sample(2, 300, 10, 2, { sent: 300, commands: { get: 300, pexpire: 150 } }),
      sample(3, 200, 20, 8, { sent: 100, commands: { get: 100 } }),
    ];
    assert.deepEqual(summarise(samples), {
      rps: 200,
      p99: 4,
      p50: 2,
      cpuUs: 20,
      non2xx: 0,
      errors: 0,
      commandBreakdown: { get: 1, set: 0.2, pexpire: 0.3 },
      commandsPerRequest: 1.5,
    });
    assert.deepEqual(summarise([sample(1, 100, 30, 4), sample(2, 200, 10, 6)]), {
      rps: 150,
      p99: 5,
      p50: 2.5,
      cpuUs: 20,
      non2xx: 0,
      errors: 0,
    });
    assert.deepEqual(summarise([]), {});
  });

  it('summarise: failed requests summed; round trips per request the handlers served, in total and by operation', () => {
    const samples = [
      sample(1, 100, 30, 4, { non2xx: 2, handled: 100, roundTrips: { get: 100, set: 100, touch: 0 } }),
      sample(2, 300, 10, 2, { errors: 1, timeouts: 2, handled: 300, roundTrips: { get: 600, set: 300 } }),
      sample(3, 200, 20, 8),
    ];
    const summary = summarise(samples);
    assert.equal(summary.non2xx, 2);
    assert.equal(summary.errors, 3, 'errors and timeouts');
    assert.equal(summary.roundTripsPerRequest, 2.75);
    assert.deepEqual(summary.roundTripBreakdown, { get: 1.75, set: 1, touch: 0 });
    assert.equal(summary.commandsPerRequest, undefined, 'no Redis counts, no Redis commands');
  });

  it('ratioOf: the median of same-round req/s ratios, their range, the CPU ratio den/num, the p99 ratio', () => {
    const num = variant('module', [sample(1, 90, 20, 6), sample(2, 120, 10, 2), sample(3, 100, 25, 4)]);
    const den = variant('raw', [sample(1, 100, 10, 3), sample(2, 100, 10, 4), sample(3, 80, 20, 2)]);
    const spec = { num: 'module', den: 'raw', meaning: 'module / raw', target: 0.98 };
    assert.deepEqual(ratioOf(spec, num, den), {
      ...spec,
      ratio: 1.2,
      cpuRatio: 0.8,
      min: 0.9,
      max: 1.25,
      p99Ratio: 4 / 3,
      met: true,
    });
  });

  it('ratioOf: only rounds both were measured in count; a target is met at its value, a strict one only above', () => {
    const num = variant('a', [sample(1, 100, 10, 1), sample(2, 999, 10, 1)]);
    const den = variant('b', [sample(1, 100, 10, 1), sample(3, 1, 10, 1)]);
    const even = ratioOf({ num: 'a', den: 'b', meaning: 'a / b', target: 1, cpuTarget: 1 }, num, den);
    assert.equal(even.ratio, 1);
    assert.equal(even.min, 1);
    assert.equal(even.max, 1);
    assert.equal(even.met, true, 'at least 1');
    assert.equal(even.cpuMet, true);
    const strict = ratioOf({ num: 'a', den: 'b', meaning: 'a / b', target: 1, strict: true }, num, den);
    assert.equal(strict.met, false, 'equal is not above 1');
    assert.equal(strict.cpuMet, undefined, 'no CPU target, no CPU verdict');
    assert.equal(ratioOf({ num: 'a', den: 'b', meaning: 'a / b' }, num, den).met, undefined, 'no target, no verdict');
  });

  it('ratioOf: the CPU target reads the CPU ratio (den over num), apart from the req/s target', () => {
    const num = variant('a', [sample(1, 90, 8, 1)]);
    const den = variant('b', [sample(1, 100, 10, 1)]);
    const result = ratioOf({ num: 'a', den: 'b', meaning: 'a / b', target: 1, cpuTarget: 1 }, num, den);
    assert.equal(result.met, false, 'req/s 0.9');
    assert.equal(result.cpuMet, true, 'CPU 10/8 = 1.25');
  });

  it('ratioOf: just the spec when either side has no samples (skipped, pending or not selected)', () => {
    const spec = { num: 'a', den: 'b', meaning: 'a / b', target: 1.03 };
    assert.deepEqual(ratioOf(spec, variant('a', [sample(1, 1, 1, 1)]), variant('b', [])), spec);
    assert.deepEqual(ratioOf(spec, undefined, variant('b', [sample(1, 1, 1, 1)])), spec);
  });

  it('countTargetOf: the value of round trips, Redis commands or non-2xx, met at most at max', () => {
    const result: VariantResult = {
      ...variant('module', [sample(1, 1, 1, 1)]),
      roundTripsPerRequest: 2.004,
      commandsPerRequest: 1.2,
      non2xx: 1,
    };
    const trips = countTargetOf({ variant: 'module', metric: 'roundTrips', max: 2, meaning: 'trips' }, result);
    assert.equal(trips.value, 2.004);
    assert.equal(trips.met, true, 'within 0.005 per request of the target: requests cut by the end of a run');
    const more = countTargetOf(
      { variant: 'module', metric: 'roundTrips', max: 2, meaning: 'trips' },
      {
        ...result,
        roundTripsPerRequest: 2.01,
      },
    );
    assert.equal(more.met, false);
    assert.equal(
      countTargetOf({ variant: 'module', metric: 'redisCommands', max: 1, meaning: 'c' }, result).met,
      false,
    );
    const failed = countTargetOf({ variant: 'module', metric: 'non2xx', max: 0, meaning: 'n' }, result);
    assert.deepEqual([failed.value, failed.met], [1, false]);
  });

  it('countTargetOf: no value and no verdict for a variant not run, skipped, or without that count', () => {
    const target = { variant: 'redis-module', metric: 'redisCommands' as const, max: 1, meaning: 'c' };
    assert.deepEqual(countTargetOf(target, undefined), target);
    assert.deepEqual(countTargetOf(target, variant('redis-module', [sample(1, 1, 1, 1)])), target);
    const nothing = countTargetOf({ ...target, metric: 'non2xx' }, { ...variant('redis-module', []), non2xx: 0 });
    assert.equal(nothing.met, undefined, 'no samples: not measured');
  });

  it("commandDelta: the commands called between two INFO readings, without the runner's own", () => {
    const before = parseCommandStats(
      '# Commandstats\r\ncmdstat_get:calls=10,usec=5\r\ncmdstat_info:calls=3,usec=1\r\n',
    );
    const after = parseCommandStats(
      [
        '# Commandstats',
        'cmdstat_get:calls=25,usec=9,usec_per_call=0.36',
        'cmdstat_set:calls=4,usec=2',
        'cmdstat_info:calls=5,usec=2',
        'cmdstat_client|setinfo:calls=2,usec=1',
        'cmdstat_ping:calls=1,usec=1',
      ].join('\r\n'),
    );
    assert.deepEqual(
      [...after],
      [
        ['get', 25],
        ['set', 4],
        ['info', 5],
        ['client|setinfo', 2],
        ['ping', 1],
      ],
    );
    assert.deepEqual(commandDelta(before, after), { get: 15, set: 4 });
    assert.deepEqual(commandDelta(after, after), {}, 'nothing called, nothing reported');
  });

  it('asyncPerRequest: per request to two decimals, types under 0.05 per request left out', () => {
    assert.deepEqual(
      asyncPerRequest({ requests: 300, types: { PROMISE: 9001, Timeout: 15, TickObject: 14, FSREQ: 1 } }),
      {
        PROMISE: 30,
        Timeout: 0.05,
      },
    );
  });

  it('toMB: bytes in MB to one decimal', () => {
    assert.equal(toMB(1024 * 1024), 1);
    assert.equal(toMB(1.25 * 1024 * 1024), 1.3);
    assert.equal(toMB(0), 0);
  });

  it('soakGrowth: compares the peaks of the two halves (the sample at 0 s left out), and judges steadiness', () => {
    const at = (t: number, rssMB: number, heapAfterGcMB: number): SoakSample => ({
      t,
      rssMB,
      heapUsedMB: heapAfterGcMB + 5,
      heapAfterGcMB,
    });
    const steady = [at(0, 500, 1), at(5, 100, 20), at(10, 104, 21), at(15, 103, 20.5), at(20, 106, 21)];
    assert.deepEqual(soakGrowth(steady, 20), {
      rssGrowthSecondHalfMB: 6,
      heapGrowthSecondHalfMB: 1,
      steady: true,
    });
    const leaking = [at(0, 90, 10), at(5, 100, 20), at(10, 104, 21), at(15, 120, 24), at(20, 130, 25)];
    assert.deepEqual(soakGrowth(leaking, 20), {
      rssGrowthSecondHalfMB: 30,
      heapGrowthSecondHalfMB: 5,
      steady: false,
    });
    // Past 8 MB, RSS may grow 5 % of the first half's peak: 20 MB on a 400 MB process.
    const big = [at(5, 400, 50), at(10, 420, 51)];
    assert.equal(soakGrowth(big, 20).steady, true);
  });
});
