"""Parity of the exported models in Python: onnx.checker (full check) on every model, and
onnxruntime against burn's outputs for every output that standard ONNX operators compute
(outputs that depend on an ai.edgewise operator are left to tract, natively and in wasm).

Reads the cases written by `edgewise-train parity --out target/parity`."""

import json
import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort

EDGEWISE = "ai.edgewise"


def standard_outputs(model):
    """Names of graph outputs computed by standard operators only."""
    custom = set()
    producers = {}
    for node in model.graph.node:
        for o in node.output:
            producers[o] = node
    def tainted(name, seen):
        node = producers.get(name)
        if node is None or name in seen:
            return False
        seen.add(name)
        if node.domain == EDGEWISE:
            return True
        return any(tainted(i, seen) for i in node.input if i)
    return [o.name for o in model.graph.output if not tainted(o.name, set())]


def main(folder):
    files = sorted(pathlib.Path(folder).glob("*.json"))
    if not files:
        sys.exit(f"no parity cases in {folder}: run `edgewise-train parity` first")
    for path in files:
        doc = json.loads(path.read_text())
        model = onnx.load(doc["model"])
        onnx.checker.check_model(model, full_check=True)
        outputs = standard_outputs(model)
        line = f"{doc['system']}: onnx.checker full_check ok"
        if outputs:
            pruned = onnx.utils.Extractor(model).extract_model(
                [i.name for i in model.graph.input], outputs)
            sess = ort.InferenceSession(pruned.SerializeToString(), providers=["CPUExecutionProvider"])
            needed = {i.name for i in sess.get_inputs()}
            worst = {o: 0.0 for o in outputs}
            for case in doc["cases"]:
                feeds = {a["name"]: np.array(a["data"], np.dtype(a.get("dtype", "float32"))).reshape(a["dims"])
                         for a in case["inputs"] if a["name"] in needed}
                got = dict(zip(outputs, sess.run(outputs, feeds)))
                for want in case["outputs"]:
                    if want["name"] not in got:
                        continue
                    expected = np.array(want["data"], np.float32).reshape(want["dims"])
                    diff = float(np.max(np.abs(got[want["name"]] - expected)))
                    tol = doc["tolerances"][want["name"]]
                    if not diff <= tol:
                        sys.exit(f"{doc['system']}: onnxruntime '{want['name']}' differs from burn by {diff} > {tol}")
                    worst[want["name"]] = max(worst[want["name"]], diff)
            line += f"; onnxruntime vs burn on {len(doc['cases'])} inputs, max |diff| {worst}"
        else:
            line += "; every output needs an ai.edgewise operator (checked by tract natively and in wasm)"
        print(line)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/parity")
