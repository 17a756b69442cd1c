// The package in Node, imported by its own name: metadata, numerics, element types, fetches,
// model sources, release, Tensor checks and concurrent runs.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { InferenceSession, Tensor, env } from 'edgewise';

const FIXTURES = 'target/fixtures';
const fixture = (name) => `${FIXTURES}/${name}.onnx`;

// Constants of the mlp fixture (crates/edgewise-onnx/src/fixtures.rs): W is 4×3 row-major.
const MLP_W = [0.5, -1.0, 0.25, 1.5, 0.0, -0.5, -2.0, 1.0, 0.75, 0.1, 0.2, 0.3];
const MLP_B = [0.1, -0.2, 0.05];

/** relu(x · W + b) for x of shape [batch, 4], computed independently of the model. */
function mlpReference(x, batch) {
  const y = new Float64Array(batch * 3);
  for (let r = 0; r < batch; r++) {
    for (let c = 0; c < 3; c++) {
      let z = MLP_B[c];
      for (let k = 0; k < 4; k++) z += x[r * 4 + k] * MLP_W[k * 3 + c];
      y[r * 3 + c] = Math.max(0, z);
    }
  }
  return y;
}

/** Deterministic inputs with both signs, so relu clips some outputs and passes others. */
function mlpInput(batch, seed = 1) {
  return Float32Array.from({ length: batch * 4 }, (_, i) => Math.sin(i * 1.7 + seed) * 2);
}

function assertClose(actual, expected, tol = 1e-5) {
  assert.equal(actual.length, expected.length, 'length');
  for (let i = 0; i < expected.length; i++) {
    const ok = Math.abs(actual[i] - expected[i]) <= tol * (1 + Math.abs(expected[i]));
    assert.ok(ok, `element ${i}: got ${actual[i]}, expected ${expected[i]}`);
  }
}

async function assertMlpRuns(session, batch, seed = 1) {
  const x = mlpInput(batch, seed);
  const out = await session.run({ x: new Tensor('float32', x, [batch, 4]) });
  assert.deepEqual(Object.keys(out), ['y']);
  assert.ok(out.y instanceof Tensor);
  assert.equal(out.y.type, 'float32');
  assert.deepEqual([...out.y.dims], [batch, 3]);
  assertClose(out.y.data, mlpReference(x, batch));
}

describe('metadata', () => {
  test('mlp: names, types and a symbolic batch as a string', async () => {
    const s = await InferenceSession.create(fixture('mlp'));
    assert.deepEqual([...s.inputNames], ['x']);
    assert.deepEqual([...s.outputNames], ['y']);
    assert.deepEqual(JSON.parse(JSON.stringify(s.inputMetadata)), [
      { name: 'x', isTensor: true, type: 'float32', shape: ['batch', 4] },
    ]);
    assert.deepEqual(JSON.parse(JSON.stringify(s.outputMetadata)), [
      { name: 'y', isTensor: true, type: 'float32', shape: ['batch', 3] },
    ]);
    assert.equal(typeof s.inputMetadata[0].shape[0], 'string');
    assert.equal(typeof s.inputMetadata[0].shape[1], 'number');
  });

  test('dtypes: every input and output type', async () => {
    const s = await InferenceSession.create(fixture('dtypes'));
    const types = (meta) => Object.fromEntries(meta.map((m) => [m.name, m.type]));
    assert.deepEqual(types(s.inputMetadata), {
      i64_in: 'int64', i32_in: 'int32', u8_in: 'uint8', bool_in: 'bool', f64_in: 'float64',
    });
    assert.deepEqual(types(s.outputMetadata), {
      i64_out: 'int64', i32_out: 'int32', u8_out: 'float32', bool_out: 'bool', f64_out: 'float64',
    });
    for (const m of [...s.inputMetadata, ...s.outputMetadata]) assert.deepEqual([...m.shape], ['n']);
  });

  test('two_inputs and sobel shapes', async () => {
    const two = await InferenceSession.create(fixture('two_inputs'));
    assert.deepEqual([...two.inputNames], ['a', 'b']);
    assert.deepEqual([...two.outputNames], ['sum']);
    assert.deepEqual(two.inputMetadata.map((m) => [...m.shape]), [['batch', 2], ['batch', 2]]);
    const sobel = await InferenceSession.create('onnx/sobel.onnx');
    assert.deepEqual([...sobel.inputMetadata[0].shape], ['batch', 1, 64, 64]);
    assert.deepEqual([...sobel.outputNames], ['edges']);
  });

  test('env reports the package version and wasm memory once loaded', async () => {
    await InferenceSession.create(fixture('mlp'));
    const pkg = JSON.parse(await readFile('package.json', 'utf8'));
    assert.equal(env.versions.edgewise, pkg.version);
    assert.ok(env.wasmMemoryBytes > 0, `wasmMemoryBytes = ${env.wasmMemoryBytes}`);
  });
});

