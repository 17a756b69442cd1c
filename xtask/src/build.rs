//! Builds the npm package into `pkg/` (git-ignored): the wasm module with its wasm-bindgen
//! glue in `pkg/wasm/`, the multi-threaded build of the same crate in `pkg/wasm-mt/`, and the
//! hand-written API (`index.js`, `index.d.ts`, `pipeline.js`, `tasks.js`, the module loader
//! `load.js`, the byte sources `source.js`, the worker `thread.js`) beside them, and the
//! committed models in `pkg/models/`.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cmd::{Cmd, artifact_of, cargo_artifact, root};

/// wasm-opt settings for the package.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// wasm-opt level (`O3`, `Oz`, …) or `none` to skip wasm-opt.
    pub wasm_opt: String,
    /// Cargo profile for the wasm build.
    pub profile: String,
}

impl Default for BuildOptions {
    /// `-Os`: the same download as `-O3` and no measurable difference in speed, in 60 % of
    /// its time (bench/levers.md); wasm-opt on the two modules was most of the package build.
    fn default() -> Self {
        BuildOptions {
            wasm_opt: "Os".into(),
            profile: "wasm".into(),
        }
    }
}

/// Features every browser edgewise supports has; wasm-opt may use them.
const WASM_FEATURES: [&str; 7] = [
    "--enable-simd",
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

pub fn pkg_dir() -> PathBuf {
    root().join("pkg")
}

/// Compiles the wasm crate and returns its `.wasm`.
///
/// The library is built by `cargo test --no-run` rather than `cargo build`: the wasm tests
/// need it built with dev-dependencies in the graph, and one build for both keeps tract from
/// being compiled twice for wasm32 (a plain build resolves host proc-macro features
/// differently). The GPU kernel tests are selected too, for the same reason: every wasm32
/// build resolves the same feature set.
pub fn cargo_wasm(profile: &str) -> Result<PathBuf> {
    let args = [
        "-p",
        "edgewise-wasm",
        "-p",
        "edgewise-gpu",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        profile,
    ];
    cargo_artifact(&args, "edgewise_wasm", "cdylib", "cargo build (wasm32)")
}

/// Compiles the multi-threaded build of the wasm crate and returns its `.wasm`.
///
/// wasm threads need the standard library itself compiled with atomics, which stable Rust
/// does through `-Z build-std` (allowed by `RUSTC_BOOTSTRAP`; the `rust-src` component holds
/// the sources). Different flags make every crate differ from the single-threaded build, so
/// it has a target directory of its own. The linker flags make the memory shared and imported
/// (each worker instantiates the module on the same one), declare its maximum (4 GiB, all
/// that wasm32 addresses), and export the thread-local storage symbols wasm-bindgen uses to
/// set up each thread.
pub fn cargo_wasm_threads(profile: &str) -> Result<PathBuf> {
    let cmd = Cmd::new("cargo")
        .args([
            "build",
            "--message-format=json-render-diagnostics",
            "-p",
            "edgewise-wasm",
            "--lib",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            profile,
            "-Z",
            "build-std=std,panic_abort",
            "--target-dir",
        ])
        .arg(root().join("target/threads").display().to_string())
        .env("RUSTC_BOOTSTRAP", "1")
        .env(
            "RUSTFLAGS",
            [
                "-C target-feature=+simd128,+atomics,+bulk-memory,+mutable-globals",
                "-C link-arg=--shared-memory",
                "-C link-arg=--import-memory",
                "-C link-arg=--max-memory=4294967296",
                "-C link-arg=--export=__wasm_init_tls",
                "-C link-arg=--export=__tls_size",
                "-C link-arg=--export=__tls_align",
                "-C link-arg=--export=__tls_base",
            ]
            .join(" "),
        );
    artifact_of(
        cmd,
        "edgewise_wasm",
        "cdylib",
        "cargo build (wasm32, threads)",
    )
}

/// Runs wasm-bindgen (and wasm-opt) on `raw` into `pkg/<dir>/`, unless the stamp says the
/// same input was already processed with the same settings.
fn bindgen(raw: &std::path::Path, dir: &str, opts: &BuildOptions) -> Result<PathBuf> {
    let wasm_dir = pkg_dir().join(dir);
    let bytes = fs::read(raw).with_context(|| format!("reading {}", raw.display()))?;
    let mut h = DefaultHasher::new();
    (bytes, &opts.wasm_opt, crate::setup::wasm_bindgen_version()?).hash(&mut h);
    let stamp = format!("{:016x}", h.finish());
    let stamp_file = root().join(format!("target/pkg-{dir}.stamp"));
    let module = wasm_dir.join("edgewise_bg.wasm");
    if fs::read_to_string(&stamp_file).ok().as_deref() != Some(stamp.as_str()) || !module.exists() {
        let _ = fs::remove_dir_all(&wasm_dir);
        Cmd::new("wasm-bindgen")
            .args(["--target", "web", "--out-name", "edgewise", "--out-dir"])
            .arg(wasm_dir.display().to_string())
            .arg(raw.display().to_string())
            .run_quiet("wasm-bindgen")?;
        if opts.wasm_opt != "none" {
            let wasm_opt = root().join("node_modules/.bin/wasm-opt");
            let m = module.display().to_string();
            let mut cmd = Cmd::new(wasm_opt.display().to_string())
                .arg(format!("-{}", opts.wasm_opt))
                .args(WASM_FEATURES);
            if dir != "wasm" {
                cmd = cmd.arg("--enable-threads");
            }
            cmd.args([m.as_str(), "-o", m.as_str()])
                .run_quiet("wasm-opt")?;
        }
        fs::write(&stamp_file, stamp)?;
    }
    let size = fs::metadata(&module)?.len();
    println!("  pkg/{dir}/edgewise_bg.wasm: {:.2} MB", size as f64 / 1e6);
    Ok(module)
}

pub fn build(opts: &BuildOptions) -> Result<()> {
    let raw = cargo_wasm(&opts.profile)?;
    // wasm-bindgen and wasm-opt on the single-threaded module run beside the compile of the
    // multi-threaded one, whose long last step (fat LTO into one codegen unit) leaves a core
    // idle.
    std::thread::scope(|s| {
        let single = s.spawn(|| bindgen(&raw, "wasm", opts));
        let threaded =
            cargo_wasm_threads(&opts.profile).and_then(|raw| bindgen(&raw, "wasm-mt", opts));
        let single = single
            .join()
            .map_err(|_| anyhow::anyhow!("wasm-bindgen of the single-threaded module panicked"))?;
        single.and(threaded).map(drop)
    })?;
    let pkg = pkg_dir();
    let js = root().join("crates/edgewise-wasm/js");
    let version = env!("CARGO_PKG_VERSION");
    for f in JS_FILES {
        let text = fs::read_to_string(js.join(f)).with_context(|| format!("reading {f}"))?;
        fs::write(pkg.join(f), text.replace("__EDGEWISE_VERSION__", version))?;
    }
    write_types(&pkg.join("wasm/edgewise.d.ts"), &pkg.join("types.d.ts"))?;
    copy_models(&pkg.join("models"))
}

/// Copies the TypeScript types generated from the Rust structs (tsify's `export interface` and
/// `export type` declarations, with their doc comments) out of wasm-bindgen's `.d.ts` into
/// `types.d.ts`, which `index.d.ts` imports. The rest of wasm-bindgen's `.d.ts` (the raw
/// exports) needs the `esnext.disposable` library; the types alone need nothing.
fn write_types(generated: &std::path::Path, out: &std::path::Path) -> Result<()> {
    let text = fs::read_to_string(generated)
        .with_context(|| format!("reading {}", generated.display()))?;
    let mut types = String::from(
        "// Types of the results and options computed in Rust, generated from the Rust structs\n\
         // (tsify) by wasm-bindgen and copied here by `cargo xtask build`. Do not edit.\n",
    );
    let mut doc: Vec<&str> = Vec::new();
    let mut lines = text.lines();
    let mut count = 0;
    while let Some(line) = lines.next() {
        if line.starts_with("/**")
            || (!doc.is_empty() && !doc.last().is_some_and(|l| l.ends_with("*/")))
        {
            doc.push(line);
            continue;
        }
        let name = line
            .strip_prefix("export interface ")
            .or_else(|| line.strip_prefix("export type "))
            .and_then(|rest| rest.split([' ', '<', '=']).next());
        let wanted =
            name.is_some_and(|n| !["InitInput", "SyncInitInput", "InitOutput"].contains(&n));
        if wanted {
            types.push('\n');
            for l in doc.drain(..) {
                types.push_str(l);
                types.push('\n');
            }
            types.push_str(line);
            types.push('\n');
            let single = line.starts_with("export type ") && line.ends_with(';');
            if !single {
                let close = if line.starts_with("export type ") {
                    ";"
                } else {
                    "}"
                };
                for l in lines.by_ref() {
                    types.push_str(l);
                    types.push('\n');
                    if (close == "}" && l == "}") || (close == ";" && l.ends_with(';')) {
                        break;
                    }
                }
            }
            count += 1;
        }
        doc.clear();
    }
    if count == 0 {
        anyhow::bail!("{} declares no generated types", generated.display());
    }
    fs::write(out, types).with_context(|| format!("writing {}", out.display()))
}

/// The package's hand-written JS and its types, from `crates/edgewise-wasm/js/`.
const JS_FILES: [&str; 7] = [
    "index.js",
    "load.js",
    "source.js",
    "pipeline.js",
    "tasks.js",
    "index.d.ts",
    "thread.js",
];

/// Copies the committed models (`onnx/*.onnx`, the ones the manifest lists) into
/// `pkg/models/`, the package's `edgewise/models/*` export, replacing what was there.
fn copy_models(dir: &std::path::Path) -> Result<()> {
    let onnx = root().join("onnx");
    let text =
        fs::read_to_string(onnx.join("manifest.json")).context("reading onnx/manifest.json")?;
    let manifest: serde_json::Value =
        serde_json::from_str(&text).context("parsing onnx/manifest.json")?;
    let models = manifest["models"]
        .as_object()
        .context("onnx/manifest.json has no models")?;
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir)?;
    for (id, entry) in models {
        let file = entry["file"]
            .as_str()
            .with_context(|| format!("onnx/manifest.json: {id} has no file"))?;
        fs::copy(onnx.join(file), dir.join(file))
            .with_context(|| format!("copying onnx/{file}"))?;
    }
    Ok(())
}
