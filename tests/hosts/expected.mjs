// What the Bun and workerd hosts compute, computed here in Node with the built package, and
// the comparison: the same wasm gives the same bits in every host.
import assert from 'node:assert/strict';

import { InferenceSession, Tensor, pipeline, tasks } from 'edgewise';

/** The Sobel edges of a white square, and pipeline('defect') on a generated texture. */
export async function expected(family, defect, seed) {
  const session = await InferenceSession.create('onnx/sobel.onnx');
  const image = new Float32Array(64 * 64);
  for (let y = 16; y < 48; y++) for (let x = 16; x < 48; x++) image[y * 64 + x] = 1;
  const { edges } = await session.run({ image: new Tensor('float32', image, [1, 1, 64, 64]) });
  const detect = await pipeline('defect');
  const s = tasks.defect.sample(family, defect, seed);
  const found = await detect({ data: s.image, width: s.size, height: s.size });
  return { edges: Array.from(edges.data), found };
}

/** A host's answer (`edges`, `score`, `flagged`, `boxes`, `heatmap`) equals Node's. */
export function assertAgree(got, want) {
  assert.deepEqual(got.edges, want.edges, 'Sobel edges');
  assert.equal(got.score, want.found.score);
  assert.equal(got.flagged, want.found.flagged);
  assert.deepEqual(got.boxes, want.found.boxes);
  assert.deepEqual(got.heatmap, Array.from(want.found.heatmap));
}
