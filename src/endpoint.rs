//! `--listen` and `--connect`: the two ways a TCP conversation begins.
//!
//! A listener asks the kernel for a port (`bind`), tells it to queue incoming connections
//! (`listen`), and then takes one from the queue (`accept`), which hands back a *new* socket for
//! that one peer. A connector just calls `connect`: the kernel picks a free local port, does the
//! three-way handshake (SYN, SYN-ACK, ACK), and returns once the connection exists. From then on
//! both sides hold the same kind of thing, a connected `TcpStream`, and the difference is gone.
//!
//! What this file adds to the bare calls:
//!
//! - a bare port is one dual-stack socket, IPv6 and IPv4 at once ([`listen`]), and an
//!   IPv4-mapped peer is shown as IPv4 ([`unmapped`]);
//! - every listener asks for the largest accept queue the system allows, so a class joining at
//!   once is not dropped;
//! - TCP_NODELAY on every connection ([`set_nodelay`]), so a message leaves when it is written;
//! - the bound address announced through the console ([`listen_announced`]: `listening on ADDR`,
//!   then the LAN lines lan.rs lists, which the console says: this file knows nothing of the LAN);
//! - closing without losing the last message ([`close_gracefully`]).
//!
//! It never frames or prints a message: that is framing's and the console's.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::str::FromStr;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::console::Console;
use crate::error::{Error, Result};
use crate::framing::Framing;
use crate::observe::{Observer, Watch};
// A connection's facts are defined one floor down (socket.rs), where the observer can name them
// without importing this file; modes find them here, beside listen and connect.
pub use crate::socket::{Role, Tunable, unmapped, unmapped_ip};

/// How long `connect` waits for an answer before giving up.
///
/// The kernel's own limit is about two minutes of SYN retries, which looks like a hang to a
/// student. A host that is up answers in milliseconds, even if only to refuse; silence for
/// 10 seconds almost always means a firewall dropping packets or a wrong address.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `--listen [ADDR:]PORT`: where to wait for a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddr {
    /// The local address to bind, or `None` for a bare port: every interface, IPv6 and IPv4 at
    /// once, so classmates on the LAN can connect, and `localhost`, `127.0.0.1` and `[::1]` all
    /// reach it (see [`listen`]).
    pub host: Option<String>,
    /// 0 asks the kernel to choose a free port; netchat then prints the one it got.
    pub port: u16,
}

/// `--connect [HOST:]PORT`: which listener to call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectAddr {
    /// A name or an IP address. A bare port means `localhost`: this very machine.
    pub host: String,
    pub port: u16,
}

/// Which of the two the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Listen(ListenAddr),
    Connect(ConnectAddr),
}

/// A connected socket and who is on the other end.
#[derive(Debug)]
pub struct Connection {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub role: Role,
}

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let (host, port) = split_host_port(text)?;
        Ok(ListenAddr { host, port })
    }
}

impl FromStr for ConnectAddr {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let (host, port) = split_host_port(text)?;
        if port == 0 {
            return Err(
                "port 0 means \"any free port\" and only works with --listen; \
                        connect to the port the listener printed"
                    .to_string(),
            );
        }
        Ok(ConnectAddr {
            host: host.unwrap_or_else(|| "localhost".to_string()),
            port,
        })
    }
}

/// Splits `PORT`, `HOST:PORT` or `[IPv6]:PORT`. The host is `None` for a bare port.
fn split_host_port(text: &str) -> std::result::Result<(Option<String>, u16), String> {
    let text = text.trim();
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address needs a closing bracket, e.g. [::1]:5000")?;
        let port = after
            .strip_prefix(':')
            .ok_or("put the port after the bracket, e.g. [::1]:5000")?;
        (Some(host), port)
    } else {
        match text.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err("write an IPv6 address in brackets, e.g. [::1]:5000".to_string());
            }
            Some((host, port)) => ((!host.is_empty()).then_some(host), port),
            // A name alone (`labpc-7`) is a host without its port.
            None if !text.is_empty() && !text.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(format!(
                    "'{text}' is not a port: give HOST:PORT, e.g. {text}:5000, or just the \
                     port (5000) for this machine"
                ));
            }
            None => (None, text),
        }
    };
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("'{port}' is not a port: use a number from 1 to 65535, e.g. 5000"))?;
    Ok((host.map(str::to_string), port))
}

