// Execution providers in Node, which has no WebGPU: models with edgewise operators planned
// into CPU and WebGPU stages run every stage on the CPU, say why, and compute what the
// fixtures document (crates/edgewise-onnx/src/fixtures.rs).
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { InferenceSession, Tensor } from 'edgewise';

const fixture = (name) => `target/fixtures/${name}.onnx`;
const GPU_FIRST = { executionProviders: ['webgpu', 'wasm'] };
const CPU_ONLY = { executionProviders: ['wasm'] };

// ---- inputs ---------------------------------------------------------------------------------

/** A deterministic pseudo-random sequence in [0, 1). */
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** border_chain input [batch, 4, 8] in [-6, 6): both signs, several quantization levels. */
function chainInput(batch, seed = 3) {
  const r = random(seed);
  return Float32Array.from({ length: batch * 32 }, () => (r() - 0.5) * 12);
}

const SIDE = 32;

/** Images for dct_codec, each 32×32, in [0, 1]. */
const IMAGES = {
  /** Smooth waves plus noise: every frequency band has energy. */
  textured() {
    const r = random(6);
    return Float32Array.from({ length: SIDE * SIDE }, (_, i) => {
      const x = i % SIDE;
      const y = Math.floor(i / SIDE);
      return Math.min(1, Math.max(0, 0.5 + 0.3 * Math.sin(x * 0.4) * Math.cos(y * 0.3) + 0.2 * (r() - 0.5)));
    });
  },
  /** Sharp edges: a bright square on a dark background. */
  square() {
    return Float32Array.from({ length: SIDE * SIDE }, (_, i) => {
      const x = i % SIDE;
      const y = Math.floor(i / SIDE);
      return x >= 9 && x < 23 && y >= 6 && y < 20 ? 0.9 : 0.1;
    });
  },
  /** All white: interior DC coefficients (8 / 0.05 = 160 steps) clamp at qmax 127. */
  white() {
    return new Float32Array(SIDE * SIDE).fill(1);
  },
  /** All black: every stage maps zeros to zeros, so SSIM(0, 0) = C1·C2 / (C1·C2) = 1. */
  black() {
    return new Float32Array(SIDE * SIDE);
  },
};

function stack(images) {
  const data = new Float32Array(images.length * SIDE * SIDE);
  images.forEach((img, i) => data.set(img, i * SIDE * SIDE));
  return new Tensor('float32', data, [images.length, 1, SIDE, SIDE]);
}

// ---- an independent dct_codec in f64 --------------------------------------------------------

const BLOCK = 8;
const STEP = 0.05;

/** 3×3 box blur (all weights 1/9) with zero padding. */
function boxBlur(img) {
  const out = new Float64Array(SIDE * SIDE);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      let sum = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy >= 0 && yy < SIDE && xx >= 0 && xx < SIDE) sum += img[yy * SIDE + xx];
        }
      }
      out[y * SIDE + x] = sum / 9;
    }
  }
  return out;
}

/** M[u][x] = α(u) cos((2x + 1)uπ / 16), α(0) = √(1/8), α(u > 0) = √(2/8). */
const DCT_MATRIX = Array.from({ length: BLOCK }, (_, u) =>
  Array.from({ length: BLOCK }, (_, x) => Math.sqrt((u === 0 ? 1 : 2) / BLOCK) * Math.cos(((2 * x + 1) * u * Math.PI) / (2 * BLOCK))),
);

/** Applies `f` to every 8×8 tile: the DCT is M·t·Mᵀ, its inverse Mᵀ·T·M. */
function perBlock(img, inverse) {
  const m = (i, k) => (inverse ? DCT_MATRIX[k][i] : DCT_MATRIX[i][k]);
  const out = new Float64Array(SIDE * SIDE);
  for (let by = 0; by < SIDE; by += BLOCK) {
    for (let bx = 0; bx < SIDE; bx += BLOCK) {
      const at = (i, j) => img[(by + i) * SIDE + bx + j];
      for (let u = 0; u < BLOCK; u++) {
        for (let v = 0; v < BLOCK; v++) {
          let sum = 0;
          for (let i = 0; i < BLOCK; i++) {
            for (let j = 0; j < BLOCK; j++) sum += m(u, i) * at(i, j) * m(v, j);
          }
          out[(by + u) * SIDE + bx + v] = sum;
        }
      }
    }
  }
  return out;
}

