//! `tlsbox client HOST:PORT`: like `openssl s_client` — stdin to the peer, the peer's data
//! to stdout.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::mpsc::{self, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use tlsbox::{Config, Connection, Runtime, TcpTransport};

use super::{Suite, describe, read_file, read_optional, versions};

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
}

/// How long one transport read may wait before the loop checks stdin again.
const POLL: Duration = Duration::from_millis(20);

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

    let tcp =
        TcpStream::connect(&args.addr).with_context(|| format!("connecting to {}", args.addr))?;
    tcp.set_nodelay(true)?;
    let mut conn = Connection::new(
        &Runtime::shared()?,
        &config,
        TcpTransport::new(tcp.try_clone()?),
    )?;
    conn.negotiate()?;
    if let Some(info) = conn.session_info()? {
        eprintln!("tlsbox: connected: {}", describe(&info));
    }
    // Reads now wait at most POLL, so one thread can serve both directions.
    tcp.set_read_timeout(Some(POLL))?;

    let stdin = spawn_stdin_reader();
    let mut stdout = io::stdout();
    let mut stdin_done_at: Option<Instant> = None;
    let mut last_data = Instant::now();
    loop {
        match conn.recv(16384) {
            Ok(r) if r.data.is_empty() => break, // close_notify
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
        } else if last_data.elapsed() > Duration::from_millis(args.linger_ms)
            && stdin_done_at.is_some_and(|t| t.elapsed() > Duration::from_millis(args.linger_ms))
        {
            break;
        }
    }
    close(&mut conn)
}

/// Sends close_notify and waits briefly for the peer's.
fn close(conn: &mut Connection) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match conn.shutdown() {
            Ok(()) => return Ok(()),
            Err(e) if e.is_blocked() && Instant::now() < deadline => {}
            Err(e) if e.is_blocked() => return Ok(()), // the peer never answered; we are done
            Err(e) if e.kind == tlsbox::ErrorKind::Closed => return Ok(()),
            Err(e) => return Err(anyhow!(e)),
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
