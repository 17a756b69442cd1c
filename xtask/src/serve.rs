//! A static file server on 127.0.0.1 for the demo gallery and the browser tests.
//!
//! It serves only the folders a page needs (`www/`, `pkg/`, `onnx/`, `tests/`, and the
//! third-party models `cargo xtask setup` fetched into `target/models/` as `models/`) with the
//! right MIME types (`application/wasm` lets browsers compile while downloading).

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::thread::JoinHandle;

use anyhow::{Result, anyhow};
use tiny_http::{Header, Response, Server};

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

fn header(k: &str, v: &str) -> Header {
    Header::from_bytes(k.as_bytes(), v.as_bytes()).expect("valid header")
}

/// Starts serving on `127.0.0.1:port` (0 picks a free port); returns the base URL.
pub fn start(port: u16) -> Result<(String, JoinHandle<()>)> {
    let server = Server::http(("127.0.0.1", port))
        .map_err(|e| anyhow!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| anyhow!("no IP address"))?;
    // One thread per request: a client that stops reading a large response (a page closed
    // mid-download) then holds up only its own request, not every later one.
    let handle = std::thread::spawn(move || {
        for request in server.incoming_requests() {
            std::thread::spawn(move || respond(request));
        }
    });
    Ok((format!("http://{addr}"), handle))
}

/// Answers one request: a redirect from `/`, a served file, or 404.
fn respond(request: tiny_http::Request) {
    let url = request.url().to_string();
    let result = if url == "/" {
        request.respond(Response::empty(302).with_header(header("Location", "/www/")))
    } else if let Some(file) = resolve(&url) {
        match fs::read(&file) {
            Ok(bytes) => request.respond(
                Response::from_data(bytes)
                    .with_header(header("Content-Type", mime(&file)))
                    .with_header(header("Cache-Control", "no-store")),
            ),
            Err(_) => request.respond(Response::empty(500)),
        }
    } else {
        request.respond(Response::from_string(format!("not found: {url}")).with_status_code(404))
    };
    if let Err(e) = result {
        eprintln!("serve: {url}: {e}");
    }
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
