//! The component against native rustls, every baseline in the same run
//! (`cargo bench -p tlsbox-tests --bench tlsbox`; docs/performance.md has the figures).
//!
//! - `component`: the guest in wasmtime, driven through the host's blocking API over an
//!   in-memory wire, against a native rustls + ring peer;
//! - `native-ring`: native rustls with ring on both ends, the same exchange;
//! - `raw-aead` (bulk send only): the guest's AEAD alone sealing the same records, from
//!   the component's diagnostics export.
//!
//! Groups: `bulk-send` and `bulk-recv` (each TLS 1.3 suite at 1,435-, 8,087- and 16,384-byte
//! records), `handshake` (full and resumed, component as client and as server), `small`
//! (64-byte request/response round trips), `boundary` (one crossing: a 1-byte send, a recv
//! with nothing ready), `start` (compiling the component to the first handshake, and one
//! more instance), `trust` (a client handshake in a fresh instance trusting one CA, the
//! system's 140-odd anchors through a `TrustStore`, or the same bundle in the config) and
//! `wasi-tls` (wasmtime-wasi-tls's provider slot filled by `WasiTlsProvider` against the
//! rustls provider's code path: one connection moving 1 MiB, and 100 handshakes) and
//! `post-quantum` (full handshakes with X25519MLKEM768 and with X25519, the component in a
//! fresh instance against native rustls with aws-lc-rs, and native aws-lc-rs on both ends as
//! the baseline, `native-aws-lc`; with the ClientHello's size and the guest's memory). After
//! each group a `ratio <group>/<label>: ...` line per case gives the
//! component's speed as a fraction of each baseline's (1.0 = parity, higher is better), and
//! `memory ...` lines give the guest's linear memory.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rustls::client::Resumption;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};
use tlsbox::{CipherSuite, Endpoint, RecordSizing};
use tlsbox_test_support::ScriptedTransport;

const MIB: usize = 1 << 20;

/// A TLS 1.3 suite under its bench label, ours and rustls's.
struct Suite {
    label: &'static str,
    ours: CipherSuite,
    native: rustls::CipherSuite,
}

const SUITES: [Suite; 3] = [
    Suite {
        label: "chacha20",
        ours: CipherSuite::Tls13Chacha20Poly1305Sha256,
        native: rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    },
    Suite {
        label: "aes128gcm",
        ours: CipherSuite::Tls13Aes128GcmSha256,
        native: rustls::CipherSuite::TLS13_AES_128_GCM_SHA256,
    },
    Suite {
        label: "aes256gcm",
        ours: CipherSuite::Tls13Aes256GcmSha384,
        native: rustls::CipherSuite::TLS13_AES_256_GCM_SHA384,
    },
];

/// Record plaintext sizes and the sizing that produces them in the component.
const SIZES: [(usize, RecordSizing); 3] = [
    (1435, RecordSizing::PreferLowLatency),
    (8087, RecordSizing::Default),
    (16384, RecordSizing::PreferThroughput),
];

/// A group with few, short samples: every case runs its baselines too, so the whole run
/// stays within minutes.
fn bench_config<'a>(c: &'a mut Criterion, name: &str) -> criterion::BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group
}

type WallTime = criterion::measurement::WallTime;

/// A native client over ring trusting the test CA; `resume` keeps rustls's session cache.
fn ring_client(suite: Option<rustls::CipherSuite>, resume: bool) -> Arc<ClientConfig> {
    let mut config = (*native_client(pki(), ring_provider(suite))).clone();
    if !resume {
        config.resumption = Resumption::disabled();
    }
    Arc::new(config)
}

/// A native server over ring; `tickets` TLS 1.3 tickets per handshake (0: no resumption).
fn ring_server(suite: Option<rustls::CipherSuite>, tickets: usize) -> Arc<ServerConfig> {
    let mut config = (*native_server(pki(), ring_provider(suite))).clone();
    config.send_tls13_tickets = tickets;
    Arc::new(config)
}

