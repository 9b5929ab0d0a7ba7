import { Store } from 'express-session';
import type { SessionData } from 'express-session';
import type { SqliteStoreOptions } from '../interfaces/sqlite-store-options.interface.js';
import { CHANGED_KEY_WRITES, cookieExpiry, recordJson } from './changed-key-writes.js';
import type { ChangedKeyWrites, RecordWrite } from './changed-key-writes.js';
import { loadSqlite } from './node-sqlite.js';
import type { DatabaseSync, StatementSync } from './node-sqlite.js';
import { ownStore } from './owned-stores.js';
import { ownValue } from './session-record.js';
import { applyWrite, IS_RECORD, parseOr, patchStatement } from './sqlite-json.js';
import { SESSION_INDEX } from '../controls/session-index.js';
import type { SessionIndex } from '../controls/session-index.js';
import { sqliteIndex } from './sqlite-index.js';
import type { Callback } from './store-call.js';

const DEFAULT_TTL = 86_400_000;
const DEFAULT_PRUNE_INTERVAL = 900_000;
/** The longest delay a Node.js timer takes (a longer one would fire after 1 ms). */
const MAX_TIMER = 2 ** 31 - 1;
/** Most prepared change statements kept (one per count of keys set and removed). */
const MAX_CACHED_STATEMENTS = 64;

/**
 * A session store in an SQLite database, on Node's built-in `node:sqlite` (Node.js 22.5 or later; no
 * dependency to install): sessions persist across restarts of a single-machine app. Every call is synchronous
 * and in-process; a request's changes are applied to the stored JSON in one `UPDATE` (`json_set`,
 * `json_remove`), only if the session still exists. Made by {@link sqliteStore}.
 */
export class SqliteSessionStore extends Store {
  private readonly db: DatabaseSync;
  private readonly table: string;
  private readonly tableName: string;
  private readonly ttl: number;
  private readonly pruner?: NodeJS.Timeout;
  private readonly statements = new Map<string, StatementSync>();
  private closed = false;

