/**
 * `npm run bench [-- --quick | --smoke] [--only=a,b] [--rounds=N] [--duration=S] [--connections=N]
 * [--no-redis] [--no-memory] [--no-soak] [--memory=N,M] [--soak=S] [--counts] [--profile] [--no-pin]`.
 * With --only, the memory and soak parts run only when --memory=... or --soak=... asks for them.
 *
 * Every variant runs in its own server process (out/bench/server.js); each gets a warm-up, then the
 * variants are measured in turn, round after round (A B C A B C ...), so that drift of a shared machine
 * hits them alike. Reported: medians of req/s and p99 latency, and for each pair of interest the median of
 * its same-round req/s ratios. Redis variants run against a throwaway redis-server started here, and
 * `INFO commandstats` deltas give the store commands per request.
 * Results go to bench/results/ (JSON and Markdown, gitignored).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import type { Result } from 'autocannon';
import { createClient } from 'redis';
import { RATIOS, VARIANTS } from './variants.js';
import type { VariantInfo } from './variants.js';

/** Durations are whole seconds: autocannon ends a run on its one-second tick. */
interface Profile {
  name: string;
  rounds: number;
  duration: number;
  warmup: number;
  connections: number;
  memory: number[];
  soak: number;
  /** Whether to count async resources per request (a short extra pass per variant). */
  counts: boolean;
}

const PROFILES: Record<string, Profile> = {
  full: {
    name: 'full',
    rounds: 10,
    duration: 2,
    warmup: 3,
    connections: 10,
    memory: [100_000, 1_000_000],
    soak: 60,
    counts: true,
  },
  quick: {
    name: 'quick',
    rounds: 3,
    duration: 1,
    warmup: 1,
    connections: 10,
    memory: [100_000],
    soak: 0,
    counts: false,
  },
  smoke: { name: 'smoke', rounds: 1, duration: 1, warmup: 1, connections: 4, memory: [10_000], soak: 0, counts: false },
};

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS = `${ROOT}bench/results/`;
const SERVER = `${HERE}server.js`;
const MEMORY = `${HERE}memory.js`;
const SOAK_SAMPLE_EVERY = 5;

const children = new Set<ChildProcess>();
/** With --profile, the servers write CPU profiles of the measured rounds here (see bench/profile-summary.ts). */
let profileDir: string | undefined;

function arg(name: string): string | undefined {
  const hit = process.argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (!hit) return undefined;
  return hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : '';
}

function profileFromArgs(): Profile {
  const base =
    arg('smoke') !== undefined ? PROFILES.smoke : arg('quick') !== undefined ? PROFILES.quick : PROFILES.full;
  const p = { ...base };
  if (arg('rounds')) p.rounds = Number(arg('rounds'));
  if (arg('duration')) p.duration = Number(arg('duration'));
  if (arg('warmup')) p.warmup = Number(arg('warmup'));
  if (arg('connections')) p.connections = Number(arg('connections'));
  if (arg('soak')) p.soak = Number(arg('soak'));
  if (arg('memory')) p.memory = arg('memory')!.split(',').map(Number);
  if (arg('no-memory') !== undefined) p.memory = [];
  if (arg('no-soak') !== undefined) p.soak = 0;
  if (arg('counts') !== undefined) p.counts = true;
  return p;
}

const t0 = Date.now();
const log = (line: string): void =>
  void process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// The server under test gets a core of its own, autocannon and Redis share the other (Linux, taskset),
// so that the two sides of a run do not trade places on one core. --no-pin turns it off.
const SERVER_CPU = 1;
const CLIENT_CPU = 0;
let pinning = false;

function pinned(cpu: number, command: string, args: string[]): [string, string[]] {
  return pinning ? ['taskset', ['-c', String(cpu), command, ...args]] : [command, args];
}

function setUpPinning(): void {
  if (arg('no-pin') !== undefined || os.platform() !== 'linux' || os.cpus().length < 2) return;
  const probe = spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
  pinning = probe.status === 0;
}

