//! An async TLS echo server on one tokio runtime, a task per connection:
//! `cargo run -p tlsbox --example async_echo_server -- 127.0.0.1:8443` writes its CA to
//! `ca.pem` (a fresh self-signed PKI for localhost) and echoes every connection.

use tlsbox::pki::Pki;
use tlsbox::{Config, Runtime, TlsAcceptor};
use tokio::io::AsyncWriteExt;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8443".into());
    let pki = Pki::generate(&["localhost", "127.0.0.1"]).map_err(std::io::Error::other)?;
    std::fs::write("ca.pem", &pki.ca_pem)?;
    let config = Config::server(
        pki.server_cert_pem.as_bytes(),
        pki.server_key_pem.as_bytes(),
    );
    let acceptor = TlsAcceptor::new(&Runtime::shared()?, config);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("echoing on {addr} (CA in ca.pem)");
    loop {
        let (tcp, peer) = listener.accept().await?;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let result = async {
                let tls = acceptor.accept(tcp).await?;
                let (mut reader, mut writer) = tokio::io::split(tls);
                let n = tokio::io::copy(&mut reader, &mut writer).await?;
                writer.shutdown().await?;
                std::io::Result::Ok(n)
            };
            match result.await {
                Ok(n) => eprintln!("{peer}: echoed {n} bytes"),
                Err(e) => eprintln!("{peer}: {e}"),
            }
        });
    }
}