describe('mlp numerics', () => {
  test('batch 1 and batch 5 on one session match relu(x·W+b)', async () => {
    const s = await InferenceSession.create(fixture('mlp'));
    // A hand-checked row: x = [1,2,3,4] gives z = [-2.8, 2.6, 2.75], so y = [0, 2.6, 2.75].
    const one = await s.run({ x: new Tensor('float32', [1, 2, 3, 4], [1, 4]) });
    assertClose(one.y.data, [0, 2.6, 2.75]);
    await assertMlpRuns(s, 1);
    await assertMlpRuns(s, 5, 3);
    await assertMlpRuns(s, 1, 7);
  });

  test('graphOptimizationLevel disabled and the wasm/cpu providers give the same numbers', async () => {
    for (const options of [
      { graphOptimizationLevel: 'disabled' },
      { executionProviders: ['wasm'] },
      { executionProviders: ['cpu'] },
      { executionProviders: [{ name: 'wasm' }] },
    ]) {
      const s = await InferenceSession.create(fixture('mlp'), options);
      await assertMlpRuns(s, 3);
    }
  });
});

describe('element types', () => {
  let s;
  before(async () => {
    s = await InferenceSession.create(fixture('dtypes'));
  });
  const feeds = () => ({
    i64_in: new Tensor('int64', BigInt64Array.from([1n, -2n, 1n << 50n, 0n])),
    i32_in: new Tensor('int32', Int32Array.from([1, -8, 2147483640, 0])),
    u8_in: new Tensor('uint8', Uint8Array.from([0, 1, 255, 128])),
    bool_in: new Tensor('bool', Uint8Array.from([1, 0, 1, 0])),
    f64_in: new Tensor('float64', Float64Array.from([1.1, 0, -1e300, 1 + 2 ** -40])),
  });

  test('int64, int32, uint8, bool and float64 in and out', async () => {
    const out = await s.run(feeds());
    assert.deepEqual(Object.keys(out).sort(), ['bool_out', 'f64_out', 'i32_out', 'i64_out', 'u8_out']);
    assert.ok(out.i64_out.data instanceof BigInt64Array);
    assert.deepEqual([...out.i64_out.data], [3n, -6n, 3n << 50n, 0n]);
    assert.ok(out.i32_out.data instanceof Int32Array);
    assert.deepEqual([...out.i32_out.data], [8, -1, 2147483647, 7]);
    assert.ok(out.u8_out.data instanceof Float32Array);
    assert.deepEqual([...out.u8_out.data], [0, 0.5, 127.5, 64]);
    assert.equal(out.bool_out.type, 'bool');
    assert.deepEqual([...out.bool_out.data], [0, 1, 0, 1]);
    assert.ok(out.f64_out.data instanceof Float64Array);
    // Exact double arithmetic: a float32 round trip would lose these digits.
    assert.deepEqual([...out.f64_out.data], [1.1 - 1, -1, -1e300 - 1, 2 ** -40]);
    for (const t of Object.values(out)) assert.deepEqual([...t.dims], [4]);
  });

  test('fetches returns only the outputs asked for', async () => {
    const out = await s.run(feeds(), ['i32_out', 'bool_out']);
    assert.deepEqual(Object.keys(out).sort(), ['bool_out', 'i32_out']);
    assert.deepEqual([...out.i32_out.data], [8, -1, 2147483647, 7]);
    await assert.rejects(s.run(feeds(), ['nope']), (e) => e instanceof Error && /unknown output 'nope'/.test(e.message));
  });
});

describe('model sources', () => {
  let bytes;
  before(async () => {
    bytes = new Uint8Array(await readFile(fixture('mlp')));
  });

  test('a Uint8Array', async () => {
    await assertMlpRuns(await InferenceSession.create(bytes), 2);
  });

  test('an ArrayBuffer', async () => {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    assert.ok(buffer instanceof ArrayBuffer);
    await assertMlpRuns(await InferenceSession.create(buffer), 2);
  });

  test('a view into the middle of a larger buffer', async () => {
    const big = new Uint8Array(bytes.length + 16);
    big.set(bytes, 8);
    await assertMlpRuns(await InferenceSession.create(big.subarray(8, 8 + bytes.length)), 2);
  });

  test('a relative and an absolute file path', async () => {
    await assertMlpRuns(await InferenceSession.create(fixture('mlp')), 2);
    await assertMlpRuns(await InferenceSession.create(resolve(fixture('mlp'))), 2);
  });

  test('a file: URL, as a URL object and as a string', async () => {
    const url = pathToFileURL(resolve(fixture('mlp')));
    await assertMlpRuns(await InferenceSession.create(url), 2);
    await assertMlpRuns(await InferenceSession.create(url.href), 2);
  });
});

