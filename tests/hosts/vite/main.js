// A page bundled by Vite: the package comes from node_modules, its wasm is an emitted asset.
import { InferenceSession, Tensor, env } from 'edgewise';

const SIZE = 64;
// A white square on black: rows and columns SQUARE[0]..SQUARE[1] (inclusive) are 1.
const SQUARE = [16, 47];

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
  const wasm = performance
    .getEntriesByType('resource')
    .map((e) => e.name)
    .filter((name) => name.endsWith('.wasm'));
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
