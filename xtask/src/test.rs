//! `cargo xtask test`: everything, in the order that fails fastest.

use anyhow::Result;

use crate::cmd::{Cmd, NATIVE, Steps, cargo_artifact, root};
use crate::{build, conformance, serve, setup};

/// Where the JS tests find the fixture models.
pub const FIXTURES: &str = "target/fixtures";

/// Chromium's SwiftShader Vulkan driver: Dawn (the npm `webgpu` package) needs a newer Vulkan
/// than Debian's lavapipe offers, and runs on this one.
const SWIFTSHADER_ICD: &str = "/usr/lib/chromium/vk_swiftshader_icd.json";

/// Chromium flags shared by every browser test: headless WebGPU on SwiftShader, and no
/// traffic to the outside.
pub const CHROMIUM_ARGS: [&str; 7] = [
    "--headless=new",
    "--no-sandbox",
    "--enable-unsafe-webgpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
];

/// Runs wasm-bindgen test targets (`web`: the package's exports; `kernels`: GPU programs
/// against CPU kernels, browser only).
fn wasm_tests(tests: &[&str], browser: bool) -> Result<()> {
    wasm_test_cmd(tests, browser, &[])?.run()
}

/// The command running wasm-bindgen test targets in Node or headless Chromium.
///
/// Every wasm32 build must select the same units as the package's build, or its dependencies
/// get other hashes and are compiled again (tract, wgpu: minutes). Both packages are always
/// selected, for one feature set; and the `web` target belongs in every selection of
/// `cargo xtask test`, because a unit graph that holds the wasm crate's library (a cdylib)
/// builds every dependency for linking with LTO differently from one that holds only rlibs.
pub fn wasm_test_cmd(tests: &[&str], browser: bool, extra: &[&str]) -> Result<Cmd> {
    let mut c = Cmd::new("cargo").args([
        "test",
        "-p",
        "edgewise-wasm",
        "-p",
        "edgewise-gpu",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "wasm",
    ]);
    for t in tests {
        c = c.args(["--test", t]);
    }
    c = c.args(extra);
    if browser {
        let caps = serde_json::json!({ "goog:chromeOptions": { "args": CHROMIUM_ARGS, "binary": "/usr/bin/chromium" } });
        let path = root().join("target/webdriver.json");
        std::fs::create_dir_all(root().join("target"))?;
        std::fs::write(&path, serde_json::to_string_pretty(&caps)?)?;
        c = c
            .env("WASM_BINDGEN_USE_BROWSER", "1")
            // The whole file runs in one page; the GPU kernels on SwiftShader take a while.
            .env("WASM_BINDGEN_TEST_TIMEOUT", "600")
            .env("CHROMEDRIVER", "/usr/bin/chromedriver")
            .env(
                "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
                path.display().to_string(),
            );
    }
    Ok(c)
}

pub fn test() -> Result<()> {
    quiet_mesa()?;
    let mut steps = Steps::new();
    let result = run_all(&mut steps);
    steps.summary();
    result
}

/// Mesa's Vulkan drivers (the GPU tests run on lavapipe) complain on every device when
/// `XDG_RUNTIME_DIR` is unset, as it is in CI containers: give them a private one.
fn quiet_mesa() -> Result<()> {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        let dir = root().join("target/xdg-runtime");
        std::fs::create_dir_all(&dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        }
        // SAFETY: called at the start of the single-threaded command, before any thread runs.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
    Ok(())
}

