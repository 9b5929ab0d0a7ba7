// The parts of Node's built-in `node:sqlite` the SQLite store uses, typed here: Node 20's types do not have it.

/** A prepared statement of `node:sqlite` (internal). */
export interface StatementSync {
  run(...values: unknown[]): { changes: number | bigint };
  get(...values: unknown[]): Record<string, unknown> | undefined;
  all(...values: unknown[]): Record<string, unknown>[];
}

/** A database connection of `node:sqlite` (internal). */
export interface DatabaseSync {
  exec(sql: string): void;
  prepare(sql: string): StatementSync;
  close(): void;
}

/** The `node:sqlite` module (internal). */
export interface SqliteModule {
  DatabaseSync: new (path: string) => DatabaseSync;
}

/**
 * `node:sqlite`, or an error that says which Node.js has it. Loaded through `process.getBuiltinModule` so
 * that merely importing the package never loads it (nor prints its ExperimentalWarning) on any Node.js.
 */
export function loadSqlite(): SqliteModule {
  const sqlite = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.('node:sqlite');
  if (!sqlite) {
    throw new Error(
      `sqliteStore() needs node:sqlite, built into Node.js 22.5 and later (without a flag from 22.13); ` +
        `this is Node.js ${process.versions.node}. Upgrade Node.js, or use the embedded store, redisStore() or postgresStore().`,
    );
  }
  return sqlite as SqliteModule;
}
