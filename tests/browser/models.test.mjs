// The third-party model collection in headless Chromium: each model of
// tests/models/manifest.json loads through the package (import map, no bundler), runs on its
// package's inputs and matches onnxruntime's outputs, as in Node (tests/node/models.test.mjs).
// The test server serves target/models under /models/.
import { test } from 'node:test';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

import { withPage, browserEnv } from './harness.mjs';

const CASES = 'target/models/cases';
const PAGE_PATH = '/tests/browser/models-page.html';
const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <link rel="icon" href="data:,">
  <title>third-party models</title>
  <script type="importmap">{ "imports": { "edgewise": "/pkg/index.js" } }</script>
</head>
<body><pre id="result">loading…</pre></body>
</html>`;

const { models } = JSON.parse(await readFile('tests/models/manifest.json', 'utf8'));
const dirs = await readdir(CASES).catch(() => []);

for (const m of models) {
  test(`${m.id} runs in Chromium and matches onnxruntime`, { timeout: 900_000 }, async () => {
    browserEnv();
    const cases = [];
    for (const dir of dirs.filter((d) => d.startsWith(`${m.id}__`))) {
      cases.push({ dir, c: JSON.parse(await readFile(join(CASES, dir, 'case.json'), 'utf8')) });
    }
    if (cases.length !== m.cases.length) throw new Error(`${m.id}: ${cases.length} cases in ${CASES}, the manifest lists ${m.cases.length}`);
    await withPage(async (page, base) => {
      await page.route(`${base}${PAGE_PATH}`, (route) => route.fulfill({ contentType: 'text/html', body: PAGE }));
      await page.goto(`${base}${PAGE_PATH}`);
      const failures = await page.evaluate(
        async ({ id, cases, model }) => {
          const lib = await import('edgewise');
          const { runCase } = await import('/tests/conformance/cases.mjs');
          const bytes = async (url) => {
            const r = await fetch(url);
            if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
            return new Uint8Array(await r.arrayBuffer());
          };
          const modelBytes = await bytes(model);
          const failed = [];
          for (const { dir, c } of cases) {
            try {
              await runCase(c, lib, {
                modelBytes,
                read: (file) => bytes(`/models/cases/${dir}/${file}`),
                readExternal: (file) => bytes(`/models/${id}/${file}`),
              });
            } catch (e) {
              failed.push(`${dir}: ${e.message ?? e}`);
            }
          }
          return failed;
        },
        { id: m.id, cases, model: m.external?.length ? `/models/${m.id}/${m.path.split('/').pop()}` : `/models/${m.id}.onnx` },
      );
      if (failures.length) throw new Error(failures.join('\n'));
    });
  });
}
