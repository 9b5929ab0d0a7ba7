import type {
  RedisClientLike,
  RedisClusterStoreOptions,
  RedisSentinelStoreOptions,
  RedisStoreOptions,
  RedisUrlStoreOptions,
} from '../interfaces/redis-store-options.interface.js';
import { DEFAULT_MAX_PENDING_STORE_CALLS } from '../session.constants.js';
import { loadOptional } from './deferred-store.js';

/** How long closing lets commands in flight finish before it drops the connection. */
const CLOSE_GRACE = 2_000;
/** The longest wait between two connection attempts of a client the store created. */
const MAX_RECONNECT_DELAY = 1_000;

/** The client members used on a client the store created (a client, a cluster or a sentinel client). */
interface ClosableClient extends RedisClientLike {
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): unknown;
  unref?(): void;
}

/** What a topology the store connects to is: one server, a cluster, or a master found through sentinels. */
export type RedisTopology = 'client' | 'cluster' | 'sentinel';

/** The kind of a node-redis client, from the members only that kind has. */
export function topologyOf(client: RedisClientLike): RedisTopology {
  const members = client as unknown as Record<string, unknown>;
  if (Array.isArray(members.masters) && typeof members.nodeClient === 'function') return 'cluster';
  if (typeof members.getMasterNode === 'function' && typeof members.getSentinelNode === 'function') return 'sentinel';
  return 'client';
}

/** A client the store created: it connects, and keeps trying until it is connected or closed. */
export interface OwnedClient {
  client: RedisClientLike;
  /** Starts connecting; never rejects (the store follows the client's events instead). */
  connect(): void;
  /** Stops connecting, and closes the client: commands in flight may finish, for a short grace period. */
  close(): Promise<void>;
}

/**
 * Creates the `redis@5` client of `redisStore({ url | cluster | sentinel })`, not connected yet. Commands fail
 * at once while a server is unreachable (no offline queue), so that requests get a 503 rather than wait, and
 * every connection is retried forever with a short, jittered backoff.
 */
export async function createOwnedClient(options: RedisStoreOptions): Promise<OwnedClient> {
  const redis = await loadOptional(() => import('redis'), 'redisStore()', ['redis@5']);
  const { cluster } = options as RedisClusterStoreOptions;
  const { sentinel } = options as RedisSentinelStoreOptions;
  let client: ClosableClient;
  if (cluster) {
    client = redis.createCluster({ ...cluster, defaults: failFast(cluster.defaults) });
  } else if (sentinel) {
    client = redis.createSentinel({
      // The master's connection errors are reported on the sentinel client: the store sees the master drop.
      passthroughClientErrorEvents: true,
      ...sentinel,
      nodeClientOptions: failFast(sentinel.nodeClientOptions),
    });
  } else {
    const { url, clientOptions } = options as RedisUrlStoreOptions;
    client = redis.createClient({ ...failFast(clientOptions), url });
  }
  // The store's watch reports errors while it runs; this keeps one during and after closing too.
  client.on('error', () => undefined);
  let closed = false;
  const connect = async (attempt: number): Promise<void> => {
    try {
      await client.connect();
    } catch {
      // A client retries its own connection; a cluster or sentinel client gives up after a failed first one.
      if (closed || topologyOf(client) === 'client') return;
      if (client.isOpen) await Promise.resolve(client.destroy()).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, reconnectStrategy(attempt)).unref());
      if (!closed) await connect(attempt + 1);
    }
  };
  return {
    client,
    connect: () => void connect(0),
    close: () => {
      closed = true;
      return closeClient(client);
    },
  };
}

/**
 * Client options that fail commands at once while disconnected, or while a hung server has not answered as many
 * commands as the module lets wait (`maxPendingStoreCalls`' default), and reconnect forever (unless given).
 */
function failFast(options: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    disableOfflineQueue: true,
    commandsQueueMaxLength: DEFAULT_MAX_PENDING_STORE_CALLS,
    ...options,
    socket: { reconnectStrategy, ...(options.socket as object | undefined) },
  };
}

/** Closes a client the store created: commands in flight may finish, for at most a short grace period. */
async function closeClient(client: ClosableClient): Promise<void> {
  if (!client.isOpen) return;
  const topology = topologyOf(client);
  if (topology === 'client' && !client.isReady) {
    client.destroy();
    return;
  }
  let finished = false;
  const closing = client.close().then(
    () => void (finished = true),
    () => void (finished = true),
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closing, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE)))]);
  clearTimeout(timer);
  if (finished) return;
  // The servers do not answer the last commands: drop the connections rather than hold the process (a
  // sentinel client's destroy() waits for a reconfiguration under way: it is not awaited).
  if (client.unref) client.unref();
  else void Promise.resolve(destroyQuietly(client)).catch(() => undefined);
}

function destroyQuietly(client: ClosableClient): unknown {
  try {
    return client.destroy();
  } catch {
    // node-redis 5 throws when a node's connection was already closed; the others are closed by then.
    return undefined;
  }
}

function reconnectStrategy(retries: number): number {
  return Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY) + Math.floor(Math.random() * 100);
}
