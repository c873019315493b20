//! `tlsbox server ADDR`: like s2nd — echo by default, `--stdout` to print, `--http` to
//! answer each request with a small HTTP/1.0 page; one connection after another.

use std::io::{self, Write};
use std::net::TcpListener;
use std::path::PathBuf;

use anyhow::{Context, Result};
use tlsbox::{ClientAuth, Config, Connection, Endpoint, Runtime, TcpTransport};

use super::{Suite, describe, read_file, read_optional, versions};

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
    /// Print received data instead of echoing it.
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
    /// Stop after this many connections (default: serve until killed).
    #[arg(long)]
    max_connections: Option<usize>,
}

#[derive(Clone, Copy)]
enum Mode {
    Echo,
    Stdout,
    Http,
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
    let mode = match (args.stdout, args.http) {
        (true, _) => Mode::Stdout,
        (_, true) => Mode::Http,
        _ => Mode::Echo,
    };
    let runtime = Runtime::shared()?;
    // One endpoint parses the configuration once for every connection.
    let mut endpoint = Endpoint::new(&runtime, &config)?;
    let listener =
        TcpListener::bind(&args.addr).with_context(|| format!("binding {}", args.addr))?;
    eprintln!("tlsbox: listening on {}", listener.local_addr()?);

    let mut served = 0;
    for tcp in listener.incoming() {
        let tcp = match tcp {
            Ok(tcp) => tcp,
            Err(e) => {
                log::warn!("accept failed: {e}");
                continue;
            }
        };
        let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
        let result = endpoint
            .connect(TcpTransport::new(tcp))
            .map_err(anyhow::Error::from)
            .and_then(|mut conn| serve(&mut conn, mode));
        match result {
            Ok(()) => log::info!("{peer}: closed"),
            Err(e) => {
                eprintln!("tlsbox: {peer}: {e:#}");
                // A trapped instance cannot be entered again: start a fresh one.
                if e.downcast_ref::<tlsbox::Error>()
                    .is_some_and(|e| e.name == "trap")
                {
                    endpoint = Endpoint::new(&runtime, &config)?;
                }
            }
        }
        served += 1;
        if args.max_connections.is_some_and(|max| served >= max) {
            break;
        }
    }
    Ok(())
}

fn serve(conn: &mut Connection, mode: Mode) -> Result<()> {
    conn.negotiate()?;
    if let Some(info) = conn.session_info()? {
        log::info!("negotiated {}", describe(&info));
    }
    let mut request = Vec::new();
    loop {
        let received = conn.recv(16384)?;
        if received.data.is_empty() {
            break; // close_notify
        }
        match mode {
            Mode::Echo => conn.send_all(&received.data)?,
            Mode::Stdout => {
                let mut out = io::stdout();
                out.write_all(&received.data)?;
                out.flush()?;
            }
            Mode::Http => {
                request.extend_from_slice(&received.data);
                if request.windows(4).any(|w| w == b"\r\n\r\n") {
                    // Small enough for one record.
                    let response = http_response(conn)?;
                    conn.send_all(&response)?;
                    break;
                }
            }
        }
    }
    conn.shutdown()?;
    Ok(())
}

fn http_response(conn: &mut Connection) -> Result<Vec<u8>> {
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
