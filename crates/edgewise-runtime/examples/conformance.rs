//! Runs exported ONNX backend test cases natively and reports which pass.
//!
//! ```text
//! cargo run -q -p edgewise-runtime --example conformance -- <cases-dir> <out.json>
//! ```
//!
//! `<cases-dir>` holds one directory per case, as written by
//! `tests/conformance/export_cases.py`: a `case.json` (model path, tolerances, data sets)
//! and raw little-endian `.bin` tensors. Every case is loaded into a [`Session`] and run on
//! each of its data sets; the outputs are compared with the stored ones as numpy's
//! `assert_allclose` compares them (`|got - want| <= atol + rtol * |want|`, NaN equal to NaN,
//! infinities equal when their signs are), exactly for integer and boolean outputs, after
//! checking element type and dims. `<out.json>` receives `[{id, pass, reason}]`, where
//! `reason` is the load or run error or the first mismatch (`null` on a pass).
//!
//! One bad case never stops the run: a failed load or run is that case's result.

use std::path::{Path, PathBuf};
use std::time::Instant;

use edgewise_runtime::{DType, Session, SessionOptions, Tensor, TensorData};
use serde_json::{Value, json};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [cases_dir, out] = args.as_slice() else {
        eprintln!("usage: conformance <cases-dir> <out.json>");
        std::process::exit(2);
    };
    let mut dirs: Vec<PathBuf> = match std::fs::read_dir(cases_dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("case.json").is_file())
            .collect(),
        Err(e) => {
            eprintln!("cannot read {cases_dir}: {e}");
            std::process::exit(2);
        }
    };
    dirs.sort();
    let started = Instant::now();
    let mut results = Vec::with_capacity(dirs.len());
    let mut passed = 0;
    for dir in &dirs {
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let t = Instant::now();
        let outcome = run_case(dir);
        let ms = t.elapsed().as_millis();
        match &outcome {
            Ok(()) => {
                passed += 1;
                println!("pass {id} ({ms} ms)");
            }
            Err(reason) => println!("FAIL {id} ({ms} ms): {}", first_line(reason)),
        }
        results.push(json!({
            "id": id,
            "pass": outcome.is_ok(),
            "reason": outcome.err(),
        }));
    }
    let text = serde_json::to_string_pretty(&Value::Array(results)).expect("json");
    if let Err(e) = std::fs::write(out, text + "\n") {
        eprintln!("cannot write {out}: {e}");
        std::process::exit(2);
    }
    println!(
        "native: {passed} of {} cases pass ({:.1} s); results in {out}",
        dirs.len(),
        started.elapsed().as_secs_f64()
    );
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// One stored tensor of a data set.
struct Stored {
    name: String,
    tensor: Tensor,
}

