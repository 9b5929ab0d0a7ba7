/** Options of {@link sqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * The database file (created if missing; its folder must exist), or `':memory:'`. Sessions kept in a file
   * survive a restart of the app, and every process on the machine that opens the file shares them.
   */
  path: string;
  /**
   * Table of the sessions: `sid TEXT PRIMARY KEY, sess TEXT (JSON), expire INTEGER (epoch ms)`, created with
   * an index on `expire` when the store is made.
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
