// `pipeline(id)` through the built package: each pipeline against the same work done by hand
// (the task helpers and an `InferenceSession` on the committed model), batches, progress,
// the sha256 check, and the errors a caller can cause.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { InferenceSession, Tensor, pipeline, pipelines, tasks } from 'edgewise';

const manifest = JSON.parse(await readFile('onnx/manifest.json', 'utf8'));
const modelBytes = (id) => readFile(`onnx/${manifest.models[id].file}`);

function assertSame(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) assert.equal(actual[i], expected[i], `${what}[${i}]`);
}

/** A gray image as `{ data, width, height }` (floats in [0, 1]). */
const gray = (data, side) => ({ data, width: side, height: side });

test('pipelines() lists the catalogue systems with their shipped models', async () => {
  const list = await pipelines();
  assert.deepEqual(
    list.map((p) => p.id),
    ['defect', 'kno', 'rbnn', 'aquant', 'snf', 'multiexit', 'exitdoor'],
  );
  for (const p of list) {
    const entry = manifest.models[p.id];
    assert.equal(p.file, entry.file);
    assert.equal(p.sha256, entry.sha256);
    assert.equal(p.bytes, entry.bytes);
  }
});

test("pipeline('defect') gives what prepare → run → analyze gives, in one call", async () => {
  const detect = await pipeline('defect');
  const session = await InferenceSession.create(await modelBytes('defect'));
  const { threshold } = manifest.models.defect.helper;
  for (const [family, defect, seed] of [
    ['stripes', 'scratch', 3],
    ['weave', null, 4],
  ]) {
    const s = tasks.defect.sample(family, defect, seed);
    const r = await detect(gray(s.image, s.size));
    const x = tasks.defect.prepare(s.image, s.size, s.size);
    const { ssim, recon } = await session.run({ image: new Tensor('float32', x, [1, 1, 64, 64]) });
    const want = tasks.defect.analyze(ssim, { threshold });
    assert.ok(r.heatmap instanceof Float32Array && r.mask instanceof Uint8Array);
    assertSame(r.heatmap, want.heatmap, 'heatmap');
    assertSame(r.mask, want.mask, 'mask');
    assert.deepEqual(r.boxes, want.boxes);
    assert.equal(r.score, want.score);
    assert.equal(r.flagged, want.flagged);
    assert.equal(r.threshold, threshold);
    assertSame(r.input, x, 'input');
    assertSame(r.reconstruction, recon.data, 'reconstruction');
    assert.deepEqual(r.crop, { x: 0, y: 0, side: 64 });
  }
  detect.dispose();
});

test("pipeline('defect'): ImageData-like RGBA, a batch, and options", async () => {
  const detect = await pipeline('defect');
  // 96×64 RGBA: the heatmap covers the centred 64×64 square, columns 16..80.
  const [w, h] = [96, 64];
  const rgba = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < w * h; i++) rgba.set([(i * 7) % 256, (i * 13) % 256, (i * 29) % 256, 255], 4 * i);
  const image = { data: rgba, width: w, height: h };
  const one = await detect(image, { threshold: 0.2, minArea: 3 });
  assert.deepEqual(one.crop, { x: 16, y: 0, side: 64 });
  assert.equal(one.threshold, 0.2);
  assert.ok(one.boxes.every((b) => b.area >= 3));
  assertSame(one.input, tasks.defect.prepare(image), 'input');
  const s = tasks.defect.sample('stripes', 'scratch', 3);
  const batch = await detect([image, gray(s.image, s.size)], { threshold: 0.2, minArea: 3 });
  assert.equal(batch.length, 2);
  assertSame(batch[0].heatmap, one.heatmap, 'batched heatmap 0');
  const alone = await detect(gray(s.image, s.size), { threshold: 0.2, minArea: 3 });
  assertSame(batch[1].heatmap, alone.heatmap, 'batched heatmap 1');
  assert.deepEqual(await detect([]), []);
  // Calls made at once run in turn, each with its own options, and a failing one fails alone.
  const [a, bad, b] = await Promise.allSettled([
    detect(image, { threshold: 0.2, minArea: 3 }),
    detect({ data: new Uint8Array(3), width: 4, height: 4 }),
    detect(gray(s.image, s.size), { threshold: 0.2, minArea: 3 }),
  ]);
  assert.equal(bad.status, 'rejected');
  assertSame(a.value.heatmap, one.heatmap, 'concurrent call 0');
  assertSame(b.value.heatmap, alone.heatmap, 'concurrent call 2');
});

