// A plain page with no bundler: an import map points `edgewise` at /pkg/index.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { withPage, browserEnv } from './harness.mjs';

// Served under the test server's origin by request interception, so /pkg/ and /onnx/ resolve.
const PAGE_PATH = '/tests/browser/import-map-page.html';
const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <link rel="icon" href="data:,">
  <title>edgewise through an import map</title>
  <script type="importmap">{ "imports": { "edgewise": "/pkg/index.js" } }</script>
</head>
<body>
  <pre id="result">loading…</pre>
  <button id="again">run again</button>
  <script type="module">
    import { InferenceSession, Tensor, env } from 'edgewise';
    const session = await InferenceSession.create('/onnx/sobel.onnx');
    const step = new Float32Array(64 * 64).map((_, i) => (i % 64 >= 32 ? 1 : 0));
    let runs = 0;
    async function run() {
      const { edges } = await session.run({ image: new Tensor('float32', step, [1, 1, 64, 64]) });
      runs += 1;
      document.getElementById('result').textContent = JSON.stringify({ runs, row: Array.from(edges.data.slice(32 * 64, 33 * 64)) });
    }
    document.getElementById('again').addEventListener('click', () => run());
    window.edgewise = { InferenceSession, Tensor, env, session };
    await run();
  </script>
</body>
</html>`;

/** The page's own result: the edge map row through the middle of a vertical step. */
async function waitForRuns(page, runs) {
  await page.waitForFunction((n) => {
    const text = document.getElementById('result').textContent;
    return text.startsWith('{') && JSON.parse(text).runs === n;
  }, runs);
  return JSON.parse(await page.textContent('#result'));
}

function assertStepRow(row) {
  // The step is between columns 31 and 32, and the white half ends at the zero padding after
  // column 63: those columns are full edges, everything else is flat.
  row.forEach((v, x) => assert.equal(v, [31, 32, 63].includes(x) ? 1 : 0, `column ${x}: ${v}`));
}

test('an unbundled page with an import map runs, rejects a bad input, and keeps working', async () => {
  browserEnv();
  await withPage(
    async (page, base) => {
      await page.route(`${base}${PAGE_PATH}`, (route) => route.fulfill({ contentType: 'text/html', body: PAGE }));
      await page.goto(`${base}${PAGE_PATH}`);
      assertStepRow((await waitForRuns(page, 1)).row);

      const outcome = await page.evaluate(async () => {
        const { session, Tensor } = window.edgewise;
        const attempt = async (make) => {
          try {
            await make();
            return { rejected: false };
          } catch (e) {
            return { rejected: true, isError: e instanceof Error, message: String(e?.message ?? e) };
          }
        };
        return {
          wrongDims: await attempt(() => session.run({ image: new Tensor('float32', new Float32Array(64 * 32), [1, 1, 64, 32]) })),
          wrongType: await attempt(() => session.run({ image: new Tensor('int32', new Int32Array(64 * 64), [1, 1, 64, 64]) })),
          missing: await attempt(() => session.run({})),
          badModel: await attempt(() => window.edgewise.InferenceSession.create(new TextEncoder().encode('not a model'))),
          notFound: await attempt(() => window.edgewise.InferenceSession.create('/onnx/no-such-model.onnx')),
          meta: { names: session.inputNames, shape: session.inputMetadata[0].shape, version: window.edgewise.env.versions.edgewise },
        };
      });
      for (const [name, r] of Object.entries(outcome)) {
        if (name === 'meta') continue;
        assert.equal(r.rejected, true, `${name} rejected`);
        assert.equal(r.isError, true, `${name} rejected with an Error`);
      }
      assert.match(outcome.wrongDims.message, /input 'image'/);
      assert.match(outcome.wrongDims.message, /dimension 3/);
      assert.match(outcome.wrongType.message, /input 'image'.*float32.*int32/);
      assert.match(outcome.missing.message, /missing input 'image'/);
      assert.match(outcome.badModel.message, /not an ONNX/);
      assert.match(outcome.notFound.message, /no-such-model\.onnx.*404/);
      assert.deepEqual(outcome.meta.names, ['image']);
      assert.deepEqual(outcome.meta.shape, ['batch', 1, 64, 64]);
      assert.match(outcome.meta.version, /^\d+\.\d+\.\d+/);

      // The page keeps working: a click runs the model again through its own handler.
      await page.click('#again');
      assertStepRow((await waitForRuns(page, 2)).row);
    },
    // The browser logs the deliberate 404 for the missing model; nothing else is allowed.
    { allow: [/Failed to load resource.*404/] },
  );
});
