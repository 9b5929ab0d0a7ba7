/**
 * The parts of a node-redis client (`createClient()` from `redis@5`) that the store uses besides
 * the commands `connect-redis` sends. Typed here so that this package's types never need `redis`.
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
   * client fails commands at once while disconnected (`disableOfflineQueue: true`) and reconnects forever,
   * waiting at most one second between attempts.
   */
  clientOptions?: Record<string, unknown>;
  client?: never;
}

/** {@link redisStore} over a client the app made: it stays open on `app.close()`; the app connects and closes it. */
export interface RedisClientStoreOptions extends RedisStoreSettings {
  /** A `redis@5` client (`createClient(...)`), connected by the app (`await client.connect()`). */
  client: RedisClientLike;
  url?: never;
}

/** Options of {@link redisStore}: a `url` (the store owns the connection) or a `client` (the app owns it). */
export type RedisStoreOptions = RedisUrlStoreOptions | RedisClientStoreOptions;
