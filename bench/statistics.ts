/**
 * What the runner computes from the measurements, as pure functions (test/bench/statistics.test.ts):
 * medians over rounds, same-round ratios between variants, store round trips and Redis commands per
 * request, count targets, async resources per request, and whether the soak's memory stayed steady.
 */
import type { CountMetric, CountTarget, RatioSpec } from './variants.js';

/** The median; NaN for no values. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** One variant measured in one round. */
export interface Sample {
  round: number;
  rps: number;
  /** Server CPU time (user + system) per completed request, in microseconds. */
  cpuUs: number;
  p99: number;
  p50: number;
  requests: number;
  sent: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Redis commands the run caused, by command (`INFO commandstats`: scripts' own commands included). */
  commands?: Record<string, number>;
  /** Requests the server's handlers served during the run (counted in the server). */
  handled?: number;
  /** Store round trips the server made during the run, by operation (counted in the server). */
  roundTrips?: Record<string, number>;
}

/** What a server counted during one run: requests its handlers served, store round trips by operation. */
export interface Served {
  handled: number;
  roundTrips: Record<string, number>;
}

/** One variant over all rounds. */
export interface VariantResult {
  name: string;
  label: string;
  pending?: string;
  skipped?: string;
  samples: Sample[];
  rps?: number;
  p99?: number;
  p50?: number;
  cpuUs?: number;
  /** Async resources created per request, by type (PROMISE, Timeout, TickObject, ...). */
  asyncPerRequest?: Record<string, number>;
  commandsPerRequest?: number;
  commandBreakdown?: Record<string, number>;
  /** Store round trips per request the handlers served, in total and by operation. */
  roundTripsPerRequest?: number;
  roundTripBreakdown?: Record<string, number>;
  /** Non-2xx responses over all rounds. */
  non2xx?: number;
  /** Connection errors and timeouts over all rounds. */
  errors?: number;
  /** Hot session: increments the handler made, and how many of them the stored session no longer holds. */
  hot?: { handled: number; lost: number };
}

/** A ratio between two variants, over the rounds both were measured in. */
export interface RatioResult extends RatioSpec {
  ratio?: number;
  min?: number;
  max?: number;
  p99Ratio?: number;
  /** Same-round ratio of server CPU per request, den over num (above 1: num is cheaper). */
  cpuRatio?: number;
  /** Whether the req/s ratio meets `target`. */
  met?: boolean;
  /** Whether the CPU/req ratio meets `cpuTarget`. */
  cpuMet?: boolean;
}

/** What one load run gave, as far as the statistics need it (autocannon's result has more). */
export interface LoadTotals {
  duration: number;
  requests: { total: number; sent: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

/**
 * The sample of one run: `cpuMicros` of server CPU spent on it, `commands` the Redis commands it caused,
 * `served` what the server counted during it.
 */
export function sampleOf(
  round: number,
  result: LoadTotals,
  cpuMicros: number,
  commands?: Record<string, number>,
  served?: Served,
): Sample {
  return {
    round,
    rps: result.requests.total / result.duration,
    cpuUs: cpuMicros / Math.max(1, result.requests.total),
    p99: result.latency.p99,
    p50: result.latency.p50,
    requests: result.requests.total,
    sent: result.requests.sent,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    commands,
    ...(served ? { handled: served.handled, roundTrips: served.roundTrips } : {}),
  };
}

/** What a server counted between two readings of its totals. */
export function servedDelta(before: Served, after: Served): Served {
  const roundTrips: Record<string, number> = {};
  for (const [operation, n] of Object.entries(after.roundTrips)) {
    const d = n - (before.roundTrips[operation] ?? 0);
    if (d > 0) roundTrips[operation] = d;
  }
  return { handled: after.handled - before.handled, roundTrips };
}

/**
 * Counts by kind summed over runs and divided by `requests` (the runs' requests summed): the total per
 * request and each kind's share. Undefined for no requests.
 */
export function perRequest(
  counts: Record<string, number>[],
  requests: number,
): { total: number; breakdown: Record<string, number> } | undefined {
  if (!(requests > 0)) return undefined;
  const totals: Record<string, number> = {};
  for (const run of counts) for (const [kind, n] of Object.entries(run)) totals[kind] = (totals[kind] ?? 0) + n;
  return {
    total: Object.values(totals).reduce((a, b) => a + b, 0) / requests,
    breakdown: Object.fromEntries(Object.entries(totals).map(([kind, n]) => [kind, n / requests])),
  };
}

type Summary = Pick<
  VariantResult,
  | 'rps'
  | 'p99'
  | 'p50'
  | 'cpuUs'
  | 'commandBreakdown'
  | 'commandsPerRequest'
  | 'roundTripsPerRequest'
  | 'roundTripBreakdown'
  | 'non2xx'
  | 'errors'
>;

/**
 * Medians of req/s, p99, p50 and CPU per request over the rounds; non-2xx responses and errors (with
 * timeouts) summed; with Redis command counts, the commands per request sent (in total and by command); with
 * the server's counts, its store round trips per request its handlers served. Nothing for no samples.
 */
export function summarise(samples: Sample[]): Summary {
  if (samples.length === 0) return {};
  const summary: Summary = {
    rps: median(samples.map((s) => s.rps)),
    p99: median(samples.map((s) => s.p99)),
    p50: median(samples.map((s) => s.p50)),
    cpuUs: median(samples.map((s) => s.cpuUs)),
    non2xx: samples.reduce((n, s) => n + s.non2xx, 0),
    errors: samples.reduce((n, s) => n + s.errors + s.timeouts, 0),
  };
  const withCommands = samples.filter((s) => s.commands);
  const commands = perRequest(
    withCommands.map((s) => s.commands!),
    withCommands.reduce((n, s) => n + s.sent, 0),
  );
  if (commands) {
    summary.commandBreakdown = commands.breakdown;
    summary.commandsPerRequest = commands.total;
  }
  const served = samples.filter((s) => s.roundTrips && s.handled !== undefined);
  const trips = perRequest(
    served.map((s) => s.roundTrips!),
    served.reduce((n, s) => n + s.handled!, 0),
  );
  if (trips) {
    summary.roundTripBreakdown = trips.breakdown;
    summary.roundTripsPerRequest = trips.total;
  }
  return summary;
}

/** Whether `value` meets a target of at least `target` (strictly above it with `strict`). */
function meets(value: number, target: number, strict: boolean | undefined): boolean {
  return strict ? value > target : value >= target;
}

/**
 * `num` over `den`: the median and range of their same-round req/s ratios, the median same-round CPU ratio
 * (den over num), the ratio of their median p99s, and whether each ratio meets its target (at least the
 * target, or strictly above it with `strict`). Just the spec when either has no samples.
 */
export function ratioOf(spec: RatioSpec, num: VariantResult | undefined, den: VariantResult | undefined): RatioResult {
  const entry: RatioResult = { ...spec };
  if (!num?.samples.length || !den?.samples.length) return entry;
  const sameRound = (value: (n: Sample, d: Sample) => number): number[] =>
    num.samples
      .map((s) => {
        const other = den.samples.find((x) => x.round === s.round);
        return other ? value(s, other) : NaN;
      })
      .filter((x) => !Number.isNaN(x));
  const perRound = sameRound((n, d) => n.rps / d.rps);
  entry.ratio = median(perRound);
  entry.cpuRatio = median(sameRound((n, d) => d.cpuUs / n.cpuUs));
  entry.min = Math.min(...perRound);
  entry.max = Math.max(...perRound);
  entry.p99Ratio = median(num.samples.map((s) => s.p99)) / median(den.samples.map((s) => s.p99));
  if (spec.target !== undefined) entry.met = meets(entry.ratio, spec.target, spec.strict);
  if (spec.cpuTarget !== undefined) entry.cpuMet = meets(entry.cpuRatio, spec.cpuTarget, spec.strict);
  return entry;
}

/** A count target with the variant's value, and whether it is met (undefined: not measured). */
export interface CountResult extends CountTarget {
  value?: number;
  met?: boolean;
}

/** The value a count target reads from a variant's results, if it was measured. */
function countOf(metric: CountMetric, result: VariantResult): number | undefined {
  if (metric === 'roundTrips') return result.roundTripsPerRequest;
  if (metric === 'redisCommands') return result.commandsPerRequest;
  return result.samples.length ? result.non2xx : undefined;
}

/**
 * A count target checked against a variant's results: met when the value is at most `max`, with a margin of
 * 0.005 per request for the few requests a run ends in the middle of (their round trips fall into the next
 * reading).
 */
export function countTargetOf(target: CountTarget, result: VariantResult | undefined): CountResult {
  const value = result ? countOf(target.metric, result) : undefined;
  if (value === undefined) return { ...target };
  const slack = target.metric === 'non2xx' ? 0 : 0.005;
  return { ...target, value, met: value <= target.max + slack };
}

/** Calls per command, from the text of Redis's `INFO commandstats`. */
export function parseCommandStats(text: string): Map<string, number> {
  const stats = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) stats.set(m[1], Number(m[2]));
  }
  return stats;
}

/** Commands the runner itself (or the client's connection set-up) sends: not the variant's. */
const IGNORED_COMMANDS = new Set([
  'info',
  'ping',
  'hello',
  'client|setinfo',
  'client|setname',
  'select',
  'quit',
  'flushall',
]);

/** The commands called between two `parseCommandStats` readings, without the runner's own. */
export function commandDelta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [cmd, calls] of after) {
    if (IGNORED_COMMANDS.has(cmd)) continue;
    const d = calls - (before.get(cmd) ?? 0);
    if (d > 0) delta[cmd] = d;
  }
  return delta;
}

