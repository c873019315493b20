//! The alert on the wire (RFC 8446 §6.2, the default `alert-policy: rfc`): every failure the
//! component detects itself puts the alert that failure calls for on the transport, from the
//! failing call, with no blinding delay; then the connection is closed both ways. Under
//! `alert-policy: s2n` the same failures keep s2n's behaviour (R57, R80, R81).
//!
//! The native rustls peer hands over its traffic secrets once the handshake is done, so the
//! test can forge records under the real keys (a zero content type, a bad KeyUpdate, an empty
//! alert) and open the component's alert record to read its description.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, Iv, MessageDecrypter, MessageEncrypter, OutboundChunks,
    OutboundPlainMessage,
};
use rustls::{ConnectionTrafficSecrets, ContentType, ProtocolVersion, ServerConfig};
use tlsbox::{AlertPolicy, CipherSuite, Config, ErrorKind};
use tlsbox_test_support::scripted::{Direction, Step};

use common::{
    AnyCert, MemPair, client_config, native_client, native_client_with_identity, native_server,
    pki, records, ring_provider, server_config,
};

const BAD_RECORD_MAC: u8 = 20;
const RECORD_OVERFLOW: u8 = 22;
const UNEXPECTED_MESSAGE: u8 = 10;
const DECODE_ERROR: u8 = 50;
const DECRYPT_ERROR: u8 = 51;
const ILLEGAL_PARAMETER: u8 = 47;
const MISSING_EXTENSION: u8 = 109;
const HANDSHAKE_FAILURE: u8 = 40;
const HELLO: &[u8] = b"hello";

/// A record the component wrote, opened: inner content type and payload.
type Opened = (ContentType, Vec<u8>);

/// What a failing call reports (error name and alert) and what it put on the wire.
type Failure = (String, Option<u8>, Vec<Opened>);

/// The native side's record keys after the handshake: its write keys (to forge records the
/// component reads) and its read keys (to open what the component writes).
struct Keys {
    write: Box<dyn MessageEncrypter>,
    write_seq: u64,
    read: Box<dyn MessageDecrypter>,
    read_seq: u64,
}

impl Keys {
    /// Keys derived from TLS 1.3 traffic secrets (RFC 8446 §7.3) of AES-256-GCM-SHA384: the
    /// peer writes under `write` and reads under `read`, both from sequence number 0.
    fn from_secrets(write: &[u8], read: &[u8]) -> Keys {
        let suite = rustls::crypto::ring::cipher_suite::TLS13_AES_256_GCM_SHA384
            .tls13()
            .expect("TLS 1.3 suite");
        let derive = |secret: &[u8]| {
            let expander = suite
                .hkdf_provider
                .expander_for_okm(&rustls::crypto::tls13::OkmBlock::new(secret));
            let label = |label: &[u8], out: &mut [u8]| {
                let len = (out.len() as u16).to_be_bytes();
                let info: [&[u8]; 5] = [&len, &[6 + label.len() as u8], b"tls13 ", label, &[0]];
                expander.expand_slice(&info, out).expect("expand");
            };
            let (mut key, mut iv) = ([0u8; 32], [0u8; 12]);
            label(b"key", &mut key);
            label(b"iv", &mut iv);
            (AeadKey::from(key), Iv::new(iv))
        };
        let (wk, wi) = derive(write);
        let (rk, ri) = derive(read);
        Keys {
            write: suite.aead_alg.encrypter(wk, wi),
            write_seq: 0,
            read: suite.aead_alg.decrypter(rk, ri),
            read_seq: 0,
        }
    }

    /// Opens the records of `wire` that are protected, and checks that the rest are the
    /// middlebox-compatibility ChangeCipherSpec.
    fn open_protected(&mut self, wire: &[u8]) -> Vec<Opened> {
        let mut protected = Vec::new();
        for record in records(wire) {
            if record[0] == 20 {
                assert_eq!(record, [20, 3, 3, 0, 1, 1], "a ChangeCipherSpec");
            } else {
                protected.extend_from_slice(record);
            }
        }
        self.open_all(&protected)
    }

    /// Takes the keys out of the pair's native peer (which is then gone).
    fn extract(pair: &mut MemPair) -> Keys {
        let placeholder = rustls::ServerConnection::new(native_server(pki(), ring_provider(None)))
            .expect("placeholder");
        let peer = std::mem::replace(&mut pair.peer, placeholder.into());
        let secrets = match peer {
            rustls::Connection::Client(c) => c.dangerous_extract_secrets(),
            rustls::Connection::Server(s) => s.dangerous_extract_secrets(),
        }
        .expect("secret extraction enabled");
        let (write_seq, write) = secrets.tx;
        let (read_seq, read) = secrets.rx;
        let suite = rustls::crypto::ring::cipher_suite::TLS13_AES_256_GCM_SHA384
            .tls13()
            .expect("TLS 1.3 suite");
        let (
            ConnectionTrafficSecrets::Aes256Gcm { key: wk, iv: wi },
            ConnectionTrafficSecrets::Aes256Gcm { key: rk, iv: ri },
        ) = (write, read)
        else {
            panic!("the fixture negotiates AES-256-GCM");
        };
        Keys {
            write: suite.aead_alg.encrypter(wk, wi),
            write_seq,
            read: suite.aead_alg.decrypter(rk, ri),
            read_seq,
        }
    }

    /// A TLS 1.3 record whose inner content type is `typ`, under the peer's write key.
    fn forge(&mut self, typ: ContentType, payload: &[u8]) -> Vec<u8> {
        let msg = OutboundPlainMessage {
            typ,
            version: ProtocolVersion::TLSv1_2,
            payload: OutboundChunks::Single(payload),
        };
        let record = self.write.encrypt(msg, self.write_seq).expect("seal");
        self.write_seq += 1;
        record.encode()
    }