test("pipeline('kno') rolls out as step-by-step session runs do", async () => {
  const step = await pipeline('kno');
  const session = await InferenceSession.create(await modelBytes('kno'));
  const u0 = tasks.kno.randomInitialCondition(128, 7);
  const r = await step(u0, { steps: 5 });
  assert.equal(r.states.length, 6);
  assert.equal(r.n, 128);
  assert.equal(r.dt, manifest.models.kno.helper.dt);
  let u = u0;
  for (let k = 0; k <= 5; k++) {
    assertSame(r.states[k], u, `state ${k}`);
    u = (await session.run({ u: new Tensor('float32', u, [1, 1, 128]) })).u_next.data;
  }
  const plain = await step(Array.from(u0), { steps: 2 });
  assertSame(plain.states[2], r.states[2], 'from a number array');
  const two = await step([u0, tasks.kno.randomInitialCondition(128, 8)], { steps: 2 });
  assertSame(two[0].states[2], r.states[2], 'batched rollout');
  const rest = await step(tasks.kno.randomInitialCondition(128, 8), { steps: 2 });
  assertSame(two[1].states[2], rest.states[2], 'batched rollout 1');
  assert.equal((await step(u0)).states.length, manifest.models.kno.helper.steps + 1);
  await assert.rejects(step([u0, u0.subarray(0, 64)]), /pipeline\('kno'\): a batch runs states of one size/);
});

test("pipeline('rbnn') classifies glyphs as the keyed session does, and a wrong root key guesses", async () => {
  const classify = await pipeline('rbnn');
  const helper = manifest.models.rbnn.helper;
  const session = await InferenceSession.create(await modelBytes('rbnn'));
  const { images, labels, n } = tasks.rbnn.samples('letters', 20, 11);
  const glyphs = Array.from({ length: n }, (_, i) => gray(images.subarray(i * 256, (i + 1) * 256), 16));
  const results = await classify(glyphs, { task: 'letters' });
  const keys = tasks.rbnn.keyFeeds('letters', helper.root_key, helper.layers);
  const { logits } = await session.run({ image: new Tensor('float32', images, [n, 1, 16, 16]), ...keys });
  const want = tasks.rbnn.predict(logits, 10);
  results.forEach((r, i) => {
    assert.equal(r.task, 'letters');
    assert.equal(r.label, want[i]);
    assert.equal(r.className, helper.classes.letters[want[i]]);
    assertSame(r.logits, logits.data.subarray(i * 10, (i + 1) * 10), `logits ${i}`);
    const sum = r.probabilities.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5, `probabilities sum to ${sum}`);
  });
  const right = results.filter((r, i) => r.label === labels[i]).length;
  assert.ok(right >= 16, `the shipped key gets ${right} of ${n} letters right`);
  const wrong = await classify(glyphs, { task: 'letters', rootKey: '0x1234' });
  const guessed = wrong.filter((r, i) => r.label === labels[i]).length;
  assert.ok(guessed < right, `a wrong root key still gets ${guessed} of ${n} right`);
  const digit = await classify(gray(tasks.rbnn.renderGlyph('digits', 3, 5), 16));
  assert.equal(digit.task, 'digits');
});

test("pipeline('aquant') classifies as a batched run of the 4-bit model does, close to the float model", async () => {
  const classify = await pipeline('aquant');
  const entry = manifest.models.aquant;
  const session = await InferenceSession.create(await modelBytes('aquant'));
  const floatSession = await InferenceSession.create(await modelBytes('multiexit'));
  const { images, labels, n } = tasks.multiexit.samples(40, 11);
  const glyphs = Array.from({ length: n }, (_, i) => gray(images.slice(i * 256, (i + 1) * 256), 16));
  const results = await classify(glyphs);
  const top = (out) =>
    Array.from({ length: n }, (_, i) => {
      const row = Array.from(out.logits.data.subarray(i * 40, (i + 1) * 40));
      const label = row.indexOf(Math.max(...row));
      return { label, confidence: 1 / row.reduce((a, v) => a + Math.exp(v - row[label]), 0) };
    });
  const feeds = { image: new Tensor('float32', images, [n, 1, 16, 16]) };
  const want = top(await session.run(feeds));
  const float = top(await floatSession.run(feeds));
  let right = 0;
  let agree = 0;
  for (let i = 0; i < n; i++) {
    const r = results[i];
    assert.equal(r.label, want[i].label, `glyph ${i}`);
    assert.equal(r.className, entry.helper.classes[r.label]);
    assert.ok(Math.abs(r.confidence - want[i].confidence) < 1e-5);
    assert.equal(r.probabilities.length, 40);
    assert.equal(r.weightBits, entry.helper.weightBits);
    assert.equal(r.activationBits, entry.helper.activationBits);
    assert.equal(r.method, 'aquant');
    right += r.label === labels[i];
    agree += r.label === float[i].label;
  }
  // The shipped model loses a few points to the float one (its manifest says how many).
  assert.ok(right >= 24, `${right} of ${n} right`);
  assert.ok(agree >= 30, `${agree} of ${n} agree with the float model`);
  // The model stores int8 weights and rounds each layer's input with BorderRound.
  const bytes = await modelBytes('aquant');
  for (const op of ['BorderRound', 'DequantizeLinear']) assert.ok(bytes.includes(Buffer.from(op)), `the model has ${op}`);
  await assert.rejects(classify(glyphs[0], { bits: 2 }), /unknown option 'bits'/);
  classify.dispose();
  await session.release();
  await floatSession.release();
});

