//! The component over real loopback TCP against native rustls, with blocking and
//! non-blocking transports.

mod common;

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use std::thread;

use common::*;
use tlsbox::{Blocked, Connection, Error, TcpTransport};

/// Retries `f` while it reports would-block (a non-blocking caller's loop).
fn retry<T>(mut f: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
    loop {
        match f() {
            Err(e) if e.is_blocked() => thread::yield_now(),
            other => return other,
        }
    }
}

#[test]
fn blocking_client_against_native_echo_server() {
    let (addr, server) = native_echo_server(native_server(pki(), ring_provider(None)));
    let tcp = TcpStream::connect(&addr).unwrap();
    let conn = Connection::new(&runtime(), &client_config(pki()), TcpTransport::new(tcp)).unwrap();
    conn.negotiate().unwrap();
    let data = payload(256 * 1024, 21);
    let p = conn.send(&data).unwrap();
    assert_eq!(
        (p.bytes as usize, p.blocked),
        (data.len(), Blocked::NotBlocked)
    );
    let mut back = Vec::new();
    while back.len() < data.len() {
        back.extend_from_slice(&conn.recv(16384).unwrap().data);
    }
    assert_eq!(back, data);
    conn.shutdown().unwrap();
    assert_eq!(
        server.join().unwrap(),
        data,
        "the native server saw exactly the payload"
    );
}

#[test]
fn non_blocking_server_against_native_client() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let data = payload(200_000, 8);
    let expected = data.clone();
    let client = thread::spawn(move || {
        native_client_exchange(native_client(pki(), ring_provider(None)), &addr, &data)
    });
    let (tcp, _) = listener.accept().unwrap();
    tcp.set_nonblocking(true).unwrap();
    let conn = Connection::new(&runtime(), &server_config(pki()), TcpTransport::new(tcp)).unwrap();
    retry(|| conn.negotiate()).unwrap();
    // Echo until the client has had everything back.
    let mut echoed = 0;
    while echoed < expected.len() {
        let r = retry(|| conn.recv(16384)).unwrap();
        assert!(!r.data.is_empty());
        let mut rest = &r.data[..];
        while !rest.is_empty() {
            let p = retry(|| conn.send(rest)).unwrap();
            rest = &rest[p.bytes as usize..];
        }
        echoed += r.data.len();
    }
    assert_eq!(client.join().unwrap(), expected);
    // The client closed with close_notify: the next read is 0 bytes, then shutdown completes.
    let r = retry(|| conn.recv(10)).unwrap();
    assert_eq!((r.data.len(), r.blocked), (0, Blocked::NotBlocked));
    retry(|| conn.shutdown()).unwrap();
}

/// A native rustls server that reads until it has `expected` bytes, then closes.
/// One send under the non-blocking retry rule: blocks are `io-blocked`/`on-write` and are
/// retried; the result is the (non-zero) acknowledged count.
fn send_retrying(mut send: impl FnMut() -> Result<tlsbox::Progress, Error>) -> u32 {
    loop {
        match send() {
            Ok(p) => {
                assert!(p.bytes > 0);
                assert!(matches!(p.blocked, Blocked::NotBlocked | Blocked::OnWrite));
                return p.bytes;
            }
            Err(e) => {
                assert_eq!(
                    (e.kind, e.blocked),
                    (tlsbox::ErrorKind::Blocked, Blocked::OnWrite),
                    "{e}"
                );
                thread::yield_now();
            }
        }
    }
}

static TLS13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
static TLS12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];

fn native_sink(
    versions: &'static [&'static rustls::SupportedProtocolVersion],
    expected: usize,
) -> (String, thread::JoinHandle<Vec<u8>>) {
    use std::io::Read;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config = rustls::ServerConfig::builder_with_provider(ring_provider(None))
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            rustls::pki_types::CertificateDer::pem_slice_iter(pki().server_cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap(),
            rustls::pki_types::PrivateKeyDer::from_pem_slice(pki().server_key_pem.as_bytes())
                .unwrap(),
        )
        .unwrap();
    let handle = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let conn = rustls::ServerConnection::new(std::sync::Arc::new(config)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut got = vec![0u8; expected];
        tls.read_exact(&mut got).unwrap();
        got
    });
    (addr, handle)
}

