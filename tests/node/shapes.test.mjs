// Models that do not type with their symbolic shapes, through the package in Node: a plan per
// input shape (cached, reused), a branch chosen by an input's value, a Loop,
// freeDimensionOverrides, and float16 tensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { InferenceSession, Tensor, toFloat16Bits, fromFloat16Bits } from 'edgewise';

const fixture = (name) => `target/fixtures/${name}.onnx`;

/** Σ relu(x) over the last axis, computed independently of the model. */
function sumReluLast(data, dims) {
  const last = dims[dims.length - 1];
  const out = [];
  for (let i = 0; i < data.length; i += last) {
    out.push(data.slice(i, i + last).reduce((a, v) => a + Math.max(0, v), 0));
  }
  return out;
}

test('one model at three input sizes and back: a plan per distinct shape, reused on return', async () => {
  const session = await InferenceSession.create(fixture('unshaped'));
  // The model declares no shape, and says so; nothing is built before the first run.
  assert.equal(session.inputMetadata[0].shape, undefined);
  assert.equal(session.plans().perShape, true);
  assert.match(session.plans().reason, /typing failed/);
  assert.equal(session.plans().built, 0);
  const sizes = [[2, 3], [4, 5], [2, 3, 7], [2, 3]];
  for (const dims of sizes) {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, (_, i) => ((i * 7) % 11) - 5);
    const { y } = await session.run({ x: new Tensor('float32', data, dims) });
    assert.deepEqual(y.dims, dims.slice(0, -1));
    assert.deepEqual(Array.from(y.data), sumReluLast(data, dims));
  }
  const plans = session.plans();
  assert.equal(plans.built, 3, 'plans built = distinct shapes');
  assert.equal(plans.reused, 1);
  assert.equal(plans.cached, 3);
  assert.equal(plans.capacity, 8);

  // A bad feed still gets the clear error it always got, and the session keeps its plans.
  await assert.rejects(session.run({ x: new Tensor('int32', new Int32Array(6), [2, 3]) }), /input 'x'.*float32.*int32/);
  await assert.rejects(session.run({ y: new Tensor('float32', new Float32Array(6), [2, 3]) }), /unknown input 'y'/);
  await session.run({ x: new Tensor('float32', new Float32Array(6), [2, 3]) });
  assert.equal(session.plans().built, 3);
  await session.release();
});

test('planCacheSize bounds the plans kept', async () => {
  const session = await InferenceSession.create(fixture('unshaped'), { planCacheSize: 2 });
  for (const n of [3, 4, 5, 3]) await session.run({ x: new Tensor('float32', new Float32Array(n), [1, n]) });
  const plans = session.plans();
  assert.equal(plans.cached, 2);
  assert.equal(plans.built, 4, 'the first shape was evicted and built again');
  await assert.rejects(InferenceSession.create(fixture('unshaped'), { planCacheSize: 0 }), /planCacheSize/);
});

test('a branch on an input value is chosen with that value pinned', async () => {
  const session = await InferenceSession.create(fixture('rate_branch'));
  const x = Float32Array.from([1, -2, 3]);
  const run = (rate) => session.run({ x: new Tensor('float32', x, [3]), rate: new Tensor('int64', BigInt64Array.from([BigInt(rate)]), []) });
  const a = (await run(16000)).y;
  assert.deepEqual(a.dims, [1, 3]);
  assert.deepEqual(Array.from(a.data), [2, -4, 6]);
  const b = (await run(8000)).y;
  assert.deepEqual(b.dims, [1, 3, 1]);
  assert.deepEqual(Array.from(b.data), [1, -2, 3]);
  assert.deepEqual(session.plans().pinned, ['rate']);
});

test('a Loop whose carried value grows runs its body per iteration, reading an outer value', async () => {
  const session = await InferenceSession.create(fixture('counting_loop'));
  for (const [x, steps] of [[[1, 2], 3], [[0.5, -1, 4], 5], [[3], 0]]) {
    const { y, sums } = await session.run({
      x: new Tensor('float32', Float32Array.from(x), [x.length]),
      steps: new Tensor('int64', BigInt64Array.from([BigInt(steps)]), []),
    });
    // Written out: iteration i appends 2·i and emits the running sum.
    const want = [...x];
    const wantSums = [];
    for (let i = 0; i < steps; i++) {
      want.push(2 * i);
      wantSums.push(want.reduce((a, v) => a + v, 0));
    }
    assert.deepEqual(y.dims, [x.length + steps]);
    assert.deepEqual(Array.from(y.data), want);
    assert.deepEqual(sums.dims, [steps]);
    assert.deepEqual(Array.from(sums.data), wantSums);
  }
});

test('freeDimensionOverrides pins a symbolic dim by name, as in onnxruntime-web', async () => {
  const session = await InferenceSession.create(fixture('mlp'), { freeDimensionOverrides: { batch: 2 } });
  assert.deepEqual(session.inputMetadata[0].shape, [2, 4]);
  const { y } = await session.run({ x: new Tensor('float32', new Float32Array(8), [2, 4]) });
  assert.deepEqual(y.dims, [2, 3]);
  await assert.rejects(session.run({ x: new Tensor('float32', new Float32Array(12), [3, 4]) }), /input 'x': dimension 0 must be 2/);
  await assert.rejects(InferenceSession.create(fixture('mlp'), { freeDimensionOverrides: { height: 2 } }), /no input has a dimension named 'height'.*batch/);
  await assert.rejects(InferenceSession.create(fixture('mlp'), { freeDimensionOverrides: { batch: -1 } }), /'batch' must be a non-negative integer/);
});

test('float16 tensors: numbers in, half bits through the model, numbers back', async () => {
  // Round trips of the conversion helpers on values exact in float16, and rounding to even.
  for (const v of [0, -0.5, 1.5, 65504, -65504, 2 ** -24, 1 / 3]) {
    const back = fromFloat16Bits(toFloat16Bits(v));
    assert.ok(Math.abs(back - v) <= Math.abs(v) * 2 ** -11, `${v} -> ${back}`);
  }
  assert.equal(toFloat16Bits(1 + 2 ** -11), toFloat16Bits(1), 'halfway rounds to even');
  assert.equal(fromFloat16Bits(toFloat16Bits(1e6)), Infinity);
  assert.ok(Number.isNaN(fromFloat16Bits(toFloat16Bits(NaN))));

  const session = await InferenceSession.create(fixture('half_precision'));
  assert.equal(session.inputMetadata[0].type, 'float16');
  const xs = [-64, -1.25, 0, 0.00390625, 3.5, 63.75];
  const { y, z } = await session.run({ x: new Tensor('float16', xs, [xs.length]) });
  const want = xs.map((v) => v * 0.5 + 1.5);
  assert.equal(y.type, 'float16');
  assert.ok(y.data instanceof Uint16Array);
  assert.deepEqual(Array.from(y.data, fromFloat16Bits), want);
  assert.deepEqual(Array.from(z.data), want);
  await assert.rejects(session.run({ x: new Tensor('float32', Float32Array.from(xs), [xs.length]) }), /input 'x'.*float16.*float32/);
});
