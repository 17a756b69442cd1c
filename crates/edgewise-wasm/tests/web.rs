//! The wasm exports, run inside a JS engine (Node, and headless Chromium via
//! `WASM_BINDGEN_USE_BROWSER`): models load, run, describe themselves, and every bad input
//! comes back as a JS `Error` with the session left usable.
#![cfg(target_arch = "wasm32")]

use edgewise_onnx::fixtures;
use edgewise_onnx::fixtures::pseudo_random;
use edgewise_wasm::WasmSession;
use js_sys::{Array, Float32Array, Int32Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

/// Runs the module's start function once, as the package's glue does at instantiation (the
/// test harness has a start of its own): it runs the static constructors that register tract's
/// operators and kernels.
fn started() {
    static START: std::sync::Once = std::sync::Once::new();
    START.call_once(edgewise_wasm::start);
}

/// The options object the package passes: optimized, `providers`, `free` dims pinned, 8 plans.
/// Every session of these tests is created with it, after [`started`].
fn options(providers: Vec<String>, free: &[(&str, u32)]) -> JsValue {
    started();
    let dims = Array::new();
    for (name, size) in free {
        dims.push(&Array::of2(&JsValue::from_str(name), &JsValue::from(*size)));
    }
    let o = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| Reflect::set(&o, &k.into(), v).unwrap();
    set("optimize", &JsValue::TRUE);
    set(
        "providers",
        &providers
            .iter()
            .map(|p| JsValue::from_str(p))
            .collect::<Array>(),
    );
    set("freeDimensions", &dims);
    set("planCacheSize", &JsValue::from(8));
    o.into()
}

async fn create_with(bytes: &[u8], providers: &[&str]) -> Result<WasmSession, JsValue> {
    let providers = providers.iter().map(|p| p.to_string()).collect();
    WasmSession::create(
        bytes.to_vec(),
        options(providers, &[]),
        js_sys::Array::new(),
    )
    .await
    .map_err(JsValue::from)
}

async fn create(bytes: &[u8]) -> Result<WasmSession, JsValue> {
    create_with(bytes, &["cpu"]).await
}

async fn run(s: &WasmSession, feeds: Array) -> Result<Array, JsValue> {
    let out = JsFuture::from(s.run(feeds)).await?;
    Ok(out.dyn_into().expect("run resolves to an array"))
}

fn feed(name: &str, ty: &str, data: JsValue, dims: &[f64]) -> JsValue {
    let dims: Array = dims.iter().map(|&d| JsValue::from_f64(d)).collect();
    Array::of4(&name.into(), &ty.into(), &data, &dims).into()
}

fn ones(n: usize) -> JsValue {
    Float32Array::from(&vec![1.0f32; n][..]).into()
}

fn message(err: JsValue) -> String {
    let e: js_sys::Error = err.dyn_into().expect("failures are JS Error objects");
    String::from(e.message())
}

async fn run_ok(s: &WasmSession) -> Vec<f32> {
    let out = run(s, Array::of1(&feed("x", "float32", ones(8), &[2.0, 4.0])))
        .await
        .unwrap();
    let first: Array = out.get(0).dyn_into().unwrap();
    assert_eq!(first.get(0).as_string().unwrap(), "y");
    assert_eq!(first.get(1).as_string().unwrap(), "float32");
    first.get(2).dyn_into::<Float32Array>().unwrap().to_vec()
}

fn number(obj: &JsValue, key: &str) -> f64 {
    Reflect::get(obj, &key.into()).unwrap().as_f64().unwrap()
}

#[wasm_bindgen_test]
async fn a_model_without_input_shapes_gets_a_plan_per_shape_reused_on_return() {
    let s = create(&fixtures::unshaped()).await.unwrap();
    let plans: JsValue = s.plans().unwrap();
    assert_eq!(
        Reflect::get(&plans, &"perShape".into()).unwrap(),
        JsValue::TRUE
    );
    for (dims, n) in [([2.0, 3.0], 6), ([4.0, 5.0], 20), ([2.0, 3.0], 6)] {
        let out = run(&s, Array::of1(&feed("x", "float32", ones(n), &dims)))
            .await
            .unwrap();
        let first: Array = out.get(0).dyn_into().unwrap();
        let y = first.get(2).dyn_into::<Float32Array>().unwrap().to_vec();
        // Σ relu(1) over the last axis.
        assert_eq!(y, vec![dims[1] as f32; dims[0] as usize]);
    }
    let plans: JsValue = s.plans().unwrap();
    assert_eq!(number(&plans, "built"), 2.0);
    assert_eq!(number(&plans, "reused"), 1.0);
}

#[wasm_bindgen_test]
async fn free_dimension_overrides_reach_the_session() {
    let s = WasmSession::create(
        fixtures::mlp(),
        options(vec!["cpu".into()], &[("batch", 2)]),
        Array::new(),
    )
    .await
    .unwrap();
    assert_eq!(run_ok(&s).await.len(), 6);
    let err = WasmSession::create(
        fixtures::mlp(),
        options(vec!["cpu".into()], &[("height", 2)]),
        Array::new(),
    )
    .await
    .err()
    .expect("an unknown dim name is an error");
    assert!(message(err.into()).contains("'height'"));
}

#[wasm_bindgen_test]
async fn mlp_runs_and_matches_the_formula() {
    let s = create(&fixtures::mlp()).await.unwrap();
    let y = run_ok(&s).await;
    assert_eq!(y.len(), 6);
    for c in 0..3 {
        let want: f32 =
            (0..4).map(|k| fixtures::MLP_W[k * 3 + c]).sum::<f32>() + fixtures::MLP_B[c];
        assert!(
            (y[c] - want.max(0.0)).abs() < 1e-5,
            "column {c}: {} vs {want}",
            y[c]
        );
    }
}

#[wasm_bindgen_test]
async fn metadata_uses_strings_for_symbolic_dims() {
    let s = create(&fixtures::mlp()).await.unwrap();
    let meta: Array = s.input_metadata().unwrap().dyn_into().unwrap();
    let x = meta.get(0);
    assert_eq!(
        Reflect::get(&x, &"name".into())
            .unwrap()
            .as_string()
            .unwrap(),
        "x"
    );
    assert_eq!(
        Reflect::get(&x, &"type".into())
            .unwrap()
            .as_string()
            .unwrap(),
        "float32"
    );
    let shape: Array = Reflect::get(&x, &"shape".into())
        .unwrap()
        .dyn_into()
        .unwrap();
    assert_eq!(shape.get(0).as_string().unwrap(), "batch");
    assert_eq!(shape.get(1).as_f64().unwrap(), 4.0);
}

#[wasm_bindgen_test]
async fn malformed_models_are_errors() {
    let bytes = fixtures::mlp();
    for bad in [&b""[..], &bytes[..bytes.len() / 2], b"not a model at all"] {
        let err = create(bad).await.err().expect("must fail");
        assert!(message(err).starts_with("invalid model"));
    }
    let err = create(&fixtures::unsupported_op()).await.err().unwrap();
    assert!(message(err).contains("FancyOp"));
    let err = create_with(&fixtures::mlp(), &["cuda"])
        .await
        .err()
        .unwrap();
    assert!(message(err).contains("unknown execution provider 'cuda'"));
}

#[wasm_bindgen_test]
async fn bad_feeds_are_errors_and_the_session_survives() {
    let s = create(&fixtures::mlp()).await.unwrap();
    let int32: JsValue = Int32Array::from(&[1i32; 8][..]).into();
    let cases: Vec<(Array, &str)> = vec![
        (Array::new(), "missing input 'x'"),
        (
            Array::of1(&feed("nope", "float32", ones(4), &[1.0, 4.0])),
            "unknown input 'nope'",
        ),
        (
            Array::of1(&feed("x", "int32", int32.clone(), &[2.0, 4.0])),
            "expected a float32 tensor, got int32",
        ),
        (
            Array::of1(&feed("x", "float32", int32, &[2.0, 4.0])),
            "must be a Float32Array, got Int32Array",
        ),
        (
            Array::of1(&feed("x", "float32", ones(4), &[4.0])),
            "expected rank 2",
        ),
        (
            Array::of1(&feed("x", "float32", ones(6), &[2.0, 3.0])),
            "dimension 1 must be 4",
        ),
        (
            Array::of1(&feed("x", "float32", ones(5), &[2.0, 4.0])),
            "does not match dims",
        ),
        (
            Array::of1(&feed("x", "bfloat16", ones(8), &[2.0, 4.0])),
            "unknown tensor type 'bfloat16'",
        ),
        (
            Array::of1(&feed("x", "float16", ones(8), &[2.0, 4.0])),
            "data of a float16 tensor must be a Uint16Array, got Float32Array",
        ),
        (
            Array::of1(&feed("x", "float32", ones(8), &[2.0, -4.0])),
            "dims must be an array",
        ),
        (Array::of1(&JsValue::from_str("x")), "each feed must be"),
    ];
    for (feeds, expected) in cases {
        let err = run(&s, feeds).await.err().expect("bad feed must fail");
        let msg = message(err);
        assert!(
            msg.contains(expected),
            "'{msg}' should contain '{expected}'"
        );
        assert_eq!(run_ok(&s).await.len(), 6, "session still runs after: {msg}");
    }
}

#[wasm_bindgen_test]
async fn released_session_refuses_to_run() {
    let s = create(&fixtures::mlp()).await.unwrap();
    s.release();
    let err = run(&s, Array::of1(&feed("x", "float32", ones(4), &[1.0, 4.0])))
        .await
        .err()
        .unwrap();
    assert_eq!(message(err), "the session was released");
}

fn host_has_webgpu() -> bool {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).unwrap_or_default();
    !navigator.is_undefined()
        && Reflect::get(&navigator, &"gpu".into())
            .map(|g| !g.is_undefined())
            .unwrap_or(false)
}