/// Moves everything `from` has to write into `to`.
fn transfer(from: &mut rustls::Connection, to: &mut rustls::Connection) {
    let mut buf = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut buf).unwrap();
    }
    let mut rest = &buf[..];
    while !rest.is_empty() {
        to.read_tls(&mut rest).unwrap();
        to.process_new_packets().unwrap();
    }
}

/// Two native connections handshaken in memory (tickets delivered).
fn native_pair(
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
) -> (rustls::Connection, rustls::Connection) {
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut c: rustls::Connection = ClientConnection::new(client, name).unwrap().into();
    let mut s: rustls::Connection = ServerConnection::new(server).unwrap().into();
    c.set_buffer_limit(None);
    s.set_buffer_limit(None);
    while c.is_handshaking() || s.is_handshaking() {
        transfer(&mut c, &mut s);
        transfer(&mut s, &mut c);
    }
    transfer(&mut s, &mut c);
    (c, s)
}

/// Native client and server over ring with `suite`, no resumption, handshaken.
fn plain_native_pair(suite: &Suite) -> (rustls::Connection, rustls::Connection) {
    native_pair(
        ring_client(Some(suite.native), false),
        ring_server(Some(suite.native), 0),
    )
}

/// A component client with `config` against a native ring server with `suite`, handshaken.
fn component_pair(config: &tlsbox::Config, suite: &Suite) -> MemPair {
    let mut pair = MemPair::client(config, ring_server(Some(suite.native), 0));
    pair.handshake().unwrap();
    pair
}

/// Reads all the plaintext `conn` has ready.
fn drain(conn: &mut rustls::Connection, buf: &mut [u8]) -> usize {
    let mut got = 0;
    while let Ok(n @ 1..) = conn.reader().read(buf) {
        got += n;
    }
    got
}

/// `records` of `data` in `size`-byte writes, sealed by `peer`, not delivered.
fn sealed(peer: &mut rustls::Connection, data: &[u8], size: usize, times: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(times as usize * (data.len() + data.len() / size * 22 + 22));
    for _ in 0..times {
        for chunk in data.chunks(size) {
            peer.writer().write_all(chunk).unwrap();
        }
        while peer.wants_write() {
            peer.write_tls(&mut out).unwrap();
        }
    }
    out
}

