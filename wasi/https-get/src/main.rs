//! `https-get URL [--ca FILE] [--servername NAME]`: fetches `URL` over HTTP/1.1 and prints the
//! response (status line, headers and body) to stdout. The server is verified against the CA
//! bundle `--ca` names (a file in a preopened directory), or else against the composition's
//! trust store: the Mozilla CA set compiled into the WASI adapter. The response ends with its
//! Content-Length, or else with the server's close_notify; a connection that ends before
//! either is an error (the response may have been cut short).
//!
//! A WASI command written only against `tlsbox:tls/tls` and `tlsbox:wasi/tcp`: composed with
//! the WASI-only tlsbox component it runs on any WASI 0.2 host with network access
//! (`wasmtime run -S inherit-network -S allow-ip-name-lookup --dir .`), with no tlsbox host
//! code. Everything TLS — handshake, certificate checks, records — happens in the endpoint
//! component; this program only moves bytes.
// The generated items carry the WIT's docs, but not on every item rustdoc counts.
#![allow(missing_docs)]

use std::io::Write;
use std::process::ExitCode;

wit_bindgen::generate!({
    world: "tlsbox:wasi/tls-application",
    path: ["../../wit", "../wit"],
    generate_all,
});

use tlsbox::tls::tls::Connection;
use tlsbox::tls::types::{Error, ErrorKind};
use tlsbox::wasi::tcp;

mod client;
mod http;

use http::{Framing, Url};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("https-get: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The command line: a URL, optionally the CA bundle to trust instead of the Mozilla set, and
/// another name to verify.
struct Args {
    url: Url,
    ca: Option<String>,
    server_name: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    const USAGE: &str = "usage: https-get URL [--ca FILE] [--servername NAME]";
    let mut url = None;
    let mut ca = None;
    let mut server_name = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ca" => ca = Some(args.next().ok_or(USAGE)?),
            "--servername" => server_name = Some(args.next().ok_or(USAGE)?),
            _ if url.is_none() && !arg.starts_with("--") => url = Some(Url::parse(&arg)?),
            _ => return Err(format!("unexpected argument {arg:?}; {USAGE}")),
        }
    }
    Ok(Args {
        url: url.ok_or(USAGE)?,
        ca,
        server_name,
    })
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let url = &args.url;
    let trust_anchors = match &args.ca {
        Some(path) => vec![std::fs::read(path).map_err(|e| format!("read {path}: {e}"))?],
        None => Vec::new(),
    };
    // No bundle given: the composition's trust store (the Mozilla set).
    let host_trust_store = trust_anchors.is_empty();
    let config = client::config(
        args.server_name.clone().unwrap_or_else(|| url.host.clone()),
        trust_anchors,
        host_trust_store,
        vec!["http/1.1".to_owned()],
    )
    .map_err(|e| describe("configuration", &e))?;

    let socket = tcp::connect(&url.host, url.port)?;
    let tls = Connection::new(&config, socket).map_err(|e| describe("connection", &e))?;
    retry(|| tls.negotiate()).map_err(|e| describe("handshake", &e))?;

    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tlsbox-https-get\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.path,
        url.authority()
    );
    send_all(&tls, request.as_bytes()).map_err(|e| describe("send", &e))?;

    let mut stdout = std::io::stdout().lock();
    let mut framing = Framing::default();
    while !framing.complete() {
        match tls.recv(16_384) {
            // Empty with not-blocked: the server's close_notify, the end of the response.
            Ok(received) if received.data.is_empty() => {
                stdout.flush().map_err(|e| format!("write stdout: {e}"))?;
                return retry(|| tls.shutdown()).map_err(|e| describe("shutdown", &e));
            }
            Ok(received) => {
                framing.observe(&received.data);
                stdout
                    .write_all(&received.data)
                    .map_err(|e| format!("write stdout: {e}"))?;
            }
            Err(e) if e.kind == ErrorKind::Blocked => continue,
            // Without close_notify and before the whole body: the response may be cut short.
            Err(e) => return Err(describe("receive", &e)),
        }
    }
    stdout.flush().map_err(|e| format!("write stdout: {e}"))?;
    // The whole body is in; a server that closes without close_notify (as many do once the
    // body is complete) has lost us nothing, so only our own close_notify goes out, if the
    // connection still takes it.
    let _ = retry(|| tls.shutdown_send());
    Ok(())
}

/// Calls `call` until it stops reporting `blocked` (the adapter's sockets block, so this is
/// the s2n retry rule kept for correctness rather than a busy loop in practice).
fn retry(mut call: impl FnMut() -> Result<(), Error>) -> Result<(), Error> {
    loop {
        match call() {
            Err(e) if e.kind == ErrorKind::Blocked => continue,
            other => return other,
        }
    }
}

/// Sends all of `data`, resuming after partial results as s2n's rules say.
fn send_all(tls: &Connection, mut data: &[u8]) -> Result<(), Error> {
    while !data.is_empty() {
        match tls.send(data) {
            Ok(progress) => data = &data[progress.bytes as usize..],
            Err(e) if e.kind == ErrorKind::Blocked => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn describe(step: &str, e: &Error) -> String {
    format!("{step} failed: {}", client::error_text(e))
}
