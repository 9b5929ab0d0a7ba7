import type { SessionData } from 'express-session';
import type { PgPoolClientLike, PgPoolLike } from '../interfaces/postgres-store-options.interface.js';
import { recordJson } from './changed-key-writes.js';
import type { RecordWrite } from './changed-key-writes.js';
import { ownValue } from './session-record.js';

type Query = PgPoolLike['query'];

/**
 * The SQL postgresStore() sends itself on connect-pg-simple's table (`sid varchar primary key, sess json,
 * expire timestamp`): table creation, touch, changed-key writes, all, length and clear.
 * connect-pg-simple sends get, set and destroy. Internal.
 */
export class SessionTable {
  /**
   * @param name the table's name as written in SQL (quoted, with its schema if any)
   * @param ttl lifetime in ms of a session whose cookie has no expiry
   */
  constructor(
    private readonly query: Query,
    private readonly name: string,
    private readonly ttl: number,
    /** Runs `work` in a transaction on one connection, when the pool can give one. */
    private readonly transaction?: <T>(work: (query: Query) => Promise<T>) => Promise<T>,
  ) {}

  /** Creates the table and its index on `expire` unless they exist; `indexName` as connect-pg-simple names it. */
  async create(indexName: string): Promise<void> {
    try {
      await this.query(
        `CREATE TABLE IF NOT EXISTS ${this.name} (sid varchar NOT NULL PRIMARY KEY, sess json NOT NULL, expire timestamp(6) NOT NULL);` +
          ` CREATE INDEX IF NOT EXISTS ${indexName} ON ${this.name} (expire);`,
      );
    } catch (err) {
      // Two instances creating the table at the same moment: the loser's error means the table exists.
      const code = (err as { code?: string }).code;
      if (code !== '23505' && code !== '42P07') throw err;
    }
  }

  /**
   * Extends the row's expiry and, in the same statement, the `cookie.expires` stored in the session
   * (connect-pg-simple's own touch updates the column only, so a session kept alive by touches would
   * read back as expired at its last save's expiry). Nothing else in the row changes.
   */
  async touch(sid: string, session: SessionData): Promise<void> {
    const expires = cookieExpires(session);
    const values: unknown[] = [this.expireSeconds(session), sid];
    let text = `UPDATE ${this.name} SET expire = to_timestamp($1)`;
    if (expires) {
      text += `, sess = jsonb_set(sess::jsonb, '{cookie,expires}', to_jsonb($3::text))::json`;
      values.push(new Date(expires).toISOString());
    }
    try {
      await this.query(text + ' WHERE sid = $2', values);
    } catch (err) {
      // A session holding U+0000, which jsonb refuses: its expiry still moves, its stored cookie stays as saved.
      if (!isNulInJson(err)) throw err;
      await this.query(`UPDATE ${this.name} SET expire = to_timestamp($1) WHERE sid = $2`, values.slice(0, 2));
    }
  }

  /** Stores a whole record, replacing any row with this id: one `INSERT ... ON CONFLICT`. */
  async replace(sid: string, write: RecordWrite): Promise<void> {
    await this.query(
      `INSERT INTO ${this.name} (sid, sess, expire) VALUES ($1, $2::json, to_timestamp($3)) ` +
        'ON CONFLICT (sid) DO UPDATE SET sess = EXCLUDED.sess, expire = EXCLUDED.expire',
      [sid, recordJson(write), this.writeExpireSeconds(write)],
    );
  }

