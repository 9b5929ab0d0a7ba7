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
        // sample/, test/ and bench/ are in tsconfig.json, found by the project service.
        projectService: true,
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
    // lib/ is in tsconfig.build.json, which the project service does not look for. Its files are read as that one
    // program, the way `tsc` builds them: a file then sees every declaration the library makes (express-session's
    // additions to Express's Request included) whatever order ESLint reads the files in. (As files of an inferred
    // project instead, a file that imports nothing declaring them saw `req.session` as unresolved or not,
    // depending on which files had been read before it.)
    files: ['lib/**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: false, project: './tsconfig.build.json', tsconfigRootDir: import.meta.dirname },
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
