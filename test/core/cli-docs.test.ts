// docs/cli.md is the commander definitions' own help, and every command shows an example.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI_DOC_FILE, generate } from '../../hack/gen-cli-docs.js';
import { buildProgram } from '../../src/cli.js';
import { ROOT } from '../helpers/cli.js';

test('docs/cli.md is exactly the output of hack/gen-cli-docs.ts (run npm run gen after changing a command)', () => {
  assert.equal(readFileSync(join(ROOT, CLI_DOC_FILE), 'utf8'), generate());
});

test('every command is in docs/cli.md with an example', () => {
  const doc = readFileSync(join(ROOT, CLI_DOC_FILE), 'utf8');
  for (const c of buildProgram().commands.filter((x) => x.name() !== 'help')) {
    const section = doc.split(`\n## kto ${c.name()}\n`)[1]?.split('\n## ')[0] ?? '';
    assert.match(section, /\nExamples:\n {2}\S/, `kto ${c.name()} has no example`);
  }
});

test('the README links docs/cli.md', () => {
  assert.match(readFileSync(join(ROOT, 'README.md'), 'utf8'), /\(docs\/cli\.md\)/);
});
