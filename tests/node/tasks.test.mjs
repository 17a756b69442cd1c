// The task helpers through the built package (`tasks` of 'edgewise'), each against a naive
// computation written here from the documented formulas, plus their error messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { init, tasks, Tensor } from 'edgewise';

/** A deterministic pseudo-random sequence in [0, 1). */
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function assertClose(actual, expected, tol, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
  }
}

test('the helpers say so when the wasm module is not loaded yet', () => {
  assert.throws(() => tasks.kno.randomInitialCondition(128, 1), /tasks\.kno\.randomInitialCondition: .*await init\(\)/);
});

test('loading the module', async () => {
  await init();
});

// ------------------------------------------------------------------------------- defect

test('defect.prepare: centre crop, area average and Rec. 709 luminance', () => {
  // 96×64 RGBA: the centre 64×64 square is columns 16..80, one source pixel per output pixel.
  const r = random(1);
  const [w, h] = [96, 64];
  const rgba = Uint8ClampedArray.from({ length: w * h * 4 }, () => Math.floor(r() * 256));
  const want = [];
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) {
      const i = 4 * (y * w + 16 + x);
      want.push((0.2126 * rgba[i] + 0.7152 * rgba[i + 1] + 0.0722 * rgba[i + 2]) / 255);
    }
  }
  assertClose(tasks.defect.prepare({ data: rgba, width: w, height: h }), want, 1e-5, 'ImageData-like');
  assertClose(tasks.defect.prepare(rgba, w, h), want, 1e-5, 'RGBA bytes');

  // 96×96 gray floats down to 64×64: each output pixel averages a 1.5×1.5 source area.
  const gray = Float32Array.from({ length: 96 * 96 }, () => r());
  const out = tasks.defect.prepare(gray, 96, 96);
  assert.ok(out instanceof Float32Array && out.length === 4096);
  for (const [ox, oy] of [[0, 0], [1, 0], [17, 33], [63, 63], [40, 2]]) {
    // Naive: the mean of 6×6 midpoint samples per cell (spacing 0.25 px, pixel edges on multiples of 0.5).
    let sum = 0;
    for (let j = 0; j < 6; j++) {
      for (let i = 0; i < 6; i++) {
        const sx = Math.floor((ox + (i + 0.5) / 6) * 1.5);
        const sy = Math.floor((oy + (j + 0.5) / 6) * 1.5);
        sum += gray[sy * 96 + sx];
      }
    }
    assert.ok(Math.abs(out[oy * 64 + ox] - sum / 36) < 1e-5, `(${ox}, ${oy}): ${out[oy * 64 + ox]} vs ${sum / 36}`);
  }
  // Gray bytes, upsampled: a 2×2 image fills the four quadrants.
  const up = tasks.defect.prepare(new Uint8Array([0, 255, 51, 102]), 2, 2);
  assert.deepEqual([up[0], up[63], up[64 * 63], up[4095]].map((v) => Math.round(v * 255)), [0, 255, 51, 102]);
});

test('defect.prepare names bad input', () => {
  assert.throws(() => tasks.defect.prepare(new Uint8Array(12), 2, 2), /tasks\.defect\.prepare: .*16 RGBA bytes.*got 12/);
  assert.throws(() => tasks.defect.prepare(new Float32Array([0, NaN]), 2, 1), /index 1 is not finite/);
  assert.throws(() => tasks.defect.prepare(new Float32Array(4), -2, 2), /width must be an integer/);
  assert.throws(() => tasks.defect.prepare('pixels', 2, 2), /TypeError|must be a Float32Array/);
});

/** 1 − ssim padded to 64×64 by replicating edges (offset 3). */
function naiveHeatmap(ssim, inner = 58, size = 64) {
  const off = (size - inner) / 2;
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const sx = Math.min(inner - 1, Math.max(0, x - off));
      const sy = Math.min(inner - 1, Math.max(0, y - off));
      out[y * size + x] = 1 - ssim[sy * inner + sx];
    }
  }
  return out;
}

