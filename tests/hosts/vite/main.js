// A page bundled by Vite: the package comes from node_modules, its wasm is an emitted asset.
import { InferenceSession, Tensor, env, pipeline } from 'edgewise';

const SIZE = 64;
// A white square on black: rows and columns SQUARE[0]..SQUARE[1] (inclusive) are 1.
const SQUARE = [16, 47];

// The defect pipeline's image: 80×64 RGBA, a fixed pattern (the test recomputes it in Node).
const PATTERN = [80, 64];

function patternRgba() {
  return new Uint8ClampedArray(PATTERN[0] * PATTERN[1] * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 37) % 256));
}

function squareImage() {
  const image = new Float32Array(SIZE * SIZE);
  for (let y = SQUARE[0]; y <= SQUARE[1]; y++) {
    for (let x = SQUARE[0]; x <= SQUARE[1]; x++) image[y * SIZE + x] = 1;
  }
  return image;
}

async function main() {
  const response = await fetch('/onnx/sobel.onnx');
  if (!response.ok) throw new Error(`fetching /onnx/sobel.onnx: HTTP ${response.status}`);
  const session = await InferenceSession.create(await response.arrayBuffer());
  const image = squareImage();
  const start = performance.now();
  const { edges } = await session.run({ image: new Tensor('float32', image, [1, 1, SIZE, SIZE]) });
  const ms = performance.now() - start;
  // A pipeline: its model is one of the bundle's assets, checked by sha256 before use.
  // With `cache: true` the first load stores the model in the Cache API, the second reads it
  // from there: one request for the model in all.
  await caches.delete('edgewise-models');
  const detect = await pipeline('defect', { cache: true });
  const again = await pipeline('defect', { cache: true });
  const cachedKeys = (await (await caches.open('edgewise-models')).keys()).map((r) => r.url);
  const found = await again({ data: patternRgba(), width: PATTERN[0], height: PATTERN[1] });
  const first = await detect({ data: patternRgba(), width: PATTERN[0], height: PATTERN[1] });
  const resources = performance.getEntriesByType('resource').map((e) => e.name);
  const wasm = resources.filter((name) => name.endsWith('.wasm'));
  return {
    ok: true,
    version: env.versions.edgewise,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputShape: session.inputMetadata[0].shape,
    square: SQUARE,
    type: edges.type,
    dims: edges.dims,
    edgePixels: edges.data.filter((v) => v > 0.5).length,
    max: Math.max(...edges.data),
    edges: Array.from(edges.data),
    wasm,
    ms,
    pipeline: {
      score: found.score,
      flagged: found.flagged,
      crop: found.crop,
      heatmap: Array.from(found.heatmap),
      models: resources.filter((name) => name.endsWith('.onnx')),
      cachedKeys,
      cachedSame: first.score === found.score,
    },
  };
}

const out = document.getElementById('result');
main().then(
  (result) => {
    out.textContent = JSON.stringify(result);
  },
  (error) => {
    out.textContent = JSON.stringify({ ok: false, error: String(error?.stack ?? error) });
  },
);
