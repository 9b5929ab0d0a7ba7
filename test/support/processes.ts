import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { defer } from './cleanup.js';
import type { Cleanup } from './cleanup.js';

// Child processes for tests that run npm, tsc or an app: bounded in time, always stoppable.

/** Every child process still running, with how to stop it (`stopAll`). */
const children = new Map<ChildProcess, () => unknown>();

/** Thrown by `run` when the command was killed for taking too long. */
export class CommandTimeout extends Error {}

export interface RunResult {
  stdout: string;
  stderr: string;
  ms: number;
}

/** The environment for child npm/node processes, without what `npm run` sets for this repository. */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const lower = key.toLowerCase();
    if (lower.startsWith('npm_package_') || lower.startsWith('npm_lifecycle_')) continue;
    if (lower === 'npm_config_local_prefix' || lower === 'init_cwd' || lower === 'node_test_context') continue;
    env[key] = value;
  }
  env.NO_UPDATE_NOTIFIER = '1';
  return env;
}

function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Runs a command to completion in its own process group, killed (group and all) after `timeoutMs`. */
export function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<RunResult> {
  const started = Date.now();
  const label = `${command} ${args.join(' ')} (in ${cwd})`;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, env: childEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.set(child, () => killGroup(child, 'SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      children.delete(child);
      reject(new Error(`${label} could not start: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      const ms = Date.now() - started;
      if (timedOut) {
        reject(
          new CommandTimeout(`${label} did not finish within ${timeoutMs / 1000} s and was killed.\n${tail(stderr)}`),
        );
      } else if (code !== 0) {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        reject(new Error(`${label} ${how}.\n--- stderr ---\n${tail(stderr)}\n--- stdout ---\n${tail(stdout)}`));
      } else {
        resolvePromise({ stdout, stderr, ms });
      }
    });
  });
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/** A consumer app's child process, started by `startConsumerApp`. */
export interface RunningApp {
  url: string;
  /** Entry point (`nest-express-session/...`) -> the file or file URL it resolved to in the app (consumer apps). */
  resolved: Record<string, string>;
  child: ChildProcess;
}

/**
 * Runs the consumer app in `cwd` (its main.js) as a child process; resolves once it printed its URL. It is
 * stopped when the test `t` ends.
 */
export function startConsumerApp(t: Cleanup, cwd: string): Promise<RunningApp> {
  return startAppProcess(t, ['main.js'], cwd);
}

/**
 * Runs `node <args>` (an app that prints one JSON line `{"url": ...}` once it listens) as a child process in
 * `cwd`; resolves with what that line says. It is stopped when the test `t` ends.
 */
export function startAppProcess(t: Cleanup, args: string[], cwd = process.cwd()): Promise<RunningApp> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.set(child, () => stopConsumerApp(child));
    defer(t, () => stopConsumerApp(child));
    child.once('exit', () => children.delete(child));
    let stdout = '';
    let stderr = '';
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.kill('SIGKILL');
      reject(
        new Error(
          `the app ${args.join(' ')} in ${cwd} ${why}\n--- stderr ---\n${tail(stderr)}\n--- stdout ---\n${tail(stdout)}`,
        ),
      );
    };
    const onExit = (code: number | null, signal: string | null): void =>
      fail(`exited early (code ${code}, signal ${signal})`);
    const timer = setTimeout(() => fail('did not print its URL within 30 s'), 30_000);
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n').find((l) => l.startsWith('{"url"'));
      if (!line) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout.removeAllListeners('data');
      child.stdout.resume();
      const { url, resolved } = JSON.parse(line) as RunningApp;
      resolvePromise({ url, resolved, child });
    });
    child.once('error', (err) => fail(`could not start: ${err.message}`));
    child.on('exit', onExit);
  });
}

/** Stops a consumer app: SIGTERM, then SIGKILL if it is still there after 5 s. */
export async function stopConsumerApp(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Stops every child process still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children.values()].map((stop) => stop()));
}