/** True for the 4×4 lowest frequencies of every 8×8 block: the coefficients the mask keeps. */
const kept = (i) => Math.floor(i / SIDE) % BLOCK < 4 && (i % SIDE) % BLOCK < 4;

/**
 * BorderRound(scale 0.05, border 0.5, qmin −128, qmax 127): q = ⌊v⌋ + [v − ⌊v⌋ ≥ 0.5] for
 * v = d / 0.05, clamped, times 0.05. Also returns how close any kept coefficient's v came to
 * its rounding border (in steps), so a test can make sure float32 rounding cannot pick the
 * other level.
 */
function borderRound(d) {
  let margin = Infinity;
  const q = d.map((value, i) => {
    const v = value / STEP;
    const floor = Math.floor(v);
    if (kept(i)) margin = Math.min(margin, Math.abs(v - floor - 0.5));
    return Math.min(127, Math.max(-128, floor + (v - floor >= 0.5 ? 1 : 0))) * STEP;
  });
  return { q, margin };
}

/** The mask: keeps the 4×4 lowest frequencies of every 8×8 block. */
const lowPass = (q) => q.map((v, i) => (kept(i) ? v : 0));

/** Mean SSIM over the valid region: 7×7 Gaussian window (σ 1.5), L = 1, k1 0.01, k2 0.03. */
function meanSsim(a, b) {
  const win = 7;
  const r = 3;
  const g1 = Array.from({ length: win }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * 1.5 * 1.5)));
  const total = g1.reduce((p, q) => p + q);
  const g = g1.map((v) => v / total);
  const [c1, c2] = [0.01 ** 2, 0.03 ** 2];
  const out = SIDE - win + 1;
  let sum = 0;
  for (let oy = 0; oy < out; oy++) {
    for (let ox = 0; ox < out; ox++) {
      let [ma, mb, aa, bb, ab] = [0, 0, 0, 0, 0];
      for (let i = 0; i < win; i++) {
        for (let j = 0; j < win; j++) {
          const w = g[i] * g[j];
          const x = a[(oy + i) * SIDE + ox + j];
          const y = b[(oy + i) * SIDE + ox + j];
          ma += w * x;
          mb += w * y;
          aa += w * x * x;
          bb += w * y * y;
          ab += w * x * y;
        }
      }
      const [va, vb, cov] = [aa - ma * ma, bb - mb * mb, ab - ma * mb];
      sum += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
    }
  }
  return sum / (out * out);
}

function codecReference(img) {
  const blurred = boxBlur(img);
  const { q, margin } = borderRound(perBlock(blurred, false));
  const recon = perBlock(lowPass(q), true);
  return { recon, score: meanSsim(blurred, recon), margin };
}

// ---- helpers --------------------------------------------------------------------------------

function maxDiff(a, b) {
  assert.equal(a.length, b.length, 'lengths');
  let worst = 0;
  let where = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) [worst, where] = [d, i];
  }
  return { worst, where };
}

/** Output tensors as plain `{ name: { dims, data } }`, for exact comparisons. */
const plain = (outputs) =>
  Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, { type: t.type, dims: [...t.dims], data: Array.from(t.data) }]));

const kinds = (session) => session.stages().map((s) => s.kind);