/** Pins this process (autocannon) once the servers are up: children inherit it, and boots run on both cores. */
function pinSelf(): void {
  if (pinning) spawnSync('taskset', ['-cp', String(CLIENT_CPU), String(process.pid)], { stdio: 'ignore' });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function stopAllNow(): void {
  for (const child of children) child.kill('SIGKILL');
}
process.on('exit', stopAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopAllNow();
    process.exit(130);
  });
}

// ---------------------------------------------------------------- Redis

interface RedisServer {
  url: string;
  child: ChildProcess;
  client: ReturnType<typeof createClient>;
}

async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const child = track(
    spawn(
      ...pinned(CLIENT_CPU, 'redis-server', [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
      ]),
      { stdio: 'ignore' },
    ),
  );
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => resolve());
  });
  await spawned;
  const url = `redis://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 100; attempt++) {
    const client = createClient({ url, socket: { reconnectStrategy: false } });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      return { url, child, client };
    } catch {
      await client.destroy?.();
      await sleep(50);
    }
  }
  await stopChild(child);
  throw new Error(`redis-server did not answer on port ${port}`);
}

/** Calls per command since Redis started, from `INFO commandstats`. */
async function commandStats(redis: RedisServer): Promise<Map<string, number>> {
  const text = await redis.client.info('commandstats');
  const stats = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) stats.set(m[1], Number(m[2]));
  }
  return stats;
}

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

function commandDelta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [cmd, calls] of after) {
    if (IGNORED_COMMANDS.has(cmd)) continue;
    const d = calls - (before.get(cmd) ?? 0);
    if (d > 0) delta[cmd] = d;
  }
  return delta;
}

// ---------------------------------------------------------------- servers

interface RunningServer {
  info: VariantInfo;
  child: ChildProcess;
  url: string;
  cookies: string[];
}

async function startServer(
  name: string,
  redisUrl?: string,
  env: Record<string, string> = {},
  extraNodeArgs: string[] = [],
): Promise<{ child: ChildProcess; url: string }> {
  const args = [SERVER, name, ...(redisUrl ? [redisUrl] : [])];
  const nodeArgs = [...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...extraNodeArgs];
  const child = track(
    spawn(process.execPath, [...nodeArgs, ...args], {
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      env: { ...process.env, ...env },
    }),
  );
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server ${name} did not start within 30 s`)), 30_000);
    child.once('exit', (code) => reject(new Error(`server ${name} exited with ${String(code)} before listening`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch {
        reject(new Error(`server ${name} printed '${line}' instead of its port`));
      }
    });
  });
  // Pinned once it listens, so that servers still boot in parallel on both cores.
  if (pinning && child.pid) spawnSync('taskset', ['-cp', String(SERVER_CPU), String(child.pid)], { stdio: 'ignore' });
  return { child, url: `http://127.0.0.1:${port}` };
}

async function get(url: string, cookie?: string): Promise<{ status: number; body: unknown; cookie?: string }> {
  const res = await fetch(url, { headers: cookie ? { cookie } : {} });
  const text = await res.text();
  const line = res.headers.getSetCookie().find((c) => c.startsWith('connect.sid='));
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined, cookie: line?.split(';')[0] };
}

/** One session per connection, made (and its counter stored) before measuring; checks the variant counts. */
async function makeCookies(server: { url: string }, info: VariantInfo, connections: number): Promise<string[]> {
  const first = await get(`${server.url}/`);
  if (first.status !== 200) throw new Error(`${info.name}: GET / answered ${first.status}`);
  if (!info.cookie) return [];
  const cookies: string[] = [];
  for (let i = 0; i < connections; i++) {
    const res = await get(`${server.url}/`);
    if (!res.cookie) throw new Error(`${info.name}: no session cookie set`);
    cookies.push(res.cookie);
  }
  const again = await get(`${server.url}/`, cookies[0]);
  if ((again.body as { views?: number })?.views !== 2) {
    throw new Error(`${info.name}: the session did not count (${JSON.stringify(again.body)})`);
  }
  if (info.path !== '/') {
    const read = await get(`${server.url}${info.path}`, cookies[0]);
    if ((read.body as { views?: number })?.views !== 2)
      throw new Error(`${info.name}: ${info.path} did not read the session`);
  }
  return cookies;
}

