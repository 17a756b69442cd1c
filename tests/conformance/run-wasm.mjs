// Runs exported ONNX backend test cases in wasm, through the npm package, and reports which pass.
//
//   node tests/conformance/run-wasm.mjs <cases-dir> <out.json>
//
// <cases-dir> holds one directory per case as written by tests/conformance/export_cases.py:
// case.json (model path, tolerances, data sets) and raw little-endian .bin tensors. Each case
// is loaded with `InferenceSession.create` and run on each data set; outputs are compared as
// numpy's assert_allclose compares them (|got - want| <= atol + rtol * |want|, NaN equal to
// NaN, infinities equal when their signs are), exactly for integer and boolean outputs, after
// checking element type and dims. <out.json> receives [{id, pass, reason}], the same shape
// the native runner writes.
//
// A Rust panic inside the wasm module aborts the instance (a WebAssembly.RuntimeError), after
// which it cannot be trusted. Cases therefore run in a worker thread: when one traps, the case
// is recorded as failed and a fresh worker, with a fresh instance, goes on with the next case.
// A case that runs longer than EDGEWISE_CONFORMANCE_TIMEOUT_S seconds (default 300) is
// stopped the same way.

import { readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const TYPED_ARRAYS = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
  float16: Uint16Array,
};

/** float16 data (half bits) as numbers; other data as it is. */
function numbers(type, data, fromHalf) {
  return type === 'float16' ? Array.from(data, fromHalf) : data;
}

function firstLine(s) {
  return String(s).split('\n')[0];
}

// ---------------------------------------------------------------------------------------------
// Comparison (shared semantics with crates/edgewise-runtime/examples/conformance.rs)

/** numpy.isclose(a, b, rtol, atol, equal_nan=True) with `b` the reference. */
export function close(a, b, rtol, atol) {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= atol + rtol * Math.abs(b);
}

/** The shortest decimal that reads back as the same float32. */
function showF32(x) {
  if (!Number.isFinite(x)) return String(x);
  for (let p = 1; p <= 9; p++) {
    const s = x.toPrecision(p);
    if (Math.fround(Number(s)) === x) return String(Number(s));
  }
  return String(x);
}

/** `x` in exponent notation as Rust prints it (`1e0`, where JS writes `1e+0`). */
function exp(x, digits) {
  if (!Number.isFinite(x)) return String(x);
  return x.toExponential(digits).replace('e+', 'e');
}

function unravel(i, dims) {
  const index = new Array(dims.length).fill(0);
  for (let k = dims.length - 1; k >= 0; k--) {
    if (dims[k] > 0) {
      index[k] = i % dims[k];
      i = Math.floor(i / dims[k]);
    }
  }
  return index;
}

/** Throws a message naming the first mismatching element of output `name`. */
export function compare(name, got, want, rtol, atol, fromHalf) {
  if (got.type !== want.type) throw new Error(`output '${name}': element type ${got.type}, want ${want.type}`);
  const gd = Array.from(got.dims);
  if (gd.length !== want.dims.length || gd.some((d, i) => d !== want.dims[i])) {
    throw new Error(`output '${name}': dims [${gd.join(', ')}], want [${want.dims.join(', ')}]`);
  }
  const float = want.type === 'float16' || want.type === 'float32' || want.type === 'float64';
  const big = want.type === 'int64' || want.type === 'uint64';
  const g = numbers(got.type, got.data, fromHalf);
  const w = numbers(want.type, want.data, fromHalf);
  let first = -1;
  let count = 0;
  let worst = 0;
  for (let i = 0; i < w.length; i++) {
    let same;
    let diff;
    if (float) {
      same = close(g[i], w[i], rtol, atol);
      diff = Math.abs(g[i] - w[i]);
    } else if (big) {
      same = g[i] === w[i];
      diff = Number(g[i] > w[i] ? g[i] - w[i] : w[i] - g[i]);
    } else if (want.type === 'bool') {
      same = (g[i] !== 0) === (w[i] !== 0);
      diff = same ? 0 : 1;
    } else {
      same = g[i] === w[i];
      diff = Math.abs(g[i] - w[i]);
    }
    if (!same) {
      count++;
      if (diff > worst || Number.isNaN(diff)) worst = diff;
      if (first < 0) first = i;
    }
  }
  if (first < 0) return;
  const i = first;
  let shown;
  if (float) {
    const show = want.type === 'float32' ? showF32 : String;
    const tol = atol + rtol * Math.abs(w[i]);
    shown = `got ${show(g[i])}, want ${show(w[i])}, tolerance ${exp(tol, 3)} (atol ${exp(atol)} + rtol ${exp(rtol)} * |want|)`;
  } else {
    shown = `got ${g[i]}, want ${w[i]}, exact`;
  }
  throw new Error(
    `output '${name}' at [${unravel(i, want.dims).join(', ')}]: ${shown}; ${count} of ${w.length} elements differ, max |diff| ${exp(worst, 3)}`,
  );
}

