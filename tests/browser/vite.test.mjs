// The Vite bundle (tests/hosts/vite, built into tests/artifacts/vite-dist by the test runner):
// the package and its wasm asset work after bundling.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { withPage, readResult, assertSobel, browserEnv } from './harness.mjs';

test('the Vite-bundled page runs the Sobel model correctly', async () => {
  browserEnv();
  await withPage(async (page, base) => {
    const response = await page.goto(`${base}/tests/artifacts/vite-dist/index.html`);
    assert.equal(response.status(), 200, 'the Vite build is served (run the Vite build step first)');
    const r = await readResult(page);
    assert.equal(r.ok, true, `page reported failure: ${r.error}`);
    assert.deepEqual(r.inputNames, ['image']);
    assert.deepEqual(r.outputNames, ['edges']);
    assert.deepEqual(r.inputShape, ['batch', 1, 64, 64]);
    assert.equal(r.type, 'float32');
    assert.deepEqual(r.dims, [1, 1, 64, 64]);
    assert.match(r.version, /^\d+\.\d+\.\d+/);

    // The wasm came from the bundle's own assets, not from the unbundled package.
    assert.equal(r.wasm.length, 1, `wasm requests: ${r.wasm}`);
    assert.match(r.wasm[0], /\/tests\/artifacts\/vite-dist\/assets\/edgewise_bg-[\w-]+\.wasm$/);

    const [lo, hi] = r.square;
    const image = new Float32Array(64 * 64);
    for (let y = lo; y <= hi; y++) for (let x = lo; x <= hi; x++) image[y * 64 + x] = 1;
    const want = assertSobel(r.edges, image);
    assert.equal(r.edgePixels, want.filter((v) => v > 0.5).length);
    assert.ok(r.edgePixels > 100, `edge pixels: ${r.edgePixels}`);
    assert.equal(r.edges[32 * 64 + lo], 1, 'the square’s left border is a full-strength edge');
    assert.equal(r.edges[32 * 64 + 32], 0, 'the inside of the square is flat');
    assert.equal(r.edges[2 * 64 + 2], 0, 'the background is flat');
  });
});
