// A worker answering inference requests with the edgewise package:
//   GET /sobel            the Sobel model through InferenceSession on a white square
//   GET /defect?seed=N    pipeline('defect') on the generated texture of seed N
// Each answer is JSON with the wasm memory the instance holds (the platform allows 128 MB).
import { InferenceSession, Tensor, env, init, pipeline, pipelines, tasks } from './edgewise/index.js';
import wasm from './edgewise/wasm/edgewise_bg.wasm';
import defectModel from './models/defect.onnx';
import sobelModel from './models/sobel.onnx';

let ready;

/** The module, a session and a pipeline, made once per isolate. */
function start() {
  ready ??= (async () => {
    await init(wasm);
    const { sha256 } = (await pipelines()).find((p) => p.id === 'defect');
    const [sobel, detect] = await Promise.all([
      InferenceSession.create(new Uint8Array(sobelModel)),
      pipeline('defect', { model: new Uint8Array(defectModel), sha256 }),
    ]);
    return { sobel, detect };
  })();
  return ready;
}

async function answer(url) {
  const { sobel, detect } = await start();
  if (url.pathname === '/sobel') {
    const image = new Float32Array(64 * 64);
    for (let y = 16; y < 48; y++) for (let x = 16; x < 48; x++) image[y * 64 + x] = 1;
    const { edges } = await sobel.run({ image: new Tensor('float32', image, [1, 1, 64, 64]) });
    return { dims: edges.dims, edges: Array.from(edges.data) };
  }
  if (url.pathname === '/defect') {
    const seed = Number(url.searchParams.get('seed') ?? 0);
    const s = tasks.defect.sample('stripes', 'scratch', seed);
    const r = await detect({ data: s.image, width: s.size, height: s.size });
    return { seed, score: r.score, flagged: r.flagged, boxes: r.boxes, heatmap: Array.from(r.heatmap) };
  }
  return undefined;
}

export default {
  async fetch(request) {
    try {
      const body = await answer(new URL(request.url));
      if (body === undefined) return new Response('not found', { status: 404 });
      return Response.json({ ...body, wasmMemoryBytes: env.wasmMemoryBytes, version: env.versions.wasm });
    } catch (e) {
      return Response.json({ error: String(e?.stack ?? e) }, { status: 500 });
    }
  },
};
