// The package's TypeScript types, checked with `tsc --strict` (tests/types) against the built
// package: the hand-written `index.d.ts`, and `types.d.ts`, generated from the Rust structs.
// The check project must use every name the package exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The names `pkg/index.d.ts` exports (declarations and re-exported types). */
function exportedNames(dts) {
  const names = new Set();
  for (const m of dts.matchAll(/^export (?:declare )?(?:type|interface|class|function|const|namespace) (\w+)/gm)) names.add(m[1]);
  for (const m of dts.matchAll(/^export (?:type )?\{([^}]*)\}/gm)) {
    for (const n of m[1].split(',')) if (n.trim()) names.add(n.trim());
  }
  return [...names];
}

test('tsc --strict accepts the typed use of every export and rejects the misuses', { timeout: 120_000 }, async () => {
  const dts = await readFile('pkg/index.d.ts', 'utf8');
  const generated = await readFile('pkg/types.d.ts', 'utf8');
  assert.match(generated, /export interface DefectResult\b/, 'the result types are generated from the Rust structs');
  const use = await readFile('tests/types/api.ts', 'utf8');
  const names = [...exportedNames(dts), ...exportedNames(generated)];
  assert.match(dts, /^export type \* from '\.\/types\.js';$/m, 'index.d.ts re-exports the generated types');
  assert.ok(names.length > 30, `only ${names.length} exports found`);
  const unused = names.filter((n) => !new RegExp(`\\b${n}\\b`).test(use));
  assert.deepEqual(unused, [], 'exports tests/types/api.ts does not use');
  try {
    await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tests/types'], { maxBuffer: 1 << 24 });
  } catch (e) {
    assert.fail(`tsc --strict failed:\n${e.stdout}${e.stderr}`);
  }
});
