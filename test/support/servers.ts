import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { SessionData, Store } from 'express-session';

/** The shared Redis that `scripts/test.mjs` started (or the one the environment gave), if any. */
export const REDIS_URL = process.env.REDIS_URL;
/** The shared PostgreSQL database that `scripts/test.mjs` started (or the environment gave), if any. */
export const DATABASE_URL = process.env.DATABASE_URL;
/** The redis-server binary, for tests that stop and restart their own Redis. */
export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN || findOnPath('redis-server');

/** `false` when the variable is set, else the reason to skip (for node:test's `skip` option). */
export function skipWithout(name: 'REDIS_URL' | 'DATABASE_URL' | 'REDIS_SERVER_BIN'): string | false {
  const value = name === 'REDIS_SERVER_BIN' ? REDIS_SERVER_BIN : process.env[name];
  if (value) return false;
  const reason = `${name} is not set: run the suite with \`npm test\` (it starts Redis and PostgreSQL), or set ${name}`;
  process.stderr.write(`# SKIPPED: ${reason}\n`);
  return reason;
}

/** A name no other test (or other run on the same server) uses: prefixes, table and schema names. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** A TCP port nobody listens on right now (127.0.0.1). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Calls `probe` until it returns true, at most `attempts` times, `every` ms apart; returns its last answer. */
export async function eventually(probe: () => Promise<boolean>, attempts = 100, every = 100): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (await probe()) return true;
    await sleep(every);
  }
  return false;
}

/** A store's record, read through its own `get` (what the store holds); null when there is none. */
export function peek(store: Store, sid: string): Promise<SessionData | null> {
  return new Promise((resolve, reject) => store.get(sid, (err, sess) => (err ? reject(err) : resolve(sess ?? null))));
}

/**
 * Sends RESP commands over a raw socket, then QUIT, and resolves with everything the server answered
 * ('' if nothing answered): enough to check a server without a client library.
 */
export function redisCommands(port: number, ...commands: string[][]): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const encode = (args: string[]): string =>
      `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('connect', () => socket.write([...commands, ['QUIT']].map(encode).join('')));
    socket.on('data', (chunk) => (reply += chunk));
    socket.on('close', () => resolve(reply));
    socket.on('error', () => undefined);
  });
}

/** The port of a redis:// URL. */
export function portOf(url: string): number {
  return Number(new URL(url).port || 6379);
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * A redis-server of the test's own on a free port of 127.0.0.1, which the test stops and starts again
 * (same port, same data folder: with `persist` its data survives a restart).
 */
export class RedisServer {
  private child?: ChildProcess;

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly persist: boolean,
  ) {}

  /** A server on a free port, not started yet (so a test can boot its app while Redis is down). */
  static async create(options: { persist?: boolean } = {}): Promise<RedisServer> {
    if (!REDIS_SERVER_BIN) throw new Error('redis-server not found (set REDIS_SERVER_BIN)');
    return new RedisServer(await freePort(), mkdtempSync(join(tmpdir(), 'nes-redis-test-')), options.persist ?? false);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get isRunning(): boolean {
    return this.child !== undefined;
  }

  /** Starts the server and resolves once it answers PING. */
  async start(): Promise<void> {
    if (this.child) return;
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', ''];
    args.push(...(this.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
    const child = spawn(REDIS_SERVER_BIN!, args, { stdio: 'ignore' });
    this.child = child;
    running.add(child);
    child.on('exit', () => running.delete(child));
    const up = await eventually(async () => (await redisCommands(this.port, ['PING'])).startsWith('+PONG'), 100, 50);
    if (!up) {
      await this.stop();
      throw new Error(`redis-server on port ${this.port} did not start`);
    }
  }

  /** Stops the server (SIGTERM: a clean shutdown that writes its append-only file) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops the server and removes its data folder. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A TCP relay on 127.0.0.1 in front of a real server, which a test can cut (refuse new connections and
 * drop open ones) and restore: an outage of a server the test does not own.
 */
export class TcpRelay {
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  private up = true;
  port = 0;

  private constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => this.accept(client));
  }

  /** A relay to `target`, listening on a free port. */
  static async start(target: { host: string; port: number }): Promise<TcpRelay> {
    const relay = new TcpRelay(target);
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
    relay.port = (relay.server.address() as { port: number }).port;
    return relay;
  }

  /** Drops every open connection and refuses new ones. */
  cut(): void {
    this.up = false;
    for (const s of this.sockets) s.destroy();
  }

  /** Lets connections through again. */
  restore(): void {
    this.up = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (!this.up) {
      client.destroy();
      return;
    }
    const upstream = createConnection(this.target);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }
}

function findOnPath(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/bin']) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}
