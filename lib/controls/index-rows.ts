import type { IndexEntry } from './session-index.js';

/** A row of an SQL index table, as the PostgreSQL and SQLite indexes store entries (internal). */
export interface IndexRow {
  handle: string;
  entry: string;
  last_seen: number | string;
  expires_at: number | string | null;
  keep_until: number | string;
}

/** The columns an index row is read with. */
export const ROW_COLUMNS = 'handle, entry, last_seen, expires_at, keep_until';

/** An entry from its row: the JSON of what never changes, with the columns a use updates. */
export function entryOf(row: IndexRow): IndexEntry {
  return {
    ...(JSON.parse(row.entry) as IndexEntry),
    lastSeenAt: Number(row.last_seen),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    keepUntil: Number(row.keep_until),
  };
}

/** The values of an INSERT of `entry`: handle, user key, entry JSON, last seen, expiry, kept until. */
export function rowValues(entry: IndexEntry): unknown[] {
  return [
    entry.handle,
    String(entry.userId),
    JSON.stringify(entry),
    entry.lastSeenAt,
    entry.expiresAt,
    entry.keepUntil,
  ];
}