/** Boxes of the 8-connected regions by union–find over the mask. */
function naiveBoxes(mask, heat, size, minArea) {
  const parent = Array.from(mask, (_, i) => i);
  const find = (i) => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const [x, y] = [i % size, Math.floor(i / size)];
    for (const [dx, dy] of [[1, 0], [-1, 1], [0, 1], [1, 1]]) {
      const [nx, ny] = [x + dx, y + dy];
      if (nx >= 0 && nx < size && ny < size && mask[ny * size + nx]) parent[find(ny * size + nx)] = find(i);
    }
  }
  const groups = new Map();
  for (let i = 0; i < mask.length; i++) if (mask[i]) (groups.get(find(i)) ?? groups.set(find(i), []).get(find(i))).push(i);
  return [...groups.values()]
    .filter((px) => px.length >= minArea)
    .map((px) => {
      const xs = px.map((i) => i % size);
      const ys = px.map((i) => Math.floor(i / size));
      const [x0, y0] = [Math.min(...xs), Math.min(...ys)];
      return { x: x0, y: y0, w: Math.max(...xs) - x0 + 1, h: Math.max(...ys) - y0 + 1, area: px.length, score: Math.max(...px.map((i) => heat[i])) };
    });
}

function blobs(seed, count) {
  const r = random(seed);
  const ssim = Float32Array.from({ length: 58 * 58 }, () => 0.85 + 0.15 * r());
  for (let k = 0; k < count; k++) {
    const [cx, cy, rad] = [r() * 58, r() * 58, 1 + r() * 5];
    for (let y = 0; y < 58; y++) for (let x = 0; x < 58; x++) if (Math.hypot(x - cx, y - cy) < rad) ssim[y * 58 + x] = 0.2 + 0.5 * r();
  }
  return ssim;
}

test('defect.analyze: heatmap, mask, boxes and score match a naive computation', () => {
  for (const seed of [1, 2, 3, 4]) {
    const ssim = blobs(seed, 2 + seed);
    const [threshold, minArea] = [0.3, 5];
    const found = tasks.defect.analyze(ssim, { threshold, minArea });
    const heat = naiveHeatmap(ssim);
    assert.deepEqual(found.heatmap, heat);
    const mask = Uint8Array.from(heat, (s) => (s > threshold ? 1 : 0));
    assert.deepEqual(found.mask, mask);
    assert.equal(found.score, Math.max(...heat));
    const want = naiveBoxes(mask, heat, 64, minArea);
    assert.ok(want.length > 0, 'the data has regions');
    const key = (b) => b.y * 64 + b.x;
    assert.deepEqual([...found.boxes].sort((a, b) => key(a) - key(b)), want.sort((a, b) => key(a) - key(b)), `seed ${seed}`);
    for (let k = 1; k < found.boxes.length; k++) assert.ok(found.boxes[k - 1].score >= found.boxes[k].score, 'highest score first');
    assert.equal(found.flagged, true);
  }
  // A batch tensor: image `index`.
  const a = blobs(7, 3);
  const b = Float32Array.from({ length: 58 * 58 }, () => 0.99);
  const batch = new Tensor('float32', Float32Array.from([...a, ...b]), [2, 1, 58, 58]);
  const clean = tasks.defect.analyze(batch, { threshold: 0.3, index: 1 });
  assert.equal(clean.flagged, false);
  assert.equal(clean.boxes.length, 0);
  assert.ok(Math.abs(clean.score - 0.01) < 1e-6);
  assert.deepEqual(tasks.defect.analyze(batch, { threshold: 0.3 }).mask, tasks.defect.analyze(a, { threshold: 0.3 }).mask);
});

test('defect.analyze names bad input', () => {
  assert.throws(() => tasks.defect.analyze(new Float32Array(58 * 58)), /options\.threshold must be a number/);
  assert.throws(() => tasks.defect.analyze(new Float32Array(10), { threshold: 0.1 }), /a 3×3 map has 9 values, got 10/);
  assert.throws(() => tasks.defect.analyze(new Float32Array(4), { threshold: NaN }), /threshold must be a finite number/);
  const t = new Tensor('float32', new Float32Array(58 * 58), [1, 1, 58, 58]);
  assert.throws(() => tasks.defect.analyze(t, { threshold: 0.1, index: 1 }), /index 1 is not an image of the batch of 1/);
  assert.throws(() => tasks.defect.analyze(new Float32Array(4), { threshold: 0.1, minArea: -1 }), /minArea must be an integer/);
});

