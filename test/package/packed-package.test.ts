import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  appPackageJson,
  appSource,
  CONSUMER_TS,
  CONSUMER_TSCONFIG,
  ENTRY_POINTS,
  VARIANTS,
} from '../support/consumer-apps.js';
import { Client, setCookieFor } from '../support/http.js';
import { CommandTimeout, run, startConsumerApp, stopAll } from '../support/processes.js';

/*
 * The published package as users get it: `npm pack` of this repository, installed with npm into two
 * throwaway apps (Nest 12 ESM, Nest 11 CommonJS), each running a login round trip over real HTTP and
 * type-checking a TypeScript consumer against the installed declarations.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
/** Longest one `npm install` may take before it is killed (about 10 s with a warm npm cache). */
const INSTALL_TIMEOUT_MS = 150_000;
/** An install that fails quickly (a registry hiccup) is tried once more; one that timed out is not. */
const INSTALL_ATTEMPTS = 2;

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
      if (err instanceof CommandTimeout) break;
    }
  }
  const registry = process.env.npm_config_registry || 'https://registry.npmjs.org/ (unless .npmrc says otherwise)';
  throw new Error(
    `npm install into the throwaway app failed; this test needs the npm registry (${registry}) ` +
      `or an npm cache that holds Nest 11 and 12.\n${errors.join('\n\n')}`,
  );
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
    const installs = new Map<string, { ms: number; attempts: number }>();

    before(async () => {
      root = await realpath(await mkdtemp(join(tmpdir(), 'nest-express-session-pack-')));
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
          (f) =>
            !f.startsWith('dist/') &&
            !/^docs\/[\w-]+\.md$/.test(f) &&
            f !== 'package.json' &&
            !/^readme/i.test(f) &&
            !/^license/i.test(f),
        ),
        [],
        'nothing but dist, docs/*.md, README, LICENSE and package.json is published',
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
      await stopAll();
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

        it(`loads the ${variant.build} build and runs a login round trip over HTTP`, async (t) => {
          const app = await startConsumerApp(t, cwd());
          for (const [entry, file] of Object.entries(ENTRY_POINTS)) {
            const found = app.resolved[entry] ?? '';
            const path = found.startsWith('file:') ? fileURLToPath(found) : found;
            const expected = join(cwd(), 'node_modules', 'nest-express-session', 'dist', variant.build, file);
            assert.equal(path, expected, `${entry} resolves to the ${variant.build} build`);
            assert.ok((await stat(path)).isFile(), `${path} is published`);
          }
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
