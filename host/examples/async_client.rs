//! An async TLS client: `cargo run -p tlsbox --example async_client -- HOST:PORT NAME CA.pem`
//! sends stdin's first line and prints what comes back until close_notify.

use tlsbox::{Config, Runtime, TlsConnector};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, name, ca] = &args[..] else {
        eprintln!("usage: async_client HOST:PORT SERVER_NAME CA.pem");
        std::process::exit(2);
    };
    let config = Config::client(name.as_str()).trust(std::fs::read(ca)?);
    let connector = TlsConnector::new(&Runtime::shared()?, config);
    let tcp = tokio::net::TcpStream::connect(addr.as_str()).await?;
    let mut tls = connector.connect(tcp).await?;
    let info = tls.session_info().await?;
    eprintln!("{} {}", info.version.name(), info.cipher_suite.name());
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    tls.write_all(line.as_bytes()).await?;
    tls.shutdown().await?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await?;
    print!("{}", String::from_utf8_lossy(&answer));
    Ok(())
}
