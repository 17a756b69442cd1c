// onnx/manifest.json describes the committed models exactly: bytes, checksum and signature.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import { InferenceSession } from 'edgewise';

const manifest = JSON.parse(await readFile('onnx/manifest.json', 'utf8'));

test('the manifest lists at least the Sobel demo model', () => {
  assert.ok(manifest.models && typeof manifest.models === 'object');
  assert.ok('sobel' in manifest.models);
});

for (const [name, entry] of Object.entries(manifest.models)) {
  test(`manifest entry '${name}' matches onnx/${entry.file}`, async () => {
    for (const key of ['file', 'sha256', 'bytes', 'opset', 'inputs', 'outputs', 'description', 'provenance']) {
      assert.ok(key in entry, `'${name}' has '${key}'`);
    }
    const bytes = await readFile(`onnx/${entry.file}`);
    assert.equal(bytes.length, entry.bytes, 'size in bytes');
    assert.equal(createHash('sha256').update(bytes).digest('hex'), entry.sha256, 'sha256');
    const session = await InferenceSession.create(new Uint8Array(bytes));
    const signature = (meta) => meta.map((m) => ({ name: m.name, type: m.type, shape: [...m.shape] }));
    assert.deepEqual(signature(session.inputMetadata), entry.inputs, 'inputs');
    assert.deepEqual(signature(session.outputMetadata), entry.outputs, 'outputs');
  });
}

const fixtures = Object.entries(manifest.models).filter(([, e]) => !e.training);
const trained = Object.entries(manifest.models).filter(([, e]) => e.training);

for (const [name, entry] of trained) {
  test(`the trained model '${name}' records how it was trained and what it scored`, async () => {
    assert.match(entry.training.command, new RegExp(`^cargo xtask train ${name} `));
    assert.ok(Number.isInteger(entry.parameters) && entry.parameters > 0, 'parameters');
    assert.ok(Number.isInteger(entry.flops) && entry.flops > 0, 'flops');
    assert.ok(entry.metrics && Object.keys(entry.metrics).length > 0, 'metrics');
  });
}

for (const [name, entry] of fixtures) {
  test(`the committed model '${name}' is the same as the fixture written from the Rust source`, async () => {
    const committed = await readFile(`onnx/${entry.file}`);
    const fixture = await readFile(`target/fixtures/${entry.file}`);
    assert.ok(committed.equals(fixture), `onnx/${entry.file} is stale: rewrite it with write-fixtures --demo onnx`);
  });
}