    /// Opens every record in `wire` and returns (inner type, payload) of each.
    fn open_all(&mut self, wire: &[u8]) -> Vec<Opened> {
        let mut out = Vec::new();
        for record in records(wire) {
            let mut body = record[5..].to_vec();
            let msg = InboundOpaqueMessage::new(
                ContentType::ApplicationData,
                ProtocolVersion::TLSv1_2,
                &mut body,
            );
            let plain = self.read.decrypt(msg, self.read_seq).expect("open");
            self.read_seq += 1;
            out.push((plain.typ, plain.payload.to_vec()));
        }
        out
    }
}

/// A native server that lets the test take its traffic secrets.
fn extractable_server() -> Arc<ServerConfig> {
    let mut config = (*native_server(pki(), ring_provider(None))).clone();
    config.enable_secret_extraction = true;
    Arc::new(config)
}

/// A component client handshaken (TLS 1.3, AES-256-GCM) with a native server whose keys the
/// test holds; the server's ticket is consumed.
fn client_pair(policy: AlertPolicy) -> (MemPair, Keys) {
    let config = client_config(pki())
        .cipher_suites(&[CipherSuite::Tls13Aes256GcmSha384])
        .alert_policy(policy)
        .max_blinding_delay_secs(1);
    let mut pair = MemPair::client(&config, extractable_server());
    pair.handshake().expect("handshake");
    pair.pump().expect("pump");
    let err = pair.conn.recv(1).unwrap_err();
    assert!(err.is_blocked(), "ticket consumed: {err}");
    pair.wire.take_outbound();
    pair.wire.clear_calls();
    let keys = Keys::extract(&mut pair);
    (pair, keys)
}

/// Delivers `record`, lets the component fail on it, and returns the error name, the alert
/// the error carries, and what went on the wire (opened).
fn fail_with(pair: &mut MemPair, keys: &mut Keys, record: &[u8]) -> Failure {
    pair.wire.push_inbound(record);
    let err = pair.conn.recv(100).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Protocol, "{err}");
    let wire = pair.wire.take_outbound();
    (err.name.clone(), err.alert, keys.open_all(&wire))
}

fn fatal(description: u8) -> Vec<Opened> {
    vec![(ContentType::Alert, vec![2, description])]
}

/// After the alert: no blinding, both directions closed, nothing more on the wire.
fn assert_closed_after_alert(pair: &mut MemPair) {
    assert_eq!(
        pair.conn.delay().unwrap(),
        Duration::ZERO,
        "no blinding under rfc"
    );
    assert_eq!(pair.conn.recv(10).unwrap_err().name, "closed");
    assert_eq!(pair.conn.send(HELLO).unwrap_err().name, "closed");
    assert_eq!(
        pair.conn.shutdown(),
        Ok(()),
        "no close_notify after a fatal alert"
    );
    assert!(pair.wire.take_outbound().is_empty());
}

#[test]
fn tampered_record_gets_bad_record_mac() {
    let (mut pair, mut keys) = client_pair(AlertPolicy::Rfc);
    let mut record = keys.forge(ContentType::ApplicationData, HELLO);
    record[7] ^= 1;
    let (name, alert, wire) = fail_with(&mut pair, &mut keys, &record);
    assert_eq!((name.as_str(), alert), ("decrypt", Some(BAD_RECORD_MAC)));
    assert_eq!(wire, fatal(BAD_RECORD_MAC));
    assert_closed_after_alert(&mut pair);
}

#[test]
fn oversized_ciphertext_gets_record_overflow_before_decryption() {
    // RFC 8446 §5.2: 2^14 + 257 bytes of ciphertext is one byte too many. Only the header is
    // read: the body is never fetched, so nothing is decrypted.
    let (mut pair, mut keys) = client_pair(AlertPolicy::Rfc);
    let len: u16 = 16384 + 257;
    let mut record = vec![23, 3, 3];
    record.extend_from_slice(&len.to_be_bytes());
    record.resize(5 + usize::from(len), 0);
    let (name, alert, wire) = fail_with(&mut pair, &mut keys, &record);
    assert_eq!(
        (name.as_str(), alert),
        ("record-too-large", Some(RECORD_OVERFLOW))
    );
    assert_eq!(wire, fatal(RECORD_OVERFLOW));
    let reads: Vec<usize> = pair
        .wire
        .calls()
        .iter()
        .filter(|c| c.direction == Direction::Recv)
        .map(|c| c.requested)
        .collect();
    assert_eq!(reads, [5], "the header only");
    assert_closed_after_alert(&mut pair);
}

#[test]
fn largest_legal_ciphertext_is_accepted() {
    // The boundary: 2^14 bytes of data in a record of 2^14 + 17 bytes passes.
    let (pair, mut keys) = client_pair(AlertPolicy::Rfc);
    let data = vec![7u8; 16384];
    pair.wire
        .push_inbound(&keys.forge(ContentType::ApplicationData, &data));
    assert_eq!(pair.conn.recv(20000).unwrap().data, data);
}

#[test]
fn zero_inner_content_type_gets_unexpected_message() {
    // RFC 8446 §5.4: a TLSInnerPlaintext without a non-zero octet.
    let (mut pair, mut keys) = client_pair(AlertPolicy::Rfc);
    let record = keys.forge(ContentType::Unknown(0), &[0, 0, 0]);
    let (name, alert, wire) = fail_with(&mut pair, &mut keys, &record);
    assert_eq!(
        (name.as_str(), alert),
        ("unexpected-message", Some(UNEXPECTED_MESSAGE))
    );
    assert_eq!(wire, fatal(UNEXPECTED_MESSAGE));
    assert_closed_after_alert(&mut pair);
}

