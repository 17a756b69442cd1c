// Early exits in wasm: the latency of a multi-exit model through the npm package in Node, one
// image per call, at each threshold and whole. `cargo xtask reproduce multiexit` runs it on the
// exported model and the test images it writes, and puts the numbers beside the native ones.
//
//   node tests/bench/exits.mjs --model M.onnx --images images.f32 --n N --thresholds 0.5,0.9
//     [--rounds 5] --out wasm.json
//
// `images.f32`: N images of 16×16 float32 (little-endian), one after the other. Each round
// times the whole run (`session.run`) and then each threshold (`run(feeds, { exitThreshold })`)
// over every image in turn; each configuration keeps its fastest round's mean per image. The
// JSON holds `{ plainMs, rows: [{ threshold, ms, exits: [exit per image] }] }`.
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

import { InferenceSession, Tensor } from '../../pkg/index.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    images: { type: 'string' },
    n: { type: 'string' },
    thresholds: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    out: { type: 'string' },
  },
});
for (const k of ['model', 'images', 'n', 'thresholds', 'out']) {
  if (args[k] === undefined) throw new Error(`exits.mjs: --${k} is required`);
}
const n = Number(args.n);
const bytes = await readFile(args.images);
if (bytes.length !== n * 256 * 4) throw new Error(`exits.mjs: ${args.images} holds ${bytes.length} bytes, not ${n} images of 16×16 float32`);
const pixels = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
const feeds = Array.from({ length: n }, (_, i) => ({ image: new Tensor('float32', pixels.slice(i * 256, (i + 1) * 256), [1, 1, 16, 16]) }));
const thresholds = args.thresholds.split(',').map(Number);

const session = await InferenceSession.create(args.model);
if (session.exits.length === 0) throw new Error(`exits.mjs: ${args.model} names no exits`);
const configs = [null, ...thresholds];
const best = configs.map(() => Infinity);
const exits = thresholds.map(() => []);
for (let round = 0; round < Number(args.rounds); round++) {
  for (const [c, threshold] of configs.entries()) {
    const start = performance.now();
    for (const [i, f] of feeds.entries()) {
      if (threshold === null) {
        await session.run(f);
      } else {
        await session.run(f, { exitThreshold: threshold });
        if (round === 0) exits[c - 1][i] = session.lastExit.exit;
      }
    }
    best[c] = Math.min(best[c], (performance.now() - start) / n);
  }
}
await session.release();
await writeFile(
  args.out,
  JSON.stringify({ plainMs: best[0], rows: thresholds.map((threshold, k) => ({ threshold, ms: best[k + 1], exits: exits[k] })) }),
);
