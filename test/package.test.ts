import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client, setCookieFor } from './support/http.js';

/*
 * The published package as users get it: `npm pack` of this repository, installed with npm into two
 * throwaway apps (Nest 12 ESM, Nest 11 CommonJS), each running a login round trip over real HTTP and
 * type-checking a TypeScript consumer against the installed declarations.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
/** Longest one `npm install` may take before it is killed; it is tried twice. */
const INSTALL_TIMEOUT_MS = 180_000;
const INSTALL_ATTEMPTS = 2;
const SECRET = 'package-test-secret-0123456789-abcdefghijklmnop';

/** One throwaway consumer app. */
interface Variant {
  name: string;
  /** Folder name under the temp root. */
  dir: string;
  /** Major version of Nest installed. */
  nest: 11 | 12;
  esm: boolean;
  /** The build of this package the app must load. */
  build: 'esm' | 'cjs';
}

const VARIANTS: Variant[] = [
  { name: 'Nest 12 ESM app', dir: 'nest12-esm', nest: 12, esm: true, build: 'esm' },
  { name: 'Nest 11 CommonJS app', dir: 'nest11-cjs', nest: 11, esm: false, build: 'cjs' },
];

interface RunResult {
  stdout: string;
  stderr: string;
  ms: number;
}

/** The environment for child npm/node processes, without what `npm run` sets for this repository. */
function childEnv(): NodeJS.ProcessEnv {
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
function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<RunResult> {
  const started = Date.now();
  const label = `${command} ${args.join(' ')} (in ${cwd})`;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, env: childEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${label} could not start: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - started;
      if (timedOut) {
        reject(new Error(`${label} did not finish within ${timeoutMs / 1000} s and was killed.\n${tail(stderr)}`));
      } else if (code !== 0) {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        reject(new Error(`${label} ${how}.\n--- stderr ---\n${tail(stderr)}\n--- stdout ---\n${tail(stdout)}`));
      } else {
        resolvePromise({ stdout, stderr, ms });
      }
    });
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/** `npm install` in an app folder, bounded in time, tried again once on failure (a registry hiccup). */
async function npmInstall(cwd: string): Promise<{ ms: number; attempts: number }> {
  const args = [
    'install',
    '--no-audit',
    '--no-fund',
    '--prefer-offline',
    '--no-update-notifier',
    '--loglevel=error',
    '--fetch-retries=2',
    '--fetch-timeout=60000',
  ];
  const errors: string[] = [];
  for (let attempt = 1; attempt <= INSTALL_ATTEMPTS; attempt += 1) {
    try {
      const { ms } = await run('npm', args, cwd, INSTALL_TIMEOUT_MS);
      return { ms, attempts: attempt };
    } catch (err) {
      errors.push(`attempt ${attempt}: ${(err as Error).message}`);
    }
  }
  throw new Error(
    `npm install of the packed tarball failed ${INSTALL_ATTEMPTS} times (is the npm registry reachable?)\n` +
      errors.join('\n\n'),
  );
}

function appPackageJson(variant: Variant, tarball: string): string {
  const nest = `^${variant.nest}.0.0`;
  return (
    JSON.stringify(
      {
        name: `nest-express-session-${variant.dir}`,
        private: true,
        version: '0.0.0',
        ...(variant.esm ? { type: 'module' } : {}),
        dependencies: {
          '@nestjs/common': nest,
          '@nestjs/core': nest,
          '@nestjs/platform-express': nest,
          'express-session': '^1.18.0',
          'nest-express-session': `file:${tarball}`,
          'reflect-metadata': '^0.2.0',
          rxjs: '^7.8.0',
        },
        devDependencies: {
          '@types/express': '^5.0.0',
          '@types/express-session': '^1.18.0',
          '@types/node': '^20.19.0',
        },
      },
      null,
      2,
    ) + '\n'
  );
}

