//! `tlsbox client HOST:PORT`: like `openssl s_client` — stdin to the peer, the peer's data
//! to stdout. One thread polls both: the socket's short read timeout surfaces as
//! would-block, and between reads the loop forwards what stdin has produced. Any failure
//! puts its alert (or, under `--alerts s2n`, close_notify) on the wire before exit.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::mpsc::{self, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tlsbox::{Config, Connection, Runtime, TcpTransport};

use super::{
    CLOSE_WAIT, Suite, Tuning, close, close_after_error, describe, read_file, read_optional,
    versions,
};

/// Options for `tlsbox client`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to connect.
    addr: String,
    /// Trust anchors (PEM); required, there is no system store inside the guest.
    #[arg(long)]
    ca: PathBuf,
    /// Name to send as SNI and verify (default: the host part of ADDR).
    #[arg(long)]
    servername: Option<String>,
    /// ALPN protocols to offer, comma-separated.
    #[arg(long, value_delimiter = ',')]
    alpn: Vec<String>,
    /// Client certificate chain (PEM) for mutual TLS.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Cipher suite to force.
    #[arg(long, value_enum)]
    suite: Option<Suite>,
    /// Use TLS 1.2 instead of TLS 1.3.
    #[arg(long)]
    tls12: bool,
    /// After stdin ends, keep printing the peer's data until it is quiet this long (ms).
    #[arg(long, default_value_t = 500)]
    linger_ms: u64,
    #[command(flatten)]
    tuning: Tuning,
}

/// How long one transport read may wait before the loop checks stdin again.
const POLL: Duration = Duration::from_millis(20);

/// How long one transport write may wait before `send_all` calls again.
const WRITE_POLL: Duration = Duration::from_secs(1);

pub fn run(args: Args) -> Result<()> {
    let server_name = match &args.servername {
        Some(name) => name.clone(),
        None => host_part(&args.addr).to_owned(),
    };
    let mut config = Config::client(server_name)
        .trust(read_file(&args.ca)?)
        .alpn(args.alpn.clone())
        .versions(&versions(args.tls12))
        .cipher_suites(
            &args
                .suite
                .map(|s| s.cipher_suites(args.tls12))
                .unwrap_or_default(),
        );
    if let (Some(cert), Some(key)) = (read_optional(&args.cert)?, read_optional(&args.key)?) {
        config = config.identity(cert, key);
    }
    config = args.tuning.apply(config);

    let tcp =
        TcpStream::connect(&args.addr).with_context(|| format!("connecting to {}", args.addr))?;
    tcp.set_nodelay(true)?;
    // Reads wait at most POLL, so one thread can serve both directions; a write timeout
    // keeps closing bounded when the peer stops reading.
    tcp.set_read_timeout(Some(POLL))?;
    tcp.set_write_timeout(Some(WRITE_POLL))?;
    let conn = Connection::new(&Runtime::shared()?, &config, TcpTransport::new(tcp))?;
    match session(&conn, &args) {
        Ok(()) => Ok(close(&conn, CLOSE_WAIT)?),
        Err(e) => {
            close_after_error(&conn, &e);
            Err(e.context(args.addr.clone()))
        }
    }
}

/// The handshake, then stdin to the peer and the peer's data to stdout until the peer
/// closes, or stdin has ended and the peer has been quiet for `--linger-ms`.
fn session(conn: &Connection, args: &Args) -> Result<()> {
    loop {
        match conn.negotiate() {
            Ok(()) => break,
            Err(e) if e.is_blocked() => {}
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(info) = conn.session_info()? {
        eprintln!("tlsbox: connected: {}", describe(&info));
    }

    let stdin = spawn_stdin_reader();
    let mut stdout = io::stdout();
    let mut stdin_done_at: Option<Instant> = None;
    let mut last_data = Instant::now();
    let linger = Duration::from_millis(args.linger_ms);
    loop {
        match conn.recv(16384) {
            Ok(r) if r.data.is_empty() => return Ok(()), // close_notify
            Ok(r) => {
                stdout.write_all(&r.data)?;
                stdout.flush()?;
                last_data = Instant::now();
            }
            Err(e) if e.is_blocked() => {}
            Err(e) => return Err(e.into()),
        }
        if stdin_done_at.is_none() {
            loop {
                match stdin.try_recv() {
                    Ok(chunk) => conn.send_all(&chunk)?,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        stdin_done_at = Some(Instant::now());
                        break;
                    }
                }
            }
        } else if last_data.elapsed() > linger
            && stdin_done_at.is_some_and(|t| t.elapsed() > linger)
        {
            return Ok(());
        }
    }
}

fn spawn_stdin_reader() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut stdin = io::stdin();
        let mut buf = vec![0u8; 16384];
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

fn host_part(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    addr.rsplit_once(':').map(|(host, _)| host).unwrap_or(addr)
}
