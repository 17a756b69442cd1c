// Bad inputs, one test each: every failure is an Error whose message names the problem and
// the input, and neither the failing session nor another one is harmed by it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { InferenceSession, Tensor } from 'edgewise';

const fixture = (name) => `target/fixtures/${name}.onnx`;

const MLP_W = [0.5, -1.0, 0.25, 1.5, 0.0, -0.5, -2.0, 1.0, 0.75, 0.1, 0.2, 0.3];
const MLP_B = [0.1, -0.2, 0.05];

/** relu(x · W + b), computed independently of the model. */
function mlpReference(x, batch) {
  return Array.from({ length: batch * 3 }, (_, i) => {
    const r = Math.floor(i / 3);
    const c = i % 3;
    let z = MLP_B[c];
    for (let k = 0; k < 4; k++) z += x[r * 4 + k] * MLP_W[k * 3 + c];
    return Math.max(0, z);
  });
}

async function assertMlpWorks(session, batch = 3) {
  const x = Float32Array.from({ length: batch * 4 }, (_, i) => Math.cos(i * 0.9) * 3);
  const { y } = await session.run({ x: new Tensor('float32', x, [batch, 4]) });
  assert.deepEqual([...y.dims], [batch, 3]);
  const want = mlpReference(x, batch);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(y.data[i] - want[i]) < 1e-5, `y[${i}] = ${y.data[i]}, expected ${want[i]}`);
  }
}

/** Awaits a rejection that is an Error whose message matches every pattern. */
async function rejectsWith(promise, ...patterns) {
  let error;
  await assert.rejects(promise, (e) => {
    error = e;
    return true;
  });
  assert.ok(error instanceof Error, `rejected with a non-Error: ${error}`);
  for (const p of patterns) assert.match(error.message, p);
  return error;
}

const x = (dims, type = 'float32') => new Tensor(type, new (type === 'float64' ? Float64Array : Float32Array)(dims.reduce((a, b) => a * b, 1)), dims);

let mlp; // the session the run errors are made on
let other; // a second session that must stay unaffected
let two;

before(async () => {
  mlp = await InferenceSession.create(fixture('mlp'));
  other = await InferenceSession.create(fixture('mlp'));
  two = await InferenceSession.create(fixture('two_inputs'));
});

after(async () => {
  // Both sessions still give the right numbers after the whole bad-input set.
  await assertMlpWorks(mlp, 4);
  await assertMlpWorks(other, 4);
});

describe('bad models', () => {
  const afterCreateError = async () => {
    await assertMlpWorks(mlp);
    await assertMlpWorks(other);
    await assertMlpWorks(await InferenceSession.create(fixture('mlp')), 2);
  };

  test('empty bytes', async () => {
    await rejectsWith(InferenceSession.create(new Uint8Array(0)), /empty/i, /0 bytes/);
    await afterCreateError();
  });

  test('truncated bytes', async () => {
    const bytes = new Uint8Array(await readFile(fixture('mlp')));
    const cut = bytes.subarray(0, Math.floor(bytes.length / 2));
    await rejectsWith(InferenceSession.create(cut), /invalid model/i, /ONNX|protobuf/i, new RegExp(`${cut.length} bytes`));
    await afterCreateError();
  });

  test('a PNG file', async () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1]);
    await rejectsWith(InferenceSession.create(png), /invalid model/i, /not an ONNX/i);
    await afterCreateError();
  });

  test('a text file', async () => {
    const text = new TextEncoder().encode('name,value\nalpha,1\nbeta,2\n');
    await rejectsWith(InferenceSession.create(text), /invalid model/i, /not an ONNX/i);
    await afterCreateError();
  });

  test('a path that does not exist', async () => {
    await rejectsWith(InferenceSession.create('target/fixtures/no-such-model.onnx'), /no-such-model\.onnx/);
    await afterCreateError();
  });

  test('an unsupported operator', async () => {
    const e = await rejectsWith(InferenceSession.create(fixture('unsupported_op')), /FancyOp/, /unsupported/i);
    assert.match(e.message, /fancyop_1/, 'names the node');
    await afterCreateError();
  });
});

describe('bad feeds', () => {
  const afterRunError = async () => {
    await assertMlpWorks(mlp);
    await assertMlpWorks(other);
  };

  test('a missing feed', async () => {
    await rejectsWith(mlp.run({}), /missing input 'x'/);
    await afterRunError();
  });

  test('an unknown input name', async () => {
    await rejectsWith(mlp.run({ x: x([1, 4]), extra: x([1]) }), /unknown input 'extra'/, /'x'/);
    await afterRunError();
  });

  test('the wrong element type', async () => {
    await rejectsWith(mlp.run({ x: x([1, 4], 'float64') }), /input 'x'/, /float32/, /float64/);
    await afterRunError();
  });

  test('the wrong rank', async () => {
    await rejectsWith(mlp.run({ x: x([4]) }), /input 'x'/, /rank 2/, /rank 1/);
    await rejectsWith(mlp.run({ x: x([1, 1, 4]) }), /input 'x'/, /rank 2/, /rank 3/);
    await afterRunError();
  });

  test('a wrong fixed dimension', async () => {
    await rejectsWith(mlp.run({ x: x([2, 5]) }), /input 'x'/, /dimension 1/, /4/, /5/);
    await afterRunError();
  });

  test('inconsistent symbolic batch between two inputs', async () => {
    const e = await rejectsWith(two.run({ a: x([1, 2]), b: x([3, 2]) }), /input '[ab]'/, /batch/);
    assert.match(e.message, /1/);
    assert.match(e.message, /3/);
    const { sum } = await two.run({ a: new Tensor('float32', [1, 2, 3, 4], [2, 2]), b: new Tensor('float32', [10, 20, 30, 40], [2, 2]) });
    assert.deepEqual([...sum.data], [11, 22, 33, 44]);
    await afterRunError();
  });

  test('a feed that is not a Tensor', async () => {
    await rejectsWith(mlp.run({ x: [1, 2, 3, 4] }), /input 'x'/, /Tensor/);
    await afterRunError();
  });

  test('an error in the middle of queued runs does not disturb the others', async () => {
    const good = mlp.run({ x: new Tensor('float32', [1, 2, 3, 4], [1, 4]) });
    const bad = mlp.run({ x: x([1, 3]) });
    const good2 = mlp.run({ x: new Tensor('float32', [1, 2, 3, 4], [1, 4]) });
    await rejectsWith(bad, /input 'x'/);
    for (const { y } of await Promise.all([good, good2])) {
      assert.ok(Math.abs(y.data[1] - 2.6) < 1e-6 && Math.abs(y.data[2] - 2.75) < 1e-6, `${[...y.data]}`);
    }
  });
});
