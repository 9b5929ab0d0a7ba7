import type { SessionData, Store } from 'express-session';
import { ownStore } from './owned-stores.js';
import { DeferredStore, loadOptional } from './deferred-store.js';
import { CONDITIONAL } from './conditional-store.js';
import type { ConditionalWrites } from './conditional-store.js';
import { toCallback } from './store-call.js';
import type { Callback } from './store-call.js';
import { readSession, writeSession, writeSessionIf } from './redis-commands.js';
import type { RedisCommands } from './redis-commands.js';
import { closeOwnedClient, createOwnedClient, isRedisUrl } from './redis-client.js';
import type {
  RedisClientLike,
  RedisStoreOptions,
  RedisUrlStoreOptions,
} from '../interfaces/redis-store-options.interface.js';

const DEFAULT_TTL = 86_400_000;

/**
 * A Redis session store (`connect-redis@9` over a `redis@5` client) that reports the connection's state
 * to the module: it emits `disconnect` when the connection drops and `connect` when it is ready again,
 * and while it is down every call fails at once, so requests get the module's 503 instead of waiting.
 * Made by {@link redisStore}.
 */
export class RedisSessionStore extends DeferredStore {
  private redis?: RedisClientLike;
  private up: boolean | undefined;
  private closed = false;
  private readonly subscriptions: [string, (...args: any[]) => void][] = [];

  constructor(private readonly options: RedisStoreOptions) {
    super('RedisSessionStore');
    const { url, client } = options as { url?: unknown; client?: unknown };
    if ((url === undefined) === (client === undefined)) {
      throw new TypeError(
        'redisStore(): give either { url } (the store opens and closes the connection) or { client } (yours), not both or neither.',
      );
    }
    if (url !== undefined && !isRedisUrl(url)) {
      throw new TypeError('redisStore(): url must be a redis:// or rediss:// URL, such as redis://127.0.0.1:6379');
    }
    if (options.ttl !== undefined && !(typeof options.ttl === 'number' && options.ttl > 0)) {
      throw new TypeError(`redisStore(): ttl must be a number of milliseconds above 0, not ${String(options.ttl)}`);
    }
    this.start(() => this.build());
  }

  /** The Redis client in use: the one given, or the one the store created (once created). */
  get client(): RedisClientLike | undefined {
    return this.options.client ?? this.redis;
  }

  /** Whether the connection is ready (`undefined` until the first connection attempt has ended). */
  get isConnected(): boolean | undefined {
    return this.up;
  }

  /**
   * Stops using the client. A client the store created is closed (commands in flight may finish first);
   * a client that was given is left open. `app.close()` calls this for stores made by {@link redisStore}.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.whenLoaded().catch(() => undefined);
    const client = this.client;
    for (const [event, listener] of this.subscriptions) client?.off?.(event, listener);
    if (client && !this.options.client) await closeOwnedClient(client);
  }

  /**
   * Reads the session (one GET). A key kept alive by `touch` expires later than the stored `cookie.expires`,
   * which dates from the last save: the module trusts the key's expiry for stores that touch, so that date is
   * not used to judge the session expired.
   */
  override get(sid: string, callback: Callback<SessionData | null>): void {
    this.withStore(callback, (store) =>
      toCallback(
        readSession(this.commands, keyOf(store, sid)).then((found) => (found?.record ?? null) as SessionData | null),
        callback,
      ),
    );
  }

  /**
   * Conditional writes (internal): a session's revision is its stored JSON, and `setIf` is one Lua script
   * (compare by SHA-1, then SET with the expiry), so a changed session is written in one round trip and two
   * instances never overwrite each other's changes.
   */
  readonly [CONDITIONAL]: ConditionalWrites = {
    replaces: { get: RedisSessionStore.prototype.get, set: RedisSessionStore.prototype.set },
    get: (sid, callback) =>
      this.withStore(callback, (store) =>
        toCallback(
          readSession(this.commands, keyOf(store, sid)).then((found) =>
            found ? { record: found.record, revision: found.raw } : null,
          ),
          callback,
        ),
      ),
    setIf: (sid, record, revision, callback) =>
      this.withStore(callback, (store) =>
        toCallback(
          writeSessionIf(
            this.commands,
            keyOf(store, sid),
            JSON.stringify(record),
            revision,
            this.ttlOf(record as SessionData),
          ),
          callback,
        ),
      ),
  };

  /** Saves the session as JSON under `prefix + sid`, expiring to the millisecond with its cookie. */
  override set(sid: string, session: SessionData, callback?: Callback): void {
    this.withStore(callback, (store) =>
      toCallback(writeSession(this.commands, keyOf(store, sid), JSON.stringify(session), this.ttlOf(session)), callback),
    );
  }

