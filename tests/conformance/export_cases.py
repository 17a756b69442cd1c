"""Exports the ONNX backend test cases shipped in the `onnx` wheel as plain files.

For every case of the suites `node`, `pytorch-converted`, `pytorch-operator`, `simple` and
`light` (and `contrib`, below) this writes a directory `<out>/<suite>__<case>/` holding `case.json` and one raw
little-endian `.bin` file per tensor, so that the native and the wasm runners need no
protobuf or numpy:

    {
      "suite": "simple", "name": "test_sign_model", "op": "Sign",
      "model": "/abs/path/to/model.onnx", "rtol": 0.001, "atol": 1e-07,
      "source": "/abs/path/to/the/case/dir",
      "datasets": [{"inputs": [{"name", "dtype", "dims", "file"}], "outputs": [...]}],
      "error": null
    }

`source` is the case in ONNX's own layout (`model.onnx`, `test_data_set_*/{input,output}_*.pb`)
for the onnxruntime runner, which reads every value kind (sequences, optionals, strings)
itself; it is null for `light` models, whose inputs exist only as exported here. `op` is the
operator a `node` case tests (its `_expanded` variants, written as a function's body, count
for the operator they expand) and the suite's name for the other suites.

`contrib` holds onnxruntime's quantized contrib operators (`com.microsoft`) that int8 exports
use, built here with random quantized inputs; their expected outputs are onnxruntime's, the
only implementation that defines them.

The wheel ships the `node` cases as code, not data: `onnx.backend.test.case.node` builds each
model and computes its expected outputs with numpy, and this script writes them in ONNX's
layout under `<out>/_node/` first, as `onnx.backend.test.cmd_tools generate-data` does for
the model cases.

Inputs are the graph inputs that are not initializers, in order; outputs are the graph
outputs, in order. Element types are named as onnxruntime-web names them; `bool` is one byte
per element. A case whose inputs or outputs are not tensors of such a type (sequences,
strings, bfloat16, 8- and 4-bit floats, ...) has `error` set to the reason and no data.

`<out>/index.json` records the onnx version and the suites, for the report.

Tolerances are ONNX's own: its runner compares with numpy's `assert_allclose` at rtol=1e-3,
atol=1e-7, or the values of a case's `data.json`, or (for the `light` models) the per-model
values of `onnx/backend/test/case/model/__init__.py`. The `light` models ship only their
expected outputs; their inputs are built as ONNX's runner builds them
(`generate_dummy_data(x, random=False)`).

    python tests/conformance/export_cases.py [--out DIR]   (default: target/conformance/cases)
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys

import numpy as np
import onnx
import onnx.backend.test
from onnx import numpy_helper

SUITES = ["node", "contrib", "pytorch-converted", "pytorch-operator", "simple", "light"]

DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 1e-7

# numpy dtype -> edgewise / onnxruntime-web type name.
DTYPES = {
    np.dtype("float16"): "float16",
    np.dtype("float32"): "float32",
    np.dtype("float64"): "float64",
    np.dtype("int8"): "int8",
    np.dtype("int16"): "int16",
    np.dtype("int32"): "int32",
    np.dtype("int64"): "int64",
    np.dtype("uint8"): "uint8",
    np.dtype("uint16"): "uint16",
    np.dtype("uint32"): "uint32",
    np.dtype("uint64"): "uint64",
    np.dtype("bool"): "bool",
}

# ONNX elem_type -> type name, for the declared types of graph inputs and outputs.
ELEM_TYPES = {
    onnx.TensorProto.FLOAT16: "float16",
    onnx.TensorProto.FLOAT: "float32",
    onnx.TensorProto.DOUBLE: "float64",
    onnx.TensorProto.INT8: "int8",
    onnx.TensorProto.INT16: "int16",
    onnx.TensorProto.INT32: "int32",
    onnx.TensorProto.INT64: "int64",
    onnx.TensorProto.UINT8: "uint8",
    onnx.TensorProto.UINT16: "uint16",
    onnx.TensorProto.UINT32: "uint32",
    onnx.TensorProto.UINT64: "uint64",
    onnx.TensorProto.BOOL: "bool",
}


class Unsupported(Exception):
    """The case uses a value edgewise does not carry (the message says which)."""


def data_dir() -> str:
    return os.path.join(os.path.dirname(onnx.backend.test.__file__), "data")


def light_tolerances() -> dict[str, tuple[float, float]]:
    """model name -> (rtol, atol), from ONNX's own list of real-model test cases."""
    from onnx.backend.test.case.model import collect_testcases  # noqa: PLC0415

    return {
        t.model_name: (t.rtol, t.atol) for t in collect_testcases() if t.kind == "real"
    }


