// Locating the light models that the `onnx` Python wheel ships, and writing their
// random-weight copies.

import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { log, MODELS, PYTHON } from './common.mjs';

export function lightModelsDir() {
  const dir = execFileSync(
    PYTHON,
    ['-c', 'import onnx.backend.test, os; print(os.path.dirname(onnx.backend.test.__file__))'],
    { encoding: 'utf8' },
  ).trim();
  return path.join(dir, 'data/light');
}

// Writes, into `workDir`: `tiny.onnx` (one Relu, to start the runtimes), `light_<name>.onnx`
// copies whose ConstantOfShape weights are seeded random initializers (He-scaled conv and Gemm
// weights, batch-norm statistics near 1 and 0), and `light_squeezenet_b4.onnx` (batch of 4).
export const PREPARE_PY = String.raw`
import os, sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

src, dst, names = sys.argv[1], sys.argv[2], sys.argv[3].split(',')
os.makedirs(dst, exist_ok=True)

x = helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 8])
y = helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 8])
g = helper.make_graph([helper.make_node('Relu', ['x'], ['y'])], 'tiny', [x], [y])
tiny = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])
tiny.ir_version = 8
onnx.save(tiny, os.path.join(dst, 'tiny.onnx'))

def randomize(m, seed):
    g = m.graph
    rng = np.random.default_rng(seed)
    inits = {i.name: i for i in g.initializer}
    consumers = {}
    for n in g.node:
        for k, name in enumerate(n.input):
            consumers.setdefault(name, []).append((n, k))
    def use(name):
        # (op, input slot, node) of the first consumer, looking through Unsqueeze/Reshape.
        for _ in range(4):
            c = consumers.get(name, [])
            if not c:
                return None, None, None
            n, k = c[0]
            if n.op_type in ('Unsqueeze', 'Reshape') and k == 0:
                name = n.output[0]
                continue
            return n.op_type, k, n
        return None, None, None
    kept, used_shapes = [], set()
    for n in g.node:
        if n.op_type != 'ConstantOfShape' or n.input[0] not in inits:
            kept.append(n)
            continue
        shape = [int(d) for d in numpy_helper.to_array(inits[n.input[0]])]
        used_shapes.add(n.input[0])
        op, k, user = use(n.output[0])
        u = rng.uniform(-1.0, 1.0, size=shape)
        if op in ('Conv', 'Gemm') and k == 1:
            if op == 'Conv':
                fan_in = int(np.prod(shape[1:]))
            else:
                trans_b = next((a.i for a in user.attribute if a.name == 'transB'), 0)
                fan_in = shape[1] if trans_b else shape[0]
            arr = u * np.sqrt(6.0 / fan_in)
        elif op == 'BatchNormalization' and k in (1, 4):
            arr = 1.0 + 0.1 * u
        elif op == 'Mul':
            arr = 1.0 + 0.1 * u
        else:
            arr = 0.1 * u
        g.initializer.append(numpy_helper.from_array(arr.astype(np.float32), n.output[0]))
    del g.node[:]
    g.node.extend(kept)
    still_used = {name for n in kept for name in n.input}
    gone = {i.name for i in g.initializer if i.name in used_shapes and i.name not in still_used}
    for i in [i for i in g.initializer if i.name in gone]:
        g.initializer.remove(i)
    # IR 4 lets initializers stay out of the graph inputs (where they would be overridable,
    # hence not constants).
    m.ir_version = max(m.ir_version, 4)
    constant = {i.name for i in g.initializer} | gone
    for i in [i for i in g.input if i.name in constant]:
        g.input.remove(i)
    return m

for seed, name in enumerate(names):
    m = onnx.load(os.path.join(src, 'light_%s.onnx' % name))
    onnx.save(randomize(m, seed), os.path.join(dst, 'light_%s.onnx' % name))

m = onnx.load(os.path.join(dst, 'light_squeezenet.onnx'))
inits = {i.name for i in m.graph.initializer}
for i in m.graph.input:
    if i.name not in inits:
        i.type.tensor_type.shape.dim[0].dim_value = 4
for o in m.graph.output:
    o.type.tensor_type.shape.dim[0].dim_value = 4
onnx.save(m, os.path.join(dst, 'light_squeezenet_b4.onnx'))
`;

/** Runs PREPARE_PY unless `dst` already holds its output for this script and these sources. */
export function prepareModels(src, dst) {
  const h = createHash('sha256').update(PREPARE_PY).update(MODELS.join(','));
  for (const name of MODELS) h.update(readFileSync(path.join(src, `light_${name}.onnx`)));
  const stamp = h.digest('hex');
  const stampFile = path.join(dst, '.stamp');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return;
  mkdirSync(dst, { recursive: true });
  log('writing random-weight copies of the models (once)');
  execFileSync(PYTHON, ['-c', PREPARE_PY, src, dst, MODELS.join(',')], { stdio: 'inherit' });
  writeFileSync(stampFile, stamp);
}