#[test]
fn invalid_key_update_gets_illegal_parameter() {
    // RFC 8446 §4.6.3: request_update other than 0 or 1.
    let (mut pair, mut keys) = client_pair(AlertPolicy::Rfc);
    let record = keys.forge(ContentType::Handshake, &[24, 0, 0, 1, 2]);
    let (_, alert, wire) = fail_with(&mut pair, &mut keys, &record);
    assert_eq!(alert, Some(ILLEGAL_PARAMETER));
    assert_eq!(wire, fatal(ILLEGAL_PARAMETER));
    assert_closed_after_alert(&mut pair);
}

#[test]
fn empty_alert_gets_unexpected_message() {
    // RFC 8446 §5.1: Alert and Handshake records are never empty; rustls would send
    // decode_error.
    for typ in [ContentType::Alert, ContentType::Handshake] {
        let (mut pair, mut keys) = client_pair(AlertPolicy::Rfc);
        let record = keys.forge(typ, &[]);
        let (name, alert, wire) = fail_with(&mut pair, &mut keys, &record);
        assert_eq!(
            (name.as_str(), alert),
            ("unexpected-message", Some(UNEXPECTED_MESSAGE)),
            "{typ:?}"
        );
        assert_eq!(wire, fatal(UNEXPECTED_MESSAGE));
        assert_closed_after_alert(&mut pair);
    }
}

#[test]
fn handshake_message_interleaved_with_data_gets_unexpected_message() {
    // RFC 8446 §5.1: handshake messages must not be interleaved with other record types.
    let (mut pair, mut keys) = client_pair(AlertPolicy::Rfc);
    let mut records = keys.forge(ContentType::Handshake, &[24, 0]);
    records.extend(keys.forge(ContentType::ApplicationData, HELLO));
    pair.wire.push_inbound(&records);
    let err = match pair.conn.recv(100) {
        Err(e) if e.is_blocked() => panic!("both records were delivered"),
        Err(e) => e,
        Ok(r) => panic!("no data may pass: {r:?}"),
    };
    assert_eq!(err.alert, Some(UNEXPECTED_MESSAGE), "{err}");
    assert_eq!(
        keys.open_all(&pair.wire.take_outbound()),
        fatal(UNEXPECTED_MESSAGE)
    );
    assert_closed_after_alert(&mut pair);
}

#[test]
fn plaintext_record_after_the_handshake_gets_unexpected_message() {
    // R51: after the TLS 1.3 handshake every record is protected.
    let (mut pair, mut keys) = client_pair(AlertPolicy::Rfc);
    let (name, alert, wire) = fail_with(&mut pair, &mut keys, &[21, 3, 3, 0, 2, 1, 0]);
    assert_eq!(
        (name.as_str(), alert),
        ("bad-message", Some(UNEXPECTED_MESSAGE))
    );
    assert_eq!(wire, fatal(UNEXPECTED_MESSAGE));
}

#[test]
fn an_alert_the_transport_cannot_take_goes_out_with_the_next_call() {
    let (pair, mut keys) = client_pair(AlertPolicy::Rfc);
    let mut record = keys.forge(ContentType::ApplicationData, HELLO);
    record[7] ^= 1;
    pair.wire.script_send([Step::WouldBlock]);
    pair.wire.push_inbound(&record);
    assert_eq!(pair.conn.recv(100).unwrap_err().name, "decrypt");
    assert!(
        pair.wire.take_outbound().is_empty(),
        "the transport blocked"
    );
    assert_eq!(pair.conn.recv(100).unwrap_err().name, "closed");
    assert_eq!(
        keys.open_all(&pair.wire.take_outbound()),
        fatal(BAD_RECORD_MAC)
    );
    assert_eq!(pair.conn.flush(), Ok(()));
    assert!(pair.wire.take_outbound().is_empty(), "sent once");
}

#[test]
fn s2n_policy_sends_close_notify_at_shutdown_after_the_delay() {
    // R57, R80, R81: nothing at once; a blinding delay; then a close_notify.
    let (pair, mut keys) = client_pair(AlertPolicy::S2n);
    let mut record = keys.forge(ContentType::ApplicationData, HELLO);
    record[7] ^= 1;
    pair.wire.push_inbound(&record);
    let err = pair.conn.recv(100).unwrap_err();
    assert_eq!(
        (err.name.as_str(), err.alert),
        ("decrypt", Some(BAD_RECORD_MAC))
    );
    assert!(pair.wire.take_outbound().is_empty(), "nothing at once");
    let delay = pair.conn.delay().unwrap();
    assert!(
        delay > Duration::ZERO && delay < Duration::from_secs(1),
        "{delay:?}"
    );
    assert_eq!(pair.conn.shutdown().unwrap_err().name, "shutdown-paused");
    std::thread::sleep(delay);
    assert_eq!(pair.conn.shutdown(), Ok(()));
    assert_eq!(
        keys.open_all(&pair.wire.take_outbound()),
        [(ContentType::Alert, vec![1, 0])],
        "a close_notify, not the error"
    );
}