#[test]
fn t17_non_blocking_sendv_with_offset_loop() {
    // R17, R21, R23, T17: 7 buffers of 8 KiB..512 KiB over a non-blocking socket.
    let bufs: Vec<Vec<u8>> = (0..7).map(|i| payload(8192 << i, i as u64 + 1)).collect();
    let slices: Vec<&[u8]> = bufs.iter().map(Vec::as_slice).collect();
    let total: usize = slices.iter().map(|b| b.len()).sum();
    assert_eq!(total, 1_040_384);
    let expected = bufs.concat();
    for versions in [TLS13, TLS12] {
        for sizing in [
            tlsbox::RecordSizing::PreferLowLatency,
            tlsbox::RecordSizing::PreferThroughput,
        ] {
            let (addr, server) = native_sink(versions, total);
            let tcp = TcpStream::connect(&addr).unwrap();
            let conn = Connection::new(
                &runtime(),
                &client_config(pki()).record_sizing(sizing),
                TcpTransport::new(tcp.try_clone().unwrap()),
            )
            .unwrap();
            conn.negotiate().unwrap();
            tcp.set_nonblocking(true).unwrap();
            let mut offset = 0u64;
            while offset < total as u64 {
                offset += u64::from(send_retrying(|| conn.sendv_with_offset(&slices, offset)));
            }
            assert_eq!(offset, total as u64);
            assert_eq!(
                server.join().unwrap(),
                expected,
                "{versions:?} {sizing:?}: exact concatenation"
            );
        }
    }
}

#[test]
fn t17_non_blocking_send_of_10_mb() {
    // T17's second half: s2n_send(ptr, remaining) with 10,000,000 bytes.
    let data = payload(10_000_000, 17);
    let (addr, server) = native_sink(TLS13, data.len());
    let tcp = TcpStream::connect(&addr).unwrap();
    let conn = Connection::new(
        &runtime(),
        &client_config(pki()),
        TcpTransport::new(tcp.try_clone().unwrap()),
    )
    .unwrap();
    conn.negotiate().unwrap();
    tcp.set_nonblocking(true).unwrap();
    let mut sent = 0;
    while sent < data.len() {
        sent += send_retrying(|| conn.send(&data[sent..])) as usize;
    }
    assert_eq!(server.join().unwrap(), data);
}

#[test]
fn one_sender_and_one_receiver_share_a_non_blocking_connection() {
    // As in s2n, one thread may send while another receives. Each call holds the instance
    // only while it runs, so the transport must be non-blocking: over a blocking socket a
    // recv waiting for data would hold the instance and the sender could never get in.
    let (addr, server) = native_echo_server(native_server(pki(), ring_provider(None)));
    let tcp = TcpStream::connect(&addr).unwrap();
    tcp.set_nonblocking(true).unwrap();
    let conn = Connection::new(&runtime(), &client_config(pki()), TcpTransport::new(tcp)).unwrap();
    retry(|| conn.negotiate()).unwrap();
    let conn = Arc::new(conn);
    let data = Arc::new(payload(4 << 20, 44));

    let sender = {
        let (conn, data) = (conn.clone(), data.clone());
        thread::spawn(move || {
            // The retry rule: after a block the same chunk again, after a partial result
            // the data after the acknowledged bytes.
            let mut sent = 0;
            while sent < data.len() {
                let chunk = &data[sent..data.len().min(sent + 100_000)];
                sent += send_retrying(|| conn.send(chunk)) as usize;
            }
        })
    };
    let receiver = {
        let (conn, len) = (conn.clone(), data.len());
        thread::spawn(move || {
            let mut got = Vec::with_capacity(len);
            while got.len() < len {
                match conn.recv(16384) {
                    Ok(r) => {
                        assert!(!r.data.is_empty(), "no close_notify before the end");
                        got.extend_from_slice(&r.data);
                    }
                    Err(e) => {
                        assert_eq!(
                            (e.kind, e.blocked),
                            (tlsbox::ErrorKind::Blocked, Blocked::OnRead),
                            "{e}"
                        );
                        thread::yield_now();
                    }
                }
            }
            got
        })
    };
    sender.join().unwrap();
    let got = receiver.join().unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == *data, "the echo is exactly the sent bytes");
    retry(|| conn.shutdown()).unwrap();
    assert!(
        server.join().unwrap() == *data,
        "the server saw exactly the payload"
    );
}