fn field(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &key.into()).unwrap()
}

#[wasm_bindgen_test]
async fn a_staged_model_matches_the_cpu_run_and_reports_its_stages() {
    let x: JsValue =
        Float32Array::from(&(0..64).map(|i| (i as f32 - 30.0) / 7.0).collect::<Vec<_>>()[..])
            .into();
    let feeds = || Array::of1(&feed("x", "float32", x.clone(), &[2.0, 4.0, 8.0]));
    let cpu = create(&fixtures::border_chain()).await.unwrap();
    let want = run(&cpu, feeds()).await.unwrap();
    let gpu = create_with(&fixtures::border_chain(), &["webgpu", "cpu"])
        .await
        .unwrap();
    let got = run(&gpu, feeds()).await.unwrap();
    for i in 0..2 {
        let g: Array = got.get(i).dyn_into().unwrap();
        let w: Array = want.get(i).dyn_into().unwrap();
        assert_eq!(g.get(0).as_string(), w.get(0).as_string());
        let (g, w) = (
            g.get(2).dyn_into::<Float32Array>().unwrap().to_vec(),
            w.get(2).dyn_into::<Float32Array>().unwrap().to_vec(),
        );
        assert_eq!(g, w, "output {i}");
    }
    let stages: Array = gpu.stages().unwrap().dyn_into().unwrap();
    assert_eq!(stages.length(), 3);
    let middle = stages.get(1);
    assert_eq!(field(&middle, "kind").as_string().unwrap(), "webgpu");
    let placement = field(&middle, "placement").as_string().unwrap();
    let fallback = field(&middle, "fallback");
    if host_has_webgpu() {
        assert_eq!(placement, "webgpu", "fallback: {fallback:?}");
        assert!(fallback.is_null());
        assert!(gpu.adapter().unwrap().is_some());
    } else {
        assert_eq!(placement, "cpu");
        assert!(
            fallback.as_string().unwrap().contains("no-adapter"),
            "{fallback:?}"
        );
    }
}