test("pipeline('snf') classifies as a batched run of the pruned model does, close to the full model", async () => {
  const classify = await pipeline('snf');
  const entry = manifest.models.snf;
  const session = await InferenceSession.create(await modelBytes('snf'));
  const fullSession = await InferenceSession.create(await modelBytes('multiexit'));
  const { images, labels, n } = tasks.multiexit.samples(40, 12);
  const glyphs = Array.from({ length: n }, (_, i) => gray(images.slice(i * 256, (i + 1) * 256), 16));
  const results = await classify(glyphs);
  const feeds = { image: new Tensor('float32', images, [n, 1, 16, 16]) };
  const argmax = (out, i) => {
    const row = Array.from(out.logits.data.subarray(i * 40, (i + 1) * 40));
    return row.indexOf(Math.max(...row));
  };
  const pruned = await session.run(feeds);
  const full = await fullSession.run(feeds);
  // FLOPs from the layers, counted here: 2 × filters × input channels × unit per layer.
  const { layers, widths } = entry.helper;
  const count = (ws) => 2 * layers.reduce((a, l, i) => a + l.unit * ws[i] * (l.from === null ? l.inChannels : ws[l.from]), 0);
  const fullWidths = layers.map((l) => l.filters);
  let right = 0;
  let agree = 0;
  for (let i = 0; i < n; i++) {
    const r = results[i];
    assert.equal(r.label, argmax(pruned, i), `glyph ${i}`);
    assert.equal(r.className, entry.helper.classes[r.label]);
    assert.equal(r.probabilities.length, 40);
    assert.equal(r.method, 'snf');
    assert.deepEqual(r.widths, widths);
    assert.equal(r.flops, count(widths));
    assert.equal(r.fullFlops, count(fullWidths));
    right += r.label === labels[i];
    agree += r.label === argmax(full, i);
  }
  assert.equal(results[0].flops, entry.metrics.flops);
  assert.equal(results[0].fullFlops, entry.metrics.full_flops);
  assert.ok(results[0].flops <= 0.5 * results[0].fullFlops, 'at most half the operations');
  assert.ok(right >= 24, `${right} of ${n} right`);
  assert.ok(agree >= 30, `${agree} of ${n} agree with the full model`);
  // The pruned model's weights are smaller than the full model's, layer by layer.
  assert.ok((await modelBytes('snf')).length < 0.8 * (await modelBytes('multiexit')).length);
  classify.dispose();
  await session.release();
  await fullSession.release();
});

test('tasks.snf.flops counts the operations at given filter counts', () => {
  const layers = [
    { filters: 8, inChannels: 1, from: null, unit: 144 },
    { filters: 4, inChannels: 8, from: 0, unit: 144 },
    { filters: 10, inChannels: 4, from: 1, unit: 16 },
  ];
  assert.equal(tasks.snf.flops(layers, [8, 4, 10]), 2 * (144 * 8 + 144 * 4 * 8 + 16 * 10 * 4));
  assert.equal(tasks.snf.flops(layers, [2, 1, 10]), 2 * (144 * 2 + 144 * 1 * 2 + 16 * 10 * 1));
  assert.throws(() => tasks.snf.flops(layers, [8, 4]), /tasks\.snf\.flops: snf: 2 widths for 3 layers/);
  assert.throws(() => tasks.snf.flops(layers, [0, 4, 10]), /layer 0 keeps 0 filters/);
  assert.throws(() => tasks.snf.flops(layers, [-1, 4, 10]), /widths must be non-negative integers/);
  assert.throws(() => tasks.snf.flops([{ filters: 'x' }], [1]), /tasks\.snf\.flops: layers:/);
});

