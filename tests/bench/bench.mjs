// edgewise against onnxruntime-web in one Node process.
//
//   node tests/bench/bench.mjs --runs 30 --out target/bench/results.json [--only squeezenet,vgg19]
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

import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MODELS = [
  'squeezenet',
  'shufflenet',
  'resnet50',
  'densenet121',
  'inception_v1',
  'inception_v2',
  'vgg19',
  'bvlc_alexnet',
  'zfnet512',
];
const REL_TOLERANCE = 1e-3;
/** The edgewise package under test: `pkg/`, or a directory laid out like it (--edgewise-pkg). */
let EDGEWISE_PKG = path.join(ROOT, 'pkg');

// ---------------------------------------------------------------------------------------------
// Instrumenting WebAssembly (must happen before either runtime is imported).

/** One entry per compiled module: sha256 of its bytes, size, and which file it matches. */
const modules = new Map(); // WebAssembly.Module -> { sha256, bytes }
/** One entry per instance: its module's hash and the memories it exports or imports. */
const instances = [];

function toBytes(src) {
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  if (ArrayBuffer.isView(src)) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  return undefined;
}

function noteModule(module, bytes) {
  if (module && bytes && !modules.has(module)) {
    modules.set(module, { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.byteLength });
  }
}

function memoriesOf(instance, imports) {
  const found = new Set();
  for (const v of Object.values(instance.exports ?? {})) if (v instanceof WebAssembly.Memory) found.add(v);
  for (const ns of Object.values(imports ?? {})) {
    if (ns instanceof WebAssembly.Memory) found.add(ns);
    else if (ns && typeof ns === 'object') {
      for (const v of Object.values(ns)) if (v instanceof WebAssembly.Memory) found.add(v);
    }
  }
  return [...found];
}

/** The first stack frame outside this file: who asked for the instance. */
function caller(stack) {
  const self = import.meta.url;
  const frames = (stack ?? '').split('\n').slice(1);
  const frame = frames.find((f) => !f.includes(self) && !f.includes('<anonymous>')) ?? '';
  return frame.trim().replace(/^at\s+/, '');
}

function noteInstance(instance, module, imports, stack) {
  const info = modules.get(module);
  instances.push({
    sha256: info?.sha256,
    moduleBytes: info?.bytes,
    memories: memoriesOf(instance, imports),
    caller: caller(stack),
  });
}