/**
 * A tiny Nest app in plain JavaScript, decorators applied by hand. It prints one JSON line on stdout:
 * its URL and the file `nest-express-session` resolved to.
 */
function appSource(variant: Variant): string {
  const head = variant.esm
    ? `import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Module, Post, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AuthenticatedGuard, Session, SessionModule, SessionService } from 'nest-express-session';
const resolved = import.meta.resolve('nest-express-session');
`
    : `'use strict';
require('reflect-metadata');
const { Body, Controller, Get, HttpCode, Module, Post, UseGuards } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { AuthenticatedGuard, Session, SessionModule, SessionService } = require('nest-express-session');
const resolved = require.resolve('nest-express-session');
`;
  // The CommonJS app also imports the ESM build (as an ESM dependency of a CJS app would): its guard and
  // decorator must work with the CJS build's module, through the tokens and context both builds share.
  const otherBuild = variant.esm
    ? `async function otherBuildControllers() {
  return [];
}
`
    : `async function otherBuildControllers() {
  const esm = await import('nest-express-session');
  if (esm.SessionModule === SessionModule) throw new Error('import() gave the CommonJS build');
  class OtherBuildController {
    me(userId) {
      return { userId };
    }
  }
  esm.Session('userId')(OtherBuildController.prototype, 'me', 0);
  decorate(OtherBuildController, 'me', Get('me-esm'), UseGuards(esm.AuthenticatedGuard));
  Controller()(OtherBuildController);
  return [OtherBuildController];
}
`;
  return `${head}
/** Applies method decorators as TypeScript would (the last one listed runs first). */
function decorate(target, name, ...decorators) {
  const descriptor = Object.getOwnPropertyDescriptor(target.prototype, name);
  for (const decorator of decorators.reverse()) decorator(target.prototype, name, descriptor);
}

class AuthController {
  constructor(sessions) {
    this.sessions = sessions;
  }
  async login(body) {
    await this.sessions.logIn(body.userId, { verified: body.verified === true });
    return { id: this.sessions.id };
  }
  me(userId, session) {
    return { userId, sessionId: session.id };
  }
  async logout() {
    await this.sessions.logOut();
    return { loggedOut: true };
  }
}
// What emitDecoratorMetadata would write: constructor injection by type.
Reflect.defineMetadata('design:paramtypes', [SessionService], AuthController);
Body()(AuthController.prototype, 'login', 0);
decorate(AuthController, 'login', Post('login'), HttpCode(200));
Session('userId')(AuthController.prototype, 'me', 0);
Session()(AuthController.prototype, 'me', 1);
decorate(AuthController, 'me', Get('me'), UseGuards(AuthenticatedGuard));
decorate(AuthController, 'logout', Post('logout'), HttpCode(200));
Controller()(AuthController);

${otherBuild}
async function main() {
  class AppModule {}
  Module({
    imports: [
      SessionModule.forRoot({
        session: { secret: ${JSON.stringify(SECRET)} },
        isAuthenticated: (session) => session.verified === true,
      }),
    ],
    controllers: [AuthController, ...(await otherBuildControllers())],
  })(AppModule);
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address();
  process.stdout.write(JSON.stringify({ url: 'http://127.0.0.1:' + port, resolved: String(resolved) }) + '\\n');
  const stop = () => app.close().then(() => process.exit(0), () => process.exit(1));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
`;
}

