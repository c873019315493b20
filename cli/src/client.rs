//! `tlsbox client HOST:PORT`: like `openssl s_client` — stdin to the peer, the peer's data
//! to stdout, on the async API (a read half and a write half of one `TlsStream`). Any
//! failure puts its alert (or, under `--alerts s2n`, close_notify) on the wire before exit.

use std::io::{self, Read};
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};
use tlsbox::{Config, Runtime, TlsConnector, TlsStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::{
    CLOSE_WAIT, Suite, TrustArgs, Tuning, close, close_after_error, describe, negotiation,
    read_optional,
};

/// Options for `tlsbox client`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to connect.
    addr: String,
    #[command(flatten)]
    trust: TrustArgs,
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

pub async fn run(args: Args) -> Result<()> {
    let server_name = match &args.servername {
        Some(name) => name.clone(),
        None => host_part(&args.addr).to_owned(),
    };
    let mut config = negotiation(
        args.trust.apply(Config::client(server_name))?,
        &args.alpn,
        args.tls12,
        args.suite,
    );
    if let (Some(cert), Some(key)) = (read_optional(&args.cert)?, read_optional(&args.key)?) {
        config = config.identity(cert, key);
    }
    config = args.tuning.apply(config);

    let tcp = TcpStream::connect(&args.addr)
        .await
        .with_context(|| format!("connecting to {}", args.addr))?;
    tcp.set_nodelay(true)?;
    // A failed handshake has put its alert on the wire when this returns.
    let mut tls = TlsConnector::new(&Runtime::shared()?, config)
        .connect(tcp)
        .await
        .with_context(|| args.addr.clone())?;
    eprintln!(
        "tlsbox: connected: {}",
        describe(&tls.session_info().await?)
    );
    let (reader, writer) = tokio::io::split(tls);
    let (reader, writer, result) = session(reader, writer, &args).await;
    let mut tls = reader.unsplit(writer);
    match result {
        Ok(()) => Ok(close(&mut tls, CLOSE_WAIT).await?),
        Err(e) => {
            close_after_error(&mut tls, &e).await;
            Err(anyhow::Error::from(e).context(args.addr.clone()))
        }
    }
}

type Reader = ReadHalf<TlsStream<TcpStream>>;
type Writer = WriteHalf<TlsStream<TcpStream>>;

/// Stdin to the peer and the peer's data to stdout until the peer closes, or stdin has
/// ended and the peer has been quiet for `--linger-ms`. The halves progress independently:
/// a peer that stops reading does not stop its data reaching stdout.
async fn session(
    mut reader: Reader,
    mut writer: Writer,
    args: &Args,
) -> (Reader, Writer, io::Result<()>) {
    let linger = Duration::from_millis(args.linger_ms);
    let mut stdin = spawn_stdin_reader();
    let mut stdout = tokio::io::stdout();
    let mut buf = vec![0; 16384];
    let mut stdin_open = true;
    let result = async {
        loop {
            tokio::select! {
                n = reader.read(&mut buf) => {
                    let n = n?;
                    if n == 0 {
                        return Ok(()); // close_notify
                    }
                    stdout.write_all(&buf[..n]).await?;
                    stdout.flush().await?;
                }
                chunk = stdin.recv(), if stdin_open => match chunk {
                    Some(chunk) => {
                        writer.write_all(&chunk).await?;
                        writer.flush().await?;
                    }
                    None => stdin_open = false,
                },
                () = tokio::time::sleep(linger), if !stdin_open => return Ok(()),
            }
        }
    }
    .await;
    (reader, writer, result)
}

/// Stdin, read on a thread of its own: a blocking read of an interactive stdin would keep
/// a runtime task from ever finishing.
fn spawn_stdin_reader() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(4);
    thread::spawn(move || {
        let mut stdin = io::stdin();
        let mut buf = vec![0u8; 16384];
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || tx.blocking_send(buf[..n].to_vec()).is_err() {
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