def value_kind(v: onnx.ValueInfoProto) -> str:
    """Checks that a graph input/output is a tensor of a supported type; returns the type."""
    kind = v.type.WhichOneof("value")
    if kind != "tensor_type":
        raise Unsupported(f"'{v.name}' is a {kind or 'value of unknown type'}, not a tensor")
    elem = v.type.tensor_type.elem_type
    if elem not in ELEM_TYPES:
        name = onnx.TensorProto.DataType.Name(elem) if elem else "undefined"
        raise Unsupported(f"'{v.name}' has element type {name}")
    return ELEM_TYPES[elem]


def signature(model: onnx.ModelProto) -> tuple[list, list]:
    g = model.graph
    inits = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    return inputs, list(g.output)


def load_tensor(path: str, v: onnx.ValueInfoProto) -> np.ndarray:
    kind = v.type.WhichOneof("value")
    if kind != "tensor_type":
        raise Unsupported(f"'{v.name}' is a {kind}, not a tensor")
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def write_tensor(case_dir: str, file: str, name: str, arr: np.ndarray) -> dict:
    arr = np.asarray(arr)
    if arr.dtype not in DTYPES:
        raise Unsupported(f"'{name}' holds {arr.dtype} data")
    dtype = DTYPES[arr.dtype]
    if dtype == "bool":
        raw = arr.astype(np.uint8).tobytes(order="C")
    else:
        raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes(order="C")
    with open(os.path.join(case_dir, file), "wb") as f:
        f.write(raw)
    return {"name": name, "dtype": dtype, "dims": [int(d) for d in arr.shape], "file": file}


def write_datasets(case_dir: str, inputs: list, outputs: list, datasets: list) -> list:
    """datasets: [(input arrays, output arrays)] in graph order."""
    out = []
    for k, (xs, ys) in enumerate(datasets):
        if len(xs) != len(inputs):
            raise Unsupported(
                f"data set {k} has {len(xs)} inputs but the graph declares {len(inputs)}"
            )
        if len(ys) != len(outputs):
            raise Unsupported(
                f"data set {k} has {len(ys)} outputs but the graph declares {len(outputs)}"
            )
        out.append(
            {
                "inputs": [
                    write_tensor(case_dir, f"set{k}_input_{i}.bin", v.name, x)
                    for i, (v, x) in enumerate(zip(inputs, xs))
                ],
                "outputs": [
                    write_tensor(case_dir, f"set{k}_output_{i}.bin", v.name, y)
                    for i, (v, y) in enumerate(zip(outputs, ys))
                ],
            }
        )
    return out