function cannon(server: RunningServer, seconds: number, connections: number): Promise<Result> {
  let next = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: server.url + server.info.path,
        connections,
        duration: seconds,
        pipelining: 1,
        setupClient: (client) => {
          if (server.cookies.length > 0) client.setHeaders({ cookie: server.cookies[next++ % server.cookies.length] });
        },
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

// ---------------------------------------------------------------- statistics

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

interface Sample {
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

interface VariantResult {
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

interface RatioResult {
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

// ---------------------------------------------------------------- memory and soak

async function runNode(args: string[]): Promise<string> {
  const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] }));
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited with ${String(code)}`);
  return out.trim();
}

function ask<T>(
  child: ChildProcess,
  type: 'memory' | 'cpu' | 'profile-start' | 'profile-stop' | 'count-start' | 'count-stop',
  extra: object = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} answer`)), 30_000);
    const onMessage = (message: { type?: string; usage?: T }) => {
      if (message?.type !== type || !message.usage) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message.usage);
    };
    child.on('message', onMessage);
    child.send({ type, ...extra });
  });
}

const memoryOf = (child: ChildProcess): Promise<NodeJS.MemoryUsage> => ask(child, 'memory');
const cpuOf = (child: ChildProcess): Promise<NodeJS.CpuUsage> => ask(child, 'cpu');

interface SoakSample {
  t: number;
  rssMB: number;
  heapUsedMB: number;
  heapAfterGcMB: number;
}

interface SoakResult {
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
async function soak(seconds: number, connections: number): Promise<SoakResult> {
  const maxSessions = 10_000;
  const info: VariantInfo = { name: 'soak', label: 'soak', path: '/', cookie: false, redis: false };
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
    // RSS swings with the young generation between samples: compare peaks of the two halves (the
    // first sample, before the load, left out), and the heap that survives a full GC.
    const first = samples.filter((s) => s.t > 0 && s.t < seconds / 2);
    const second = samples.filter((s) => s.t >= seconds / 2);
    const growth = (key: 'rssMB' | 'heapAfterGcMB'): number =>
      Math.round((Math.max(...second.map((s) => s[key])) - Math.max(...first.map((s) => s[key]))) * 10) / 10;
    const rssGrowth = growth('rssMB');
    const heapGrowth = growth('heapAfterGcMB');
    return {
      variant: 'soak: new session per request through SessionService',
      seconds,
      maxSessions,
      rps: Math.round(result.requests.total / result.duration),
      requests: result.requests.total,
      non2xx: result.non2xx,
      samples,
      rssGrowthSecondHalfMB: rssGrowth,
      heapGrowthSecondHalfMB: heapGrowth,
      steady: rssGrowth <= Math.max(8, Math.max(...first.map((x) => x.rssMB)) * 0.05) && heapGrowth <= 2,
    };
  } finally {
    await stopChild(child);
  }
}

const toMB = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;

// ---------------------------------------------------------------- output

