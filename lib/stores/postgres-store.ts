import expressSession from 'express-session';
import type { SessionData, Store } from 'express-session';
import { ownStore } from '../session.options.js';
import { DeferredStore, loadOptional } from './deferred-store.js';
import { CONDITIONAL } from './store-call.js';
import type { ConditionalStore, SetIfResult } from './store-call.js';
import type {
  PgPoolLike,
  PostgresStoreOptions,
  PostgresUrlStoreOptions,
} from '../interfaces/postgres-store-options.interface.js';

type Callback<T = void> = (err?: unknown, value?: T) => void;

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
  private readonly table: string;

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
    this.table = (options.schemaName ? `${quote(options.schemaName)}.` : '') + quote(tableName);
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
    this.afterTable(callback, (store) => store.get(sid, callback));
  }

  override set(sid: string, session: SessionData, callback?: Callback): void {
    this.afterTable(callback, (store) => store.set(sid, session, callback));
  }

  override destroy(sid: string, callback?: Callback): void {
    this.afterTable(callback, (store) => store.destroy(sid, callback));
  }

  /**
   * Conditional writes (internal): a session's revision is its row's `sess` as stored text (a `json` column
   * keeps the text as written). `setIf` is one `UPDATE ... WHERE sess::text = <revision>`, which PostgreSQL
   * re-checks against a row another transaction changed meanwhile; only when it updates nothing does a
   * `SELECT` tell a changed session (merged and tried again) from one that is gone (not written back).
   */
  readonly [CONDITIONAL]: ConditionalStore[typeof CONDITIONAL] = {
    replaces: { get: PostgresSessionStore.prototype.get, set: PostgresSessionStore.prototype.set },
    get: (sid, callback) => this.readRevision(sid, callback),
    setIf: (sid, record, revision, callback) => {
      const json = JSON.stringify(record);
      this.sql(
        `UPDATE ${this.table} SET sess = $2::json, expire = to_timestamp($3) ` +
          'WHERE sid = $1 AND sess::text = $4 AND expire >= to_timestamp($5)',
        [sid, json, this.expireSeconds(record as SessionData), revision, liveAfter()],
        (_rows, count) => count,
        (err, updated) => {
          if (err) return callback(err);
          if (updated === 1) return callback(null, { status: 'written', revision: json });
          this.readRevision(sid, (readErr, found) => {
            if (readErr) return callback(readErr);
            const result: SetIfResult = found
              ? { status: 'changed', latest: found.record, revision: found.revision }
              : { status: 'gone' };
            callback(null, result);
          });
        },
      );
    },
  };

  /**
   * Extends the row's expiry and, in the same statement, the `cookie.expires` stored in the session
   * (connect-pg-simple's own touch updates the column only, so a session kept alive by touches would
   * read back as expired at its last save's expiry). Nothing else in the row changes.
   */
  override touch(sid: string, session: SessionData, callback?: Callback): void {
    if (this.options.disableTouch) {
      callback?.();
      return;
    }
    const expires = (session.cookie as { expires?: Date | string | null } | undefined)?.expires;
    const values: unknown[] = [this.expireSeconds(session), sid];
    let text = `UPDATE ${this.table} SET expire = to_timestamp($1)`;
    if (expires) {
      text += `, sess = jsonb_set(sess::jsonb, '{cookie,expires}', to_jsonb($3::text))::json`;
      values.push(new Date(expires).toISOString());
    }
    this.sql(text + ' WHERE sid = $2', values, () => undefined, callback);
  }

  override all(callback: Callback<Record<string, SessionData>>): void {
    this.sql(
      'SELECT sid, sess FROM ' + this.table + ' WHERE expire >= to_timestamp($1)',
      [nowSeconds()],
      (rows) => {
        const sessions: Record<string, SessionData> = {};
        for (const row of rows) sessions[row.sid as string] = parseSess(row.sess);
        return sessions;
      },
      callback,
    );
  }

  override length(callback: Callback<number>): void {
    this.sql(
      'SELECT count(*)::int AS n FROM ' + this.table + ' WHERE expire >= to_timestamp($1)',
      [nowSeconds()],
      (rows) => rows[0].n as number,
      callback,
    );
  }

  override clear(callback?: Callback): void {
    this.sql('DELETE FROM ' + this.table, [], () => undefined, callback);
  }

  /** The row's expiry in epoch seconds: the cookie's, else now + `ttl` (as connect-pg-simple computes it). */
  private expireSeconds(session: SessionData): number {
    const expires = (session.cookie as { expires?: Date | string | null } | undefined)?.expires;
    const at = expires ? new Date(expires).getTime() : Date.now() + (this.options.ttl ?? DEFAULT_TTL);
    return Math.ceil(at / 1000);
  }

  /** A live row's session and its stored text. */
  private readRevision(sid: string, callback: Callback<{ record: unknown; revision: string } | null>): void {
    this.sql(
      `SELECT sess::text AS sess FROM ${this.table} WHERE sid = $1 AND expire >= to_timestamp($2)`,
      [sid, liveAfter()],
      (rows) =>
        rows.length === 0 ? null : { record: JSON.parse(rows[0].sess as string), revision: rows[0].sess as string },
      callback,
    );
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
    }) as unknown as PgSimpleStore;
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
    this.creating ??= this.createTable().then(
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

  private async createTable(): Promise<void> {
    const pool = this.pool!;
    const index = `"IDX_${(this.options.tableName ?? 'session').replaceAll('"', '""')}_expire"`;
    try {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${this.table} (sid varchar NOT NULL PRIMARY KEY, sess json NOT NULL, expire timestamp(6) NOT NULL);` +
          ` CREATE INDEX IF NOT EXISTS ${index} ON ${this.table} (expire);`,
      );
    } catch (err) {
      // Two instances creating the table at the same moment: the loser's error means the table exists.
      const code = (err as { code?: string }).code;
      if (code !== '23505' && code !== '42P07') throw err;
    }
  }

  private sql<T>(
    text: string,
    values: unknown[],
    map: (rows: any[], count: number) => T,
    callback: Callback<T> | undefined,
  ): void {
    this.afterTable(callback, () => {
      this.pool!.query(text, values).then(
        (result) => {
          let value: T;
          try {
            value = map(result.rows, (result as { rowCount?: number | null }).rowCount ?? 0);
          } catch (err) {
            return callback?.(err);
          }
          callback?.(null, value);
        },
        (err: unknown) => callback?.(err),
      );
    });
  }
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The second from which a row counts as live on a read: rounded up, as connect-pg-simple's own `get` does. */
function liveAfter(): number {
  return Math.ceil(Date.now() / 1000);
}

function parseSess(value: unknown): SessionData {
  return (typeof value === 'string' ? JSON.parse(value) : value) as SessionData;
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