/// Runs `s` on float32 feeds and returns the first output's data.
async fn run_f32(s: &WasmSession, feeds: &[(&str, &[f32], &[usize])]) -> Vec<f32> {
    let feeds: Array = feeds
        .iter()
        .map(|(name, data, dims)| {
            let dims: Vec<f64> = dims.iter().map(|&d| d as f64).collect();
            feed(name, "float32", Float32Array::from(*data).into(), &dims)
        })
        .collect();
    let out = run(s, feeds).await.unwrap();
    let first: Array = out.get(0).dyn_into().unwrap();
    first.get(2).dyn_into::<Float32Array>().unwrap().to_vec()
}

fn assert_close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = 1e-4 * w.abs().max(1.0);
        assert!(
            (*g as f64 - w).abs() <= tol,
            "{what} at {i}: {g} against {w}"
        );
    }
}

/// `y = relu(x · w + b) + r`, x `[m,k]` and r `[m,n]` inputs, w and b initializers: the
/// product with a per-column bias, a clamp and a residual sum in the kernel's epilogue.
fn gemm_model(k: usize, n: usize, w: &[f32], b: &[f32]) -> Vec<u8> {
    use edgewise_core::{DType, Dim};
    use edgewise_onnx::{GraphBuilder, tensor_f32};
    let m = || Dim::Symbolic("m".into());
    let mut g = GraphBuilder::new("gemm", 17);
    g.input("x", DType::F32, &[m(), Dim::Fixed(k)]);
    g.input("r", DType::F32, &[m(), Dim::Fixed(n)]);
    g.initializer(tensor_f32("w", &[k, n], w));
    g.initializer(tensor_f32("b", &[n], b));
    g.node("MatMul", &["x", "w"], "xw", vec![]);
    g.node("Add", &["xw", "b"], "z", vec![]);
    g.node("Relu", &["z"], "a", vec![]);
    g.node("Add", &["a", "r"], "y", vec![]);
    g.output("y", DType::F32, &[m(), Dim::Fixed(n)]);
    g.to_bytes()
}

