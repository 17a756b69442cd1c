// Times every tile variant of the module built from src/lib.rs on one product, interleaved
// over 11 rounds (the first two dropped): median ms and GFLOP/s per variant.
//
//   node run.mjs target/wasm32-unknown-unknown/release/gemm_tiles.wasm [g4x8,g8x8s,...]
import { readFileSync } from 'node:fs';

const [file, only] = process.argv.slice(2);
const { instance } = await WebAssembly.instantiate(readFileSync(file));
const e = instance.exports;
// 240 is divisible by every MR (8, 6, 5, 4, 3, 2, 1), 3120 by every NR (16, 12, 8, 4).
const M = 240, K = 256, N = 3120;
const a = e.alloc(M * K), b = e.alloc(K * N), c = e.alloc(M * N);
const names = only ? only.split(',') : Object.keys(e).filter((k) => /^g\d/.test(k));
const times = Object.fromEntries(names.map((n) => [n, []]));
for (let round = 0; round < 11; round++) {
  for (const name of names) {
    const t = performance.now();
    e[name](M, K, N, a, b, c);
    if (round >= 2) times[name].push(performance.now() - t);
  }
}
for (const name of names) {
  const v = times[name].sort((x, y) => x - y);
  const ms = v[v.length >> 1];
  console.log(`${name.padEnd(10)} ${ms.toFixed(2).padStart(7)} ms ${((2 * M * K * N) / ms / 1e6).toFixed(1).padStart(6)} GFLOP/s`);
}
