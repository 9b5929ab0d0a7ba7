import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { eventually, freePort, redisCommands } from './net.js';

// Throwaway redis-server and PostgreSQL servers on free ports of 127.0.0.1, their data in a temporary
// folder: started by the test runner (test/run.ts) for the whole suite, by tests that stop and restart
// their own Redis, and by the benchmark (bench/). Plain Node, no client library.

/** The first executable called `name` on the PATH or in `extraDirs`. */
export function which(name: string, extraDirs: string[] = []): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...extraDirs]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The redis-server binary: REDIS_SERVER_BIN, else the first on the PATH (or in /usr/sbin, /usr/local/bin). */
export function findRedisServer(): string | undefined {
  return process.env.REDIS_SERVER_BIN || which('redis-server', ['/usr/sbin', '/usr/local/bin']);
}

/** Redis servers still running, killed (and their data removed) if this process exits without stopping them. */
const running = new Set<RedisServer>();
process.on('exit', () => {
  for (const server of running) server.kill();
});

export interface RedisServerOptions {
  /** The binary (default: `findRedisServer()`). */
  bin?: string;
  /** Keep the data across a restart (append-only file, fsync on every write). */
  persist?: boolean;
  /** Rewrites the command line, e.g. to pin the server to a CPU with taskset. */
  wrap?: (command: string, args: string[]) => [string, string[]];
  /** Where the server's stderr goes (default: nowhere). */
  stderr?: 'ignore' | 'inherit';
  /** More command-line arguments, after the defaults (e.g. `['--replicaof', '127.0.0.1', '6380']`). */
  args?: string[];
  /** A config file for the server, written into its folder and given first (Sentinel rewrites its own). */
  config?: string;
  /** The port (default: a free one). */
  port?: number;
}

/**
 * A redis-server on a free port of 127.0.0.1 that can be stopped and started again (same port, same data
 * folder: with `persist` its data survives a restart).
 */
export class RedisServer {
  private child?: ChildProcess;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly bin: string,
    private readonly options: RedisServerOptions,
  ) {}

  /** A server on a free port, not started yet (so a test can boot its app while Redis is down). */
  static async create(options: RedisServerOptions = {}): Promise<RedisServer> {
    const bin = options.bin ?? findRedisServer();
    if (!bin) throw new Error('redis-server not found (set REDIS_SERVER_BIN)');
    return new RedisServer(options.port ?? (await freePort()), mkdtempSync(join(tmpdir(), 'nes-redis-')), bin, options);
  }

  /** A server on a free port, started. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = await RedisServer.create(options);
    try {
      await server.start();
    } catch (err) {
      await server.dispose();
      throw err;
    }
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private get configFile(): string {
    return join(this.dir, 'redis.conf');
  }

  get isRunning(): boolean {
    return this.child !== undefined;
  }

  /** Starts the server and resolves once it answers PING. */
  async start(): Promise<void> {
    if (this.child) return;
    const args = this.options.config === undefined ? [] : [this.configFile];
    args.push('--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '');
    args.push(...(this.options.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
    args.push(...(this.options.args ?? []));
    if (this.options.config !== undefined && !existsSync(this.configFile)) {
      writeFileSync(this.configFile, this.options.config);
    }
    const [command, argv] = this.options.wrap ? this.options.wrap(this.bin, args) : [this.bin, args];
    const child = spawn(command, argv, { stdio: ['ignore', 'ignore', this.options.stderr ?? 'ignore'] });
    this.child = child;
    running.add(this);
    child.on('error', () => undefined);
    // A server with a password answers PING with NOAUTH: it is up all the same.
    const up = await eventually(
      async () => /^(\+PONG|-NOAUTH)/.test(await redisCommands(this.port, ['PING'])),
      100,
      50,
    );
    if (!up) {
      await this.stop();
      throw new Error(`redis-server on port ${this.port} did not start`);
    }
  }

  /**
   * Stops the server and waits for it to exit: SIGTERM is a clean shutdown that writes its append-only file;
   * SIGKILL is a crash.
   */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    running.delete(this);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops the server and removes its data folder. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** At once, for an exit handler: kills the server (SIGKILL) and removes its data folder. */
  kill(): void {
    this.child?.kill('SIGKILL');
    this.child = undefined;
    running.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The directory of the newest PostgreSQL binaries: on the PATH, or Debian's /usr/lib/postgresql/<v>/bin. */
export function findPostgresBin(): string | undefined {
  const onPath = which('initdb');
  // Follow symlinks (/usr/local/bin/initdb -> .../bin/initdb): createdb lives beside the real one.
  const real = onPath && dirname(realpathSync(onPath));
  if (real && existsSync(join(real, 'pg_ctl')) && existsSync(join(real, 'createdb'))) return real;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(base, versions[0], 'bin') : undefined;
}

/** A running PostgreSQL with one database. */
export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url: string;
  port: number;
  /** Where its data lives. */
  dataDir: string;
  /** Stops the server (immediate shutdown) and removes its folder; synchronous, so an exit handler can call it. */
  stop(): void;
}

/**
 * Starts PostgreSQL (initdb, pg_ctl, createdb) on a free port of 127.0.0.1, with its data and socket in a
 * temporary folder and durability off. Run as root, it runs the tools as the `postgres` user, since
 * PostgreSQL refuses root.
 */
export async function startPostgres(bin: string, database = 'sessions_test'): Promise<PostgresServer> {
  const asPostgres = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'nes-pg-'));
  const dataDir = join(dir, 'data');
  const run = (tool: string, args: string[]): string => pgRun(bin, tool, args, asPostgres);
  let started = false;
  const stop = (): void => {
    try {
      if (started) {
        started = false;
        run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    if (asPostgres) {
      const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
      const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
      if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
        throw new Error('running as root, but there is no `postgres` user to run PostgreSQL as');
      }
      chownSync(dir, uid, gid);
    }
    const port = await freePort();
    run('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
    const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    started = true;
    run('pg_ctl', ['-D', dataDir, '-l', join(dir, 'server.log'), '-o', serverOptions, '-w', '-t', '60', 'start']);
    run('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', database]);
    return { url: `postgres://postgres@127.0.0.1:${port}/${database}`, port, dataDir, stop };
  } catch (err) {
    try {
      stop();
    } catch {
      // the start already failed: that error is the one to report
    }
    throw err;
  }
}

/** Runs a PostgreSQL tool; as root it runs as the `postgres` user. */
function pgRun(bin: string, tool: string, args: string[], asPostgres: boolean): string {
  const command = asPostgres ? 'runuser' : join(bin, tool);
  const argv = asPostgres ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args;
  const result = spawnSync(command, argv, { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(
      `${tool} failed (${result.status ?? result.signal}): ${result.error?.message ?? ''}${result.stdout}${result.stderr}`,
    );
  }
  return result.stdout;
}
