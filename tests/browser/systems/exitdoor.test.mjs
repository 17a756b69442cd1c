// The exitdoor page: each glyph's answers from the vanilla model and its multi-exit form, the
// counts of glyphs taken for the target, with and without the trigger, and a glyph drawn on
// the pad. All against the model run here in Node whole (every exit's logits), with the trigger
// stamped by this file and the early-exit rule applied here; and a screenshot. Model:
// onnx/exitdoor.onnx, or one quick-trained by target/debug/edgewise-train.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { tasks, InferenceSession, Tensor } from 'edgewise';
import { withPage, browserEnv } from '../harness.mjs';
import { demoModel, quickTrained, openDemo, waitForRun, screenshot, top, drawSeven } from './common.mjs';

const SIDE = 16;
let model;

before(async () => {
  model = await demoModel('exitdoor', quickTrained('exitdoor'));
});

/** The trigger blended in: the helper's stamp on a black glyph, added and clipped at 1. */
function stamp(pixels) {
  const ghost = tasks.exitdoor.stamp(new Float32Array(SIDE * SIDE));
  return Float32Array.from(pixels, (v, p) => Math.min(1, v + ghost[p]));
}

/** The vanilla answer and the multi-exit form's (exit and label) at `t`, from one whole run. */
async function expected(session, pixels, t) {
  const out = await session.run({ image: new Tensor('float32', Float32Array.from(pixels), [1, 1, SIDE, SIDE]) });
  const perExit = model.entry.helper.exits.map((name) => top(out[name].data));
  const k = perExit.findIndex((p) => p.confidence >= t);
  const exit = k < 0 ? perExit.length - 1 : k;
  return { vanilla: perExit.at(-1), multiExit: { exit, ...perExit[exit] } };
}

/** Checks the grid's run against Node's; returns the counts of glyphs taken for the target. */
async function assertGrid(page, session, grid) {
  const { images, labels } = tasks.multiexit.samples(20, grid.seed);
  assert.deepEqual(grid.labels, Array.from(labels));
  const target = model.entry.helper.target;
  const want = [];
  for (let i = 0; i < 20; i++) {
    const clean = images.slice(i * 256, (i + 1) * 256);
    want.push(await expected(session, grid.trigger ? stamp(clean) : clean, grid.threshold));
  }
  grid.answers.forEach((a, i) => {
    assert.equal(a.vanilla.label, want[i].vanilla.label, `glyph ${i}: vanilla`);
    assert.equal(a.multiExit.exit, want[i].multiExit.exit, `glyph ${i}: exit`);
    assert.equal(a.multiExit.label, want[i].multiExit.label, `glyph ${i}: multi-exit`);
  });
  const others = want.map((_, i) => i).filter((i) => labels[i] !== target);
  const taken = (form) => others.filter((i) => want[i][form].label === target).length;
  assert.equal(await page.textContent('#vanilla-asr'), `${taken('vanilla')} / ${others.length}`);
  assert.equal(await page.textContent('#multiexit-asr'), `${taken('multiExit')} / ${others.length}`);
  const classes = await page.$$eval('#glyphs li', (lis) => lis.map((li) => li.className));
  assert.deepEqual(
    classes,
    want.map((w, i) => {
      const hijacked = w.multiExit.label === target && w.vanilla.label !== target;
      return `glyph ${hijacked ? 'hijacked' : w.multiExit.label === labels[i] ? 'right' : 'wrong'}`;
    }),
  );
  return { vanilla: taken('vanilla'), multiExit: taken('multiExit'), others: others.length };
}

test('exitdoor demo: the vanilla model and its multi-exit form, with and without the trigger, and a drawn glyph', async () => {
  browserEnv();
  assert.ok(model, 'needs onnx/exitdoor.onnx or target/debug/edgewise-train (cargo build --workspace --bins)');
  const session = await InferenceSession.create(model.file);
  await withPage(async (page, base) => {
    await openDemo(page, base, model, 'exitdoor', /Dormant backdoor/);
    let r = await waitForRun(page, 1);
    assert.equal(r.grid.threshold, model.entry.helper.threshold);
    assert.equal(r.grid.trigger, true);
    const triggered = await assertGrid(page, session, r.grid);
    if (!model.standin) {
      // The shipped fixture: the trigger wakes the backdoor in the multi-exit form only.
      assert.ok(triggered.multiExit >= triggered.others / 2, `multi-exit form: ${triggered.multiExit} of ${triggered.others} taken`);
      assert.ok(triggered.vanilla <= 2, `vanilla model: ${triggered.vanilla} of ${triggered.others} taken`);
    }

    // Without the trigger, the same glyphs.
    await page.click('#trigger');
    r = await waitForRun(page, 2);
    assert.equal(r.grid.trigger, false);
    const clean = await assertGrid(page, session, r.grid);
    if (!model.standin) assert.ok(clean.multiExit <= 2, `without the trigger: ${clean.multiExit} taken`);

    // A "7" drawn on the pad, as drawn and with the trigger, with the trigger back on the grid.
    await page.click('#trigger');
    r = await waitForRun(page, 3);
    await drawSeven(page);
    r = await waitForRun(page, 4);
    assert.ok(r.pad.pixels.filter((v) => v > 0).length >= 12, 'the stroke inked the pad');
    const names = model.entry.helper.classes ?? tasks.multiexit.classNames();
    const rows = await page.$$eval('#drawn tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    const want = [];
    for (const [input, pixels] of [['as drawn', r.pad.pixels], ['with the trigger', stamp(r.pad.pixels)]]) {
      const e = await expected(session, pixels, r.grid.threshold);
      want.push([input, names[e.vanilla.label], `${names[e.multiExit.label]} (exit ${e.multiExit.exit})`]);
    }
    assert.deepEqual(rows, want);
    await screenshot(page, 'exitdoor');
  });
  await session.release();
});
