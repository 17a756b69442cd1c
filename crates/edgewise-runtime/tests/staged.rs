//! Models mixing standard and edgewise operators: staging, the GPU path, and every GPU fault
//! falling back to the CPU with the same results and a report saying why.

use edgewise_onnx::fixtures::{self, BORDER_BORDER, BORDER_SCALE};
use edgewise_runtime::{
    GpuOptions, Placement, Provider, Session, SessionOptions, StageKind, Tensor, TensorData,
};

fn options(gpu: GpuOptions) -> SessionOptions {
    SessionOptions {
        providers: vec![Provider::WebGpu, Provider::Cpu],
        gpu,
        ..Default::default()
    }
}

fn border_round(x: f32, s: f32, b: f32, lo: f32, hi: f32) -> f32 {
    let v = x / s;
    let f = v.floor();
    let q = if v - f >= b { f + 1.0 } else { f };
    q.clamp(lo, hi) * s
}

/// The chain computed directly from its definition in the fixture's docs.
fn expected(x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let q: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = (i / 8) % 4;
            border_round(v * 2.0, BORDER_SCALE[c], BORDER_BORDER[c], -8.0, 7.0)
        })
        .collect();
    let y = q
        .iter()
        .map(|&v| border_round(v, 0.5, 0.5, -4.0, 4.0).max(0.0))
        .collect();
    (y, q)
}

fn input(batch: usize) -> Vec<f32> {
    (0..batch * 32)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 23.0)
        .collect()
}

fn run(session: &mut Session, batch: usize) -> (Vec<f32>, Vec<f32>) {
    let x = Tensor::new(TensorData::F32(input(batch)), vec![batch, 4, 8]).unwrap();
    let out = session
        .run(vec![("x".into(), x)])
        .expect("the run succeeds");
    let get = |i: usize| match out[i].1.data() {
        TensorData::F32(v) => v.clone(),
        other => panic!("float output expected, got {other:?}"),
    };
    assert_eq!(out[0].0, "y");
    assert_eq!(out[1].0, "q");
    (get(0), get(1))
}

#[test]
fn the_plan_has_cpu_gpu_cpu_stages_and_runs_the_gpu_stage_on_the_gpu() {
    let mut s = Session::new(&fixtures::border_chain(), &options(GpuOptions::default())).unwrap();
    let kinds: Vec<_> = s.stages().iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [StageKind::Cpu, StageKind::Gpu, StageKind::Cpu]);
    assert_eq!(s.stages()[1].nodes.len(), 2, "{:?}", s.stages());
    assert!(s.adapter().is_some());
    for batch in [1, 3] {
        let (y, q) = run(&mut s, batch);
        let (want_y, want_q) = expected(&input(batch));
        assert_eq!(q, want_q);
        assert_eq!(y, want_y);
    }
    let gpu = &s.stages()[1];
    assert_eq!(gpu.placement, Placement::Gpu, "{gpu:?}");
    assert_eq!(gpu.fallback, None);
}

#[test]
fn the_cpu_provider_runs_one_tract_plan_with_the_same_results() {
    let mut s = Session::new(&fixtures::border_chain(), &SessionOptions::default()).unwrap();
    assert_eq!(s.stages().len(), 1);
    assert_eq!(s.stages()[0].placement, Placement::Cpu);
    let (y, q) = run(&mut s, 2);
    assert_eq!((y, q), expected(&input(2)));
}

fn assert_falls_back(gpu: GpuOptions, kind: &str) {
    let mut s = Session::new(&fixtures::border_chain(), &options(gpu)).unwrap();
    let (y, q) = run(&mut s, 2);
    assert_eq!((y, q), expected(&input(2)));
    let stage = &s.stages()[1];
    assert_eq!(stage.placement, Placement::Cpu, "{stage:?}");
    let why = stage.fallback.as_deref().unwrap_or_default();
    assert!(why.contains(kind), "fallback should say {kind}: {why:?}");
}

#[test]
fn no_adapter_runs_the_gpu_stage_on_the_cpu_and_says_so() {
    assert_falls_back(
        GpuOptions {
            simulate_no_adapter: true,
            ..Default::default()
        },
        "no-adapter",
    );
}

#[test]
fn a_shader_that_does_not_compile_falls_back() {
    assert_falls_back(
        GpuOptions {
            simulate_compile_failure: true,
            ..Default::default()
        },
        "compile",
    );
}

#[test]
fn a_buffer_over_the_device_limit_falls_back() {
    assert_falls_back(
        GpuOptions {
            max_buffer_bytes: 64,
            ..Default::default()
        },
        "too-large",
    );
}

#[test]
fn a_lost_device_reruns_on_the_cpu_with_the_same_results() {
    let mut s = Session::new(&fixtures::border_chain(), &options(GpuOptions::default())).unwrap();
    let first = run(&mut s, 2);
    assert_eq!(s.stages()[1].placement, Placement::Gpu);
    s.simulate_device_loss();
    let second = run(&mut s, 2);
    assert_eq!(first, second);
    let stage = &s.stages()[1];
    assert_eq!(stage.placement, Placement::Cpu);
    assert!(
        stage
            .fallback
            .as_deref()
            .unwrap_or_default()
            .contains("device-lost"),
        "{stage:?}"
    );
    // And it stays usable.
    assert_eq!(run(&mut s, 1), expected(&input(1)));
}

fn floats(out: &[(String, Tensor)], i: usize) -> Vec<f32> {
    match out[i].1.data() {
        TensorData::F32(v) => v.clone(),
        other => panic!("float output expected, got {other:?}"),
    }
}

#[test]
fn a_model_with_four_edgewise_operators_matches_its_cpu_run() {
    let bytes = fixtures::dct_codec();
    let mut gpu = Session::new(&bytes, &options(GpuOptions::default())).unwrap();
    let mut cpu = Session::new(&bytes, &SessionOptions::default()).unwrap();
    let kinds: Vec<_> = gpu.stages().iter().map(|r| r.kind).collect();
    use StageKind::{Cpu, Gpu};
    assert_eq!(kinds, [Cpu, Gpu, Cpu, Gpu, Cpu], "{:?}", gpu.stages());
    let image: Vec<f32> = (0..2 * 32 * 32)
        .map(|i| {
            let (y, x) = ((i / 32 % 32) as f32, (i % 32) as f32);
            0.5 + 0.4 * (x / 5.0).sin() * (y / 7.0).cos()
        })
        .collect();
    let feed = || {
        vec![(
            "x".to_string(),
            Tensor::new(TensorData::F32(image.clone()), vec![2, 1, 32, 32]).unwrap(),
        )]
    };
    let want = cpu.run(feed()).unwrap();
    let got = gpu.run(feed()).unwrap();
    for r in gpu.stages().iter().filter(|r| r.kind == Gpu) {
        assert_eq!(r.placement, Placement::Gpu, "{r:?}");
        assert_eq!(r.fallback, None);
    }
    // recon: float differences in the DCTs can move a coefficient that sits on a rounding
    // border by one step (0.05), which moves pixels by at most 0.05 · 2/8.
    let (g, w) = (floats(&got, 0), floats(&want, 0));
    let worst = g
        .iter()
        .zip(&w)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst <= 0.0125 + 1e-5, "recon differs by {worst}");
    let (g, w) = (floats(&got, 1), floats(&want, 1));
    assert_eq!(g.len(), 2);
    for (a, b) in g.iter().zip(&w) {
        assert!((a - b).abs() < 1e-3, "score {a} vs {b}");
        assert!(*b > 0.5 && *b <= 1.0, "an SSIM score: {b}");
    }
}