test('release() frees the session and later runs reject', async () => {
  const s = await InferenceSession.create(fixture('mlp'));
  await assertMlpRuns(s, 1);
  await s.release();
  await assert.rejects(
    s.run({ x: new Tensor('float32', mlpInput(1), [1, 4]) }),
    (e) => e instanceof Error && /released/.test(e.message),
  );
  await s.release(); // a second release is harmless
});

describe('Tensor constructor', () => {
  test('a size mismatch throws', () => {
    assert.throws(() => new Tensor('float32', new Float32Array(6), [2, 2]), (e) => e instanceof Error && /size 4.*length 6/.test(e.message));
  });
  test('a typed array of the wrong kind throws', () => {
    assert.throws(() => new Tensor('float32', new Int32Array(4), [4]), (e) => e instanceof TypeError && /Float32Array.*Int32Array/.test(e.message));
    assert.throws(() => new Tensor('int64', new Int32Array(4)), (e) => e instanceof TypeError && /BigInt64Array/.test(e.message));
  });
  test('an unknown type throws', () => {
    assert.throws(() => new Tensor('float16x', [1, 2]), (e) => e instanceof TypeError && /float16x/.test(e.message));
  });
  test('bad dims throw', () => {
    assert.throws(() => new Tensor('float32', [1, 2], [2.5]), TypeError);
    assert.throws(() => new Tensor('float32', [1, 2], [-1, -2]), TypeError);
  });
  test('plain arrays are converted', () => {
    const f = new Tensor('float32', [1, 2.5, 3, 4], [2, 2]);
    assert.ok(f.data instanceof Float32Array);
    assert.deepEqual([...f.data], [1, 2.5, 3, 4]);
    assert.deepEqual([...f.dims], [2, 2]);
    assert.equal(f.size, 4);
    const b = new Tensor('bool', [true, false, true]);
    assert.ok(b.data instanceof Uint8Array);
    assert.deepEqual([...b.data], [1, 0, 1]);
    assert.deepEqual([...b.dims], [3]);
  });
  test('int64 from numbers and bigints', () => {
    const t = new Tensor('int64', [1, -2, 2 ** 40, 5n]);
    assert.ok(t.data instanceof BigInt64Array);
    assert.deepEqual([...t.data], [1n, -2n, 2n ** 40n, 5n]);
  });
  test('the type is inferred from a typed array', () => {
    const t = new Tensor(new Int32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    assert.equal(t.type, 'int32');
    assert.deepEqual([...t.dims], [2, 3]);
    assert.throws(() => new Tensor([1, 2, 3]), TypeError);
  });
});

test('concurrent runs started without awaiting all resolve correctly', async () => {
  const a = await InferenceSession.create(fixture('mlp'));
  const b = await InferenceSession.create(fixture('mlp'));
  const jobs = [];
  for (let i = 0; i < 12; i++) {
    const batch = 1 + (i % 5);
    const x = mlpInput(batch, i);
    const session = i % 3 === 0 ? b : a;
    jobs.push(session.run({ x: new Tensor('float32', x, [batch, 4]) }).then((out) => ({ out, x, batch })));
  }
  const results = await Promise.all(jobs);
  assert.equal(results.length, 12);
  for (const { out, x, batch } of results) {
    assert.deepEqual([...out.y.dims], [batch, 3]);
    assertClose(out.y.data, mlpReference(x, batch));
  }
});

test('env.gemmKernel picks the matrix kernel of later sessions; both compute the mlp', async () => {
  await InferenceSession.create(fixture('mlp'));
  assert.equal(env.gemmKernel, 'edgewise');
  const x = mlpInput(9, 3);
  const outputs = {};
  try {
    for (const kernel of ['tract', 'edgewise']) {
      env.gemmKernel = kernel;
      assert.equal(env.gemmKernel, kernel);
      const s = await InferenceSession.create(fixture('mlp'));
      const out = await s.run({ x: new Tensor('float32', x, [9, 4]) });
      assertClose(out.y.data, mlpReference(x, 9));
      outputs[kernel] = out.y.data;
      await s.release();
    }
    assert.deepEqual(outputs.edgewise, outputs.tract);
    assert.throws(() => { env.gemmKernel = 'mlas'; }, /env\.gemmKernel: expected "edgewise" or "tract", got "mlas"/);
    assert.throws(() => { env.gemmKernel = 3; }, TypeError);
    assert.equal(env.gemmKernel, 'edgewise');
  } finally {
    env.gemmKernel = 'edgewise';
  }
});
