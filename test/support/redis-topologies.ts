import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { defer } from './cleanup.js';
import type { Cleanup } from './cleanup.js';
import { findRedisServer, RedisServer, which } from './launchers.js';
import { eventually, redisCommands } from './net.js';

// A real Redis Cluster (3 masters, 3 replicas) and a real Sentinel set (a master, a replica, three
// sentinels), each node a redis-server on a free port of 127.0.0.1 with its data in a temporary folder,
// for the tests of redisStore({ cluster }) and redisStore({ sentinel }). Timeouts are short (a dead node is
// noticed within about a second) so that failovers happen within a few seconds.

const run = promisify(execFile);

/** A master sends its data to a new replica at once (by default it waits 5 s for more replicas to join). */
const FAST_SYNC = ['--repl-diskless-sync-delay', '0'];

/** How long a cluster node or a sentinel waits before it calls a silent node down, in milliseconds. */
export const NODE_TIMEOUT = 1000;

/** redis-cli, found beside redis-server (Debian: /usr/bin), else on the PATH. */
export function findRedisCli(): string | undefined {
  const server = findRedisServer();
  const beside = server && join(dirname(server), 'redis-cli');
  return beside && existsSync(beside) ? beside : which('redis-cli', ['/usr/local/bin']);
}

/** `false` when redis-server (and redis-cli, for a cluster) are there, else the reason to skip. */
export function skipWithoutTopology(kind: 'cluster' | 'sentinel'): string | false {
  let reason: string | undefined;
  const server = [findRedisServer()].find((bin) => bin !== undefined && existsSync(bin));
  const version = server && /v=(\d+)/.exec(spawnSync(server, ['--version'], { encoding: 'utf8' }).stdout)?.[1];
  if (!server) reason = 'redis-server not found: set REDIS_SERVER_BIN or install redis-server';
  else if (kind === 'cluster' && !findRedisCli()) reason = 'redis-cli not found beside redis-server nor on the PATH';
  // --cluster-port (a bus port of the launcher's choosing) came with Redis 7.
  else if (kind === 'cluster' && Number(version) < 7) reason = `Redis 7 or later is needed, not ${version}`;
  if (!reason) return false;
  process.stderr.write(`# SKIPPED: ${reason}\n`);
  return reason;
}

/** The first bulk string of a raw RESP reply ('' when there is none). */
function bulk(reply: string): string {
  const match = /^\$(\d+)\r\n/.exec(reply);
  return match
    ? Buffer.from(reply)
        .subarray(match[0].length, match[0].length + Number(match[1]))
        .toString()
    : '';
}

/** One line of CLUSTER NODES: a node's port, role, health and slot ranges. */
interface ClusterNodeLine {
  port: number;
  master: boolean;
  failed: boolean;
  slots: [number, number][];
}

function parseClusterNodes(text: string): ClusterNodeLine[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [, address, flags, , , , , , ...slots] = line.trim().split(' ');
      return {
        port: Number(/:(\d+)@/.exec(address)?.[1]),
        master: flags.split(',').includes('master'),
        failed: /fail/.test(flags),
        slots: slots
          .filter((s) => !s.startsWith('['))
          .map((s) => s.split('-').map(Number))
          .map(([from, to]) => [from, to ?? from] as [number, number]),
      };
    });
}

