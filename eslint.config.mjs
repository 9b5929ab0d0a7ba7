// ESLint for lib/, sample/, test/ and bench/, with type information (typescript-eslint).
//
// The project compiles with TypeScript 7, whose package no longer carries the JavaScript compiler API that
// typescript-eslint is built on. ESLint therefore reads the code with TypeScript 6, installed as the dev
// dependency `typescript6` (an npm alias of typescript@6): in this ESLint process, and only here, a
// `require('typescript')` is answered with it. `tsc` (the build, `npm run lint`'s type checks) stays TypeScript 7.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import Module, { createRequire } from 'node:module';

const typescript6 = createRequire(import.meta.url);
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'typescript' || request.startsWith('typescript/')) {
    return typescript6.resolve(request.replace('typescript', 'typescript6'));
  }
  return resolveFilename.call(this, request, ...rest);
};
// Loaded after the redirect above (a static import would be evaluated before it).
const { default: tseslint } = await import('typescript-eslint');

export default defineConfig(
  { ignores: ['dist/', 'out/', 'coverage/', 'bench/results/', 'test-artifacts/', '.tmp/'] },
  {
    files: ['lib/**/*.ts', 'sample/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // sample/, test/ and bench/ are in tsconfig.json, found by the project service; lib/ is in
        // tsconfig.build.json, which it does not look for: lib's files are checked with that config's options.
        projectService: {
          allowDefaultProject: ['lib/*.ts', 'lib/*/*.ts', 'lib/*/*/*.ts'],
          defaultProject: 'tsconfig.build.json',
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 200,
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // node:test's test(), describe(), it() and suite() return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
      // Type-only imports say so. With emitDecoratorMetadata, files with decorators are left alone: Nest's
      // dependency injection reads constructor parameter types at run time.
      '@typescript-eslint/consistent-type-imports': 'error',
      // The typed store-driver interfaces take `any` on purpose (the drivers' own signatures vary).
      '@typescript-eslint/no-explicit-any': 'off',
      // A parameter named with a leading underscore is part of an overridable signature, unused on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests read untyped JSON bodies and poke at `any`-typed internals on purpose; their assertions check the shapes.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