test('defect.sample: textures with and without a defect, and their masks', () => {
  const kinds = tasks.defect.kinds();
  assert.deepEqual(kinds.families, ['stripes', 'grid', 'noise', 'weave', 'dots']);
  assert.deepEqual(kinds.defects, ['scratch', 'hole', 'stain', 'crack']);
  for (const defect of kinds.defects) {
    const s = tasks.defect.sample('weave', defect, 5);
    const c = tasks.defect.sample('weave', null, 5);
    assert.equal(s.image.length, 4096);
    assert.equal(s.defect, defect);
    assert.equal(c.defect, null);
    assert.ok(s.image.every((v) => v >= 0 && v <= 1));
    const masked = s.mask.reduce((a, b) => a + b, 0);
    assert.ok(masked > 4 && masked < 4096 * 0.2, `${defect}: ${masked} mask pixels`);
    assert.ok(c.mask.every((m) => m === 0));
    // Outside the mask the image equals the clean one of the same seed within 0.02.
    for (let i = 0; i < 4096; i++) if (!s.mask[i]) assert.ok(Math.abs(s.image[i] - c.image[i]) <= 0.02 + 1e-6, `${defect} pixel ${i}`);
    assert.ok(s.image.some((v, i) => s.mask[i] && Math.abs(v - c.image[i]) > 0.02), `${defect} changes the image`);
  }
  assert.deepEqual(tasks.defect.sample('grid', 'hole', 9n).image, tasks.defect.sample('grid', 'hole', 9).image);
  assert.notDeepEqual(tasks.defect.sample('grid', 'hole', 10).image, tasks.defect.sample('grid', 'hole', 9).image);
  // Seeds above 2^32 stay distinct (no 32-bit truncation on the way into wasm).
  assert.notDeepEqual(tasks.defect.sample('grid', 'hole', 2 ** 40).image, tasks.defect.sample('grid', 'hole', 2 ** 41).image);
  assert.deepEqual(tasks.defect.sample('grid', 'hole', 2n ** 40n).image, tasks.defect.sample('grid', 'hole', 2 ** 40).image);
  assert.throws(() => tasks.defect.sample('marble', null, 1), /family must be one of stripes, grid, noise, weave, dots, got "marble"/);
  assert.throws(() => tasks.defect.sample('grid', 'dent', 1), /defect must be one of/);
  assert.throws(() => tasks.defect.sample('grid', null, 1.5), /seed must be an integer/);
  assert.throws(() => tasks.defect.sample('grid', null, 1, 8), /size/);
});

// ---------------------------------------------------------------------------------- kno

test('kno.initialCondition is the low-passed periodic linear interpolant of the points', () => {
  const pts = [[0.9, 0.3], [0.1, -0.5], [1.35, 0.8], [0.6, -0.2], [-0.2, 0.1], [0.47, 0]];
  const knots = pts.map(([x, u]) => [x - Math.floor(x), u]).sort((a, b) => a[0] - b[0]);
  const M = 2048;
  const interp = (t) => {
    for (let i = 0; i < knots.length; i++) {
      const [x0, u0] = knots[i];
      const [x1, u1] = i + 1 < knots.length ? knots[i + 1] : [knots[0][0] + 1, knots[0][1]];
      for (const s of [0, -1]) if (x0 + s <= t && t < x1 + s) return u0 + ((u1 - u0) * (t - x0 - s)) / (x1 - x0);
    }
    throw new Error(`no segment for ${t}`);
  };
  const fine = Array.from({ length: M }, (_, j) => interp(j / M));
  const modes = 16;
  const coef = Array.from({ length: modes + 1 }, (_, k) => {
    let [re, im] = [0, 0];
    fine.forEach((f, j) => {
      re += f * Math.cos((2 * Math.PI * k * j) / M);
      im -= f * Math.sin((2 * Math.PI * k * j) / M);
    });
    return [re / M, im / M];
  });
  for (const n of [128, 256]) {
    const want = Array.from({ length: n }, (_, j) => {
      let s = coef[0][0];
      for (let k = 1; k <= modes; k++) s += 2 * (coef[k][0] * Math.cos((2 * Math.PI * k * j) / n) - coef[k][1] * Math.sin((2 * Math.PI * k * j) / n));
      return s;
    });
    assertClose(tasks.kno.initialCondition(pts, n), want, 2e-5, `n ${n}`);
  }
  const objects = tasks.kno.initialCondition(pts.map(([x, u]) => ({ x, u })), 128, { zeroMean: true });
  assert.ok(Math.abs(objects.reduce((a, b) => a + b, 0) / 128) < 1e-6, 'zero mean');
  assert.throws(() => tasks.kno.initialCondition([], 128), /draw at least one point/);
  assert.throws(() => tasks.kno.initialCondition([[0.1, 'a']], 128), /point 0 must be \[x, u\]/);
  assert.throws(() => tasks.kno.initialCondition([[0.1, 0]], 128, { modes: 0 }), /modes must be in 1\.\./);
});

