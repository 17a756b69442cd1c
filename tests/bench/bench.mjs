// edgewise against onnxruntime-web in one Node process.
//
//   node tests/bench/bench.mjs --runs 30 --out target/bench/results.json [--only squeezenet,vgg19]
//     [--third-party smart-turn,minilm] [--no-third-party]   (`--only ''`: no light model)
//     [--threads N]   (both runtimes on N threads; edgewise then loads its multi-threaded build)
//
// For each `light_*` architecture that the `onnx` Python wheel ships (input 1×3×224×224):
//   - cold start per runtime: InferenceSession.create + the first run (the wasm modules are
//     started beforehand on a one-node model, and that start is reported on its own);
//   - warm runs, edgewise and onnxruntime-web interleaved (the order flips every run), after
//     warm-up runs: median, p95, min, mean in ms;
//   - output agreement on the model as shipped and on a copy whose ConstantOfShape weights are
//     replaced by seeded random initializers (the shipped weights are one constant, so every
//     output element of the shipped model is the same number and agreement there proves little);
//   - wasm memory: every WebAssembly instance is recorded by wrapping the WebAssembly entry
//     points before either runtime loads; the memories it exports or imports are attributed to
//     the runtime whose module bytes it was compiled from. Memory only grows, so the size after
//     a model is the high-water mark so far; per-model peaks come from one fresh child process
//     per model (`--memory-probe`).
//   - download sizes, raw and gzip -9, of each runtime's wasm (the file Node actually compiled,
//     identified by hash) and JS.
//
//   node tests/bench/bench.mjs --layers zfnet512 --runs 10 [--out layers.json]
//
// times each node of one model alone (its random-weight copy), in both runtimes.
//
//   node --cpu-prof tests/bench/bench.mjs --edgewise-pkg DIR --only zfnet512 ...
//   node tests/bench/bench.mjs --cpu-summary FILE.cpuprofile
//
// profile with another build of the package (DIR laid out like pkg/, e.g. one whose wasm keeps
// its name section) and summarize the profile by function and operator (bench/profile.md).
//
// Results go to the JSON file given by --out. The process exits with 1 when the runtimes'
// outputs disagree by more than 1e-3 relative (the JSON is written first).
//
// The code is split by responsibility: instrument.mjs (WebAssembly wrapping and memory
// attribution; imported first, before either runtime loads), models.mjs (the light models and
// their random-weight copies), timing.mjs (the runtimes, cold/warm timing, statistics),
// layers.mjs (--layers and --cpu-summary), common.mjs (shared constants), and this file (the
// command line, sizes, memory probes and the run as a whole).

// Must come first: it wraps the WebAssembly entry points before either runtime is imported.
import { instances, knownWasmFiles, loadedWasm, memoryByRuntime } from './instrument.mjs';

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { EDGEWISE_PKG, fmt, log, MODELS, ortDir, REL_TOLERANCE, ROOT, setEdgewisePkg } from './common.mjs';
import { cpuSummary, layers } from './layers.mjs';
import { lightModelsDir, prepareModels } from './models.mjs';
import { benchThirdParty } from './thirdparty.mjs';

// Third-party outputs agree within each model's own stated tolerance in the tests; here the
// bench only guards against a model that went wrong: 2% of the output's largest magnitude.
const THIRD_PARTY_REL_TOLERANCE = 0.02;
import { benchBatch, benchModel, checkModel, inputData, loadRuntimes, runOnce, startRuntimes } from './timing.mjs';

// ---------------------------------------------------------------------------------------------
// Arguments, helpers.

function parseArgs(argv) {
  const args = { runs: 30, warmup: 2, threads: 1, out: undefined, only: undefined, memory: true, check: true, batch: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--runs') args.runs = Number(next());
    else if (a === '--threads') args.threads = Number(next());
    else if (a === '--warmup') args.warmup = Number(next());
    else if (a === '--out') args.out = next();
    else if (a === '--only') args.only = next().split(',');
    else if (a === '--models-dir') args.modelsDir = next();
    else if (a === '--work-dir') args.workDir = next();
    else if (a === '--memory-probe') args.memoryProbe = next();
    else if (a === '--layers') args.layers = next();
    else if (a === '--edgewise-pkg') args.edgewisePkg = next();
    else if (a === '--cpu-summary') args.cpuSummary = next();
    else if (a === '--no-memory') args.memory = false;
    else if (a === '--no-check') args.check = false;
    else if (a === '--no-batch') args.batch = false;
    else if (a === '--no-third-party') args.thirdParty = false;
    else if (a === '--third-party') args.thirdPartyOnly = next().split(',');
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(args.threads) || args.threads < 1) throw new Error('--threads must be a positive integer');
  if (!Number.isInteger(args.runs) || args.runs < 1) throw new Error('--runs must be a positive integer');
  if (!Number.isInteger(args.warmup) || args.warmup < 0) throw new Error('--warmup must be a non-negative integer');
  return args;
}

function gzipSize(bytes) {
  return gzipSync(bytes, { level: 9 }).byteLength;
}

