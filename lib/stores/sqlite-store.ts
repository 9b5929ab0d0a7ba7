import { Store } from 'express-session';
import type { SessionData } from 'express-session';
import type { SqliteStoreOptions } from '../interfaces/sqlite-store-options.interface.js';
import { CHANGED_KEY_WRITES, cookieExpiry, recordJson } from './changed-key-writes.js';
import type { ChangedKeyWrites, RecordWrite } from './changed-key-writes.js';
import { ownStore } from './owned-stores.js';
import { ownValue, serialise } from './session-record.js';
import type { Callback } from './store-call.js';

const DEFAULT_TTL = 86_400_000;
const DEFAULT_PRUNE_INTERVAL = 900_000;
/** Most prepared change statements kept (one per count of keys set and removed). */
const MAX_CACHED_STATEMENTS = 64;

/** The parts of `node:sqlite` the store uses (typed here: Node 20's types do not have it). */
interface StatementSync {
  run(...values: unknown[]): { changes: number | bigint };
  get(...values: unknown[]): Record<string, unknown> | undefined;
  all(...values: unknown[]): Record<string, unknown>[];
}
interface DatabaseSync {
  exec(sql: string): void;
  prepare(sql: string): StatementSync;
  close(): void;
}
interface SqliteModule {
  DatabaseSync: new (path: string) => DatabaseSync;
}

/**
 * A session store in an SQLite database, on Node's built-in `node:sqlite` (Node.js 22.5 or later; no
 * dependency to install): sessions persist across restarts of a single-machine app. Every call is synchronous
 * and in-process; a request's changes are applied to the stored JSON in one `UPDATE` (`json_set`,
 * `json_remove`), only if the session still exists. Made by {@link sqliteStore}.
 */
export class SqliteSessionStore extends Store {
  private readonly db: DatabaseSync;
  private readonly table: string;
  private readonly ttl: number;
  private readonly pruner?: NodeJS.Timeout;
  private readonly statements = new Map<string, StatementSync>();
  private closed = false;

