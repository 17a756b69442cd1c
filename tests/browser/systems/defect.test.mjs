// The defect page: samples, uploads, heatmap, mask and boxes against an independent analysis
// of the model's SSIM map, and a screenshot. Model: onnx/defect.onnx, or one quick-trained by
// target/debug/edgewise-train.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { tasks, InferenceSession, Tensor } from 'edgewise';
import { withPage, browserEnv, grayPng } from '../harness.mjs';
import { demoModel, quickTrained, openDemo, waitForRun, screenshot, readCanvas, assertPixels, gray } from './common.mjs';

let model;

before(async () => {
  model = await demoModel('defect', quickTrained('defect'));
});

/** Heatmap (1 − ssim, edges replicated), mask and 8-connected boxes, computed naively. */
function naiveDefect(ssim, threshold, minArea) {
  const heat = Array.from({ length: 4096 }, (_, i) => 1 - ssim[Math.min(57, Math.max(0, Math.floor(i / 64) - 3)) * 58 + Math.min(57, Math.max(0, (i % 64) - 3))]);
  const mask = heat.map((s) => (s > threshold ? 1 : 0));
  const label = new Array(4096).fill(-1);
  const boxes = [];
  for (let s = 0; s < 4096; s++) {
    if (!mask[s] || label[s] >= 0) continue;
    const px = [];
    const queue = [s];
    label[s] = s;
    while (queue.length) {
      const i = queue.pop();
      px.push(i);
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        const [x, y] = [(i % 64) + dx, Math.floor(i / 64) + dy];
        const j = y * 64 + x;
        if (x >= 0 && y >= 0 && x < 64 && y < 64 && mask[j] && label[j] < 0) queue.push(j), (label[j] = s);
      }
    }
    if (px.length < minArea) continue;
    const xs = px.map((i) => i % 64);
    const ys = px.map((i) => Math.floor(i / 64));
    const [x, y] = [Math.min(...xs), Math.min(...ys)];
    boxes.push({ x, y, w: Math.max(...xs) - x + 1, h: Math.max(...ys) - y + 1, area: px.length, score: Math.max(...px.map((i) => heat[i])) });
  }
  boxes.sort((a, b) => b.score - a.score || b.area - a.area || a.y - b.y || a.x - b.x);
  return { heat, mask, boxes, score: Math.max(...heat), flagged: boxes.length > 0 };
}

