// A module worker: imports the package as published (no bundler), runs the Sobel model on a
// generated disc, checks that a bad feed rejects with an Error, runs pipeline('defect') on the
// disc, and posts the outcome.
// `worker.js?threads=N` sets `env.numThreads` first.
import { InferenceSession, Tensor, env, pipeline } from '/pkg/index.js';

const SIZE = 64;

/** A white disc of radius 20 centred in a black 64×64 image. */
function discImage() {
  const image = new Float32Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      if ((x - 31.5) ** 2 + (y - 31.5) ** 2 <= 20 * 20) image[y * SIZE + x] = 1;
    }
  }
  return image;
}

async function main() {
  const threads = Number(new URL(self.location.href).searchParams.get('threads') ?? 0);
  env.numThreads = threads;
  // A URL string: the package resolves it against the worker's location and fetches it.
  const session = await InferenceSession.create('/onnx/sobel.onnx');
  const image = discImage();
  const feeds = { image: new Tensor('float32', image, [1, 1, SIZE, SIZE]) };
  const start = performance.now();
  const { edges } = await session.run(feeds);
  const ms = performance.now() - start;

  let badInput;
  try {
    await session.run({ image: new Tensor('float32', new Float32Array(32 * 32), [1, 1, 32, 32]) });
    badInput = { rejected: false };
  } catch (e) {
    badInput = { rejected: true, isError: e instanceof Error, message: String(e?.message ?? e) };
  }
  // The session still works after the error and gives the same answer.
  const again = await session.run(feeds);
  const sameAgain = again.edges.data.every((v, i) => v === edges.data[i]);

  // A pipeline: the package fetches its model from beside itself (/pkg/models/).
  const detect = await pipeline('defect');
  const found = await detect({ data: image, width: SIZE, height: SIZE });

  return {
    ok: true,
    inWorker: typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope,
    version: env.versions.edgewise,
    numThreads: env.numThreads,
    crossOriginIsolated: self.crossOriginIsolated,
    type: edges.type,
    dims: edges.dims,
    edgePixels: edges.data.filter((v) => v > 0.5).length,
    image: Array.from(image),
    edges: Array.from(edges.data),
    badInput,
    sameAgain,
    ms,
    pipeline: { score: found.score, flagged: found.flagged, heatmap: Array.from(found.heatmap) },
  };
}

main().then(
  (result) => postMessage(result),
  (error) => postMessage({ ok: false, error: String(error?.stack ?? error) }),
);