  /** Extends the key's expiry to the cookie's (one PEXPIRE); the stored session is not rewritten. */
  override touch(sid: string, session: SessionData, callback?: Callback): void {
    if (this.options.disableTouch) {
      callback?.();
      return;
    }
    this.withStore(callback, (store) =>
      toCallback(
        this.commands.pExpire(keyOf(store, sid), this.ttlOf(session)).then(() => undefined),
        callback,
      ),
    );
  }

  private get commands(): RedisCommands {
    return this.client as unknown as RedisCommands;
  }

  /** Milliseconds until the session expires: its cookie's expiry, else the `ttl` option. */
  private ttlOf(session: SessionData): number {
    const expires = (session.cookie as { expires?: Date | string | null } | undefined)?.expires;
    if (!expires) return this.options.ttl ?? DEFAULT_TTL;
    return new Date(expires).getTime() - Date.now();
  }

  protected override refuse(): Error | undefined {
    if (this.closed) return new Error('The Redis session store was closed');
    const client = this.client;
    if (client?.isOpen === false) {
      return new Error('The Redis client is not connected: call await client.connect() before the app starts');
    }
    if (client?.isReady === false) return new Error('Redis is not connected');
    return undefined;
  }

  private async build(): Promise<Store> {
    const { RedisStore } = await loadOptional(() => import('connect-redis'), 'redisStore()', [
      'redis@5',
      'connect-redis@9',
    ]);
    let client = this.options.client;
    let firstAttempt: Promise<void> | undefined;
    if (!client) {
      const created = await createOwnedClient(this.options as RedisUrlStoreOptions);
      client = this.redis = created.client;
      firstAttempt = this.watch(client);
      created.connect();
    } else {
      firstAttempt = this.watch(client);
      if (client.isReady || client.isOpen === false) firstAttempt = undefined;
    }
    // connect-redis serves destroy, all, length, clear and ids; get, set and touch are the store's own
    // (same keys and JSON, so sessions written by either are read by the other).
    const store = new RedisStore({ client, prefix: this.options.prefix, disableTouch: this.options.disableTouch });
    // The first request waits for the first connection attempt rather than failing while it is under way.
    await firstAttempt;
    return store as unknown as Store;
  }

  /** Follows the client's state; resolves when the first connection attempt succeeded or failed. */
  private watch(client: RedisClientLike): Promise<void> {
    if (client.isReady) this.up = true;
    return new Promise<void>((attempted) => {
      const ready = (): void => {
        attempted();
        this.change(true);
      };
      const down = (err?: unknown): void => {
        attempted();
        this.change(false, err);
      };
      this.listen(client, 'ready', ready);
      // An error on a connection that is still ready (a bad reply, say) is not a disconnect.
      this.listen(client, 'error', (err: unknown) => (client.isReady ? undefined : down(err)));
      this.listen(client, 'end', () => down());
    });
  }

  private listen(client: RedisClientLike, event: string, listener: (...args: any[]) => void): void {
    client.on(event, listener);
    this.subscriptions.push([event, listener]);
  }

  private change(up: boolean, err?: unknown): void {
    if (this.up === up || this.closed) return;
    const was = this.up;
    this.up = up;
    if (up) {
      if (was === false) this.logger.log('Redis is connected again');
      this.emit('connect');
    } else {
      const reason = err instanceof Error ? `${err.name}: ${err.message}` : 'connection closed';
      this.logger.error(`Redis is not connected (${reason}); session requests get 503 until it is back`);
      this.emit('disconnect');
    }
  }
}

function keyOf(store: Store, sid: string): string {
  return (store as unknown as { prefix: string }).prefix + sid;
}

/**
 * A Redis session store for `session.store`, built on `connect-redis@9` and `redis@5` (optional peer
 * dependencies, loaded on first use: `npm install redis connect-redis`).
 *
 * - `redisStore({ url })`: the store opens the connection, and `app.close()` closes it.
 * - `redisStore({ client })`: the store uses your connected client and leaves it open.
 *
 * While Redis is unreachable, requests that need the session get a 503 at once (never a hang), and
 * they succeed again as soon as the connection is back; nothing crashes.
 *
 * @example
 * SessionModule.forRoot({ session: { secret, store: redisStore({ url: process.env.REDIS_URL! }) } })
 */
export function redisStore(options: RedisStoreOptions): RedisSessionStore {
  const store = new RedisSessionStore(options);
  ownStore(store, () => store.close());
  return store;
}