// ---------------------------------------------------------------------------------------------
// One case (in the worker)

function readTensors(dir, list) {
  return list.map((t) => {
    const ctor = TYPED_ARRAYS[t.dtype];
    if (ctor === undefined) throw new Error(`unknown dtype '${t.dtype}'`);
    const buf = readFileSync(join(dir, t.file));
    if (buf.byteLength % ctor.BYTES_PER_ELEMENT !== 0) {
      throw new Error(`${t.file}: ${buf.byteLength} bytes is not a whole number of ${t.dtype} elements`);
    }
    // A copy: the file buffer may be unaligned for the element type.
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    return { name: t.name, type: t.dtype, dims: t.dims, data: new ctor(ab) };
  });
}

async function runCase(dir, lib) {
  const c = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
  if (c.error !== null && c.error !== undefined) throw new Error(`not exported: ${c.error}`);
  if (!c.datasets?.length) throw new Error('no data sets');
  const bytes = readFileSync(c.model);
  let session;
  try {
    session = await lib.InferenceSession.create(bytes);
  } catch (e) {
    rethrowTrap(e);
    throw new Error(`load: ${e.message ?? e}`);
  }
  try {
    for (const [k, set] of c.datasets.entries()) {
      const inputs = readTensors(dir, set.inputs);
      const wanted = readTensors(dir, set.outputs);
      const feeds = {};
      for (const t of inputs) feeds[t.name] = new lib.Tensor(t.type, t.data, t.dims);
      let got;
      try {
        got = await session.run(feeds);
      } catch (e) {
        rethrowTrap(e);
        throw new Error(`run: ${e.message ?? e}`);
      }
      const prefix = c.datasets.length > 1 ? `data set ${k}: ` : '';
      for (const want of wanted) {
        const g = got[want.name];
        if (g === undefined) {
          throw new Error(`${prefix}output '${want.name}' missing; the session returned ${JSON.stringify(Object.keys(got))}`);
        }
        try {
          compare(want.name, g, want, c.rtol, c.atol, lib.fromFloat16Bits);
        } catch (e) {
          throw new Error(prefix + e.message);
        }
      }
    }
  } finally {
    try {
      await session.release();
    } catch {
      // Releasing after a trap may fail too; the worker is replaced anyway.
    }
  }
}

class Trap extends Error {}

// Messages the wasm module printed with console.error (the panic hook) since the last case.
let printed = [];

function rethrowTrap(e) {
  if (e instanceof WebAssembly.RuntimeError) {
    const panic = printed.find((m) => m.includes('panicked')) ?? printed[0];
    // The panic hook prints `panicked at <file:line:col>:` and the message on the next line.
    const said = panic ? `: ${panic.split('\n').slice(0, 2).join(' ')}` : '';
    throw new Trap(`wasm trap (${e.message})${said}`);
  }
}