{
  const W = WebAssembly;
  const { compile, instantiate, instantiateStreaming, compileStreaming } = W;
  const OrigModule = W.Module;
  const OrigInstance = W.Instance;
  W.compile = async function (bytes, ...rest) {
    const m = await compile.call(W, bytes, ...rest);
    noteModule(m, toBytes(bytes));
    return m;
  };
  W.instantiate = async function (src, imports, ...rest) {
    const stack = new Error().stack;
    const result = await instantiate.call(W, src, imports, ...rest);
    if (src instanceof OrigModule) {
      noteInstance(result, src, imports, stack);
    } else {
      noteModule(result.module, toBytes(src));
      noteInstance(result.instance, result.module, imports, stack);
    }
    return result;
  };
  if (instantiateStreaming) {
    W.instantiateStreaming = async function (source, imports, ...rest) {
      const stack = new Error().stack;
      const response = await source;
      const bytes = new Uint8Array(await response.clone().arrayBuffer());
      const result = await instantiateStreaming.call(W, response, imports, ...rest);
      noteModule(result.module, bytes);
      noteInstance(result.instance, result.module, imports, stack);
      return result;
    };
  }
  if (compileStreaming) {
    W.compileStreaming = async function (source, ...rest) {
      const response = await source;
      const bytes = new Uint8Array(await response.clone().arrayBuffer());
      const m = await compileStreaming.call(W, response, ...rest);
      noteModule(m, bytes);
      return m;
    };
  }
  W.Module = new Proxy(OrigModule, {
    construct(target, args, newTarget) {
      const m = Reflect.construct(target, args, newTarget);
      noteModule(m, toBytes(args[0]));
      return m;
    },
  });
  W.Instance = new Proxy(OrigInstance, {
    construct(target, args, newTarget) {
      const inst = Reflect.construct(target, args, newTarget);
      noteInstance(inst, args[0], args[1], new Error().stack);
      return inst;
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Arguments, helpers.

function parseArgs(argv) {
  const args = { runs: 30, warmup: 2, out: undefined, only: undefined, memory: true, check: true, batch: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--runs') args.runs = Number(next());
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
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(args.runs) || args.runs < 1) throw new Error('--runs must be a positive integer');
  if (!Number.isInteger(args.warmup) || args.warmup < 0) throw new Error('--warmup must be a non-negative integer');
  return args;
}

const PYTHON = path.join(ROOT, '.venv/bin/python');

function lightModelsDir() {
  const dir = execFileSync(
    PYTHON,
    ['-c', 'import onnx.backend.test, os; print(os.path.dirname(onnx.backend.test.__file__))'],
    { encoding: 'utf8' },
  ).trim();
  return path.join(dir, 'data/light');
}

// Writes, into `workDir`: `tiny.onnx` (one Relu, to start the runtimes), `light_<name>.onnx`
// copies whose ConstantOfShape weights are seeded random initializers (He-scaled conv and Gemm
// weights, batch-norm statistics near 1 and 0), and `light_squeezenet_b4.onnx` (batch of 4).
const PREPARE_PY = String.raw`
import os, sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

src, dst, names = sys.argv[1], sys.argv[2], sys.argv[3].split(',')
os.makedirs(dst, exist_ok=True)

x = helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 8])
y = helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 8])
g = helper.make_graph([helper.make_node('Relu', ['x'], ['y'])], 'tiny', [x], [y])
tiny = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])
tiny.ir_version = 8
onnx.save(tiny, os.path.join(dst, 'tiny.onnx'))

def randomize(m, seed):
    g = m.graph
    rng = np.random.default_rng(seed)
    inits = {i.name: i for i in g.initializer}
    consumers = {}
    for n in g.node:
        for k, name in enumerate(n.input):
            consumers.setdefault(name, []).append((n, k))
    def use(name):
        # (op, input slot, node) of the first consumer, looking through Unsqueeze/Reshape.
        for _ in range(4):
            c = consumers.get(name, [])
            if not c:
                return None, None, None
            n, k = c[0]
            if n.op_type in ('Unsqueeze', 'Reshape') and k == 0:
                name = n.output[0]
                continue
            return n.op_type, k, n
        return None, None, None
    kept, used_shapes = [], set()
    for n in g.node:
        if n.op_type != 'ConstantOfShape' or n.input[0] not in inits:
            kept.append(n)
            continue
        shape = [int(d) for d in numpy_helper.to_array(inits[n.input[0]])]
        used_shapes.add(n.input[0])
        op, k, user = use(n.output[0])
        u = rng.uniform(-1.0, 1.0, size=shape)
        if op in ('Conv', 'Gemm') and k == 1:
            if op == 'Conv':
                fan_in = int(np.prod(shape[1:]))
            else:
                trans_b = next((a.i for a in user.attribute if a.name == 'transB'), 0)
                fan_in = shape[1] if trans_b else shape[0]
            arr = u * np.sqrt(6.0 / fan_in)
        elif op == 'BatchNormalization' and k in (1, 4):
            arr = 1.0 + 0.1 * u
        elif op == 'Mul':
            arr = 1.0 + 0.1 * u
        else:
            arr = 0.1 * u
        g.initializer.append(numpy_helper.from_array(arr.astype(np.float32), n.output[0]))
    del g.node[:]
    g.node.extend(kept)
    still_used = {name for n in kept for name in n.input}
    gone = {i.name for i in g.initializer if i.name in used_shapes and i.name not in still_used}
    for i in [i for i in g.initializer if i.name in gone]:
        g.initializer.remove(i)
    # IR 4 lets initializers stay out of the graph inputs (where they would be overridable,
    # hence not constants).
    m.ir_version = max(m.ir_version, 4)
    constant = {i.name for i in g.initializer} | gone
    for i in [i for i in g.input if i.name in constant]:
        g.input.remove(i)
    return m

for seed, name in enumerate(names):
    m = onnx.load(os.path.join(src, 'light_%s.onnx' % name))
    onnx.save(randomize(m, seed), os.path.join(dst, 'light_%s.onnx' % name))

m = onnx.load(os.path.join(dst, 'light_squeezenet.onnx'))
inits = {i.name for i in m.graph.initializer}
for i in m.graph.input:
    if i.name not in inits:
        i.type.tensor_type.shape.dim[0].dim_value = 4
for o in m.graph.output:
    o.type.tensor_type.shape.dim[0].dim_value = 4
onnx.save(m, os.path.join(dst, 'light_squeezenet_b4.onnx'))
`;

/** Runs PREPARE_PY unless `dst` already holds its output for this script and these sources. */
function prepareModels(src, dst) {
  const h = createHash('sha256').update(PREPARE_PY).update(MODELS.join(','));
  for (const name of MODELS) h.update(readFileSync(path.join(src, `light_${name}.onnx`)));
  const stamp = h.digest('hex');
  const stampFile = path.join(dst, '.stamp');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return;
  mkdirSync(dst, { recursive: true });
  log('writing random-weight copies of the models (once)');
  execFileSync(PYTHON, ['-c', PREPARE_PY, src, dst, MODELS.join(',')], { stdio: 'inherit' });
  writeFileSync(stampFile, stamp);
}

function ortDir() {
  // The package's exports hide package.json; its Node entry lies in dist/.
  return path.resolve(path.dirname(fileURLToPath(import.meta.resolve('onnxruntime-web'))), '..');
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile. */
function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

function stats(xs) {
  return {
    median: median(xs),
    p95: percentile(xs, 95),
    min: Math.min(...xs),
    mean: xs.reduce((a, b) => a + b, 0) / xs.length,
  };
}

function inputData(n) {
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (i % 255) / 255 - 0.5;
  return data;
}

/** Max abs and relative (to the largest reference magnitude) difference of two float arrays. */
function compare(a, b) {
  if (a.length !== b.length) return { maxAbs: Infinity, rel: Infinity, sameLength: false };
  let maxAbs = 0;
  let refMax = 0;
  let lo = Infinity;
  let hi = -Infinity;
  let nonFinite = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) nonFinite++;
    maxAbs = Math.max(maxAbs, Math.abs(x - y));
    refMax = Math.max(refMax, Math.abs(y));
    lo = Math.min(lo, y);
    hi = Math.max(hi, y);
  }
  const rel = nonFinite ? Infinity : refMax > 0 ? maxAbs / refMax : maxAbs;
  return { maxAbs: nonFinite ? Infinity : maxAbs, rel, refMin: lo, refMax: hi, uniform: lo === hi, nonFinite };
}

function argmax(xs) {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
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
// The two runtimes behind one interface.

async function loadRuntimes() {
  const ew =
    EDGEWISE_PKG === path.join(ROOT, 'pkg')
      ? await import('edgewise')
      : await import(pathToFileURL(path.join(EDGEWISE_PKG, 'index.js')).href);
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  const options = { graphOptimizationLevel: 'all', executionProviders: ['wasm'], logSeverityLevel: 3 };
  const make = (name, lib) => ({
    name,
    lib,
    async create(bytes) {
      const session = await lib.InferenceSession.create(bytes, options);
      return {
        session,
        inputName: pickInput(session),
        outputName: session.outputNames[0],
        tensor: (data, dims) => new lib.Tensor('float32', data, dims),
      };
    },
  });
  return { ew, ort, list: [make('edgewise', ew), make('ort', ort)] };
}

function pickInput(session) {
  if (session.inputNames.length === 1) return session.inputNames[0];
  const meta = session.inputMetadata ?? [];
  const four = meta.find((m) => m.shape?.length === 4);
  return four?.name; // undefined: several inputs (fine for --layers, which feeds them all)
}

async function runOnce(s, input) {
  if (s.inputName === undefined) throw new Error(`cannot tell the image input among ${s.session.inputNames.join(', ')}`);
  const t = performance.now();
  const out = await s.session.run({ [s.inputName]: input });
  const ms = performance.now() - t;
  return { ms, out: out[s.outputName] };
}

// ---------------------------------------------------------------------------------------------
// Memory attribution.

function knownWasmFiles() {
  const files = [path.join(EDGEWISE_PKG, 'wasm/edgewise_bg.wasm')];
  const ortDist = path.join(ROOT, 'node_modules/onnxruntime-web/dist');
  for (const f of readdirSync(ortDist)) if (f.endsWith('.wasm')) files.push(path.join(ortDist, f));
  const byHash = new Map();
  for (const f of files) {
    const sha = createHash('sha256').update(readFileSync(f)).digest('hex');
    byHash.set(sha, { file: f, runtime: f.includes('onnxruntime-web') ? 'ort' : 'edgewise' });
  }
  return byHash;
}

/** Which runtime an instance belongs to: by its module's bytes, else by who created it. */
function runtimeOf(inst, byHash) {
  const known = byHash.get(inst.sha256)?.runtime;
  if (known) return known;
  if (inst.caller.includes('onnxruntime')) return 'ort';
  if (inst.caller.includes('/pkg/')) return 'edgewise';
  if (inst.caller.includes('node:') || inst.caller.includes('undici')) return 'node';
  return 'unknown';
}

function memoryByRuntime(byHash) {
  const seen = new Map(); // Memory -> runtime
  for (const inst of instances) {
    const runtime = runtimeOf(inst, byHash);
    for (const m of inst.memories) if (!seen.has(m)) seen.set(m, runtime);
  }
  const total = { edgewise: 0, ort: 0, node: 0, unknown: 0 };
  for (const [m, runtime] of seen) total[runtime] += m.buffer.byteLength;
  return total;
}

function loadedWasm(byHash) {
  return instances.map((i) => ({
    sha256: i.sha256,
    bytes: i.moduleBytes,
    file: byHash.get(i.sha256) ? path.relative(ROOT, byHash.get(i.sha256).file) : undefined,
    runtime: runtimeOf(i, byHash),
    caller: i.caller,
    memories: i.memories.length,
  }));
}

// ---------------------------------------------------------------------------------------------
// Phases.

async function startRuntimes(rt, tinyBytes) {
  const startup = {};
  const data = new Float32Array(8).map((_, i) => i - 4);
  for (const r of rt.list) {
    const t = performance.now();
    const s = await r.create(tinyBytes);
    const { out } = await runOnce(s, s.tensor(data, [1, 8]));
    startup[r.name] = performance.now() - t;
    if (out.data[0] !== 0 || out.data[7] !== 3) throw new Error(`${r.name}: Relu gave ${Array.from(out.data)}`);
    await s.session.release?.();
  }
  return startup;
}

async function benchModel(rt, name, bytes, args, order) {
  const dims = [1, 3, 224, 224];
  const data = inputData(dims.reduce((a, b) => a * b, 1));
  const sessions = {};
  const cold = {};
  const first = {};
  // Cold start: create + first run; which runtime goes first alternates between models.
  for (const r of order) {
    const t0 = performance.now();
    const s = await r.create(bytes);
    const t1 = performance.now();
    s.input = s.tensor(data, dims);
    const { ms, out } = await runOnce(s, s.input);
    cold[r.name] = { create: t1 - t0, firstRun: ms, total: t1 - t0 + ms };
    first[r.name] = out;
    sessions[r.name] = s;
  }
  const times = { edgewise: [], ort: [] };
  const last = {};
  for (let i = 0; i < args.warmup + args.runs; i++) {
    const seq = i % 2 === 0 ? order : [...order].reverse();
    for (const r of seq) {
      const { ms, out } = await runOnce(sessions[r.name], sessions[r.name].input);
      if (i >= args.warmup) times[r.name].push(ms);
      last[r.name] = out;
    }
  }
  const agreement = compare(first.edgewise.data, first.ort.data);
  const repeat = {
    edgewise: compare(last.edgewise.data, first.edgewise.data).maxAbs,
    ort: compare(last.ort.data, first.ort.data).maxAbs,
  };
  for (const r of rt.list) await sessions[r.name].session.release?.();
  return {
    name,
    inputShape: dims,
    outputShape: [...first.ort.dims],
    edgewise: { cold: cold.edgewise, ...stats(times.edgewise), times: times.edgewise },
    ort: { cold: cold.ort, ...stats(times.ort), times: times.ort },
    ratio: median(times.edgewise) / median(times.ort),
    agreement,
    repeatMaxAbs: repeat,
  };
}

/** One run per runtime on a model with varied weights: a meaningful output comparison. */
async function checkModel(rt, file, dims) {
  const bytes = readFileSync(file);
  const data = inputData(dims.reduce((a, b) => a * b, 1));
  const outs = {};
  const ms = {};
  for (const r of rt.list) {
    const s = await r.create(bytes);
    const res = await runOnce(s, s.tensor(data, dims));
    outs[r.name] = res.out;
    ms[r.name] = res.ms;
    await s.session.release?.();
  }
  const cmp = compare(outs.edgewise.data, outs.ort.data);
  const classes = outs.ort.data.length / dims[0];
  const top1 = [];
  for (let b = 0; b < dims[0]; b++) {
    const e = outs.edgewise.data.subarray(b * classes, (b + 1) * classes);
    const o = outs.ort.data.subarray(b * classes, (b + 1) * classes);
    top1.push([argmax(e), argmax(o)]);
  }
  return { ...cmp, top1, top1Agree: top1.every(([a, b]) => a === b), firstRunMs: ms };
}

async function benchBatch(rt, file, args) {
  const dims = [4, 3, 224, 224];
  const bytes = readFileSync(file);
  const data = inputData(dims.reduce((a, b) => a * b, 1));
  const sessions = {};
  for (const r of rt.list) {
    const s = await r.create(bytes);
    s.input = s.tensor(data, dims);
    sessions[r.name] = s;
  }
  const runs = Math.max(5, Math.ceil(args.runs / 3));
  const times = { edgewise: [], ort: [] };
  const outs = {};
  for (let i = 0; i < args.warmup + runs; i++) {
    const seq = i % 2 === 0 ? rt.list : [...rt.list].reverse();
    for (const r of seq) {
      const { ms, out } = await runOnce(sessions[r.name], sessions[r.name].input);
      if (i >= args.warmup) times[r.name].push(ms);
      outs[r.name] = out;
    }
  }
  for (const r of rt.list) await sessions[r.name].session.release?.();
  return {
    model: 'squeezenet',
    inputShape: dims,
    runs,
    edgewise: stats(times.edgewise),
    ort: stats(times.ort),
    ratio: median(times.edgewise) / median(times.ort),
    agreement: compare(outs.edgewise.data, outs.ort.data),
  };
}

/** Per-model peak memory: a fresh child process loads both runtimes and runs the model once. */
function probeMemory(name, args) {
  const out = execFileSync(
    process.execPath,
    [
      fileURLToPath(import.meta.url),
      ...['--memory-probe', name, '--models-dir', args.modelsDir, '--work-dir', args.workDir],
      ...(args.edgewisePkg ? ['--edgewise-pkg', args.edgewisePkg] : []),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

async function memoryProbe(args) {
  const byHash = knownWasmFiles();
  const rt = await loadRuntimes();
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
  const ewJs = ['index.js', 'wasm/edgewise.js'].map((f) => fileSize(path.join(EDGEWISE_PKG, f)));
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
    edgewise: { wasm: ewWasm, js: ewJs, jsTotal: sumSizes(ewJs), total: ewTotal },
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

// Splits a model (its random-weight copy) into one model per node, with the node's constant
// inputs as initializers and the inferred shapes of the others as graph inputs, and writes a
// manifest of them.
const LAYERS_PY = String.raw`
import json, os, sys
import onnx
from onnx import helper, shape_inference

src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
m = shape_inference.infer_shapes(onnx.load(src))
g = m.graph
inits = {i.name: i for i in g.initializer}
types = {v.name: v for v in list(g.value_info) + list(g.input) + list(g.output)}
def dims(name):
    return [d.dim_value for d in types[name].type.tensor_type.shape.dim]
manifest = []
for k, n in enumerate(g.node):
    if n.op_type in ('Dropout', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze'):
        continue
    feeds = [i for i in n.input if i and i not in inits]
    consts = [inits[i] for i in n.input if i in inits]
    ins = [helper.make_tensor_value_info(i, onnx.TensorProto.FLOAT, dims(i)) for i in feeds]
    outs = [helper.make_tensor_value_info(n.output[0], onnx.TensorProto.FLOAT, dims(n.output[0]))]
    node = helper.make_node(n.op_type, list(n.input), [n.output[0]], name=n.name, domain=n.domain)
    node.attribute.extend(n.attribute)
    graph = helper.make_graph([node], 'layer%d' % k, ins, outs, consts)
    lm = helper.make_model(graph, opset_imports=list(m.opset_import))
    lm.ir_version = max(m.ir_version, 4)
    file = os.path.join(dst, 'layer%03d.onnx' % k)
    onnx.save(lm, file)
    attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
    attrs = {k2: (v.decode() if isinstance(v, bytes) else v) for k2, v in attrs.items()}
    manifest.append({'file': file, 'op': n.op_type, 'inputs': [[i, dims(i)] for i in feeds],
                     'weights': [list(c.dims) for c in consts], 'output': dims(n.output[0]),
                     'attrs': attrs})
json.dump(manifest, open(os.path.join(dst, 'manifest.json'), 'w'), indent=1)
`;

/** `--layers MODEL`: each node of MODEL (random weights) timed alone in both runtimes. */
async function layers(args) {
  if (!MODELS.includes(args.layers)) throw new Error(`unknown model ${args.layers}; known: ${MODELS.join(', ')}`);
  prepareModels(args.modelsDir, args.workDir);
  const dir = path.join(args.workDir, `layers_${args.layers}`);
  execFileSync(PYTHON, ['-c', LAYERS_PY, path.join(args.workDir, `light_${args.layers}.onnx`), dir], { stdio: 'inherit' });
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const rt = await loadRuntimes();
  const rows = [];
  for (const layer of manifest) {
    const bytes = readFileSync(layer.file);
    const sessions = {};
    for (const r of rt.list) {
      const s = await r.create(bytes);
      s.feeds = Object.fromEntries(
        layer.inputs.map(([name, dims]) => [name, s.tensor(inputData(dims.reduce((a, b) => a * b, 1)), dims)]),
      );
      sessions[r.name] = s;
    }
    const times = { edgewise: [], ort: [] };
    const outs = {};
    for (let i = 0; i < args.warmup + args.runs; i++) {
      const seq = i % 2 === 0 ? rt.list : [...rt.list].reverse();
      for (const r of seq) {
        const s = sessions[r.name];
        const t = performance.now();
        const out = await s.session.run(s.feeds);
        const ms = performance.now() - t;
        if (i >= args.warmup) times[r.name].push(ms);
        outs[r.name] = out[s.outputName];
      }
    }
    for (const r of rt.list) await sessions[r.name].session.release?.();
    const row = {
      op: layer.op,
      input: layer.inputs.map(([, d]) => d.join('×')).join(', '),
      weights: layer.weights.map((d) => d.join('×')).join(', '),
      output: layer.output.join('×'),
      attrs: layer.attrs,
      edgewise: median(times.edgewise),
      ort: median(times.ort),
      agreement: compare(outs.edgewise.data, outs.ort.data),
    };
    rows.push(row);
    log(
      `${row.op.padEnd(9)} ${row.input.padEnd(16)} w ${row.weights.padEnd(22)} -> ${row.output.padEnd(14)}` +
        ` edgewise ${fmt(row.edgewise).padStart(6)} ms  ort ${fmt(row.ort).padStart(6)} ms  ratio ${(row.edgewise / row.ort).toFixed(2)}` +
        `  rel diff ${row.agreement.rel.toExponential(1)}`,
    );
  }
  const sum = (k) => rows.reduce((a, r) => a + r[k], 0);
  log(`sum of layers: edgewise ${fmt(sum('edgewise'))} ms, ort ${fmt(sum('ort'))} ms`);
  if (args.out) {
    mkdirSync(path.dirname(path.resolve(args.out)), { recursive: true });
    writeFileSync(args.out, `${JSON.stringify({ model: args.layers, runs: args.runs, layers: rows }, null, 2)}\n`);
  }
}

/**
 * `--cpu-summary FILE.cpuprofile` (from `node --cpu-prof`): self time of the top functions,
 * and inclusive time of each operator's `eval` and of the sessions' entry points. Function
 * names exist only for wasm built with its name section (see bench/profile.md).
 */
function cpuSummary(file) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n) => n.callFrame.functionName || `(${path.basename(n.callFrame.url) || 'anonymous'})`;
  const time = new Map();
  prof.samples.forEach((id, i) => time.set(id, (time.get(id) ?? 0) + prof.timeDeltas[i]));
  const self = new Map();
  const incl = new Map();
  let total = 0;
  for (const [id, us] of time) {
    total += us;
    const own = name(nodes.get(id));
    self.set(own, (self.get(own) ?? 0) + us);
    const seen = new Set();
    for (let x = id; x !== undefined; x = parent.get(x)) {
      const nm = name(nodes.get(x));
      if (!seen.has(nm)) {
        seen.add(nm);
        incl.set(nm, (incl.get(nm) ?? 0) + us);
      }
    }
  }
  const short = (nm) => nm.replace(/::h[0-9a-f]{16}/g, '').replace(/\[[0-9a-f]{16}\]/g, '').slice(0, 140);
  const line = ([nm, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}% ${(us / 1000).toFixed(0).padStart(7)} ms  ${short(nm)}`;
  console.log(`total ${(total / 1000).toFixed(0)} ms sampled`);
  console.log('self time, top 25:');
  for (const e of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(line(e));
  console.log('inclusive time of session entry points and operator evals:');
  const wanted = /^wasmsession_(run|create)_[0-9a-f]+$|EvalOp>::eval::/;
  for (const e of [...incl].filter(([nm]) => wanted.test(nm)).sort((a, b) => b[1] - a[1])) console.log(line(e));
  // onnxruntime-web ships its wasm without a name section: its functions show as indices.
  const unnamed = [...self].filter(([nm]) => nm.startsWith('wasm-function['));
  const sum = unnamed.reduce((a, [, us]) => a + us, 0);
  console.log(line([`unnamed wasm functions (onnxruntime-web), ${unnamed.length} of them`, sum]));
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

function log(msg) {
  process.stderr.write(`${msg}\n`);
}

function fmt(ms) {
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  args.modelsDir ??= lightModelsDir();
  args.workDir ??= path.join(ROOT, 'target/bench/models');
  if (args.cpuSummary) return cpuSummary(args.cpuSummary);
  if (args.edgewisePkg) EDGEWISE_PKG = path.resolve(args.edgewisePkg);
  if (args.memoryProbe) return memoryProbe(args);
  if (args.layers) return layers(args);
  if (!args.out) throw new Error('--out FILE is required');
  const names = args.only ?? MODELS;
  for (const n of names) if (!MODELS.includes(n)) throw new Error(`unknown model ${n}; known: ${MODELS.join(', ')}`);

  prepareModels(args.modelsDir, args.workDir);
  const loadAtStart = os.loadavg()[0];
  const byHash = knownWasmFiles();
  const rt = await loadRuntimes();
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