#[test]
fn s2n_policy_oversized_record_announced_as_close_notify() {
    let (pair, mut keys) = client_pair(AlertPolicy::S2n);
    let mut record = vec![23, 3, 3, 0x41, 0x01];
    record.resize(5 + 0x4101, 0);
    pair.wire.push_inbound(&record);
    assert_eq!(pair.conn.recv(100).unwrap_err().name, "record-too-large");
    assert!(pair.wire.take_outbound().is_empty(), "nothing at once");
    std::thread::sleep(pair.conn.delay().unwrap());
    assert_eq!(pair.conn.shutdown(), Ok(()));
    assert_eq!(
        keys.open_all(&pair.wire.take_outbound()),
        [(ContentType::Alert, vec![1, 0])]
    );
}

// ---- the component as server ---------------------------------------------------------------

/// A component server and a native client whose keys the test can take.
fn server_pair() -> MemPair {
    let mut client = (*native_client(pki(), ring_provider(None))).clone();
    client.enable_secret_extraction = true;
    let config = Config::server(
        pki().server_cert_pem.as_bytes(),
        pki().server_key_pem.as_bytes(),
    )
    .cipher_suites(&[CipherSuite::Tls13Aes256GcmSha384]);
    MemPair::server(&config, Arc::new(client))
}

#[test]
fn server_tampered_record_gets_bad_record_mac() {
    let mut pair = server_pair();
    pair.handshake().expect("handshake");
    pair.pump().expect("pump");
    pair.wire.take_outbound();
    let mut keys = Keys::extract(&mut pair);
    let mut record = keys.forge(ContentType::ApplicationData, HELLO);
    record[9] ^= 0x80;
    let (name, alert, wire) = fail_with(&mut pair, &mut keys, &record);
    assert_eq!((name.as_str(), alert), ("decrypt", Some(BAD_RECORD_MAC)));
    assert_eq!(wire, fatal(BAD_RECORD_MAC));
    assert_closed_after_alert(&mut pair);
}

#[test]
fn server_oversized_plaintext_client_hello_gets_record_overflow() {
    // RFC 8446 §5.1: a plaintext record over 2^14 bytes, refused on its header, with a
    // plaintext alert (there are no keys yet).
    let pair = server_pair();
    let len: u16 = 16385;
    let mut record = vec![22, 3, 1];
    record.extend_from_slice(&len.to_be_bytes());
    record.resize(5 + usize::from(len), 1);
    pair.wire.push_inbound(&record);
    let err = pair.conn.negotiate().unwrap_err();
    assert_eq!(
        (err.name.as_str(), err.alert),
        ("record-too-large", Some(RECORD_OVERFLOW))
    );
    assert_eq!(
        pair.wire.take_outbound(),
        [21, 3, 3, 0, 2, 2, RECORD_OVERFLOW]
    );
}

#[test]
fn server_garbage_gets_a_plaintext_alert() {
    // Not a TLS record at all: an unknown content type is unexpected_message (RFC 8446 §5).
    let pair = server_pair();
    pair.wire.push_inbound(b"GET / HTTP/1.1\r\n\r\n");
    let err = pair.conn.negotiate().unwrap_err();
    assert_eq!(
        (err.name.as_str(), err.alert),
        ("bad-message", Some(UNEXPECTED_MESSAGE))
    );
    assert_eq!(
        pair.wire.take_outbound(),
        [21, 3, 3, 0, 2, 2, UNEXPECTED_MESSAGE]
    );
}

#[test]
fn server_untrusted_client_certificate_alert_reaches_the_client() {
    // A failure rustls detects during the handshake: its own alert goes out at once, and the
    // native client reads it.
    let other = tlsbox_test_support::pki::Pki::generate(&["localhost"]).expect("pki");
    let client = native_client_with_identity(
        pki(),
        ring_provider(None),
        &other.client_cert_pem,
        &other.client_key_pem,
    );
    let config = Config::server(
        pki().server_cert_pem.as_bytes(),
        pki().server_key_pem.as_bytes(),
    )
    .trust(pki().ca_pem.as_bytes())
    .client_auth(tlsbox::ClientAuth::Required);
    let mut pair = MemPair::server(&config, client);
    let err = pair.handshake().unwrap_err();
    assert!(err.contains("untrusted-certificate"), "{err}");
    let seen = pair.peer_absorb().unwrap_err();
    assert_eq!(
        seen,
        rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA),
        "the client reads the alert"
    );
}

// ---- during the TLS 1.3 handshake: records forged under the secrets a native peer logs ------

/// The traffic secrets a native peer logs, by their SSLKEYLOGFILE labels.
#[derive(Debug, Default)]
struct Logged(Mutex<HashMap<String, Vec<u8>>>);

impl rustls::KeyLog for Logged {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        self.0
            .lock()
            .unwrap()
            .insert(label.to_owned(), secret.to_vec());
    }
}

impl Logged {
    /// Keys of a peer that writes under the secret `write` and reads under `read`.
    fn keys(&self, write: &str, read: &str) -> Keys {
        let secrets = self.0.lock().unwrap();
        Keys::from_secrets(&secrets[write], &secrets[read])
    }
}

const CLIENT_HANDSHAKE: &str = "CLIENT_HANDSHAKE_TRAFFIC_SECRET";
const SERVER_HANDSHAKE: &str = "SERVER_HANDSHAKE_TRAFFIC_SECRET";
const SERVER_TRAFFIC: &str = "SERVER_TRAFFIC_SECRET_0";

/// A Finished message whose verify_data is `len` bytes.
fn finished(len: usize) -> Vec<u8> {
    let mut msg = vec![20, 0, 0, len as u8];
    msg.resize(4 + len, 0x5a);
    msg
}

