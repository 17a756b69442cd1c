// WebGPU in headless Chromium (SwiftShader): dct_codec's WebGPU stages run on the GPU in a
// page and in a module worker, agree with the CPU, and the codec demo page shows it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';

import { withPage, readResult, browserEnv, grayPng } from './harness.mjs';

const SCREENSHOT = 'tests/artifacts/screenshots/demo-codec.png';
const KINDS = ['cpu', 'webgpu', 'cpu', 'webgpu', 'cpu'];
// A DCT coefficient on a rounding border may land one quantization step (0.05) away on the
// GPU; through the orthonormal inverse DCT that moves a pixel by at most 0.05 · 2/8.
const RECON_TOL = 0.0125;
const SCORE_TOL = 1e-3;

// Served under the test server's origin by request interception, so /pkg/ and /onnx/ resolve.
const PAGE_PATH = '/tests/browser/gpu-page.html';
const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <link rel="icon" href="data:,">
  <title>edgewise on WebGPU</title>
  <script type="importmap">{ "imports": { "edgewise": "/pkg/index.js" } }</script>
</head>
<body>
  <pre id="result">loading…</pre>
  <script type="module">
    import { InferenceSession, Tensor } from 'edgewise';

    // Two 32×32 images: waves, and a bright square with sharp edges.
    function images() {
      const data = new Float32Array(2 * 32 * 32);
      for (let i = 0; i < 1024; i++) {
        const x = i % 32, y = Math.floor(i / 32);
        data[i] = 0.5 + 0.3 * Math.sin(x * 0.4) * Math.cos(y * 0.3) + 0.1 * Math.sin(x * 2.1 + y * 1.7);
        data[1024 + i] = x >= 9 && x < 23 && y >= 6 && y < 20 ? 0.9 : 0.1;
      }
      return data;
    }

    async function runWith(executionProviders) {
      const session = await InferenceSession.create('/onnx/dct_codec.onnx', { executionProviders });
      const x = new Tensor('float32', images(), [2, 1, 32, 32]);
      const first = await session.run({ x });
      const again = await session.run({ x });
      const same = (a, b) => a.data.length === b.data.length && a.data.every((v, i) => v === b.data[i]);
      const report = {
        stages: session.stages(),
        adapter: session.adapter ?? null,
        reconDims: [...first.recon.dims],
        scoreDims: [...first.score.dims],
        recon: Array.from(first.recon.data),
        score: Array.from(first.score.data),
        sameAgain: same(first.recon, again.recon) && same(first.score, again.score),
      };
      await session.release();
      return report;
    }

    // The same, in a module worker importing the package by URL.
    function inWorker() {
      const source = \`
        import { InferenceSession, Tensor } from '\${location.origin}/pkg/index.js';
        onmessage = async ({ data }) => {
          try {
            const session = await InferenceSession.create('\${location.origin}/onnx/dct_codec.onnx', { executionProviders: ['webgpu', 'wasm'] });
            const out = await session.run({ x: new Tensor('float32', data, [2, 1, 32, 32]) });
            postMessage({ ok: true, hasGpu: !!navigator.gpu, stages: session.stages(), adapter: session.adapter ?? null,
              recon: Array.from(out.recon.data), score: Array.from(out.score.data) });
          } catch (e) {
            postMessage({ ok: false, error: String(e?.stack ?? e) });
          }
        };\`;
      const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
      const worker = new Worker(url, { type: 'module' });
      return new Promise((resolve) => {
        worker.onmessage = ({ data }) => { worker.terminate(); resolve(data); };
        worker.onerror = (e) => { worker.terminate(); resolve({ ok: false, error: e.message ?? String(e) }); };
        worker.postMessage(images());
      });
    }

    try {
      const hasGpu = !!navigator.gpu;
      const adapter = hasGpu ? await navigator.gpu.requestAdapter() : null;
      const gpu = await runWith(['webgpu', 'wasm']);
      const cpu = await runWith(['wasm']);
      const worker = await inWorker();
      document.getElementById('result').textContent = JSON.stringify({ ok: true, hasGpu, hasAdapter: !!adapter, gpu, cpu, worker });
    } catch (e) {
      document.getElementById('result').textContent = JSON.stringify({ ok: false, error: String(e?.stack ?? e) });
    }
  </script>
</body>
</html>`;

function maxDiff(a, b) {
  assert.equal(a.length, b.length, 'lengths');
  let worst = 0;
  let where = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) [worst, where] = [d, i];
  }
  return { worst, where };
}

/** Every WebGPU stage ran on the GPU, every CPU stage on the CPU, nothing fell back. */
function assertOnGpu(stages, what) {
  assert.deepEqual(stages.map((s) => s.kind), KINDS, `${what}: stage kinds`);
  for (const s of stages) {
    const where = `${what}: stage ${s.index} (${s.nodes.join(', ')})`;
    assert.equal(s.placement, s.kind === 'webgpu' ? 'webgpu' : 'cpu', `${where} placement (fallback: ${s.fallback})`);
    assert.equal(s.fallback, null, `${where} fell back`);
  }
  const ops = stages.map((s) => s.nodes.map((n) => n.match(/\((\w+)\)$/)?.[1]));
  assert.deepEqual(ops, [['Conv'], ['BlockDct', 'BorderRound'], ['Mul'], ['BlockIdct', 'SsimMap'], ['ReduceMean']], `${what}: nodes`);
}