/// Shows an address the way a user types it: `[::1]:5000` for IPv6.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every interface is shown as the address the dual-stack socket binds, `[::]:PORT`.
        let host = self.host.as_deref().unwrap_or("::");
        f.write_str(&host_port(host, self.port))
    }
}

impl fmt::Display for ConnectAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&host_port(&self.host, self.port))
    }
}

/// Turns a name into addresses (DNS, /etc/hosts). `localhost` often gives two: ::1 and 127.0.0.1.
fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    let unknown = || Error::UnknownHost {
        host: host.to_string(),
    };
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|_| unknown())?
        .collect();
    if addrs.is_empty() {
        return Err(unknown());
    }
    Ok(addrs)
}

/// `bind` + `listen`: claims the port. Connections that arrive from now on wait in the kernel's
/// accept queue (the "backlog") until someone calls `accept`.
// ANCHOR: listen
pub fn listen(addr: &ListenAddr) -> Result<TcpListener> {
    let bound = match &addr.host {
        None => listen_on_every_interface(addr.port),
        Some(host) => listen_on(&resolve(host, addr.port)?),
    };
    bound.map_err(|error| {
        let shown = addr.to_string();
        match error.kind() {
            io::ErrorKind::AddrInUse => Error::AddrInUse { addr: shown },
            io::ErrorKind::PermissionDenied => Error::BindPermission { addr: shown },
            io::ErrorKind::AddrNotAvailable => Error::AddrNotAvailable { addr: shown },
            _ => Error::io(format!("cannot listen on {shown}"), error),
        }
    })
}

/// An address given with the port: the first of its addresses that can be bound.
fn listen_on(addrs: &[SocketAddr]) -> io::Result<TcpListener> {
    let mut last_error = None;
    for &local in addrs {
        match bind_and_listen(local, Stack::AsGiven) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::ErrorKind::AddrNotAvailable.into()))
}

/// A bare port: one *dual-stack* socket, bound to the IPv6 "any" address `[::]` with the option
/// IPV6_V6ONLY turned off, takes connections over IPv6 and IPv4 alike (an IPv4 peer shows up as
/// an IPv4-mapped address, `::ffff:127.0.0.1`, which [`accept`] turns back into `127.0.0.1`).
/// Linux turns the option off by default, Windows and the BSDs on, so netchat says so itself;
/// std cannot, hence socket2. Where the machine has no IPv6 at all, it listens on IPv4 alone
/// (0.0.0.0), as before.
fn listen_on_every_interface(port: u16) -> io::Result<TcpListener> {
    let any6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
    match bind_and_listen(any6, Stack::Dual) {
        Ok(listener) => Ok(listener),
        // The port is taken, or needs privileges: IPv4 alone would fail the same way.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
            ) =>
        {
            Err(e)
        }
        Err(_) => bind_and_listen((Ipv4Addr::UNSPECIFIED, port).into(), Stack::AsGiven),
    }
}

/// How many finished handshakes the kernel may hold for us before `accept`: as many as the
/// system allows. The kernel caps the number itself (Linux: `net.core.somaxconn`, 4096 since
/// 5.4; macOS: `kern.ipc.somaxconn`, 128), and on Windows this value is `SOMAXCONN`, "the
/// provider's maximum". std's `bind` asks for 128, which a crowd overflows: 19,000 clients
/// connecting at once (`cargo bench --bench room -- idle`) did. A handshake that finds the queue
/// full is dropped: its client sends its SYN again a second later (so much for joining fast),
/// or, when the kernel answered with a SYN cookie, believes it is connected to a server that
/// never heard of it, until it says something.
const BACKLOG: i32 = i32::MAX;

/// Whether an IPv6 socket also takes IPv4 peers.
#[derive(Clone, Copy)]
enum Stack {
    AsGiven,
    Dual,
}