/// A component server (AES-256-GCM-SHA384) that has sent its whole first flight to a native
/// client logging its secrets; returns the client's answer (CCS and protected Finished),
/// not delivered.
fn server_after_its_flight(logged: &Arc<Logged>) -> (MemPair, Vec<u8>) {
    let mut client = (*native_client(pki(), ring_provider(None))).clone();
    client.key_log = logged.clone();
    let config = Config::server(
        pki().server_cert_pem.as_bytes(),
        pki().server_key_pem.as_bytes(),
    )
    .cipher_suites(&[CipherSuite::Tls13Aes256GcmSha384]);
    let mut pair = MemPair::server(&config, Arc::new(client));
    let hello = pair.peer_output();
    pair.wire.push_inbound(&hello);
    assert!(pair.conn.negotiate().unwrap_err().is_blocked());
    pair.peer_absorb()
        .expect("the client takes the server's flight");
    let answer = pair.peer_output();
    (pair, answer)
}

/// Replaces the handshake messages of the client's protected answer with `messages`,
/// resealed under its handshake keys; the ChangeCipherSpec stays in front.
fn reseal_answer(answer: &[u8], keys: &mut Keys, messages: &[u8]) -> Vec<u8> {
    let recs = records(answer);
    assert_eq!(
        recs[0],
        [20, 3, 3, 0, 1, 1],
        "the client's ChangeCipherSpec"
    );
    let mut out = recs[0].to_vec();
    out.extend(keys.forge(ContentType::Handshake, messages));
    out
}

#[test]
fn server_wrong_length_finished_gets_decode_error() {
    // RFC 8446 §4.4.4: verify_data is the hash length (48 here); anything else is a
    // malformed message, decode_error (§6.2), not a MAC that fails (decrypt_error).
    for len in [0, 12, 32, 47, 49, 64] {
        let logged = Arc::new(Logged::default());
        let (pair, answer) = server_after_its_flight(&logged);
        // The client's real Finished opens under its handshake keys, and is 48 bytes.
        let real = logged
            .keys(SERVER_TRAFFIC, CLIENT_HANDSHAKE)
            .open_protected(&answer);
        assert_eq!(real.len(), 1);
        assert_eq!(real[0].0, ContentType::Handshake);
        assert_eq!(real[0].1[..4], [20, 0, 0, 48]);
        let mut client = logged.keys(CLIENT_HANDSHAKE, SERVER_TRAFFIC);
        pair.wire
            .push_inbound(&reseal_answer(&answer, &mut client, &finished(len)));
        let err = pair.conn.negotiate().unwrap_err();
        assert_eq!(
            (err.name.as_str(), err.alert),
            ("bad-message", Some(DECODE_ERROR)),
            "length {len}: {err}"
        );
        let wire = pair.wire.take_outbound();
        assert_eq!(client.open_all(&wire), fatal(DECODE_ERROR), "length {len}");
        let mut pair = pair;
        pair.peer.read_tls(&mut &wire[..]).unwrap();
        assert_eq!(
            pair.peer.process_new_packets().unwrap_err(),
            rustls::Error::AlertReceived(rustls::AlertDescription::DecodeError),
            "the client reads it"
        );
    }
}

#[test]
fn server_sends_one_decode_error_for_a_huge_finished_split_across_records() {
    // tlsfuzzer's largest padding: a Finished announcing 2^24 - 1 bytes, sent in full
    // records behind its header. One alert, on the first record; nothing after it, whatever
    // the application calls next.
    let logged = Arc::new(Logged::default());
    let (pair, answer) = server_after_its_flight(&logged);
    let mut client = logged.keys(CLIENT_HANDSHAKE, SERVER_TRAFFIC);
    let mut head = vec![20, 0xff, 0xff, 0xff];
    head.resize(16384, 0);
    let mut records = reseal_answer(&answer, &mut client, &head);
    for _ in 0..4 {
        records.extend(client.forge(ContentType::Handshake, &[0; 16384]));
    }
    pair.wire.push_inbound(&records);
    let err = pair.conn.negotiate().unwrap_err();
    assert_eq!(
        (err.name.as_str(), err.alert),
        ("bad-message", Some(DECODE_ERROR)),
        "{err}"
    );
    for _ in 0..3 {
        let _ = pair.conn.negotiate();
        let _ = pair.conn.recv(10);
    }
    let _ = pair.conn.shutdown_send();
    let _ = pair.conn.shutdown();
    assert_eq!(
        client.open_all(&pair.wire.take_outbound()),
        fatal(DECODE_ERROR)
    );
}

#[test]
fn server_finished_of_the_right_length_but_wrong_value_gets_decrypt_error() {
    // The control: a well-formed Finished that does not verify is decrypt_error (§4.4.4).
    let logged = Arc::new(Logged::default());
    let (pair, answer) = server_after_its_flight(&logged);
    let mut client = logged.keys(CLIENT_HANDSHAKE, SERVER_TRAFFIC);
    pair.wire
        .push_inbound(&reseal_answer(&answer, &mut client, &finished(48)));
    let err = pair.conn.negotiate().unwrap_err();
    assert_eq!(err.alert, Some(DECRYPT_ERROR), "{err}");
    assert_eq!(
        client.open_all(&pair.wire.take_outbound()),
        fatal(DECRYPT_ERROR)
    );
}

#[test]
fn server_empty_alert_or_handshake_during_the_handshake_gets_unexpected_message() {
    for typ in [ContentType::Alert, ContentType::Handshake] {
        let logged = Arc::new(Logged::default());
        let (pair, _) = server_after_its_flight(&logged);
        let mut client = logged.keys(CLIENT_HANDSHAKE, SERVER_TRAFFIC);
        pair.wire.push_inbound(&client.forge(typ, &[]));
        let err = pair.conn.negotiate().unwrap_err();
        assert_eq!(
            (err.name.as_str(), err.alert),
            ("unexpected-message", Some(UNEXPECTED_MESSAGE)),
            "{typ:?}"
        );
        assert_eq!(
            client.open_all(&pair.wire.take_outbound()),
            fatal(UNEXPECTED_MESSAGE)
        );
    }
}