/** GPU and CPU outputs agree within the quantization tolerance. */
function assertAgree(gpu, cpu, what) {
  const recon = maxDiff(gpu.recon, cpu.recon);
  assert.ok(recon.worst <= RECON_TOL, `${what}: recon differs from the CPU by ${recon.worst} at ${recon.where}`);
  const score = maxDiff(gpu.score, cpu.score);
  assert.ok(score.worst <= SCORE_TOL, `${what}: score ${gpu.score} vs CPU ${cpu.score}`);
}

/** Console warnings, to check that no stage fell back. */
function collectWarnings(page) {
  const warnings = [];
  page.on('console', (msg) => {
    if (msg.type() === 'warning') warnings.push(msg.text());
  });
  page.on('worker', (worker) => worker.on('console', (msg) => msg.type() === 'warning' && warnings.push(msg.text())));
  return warnings;
}

test('dct_codec runs its WebGPU stages on the GPU in a page and in a worker, matching the CPU', async () => {
  browserEnv();
  await withPage(async (page, base) => {
    const warnings = collectWarnings(page);
    await page.route(`${base}${PAGE_PATH}`, (route) => route.fulfill({ contentType: 'text/html', body: PAGE }));
    await page.goto(`${base}${PAGE_PATH}`);
    const r = await readResult(page, 120_000);
    assert.equal(r.ok, true, `the page failed: ${r.error}`);
    assert.equal(r.hasGpu, true, 'navigator.gpu exists (Chromium needs --enable-unsafe-webgpu)');
    assert.equal(r.hasAdapter, true, 'Chromium has a WebGPU adapter');

    const { gpu, cpu, worker } = r;
    assertOnGpu(gpu.stages, 'page');
    assert.equal(typeof gpu.adapter, 'string', 'the GPU session names its adapter');
    assert.ok(gpu.adapter.length > 0);
    assert.deepEqual(gpu.reconDims, [2, 1, 32, 32]);
    assert.deepEqual(gpu.scoreDims, [2, 1]);
    assert.equal(gpu.sameAgain, true, 'a second GPU run gives the same outputs');

    assert.deepEqual(cpu.stages.map((s) => [s.kind, s.placement, s.fallback]), [['cpu', 'cpu', null]]);
    assert.equal(cpu.adapter, null);
    assert.equal(cpu.sameAgain, true);
    assertAgree(gpu, cpu, 'page');
    for (const s of gpu.score) assert.ok(s > 0.3 && s <= 1 + 1e-6, `score ${s}`);
    assert.ok(gpu.recon.some((v) => v > 0.3), 'recon is not blank');

    assert.equal(worker.ok, true, `the worker failed: ${worker.error}`);
    assert.equal(worker.hasGpu, true, 'navigator.gpu exists in the worker');
    assertOnGpu(worker.stages, 'worker');
    assert.equal(typeof worker.adapter, 'string');
    assertAgree(worker, cpu, 'worker');

    assert.deepEqual(warnings.filter((w) => /edgewise/.test(w)), [], 'no fallback warnings');
  });
});


/** Waits for the page's `n`-th finished run and returns its #result. */
async function waitForRun(page, n) {
  await page.waitForFunction(
    (runs) => document.body.dataset.state === 'done' && document.body.dataset.runs === String(runs),
    n,
    { timeout: 120_000 },
  );
  const r = JSON.parse(await page.textContent('#result'));
  assert.equal(r.runs, n, 'the result is the latest run');
  return r;
}

/** The red channel (the canvases are grayscale) of a 32×32 canvas. */
const readCanvas = (page, id) =>
  page.evaluate((canvasId) => {
    const data = document.getElementById(canvasId).getContext('2d').getImageData(0, 0, 32, 32).data;
    return Array.from({ length: 32 * 32 }, (_, i) => data[4 * i]);
  }, id);

/** The stage table as [kind, nodes, placement, fallback] rows. */
const stageRows = (page) =>
  page.$$eval('#stages tbody tr', (rows) => rows.map((r) => [...r.cells].slice(1).map((c) => c.textContent.trim())));

async function assertReconDrawn(page, result) {
  const drawn = await readCanvas(page, 'recon');
  const want = result.recon.map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
  const { worst } = maxDiff(drawn, want);
  assert.ok(worst <= 1, `the recon canvas differs from the result by ${worst}/255`);
}

