import { overLimit } from '../controls/session-index.js';
import type { AddOutcome, IndexEntry, LimitMode, SessionIndex } from '../controls/session-index.js';
import { entryOf, ROW_COLUMNS, rowValues } from '../controls/index-rows.js';
import type { IndexRow } from '../controls/index-rows.js';

type Query = (text: string, values?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

/**
 * postgresStore()'s per-user index: a table beside the sessions' (`<table>_users`, created on first use), a row
 * per logged-in session. A login runs in one transaction that first takes an advisory lock on its user, so
 * parallel logins of one user are counted one after another; expired rows of every user are deleted at each
 * login and skipped by every read (internal).
 */
export class PostgresIndex implements SessionIndex {
  private creating?: Promise<void>;

  constructor(
    private readonly ready: () => Promise<Query>,
    private readonly transaction: <T>(work: (query: Query) => Promise<T>) => Promise<T>,
    private readonly table: string,
    private readonly lockKey: string,
  ) {}

  async add(entry: IndexEntry, limit: number | undefined, mode: LimitMode): Promise<AddOutcome> {
    await this.created();
    const userKey = String(entry.userId);
    return this.transaction(async (query) => {
      await query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${this.lockKey}:${userKey}`]);
      const now = Date.now();
      await query(`DELETE FROM ${this.table} WHERE keep_until <= $1`, [now]);
      const { rows } = await query(`SELECT ${ROW_COLUMNS} FROM ${this.table} WHERE user_key = $1 AND handle <> $2`, [
        userKey,
        entry.handle,
      ]);
      const evicted = overLimit((rows as unknown as IndexRow[]).map(entryOf), limit, mode);
      if (evicted === 'refuse') return { refused: true, evicted: [] };
      if (evicted.length > 0) {
        await query(`DELETE FROM ${this.table} WHERE handle = ANY($1)`, [evicted.map((e) => e.handle)]);
      }
      await query(
        `INSERT INTO ${this.table} (handle, user_key, entry, last_seen, expires_at, keep_until) VALUES ($1, $2, $3, $4, $5, $6)` +
          ' ON CONFLICT (handle) DO NOTHING',
        rowValues(entry),
      );
      return { refused: false, evicted };
    });
  }

  async seen(
    userKey: string,
    handle: string,
    lastSeenAt: number,
    expiresAt: number | null,
    keepUntil: number,
  ): Promise<void> {
    await this.created();
    const query = await this.ready();
    await query(`UPDATE ${this.table} SET last_seen = $2, expires_at = $3, keep_until = $4 WHERE handle = $1`, [
      handle,
      lastSeenAt,
      expiresAt,
      keepUntil,
    ]);
  }

  async list(userKey: string): Promise<IndexEntry[]> {
    await this.created();
    const query = await this.ready();
    const { rows } = await query(`SELECT ${ROW_COLUMNS} FROM ${this.table} WHERE user_key = $1 AND keep_until > $2`, [
      userKey,
      Date.now(),
    ]);
    return (rows as unknown as IndexRow[]).map(entryOf);
  }

  async remove(userKey: string, which: { handles: string[] } | { except?: string }): Promise<IndexEntry[]> {
    await this.created();
    const query = await this.ready();
    const { rows } =
      'handles' in which
        ? await query(`DELETE FROM ${this.table} WHERE user_key = $1 AND handle = ANY($2) RETURNING ${ROW_COLUMNS}`, [
            userKey,
            which.handles,
          ])
        : await query(
            `DELETE FROM ${this.table} WHERE user_key = $1 AND handle IS DISTINCT FROM $2 RETURNING ${ROW_COLUMNS}`,
            [userKey, which.except ?? null],
          );
    const now = Date.now();
    return (rows as unknown as IndexRow[]).map(entryOf).filter((e) => e.keepUntil > now);
  }

  /** Creates the table once per process (a concurrent creation by another instance is not an error). */
  private created(): Promise<void> {
    this.creating ??= this.ready()
      .then(() =>
        this.transaction(async (q) => {
          await q('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${this.lockKey}:create`]);
          await q(
            `CREATE TABLE IF NOT EXISTS ${this.table} (handle text PRIMARY KEY, user_key text NOT NULL, ` +
              'entry text NOT NULL, last_seen bigint NOT NULL, expires_at bigint, keep_until bigint NOT NULL)',
          );
          await q(`CREATE INDEX IF NOT EXISTS ${indexName(this.table, 'user')} ON ${this.table} (user_key)`);
          await q(`CREATE INDEX IF NOT EXISTS ${indexName(this.table, 'until')} ON ${this.table} (keep_until)`);
        }),
      )
      .catch((err: unknown) => {
        this.creating = undefined;
        throw err;
      });
    return this.creating;
  }
}

/** An index's name from its table's quoted name (schema dropped: an index lives in its table's schema). */
function indexName(table: string, suffix: string): string {
  const bare = table.slice(table.lastIndexOf('"', table.length - 2) + 1, -1);
  return `"${bare}_${suffix}"`;
}

/** The index of a postgresStore() with these table settings (its table: `<tableName>_users`). */
export function postgresIndex(
  settings: { tableName?: string; schemaName?: string },
  ready: () => Promise<Query>,
  transaction: <T>(work: (query: Query) => Promise<T>) => Promise<T>,
): PostgresIndex {
  const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`;
  const table = `${settings.tableName ?? 'session'}_users`;
  const name = (settings.schemaName ? `${quote(settings.schemaName)}.` : '') + quote(table);
  return new PostgresIndex(ready, transaction, name, `${settings.schemaName ?? ''}.${table}`);
}
