/**
 * Runs the compiled test suite against throwaway Redis and PostgreSQL servers.
 *
 *   node out/test/run.js [test files...]     (npm test builds first, then runs this)
 *
 * Starts redis-server and PostgreSQL on 127.0.0.1, on free ports, with their data in a temporary folder,
 * exports REDIS_URL, DATABASE_URL and REDIS_SERVER_BIN, runs `node --test --test-concurrency=1` on the
 * files given (default: every out/test/**\/*.test.js, sorted), and stops both servers whatever the outcome
 * (also on Ctrl-C). REDIS_URL or DATABASE_URL already set: that server is used as given and nothing is
 * started for it. A missing server binary is a loud warning; the tests that need it then skip.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPostgresBin, findRedisServer, RedisServer, startPostgres } from './support/launchers.js';

/** The repository root (this file runs as out/test/run.js). */
const root = fileURLToPath(new URL('../..', import.meta.url));
/** What to undo before exiting, last started first. */
const cleanups: (() => void)[] = [];
let child: ChildProcess | undefined;
let stopping = false;

function log(message: string): void {
  process.stderr.write(`[test] ${message}\n`);
}

function warn(message: string): void {
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n!!! ${message}\n${bar}\n\n`);
}

function cleanup(): void {
  while (cleanups.length) {
    try {
      cleanups.pop()!();
    } catch (err) {
      log(`cleanup failed: ${(err as Error).message}`);
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping`);
  if (child && child.exitCode === null) child.kill(signal);
  cleanup();
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

/** Every compiled test file under `dir` (relative to the root), as paths relative to the root, sorted. */
function testFilesUnder(dir: string): string[] {
  return readdirSync(resolve(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.test.js'))
    .sort()
    .map((file) => join(dir, file));
}

/** The test files to run: those given (a folder stands for the test files under it), else every one. */
function testFiles(given: string[]): string[] {
  if (given.length === 0) return testFilesUnder(join('out', 'test'));
  return given.flatMap((path) => (statSync(resolve(root, path)).isDirectory() ? testFilesUnder(path) : [path]));
}

async function main(): Promise<void> {
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('exit', cleanup);
  const env = { ...process.env };

  const redisBin = findRedisServer();
  if (redisBin) env.REDIS_SERVER_BIN = redisBin;
  if (env.REDIS_URL) {
    log('using REDIS_URL from the environment');
  } else if (redisBin) {
    const redis = await RedisServer.create({ bin: redisBin, stderr: 'inherit' });
    cleanups.push(() => redis.kill());
    await redis.start();
    log(`redis-server ${redis.port} started (data in ${redis.dir})`);
    env.REDIS_URL = redis.url;
  } else {
    warn(
      'redis-server not found: the Redis tests will be SKIPPED. Install it (apt-get install redis-server) or set REDIS_URL.',
    );
  }

  if (env.DATABASE_URL) {
    log('using DATABASE_URL from the environment');
  } else {
    const pgBin = findPostgresBin();
    if (pgBin) {
      const postgres = await startPostgres(pgBin);
      cleanups.push(() => postgres.stop());
      log(`PostgreSQL ${postgres.port} started (data in ${postgres.dataDir})`);
      env.DATABASE_URL = postgres.url;
    } else {
      warn(
        'PostgreSQL (initdb, pg_ctl) not found: the PostgreSQL tests will be SKIPPED. Install it (apt-get install postgresql) or set DATABASE_URL.',
      );
    }
  }

  const files = testFiles(process.argv.slice(2));
  const running = spawn(process.execPath, ['--test', '--test-concurrency=1', ...files], {
    cwd: root,
    env,
    stdio: 'inherit',
  });
  child = running;
  const code = await new Promise<number>((resolve) => {
    running.on('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0)));
  });
  cleanup();
  process.exit(code);
}

main().catch((err: unknown) => {
  process.stderr.write(`[test] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  cleanup();
  process.exit(1);
});
