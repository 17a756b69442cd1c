// Where bytes come from (a URL, a path, a Blob or bytes) and which execution providers a
// caller asked for: shared by `InferenceSession.create` and `pipeline`.

import { readFile } from './load.js';

/** The working directory as a file URL where there is one (Node, Deno), else undefined. */
function cwdUrl() {
  const cwd = globalThis.process?.cwd?.() ?? globalThis.Deno?.cwd?.();
  return cwd === undefined ? undefined : new URL(`file://${encodeURI(cwd.endsWith('/') ? cwd : `${cwd}/`)}`);
}

/**
 * A URL for a string or URL source: relative to the page where there is one, else a file
 * path relative to the working directory (Node, Deno); undefined when neither applies.
 */
export function sourceUrl(source) {
  if (source instanceof URL) return source;
  if (typeof source !== 'string') return undefined;
  const base = typeof location !== 'undefined' ? location.href : undefined;
  try {
    return new URL(source, base);
  } catch {
    const dir = cwdUrl();
    return dir === undefined ? undefined : new URL(encodeURI(source), dir);
  }
}

/** Concatenates byte chunks. */
function concat(chunks, length) {
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Fetches `url`, calling `onChunk(loaded, total)` as bytes arrive (`total` from
 * Content-Length, else `expected`, else 0).
 */
async function fetchBytes(url, what, onChunk, expected) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not fetch ${what} ${url}: HTTP ${response.status}`);
  const total = Number(response.headers.get('content-length')) || expected || 0;
  if (!onChunk || !response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  onChunk(0, total);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onChunk(loaded, Math.max(total, loaded));
  }
  return concat(chunks, loaded);
}

/**
 * The bytes of a source: bytes as they are, a Blob read, a URL fetched, a path read (Node,
 * Deno). `onChunk(loaded, total)`, when given, follows a download; a file read reports once.
 */
export async function loadBytes(source, what, { fn = 'InferenceSession.create', onChunk, expected } = {}) {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new Uint8Array(await source.arrayBuffer());
  if (typeof source === 'string' || source instanceof URL) {
    const url = sourceUrl(source);
    if (url === undefined || url.protocol === 'file:') {
      const bytes = await readFile(url ?? source, what);
      onChunk?.(bytes.length, bytes.length);
      return bytes;
    }
    return fetchBytes(url, what, onChunk, expected);
  }
  throw new TypeError(`${fn}: ${what} must be bytes (Uint8Array, ArrayBuffer, Blob), a URL or a path`);
}

/**
 * Makes `gpu` (a `GPU`: `navigator.gpu`, or in Node the object `create()` of the npm `webgpu`
 * package returns) the one WebGPU sessions use. wgpu finds WebGPU only as `navigator.gpu` of
 * a window or a worker: where the host is neither (Node), this defines `navigator.gpu` and
 * an empty `WorkerGlobalScope` constructor so that it finds the given object there.
 */
export function provideGpu(gpu, fn) {
  if (gpu === null || typeof gpu !== 'object' || typeof gpu.requestAdapter !== 'function') {
    throw new TypeError(`${fn}: { name: 'webgpu', gpu } needs a GPU object (navigator.gpu, or create() of the webgpu package in Node)`);
  }
  const g = globalThis;
  if (g.navigator?.gpu === gpu) return;
  if (g.navigator === undefined) {
    Object.defineProperty(g, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else {
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  }
  if (g.Window === undefined && g.WorkerGlobalScope === undefined) {
    Object.defineProperty(g, 'WorkerGlobalScope', { value: function WorkerGlobalScope() {}, configurable: true, writable: true });
  }
}

/**
 * Provider names in order of preference, checked: 'webgpu', and 'wasm' (alias 'cpu'). A
 * `{ name: 'webgpu', gpu }` entry makes `gpu` the WebGPU to use (see `provideGpu`).
 */
export function providerList(options, fn = 'InferenceSession.create') {
  const list = options?.executionProviders ?? ['wasm'];
  if (!Array.isArray(list)) throw new TypeError(`${fn}: executionProviders must be an array`);
  for (const ep of list) {
    if (ep !== null && typeof ep === 'object' && ep.name === 'webgpu' && ep.gpu !== undefined) provideGpu(ep.gpu, fn);
  }
  const names = list.map((ep) => (typeof ep === 'string' ? ep : ep?.name));
  for (const name of names) {
    if (name !== 'wasm' && name !== 'cpu' && name !== 'webgpu') {
      throw new Error(`execution provider '${name}' is not available; edgewise runs 'webgpu' and 'wasm' (alias 'cpu')`);
    }
  }
  return names.map((n) => (n === 'wasm' ? 'cpu' : n));
}
