import expressSession from 'express-session';
import type { SessionData, Store } from 'express-session';
import { ownStore } from './owned-stores.js';
import { DeferredStore, loadOptional } from './deferred-store.js';
import { CHANGED_KEY_WRITES, cookieExpiry } from './changed-key-writes.js';
import type { ChangedKeyWrites } from './changed-key-writes.js';
import { toCallback } from './store-call.js';
import type { Callback } from './store-call.js';
import { inTransaction, SessionTable } from './postgres-table.js';
import { SESSION_INDEX } from '../controls/session-index.js';
import type { SessionIndex } from '../controls/session-index.js';
import { postgresIndex } from './postgres-index.js';
import type {
  PgPoolLike,
  PostgresStoreOptions,
  PostgresUrlStoreOptions,
} from '../interfaces/postgres-store-options.interface.js';

const DEFAULT_TTL = 86_400_000;

/** The store `connect-pg-simple` builds, with the members this wrapper uses. */
interface PgSimpleStore extends Store {
  close(): Promise<void> | void;
}

/**
 * A PostgreSQL session store: `connect-pg-simple@10` over a `pg@8` pool, with the table created on first
 * use, and `all`, `length` and `clear` implemented. Made by {@link postgresStore}.
 */
export class PostgresSessionStore extends DeferredStore<PgSimpleStore> {
  private db?: PgPoolLike;
  private tableExists = false;
  private creating?: Promise<void>;
  private closed = false;
  /** The SQL the store sends itself on its table. */
  private readonly table: SessionTable;

