// WebGPU in Deno (navigator.gpu; lavapipe, a Vulkan driver on the CPU, on the test machine):
// models with edgewise operators run their WebGPU stages on the GPU and agree with the CPU.
// A missing adapter fails these tests: they exist to prove the GPU path works in Deno.
import { InferenceSession, Tensor } from '../../pkg/index.js';

const fixture = (name) => `target/fixtures/${name}.onnx`;
const GPU_FIRST = { executionProviders: ['webgpu', 'wasm'] };
const CPU_ONLY = { executionProviders: ['wasm'] };
const SIDE = 32;

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** `count` 32×32 images in [0, 1]: waves plus noise, and a bright square with sharp edges. */
function codecInput(count) {
  const r = random(5);
  const data = new Float32Array(count * SIDE * SIDE);
  for (let i = 0; i < data.length; i++) {
    const k = Math.floor(i / (SIDE * SIDE));
    const x = i % SIDE;
    const y = Math.floor(i / SIDE) % SIDE;
    data[i] = k % 2 === 0
      ? Math.min(1, Math.max(0, 0.5 + 0.3 * Math.sin(x * 0.4 + k) * Math.cos(y * 0.3) + 0.2 * (r() - 0.5)))
      : x >= 9 && x < 23 && y >= 6 && y < 20 ? 0.9 : 0.1;
  }
  return new Tensor('float32', data, [count, 1, SIDE, SIDE]);
}

function maxDiff(a, b) {
  assert(a.length === b.length, `lengths ${a.length} and ${b.length}`);
  let worst = 0;
  let where = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) [worst, where] = [d, i];
  }
  return { worst, where };
}

function checkGpuStages(session, kinds) {
  const stages = session.stages();
  const got = stages.map((s) => s.kind).join(' → ');
  assert(got === kinds.join(' → '), `stage kinds ${got}`);
  for (const s of stages) {
    const where = `stage ${s.index} (${s.nodes.join(', ')})`;
    const want = s.kind === 'webgpu' ? 'webgpu' : 'cpu';
    assert(s.placement === want, `${where} ran on '${s.placement}', expected '${want}' (fallback: ${s.fallback})`);
    assert(s.fallback === null, `${where} fell back: ${s.fallback}`);
  }
}

Deno.test('Deno has a WebGPU adapter', async () => {
  assert(typeof navigator !== 'undefined' && navigator.gpu, 'navigator.gpu is missing in this Deno');
  const adapter = await navigator.gpu.requestAdapter();
  assert(adapter, 'navigator.gpu.requestAdapter() gave no adapter (is a Vulkan driver such as lavapipe installed?)');
});

Deno.test("dct_codec with ['webgpu', 'wasm'] runs its WebGPU stages on the GPU and matches the CPU", async () => {
  const warned = [];
  const warn = console.warn;
  console.warn = (...args) => warned.push(args.join(' '));
  try {
    const gpu = await InferenceSession.create(fixture('dct_codec'), GPU_FIRST);
    const cpu = await InferenceSession.create(fixture('dct_codec'), CPU_ONLY);
    assert(typeof gpu.adapter === 'string' && gpu.adapter.length > 0, `adapter: ${gpu.adapter}`);
    assert(cpu.adapter === undefined, `the CPU session has no adapter: ${cpu.adapter}`);
    const kinds = ['cpu', 'webgpu', 'cpu', 'webgpu', 'cpu'];

    for (const batch of [1, 3]) {
      const x = codecInput(batch);
      const a = await gpu.run({ x });
      checkGpuStages(gpu, kinds);
      const b = await cpu.run({ x });
      assert(a.recon.dims.join() === `${batch},1,32,32`, `recon dims [${a.recon.dims}]`);
      assert(a.score.dims.join() === `${batch},1`, `score dims [${a.score.dims}]`);
      // A DCT coefficient on a rounding border may land one quantization step (0.05) away;
      // through the orthonormal inverse DCT that moves a pixel by at most 0.05 · 2/8 = 0.0125.
      const recon = maxDiff(a.recon.data, b.recon.data);
      assert(recon.worst <= 0.0125, `batch ${batch}: recon differs from the CPU by ${recon.worst} at ${recon.where}`);
      const score = maxDiff(a.score.data, b.score.data);
      assert(score.worst <= 1e-3, `batch ${batch}: score differs from the CPU by ${score.worst} (${a.score.data} vs ${b.score.data})`);
      for (const s of a.score.data) assert(s > 0.3 && s <= 1 + 1e-6, `score ${s}`);
      assert(a.recon.data.some((v) => v > 0.1), 'recon is not blank');
    }
    assert(warned.length === 0, `no fallback warnings: ${warned.join('; ')}`);
    await gpu.release();
    await cpu.release();
  } finally {
    console.warn = warn;
  }
});

Deno.test("border_chain with ['webgpu'] runs BorderRound on the GPU, equal to the CPU", async () => {
  const gpu = await InferenceSession.create(fixture('border_chain'), { executionProviders: ['webgpu'] });
  const cpu = await InferenceSession.create(fixture('border_chain'), CPU_ONLY);
  assert(typeof gpu.adapter === 'string', `adapter: ${gpu.adapter}`);
  const r = random(17);
  const x = new Tensor('float32', Float32Array.from({ length: 2 * 32 }, () => (r() - 0.5) * 12), [2, 4, 8]);
  const a = await gpu.run({ x });
  checkGpuStages(gpu, ['cpu', 'webgpu', 'cpu']);
  const b = await cpu.run({ x });
  // Every scale is a power of two, so x / scale is exact on both sides and so is the rounding.
  for (const name of ['q', 'y']) {
    const d = maxDiff(a[name].data, b[name].data);
    assert(d.worst === 0, `${name} differs from the CPU by ${d.worst} at ${d.where}`);
  }
  await gpu.release();
  await cpu.release();
});
