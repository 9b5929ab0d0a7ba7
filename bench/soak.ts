/** The soak: full load for a while on one server, its memory sampled as it runs. */
import { sleep } from '../test/support/net.js';
import { cannon } from './load.js';
import type { RunningServer } from './load.js';
import { memoryOf, startServer, stopChild } from './processes.js';
import { soakGrowth, toMB } from './statistics.js';
import type { SoakSample } from './statistics.js';
import type { VariantInfo } from './variants.js';

const SOAK_SAMPLE_EVERY = 5;

export interface SoakResult {
  variant: string;
  seconds: number;
  maxSessions: number;
  rps: number;
  requests: number;
  non2xx: number;
  samples: SoakSample[];
  rssGrowthSecondHalfMB: number;
  heapGrowthSecondHalfMB: number;
  steady: boolean;
}

/**
 * Full load for `seconds` on a server that makes a new session per request through SessionService
 * (request context on, embedded store at its default cap, so it evicts): RSS and the heap that survives
 * a full GC, sampled every few seconds. Steady when neither grows in the second half.
 */
export async function soak(seconds: number, connections: number): Promise<SoakResult> {
  const maxSessions = 10_000;
  const info: VariantInfo = { name: 'soak', label: 'soak', path: '/', cookie: false };
  const { child, url } = await startServer('soak', undefined, { BENCH_MAX_SESSIONS: String(maxSessions) }, [
    '--expose-gc',
  ]);
  try {
    const server: RunningServer = { info, child, url, cookies: [] };
    await cannon(server, 3, connections);
    const samples: SoakSample[] = [];
    const sample = async (t: number) => {
      const m = (await memoryOf(child)) as NodeJS.MemoryUsage & { heapAfterGc?: number };
      samples.push({ t, rssMB: toMB(m.rss), heapUsedMB: toMB(m.heapUsed), heapAfterGcMB: toMB(m.heapAfterGc ?? NaN) });
    };
    await sample(0);
    const started = Date.now();
    const load = cannon(server, seconds, connections);
    for (let t = SOAK_SAMPLE_EVERY; t <= seconds; t += SOAK_SAMPLE_EVERY) {
      await sleep(Math.max(0, started + t * 1000 - Date.now() - 100));
      await sample(t);
    }
    const result = await load;
    return {
      variant: 'soak: new session per request through SessionService',
      seconds,
      maxSessions,
      rps: Math.round(result.requests.total / result.duration),
      requests: result.requests.total,
      non2xx: result.non2xx,
      samples,
      ...soakGrowth(samples, seconds),
    };
  } finally {
    await stopChild(child);
  }
}