#[test]
fn server_unencrypted_finished_gets_unexpected_message() {
    // RFC 8446 §5: once the client's handshake keys are in use every record is protected;
    // a plaintext Finished is an unexpected record, not one that fails to decrypt.
    let logged = Arc::new(Logged::default());
    let (pair, answer) = server_after_its_flight(&logged);
    let mut plaintext = answer[..6].to_vec();
    plaintext.extend([22, 3, 3, 0, 52]);
    plaintext.extend(finished(48));
    pair.wire.push_inbound(&plaintext);
    let err = pair.conn.negotiate().unwrap_err();
    assert_eq!(
        (err.name.as_str(), err.alert),
        ("bad-message", Some(UNEXPECTED_MESSAGE)),
        "{err}"
    );
    let mut client = logged.keys(CLIENT_HANDSHAKE, SERVER_TRAFFIC);
    assert_eq!(
        client.open_all(&pair.wire.take_outbound()),
        fatal(UNEXPECTED_MESSAGE)
    );
}

#[test]
fn server_takes_an_unencrypted_alert_during_the_handshake_as_the_clients() {
    // A client that fails before it has keys can only send its alert in plaintext: it is
    // the client's alert (as OpenSSL reads it), and nothing is sent back.
    let logged = Arc::new(Logged::default());
    let (pair, answer) = server_after_its_flight(&logged);
    let mut plaintext = answer[..6].to_vec();
    plaintext.extend([21, 3, 3, 0, 2, 2, 48]);
    pair.wire.push_inbound(&plaintext);
    let err = pair.conn.negotiate().unwrap_err();
    assert_eq!((err.kind, err.alert), (ErrorKind::Alert, Some(48)), "{err}");
    assert_eq!(pair.wire.take_outbound(), b"");
}

#[test]
fn server_empty_plaintext_records_get_unexpected_message() {
    for record in [[21, 3, 1, 0, 0], [22, 3, 1, 0, 0]] {
        let pair = server_pair();
        pair.wire.push_inbound(&record);
        let err = pair.conn.negotiate().unwrap_err();
        assert_eq!(
            (err.name.as_str(), err.alert),
            ("unexpected-message", Some(UNEXPECTED_MESSAGE)),
            "{record:?}"
        );
        assert_eq!(
            pair.wire.take_outbound(),
            [21, 3, 3, 0, 2, 2, UNEXPECTED_MESSAGE]
        );
    }
}

/// A component client (AES-256-GCM-SHA384) whose ClientHello a native server logging its
/// secrets has answered; returns the server's flight, not delivered.
fn client_before_the_servers_flight(logged: &Arc<Logged>) -> (MemPair, Vec<u8>) {
    let mut server = (*native_server(pki(), ring_provider(None))).clone();
    server.key_log = logged.clone();
    let config = client_config(pki()).cipher_suites(&[CipherSuite::Tls13Aes256GcmSha384]);
    let mut pair = MemPair::client(&config, Arc::new(server));
    assert!(pair.conn.negotiate().unwrap_err().is_blocked());
    pair.peer_absorb()
        .expect("the server takes the ClientHello");
    let flight = pair.peer_output();
    (pair, flight)
}

#[test]
fn client_wrong_length_finished_gets_decode_error() {
    for len in [0, 32, 47, 49] {
        let logged = Arc::new(Logged::default());
        let (pair, flight) = client_before_the_servers_flight(&logged);
        let mut opener = logged.keys(CLIENT_HANDSHAKE, SERVER_HANDSHAKE);
        let recs = records(&flight);
        // ServerHello in plaintext, the ChangeCipherSpec, then the protected messages.
        assert_eq!((recs[0][0], recs[1]), (22, &[20, 3, 3, 0, 1, 1][..]));
        let mut messages = Vec::new();
        for (typ, payload) in opener.open_protected(&flight[recs[0].len()..]) {
            assert_eq!(typ, ContentType::Handshake);
            messages.extend(payload);
        }
        let cut = messages.len() - 52;
        assert_eq!(&messages[cut..cut + 4], [20, 0, 0, 48], "Finished is last");
        messages.truncate(cut);
        messages.extend(finished(len));
        let mut server = logged.keys(SERVER_HANDSHAKE, CLIENT_HANDSHAKE);
        let mut forged = [recs[0], recs[1]].concat();
        forged.extend(server.forge(ContentType::Handshake, &messages));
        pair.wire.push_inbound(&forged);
        let err = pair.conn.negotiate().unwrap_err();
        assert_eq!(
            (err.name.as_str(), err.alert),
            ("bad-message", Some(DECODE_ERROR)),
            "length {len}: {err}"
        );
        assert_eq!(
            server.open_protected(&pair.wire.take_outbound()),
            fatal(DECODE_ERROR),
            "length {len}"
        );
    }
}

#[test]
fn client_unencrypted_finished_after_the_server_hello_gets_unexpected_message() {
    let logged = Arc::new(Logged::default());
    let (pair, flight) = client_before_the_servers_flight(&logged);
    let recs = records(&flight);
    let mut forged = recs[0].to_vec();
    forged.extend([22, 3, 3, 0, 52]);
    forged.extend(finished(48));
    pair.wire.push_inbound(&forged);
    let err = pair.conn.negotiate().unwrap_err();
    assert_eq!(
        (err.name.as_str(), err.alert),
        ("bad-message", Some(UNEXPECTED_MESSAGE)),
        "{err}"
    );
    let mut server = logged.keys(SERVER_HANDSHAKE, CLIENT_HANDSHAKE);
    assert_eq!(
        server.open_protected(&pair.wire.take_outbound()),
        fatal(UNEXPECTED_MESSAGE)
    );
}