/// `socket` → `bind` → `listen`, as std's `TcpListener::bind` does, with netchat's backlog.
fn bind_and_listen(local: SocketAddr, stack: Stack) -> io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(local),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    if let Stack::Dual = stack {
        socket.set_only_v6(false)?;
    }
    // Like std on Unix: a port whose last connection is still in TIME_WAIT can be listened on
    // again at once. Not on Windows, where SO_REUSEADDR would let another program take over the
    // port.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&local.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

// ANCHOR_END: listen

/// `accept`: blocks until a peer has finished the handshake, then returns a new socket for it.
/// The listening socket itself stays open and could accept more peers; [`open_one`] closes it
/// after one, a room server keeps accepting.
// ANCHOR: accept
pub fn accept(listener: &TcpListener) -> Result<(TcpStream, SocketAddr)> {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                tune(&stream)?;
                return Ok((stream, unmapped(peer)));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("accepting a connection", e)),
        }
    }
}
// ANCHOR_END: accept

/// `connect`: tries each address the name resolves to until one answers.
// ANCHOR: connect
pub fn connect(addr: &ConnectAddr) -> Result<TcpStream> {
    let shown = addr.to_string();
    let mut worst: Option<io::Error> = None;
    for remote in resolve(&addr.host, addr.port)? {
        match TcpStream::connect_timeout(&remote, CONNECT_TIMEOUT) {
            Ok(stream) => {
                tune(&stream)?;
                return Ok(stream);
            }
            // "Refused" is the most telling answer (the host is there, the port is not), so keep
            // it over a less helpful one from another address, like ::1 when IPv6 is off.
            Err(e)
                if worst.as_ref().map(io::Error::kind)
                    != Some(io::ErrorKind::ConnectionRefused) =>
            {
                worst = Some(e);
            }
            Err(_) => {}
        }
    }
    let error = worst.unwrap_or_else(|| io::ErrorKind::NotFound.into());
    Err(match error.kind() {
        io::ErrorKind::ConnectionRefused => Error::Refused { addr: shown },
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::ConnectTimedOut {
            addr: shown,
            seconds: CONNECT_TIMEOUT.as_secs(),
        },
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            Error::Unreachable { addr: shown }
        }
        _ => Error::io(format!("cannot connect to {shown}"), error),
    })
}
// ANCHOR_END: connect

/// Socket options every netchat connection gets, whichever engine accepted it.
pub fn tune(stream: &impl Tunable) -> Result<()> {
    set_nodelay(stream, true)
}

/// TCP_NODELAY on or off (`--nodelay`; on for every connection unless a student turns it off).
///
/// TCP_NODELAY turns off Nagle's algorithm, which holds back a small segment while an earlier
/// one is unacknowledged. Chat lines are small and written whole (framing.rs), so waiting buys
/// nothing and costs up to a round trip plus the peer's delayed-ACK timer (often 40 ms): the
/// experiment of lesson 2 (`--chop 5 --nodelay off`) measures it.
// ANCHOR: set_nodelay
pub fn set_nodelay(stream: &impl Tunable, on: bool) -> Result<()> {
    stream
        .set_nodelay(on)
        .map_err(|e| Error::io("setting TCP_NODELAY", e))
}
// ANCHOR_END: set_nodelay

/// How long a room connection may stay silent before the kernel starts asking whether the
/// other side is still there (TCP keepalive), how often it asks, and how many unanswered
/// questions end the connection: 20 s + 4 × 5 s, so a laptop that vanished without closing (its
/// lid shut, its Wi-Fi gone) is gone from the room within about 40 seconds, its seat and name
/// freed. Without it, a half-open connection to a quiet room never ends: nothing is ever sent
/// that could fail.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(20);
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
pub const KEEPALIVE_PROBES: u32 = 4;

