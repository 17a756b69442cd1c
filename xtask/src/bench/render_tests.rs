//! Tests of the `bench/RESULTS.md` rendering.
use super::*;

#[test]
fn geometric_mean_of_ratios() {
    assert_eq!(geometric_mean(&[]), None);
    assert_eq!(geometric_mean(&[1.0, 0.0]), None);
    assert_eq!(geometric_mean(&[f64::NAN]), None);
    let g = geometric_mean(&[2.0, 0.5]).unwrap();
    assert!((g - 1.0).abs() < 1e-12);
    let g = geometric_mean(&[1.0, 2.0, 4.0]).unwrap();
    assert!((g - 2.0).abs() < 1e-12);
    let g = geometric_mean(&[1.5]).unwrap();
    assert!((g - 1.5).abs() < 1e-12);
}

#[test]
fn number_formats() {
    assert_eq!(fmt_ms(1234.4), "1234");
    assert_eq!(fmt_ms(123.46), "123");
    assert_eq!(fmt_ms(12.345), "12.3");
    assert_eq!(fmt_ms(1.2345), "1.23");
    assert_eq!(fmt_ratio(1.234), "1.23×");
    assert_eq!(fmt_mb(3_548_884), "3.55 MB");
    assert_eq!(fmt_kb(36_959), "37.0 kB");
    assert_eq!(fmt_mib(14_548_992), "13.9 MiB");
    assert_eq!(fmt_diff(Some(0.0)), "0");
    assert_eq!(fmt_diff(Some(1.49e-8)), "1.5e-8");
    assert_eq!(fmt_diff(Some(f64::INFINITY)), "∞");
    assert_eq!(fmt_diff(None), "∞");
}

#[test]
fn notes_are_nested_under_their_section() {
    let note = "# Profile of zfnet512\n\nIntro.\n\n## Where time goes\n\ntext\n\n\
                ```sh\n# a shell comment\n```\n\n### Detail\n";
    let out = embed_note(note);
    assert!(!out.contains("Profile of zfnet512"));
    assert!(out.starts_with("Intro."));
    assert!(out.contains("\n### Where time goes\n"));
    assert!(out.contains("\n#### Detail\n"));
    assert!(out.contains("\n# a shell comment\n"), "{out}");
    // Already deep enough: unchanged apart from the title.
    assert_eq!(embed_note("### A\nb\n"), "b\n");
    assert_eq!(embed_note("text\n#### A\n"), "text\n#### A\n");
    assert_eq!(heading_level("#hashtag"), None);
}

fn sample() -> Results {
    serde_json::from_value(serde_json::json!({
        "meta": {
            "date": "2026-01-02T03:04:05.000Z", "node": "v20.0.0", "cpu": "Test CPU",
            "cores": 2, "loadAverage": { "start": 1.5, "end": 2.25 }, "edgewise": "0.1.0", "ort": "1.30.0", "ortNumThreads": 1,
            "runs": 30, "warmup": 2, "input": "(i % 255) / 255 - 0.5", "relTolerance": 0.001
        },
        "startup": { "edgewise": 120.0, "ort": 330.0 },
        "models": [
            {
                "name": "a",
                "edgewise": { "cold": { "create": 800.0, "firstRun": 400.0, "total": 1200.0 }, "median": 40.0, "p95": 50.0 },
                "ort": { "cold": { "create": 100.0, "firstRun": 300.0, "total": 400.0 }, "median": 20.0, "p95": 30.0 },
                "agreement": { "maxAbs": 0.0, "rel": 0.0, "refMin": 0.001, "refMax": 0.001, "uniform": true },
                "check": { "maxAbs": 1.5e-8, "rel": 3e-7, "uniform": false, "top1Agree": true }
            },
            {
                "name": "b",
                "edgewise": { "median": 10.0, "p95": 12.0 },
                "ort": { "median": 20.0, "p95": 25.0 },
                "agreement": { "maxAbs": 1e-7, "rel": 1e-6, "uniform": false }
            }
        ],
        "batch": null,
        "memory": {
            "afterStart": { "edgewise": 1638400, "ort": 16777216 },
            "highWater": { "edgewise": 20971520, "ort": 10485760 },
            "perModel": { "a": { "peak": { "edgewise": 2097152, "ort": 1048576 } } }
        },
        "sizes": {
            "edgewise": {
                "wasm": { "file": "pkg/wasm/edgewise_bg.wasm", "raw": 13000000, "gzip": 3500000 },
                "js": [{ "file": "pkg/index.js", "raw": 9000, "gzip": 3000 }],
                "jsTotal": { "raw": 9000, "gzip": 3000 }, "total": { "raw": 13009000, "gzip": 3503000 }
            },
            "ort": {
                "wasm": { "file": "node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm", "raw": 14000000, "gzip": 3600000 },
                "wasmVerifiedLoaded": true,
                "js": [{ "file": "node_modules/onnxruntime-web/dist/ort.wasm.min.mjs", "raw": 50000, "gzip": 16000 }],
                "jsTotal": { "raw": 50000, "gzip": 16000 }, "total": { "raw": 14050000, "gzip": 3616000 }
            }
        },
        "failures": []
    }))
    .expect("sample parses")
}

