//! Running external programs as named steps, with progress and readable failures.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

/// The repository root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repo")
        .to_path_buf()
}

/// A command line to run, built like `std::process::Command` but printable.
pub struct Cmd {
    program: String,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    dir: PathBuf,
}

/// `Cmd::new("cargo").args(["build"])`.
impl Cmd {
    pub fn new(program: impl AsRef<str>) -> Cmd {
        Cmd {
            program: program.as_ref().into(),
            args: vec![],
            envs: vec![],
            dir: root(),
        }
    }

    pub fn arg(mut self, a: impl AsRef<str>) -> Cmd {
        self.args.push(a.as_ref().into());
        self
    }

    pub fn args<I, S>(mut self, a: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.args
            .extend(a.into_iter().map(|s| s.as_ref().to_string()));
        self
    }

    pub fn env(mut self, k: impl AsRef<str>, v: impl AsRef<str>) -> Cmd {
        self.envs.push((k.as_ref().into(), v.as_ref().into()));
        self
    }

    pub fn dir(mut self, d: impl AsRef<Path>) -> Cmd {
        self.dir = d.as_ref().to_path_buf();
        self
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args).current_dir(&self.dir);
        for (k, v) in &self.envs {
            c.env(k, v);
        }
        c
    }

    /// The command as one would type it.
    pub fn display(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.envs {
            s.push_str(&format!("{k}={v} "));
        }
        s.push_str(&self.program);
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }

    /// Runs with output shown as it comes (test runners: their summaries are the point).
    pub fn run(&self) -> Result<()> {
        println!("  $ {}", self.display());
        let status = self
            .command()
            .status()
            .with_context(|| format!("could not start `{}`", self.program))?;
        if !status.success() {
            bail!("`{}` failed ({status})", self.display());
        }
        Ok(())
    }

    /// Runs quietly behind a spinner that shows the latest output line; on failure the last
    /// lines of output are printed. For builds and installs. Returns every output line.
    pub fn run_quiet(&self, label: &str) -> Result<Vec<String>> {
        println!("  $ {}", self.display());
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {elapsed:>4} {msg}").expect("template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar.set_message(label.to_string());
        let mut child = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start `{}`", self.program))?;
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let readers: Vec<_> = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        .map(|stream| {
            let (log, bar, label) = (log.clone(), bar.clone(), label.to_string());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let short: String = line.trim().chars().take(70).collect();
                    bar.set_message(format!("{label}: {short}"));
                    log.lock().expect("log").push(line);
                }
            })
        })
        .collect();
        let status = child.wait()?;
        for r in readers {
            let _ = r.join();
        }
        bar.finish_and_clear();
        if !status.success() {
            let log = log.lock().expect("log");
            let tail = &log[log.len().saturating_sub(60)..];
            eprintln!("{}", tail.join("\n"));
            bail!("`{}` failed ({status})", self.display());
        }
        let lines = std::mem::take(&mut *log.lock().expect("log"));
        Ok(lines)
    }

    /// Runs and returns stdout (stderr is shown on failure).
    pub fn output(&self) -> Result<String> {
        let out = self
            .command()
            .output()
            .with_context(|| format!("could not start `{}`", self.program))?;
        if !out.status.success() {
            bail!(
                "`{}` failed: {}",
                self.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// One named step of a longer job, timed, with a status line when it ends.
pub struct Steps {
    started: Instant,
    done: Vec<(String, Duration, bool)>,
}

impl Steps {
    pub fn new() -> Steps {
        Steps {
            started: Instant::now(),
            done: vec![],
        }
    }

    /// Runs `f` as step `name`; errors are recorded and returned.
    pub fn step<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let n = self.done.len() + 1;
        println!("\n▶ [{n}] {name}");
        let t = Instant::now();
        let result = f();
        let took = t.elapsed();
        let ok = result.is_ok();
        println!(
            "{} [{n}] {name} ({})",
            if ok { "✔" } else { "✘" },
            fmt_duration(took)
        );
        self.done.push((name.into(), took, ok));
        result.with_context(|| format!("step '{name}' failed"))
    }

    /// Prints the table of steps and the closing count.
    pub fn summary(&self) {
        println!("\nsteps ({} total):", fmt_duration(self.started.elapsed()));
        for (name, took, ok) in &self.done {
            println!(
                "  {} {:>7}  {name}",
                if *ok { "✔" } else { "✘" },
                fmt_duration(*took)
            );
        }
        let passed = self.done.iter().filter(|d| d.2).count();
        println!(
            "steps: {passed} passed, {} failed",
            self.done.len() - passed
        );
    }
}

pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// True when `program --version`-style probing finds it on PATH.
pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The packages of every native build (`cargo test` and the tools taken from it): the whole
/// workspace but the wasm crate, which has no native tests (its native build would only link a
/// shared library nothing loads). One selection keeps one feature set, so nothing is compiled
/// twice.
pub const NATIVE: [&str; 3] = ["--workspace", "--exclude", "edgewise-wasm"];

/// Builds with `cargo test --no-run <args>` and returns the file of target `name` of `kind`
/// (`bin`, `example`, `cdylib`) from cargo's JSON messages.
///
/// Native tools (the fixture writer, the conformance runner) are taken from the same build as
/// `cargo test` with [`NATIVE`]: a `cargo run -p <one crate>` would resolve features for that
/// crate alone and compile tract a second time.
pub fn cargo_artifact(args: &[&str], name: &str, kind: &str, label: &str) -> Result<PathBuf> {
    let cmd = Cmd::new("cargo")
        .args([
            "test",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .args(args);
    artifact_of(cmd, name, kind, label)
}

/// Runs a cargo command given `--message-format=json-render-diagnostics` and returns the path
/// of the `kind` artifact (`bin`, `cdylib`, …) of target `name` it built.
pub fn artifact_of(cmd: Cmd, name: &str, kind: &str, label: &str) -> Result<PathBuf> {
    let lines = cmd.run_quiet(label)?;
    for line in lines.iter().filter(|l| l.starts_with('{')) {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let target = &msg["target"];
        let has_kind = target["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == kind));
        // `cargo test` also builds a test harness for each bin; that harness
        // carries `profile.test = true` and must not be mistaken for the tool.
        let is_harness = msg["profile"]["test"].as_bool().unwrap_or(false);
        if msg["reason"] != "compiler-artifact" || target["name"] != name || !has_kind || is_harness
        {
            continue;
        }
        if let Some(exe) = msg["executable"].as_str() {
            return Ok(PathBuf::from(exe));
        }
        let files = msg["filenames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str());
        if let Some(wasm) = files.into_iter().find(|f| f.ends_with(".wasm")) {
            return Ok(PathBuf::from(wasm));
        }
    }
    bail!("cargo did not report the {kind} '{name}'")
}
