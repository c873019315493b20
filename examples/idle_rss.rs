//! Host memory per idle connection, the tlsbox side alone:
//! `cargo run --release -p tlsbox-tests --example idle_rss`.
//!
//! Starts a native tokio-rustls echo server in a child process (this example run with
//! `--serve`), so that none of the server's state is in the figures; then opens 1, 100, 1,000,
//! 2,000, 5,000 and 10,000 connections (cumulatively) from tlsbox clients, one guest instance
//! each, over loopback TCP, handshakes and echoes once on each, leaves them idle, and prints
//! the growth of this process's resident set (Rss) and proportional set (Pss) per
//! connection. At the end it breaks the resident set down by kind of mapping (from
//! `/proc/self/smaps`), which separates the instances' linear memories and fiber stacks from
//! the process heap. `--x25519` makes the clients offer X25519 alone (no ML-KEM key pair in
//! the handshake); `--compact` reserves only the memory limit per instance
//! (`Reservation::Compact`) instead of 4 GiB. Each connection is a socket in both processes: 10,000 need
//! `ulimit -n` above 10,000.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tlsbox::{Config, Limits, Reservation, Runtime, TlsConnector, TlsStream};
use tlsbox_test_support::pki::Pki;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Resident set size of this process, in bytes (Linux `/proc/self/statm`).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Proportional set size of this process, in bytes: resident pages, each shared one divided
/// among the mappings that share it (Linux `/proc/self/smaps_rollup`). Every instance maps
/// the same copy-on-write memory image, which Rss counts in full per instance.
fn pss() -> u64 {
    kib_field("/proc/self/smaps_rollup", "Pss:")
}

/// Kernel memory in this process's page tables, in bytes (`VmPTE` in `/proc/self/status`):
/// not in Rss, but memory each instance's scattered pages cost.
fn page_tables() -> u64 {
    kib_field("/proc/self/status", "VmPTE:")
}

/// The first `name  N kB` line of the proc file at `path`, in bytes (0 if absent).
fn kib_field(path: &str, name: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Memory mappings of this process (Linux allows 65,530 by default, `vm.max_map_count`).
fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps").map_or(0, |m| m.lines().count())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, dir] = args.as_slice()
        && flag == "--serve"
    {
        return serve(Path::new(dir)).await;
    }

    let pki = Pki::generate(&["localhost"]).map_err(std::io::Error::other)?;
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("cert.pem"), &pki.server_cert_pem)?;
    std::fs::write(dir.path().join("key.pem"), &pki.server_key_pem)?;
    let mut server = Command::new(std::env::current_exe()?)
        .arg("--serve")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut port = String::new();
    if let Some(out) = server.stdout.take() {
        BufReader::new(out).read_line(&mut port)?;
    }
    let port: u16 = port.trim().parse().map_err(std::io::Error::other)?;
    let flag = |name: &str| args.iter().any(|a| a == name);
    let limits = Limits {
        reservation: if flag("--compact") {
            Reservation::Compact
        } else {
            Reservation::Full
        },
        ..Limits::default()
    };
    let measured = measure(&pki, port, limits, flag("--x25519")).await;
    server.kill()?;
    server.wait()?;
    measured
}