  constructor(options: SqliteStoreOptions) {
    super();
    const sqlite = loadSqlite();
    if (typeof options?.path !== 'string' || options.path === '') {
      throw new TypeError("sqliteStore(): path must be the database file's path (or ':memory:')");
    }
    const tableName = options.tableName ?? 'sessions';
    if (typeof tableName !== 'string' || tableName === '') {
      throw new TypeError('sqliteStore(): tableName must be a non-empty string');
    }
    for (const key of ['ttl', 'pruneInterval'] as const) {
      const value = options[key];
      if (value !== undefined && value !== false && !(typeof value === 'number' && value > 0 && value < Infinity)) {
        throw new TypeError(`sqliteStore(): ${key} must be a number of milliseconds above 0, not ${String(value)}`);
      }
    }
    this.ttl = options.ttl ?? DEFAULT_TTL;
    const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`;
    this.table = quote(tableName);
    this.tableName = tableName;
    let db: DatabaseSync | undefined;
    try {
      db = new sqlite.DatabaseSync(options.path);
      // busy_timeout first, so that even switching to WAL waits for another process's lock instead of failing.
      // WAL lets readers go on while one process writes; NORMAL sync in WAL never corrupts, at worst a power
      // cut loses the last writes.
      db.exec('PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
      db.exec(
        `CREATE TABLE IF NOT EXISTS ${this.table} (sid TEXT PRIMARY KEY, sess TEXT NOT NULL, expire INTEGER NOT NULL);` +
          ` CREATE INDEX IF NOT EXISTS ${quote(`${tableName}_expire`)} ON ${this.table} (expire);`,
      );
    } catch (err) {
      db?.close();
      throw new Error(`sqliteStore(): cannot use ${options.path}: ${(err as Error).message}`, { cause: err });
    }
    this.db = db;
    const prune = options.pruneInterval ?? DEFAULT_PRUNE_INTERVAL;
    if (prune !== false) {
      this.pruner = setInterval(() => this.pruneQuietly(), Math.min(prune, MAX_TIMER));
      this.pruner.unref();
    }
  }

  override get(sid: string, callback: Callback<SessionData | null>): void {
    this.run(callback, () => {
      const row = this.statement(`SELECT sess FROM ${this.table} WHERE sid = ? AND expire > ?`).get(sid, Date.now());
      return row === undefined ? null : (parseOr(row.sess as string) as SessionData);
    });
  }

  /** Stores the record as given (as JSON), whatever it holds. */
  override set(sid: string, session: SessionData, callback?: Callback): void {
    this.run(callback, () => this.upsert(sid, JSON.stringify(session), cookieExpiry(session?.cookie)));
  }

  /** Extends the expiry of a live row and its stored cookie (its `expires`) in one `UPDATE`. */
  override touch(sid: string, session: SessionData, callback?: Callback): void {
    this.run(callback, () => {
      this.statement(
        `UPDATE ${this.table} SET expire = ?, sess = json_set(sess, '$.cookie', json(?)) ` +
          `WHERE sid = ? AND expire > ? AND ${IS_RECORD}`,
      ).run(this.expireAt(cookieExpiry(session.cookie)), JSON.stringify(session.cookie), sid, Date.now());
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
    replace: (sid, write, callback) => this.run(callback, () => this.upsert(sid, recordJson(write), write.expires)),
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
    this.statements.clear();
    this.db.close();
  }

  /** Writes a whole record, replacing any under this id. */
  private upsert(sid: string, json: string, expires: number | undefined): void {
    this.statement(
      `INSERT INTO ${this.table} (sid, sess, expire) VALUES (?, ?, ?) ` +
        'ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire',
    ).run(sid, json, this.expireAt(expires));
  }

  /** Applies a change to a live row in one `UPDATE` (see `patchStatement`); true when there was one. */
  private patchRow(sid: string, write: RecordWrite): boolean {
    const patch = patchStatement(this.table, write);
    if (!patch) return this.patchInTransaction(sid, write);
    const { changes } = this.statement(patch.sql).run(...patch.values, this.expireAt(write.expires), sid, Date.now());
    // Not updated: the session is gone, or a key of its record holds a NUL (which the UPDATE leaves alone).
    return Number(changes) === 1 || this.patchInTransaction(sid, write);
  }

  /** The change applied in JavaScript to the live row, read and written back in one transaction. */
  private patchInTransaction(sid: string, write: RecordWrite): boolean {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const sql = `SELECT sess FROM ${this.table} WHERE sid = ? AND expire > ? AND ${IS_RECORD}`;
      const row = this.statement(sql).get(sid, Date.now());
      if (row) this.upsert(sid, applyWrite(row.sess as string, write), write.expires);
      this.db.exec('COMMIT');
      return row !== undefined;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
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

  /** The timer's prune: a failure (the file locked past busy_timeout) is reported, never thrown; the next one retries. */
  private index?: SessionIndex;

  /** The per-user index of logged-in sessions (internal; see SqliteIndex). */
  get [SESSION_INDEX](): SessionIndex {
    this.index ??= sqliteIndex(() => {
      if (this.closed) throw new Error('The SQLite session store was closed');
      return this.db;
    }, this.tableName);
    return this.index;
  }

  private pruneQuietly(): void {
    try {
      this.prune();
    } catch (err) {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    }
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

/**
 * A session store in an SQLite file for `session.store`, on Node's built-in `node:sqlite` (Node.js 22.5 or
 * later; nothing to install). Sessions survive restarts; one machine only (use Redis or PostgreSQL for
 * several). The table is created at once; `app.close()` closes the database. Throws at once on an older
 * Node.js, saying which version it needs.
 *
 * @example
 * SessionModule.forRoot({ session: { secret, store: sqliteStore({ path: 'data/sessions.db' }) } })
 */
export function sqliteStore(options: SqliteStoreOptions): SqliteSessionStore {
  const store = new SqliteSessionStore(options);
  ownStore(store, () => store.close());
  return store;
}
