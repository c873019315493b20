//! `tls-get URL`: fetches an `https://` URL over HTTP/1.1 and prints the response (status
//! line, headers and body) to stdout; the response ends with its Content-Length, or else
//! when the TLS stream closes.
//!
//! A plain `wasi:cli/command` that imports `wasi:sockets` and `wasi:tls@0.2.0-draft` and
//! nothing of tlsbox: the TLS is whatever the host serves for wasi:tls (under `tlsbox run`,
//! or an embedding with `tlsbox::WasiTlsProvider`, a tlsbox instance per connection). The
//! host verifies the server; a failed handshake is reported with the host's error text.
// The generated items carry the WIT's docs, but not on every item rustdoc counts.
#![allow(missing_docs)]

use std::io::Write;
use std::process::ExitCode;

wit_bindgen::generate!({
    world: "tlsbox:wasi/tls-get",
    path: ["../../wit", "../wit"],
    generate_all,
});

#[path = "../../https-get/src/http.rs"]
mod http;
#[path = "../../transport/src/sockets.rs"]
mod sockets;

use http::{Framing, Url};
use wasi::io::streams::StreamError;
use wasi::tls::types::ClientHandshake;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tls-get: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (Some(url), None) = (args.next(), args.next()) else {
        return Err("usage: tls-get https://HOST[:PORT]/PATH".to_owned());
    };
    let url = Url::parse(&url)?;
    let (input, output, tcp) = sockets::connect(&url.host, url.port)?;

    let streams = ClientHandshake::finish(ClientHandshake::new(&url.host, input, output));
    streams.subscribe().block();
    let (connection, input, output) = match streams.get() {
        Some(Ok(Ok(streams))) => streams,
        Some(Ok(Err(error))) => {
            return Err(format!("handshake failed: {}", error.to_debug_string()));
        }
        _ => return Err("handshake failed: the host gave no result".to_owned()),
    };

    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tlsbox-tls-get\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.path,
        url.authority()
    );
    // `blocking-write-and-flush` takes at most 4096 bytes a call.
    for chunk in request.as_bytes().chunks(4096) {
        output
            .blocking_write_and_flush(chunk)
            .map_err(|e| failed("send", e))?;
    }

    let mut stdout = std::io::stdout().lock();
    let mut framing = Framing::default();
    while !framing.complete() {
        match input.blocking_read(16_384) {
            Ok(data) => {
                framing.observe(&data);
                stdout
                    .write_all(&data)
                    .map_err(|e| format!("write stdout: {e}"))?;
            }
            // The TLS stream ended (the server's close_notify): so did the response.
            Err(StreamError::Closed) => break,
            Err(e) => return Err(failed("receive", e)),
        }
    }
    stdout.flush().map_err(|e| format!("write stdout: {e}"))?;
    // close_notify to the server, then the streams (children of the connection), then TCP.
    connection.close_output();
    drop((input, output, connection, tcp));
    Ok(())
}

fn failed(step: &str, error: StreamError) -> String {
    match error {
        StreamError::Closed => format!("{step} failed: the stream closed"),
        StreamError::LastOperationFailed(e) => format!("{step} failed: {}", e.to_debug_string()),
    }
}
