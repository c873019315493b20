//! An async TLS echo server on one tokio runtime, a task and a guest instance per
//! connection: `cargo run -p tlsbox --example async_echo_server -- 127.0.0.1:8443 cert.pem key.pem`
//! (a certificate chain and its private key in PEM, e.g. from `openssl req -x509`).

use tlsbox::{Config, Runtime, TlsAcceptor};
use tokio::io::AsyncWriteExt;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, cert, key] = &args[..] else {
        eprintln!("usage: async_echo_server ADDR CERT.pem KEY.pem");
        std::process::exit(2);
    };
    let config = Config::server(std::fs::read(cert)?, std::fs::read(key)?);
    let acceptor = TlsAcceptor::new(&Runtime::shared()?, config);
    let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
    eprintln!("echoing on {addr}");
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
