/** The report: a Markdown summary on stdout, and JSON and Markdown files in bench/results/ (gitignored). */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Profile } from './profiles.js';
import type { SoakResult } from './soak.js';
import type { RatioResult, VariantResult } from './statistics.js';

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
    table(
      ['variant', 'req/s', 'min–max', 'p50 ms', 'p99 ms', 'CPU µs/req', 'promises/req', 'Redis cmds/req'],
      r.variants.map((v) => [
        `${v.name}: ${v.label}`,
        v.skipped ? `skipped (${v.skipped})` : v.pending ? `pending (${v.pending})` : fmt(v.rps),
        v.samples.length
          ? `${fmt(Math.min(...v.samples.map((x) => x.rps)))}–${fmt(Math.max(...v.samples.map((x) => x.rps)))}`
          : '',
        fmt(v.p50, 1),
        fmt(v.p99, 1),
        fmt(v.cpuUs),
        v.asyncPerRequest ? asyncCell(v.asyncPerRequest) : '',
        v.commandsPerRequest === undefined
          ? ''
          : `${fmt(v.commandsPerRequest, 2)} (${Object.entries(v.commandBreakdown ?? {})
              .filter(([, n]) => n >= 0.005)
              .map(([c, n]) => `${c} ${fmt(n, 2)}`)
              .join(', ')})`,
      ]),
    ),
    '',
  );
  out.push('### Ratios (median of same-round req/s ratios; min–max over rounds)', '');
  out.push(
    table(
      ['ratio', 'req/s ratio', 'min–max', 'CPU/req ratio', 'p99 ratio', 'target', 'met'],
      r.ratios.map((x) => [
        `${x.meaning} (\`${x.num}\` / \`${x.den}\`)`,
        fmt(x.ratio, 3),
        x.min === undefined ? '-' : `${fmt(x.min, 3)}–${fmt(x.max, 3)}`,
        fmt(x.cpuRatio, 3),
        fmt(x.p99Ratio, 3),
        x.target === undefined ? '' : x.target === 1 ? '> 1' : `≥ ${x.target}`,
        x.met === undefined ? '' : x.met ? 'yes' : 'no',
      ]),
    ),
    '',
  );
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
