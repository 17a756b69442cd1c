// The Vite bundle (tests/hosts/vite, built into tests/artifacts/vite-dist by the test runner):
// the package and its wasm asset work after bundling.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { pipeline } from 'edgewise';

import { withPage, readResult, assertSobel, browserEnv } from './harness.mjs';

test('the Vite-bundled page runs the Sobel model and the defect pipeline correctly', async () => {
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

    // pipeline('defect') in the bundle: the model is an emitted asset, fetched once and then
    // read from the Cache API, and the result is the one Node computes from the same image.
    const defectRequests = r.pipeline.models.filter((url) => /defect/.test(url));
    assert.equal(defectRequests.length, 1, `model requests: ${r.pipeline.models}`);
    assert.match(defectRequests[0], /\/tests\/artifacts\/vite-dist\/assets\/defect-[\w-]+\.onnx$/);
    assert.deepEqual(r.pipeline.cachedKeys, [`https://models.edgewise.invalid/sha256/${(await pipeline('defect')).model.sha256}`]);
    assert.equal(r.pipeline.cachedSame, true, 'the cached model gives the same result');
    const detect = await pipeline('defect');
    const rgba = new Uint8ClampedArray(80 * 64 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 37) % 256));
    const node = await detect({ data: rgba, width: 80, height: 64 });
    assert.deepEqual(r.pipeline.crop, { x: 8, y: 0, side: 64 });
    assert.equal(r.pipeline.flagged, node.flagged);
    assert.ok(Math.abs(r.pipeline.score - node.score) <= 1e-5, `score ${r.pipeline.score} against ${node.score}`);
    const worst = r.pipeline.heatmap.reduce((m, v, i) => Math.max(m, Math.abs(v - node.heatmap[i])), 0);
    assert.ok(worst <= 1e-5, `heatmap differs from Node's by ${worst}`);
  });
});