function fmt(n: number | undefined, digits = 0): string {
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

function machineLine(): string {
  const cpus = os.cpus();
  return `Node ${process.version}, ${cpus[0]?.model.trim() ?? 'unknown CPU'} × ${cpus.length}, ${os.platform()} ${os.release()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
}

interface Report {
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

function markdown(r: Report): string {
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
      ['variant', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'promises/req', 'req/s per round', 'Redis cmds/req'],
      r.variants.map((v) => [
        `${v.name}: ${v.label}`,
        v.skipped ? `skipped (${v.skipped})` : v.pending ? `pending (${v.pending})` : fmt(v.rps),
        fmt(v.p50, 1),
        fmt(v.p99, 1),
        fmt(v.cpuUs),
        v.asyncPerRequest ? asyncCell(v.asyncPerRequest) : '',
        v.samples.map((s) => fmt(s.rps)).join(' '),
        v.commandsPerRequest === undefined
          ? ''
          : `${fmt(v.commandsPerRequest, 2)} (${Object.entries(v.commandBreakdown ?? {})
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

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = Date.now();
  const profile = profileFromArgs();
  setUpPinning();
  const only = arg('only')?.split(',').filter(Boolean);
  if (arg('profile') !== undefined) {
    profileDir = `${RESULTS}profiles/${new Date().toISOString().replace(/[:.]/g, '-')}`;
    log(`CPU profiles: ${profileDir}`);
  }
  let selected = VARIANTS.filter((v) => !only || only.includes(v.name));
  if (arg('no-redis') !== undefined) selected = selected.filter((v) => !v.redis);
  const results = new Map<string, VariantResult>(
    selected.map((v) => [v.name, { name: v.name, label: v.label, pending: v.pending, samples: [] }]),
  );
  log(
    `${machineLine()}${pinning ? ' (server pinned to CPU 1, client and Redis to CPU 0)' : ''}\nprofile ${profile.name}: ${profile.rounds} rounds × ${profile.duration} s, warm-up ${profile.warmup} s, ${profile.connections} connections`,
  );

  let redis: RedisServer | undefined;
  if (selected.some((v) => v.redis && !v.pending)) {
    try {
      redis = await startRedis();
      log(`redis-server on ${redis.url}`);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      log(`Redis variants skipped: ${why}`);
      for (const v of selected) if (v.redis) results.get(v.name)!.skipped = 'no redis-server';
    }
  }
  const runnable = selected.filter((v) => !v.pending && !results.get(v.name)!.skipped);

  const servers: RunningServer[] = [];
  try {
    // Started two at a time: the machine has few cores and each boot is CPU-bound.
    for (let i = 0; i < runnable.length; i += 2) {
      const batch = runnable.slice(i, i + 2);
      const started = await Promise.all(
        batch.map((info) => startServer(info.name, info.redis ? redis?.url : undefined)),
      );
      batch.forEach((info, k) => servers.push({ info, ...started[k], cookies: [] }));
    }
    pinSelf();
    for (const server of servers) server.cookies = await makeCookies(server, server.info, profile.connections);
    log(`${servers.length} servers up; warming up`);
    for (const server of servers) await cannon(server, profile.warmup, profile.connections);

    if (profileDir) {
      mkdirSync(profileDir, { recursive: true });
      for (const server of servers) await ask(server.child, 'profile-start');
    }
    for (let round = 1; round <= profile.rounds; round++) {
      for (const server of servers) {
        const before = server.info.redis && redis ? await commandStats(redis) : undefined;
        const cpuBefore = await cpuOf(server.child);
        const result = await cannon(server, profile.duration, profile.connections);
        const cpuAfter = await cpuOf(server.child);
        const cpu = cpuAfter.user - cpuBefore.user + cpuAfter.system - cpuBefore.system;
        let commands: Record<string, number> | undefined;
        if (before && redis) {
          await sleep(50);
          commands = commandDelta(before, await commandStats(redis));
        }
        const sample: Sample = {
          round,
          rps: result.requests.total / result.duration,
          cpuUs: cpu / Math.max(1, result.requests.total),
          p99: result.latency.p99,
          p50: result.latency.p50,
          requests: result.requests.total,
          sent: result.requests.sent,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          commands,
        };
        results.get(server.info.name)!.samples.push(sample);
        log(
          `round ${round}/${profile.rounds} ${server.info.name.padEnd(22)} ${fmt(sample.rps).padStart(7)} req/s  p99 ${fmt(sample.p99, 1)} ms` +
            `  cpu ${fmt(sample.cpuUs)} µs/req` +
            (sample.non2xx || sample.errors ? `  non2xx ${sample.non2xx} errors ${sample.errors}` : ''),
        );
      }
    }
    // Async resources per request: not timed, a short pass with a counting hook in each server.
    for (const server of profile.counts ? servers : []) {
      await ask(server.child, 'count-start');
      await cannon(server, 1, profile.connections);
      const counts = await ask<{ requests: number; types: Record<string, number> }>(server.child, 'count-stop');
      const perRequest: Record<string, number> = {};
      for (const [type, n] of Object.entries(counts.types)) {
        if (n / counts.requests >= 0.05) perRequest[type] = Math.round((n / counts.requests) * 100) / 100;
      }
      results.get(server.info.name)!.asyncPerRequest = perRequest;
    }
    if (profileDir) {
      for (const server of servers) {
        await ask(server.child, 'profile-stop', { file: `${profileDir}/${server.info.name}.cpuprofile` });
      }
    }
  } finally {
    await Promise.all(servers.map((s) => stopChild(s.child)));
  }

  for (const r of results.values()) {
    if (r.samples.length === 0) continue;
    r.rps = median(r.samples.map((s) => s.rps));
    r.p99 = median(r.samples.map((s) => s.p99));
    r.p50 = median(r.samples.map((s) => s.p50));
    r.cpuUs = median(r.samples.map((s) => s.cpuUs));
    const withCommands = r.samples.filter((s) => s.commands);
    if (withCommands.length) {
      const sent = withCommands.reduce((n, s) => n + s.sent, 0);
      const totals: Record<string, number> = {};
      for (const s of withCommands) for (const [c, n] of Object.entries(s.commands!)) totals[c] = (totals[c] ?? 0) + n;
      r.commandBreakdown = Object.fromEntries(Object.entries(totals).map(([c, n]) => [c, n / sent]));
      r.commandsPerRequest = Object.values(totals).reduce((a, b) => a + b, 0) / sent;
    }
  }

  const ratios: RatioResult[] = [];
  for (const spec of RATIOS) {
    const a = results.get(spec.num);
    const b = results.get(spec.den);
    const entry: RatioResult = { ...spec };
    if (a?.samples.length && b?.samples.length) {
      const perRound = a.samples
        .map((s) => {
          const other = b.samples.find((x) => x.round === s.round);
          return other ? s.rps / other.rps : NaN;
        })
        .filter((x) => !Number.isNaN(x));
      entry.ratio = median(perRound);
      entry.cpuRatio = median(
        a.samples
          .map((s) => {
            const other = b.samples.find((x) => x.round === s.round);
            return other ? other.cpuUs / s.cpuUs : NaN;
          })
          .filter((x) => !Number.isNaN(x)),
      );
      entry.min = Math.min(...perRound);
      entry.max = Math.max(...perRound);
      entry.p99Ratio = a.p99! / b.p99!;
      if (spec.target !== undefined) entry.met = spec.target === 1 ? entry.ratio > 1 : entry.ratio >= spec.target;
    }
    ratios.push(entry);
  }

  const memory: unknown[] = [];
  if (arg('only') === undefined || arg('memory') !== undefined) {
    for (const count of profile.memory) {
      log(`embedded store: ${fmt(count)} sessions`);
      memory.push(JSON.parse(await runNode(['--expose-gc', MEMORY, String(count)])));
    }
  }
  let soakResult: SoakResult | undefined;
  if (profile.soak > 0 && (arg('only') === undefined || arg('soak') !== undefined)) {
    log(`soak: ${profile.soak} s at full load`);
    soakResult = await soak(profile.soak, profile.connections);
  }

  if (redis) {
    await redis.client.quit().catch(() => undefined);
    await stopChild(redis.child);
  }

  const report: Report = {
    date: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: machineLine(),
    pinned: pinning,
    profile,
    variants: [...results.values()],
    ratios,
    memory,
    soak: soakResult,
    elapsedSeconds: (Date.now() - started) / 1000,
  };
  const md = markdown(report);
  process.stdout.write(`\n${md}\n`);
  mkdirSync(RESULTS, { recursive: true });
  const stamp = report.date.replace(/[:.]/g, '-');
  // A run with a profile's settings changed is not that profile's run: it is filed as "custom".
  const tuned = ['only', 'rounds', 'duration', 'warmup', 'connections', 'no-redis'].some((k) => arg(k) !== undefined);
  const label = tuned ? 'custom' : profile.name;
  writeFileSync(`${RESULTS}${stamp}-${label}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${RESULTS}${stamp}-${label}.md`, `${md}\n`);
  writeFileSync(`${RESULTS}latest-${label}.md`, `${md}\n`);
  log(`results: bench/results/${stamp}-${label}.{json,md} (${Math.round(report.elapsedSeconds)} s)`);

  const bad = report.variants.filter((v) => v.samples.some((s) => s.non2xx > 0 || s.errors > 0));
  if (bad.length) {
    log(`requests failed in: ${bad.map((v) => v.name).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  stopAllNow();
  process.exit(1);
});