fn bulk(c: &mut Criterion) {
    let data = payload(MIB, 1);
    let labels: Vec<String> = SUITES
        .iter()
        .flat_map(|s| SIZES.map(|(size, _)| format!("{}-{size}", s.label)))
        .collect();

    let mut group = bench_config(c, "bulk-send");
    group.throughput(Throughput::Bytes(MIB as u64));
    for suite in &SUITES {
        for (size, sizing) in SIZES {
            let label = format!("{}-{size}", suite.label);
            let config = client_config(pki())
                .cipher_suites(&[suite.ours])
                .record_sizing(sizing);
            let pair = component_pair(&config, suite);
            assert_eq!(pair.conn.send(&data).unwrap().bytes as usize, MIB);
            pair.wire.take_outbound();
            group.bench_function(BenchmarkId::new("component", &label), |b| {
                b.iter(|| {
                    pair.conn.send(&data).unwrap();
                    pair.wire.discard_outbound()
                })
            });
            println!(
                "memory bulk-send/{label}: guest linear memory peaked at {:.2} MiB",
                pair.conn.peak_memory() as f64 / MIB as f64
            );
            let endpoint = Endpoint::new(&runtime(), &config).unwrap();
            let records = MIB.div_ceil(size) as u32;
            group.bench_function(BenchmarkId::new("raw-aead", &label), |b| {
                b.iter(|| {
                    endpoint
                        .seal_records(suite.ours, size as u32, records)
                        .unwrap()
                })
            });
            let (mut client, _server) = plain_native_pair(suite);
            let mut sink = Vec::with_capacity(MIB + MIB / 16);
            group.bench_function(BenchmarkId::new("native-ring", &label), |b| {
                b.iter(|| {
                    for chunk in data.chunks(size) {
                        client.writer().write_all(chunk).unwrap();
                    }
                    while client.wants_write() {
                        client.write_tls(&mut sink).unwrap();
                    }
                    sink.clear();
                })
            });
        }
    }
    group.finish();
    report(
        "bulk-send",
        &labels,
        Some(MIB),
        &["native-ring", "raw-aead"],
    );

    let mut group = bench_config(c, "bulk-recv");
    group.throughput(Throughput::Bytes(MIB as u64));
    for suite in &SUITES {
        for (size, _) in SIZES {
            let label = format!("{}-{size}", suite.label);
            let config = client_config(pki()).cipher_suites(&[suite.ours]);
            let mut pair = component_pair(&config, suite);
            // One call may return many records, as a reader with a large buffer would.
            pair.conn.set_recv_multi_record(true).unwrap();
            group.bench_function(BenchmarkId::new("component", &label), |b| {
                b.iter_custom(|iters| {
                    // The native side seals outside the timed part.
                    let wire = sealed(&mut pair.peer, &data, size, iters);
                    pair.wire.push_inbound(&wire);
                    let started = Instant::now();
                    let mut left = iters as usize * MIB;
                    while left > 0 {
                        left -= pair.conn.recv(MIB).unwrap().data.len();
                    }
                    started.elapsed()
                })
            });
            let (mut client, mut server) = plain_native_pair(suite);
            let mut buf = vec![0; MIB];
            group.bench_function(BenchmarkId::new("native-ring", &label), |b| {
                b.iter_custom(|iters| {
                    let wire = sealed(&mut server, &data, size, iters);
                    let started = Instant::now();
                    let mut got = 0;
                    for part in wire.chunks(MIB) {
                        let mut rest = part;
                        while !rest.is_empty() {
                            client.read_tls(&mut rest).unwrap();
                            client.process_new_packets().unwrap();
                            got += drain(&mut client, &mut buf);
                        }
                    }
                    assert_eq!(got, iters as usize * MIB);
                    started.elapsed()
                })
            });
        }
    }
    group.finish();
    report("bulk-recv", &labels, Some(MIB), &["native-ring"]);
}

fn handshake(c: &mut Criterion) {
    let suite = &SUITES[0];
    let labels = [
        "client-full",
        "client-resumed",
        "server-full",
        "server-resumed",
    ]
    .map(String::from);
    let mut group = bench_config(c, "handshake");

    // Component as client, one endpoint (instance) for all connections, as a real client.
    for (label, tickets) in [("client-full", 0), ("client-resumed", 2)] {
        let config = client_config(pki()).cipher_suites(&[suite.ours]);
        let endpoint = Endpoint::new(&runtime(), &config).unwrap();
        let server = ring_server(Some(suite.native), tickets);
        let connect = || {
            let wire = ScriptedTransport::new();
            let mut pair = MemPair::from_parts(
                endpoint.connect(wire.clone()).unwrap(),
                wire,
                server.clone(),
            );
            pair.handshake().unwrap();
            // Take in the tickets for the next connection.
            let _ = pair.conn.recv(1);
            pair
        };
        connect();
        assert_eq!(
            connect().conn.session_resumed().unwrap(),
            tickets > 0,
            "{label}"
        );
        group.bench_function(BenchmarkId::new("component", label), |b| b.iter(connect));
        let client = ring_client(Some(suite.native), tickets > 0);
        group.bench_function(BenchmarkId::new("native-ring", label), |b| {
            b.iter(|| native_pair(client.clone(), server.clone()))
        });
    }

    // Component as server.
    for (label, tickets) in [("server-full", 0), ("server-resumed", 1)] {
        let config = server_config(pki())
            .cipher_suites(&[suite.ours])
            .session_tickets(tickets);
        let endpoint = Endpoint::new(&runtime(), &config).unwrap();
        let client = ring_client(Some(suite.native), tickets > 0);
        let accept = || {
            let wire = ScriptedTransport::new();
            let mut pair = MemPair::server_from_parts(
                endpoint.connect(wire.clone()).unwrap(),
                wire,
                client.clone(),
            );
            pair.handshake().unwrap();
            // The ticket goes out after the handshake.
            let _ = pair.conn.flush();
            pair.pump().unwrap();
            pair
        };
        accept();
        assert_eq!(
            accept().conn.session_resumed().unwrap(),
            tickets > 0,
            "{label}"
        );
        group.bench_function(BenchmarkId::new("component", label), |b| b.iter(accept));
        let server = ring_server(Some(suite.native), tickets as usize * 2);
        group.bench_function(BenchmarkId::new("native-ring", label), |b| {
            b.iter(|| native_pair(client.clone(), server.clone()))
        });
    }
    group.finish();
    report("handshake", &labels, None, &["native-ring"]);
}