function fileSize(file) {
  const bytes = readFileSync(file);
  return { file: path.relative(ROOT, file), raw: bytes.byteLength, gzip: gzipSize(bytes) };
}

function sumSizes(files) {
  return { raw: files.reduce((a, f) => a + f.raw, 0), gzip: files.reduce((a, f) => a + f.gzip, 0) };
}

// ---------------------------------------------------------------------------------------------
// Memory probes and download sizes.

/** Per-model peak memory: a fresh child process loads both runtimes and runs the model once. */
function probeMemory(name, args) {
  const out = execFileSync(
    process.execPath,
    [
      fileURLToPath(import.meta.url),
      ...['--memory-probe', name, '--models-dir', args.modelsDir, '--work-dir', args.workDir, '--threads', String(args.threads)],
      ...(args.edgewisePkg ? ['--edgewise-pkg', args.edgewisePkg] : []),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

async function memoryProbe(args) {
  const byHash = knownWasmFiles();
  const rt = await loadRuntimes(args.threads);
  await startRuntimes(rt, readFileSync(path.join(args.workDir, 'tiny.onnx')));
  const baseline = memoryByRuntime(byHash);
  const bytes = readFileSync(path.join(args.modelsDir, `light_${args.memoryProbe}.onnx`));
  const dims = [1, 3, 224, 224];
  const data = inputData(dims.reduce((a, b) => a * b, 1));
  for (const r of rt.list) {
    const s = await r.create(bytes);
    for (let i = 0; i < 2; i++) await runOnce(s, s.tensor(data, dims));
  }
  const peak = memoryByRuntime(byHash);
  process.stdout.write(`${JSON.stringify({ baseline, peak, edgewiseSelfReport: rt.ew.env.wasmMemoryBytes })}\n`);
}

function sizes(byHash) {
  const ewWasm = fileSize(path.join(EDGEWISE_PKG, 'wasm/edgewise_bg.wasm'));
  const ewWasmThreads = fileSize(path.join(EDGEWISE_PKG, 'wasm-mt/edgewise_bg.wasm'));
  const ewJs = ['index.js', 'load.js', 'source.js', 'pipeline.js', 'tasks.js', 'wasm/edgewise.js'].map((f) => fileSize(path.join(EDGEWISE_PKG, f)));
  const loadedEw = instances.some((i) => byHash.get(i.sha256)?.runtime === 'edgewise');
  if (!loadedEw) throw new Error(`the edgewise wasm that was compiled is not ${path.relative(ROOT, EDGEWISE_PKG)}/wasm/edgewise_bg.wasm (rebuilt meanwhile?)`);
  const loadedOrt = instances.map((i) => byHash.get(i.sha256)).find((k) => k?.runtime === 'ort');
  const ortWasmFile = loadedOrt?.file ?? path.join(ROOT, 'node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm');
  const ortWasm = fileSize(ortWasmFile);
  // The emscripten glue that goes with that wasm, and the package's JS: the self-contained
  // browser bundle of the wasm backend (what a page downloads), and the Node entry (which
  // imports the separate onnxruntime-common package).
  const glue = fileSize(ortWasmFile.replace(/\.wasm$/, '.mjs'));
  const browserEntry = fileSize(path.join(ortDir(), 'dist/ort.wasm.min.mjs'));
  const nodeEntry = fileSize(fileURLToPath(import.meta.resolve('onnxruntime-web')));
  const ewTotal = sumSizes([ewWasm, ...ewJs]);
  const ortTotal = sumSizes([ortWasm, glue, browserEntry]);
  return {
    edgewise: { wasm: ewWasm, wasmThreads: ewWasmThreads, js: ewJs, jsTotal: sumSizes(ewJs), total: ewTotal },
    ort: {
      wasm: ortWasm,
      wasmVerifiedLoaded: loadedOrt !== undefined,
      js: [browserEntry, glue],
      jsTotal: sumSizes([browserEntry, glue]),
      nodeEntry,
      total: ortTotal,
    },
    ratio: { raw: ewTotal.raw / ortTotal.raw, gzip: ewTotal.gzip / ortTotal.gzip },
  };
}

function cpuModel() {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.split(':')[1].trim();
  } catch {}
  return os.cpus()[0]?.model ?? 'unknown';
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  args.modelsDir ??= lightModelsDir();
  args.workDir ??= path.join(ROOT, 'target/bench/models');
  if (args.cpuSummary) return cpuSummary(args.cpuSummary);
  if (args.edgewisePkg) setEdgewisePkg(path.resolve(args.edgewisePkg));
  if (args.memoryProbe) return memoryProbe(args);
  if (args.layers) return layers(args);
  if (!args.out) throw new Error('--out FILE is required');
  // `--only ''` benches no light model (with `--third-party`, only those).
  const names = (args.only ?? MODELS).filter((n) => n !== '');
  for (const n of names) if (!MODELS.includes(n)) throw new Error(`unknown model ${n}; known: ${MODELS.join(', ')}`);

  prepareModels(args.modelsDir, args.workDir);
  const loadAtStart = os.loadavg()[0];
  const byHash = knownWasmFiles();
  const rt = await loadRuntimes(args.threads);
  const ortVersion = JSON.parse(readFileSync(path.join(ortDir(), 'package.json'), 'utf8')).version;

  const startup = await startRuntimes(rt, readFileSync(path.join(args.workDir, 'tiny.onnx')));
  const memoryAfterStart = memoryByRuntime(byHash);
  // Sizes now, from the files just compiled (the hook matched them by hash).
  const sizeResults = sizes(byHash);
  log(`runtimes started: edgewise ${fmt(startup.edgewise)} ms, onnxruntime-web ${fmt(startup.ort)} ms`);

  const results = [];
  const failures = [];
  for (const [k, name] of names.entries()) {
    const bytes = readFileSync(path.join(args.modelsDir, `light_${name}.onnx`));
    const order = k % 2 === 0 ? rt.list : [...rt.list].reverse();
    const r = await benchModel(rt, name, bytes, args, order);
    r.memoryHighWater = memoryByRuntime(byHash);
    if (!(r.agreement.rel <= REL_TOLERANCE)) failures.push(`${name}: relative difference ${r.agreement.rel}`);
    results.push(r);
    log(
      `${name.padEnd(13)} edgewise ${fmt(r.edgewise.median)} ms (p95 ${fmt(r.edgewise.p95)}, cold ${fmt(r.edgewise.cold.total)})` +
        `  ort ${fmt(r.ort.median)} ms (p95 ${fmt(r.ort.p95)}, cold ${fmt(r.ort.cold.total)})` +
        `  ratio ${r.ratio.toFixed(2)}  max abs diff ${r.agreement.maxAbs.toExponential(1)}`,
    );
  }
  // Everything below loads more models; the process's memory high-water mark is taken first.
  const highWater = memoryByRuntime(byHash);
  const edgewiseSelfReport = rt.ew.env.wasmMemoryBytes;

  let batch;
  if (args.batch && names.includes('squeezenet')) {
    batch = await benchBatch(rt, path.join(args.workDir, 'light_squeezenet_b4.onnx'), args);
    if (!(batch.agreement.rel <= REL_TOLERANCE)) failures.push(`squeezenet batch 4: relative difference ${batch.agreement.rel}`);
    log(`squeezenet ×4  edgewise ${fmt(batch.edgewise.median)} ms  ort ${fmt(batch.ort.median)} ms  ratio ${batch.ratio.toFixed(2)}`);
  }

  if (args.check) {
    for (const r of results) {
      r.check = await checkModel(rt, path.join(args.workDir, `light_${r.name}.onnx`), [1, 3, 224, 224]);
      if (!(r.check.rel <= REL_TOLERANCE)) failures.push(`${r.name} (random weights): relative difference ${r.check.rel}`);
      log(
        `random weights ${r.name.padEnd(13)} max abs diff ${r.check.maxAbs.toExponential(1)}  relative ${r.check.rel.toExponential(1)}` +
          `  top-1 ${r.check.top1.map(([a, b]) => `${a}/${b}`).join(' ')}`,
      );
    }
  }

  let thirdParty;
  if (args.thirdParty !== false) {
    thirdParty = await benchThirdParty(rt, args);
    for (const r of thirdParty) {
      if (!(r.agreement.rel <= THIRD_PARTY_REL_TOLERANCE)) failures.push(`${r.name}: relative difference ${r.agreement.rel}`);
    }
  }

  const perModel = {};
  if (args.memory) {
    for (const name of names) {
      perModel[name] = probeMemory(name, args);
      log(`memory ${name.padEnd(13)} edgewise ${(perModel[name].peak.edgewise / 2 ** 20).toFixed(1)} MiB  ort ${(perModel[name].peak.ort / 2 ** 20).toFixed(1)} MiB`);
    }
  }

  const result = {
    meta: {
      date: new Date().toISOString(),
      node: process.version,
      v8: process.versions.v8,
      cpu: cpuModel(),
      cores: os.cpus().length,
      // The 1-minute load average: other work on the machine skews the two runtimes unequally.
      loadAverage: { start: loadAtStart, end: os.loadavg()[0] },
      edgewise: rt.ew.env.versions.edgewise,
      ort: ortVersion,
      ortNumThreads: rt.ort.env.wasm.numThreads,
      threads: args.threads,
      edgewiseNumThreads: rt.ew.env.numThreads,
      graphOptimizationLevel: 'all',
      runs: args.runs,
      warmup: args.warmup,
      input: '(i % 255) / 255 - 0.5',
      relTolerance: REL_TOLERANCE,
      loadedWasm: loadedWasm(byHash),
    },
    startup,
    models: results,
    batch,
    thirdParty,
    memory: {
      afterStart: memoryAfterStart,
      highWater,
      edgewiseSelfReport,
      perModel,
    },
    sizes: sizeResults,
    failures,
  };
  mkdirSync(path.dirname(path.resolve(args.out)), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`);
  log(`wrote ${args.out}`);
  if (failures.length) {
    log(`outputs disagree beyond ${REL_TOLERANCE} relative:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
