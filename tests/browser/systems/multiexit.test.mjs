// The multiexit page: the glyph grid's predictions and answering exits, the accuracies, exit
// shares and multiply-adds shown, and a glyph drawn on the pad, all against the model run here
// in Node whole (every exit's logits) with the early-exit rule applied to them; and a
// screenshot. Model: onnx/multiexit.onnx, or one quick-trained by target/debug/edgewise-train.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { tasks, InferenceSession, Tensor } from 'edgewise';
import { withPage, browserEnv } from '../harness.mjs';
import { demoModel, quickTrained, openDemo, waitForRun, screenshot, top, drawSeven } from './common.mjs';

const SIDE = 16;
let model;

before(async () => {
  model = await demoModel('multiexit', quickTrained('multiexit'));
});

/** Every exit's answer on `pixels` from one whole run, and the exit the rule picks at `t`. */
async function expected(session, pixels, t) {
  const out = await session.run({ image: new Tensor('float32', Float32Array.from(pixels), [1, 1, SIDE, SIDE]) });
  const perExit = model.entry.helper.exits.map((name) => top(out[name].data));
  const k = perExit.findIndex((p) => p.confidence >= t);
  const exit = k < 0 || k === perExit.length - 1 ? perExit.length - 1 : k;
  return { perExit, exit, answer: perExit[exit] };
}

/** Checks the grid's run against Node's: predictions, exits, counts, shares and multiply-adds. */
async function assertGrid(page, session, grid) {
  const { images, labels } = tasks.multiexit.samples(40, grid.seed);
  assert.deepEqual(grid.labels, Array.from(labels));
  const names = tasks.multiexit.classNames();
  const want = [];
  for (let i = 0; i < 40; i++) want.push(await expected(session, images.subarray(i * 256, (i + 1) * 256), grid.threshold));
  grid.early.forEach((a, i) => {
    assert.equal(a.exit, want[i].exit, `glyph ${i}: exit`);
    assert.equal(a.label, want[i].answer.label, `glyph ${i}: label`);
    assert.ok(Math.abs(a.confidence - want[i].answer.confidence) < 1e-4, `glyph ${i}: confidence`);
    assert.equal(grid.full[i].label, want[i].perExit.at(-1).label, `glyph ${i}: full net`);
  });
  const right = want.filter((w, i) => w.answer.label === labels[i]).length;
  const fullRight = want.filter((w, i) => w.perExit.at(-1).label === labels[i]).length;
  assert.equal(await page.textContent('#accuracy'), `${right} / 40 (${((100 * right) / 40).toFixed(0)} %)`);
  assert.equal(await page.textContent('#full-accuracy'), `${fullRight} / 40 (${((100 * fullRight) / 40).toFixed(0)} %)`);
  const share = [0, 1, 2].map((k) => want.filter((w) => w.exit === k).length);
  assert.equal(await page.textContent('#share'), `answered by exit 0 / 1 / 2: ${share.join(' / ')}`);
  const macs = model.entry.helper.macs;
  const mean = want.reduce((a, w) => a + macs[w.exit], 0) / 40;
  assert.match(await page.textContent('#macs'), new RegExp(`^${(mean / 1e3).toFixed(0)} k per glyph against ${(macs[2] / 1e3).toFixed(0)} k`));
  const tiles = await page.$$eval('#glyphs li', (lis) => lis.map((li) => [li.className, li.querySelector('b').textContent, li.querySelector('span').textContent]));
  assert.deepEqual(
    tiles,
    want.map((w, i) => [`glyph ${w.answer.label === labels[i] ? 'right' : 'wrong'} exit${w.exit}`, `exit ${w.exit}`, names[w.answer.label].split('/')[1]]),
  );
  return share;
}

test('multiexit demo: exits per glyph as the rule gives them, the full net beside, a drawn glyph', async () => {
  browserEnv();
  assert.ok(model, 'needs onnx/multiexit.onnx or target/debug/edgewise-train (cargo build --workspace --bins)');
  const session = await InferenceSession.create(model.file);
  await withPage(async (page, base) => {
    await openDemo(page, base, model, 'multiexit', /Early exits/);
    let r = await waitForRun(page, 1);
    assert.equal(r.grid.threshold, model.entry.helper.threshold);
    const shipped = await assertGrid(page, session, r.grid);

    // The threshold above 1: every glyph runs the whole net, which then answers them all.
    await page.$eval('#threshold', (el) => {
      el.value = '1.01';
      el.dispatchEvent(new Event('change'));
    });
    r = await waitForRun(page, 2);
    assert.deepEqual(await assertGrid(page, session, r.grid), [0, 0, 40]);
    assert.equal(await page.textContent('#threshold-value'), 'full net');

    // The lowest threshold: at least as many glyphs leave at exit 0 as at the shipped one.
    await page.$eval('#threshold', (el) => {
      el.value = '0.3';
      el.dispatchEvent(new Event('change'));
    });
    r = await waitForRun(page, 3);
    const low = await assertGrid(page, session, r.grid);
    assert.ok(low[0] >= shipped[0], `exit 0 took ${low[0]} at 0.3 and ${shipped[0]} at the shipped threshold`);

    // A "7" drawn on the pad: each exit's answer as Node computes it on the drawn pixels.
    await page.click('#shipped');
    r = await waitForRun(page, 4);
    await drawSeven(page);
    r = await waitForRun(page, 5);
    assert.ok(r.pad.pixels.filter((v) => v > 0).length >= 12, 'the stroke inked the pad');
    const want = await expected(session, r.pad.pixels, r.grid.threshold);
    assert.equal(r.pad.answered, want.exit);
    const names = tasks.multiexit.classNames();
    const rows = await page.$$eval('#exits tbody tr', (trs) => trs.map((tr) => [tr.className, ...[...tr.cells].map((c) => c.textContent)]));
    assert.deepEqual(
      rows,
      want.perExit.map((p, k) => [k === want.exit ? 'current' : '', `exit ${k}`, names[p.label], p.confidence.toFixed(3)]),
    );
    await screenshot(page, 'multiexit');
  });
  await session.release();
});