  /**
   * Applies a change to the live row in one `UPDATE`: the stored keys this write neither sets nor removes are
   * kept as they are (`json_each` keeps each value's text), the set keys and the cookie are added, and the
   * expiry moves with them. No `jsonb` is involved, so every value keeps its exact JSON text (`jsonb` would
   * refuse a string holding `\u0000`). PostgreSQL applies concurrent updates of one row one after another,
   * each to the latest copy. Resolves false when there is no live row (nothing is written).
   */
  async patch(sid: string, write: RecordWrite): Promise<boolean> {
    const replaced = ['cookie', ...write.set.keys(), ...write.unset];
    try {
      const result = await this.query(
        `UPDATE ${this.name} SET expire = to_timestamp($4), sess = (SELECT json_object_agg(key, value) FROM (` +
          'SELECT key, value FROM json_each(sess) WHERE key <> ALL($2::text[]) ' +
          'UNION ALL SELECT key, value FROM json_each($3::json)) AS kept) ' +
          'WHERE sid = $1 AND expire >= to_timestamp($5)',
        [sid, replaced, recordJson(write), this.writeExpireSeconds(write), liveAfter()],
      );
      return result.rowCount === 1;
    } catch (err) {
      if (!isNulInJson(err) || !this.transaction) throw err;
      return this.transaction((query) => this.patchLocked(query, sid, write));
    }
  }

  /**
   * The same change for a session holding a U+0000 character, which PostgreSQL's JSON functions refuse: the
   * row is read under a lock, the change applied here, and the row written back, in one transaction.
   */
  private async patchLocked(query: Query, sid: string, write: RecordWrite): Promise<boolean> {
    const { rows } = await query(
      `SELECT sess::text AS sess FROM ${this.name} WHERE sid = $1 AND expire >= to_timestamp($2) FOR UPDATE`,
      [sid, liveAfter()],
    );
    if (rows.length === 0) return false;
    const record = JSON.parse(rows[0].sess as string) as Record<string, unknown>;
    for (const [key, json] of write.set) record[key] = JSON.parse(json);
    for (const key of write.unset) delete record[key];
    record.cookie = JSON.parse(write.cookie);
    await query(`UPDATE ${this.name} SET sess = $2::json, expire = to_timestamp($3) WHERE sid = $1`, [
      sid,
      JSON.stringify(record),
      this.writeExpireSeconds(write),
    ]);
    return true;
  }

  async all(): Promise<Record<string, SessionData>> {
    const { rows } = await this.query(`SELECT sid, sess FROM ${this.name} WHERE expire >= to_timestamp($1)`, [
      nowSeconds(),
    ]);
    const sessions: Record<string, SessionData> = {};
    for (const row of rows) {
      ownValue(sessions, row.sid as string, typeof row.sess === 'string' ? JSON.parse(row.sess) : row.sess);
    }
    return sessions;
  }

  async count(): Promise<number> {
    const { rows } = await this.query(`SELECT count(*)::int AS n FROM ${this.name} WHERE expire >= to_timestamp($1)`, [
      nowSeconds(),
    ]);
    return rows[0].n as number;
  }

  async clear(): Promise<void> {
    await this.query(`DELETE FROM ${this.name}`);
  }

  /** The row's expiry in epoch seconds for a write. */
  private writeExpireSeconds(write: RecordWrite): number {
    return Math.ceil((write.expires ?? Date.now() + this.ttl) / 1000);
  }

  /** The row's expiry in epoch seconds: the cookie's, else now + `ttl` (as connect-pg-simple computes it). */
  private expireSeconds(session: SessionData): number {
    const expires = cookieExpires(session);
    const at = expires ? new Date(expires).getTime() : Date.now() + this.ttl;
    return Math.ceil(at / 1000);
  }
}

function cookieExpires(session: SessionData): Date | string | null | undefined {
  return (session.cookie as { expires?: Date | string | null } | undefined)?.expires;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The second from which a row counts as live on a read: rounded up, as connect-pg-simple's own `get` does. */
function liveAfter(): number {
  return Math.ceil(Date.now() / 1000);
}

/** Whether PostgreSQL refused a JSON text because it holds U+0000 (`\u0000`, SQLSTATE 22P05). */
function isNulInJson(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === '22P05';
}

/** Runs `work` in a transaction on one connection of the pool. */
export async function inTransaction<T>(
  pool: PgPoolLike | undefined,
  work: (query: PgPoolClientLike['query']) => Promise<T>,
): Promise<T> {
  if (!pool?.connect) throw new Error('postgresStore(): the pool cannot give a connection for a transaction');
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work((text, values) => client.query(text, values));
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release(true);
    throw err;
  }
}
