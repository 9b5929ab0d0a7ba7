import type {
  RedisClusterOptions,
  RedisSentinelOptions,
  RedisStoreOptions,
} from '../interfaces/redis-store-options.interface.js';

const SOURCES = ['url', 'client', 'cluster', 'sentinel'] as const;

/** Throws a TypeError that says what is wrong with `redisStore()`'s options, if anything is. */
export function checkRedisStoreOptions(options: RedisStoreOptions): void {
  const given = SOURCES.filter((key) => (options as unknown as Record<string, unknown>)[key] !== undefined);
  if (given.length !== 1) {
    throw new TypeError(
      'redisStore(): give either { url }, { cluster } or { sentinel } (the store opens and closes the connection) ' +
        `or { client } (yours): exactly one, not both or neither (given: ${given.join(', ') || 'none'}).`,
    );
  }
  const { url, cluster, sentinel } = options as { url?: unknown; cluster?: unknown; sentinel?: unknown };
  if (url !== undefined && !isRedisUrl(url)) {
    throw new TypeError('redisStore(): url must be a redis:// or rediss:// URL, such as redis://127.0.0.1:6379');
  }
  if (cluster !== undefined) checkCluster(cluster as Partial<RedisClusterOptions>);
  if (sentinel !== undefined) checkSentinel(sentinel as Partial<RedisSentinelOptions>);
  if (options.ttl !== undefined && !(typeof options.ttl === 'number' && options.ttl > 0)) {
    throw new TypeError(`redisStore(): ttl must be a number of milliseconds above 0, not ${String(options.ttl)}`);
  }
}

function checkCluster(cluster: Partial<RedisClusterOptions>): void {
  if (!isNonEmptyArrayOfObjects(cluster?.rootNodes)) {
    throw new TypeError(
      "redisStore(): cluster.rootNodes must list at least one node of the cluster, such as [{ url: 'redis://10.0.0.1:6379' }]",
    );
  }
  if (cluster.useReplicas) {
    throw new TypeError(
      'redisStore(): cluster.useReplicas must stay off: a replica may not have the last change of a session yet',
    );
  }
}

function checkSentinel(sentinel: Partial<RedisSentinelOptions>): void {
  if (typeof sentinel?.name !== 'string' || sentinel.name === '') {
    throw new TypeError('redisStore(): sentinel.name must be the name the sentinels know the master by');
  }
  if (!isNonEmptyArrayOfObjects(sentinel.sentinelRootNodes)) {
    throw new TypeError(
      "redisStore(): sentinel.sentinelRootNodes must list at least one sentinel, such as [{ host: '10.0.0.1', port: 26379 }]",
    );
  }
  if (sentinel.replicaPoolSize) {
    throw new TypeError(
      'redisStore(): sentinel.replicaPoolSize must stay 0: a replica may not have the last change of a session yet',
    );
  }
}

function isNonEmptyArrayOfObjects(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'object' && item !== null);
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
