//! `tlsbox demo`: a server component and a client component over loopback TCP, with a
//! fresh self-signed certificate, moving data each way and timing it.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use indicatif::{ProgressBar, ProgressStyle};
use tlsbox::{Config, Connection, Runtime, TcpTransport};

use super::{Suite, describe, versions};

/// `println!` that returns an error instead of panicking when stdout is gone
/// (`tlsbox demo | head -1`).
macro_rules! say {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout(), $($arg)*).context("writing to stdout")?
    };
}

/// Options for `tlsbox demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// MiB to move in each direction.
    #[arg(long, default_value_t = 64)]
    mib: usize,
    /// Cipher suite to force (default: the guest's order, ChaCha20-Poly1305 first).
    #[arg(long, value_enum)]
    suite: Option<Suite>,
    /// Use TLS 1.2 instead of TLS 1.3.
    #[arg(long)]
    tls12: bool,
}

/// Application chunk per send call.
const CHUNK: usize = 64 * 1024;

pub fn run(args: Args) -> Result<()> {
    let total = args.mib << 20;
    let started = Instant::now();
    let runtime = Runtime::shared()?;
    say!(
        "component ready in {:.2?} (compiled, or loaded from the code cache)",
        started.elapsed()
    );

    // A self-signed certificate the client pins as its one trust anchor.
    let identity = rcgen::generate_simple_self_signed(["localhost".to_owned()])
        .context("generating a certificate")?;
    let (cert_pem, key_pem) = (identity.cert.pem(), identity.signing_key.serialize_pem());
    let suites = args
        .suite
        .map(|s| s.cipher_suites(args.tls12))
        .unwrap_or_default();
    let server_config = Config::server(cert_pem.as_bytes(), key_pem.as_bytes())
        .versions(&versions(args.tls12))
        .cipher_suites(&suites);
    let client_config = Config::client("localhost")
        .trust(cert_pem.as_bytes())
        .versions(&versions(args.tls12))
        .cipher_suites(&suites);

    let listener = TcpListener::bind("127.0.0.1:0").context("binding loopback")?;
    let addr = listener.local_addr()?;
    let server_runtime = runtime.clone();
    let server = thread::spawn(move || -> Result<()> {
        let (tcp, _) = listener.accept()?;
        tcp.set_nodelay(true)?;
        let mut conn = Connection::new(&server_runtime, &server_config, TcpTransport::new(tcp))?;
        conn.negotiate()?;
        receive(&mut conn, total, None)?;
        send(&mut conn, total, None)?;
        conn.shutdown()?;
        Ok(())
    });

    let tcp = TcpStream::connect(addr)?;
    tcp.set_nodelay(true)?;
    let mut conn = Connection::new(&runtime, &client_config, TcpTransport::new(tcp))?;
    let t = Instant::now();
    conn.negotiate()?;
    let handshake = t.elapsed();
    let info = conn
        .session_info()?
        .ok_or_else(|| anyhow!("no session after the handshake"))?;

    let bar = progress(total as u64, "client → server");
    let t = Instant::now();
    send(&mut conn, total, Some(&bar))?;
    let sent = t.elapsed();
    // The upload ends when the server has read it all, which its first reply byte proves.
    let bar_back = progress(total as u64, "server → client");
    let up = sent + receive(&mut conn, total, Some(&bar_back))?;
    let down = t.elapsed().saturating_sub(up);
    bar.finish_and_clear();
    bar_back.finish_and_clear();
    conn.shutdown()?;
    server
        .join()
        .map_err(|_| anyhow!("server thread panicked"))??;

    say!("negotiated      {}", describe(&info));
    say!(
        "handshake       {:.2?} (client, loopback, both ends in wasm)",
        handshake
    );
    say!(
        "client → server {} MiB in {:.2?}: {:.1} MiB/s",
        args.mib,
        up,
        mib_per_s(total, up)
    );
    say!(
        "server → client {} MiB in {:.2?}: {:.1} MiB/s",
        args.mib,
        down,
        mib_per_s(total, down)
    );
    say!(
        "wire bytes      {} out, {} in (client, handshake included)",
        conn.wire_bytes_out()?,
        conn.wire_bytes_in()?
    );
    Ok(())
}

fn progress(len: u64, label: &'static str) -> ProgressBar {
    // Short transfers finish before a bar would be readable.
    if len < 8 << 20 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len).with_message(label);
    bar.set_style(
        ProgressStyle::with_template("{msg:16} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn send(conn: &mut Connection, total: usize, bar: Option<&ProgressBar>) -> Result<()> {
    let chunk: Vec<u8> = (0..CHUNK).map(|i| i as u8).collect();
    let mut left = total;
    while left > 0 {
        let n = left.min(CHUNK);
        conn.send_all(&chunk[..n])?;
        left -= n;
        if let Some(bar) = bar {
            bar.inc(n as u64);
        }
    }
    Ok(())
}

/// Reads `total` bytes; returns the time from the call to the first byte.
fn receive(conn: &mut Connection, total: usize, bar: Option<&ProgressBar>) -> Result<Duration> {
    let start = Instant::now();
    let mut first = None;
    let mut got = 0;
    while got < total {
        let r = conn.recv(16384)?;
        if r.data.is_empty() {
            return Err(anyhow!("peer closed after {got} of {total} bytes"));
        }
        first.get_or_insert_with(|| start.elapsed());
        got += r.data.len();
        if let Some(bar) = bar {
            bar.inc(r.data.len() as u64);
        }
    }
    Ok(first.unwrap_or_default())
}

fn mib_per_s(bytes: usize, time: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / time.as_secs_f64().max(1e-9)
}
