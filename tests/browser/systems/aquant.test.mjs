// The aquant page: each glyph's answer from the 4-bit model and the float one, the counts of
// right answers and agreements, a glyph drawn on the pad, and the rounding staircase. All
// against the models run here in Node (batched, as the page runs them) and the BorderRound rule
// computed in this file; and a screenshot. Models: onnx/aquant.onnx and onnx/multiexit.onnx.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { InferenceSession, Tensor, tasks } from 'edgewise';
import { withPage, browserEnv } from '../harness.mjs';
import { demoModel, quickTrained, openDemo, waitForRun, screenshot, top, drawSeven } from './common.mjs';

const SIDE = 16;
const COUNT = 20;
let quant;
let float;

before(async () => {
  quant = await demoModel('aquant', quickTrained('aquant'));
  float = await demoModel('multiexit', quickTrained('multiexit'));
});

/** The top answer of each of `n` glyphs from one batched run. */
async function answers(session, pixels, n) {
  const { logits } = await session.run({ image: new Tensor('float32', Float32Array.from(pixels), [n, 1, SIDE, SIDE]) });
  const classes = logits.data.length / n;
  return Array.from({ length: n }, (_, i) => top(logits.data.subarray(i * classes, (i + 1) * classes)));
}

/** The page's steps: 4-bit levels over [0, 1] at `border`, computed as BorderRound does in f32. */
function stairs(border) {
  const s = Math.fround(1 / 15);
  return Array.from({ length: 161 }, (_, i) => {
    const v = Math.fround(Math.fround(i / 160) / s);
    const f = Math.floor(v);
    return Math.fround(Math.min(15, Math.max(0, f + (v - f >= border ? 1 : 0))) * s);
  });
}

/** Checks the grid's run against Node's; `exact` when both ran the same CPU kernels. */
async function assertGrid(page, sessions, grid, exact) {
  const { images, labels } = tasks.multiexit.samples(COUNT, grid.seed);
  assert.deepEqual(grid.labels, Array.from(labels));
  const f = await answers(sessions.float, images, COUNT);
  const q = await answers(sessions.quant, images, COUNT);
  grid.float.forEach((a, i) => assert.equal(a.label, f[i].label, `glyph ${i}: float`));
  const same = grid.quantized.filter((a, i) => a.label === q[i].label).length;
  // On WebGPU, BorderRound divides on the GPU, whose f32 division may differ in the last bit
  // from the CPU's, so a value on a border may round the other way: allow one glyph.
  assert.ok(exact ? same === COUNT : same >= COUNT - 1, `${same} of ${COUNT} 4-bit answers as in Node`);
  if (exact) {
    const right = (tops) => tops.filter((t, i) => t.label === labels[i]).length;
    const agree = f.filter((t, i) => t.label === q[i].label).length;
    assert.equal(await page.textContent('#float-right'), `${right(f)} / ${COUNT}`);
    assert.equal(await page.textContent('#q-right'), `${right(q)} / ${COUNT}`);
    assert.equal(await page.textContent('#agree'), `${agree} / ${COUNT}`);
    const classes = await page.$$eval('#glyphs li', (lis) => lis.map((li) => li.className));
    assert.deepEqual(classes, f.map((t, i) => `glyph ${t.label === q[i].label ? 'same' : 'differ'}`));
    if (!quant.standin) assert.ok(agree >= 15, `the 4-bit model agrees with the float one on ${agree} of ${COUNT}`);
  }
}

test('aquant demo: the 4-bit model beside the float one, on WebGPU and the CPU, a drawn glyph and the rounding steps', async () => {
  browserEnv();
  assert.ok(quant && float, 'needs onnx/aquant.onnx and onnx/multiexit.onnx, or target/debug/edgewise-train (cargo build --workspace --bins)');
  const sessions = {
    quant: await InferenceSession.create(quant.file),
    float: await InferenceSession.create(float.file),
  };
  await withPage(async (page, base) => {
    await openDemo(page, base, quant, 'aquant', /4-bit quantization/);
    let r = await waitForRun(page, 1);
    assert.equal(r.grid.provider, 'webgpu');
    assert.match(await page.textContent('#provider-used'), /WebGPU · [1-9]\d* stages? on /);
    await assertGrid(page, sessions, r.grid, false);
    assert.deepEqual(r.stairs.values, stairs(r.stairs.border));

    // The CPU: the same kernels as Node's, so the same answers exactly.
    await page.click('input[name="provider"][value="wasm"]');
    r = await waitForRun(page, 2);
    assert.equal(r.grid.provider, 'wasm');
    await assertGrid(page, sessions, r.grid, true);

    // A border moved: the steps move with it, and away from round-to-nearest's.
    await page.$eval('#border', (el) => {
      el.value = '0.8';
      el.dispatchEvent(new Event('input'));
    });
    r = await waitForRun(page, 3);
    assert.equal(r.stairs.border, 0.8);
    assert.deepEqual(r.stairs.values, stairs(0.8));
    assert.notDeepEqual(r.stairs.values, stairs(0.5));

    // A "7" drawn on the pad: both models' answers.
    await drawSeven(page);
    r = await waitForRun(page, 4);
    assert.ok(r.pad.pixels.filter((v) => v > 0).length >= 12, 'the stroke inked the pad');
    const names = quant.entry.helper.classes ?? tasks.multiexit.classNames();
    const rows = await page.$$eval('#drawn tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    const [fa] = await answers(sessions.float, r.pad.pixels, 1);
    const [qa] = await answers(sessions.quant, r.pad.pixels, 1);
    const bits = `W${quant.entry.helper.weightBits}A${quant.entry.helper.activationBits}`;
    assert.deepEqual(rows, [
      ['float', names[fa.label], fa.confidence.toFixed(3)],
      [bits, names[qa.label], qa.confidence.toFixed(3)],
    ]);
    await screenshot(page, 'aquant');
  });
  await sessions.quant.release();
  await sessions.float.release();
});
