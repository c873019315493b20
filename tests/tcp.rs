//! The component over real loopback TCP against native rustls, with blocking and
//! non-blocking transports.

mod common;

use std::net::{TcpListener, TcpStream};
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
    let mut conn =
        Connection::new(&runtime(), &client_config(pki()), TcpTransport::new(tcp)).unwrap();
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
    let mut conn =
        Connection::new(&runtime(), &server_config(pki()), TcpTransport::new(tcp)).unwrap();
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