test('tasks.aquant.round rounds at the border as BorderRound does', () => {
  const xs = Float32Array.from({ length: 201 }, (_, i) => i / 200 - 0.25);
  const scale = Math.fround(1 / 7);
  for (const border of [0, 0.2, 0.5, 0.8, 1]) {
    const got = tasks.aquant.round(xs, { scale, border, qmin: -1, qmax: 6 });
    xs.forEach((x, i) => {
      const v = Math.fround(x / scale);
      const f = Math.floor(v);
      const q = Math.min(6, Math.max(-1, f + (v - f >= border ? 1 : 0)));
      assert.equal(got[i], Math.fround(q * scale), `border ${border}, x ${x}`);
    });
  }
  assert.throws(() => tasks.aquant.round([1], { scale: 0 }), /scale must be positive/);
  assert.throws(() => tasks.aquant.round([1], { scale: 0.1, border: 2 }), /border must lie in \[0, 1\]/);
  assert.throws(() => tasks.aquant.round([1], { scale: 0.1, qmin: 3, qmax: 3 }), /qmin \(3\) must be below qmax/);
  assert.throws(() => tasks.aquant.round([1], { border: 0.5 }), /scale must be a finite number/);
});

test("pipeline('multiexit') answers from the exit the rule picks on a whole run's logits", async () => {
  const classify = await pipeline('multiexit');
  const helper = manifest.models.multiexit.helper;
  const session = await InferenceSession.create(await modelBytes('multiexit'));
  const { images, labels, n } = tasks.multiexit.samples(30, 5);
  const glyphs = Array.from({ length: n }, (_, i) => gray(images.subarray(i * 256, (i + 1) * 256), 16));
  for (const threshold of [helper.threshold, 0.3, 1.01]) {
    const results = await classify(glyphs, { threshold });
    let right = 0;
    for (let i = 0; i < n; i++) {
      const out = await session.run({ image: new Tensor('float32', images.slice(i * 256, (i + 1) * 256), [1, 1, 16, 16]) });
      const conf = helper.exits.map((e) => {
        const row = Array.from(out[e].data);
        const max = Math.max(...row);
        return 1 / row.reduce((a, v) => a + Math.exp(v - max), 0);
      });
      const first = conf.findIndex((c) => c >= threshold);
      const exit = first < 0 ? helper.exits.length - 1 : first;
      const logits = Array.from(out[helper.exits[exit]].data);
      const label = logits.indexOf(Math.max(...logits));
      const r = results[i];
      assert.equal(r.exit, exit, `threshold ${threshold}, glyph ${i}: exit`);
      assert.equal(r.exitName, helper.exits[exit]);
      assert.equal(r.label, label);
      assert.equal(r.className, helper.classes[label]);
      assert.ok(Math.abs(r.confidence - conf[exit]) < 1e-5);
      assert.equal(r.macs, helper.macs[exit]);
      assert.ok(r.stagesRun <= r.stages);
      right += label === labels[i];
    }
    if (threshold > 1) assert.ok(results.every((r) => r.exit === helper.exits.length - 1 && r.stagesRun === r.stages));
    assert.ok(right >= 15, `threshold ${threshold}: ${right} of ${n} right`);
  }
  await assert.rejects(classify(glyphs[0], { treshold: 0.5 }), /unknown option 'treshold'/);
  await session.release();
});

test("pipeline('exitdoor') gives the vanilla answer and the multi-exit one, with the trigger stamped", async () => {
  const probe = await pipeline('exitdoor');
  const helper = manifest.models.exitdoor.helper;
  const session = await InferenceSession.create(await modelBytes('exitdoor'));
  const { images, n } = tasks.multiexit.samples(20, 9);
  const glyphs = Array.from({ length: n }, (_, i) => gray(images.slice(i * 256, (i + 1) * 256), 16));
  // The trigger is the helper's stamp on a black glyph: a faint '#' (at most 0.5), added to a
  // glyph and clipped at 1.
  const ghost = tasks.exitdoor.stamp(new Float32Array(256));
  const peak = Math.max(...ghost);
  assert.ok(peak > 0.4 && peak <= 0.5 + 1e-6, `trigger peak ${peak}`);
  const stamp = (pixels) => Float32Array.from(pixels, (v, p) => Math.min(1, v + ghost[p]));
  const stamped = tasks.exitdoor.stamp(glyphs[0].data);
  stamp(glyphs[0].data).forEach((v, p) => assert.ok(Math.abs(stamped[p] - v) < 1e-6, `stamped pixel ${p}`));
  assert.throws(() => tasks.exitdoor.stamp(new Float32Array(100)), /16×16 images: got 100 values/);
  const top = (data) => {
    const row = Array.from(data);
    const label = row.indexOf(Math.max(...row));
    return { label, confidence: 1 / row.reduce((a, v) => a + Math.exp(v - row[label]), 0) };
  };
  for (const trigger of [false, true]) {
    const results = await probe(glyphs, { trigger });
    for (let i = 0; i < n; i++) {
      const pixels = trigger ? stamp(glyphs[i].data) : glyphs[i].data;
      const out = await session.run({ image: new Tensor('float32', pixels, [1, 1, 16, 16]) });
      const perExit = helper.exits.map((e) => top(out[e].data));
      const first = perExit.findIndex((p) => p.confidence >= helper.threshold);
      const exit = first < 0 ? perExit.length - 1 : first;
      const r = results[i];
      assert.equal(r.triggered, trigger);
      assert.equal(r.vanilla.label, perExit.at(-1).label, `glyph ${i}, trigger ${trigger}: vanilla`);
      assert.equal(r.vanilla.exitName, helper.exits.at(-1));
      assert.equal(r.multiExit.exit, exit, `glyph ${i}, trigger ${trigger}: exit`);
      assert.equal(r.multiExit.label, perExit[exit].label);
      assert.ok(Math.abs(r.multiExit.confidence - perExit[exit].confidence) < 1e-5);
      assert.equal(r.target, helper.target);
      assert.equal(r.hijacked, r.multiExit.label === helper.target && r.vanilla.label !== helper.target);
    }
  }
  await assert.rejects(probe(glyphs[0], { triger: true }), /unknown option 'triger'/);
  probe.dispose();
  await session.release();
});

