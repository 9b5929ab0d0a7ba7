/**
 * What the runner computes from the measurements, as pure functions (test/bench/statistics.test.ts):
 * medians over rounds, same-round ratios between variants, store commands per request, async resources
 * per request, and whether the soak's memory stayed steady.
 */
import type { RatioSpec } from './variants.js';

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
  commands?: Record<string, number>;
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
}

/** A ratio between two variants, over the rounds both were measured in. */
export interface RatioResult {
  num: string;
  den: string;
  meaning: string;
  target?: number;
  ratio?: number;
  min?: number;
  max?: number;
  p99Ratio?: number;
  /** Same-round ratio of server CPU per request, den over num (above 1: num is cheaper). */
  cpuRatio?: number;
  met?: boolean;
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

/** The sample of one run: `cpuMicros` of server CPU spent on it, `commands` the Redis commands it sent. */
export function sampleOf(
  round: number,
  result: LoadTotals,
  cpuMicros: number,
  commands?: Record<string, number>,
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
  };
}

type Summary = Pick<VariantResult, 'rps' | 'p99' | 'p50' | 'cpuUs' | 'commandBreakdown' | 'commandsPerRequest'>;

/**
 * Medians of req/s, p99, p50 and CPU per request over the rounds; with Redis command counts, the commands
 * per request sent (in total and by command). Nothing for no samples.
 */
export function summarise(samples: Sample[]): Summary {
  if (samples.length === 0) return {};
  const summary: Summary = {
    rps: median(samples.map((s) => s.rps)),
    p99: median(samples.map((s) => s.p99)),
    p50: median(samples.map((s) => s.p50)),
    cpuUs: median(samples.map((s) => s.cpuUs)),
  };
  const withCommands = samples.filter((s) => s.commands);
  if (withCommands.length) {
    const sent = withCommands.reduce((n, s) => n + s.sent, 0);
    const totals: Record<string, number> = {};
    for (const s of withCommands) for (const [c, n] of Object.entries(s.commands!)) totals[c] = (totals[c] ?? 0) + n;
    summary.commandBreakdown = Object.fromEntries(Object.entries(totals).map(([c, n]) => [c, n / sent]));
    summary.commandsPerRequest = Object.values(totals).reduce((a, b) => a + b, 0) / sent;
  }
  return summary;
}

/**
 * `num` over `den`: the median and range of their same-round req/s ratios, the median same-round CPU ratio
 * (den over num), the ratio of their median p99s, and whether the target is met (a target of 1 means
 * strictly above 1). Just the spec when either has no samples.
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
  if (spec.target !== undefined) entry.met = spec.target === 1 ? entry.ratio > 1 : entry.ratio >= spec.target;
  return entry;
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