def stored_datasets(src: str, inputs: list, outputs: list) -> list:
    """The test_data_set_* directories of a case, loaded in graph order."""
    sets = []
    for d in sorted(glob.glob(os.path.join(src, "test_data_set_*"))):
        n_in = len(glob.glob(os.path.join(d, "input_*.pb")))
        n_out = len(glob.glob(os.path.join(d, "output_*.pb")))
        if n_in != len(inputs) or n_out != len(outputs):
            raise Unsupported(
                f"{os.path.basename(d)} has {n_in} inputs and {n_out} outputs, the graph "
                f"{len(inputs)} and {len(outputs)}"
            )
        xs = [load_tensor(os.path.join(d, f"input_{i}.pb"), v) for i, v in enumerate(inputs)]
        ys = [load_tensor(os.path.join(d, f"output_{i}.pb"), v) for i, v in enumerate(outputs)]
        sets.append((xs, ys))
    if not sets:
        raise Unsupported("no test_data_set_* directory")
    return sets


def dummy_input(v: onnx.ValueInfoProto) -> np.ndarray:
    """ONNX's runner `generate_dummy_data(x, random=False)`: arange(n)/n, unset dims = 1."""
    if v.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise Unsupported(f"'{v.name}': ONNX's runner makes dummy data only for float inputs")
    shape = tuple(
        d.dim_value if d.HasField("dim_value") else 1 for d in v.type.tensor_type.shape.dim
    )
    n = np.prod(shape)
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


def light_datasets(model_path: str, inputs: list, outputs: list) -> list:
    prefix = os.path.splitext(model_path)[0]
    ys = []
    for i, v in enumerate(outputs):
        path = f"{prefix}_output_{i}.pb"
        if not os.path.exists(path):
            raise Unsupported(f"no expected output {os.path.basename(path)}")
        ys.append(load_tensor(path, v))
    return [([dummy_input(v) for v in inputs], ys)]


def write_proto_value(path: str, value, v: onnx.ValueInfoProto) -> None:
    """One input or output in ONNX's layout, whatever its kind (as ONNX's generator writes)."""
    kind = v.type.WhichOneof("value")
    if kind == "map_type":
        proto = numpy_helper.from_dict(value, v.name)
    elif kind == "sequence_type":
        proto = numpy_helper.from_list(value, v.name)
    elif kind == "optional_type":
        proto = numpy_helper.from_optional(value, v.name)
    elif isinstance(value, onnx.TensorProto):
        proto = value
    else:
        proto = numpy_helper.from_array(value, v.name)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def operator_of(name: str, model: onnx.ModelProto, single: dict[str, str]) -> str:
    """The operator a node case tests: its node's type, or for a function's expanded body
    the type of the case it expands."""
    if len(model.graph.node) == 1:
        return model.graph.node[0].op_type
    if "_expanded" in name:
        base = name.split("_expanded")[0]
        if base in single:
            return single[base]
    return model.graph.node[-1].op_type if model.graph.node else "(empty graph)"


def node_cases(out_root: str) -> list[dict]:
    """Writes the wheel's node cases in ONNX's layout and lists them."""
    import warnings  # noqa: PLC0415

    import onnx.backend.test.case.node as node  # noqa: PLC0415

    with warnings.catch_warnings():
        # Some reference outputs divide by zero on purpose (inf, nan cases).
        warnings.simplefilter("ignore")
        generated = node.collect_testcases()
    single = {c.name: c.model.graph.node[0].op_type for c in generated if len(c.model.graph.node) == 1}
    found = []
    for case in sorted(generated, key=lambda c: c.name):
        case_dir = os.path.join(out_root, "_node", case.name)
        os.makedirs(case_dir)
        model_path = os.path.join(case_dir, "model.onnx")
        with open(model_path, "wb") as f:
            f.write(case.model.SerializeToString())
        g = case.model.graph
        for k, (xs, ys) in enumerate(case.data_sets):
            set_dir = os.path.join(case_dir, f"test_data_set_{k}")
            os.makedirs(set_dir)
            for j, x in enumerate(xs):
                write_proto_value(os.path.join(set_dir, f"input_{j}.pb"), x, g.input[j])
            for j, y in enumerate(ys):
                write_proto_value(os.path.join(set_dir, f"output_{j}.pb"), y, g.output[j])
        found.append(
            dict(suite="node", name=case.name, model=model_path, rtol=case.rtol,
                 atol=case.atol, kind="stored", op=operator_of(case.name, case.model, single))
        )
    return found