fn run_all(steps: &mut Steps) -> Result<()> {
    steps.step("setup", || setup::setup(setup::Need::Everything))?;
    steps.step("format", || {
        Cmd::new("cargo").args(["fmt", "--all", "--check"]).run()
    })?;
    steps.step("clippy", || {
        Cmd::new("cargo")
            .args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ])
            .run_quiet("clippy")
            .map(drop)
    })?;
    steps.step("Rust tests (native)", || {
        Cmd::new("cargo").arg("test").args(NATIVE).run()
    })?;
    steps.step("wasm-bindgen tests in Node", || wasm_tests(&["web"], false))?;
    steps.step(
        "wasm-bindgen tests in headless Chromium, GPU kernels against CPU (WebGPU) included",
        || wasm_tests(&["web", "kernels"], true),
    )?;
    steps.step(
        "build the npm package",
        || build::build(&Default::default()),
    )?;
    steps.step("write fixture models", || {
        let writer = cargo_artifact(&NATIVE, "write-fixtures", "bin", "fixture writer")?;
        Cmd::new(writer.display().to_string()).arg(FIXTURES).run()?;
        let written = std::fs::read_dir(FIXTURES)
            .map(|d| d.filter_map(|e| e.ok()).count())
            .unwrap_or(0);
        if written == 0 {
            anyhow::bail!("the fixture writer left {FIXTURES} empty");
        }
        Ok(())
    })?;
    steps.step(
        "train every system (--quick), parity of burn and tract, parity cases",
        || {
            let trainer = crate::train::trainer()?;
            Cmd::new(trainer.display().to_string())
                .args(["parity", "--out", crate::train::PARITY])
                .run()
        },
    )?;
    steps.step(
        "reproduce every system (--quick): the comparisons run end to end",
        || {
            let trainer = crate::train::trainer()?;
            for system in crate::train::systems()? {
                Cmd::new(trainer.display().to_string())
                    .args(["reproduce", &system, "--quick"])
                    .args(["--runs", "target/reproduce/quick"])
                    .args(["--results", "target/reproduce/results"])
                    .run()?;
                let md =
                    std::path::Path::new("target/reproduce/results").join(format!("{system}.md"));
                let text = std::fs::read_to_string(&md)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", md.display()))?;
                if !text.contains("| --- ") {
                    anyhow::bail!("{} has no comparison table", md.display());
                }
                if !text.contains("**Bar: met") && !text.contains("**Bar: not met") {
                    anyhow::bail!("{} does not say whether the bar is met", md.display());
                }
            }
            Ok(())
        },
    )?;
    steps.step("parity: onnx.checker and onnxruntime (Python)", || {
        Cmd::new(setup::python().display().to_string())
            .args(["tests/parity/check.py", crate::train::PARITY])
            .run()
    })?;
    steps.step(
        "third-party models: cases and onnxruntime's outputs",
        || {
            Cmd::new(setup::python().display().to_string())
                .args(["tests/models/collection.py", "cases"])
                .run()
        },
    )?;
    steps.step(
        "third-party models natively (edgewise-runtime)",
        third_party_native,
    )?;
    steps.step("host: Node", || {
        Cmd::new("node").args(["--test", "tests/node/"]).run()
    })?;
    steps.step("host: Deno", || {
        Cmd::new(root().join("node_modules/.bin/deno").display().to_string())
            .args([
                "test",
                "--allow-read",
                "--allow-env",
                "--no-prompt",
                "tests/deno/",
            ])
            .run()
    })?;
    steps.step("host: Bun", || {
        Cmd::new("node").args(["--test", "tests/hosts/bun/"]).run()
    })?;
    steps.step("host: workerd (Cloudflare's runtime)", || {
        Cmd::new("node")
            .args(["--test", "tests/hosts/workerd/"])
            .run()
    })?;
    steps.step("host: Node with WebGPU (Dawn, npm webgpu)", || {
        Cmd::new("node")
            .args(["--test", "tests/hosts/dawn/"])
            .env("VK_ICD_FILENAMES", SWIFTSHADER_ICD)
            .run()
    })?;
    steps.step("host: Vite bundle", build_vite_app)?;
    let (base, _server) = serve::start(0)?;
    steps.step(
        "browser: page, worker, Vite bundle and demo in headless Chromium",
        || {
            Cmd::new("node")
                .args(["--test", "--test-concurrency=1", "tests/browser/"])
                .env("EDGEWISE_BASE_URL", &base)
                .env("EDGEWISE_CHROMIUM_ARGS", CHROMIUM_ARGS.join(" "))
                .run()
        },
    )?;
    conformance::conformance(steps, false)?;
    Ok(())
}

/// Where `tests/models/collection.py` writes the collection's cases.
const MODEL_CASES: &str = "target/models/cases";

/// Runs every case of the third-party collection through the native runtime (the
/// conformance runner) and fails unless each matches onnxruntime.
fn third_party_native() -> Result<()> {
    let runner = cargo_artifact(&NATIVE, "conformance", "example", "native runner")?;
    let out = root().join("target/models/native.json");
    let lines = Cmd::new(runner.display().to_string())
        .arg(MODEL_CASES)
        .arg(out.display().to_string())
        .run_quiet("third-party models")?;
    let failed: Vec<&String> = lines.iter().filter(|l| l.starts_with("FAIL")).collect();
    if let Some(last) = lines.iter().rev().find(|l| !l.trim().is_empty()) {
        println!("  {last}");
    }
    if !failed.is_empty() {
        anyhow::bail!(
            "{} case(s) do not match onnxruntime:\n{}",
            failed.len(),
            failed
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(())
}

/// Packs the package as npm would publish it, installs the tarball into a Vite app, and
/// bundles the app with Vite into tests/artifacts/vite-dist (the browser tests load it).
fn build_vite_app() -> Result<()> {
    let root = root();
    let app = root.join("tests/artifacts/vite-app");
    let _ = std::fs::remove_dir_all(&app);
    std::fs::create_dir_all(app.join("node_modules/edgewise"))?;
    copy_dir(&root.join("tests/hosts/vite"), &app)?;
    let out = Cmd::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(app.display().to_string())
        .output()?;
    let tarball = app.join(out.trim().lines().last().unwrap_or_default());
    Cmd::new("tar")
        .args(["-xzf"])
        .arg(tarball.display().to_string())
        .args(["-C", "node_modules/edgewise", "--strip-components=1"])
        .dir(&app)
        .run()?;
    Cmd::new(root.join("node_modules/.bin/vite").display().to_string())
        .args(["build", "--logLevel", "warn", "--outDir"])
        .arg(root.join("tests/artifacts/vite-dist").display().to_string())
        .args(["--emptyOutDir", "--base", "./"])
        .dir(&app)
        .run()
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