test('kno.randomInitialCondition: smooth, zero mean, the same function on every grid', () => {
  const u128 = tasks.kno.randomInitialCondition(128, 42);
  const u256 = tasks.kno.randomInitialCondition(256, 42);
  assert.equal(u128.length, 128);
  for (let j = 0; j < 128; j++) assert.equal(u256[2 * j], u128[j], `x = ${j / 128}`);
  const mean = u256.reduce((a, b) => a + b, 0) / 256;
  const rms = Math.sqrt(u256.reduce((a, b) => a + b * b, 0) / 256);
  assert.ok(Math.abs(mean) < 1e-6, `mean ${mean}`);
  assert.ok(rms > 0.29 && rms < 0.71, `rms ${rms}`);
  assert.notDeepEqual(tasks.kno.randomInitialCondition(128, 43), u128);
  assert.throws(() => tasks.kno.randomInitialCondition(128, -1), /seed must be an integer/);
});

/** Burgers' equation from u0 = A sin 2πx, exactly (Cole–Hopf), at time t on n points. */
function coleHopf(amp, nu, t, n) {
  const m = 256;
  const phi0 = Array.from({ length: m }, (_, j) => Math.exp((amp * Math.cos((2 * Math.PI * j) / m)) / (4 * Math.PI * nu)));
  const a = Array.from({ length: 40 }, (_, k) => phi0.reduce((s, p, j) => s + p * Math.cos((2 * Math.PI * k * j) / m), 0) / m);
  return Array.from({ length: n }, (_, j) => {
    const x = j / n;
    let [phi, phix] = [a[0], 0];
    for (let k = 1; k < a.length; k++) {
      const kk = 2 * Math.PI * k;
      const d = a[k] * Math.exp(-nu * kk * kk * t);
      phi += 2 * d * Math.cos(kk * x);
      phix -= 2 * d * kk * Math.sin(kk * x);
    }
    return (-2 * nu * phix) / phi;
  });
}

