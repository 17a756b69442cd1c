// A module web worker importing the unbundled package (tests/hosts/worker).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { pipeline } from 'edgewise';

import { withPage, readResult, assertSobel, browserEnv } from './harness.mjs';

for (const threads of [1, 2]) {
  test(`a module worker on ${threads} thread(s) runs the Sobel model and a pipeline, and reports errors as Errors`, async () => {
    browserEnv();
    await withPage(async (page, base) => {
      const response = await page.goto(`${base}/tests/hosts/worker/index.html?threads=${threads}`);
      assert.equal(response.status(), 200);
      const r = await readResult(page);
      assert.equal(r.ok, true, `worker reported failure: ${r.error}`);
      assert.equal(r.crossOriginIsolated, true, 'the test server isolates its pages');
      assert.equal(r.numThreads, threads, 'the module runs the threads asked for');
      checkSobelRun(r);
      await checkPipeline(r);
    });
  });
}

/** The checks every worker run must pass: the Sobel output, the refused bad feed, the rerun. */
function checkSobelRun(r) {
  assert.equal(r.inWorker, true, 'ran inside a worker');
  assert.match(r.version, /^\d+\.\d+\.\d+/);
  assert.equal(r.type, 'float32');
  assert.deepEqual(r.dims, [1, 1, 64, 64]);

  const disc = r.image.reduce((a, b) => a + b, 0);
  assert.ok(disc > 1000 && disc < 1400, `disc area ${disc}`);
  const want = assertSobel(r.edges, r.image);
  assert.equal(r.edgePixels, want.filter((v) => v > 0.5).length);
  assert.ok(r.edgePixels > 80, `edge pixels: ${r.edgePixels}`);
  assert.equal(r.edges[32 * 64 + 32], 0, 'the centre of the disc is flat');

  assert.equal(r.badInput.rejected, true, 'a 32×32 image is refused');
  assert.equal(r.badInput.isError, true);
  assert.match(r.badInput.message, /input 'image'/);
  assert.match(r.badInput.message, /64/);
  assert.equal(r.sameAgain, true, 'the session gives the same answer after the error');
}

/** The worker's pipeline('defect') on the disc is the one Node computes. */
async function checkPipeline(r) {
  const detect = await pipeline('defect');
  const want = await detect({ data: Float32Array.from(r.image), width: 64, height: 64 });
  assert.equal(r.pipeline.flagged, want.flagged);
  assert.ok(Math.abs(r.pipeline.score - want.score) <= 1e-5, `score ${r.pipeline.score} against ${want.score}`);
  const worst = r.pipeline.heatmap.reduce((m, v, i) => Math.max(m, Math.abs(v - want.heatmap[i])), 0);
  assert.ok(worst <= 1e-5, `heatmap differs from Node's by ${worst}`);
}