fn small(c: &mut Criterion) {
    let suite = &SUITES[0];
    let request = payload(64, 2);
    let mut group = bench_config(c, "small");
    let config = client_config(pki()).cipher_suites(&[suite.ours]);
    let mut pair = component_pair(&config, suite);
    group.bench_function(BenchmarkId::new("component", "rtt-64"), |b| {
        b.iter(|| {
            pair.conn.send(&request).unwrap();
            pair.pump().unwrap();
            let got = pair.take_peer_inbox();
            pair.peer.writer().write_all(&got).unwrap();
            pair.pump().unwrap();
            assert_eq!(pair.conn.recv(64).unwrap().data.len(), 64);
        })
    });
    let (mut client, mut server) = plain_native_pair(suite);
    let mut buf = [0; 64];
    group.bench_function(BenchmarkId::new("native-ring", "rtt-64"), |b| {
        b.iter(|| {
            client.writer().write_all(&request).unwrap();
            transfer(&mut client, &mut server);
            server.reader().read_exact(&mut buf).unwrap();
            server.writer().write_all(&buf).unwrap();
            transfer(&mut server, &mut client);
            client.reader().read_exact(&mut buf).unwrap();
        })
    });
    group.finish();
    report("small", &["rtt-64".into()], None, &["native-ring"]);
}

fn boundary(c: &mut Criterion) {
    let suite = &SUITES[0];
    let mut group = bench_config(c, "boundary");
    let config = client_config(pki()).cipher_suites(&[suite.ours]);
    let pair = component_pair(&config, suite);
    group.bench_function(BenchmarkId::new("component", "send-1-byte"), |b| {
        b.iter(|| {
            pair.conn.send(b"x").unwrap();
            pair.wire.take_outbound()
        })
    });
    group.bench_function(BenchmarkId::new("component", "recv-nothing-ready"), |b| {
        b.iter(|| assert!(pair.conn.recv(16384).unwrap_err().is_blocked()))
    });
    let (mut client, _server) = plain_native_pair(suite);
    let mut sink = Vec::new();
    group.bench_function(BenchmarkId::new("native-ring", "send-1-byte"), |b| {
        b.iter(|| {
            client.writer().write_all(b"x").unwrap();
            client.write_tls(&mut sink).unwrap();
            sink.clear();
        })
    });
    let mut buf = [0; 16384];
    group.bench_function(BenchmarkId::new("native-ring", "recv-nothing-ready"), |b| {
        b.iter(|| {
            client.process_new_packets().unwrap();
            assert!(client.reader().read(&mut buf).is_err());
        })
    });
    group.finish();
    report(
        "boundary",
        &["send-1-byte".into(), "recv-nothing-ready".into()],
        None,
        &["native-ring"],
    );
}

