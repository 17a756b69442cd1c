// Latency of whole models in wasm: each ONNX file through the npm package in Node, one input
// per call. `cargo xtask reproduce snf` runs it on the full and the pruned models and puts the
// numbers beside the native ones.
//
//   node tests/bench/latency.mjs --models a.onnx,b.onnx --input image --shape 1,1,16,16
//     [--runs 200] [--rounds 5] --out latency.json
//
// Every model gets the same input (a fixed ramp of values in [−0.5, 0.5)). Each round runs
// every model `runs` times in turn, so that a slower moment of the machine weighs on all of
// them alike; each model keeps its fastest round's mean per call. The JSON holds
// `{ rows: [{ model, ms }] }`, in the order of --models.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

import { InferenceSession, Tensor } from '../../pkg/index.js';
import { inputData } from './timing.mjs';

const { values: args } = parseArgs({
  options: {
    models: { type: 'string' },
    input: { type: 'string' },
    shape: { type: 'string' },
    runs: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '5' },
    out: { type: 'string' },
  },
});
for (const k of ['models', 'input', 'shape', 'out']) {
  if (args[k] === undefined) throw new Error(`latency.mjs: --${k} is required`);
}
const shape = args.shape.split(',').map(Number);
if (shape.some((d) => !Number.isInteger(d) || d < 1)) throw new Error(`latency.mjs: bad --shape ${args.shape}`);
const data = inputData(shape.reduce((a, b) => a * b, 1));
const feeds = { [args.input]: new Tensor('float32', data, shape) };
const paths = args.models.split(',');
const sessions = [];
for (const p of paths) sessions.push(await InferenceSession.create(p));
for (const [i, s] of sessions.entries()) {
  const out = await s.run(feeds);
  for (const [name, t] of Object.entries(out)) {
    if (!Array.from(t.data).every(Number.isFinite)) throw new Error(`latency.mjs: ${paths[i]} gave non-finite '${name}'`);
  }
}
const best = paths.map(() => Infinity);
for (let round = 0; round < Number(args.rounds); round++) {
  for (const [i, s] of sessions.entries()) {
    const start = performance.now();
    for (let r = 0; r < Number(args.runs); r++) await s.run(feeds);
    best[i] = Math.min(best[i], (performance.now() - start) / Number(args.runs));
  }
}
for (const s of sessions) await s.release();
await writeFile(args.out, JSON.stringify({ rows: paths.map((model, i) => ({ model, ms: best[i] })) }));