/** Checks the invariants of every stage report and returns the reports. */
function checkStages(session, { gpuPlacement, fallback }) {
  const stages = session.stages();
  stages.forEach((s, i) => {
    assert.equal(s.index, i, 'stages are listed in order');
    assert.ok(Array.isArray(s.nodes) && s.nodes.length > 0, `stage ${i} has nodes`);
    for (const n of s.nodes) assert.match(n, /^.* \([A-Za-z]+\)$/, `stage ${i} node '${n}' reads 'name (OpType)'`);
    if (s.kind === 'cpu') {
      assert.equal(s.placement, 'cpu', `cpu stage ${i} ran on the CPU`);
      assert.equal(s.fallback, null, `cpu stage ${i} has no fallback`);
    } else {
      assert.equal(s.placement, gpuPlacement, `webgpu stage ${i}: placement`);
      if (fallback === null) assert.equal(s.fallback, null, `webgpu stage ${i}: no fallback`);
      else assert.match(String(s.fallback), fallback, `webgpu stage ${i}: fallback '${s.fallback}'`);
    }
  });
  return stages;
}

const opTypes = (stage) => stage.nodes.map((n) => n.match(/\(([A-Za-z]+)\)$/)[1]);

// console.warn is stubbed for every test in this file, and restored after it.
let warnings;
let originalWarn;
beforeEach(() => {
  warnings = [];
  originalWarn = console.warn;
  console.warn = (...args) => warnings.push(args.map(String).join(' '));
});
afterEach(() => {
  console.warn = originalWarn;
});

// ---- tests ----------------------------------------------------------------------------------

describe('border_chain (Mul → BorderRound, BorderRound → Relu)', () => {
  test("['webgpu', 'wasm'] plans cpu → webgpu → cpu, falls back with 'no-adapter' and matches ['wasm'] exactly", async () => {
    const gpu = await InferenceSession.create(fixture('border_chain'), GPU_FIRST);
    const cpu = await InferenceSession.create(fixture('border_chain'), CPU_ONLY);
    assert.deepEqual(kinds(gpu), ['cpu', 'webgpu', 'cpu']);
    const stages = checkStages(gpu, { gpuPlacement: 'cpu', fallback: /no-adapter/ });
    assert.deepEqual(opTypes(stages[0]), ['Mul']);
    assert.deepEqual(opTypes(stages[1]), ['BorderRound', 'BorderRound']);
    assert.deepEqual(opTypes(stages[2]), ['Relu']);
    assert.equal(gpu.adapter, undefined, 'no adapter in Node');

    assert.deepEqual(kinds(cpu), ['cpu'], "['wasm'] is one CPU plan");
    checkStages(cpu, { gpuPlacement: 'cpu', fallback: null });
    assert.equal(cpu.stages()[0].nodes.length, 4, 'the CPU plan holds all four nodes');

    for (const batch of [1, 3]) {
      const x = new Tensor('float32', chainInput(batch, batch), [batch, 4, 8]);
      const a = await gpu.run({ x });
      const b = await cpu.run({ x });
      assert.deepEqual(Object.keys(a).sort(), ['q', 'y']);
      assert.deepEqual(plain(a), plain(b), `batch ${batch}: same outputs`);
      assert.deepEqual([...a.q.dims], [batch, 4, 8]);
      // y = relu(BorderRound(q, 0.5, 0.5, −4, 4)): multiples of 0.5 in [0, 2].
      for (const v of a.y.data) assert.ok(v >= 0 && v <= 2 && Number.isInteger(v * 2), `y value ${v}`);
      checkStages(gpu, { gpuPlacement: 'cpu', fallback: /no-adapter/ });
    }
    // q follows the documented per-channel BorderRound of 2x (channel = axis 1).
    const scale = [0.25, 0.5, 0.125, 1.0];
    const border = [0.5, 0.3, 0.7, 0.5];
    const xData = chainInput(2, 9);
    const { q } = await gpu.run({ x: new Tensor('float32', xData, [2, 4, 8]) });
    xData.forEach((xv, i) => {
      const c = Math.floor(i / 8) % 4;
      const v = (2 * xv) / scale[c];
      const f = Math.floor(v);
      const want = Math.min(7, Math.max(-8, f + (v - f >= border[c] ? 1 : 0))) * scale[c];
      assert.ok(Math.abs(q.data[i] - want) < 1e-6, `q[${i}] = ${q.data[i]}, expected ${want}`);
    });
  });
});