/** Async resources per request by type, to two decimals; types under 0.05 per request left out. */
export function asyncPerRequest(counts: { requests: number; types: Record<string, number> }): Record<string, number> {
  const perRequest: Record<string, number> = {};
  for (const [type, n] of Object.entries(counts.types)) {
    if (n / counts.requests >= 0.05) perRequest[type] = Math.round((n / counts.requests) * 100) / 100;
  }
  return perRequest;
}

/** Bytes in MB, to one decimal. */
export const toMB = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** Memory of the soak's server `t` seconds into the load. */
export interface SoakSample {
  t: number;
  rssMB: number;
  heapUsedMB: number;
  heapAfterGcMB: number;
}

/**
 * Growth between the halves of a soak of `seconds`: RSS swings with the young generation between samples,
 * so the peaks of the two halves are compared (the first sample, before the load, left out), and so is the
 * heap that survives a full GC. Steady when RSS grew at most 8 MB or 5 % of the first half's peak, and the
 * heap at most 2 MB.
 */
export function soakGrowth(
  samples: SoakSample[],
  seconds: number,
): { rssGrowthSecondHalfMB: number; heapGrowthSecondHalfMB: number; steady: boolean } {
  const first = samples.filter((s) => s.t > 0 && s.t < seconds / 2);
  const second = samples.filter((s) => s.t >= seconds / 2);
  const growth = (key: 'rssMB' | 'heapAfterGcMB'): number =>
    Math.round((Math.max(...second.map((s) => s[key])) - Math.max(...first.map((s) => s[key]))) * 10) / 10;
  const rssGrowth = growth('rssMB');
  const heapGrowth = growth('heapAfterGcMB');
  return {
    rssGrowthSecondHalfMB: rssGrowth,
    heapGrowthSecondHalfMB: heapGrowth,
    steady: rssGrowth <= Math.max(8, Math.max(...first.map((x) => x.rssMB)) * 0.05) && heapGrowth <= 2,
  };
}
