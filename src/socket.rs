//! What every floor may say about a connected TCP socket, without opening one: which side of
//! the conversation we are ([`Role`]), the options a connected socket has whichever engine
//! holds it ([`Tunable`]: std's blocking socket and mio's non-blocking one), and an address as
//! a person writes it ([`unmapped`]).
//!
//! These sit below the observer (observe/), which reports connections with them, and below
//! endpoint.rs, which opens the sockets: so neither needs the other.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};

/// Which side of the conversation this process is. In `half` mode the connecting side speaks first.
/// (In the event log, `--events`, it is `"listener"` or `"connector"`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Listener,
    Connector,
}

/// A connected TCP socket netchat can tune: std's blocking one, and mio's non-blocking one (the
/// room's poll engine). Both have the same options; this lets one function set each of them.
pub trait Tunable {
    fn set_nodelay(&self, on: bool) -> io::Result<()>;
    fn nodelay(&self) -> io::Result<bool>;
    fn local_addr(&self) -> io::Result<SocketAddr>;
    fn peer_addr(&self) -> io::Result<SocketAddr>;
    /// The socket as `socket2` sees it, for the options std does not have (`SO_SNDBUF`).
    fn sock_ref(&self) -> socket2::SockRef<'_>;
}

impl Tunable for TcpStream {
    fn set_nodelay(&self, on: bool) -> io::Result<()> {
        TcpStream::set_nodelay(self, on)
    }

    fn nodelay(&self) -> io::Result<bool> {
        TcpStream::nodelay(self)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpStream::local_addr(self)
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        TcpStream::peer_addr(self)
    }

    fn sock_ref(&self) -> socket2::SockRef<'_> {
        socket2::SockRef::from(self)
    }
}

impl Tunable for mio::net::TcpStream {
    fn set_nodelay(&self, on: bool) -> io::Result<()> {
        mio::net::TcpStream::set_nodelay(self, on)
    }

    fn nodelay(&self) -> io::Result<bool> {
        mio::net::TcpStream::nodelay(self)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        mio::net::TcpStream::local_addr(self)
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        mio::net::TcpStream::peer_addr(self)
    }

    fn sock_ref(&self) -> socket2::SockRef<'_> {
        socket2::SockRef::from(self)
    }
}

/// The peer's address as a person would write it: an IPv4 peer of a dual-stack socket arrives as
/// `::ffff:a.b.c.d`, which is just `a.b.c.d`. Per-address rules and every status line use this.
pub fn unmapped(addr: SocketAddr) -> SocketAddr {
    match unmapped_ip(addr.ip()) {
        IpAddr::V4(v4) => SocketAddr::new(v4.into(), addr.port()),
        // Unchanged, so a link-local IPv6 peer keeps its scope id.
        IpAddr::V6(_) => addr,
    }
}

/// [`unmapped`] for an address without a port: `::ffff:10.0.0.7` is `10.0.0.7`.
pub fn unmapped_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_mapped_peers_are_shown_as_ipv4() {
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:4000".parse().unwrap();
        assert_eq!(unmapped(mapped).to_string(), "127.0.0.1:4000");
        let v6: SocketAddr = "[::1]:4000".parse().unwrap();
        assert_eq!(unmapped(v6), v6);
    }
}
