//! Writes the test fixtures (`<dir>/<name>.onnx`) for the JS, Deno and browser tests, and with
//! `--demo <onnx-dir>` the demo gallery's models.
//!
//! Usage: `write-fixtures <dir> [--demo <onnx-dir>]`

use std::path::PathBuf;

use edgewise_onnx::fixtures;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("usage: write-fixtures <dir> [--demo <onnx-dir>]");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&dir)?;
    for (name, make) in fixtures::ALL {
        std::fs::write(dir.join(format!("{name}.onnx")), make())?;
    }
    if let Some(i) = args.iter().position(|a| a == "--demo") {
        let Some(onnx) = args.get(i + 1).map(PathBuf::from) else {
            eprintln!("--demo needs the onnx/ folder");
            std::process::exit(2);
        };
        for (name, make) in fixtures::DEMO {
            std::fs::write(onnx.join(format!("{name}.onnx")), make())?;
        }
    }
    Ok(())
}
