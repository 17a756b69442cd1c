// The package in Bun, as a Bun user imports it: the Sobel model through InferenceSession from
// a path, and pipeline('defect') with the model shipped in the package. Prints JSON for
// tests/node/bun.test.mjs, which computes the same in Node.
import { InferenceSession, Tensor, env, pipeline, tasks } from '../../../pkg/index.js';

const session = await InferenceSession.create('onnx/sobel.onnx');
const image = new Float32Array(64 * 64);
for (let y = 16; y < 48; y++) for (let x = 16; x < 48; x++) image[y * 64 + x] = 1;
const { edges } = await session.run({ image: new Tensor('float32', image, [1, 1, 64, 64]) });

const detect = await pipeline('defect');
const s = tasks.defect.sample('grid', 'hole', 5);
const found = await detect({ data: s.image, width: s.size, height: s.size });

console.log(
  JSON.stringify({
    runtime: `bun ${Bun.version}`,
    edges: Array.from(edges.data),
    score: found.score,
    flagged: found.flagged,
    boxes: found.boxes,
    heatmap: Array.from(found.heatmap),
    wasmMemoryBytes: env.wasmMemoryBytes,
  }),
);