fn start(c: &mut Criterion) {
    let suite = &SUITES[0];
    let mut group = c.benchmark_group("start");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(15));
    let config = client_config(pki()).cipher_suites(&[suite.ours]);
    let server = ring_server(Some(suite.native), 0);
    let first_handshake = |runtime: &tlsbox::Runtime| {
        let wire = ScriptedTransport::new();
        let conn = tlsbox::Connection::new(runtime, &config, wire.clone()).unwrap();
        let mut pair = MemPair::from_parts(conn, wire, server.clone());
        pair.handshake().unwrap();
    };
    // What a new process pays: compiling the component, then one instance and handshake.
    group.bench_function(BenchmarkId::new("component", "first-handshake"), |b| {
        b.iter(|| first_handshake(&tlsbox::Runtime::new(tlsbox::Limits::default()).unwrap()))
    });
    // Every further connection of the async API: a fresh instance from the pool.
    let shared = runtime();
    group.bench_function(BenchmarkId::new("component", "instance-handshake"), |b| {
        b.iter(|| first_handshake(&shared))
    });
    let client = ring_client(Some(suite.native), false);
    for label in ["first-handshake", "instance-handshake"] {
        group.bench_function(BenchmarkId::new("native-ring", label), |b| {
            b.iter(|| {
                let config = Arc::new((*client).clone());
                native_pair(config, server.clone())
            })
        });
    }
    group.finish();
    report(
        "start",
        &["first-handshake".into(), "instance-handshake".into()],
        None,
        &["native-ring"],
    );

    let endpoint = Endpoint::new(&shared, &config).unwrap();
    println!(
        "memory start: a fresh instance with its config has {} KiB of linear memory",
        endpoint.peak_memory() / 1024
    );
    let wire = ScriptedTransport::new();
    let mut pair = MemPair::from_parts(
        endpoint.connect(wire.clone()).unwrap(),
        wire,
        server.clone(),
    );
    pair.handshake().unwrap();
    println!(
        "memory start: after one handshake, {} KiB",
        endpoint.peak_memory() / 1024
    );
}

/// Prints one `ratio` line per label: the component's speed against each baseline's.
fn report(group: &str, labels: &[String], bytes: Option<usize>, baselines: &[&str]) {
    let show = |ns: f64| match bytes {
        Some(bytes) => format!("{:.1} MiB/s", bytes as f64 / MIB as f64 / (ns / 1e9)),
        None if ns >= 1e6 => format!("{:.3} ms", ns / 1e6),
        None => format!("{:.2} µs", ns / 1e3),
    };
    for label in labels {
        let Some(component) = estimate(group, "component", label) else {
            continue;
        };
        let against: Vec<String> = baselines
            .iter()
            .filter_map(|base| {
                let ns = estimate(group, base, label)?;
                Some(format!("{:.3}x {base} ({})", ns / component, show(ns)))
            })
            .collect();
        println!(
            "ratio {group}/{label}: component {} = {}",
            show(component),
            against.join(", ")
        );
    }
}

/// Nanoseconds per iteration from criterion's saved estimates.
fn estimate(group: &str, variant: &str, label: &str) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(variant)
        .join(label)
        .join("new/estimates.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    // The slope is what criterion prints as `time` for iterated samples.
    json["slope"]["point_estimate"]
        .as_f64()
        .or_else(|| json["mean"]["point_estimate"].as_f64())
}

fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("criterion")
}

/// The system's CA bundle (Debian's path, or `SSL_CERT_FILE`) with the test CA appended, so
/// a store of the usual size holds the one anchor the handshakes need.
fn system_bundle_with_test_ca() -> Vec<u8> {
    let path = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
    let mut bundle = std::fs::read(&path).unwrap_or_default();
    bundle.extend_from_slice(pki().ca_pem.as_bytes());
    bundle
}

fn trust(c: &mut Criterion) {
    let suite = &SUITES[0];
    let bundle = system_bundle_with_test_ca();
    let store = tlsbox::TrustStore::from_pem(&bundle).unwrap();
    println!("trust: the store holds {} anchors", store.len());
    let configs = [
        ("one-ca", client_config(pki())),
        (
            "system-store",
            tlsbox::Config::client("localhost").trust_store(store),
        ),
        (
            "bundle-in-config",
            tlsbox::Config::client("localhost").trust(bundle.clone()),
        ),
    ];
    let server = ring_server(Some(suite.native), 0);
    let mut group = bench_config(c, "trust");
    for (label, config) in &configs {
        // A fresh instance per connection, as `TlsConnector` makes them.
        let config = config.clone().cipher_suites(&[suite.ours]);
        let connect = || {
            let wire = ScriptedTransport::new();
            let conn = tlsbox::Connection::new(&runtime(), &config, wire.clone()).unwrap();
            let mut pair = MemPair::from_parts(conn, wire, server.clone());
            pair.handshake().unwrap();
        };
        group.bench_function(BenchmarkId::new("component", label), |b| b.iter(connect));
        // The native client trusts the same anchors, built into its config once.
        let client = ring_client(Some(suite.native), false);
        group.bench_function(BenchmarkId::new("native-ring", label), |b| {
            b.iter(|| native_pair(client.clone(), server.clone()))
        });
    }
    group.finish();
    let labels = configs.map(|(label, _)| label.to_owned());
    report("trust", &labels, None, &["native-ring"]);
}

