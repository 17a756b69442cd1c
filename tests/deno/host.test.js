// The package in Deno, imported by relative path as an edge worker would import it.
import { InferenceSession, Tensor, pipeline, tasks } from '../../pkg/index.js';

const MODEL = 'target/fixtures/mlp.onnx';
const MLP_W = [0.5, -1.0, 0.25, 1.5, 0.0, -0.5, -2.0, 1.0, 0.75, 0.1, 0.2, 0.3];
const MLP_B = [0.1, -0.2, 0.05];

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

/** relu(x · W + b) for x of shape [batch, 4]. */
function reference(x, batch) {
  return Array.from({ length: batch * 3 }, (_, i) => {
    const r = Math.floor(i / 3);
    const c = i % 3;
    let z = MLP_B[c];
    for (let k = 0; k < 4; k++) z += x[r * 4 + k] * MLP_W[k * 3 + c];
    return Math.max(0, z);
  });
}

async function checkNumerics(session, batch) {
  const x = Float32Array.from({ length: batch * 4 }, (_, i) => Math.sin(i * 1.3) * 2);
  const { y } = await session.run({ x: new Tensor('float32', x, [batch, 4]) });
  assert(y instanceof Tensor, 'y is a Tensor');
  assert(y.type === 'float32', `type ${y.type}`);
  assert(y.dims.join() === `${batch},3`, `dims [${y.dims}]`);
  const want = reference(x, batch);
  for (let i = 0; i < want.length; i++) {
    assert(Math.abs(y.data[i] - want[i]) < 1e-5, `y[${i}] = ${y.data[i]}, expected ${want[i]}`);
  }
}

Deno.test('loads the mlp from a path and matches relu(x·W+b)', async () => {
  const session = await InferenceSession.create(MODEL);
  assert(session.inputNames.join() === 'x', `inputs ${session.inputNames}`);
  assert(session.inputMetadata[0].shape[0] === 'batch', 'symbolic batch is a string');
  await checkNumerics(session, 1);
  await checkNumerics(session, 4);
  await session.release();
});

Deno.test('loads the mlp from bytes read with Deno.readFile', async () => {
  const bytes = await Deno.readFile(MODEL);
  assert(bytes instanceof Uint8Array && bytes.length > 0, 'read the model');
  const session = await InferenceSession.create(bytes);
  await checkNumerics(session, 3);
});

Deno.test('a bad input rejects with an Error naming the input, and the session goes on', async () => {
  const session = await InferenceSession.create(await Deno.readFile(MODEL));
  let error;
  try {
    await session.run({ x: new Tensor('float32', new Float32Array(6), [2, 3]) });
  } catch (e) {
    error = e;
  }
  assert(error instanceof Error, `rejected with an Error, got ${error}`);
  assert(/input 'x'/.test(error.message), `message names the input: ${error.message}`);
  await checkNumerics(session, 2);
});

Deno.test("pipeline('defect') reads its model from the package and equals prepare → run → analyze", async () => {
  const detect = await pipeline('defect');
  const manifest = JSON.parse(await Deno.readTextFile('onnx/manifest.json'));
  const session = await InferenceSession.create('pkg/models/defect.onnx');
  const s = tasks.defect.sample('dots', 'stain', 9);
  const found = await detect({ data: s.image, width: s.size, height: s.size });
  const x = tasks.defect.prepare(s.image, s.size, s.size);
  const { ssim } = await session.run({ image: new Tensor('float32', x, [1, 1, 64, 64]) });
  const want = tasks.defect.analyze(ssim, { threshold: manifest.models.defect.helper.threshold });
  assert(found.heatmap.length === 64 * 64, `heatmap of ${found.heatmap.length}`);
  assert(found.heatmap.every((v, i) => v === want.heatmap[i]), 'heatmap equals the three-call path');
  assert(found.flagged === want.flagged && found.score === want.score, 'verdict and score');
  assert(JSON.stringify(found.boxes) === JSON.stringify(want.boxes), 'boxes');
  detect.dispose();
});
