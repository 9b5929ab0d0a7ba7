/** The report: a Markdown summary on stdout, and JSON and Markdown files in bench/results/ (gitignored). */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Profile } from './profiles.js';
import type { SoakResult } from './soak.js';
import type { CountResult, RatioResult, VariantResult } from './statistics.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Where results go. */
export const RESULTS = `${ROOT}bench/results/`;

export function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || Number.isNaN(n)) return '-';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(head: string[], rows: string[][]): string {
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

/** Promises per request, then the other async resources a request makes (timers, AsyncResources, ...). */
function asyncCell(counts: Record<string, number>): string {
  const others = Object.entries(counts)
    .filter(([type]) => type !== 'PROMISE' && type !== 'TickObject')
    .map(([type, n]) => `${type} ${fmt(n, n % 1 ? 1 : 0)}`);
  return `${fmt(counts.PROMISE ?? 0)}${others.length ? ` (${others.join(', ')})` : ''}`;
}

/** A count per request, then its parts over 0.005 per request. */
function perRequestCell(total: number | undefined, breakdown: Record<string, number> | undefined): string {
  if (total === undefined) return '';
  const parts = Object.entries(breakdown ?? {})
    .filter(([, n]) => n >= 0.005)
    .map(([kind, n]) => `${kind} ${fmt(n, 2)}`);
  return `${fmt(total, 2)}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

/** "yes", "no", or nothing when there is no verdict. */
const verdict = (met: boolean | undefined): string => (met === undefined ? '' : met ? 'yes' : 'no');

/** A target as the tables state it. */
const targetText = (target: number | undefined, strict: boolean | undefined): string =>
  target === undefined ? '' : `${strict ? '>' : '≥'} ${target}`;

export function machineLine(): string {
  const cpus = os.cpus();
  return `Node ${process.version}, ${cpus[0]?.model.trim() ?? 'unknown CPU'} × ${cpus.length}, ${os.platform()} ${os.release()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
}

export interface Report {
  date: string;
  command: string;
  machine: string;
  pinned: boolean;
  profile: Profile;
  variants: VariantResult[];
  ratios: RatioResult[];
  /** Count targets (round trips, Redis commands, failed requests), checked against the variants. */
  counts?: CountResult[];
  memory: unknown[];
  soak?: SoakResult;
  elapsedSeconds: number;
}

export function markdown(r: Report): string {
  const out: string[] = [];
  out.push(
    `Command: \`${r.command}\` (profile ${r.profile.name}: ${r.profile.rounds} rounds × ${r.profile.duration} s per variant, ` +
      `${r.profile.warmup} s warm-up, ${r.profile.connections} connections)  `,
  );
  out.push(
    `Machine: ${r.machine}${r.pinned ? '; server pinned to CPU 1, autocannon and Redis to CPU 0 (taskset)' : ''}  `,
  );
  out.push(`Date: ${r.date}, took ${Math.round(r.elapsedSeconds)} s`, '');
  out.push('### Variants (medians over rounds)', '');
  out.push(
    'Round trips: store calls (in-memory stores), commands sent (Redis) or queries (PostgreSQL), counted in the ' +
      'server, per request its handlers served. Redis cmds: `INFO commandstats`, the commands scripts run included.',
    '',
  );
  out.push(
    table(
      [
        'variant',
        'req/s',
        'min–max',
        'p50 ms',
        'p99 ms',
        'CPU µs/req',
        'non-2xx',
        'round trips/req',
        'promises/req',
        'Redis cmds/req',
      ],
      r.variants.map((v) => [
        `${v.name}: ${v.label}`,
        v.skipped ? `skipped (${v.skipped})` : v.pending ? `pending (${v.pending})` : fmt(v.rps),
        v.samples.length
          ? `${fmt(Math.min(...v.samples.map((x) => x.rps)))}–${fmt(Math.max(...v.samples.map((x) => x.rps)))}`
          : '',
        fmt(v.p50, 1),
        fmt(v.p99, 1),
        fmt(v.cpuUs),
        v.samples.length ? `${fmt(v.non2xx)}${v.errors ? ` (+${fmt(v.errors)} errors)` : ''}` : '',
        perRequestCell(v.roundTripsPerRequest, v.roundTripBreakdown),
        v.asyncPerRequest ? asyncCell(v.asyncPerRequest) : '',
        perRequestCell(v.commandsPerRequest, v.commandBreakdown),
      ]),
    ),
    '',
  );
  const hot = r.variants.filter((v) => v.hot);
  if (hot.length) {
    out.push('### Hot session: one cookie for every connection, each connection writing its own key', '');
    out.push(
      table(
        ['variant', 'increments', 'lost (not in the stored session)', 'non-2xx', 'round trips/req'],
        hot.map((v) => [
          v.name,
          fmt(v.hot!.handled),
          fmt(v.hot!.lost),
          fmt(v.non2xx),
          perRequestCell(v.roundTripsPerRequest, v.roundTripBreakdown),
        ]),
      ),
      '',
    );
  }
  out.push('### Ratios (median of same-round ratios; min–max of the req/s ratio over rounds)', '');
  out.push(
    "CPU/req ratio: the denominator's CPU per request over the numerator's, so above 1 means the numerator is cheaper.",
    '',
  );
  out.push(
    table(
      ['ratio', 'req/s ratio', 'min–max', 'CPU/req ratio', 'p99 ratio', 'target (req/s, CPU)', 'met (req/s, CPU)'],
      r.ratios.map((x) => [
        `${x.meaning} (\`${x.num}\` / \`${x.den}\`)`,
        fmt(x.ratio, 3),
        x.min === undefined ? '-' : `${fmt(x.min, 3)}–${fmt(x.max, 3)}`,
        fmt(x.cpuRatio, 3),
        fmt(x.p99Ratio, 3),
        [targetText(x.target, x.strict), targetText(x.cpuTarget, x.strict)].filter(Boolean).join(', '),
        [verdict(x.met), verdict(x.cpuMet)].filter(Boolean).join(', '),
      ]),
    ),
    '',
  );
  if (r.counts?.length) {
    out.push('### Count targets', '');
    out.push(
      table(
        ['variant', 'count', 'value', 'target', 'met'],
        r.counts.map((c) => [
          c.variant,
          c.meaning,
          c.value === undefined ? '-' : fmt(c.value, c.metric === 'non2xx' ? 0 : 2),
          `≤ ${c.max}`,
          verdict(c.met),
        ]),
      ),
      '',
    );
  }
  if (r.memory.length) {
    out.push('### Embedded store memory (after full GC, in a child process)', '');
    out.push(
      table(
        ['sessions', 'heap used', 'RSS', 'bytes/session (heap)', 'fill time'],
        (
          r.memory as { sessions: number; heapUsedMB: number; rssMB: number; bytesPerSession: number; fillMs: number }[]
        ).map((m) => [
          fmt(m.sessions),
          `+${fmt(m.heapUsedMB, 1)} MB`,
          `+${fmt(m.rssMB, 1)} MB`,
          fmt(m.bytesPerSession),
          `${fmt(m.fillMs)} ms`,
        ]),
      ),
      '',
    );
  }
  if (r.soak) {
    const s = r.soak;
    out.push(`### Soak: ${s.seconds} s at full load, ${s.variant}`, '');
    out.push(
      `Embedded store capped at ${fmt(s.maxSessions)} sessions; ${fmt(s.requests)} requests (${fmt(s.rps)} req/s), ` +
        `${s.non2xx} non-2xx. ${s.steady ? 'Steady' : 'GROWING'}: peak RSS of the second half minus that of ` +
        `the first: ${fmt(s.rssGrowthSecondHalfMB, 1)} MB; same for the heap after a full GC: ` +
        `${fmt(s.heapGrowthSecondHalfMB, 1)} MB.`,
      '',
    );
    out.push(
      table(
        ['t (s)', 'RSS MB', 'heap used MB', 'heap after GC MB'],
        s.samples.map((x) => [String(x.t), fmt(x.rssMB, 1), fmt(x.heapUsedMB, 1), fmt(x.heapAfterGcMB, 1)]),
      ),
      '',
    );
  }
  return out.join('\n');
}

/**
 * Writes the report as `<date>-<label>.json` and `.md`, and as `latest-<label>.md`; returns the path of the
 * first two, relative to the repository, with `{json,md}` for their extension.
 */
export function writeReport(report: Report, md: string, label: string): string {
  mkdirSync(RESULTS, { recursive: true });
  const stamp = report.date.replace(/[:.]/g, '-');
  writeFileSync(`${RESULTS}${stamp}-${label}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${RESULTS}${stamp}-${label}.md`, `${md}\n`);
  writeFileSync(`${RESULTS}latest-${label}.md`, `${md}\n`);
  return `bench/results/${stamp}-${label}.{json,md}`;
}
