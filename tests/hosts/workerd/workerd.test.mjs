// The package in Cloudflare's workerd (npm `workerd`): the worker of tests/hosts/workerd
// answers inference requests, checked against the same work in Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

import { assertAgree, expected } from '../expected.mjs';

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** GETs `url` until the server answers (up to `ms`). */
async function getWhenUp(url, ms, exited) {
  const until = Date.now() + ms;
  for (;;) {
    if (exited.code !== undefined) throw new Error(`workerd exited with ${exited.code}:\n${exited.log}`);
    try {
      return await fetch(url);
    } catch (e) {
      if (Date.now() > until) throw new Error(`workerd did not answer within ${ms} ms:\n${exited.log}`, { cause: e });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

test('workerd serves inference: a session and a pipeline, as Node computes them', { timeout: 120_000 }, async (t) => {
  const port = await freePort();
  const child = spawn('node_modules/.bin/workerd', ['serve', 'tests/hosts/workerd/config.capnp', '--socket-addr', `http=127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = { code: undefined, log: '' };
  child.stdout.on('data', (d) => (exited.log += d));
  child.stderr.on('data', (d) => (exited.log += d));
  child.on('exit', (code) => (exited.code = code));
  t.after(() => child.kill());
  const base = `http://127.0.0.1:${port}`;

  const sobel = await (await getWhenUp(`${base}/sobel`, 30_000, exited)).json();
  assert.equal(sobel.error, undefined, sobel.error);
  const response = await fetch(`${base}/defect?seed=3`);
  const defect = await response.json();
  assert.equal(response.status, 200, defect.error);
  assertAgree({ ...defect, edges: sobel.edges }, await expected('stripes', 'scratch', 3));
  assert.deepEqual(sobel.dims, [1, 1, 64, 64]);
  // Cloudflare allows an isolate 128 MB; the module with both models stays far below.
  assert.ok(defect.wasmMemoryBytes < 64 * 2 ** 20, `wasm memory ${defect.wasmMemoryBytes} bytes`);
  assert.equal((await fetch(`${base}/nope`)).status, 404);
});
