//! TCP connections over `wasi:sockets` 0.2, blocking until connected: resolve a name (or take
//! an IP literal), try each address in turn, wait for the connect to finish. Errors name the
//! step that failed (`resolve example.test: name-unresolvable`, `connect 127.0.0.1:443:
//! connection-refused`).
//!
//! Shared by the transport adapter and the `tls-get` application (by path): each crate
//! generates its `wasi` bindings at its root, which is all this file names.

use std::net::IpAddr;

use crate::wasi::io::streams::{InputStream, OutputStream};
use crate::wasi::sockets::instance_network::instance_network;
use crate::wasi::sockets::ip_name_lookup::resolve_addresses;
use crate::wasi::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
    Network,
};
use crate::wasi::sockets::tcp::TcpSocket;
use crate::wasi::sockets::tcp_create_socket::create_tcp_socket;

/// A connected stream's halves and its socket (drop the streams first: they are its
/// children).
pub type Connected = (InputStream, OutputStream, TcpSocket);

/// Connects to `port` on the first address of `host` that accepts, over the host's default
/// network.
pub fn connect(host: &str, port: u16) -> Result<Connected, String> {
    let network = instance_network();
    let addresses = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => resolve(&network, host).map_err(|e| format!("resolve {host}: {e}"))?,
    };
    let mut last = format!("resolve {host}: no address");
    for ip in addresses {
        match connect_to(&network, ip, port) {
            Ok(connected) => return Ok(connected),
            Err(e) => last = format!("connect {}: {e}", std::net::SocketAddr::new(ip, port)),
        }
    }
    Err(last)
}

/// Every address `name` resolves to, in the order the host gives them.
fn resolve(network: &Network, name: &str) -> Result<Vec<IpAddr>, String> {
    let stream = resolve_addresses(network, name).map_err(code_name)?;
    let mut addresses = Vec::new();
    loop {
        match stream.resolve_next_address() {
            Ok(Some(IpAddress::Ipv4((a, b, c, d)))) => addresses.push(IpAddr::from([a, b, c, d])),
            Ok(Some(IpAddress::Ipv6((a, b, c, d, e, f, g, h)))) => {
                addresses.push(IpAddr::from([a, b, c, d, e, f, g, h]));
            }
            Ok(None) => return Ok(addresses),
            Err(ErrorCode::WouldBlock) => stream.subscribe().block(),
            Err(e) => return Err(code_name(e)),
        }
    }
}

/// A TCP connection to `ip:port`, waiting for the connect to finish.
fn connect_to(network: &Network, ip: IpAddr, port: u16) -> Result<Connected, String> {
    let (family, address) = match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            (
                IpAddressFamily::Ipv4,
                IpSocketAddress::Ipv4(Ipv4SocketAddress {
                    port,
                    address: (a, b, c, d),
                }),
            )
        }
        IpAddr::V6(v6) => {
            let [a, b, c, d, e, f, g, h] = v6.segments();
            (
                IpAddressFamily::Ipv6,
                IpSocketAddress::Ipv6(Ipv6SocketAddress {
                    port,
                    flow_info: 0,
                    address: (a, b, c, d, e, f, g, h),
                    scope_id: 0,
                }),
            )
        }
    };
    let tcp = create_tcp_socket(family).map_err(code_name)?;
    tcp.start_connect(network, address).map_err(code_name)?;
    loop {
        match tcp.finish_connect() {
            Ok((input, output)) => return Ok((input, output, tcp)),
            Err(ErrorCode::WouldBlock) => tcp.subscribe().block(),
            Err(e) => return Err(code_name(e)),
        }
    }
}

/// The WASI error code's name as the WIT spells it (`connection-refused`).
fn code_name(code: ErrorCode) -> String {
    code.name().to_owned()
}
