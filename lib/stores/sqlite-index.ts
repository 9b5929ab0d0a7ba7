import { overLimit } from '../controls/session-index.js';
import type { AddOutcome, IndexEntry, LimitMode, SessionIndex } from '../controls/session-index.js';
import { entryOf, ROW_COLUMNS, rowValues } from '../controls/index-rows.js';
import type { IndexRow } from '../controls/index-rows.js';
import type { DatabaseSync } from './node-sqlite.js';

/**
 * sqliteStore()'s per-user index: a table beside the sessions' (`<table>_users`), a row per logged-in session.
 * A login is one `BEGIN IMMEDIATE` transaction, which holds the database's write lock, so parallel logins of
 * one user, from this process or another on the same file, are counted one after another. Expired rows of
 * every user are deleted at each login and skipped by every read (internal).
 */
export class SqliteIndex implements SessionIndex {
  private created = false;

  constructor(
    private readonly database: () => DatabaseSync,
    private readonly table: string,
    private readonly userIndex: string,
    private readonly untilIndex: string,
  ) {}

  add(entry: IndexEntry, limit: number | undefined, mode: LimitMode): Promise<AddOutcome> {
    return this.run((db) => {
      db.exec('BEGIN IMMEDIATE');
      try {
        const now = Date.now();
        db.prepare(`DELETE FROM ${this.table} WHERE keep_until <= ?`).run(now);
        const rows = db
          .prepare(`SELECT ${ROW_COLUMNS} FROM ${this.table} WHERE user_key = ? AND handle <> ?`)
          .all(String(entry.userId), entry.handle) as unknown as IndexRow[];
        const evicted = overLimit(rows.map(entryOf), limit, mode);
        if (evicted === 'refuse') {
          db.exec('COMMIT');
          return { refused: true, evicted: [] };
        }
        const remove = db.prepare(`DELETE FROM ${this.table} WHERE handle = ?`);
        for (const gone of evicted) remove.run(gone.handle);
        db.prepare(
          `INSERT OR IGNORE INTO ${this.table} (handle, user_key, entry, last_seen, expires_at, keep_until) VALUES (?, ?, ?, ?, ?, ?)`,
        ).run(...rowValues(entry));
        db.exec('COMMIT');
        return { refused: false, evicted };
      } catch (err) {
        db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  seen(
    _userKey: string,
    handle: string,
    lastSeenAt: number,
    expiresAt: number | null,
    keepUntil: number,
  ): Promise<void> {
    return this.run((db) => {
      db.prepare(`UPDATE ${this.table} SET last_seen = ?, expires_at = ?, keep_until = ? WHERE handle = ?`).run(
        lastSeenAt,
        expiresAt,
        keepUntil,
        handle,
      );
    });
  }

  list(userKey: string): Promise<IndexEntry[]> {
    return this.run((db) => {
      const rows = db
        .prepare(`SELECT ${ROW_COLUMNS} FROM ${this.table} WHERE user_key = ? AND keep_until > ?`)
        .all(userKey, Date.now()) as unknown as IndexRow[];
      return rows.map(entryOf);
    });
  }

  remove(userKey: string, which: { handles: string[] } | { except?: string }): Promise<IndexEntry[]> {
    return this.run((db) => {
      const rows =
        'handles' in which
          ? which.handles.flatMap(
              (handle) =>
                db
                  .prepare(`DELETE FROM ${this.table} WHERE user_key = ? AND handle = ? RETURNING ${ROW_COLUMNS}`)
                  .all(userKey, handle) as unknown as IndexRow[],
            )
          : (db
              .prepare(`DELETE FROM ${this.table} WHERE user_key = ? AND handle IS NOT ? RETURNING ${ROW_COLUMNS}`)
              .all(userKey, which.except ?? null) as unknown as IndexRow[]);
      const now = Date.now();
      return rows.map(entryOf).filter((e) => e.keepUntil > now);
    });
  }

  /** Runs `work` on the database (its table made on first use), as a promise. */
  private run<T>(work: (db: DatabaseSync) => T): Promise<T> {
    try {
      const db = this.database();
      if (!this.created) {
        db.exec(
          `CREATE TABLE IF NOT EXISTS ${this.table} (handle TEXT PRIMARY KEY, user_key TEXT NOT NULL, ` +
            'entry TEXT NOT NULL, last_seen INTEGER NOT NULL, expires_at INTEGER, keep_until INTEGER NOT NULL);' +
            ` CREATE INDEX IF NOT EXISTS ${this.userIndex} ON ${this.table} (user_key);` +
            ` CREATE INDEX IF NOT EXISTS ${this.untilIndex} ON ${this.table} (keep_until);`,
        );
        this.created = true;
      }
      return Promise.resolve(work(db));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

/** The index of an sqliteStore() whose sessions are in `tableName` (its table: `<tableName>_users`). */
export function sqliteIndex(database: () => DatabaseSync, tableName: string): SqliteIndex {
  const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`;
  const table = `${tableName}_users`;
  return new SqliteIndex(database, quote(table), quote(`${table}_user`), quote(`${table}_until`));
}
