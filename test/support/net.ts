import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

// Ports, waiting, and talking to a server over a raw socket. Shared by the tests, the test runner
// (test/run.ts) and the benchmark (bench/): plain Node, nothing else.

/** A TCP port nobody listens on right now (127.0.0.1). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
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

/**
 * Sends RESP commands over a raw socket, then QUIT, and resolves with everything the server answered
 * ('' if nothing answered) once every command has its reply: enough to check a Redis server without a client
 * library (Sentinel too, which does not know QUIT).
 */
export function redisCommands(port: number, ...commands: string[][]): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = Buffer.alloc(0);
    const encode = (args: string[]): string =>
      `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('connect', () => socket.write([...commands, ['QUIT']].map(encode).join('')));
    socket.on('data', (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      if (completeReplies(reply) >= commands.length) socket.destroy();
    });
    socket.on('close', () => resolve(reply.toString()));
    socket.on('error', () => undefined);
  });
}

/** How many complete RESP replies `buffer` holds. */
function completeReplies(buffer: Buffer): number {
  let at = 0;
  const skip = (): boolean => {
    const end = buffer.indexOf('\r\n', at);
    if (end < 0) return false;
    const type = String.fromCharCode(buffer[at]);
    const n = Number(buffer.toString('latin1', at + 1, end));
    at = end + 2;
    if ('$=!'.includes(type)) {
      if (n < 0) return true;
      at += n + 2;
      return at <= buffer.length;
    }
    if ('*~>%|'.includes(type)) {
      for (let i = 0; i < ('%|'.includes(type) ? 2 * n : n); i++) if (!skip()) return false;
    }
    return true;
  };
  let count = 0;
  while (at < buffer.length && skip()) count++;
  return count;
}

/** The port of a redis:// URL. */
export function portOf(url: string): number {
  return Number(new URL(url).port || 6379);
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