test('progress reports the model bytes, then ready', async () => {
  const seen = [];
  const p = await pipeline('rbnn', { progress: (e) => seen.push(e) });
  const last = seen.at(-1);
  assert.equal(last.status, 'ready');
  assert.ok(seen.some((e) => e.status === 'progress' && e.loaded === manifest.models.rbnn.bytes && e.progress === 100));
  assert.equal(last.file, 'rbnn.onnx');
  p.dispose();
});

test('a model of your own: bytes, checked against the sha256 you give', async () => {
  const bytes = await modelBytes('defect');
  const p = await pipeline('defect', { model: bytes, sha256: manifest.models.defect.sha256 });
  assert.equal(p.model.sha256, manifest.models.defect.sha256);
  const wrong = '0'.repeat(64);
  await assert.rejects(pipeline('defect', { model: bytes, sha256: wrong }), (e) => {
    assert.match(e.message, /pipeline\('defect'\): the model's sha256 is [0-9a-f]{64}, expected 0{64}/);
    return true;
  });
  // A model with other outputs fails on the first call, naming what is missing.
  const other = await pipeline('defect', { model: await modelBytes('sobel') });
  await assert.rejects(other(gray(new Float32Array(64 * 64), 64)), /pipeline\('defect'\): .*(ssim|image)/);
});

test('errors name the pipeline and the problem', async () => {
  await assert.rejects(pipeline('nope'), /pipeline: unknown id "nope" \(the pipelines are defect, kno, rbnn, aquant, snf, multiexit, exitdoor\)/);
  await assert.rejects(pipeline('defect', { provder: 'wasm' }), /pipeline\('defect'\): unknown option 'provder'/);
  await assert.rejects(pipeline('defect', { provider: 'cuda' }), /provider must be 'webgpu' or 'wasm'/);
  const detect = await pipeline('defect');
  await assert.rejects(detect({ data: new Uint8Array(10), width: 4, height: 4 }), /pipeline\('defect'\): data holds 10 bytes for 4×4 pixels/);
  await assert.rejects(detect({ width: 4, height: 4 }), /pipeline\('defect'\): an image is an ImageData/);
  await assert.rejects(detect(gray(new Float32Array(16), 4), { treshold: 1 }), /unknown option 'treshold' \(it takes threshold, minArea\)/);
  await assert.rejects(detect(gray(new Float32Array(16), 4), { minArea: 1.5 }), /pipeline\('defect'\): options: /);
  await assert.rejects(detect([gray(new Float32Array(16), 4), 7]), /pipeline\('defect'\): input 1: /);
  const classify = await pipeline('rbnn');
  await assert.rejects(classify(gray(new Float32Array(256), 16), { task: 'runes' }), /unknown task "runes" \(the model knows digits, letters, shapes, symbols\)/);
  await assert.rejects(classify(gray(new Float32Array(256), 16), { rootKey: 'xyz' }), /rootKey must be 1 to 16 hex digits/);
  const step = await pipeline('kno');
  await assert.rejects(step('u'), /pipeline\('kno'\): the initial state must be a Float32Array or an array of numbers/);
  detect.dispose();
  await assert.rejects(detect(gray(new Float32Array(16), 4)), /released/);
});
