// Early exits through the package: `run(feeds, { exitThreshold })` against a plain run of the
// same session (which computes every exit), `lastExit`, fetches with options, and the errors
// a caller can cause. Model: the `early_exits` fixture (target/fixtures, written by
// `write-fixtures`), whose metadata names exits exit0, exit1 and logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { InferenceSession, Tensor } from 'edgewise';

const fixture = (name) => `target/fixtures/${name}.onnx`;

/** The largest softmax probability of each row of `[rows, classes]` logits. */
function confidence(t) {
  const classes = t.dims.at(-1);
  const out = [];
  for (let r = 0; r < t.data.length / classes; r++) {
    const row = Array.from(t.data.subarray(r * classes, (r + 1) * classes));
    const max = Math.max(...row);
    out.push(1 / row.reduce((a, v) => a + Math.exp(v - max), 0));
  }
  return out;
}

const feeds = (rows) => ({ x: new Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 4]) });

test('the first confident exit answers, with the outputs computed up to it', async () => {
  const s = await InferenceSession.create(fixture('early_exits'));
  assert.deepEqual(s.exits, ['exit0', 'exit1', 'logits']);
  const x = feeds([[0.5, -1, 2, 0.25]]);
  const plain = await s.run(x);
  assert.deepEqual(Object.keys(plain).sort(), ['exit0', 'exit1', 'logits']);
  assert.equal(s.lastExit, undefined);
  const [c0] = confidence(plain.exit0);

  const early = await s.run(x, { exitThreshold: c0 - 1e-4 });
  assert.deepEqual(Object.keys(early), ['exit0']);
  assert.deepEqual(Array.from(early.exit0.data), Array.from(plain.exit0.data));
  const report = s.lastExit;
  assert.equal(report.exit, 0);
  assert.equal(report.name, 'exit0');
  assert.ok(Math.abs(report.confidence[0] - c0) < 1e-5, `${report.confidence[0]} vs ${c0}`);
  assert.ok(report.stagesRun < report.stages, `${report.stagesRun} of ${report.stages} stages`);

  const whole = await s.run(x, { exitThreshold: 2 });
  assert.deepEqual(Object.keys(whole).sort(), ['exit0', 'exit1', 'logits']);
  for (const k of Object.keys(plain)) assert.deepEqual(Array.from(whole[k].data), Array.from(plain[k].data), k);
  assert.equal(s.lastExit.exit, 2);
  assert.equal(s.lastExit.stagesRun, s.lastExit.stages);
  assert.ok(Math.abs(s.lastExit.confidence[0] - confidence(plain.logits)[0]) < 1e-5);

  // Fetches, then options, as onnxruntime-web reads them.
  const fetched = await s.run(x, ['logits'], { exitThreshold: 2 });
  assert.deepEqual(Object.keys(fetched), ['logits']);
  await s.run(x);
  assert.equal(s.lastExit, undefined, 'a plain run clears lastExit');
  await s.release();
});

test('a batch stops early only when every row is confident', async () => {
  const s = await InferenceSession.create(fixture('early_exits'));
  const x = feeds([[0.5, -1, 2, 0.25], [0.1, 0.2, -0.3, 0.05]]);
  const c = confidence((await s.run(x)).exit0);
  const [lo, hi] = [Math.min(...c), Math.max(...c)];
  assert.ok(hi - lo > 1e-3, `rows differ in confidence: ${c}`);
  await s.run(x, { exitThreshold: (lo + hi) / 2 });
  assert.ok(s.lastExit.exit > 0, `exit ${s.lastExit.exit} answered with one row below the threshold`);
  await s.run(x, { exitThreshold: lo - 1e-4 });
  assert.equal(s.lastExit.exit, 0);
  assert.equal(s.lastExit.confidence.length, 2);
  await s.release();
});

test('exits named by the option, and the errors', async () => {
  const plain = await InferenceSession.create(fixture('mlp'));
  assert.deepEqual(plain.exits, []);
  const x = { x: new Tensor('float32', new Float32Array(4), [1, 4]) };
  await assert.rejects(plain.run(x, { exitThreshold: 0.5 }), /no early exits/);
  await assert.rejects(plain.run(x, { exitTreshold: 0.5 }), /unknown option or output 'exitTreshold'/);
  await assert.rejects(plain.run(x, { exitThreshold: 'high' }), /exitThreshold must be a number/);
  await assert.rejects(plain.run(x, { y: null, exitThreshold: 1 }), /mixes output names/);
  await assert.rejects(InferenceSession.create(fixture('mlp'), { exits: ['nope'] }), /exit 'nope' is not an output/);
  await assert.rejects(InferenceSession.create(fixture('mlp'), { exits: 'y' }), /exits must be an array/);
  const named = await InferenceSession.create(fixture('mlp'), { exits: ['y'] });
  assert.deepEqual(named.exits, ['y']);
  const r = await named.run(x, { exitThreshold: 0.99 });
  assert.deepEqual(Object.keys(r), ['y']);
  assert.equal(named.lastExit.exit, 0, 'the only exit is the last, which always answers');
});
