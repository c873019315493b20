//! `tls-get-p3 [--sequential] URL`: `tls-get` for WASIp3. Fetches an `https://` URL over HTTP/1.1 and prints
//! the response to stdout, using only `wasi:sockets@0.3.0` and `wasi:tls@0.3.0-draft`, whose
//! byte streams are component-model `stream<u8>`s: the TCP socket's receive stream feeds the
//! connector's ciphertext input, its ciphertext output feeds the socket's send, and the
//! request and response are the cleartext streams. The response runs to the end of the TLS
//! stream. A failed handshake is reported with the host's error text.
//!
//! It drives the handshake, the request and the response at once; with `--sequential` it
//! does one after another, awaiting `connect` alone first and the streams' results last.
// The generated items carry the WIT's docs, but not on every item rustdoc counts.
#![allow(missing_docs)]

use std::io::Write;
use std::net::IpAddr;

wit_bindgen::generate!({
    world: "tlsbox:wasi-p3/tls-get-p3",
    path: "../wit-p3",
    generate_all,
});

#[path = "../../https-get/src/http.rs"]
#[allow(dead_code)] // the response runs to the end of the stream: no framing needed
mod http;

use exports::wasi::cli::run::Guest;
use http::Url;
use wasi::sockets::ip_name_lookup::resolve_addresses;
use wasi::sockets::types::{
    IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress, TcpSocket,
};
use wasi::tls::client::Connector;

struct Command;

export!(Command);

impl Guest for Command {
    async fn run() -> Result<(), ()> {
        match get().await {
            Ok(()) => Ok(()),
            Err(message) => {
                eprintln!("tls-get-p3: {message}");
                Err(())
            }
        }
    }
}

async fn get() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let sequential = args.first().is_some_and(|a| a == "--sequential");
    if sequential {
        args.remove(0);
    }
    let [url] = &args[..] else {
        return Err("usage: tls-get-p3 [--sequential] https://HOST[:PORT]/PATH".to_owned());
    };
    let url = Url::parse(url)?;
    let socket = connect(&url.host, url.port).await?;

    let connector = Connector::new();
    let (ciphertext_in, socket_received) = socket.receive();
    let (cleartext_in, tls_received) = connector.receive(ciphertext_in);
    let (mut request_tx, request_rx) = wit_stream::new();
    let (ciphertext_out, tls_sent) = connector.send(request_rx);
    let socket_sent = socket.send(ciphertext_out);

    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tlsbox-tls-get-p3\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.path,
        url.authority()
    );
    let response = if sequential {
        // One step after another, as a simple client would: the handshake, the whole
        // request, the whole response, and only then the streams' results.
        Connector::connect(connector, url.host.clone())
            .await
            .map_err(|e| format!("handshake failed: {}", e.to_debug_string()))?;
        let unsent = request_tx.write_all(request.into_bytes()).await;
        debug_assert!(unsent.is_empty());
        drop(request_tx);
        let response = cleartext_in.collect().await;
        let _ = (
            socket_received.await,
            socket_sent.await,
            tls_received.await,
            tls_sent.await,
        );
        response
    } else {
        let (handshake, (), response, ..) = futures::join!(
            Connector::connect(connector, url.host.clone()),
            async {
                let unsent = request_tx.write_all(request.into_bytes()).await;
                debug_assert!(unsent.is_empty());
                // The end of the request stream is our close_notify.
                drop(request_tx);
            },
            cleartext_in.collect(),
            socket_received.into_future(),
            socket_sent.into_future(),
            tls_received.into_future(),
            tls_sent.into_future(),
        );
        handshake.map_err(|e| format!("handshake failed: {}", e.to_debug_string()))?;
        response
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&response)
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("write stdout: {e}"))
}

/// A TCP connection to `port` on the first address of `host` that accepts.
async fn connect(host: &str, port: u16) -> Result<TcpSocket, String> {
    let addresses = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => resolve_addresses(host.to_owned())
            .await
            .map_err(|e| format!("resolve {host}: {e:?}"))?
            .into_iter()
            .map(|address| match address {
                IpAddress::Ipv4((a, b, c, d)) => IpAddr::from([a, b, c, d]),
                IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => IpAddr::from([a, b, c, d, e, f, g, h]),
            })
            .collect(),
    };
    let mut last = format!("resolve {host}: no address");
    for ip in addresses {
        let (family, address) = match ip {
            IpAddr::V4(v4) => {
                let [a, b, c, d] = v4.octets();
                let address = Ipv4SocketAddress {
                    port,
                    address: (a, b, c, d),
                };
                (IpAddressFamily::Ipv4, IpSocketAddress::Ipv4(address))
            }
            IpAddr::V6(v6) => {
                let [a, b, c, d, e, f, g, h] = v6.segments();
                let address = Ipv6SocketAddress {
                    port,
                    flow_info: 0,
                    address: (a, b, c, d, e, f, g, h),
                    scope_id: 0,
                };
                (IpAddressFamily::Ipv6, IpSocketAddress::Ipv6(address))
            }
        };
        let socket = TcpSocket::create(family).map_err(|e| format!("socket: {e:?}"))?;
        match socket.connect(address).await {
            Ok(()) => return Ok(socket),
            Err(e) => last = format!("connect {}: {e:?}", std::net::SocketAddr::new(ip, port)),
        }
    }
    Err(last)
}

fn main() {}