#[test]
fn server_refuses_a_client_with_no_usable_signature_scheme_before_its_server_hello() {
    // RFC 8446 §4.4.2.2: the server's key (P-256) cannot sign with what the client accepts
    // in TLS 1.3: handshake_failure, in plaintext, and no ServerHello first.
    use rustls::SignatureScheme as S;
    let tls13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
    let tls12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
    let offers = [
        (tls13, vec![S::ECDSA_SHA1_Legacy]),
        (tls13, vec![S::Unknown(0x0303)]), // ecdsa_sha224
        (
            tls13,
            vec![
                S::ECDSA_SHA1_Legacy,
                S::Unknown(0x0303),
                S::ECDSA_NISTP384_SHA384,
            ],
        ),
        (tls13, vec![S::RSA_PKCS1_SHA256, S::RSA_PSS_SHA256]),
        // TLS 1.2 (RFC 5246 §7.4.1.4.1): rustls would send its ServerHello and then fail
        // with an internal error ("incompatible signing key"); found by fuzzing.
        (tls12, vec![S::ED25519, S::ECDSA_NISTP384_SHA384]),
    ];
    for (versions, schemes) in offers {
        let client = rustls::ClientConfig::builder_with_provider(ring_provider(None))
            .with_protocol_versions(versions)
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(schemes.clone())))
            .with_no_client_auth();
        let mut pair = MemPair::server(&server_config(pki()), Arc::new(client));
        let hello = pair.peer_output();
        assert_refused_before_server_hello(
            &mut pair,
            &hello,
            "handshake-failure",
            HANDSHAKE_FAILURE,
            &format!("{schemes:?}"),
        );
    }
}

/// Delivers `hello` to the component server of `pair`: it fails with `name` and `alert`,
/// whose plaintext record is all it sends (no ServerHello first), and the native client
/// reads that alert.
fn assert_refused_before_server_hello(
    pair: &mut MemPair,
    hello: &[u8],
    name: &str,
    alert: u8,
    context: &str,
) {
    pair.wire.push_inbound(hello);
    let err = pair.conn.negotiate().unwrap_err();
    assert_eq!(
        (err.name.as_str(), err.alert),
        (name, Some(alert)),
        "{context}: {err}"
    );
    let wire = pair.wire.take_outbound();
    assert_eq!(wire, [21, 3, 3, 0, 2, 2, alert], "{context}");
    pair.peer.read_tls(&mut &wire[..]).unwrap();
    assert_eq!(
        pair.peer.process_new_packets().unwrap_err(),
        rustls::Error::AlertReceived(rustls::AlertDescription::from(alert)),
        "{context}"
    );
}

/// A native rustls client's ClientHello (x25519's key share; supported_groups x25519,
/// secp256r1, secp384r1), with `from` replaced by `to` where it occurs, sent to a component
/// server: it is refused as `peer-misbehaved` with `alert` before any ServerHello.
fn server_refuses_edited_hello(from: &[u8], to: &[u8], alert: u8) {
    let mut pair = MemPair::server(
        &server_config(pki()),
        native_client(pki(), ring_provider(None)),
    );
    let mut hello = pair.peer_output();
    let at = hello
        .windows(from.len())
        .position(|w| w == from)
        .expect("the bytes to edit");
    hello[at..at + to.len()].copy_from_slice(to);
    assert_refused_before_server_hello(&mut pair, &hello, "peer-misbehaved", alert, "edited");
}

#[test]
fn server_refuses_a_key_share_for_a_group_the_client_does_not_list() {
    // RFC 8446 §4.2.8: a client MUST NOT send a key share for a group missing from its
    // supported_groups; the server may abort with illegal_parameter (OpenSSL does), where
    // rustls would answer with a HelloRetryRequest for a listed group. secp521r1 is listed
    // in x25519's place.
    server_refuses_edited_hello(
        &[0, 10, 0, 8, 0, 6, 0, 0x1d, 0, 0x17, 0, 0x18],
        &[0, 10, 0, 8, 0, 6, 0, 0x19],
        ILLEGAL_PARAMETER,
    );
}

#[test]
fn server_refuses_a_tls13_hello_without_a_key_share_with_missing_extension() {
    // RFC 8446 §9.2: supported_groups without key_share must be aborted with
    // missing_extension (rustls sends handshake_failure). The key_share extension's type
    // becomes an unassigned one (0x0a0a), so the lengths still hold.
    server_refuses_edited_hello(
        &[0, 0x33, 0, 0x26, 0, 0x24, 0, 0x1d, 0, 0x20],
        &[0x0a, 0x0a],
        MISSING_EXTENSION,
    );
}

#[test]
fn server_signs_when_one_scheme_fits() {
    // The control: the P-256 scheme among unusable ones completes the handshake.
    use rustls::SignatureScheme as S;
    let client = rustls::ClientConfig::builder_with_provider(ring_provider(None))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(vec![
            S::ECDSA_SHA1_Legacy,
            S::ECDSA_NISTP256_SHA256,
        ])))
        .with_no_client_auth();
    let mut pair = MemPair::server(&server_config(pki()), Arc::new(client));
    pair.handshake().expect("handshake");
}

