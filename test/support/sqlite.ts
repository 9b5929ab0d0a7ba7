import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defer } from './cleanup.js';
import type { Cleanup } from './cleanup.js';

/** A connection of `node:sqlite`, as the tests use it (Node 20's types do not have the module). */
export interface TestDatabase {
  exec(sql: string): void;
  prepare(sql: string): {
    run(...values: unknown[]): { changes: number | bigint };
    get(...values: unknown[]): Record<string, any> | undefined;
    all(...values: unknown[]): Record<string, any>[];
  };
  close(): void;
}

const sqlite = process.getBuiltinModule?.('node:sqlite') as
  { DatabaseSync: new (path: string) => TestDatabase } | undefined;

/** Whether this Node.js has `node:sqlite` (22.5 and later), which `sqliteStore()` needs. */
export const HAS_SQLITE = sqlite !== undefined;

/** `false` when `node:sqlite` is here, else the reason the SQLite tests skip (for node:test's `skip` option). */
export function skipWithoutSqlite(): string | false {
  if (HAS_SQLITE) return false;
  const reason = `node:sqlite is not in Node.js ${process.versions.node}: sqliteStore() needs Node.js 22.5 or later`;
  process.stderr.write(`# SKIPPED: ${reason}\n`);
  return reason;
}

/** The path of a database file in a fresh temporary folder, removed with its WAL files when `t` ends. */
export function tempDatabase(t: Cleanup): string {
  const dir = mkdtempSync(join(tmpdir(), 'nes-sqlite-'));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'sessions.db');
}

/** A connection of the test's own to a database file (to look at rows, or damage them), closed when `t` ends. */
export function openDatabase(t: Cleanup, path: string): TestDatabase {
  const db = new sqlite!.DatabaseSync(path);
  db.exec('PRAGMA busy_timeout = 5000');
  defer(t, () => db.close());
  return db;
}
