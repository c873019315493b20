//! `tlsbox server ADDR`: like s2nd — echo by default, `--stdout` to print, `--http` to
//! answer each request with a small HTTP/1.0 page.
//!
//! One tokio runtime serves every client: each accepted client is a task with its own
//! guest instance (`TlsAcceptor`), so a trap, a memory limit, or a slow or idle client
//! ends or stalls only that connection, and an idle client costs a parked task and the
//! instance's touched pages, not a thread.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tlsbox::{ClientAuth, Config, EarlyDataStatus, Endpoint, Runtime, TlsAcceptor, TlsStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::timeout;

use super::{
    CLOSE_WAIT, Suite, Tuning, close, close_after_error, describe, negotiation, read_file,
    read_optional,
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
    /// Disconnect a client that has not completed its handshake SECS seconds after it
    /// connected (default 60, as nginx's ssl_handshake_timeout; 0 waits as long as the
    /// client takes).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    handshake_timeout: u64,
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
    /// so other processes with the same key resume them (default: a random key for this
    /// process; with early data, sessions live in this process instead).
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

/// Everything a connection task needs; shared by all.
struct Service {
    acceptor: TlsAcceptor,
    mode: Mode,
    idle_timeout: Option<Duration>,
    early_data: bool,
}

pub async fn run(args: Args) -> Result<()> {
    let mut config = negotiation(
        Config::server(read_file(&args.cert)?, read_file(&args.key)?),
        &args.alpn,
        args.tls12,
        args.suite,
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
    let check = {
        let (runtime, config) = (runtime.clone(), config.clone());
        tokio::task::spawn_blocking(move || Endpoint::new(&runtime, &config).map(drop))
    };
    check.await?.context("checking the configuration")?;
    let service = Arc::new(Service {
        acceptor: TlsAcceptor::new(&runtime, config).handshake_timeout(
            (args.handshake_timeout > 0).then(|| Duration::from_secs(args.handshake_timeout)),
        ),
        mode,
        early_data: max_early_data > 0,
        idle_timeout: args.idle_timeout.map(Duration::from_secs),
    });

    let listener = TcpListener::bind(&args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    eprintln!("tlsbox: listening on {}", listener.local_addr()?);

    let slots = Arc::new(Semaphore::new(
        args.max_connections.map_or(Semaphore::MAX_PERMITS, |n| {
            n.min(Semaphore::MAX_PERMITS as u64) as usize
        }),
    ));
    let mut connections = JoinSet::new();
    let mut accepted = 0;
    while args.stop_after.is_none_or(|n| accepted < n) {
        // Take a slot before accepting: at the limit, clients wait in the backlog.
        let slot = slots.clone().acquire_owned().await?;
        let (tcp, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                log::warn!("accept failed: {e}");
                // Out of descriptors, say: give connections a moment to end.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        accepted += 1;
        let service = service.clone();
        connections.spawn(async move {
            let _slot = slot;
            service.handle(tcp, &peer.to_string()).await;
        });
        // Reap finished tasks as we go, so the set holds only live connections.
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
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
    /// Serves one client from accept to close, in its own task and instance.
    async fn handle(&self, tcp: TcpStream, peer: &str) {
        log::info!("{peer}: accepted");
        if let Err(e) = tcp.set_nodelay(true) {
            log::debug!("{peer}: nodelay: {e}");
        }
        // The acceptor puts a failed handshake's alert on the wire itself.
        let mut tls = match self.idle(self.acceptor.accept(tcp)).await {
            Some(Ok(tls)) => tls,
            Some(Err(e)) => {
                eprintln!("tlsbox: {peer}: {e}");
                return;
            }
            None => {
                log::info!("{peer}: idle during the handshake, disconnecting");
                return;
            }
        };
        match self.serve(&mut tls, peer).await {
            Ok(end) => {
                if let End::Idle = end {
                    log::info!("{peer}: idle, sending close_notify");
                }
                match close(&mut tls, CLOSE_WAIT).await {
                    Ok(()) => log::info!("{peer}: closed"),
                    Err(e) => eprintln!("tlsbox: {peer}: closing: {e}"),
                }
            }
            Err(e) => {
                eprintln!("tlsbox: {peer}: {e:#}");
                close_after_error(&mut tls, &e).await;
            }
        }
    }

    /// `step`, or `None` if `--idle-timeout` passes first.
    async fn idle<T>(&self, step: impl Future<Output = T>) -> Option<T> {
        match self.idle_timeout {
            Some(limit) => timeout(limit, step).await.ok(),
            None => Some(step.await),
        }
    }

    /// The mode's loop until close_notify, the HTTP response, or idleness.
    async fn serve(&self, tls: &mut TlsStream<TcpStream>, peer: &str) -> io::Result<End> {
        if self.early_data {
            let outcome = match tls.early_data_status().await? {
                // Read to its end: it was accepted.
                EarlyDataStatus::Accepted | EarlyDataStatus::End => "accepted",
                status => status.name(),
            };
            eprintln!(
                "tlsbox: {peer}: early data {outcome}: {} bytes",
                tls.early_data_len()
            );
        }
        if let Ok(info) = tls.session_info().await {
            log::info!("{peer}: negotiated {}", describe(&info));
        }
        let mut request = Vec::new();
        let mut buf = vec![0; 16384];
        loop {
            let Some(n) = self.idle(tls.read(&mut buf)).await.transpose()? else {
                return Ok(End::Idle);
            };
            if n == 0 {
                return Ok(End::Done); // close_notify
            }
            let received = &buf[..n];
            match self.mode {
                Mode::Echo => {
                    if self
                        .idle(write_flushed(tls, received))
                        .await
                        .transpose()?
                        .is_none()
                    {
                        return Ok(End::Idle);
                    }
                }
                Mode::Stdout => {
                    // One locked write per chunk: concurrent clients interleave by chunk.
                    let mut out = io::stdout().lock();
                    out.write_all(received)?;
                    out.flush()?;
                }
                Mode::Http => {
                    request.extend_from_slice(received);
                    if request_complete(&request) {
                        // Small enough for one record.
                        let response = http_response(tls).await?;
                        let sent = self.idle(write_flushed(tls, &response)).await;
                        return Ok(match sent.transpose()? {
                            Some(()) => End::Done,
                            None => End::Idle,
                        });
                    }
                }
            }
        }
    }
}

/// Whether `request` holds a whole request head: it ends at the first empty line, CRLF or,
/// as RFC 9112 §2.2 lets a recipient accept, a bare LF (`GET / HTTP/1.0\n\n`).
fn request_complete(request: &[u8]) -> bool {
    request
        .windows(2)
        .enumerate()
        .any(|(i, w)| w == b"\n\n" || (w == b"\n\r" && request.get(i + 2) == Some(&b'\n')))
}

/// Writes all of `data` and waits until it is on the socket.
async fn write_flushed(tls: &mut TlsStream<TcpStream>, data: &[u8]) -> io::Result<()> {
    tls.write_all(data).await?;
    tls.flush().await
}

async fn http_response(tls: &mut TlsStream<TcpStream>) -> io::Result<Vec<u8>> {
    let summary = tls
        .session_info()
        .await
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

#[cfg(test)]
mod tests {
    use super::request_complete;

    #[test]
    fn a_request_head_ends_at_the_first_empty_line() {
        for whole in [
            &b"GET / HTTP/1.0\r\n\r\n"[..],
            b"GET / HTTP/1.0\n\n",
            b"GET / HTTP/1.1\r\nHost: x\n\r\n",
        ] {
            assert!(
                request_complete(whole),
                "{:?}",
                String::from_utf8_lossy(whole)
            );
        }
        for partial in [
            &b"GET / HTTP/1.0\r\n"[..],
            b"GET / HTTP/1.0\r\nHost: x\r\n\r",
            b"GET / HTTP/1.0\n",
        ] {
            assert!(
                !request_complete(partial),
                "{:?}",
                String::from_utf8_lossy(partial)
            );
        }
    }
}
