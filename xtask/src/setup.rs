//! Idempotent installation of everything the other commands need.
//!
//! Each `ensure_*` checks first and installs only what is missing, so running it again is
//! cheap. Nothing is skipped silently: when something is missing and cannot be installed
//! (no root for apt, say) the command fails and says what to run.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd::{Cmd, have, root};

/// What a command needs installed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Build the npm package: wasm target, wasm-bindgen CLI, npm packages (wasm-opt).
    Package,
    /// Everything `test` and `bench` use: also Chromium, chromedriver, lavapipe, the venv and
    /// the third-party models.
    Everything,
}

pub fn setup(need: Need) -> Result<()> {
    ensure_wasm_target()?;
    ensure_wasm_bindgen()?;
    ensure_node_modules()?;
    if need == Need::Everything {
        ensure_system_packages()?;
        ensure_venv()?;
        ensure_models()?;
    }
    Ok(())
}

/// The wasm32 target, and the standard library's sources that the multi-threaded build
/// recompiles with atomics (`-Z build-std`).
fn ensure_wasm_target() -> Result<()> {
    let targets = Cmd::new("rustup")
        .args(["target", "list", "--installed"])
        .output()?;
    if !targets
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        Cmd::new("rustup")
            .args(["target", "add", "wasm32-unknown-unknown"])
            .run_quiet("rustup")?;
    }
    let components = Cmd::new("rustup")
        .args(["component", "list", "--installed"])
        .output()?;
    if !components.lines().any(|l| l.trim().starts_with("rust-src")) {
        Cmd::new("rustup")
            .args(["component", "add", "rust-src"])
            .run_quiet("rustup")?;
    }
    Ok(())
}

/// The wasm-bindgen version pinned in Cargo.lock; the CLI must match it exactly.
pub fn wasm_bindgen_version() -> Result<String> {
    let lock = fs::read_to_string(root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\""
            && let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(v.trim_end_matches('"').to_string());
        }
    }
    bail!("wasm-bindgen is not in Cargo.lock")
}

fn ensure_wasm_bindgen() -> Result<()> {
    let want = wasm_bindgen_version()?;
    let have_version = Cmd::new("wasm-bindgen")
        .arg("--version")
        .output()
        .unwrap_or_default();
    let runner = Cmd::new("wasm-bindgen-test-runner")
        .arg("--version")
        .output()
        .unwrap_or_default();
    if have_version.split_whitespace().nth(1) == Some(want.as_str()) && runner.contains(&want) {
        return Ok(());
    }
    println!("  installing wasm-bindgen-cli {want} (matches the crate; takes a few minutes once)");
    Cmd::new("cargo")
        .args(["install", "wasm-bindgen-cli", "--version", &want, "--force"])
        .run_quiet("cargo install wasm-bindgen-cli")?;
    Ok(())
}

fn ensure_node_modules() -> Result<()> {
    let root = root();
    let stamp = root.join("node_modules/.package-lock.json");
    let lock = root.join("package-lock.json");
    let fresh = match (fs::metadata(&stamp), fs::metadata(&lock)) {
        (Ok(s), Ok(l)) => s.modified()? >= l.modified()?,
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    // `npm install` with the committed lock rather than `npm ci`: lock files written by npm 11
    // list only this platform's optional packages (esbuild, rollup, deno binaries), which
    // `npm ci` rejects as out of sync. `--no-save` leaves package.json and the lock untouched.
    Cmd::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--no-save"])
        .run_quiet("npm install")?;
    Ok(())
}

/// The font the training curves are drawn with.
const FONT: (&str, &str) = (
    "fonts-dejavu-core",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
);

/// What `cargo xtask train` needs beyond Rust: a font for the curves.
pub fn ensure_font() -> Result<()> {
    if Path::new(FONT.1).exists() {
        return Ok(());
    }
    apt_install(&[FONT.0])
}

const APT_PACKAGES: [(&str, &str); 4] = [
    FONT,
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    (
        "mesa-vulkan-drivers",
        "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json",
    ),
];

fn ensure_system_packages() -> Result<()> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(_, path)| !Path::new(path).exists())
        .map(|(p, _)| *p)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(&missing)
}

/// Installs Debian packages when running as root; otherwise fails with the command to run.
fn apt_install(packages: &[&str]) -> Result<()> {
    let is_root = Cmd::new("id")
        .arg("-u")
        .output()
        .map(|s| s.trim() == "0")
        .unwrap_or(false);
    if !is_root || !have("apt-get") {
        bail!(
            "missing system packages {packages:?}; install them with: sudo apt-get install -y {}",
            packages.join(" ")
        );
    }
    Cmd::new("apt-get")
        .arg("update")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run_quiet("apt-get update")?;
    Cmd::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run_quiet("apt-get install")?;
    Ok(())
}

/// The third-party model collection (tests/models/manifest.json), downloaded from the
/// registries into target/models once and checked by sha256 on every run.
fn ensure_models() -> Result<()> {
    Cmd::new(python().display().to_string())
        .args(["tests/models/collection.py", "fetch"])
        .run_quiet("fetching the third-party models")?;
    Ok(())
}

/// The Python interpreter of the project's venv.
pub fn python() -> PathBuf {
    root().join(".venv/bin/python")
}

fn ensure_venv() -> Result<()> {
    let root = root();
    let req = root.join("tests/requirements.txt");
    let wanted = fs::read_to_string(&req)?;
    let stamp = root.join(".venv/.requirements");
    if fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && python().exists() {
        return Ok(());
    }
    if !python().exists() {
        let venv = || {
            Cmd::new("python3")
                .args(["-m", "venv", ".venv"])
                .run_quiet("python venv")
        };
        if venv().is_err() {
            // Debian's python3 ships venv without ensurepip; the python3-venv package adds it.
            let _ = fs::remove_dir_all(root.join(".venv"));
            apt_install(&["python3-venv"])?;
            venv()?;
        }
    }
    Cmd::new(python().display().to_string())
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "-r",
            "tests/requirements.txt",
        ])
        .run_quiet("pip install")?;
    fs::write(stamp, wanted)?;
    Ok(())
}