/** Checks the page's visible verdict, box table and comparison canvas against the naive analysis. */
async function assertDefectShown(page, r, truth) {
  const want = naiveDefect(r.ssim, r.threshold, r.minArea);
  assert.equal(await page.textContent('#score'), want.score.toFixed(3));
  assert.match(await page.textContent('#verdict'), want.flagged ? new RegExp(`^defect · ${want.boxes.length} region`) : /^no defect$/);
  const rows = await page.$$eval('#boxes tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.deepEqual(rows, want.boxes.map((b, k) => [k + 1, b.x, b.y, b.w, b.h, b.area, b.score.toFixed(3)].map(String)));
  assert.equal(await page.textContent('#mask-pixels'), `${want.mask.reduce((a, b) => a + b, 0)} of 4096`);
  const colours = want.mask.map((m, i) => {
    const t = truth ? truth[i] === 1 : false;
    if (m) return t || !truth ? [255, 255, 255] : [255, 90, 90];
    return t ? [77, 141, 255] : Array(3).fill(Math.round(255 * r.image[i] * 0.35));
  });
  assertPixels(await readCanvas(page, '#compare'), colours, 1, 'mask against truth');
  // Each box's outline (2 px, drawn 1 px outside the region, 4× scale) is mostly box-coloured
  // where it lies on the canvas; labels of other boxes may cover a little of it.
  const overlay = await readCanvas(page, '#overlay');
  const boxColour = (x, y) => [255, 61, 127].every((v, k) => overlay.data[4 * (y * 256 + x) + k] === v);
  for (const b of want.boxes) {
    const [x0, y0, x1, y1] = [b.x * 4 - 1, b.y * 4 - 1, (b.x + b.w) * 4, (b.y + b.h) * 4];
    const edge = [];
    for (let x = x0; x <= x1; x++) edge.push([x, y0], [x, y1]);
    for (let y = y0; y <= y1; y++) edge.push([x0, y], [x1, y]);
    const inside = edge.filter(([x, y]) => x >= 0 && y >= 0 && x < 256 && y < 256);
    const coloured = inside.filter(([x, y]) => boxColour(x, y)).length;
    assert.ok(coloured >= 0.6 * inside.length, `box ${JSON.stringify(b)}: ${coloured} of ${inside.length} outline pixels`);
  }
  return want;
}

test('defect demo: samples, uploads, heatmap, mask and boxes as the helper computes them', async () => {
  browserEnv();
  assert.ok(model, 'needs onnx/defect.onnx or target/debug/edgewise-train (cargo build --workspace --bins)');
  const session = await InferenceSession.create(model.file);
  await withPage(async (page, base) => {
    await openDemo(page, base, model, 'defect', /Defect detection/);
    let r = await waitForRun(page, 1, { analyses: 1 });
    const threshold = model.entry.helper.threshold;
    assert.equal(r.threshold, threshold, "the manifest's threshold");
    const sample = tasks.defect.sample('weave', 'scratch', 7);
    assert.equal(await page.textContent('#input-name'), 'weave, scratch, seed 7');
    assertPixels(await readCanvas(page, '#input'), gray(sample.image), 0, 'input canvas');
    assert.deepEqual(r.truth, Array.from(sample.mask));
    // The page ran the model on that input: Node's CPU run agrees (the page may use WebGPU).
    const { ssim, recon } = await session.run({ image: new Tensor('float32', sample.image, [1, 1, 64, 64]) });
    const far = r.ssim.reduce((m, v, i) => Math.max(m, Math.abs(v - ssim.data[i])), 0);
    assert.ok(far < 2e-3, `page and Node ssim differ by ${far}`);
    assertPixels(await readCanvas(page, '#recon'), gray(recon.data), 1, 'reconstruction canvas');
    let want = await assertDefectShown(page, r, sample.mask);
    assert.match(await page.textContent('#truth'), /^IoU \d\.\d\d · \d+ % of the \d+ defect pixels found/);

    // A lower threshold: analysed again without running the model.
    await page.fill('#threshold', String(threshold / 2));
    await page.press('#threshold', 'Tab');
    r = await waitForRun(page, 1, { analyses: 2 });
    assert.equal(r.threshold, threshold / 2);
    const lower = await assertDefectShown(page, r, sample.mask);
    assert.ok(lower.mask.reduce((a, b) => a + b) >= want.mask.reduce((a, b) => a + b), 'a lower threshold masks more');
    await page.fill('#threshold', String(threshold));
    await page.press('#threshold', 'Tab');
    r = await waitForRun(page, 1, { analyses: 3 });
    assert.deepEqual((await assertDefectShown(page, r, sample.mask)).boxes, want.boxes, 'back to the first analysis');

    // A clean sample of another family.
    await page.selectOption('#family', 'grid');
    await waitForRun(page, 2);
    await page.selectOption('#defect', 'none');
    r = await waitForRun(page, 3);
    assert.ok(r.truth.every((v) => v === 0));
    want = await assertDefectShown(page, r, r.truth);
    assert.match(await page.textContent('#truth'), want.flagged ? /a false alarm/ : /correctly passed/);
    assertPixels(await readCanvas(page, '#input'), gray(tasks.defect.sample('grid', null, 7).image), 0, 'clean input');

    // An upload, 120×80: the centre square is area-averaged to 64×64 by the helper.
    const f = (x, y) => (Math.hypot(x - 62, y - 38) < 9 ? 20 : 120 + 60 * Math.sin(x / 2.5));
    await page.setInputFiles('#upload', { name: 'plate.png', mimeType: 'image/png', buffer: grayPng(120, 80, f) });
    r = await waitForRun(page, 4);
    assert.equal(await page.textContent('#input-name'), 'plate.png');
    const pixels = Uint8Array.from({ length: 120 * 80 }, (_, i) => f(i % 120, Math.floor(i / 120)));
    assertPixels(await readCanvas(page, '#input'), gray(tasks.defect.prepare(pixels, 120, 80)), 1, 'uploaded input');
    assert.equal(r.truth, null);
    await assertDefectShown(page, r, null);
    assert.equal(await page.textContent('#truth'), 'unknown (uploaded image)');

    // The CPU provider gives the same map; then back to WebGPU and the first sample.
    await page.check('input[name="provider"][value="wasm"]');
    const cpu = await waitForRun(page, 5);
    assert.equal(cpu.provider, 'wasm');
    assert.match(await page.textContent('#provider-used'), /^CPU \(wasm\)$/);
    assert.ok(cpu.ssim.every((v, i) => Math.abs(v - r.ssim[i]) < 2e-3), 'CPU and the first provider agree');
    await page.check('input[name="provider"][value="webgpu"]');
    await waitForRun(page, 6);
    await page.selectOption('#family', 'weave');
    await waitForRun(page, 7);
    await page.selectOption('#defect', 'scratch');
    r = await waitForRun(page, 8);
    assert.equal(r.provider, 'webgpu');
    await screenshot(page, 'defect');
  });
});