/// wasmtime-wasi-tls's rustls provider with the test CA: its own code (a tokio-rustls
/// connector over ring), since the crate's `RustlsProvider` trusts only the Mozilla set.
struct RustlsProvider(tokio_rustls::TlsConnector);

/// The provider's stream: tokio-rustls's, as the crate's own provider returns it.
struct RustlsStream(tokio_rustls::client::TlsStream<Box<dyn wasmtime_wasi_tls::TlsTransport>>);

impl wasmtime_wasi_tls::TlsStream for RustlsStream {}

impl tokio::io::AsyncRead for RustlsStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for RustlsStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, data)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

type Connecting = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<Box<dyn wasmtime_wasi_tls::TlsStream>, wasmtime_wasi_tls::Error>,
            > + Send,
    >,
>;

impl wasmtime_wasi_tls::TlsProvider for RustlsProvider {
    fn connect(
        &self,
        server_name: String,
        transport: Box<dyn wasmtime_wasi_tls::TlsTransport>,
    ) -> Connecting {
        let connector = self.0.clone();
        Box::pin(async move {
            let name = rustls::pki_types::ServerName::try_from(server_name)
                .map_err(wasmtime_wasi_tls::Error::msg)?;
            let stream = connector
                .connect(name, transport)
                .await
                .map_err(wasmtime_wasi_tls::Error::msg)?;
            Ok(Box::new(RustlsStream(stream)) as Box<dyn wasmtime_wasi_tls::TlsStream>)
        })
    }
}

/// One wasi:tls connection through `provider` to a native server over an in-memory stream,
/// moving `bytes` from client to server.
async fn wasi_tls_connection(
    provider: &dyn wasmtime_wasi_tls::TlsProvider,
    acceptor: &tokio_rustls::TlsAcceptor,
    bytes: usize,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (ours, theirs) = tokio::io::duplex(256 << 10);
    let acceptor = acceptor.clone();
    let server = tokio::spawn(async move {
        let mut tls = acceptor.accept(theirs).await.unwrap();
        let mut buf = vec![0; 64 << 10];
        let mut got = 0;
        while got < bytes {
            got += tls.read(&mut buf).await.unwrap();
        }
        tls.shutdown().await.unwrap();
    });
    let mut tls = provider
        .connect("localhost".into(), Box::new(ours))
        .await
        .unwrap();
    let chunk = vec![0x5a; 64 << 10];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len());
        tls.write_all(&chunk[..n]).await.unwrap();
        left -= n;
    }
    tls.flush().await.unwrap();
    let mut rest = Vec::new();
    let _ = tls.read_to_end(&mut rest).await;
    server.await.unwrap();
}

fn wasi_tls(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(ring_server(None, 0));
    let providers: [(&str, Box<dyn wasmtime_wasi_tls::TlsProvider>); 2] = [
        (
            "component",
            Box::new(tlsbox::WasiTlsProvider::with_config(
                &runtime(),
                client_config(pki()),
            )),
        ),
        (
            "rustls-provider",
            Box::new(RustlsProvider(tokio_rustls::TlsConnector::from(
                ring_client(None, false),
            ))),
        ),
    ];
    let mut group = bench_config(c, "wasi-tls");
    for (variant, provider) in &providers {
        group.throughput(Throughput::Bytes(MIB as u64));
        group.bench_function(BenchmarkId::new(*variant, "connection-1mib"), |b| {
            b.iter(|| rt.block_on(wasi_tls_connection(provider.as_ref(), &acceptor, MIB)))
        });
        group.throughput(Throughput::Elements(100));
        group.bench_function(BenchmarkId::new(*variant, "handshakes-100"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    for _ in 0..100 {
                        wasi_tls_connection(provider.as_ref(), &acceptor, 1).await;
                    }
                })
            })
        });
    }
    group.finish();
    report(
        "wasi-tls",
        &["connection-1mib".into(), "handshakes-100".into()],
        None,
        &["rustls-provider"],
    );
}