  constructor(private readonly options: PostgresStoreOptions) {
    super('PostgresSessionStore');
    const { connectionString, pool } = options as { connectionString?: unknown; pool?: unknown };
    if ((connectionString === undefined) === (pool === undefined)) {
      throw new TypeError(
        'postgresStore(): give either { connectionString } (the store opens and ends the pool) or { pool } (yours), not both or neither.',
      );
    }
    if (connectionString !== undefined && typeof connectionString !== 'string') {
      throw new TypeError(
        'postgresStore(): connectionString must be a string such as postgres://user@127.0.0.1:5432/app',
      );
    }
    for (const key of ['ttl', 'pruneInterval'] as const) {
      const value = options[key];
      if (value !== undefined && value !== false && !(typeof value === 'number' && value > 0)) {
        throw new TypeError(`postgresStore(): ${key} must be a number of milliseconds above 0, not ${String(value)}`);
      }
    }
    const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`;
    const tableName = options.tableName ?? 'session';
    const name = (options.schemaName ? `${quote(options.schemaName)}.` : '') + quote(tableName);
    this.table = new SessionTable(
      (text, values) => this.pool!.query(text, values),
      name,
      options.ttl ?? DEFAULT_TTL,
      (work) => inTransaction(this.pool, work),
    );
    this.start(() => this.build());
  }

  /** The pool in use: the one given, or the one the store created (once created). */
  get pool(): PgPoolLike | undefined {
    return this.options.pool ?? this.db;
  }

  /**
   * Stops the pruning timer and, if the store created the pool, ends it; a pool that was given is left open.
   * `app.close()` calls this for stores made by {@link postgresStore}.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const store = await this.whenLoaded().catch(() => undefined);
    await store?.close();
    if (!this.options.pool) await this.db?.end();
  }

  override get(sid: string, callback: Callback<SessionData | null>): void {
    // A row's expiry has whole seconds (connect-pg-simple's format): the cookie's expiry, which touch keeps
    // current in the row, is checked too, so that no session outlives its cookie by up to a second.
    this.afterTable(callback, (store) =>
      store.get(sid, (err, session) =>
        callback(err, session && (cookieExpiry(session.cookie) ?? Infinity) <= Date.now() ? null : session),
      ),
    );
  }

  override set(sid: string, session: SessionData, callback?: Callback): void {
    this.afterTable(callback, (store) => store.set(sid, session, callback));
  }

  override destroy(sid: string, callback?: Callback): void {
    this.afterTable(callback, (store) => store.destroy(sid, callback));
  }

  /** Changed-key writes (internal): one statement each (see SessionTable.replace and SessionTable.patch). */
  readonly [CHANGED_KEY_WRITES]: ChangedKeyWrites = {
    owner: PostgresSessionStore,
    replace: (sid, write, callback) => this.run(callback, () => this.table.replace(sid, write)),
    patch: (sid, write, callback) => this.run(callback, () => this.table.patch(sid, write)),
  };

  /** Extends the row's expiry and the stored `cookie.expires` in one `UPDATE` (see SessionTable.touch). */
  override touch(sid: string, session: SessionData, callback?: Callback): void {
    if (this.options.disableTouch) {
      callback?.();
      return;
    }
    this.run(callback, () => this.table.touch(sid, session));
  }

  override all(callback: Callback<Record<string, SessionData>>): void {
    this.run(callback, () => this.table.all());
  }

  override length(callback: Callback<number>): void {
    this.run(callback, () => this.table.count());
  }

  override clear(callback?: Callback): void {
    this.run(callback, () => this.table.clear());
  }

  protected override refuse(): Error | undefined {
    return this.closed ? new Error('The PostgreSQL session store was closed') : undefined;
  }

  private async build(): Promise<PgSimpleStore> {
    const packages = ['pg@8', 'connect-pg-simple@10'];
    const { default: connectPgSimple } = await loadOptional(
      () => import('connect-pg-simple'),
      'postgresStore()',
      packages,
    );
    let pool = this.options.pool;
    if (!pool) {
      const { default: pg } = await loadOptional(() => import('pg'), 'postgresStore()', packages);
      const extra = (this.options as PostgresUrlStoreOptions).poolOptions ?? {};
      const created = new pg.Pool({
        connectionTimeoutMillis: 5_000,
        ...extra,
        connectionString: this.options.connectionString,
      });
      // An idle connection that breaks (server restart) is reported here; without a listener it would crash the process.
      created.on('error', (err: Error) => this.logger.warn(`PostgreSQL connection error: ${err.message}`));
      pool = this.db = created as unknown as PgPoolLike;
    }
    const PGStore = connectPgSimple(expressSession);
    const seconds = (ms: number | false | undefined): number | false | undefined =>
      typeof ms === 'number' ? Math.ceil(ms / 1000) : ms;
    return new PGStore({
      pool: pool as never,
      tableName: this.options.tableName,
      schemaName: this.options.schemaName,
      // The wrapper creates the table: connect-pg-simple would keep a failed first attempt failing forever.
      createTableIfMissing: false,
      ttl: seconds(this.options.ttl) as number | undefined,
      pruneSessionInterval: seconds(this.options.pruneInterval),
      disableTouch: this.options.disableTouch,
      errorLog: (...args: unknown[]) =>
        this.logger.warn(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ')),
    });
  }

  /** Runs `use` once the store is loaded and its table exists. */
  private afterTable(callback: Callback<any> | undefined, use: (store: PgSimpleStore) => void): void {
    this.withStore(callback, (store) => {
      const table = this.ensureTable();
      if (!table) return use(store);
      table.then(
        () => this.withStore(callback, use),
        (err: unknown) => callback?.(err),
      );
    });
  }

  /** Creates the table once; undefined when it is known to exist (or creation is off). */
  private ensureTable(): Promise<void> | undefined {
    if (this.tableExists || this.options.createTableIfMissing === false) return undefined;
    const index = `"IDX_${(this.options.tableName ?? 'session').replaceAll('"', '""')}_expire"`;
    this.creating ??= this.table.create(index).then(
      () => {
        this.tableExists = true;
      },
      (err: unknown) => {
        // Forget the failure so the next call tries again (the database may be back by then).
        this.creating = undefined;
        throw err;
      },
    );
    return this.creating;
  }

  private index?: SessionIndex;

  /** The per-user index of logged-in sessions (internal; see PostgresIndex). */
  get [SESSION_INDEX](): SessionIndex {
    this.index ??= postgresIndex(
      this.options,
      async () => {
        await this.whenLoaded();
        return (text, values) => this.pool!.query(text, values);
      },
      (work) => inTransaction(this.pool, work),
    );
    return this.index;
  }

  /** Runs `work` once the table exists, and hands its outcome to the callback. */
  private run<T>(callback: Callback<T> | undefined, work: () => Promise<T>): void {
    this.afterTable(callback, () => toCallback(work(), callback));
  }
}

/**
 * A PostgreSQL session store for `session.store`, built on `connect-pg-simple@10` and `pg@8` (optional peer
 * dependencies, loaded on first use: `npm install pg connect-pg-simple`). The table is created on first use.
 *
 * - `postgresStore({ connectionString })`: the store opens a pool, and `app.close()` ends it.
 * - `postgresStore({ pool })`: the store uses your pool and leaves it open.
 *
 * @example
 * SessionModule.forRoot({ session: { secret, store: postgresStore({ connectionString: process.env.DATABASE_URL! }) } })
 */
export function postgresStore(options: PostgresStoreOptions): PostgresSessionStore {
  const store = new PostgresSessionStore(options);
  ownStore(store, () => store.close());
  return store;
}