def contrib_models() -> list[tuple[str, str, onnx.ModelProto, dict, float]]:
    """(name, op, model, inputs, atol) for onnxruntime's quantized contrib operators
    (`com.microsoft`) that int8 exports use. Each model ends in `DequantizeLinear` (or is
    float already), so outputs compare within a stated tolerance: one quantization step for
    static quantization, more for `DynamicQuantizeLSTM`, which onnxruntime computes with
    activations quantized at every step."""
    from onnx import TensorProto as T  # noqa: PLC0415
    from onnx import helper as h  # noqa: PLC0415

    rng = np.random.default_rng(7)
    ms = [h.make_opsetid("", 17), h.make_opsetid("com.microsoft", 1)]

    def q(name, scale, zp, dt=np.uint8):
        return [
            numpy_helper.from_array(np.array(scale, np.float32), f"{name}_scale"),
            numpy_helper.from_array(np.array(zp, dt), f"{name}_zp"),
        ]

    def qin(shape, dt=np.uint8):
        lo, hi = (0, 256) if dt == np.uint8 else (-128, 128)
        return rng.integers(lo, hi, size=shape).astype(dt)

    def model(nodes, inits, inputs, out_elem=T.FLOAT):
        g = h.make_graph(
            nodes, "contrib", inputs, [h.make_tensor_value_info("y", out_elem, None)], inits
        )
        return h.make_model(g, opset_imports=ms, ir_version=8)

    found = []
    shape = [2, 3, 4, 5]
    x_info = lambda n, dt=T.UINT8: h.make_tensor_value_info(n, dt, shape)  # noqa: E731
    out_scale = 0.05
    dq_out = [h.make_node("DequantizeLinear", ["qy", "y_scale", "y_zp"], ["y"])]
    for op, extra in [("QLinearAdd", {}), ("QLinearMul", {})]:
        for dt, te in [(np.uint8, T.UINT8), (np.int8, T.INT8)]:
            zp = 128 if dt == np.uint8 else 0
            nodes = [
                h.make_node(
                    op,
                    ["a", "a_scale", "a_zp", "b", "b_scale", "b_zp", "y_scale", "y_zp"],
                    ["qy"],
                    domain="com.microsoft",
                    **extra,
                )
            ] + dq_out
            inits = q("a", 0.02, zp, dt) + q("b", 0.03, zp - 3 if dt == np.int8 else 120, dt)
            y_scale = out_scale if op == "QLinearAdd" else 2.0
            inits += q("y", y_scale, zp, dt)
            m = model(nodes, inits, [x_info("a", te), x_info("b", te)])
            name = f"test_{op.lower()}_{np.dtype(dt).name}"
            found.append((name, op, m, {"a": qin(shape, dt), "b": qin(shape, dt)}, y_scale * 1.01))
    for op, attrs in [
        ("QLinearSigmoid", {}),
        ("QLinearLeakyRelu", {"alpha": 0.1}),
        ("QLinearSoftmax", {"axis": -1, "opset": 13}),
        ("QLinearGlobalAveragePool", {"channels_last": 0}),
        ("QLinearAveragePool", {"kernel_shape": [2, 2], "strides": [1, 2], "pads": [0, 1, 0, 0]}),
    ]:
        y_scale = 1.0 / 256 if op in ("QLinearSigmoid", "QLinearSoftmax") else 0.02
        y_zp = 0 if op in ("QLinearSigmoid", "QLinearSoftmax") else 128
        nodes = [
            h.make_node(
                op, ["x", "x_scale", "x_zp", "y_scale", "y_zp"], ["qy"], domain="com.microsoft",
                **attrs,
            )
        ] + dq_out
        inits = q("x", 0.04, 120) + q("y", y_scale, y_zp)
        m = model(nodes, inits, [x_info("x")])
        found.append((f"test_{op.lower()}", op, m, {"x": qin(shape)}, y_scale * 1.01))
    nodes = [
        h.make_node(
            "QLinearConcat",
            ["y_scale", "y_zp", "a", "a_scale", "a_zp", "b", "b_scale", "b_zp"],
            ["qy"], domain="com.microsoft", axis=1,
        )
    ] + dq_out
    inits = q("y", 0.05, 128) + q("a", 0.04, 120) + q("b", 0.06, 130)
    m = model(nodes, inits, [x_info("a"), x_info("b")])
    found.append(("test_qlinearconcat", "QLinearConcat", m,
                  {"a": qin(shape), "b": qin(shape)}, 0.05 * 1.01))
    # DynamicQuantizeLSTM: float weights quantized as onnxruntime's quantizer does (per row
    # of gates, int8, transposed to [directions, input, 4·hidden]).
    for direction, dirs in [("forward", 1), ("bidirectional", 2)]:
        seq, batch, inp, hid = 5, 2, 6, 4
        w = rng.normal(0, 0.4, (dirs, 4 * hid, inp)).astype(np.float32)
        r = rng.normal(0, 0.4, (dirs, 4 * hid, hid)).astype(np.float32)
        b = rng.normal(0, 0.1, (dirs, 8 * hid)).astype(np.float32)

        def quant(t):
            scale = np.abs(t).max(axis=2) / 127.0
            qt = np.clip(np.round(t / scale[:, :, None]), -127, 127).astype(np.int8)
            return qt.transpose(0, 2, 1).copy(), scale.astype(np.float32)

        wq, ws = quant(w)
        rq, rs = quant(r)
        inits = [
            numpy_helper.from_array(wq, "w"), numpy_helper.from_array(rq, "r"),
            numpy_helper.from_array(b, "b"),
            numpy_helper.from_array(ws, "w_scale"),
            numpy_helper.from_array(np.zeros(ws.shape, np.int8), "w_zp"),
            numpy_helper.from_array(rs, "r_scale"),
            numpy_helper.from_array(np.zeros(rs.shape, np.int8), "r_zp"),
        ]
        nodes = [
            h.make_node(
                "DynamicQuantizeLSTM",
                ["x", "w", "r", "b", "", "", "", "", "w_scale", "w_zp", "r_scale", "r_zp"],
                ["y"], domain="com.microsoft", hidden_size=hid, direction=direction,
            )
        ]
        g = h.make_graph(
            nodes, "contrib", [h.make_tensor_value_info("x", T.FLOAT, [seq, batch, inp])],
            [h.make_tensor_value_info("y", T.FLOAT, None)], inits,
        )
        m = h.make_model(g, opset_imports=ms, ir_version=8)
        x = rng.normal(0, 1, (seq, batch, inp)).astype(np.float32)
        found.append((f"test_dynamicquantizelstm_{direction}", "DynamicQuantizeLSTM", m,
                      {"x": x}, 0.05))
    return found


