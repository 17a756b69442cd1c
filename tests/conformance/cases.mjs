// Runs one exported case through the npm package and compares its outputs: shared by the
// conformance runner in Node (run-wasm.mjs), the third-party model tests in Node and in
// headless Chromium, and nothing here needs Node: tensors come from a `read(file)` the caller
// provides (the file system in Node, fetch in a page).
//
// Outputs are compared as numpy's assert_allclose compares them (|got - want| <= atol +
// rtol * |want|, NaN equal to NaN, infinities equal when their signs are), exactly for integer
// and boolean outputs, after checking element type and dims; float16 outputs as the numbers
// their bits stand for.

const TYPED_ARRAYS = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
  float16: Uint16Array,
};

/** float16 data (half bits) as numbers; other data as it is. */
function numbers(type, data, fromHalf) {
  return type === 'float16' ? Array.from(data, fromHalf) : data;
}

export function firstLine(s) {
  return String(s).split('\n')[0];
}

// ---------------------------------------------------------------------------------------------
// Comparison (shared semantics with crates/edgewise-runtime/examples/conformance.rs)

/** numpy.isclose(a, b, rtol, atol, equal_nan=True) with `b` the reference. */
export function close(a, b, rtol, atol) {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= atol + rtol * Math.abs(b);
}

/** The shortest decimal that reads back as the same float32. */
function showF32(x) {
  if (!Number.isFinite(x)) return String(x);
  for (let p = 1; p <= 9; p++) {
    const s = x.toPrecision(p);
    if (Math.fround(Number(s)) === x) return String(Number(s));
  }
  return String(x);
}

/** `x` in exponent notation as Rust prints it (`1e0`, where JS writes `1e+0`). */
function exp(x, digits) {
  if (!Number.isFinite(x)) return String(x);
  return x.toExponential(digits).replace('e+', 'e');
}

function unravel(i, dims) {
  const index = new Array(dims.length).fill(0);
  for (let k = dims.length - 1; k >= 0; k--) {
    if (dims[k] > 0) {
      index[k] = i % dims[k];
      i = Math.floor(i / dims[k]);
    }
  }
  return index;
}

/** Throws a message naming the first mismatching element of output `name`. */
export function compare(name, got, want, rtol, atol, fromHalf) {
  if (got.type !== want.type) throw new Error(`output '${name}': element type ${got.type}, want ${want.type}`);
  const gd = Array.from(got.dims);
  if (gd.length !== want.dims.length || gd.some((d, i) => d !== want.dims[i])) {
    throw new Error(`output '${name}': dims [${gd.join(', ')}], want [${want.dims.join(', ')}]`);
  }
  const float = want.type === 'float16' || want.type === 'float32' || want.type === 'float64';
  const big = want.type === 'int64' || want.type === 'uint64';
  const g = numbers(got.type, got.data, fromHalf);
  const w = numbers(want.type, want.data, fromHalf);
  let first = -1;
  let count = 0;
  let worst = 0;
  for (let i = 0; i < w.length; i++) {
    let same;
    let diff;
    if (float) {
      same = close(g[i], w[i], rtol, atol);
      diff = Math.abs(g[i] - w[i]);
    } else if (big) {
      same = g[i] === w[i];
      diff = Number(g[i] > w[i] ? g[i] - w[i] : w[i] - g[i]);
    } else if (want.type === 'bool') {
      same = (g[i] !== 0) === (w[i] !== 0);
      diff = same ? 0 : 1;
    } else {
      same = g[i] === w[i];
      diff = Math.abs(g[i] - w[i]);
    }
    if (!same) {
      count++;
      if (diff > worst || Number.isNaN(diff)) worst = diff;
      if (first < 0) first = i;
    }
  }
  if (first < 0) return;
  const i = first;
  let shown;
  if (float) {
    const show = want.type === 'float32' ? showF32 : String;
    const tol = atol + rtol * Math.abs(w[i]);
    shown = `got ${show(g[i])}, want ${show(w[i])}, tolerance ${exp(tol, 3)} (atol ${exp(atol)} + rtol ${exp(rtol)} * |want|)`;
  } else {
    shown = `got ${g[i]}, want ${w[i]}, exact`;
  }
  throw new Error(
    `output '${name}' at [${unravel(i, want.dims).join(', ')}]: ${shown}; ${count} of ${w.length} elements differ, max |diff| ${exp(worst, 3)}`,
  );
}

/** The tensors of a case's list, from the raw little-endian bytes `read(file)` returns. */
export async function readTensors(list, read) {
  return Promise.all(
    list.map(async (t) => {
      const ctor = TYPED_ARRAYS[t.dtype];
      if (ctor === undefined) throw new Error(`unknown dtype '${t.dtype}'`);
      const bytes = await read(t.file);
      if (bytes.byteLength % ctor.BYTES_PER_ELEMENT !== 0) {
        throw new Error(`${t.file}: ${bytes.byteLength} bytes is not a whole number of ${t.dtype} elements`);
      }
      // A copy: the buffer may be unaligned for the element type.
      const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      return { name: t.name, type: t.dtype, dims: t.dims, data: new ctor(ab) };
    }),
  );
}

/**
 * Runs case `c` (a parsed case.json) with the package `lib`: loads the model from
 * `modelBytes` (and its external data files, `readExternal(name)` giving each one's bytes;
 * without it, a model given as a path or URL finds them beside it),
 * runs every data set, compares. Throws a message starting `load:`, `run:` or naming the
 * output at fault; `onError(e)` sees every error from the package first.
 */
export async function runCase(c, lib, { modelBytes, read, readExternal, onError = () => {} }) {
  if (c.error !== null && c.error !== undefined) throw new Error(`not exported: ${c.error}`);
  if (!c.datasets?.length) throw new Error('no data sets');
  let session;
  try {
    const options = {};
    if (readExternal) {
      options.externalData = await Promise.all((c.external ?? []).map(async (path) => ({ path, data: await readExternal(path) })));
    }
    session = await lib.InferenceSession.create(modelBytes, options);
  } catch (e) {
    onError(e);
    throw new Error(`load: ${e.message ?? e}`);
  }
  try {
    for (const [k, set] of c.datasets.entries()) {
      const inputs = await readTensors(set.inputs, read);
      const wanted = await readTensors(set.outputs, read);
      const feeds = {};
      for (const t of inputs) feeds[t.name] = new lib.Tensor(t.type, t.data, t.dims);
      let got;
      try {
        got = await session.run(feeds);
      } catch (e) {
        onError(e);
        throw new Error(`run: ${e.message ?? e}`);
      }
      const prefix = c.datasets.length > 1 ? `data set ${k}: ` : '';
      for (const want of wanted) {
        const g = got[want.name];
        if (g === undefined) {
          throw new Error(`${prefix}output '${want.name}' missing; the session returned ${JSON.stringify(Object.keys(got))}`);
        }
        try {
          compare(want.name, g, want, c.rtol, c.atol, lib.fromFloat16Bits);
        } catch (e) {
          throw new Error(prefix + e.message);
        }
      }
    }
  } finally {
    try {
      await session.release();
    } catch {
      // Releasing after a trap may fail too; the caller replaces the instance anyway.
    }
  }
}
