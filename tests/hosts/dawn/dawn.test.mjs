// WebGPU in Node through Dawn (the npm `webgpu` package), handed to the runtime as
// `executionProviders: [{ name: 'webgpu', gpu }]`: dct_codec's edgewise operators run on the
// GPU and agree with the CPU. `cargo xtask test` runs this with Chromium's SwiftShader Vulkan
// driver (VK_ICD_FILENAMES), which Dawn needs on this machine. A missing adapter fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { InferenceSession, Tensor } from 'edgewise';
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
// Kept for the whole process: Dawn must not be collected while a device lives.
const gpu = create([]);
const SIDE = 32;

/** `count` 32×32 images in [0, 1]: waves, and a bright square with sharp edges. */
function codecInput(count) {
  const data = new Float32Array(count * SIDE * SIDE);
  for (let i = 0; i < data.length; i++) {
    const k = Math.floor(i / (SIDE * SIDE));
    const x = i % SIDE;
    const y = Math.floor(i / SIDE) % SIDE;
    data[i] = k % 2 === 0 ? 0.5 + 0.3 * Math.sin(x * 0.4 + k) * Math.cos(y * 0.3) : x >= 9 && x < 23 && y >= 6 && y < 20 ? 0.9 : 0.1;
  }
  return new Tensor('float32', data, [count, 1, SIDE, SIDE]);
}

function maxDiff(a, b) {
  assert.equal(a.length, b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

test('Dawn gives Node an adapter', async () => {
  const adapter = await gpu.requestAdapter();
  assert.ok(adapter, 'no adapter: is VK_ICD_FILENAMES set to a Vulkan driver Dawn can use?');
});

test("dct_codec with [{ name: 'webgpu', gpu }, 'wasm'] runs its edgewise operators on Dawn", async () => {
  const onGpu = await InferenceSession.create('onnx/dct_codec.onnx', { executionProviders: [{ name: 'webgpu', gpu }, 'wasm'] });
  const onCpu = await InferenceSession.create('onnx/dct_codec.onnx', { executionProviders: ['wasm'] });
  assert.ok(typeof onGpu.adapter === 'string' && onGpu.adapter.length > 0, `adapter: ${onGpu.adapter}`);
  for (const batch of [1, 3]) {
    const x = codecInput(batch);
    const a = await onGpu.run({ x });
    const stages = onGpu.stages();
    assert.deepEqual(
      stages.map((s) => s.kind),
      ['cpu', 'webgpu', 'cpu', 'webgpu', 'cpu'],
    );
    for (const s of stages) {
      assert.equal(s.placement, s.kind, `stage ${s.index} (${s.nodes.join(', ')}) ran on ${s.placement}: ${s.fallback}`);
      assert.equal(s.fallback, null);
    }
    const b = await onCpu.run({ x });
    // A DCT coefficient on a rounding border may land one quantization step (0.05) away;
    // through the orthonormal inverse DCT that moves a pixel by at most 0.05 · 2/8.
    assert.ok(maxDiff(a.recon.data, b.recon.data) <= 0.0125, 'recon agrees with the CPU');
    assert.ok(maxDiff(a.score.data, b.score.data) <= 1e-3, 'score agrees with the CPU');
    assert.ok(a.recon.data.some((v) => v > 0.1), 'recon is not blank');
  }
  await onGpu.release();
  await onCpu.release();
});

test('a gpu that is not a GPU object is refused by name', async () => {
  await assert.rejects(
    InferenceSession.create('onnx/dct_codec.onnx', { executionProviders: [{ name: 'webgpu', gpu: {} }] }),
    /\{ name: 'webgpu', gpu \} needs a GPU object/,
  );
});
