// Records every WebAssembly module and instance, and attributes wasm memory to the runtimes.
// Importing this module wraps the WebAssembly entry points; bench.mjs imports it before
// anything else, and before either runtime is loaded.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { EDGEWISE_PKG, ROOT } from './common.mjs';

// ---------------------------------------------------------------------------------------------
// Instrumenting WebAssembly (must happen before either runtime is imported).

/** One entry per compiled module: sha256 of its bytes, size, and which file it matches. */
const modules = new Map(); // WebAssembly.Module -> { sha256, bytes }
/** One entry per instance: its module's hash and the memories it exports or imports. */
export const instances = [];

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

/** The first stack frame outside this file and the other bench modules: who asked for the instance. */
function caller(stack) {
  const self = new URL('.', import.meta.url).href;
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
// Memory attribution.

export function knownWasmFiles() {
  const files = ['wasm', 'wasm-mt'].map((d) => path.join(EDGEWISE_PKG, d, 'edgewise_bg.wasm')).filter((f) => existsSync(f));
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
export function runtimeOf(inst, byHash) {
  const known = byHash.get(inst.sha256)?.runtime;
  if (known) return known;
  if (inst.caller.includes('onnxruntime')) return 'ort';
  if (inst.caller.includes('/pkg/')) return 'edgewise';
  if (inst.caller.includes('node:') || inst.caller.includes('undici')) return 'node';
  return 'unknown';
}

export function memoryByRuntime(byHash) {
  const seen = new Map(); // Memory -> runtime
  for (const inst of instances) {
    const runtime = runtimeOf(inst, byHash);
    for (const m of inst.memories) if (!seen.has(m)) seen.set(m, runtime);
  }
  const total = { edgewise: 0, ort: 0, node: 0, unknown: 0 };
  for (const [m, runtime] of seen) total[runtime] += m.buffer.byteLength;
  return total;
}

export function loadedWasm(byHash) {
  return instances.map((i) => ({
    sha256: i.sha256,
    bytes: i.moduleBytes,
    file: byHash.get(i.sha256) ? path.relative(ROOT, byHash.get(i.sha256).file) : undefined,
    runtime: runtimeOf(i, byHash),
    caller: i.caller,
    memories: i.memories.length,
  }));
}
