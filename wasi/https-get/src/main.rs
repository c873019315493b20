//! `https-get URL --ca FILE [--servername NAME]`: fetches `URL` over HTTP/1.1 and prints the
//! response (status line, headers and body) to stdout. The response ends with its
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

use tlsbox::tls::tls::{Config, ConfigOptions, Connection};
use tlsbox::tls::types::{AlertPolicy, ClientAuth, Error, ErrorKind, RecordSizing, Role};
use tlsbox::wasi::tcp;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("https-get: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The command line: a URL, the CA bundle to trust, and optionally another name to verify.
struct Args {
    url: Url,
    ca: String,
    server_name: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    const USAGE: &str = "usage: https-get URL --ca FILE [--servername NAME]";
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
        ca: ca.ok_or(USAGE)?,
        server_name,
    })
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let url = &args.url;
    let ca = std::fs::read(&args.ca).map_err(|e| format!("read {}: {e}", args.ca))?;
    let config = Config::new(&ConfigOptions {
        role: Role::Client,
        server_name: Some(args.server_name.clone().unwrap_or_else(|| url.host.clone())),
        trust_anchors: vec![ca],
        certificate_chain: Vec::new(),
        private_key: None,
        alpn: vec!["http/1.1".to_owned()],
        versions: Vec::new(),
        cipher_suites: Vec::new(),
        kx_groups: Vec::new(),
        client_auth: ClientAuth::None,
        record_sizing: RecordSizing::Default,
        max_fragment_length: None,
        send_buffer_size: None,
        recv_multi_record: false,
        recv_buffering: true,
        session_tickets: None,
        ticket_keys: Vec::new(),
        max_early_data: 0,
        early_data: false,
        alert_policy: AlertPolicy::Rfc,
        max_blinding_delay_secs: None,
    })
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

/// Where the response ends, as far as its head tells: a Content-Length body (RFC 9112
/// §6.3), or none at all for 204 and 304. Otherwise (chunked, interim responses, no length)
/// the response runs to the server's close_notify.
#[derive(Default)]
struct Framing {
    /// The head so far, until its empty line has arrived.
    head: Vec<u8>,
    /// Head and body length, once the head is in and gives one.
    total: Option<usize>,
    /// Bytes of the response received.
    seen: usize,
}

/// The longest head looked at; past it the response runs to close_notify.
const MAX_HEAD: usize = 64 * 1024;

impl Framing {
    fn observe(&mut self, data: &[u8]) {
        self.seen += data.len();
        if self.head.len() >= MAX_HEAD || self.total.is_some() {
            return;
        }
        self.head.extend_from_slice(data);
        if let Some(end) = self.head.windows(4).position(|w| w == b"\r\n\r\n") {
            self.total = body_length(&self.head[..end]).map(|len| end + 4 + len);
            self.head = Vec::new();
        }
    }

    fn complete(&self) -> bool {
        self.total.is_some_and(|total| self.seen >= total)
    }
}

/// The body length a response head (without its empty line) declares, if it declares one.
fn body_length(head: &[u8]) -> Option<usize> {
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    match status {
        204 | 304 => return Some(0),
        // An interim response (103 Early Hints) comes before the real one.
        100..=199 => return None,
        _ => {}
    }
    let mut length = None;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        }
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.trim().parse().ok()?);
        }
    }
    length
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
    let alert = e.alert.map(|a| format!(" (alert {a})")).unwrap_or_default();
    format!(
        "{step} failed: {}/{}{alert}: {}",
        kind_name(e.kind),
        e.name,
        e.message
    )
}

/// The error kind as the WIT spells it.
fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Io => "io",
        ErrorKind::Closed => "closed",
        ErrorKind::Blocked => "blocked",
        ErrorKind::Alert => "alert",
        ErrorKind::Protocol => "protocol",
        ErrorKind::Internal => "internal",
        ErrorKind::Usage => "usage",
    }
}

/// The parts of an `https://` URL a GET needs.
struct Url {
    host: String,
    port: u16,
    /// Path and query, `/` when the URL has none.
    path: String,
}

impl Url {
    fn parse(text: &str) -> Result<Url, String> {
        let rest = text
            .strip_prefix("https://")
            .ok_or_else(|| format!("{text:?} is not an https:// URL"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        // `[v6]:port`, `[v6]`, `host:port`, `host`.
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| format!("unclosed [ in {text:?}"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() || host.contains('@') {
            return Err(format!("{text:?} has no usable host"));
        }
        let port = match port {
            Some(port) => port.parse().map_err(|_| format!("bad port in {text:?}"))?,
            None => 443,
        };
        Ok(Url {
            host: host.to_owned(),
            port,
            path,
        })
    }

    /// The `Host` header's value.
    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 443 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}