/// A 3×3 convolution with bias, padding and stride, then `Clip(0, 1)`.
fn conv_model(c: usize, o: usize, stride: i64, w: &[f32], b: &[f32]) -> Vec<u8> {
    use edgewise_core::{DType, Dim};
    use edgewise_onnx::{Attr, GraphBuilder, tensor_f32};
    let free = |s: &str| Dim::Symbolic(s.into());
    let mut g = GraphBuilder::new("conv", 17);
    g.input(
        "x",
        DType::F32,
        &[Dim::Fixed(1), Dim::Fixed(c), free("h"), free("w")],
    );
    g.initializer(tensor_f32("k", &[o, c, 3, 3], w));
    g.initializer(tensor_f32("b", &[o], b));
    g.initializer(tensor_f32("lo", &[], &[0.0]));
    g.initializer(tensor_f32("hi", &[], &[1.0]));
    g.node(
        "Conv",
        &["x", "k", "b"],
        "z",
        vec![
            ("pads", Attr::Ints(vec![1, 1, 1, 1])),
            ("strides", Attr::Ints(vec![stride, stride])),
        ],
    );
    g.node("Clip", &["z", "lo", "hi"], "y", vec![]);
    g.output_unshaped("y", DType::F32);
    g.to_bytes()
}

fn naive_gemm(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    r: &[f32],
    m: usize,
    k: usize,
    n: usize,
) -> Vec<f64> {
    let mut y = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            let dot: f64 = (0..k)
                .map(|p| x[i * k + p] as f64 * w[p * n + j] as f64)
                .sum();
            y[i * n + j] = (dot + b[j] as f64).max(0.0) + r[i * n + j] as f64;
        }
    }
    y
}

