//! `tlsbox server ADDR`: like s2nd — echo by default, `--stdout` to print, `--http` to
//! answer each request with a small HTTP/1.0 page.
//!
//! Every accepted client gets its own thread and its own guest instance
//! (`Connection::new`), so a trap, a memory limit, or a slow or idle client ends or stalls
//! only that connection. Sockets poll with a short read and write timeout: one thread can
//! then notice an idle client (`--idle-timeout`), and no guest call ever waits on the
//! network for long.

use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tlsbox::{
    Blocked, ClientAuth, Config, Connection, EarlyDataStatus, Endpoint, Runtime, TcpTransport,
};

use super::{
    CLOSE_WAIT, Suite, Tuning, close, close_after_error, describe, read_file, read_optional,
    versions,
};

/// Options for `tlsbox server`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on, e.g. 127.0.0.1:8443.
    addr: String,
    /// Certificate chain (PEM), leaf first.
    #[arg(long)]
    cert: PathBuf,
    /// Private key (PEM).
    #[arg(long)]
    key: PathBuf,
    /// Trust anchors for client certificates (PEM); requests one when given.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Refuse clients without a certificate (needs --ca).
    #[arg(long, requires = "ca")]
    require_client_cert: bool,
    /// ALPN protocols to accept, comma-separated, in preference order.
    #[arg(long, value_delimiter = ',')]
    alpn: Vec<String>,
    /// Print received data instead of echoing it (chunks of concurrent clients interleave).
    #[arg(long, conflicts_with = "http")]
    stdout: bool,
    /// Answer each request with a small HTTP/1.0 response in one record.
    #[arg(long)]
    http: bool,
    /// Cipher suite to force.
    #[arg(long, value_enum)]
    suite: Option<Suite>,
    /// Use TLS 1.2 instead of TLS 1.3.
    #[arg(long)]
    tls12: bool,
    /// Serve at most N clients at once (default: no limit). Further clients wait: the
    /// server stops accepting until a connection ends, so they queue in the listen backlog
    /// and their handshakes complete when a slot frees. To exit after N connections, use
    /// --stop-after.
    // This option used to mean "exit after N connections"; with concurrent connections a
    // limit on concurrency is what protects the host, so that meaning moved to --stop-after.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,
    /// Stop accepting after N connections, let those finish, and exit (default: serve
    /// until killed).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    stop_after: Option<u64>,
    /// Close a client that sends nothing for SECS seconds (the handshake included): it gets
    /// a close_notify, up to 2 s to answer with its own, and is disconnected. A client that
    /// stops reading our data for as long is closed the same way.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: Option<u64>,
    /// Take TLS 1.3 0-RTT early data from resuming clients (up to 16384 bytes, as
    /// `openssl s_server -early_data`); each connection reports on stderr whether early data
    /// was accepted and how many bytes arrived. Early data may be a replay: see the README.
    #[arg(long)]
    early_data: bool,
    /// The most early data taken per connection (implies --early-data).
    #[arg(long, value_name = "BYTES")]
    max_early_data: Option<u32>,
    /// Seal session tickets under this key (a file of 32 bytes, raw or as 64 hex digits),
    /// so other processes with the same key resume them (default: a random key per
    /// connection instance; with early data, sessions live in this process instead).
    #[arg(long, value_name = "FILE")]
    ticket_key: Option<PathBuf>,
    #[command(flatten)]
    tuning: Tuning,
}

/// `openssl s_server -early_data`'s maximum.
const DEFAULT_MAX_EARLY_DATA: u32 = 16384;

/// A ticket key from a file: 32 raw bytes, or 64 hex digits.
fn ticket_key(file: &[u8]) -> Result<Vec<u8>> {
    if file.len() == 32 {
        return Ok(file.to_vec());
    }
    let text = std::str::from_utf8(file).unwrap_or("").trim();
    let key: Option<Vec<u8>> = (text.len() == 64)
        .then(|| {
            (0..32)
                .map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
                .collect()
        })
        .flatten();
    key.ok_or_else(|| anyhow::anyhow!("a ticket key file holds 32 bytes or 64 hex digits"))
}

/// What the server does with received data.
#[derive(Clone, Copy)]
enum Mode {
    Echo,
    Stdout,
    Http,
}

/// The longest a socket read or write waits before the connection's thread looks at the
/// clock again; it bounds idle detection's lateness and every guest call's time on the
/// network.
const POLL: Duration = Duration::from_millis(200);

