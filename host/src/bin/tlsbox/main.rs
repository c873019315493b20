//! The `tlsbox` command: `demo`, `client` and `server` (see `tlsbox --help`).

mod client;
mod demo;
mod server;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use tlsbox::{CipherSuite, ProtocolVersion, SessionInfo};

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
    /// Serves TLS on ADDR, one connection after another: echo, --stdout or --http.
    Server(server::Args),
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tlsbox: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command line.
fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Client(args) => client::run(args),
        Command::Server(args) => server::run(args),
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