/** A TypeScript consumer of the installed package; it is only type-checked. */
const CONSUMER_TS = `import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Inject, Injectable, Module, Post, UseGuards } from '@nestjs/common';
import {
  AllowAnonymous,
  AuthenticatedGuard,
  Session,
  SESSION_MODULE_OPTIONS,
  SessionModule,
  SessionService,
} from 'nest-express-session';
import type { SessionModuleOptions, SessionOptionsFactory } from 'nest-express-session';

declare module 'express-session' {
  interface SessionData {
    cart: string[];
  }
}

@Controller()
@UseGuards(AuthenticatedGuard)
export class ShopController {
  constructor(
    private readonly sessions: SessionService,
    @Inject(SESSION_MODULE_OPTIONS) private readonly options: SessionModuleOptions,
  ) {}

  @Post('login')
  @HttpCode(200)
  @AllowAnonymous()
  async login(@Body() body: { userId: string }): Promise<{ id: string }> {
    await this.sessions.logIn(body.userId, { cart: [] });
    return { id: this.sessions.id };
  }

  @Get('me')
  me(
    @Session('userId') userId: string | number | undefined,
    @Session('cart') cart: string[] | undefined,
    @Session() session: { id: string },
  ): { userId: string | number | null; items: number; sid: string } {
    return { userId: userId ?? null, items: cart?.length ?? 0, sid: session.id };
  }

  @Post('cart')
  add(@Body() body: { item: string }): string[] {
    const cart: string[] = [...(this.sessions.get('cart') ?? []), body.item];
    this.sessions.set('cart', cart);
    const id: string | number | undefined = this.sessions.get('userId');
    // @ts-expect-error userId is a string or a number, never a boolean
    const wrong: boolean = this.sessions.get('userId');
    // @ts-expect-error cart holds strings
    this.sessions.set('cart', 42);
    void id;
    void wrong;
    void this.options.session.secret;
    return cart;
  }

  @Get('wrong')
  wrong(
    // @ts-expect-error 'notAKey' is not a SessionData key
    @Session('notAKey') value: unknown,
  ): unknown {
    return value;
  }

  @Post('logout')
  async logout(): Promise<void> {
    await this.sessions.logOut();
  }
}

@Injectable()
class SessionConfig implements SessionOptionsFactory {
  createSessionOptions(): SessionModuleOptions {
    return { session: { secret: 'a-long-secret-from-the-environment-0123456789' }, retries: 1 };
  }
}

@Module({
  imports: [SessionModule.forRootAsync({ useClass: SessionConfig, isGlobal: true })],
  controllers: [ShopController],
})
export class AppModule {}

@Module({ imports: [SessionModule.forRoot({ session: { secret: 'x'.repeat(40) }, isGlobal: false })] })
export class SyncModule {}

// @ts-expect-error the express-session options are required
SessionModule.forRoot({});
`;

const CONSUMER_TSCONFIG = JSON.stringify(
  {
    compilerOptions: {
      target: 'es2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      lib: ['es2023'],
      types: ['node'],
      strict: true,
      noEmit: true,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      esModuleInterop: true,
      skipLibCheck: true,
    },
    files: ['consumer.ts'],
  },
  null,
  2,
);

/** The app's child process, started by `startApp`. */
interface RunningApp {
  url: string;
  resolved: string;
  child: ChildProcess;
}

/** Runs the app as a child process; resolves once it printed its URL. */
function startApp(cwd: string): Promise<RunningApp> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['main.js'], { cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`the app in ${cwd} ${why}\n--- stderr ---\n${tail(stderr)}\n--- stdout ---\n${tail(stdout)}`));
    };
    const timer = setTimeout(() => fail('did not print its URL within 30 s'), 30_000);
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk;
      const line = stdout.split('\n').find((l) => l.startsWith('{"url"'));
      if (!line) return;
      clearTimeout(timer);
      child.stdout!.removeAllListeners('data');
      child.stdout!.resume();
      const { url, resolved } = JSON.parse(line) as { url: string; resolved: string };
      resolvePromise({ url, resolved, child });
    });
    child.on('error', (err) => fail(`could not start: ${err.message}`));
    child.on('exit', (code, signal) => fail(`exited early (code ${code}, signal ${signal})`));
  });
}

