//! A blocking TLS client over std's TcpStream, using `std::io::Read`/`Write`:
//! `cargo run -p tlsbox --example blocking_client -- HOST:PORT NAME CA.pem`.

use std::io::{Read, Write};
use std::net::TcpStream;

use tlsbox::{Config, Connection, Runtime, TcpTransport};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, name, ca] = &args[..] else {
        eprintln!("usage: blocking_client HOST:PORT SERVER_NAME CA.pem");
        std::process::exit(2);
    };
    let config = Config::client(name.as_str()).trust(std::fs::read(ca)?);
    let tcp = TcpStream::connect(addr.as_str())?;
    let mut tls = Connection::new(&Runtime::shared()?, &config, TcpTransport::new(tcp))?;
    tls.negotiate()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    tls.write_all(line.as_bytes())?;
    tls.shutdown_send()?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer)?; // ends at the server's close_notify
    print!("{}", String::from_utf8_lossy(&answer));
    Ok(())
}
