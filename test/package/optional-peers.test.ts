import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

/** Packages an app that uses none of the integrations does not have to install. */
const OPTIONAL = [
  '@nestjs/graphql',
  '@nestjs/apollo',
  '@apollo/server',
  'graphql',
  '@nestjs/websockets',
  '@nestjs/platform-socket.io',
  'socket.io',
  '@nestjs/passport',
  'passport',
  'passport-local',
  '@nestjs/terminus',
  '@nestjs/platform-fastify',
];

const dist = pathToFileURL(resolve('dist')).href;
const dir = mkdtempSync(join(tmpdir(), 'nes-optional-'));

// ESM: a resolve hook that refuses the optional packages when this package's build asks for them.
writeFileSync(
  join(dir, 'hooks.mjs'),
  `const optional = ${JSON.stringify(OPTIONAL)};
export async function resolve(specifier, context, next) {
  const hit = optional.some((name) => specifier === name || specifier.startsWith(name + '/'));
  if (hit && context.parentURL && context.parentURL.startsWith(${JSON.stringify(dist)})) {
    throw new Error('optional package imported: ' + specifier + ' from ' + context.parentURL);
  }
  return next(specifier, context);
}
`,
);
writeFileSync(
  join(dir, 'register.mjs'),
  `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`,
);

// CommonJS: the same refusal on require() from this package's CommonJS build.
writeFileSync(
  join(dir, 'refuse.cjs'),
  `const Module = require('node:module');
const optional = ${JSON.stringify(OPTIONAL)};
const dist = ${JSON.stringify(resolve('dist'))};
const original = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const hit = optional.some((name) => request === name || request.startsWith(name + '/'));
  if (hit && parent && parent.filename && parent.filename.startsWith(dist)) {
    throw new Error('optional package required: ' + request + ' from ' + parent.filename);
  }
  return original.call(this, request, parent, ...rest);
};
`,
);

function importEsm(specifier: string) {
  return spawnSync(
    process.execPath,
    [
      '--import',
      pathToFileURL(join(dir, 'register.mjs')).href,
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(specifier)}); console.log(Object.keys(m).sort().join(','));`,
    ],
    { encoding: 'utf8' },
  );
}

function requireCjs(specifier: string) {
  return spawnSync(
    process.execPath,
    [
      '--require',
      join(dir, 'refuse.cjs'),
      '-e',
      `console.log(Object.keys(require(${JSON.stringify(specifier)})).sort().join(','));`,
    ],
    { encoding: 'utf8' },
  );
}

describe('Optional peers stay optional', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the ESM main entry loads without GraphQL, WebSockets, Passport, terminus or Fastify', () => {
    const run = importEsm('nest-express-session');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /SessionHealthIndicator/);
    assert.match(run.stdout, /SessionModule/);
  });

  it('the CommonJS main entry loads without them too', () => {
    const run = requireCjs('nest-express-session');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /SessionModule/);
    assert.match(run.stdout, /whenSessionLoaded/);
  });

  it('the socket.io entry is where @nestjs/platform-socket.io is loaded (the check above can see an import)', () => {
    const esm = importEsm('nest-express-session/socket.io');
    assert.notEqual(esm.status, 0);
    assert.match(esm.stderr, /optional package imported: @nestjs\/platform-socket\.io/);
    const cjs = requireCjs('nest-express-session/socket.io');
    assert.notEqual(cjs.status, 0);
    assert.match(cjs.stderr, /optional package required: @nestjs\/platform-socket\.io/);
  });

  it('the socket.io entry loads in both module systems when its peers are installed', () => {
    for (const args of [
      [
        '--input-type=module',
        '-e',
        `const m = await import('nest-express-session/socket.io'); console.log(typeof m.SessionIoAdapter);`,
      ],
      ['-e', `console.log(typeof require('nest-express-session/socket.io').SessionIoAdapter);`],
    ]) {
      const run = spawnSync(process.execPath, args, { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout.trim(), 'function');
    }
  });
});