/// An aws-lc-rs provider with only `groups` (in that order).
fn aws_lc(groups: &[rustls::NamedGroup]) -> Arc<rustls::crypto::CryptoProvider> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    let all = rustls::crypto::aws_lc_rs::ALL_KX_GROUPS;
    provider.kx_groups = groups
        .iter()
        .map(|name| {
            *all.iter()
                .find(|g| g.name() == *name)
                .expect("aws-lc-rs has the group")
        })
        .collect();
    Arc::new(provider)
}

fn post_quantum(c: &mut Criterion) {
    use rustls::NamedGroup;
    use tlsbox::KxGroup;
    let cases: [(&str, KxGroup, &[NamedGroup]); 2] = [
        (
            "x25519mlkem768",
            KxGroup::X25519mlkem768,
            &[NamedGroup::X25519MLKEM768],
        ),
        ("x25519", KxGroup::X25519, &[NamedGroup::X25519]),
    ];
    let mut labels = Vec::new();
    let mut group = bench_config(c, "post-quantum");
    for (name, ours, native) in cases {
        let server = native_server(pki(), aws_lc(native));
        let client = native_client(pki(), aws_lc(native));
        // Component as client, a fresh instance per connection.
        let config = client_config(pki()).kx_groups(&[ours]);
        let label = format!("client-{name}");
        let connect = || {
            let wire = ScriptedTransport::new();
            let conn = tlsbox::Connection::new(&runtime(), &config, wire.clone()).unwrap();
            let mut pair = MemPair::from_parts(conn, wire, server.clone());
            pair.handshake().unwrap();
            pair.conn.session_info().unwrap().unwrap().kx_group
        };
        assert_eq!(connect(), Some(ours));
        group.bench_function(BenchmarkId::new("component", &label), |b| b.iter(connect));
        group.bench_function(BenchmarkId::new("native-aws-lc", &label), |b| {
            b.iter(|| native_pair(client.clone(), server.clone()))
        });
        labels.push(label);
        // Component as server, a fresh instance per connection.
        let config = server_config(pki()).kx_groups(&[ours]);
        let label = format!("server-{name}");
        let accept = || {
            let mut pair = MemPair::server(&config, client.clone());
            pair.handshake().unwrap();
        };
        group.bench_function(BenchmarkId::new("component", &label), |b| b.iter(accept));
        group.bench_function(BenchmarkId::new("native-aws-lc", &label), |b| {
            b.iter(|| native_pair(client.clone(), server.clone()))
        });
        labels.push(label);
    }
    group.finish();
    report("post-quantum", &labels, None, &["native-aws-lc"]);

    // What the hybrid costs on the wire and in the guest: a client's first flight.
    for (name, groups) in [
        ("default (x25519mlkem768 and x25519 shares)", vec![]),
        ("x25519 only", vec![KxGroup::X25519]),
    ] {
        let config = client_config(pki()).kx_groups(&groups);
        let endpoint = Endpoint::new(&runtime(), &config).unwrap();
        let wire = ScriptedTransport::new();
        let conn = endpoint.connect(wire.clone()).unwrap();
        assert!(conn.negotiate().unwrap_err().is_blocked());
        let hello = wire.take_outbound();
        println!(
            "memory post-quantum: {name}: ClientHello {} bytes; guest linear memory {} KiB",
            hello.len(),
            endpoint.peak_memory() / 1024
        );
    }
}

criterion_group!(
    benches,
    bulk,
    handshake,
    small,
    boundary,
    start,
    trust,
    wasi_tls,
    post_quantum
);
criterion_main!(benches);
