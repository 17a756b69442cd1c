// The snf page: each glyph's answer from the pruned model and the full one, the counts of right
// answers and agreements, a glyph drawn on the pad, and the cost of filter counts set with the
// sliders. All against the models run here in Node (batched, as the page runs them) and the
// operations counted in this file from the manifest's layers; and a screenshot. Models:
// onnx/snf.onnx and onnx/multiexit.onnx.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { InferenceSession, Tensor, tasks } from 'edgewise';
import { withPage, browserEnv } from '../harness.mjs';
import { demoModel, quickTrained, openDemo, waitForRun, screenshot, top, drawSeven } from './common.mjs';

const SIDE = 16;
const COUNT = 20;
let pruned;
let full;

before(async () => {
  pruned = await demoModel('snf', quickTrained('snf'));
  full = await demoModel('multiexit', quickTrained('multiexit'));
});

/** The top answer of each of `n` glyphs from one batched run. */
async function answers(session, pixels, n) {
  const { logits } = await session.run({ image: new Tensor('float32', Float32Array.from(pixels), [n, 1, SIDE, SIDE]) });
  const classes = logits.data.length / n;
  return Array.from({ length: n }, (_, i) => top(logits.data.subarray(i * classes, (i + 1) * classes)));
}

/** FLOPs at `widths`: 2 × filters × input channels × unit, summed over the layers. */
const count = (layers, widths) => 2 * layers.reduce((a, l, i) => a + l.unit * widths[i] * (l.from === null ? l.inChannels : widths[l.from]), 0);

test('snf demo: the pruned model beside the full one, a drawn glyph, and the cost of filter counts', async () => {
  browserEnv();
  assert.ok(pruned && full, 'needs onnx/snf.onnx and onnx/multiexit.onnx, or target/debug/edgewise-train (cargo build --workspace --bins)');
  const { layers, widths, classes = tasks.multiexit.classNames() } = pruned.entry.helper;
  const sessions = {
    pruned: await InferenceSession.create(pruned.file),
    full: await InferenceSession.create(full.file),
  };
  await withPage(async (page, base) => {
    await openDemo(page, base, pruned, 'snf', /Filter pruning/);
    let r = await waitForRun(page, 1);

    // The grid: both models' answers as Node computes them, the counts and the tiles' classes.
    const { images, labels } = tasks.multiexit.samples(COUNT, r.grid.seed);
    assert.deepEqual(r.grid.labels, Array.from(labels));
    const f = await answers(sessions.full, images, COUNT);
    const p = await answers(sessions.pruned, images, COUNT);
    assert.deepEqual(r.grid.full.map((t) => t.label), f.map((t) => t.label));
    assert.deepEqual(r.grid.pruned.map((t) => t.label), p.map((t) => t.label));
    const right = (tops) => tops.filter((t, i) => t.label === labels[i]).length;
    const agree = f.filter((t, i) => t.label === p[i].label).length;
    assert.equal(await page.textContent('#full-right'), `${right(f)} / ${COUNT}`);
    assert.equal(await page.textContent('#pruned-right'), `${right(p)} / ${COUNT}`);
    assert.equal(await page.textContent('#agree'), `${agree} / ${COUNT}`);
    const tiles = await page.$$eval('#glyphs li', (lis) => lis.map((li) => li.className));
    assert.deepEqual(tiles, f.map((t, i) => `glyph ${t.label === p[i].label ? 'same' : 'differ'}`));
    if (!pruned.standin) assert.ok(agree >= 15, `the pruned model agrees with the full one on ${agree} of ${COUNT}`);
    assert.ok(r.grid.fullMs > 0 && r.grid.prunedMs > 0, 'both models were timed');
    assert.match(await page.textContent('#pruned-ms'), /^\d+\.\d{3} ms \([+-]?\d+ %\)$/);

    // The cost: SNF's counts to start with, counted here from the layers.
    const all = count(layers, layers.map((l) => l.filters));
    assert.deepEqual(r.cost.widths, widths);
    assert.equal(r.cost.flops, count(layers, widths));
    assert.ok(r.cost.share <= 0.5 + 1e-9, `the shipped model computes ${r.cost.share} of the operations`);
    assert.match(await page.textContent('#cost'), new RegExp(`${(100 * r.cost.flops / all).toFixed(1)} % of the full model's`));

    // One slider to a single filter: that layer's and its readers' operations fall.
    const first = layers.findIndex((l) => l.prunable);
    await page.$eval(`#w${first}`, (el) => {
      el.value = '1';
      el.dispatchEvent(new Event('input'));
    });
    r = await waitForRun(page, 2);
    const fewer = [...widths];
    fewer[first] = 1;
    assert.deepEqual(r.cost.widths, fewer);
    assert.equal(r.cost.flops, count(layers, fewer));
    assert.ok(r.cost.flops < count(layers, widths));

    // The same share of every layer at the shipped model's cost: within it, the layers' counts
    // one share of their filters.
    await page.click('#half');
    r = await waitForRun(page, 3);
    const shipped = count(layers, widths);
    assert.equal(r.cost.flops, count(layers, r.cost.widths));
    assert.ok(r.cost.flops <= shipped && r.cost.flops > 0.85 * shipped, `${r.cost.flops} against ${shipped}`);
    const shares = layers.flatMap((l, i) => (l.prunable ? [r.cost.widths[i] / l.filters] : []));
    assert.ok(Math.max(...shares) - Math.min(...shares) < 0.1, `one share for every layer: ${shares}`);

    // A "7" drawn on the pad: both models' answers.
    await drawSeven(page);
    r = await waitForRun(page, 4);
    assert.ok(r.pad.pixels.filter((v) => v > 0).length >= 12, 'the stroke inked the pad');
    const rows = await page.$$eval('#drawn tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    const [fa] = await answers(sessions.full, r.pad.pixels, 1);
    const [pa] = await answers(sessions.pruned, r.pad.pixels, 1);
    assert.deepEqual(rows, [
      ['full', classes[fa.label], fa.confidence.toFixed(3)],
      ['pruned', classes[pa.label], pa.confidence.toFixed(3)],
    ]);
    await page.click('#reset');
    await waitForRun(page, 5);
    await screenshot(page, 'snf');
  });
  await sessions.pruned.release();
  await sessions.full.release();
});