/// Everything a connection thread needs; cloned into each.
#[derive(Clone)]
struct Service {
    runtime: Runtime,
    config: Config,
    mode: Mode,
    idle_timeout: Option<Duration>,
    early_data: bool,
}

pub fn run(args: Args) -> Result<()> {
    let mut config = Config::server(read_file(&args.cert)?, read_file(&args.key)?)
        .alpn(args.alpn.clone())
        .versions(&versions(args.tls12))
        .cipher_suites(
            &args
                .suite
                .map(|s| s.cipher_suites(args.tls12))
                .unwrap_or_default(),
        );
    if let Some(ca) = read_optional(&args.ca)? {
        let policy = if args.require_client_cert {
            ClientAuth::Required
        } else {
            ClientAuth::Optional
        };
        config = config.trust(ca).client_auth(policy);
    }
    config = args.tuning.apply(config);
    let max_early_data = args
        .max_early_data
        .or(args.early_data.then_some(DEFAULT_MAX_EARLY_DATA))
        .unwrap_or(0);
    config = config.max_early_data(max_early_data);
    if let Some(path) = &args.ticket_key {
        config = config.ticket_keys([ticket_key(&read_file(path)?)?]);
    }
    let mode = match (args.stdout, args.http) {
        (true, _) => Mode::Stdout,
        (_, true) => Mode::Http,
        _ => Mode::Echo,
    };
    let runtime = Runtime::shared()?;
    // Each connection parses the configuration in its own instance; doing it once here
    // reports a bad certificate or key at start-up rather than to every client.
    drop(Endpoint::new(&runtime, &config).context("checking the configuration")?);
    let service = Service {
        runtime,
        config,
        mode,
        early_data: max_early_data > 0,
        idle_timeout: args.idle_timeout.map(Duration::from_secs),
    };

    let listener =
        TcpListener::bind(&args.addr).with_context(|| format!("binding {}", args.addr))?;
    eprintln!("tlsbox: listening on {}", listener.local_addr()?);

    let slots = Arc::new(Slots::new(args.max_connections));
    let mut accepted = 0;
    while args.stop_after.is_none_or(|n| accepted < n) {
        // Take a slot before accepting: at the limit, clients wait in the backlog.
        let slot = slots.acquire();
        let (tcp, peer) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) => {
                log::warn!("accept failed: {e}");
                // Out of descriptors, say: give connections a moment to end.
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        accepted += 1;
        let service = service.clone();
        let spawned = thread::Builder::new()
            .name(format!("tlsbox {peer}"))
            .spawn(move || {
                let _slot = slot;
                service.handle(tcp, &peer.to_string());
            });
        if let Err(e) = spawned {
            log::warn!("{peer}: no thread for the connection: {e}");
        }
    }
    slots.wait_all_free();
    Ok(())
}

/// How a connection ended without an error.
enum End {
    /// The peer sent close_notify, or the HTTP response went out.
    Done,
    /// `--idle-timeout` passed without a byte from the peer, or with nothing sent to it.
    Idle,
}