describe('dct_codec (blur → DCT, quantize → mask → IDCT, SSIM → mean)', () => {
  test("['webgpu', 'wasm'] plans cpu → webgpu → cpu → webgpu → cpu and matches ['wasm'] exactly", async () => {
    const gpu = await InferenceSession.create(fixture('dct_codec'), GPU_FIRST);
    const cpu = await InferenceSession.create(fixture('dct_codec'), CPU_ONLY);
    assert.deepEqual(kinds(gpu), ['cpu', 'webgpu', 'cpu', 'webgpu', 'cpu']);
    const stages = checkStages(gpu, { gpuPlacement: 'cpu', fallback: /no-adapter/ });
    assert.deepEqual(opTypes(stages[0]), ['Conv']);
    assert.deepEqual(opTypes(stages[1]), ['BlockDct', 'BorderRound']);
    assert.deepEqual(opTypes(stages[2]), ['Mul']);
    assert.deepEqual(opTypes(stages[3]), ['BlockIdct', 'SsimMap']);
    assert.deepEqual(opTypes(stages[4]), ['ReduceMean']);
    assert.deepEqual(kinds(cpu), ['cpu']);

    const x = stack([IMAGES.textured(), IMAGES.square()]);
    const a = await gpu.run({ x });
    const b = await cpu.run({ x });
    assert.deepEqual(Object.keys(a).sort(), ['recon', 'score']);
    assert.deepEqual([...a.recon.dims], [2, 1, 32, 32]);
    assert.deepEqual([...a.score.dims], [2, 1]);
    assert.deepEqual(plain(a), plain(b));
    checkStages(gpu, { gpuPlacement: 'cpu', fallback: /no-adapter/ });
  });

  test('recon and score match an independent f64 implementation of the documented pipeline', async () => {
    const session = await InferenceSession.create(fixture('dct_codec'), GPU_FIRST);
    const names = Object.keys(IMAGES);
    const images = names.map((n) => IMAGES[n]());
    const { recon, score } = await session.run({ x: stack(images) });
    names.forEach((name, k) => {
      const want = codecReference(images[k]);
      // A coefficient within float32 noise of its rounding border could legitimately land on
      // the other level; these inputs keep every coefficient well away from one.
      assert.ok(want.margin > 1e-3, `${name}: a DCT coefficient is ${want.margin} steps from a rounding border`);
      const got = recon.data.subarray(k * SIDE * SIDE, (k + 1) * SIDE * SIDE);
      const { worst, where } = maxDiff(got, want.recon);
      assert.ok(worst <= 1e-4, `${name}: recon differs by ${worst} at pixel ${where} (${got[where]} vs ${want.recon[where]})`);
      const s = score.data[k];
      assert.ok(Math.abs(s - want.score) <= 1e-4, `${name}: score ${s}, expected ${want.score}`);
      assert.ok(s > 0 && s <= 1 + 1e-6, `${name}: score ${s} in (0, 1]`);
    });
    const byName = Object.fromEntries(names.map((n, k) => [n, score.data[k]]));
    // A black image stays black through every stage: SSIM is exactly 1.
    assert.ok(Math.abs(byName.black - 1) <= 1e-4, `black: ${byName.black}`);
    assert.ok(recon.data.subarray(3 * SIDE * SIDE).every((v) => v === 0), 'black: recon is all zeros');
    // A constant non-zero image is not scored 1: zero padding darkens the blurred border, whose
    // high frequencies the mask drops, and bright interior blocks clamp at qmax.
    assert.ok(byName.white < 0.9, `white: ${byName.white}`);
    const interior = recon.data[SIDE * SIDE * 2 + 12 * SIDE + 12];
    assert.ok(Math.abs(interior - (127 * STEP) / 8) < 1e-5, `white: clamped DC gives ${interior}, expected ${(127 * STEP) / 8}`);
    assert.ok(byName.textured > 0.5 && byName.textured < 1, `textured: ${byName.textured}`);
  });

  test('warns once per distinct fallback reason across runs, and not at all for the CPU provider', async () => {
    const gpu = await InferenceSession.create(fixture('dct_codec'), GPU_FIRST);
    const x = stack([IMAGES.square()]);
    await gpu.run({ x });
    await gpu.run({ x });
    const reasons = new Set(gpu.stages().map((s) => s.fallback).filter((f) => f !== null));
    assert.ok(reasons.size >= 1, 'at least one reason');
    assert.equal(warnings.length, reasons.size, `one warning per reason, got:\n${warnings.join('\n')}`);
    for (const reason of reasons) {
      assert.equal(warnings.filter((w) => w.includes(reason)).length, 1, `one warning names '${reason}'`);
    }
    for (const w of warnings) assert.match(w, /no-adapter/);

    warnings.length = 0;
    const cpu = await InferenceSession.create(fixture('dct_codec'), CPU_ONLY);
    await cpu.run({ x });
    await cpu.run({ x });
    assert.deepEqual(warnings, [], "['wasm'] never warns");
  });
});

