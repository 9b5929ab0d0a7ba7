/** The parts of a `pg@8` `Pool` the store uses. Typed here so that this package's types never need `pg`. */
export interface PgPoolLike {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount?: number | null }>;
  end(): Promise<void>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** A connection of its own, for the rare write that needs a transaction (`pg.Pool#connect`). */
  connect?(): Promise<PgPoolClientLike>;
}

/** The parts of a `pg@8` pool client the store uses. */
export interface PgPoolClientLike {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount?: number | null }>;
  release(err?: Error | boolean): void;
}

/** Options of {@link postgresStore} that do not depend on where the pool comes from. */
export interface PostgresStoreSettings {
  /**
   * Table of the sessions: `sid varchar primary key, sess json, expire timestamp`, indexed on `expire`.
   * @default 'session'
   */
  tableName?: string;
  /**
   * Schema of the table (it must exist).
   * @default the connection's search_path (normally `public`)
   */
  schemaName?: string;
  /**
   * Create the table (and its index) on first use if it is missing. A failed attempt (database down)
   * is tried again on the next call.
   * @default true
   */
  createTableIfMissing?: boolean;
  /**
   * Lifetime in milliseconds of a session whose cookie has no `maxAge` or `expires`.
   * @default 86400000 (one day)
   */
  ttl?: number;
  /**
   * Milliseconds between deletions of expired rows (expired rows are never read in between), or `false`
   * to never delete them. The timer never keeps the process alive.
   * @default 900000 (15 minutes, randomised by ±50% so that instances spread out)
   */
  pruneInterval?: number | false;
  /**
   * Never extend a session's expiry on a read-only request. Prefer the module's `touchAfter`.
   * @default false
   */
  disableTouch?: boolean;
}

/** {@link postgresStore} connecting with a URL: the store opens a pool, and `app.close()` ends it. */
export interface PostgresUrlStoreOptions extends PostgresStoreSettings {
  /** `postgres://user:password@host:port/database`. */
  connectionString: string;
  /** More `pg.Pool` options (e.g. `{ max: 20, ssl: true }`). By default a connection attempt gives up after 5 s. */
  poolOptions?: Record<string, unknown>;
  pool?: never;
}

/** {@link postgresStore} over a pool the app made: it stays open on `app.close()`. */
export interface PostgresPoolStoreOptions extends PostgresStoreSettings {
  /** A `pg@8` `Pool`. */
  pool: PgPoolLike;
  connectionString?: never;
}

/** Options of {@link postgresStore}: a `connectionString` (the store owns the pool) or a `pool` (the app owns it). */
export type PostgresStoreOptions = PostgresUrlStoreOptions | PostgresPoolStoreOptions;