impl Service {
    /// Serves one client from accept to close, on its own thread and instance.
    fn handle(&self, tcp: TcpStream, peer: &str) {
        log::info!("{peer}: accepted");
        let conn = match self.connect(tcp) {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("tlsbox: {peer}: {e:#}");
                return;
            }
        };
        match self.serve(&conn, peer) {
            Ok(end) => {
                if let End::Idle = end {
                    log::info!("{peer}: idle, sending close_notify");
                }
                match close(&conn, CLOSE_WAIT) {
                    Ok(()) => log::info!("{peer}: closed"),
                    Err(e) => eprintln!("tlsbox: {peer}: closing: {e}"),
                }
            }
            Err(e) => {
                eprintln!("tlsbox: {peer}: {e:#}");
                close_after_error(&conn, &e);
            }
        }
    }

    /// A connection with an instance of its own over `tcp`, set up to poll.
    fn connect(&self, tcp: TcpStream) -> Result<Connection> {
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(POLL))?;
        tcp.set_write_timeout(Some(POLL))?;
        Ok(Connection::new(
            &self.runtime,
            &self.config,
            TcpTransport::new(tcp),
        )?)
    }

    /// Handshake, then the mode's loop until close_notify, the HTTP response, or idleness.
    fn serve(&self, conn: &Connection, peer: &str) -> Result<End> {
        let mut idle = IdleClock::new(self.idle_timeout);
        let mut early = Vec::new();
        if self.early_data {
            loop {
                let r = conn.recv_early_data(16384)?;
                early.extend_from_slice(&r.data);
                match r.blocked {
                    Blocked::NotBlocked => break,
                    Blocked::OnRead | Blocked::OnWrite if idle.expired() => return Ok(End::Idle),
                    _ => {}
                }
            }
            let outcome = match conn.early_data_status()? {
                // Read to its end: it was accepted.
                EarlyDataStatus::Accepted | EarlyDataStatus::End => "accepted",
                status => status.name(),
            };
            eprintln!(
                "tlsbox: {peer}: early data {outcome}: {} bytes",
                early.len()
            );
        }
        loop {
            match conn.negotiate() {
                Ok(()) => break,
                Err(e) if e.is_blocked() && idle.expired() => return Ok(End::Idle),
                Err(e) if e.is_blocked() => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(info) = conn.session_info()? {
            log::info!("{peer}: negotiated {}", describe(&info));
        }
        idle.reset();
        let mut request = Vec::new();
        // Early data is the first of the stream.
        let mut early = Some(early).filter(|e| !e.is_empty());
        loop {
            let received = match early.take() {
                Some(data) => data,
                None => match conn.recv(16384) {
                    Ok(received) => received.data,
                    Err(e) if e.is_blocked() && idle.expired() => return Ok(End::Idle),
                    Err(e) if e.is_blocked() => continue,
                    Err(e) => return Err(e.into()),
                },
            };
            idle.reset();
            if received.is_empty() {
                return Ok(End::Done); // close_notify
            }
            match self.mode {
                Mode::Echo => {
                    if !send_all(conn, &received, &mut idle)? {
                        return Ok(End::Idle);
                    }
                }
                Mode::Stdout => {
                    // One locked write per chunk: concurrent clients interleave by chunk.
                    let mut out = io::stdout().lock();
                    out.write_all(&received)?;
                    out.flush()?;
                }
                Mode::Http => {
                    request.extend_from_slice(&received);
                    if request.windows(4).any(|w| w == b"\r\n\r\n") {
                        // Small enough for one record.
                        let response = http_response(conn)?;
                        return Ok(if send_all(conn, &response, &mut idle)? {
                            End::Done
                        } else {
                            End::Idle
                        });
                    }
                }
            }
        }
    }
}

/// Sends all of `data`; false if the peer took none of it for the idle timeout.
/// (`Connection::send_all` would wait for ever on a peer that stopped reading.)
fn send_all(conn: &Connection, mut data: &[u8], idle: &mut IdleClock) -> Result<bool> {
    while !data.is_empty() {
        match conn.send(data) {
            Ok(progress) => {
                data = &data[progress.bytes as usize..];
                idle.reset();
            }
            Err(e) if e.is_blocked() && idle.expired() => return Ok(false),
            Err(e) if e.is_blocked() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

/// Time since the connection last made progress, against `--idle-timeout`.
struct IdleClock {
    limit: Option<Duration>,
    since: Instant,
}

impl IdleClock {
    fn new(limit: Option<Duration>) -> Self {
        IdleClock {
            limit,
            since: Instant::now(),
        }
    }

    fn reset(&mut self) {
        self.since = Instant::now();
    }

    fn expired(&self) -> bool {
        self.limit
            .is_some_and(|limit| self.since.elapsed() >= limit)
    }
}

/// Connections being served, and at most how many may be (`--max-connections`).
struct Slots {
    active: Mutex<u64>,
    freed: Condvar,
    max: Option<u64>,
}

/// One connection's claim on a slot, released on drop (also if its thread panics).
struct Slot(Arc<Slots>);

impl Slots {
    fn new(max: Option<u64>) -> Self {
        Slots {
            active: Mutex::new(0),
            freed: Condvar::new(),
            max,
        }
    }

    fn lock(&self) -> MutexGuard<'_, u64> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a free slot and takes it.
    fn acquire(self: &Arc<Self>) -> Slot {
        let mut active = self.lock();
        while self.max.is_some_and(|max| *active >= max) {
            active = self
                .freed
                .wait(active)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *active += 1;
        Slot(self.clone())
    }

    /// Waits until every connection has ended.
    fn wait_all_free(&self) {
        let mut active = self.lock();
        while *active > 0 {
            active = self
                .freed
                .wait(active)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        *self.0.lock() -= 1;
        self.0.freed.notify_all();
    }
}

fn http_response(conn: &Connection) -> Result<Vec<u8>> {
    let summary = conn
        .session_info()?
        .map(|info| describe(&info))
        .unwrap_or_default();
    let body = format!(
        "<html><body><h1>tlsbox</h1><p>TLS inside a WebAssembly component: {summary}</p></body></html>\n"
    );
    Ok(format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes())
}
