// One thread of the multi-threaded edgewise module, started by `init()` in index.js as a web
// worker (pages, Deno) or a Node worker thread. It instantiates the module on the page's
// shared memory, says so, and then runs one thread of the pool until the process ends.

import { initSync, runWorkerThread } from './wasm-mt/edgewise.js';

function run({ module, memory }, reply) {
  initSync({ module, memory });
  reply('started');
  runWorkerThread();
}

if (typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope) {
  globalThis.addEventListener('message', (e) => run(e.data, (m) => globalThis.postMessage(m)), { once: true });
} else {
  const wtName = 'node:worker_threads';
  const { parentPort } = await import(/* @vite-ignore */ /* webpackIgnore: true */ wtName);
  parentPort.once('message', (data) => run(data, (m) => parentPort.postMessage(m)));
}