test('the committed onnx/dct_codec.onnx (the demo and browser tests load it) is the fixture', async () => {
  const committed = await readFile('onnx/dct_codec.onnx');
  const written = await readFile(fixture('dct_codec'));
  assert.ok(committed.equals(written), 'onnx/dct_codec.onnx is stale: rewrite it with write-fixtures --demo onnx');
});

describe('provider lists', () => {
  test("['webgpu'] alone and { name: 'webgpu' } plan GPU stages and run them on the CPU here", async () => {
    const x = new Tensor('float32', chainInput(2), [2, 4, 8]);
    const want = plain(await (await InferenceSession.create(fixture('border_chain'), CPU_ONLY)).run({ x }));
    for (const providers of [['webgpu'], [{ name: 'webgpu' }]]) {
      const session = await InferenceSession.create(fixture('border_chain'), { executionProviders: providers });
      assert.deepEqual(kinds(session), ['cpu', 'webgpu', 'cpu'], JSON.stringify(providers));
      assert.deepEqual(plain(await session.run({ x })), want, JSON.stringify(providers));
      checkStages(session, { gpuPlacement: 'cpu', fallback: /no-adapter/ });
    }
  });

  test('a model without edgewise operators is one CPU stage with either provider list', async () => {
    for (const options of [GPU_FIRST, CPU_ONLY, {}]) {
      const session = await InferenceSession.create(fixture('mlp'), options);
      const stages = checkStages(session, { gpuPlacement: 'cpu', fallback: null });
      assert.deepEqual(stages.map((s) => s.kind), ['cpu']);
    }
    assert.deepEqual(warnings, [], 'nothing to warn about');
  });

  test("the default provider list is ['wasm']", async () => {
    const session = await InferenceSession.create(fixture('dct_codec'));
    assert.deepEqual(kinds(session), ['cpu']);
  });

  test('an unknown provider rejects with an Error naming it', async () => {
    for (const providers of [['cuda'], ['webgpu', 'cuda'], [{ name: 'cuda' }]]) {
      await assert.rejects(
        InferenceSession.create(fixture('dct_codec'), { executionProviders: providers }),
        (e) => e instanceof Error && /'cuda'/.test(e.message),
        JSON.stringify(providers),
      );
    }
  });

  test('stages() after release() throws; adapter is undefined', async () => {
    const session = await InferenceSession.create(fixture('dct_codec'), GPU_FIRST);
    assert.equal(session.stages().length, 5);
    await session.release();
    assert.throws(() => session.stages(), (e) => e instanceof Error && /released/.test(e.message));
    assert.equal(session.adapter, undefined);
    await assert.rejects(session.run({ x: stack([IMAGES.black()]) }), /released/);
  });
});
