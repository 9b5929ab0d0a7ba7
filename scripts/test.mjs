#!/usr/bin/env node
// Runs the compiled test suite against throwaway Redis and PostgreSQL servers.
//
//   node scripts/test.mjs [test files...]     (npm test builds first, then runs this)
//
// Starts redis-server and PostgreSQL on 127.0.0.1, on free ports, with their data in a temporary
// folder, exports REDIS_URL, DATABASE_URL and REDIS_SERVER_BIN, runs `node --test`, and stops both
// servers whatever the outcome (also on Ctrl-C). REDIS_URL or DATABASE_URL already set: that server
// is used as given and nothing is started for it. A missing server binary is a loud warning; the
// tests that need it then skip. Plain Node, no dependencies.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const cleanups = [];
let child;
let stopping = false;

function log(message) {
  process.stderr.write(`[test] ${message}\n`);
}

function warn(message) {
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n!!! ${message}\n${bar}\n\n`);
}

/** A TCP port nobody listens on right now (127.0.0.1). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The first executable called `name` on PATH or in `extraDirs`. */
function which(name, extraDirs = []) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraDirs];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once a Redis on `port` answers PING, or rejects after `attempts` tries. */
async function waitForRedis(port, attempts = 100) {
  for (let i = 0; i < attempts; i++) {
    const ok = await new Promise((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      let reply = '';
      socket.setTimeout(1000, () => socket.destroy());
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (chunk) => {
        reply += chunk;
        if (reply.includes('\r\n')) socket.end();
      });
      socket.on('close', () => resolve(reply.startsWith('+PONG')));
      socket.on('error', () => undefined);
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`redis-server on port ${port} did not answer PING`);
}

async function startRedis(bin) {
  const dir = mkdtempSync(join(tmpdir(), 'nes-redis-'));
  const port = await freePort();
  const server = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let exited = false;
  server.on('exit', () => {
    exited = true;
  });
  cleanups.push(() => {
    if (!exited) {
      server.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  });
  await waitForRedis(port);
  log(`redis-server ${port} started (data in ${dir})`);
  return `redis://127.0.0.1:${port}`;
}

/** The directory of the newest PostgreSQL binaries: on PATH, or Debian's /usr/lib/postgresql/<v>/bin. */
function findPostgresBin() {
  const onPath = which('initdb');
  // Follow symlinks (/usr/local/bin/initdb -> .../bin/initdb): createdb lives beside the real one.
  const real = onPath && dirname(realpathSync(onPath));
  if (real && existsSync(join(real, 'pg_ctl')) && existsSync(join(real, 'createdb'))) return real;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(base, versions[0], 'bin') : undefined;
}

/** Runs a PostgreSQL tool; as root it runs as the `postgres` user, since PostgreSQL refuses root. */
function pgRun(bin, tool, args, asPostgres) {
  const command = asPostgres ? 'runuser' : join(bin, tool);
  const argv = asPostgres ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args;
  const result = spawnSync(command, argv, { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${tool} failed (${result.status ?? result.signal}): ${result.error?.message ?? ''}${result.stdout}${result.stderr}`);
  }
  return result.stdout;
}

async function startPostgres(bin) {
  const asPostgres = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'nes-pg-'));
  const data = join(dir, 'data');
  if (asPostgres) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('running as root, but there is no `postgres` user to run PostgreSQL as');
    chownSync(dir, uid, gid);
  }
  const port = await freePort();
  let started = false;
  cleanups.push(() => {
    if (started) {
      try {
        pgRun(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'], asPostgres);
      } catch (err) {
        log(`could not stop PostgreSQL: ${err.message}`);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  pgRun(bin, 'initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'], asPostgres);
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  started = true;
  pgRun(bin, 'pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-o', serverOptions, '-w', '-t', '60', 'start'], asPostgres);
  pgRun(bin, 'createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'sessions_test'], asPostgres);
  log(`PostgreSQL ${port} started (data in ${data})`);
  return `postgres://postgres@127.0.0.1:${port}/sessions_test`;
}

function cleanup() {
  while (cleanups.length) {
    try {
      cleanups.pop()();
    } catch (err) {
      log(`cleanup failed: ${err.message}`);
    }
  }
}

function onSignal(signal) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping`);
  if (child && child.exitCode === null) child.kill(signal);
  cleanup();
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

async function main() {
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('exit', cleanup);
  const env = { ...process.env };

  const redisBin = process.env.REDIS_SERVER_BIN || which('redis-server', ['/usr/sbin', '/usr/local/bin']);
  if (redisBin) env.REDIS_SERVER_BIN = redisBin;
  if (env.REDIS_URL) {
    log(`using REDIS_URL from the environment`);
  } else if (redisBin) {
    env.REDIS_URL = await startRedis(redisBin);
  } else {
    warn('redis-server not found: the Redis tests will be SKIPPED. Install it (apt-get install redis-server) or set REDIS_URL.');
  }

  if (env.DATABASE_URL) {
    log(`using DATABASE_URL from the environment`);
  } else {
    const pgBin = findPostgresBin();
    if (pgBin) {
      env.DATABASE_URL = await startPostgres(pgBin);
    } else {
      warn('PostgreSQL (initdb, pg_ctl) not found: the PostgreSQL tests will be SKIPPED. Install it (apt-get install postgresql) or set DATABASE_URL.');
    }
  }

  let files = process.argv.slice(2);
  if (files.length === 0) {
    const dir = join(root, 'out', 'test');
    files = readdirSync(dir, { recursive: true })
      .filter((f) => f.endsWith('.test.js'))
      .sort()
      .map((f) => join('out', 'test', f));
  }
  child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...files], { cwd: root, env, stdio: 'inherit' });
  const code = await new Promise((resolve) => {
    child.on('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0)));
  });
  cleanup();
  process.exit(code);
}

main().catch((err) => {
  process.stderr.write(`[test] ${err.stack ?? err}\n`);
  cleanup();
  process.exit(1);
});
