import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Request } from 'express';
import type { CookieOptions } from 'express-session';
import { SessionModule } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import { createApp, startApp, TEST_SECRET } from '../support/app.js';
import { AuthController, CounterController } from '../support/controllers.js';

/** Runs the whole suite with NODE_ENV as given (restored afterwards). */
function withNodeEnv(value: string): void {
  let previous: string | undefined;
  before(() => {
    previous = process.env.NODE_ENV;
    process.env.NODE_ENV = value;
  });
  after(() => {
    if (previous === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = previous;
  });
}

/** Every string this package's README, docs and sample pass (or fall back to) as a session secret. */
function documentedSecrets(): string[] {
  const files = ['README.md', ...readdirSync('docs').map((f) => join('docs', f))];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) files.push(path);
    }
  };
  walk('sample');
  const found = new Set<string>();
  for (const file of files) {
    // `secret: '...'`, `secret: env ?? '...'`, `const DEV_SECRET = '...'`, in code (a Markdown file's code blocks).
    let inCode = !file.endsWith('.md');
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (file.endsWith('.md') && line.trimStart().startsWith('```')) inCode = !inCode;
      if (!inCode) continue;
      for (const [, literal] of line.matchAll(/secret\w*\s*[:=]\s*(?:[\w.!]+\s*(?:\?\?|\|\|)\s*)?['"]([^'"]+)['"]/gi)) {
        found.add(literal);
      }
    }
  }
  return [...found];
}

async function boot(t: Parameters<typeof createApp>[0], options: SessionModuleOptions, logs?: string[]): Promise<void> {
  const app = await createApp(t, { imports: [SessionModule.forRoot(options)], logs });
  await app.close();
}

describe('R5: production boot also refuses weak secrets, SameSite None in any case, and reads NODE_ENV in any case', () => {
  withNodeEnv('production');

  const refused: [string, SessionModuleOptions, RegExp][] = [
    ['32 spaces', { session: { secret: ' '.repeat(32) } }, /secret is blank/],
    ["'a' × 32", { session: { secret: 'a'.repeat(32) } }, /one character repeated/],
    ["'a' × 40 with spaces around", { session: { secret: `  ${'a'.repeat(40)}  ` } }, /one character repeated/],
    ['a known secret with spaces', { session: { secret: `keyboard cat${' '.repeat(30)}` } }, /well-known sample/],
    [
      'a known secret in capitals with spaces',
      { session: { secret: `${' '.repeat(30)}Keyboard Cat` } },
      /well-known sample/,
    ],
    ['a repeated old secret in a rotation', { session: { secret: [TEST_SECRET, 'z'.repeat(64)] } }, /repeated/],
    [
      "sameSite 'None' without Secure",
      { session: { secret: TEST_SECRET, cookie: { sameSite: 'None' as CookieOptions['sameSite'] } } },
      /'none' needs cookie\.secure/,
    ],
    [
      "a lower-case '__host-' name with a Domain",
      { session: { secret: TEST_SECRET, name: '__host-sid', cookie: { secure: true, domain: 'example.com' } } },
      /must not have cookie\.domain/,
    ],
  ];
  for (const [what, options, message] of refused) {
    it(`refuses ${what}`, (t) => assert.rejects(boot(t, options), message));
  }

  it("refuses every secret this package's README, docs and sample show", async (t) => {
    const secrets = documentedSecrets();
    t.diagnostic(`documented secrets: ${JSON.stringify(secrets)}`);
    assert.ok(secrets.length >= 2, "the README's fallback and the sample's development secret are found");
    for (const secret of secrets) {
      await assert.rejects(boot(t, { session: { secret } }), /well-known sample/, `secret ${JSON.stringify(secret)}`);
    }
  });

  it('boots a long random secret with spaces around it, and SameSite None with Secure', (t) =>
    boot(t, { session: { secret: `  ${TEST_SECRET}  `, cookie: { sameSite: 'none', secure: true } } }));

  it('warns once at boot that a Secure cookie without a __Host- name can be planted from a sibling subdomain', async (t) => {
    const logs: string[] = [];
    await boot(t, { session: { secret: TEST_SECRET, cookie: { secure: true } } }, logs);
    const hostWarnings = logs.filter((l) => l.startsWith('warn') && l.includes('__Host-'));
    assert.equal(hostWarnings.length, 1, logs.join('\n'));
    assert.match(hostWarnings[0], /'connect\.sid' is Secure but not __Host-prefixed/);

    const quiet: string[] = [];
    await boot(t, { session: { secret: TEST_SECRET, name: '__Host-sid', cookie: { secure: true } } }, quiet);
    // Browsers match the prefix in any letter case, and so do the module's __Host- checks.
    await boot(t, { session: { secret: TEST_SECRET, name: '__host-sid', cookie: { secure: true } } }, quiet);
    await boot(t, { session: { secret: TEST_SECRET } }, quiet);
    assert.deepEqual(
      quiet.filter((l) => l.includes('__Host-')),
      [],
      'no warning for a __Host- name in any letter case, nor for a cookie without Secure',
    );
  });
});

describe('R5: NODE_ENV is compared in any letter case', () => {
  withNodeEnv('Production');
  it("'Production' refuses a short secret", (t) =>
    assert.rejects(boot(t, { session: { secret: 'short' } }), /shorter than 32/));
});

describe('R5: a cookie given as a function is checked on the first request in production', () => {
  withNodeEnv('production');

  /** A cookie function as apps write them: options from the request (here only a Domain, when given). */
  const hostCookie =
    (domain?: string) =>
    (_req: Request): CookieOptions => ({ secure: true, domain });

  it('a __Host- cookie with a Domain: every request is a clear 500 and the log says why, once', async (t) => {
    const logs: string[] = [];
    const app = await startApp(t, {
      imports: [
        SessionModule.forRoot({
          session: { secret: TEST_SECRET, name: '__Host-sid', cookie: hostCookie('example.com') },
        }),
      ],
      controllers: [CounterController, AuthController],
      logs,
    });
    for (let i = 0; i < 2; i++) {
      const res = await app.client().get('/');
      assert.equal(res.status, 500);
      assert.equal(res.body.message, 'The session cookie options are refused in production; the server log says why.');
      assert.equal(res.setCookies.length, 0);
    }
    const errors = logs.filter((l) => l.startsWith('error'));
    assert.equal(errors.length, 1, logs.join('\n'));
    assert.match(errors[0], /must not have cookie\.domain/);
  });

  it("sameSite 'None' without Secure from the function is refused the same way", async (t) => {
    const app = await startApp(t, {
      imports: [
        SessionModule.forRoot({
          session: { secret: TEST_SECRET, cookie: () => ({ sameSite: 'None' as CookieOptions['sameSite'] }) },
        }),
      ],
      controllers: [CounterController],
    });
    assert.equal((await app.client().get('/')).status, 500);
  });

  it('a sound function: sessions work', async (t) => {
    const app = await startApp(t, {
      imports: [SessionModule.forRoot({ session: { secret: TEST_SECRET, name: '__Host-sid', cookie: hostCookie() } })],
      controllers: [CounterController],
    });
    const res = await app.client().get('/', { 'x-forwarded-proto': 'https' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { views: 1 });
  });
});
