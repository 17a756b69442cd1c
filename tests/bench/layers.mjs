// `--layers MODEL` (each node timed alone) and `--cpu-summary FILE` (a CPU profile summarized).

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fmt, log, MODELS, PYTHON } from './common.mjs';
import { prepareModels } from './models.mjs';
import { compare, inputData, loadRuntimes, median } from './timing.mjs';

// Splits a model (its random-weight copy) into one model per node, with the node's constant
// inputs as initializers and the inferred shapes of the others as graph inputs, and writes a
// manifest of them.
export const LAYERS_PY = String.raw`
import json, os, sys
import onnx
from onnx import helper, shape_inference

src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
m = shape_inference.infer_shapes(onnx.load(src))
g = m.graph
inits = {i.name: i for i in g.initializer}
types = {v.name: v for v in list(g.value_info) + list(g.input) + list(g.output)}
def dims(name):
    return [d.dim_value for d in types[name].type.tensor_type.shape.dim]
manifest = []
for k, n in enumerate(g.node):
    if n.op_type in ('Dropout', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze'):
        continue
    feeds = [i for i in n.input if i and i not in inits]
    consts = [inits[i] for i in n.input if i in inits]
    ins = [helper.make_tensor_value_info(i, onnx.TensorProto.FLOAT, dims(i)) for i in feeds]
    outs = [helper.make_tensor_value_info(n.output[0], onnx.TensorProto.FLOAT, dims(n.output[0]))]
    node = helper.make_node(n.op_type, list(n.input), [n.output[0]], name=n.name, domain=n.domain)
    node.attribute.extend(n.attribute)
    graph = helper.make_graph([node], 'layer%d' % k, ins, outs, consts)
    lm = helper.make_model(graph, opset_imports=list(m.opset_import))
    lm.ir_version = max(m.ir_version, 4)
    file = os.path.join(dst, 'layer%03d.onnx' % k)
    onnx.save(lm, file)
    attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
    attrs = {k2: (v.decode() if isinstance(v, bytes) else v) for k2, v in attrs.items()}
    manifest.append({'file': file, 'op': n.op_type, 'inputs': [[i, dims(i)] for i in feeds],
                     'weights': [list(c.dims) for c in consts], 'output': dims(n.output[0]),
                     'attrs': attrs})
json.dump(manifest, open(os.path.join(dst, 'manifest.json'), 'w'), indent=1)
`;

/** `--layers MODEL`: each node of MODEL (random weights) timed alone in both runtimes. */
export async function layers(args) {
  if (!MODELS.includes(args.layers)) throw new Error(`unknown model ${args.layers}; known: ${MODELS.join(', ')}`);
  prepareModels(args.modelsDir, args.workDir);
  const dir = path.join(args.workDir, `layers_${args.layers}`);
  execFileSync(PYTHON, ['-c', LAYERS_PY, path.join(args.workDir, `light_${args.layers}.onnx`), dir], { stdio: 'inherit' });
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const rt = await loadRuntimes();
  const rows = [];
  for (const layer of manifest) {
    const bytes = readFileSync(layer.file);
    const sessions = {};
    for (const r of rt.list) {
      const s = await r.create(bytes);
      s.feeds = Object.fromEntries(
        layer.inputs.map(([name, dims]) => [name, s.tensor(inputData(dims.reduce((a, b) => a * b, 1)), dims)]),
      );
      sessions[r.name] = s;
    }
    const times = { edgewise: [], ort: [] };
    const outs = {};
    for (let i = 0; i < args.warmup + args.runs; i++) {
      const seq = i % 2 === 0 ? rt.list : [...rt.list].reverse();
      for (const r of seq) {
        const s = sessions[r.name];
        const t = performance.now();
        const out = await s.session.run(s.feeds);
        const ms = performance.now() - t;
        if (i >= args.warmup) times[r.name].push(ms);
        outs[r.name] = out[s.outputName];
      }
    }
    for (const r of rt.list) await sessions[r.name].session.release?.();
    const row = {
      op: layer.op,
      input: layer.inputs.map(([, d]) => d.join('×')).join(', '),
      weights: layer.weights.map((d) => d.join('×')).join(', '),
      output: layer.output.join('×'),
      attrs: layer.attrs,
      edgewise: median(times.edgewise),
      ort: median(times.ort),
      agreement: compare(outs.edgewise.data, outs.ort.data),
    };
    rows.push(row);
    log(
      `${row.op.padEnd(9)} ${row.input.padEnd(16)} w ${row.weights.padEnd(22)} -> ${row.output.padEnd(14)}` +
        ` edgewise ${fmt(row.edgewise).padStart(6)} ms  ort ${fmt(row.ort).padStart(6)} ms  ratio ${(row.edgewise / row.ort).toFixed(2)}` +
        `  rel diff ${row.agreement.rel.toExponential(1)}`,
    );
  }
  const sum = (k) => rows.reduce((a, r) => a + r[k], 0);
  log(`sum of layers: edgewise ${fmt(sum('edgewise'))} ms, ort ${fmt(sum('ort'))} ms`);
  if (args.out) {
    mkdirSync(path.dirname(path.resolve(args.out)), { recursive: true });
    writeFileSync(args.out, `${JSON.stringify({ model: args.layers, runs: args.runs, layers: rows }, null, 2)}\n`);
  }
}

/**
 * `--cpu-summary FILE.cpuprofile` (from `node --cpu-prof`): self time of the top functions,
 * and inclusive time of each operator's `eval` and of the sessions' entry points. Function
 * names exist only for wasm built with its name section (see bench/profile.md).
 */
export function cpuSummary(file) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n) => n.callFrame.functionName || `(${path.basename(n.callFrame.url) || 'anonymous'})`;
  const time = new Map();
  prof.samples.forEach((id, i) => time.set(id, (time.get(id) ?? 0) + prof.timeDeltas[i]));
  const self = new Map();
  const incl = new Map();
  let total = 0;
  for (const [id, us] of time) {
    total += us;
    const own = name(nodes.get(id));
    self.set(own, (self.get(own) ?? 0) + us);
    const seen = new Set();
    for (let x = id; x !== undefined; x = parent.get(x)) {
      const nm = name(nodes.get(x));
      if (!seen.has(nm)) {
        seen.add(nm);
        incl.set(nm, (incl.get(nm) ?? 0) + us);
      }
    }
  }
  const short = (nm) => nm.replace(/::h[0-9a-f]{16}/g, '').replace(/\[[0-9a-f]{16}\]/g, '').slice(0, 140);
  const line = ([nm, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}% ${(us / 1000).toFixed(0).padStart(7)} ms  ${short(nm)}`;
  console.log(`total ${(total / 1000).toFixed(0)} ms sampled`);
  console.log('self time, top 25:');
  for (const e of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(line(e));
  console.log('inclusive time of session entry points and operator evals:');
  const wanted = /^wasmsession_(run|create)_[0-9a-f]+$|EvalOp>::eval::/;
  for (const e of [...incl].filter(([nm]) => wanted.test(nm)).sort((a, b) => b[1] - a[1])) console.log(line(e));
  // onnxruntime-web ships its wasm without a name section: its functions show as indices.
  const unnamed = [...self].filter(([nm]) => nm.startsWith('wasm-function['));
  const sum = unnamed.reduce((a, [, us]) => a + us, 0);
  console.log(line([`unnamed wasm functions (onnxruntime-web), ${unnamed.length} of them`, sum]));
}
