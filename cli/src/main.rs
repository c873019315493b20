//! The `tlsbox` command: `demo`, `client` and `server` (see `tlsbox --help`).
//!
//! `client` and `server` share the record-sizing and alert options ([`Tuning`]) and the way
//! a connection ends ([`close`], [`close_after_error`]): every connection, failed or not,
//! puts its last word (an alert or close_notify) on the wire before the socket is dropped.

mod client;
mod demo;
mod run;
mod server;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use tlsbox::{
    AlertPolicy, CipherSuite, Config, ErrorKind, KxGroup, ProtocolVersion, RecordSizing,
    SessionInfo, TlsStream,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;

/// A TLS endpoint inside a WebAssembly component.
#[derive(Debug, Parser)]
#[command(name = "tlsbox", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs a server and a client component over loopback TCP and reports what they did.
    Demo(demo::Args),
    /// Connects to HOST:PORT: stdin goes to the peer, the peer's data to stdout.
    Client(client::Args),
    /// Serves TLS on ADDR, each client in its own task and guest instance: echo, --stdout
    /// or --http.
    Server(server::Args),
    /// Runs a WASI command component with wasi:tls served by tlsbox; exits with its status.
    Run(run::Args),
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match run(Cli::parse()) {
        Ok(0) => ExitCode::SUCCESS,
        // An exit status in 1..=255; anything else a command may give is reported as 1.
        Ok(status) => ExitCode::from(u8::try_from(status).ok().filter(|s| *s != 0).unwrap_or(1)),
        Err(e) => {
            eprintln!("tlsbox: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command line; returns the exit status.
fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Demo(args) => demo::run(args).map(|()| 0),
        Command::Client(args) => tokio_runtime()?.block_on(client::run(args)).map(|()| 0),
        Command::Server(args) => tokio_runtime()?.block_on(server::run(args)).map(|()| 0),
        Command::Run(args) => tokio_runtime()?.block_on(run::run(args)),
    }
}

/// Cipher suite names accepted on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Suite {
    /// TLS 1.3 ChaCha20-Poly1305 (fastest in wasm).
    Chacha20,
    /// TLS 1.3 AES-128-GCM.
    Aes128,
    /// TLS 1.3 AES-256-GCM.
    Aes256,
}

impl Suite {
    fn cipher_suites(self, tls12: bool) -> Vec<CipherSuite> {
        use CipherSuite::*;
        match (self, tls12) {
            (Suite::Chacha20, false) => vec![Tls13Chacha20Poly1305Sha256],
            (Suite::Aes128, false) => vec![Tls13Aes128GcmSha256],
            (Suite::Aes256, false) => vec![Tls13Aes256GcmSha384],
            (Suite::Chacha20, true) => vec![
                TlsEcdheEcdsaWithChacha20Poly1305Sha256,
                TlsEcdheRsaWithChacha20Poly1305Sha256,
            ],
            (Suite::Aes128, true) => {
                vec![
                    TlsEcdheEcdsaWithAes128GcmSha256,
                    TlsEcdheRsaWithAes128GcmSha256,
                ]
            }
            (Suite::Aes256, true) => {
                vec![
                    TlsEcdheEcdsaWithAes256GcmSha384,
                    TlsEcdheRsaWithAes256GcmSha384,
                ]
            }
        }
    }
}

/// ALPN, version and suite settings, as `client` and `server` take them.
fn negotiation(config: Config, alpn: &[String], tls12: bool, suite: Option<Suite>) -> Config {
    config
        .alpn(alpn.to_vec())
        .versions(&versions(tls12))
        .cipher_suites(&suite.map(|s| s.cipher_suites(tls12)).unwrap_or_default())
}

fn versions(tls12: bool) -> Vec<ProtocolVersion> {
    if tls12 {
        vec![ProtocolVersion::Tls12]
    } else {
        Vec::new()
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn read_optional(path: &Option<PathBuf>) -> Result<Option<Vec<u8>>> {
    path.as_deref().map(read_file).transpose()
}

/// One line describing what the handshake negotiated.
fn describe(info: &SessionInfo) -> String {
    let mut line = format!("{} {}", info.version.name(), info.cipher_suite.name());
    if let Some(group) = info.kx_group {
        line += &format!(" {}", group.name());
    }
    if let Some(alpn) = &info.alpn {
        line += &format!(" ALPN {alpn}");
    }
    line
}

/// Whom a client trusts, shared by `client` and `run`.
#[derive(Debug, clap::Args)]
struct TrustArgs {
    /// Trust the CA certificates in FILE (PEM) instead of the system's store. Without it,
    /// servers are verified against the system's store, found as OpenSSL finds it: the file
    /// SSL_CERT_FILE and the directories SSL_CERT_DIR name, else /etc/ssl/certs and the like.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
}

impl TrustArgs {
    /// Applies the choice to a client `config`.
    fn apply(&self, config: Config) -> Result<Config> {
        Ok(match &self.ca {
            Some(path) => config.trust(read_file(path)?),
            None => config,
        })
    }
}

/// Record sizing and failure announcement, shared by `client` and `server`.
#[derive(Debug, clap::Args)]
struct Tuning {
    /// Send 16 KiB records: the least overhead for bulk data.
    #[arg(long, conflicts_with = "prefer_low_latency")]
    prefer_throughput: bool,
    /// Send records of at most 1435 bytes of plaintext, one per Ethernet frame, so the peer
    /// can decrypt each as soon as it arrives.
    #[arg(long)]
    prefer_low_latency: bool,
    /// How a failed connection tells its peer: `rfc` sends the alert the failure calls for
    /// at once; `s2n` sends nothing until shutdown, which waits out a blinding delay and then
    /// sends close_notify in place of an encrypted alert.
    #[arg(long, value_enum, default_value_t = Alerts::Rfc)]
    alerts: Alerts,
    /// With --alerts s2n: the longest blinding delay in seconds (default 30, 0 disables it).
    /// A failed connection waits it out before its close_notify.
    #[arg(long, value_name = "SECS")]
    max_blinding_delay: Option<u32>,
    /// Key-exchange groups in preference order, comma-separated (default: x25519mlkem768,
    /// x25519, secp256r1, secp256r1mlkem768, secp384r1, x448, secp521r1).
    #[arg(long, value_enum, value_delimiter = ',')]
    groups: Vec<Group>,
}

/// `--groups` values: the IANA names, lowercase.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Group {
    /// ML-KEM-768 with X25519, post-quantum hybrid (TLS 1.3).
    X25519mlkem768,
    /// X25519.
    X25519,
    /// NIST P-256.
    Secp256r1,
    /// ML-KEM-768 with P-256, post-quantum hybrid (TLS 1.3).
    Secp256r1mlkem768,
    /// NIST P-384.
    Secp384r1,
    /// X448.
    X448,
    /// NIST P-521.
    Secp521r1,
}

impl Group {
    fn kx_group(self) -> KxGroup {
        match self {
            Group::X25519mlkem768 => KxGroup::X25519mlkem768,
            Group::X25519 => KxGroup::X25519,
            Group::Secp256r1 => KxGroup::Secp256r1,
            Group::Secp256r1mlkem768 => KxGroup::Secp256r1mlkem768,
            Group::Secp384r1 => KxGroup::Secp384r1,
            Group::X448 => KxGroup::X448,
            Group::Secp521r1 => KxGroup::Secp521r1,
        }
    }
}

/// `--alerts` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Alerts {
    /// The alert RFC 8446 §6.2 calls for, written by the failing call itself.
    Rfc,
    /// s2n-tls's way: a close_notify at shutdown, after a blinding delay.
    S2n,
}

impl Tuning {
    /// Applies the options to `config`.
    fn apply(&self, config: Config) -> Config {
        let sizing = if self.prefer_throughput {
            RecordSizing::PreferThroughput
        } else if self.prefer_low_latency {
            RecordSizing::PreferLowLatency
        } else {
            RecordSizing::Default
        };
        let policy = match self.alerts {
            Alerts::Rfc => AlertPolicy::Rfc,
            Alerts::S2n => AlertPolicy::S2n,
        };
        let groups: Vec<KxGroup> = self.groups.iter().map(|g| g.kx_group()).collect();
        let config = config
            .record_sizing(sizing)
            .alert_policy(policy)
            .kx_groups(&groups);
        match self.max_blinding_delay {
            Some(secs) => config.max_blinding_delay_secs(secs),
            None => config,
        }
    }
}

/// How long a closing connection waits for the peer's close_notify.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How long a failed connection tries to get its alert or close_notify out.
const ERROR_CLOSE_WAIT: Duration = Duration::from_secs(1);

/// The tlsbox error behind an I/O error from a [`TlsStream`], if there is one.
fn tls_error(e: &io::Error) -> Option<&tlsbox::Error> {
    e.get_ref().and_then(|e| e.downcast_ref::<tlsbox::Error>())
}

/// Sends close_notify and waits up to `wait` for the peer's. A peer that hung up (EOF, a
/// reset) or never answers is not an error: our close_notify went out or could not.
async fn close<S>(tls: &mut TlsStream<S>, wait: Duration) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Under --alerts s2n a failure starts a blinding delay, which shutdown sleeps out before
    // its close_notify (this task only), as s2n does.
    let delay = tls.delay().await.unwrap_or_default();
    match timeout(delay + wait, tls.shutdown()).await {
        Err(_) => return Ok(()), // the peer does not read
        Ok(Ok(())) => {}
        Ok(Err(e))
            if tls_error(&e)
                .is_some_and(|t| t.kind == ErrorKind::Closed || t.name == "broken-pipe") =>
        {
            return Ok(());
        }
        Ok(Err(e)) => return Err(e),
    }
    // Read up to the peer's close_notify; whatever ends the wait is fine.
    let mut buf = [0; 4096];
    let drain = async { while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {} };
    let _ = timeout(wait, drain).await;
    Ok(())
}

/// Puts a failed connection's last word on the wire before it is dropped. Under
/// `--alerts rfc` the failing call already sent its alert and shutdown returns at once;
/// under `--alerts s2n` this is where the close_notify goes out. A trapped instance cannot
/// be entered again, so there is nothing to send.
async fn close_after_error<S>(tls: &mut TlsStream<S>, error: &io::Error)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if tls_error(error).is_some_and(|e| e.name == "trap") {
        return;
    }
    if let Err(e) = close(tls, ERROR_CLOSE_WAIT).await {
        log::debug!("closing after an error: {e}");
    }
    // A lingering close, as the acceptor makes after a failed handshake, so the close is
    // not a reset that could destroy the alert before the peer reads it.
    tls.linger(ERROR_CLOSE_WAIT).await;
}

/// The runtime `client` and `server` run on.
fn tokio_runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
