// The multi-threaded build in Node: with `env.numThreads = 2` the package loads `wasm-mt/`,
// starts one worker thread on its shared memory (the calling thread is the pool's other
// one), and every model of the third-party collection still matches onnxruntime's outputs
// (tests/models/manifest.json tolerances).
// node --test runs each file in a process of its own, so this file's thread count does not
// leak into the others, which load the single-threaded build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import * as lib from 'edgewise';

import { runCase } from '../conformance/cases.mjs';

const { env, init } = lib;
const CASES = 'target/models/cases';
const { models } = JSON.parse(await readFile('tests/models/manifest.json', 'utf8'));
const dirs = await readdir(CASES).catch(() => []);

test('env.numThreads is checked, and fixed once the module is loaded', async () => {
  assert.equal(env.numThreads, 0, 'automatic before anything is set');
  assert.throws(() => { env.numThreads = -1; }, RangeError);
  assert.throws(() => { env.numThreads = 1.5; }, RangeError);
  env.wasm.numThreads = 2;
  assert.equal(env.numThreads, 2);
  await init();
  assert.equal(env.numThreads, 2, 'the loaded module runs two threads');
  assert.equal(env.wasm.numThreads, 2);
  assert.throws(() => { env.numThreads = 1; }, /already loaded with 2 thread\(s\)/);
  env.numThreads = 2; // the same value is accepted
});

for (const m of models) {
  test(`two threads: ${m.id} matches onnxruntime`, async () => {
    const mine = dirs.filter((d) => d.startsWith(`${m.id}__`));
    assert.ok(mine.length > 0, `${m.id}: no cases in ${CASES} (run \`cargo xtask test\`)`);
    for (const dir of mine.map((d) => join(CASES, d))) {
      const c = JSON.parse(await readFile(join(dir, 'case.json'), 'utf8'));
      await runCase(c, lib, {
        modelBytes: new Uint8Array(await readFile(c.model)),
        read: (file) => readFile(join(dir, file)),
        readExternal: (file) => readFile(join(dirname(c.model), file)),
      });
    }
  });
}
