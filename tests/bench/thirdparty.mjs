// The third-party model collection (tests/models/manifest.json) in the bench: for each model,
// its first case's inputs (written by tests/models/collection.py) through edgewise and
// onnxruntime-web in this process, timed like the light models: create, first run, then
// alternating warm runs, median and p95, and the outputs compared.

import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

import { readTensors } from '../conformance/cases.mjs';
import { ROOT, log } from './common.mjs';
import { compare, median, stats } from './timing.mjs';

const CASES = path.join(ROOT, 'target/models/cases');

/** Warm runs for a model whose first run took `firstMs`: fewer for slow models. */
function runsFor(firstMs, wanted) {
  return Math.max(3, Math.min(wanted, Math.floor(30_000 / Math.max(firstMs, 1))));
}

function floats(t, fromHalf) {
  return t.type === 'float16' ? Float32Array.from(t.data, fromHalf) : t.data;
}

export async function benchThirdParty(rt, args) {
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'tests/models/manifest.json'), 'utf8'));
  const known = manifest.models.map((m) => m.id);
  for (const id of args.thirdPartyOnly ?? []) if (!known.includes(id)) throw new Error(`unknown model ${id}; known: ${known.join(', ')}`);
  const models = manifest.models.filter((m) => !args.thirdPartyOnly || args.thirdPartyOnly.includes(m.id));
  const results = [];
  for (const [k, m] of models.entries()) {
    const dir = path.join(CASES, `${m.id}__${m.cases[0].label}`);
    if (!existsSync(path.join(dir, 'case.json'))) {
      throw new Error(`${dir} is missing: run \`cargo xtask setup\` and tests/models/collection.py cases`);
    }
    const c = JSON.parse(readFileSync(path.join(dir, 'case.json'), 'utf8'));
    const bytes = readFileSync(c.model);
    const externalData = (c.external ?? []).map((file) => ({ path: file, data: readFileSync(path.join(path.dirname(c.model), file)) }));
    const inputs = await readTensors(c.datasets[0].inputs, (f) => readFileSync(path.join(dir, f)));
    const order = k % 2 === 0 ? rt.list : [...rt.list].reverse();
    const sessions = {};
    const cold = {};
    const first = {};
    for (const r of order) {
      const t0 = performance.now();
      const session = await r.lib.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', executionProviders: ['wasm'], externalData });
      const t1 = performance.now();
      const feeds = Object.fromEntries(inputs.map((t) => [t.name, new r.lib.Tensor(t.type, t.data, t.dims)]));
      const out = await session.run(feeds);
      const t2 = performance.now();
      cold[r.name] = { create: t1 - t0, firstRun: t2 - t1 };
      first[r.name] = out[session.outputNames[0]];
      sessions[r.name] = { session, feeds };
    }
    const runs = runsFor(Math.max(cold.edgewise.firstRun, cold.ort.firstRun), args.runs);
    const times = { edgewise: [], ort: [] };
    for (let i = 0; i < runs + 1; i++) {
      const seq = i % 2 === 0 ? order : [...order].reverse();
      for (const r of seq) {
        const t = performance.now();
        await sessions[r.name].session.run(sessions[r.name].feeds);
        if (i > 0) times[r.name].push(performance.now() - t);
      }
    }
    for (const r of rt.list) await sessions[r.name].session.release?.();
    const agreement = compare(floats(first.edgewise, rt.ew.fromFloat16Bits), floats(first.ort, rt.ew.fromFloat16Bits));
    const r = {
      name: m.id,
      package: `${m.package} ${m.version}`,
      precision: m.precision,
      case: m.cases[0].label,
      runs,
      edgewise: { cold: cold.edgewise, ...stats(times.edgewise) },
      ort: { cold: cold.ort, ...stats(times.ort) },
      ratio: median(times.edgewise) / median(times.ort),
      createRatio: cold.edgewise.create / cold.ort.create,
      agreement,
    };
    log(
      `${m.id.padEnd(20)} edgewise ${r.edgewise.median.toFixed(1)} ms (create ${cold.edgewise.create.toFixed(0)})` +
        `  ort ${r.ort.median.toFixed(1)} ms (create ${cold.ort.create.toFixed(0)})  ratio ${r.ratio.toFixed(2)}` +
        `  max abs diff ${agreement.maxAbs.toExponential(1)}`,
    );
    results.push(r);
  }
  return results;
}
