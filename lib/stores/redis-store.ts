import type { SessionData } from 'express-session';
import { ownStore } from './owned-stores.js';
import { DeferredStore } from './deferred-store.js';
import { CHANGED_KEY_WRITES } from './changed-key-writes.js';
import type { ChangedKeyWrites } from './changed-key-writes.js';
import { ownValue } from './session-record.js';
import { toCallback } from './store-call.js';
import type { Callback } from './store-call.js';
import { RedisSessions } from './redis-sessions.js';
import type { RedisCommands } from './redis-sessions.js';
import { createOwnedClient } from './redis-client.js';
import type { OwnedClient } from './redis-client.js';
import { checkRedisStoreOptions } from './redis-options.js';
import { watchConnection } from './redis-watch.js';
import { SESSION_INDEX } from '../controls/session-index.js';
import type { SessionIndex } from '../controls/session-index.js';
import { RedisIndex } from './redis-index.js';
import type { IndexCommands } from './redis-index.js';
import type { ConnectionWatch } from './redis-watch.js';
import type { RedisClientLike, RedisStoreOptions } from '../interfaces/redis-store-options.interface.js';

const DEFAULT_TTL = 86_400_000;

/**
 * A Redis session store over a `redis@5` client (one server, a cluster, or a master found through sentinels)
 * that reports the connection's state to the module: it emits `disconnect` when Redis cannot be reached and
 * `connect` when it can again, and while it is down every call fails at once, so requests get the module's 503
 * instead of waiting. Each session is a hash, and a request's changes are applied to it in one script (see
 * RedisSessions). Made by {@link redisStore}.
 */
export class RedisSessionStore extends DeferredStore<RedisSessions> {
  private owned?: OwnedClient;
  private watching?: ConnectionWatch;
  private up: boolean | undefined;
  private closed = false;

  constructor(private readonly options: RedisStoreOptions) {
    super('RedisSessionStore');
    checkRedisStoreOptions(options);
    this.start(() => this.build());
  }

  /** The Redis client in use: the one given, or the one the store created (once created). */
  get client(): RedisClientLike | undefined {
    return this.options.client ?? this.owned?.client;
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
    this.watching?.stop();
    await this.owned?.close();
  }

  /**
   * Reads the session (one HGETALL). A key kept alive by `touch` expires later than the stored `cookie.expires`,
   * which dates from the last save: the module trusts the key's expiry for stores that touch, so that date is
   * not used to judge the session expired.
   */
  override get(sid: string, callback: Callback<SessionData | null>): void {
    this.use(callback, (sessions) => sessions.get(sid) as Promise<SessionData | null>);
  }

  /** Stores the session as a hash under `prefix + sid`, expiring to the millisecond with its cookie. */
  override set(sid: string, session: SessionData, callback?: Callback): void {
    this.use(callback, (sessions) => sessions.set(sid, session));
  }

  /** Extends the key's expiry to the cookie's (one PEXPIRE); the stored session is not rewritten. */
  override touch(sid: string, session: SessionData, callback?: Callback): void {
    if (this.options.disableTouch) {
      callback?.();
      return;
    }
    this.use(callback, (sessions) => sessions.touch(sid, session));
  }

  override destroy(sid: string, callback?: Callback): void {
    this.use(callback, (sessions) => sessions.destroy(sid));
  }

  override all(callback: Callback<Record<string, SessionData>>): void {
    this.use(callback, async (sessions) => {
      const ids = await sessions.ids();
      const records = await Promise.all(ids.map((sid) => sessions.get(sid)));
      const all: Record<string, SessionData> = {};
      ids.forEach((sid, i) => {
        if (records[i] && typeof records[i] === 'object') ownValue(all, sid, records[i]);
      });
      return all;
    });
  }

  override length(callback: Callback<number>): void {
    this.use(callback, async (sessions) => (await sessions.ids()).length);
  }

  override clear(callback?: Callback): void {
    this.use(callback, async (sessions) => {
      await Promise.all((await sessions.ids()).map((sid) => sessions.destroy(sid)));
    });
  }

  /** Changed-key writes (internal): one script per change (see RedisSessions). */
  readonly [CHANGED_KEY_WRITES]: ChangedKeyWrites = {
    owner: RedisSessionStore,
    replace: (sid, write, callback) => this.use(callback, (sessions) => sessions.replace(sid, write)),
    patch: (sid, write, callback) => this.use(callback, (sessions) => sessions.patch(sid, write)),
  };

  private index?: SessionIndex;

  /** The per-user index of logged-in sessions (internal; see RedisIndex). */
  get [SESSION_INDEX](): SessionIndex {
    this.index ??= new RedisIndex(async () => {
      await this.whenLoaded();
      const refused = this.refuse();
      if (refused) throw refused;
      return this.client as unknown as IndexCommands;
    }, this.options.prefix ?? 'sess:');
    return this.index;
  }

  /** Runs `work` with the sessions once the client exists, and hands its outcome to the callback. */
  private use<T>(callback: Callback<T> | undefined, work: (sessions: RedisSessions) => Promise<T>): void {
    this.withStore(callback, (sessions) => toCallback(work(sessions), callback));
  }

  protected override refuse(): Error | undefined {
    if (this.closed) return new Error('The Redis session store was closed');
    const client = this.client;
    if (client?.isOpen === false && this.options.client) {
      return new Error('The Redis client is not connected: call await client.connect() before the app starts');
    }
    if (client?.isOpen === false) return new Error('Redis is not connected');
    if (client?.isReady === false) return new Error('Redis is not connected');
    return undefined;
  }

  private async build(): Promise<RedisSessions> {
    const given = this.options.client;
    const owned = given ? undefined : await createOwnedClient(this.options);
    const client = given ?? owned!.client;
    this.owned = owned;
    // Every client the store creates or is given has an 'error' listener from here on: no error event crashes.
    this.watching = watchConnection(client, owned !== undefined, (up, err) => this.change(up, err));
    owned?.connect();
    const sessions = new RedisSessions(
      client as unknown as RedisCommands,
      this.options.prefix ?? 'sess:',
      this.options.ttl ?? DEFAULT_TTL,
    );
    // The first request waits for the first connection attempt rather than failing while it is under way.
    await this.watching.firstAttempt;
    return sessions;
  }

  private change(up: boolean, err?: unknown): void {
    if (this.up === up || this.closed) return;
    const was = this.up;
    this.up = up;
    if (up) {
      if (was === false) this.logger.log('Redis is connected again');
      this.emit('connect');
    } else {
      // node-redis's sentinel client reports some errors as strings.
      const reason =
        err instanceof Error ? `${err.name}: ${err.message}` : typeof err === 'string' ? err : 'connection closed';
      this.logger.error(`Redis is not connected (${reason}); session requests get 503 until it is back`);
      this.emit('disconnect');
    }
  }
}

/**
 * A Redis session store for `session.store`, on `redis@5` (an optional peer dependency, loaded on first use:
 * `npm install redis`). It reads sessions that connect-redis wrote, so switching keeps everyone logged in.
 *
 * - `redisStore({ url })`: the store opens the connection, and `app.close()` closes it.
 * - `redisStore({ cluster: { rootNodes } })`: the same on a Redis Cluster (`createCluster()` options).
 * - `redisStore({ sentinel: { name, sentinelRootNodes } })`: the same on a master watched by Redis Sentinel.
 * - `redisStore({ client })`: the store uses your connected client (`createClient()`, `createCluster()` or
 *   `createSentinel()`) and leaves it open.
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
