//! A static file server on 127.0.0.1 for the demo gallery and the browser tests.
//!
//! It serves only the folders a page needs (`www/`, `pkg/`, `onnx/`, `tests/`, and the
//! third-party models `cargo xtask setup` fetched into `target/models/` as `models/`) with the
//! right MIME types (`application/wasm` lets browsers compile while downloading).
//!
//! Each connection gets a thread and one response, then `Connection: close`. (The crate this
//! used before, tiny_http, left requests unread on kept-alive connections now and then: a
//! page's fetch never answered and a browser test waited out its timeout.)

use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Result, anyhow};

use crate::cmd::root;

const SERVED: [&str; 4] = ["www", "pkg", "onnx", "tests"];
/// Served from `target/`: the third-party model collection.
const FROM_TARGET: &str = "models";

fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "ts" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Maps a request path to a file under one of the served folders, or `None`.
fn resolve(url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let rel = Path::new(path.trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let first = rel.components().next()?.as_os_str().to_str()?;
    let mut full = if SERVED.contains(&first) {
        root().join(rel)
    } else if first == FROM_TARGET {
        root().join("target").join(rel)
    } else {
        return None;
    };
    if full.is_dir() {
        full = full.join("index.html");
    }
    full.is_file().then_some(full)
}

/// Starts serving on `127.0.0.1:port` (0 picks a free port); returns the base URL.
pub fn start(port: u16) -> Result<(String, JoinHandle<()>)> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| anyhow!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = listener.local_addr()?;
    let handle = std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                if let Err(e) = answer(stream) {
                    eprintln!("serve: {e}");
                }
            });
        }
    });
    Ok((format!("http://{addr}"), handle))
}

/// Reads one request from `stream` and answers it: a redirect from `/`, a served file, or
/// 404. Only the request line matters (every request of a page here is a `GET`).
fn answer(mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let url = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (status, headers, body) = if url == "/" {
        ("302 Found", "Location: /www/\r\n".to_string(), vec![])
    } else if let Some(file) = resolve(url) {
        match fs::read(&file) {
            Ok(bytes) => (
                "200 OK",
                // Cross-origin isolated (every file here is same-origin), so that pages and
                // their workers have shared memory for the package's multi-threaded build.
                format!(
                    "Content-Type: {}\r\nCache-Control: no-store\r\n\
                     Cross-Origin-Opener-Policy: same-origin\r\n\
                     Cross-Origin-Embedder-Policy: require-corp\r\n",
                    mime(&file)
                ),
                bytes,
            ),
            Err(_) => ("500 Internal Server Error", String::new(), vec![]),
        }
    } else {
        (
            "404 Not Found",
            "Content-Type: text/plain; charset=utf-8\r\n".to_string(),
            format!("not found: {url}").into_bytes(),
        )
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_served_folders_and_no_escapes() {
        assert!(resolve("/www/index.html").is_some());
        assert!(resolve("/www/").is_some(), "a folder serves its index.html");
        assert!(resolve("/Cargo.toml").is_none());
        assert!(resolve("/www/../Cargo.toml").is_none());
        assert!(resolve("/xtask/src/main.rs").is_none());
        assert_eq!(mime(Path::new("a/b.wasm")), "application/wasm");
    }
}
