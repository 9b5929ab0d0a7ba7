/**
 * The processes the benchmark starts: one server per variant (out/bench/server.js), the memory child
 * (out/bench/memory.js), a throwaway redis-server and a throwaway PostgreSQL. Each is stopped when the run
 * ends, however it ends. The server gets a core of its own, autocannon, Redis and PostgreSQL share the other
 * (Linux, taskset), so that the two sides of a run do not trade places on one core; --no-pin turns it off.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { findPostgresBin, RedisServer, startPostgres } from '../test/support/launchers.js';
import type { PostgresServer } from '../test/support/launchers.js';
import { arg } from './profiles.js';
import { parseCommandStats } from './statistics.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const SERVER = `${HERE}server.js`;
/** The memory benchmark's child: `node --expose-gc out/bench/memory.js <sessions>`. */
export const MEMORY = `${HERE}memory.js`;

// ---------------------------------------------------------------- children

const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Stops a child (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Kills every child still running, at once. */
export function stopAllNow(): void {
  for (const child of children) child.kill('SIGKILL');
}
process.on('exit', stopAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopAllNow();
    process.exit(130);
  });
}

// ---------------------------------------------------------------- CPU pinning

const SERVER_CPU = 1;
const CLIENT_CPU = 0;
let pinning = false;

/** Whether servers and this process are pinned to their CPUs (decided by `setUpPinning`). */
export function isPinning(): boolean {
  return pinning;
}

/** Pins from now on if --no-pin is absent, this is Linux with two cores or more, and taskset works. */
export function setUpPinning(): void {
  if (arg('no-pin') !== undefined || os.platform() !== 'linux' || os.cpus().length < 2) return;
  const probe = spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
  pinning = probe.status === 0;
}

function pinned(cpu: number, command: string, args: string[]): [string, string[]] {
  return pinning ? ['taskset', ['-c', String(cpu), command, ...args]] : [command, args];
}

/** Pins this process (autocannon) once the servers are up: children inherit it, and boots run on both cores. */
export function pinSelf(): void {
  if (pinning) spawnSync('taskset', ['-cp', String(CLIENT_CPU), String(process.pid)], { stdio: 'ignore' });
}

// ---------------------------------------------------------------- variant servers

/** Starts `out/bench/server.js <name> [backendUrl]` and resolves with its URL once it listens. */
export async function startServer(
  name: string,
  backendUrl?: string,
  env: Record<string, string> = {},
  extraNodeArgs: string[] = [],
): Promise<{ child: ChildProcess; url: string }> {
  const args = [SERVER, name, ...(backendUrl ? [backendUrl] : [])];
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

/** The messages a server answers over IPC (see bench/server.ts). */
type ServerQuestion = 'memory' | 'cpu' | 'stats' | 'profile-start' | 'profile-stop' | 'count-start' | 'count-stop';

/** Sends a server a message and resolves with its answer. */
export function ask<T>(child: ChildProcess, type: ServerQuestion, extra: object = {}): Promise<T> {
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

export const memoryOf = (child: ChildProcess): Promise<NodeJS.MemoryUsage> => ask(child, 'memory');
export const cpuOf = (child: ChildProcess): Promise<NodeJS.CpuUsage> => ask(child, 'cpu');

/** What a server counted since it started: requests its handlers served, store round trips by operation. */
export interface ServerStats {
  handled: number;
  roundTrips: Record<string, number>;
}

export const statsOf = (child: ChildProcess): Promise<ServerStats> => ask(child, 'stats');

/** Runs `node <args>` to completion and resolves with what it printed. */
export async function runNode(args: string[]): Promise<string> {
  const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] }));
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited with ${String(code)}`);
  return out.trim();
}

// ---------------------------------------------------------------- Redis

/** The throwaway redis-server of the Redis variants, and a client that reads its command statistics. */
export interface BenchRedis {
  url: string;
  server: RedisServer;
  client: ReturnType<typeof createClient>;
}

/** Starts a redis-server on a free port (pinned with autocannon) and connects a client to it. */
export async function startRedis(): Promise<BenchRedis> {
  const server = await RedisServer.start({ wrap: (command, args) => pinned(CLIENT_CPU, command, args) });
  const client = createClient({ url: server.url, socket: { reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await server.dispose();
    throw err;
  }
  return { url: server.url, server, client };
}

export async function stopRedis(redis: BenchRedis): Promise<void> {
  await redis.client.quit().catch(() => undefined);
  await redis.server.dispose();
}

/** Calls per command since Redis started, from `INFO commandstats`. */
export async function commandStats(redis: BenchRedis): Promise<Map<string, number>> {
  return parseCommandStats(await redis.client.info('commandstats'));
}

// ---------------------------------------------------------------- PostgreSQL

/**
 * Starts a throwaway PostgreSQL (durability off, data in a temporary folder) on a free port, pinned with
 * autocannon: the backends it forks for the servers' connections inherit the pin. Throws when PostgreSQL is
 * not installed. Stopped by `stop()`, or when this process exits.
 */
export async function startBenchPostgres(): Promise<PostgresServer> {
  const bin = findPostgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed (no initdb on the PATH or in /usr/lib/postgresql)');
  const server = await startPostgres(bin, 'bench');
  process.on('exit', () => server.stop());
  if (pinning) {
    const pid = readFileSync(join(server.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0].trim();
    // Its background workers (WAL writer, checkpointer, autovacuum) are forked already: pinned one by one.
    let workers: string[] = [];
    try {
      workers = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean);
    } catch {
      // no /proc children list: the workers stay where they are
    }
    for (const target of [pid, ...workers])
      spawnSync('taskset', ['-acp', String(CLIENT_CPU), target], { stdio: 'ignore' });
  }
  return server;
}
