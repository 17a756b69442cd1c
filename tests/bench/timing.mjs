// The two runtimes behind one interface, cold and warm timing, output comparison and
// statistics.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EDGEWISE_PKG, ROOT } from './common.mjs';

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile. */
export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function stats(xs) {
  return {
    median: median(xs),
    p95: percentile(xs, 95),
    min: Math.min(...xs),
    mean: xs.reduce((a, b) => a + b, 0) / xs.length,
  };
}

export function inputData(n) {
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (i % 255) / 255 - 0.5;
  return data;
}

/** Max abs and relative (to the largest reference magnitude) difference of two float arrays. */
export function compare(a, b) {
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

export function argmax(xs) {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

// ---------------------------------------------------------------------------------------------
// The two runtimes behind one interface.

/** Both runtimes, each set to `threads` threads (fixed for the process by their first session). */
export async function loadRuntimes(threads = 1) {
  const ew =
    EDGEWISE_PKG === path.join(ROOT, 'pkg')
      ? await import('edgewise')
      : await import(pathToFileURL(path.join(EDGEWISE_PKG, 'index.js')).href);
  const ort = await import('onnxruntime-web');
  ew.env.numThreads = threads;
  ort.env.wasm.numThreads = threads;
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

export function pickInput(session) {
  if (session.inputNames.length === 1) return session.inputNames[0];
  const meta = session.inputMetadata ?? [];
  const four = meta.find((m) => m.shape?.length === 4);
  return four?.name; // undefined: several inputs (fine for --layers, which feeds them all)
}

export async function runOnce(s, input) {
  if (s.inputName === undefined) throw new Error(`cannot tell the image input among ${s.session.inputNames.join(', ')}`);
  const t = performance.now();
  const out = await s.session.run({ [s.inputName]: input });
  const ms = performance.now() - t;
  return { ms, out: out[s.outputName] };
}

// ---------------------------------------------------------------------------------------------
// Phases.

export async function startRuntimes(rt, tinyBytes) {
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

export async function benchModel(rt, name, bytes, args, order) {
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
export async function checkModel(rt, file, dims) {
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

export async function benchBatch(rt, file, args) {
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