/** `count` different TCP ports nobody listens on right now (127.0.0.1): all are held open until all are found. */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve, reject) => {
            server.on('error', reject);
            server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** A server started with these arguments, disposed of when `t` ends (even if it failed to start). */
async function startServer(t: Cleanup, args: string[]): Promise<RedisServer> {
  const server = await RedisServer.create({ args });
  defer(t, () => server.dispose());
  await server.start();
  return server;
}

/** A Redis Cluster of three masters, each with one replica, on 127.0.0.1. */
export class RedisClusterTopology {
  private constructor(readonly nodes: RedisServer[]) {}

  /** Starts six cluster nodes, joins them (`redis-cli --cluster create`) and waits until the cluster is ok. */
  static async start(t: Cleanup): Promise<RedisClusterTopology> {
    const cluster = await RedisClusterTopology.create(t);
    await cluster.start();
    return cluster;
  }

  /** Six cluster nodes on free ports, not started yet (so that a test can boot its app first). */
  static async create(t: Cleanup): Promise<RedisClusterTopology> {
    // Twelve different ports: each node's, and its cluster bus's (by default port + 10000, which may be taken).
    const ports = await freePorts(12);
    const nodes: RedisServer[] = [];
    for (let i = 0; i < 6; i++) {
      const args = [
        '--cluster-enabled', 'yes',
        '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', String(NODE_TIMEOUT),
        '--cluster-port', String(ports[6 + i]),
        // While a master is down, the other masters keep serving their slots (by default the whole cluster
        // answers CLUSTERDOWN until the failover is over).
        '--cluster-require-full-coverage', 'no',
        ...FAST_SYNC,
      ]; // prettier-ignore
      const node = await RedisServer.create({ port: ports[i], args });
      defer(t, () => node.dispose());
      nodes.push(node);
    }
    return new RedisClusterTopology(nodes);
  }

  /** Starts the nodes, joins them (`redis-cli --cluster create`) and waits until the cluster is ok. */
  async start(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.start()));
    const addresses = this.nodes.map((node) => `127.0.0.1:${node.port}`);
    await run(findRedisCli()!, ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], {
      timeout: 30_000,
    });
    if (!(await this.healthy())) throw new Error('the Redis Cluster did not become ok within 20 s');
  }

  /** The nodes to give a cluster client (`createCluster({ rootNodes })`). */
  get rootNodes(): { url: string }[] {
    return this.nodes.map((node) => ({ url: node.url }));
  }

  /** The cluster's nodes as a running node sees them. */
  async view(): Promise<ClusterNodeLine[]> {
    for (const node of this.nodes.filter((n) => n.isRunning)) {
      const text = bulk(await redisCommands(node.port, ['CLUSTER', 'NODES']));
      if (text) return parseClusterNodes(text);
    }
    throw new Error('no cluster node answers');
  }

  /** The running master that serves `key`'s slot. */
  async masterOf(key: string): Promise<RedisServer> {
    const live = this.nodes.find((n) => n.isRunning)!;
    const slot = Number(/^:(\d+)/.exec(await redisCommands(live.port, ['CLUSTER', 'KEYSLOT', key]))?.[1]);
    const line = (await this.view()).find(
      (n) => n.master && !n.failed && n.slots.some(([from, to]) => slot >= from && slot <= to),
    );
    const node = this.nodes.find((n) => n.port === line?.port);
    if (!node) throw new Error(`no master serves slot ${slot}`);
    return node;
  }

  /** The running masters. */
  async masters(): Promise<RedisServer[]> {
    const view = await this.view();
    return this.nodes.filter(
      (n) => n.isRunning && view.some((line) => line.port === n.port && line.master && !line.failed),
    );
  }

  /**
   * Whether, within about 20 s, every running node says `cluster_state:ok`, every slot is served by a live
   * master, and every running replica's link to its master is up (so that it can take over).
   */
  healthy(): Promise<boolean> {
    return eventually(
      async () => {
        for (const node of this.nodes.filter((n) => n.isRunning)) {
          const info = await redisCommands(node.port, ['CLUSTER', 'INFO'], ['INFO', 'replication']);
          if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384')) return false;
          if (info.includes('role:slave') && !info.includes('master_link_status:up')) return false;
        }
        return true;
      },
      200,
      100,
    );
  }
}

/** A Sentinel set: a master, one replica of it, and three sentinels watching it (quorum 2). */
export class RedisSentinelTopology {
  private constructor(
    readonly name: string,
    readonly master: RedisServer,
    readonly replica: RedisServer,
    readonly sentinels: RedisServer[],
    /** The password of the master and the replica (clients give it as `nodeClientOptions.password`). */
    readonly password: string,
  ) {}

