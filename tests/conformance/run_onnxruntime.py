"""Runs the exported ONNX backend test cases through onnxruntime, the reference runtime.

    python tests/conformance/run_onnxruntime.py <cases-dir> <out.json>

Reads the cases `export_cases.py` wrote. Where a case has a `source` (ONNX's own layout),
onnxruntime gets the model and every stored value as ONNX's backend runner loads them, of any
kind (tensors of every element type, sequences, optionals), and its outputs are compared as
ONNX's runner compares them (`Runner.assert_similar_outputs`: numpy `assert_allclose` at the
case's rtol and atol, exact dtype). `light` models run on the exported inputs. The output file
holds `[{id, pass, reason}]`, the shape the edgewise runners write, so the report can put
onnxruntime's column beside theirs. One failing case never stops the run.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import time
import warnings

import numpy as np
import onnx
import onnxruntime as ort

ort.set_default_logger_severity(3)
from onnx.backend.test.runner import Runner

DTYPES = {
    "float16": np.float16,
    "float32": np.float32,
    "float64": np.float64,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
    "bool": np.bool_,
}


def first_line(text: str) -> str:
    return str(text).strip().split("\n")[0][:400]


def stored_sets(source: str, model: onnx.ModelProto) -> list[tuple[list, list]]:
    """Inputs and expected outputs of each test_data_set_*, loaded as ONNX's runner does."""
    g = model.graph
    inits = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    sets = []
    # `_load_proto` is an instance method that uses nothing of its instance.
    for d in sorted(glob.glob(os.path.join(source, "test_data_set_*"))):
        xs: list = []
        ys: list = []
        for i in range(len(glob.glob(os.path.join(d, "input_*.pb")))):
            Runner._load_proto(None, os.path.join(d, f"input_{i}.pb"), xs, inputs[i].type)
        for i in range(len(glob.glob(os.path.join(d, "output_*.pb")))):
            Runner._load_proto(None, os.path.join(d, f"output_{i}.pb"), ys, g.output[i].type)
        sets.append((xs, ys))
    return sets


def exported_sets(case_dir: str, case: dict) -> list[tuple[list, list]]:
    """The exported raw tensors (the `light` models' inputs exist only there)."""

    def load(t: dict) -> np.ndarray:
        raw = np.fromfile(os.path.join(case_dir, t["file"]), dtype=DTYPES[t["dtype"]])
        return raw.reshape(t["dims"])

    return [
        ([load(t) for t in s["inputs"]], [load(t) for t in s["outputs"]])
        for s in case["datasets"]
    ]


def run_case(case_dir: str) -> None:
    with open(os.path.join(case_dir, "case.json")) as f:
        case = json.load(f)
    model = onnx.load(case["model"])
    if case["source"]:
        sets = stored_sets(case["source"], model)
    elif case["error"]:
        raise RuntimeError(f"no data: {case['error']}")
    else:
        sets = exported_sets(case_dir, case)
    if not sets:
        raise RuntimeError("no data sets")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        case["model"], sess_options=options, providers=["CPUExecutionProvider"]
    )
    names = [i.name for i in session.get_inputs()]
    for k, (xs, ys) in enumerate(sets):
        if len(xs) != len(names):
            raise RuntimeError(f"data set {k}: {len(xs)} inputs for {len(names)} graph inputs")
        got = session.run(None, dict(zip(names, xs)))
        try:
            Runner.assert_similar_outputs(ys, got, rtol=case["rtol"], atol=case["atol"])
        except AssertionError as e:
            raise AssertionError(f"data set {k}: {first_line(e) or 'outputs differ'}") from e


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1])
        return 2
    cases_dir, out = sys.argv[1], sys.argv[2]
    dirs = sorted(
        d for d in glob.glob(os.path.join(cases_dir, "*"))
        if os.path.isfile(os.path.join(d, "case.json"))
    )
    results = []
    passed = 0
    started = time.time()
    warnings.simplefilter("ignore")
    for d in dirs:
        case_id = os.path.basename(d)
        try:
            run_case(d)
            results.append({"id": case_id, "pass": True, "reason": None})
            passed += 1
        except Exception as e:  # noqa: BLE001 - every failure is that case's result
            kind = "load" if isinstance(e, ort.capi.onnxruntime_pybind11_state.Fail) else "run"
            reason = first_line(e) or type(e).__name__
            results.append({"id": case_id, "pass": False, "reason": f"{kind}: {reason}"})
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    print(
        f"onnxruntime {ort.__version__}: {passed} of {len(dirs)} cases pass "
        f"({time.time() - started:.1f} s); results in {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
