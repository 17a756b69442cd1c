//! Builds the npm package into `pkg/` (git-ignored): the wasm module with its wasm-bindgen
//! glue in `pkg/wasm/`, and the hand-written API (`index.js`, `index.d.ts`) beside it.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cmd::{Cmd, cargo_artifact, root};

/// wasm-opt settings for the package.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// wasm-opt level (`O3`, `Oz`, …) or `none` to skip wasm-opt.
    pub wasm_opt: String,
    /// Cargo profile for the wasm build.
    pub profile: String,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            wasm_opt: "O3".into(),
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

pub fn build(opts: &BuildOptions) -> Result<()> {
    let raw = cargo_wasm(&opts.profile)?;
    let pkg = pkg_dir();
    let wasm_dir = pkg.join("wasm");
    let bytes = fs::read(&raw).with_context(|| format!("reading {}", raw.display()))?;
    let mut h = DefaultHasher::new();
    (bytes, &opts.wasm_opt, crate::setup::wasm_bindgen_version()?).hash(&mut h);
    let stamp = format!("{:016x}", h.finish());
    let stamp_file = root().join("target/pkg-wasm.stamp");
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
            Cmd::new(wasm_opt.display().to_string())
                .arg(format!("-{}", opts.wasm_opt))
                .args(WASM_FEATURES)
                .args([m.as_str(), "-o", m.as_str()])
                .run_quiet("wasm-opt")?;
        }
        fs::write(&stamp_file, stamp)?;
    }
    let js = root().join("crates/edgewise-wasm/js");
    let version = env!("CARGO_PKG_VERSION");
    for f in ["index.js", "index.d.ts"] {
        let text = fs::read_to_string(js.join(f)).with_context(|| format!("reading {f}"))?;
        fs::write(pkg.join(f), text.replace("__EDGEWISE_VERSION__", version))?;
    }
    let size = fs::metadata(&module)?.len();
    println!("  pkg/wasm/edgewise_bg.wasm: {:.2} MB", size as f64 / 1e6);
    Ok(())
}