fn machine() -> Machine {
    Machine {
        cpu: "Test CPU".into(),
        cores: 2,
        node: "v20.0.0".into(),
        edgewise: "0.1.0".into(),
        ort: "1.30.0".into(),
    }
}

#[test]
fn renders_tables_goal_and_notes() {
    let notes = Notes {
        ops: None,
        levers: None,
        profile: Some("# Profile\n\n## Ops\n\nconv dominates\n".into()),
    };
    let md = render(&sample(), &[], None, &machine(), &notes);
    // Ratios 2.0 and 0.5: geometric mean 1.0.
    assert!(
        md.contains(
            "geometric mean of edgewise/ORT = **1.00×** over 2 models (goal ≤ 0.80×): not met"
        ),
        "{md}"
    );
    assert!(
        md.contains("| a | 40.0 | 50.0 | 1200 | 20.0 | 30.0 | 400 | 2.00× |"),
        "{md}"
    );
    assert!(
        md.contains("| b | 10.0 | 12.0 | – | 20.0 | 25.0 | – | 0.50× |"),
        "{md}"
    );
    assert!(md.contains("| **geometric mean** | | | | | | | **1.00×** |"));
    assert!(
        md.contains("| a | 0 (rel 0), all = 0.0010 | 1.5e-8 (rel 3.0e-7), top-1 same |"),
        "{md}"
    );
    assert!(md.contains("| a | 2.0 MiB | 1.0 MiB | 2.00× |"));
    assert!(
        md.contains("| **total** | 13.01 MB | **3.50 MB** | 14.05 MB | **3.62 MB** | **0.97×** |"),
        "{md}"
    );
    assert!(md.contains("smaller"));
    assert!(md.contains("## Speed and size levers\n\n_Not written yet (`bench/levers.md`)._"));
    assert!(
        md.contains("## Profile\n\n### Ops\n\nconv dominates\n"),
        "{md}"
    );
    assert!(md.contains("| CPU | Test CPU |"));
    assert!(md.contains("| load average (1 min), start / end of the run | 1.50 / 2.25 |"));
    assert!(md.contains("agree within 0.001 relative"));
}

#[test]
fn renders_failures() {
    let mut r = sample();
    r.failures = vec!["a: relative difference 0.5".into()];
    let md = render(&r, &[], None, &machine(), &Notes::default());
    assert!(
        md.contains("**Outputs disagree** beyond 0.001 relative:\n  - a: relative difference 0.5")
    );
}

#[test]
fn renders_thread_runs_in_their_own_section() {
    let mut two = sample();
    two.meta.threads = 2;
    let ratio = two.models[0].ratio();
    let md = render(&sample(), &[two], None, &machine(), &Notes::default());
    assert!(md.contains("## Multi-threaded\n"), "{md}");
    assert!(md.contains("### 2 threads\n"), "{md}");
    assert!(md.contains("| a | 40.0 (50.0) |"), "{md}");
    assert!(md.contains(&fmt_ratio(ratio)), "{md}");
    let single = render(&sample(), &[], None, &machine(), &Notes::default());
    assert!(!single.contains("## Multi-threaded"));
    assert_eq!(
        sample().meta.threads,
        1,
        "results without the field ran one thread"
    );
}

#[test]
fn renders_the_browser_run_in_its_own_section() {
    let browser: BrowserResults = serde_json::from_value(serde_json::json!({
        "meta": { "userAgent": "HeadlessChrome/156", "runs": 10 },
        "models": [{
            "name": "ppocr-det",
            "edgewise": { "cold": { "create": 287.0, "firstRun": 90.0 }, "median": 64.0, "p95": 70.0 },
            "ort": { "cold": { "create": 812.0, "firstRun": 80.0 }, "median": 32.0, "p95": 40.0 },
            "agreement": { "maxAbs": 4.8e-5, "rel": 1e-5 }
        }]
    }))
    .unwrap();
    let md = render(
        &sample(),
        &[],
        Some(&browser),
        &machine(),
        &Notes::default(),
    );
    assert!(md.contains("## In headless Chromium\n"), "{md}");
    assert!(md.contains("(HeadlessChrome/156)"), "{md}");
    assert!(
        md.contains(
            "| ppocr-det | 287 | 90.0 | 64.0 (70.0) | 812 | 80.0 | 32.0 (40.0) | 2.00× | 4.8e-5 |"
        ),
        "{md}"
    );
    assert!(
        md.contains("| **geometric mean** | | | | | | | **2.00×** | |"),
        "{md}"
    );
    let without = render(&sample(), &[], None, &machine(), &Notes::default());
    assert!(!without.contains("In headless Chromium"));
}