/// Turns TCP keepalive on for a room connection, with the timings above (`socket2`: std has no
/// call for it). Where the OS cannot set the interval or the count, its own defaults apply.
// ANCHOR: keep_alive
pub fn keep_alive(stream: &impl Tunable) -> io::Result<()> {
    let keepalive = socket2::TcpKeepalive::new().with_time(KEEPALIVE_IDLE);
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    let keepalive = keepalive.with_interval(KEEPALIVE_INTERVAL);
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    let keepalive = keepalive.with_retries(KEEPALIVE_PROBES);
    stream.sock_ref().set_tcp_keepalive(&keepalive)
}
// ANCHOR_END: keep_alive

/// Fixes the kernel's send buffer of a socket (`SO_SNDBUF`) at `bytes`, and returns what the
/// kernel really reserved (Linux doubles the request, keeping half for its own bookkeeping).
///
/// Left alone, Linux grows a busy socket's send buffer up to `net.ipv4.tcp_wmem`'s maximum (4 MiB
/// by default): a room client that stopped reading would then absorb megabytes before its queue
/// on the server even started to fill, and how many depended on the kernel's mood. Setting the
/// size turns that autotuning off for this socket, so "stopped reading" means a known number of
/// bytes behind. std has no call for it; `socket2` is the well-kept crate that wraps `setsockopt`
/// on every platform.
// ANCHOR: send_buffer
pub fn fix_send_buffer(stream: &impl Tunable, bytes: usize) -> io::Result<usize> {
    let socket = stream.sock_ref();
    socket.set_send_buffer_size(bytes)?;
    socket.send_buffer_size()
}
// ANCHOR_END: send_buffer

/// Opens the one connection a two-person mode (`half`, `duplex`) needs, saying on stderr what
/// happens. A listener accepts exactly one peer and then closes its listening socket, so a third
/// person who tries to join is refused instead of waiting forever in the backlog.
// ANCHOR: open_one
pub fn open_one(
    endpoint: &Endpoint,
    mode: &str,
    framing: Framing,
    console: &mut Console,
    observer: &Observer,
) -> Result<Connection> {
    let connection = match endpoint {
        Endpoint::Listen(addr) => {
            accept_one(listen_announced(addr, mode, framing, console, observer)?)?
        }
        Endpoint::Connect(addr) => connect_one(addr)?,
    };
    announce(&connection, console);
    Ok(connection)
}

/// [`listen`], then prints the real bound address (port 0 shows the port the OS chose): the line
/// tests and scripts read it from, with the command that connects to it from another terminal
/// (with `--framing raw` when this side uses it: both sides must agree on framing).
pub fn listen_announced(
    addr: &ListenAddr,
    mode: &str,
    framing: Framing,
    console: &mut Console,
    observer: &Observer,
) -> Result<TcpListener> {
    let listener = listen(addr)?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("reading the bound address", e))?;
    let framing = match framing {
        Framing::Line => "",
        Framing::Raw => " --framing raw",
    };
    console.listening(
        &format!(
            "listening on {local} (from another terminal: netchat {mode} --connect {}{framing})",
            local.port()
        ),
        local,
        &format!("netchat {mode} --connect {{}}{framing}"),
        // Two-person modes have no --allow: every address is offered.
        &|_| true,
    );
    observer.listening(local);
    Ok(listener)
}

/// Accepts one peer, then drops (closes) the listening socket: the kernel refuses whoever comes
/// next.
pub fn accept_one(listener: TcpListener) -> Result<Connection> {
    let (stream, peer) = accept(&listener)?;
    drop(listener);
    Ok(Connection {
        stream,
        peer,
        role: Role::Listener,
    })
}

/// [`connect`], and who answered.
pub fn connect_one(addr: &ConnectAddr) -> Result<Connection> {
    let stream = connect(addr)?;
    let peer = stream
        .peer_addr()
        .map_err(|e| Error::io("reading the peer's address", e))?;
    Ok(Connection {
        stream,
        peer,
        role: Role::Connector,
    })
}

impl Connection {
    /// What watches this connection (`--trace`, `--events`), its clock starting now; reports
    /// the connection itself first.
    pub fn watch(&self, observer: &Observer, framing: Framing) -> Watch {
        let watch = observer.watch(std::time::Instant::now(), None, framing);
        watch.connected(&self.stream, self.role);
        watch
    }
}