#[allow(clippy::too_many_arguments)]
fn naive_conv(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    c: usize,
    o: usize,
    h: usize,
    wd: usize,
    s: usize,
) -> Vec<f64> {
    let (oh, ow) = ((h + 2 - 3) / s + 1, (wd + 2 - 3) / s + 1);
    let mut y = vec![0f64; o * oh * ow];
    for oc in 0..o {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = b[oc] as f64;
                for ic in 0..c {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (iy, ix) = ((oy * s + ky) as isize - 1, (ox * s + kx) as isize - 1);
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                continue;
                            }
                            let xv = x[(ic * h + iy as usize) * wd + ix as usize] as f64;
                            acc += xv * w[((oc * c + ic) * 3 + ky) * 3 + kx] as f64;
                        }
                    }
                }
                y[(oc * oh + oy) * ow + ox] = acc.clamp(0.0, 1.0);
            }
        }
    }
    y
}

/// The wasm build multiplies f32 matrices with edgewise's 4×8 kernel (tract-linalg's 8×8 when
/// `gemmKernel` is "tract"); both match a plain f64 product, with tract's fused bias, clamp and
/// residual epilogue, on shapes that fill no tile exactly.
#[wasm_bindgen_test]
async fn both_gemm_kernels_match_a_plain_product() {
    started();
    assert_eq!(
        edgewise_kernels::selected_f32_kernel(64, 64, 64).as_deref(),
        Some(edgewise_kernels::gemm::NAME)
    );
    for kernel in ["tract", "edgewise"] {
        assert!(edgewise_wasm::set_gemm_kernel(kernel).is_ok());
        let expect_ours = kernel == "edgewise";
        let selected = edgewise_kernels::selected_f32_kernel(64, 64, 64);
        assert_eq!(
            selected.as_deref() == Some(edgewise_kernels::gemm::NAME),
            expect_ours,
            "{selected:?}"
        );
        for (seed, &(m, k, n)) in [
            (13, 37, 29),
            (64, 64, 64),
            (7, 300, 9),
            (33, 8, 17),
            (2, 3, 40),
        ]
        .iter()
        .enumerate()
        {
            let seed = seed as u32 * 4 + 1;
            let (w, b) = (
                pseudo_random(k * n, seed, 1.0),
                pseudo_random(n, seed + 1, 1.0),
            );
            let (x, r) = (
                pseudo_random(m * k, seed + 2, 1.0),
                pseudo_random(m * n, seed + 3, 1.0),
            );
            let s = create(&gemm_model(k, n, &w, &b)).await.unwrap();
            let got = run_f32(&s, &[("x", &x, &[m, k]), ("r", &r, &[m, n])]).await;
            assert_close(
                &got,
                &naive_gemm(&x, &w, &b, &r, m, k, n),
                &format!("{kernel} gemm {m}x{k}x{n}"),
            );
        }
        for (seed, &(c, o, h, wd, stride)) in
            [(3, 8, 9, 11, 1), (5, 12, 16, 16, 2), (16, 6, 7, 5, 1)]
                .iter()
                .enumerate()
        {
            let seed = seed as u32 * 3 + 40;
            let (w, b) = (
                pseudo_random(o * c * 9, seed, 1.0),
                pseudo_random(o, seed + 1, 1.0),
            );
            let x = pseudo_random(c * h * wd, seed + 2, 1.0);
            let s = create(&conv_model(c, o, stride as i64, &w, &b))
                .await
                .unwrap();
            let got = run_f32(&s, &[("x", &x, &[1, c, h, wd])]).await;
            let want = naive_conv(&x, &w, &b, c, o, h, wd, stride);
            assert_close(
                &got,
                &want,
                &format!("{kernel} conv {c}->{o} {h}x{wd} /{stride}"),
            );
        }
    }
    assert!(edgewise_wasm::set_gemm_kernel("edgewise").is_ok());
    assert!(edgewise_wasm::set_gemm_kernel("mlas").is_err());
}
