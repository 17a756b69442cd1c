// Runs exported ONNX backend test cases in wasm, through the npm package, and reports which pass.
//
//   node tests/conformance/run-wasm.mjs <cases-dir> <out.json>
//
// <cases-dir> holds one directory per case as written by tests/conformance/export_cases.py:
// case.json (model path, tolerances, data sets) and raw little-endian .bin tensors. Each case
// is loaded with `InferenceSession.create` and run on each data set; outputs are compared as
// cases.mjs says. <out.json> receives [{id, pass, reason}], the same shape the native runner
// writes.
//
// A Rust panic inside the wasm module aborts the instance (a WebAssembly.RuntimeError), after
// which it cannot be trusted. Cases therefore run in a worker thread: when one traps, the case
// is recorded as failed and a fresh worker, with a fresh instance, goes on with the next case.
// A case that runs longer than EDGEWISE_CONFORMANCE_TIMEOUT_S seconds (default 300) is
// stopped the same way.

import { readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

import { firstLine, runCase } from './cases.mjs';

// ---------------------------------------------------------------------------------------------
// One case (in the worker)

async function runCaseIn(dir, lib) {
  const c = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
  const modelBytes = c.error ? undefined : readFileSync(c.model);
  await runCase(c, lib, {
    modelBytes,
    read: (file) => readFileSync(join(dir, file)),
    readExternal: (file) => readFileSync(join(dirname(c.model), file)),
    onError: rethrowTrap,
  });
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
      await runCaseIn(dirs[index], lib);
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