/// Says on stderr who is on the other end.
pub fn announce(connection: &Connection, console: &mut Console) {
    match connection.role {
        Role::Listener => console.status(&format!("{} connected", connection.peer)),
        Role::Connector => console.status(&format!("connected to {}", connection.peer)),
    }
}
// ANCHOR_END: open_one

/// How long [`close_gracefully`] waits for the peer to close its side.
pub const LINGER: Duration = Duration::from_secs(1);

/// Ends our side of a conversation without losing the last message we sent.
///
/// `close()` on a socket that still has *unread* data in its receive buffer makes the kernel send
/// a RST instead of a FIN, and a RST can make the peer drop what it had not read yet — possibly
/// our last message. So: first `shutdown(Write)`, which sends a FIN after everything we wrote;
/// then read and discard until the peer closes too (EOF), or [`LINGER`] passes; only then close.
// ANCHOR: close_gracefully
pub fn close_gracefully(stream: &TcpStream, watch: &Watch) {
    // Errors are ignored: the peer may be gone already, and we are closing anyway.
    watch.shutdown_write(stream);
    let deadline = std::time::Instant::now() + LINGER;
    let mut discard = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match io::Read::read(&mut &*stream, &mut discard) {
            Ok(0) => {
                watch.fin_received();
                break;
            }
            // The linger deadline passed: the peer has not closed its side yet; close anyway.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            Err(e) => {
                // Typically ECONNRESET: the peer closed with our last bytes unread.
                watch.reset(&e);
                break;
            }
            Ok(_) => {}
        }
    }
    watch.closed();
}
// ANCHOR_END: close_gracefully

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_port_listens_on_every_interface() {
        let addr: ListenAddr = "5000".parse().unwrap();
        assert_eq!(addr.host, None);
        assert_eq!(addr.port, 5000);
        assert_eq!(addr.to_string(), "[::]:5000");
    }

    #[test]
    fn a_host_without_a_port_is_told_the_host_port_form() {
        let why = "labpc-7".parse::<ConnectAddr>().unwrap_err();
        assert!(why.contains("HOST:PORT, e.g. labpc-7:5000"), "{why}");
    }

    #[test]
    fn a_bare_port_connects_to_localhost() {
        let addr: ConnectAddr = "5000".parse().unwrap();
        assert_eq!(addr.to_string(), "localhost:5000");
    }

    #[test]
    fn hosts_and_ipv6_brackets_parse() {
        let addr: ConnectAddr = "[::1]:5000".parse().unwrap();
        assert_eq!((addr.host.as_str(), addr.port), ("::1", 5000));
        assert_eq!(addr.to_string(), "[::1]:5000");
        let addr: ConnectAddr = "example.org:80".parse().unwrap();
        assert_eq!((addr.host.as_str(), addr.port), ("example.org", 80));
        let addr: ListenAddr = "127.0.0.1:0".parse().unwrap();
        assert_eq!((addr.host.as_deref(), addr.port), (Some("127.0.0.1"), 0));
    }

    #[test]
    fn bad_ports_and_unbracketed_ipv6_are_refused_with_a_reason() {
        assert!(
            "70000"
                .parse::<ListenAddr>()
                .unwrap_err()
                .contains("not a port")
        );
        assert!(
            "abc"
                .parse::<ConnectAddr>()
                .unwrap_err()
                .contains("not a port")
        );
        assert!(
            "::1:5000"
                .parse::<ConnectAddr>()
                .unwrap_err()
                .contains("brackets")
        );
        assert!("0".parse::<ConnectAddr>().unwrap_err().contains("--listen"));
        assert!("[::1".parse::<ConnectAddr>().is_err());
    }

    #[test]
    fn a_taken_port_is_reported_as_in_use() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let addr = ListenAddr {
            host: Some("127.0.0.1".into()),
            port,
        };
        assert!(matches!(listen(&addr), Err(Error::AddrInUse { .. })));
    }
}