  /** Starts the master and its replica, then the sentinels, and waits until they all know each other. */
  static async start(t: Cleanup, name = 'sessions'): Promise<RedisSentinelTopology> {
    // A password per set: a sentinel or a reconnecting client of another test run on this machine that still
    // knows a port this set now uses (a killed server's port is free for the next one) cannot reconfigure or
    // write to its servers (a sentinel sends REPLICAOF to a server that answers at its old master's address,
    // which empties that server: the likely cause of the 401s this test saw while several runs shared a machine).
    const password = randomBytes(12).toString('hex');
    const auth = ['--requirepass', password, '--masterauth', password];
    const master = await startServer(t, [...FAST_SYNC, ...auth]);
    const replica = await startServer(t, [...auth, '--replicaof', '127.0.0.1', String(master.port)]);
    const linked = await eventually(async () =>
      (await redisCommands(replica.port, ['AUTH', password], ['INFO', 'replication'])).includes(
        'master_link_status:up',
      ),
    );
    if (!linked) throw new Error('the replica did not connect to its master');
    // Each sentinel is told of the replica and of the other sentinels (by the ids they are given), rather than
    // finding them within seconds. Sentinel writes what it learns into its config file: each gets its own.
    const ports = await freePorts(3);
    const ids = ports.map(() => randomBytes(20).toString('hex'));
    const sentinels: RedisServer[] = [];
    for (let i = 0; i < 3; i++) {
      const config = [
        `sentinel myid ${ids[i]}`,
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
        `sentinel auth-pass ${name} ${password}`,
        `sentinel down-after-milliseconds ${name} ${NODE_TIMEOUT}`,
        `sentinel failover-timeout ${name} 3000`,
        `sentinel known-replica ${name} 127.0.0.1 ${replica.port}`,
        ...ports.flatMap((port, j) => (j === i ? [] : [`sentinel known-sentinel ${name} 127.0.0.1 ${port} ${ids[j]}`])),
        '',
      ].join('\n');
      const sentinel = await RedisServer.create({ config, port: ports[i], args: ['--sentinel'] });
      defer(t, () => sentinel.dispose());
      sentinels.push(sentinel);
    }
    await Promise.all(sentinels.map((s) => s.start()));
    const topology = new RedisSentinelTopology(name, master, replica, sentinels, password);
    const ready = await eventually(async () => {
      for (const sentinel of sentinels) {
        const reply = await redisCommands(sentinel.port, ['SENTINEL', 'MASTER', name]);
        if (!/num-slaves\r\n\$1\r\n1\r\n/.test(reply) || !/num-other-sentinels\r\n\$1\r\n2\r\n/.test(reply)) {
          return false;
        }
      }
      return true;
    }, 200);
    if (!ready) throw new Error('the sentinels did not find the replica and each other within 20 s');
    return topology;
  }

  /** The nodes to give a sentinel client (`createSentinel({ sentinelRootNodes })`). */
  get sentinelRootNodes(): { host: string; port: number }[] {
    return this.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
  }

  /** Runs commands on one of the set's servers (after AUTH); the replies of the commands, without AUTH's. */
  async commands(server: RedisServer, ...commands: string[][]): Promise<string> {
    const reply = await redisCommands(server.port, ['AUTH', this.password], ...commands);
    return reply.replace(/^\+OK\r\n/, '');
  }

  /** The port of the master as the first running sentinel names it. */
  async masterPort(): Promise<number> {
    const sentinel = this.sentinels.find((s) => s.isRunning)!;
    const reply = await redisCommands(sentinel.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name]);
    return Number(/^\*2\r\n\$\d+\r\n[^\r]*\r\n\$\d+\r\n(\d+)\r\n/.exec(reply)?.[1]);
  }
}
