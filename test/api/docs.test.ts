import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';

/** The ```ts blocks of a Markdown file. */
function snippets(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** The documents whose snippets are checked, each with the number of snippets it has at least. */
const documents: { file: string; atLeast: number }[] = [
  { file: 'README.md', atLeast: 5 },
  { file: 'docs/integrations.md', atLeast: 4 },
  { file: 'docs/stores.md', atLeast: 7 },
  { file: 'docs/forms.md', atLeast: 6 },
  { file: 'docs/sessions.md', atLeast: 3 },
];

for (const { file, atLeast } of documents)
  describe(file, () => {
    it('every TypeScript snippet compiles as written (strict, against the built package)', () => {
      const blocks = snippets(readFileSync(resolve(file), 'utf8'));
      assert.ok(blocks.length >= atLeast, `found ${blocks.length} snippets`);
      // Inside the repository, so that the snippets resolve node_modules and the package by its name.
      mkdirSync(resolve('.tmp'), { recursive: true });
      const dir = mkdtempSync(join(resolve('.tmp'), 'docs-snippets-'));
      try {
        const files = blocks.map((code, i) => {
          const file = `snippet-${i + 1}.ts`;
          writeFileSync(join(dir, file), code);
          return file;
        });
        writeFileSync(
          join(dir, 'tsconfig.json'),
          JSON.stringify({
            extends: '../../tsconfig.json',
            compilerOptions: { noEmit: true, rootDir: '.', noUnusedLocals: true },
            include: files,
          }),
        );
        const tsc = spawnSync(
          process.execPath,
          [resolve('node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')],
          {
            encoding: 'utf8',
          },
        );
        assert.equal(tsc.status, 0, `tsc reported:\n${tsc.stdout}${tsc.stderr}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