def contrib_cases(out_root: str) -> list[dict]:
    """Writes the contrib cases in ONNX's layout, expected outputs from onnxruntime."""
    import onnxruntime as ort  # noqa: PLC0415

    found = []
    for name, op, model, feeds, atol in contrib_models():
        case_dir = os.path.join(out_root, "_contrib", name)
        set_dir = os.path.join(case_dir, "test_data_set_0")
        os.makedirs(set_dir)
        model_path = os.path.join(case_dir, "model.onnx")
        onnx.save(model, model_path)
        session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        ys = session.run(None, feeds)
        g = model.graph
        for j, v in enumerate(g.input):
            write_proto_value(os.path.join(set_dir, f"input_{j}.pb"), feeds[v.name], v)
        for j, (v, y) in enumerate(zip(g.output, ys)):
            write_proto_value(os.path.join(set_dir, f"output_{j}.pb"), y, v)
        found.append(dict(suite="contrib", name=name, model=model_path, rtol=0.0, atol=atol,
                          kind="stored", op=op))
    return found


def cases(out_root: str) -> list[dict]:
    """Every case as {suite, name, model, rtol, atol, kind, op} (kind: 'stored' or 'light')."""
    root = data_dir()
    found = []
    for suite in SUITES:
        suite_dir = os.path.join(root, suite)
        if suite == "node":
            found.extend(node_cases(out_root))
            continue
        if suite == "contrib":
            found.extend(contrib_cases(out_root))
            continue
        if suite == "light":
            tols = light_tolerances()
            for path in sorted(glob.glob(os.path.join(suite_dir, "light_*.onnx"))):
                model_name = os.path.basename(path)[len("light_") : -len(".onnx")]
                rtol, atol = tols.get(model_name, (DEFAULT_RTOL, DEFAULT_ATOL))
                found.append(
                    dict(suite=suite, name=f"test_{model_name}", model=path,
                         rtol=rtol, atol=atol, kind="light", op=suite)
                )
            continue
        for name in sorted(os.listdir(suite_dir)):
            case_dir = os.path.join(suite_dir, name)
            model = os.path.join(case_dir, "model.onnx")
            if not os.path.isfile(model):
                continue
            rtol, atol = DEFAULT_RTOL, DEFAULT_ATOL
            meta = os.path.join(case_dir, "data.json")
            if os.path.exists(meta):
                with open(meta) as f:
                    data = json.load(f)
                rtol = data.get("rtol", rtol)
                atol = data.get("atol", atol)
            found.append(
                dict(suite=suite, name=name, model=model, rtol=rtol, atol=atol, kind="stored",
                     op=suite)
            )
    return found


