//! Bulk and handshake cost of the component against native baselines, in one run:
//! - `component`: the guest in wasmtime, driven through the host API;
//! - `native-ourcrypto`: the same rustls + RustCrypto provider compiled natively;
//! - `native-ring`: rustls with ring (AES-NI), the best a native stack does here.
//!
//! After each group the bench prints component/native ratios from criterion's estimates.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, ServerConnection};
use tlsbox::{CipherSuite, RecordSizing};

const MIB: usize = 1 << 20;

/// (label, component suite, native suite)
const SUITES: [(&str, CipherSuite, rustls::CipherSuite); 2] = [
    (
        "chacha20",
        CipherSuite::Tls13Chacha20Poly1305Sha256,
        rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    ),
    (
        "aes128gcm",
        CipherSuite::Tls13Aes128GcmSha256,
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256,
    ),
];

/// Our provider, compiled natively, restricted to one suite.
fn our_provider(suite: rustls::CipherSuite) -> Arc<CryptoProvider> {
    let mut provider = tlsbox_guest::crypto::provider();
    provider.cipher_suites.retain(|s| s.suite() == suite);
    Arc::new(provider)
}

/// A native client config over `provider` trusting the test CA.
fn native_client_with(provider: Arc<CryptoProvider>) -> Arc<ClientConfig> {
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(root_store())
        .with_no_client_auth();
    Arc::new(config)
}

fn root_store() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pki().ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

/// Handshakes two native connections in memory.
fn native_pair(
    client: Arc<ClientConfig>,
    suite: rustls::CipherSuite,
) -> (ClientConnection, ServerConnection) {
    let mut c = ClientConnection::new(client, ServerName::try_from("localhost").unwrap()).unwrap();
    let mut s = ServerConnection::new(native_server(pki(), ring_provider(Some(suite)))).unwrap();
    c.set_buffer_limit(None);
    s.set_buffer_limit(None);
    while c.is_handshaking() || s.is_handshaking() {
        let mut buf = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut buf).unwrap();
        }
        s.read_tls(&mut &buf[..]).unwrap();
        s.process_new_packets().unwrap();
        buf.clear();
        while s.wants_write() {
            s.write_tls(&mut buf).unwrap();
        }
        c.read_tls(&mut &buf[..]).unwrap();
        c.process_new_packets().unwrap();
    }
    (c, s)
}

/// Encrypts `data` in 16 KiB records and drops the ciphertext.
fn native_send(c: &mut ClientConnection, data: &[u8], sink: &mut Vec<u8>) {
    for chunk in data.chunks(16384) {
        c.writer().write_all(chunk).unwrap();
        while c.wants_write() {
            c.write_tls(sink).unwrap();
        }
        sink.clear();
    }
}

fn bulk_send(c: &mut Criterion) {
    let data = payload(MIB, 1);
    let mut group = c.benchmark_group("send_1MiB");
    group
        .throughput(Throughput::Bytes(MIB as u64))
        .measurement_time(Duration::from_secs(5));
    for (label, suite, native) in SUITES {
        let config = client_config(pki())
            .cipher_suites(&[suite])
            .record_sizing(RecordSizing::PreferThroughput);
        let mut pair = MemPair::client(&config, native_server(pki(), ring_provider(Some(native))));
        pair.handshake().unwrap();
        group.bench_function(BenchmarkId::new("component", label), |b| {
            b.iter(|| {
                pair.conn.send(&data).unwrap();
                pair.wire.take_outbound()
            })
        });
        println!(
            "memory send_1MiB/{label}: guest linear memory peaked at {:.2} MiB",
            pair.conn.peak_memory() as f64 / (1 << 20) as f64
        );
        for (variant, provider) in [
            ("native-ourcrypto", our_provider(native)),
            ("native-ring", ring_provider(Some(native))),
        ] {
            let (mut client, _server) = native_pair(native_client_with(provider), native);
            let mut sink = Vec::with_capacity(20_000);
            group.bench_function(BenchmarkId::new(variant, label), |b| {
                b.iter(|| native_send(&mut client, &data, &mut sink))
            });
        }
    }
    group.finish();
    print_ratios("send_1MiB", &SUITES.map(|s| s.0));
}

fn handshake(c: &mut Criterion) {
    let mut group = c.benchmark_group("handshake");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(5));
    let (label, suite, native) = SUITES[0];
    let config = client_config(pki()).cipher_suites(&[suite]);
    let server = native_server(pki(), ring_provider(Some(native)));
    // One endpoint, many connections: the config is parsed once, as in a real client.
    let endpoint = tlsbox::Endpoint::new(&runtime(), &config).unwrap();
    group.bench_function(BenchmarkId::new("component", label), |b| {
        b.iter(|| {
            let wire = tlsbox::ScriptedTransport::new();
            let conn = endpoint.connect(wire.clone()).unwrap();
            let mut pair = MemPair::from_parts(conn, wire, server.clone());
            pair.handshake().unwrap();
        })
    });
    for (variant, provider) in [
        ("native-ourcrypto", our_provider(native)),
        ("native-ring", ring_provider(Some(native))),
    ] {
        let client = native_client_with(provider);
        group.bench_function(BenchmarkId::new(variant, label), |b| {
            b.iter(|| native_pair(client.clone(), native))
        });
    }
    group.finish();
    print_ratios("handshake", &[label]);
}

/// Prints component/native ratios from criterion's saved estimates.
fn print_ratios(group: &str, labels: &[&str]) {
    let mean = |variant: &str, label: &str| -> Option<f64> {
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
    };
    for label in labels {
        if let (Some(component), Some(ours), Some(ring)) = (
            mean("component", label),
            mean("native-ourcrypto", label),
            mean("native-ring", label),
        ) {
            println!(
                "ratio {group}/{label}: component {:.3} ms = {:.2}x native-ourcrypto ({:.3} ms), {:.2}x native-ring ({:.3} ms)",
                component / 1e6,
                component / ours,
                ours / 1e6,
                component / ring,
                ring / 1e6
            );
        }
    }
}

fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("criterion")
}

criterion_group!(benches, bulk_send, handshake);
criterion_main!(benches);