test('the codec demo runs on WebGPU, switches to the CPU and back, and shows where each stage ran', async () => {
  browserEnv();
  await withPage(async (page, base) => {
    const warnings = collectWarnings(page);
    await page.setViewportSize({ width: 1100, height: 900 });
    const response = await page.goto(`${base}/www/`);
    assert.equal(response.status(), 200);
    const link = page.getByRole('link', { name: /DCT codec/ });
    assert.equal(await link.count(), 1, 'one card links to the codec demo');
    await link.click();
    await page.waitForURL(/\/www\/codec\/$/);

    // First run: the default pattern on WebGPU.
    const first = await readResult(page, 120_000);
    assert.equal(first.runs, 1);
    assert.equal(first.provider, 'webgpu');
    assert.equal(first.input, 'rings');
    assertOnGpu(first.stages, 'demo');
    assert.equal(typeof first.adapter, 'string');
    assert.ok(first.score > 0.3 && first.score <= 1 + 1e-6, `score ${first.score}`);
    assert.equal(await page.isVisible('#error'), false);
    assert.equal(await page.textContent('#score'), first.score.toFixed(4));
    assert.match(await page.textContent('#status'), /Done: SSIM \d\.\d{4} in \d+\.\d+ ms, 2 of 2 WebGPU stages on the GPU/);
    assert.match(await page.textContent('#run-ms'), /^\d+\.\d+ ms/);
    assert.match(await page.textContent('#load-ms'), /^\d+(\.\d+)? ms/);
    assert.equal(await page.textContent('#adapter'), first.adapter);
    let rows = await stageRows(page);
    assert.equal(rows.length, 5);
    assert.deepEqual(rows.map((r) => [r[0], r[2], r[3]]), KINDS.map((k) => [k, k, '—']));
    assert.match(rows[1][1], /BlockDct/);
    assert.match(rows[3][1], /SsimMap/);
    await assertReconDrawn(page, first);
    // The original is a drawing of rings; the reconstruction is a smoothed copy of it.
    const input = await readCanvas(page, 'input');
    assert.ok(input.some((v) => v > 200) && input.some((v) => v < 30), 'the input has contrast');
    const shown = await page.$eval('#recon', (c) => [c.clientWidth > 100, getComputedStyle(c).imageRendering]);
    assert.deepEqual(shown, [true, 'pixelated'], 'scaled up with crisp pixels');

    // The CPU: one stage, the same picture within the quantization tolerance.
    await page.check('input[name="provider"][value="wasm"]');
    const cpu = await waitForRun(page, 2);
    assert.equal(cpu.provider, 'wasm');
    assert.equal(cpu.adapter, null);
    assert.deepEqual(cpu.stages.map((s) => [s.kind, s.placement, s.fallback]), [['cpu', 'cpu', null]]);
    assertAgree({ recon: first.recon, score: [first.score] }, { recon: cpu.recon, score: [cpu.score] }, 'demo');
    rows = await stageRows(page);
    assert.deepEqual(rows.map((r) => [r[0], r[2], r[3]]), [['cpu', 'cpu', '—']]);
    assert.match(await page.textContent('#status'), /all on the CPU/);
    assert.equal(await page.textContent('#adapter'), 'none (CPU only)');

    // An uploaded image on the CPU, then the same image back on WebGPU.
    await page.setInputFiles('#upload', {
      name: 'stripes.png',
      mimeType: 'image/png',
      buffer: grayPng(90, 60, (x) => (Math.floor(x / 10) % 2 ? 230 : 20)),
    });
    const uploadCpu = await waitForRun(page, 3);
    assert.equal(uploadCpu.input, 'stripes.png');
    assert.equal(await page.textContent('#input-name'), 'stripes.png');
    await page.check('input[name="provider"][value="webgpu"]');
    const uploadGpu = await waitForRun(page, 4);
    assert.equal(uploadGpu.provider, 'webgpu');
    assertOnGpu(uploadGpu.stages, 'demo upload');
    assertAgree({ recon: uploadGpu.recon, score: [uploadGpu.score] }, { recon: uploadCpu.recon, score: [uploadCpu.score] }, 'upload');
    assert.notDeepEqual(uploadGpu.recon, first.recon, 'a different picture');
    await assertReconDrawn(page, uploadGpu);

    // A fine checkerboard is all high frequencies: the codec flattens it and SSIM drops.
    await page.selectOption('#pattern', 'checkerboard');
    const checks = await waitForRun(page, 5);
    assertOnGpu(checks.stages, 'demo checkerboard');
    assert.ok(checks.score < first.score, `checkerboard ${checks.score} scores below rings ${first.score}`);

    // A file that is not an image: a clear message, and the page recovers.
    await page.setInputFiles('#upload', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') });
    await page.waitForFunction(() => document.body.dataset.state === 'error');
    assert.match(await page.textContent('#error'), /could not read 'notes\.txt' as an image/);
    await page.selectOption('#pattern', 'rings');
    const last = await waitForRun(page, 6);
    assert.equal(await page.isVisible('#error'), false, 'the message goes away after a good run');
    assertOnGpu(last.stages, 'demo rings again');
    assert.equal(last.score, first.score, 'the same image scores the same on the same device');

    assert.deepEqual(warnings.filter((w) => /edgewise/.test(w)), [], 'no fallback warnings');
    await mkdir('tests/artifacts/screenshots', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });
});