  constructor(private readonly options: SqliteStoreOptions) {
    super();
    const sqlite = loadSqlite();
    if (typeof options?.path !== 'string' || options.path === '') {
      throw new TypeError("sqliteStore(): path must be the database file's path (or ':memory:')");
    }
    for (const key of ['ttl', 'pruneInterval'] as const) {
      const value = options[key];
      if (value !== undefined && value !== false && !(typeof value === 'number' && value > 0)) {
        throw new TypeError(`sqliteStore(): ${key} must be a number of milliseconds above 0, not ${String(value)}`);
      }
    }
    this.ttl = options.ttl ?? DEFAULT_TTL;
    this.table = `"${(options.tableName ?? 'sessions').replaceAll('"', '""')}"`;
    this.db = new sqlite.DatabaseSync(options.path);
    // WAL lets readers in other processes go on while one writes; a writer waits for the lock, never fails at once.
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;');
    const index = `"${(options.tableName ?? 'sessions').replaceAll('"', '""')}_expire"`;
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS ${this.table} (sid TEXT PRIMARY KEY, sess TEXT NOT NULL, expire INTEGER NOT NULL);` +
        ` CREATE INDEX IF NOT EXISTS ${index} ON ${this.table} (expire);`,
    );
    const prune = options.pruneInterval ?? DEFAULT_PRUNE_INTERVAL;
    if (prune !== false) {
      this.pruner = setInterval(() => this.prune(), prune);
      this.pruner.unref();
    }
  }

  override get(sid: string, callback: Callback<SessionData | null>): void {
    this.run(callback, () => {
      const row = this.statement(`SELECT sess FROM ${this.table} WHERE sid = ? AND expire > ?`).get(sid, Date.now());
      return row === undefined ? null : (parseOr(row.sess as string) as SessionData);
    });
  }

  override set(sid: string, session: SessionData, callback?: Callback): void {
    this.run(callback, () =>
      this.replaceRow(sid, {
        set: serialise(session),
        unset: [],
        cookie: JSON.stringify(session.cookie),
        expires: cookieExpiry(session.cookie),
      }),
    );
  }

  /** Extends the row's expiry and the stored cookie (its `expires`) in one `UPDATE`. */
  override touch(sid: string, session: SessionData, callback?: Callback): void {
    this.run(callback, () => {
      this.statement(
        `UPDATE ${this.table} SET expire = ?, sess = json_set(sess, '$.cookie', json(?)) WHERE sid = ?`,
      ).run(this.expireAt(cookieExpiry(session.cookie)), JSON.stringify(session.cookie), sid);
    });
  }

  override destroy(sid: string, callback?: Callback): void {
    this.run(callback, () => {
      this.statement(`DELETE FROM ${this.table} WHERE sid = ?`).run(sid);
    });
  }

  override all(callback: Callback<Record<string, SessionData>>): void {
    this.run(callback, () => {
      const sessions: Record<string, SessionData> = {};
      const rows = this.statement(`SELECT sid, sess FROM ${this.table} WHERE expire > ?`).all(Date.now());
      for (const row of rows) ownValue(sessions, row.sid as string, parseOr(row.sess as string));
      return sessions;
    });
  }

  override length(callback: Callback<number>): void {
    this.run(callback, () => {
      const row = this.statement(`SELECT count(*) AS n FROM ${this.table} WHERE expire > ?`).get(Date.now());
      return Number(row?.n ?? 0);
    });
  }

  override clear(callback?: Callback): void {
    this.run(callback, () => {
      this.statement(`DELETE FROM ${this.table}`).run();
    });
  }

  /** Changed-key writes (internal): one statement each. */
  readonly [CHANGED_KEY_WRITES]: ChangedKeyWrites = {
    owner: SqliteSessionStore,
    replace: (sid, write, callback) => this.run(callback, () => this.replaceRow(sid, write)),
    patch: (sid, write, callback) => this.run(callback, () => this.patchRow(sid, write)),
  };

  /** Removes the rows of expired sessions now (the store also does it every `pruneInterval`). */
  prune(): void {
    if (this.closed) return;
    this.statement(`DELETE FROM ${this.table} WHERE expire <= ?`).run(Date.now());
  }

  /** Stops pruning and closes the database. `app.close()` calls this for stores made by {@link sqliteStore}. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pruner);
    this.db.close();
  }

  private replaceRow(sid: string, write: RecordWrite): void {
    this.statement(
      `INSERT INTO ${this.table} (sid, sess, expire) VALUES (?, ?, ?) ` +
        'ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire',
    ).run(sid, recordJson(write), this.expireAt(write.expires));
  }

  /** One `UPDATE`: `json_set` for each key set and the cookie, `json_remove` for each key removed, the expiry. */
  private patchRow(sid: string, write: RecordWrite): boolean {
    const values: unknown[] = ['$.cookie', write.cookie];
    for (const [key, json] of write.set) if (key !== 'cookie') values.push(pathOf(key), json);
    const sets = values.length / 2;
    for (const key of write.unset) values.push(pathOf(key));
    const setters = ', ?, json(?)'.repeat(sets);
    const removals = ', ?'.repeat(write.unset.length);
    const sql =
      `UPDATE ${this.table} SET sess = json_remove(json_set(sess${setters})${removals}), expire = ? ` +
      'WHERE sid = ? AND expire > ?';
    const result = this.statement(sql).run(...values, this.expireAt(write.expires), sid, Date.now());
    return Number(result.changes) === 1;
  }

  private expireAt(expires: number | undefined): number {
    return expires ?? Date.now() + this.ttl;
  }

  private statement(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private run<T>(callback: Callback<T> | undefined, work: () => T): void {
    let result: T;
    try {
      if (this.closed) throw new Error('The SQLite session store was closed');
      result = work();
    } catch (err) {
      callback?.(err);
      return;
    }
    callback?.(null, result);
  }
}

/** `node:sqlite`, or an error that says which Node.js has it. */
function loadSqlite(): SqliteModule {
  const sqlite = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.('node:sqlite');
  if (!sqlite) {
    throw new Error(
      `sqliteStore() needs node:sqlite, built into Node.js 22.5 and later (without a flag from 22.13); ` +
        `this is Node.js ${process.versions.node}. Upgrade Node.js, or use the embedded store, redisStore() or postgresStore().`,
    );
  }
  return sqlite as SqliteModule;
}

/** The JSON path of a top-level key, quoted so that any key is one label. */
function pathOf(key: string): string {
  return `$."${key.replace(/["\\]/g, '\\$&')}"`;
}

/** The parsed record, or its text when it is not JSON (the module then treats it as corrupt and replaces it). */
function parseOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * A session store in an SQLite file for `session.store`, on Node's built-in `node:sqlite` (Node.js 22.5 or
 * later; nothing to install). Sessions survive restarts; one machine only (use Redis or PostgreSQL for
 * several). The table is created on first use; `app.close()` closes the database.
 *
 * @example
 * SessionModule.forRoot({ session: { secret, store: sqliteStore({ path: 'data/sessions.db' }) } })
 */
export function sqliteStore(options: SqliteStoreOptions): SqliteSessionStore {
  const store = new SqliteSessionStore(options);
  ownStore(store, () => store.close());
  return store;
}