#[test]
fn key_update_split_across_records_is_answered() {
    // A KeyUpdate(update_requested) in two records (RFC 8446 §5.1 lets handshake messages
    // span records): the component updates both ways and data flows under the new keys.
    let (pair, mut keys) = client_pair(AlertPolicy::Rfc);
    let mut update = keys.forge(ContentType::Handshake, &[24, 0, 0]);
    update.extend(keys.forge(ContentType::Handshake, &[1, 1]));
    pair.wire.push_inbound(&update);
    assert!(pair.conn.recv(10).unwrap_err().is_blocked());
    let counts = pair.conn.key_update_counts().unwrap();
    assert_eq!((counts.sent, counts.received), (1, 1));
    pair.conn.send(HELLO).unwrap();
    let wire = pair.wire.take_outbound();
    // The answer (update_not_requested) under the old key, then the data under the new one.
    let recs = records(&wire);
    assert_eq!(recs.len(), 2);
    assert_eq!(
        keys.open_all(recs[0]),
        vec![(ContentType::Handshake, vec![24, 0, 0, 1, 0])]
    );
}

#[test]
fn alert_after_a_held_key_update_answer_is_readable() {
    // The peer asks for more KeyUpdates than rustls allows without data in between. The
    // component switched its write key at the first request and holds the answer for its
    // next send; the failure's alert is sealed under the new key, so the answer goes out
    // first and the peer reads the alert (found by fuzzing: it used to get bad_record_mac).
    let config = client_config(pki()).alert_policy(AlertPolicy::Rfc);
    let mut pair = MemPair::client(&config, native_server(pki(), ring_provider(None)));
    pair.handshake().expect("handshake");
    for _ in 0..40 {
        pair.peer.refresh_traffic_keys().expect("peer key update");
    }
    pair.pump().expect("pump");
    let err = pair.conn.recv(10).unwrap_err();
    assert_eq!(
        (err.kind, err.name.as_str(), err.alert),
        (
            ErrorKind::Protocol,
            "peer-misbehaved",
            Some(ILLEGAL_PARAMETER)
        )
    );
    assert_eq!(
        pair.peer_absorb().unwrap_err(),
        rustls::Error::AlertReceived(rustls::AlertDescription::IllegalParameter)
    );
}

// ---- TLS 1.2: a server's keys exist before they are in use ---------------------------------

/// A component TLS 1.2 server that has sent its first flight, and the native client's answer
/// as separate records (ClientKeyExchange, ChangeCipherSpec, Finished), not delivered.
fn tls12_server_before_client_finished() -> (MemPair, Vec<Vec<u8>>) {
    let config = server_config(pki()).versions(&[tlsbox::ProtocolVersion::Tls12]);
    let mut pair = MemPair::server(&config, native_client(pki(), ring_provider(None)));
    pair.pump().expect("client hello");
    assert!(pair.conn.negotiate().unwrap_err().is_blocked());
    pair.peer_absorb().expect("server flight");
    let flight = pair.peer_output();
    let records: Vec<Vec<u8>> = records(&flight).into_iter().map(<[u8]>::to_vec).collect();
    let types: Vec<u8> = records.iter().map(|r| r[0]).collect();
    assert_eq!(
        types,
        [22, 20, 22],
        "ClientKeyExchange, ChangeCipherSpec, Finished"
    );
    (pair, records)
}

/// A record of a content type TLS does not define.
const UNKNOWN_TYPE_RECORD: [u8; 8] = [24, 3, 3, 0, 3, 1, 2, 3];

#[test]
fn tls12_server_alert_before_its_change_cipher_spec_is_plaintext() {
    // RFC 5246 §6.1, §7.1: a side protects its records only from its own ChangeCipherSpec
    // on. The server derives its keys at the ClientKeyExchange and sends its CCS after the
    // client's Finished, so an alert in between (for the client's CCS still to come, or
    // after it) goes out in plaintext; sealed, the client could not read it.
    for delivered in [1, 2] {
        let (pair, records) = tls12_server_before_client_finished();
        for record in &records[..delivered] {
            pair.wire.push_inbound(record);
        }
        pair.wire.push_inbound(&UNKNOWN_TYPE_RECORD);
        let err = pair.conn.negotiate().unwrap_err();
        assert_eq!(
            (err.name.as_str(), err.alert),
            ("bad-message", Some(UNEXPECTED_MESSAGE)),
            "after {delivered} client records"
        );
        assert_eq!(
            pair.wire.take_outbound(),
            [21, 3, 3, 0, 2, 2, UNEXPECTED_MESSAGE],
            "after {delivered} client records"
        );
    }
}

#[test]
fn tls12_server_alert_after_its_change_cipher_spec_is_sealed() {
    // Once the server's CCS and Finished are out, its alerts are protected: the native
    // client opens this one and reports the description.
    let (mut pair, records) = tls12_server_before_client_finished();
    for record in &records {
        pair.wire.push_inbound(record);
    }
    pair.conn.negotiate().expect("handshake");
    pair.pump().expect("server finished");
    assert!(!pair.peer.is_handshaking());
    pair.wire.push_inbound(&UNKNOWN_TYPE_RECORD);
    let err = pair.conn.recv(10).unwrap_err();
    assert_eq!(
        (err.name.as_str(), err.alert),
        ("bad-message", Some(UNEXPECTED_MESSAGE))
    );
    let alert = pair.wire.take_outbound();
    assert_ne!(alert, [21, 3, 3, 0, 2, 2, UNEXPECTED_MESSAGE]);
    let mut rest = &alert[..];
    pair.peer.read_tls(&mut rest).expect("in-memory read");
    assert_eq!(
        pair.peer.process_new_packets().unwrap_err(),
        rustls::Error::AlertReceived(rustls::AlertDescription::UnexpectedMessage)
    );
}
