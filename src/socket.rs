//! TCP sockets for BGP sessions: the listener and outgoing connections, with the socket
//! options a BGP speaker needs (TTL for eBGP, source address, dual-stack listening).

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Listen for BGP connections. `None` listens on `[::]` accepting IPv4-mapped connections too,
/// falling back to `0.0.0.0` where the namespace has no IPv6.
pub fn listen(addr: Option<IpAddr>, port: u16) -> io::Result<TcpListener> {
    match addr {
        Some(ip) => bind_listener(SocketAddr::new(ip, port), false),
        None => bind_listener(
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
            false,
        )
        .or_else(|e| {
            tracing::warn!(error = %e, "cannot listen on [::], listening on 0.0.0.0 only");
            bind_listener(SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port), false)
        }),
    }
}

fn bind_listener(addr: SocketAddr, v6_only: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(v6_only)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(64)?;
    TcpListener::from_std(socket.into())
}

/// Open a connection to a peer with the given TTL (1 for a directly connected eBGP peer,
/// RFC 4271 leaves multihop to configuration) and optional source address.
pub async fn connect(remote: SocketAddr, local: Option<IpAddr>, ttl: u8) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(remote),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    set_ttl(&socket, remote.is_ipv6(), ttl)?;
    socket.set_tcp_nodelay(true)?;
    if let Some(local) = local {
        socket.bind(&SocketAddr::new(local, 0).into())?;
    }
    socket.set_nonblocking(true)?;
    let std_stream: std::net::TcpStream = socket.into();
    TcpSocket::from_std_stream(std_stream).connect(remote).await
}

/// Apply the session's TTL and options to an accepted connection.
pub fn prepare_accepted(stream: &TcpStream, ttl: u8) -> io::Result<()> {
    let sock = SockRef::from(stream);
    let v6 = stream.local_addr()?.is_ipv6();
    set_ttl(&sock, v6, ttl)?;
    sock.set_tcp_nodelay(true)
}

fn set_ttl(socket: &Socket, v6: bool, ttl: u8) -> io::Result<()> {
    if v6 {
        socket.set_unicast_hops_v6(u32::from(ttl))?;
        // An IPv6 socket may carry IPv4-mapped traffic; set both so either family obeys.
        let _ = socket.set_ttl_v4(u32::from(ttl));
        Ok(())
    } else {
        socket.set_ttl_v4(u32::from(ttl))
    }
}

/// The canonical form of a peer address: IPv4-mapped IPv6 (`::ffff:a.b.c.d`) becomes IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}