test('kno.solve follows the exact (Cole–Hopf) solution; relativeL2 is the ratio of norms', () => {
  const [amp, nu, dt, steps, n] = [0.5, 0.05, 0.05, 6, 64];
  const u0 = Float32Array.from({ length: n }, (_, j) => amp * Math.sin((2 * Math.PI * j) / n));
  const traj = tasks.kno.solve(u0, { nu, dt, steps });
  assert.equal(traj.length, steps + 1);
  assert.deepEqual(traj[0], u0);
  traj.forEach((u, s) => assertClose(u, coleHopf(amp, nu, s * dt, n), 1e-4, `step ${s}`));
  assert.equal(tasks.kno.solve(u0).length, 51, 'default 50 steps');

  const a = traj[steps];
  const b = Float32Array.from(coleHopf(amp, nu, 0, n));
  let [num, den] = [0, 0];
  for (let i = 0; i < n; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  assert.ok(Math.abs(tasks.kno.relativeL2(a, b) - Math.sqrt(num / den)) < 1e-9);
  assert.equal(tasks.kno.relativeL2([0, 0], [0, 0]), 0);
  assert.equal(tasks.kno.relativeL2([1, 0], [0, 0]), Infinity);
  assert.throws(() => tasks.kno.relativeL2([1, 2, 3], [1]), /3 values and the reference 1/);
  assert.throws(() => tasks.kno.solve(new Float32Array(100)), /tasks\.kno\.solve: u0: n must be a power of two/);
  assert.throws(() => tasks.kno.solve(u0, { nu: 0 }), /nu must be finite and > 0/);
  assert.throws(() => tasks.kno.solve(u0, { steps: 1e9 }), /steps must be an integer/);
});

// --------------------------------------------------------------------------------- rbnn

const MASK64 = (1n << 64n) - 1n;

/** FNV-1a 64 of a name and SplitMix64 as crates/edgewise-data documents them, in BigInt. */
function fnv(name) {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(name)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & MASK64;
  return h;
}
function splitmix(state) {
  let s = state;
  return {
    next() {
      s = (s + 0x9e3779b97f4a7c15n) & MASK64;
      let z = s;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
      return z ^ (z >> 31n);
    },
    state: () => s,
  };
}
function naiveKeys(task, root, taps) {
  const base = (fnv(task) ^ root ^ 0x5851f42d4c957f2dn) & MASK64;
  return taps.map((t, l) => {
    const child = splitmix((base ^ ((BigInt(0x6b657900 + l) * 0xd1342543de82ef95n) & MASK64)) & MASK64);
    child.next();
    const words = Array.from({ length: Math.ceil(t / 32) }, () => Number(child.next() & 0xffffffffn));
    if (t % 32) words[words.length - 1] &= 2 ** (t % 32) - 1;
    return Uint32Array.from(words.map((w) => w >>> 0));
  });
}

test('rbnn.keys follow the documented key schedule; keyFeeds makes the model inputs', () => {
  const taps = [9, 144, 576, 33];
  for (const [task, root] of [['digits', 0x1234n], ['shapes', 0xfeedfacecafebeefn]]) {
    const got = tasks.rbnn.keys(task, `0x${root.toString(16)}`, taps);
    assert.deepEqual(got, naiveKeys(task, root, taps), `${task}`);
    assert.deepEqual(tasks.rbnn.keys(task, root, taps), got, 'bigint root');
  }
  assert.notDeepEqual(tasks.rbnn.keys('digits', '0x1', taps), tasks.rbnn.keys('digits', '0x2', taps));
  const feeds = tasks.rbnn.keyFeeds('letters', 'abc', [{ input: 'key0', taps: 40 }, { input: 'key1', taps: 64 }]);
  assert.deepEqual(Object.keys(feeds), ['key0', 'key1']);
  assert.ok(feeds.key0 instanceof Tensor);
  assert.equal(feeds.key0.type, 'uint32');
  assert.deepEqual(feeds.key0.dims, [2]);
  assert.deepEqual(feeds.key1.data, naiveKeys('letters', 0xabcn, [40, 64])[1]);
  assert.throws(() => tasks.rbnn.keys('digits', 'xyz', taps), /rootKey must be 1 to 16 hex digits/);
  assert.throws(() => tasks.rbnn.keys('digits', '0x1', [0]), /taps\[0\] must be at least 1/);
  assert.throws(() => tasks.rbnn.keyFeeds('digits', '0x1', [{ taps: 3 }]), /layers must be the manifest's helper\.layers/);
});

test('rbnn glyphs: tasks, class names, rendering, labelled samples and predictions', () => {
  assert.deepEqual(tasks.rbnn.tasks(), ['digits', 'letters', 'shapes', 'symbols']);
  assert.deepEqual(tasks.rbnn.classNames('letters'), ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J']);
  const g = tasks.rbnn.renderGlyph('digits', 1, 3);
  assert.equal(g.length, 256);
  assert.ok(g.every((v) => v >= 0 && v <= 1));
  const sorted = [...g].sort((a, b) => a - b);
  assert.ok(sorted[240] - sorted[128] > 0.4, 'a bright stroke on a dark ground');
  assert.deepEqual(tasks.rbnn.renderGlyph('digits', 1, 3), g);
  assert.notDeepEqual(tasks.rbnn.renderGlyph('digits', 7, 3), g);
  const s = tasks.rbnn.samples('shapes', 50, 11);
  assert.equal(s.n, 50);
  assert.equal(s.images.length, 50 * 256);
  const counts = Array(10).fill(0);
  for (const l of s.labels) counts[l] += 1;
  assert.deepEqual(counts, Array(10).fill(5), 'balanced');

  const r = random(5);
  const logits = Float32Array.from({ length: 7 * 10 }, () => r() * 4 - 2);
  logits.set([3, 3, 3, 3, 3, 3, 3, 3, 3, 3], 60); // a tie: the first wins
  const want = Array.from({ length: 7 }, (_, row) => {
    let best = 0;
    for (let k = 1; k < 10; k++) if (logits[row * 10 + k] > logits[row * 10 + best]) best = k;
    return best;
  });
  assert.deepEqual(Array.from(tasks.rbnn.predict(new Tensor('float32', logits, [7, 10]))), want);
  assert.equal(want[6], 0);
  assert.throws(() => tasks.rbnn.predict(new Float32Array(15)), /multiple of classes = 10/);
  assert.throws(() => tasks.rbnn.renderGlyph('runes', 1, 1), /task name must be digits, letters, shapes or symbols/);
  assert.throws(() => tasks.rbnn.renderGlyph('digits', 10, 1), /class must be in 0\.\.10/);
  assert.throws(() => tasks.rbnn.samples('digits', 0, 1), /split n must be in/);
});
