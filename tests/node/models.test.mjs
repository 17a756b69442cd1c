// The third-party model collection (tests/models/manifest.json) through the npm package in
// Node: every model loads and runs on the inputs its package feeds, and its outputs match
// onnxruntime's (written by tests/models/collection.py, run by `cargo xtask test`) within the
// tolerance the manifest states for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import * as lib from 'edgewise';

import { runCase } from '../conformance/cases.mjs';

const CASES = 'target/models/cases';
const { models } = JSON.parse(await readFile('tests/models/manifest.json', 'utf8'));
const dirs = await readdir(CASES).catch(() => []);

test('the collection has at least 8 models, two int8 and one float16, and their cases', () => {
  assert.ok(models.length >= 8, `${models.length} models`);
  assert.ok(models.filter((m) => m.precision.startsWith('int8')).length >= 2);
  assert.ok(models.some((m) => m.precision === 'float16'));
  for (const m of models) {
    const mine = dirs.filter((d) => d.startsWith(`${m.id}__`));
    assert.equal(mine.length, m.cases.length, `${m.id}: cases in ${CASES} (run \`cargo xtask test\`)`);
  }
});

for (const m of models) {
  test(`${m.id} (${m.package} ${m.version}): ${m.task}`, async () => {
    for (const dir of dirs.filter((d) => d.startsWith(`${m.id}__`)).map((d) => join(CASES, d))) {
      const c = JSON.parse(await readFile(join(dir, 'case.json'), 'utf8'));
      const modelBytes = new Uint8Array(await readFile(c.model));
      await runCase(c, lib, {
        modelBytes,
        read: (file) => readFile(join(dir, file)),
        readExternal: (file) => readFile(join(dirname(c.model), file)),
      });
    }
  });
}

test('a model with external data finds its files beside it when created from a path', async () => {
  const m = models.find((x) => x.external?.length);
  assert.ok(m, 'the collection has a model with external data');
  const dir = join(CASES, dirs.find((d) => d.startsWith(`${m.id}__`)));
  const c = JSON.parse(await readFile(join(dir, 'case.json'), 'utf8'));
  // From a path: the package reads model.onnx.data from the model's folder.
  await runCase(c, lib, { modelBytes: c.model, read: (file) => readFile(join(dir, file)) });
  // From bytes, without the file: a clear error naming it.
  await assert.rejects(lib.InferenceSession.create(new Uint8Array(await readFile(c.model))), /external file 'model\.onnx\.data', which was not given/);
});
