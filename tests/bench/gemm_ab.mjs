// The GEMM kernel lever, side by side in one Node process: edgewise with its own f32 GEMM kernel
// (the default), edgewise with tract-linalg's (`env.gemmKernel = 'tract'`), and onnxruntime-web
// (wasm, 1 thread), on the random-weight copies of the light models. Runs are interleaved,
// the order rotating every round; the outputs of the three are compared.
//
//   node tests/bench/gemm_ab.mjs [--only squeezenet,densenet121] [--runs 10] [--edgewise-pkg DIR]
//
// Prints one line per model and writes target/bench/gemm_ab.json.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { log, MODELS, ROOT, setEdgewisePkg } from './common.mjs';
import { lightModelsDir, prepareModels } from './models.mjs';
import { compare, inputData, loadRuntimes, median, pickInput } from './timing.mjs';

// vgg19 is left out unless named: three sessions of its 548 MB of weights do not fit in one
// process's wasm memories.
const args = { only: MODELS.filter((m) => m !== 'vgg19'), runs: 10, pkg: undefined };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--only') args.only = argv[++i].split(',');
  else if (argv[i] === '--runs') args.runs = Number(argv[++i]);
  else if (argv[i] === '--edgewise-pkg') args.pkg = argv[++i];
  else throw new Error(`unknown argument ${argv[i]}`);
}
if (args.pkg) setEdgewisePkg(path.resolve(args.pkg));
const workDir = path.join(ROOT, 'target/bench/models');
prepareModels(lightModelsDir(), workDir);
const rt = await loadRuntimes();
const { ew, ort } = rt;
await ew.init();

const variants = [
  { name: 'edgewise', lib: ew, kernel: 'edgewise' },
  { name: 'edgewise-tract-gemm', lib: ew, kernel: 'tract' },
  { name: 'ort', lib: ort },
];
const results = [];
for (const model of args.only) {
  const bytes = readFileSync(path.join(workDir, `light_${model}.onnx`));
  const sessions = [];
  for (const v of variants) {
    if (v.kernel) ew.env.gemmKernel = v.kernel;
    const session =
      v.lib === ort
        ? await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', executionProviders: ['wasm'] })
        : await ew.InferenceSession.create(bytes);
    sessions.push({ ...v, session, times: [] });
  }
  ew.env.gemmKernel = 'edgewise';
  const data = inputData(3 * 224 * 224);
  const outputs = {};
  for (let round = 0; round < args.runs + 2; round++) {
    for (let j = 0; j < sessions.length; j++) {
      const s = sessions[(round + j) % sessions.length];
      const input = new s.lib.Tensor('float32', data, [1, 3, 224, 224]);
      const t = performance.now();
      const out = await s.session.run({ [pickInput(s.session)]: input });
      const ms = performance.now() - t;
      if (round >= 2) s.times.push(ms);
      outputs[s.name] = out[s.session.outputNames[0]].data;
    }
  }
  const ms = Object.fromEntries(sessions.map((s) => [s.name, median(s.times)]));
  const r = {
    model,
    ms,
    speedup: ms['edgewise-tract-gemm'] / ms.edgewise,
    ratio: ms.edgewise / ms.ort,
    agreement: compare(outputs.edgewise, outputs.ort).rel,
    kernelsAgree: compare(outputs.edgewise, outputs['edgewise-tract-gemm']).rel,
  };
  results.push(r);
  log(
    `${model.padEnd(13)} edgewise ${ms.edgewise.toFixed(1)} ms, with tract's GEMM ${ms['edgewise-tract-gemm'].toFixed(1)} ms ` +
      `(${r.speedup.toFixed(2)}× faster), ORT ${ms.ort.toFixed(1)} ms: ${r.ratio.toFixed(2)}×; ` +
      `rel. difference to ORT ${r.agreement.toExponential(1)}, between kernels ${r.kernelsAgree.toExponential(1)}`,
  );
  for (const s of sessions) await s.session.release?.();
}
mkdirSync(path.join(ROOT, 'target/bench'), { recursive: true });
writeFileSync(path.join(ROOT, 'target/bench/gemm_ab.json'), JSON.stringify({ runs: args.runs, results }, null, 2));
