/**
 * The parts of a node-redis client (`createClient()`, `createCluster()` or `createSentinel()` from `redis@5`)
 * that the store uses besides the commands it sends. Typed here so that this package's types never need `redis`.
 */
export interface RedisClientLike {
  /** Whether `connect()` was called and the client was not closed since. */
  readonly isOpen?: boolean;
  /** Whether the connection is up and commands are sent at once. */
  readonly isReady?: boolean;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off?(event: string, listener: (...args: any[]) => void): unknown;
}

/** Options of {@link redisStore} that do not depend on where the client comes from. */
export interface RedisStoreSettings {
  /**
   * Prefix of every session key in Redis. Give each app its own when apps share a Redis database;
   * give the instances of one app the same prefix so they share sessions.
   * @default 'sess:'
   */
  prefix?: string;
  /**
   * Lifetime in milliseconds of a session whose cookie has no `maxAge` or `expires`
   * (Redis keys expire in whole seconds; this is rounded up).
   * @default 86400000 (one day)
   */
  ttl?: number;
  /**
   * Never extend a session's expiry on a read-only request (its key expires `maxAge` after the last change).
   * Prefer the module's `touchAfter`, which keeps sessions in use alive with fewer writes.
   * @default false
   */
  disableTouch?: boolean;
}

/** {@link redisStore} connecting to a URL: the store opens the client, and `app.close()` closes it. */
export interface RedisUrlStoreOptions extends RedisStoreSettings {
  /** `redis[s]://[[user]:password@]host[:port][/database]`. */
  url: string;
  /**
   * More options for `createClient()` of `redis@5` (e.g. `{ name, socket: { tls: true } }`). By default the
   * client fails commands at once while disconnected (`disableOfflineQueue: true`) or while 1,000 commands
   * wait for a hung server (`commandsQueueMaxLength: 1000`), and reconnects forever, waiting at most one
   * second between attempts.
   */
  clientOptions?: Record<string, unknown>;
  client?: never;
  cluster?: never;
  sentinel?: never;
}

/** {@link redisStore} over a client the app made: it stays open on `app.close()`; the app connects and closes it. */
export interface RedisClientStoreOptions extends RedisStoreSettings {
  /**
   * A `redis@5` client connected by the app (`await client.connect()`): `createClient(...)`,
   * `createCluster(...)` or `createSentinel(...)`.
   */
  client: RedisClientLike;
  url?: never;
  cluster?: never;
  sentinel?: never;
}

/** Options of `createCluster()` of `redis@5`, as {@link redisStore} takes them. */
export interface RedisClusterOptions {
  /**
   * Some nodes of the cluster, each as `createClient()` options (e.g. `{ url: 'redis://10.0.0.1:6379' }`):
   * the client asks the first that answers for the others.
   */
  rootNodes: Record<string, unknown>[];
  /**
   * Options of the client of each node (e.g. `{ password, socket: { tls: true } }`). By default they fail
   * commands at once while disconnected (`disableOfflineQueue: true`) or while 1,000 commands wait for a hung
   * server (`commandsQueueMaxLength: 1000`), and reconnect forever, waiting at most one second between attempts.
   */
  defaults?: Record<string, unknown>;
  /** Must stay off: a replica may not have a session's last change yet, and sessions are read from masters. */
  useReplicas?: false;
  /** Any other option of `createCluster()`. */
  [option: string]: unknown;
}

/** Options of `createSentinel()` of `redis@5`, as {@link redisStore} takes them. */
export interface RedisSentinelOptions {
  /** The name the sentinels know the master by (`sentinel monitor <name> ...` in their configuration). */
  name: string;
  /** Some of the sentinels, e.g. `[{ host: '10.0.0.1', port: 26379 }]`: the client asks them for the others. */
  sentinelRootNodes: { host: string; port: number }[];
  /**
   * Options of the client of the master (e.g. `{ password }`). By default it fails commands at once while
   * disconnected (`disableOfflineQueue: true`) or while 1,000 commands wait for a hung server
   * (`commandsQueueMaxLength: 1000`), and reconnects forever, waiting at most one second.
   */
  nodeClientOptions?: Record<string, unknown>;
  /** Must stay 0: a replica may not have a session's last change yet, and sessions are read from the master. */
  replicaPoolSize?: 0;
  /** Any other option of `createSentinel()`. */
  [option: string]: unknown;
}

/**
 * {@link redisStore} on a Redis Cluster: the store creates the cluster client, connects it (retrying until
 * the cluster answers), follows failovers, and `app.close()` closes it.
 */
export interface RedisClusterStoreOptions extends RedisStoreSettings {
  /** `createCluster()` options; `rootNodes` is required. */
  cluster: RedisClusterOptions;
  url?: never;
  client?: never;
  sentinel?: never;
}

/**
 * {@link redisStore} on a master watched by Redis Sentinel: the store creates the sentinel client, connects
 * it, follows it to the new master after a failover, and `app.close()` closes it.
 */
export interface RedisSentinelStoreOptions extends RedisStoreSettings {
  /** `createSentinel()` options; `name` and `sentinelRootNodes` are required. */
  sentinel: RedisSentinelOptions;
  url?: never;
  client?: never;
  cluster?: never;
}

/**
 * Options of {@link redisStore}: exactly one of `url`, `cluster` or `sentinel` (the store owns the
 * connection) or `client` (the app owns it).
 */
export type RedisStoreOptions =
  RedisUrlStoreOptions | RedisClientStoreOptions | RedisClusterStoreOptions | RedisSentinelStoreOptions;
