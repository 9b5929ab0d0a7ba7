import type { RedisClientLike, RedisUrlStoreOptions } from '../interfaces/redis-store-options.interface.js';
import { loadOptional } from './deferred-store.js';

/** How long closing lets commands in flight finish before it drops the connection. */
const CLOSE_GRACE = 2_000;
/** The longest wait between two reconnection attempts of a client the store created. */
const MAX_RECONNECT_DELAY = 1_000;

/** The client members used on a client the store created. */
interface OwnedClient extends RedisClientLike {
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  unref(): void;
}

/**
 * Creates the `redis@5` client of `redisStore({ url })` (not connected yet): commands fail at once while it is
 * disconnected, and it reconnects forever with a short, jittered backoff. `connect()` starts the first attempt
 * and never rejects: the store follows the client's events instead.
 */
export async function createOwnedClient(
  options: RedisUrlStoreOptions,
): Promise<{ client: RedisClientLike; connect: () => void }> {
  const { createClient } = await loadOptional(() => import('redis'), 'redisStore()', ['redis@5']);
  const extra = options.clientOptions ?? {};
  const socket = { reconnectStrategy, ...(extra.socket as object | undefined) };
  const client = createClient({
    disableOfflineQueue: true,
    ...extra,
    socket,
    url: options.url,
  }) as unknown as OwnedClient;
  return { client, connect: () => void client.connect().catch(() => undefined) };
}

/** Closes a client the store created: commands in flight may finish, for at most a short grace period. */
export async function closeOwnedClient(client: RedisClientLike): Promise<void> {
  const owned = client as OwnedClient;
  if (!owned.isOpen) return;
  if (!owned.isReady) {
    owned.destroy();
    return;
  }
  let finished = false;
  const closing = owned.close().then(() => {
    finished = true;
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closing, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE)))]);
  clearTimeout(timer);
  // The server does not answer the last commands: drop the connection rather than hold the process.
  if (!finished) owned.unref();
}

/** Whether `url` is a `redis:` or `rediss:` URL. */
export function isRedisUrl(url: unknown): boolean {
  if (typeof url !== 'string') return false;
  try {
    return ['redis:', 'rediss:'].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

function reconnectStrategy(retries: number): number {
  return Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY) + Math.floor(Math.random() * 100);
}