fn run_case(dir: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(dir.join("case.json"))
        .map_err(|e| format!("cannot read case.json: {e}"))?;
    let case: Value = serde_json::from_str(&text).map_err(|e| format!("bad case.json: {e}"))?;
    if let Some(err) = case["error"].as_str() {
        return Err(format!("not exported: {err}"));
    }
    let model = case["model"].as_str().ok_or("case.json has no model")?;
    let rtol = case["rtol"].as_f64().ok_or("case.json has no rtol")?;
    let atol = case["atol"].as_f64().ok_or("case.json has no atol")?;
    let bytes = std::fs::read(model).map_err(|e| format!("cannot read {model}: {e}"))?;
    // External data files sit beside the model, by the names the model gives them.
    let beside = Path::new(model).parent().unwrap_or(Path::new("."));
    let external_data = case["external"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|f| {
            std::fs::read(beside.join(f))
                .map(|b| (f.to_string(), b))
                .map_err(|e| format!("cannot read external data {f}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options = SessionOptions {
        external_data,
        ..Default::default()
    };
    let mut session = Session::new(&bytes, &options).map_err(|e| format!("load: {e}"))?;
    let sets = case["datasets"]
        .as_array()
        .ok_or("case.json has no datasets")?;
    if sets.is_empty() {
        return Err("no data sets".into());
    }
    for (k, set) in sets.iter().enumerate() {
        let inputs = read_tensors(dir, &set["inputs"])?;
        let wanted = read_tensors(dir, &set["outputs"])?;
        let feeds = inputs.into_iter().map(|s| (s.name, s.tensor)).collect();
        let got = session.run(feeds).map_err(|e| format!("run: {e}"))?;
        let prefix = if sets.len() > 1 {
            format!("data set {k}: ")
        } else {
            String::new()
        };
        compare_outputs(&got, &wanted, rtol, atol).map_err(|e| format!("{prefix}{e}"))?;
    }
    Ok(())
}

fn read_tensors(dir: &Path, list: &Value) -> Result<Vec<Stored>, String> {
    let list = list.as_array().ok_or("case.json: tensor list expected")?;
    list.iter()
        .map(|t| {
            let name = t["name"].as_str().ok_or("tensor without name")?.to_string();
            let dtype: DType = t["dtype"]
                .as_str()
                .ok_or("tensor without dtype")?
                .parse()
                .map_err(|e| format!("{e}"))?;
            let dims: Vec<usize> = t["dims"]
                .as_array()
                .ok_or("tensor without dims")?
                .iter()
                .map(|d| d.as_u64().map(|d| d as usize).ok_or("bad dim"))
                .collect::<Result<_, _>>()?;
            let file = t["file"].as_str().ok_or("tensor without file")?;
            let raw =
                std::fs::read(dir.join(file)).map_err(|e| format!("cannot read {file}: {e}"))?;
            let data = decode(dtype, &raw)?;
            let tensor = Tensor::new(data, dims).map_err(|e| format!("{file}: {e}"))?;
            Ok(Stored { name, tensor })
        })
        .collect()
}

/// Raw little-endian bytes to typed storage.
fn decode(dtype: DType, raw: &[u8]) -> Result<TensorData, String> {
    if !raw.len().is_multiple_of(dtype.size()) {
        return Err(format!(
            "{} bytes is not a whole number of {dtype} elements",
            raw.len()
        ));
    }
    macro_rules! le {
        ($t:ty, $n:literal) => {
            raw.chunks_exact($n)
                .map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk")))
                .collect()
        };
    }
    Ok(match dtype {
        DType::F16 => TensorData::F16(le!(edgewise_runtime::f16, 2)),
        DType::F32 => TensorData::F32(le!(f32, 4)),
        DType::F64 => TensorData::F64(le!(f64, 8)),
        DType::I8 => TensorData::I8(le!(i8, 1)),
        DType::I16 => TensorData::I16(le!(i16, 2)),
        DType::I32 => TensorData::I32(le!(i32, 4)),
        DType::I64 => TensorData::I64(le!(i64, 8)),
        DType::U8 => TensorData::U8(raw.to_vec()),
        DType::U16 => TensorData::U16(le!(u16, 2)),
        DType::U32 => TensorData::U32(le!(u32, 4)),
        DType::U64 => TensorData::U64(le!(u64, 8)),
        DType::Bool => TensorData::Bool(raw.to_vec()),
    })
}

/// Compares every expected output (by name) with what the session returned.
fn compare_outputs(
    got: &[(String, Tensor)],
    wanted: &[Stored],
    rtol: f64,
    atol: f64,
) -> Result<(), String> {
    for want in wanted {
        let Some((_, g)) = got.iter().find(|(n, _)| *n == want.name) else {
            let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
            return Err(format!(
                "output '{}' missing; the session returned {names:?}",
                want.name
            ));
        };
        compare(&want.name, g, &want.tensor, rtol, atol)?;
    }
    Ok(())
}

/// Compares one output: element type, dims, then values (`assert_allclose` for floats,
/// exact otherwise). The error names the first mismatching element.
fn compare(name: &str, got: &Tensor, want: &Tensor, rtol: f64, atol: f64) -> Result<(), String> {
    if got.dtype() != want.dtype() {
        return Err(format!(
            "output '{name}': element type {}, want {}",
            got.dtype(),
            want.dtype()
        ));
    }
    if got.dims() != want.dims() {
        return Err(format!(
            "output '{name}': dims {:?}, want {:?}",
            got.dims(),
            want.dims()
        ));
    }
    let mismatch = match (values(got.data()), values(want.data())) {
        (Values::Float(g), Values::Float(w)) => {
            let bad = mismatches(&g, &w, |a, b| close(a, b, rtol, atol), |a, b| (a - b).abs());
            bad.map(|(i, count, worst)| {
                let tol = atol + rtol * w[i].abs();
                // Printed at the precision of the element type.
                let show = |x: f64| match want.dtype() {
                    DType::F32 => format!("{}", x as f32),
                    DType::F16 => format!("{}", edgewise_runtime::f16::from_f64(x)),
                    _ => format!("{x}"),
                };
                let shown = format!(
                    "got {}, want {}, tolerance {tol:.3e} (atol {atol:e} + rtol {rtol:e} * |want|)",
                    show(g[i]),
                    show(w[i])
                );
                (i, count, worst, shown)
            })
        }
        (Values::Int(g), Values::Int(w)) => {
            let bad = mismatches(&g, &w, |a, b| a == b, |a, b| (a - b).abs() as f64);
            bad.map(|(i, count, worst)| {
                (
                    i,
                    count,
                    worst,
                    format!("got {}, want {}, exact", g[i], w[i]),
                )
            })
        }
        _ => unreachable!("element types were checked equal"),
    };
    let Some((i, count, worst, shown)) = mismatch else {
        return Ok(());
    };
    Err(format!(
        "output '{name}' at {:?}: {shown}; {count} of {} elements differ, max |diff| {worst:.3e}",
        unravel(i, want.dims()),
        want.data().len()
    ))
}

/// The elements of a tensor, widened: floats to f64, integers and booleans to i128.
enum Values {
    Float(Vec<f64>),
    Int(Vec<i128>),
}

fn values(d: &TensorData) -> Values {
    fn ints<T: Copy + Into<i128>>(v: &[T]) -> Values {
        Values::Int(v.iter().map(|&x| x.into()).collect())
    }
    match d {
        TensorData::F16(v) => Values::Float(v.iter().map(|&x| f64::from(x)).collect()),
        TensorData::F32(v) => Values::Float(v.iter().map(|&x| x as f64).collect()),
        TensorData::F64(v) => Values::Float(v.clone()),
        TensorData::I8(v) => ints(v),
        TensorData::I16(v) => ints(v),
        TensorData::I32(v) => ints(v),
        TensorData::I64(v) => ints(v),
        TensorData::U8(v) => ints(v),
        TensorData::U16(v) => ints(v),
        TensorData::U32(v) => ints(v),
        TensorData::U64(v) => ints(v),
        TensorData::Bool(v) => Values::Int(v.iter().map(|&x| i128::from(x != 0)).collect()),
    }
}

/// The first mismatching index, the number of mismatches and the largest |difference|.
fn mismatches<T: Copy>(
    got: &[T],
    want: &[T],
    same: impl Fn(T, T) -> bool,
    diff: impl Fn(T, T) -> f64,
) -> Option<(usize, usize, f64)> {
    let mut first = None;
    let mut count = 0;
    let mut worst = 0f64;
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        if !same(a, b) {
            count += 1;
            let d = diff(a, b);
            if d > worst || d.is_nan() {
                worst = d;
            }
            first.get_or_insert(i);
        }
    }
    first.map(|i| (i, count, worst))
}

/// `numpy.isclose(a, b, rtol, atol, equal_nan=True)` with `b` the reference.
fn close(a: f64, b: f64, rtol: f64, atol: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= atol + rtol * b.abs()
}

/// Flat row-major index to a multi-index.
fn unravel(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut index = vec![0; dims.len()];
    for (k, &d) in dims.iter().enumerate().rev() {
        if d > 0 {
            index[k] = i % d;
            i /= d;
        }
    }
    index
}