/** Stops the app: SIGTERM, then SIGKILL if it is still there after 5 s. */
async function stopApp(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.removeAllListeners('exit');
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Whether both builds exist and are newer than lib/ and the build configs. */
async function libBuildIsFresh(): Promise<boolean> {
  const builds = ['esm', 'cjs']
    .map((b) => join(ROOT, 'dist', b, 'index.js'))
    .concat(join(ROOT, 'dist', 'cjs', 'package.json'));
  let built = Infinity;
  for (const file of builds) {
    const info = await stat(file).catch(() => undefined);
    if (!info) return false;
    built = Math.min(built, info.mtimeMs);
  }
  const lib = (await readdir(join(ROOT, 'lib'), { recursive: true })).map((f) => join('lib', f));
  for (const file of [...lib, 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.build.cjs.json']) {
    if ((await stat(join(ROOT, file))).mtimeMs > built) return false;
  }
  return true;
}

async function readJson(path: string): Promise<{ version: string; [key: string]: unknown }> {
  return JSON.parse(await readFile(path, 'utf8'));
}

describe(
  'the packed package in real consumer apps',
  { timeout: INSTALL_ATTEMPTS * INSTALL_TIMEOUT_MS * 2 + 120_000 },
  () => {
    let root = '';
    const running = new Set<ChildProcess>();
    const installs = new Map<string, { ms: number; attempts: number }>();

    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'nest-express-session-pack-'));
      const pkg = await readJson(join(ROOT, 'package.json'));
      assert.equal(pkg.name, 'nest-express-session', `the repository root was not found at ${ROOT}`);

      // The other test files import dist/ while they run: rebuild it only when it is missing or stale,
      // and pack without the prepack script (which would delete dist/ and build it again).
      if (!(await libBuildIsFresh())) await run('npm', ['run', 'build:lib'], ROOT, 120_000);
      const packed = await run(
        'npm',
        ['pack', '--json', '--ignore-scripts', '--pack-destination', root],
        ROOT,
        120_000,
      );
      const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
      const tarball = join(root, info.filename);
      const files = info.files.map((f) => f.path);
      assert.ok(files.includes('dist/esm/index.js') && files.includes('dist/cjs/index.js'), 'both builds are packed');
      assert.ok(files.includes('dist/cjs/package.json'), 'dist/cjs is marked as CommonJS');
      assert.deepEqual(
        files.filter(
          (f) => !f.startsWith('dist/') && f !== 'package.json' && !/^readme/i.test(f) && !/^license/i.test(f),
        ),
        [],
        'nothing but dist, README and package.json is published',
      );

      for (const variant of VARIANTS) {
        const cwd = join(root, variant.dir);
        await mkdir(cwd);
        await writeFile(join(cwd, 'package.json'), appPackageJson(variant, tarball));
        await writeFile(join(cwd, 'main.js'), appSource(variant));
        await writeFile(join(cwd, 'consumer.ts'), CONSUMER_TS);
        await writeFile(join(cwd, 'tsconfig.json'), CONSUMER_TSCONFIG);
        installs.set(variant.dir, await npmInstall(cwd));
      }
    });

    after(async () => {
      await Promise.all([...running].map((child) => stopApp(child)));
      if (root) await rm(root, { recursive: true, force: true });
    });

    for (const variant of VARIANTS) {
      describe(variant.name, () => {
        const cwd = (): string => join(root, variant.dir);

        it(`installs the tarball next to Nest ${variant.nest}`, async (t) => {
          const install = installs.get(variant.dir)!;
          t.diagnostic(`npm install: ${(install.ms / 1000).toFixed(1)} s (attempt ${install.attempts})`);
          const core = await readJson(join(cwd(), 'node_modules', '@nestjs', 'core', 'package.json'));
          assert.equal(Number(core.version.split('.')[0]), variant.nest, `@nestjs/core ${core.version} is installed`);
          const pkgDir = join(cwd(), 'node_modules', 'nest-express-session');
          const installed = await readJson(join(pkgDir, 'package.json'));
          assert.equal(installed.version, (await readJson(join(ROOT, 'package.json'))).version);
          // lib/ is not published, so the source maps must carry the sources themselves.
          const maps = (await readdir(join(pkgDir, 'dist', variant.build), { recursive: true })).filter((f) =>
            f.endsWith('.js.map'),
          );
          assert.ok(maps.length > 0, 'source maps are published');
          for (const file of maps) {
            const map = JSON.parse(await readFile(join(pkgDir, 'dist', variant.build, file), 'utf8')) as {
              sources: string[];
              sourcesContent?: (string | null)[];
            };
            assert.equal(
              map.sourcesContent?.filter((c) => typeof c === 'string').length,
              map.sources.length,
              `${file} embeds its sources`,
            );
          }
        });

        it(`loads the ${variant.build} build and runs a login round trip over HTTP`, async () => {
          const app = await startApp(cwd());
          running.add(app.child);
          try {
            const resolved = app.resolved.startsWith('file:') ? fileURLToPath(app.resolved) : app.resolved;
            assert.equal(
              resolved,
              join(cwd(), 'node_modules', 'nest-express-session', 'dist', variant.build, 'index.js'),
              `nest-express-session resolves to the ${variant.build} build`,
            );
            const client = new Client(app.url);

            const anonymous = await client.get('/me');
            assert.equal(anonymous.status, 401, 'the guard refuses an anonymous request');
            if (!variant.esm) assert.equal((await client.get('/me-esm')).status, 401);

            // The module's isAuthenticated option decides, in the guards of both builds.
            const unverified = new Client(app.url);
            assert.equal((await unverified.post('/login', { userId: 'mallory', verified: false })).status, 200);
            assert.equal((await unverified.get('/me')).status, 401, 'the isAuthenticated option is applied');
            if (!variant.esm)
              assert.equal((await unverified.get('/me-esm')).status, 401, 'the ESM build sees the option');

            const login = await client.post('/login', { userId: 'alice', verified: true });
            assert.equal(login.status, 200, login.text);
            const loginCookie = setCookieFor(login, 'connect.sid');
            assert.ok(loginCookie, 'login sets the session cookie');
            assert.match(loginCookie, /HttpOnly/i);
            assert.match(loginCookie, /SameSite=Lax/i);
            const cookie = `connect.sid=${client.jar.get('connect.sid')}`;

            const me = await client.get('/me', { cookie });
            assert.equal(me.status, 200, me.text);
            assert.equal(me.body.userId, 'alice', '@Session("userId") gives the logged-in user');
            assert.equal(me.body.sessionId, login.body.id, '@Session() is the session logIn created');
            if (!variant.esm) {
              const other = await client.get('/me-esm', { cookie });
              assert.equal(other.status, 200, other.text);
              assert.equal(other.body.userId, 'alice', "the ESM build's guard and @Session() see the same session");
            }

            const logout = await client.post('/logout', undefined, { cookie });
            assert.equal(logout.status, 200, logout.text);
            const cleared = setCookieFor(logout, 'connect.sid');
            assert.ok(cleared, 'logout sends the session cookie again');
            assert.match(cleared, /Expires=Thu, 01 Jan 1970/i, 'logout expires the cookie');

            const loggedOut = await client.get('/me', { cookie });
            assert.equal(loggedOut.status, 401, 'the cookie of the logged-out session no longer authenticates');
            if (!variant.esm) assert.equal((await client.get('/me-esm', { cookie })).status, 401);
          } finally {
            await stopApp(app.child);
            running.delete(app.child);
          }
        });

        it(`type-checks a TypeScript consumer against the ${variant.build} declarations`, async () => {
          const checked = await run(
            process.execPath,
            [TSC, '-p', 'tsconfig.json', '--listFiles'],
            cwd(),
            120_000,
          ).catch((err: Error) => assert.fail(`tsc --noEmit found errors in consumer.ts:\n${err.message}`));
          const dts = join(cwd(), 'node_modules', 'nest-express-session', 'dist', variant.build, 'index.d.ts');
          assert.ok(checked.stdout.split('\n').includes(dts), `tsc read ${dts}`);
        });
      });
    }
  },
);
