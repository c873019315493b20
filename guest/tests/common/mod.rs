//! What the guest's native tests share: an in-memory pipe between two connections of our
//! own, a self-signed certificate, and a handshake driver.

#![allow(dead_code)] // each test file uses part of it

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use tlsbox_guest::conn::{Config, Connection};
use tlsbox_guest::io::Socket;
use tlsbox_guest::types::IoError;

/// One direction of the pipe.
pub type Queue = Rc<RefCell<VecDeque<u8>>>;

/// An end of an in-memory pipe: never blocks on send, would-block when empty.
pub struct End {
    inbox: Queue,
    outbox: Queue,
}

impl Socket for End {
    fn send(&mut self, data: &[u8]) -> Result<u32, IoError> {
        self.outbox.borrow_mut().extend(data);
        Ok(data.len() as u32)
    }

    fn recv(&mut self, max: u32) -> Result<Vec<u8>, IoError> {
        let mut inbox = self.inbox.borrow_mut();
        let n = inbox.len().min(max as usize);
        Ok(inbox.drain(..n).collect())
    }
}

pub fn pipe() -> (End, End, Queue) {
    let (a, b): (Queue, Queue) = Default::default();
    (
        End {
            inbox: a.clone(),
            outbox: b.clone(),
        },
        End {
            inbox: b.clone(),
            outbox: a,
        },
        b,
    )
}

pub struct Pki {
    pub cert: String,
    pub key: String,
}

pub fn pki() -> Pki {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    Pki {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

pub type Conn = Connection<End>;

/// A client and a server joined by a fresh pipe.
pub fn connect(client: &Config, server: &Config) -> (Conn, Conn) {
    let (c, s, _) = pipe();
    (
        Connection::new(client, c).unwrap(),
        Connection::new(server, s).unwrap(),
    )
}

/// Both sides negotiate until done.
pub fn handshake(client: &mut Conn, server: &mut Conn) {
    for _ in 0..20 {
        let c = client.negotiate();
        let s = server.negotiate();
        if c.is_ok() && s.is_ok() {
            return;
        }
        for r in [&c, &s] {
            if let Err(e) = r {
                assert!(e.is_blocked(), "{e}");
            }
        }
    }
    panic!("handshake did not finish");
}
