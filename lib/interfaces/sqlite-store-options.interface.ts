/** Options of {@link sqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * The database file (created with its folder's permissions if missing), or `':memory:'`. Sessions kept in a
   * file survive a restart of the app. Several processes on one machine may share the file.
   */
  path: string;
  /**
   * Table of the sessions: `sid text primary key, sess text (JSON), expire integer (epoch ms)`, created on
   * first use with an index on `expire`.
   * @default 'sessions'
   */
  tableName?: string;
  /**
   * Lifetime in milliseconds of a session whose cookie has no `maxAge` or `expires`.
   * @default 86400000 (one day)
   */
  ttl?: number;
  /**
   * Milliseconds between deletions of expired rows (expired rows are never read in between), or `false` to
   * never delete them. The timer never keeps the process alive.
   * @default 900000 (15 minutes)
   */
  pruneInterval?: number | false;
}
