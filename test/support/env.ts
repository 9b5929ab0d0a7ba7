import { randomBytes } from 'node:crypto';
import { findRedisServer } from './launchers.js';

// What the test runner (test/run.ts) hands the tests through the environment.

/** The shared Redis that the test runner started (or the one the environment gave), if any. */
export const REDIS_URL = process.env.REDIS_URL;
/** The shared PostgreSQL database that the test runner started (or the environment gave), if any. */
export const DATABASE_URL = process.env.DATABASE_URL;
/** The redis-server binary, for tests that stop and restart their own Redis. */
export const REDIS_SERVER_BIN = findRedisServer();

/** `false` when the variable is set, else the reason to skip (for node:test's `skip` option). */
export function skipWithout(name: 'REDIS_URL' | 'DATABASE_URL' | 'REDIS_SERVER_BIN'): string | false {
  const value = name === 'REDIS_SERVER_BIN' ? REDIS_SERVER_BIN : process.env[name];
  if (value) return false;
  const reason = `${name} is not set: run the suite with \`npm test\` (it starts Redis and PostgreSQL), or set ${name}`;
  process.stderr.write(`# SKIPPED: ${reason}\n`);
  return reason;
}

/** A name no other test (or other run on the same server) uses: prefixes, table and schema names. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}