def export(case: dict, out_root: str) -> dict:
    case_dir = os.path.join(out_root, f"{case['suite']}__{case['name']}")
    os.makedirs(case_dir)
    record = {
        "suite": case["suite"],
        "name": case["name"],
        "op": case["op"],
        "model": os.path.abspath(case["model"]),
        "source": None if case["kind"] == "light" else os.path.abspath(os.path.dirname(case["model"])),
        "rtol": case["rtol"],
        "atol": case["atol"],
        "datasets": [],
        "error": None,
    }
    try:
        model = onnx.load(case["model"])
        inputs, outputs = signature(model)
        for v in inputs + outputs:
            value_kind(v)
        if case["kind"] == "light":
            sets = light_datasets(case["model"], inputs, outputs)
        else:
            sets = stored_datasets(os.path.dirname(case["model"]), inputs, outputs)
        record["datasets"] = write_datasets(case_dir, inputs, outputs, sets)
    except Unsupported as e:
        for f in os.listdir(case_dir):
            os.remove(os.path.join(case_dir, f))
        record["datasets"] = []
        record["error"] = str(e)
    with open(os.path.join(case_dir, "case.json"), "w") as f:
        json.dump(record, f, indent=1)
    return record


def main() -> int:
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(repo, "target", "conformance", "cases"))
    args = parser.parse_args()
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    counts: dict[str, list[int]] = {s: [0, 0] for s in SUITES}
    for case in cases(args.out):
        record = export(case, args.out)
        counts[case["suite"]][0] += 1
        if record["error"] is not None:
            counts[case["suite"]][1] += 1
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(
            {"onnx_version": onnx.__version__, "data_dir": data_dir(), "suites": SUITES},
            f,
            indent=1,
        )
    total = sum(c[0] for c in counts.values())
    unsupported = sum(c[1] for c in counts.values())
    per_suite = ", ".join(f"{s} {c[0]}" for s, c in counts.items())
    print(
        f"exported {total} cases from onnx {onnx.__version__} ({per_suite}); "
        f"{unsupported} use values edgewise does not carry; written to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