async function worker() {
  const lib = await import('edgewise');
  const consoleError = console.error;
  console.error = (...args) => {
    printed.push(args.map(String).join(' '));
  };
  const { dirs, start } = workerData;
  for (let index = start; index < dirs.length; index++) {
    printed = [];
    parentPort.postMessage({ type: 'start', index });
    const t = performance.now();
    let pass = true;
    let reason = null;
    let trapped = false;
    try {
      await runCase(dirs[index], lib);
    } catch (e) {
      pass = false;
      reason = e.message ?? String(e);
      trapped = e instanceof Trap;
    }
    parentPort.postMessage({ type: 'result', index, pass, reason, ms: Math.round(performance.now() - t) });
    if (trapped) {
      console.error = consoleError;
      // The instance is dead: let the main thread start a fresh worker for the rest.
      parentPort.postMessage({ type: 'trapped', index });
      return;
    }
  }
  parentPort.postMessage({ type: 'done' });
}

// ---------------------------------------------------------------------------------------------
// Main thread: list the cases, drive workers, write the results

function runWorkers(dirs, timeoutS) {
  const results = new Array(dirs.length);
  const id = (i) => dirs[i].split('/').pop();
  const record = (index, pass, reason, ms) => {
    results[index] = { id: id(index), pass, reason };
    const line = pass ? `pass ${id(index)}` : `FAIL ${id(index)}`;
    console.log(`${line} (${ms} ms)${pass ? '' : `: ${firstLine(reason)}`}`);
  };
  return new Promise((resolve) => {
    const launch = (start) => {
      if (start >= dirs.length) {
        resolve(results);
        return;
      }
      const w = new Worker(new URL(import.meta.url), { workerData: { dirs, start } });
      let current = start;
      let began = performance.now();
      let timer;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          record(current, false, `timed out after ${timeoutS} s`, Math.round(performance.now() - began));
          w.terminate();
        }, timeoutS * 1000);
      };
      w.on('message', (m) => {
        if (m.type === 'start') {
          current = m.index;
          began = performance.now();
          arm();
        } else if (m.type === 'result') {
          clearTimeout(timer);
          record(m.index, m.pass, m.reason, m.ms);
        }
      });
      w.on('error', (e) => {
        if (results[current] === undefined) {
          record(current, false, `worker failed: ${e.message ?? e}`, Math.round(performance.now() - began));
        }
      });
      w.on('exit', () => {
        clearTimeout(timer);
        // Whatever stopped this worker (a trap, a time-out, a crash), go on after the last
        // case it started.
        if (results[current] === undefined) {
          record(current, false, 'the worker exited during this case', Math.round(performance.now() - began));
        }
        launch(current + 1);
      });
    };
    launch(0);
  });
}

async function main() {
  const [casesDir, out] = process.argv.slice(2);
  if (!casesDir || !out) {
    console.error('usage: node tests/conformance/run-wasm.mjs <cases-dir> <out.json>');
    process.exit(2);
  }
  if (endianness() !== 'LE') throw new Error('the .bin files are little-endian; this host is not');
  // Fail once, clearly, rather than once per case in every worker.
  try {
    await import('edgewise');
  } catch (e) {
    console.error(`cannot import the npm package 'edgewise' (build it with \`cargo xtask build\`): ${e.message ?? e}`);
    process.exit(1);
  }
  const dirs = readdirSync(casesDir)
    .map((d) => join(casesDir, d))
    .filter((d) => existsSync(join(d, 'case.json')))
    .sort();
  const timeoutS = Number(process.env.EDGEWISE_CONFORMANCE_TIMEOUT_S ?? 300);
  const started = performance.now();
  const results = await runWorkers(dirs, timeoutS);
  writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
  const passed = results.filter((r) => r.pass).length;
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`wasm: ${passed} of ${results.length} cases pass (${secs} s); results in ${out}`);
}

if (isMainThread) {
  await main();
} else {
  await worker();
}