/// Opens the connections to the server on `port` from a runtime with `limits` and prints the
/// figures; with `x25519_only` the clients offer X25519 alone instead of the default's
/// X25519MLKEM768 first.
async fn measure(pki: &Pki, port: u16, limits: Limits, x25519_only: bool) -> std::io::Result<()> {
    let runtime = Runtime::new(limits)?;
    let mut config = Config::client("localhost").trust(pki.ca_pem.as_bytes());
    if x25519_only {
        config = config.kx_groups(&[tlsbox::KxGroup::X25519]);
    }
    let connector = TlsConnector::new(&runtime, config);
    println!("pooling allocator: {}", runtime.is_pooled());

    // Warm up (one connection, dropped) so the baseline includes the compiled component.
    drop(open(port, &connector, 1).await?);
    let (base, base_pss, base_tables) = (rss(), pss(), page_tables());
    println!("baseline RSS: {:.1} MiB", base as f64 / (1 << 20) as f64);
    println!(
        "{:>12} {:>12} {:>16} {:>16} {:>10}",
        "connections", "RSS (MiB)", "per connection", "Pss per conn.", "mappings"
    );
    let mut held: Vec<TlsStream<TcpStream>> = Vec::new();
    for target in [1usize, 100, 1_000, 2_000, 5_000, 10_000] {
        // In batches, as connections arrive at a server.
        while held.len() < target {
            let batch = (target - held.len()).min(1_000);
            match open(port, &connector, batch).await {
                Ok(more) => held.extend(more),
                Err(e) => {
                    // Typically the process's limit on open files (`ulimit -n`) or on
                    // mappings (`vm.max_map_count`, 65,530 by default; see `mappings`).
                    println!("stopped at {} connections: {e}", held.len());
                    return Ok(());
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let (now, now_pss) = (rss(), pss());
        let per = |now: u64, base: u64| now.saturating_sub(base) as f64 / held.len() as f64;
        println!(
            "{:>12} {:>12.1} {:>12.1} KiB {:>12.1} KiB {:>10}",
            held.len(),
            now as f64 / (1 << 20) as f64,
            per(now, base) / 1024.0,
            per(now_pss, base_pss) / 1024.0,
            mappings(),
        );
    }
    println!(
        "page tables: {:.1} KiB per connection",
        page_tables().saturating_sub(base_tables) as f64 / held.len() as f64 / 1024.0
    );
    print_breakdown(held.len());
    Ok(())
}

/// One kind of mapping: permissions, what backs it, and its size.
type Kind = (String, String, u64);

/// Prints the resident set by kind of mapping (grouped by permissions, backing and size, so
/// the per-instance ones — every instance's look alike — gather in one row each), largest
/// first, in KiB per connection. Rss counts a shared page once per mapping; Pss divides it
/// among them.
fn print_breakdown(connections: usize) {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let mut kinds: std::collections::HashMap<Kind, (usize, u64, u64)> = Default::default();
    let mut current: Option<Kind> = None;
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [range, perms, _offset, _dev, _inode, rest @ ..] if range.contains('-') => {
                let (start, end) = range.split_once('-').unwrap_or(("0", "0"));
                let size = u64::from_str_radix(end, 16).unwrap_or(0)
                    - u64::from_str_radix(start, 16).unwrap_or(0);
                let backing = match rest.join(" ") {
                    name if name.is_empty() => "anonymous".to_owned(),
                    name => name,
                };
                let kind = (perms.to_string(), backing, size);
                kinds.entry(kind.clone()).or_default().0 += 1;
                current = Some(kind);
            }
            ["Rss:", kib, "kB"] | ["Pss:", kib, "kB"] => {
                let kib: u64 = kib.parse().unwrap_or(0);
                if let Some(entry) = current.as_ref().and_then(|k| kinds.get_mut(k)) {
                    if fields[0] == "Rss:" {
                        entry.1 += kib;
                    } else {
                        entry.2 += kib;
                    }
                }
            }
            _ => {}
        }
    }
    let mut rows: Vec<_> = kinds.into_iter().collect();
    rows.sort_by_key(|(_, (_, rss, _))| std::cmp::Reverse(*rss));
    println!(
        "\nresident set by kind of mapping, at {connections} connections (KiB per connection):"
    );
    println!(
        "{:>9} {:>8} {:>8}  {:<5} {:>12}  backing",
        "mappings", "Rss", "Pss", "perms", "size (KiB)"
    );
    let per = |kib: u64| kib as f64 / connections as f64;
    for ((perms, backing, size), (count, rss, pss)) in rows.into_iter().take(10) {
        println!(
            "{count:>9} {:>8.1} {:>8.1}  {perms:<5} {:>12}  {backing}",
            per(rss),
            per(pss),
            size / 1024
        );
    }
}

/// `n` handshaken connections to the server on `port` that have echoed once.
async fn open(
    port: u16,
    connector: &TlsConnector,
    n: usize,
) -> std::io::Result<Vec<TlsStream<TcpStream>>> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let connector = connector.clone();
        tasks.push(tokio::spawn(async move {
            let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
            let mut client = connector.connect(tcp).await?;
            client.write_all(b"ping").await?;
            client.flush().await?;
            let mut buf = [0; 4];
            client.read_exact(&mut buf).await?;
            std::io::Result::Ok(client)
        }));
    }
    let mut out = Vec::with_capacity(n);
    for task in tasks {
        out.push(task.await.map_err(std::io::Error::other)??);
    }
    Ok(out)
}

/// The child process: a native tokio-rustls server with the certificate and key in `dir`,
/// on a loopback port it prints first, echoing four bytes on each connection and then
/// holding it until the client closes.
async fn serve(dir: &Path) -> std::io::Result<()> {
    let certs = CertificateDer::pem_file_iter(dir.join("cert.pem"))
        .map_err(std::io::Error::other)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(std::io::Error::other)?;
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).map_err(std::io::Error::other)?;
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(std::io::Error::other)?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(std::io::Error::other)?;
    let acceptor = TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?.port());
    loop {
        let (tcp, _) = listener.accept().await?;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let mut tls = acceptor.accept(tcp).await?;
            let mut buf = [0; 4];
            tls.read_exact(&mut buf).await?;
            tls.write_all(&buf).await?;
            tls.flush().await?;
            // Held until the client goes (a read of 0 bytes, or an error).
            let _ = tls.read(&mut buf).await;
            std::io::Result::Ok(())
        });
    }
}
