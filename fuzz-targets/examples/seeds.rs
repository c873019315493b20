//! Writes the seed inputs the fuzz corpus started from (`cargo run -p tlsbox-fuzz-targets
//! --example seeds`): real first flights from native rustls and from the component, and
//! hand-made records, call sequences and configurations. The committed corpus is what
//! fuzzing grew from them, minimised (`cargo fuzz cmin`).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tlsbox_guest::conn::{Config, Connection};
use tlsbox_guest::types::{ConfigOptions, Role};

fn corpus(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    fs::create_dir_all(&dir).expect("corpus dir");
    dir
}

fn write(target: &str, name: &str, data: &[u8]) {
    fs::write(corpus(target).join(format!("seed-{name}")), data).expect("write seed");
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A ClientHello from a native rustls client offering `versions`.
fn native_hello(versions: &[&'static rustls::SupportedProtocolVersion]) -> Vec<u8> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut out = Vec::new();
    conn.write_tls(&mut out).unwrap();
    out
}

/// The component's own first flight for `options`.
fn component_flight(options: &ConfigOptions, inbound: &[u8]) -> Vec<u8> {
    let config = Config::new(options).unwrap();
    let socket = Socket::default();
    let mut conn = Connection::new(&config, socket.clone()).unwrap();
    socket.0.borrow_mut().0.extend_from_slice(inbound);
    let _ = conn.negotiate();
    std::mem::take(&mut socket.0.borrow_mut().1)
}

#[derive(Clone, Default)]
struct Socket(std::rc::Rc<std::cell::RefCell<(Vec<u8>, Vec<u8>)>>);

impl tlsbox_guest::io::Socket for Socket {
    fn send(&mut self, data: &[u8]) -> Result<u32, tlsbox_guest::types::IoError> {
        self.0.borrow_mut().1.extend_from_slice(data);
        Ok(data.len() as u32)
    }

    fn recv(&mut self, max: u32) -> Result<Vec<u8>, tlsbox_guest::types::IoError> {
        let mut link = self.0.borrow_mut();
        if link.0.is_empty() {
            return Err(tlsbox_guest::types::IoError::WouldBlock);
        }
        let n = (max as usize).min(link.0.len());
        Ok(link.0.drain(..n).collect())
    }
}

/// A component client's options, trusting a CA of its own.
fn client_options() -> ConfigOptions {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params.self_signed(&key).unwrap();
    let mut options = ConfigOptions::new(Role::Client);
    options.server_name = Some("localhost".into());
    options.trust_anchors = vec![ca.pem().into_bytes()];
    options
}

fn record(typ: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![typ, flags];
    out.extend((payload.len() as u16).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let len = (body.len() as u32).to_be_bytes();
    let mut out = vec![typ, len[1], len[2], len[3]];
    out.extend_from_slice(body);
    out
}

fn main() {
    // server_first_flight: ClientHellos, under each option flag.
    let hellos = [
        ("rustls-all", native_hello(rustls::ALL_VERSIONS)),
        ("rustls-tls12", native_hello(&[&rustls::version::TLS12])),
        ("component", component_flight(&client_options(), &[])),
    ];
    for (name, hello) in &hellos {
        for flags in [0u8, 1, 2, 4, 8] {
            write(
                "server_first_flight",
                &format!("{name}-{flags}"),
                &[&[flags][..], hello].concat(),
            );
        }
    }

    // client_first_flight: a native server's answer to the component's ClientHello.
    let hello = component_flight(&client_options(), &[]);
    for (name, versions) in [
        ("tls13", rustls::ALL_VERSIONS),
        ("tls12", &[&rustls::version::TLS12][..]),
    ] {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
            )
            .unwrap();
        let mut server = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        server.read_tls(&mut &hello[..]).unwrap();
        server.process_new_packets().unwrap();
        let mut flight = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut flight).unwrap();
        }
        for flags in [0u8, 1, 4] {
            write(
                "client_first_flight",
                &format!("{name}-{flags}"),
                &[&[flags][..], &flight].concat(),
            );
        }
    }

    // forged_records: (mode, records).
    let cert = {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap()
            .der()
            .to_vec()
    };
    let mut certificate = vec![0u8]; // request context
    let mut entry = (cert.len() as u32).to_be_bytes()[1..].to_vec();
    entry.extend(&cert);
    entry.extend([0, 0]);
    certificate.extend(&(entry.len() as u32).to_be_bytes()[1..]);
    certificate.extend(entry);
    let server_flight = [
        handshake(8, &[0, 0]),
        handshake(11, &certificate),
        handshake(15, &[&[0x08, 0x07, 0, 64][..], &[0x11; 64]].concat()),
        handshake(20, &[0x22; 48]),
    ]
    .concat();
    let seeds: Vec<(&str, u8, Vec<u8>)> = vec![
        ("client-handshake-flight", 0, record(22, 0, &server_flight)),
        (
            "client-handshake-split",
            0,
            [
                record(22, 0, &server_flight[..30]),
                record(22, 0, &server_flight[30..]),
            ]
            .concat(),
        ),
        (
            "server-finished",
            1,
            record(22, 0, &handshake(20, &[0x22; 48])),
        ),
        (
            "server-finished-short",
            1,
            record(22, 0, &handshake(20, &[0x22; 32])),
        ),
        (
            "server-plaintext-finished",
            1,
            record(
                0,
                1,
                &[&[22, 3, 3, 0, 52][..], &handshake(20, &[0; 48])].concat(),
            ),
        ),
        ("after-data", 2, record(23, 0, b"hello")),
        (
            "after-key-update",
            2,
            [record(22, 0, &[24, 0, 0, 1, 1]), record(23, 0, b"x")].concat(),
        ),
        (
            "after-key-update-split",
            3,
            [record(22, 0, &[24, 0, 0]), record(22, 0, &[1, 0])].concat(),
        ),
        (
            "after-ticket",
            2,
            record(
                22,
                0,
                &handshake(4, &[0, 0, 0, 60, 1, 2, 3, 4, 0, 0, 2, 9, 9, 0, 0]),
            ),
        ),
        ("after-alert", 3, record(21, 0, &[1, 0])),
        ("after-empty-alert", 2, record(21, 0, &[])),
        ("after-zero-type", 3, record(0, 0, b"abc")),
        ("after-plaintext", 2, record(0, 1, &[21, 3, 3, 0, 2, 2, 10])),
    ];
    for (name, mode, records) in seeds {
        write("forged_records", name, &[&[mode][..], &records].concat());
    }

    // calls: (mode, ops length, ops, tape).
    let calls: Vec<(&str, u8, Vec<u8>, Vec<u8>)> = vec![
        (
            "echo",
            0,
            vec![
                10, 0, 0, 1, 0x10, 0x00, 8, 0x08, 0x00, 3, 0x40, 0x00, 6, 11, 0,
            ],
            vec![],
        ),
        (
            "server-echo",
            1,
            vec![10, 8, 0x20, 0x00, 3, 0x40, 0x00, 0, 0x30, 0x00, 6, 11, 1],
            vec![],
        ),
        (
            "partial",
            0x10,
            vec![
                10, 0, 0x9c, 0x40, 0, 0, 0, 6, 3, 0x10, 0, 8, 0x10, 0, 3, 0x10, 0,
            ],
            [3u8, 100, 0, 2, 5, 7, 3, 1, 0, 9].repeat(20),
        ),
        (
            "vectored",
            0x24,
            vec![
                10, 2, 0x30, 0, 0, 5, 1, 0, 2, 0, 7, 6, 7, 9, 8, 0, 200, 4, 0x40, 0,
            ],
            [3u8, 10, 1, 6].repeat(30),
        ),
        (
            "tls12",
            0x02,
            vec![10, 0, 0x05, 0, 8, 0x05, 0, 3, 0x10, 0, 11, 0, 11, 1],
            vec![0, 1, 2, 3],
        ),
        (
            "lies",
            0x48,
            vec![10, 0, 0x20, 0, 3, 0x20, 0, 12, 0, 30, 0, 0x10, 0],
            [8u8, 9, 0xf9, 7].repeat(10),
        ),
    ];
    for (name, mode, ops, tape) in calls {
        let mut data = vec![mode];
        data.extend((ops.len() as u16).to_be_bytes());
        data.extend(ops);
        data.extend(tape);
        write("calls", name, &data);
    }

    // config: (flags, fields...).
    let field = |data: &[u8]| [&(data.len() as u16).to_be_bytes()[..], data].concat();
    let configs: Vec<(&str, u16, Vec<u8>)> = vec![
        (
            "client",
            0x0002 | 0x0008 | 0x0100,
            [
                field(b"localhost"),
                field(b""),
                field(b""),
                field(b""),
                field(b"h2\0http/1.1"),
                field(b""),
                vec![3, 0x01, 0xff, 0x7f, 0, 0, 1, 0, 0],
            ]
            .concat(),
        ),
        (
            "server",
            0x0001 | 0x0020 | 0x0080 | 0x0200,
            [
                field(b""),
                field(b""),
                field(b""),
                field(b""),
                field(b""),
                field(&[7; 32]),
                vec![1, 0, 0, 0x01, 1, 1, 2, 0x40, 0],
            ]
            .concat(),
        ),
        (
            "server-bad-key",
            0x0001 | 0x0020 | 0x0040,
            [
                field(b""),
                field(b""),
                field(b""),
                field(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
                field(b""),
                field(b""),
                vec![0; 9],
            ]
            .concat(),
        ),
        (
            "client-der-anchor",
            0x0002 | 0x0004,
            [
                field(b"example.com"),
                field(&cert),
                field(b""),
                field(b""),
                field(b""),
                field(b""),
                vec![2, 0, 0, 0, 0, 0, 0, 0, 0],
            ]
            .concat(),
        ),
        (
            "client-ip",
            0x0002 | 0x0008 | 0x0400 | 0x0800,
            [
                field(b"127.0.0.1"),
                field(b""),
                field(b""),
                field(b""),
                field(b""),
                field(b""),
                vec![0, 0, 0, 0, 0, 0x02, 0x00, 0x04, 0x00, 0, 0, 0],
            ]
            .concat(),
        ),
    ];
    for (name, flags, rest) in configs {
        write("config", name, &[&flags.to_be_bytes()[..], &rest].concat());
    }

    // boundary: (mode, ops length, ops, tape).
    let boundary: Vec<(&str, u8, Vec<u8>, Vec<u8>)> = vec![
        (
            "client",
            0,
            vec![0, 0, 0, 0x10, 0, 1, 0, 0, 14, 0x01, 0, 3, 0, 0, 6, 0, 0, 9],
            vec![],
        ),
        (
            "server-huge",
            1,
            vec![
                0, 0, 0, 0xff, 0xff, 4, 0xff, 0xff, 2, 30, 0xff, 0xff, 0xff, 0xff, 0, 0, 10, 0, 0,
                11,
            ],
            vec![4, 4, 4],
        ),
        (
            "lies",
            0,
            vec![0, 0, 0, 0, 0x10, 1, 0, 0x10, 3],
            vec![3, 2, 1, 0, 3, 2],
        ),
    ];
    for (name, mode, ops, tape) in boundary {
        let mut data = vec![mode];
        data.extend((ops.len() as u16).to_be_bytes());
        data.extend(ops);
        data.extend(tape);
        write("boundary", name, &data);
    }
}
