//! One error type for the whole program.
//!
//! Every failure a student can hit becomes one variant with a sentence that says what went wrong,
//! a hint that says what to do about it, and the exit code scripts rely on (see the README):
//! 1 for network and runtime errors, 2 for usage errors. `main.rs` prints it once as
//! `netchat: error: …` followed by `netchat: hint: …`.

use std::fmt;
use std::io;

/// Exit code of a conversation that ended normally (`q`, `bye`, EOF, the peer closed politely).
pub const EXIT_OK: u8 = 0;
/// Exit code of a network or runtime error: refused, reset, address in use, unknown host.
pub const EXIT_RUNTIME: u8 = 1;
/// Exit code of a usage error: an option or address that does not parse. clap uses it too.
pub const EXIT_USAGE: u8 = 2;
/// Exit code of `half` ended by Ctrl-C (or SIGTERM, SIGHUP): 128 + SIGINT's number, what a shell
/// shows for a program the kernel ended on Ctrl-C.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Everything that can end netchat early.
#[derive(Debug)]
pub enum Error {
    /// `bind` failed with EADDRINUSE: another program (or another netchat) holds the port.
    AddrInUse { addr: String },
    /// `bind` failed with EACCES: ports below 1024 need administrator rights on Unix.
    BindPermission { addr: String },
    /// `bind` failed with EADDRNOTAVAIL: the address does not belong to this machine.
    AddrNotAvailable { addr: String },
    /// `connect` got a RST back: the host is up but nothing listens on that port.
    Refused { addr: String },
    /// A room client's `connect` got a RST back: no room listens there.
    NoRoom { addr: String },
    /// The server closed our connection without ever sending a room's welcome: it was not a
    /// netchat room (a `half` or `duplex` listener?).
    NotARoom,
    /// `connect` got no answer at all before the deadline: a firewall or a wrong address.
    ConnectTimedOut { addr: String, seconds: u64 },
    /// `connect` could not even route packets there.
    Unreachable { addr: String },
    /// The name did not resolve to any address (DNS or /etc/hosts).
    UnknownHost { host: String },
    /// An address or option that parsed but cannot be used (exit code 2).
    Usage { message: String, hint: String },
    /// The peer reset the connection (RST): it crashed, was killed, or closed with unread data.
    Reset,
    /// Whoever read our stdout went away (`netchat … | head -1`). Not a failure: the program ends
    /// quietly with exit code 0, like other Unix tools.
    OutputClosed,
    /// A write found the connection already closed by the peer (EPIPE).
    PeerClosed,
    /// The room's server closed our connection without a goodbye: stopped, crashed, or the
    /// network dropped.
    RoomClosed,
    /// The room's server closed our connection while we were behind: it drops a member that
    /// reads the room's lines too slowly (its queue on the server filled up).
    DroppedTooSlow,
    /// The room's server turned us away with a goodbye (`*** goodbye: sorry, …`): the room is
    /// full, or the host does not let us in.
    RoomRefused { reason: String },
    /// `half` was interrupted (Ctrl-C at its prompt). Not reported as an error: the status line
    /// already said so; only the exit code (130) tells a script.
    Interrupted,
    /// Any other I/O failure, with what netchat was doing at the time.
    Io { doing: String, source: io::Error },
    /// `netchat diagram` was given a log it cannot read or parse.
    BadLog { path: String, why: String },
    /// One of netchat's own helper threads ended without its answer: a bug (it panicked), not
    /// something the network or the user did.
    ThreadDied { thread: &'static str },
}

impl Error {
    /// Wraps an I/O error with what netchat was doing, recognising the ones a student meets often.
    pub fn io(doing: impl Into<String>, source: io::Error) -> Error {
        match source.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Error::Reset,
            io::ErrorKind::BrokenPipe => Error::PeerClosed,
            _ => Error::Io {
                doing: doing.into(),
                source,
            },
        }
    }

    /// The process exit code for this error, as documented in the README.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage { .. } => EXIT_USAGE,
            Error::OutputClosed => EXIT_OK,
            Error::Interrupted => EXIT_INTERRUPTED,
            _ => EXIT_RUNTIME,
        }
    }

    /// What the student can do about it, when there is something useful to say.
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            Error::AddrInUse { addr } => match port_of(addr).parse::<u16>() {
                // Linux lends ports from 32768 up (macOS and Windows from 49152) to outgoing
                // connections as their own end: a port there may be taken by no listener at all.
                Ok(port) if port >= FIRST_LENT_PORT => format!(
                    "another program is already listening on {addr} (maybe another netchat in \
                     another terminal), or this machine lent that port to one of its own \
                     outgoing connections (ports from {FIRST_LENT_PORT} up are lent that way): \
                     pick a port below {FIRST_LENT_PORT}, e.g. --listen 5000"
                ),
                _ => format!(
                    "another program is already listening on {addr} (maybe another netchat in \
                     another terminal): stop it, or pick another port, e.g. --listen {}",
                    suggest_other_port(addr)
                ),
            },
            Error::BindPermission { .. } => {
                "ports below 1024 are reserved for the administrator: use a port from 1024 to \
                 65535, e.g. --listen 5000"
                    .to_string()
            }
            Error::AddrNotAvailable { .. } => {
                "that IP address is not one of this machine's: use 0.0.0.0 (all interfaces), \
                 127.0.0.1 (this machine only), or just a port number"
                    .to_string()
            }
            Error::Refused { addr } => format!(
                "nothing is listening on {addr}: start the listening side first (with \
                 `--listen {}` in another terminal), and check the port number; a half or \
                 duplex listener takes one peer and then stops listening, so if it is already \
                 talking to someone, ask for a listener of your own",
                port_of(addr)
            ),
            Error::NoRoom { addr } => format!(
                "no room is listening on {addr}: ask the host whether the room is running (it \
                 starts with `netchat room --listen {}`), and check the address and port",
                port_of(addr)
            ),
            Error::NotARoom => "a netchat room welcomes every newcomer at once; this server \
                 never did, so it is something else: a half or duplex listener takes one peer \
                 (join it with netchat half --connect or netchat duplex --connect), a room starts \
                 with netchat room --listen PORT"
                .to_string(),
            Error::ConnectTimedOut { .. } => {
                "no answer at all usually means a firewall drops the packets, or the address is \
                 wrong: check the IP with `ip addr` / `ipconfig` on the listening machine"
                    .to_string()
            }
            Error::Unreachable { .. } => {
                "check the address and that both machines are on the same network".to_string()
            }
            Error::UnknownHost { .. } => {
                "check the spelling, or use an IP address such as 127.0.0.1".to_string()
            }
            Error::Usage { hint, .. } => hint.clone(),
            Error::Reset => {
                "the other program crashed, was killed, or closed without reading everything"
                    .to_string()
            }
            Error::PeerClosed => {
                "the other side ended the conversation before this message could be sent"
                    .to_string()
            }
            Error::RoomClosed => {
                "the host stopped the server, it crashed, or the network dropped: ask the host, \
                 then join again with the same command"
                    .to_string()
            }
            Error::DroppedTooSlow => {
                "this screen could not keep up with the room (or netchat was paused, e.g. with \
                 Ctrl-Z), so the server gave up on it rather than let the room wait: join again \
                 with the same command"
                    .to_string()
            }
            Error::RoomRefused { .. } => {
                "the room's host decides who may join and how many: try again later, or ask them"
                    .to_string()
            }
            Error::ThreadDied { .. } => {
                "this is a bug in netchat: please report it with the command you ran".to_string()
            }
            // A bad log: one line says it all (which file, which line, what is wrong with it).
            Error::Io { .. } | Error::OutputClosed | Error::Interrupted | Error::BadLog { .. } => {
                return None;
            }
        };
        Some(hint)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AddrInUse { addr } => write!(f, "cannot listen on {addr}: the port is taken"),
            Error::BindPermission { addr } => {
                write!(f, "cannot listen on {addr}: permission denied")
            }
            Error::AddrNotAvailable { addr } => {
                write!(
                    f,
                    "cannot listen on {addr}: no such address on this machine"
                )
            }
            Error::Refused { addr } => write!(f, "cannot connect to {addr}: connection refused"),
            Error::NoRoom { addr } => write!(f, "cannot connect to {addr}: connection refused"),
            Error::NotARoom => f.write_str(
                "the server closed the connection without ever welcoming you: it was not a \
                 netchat room",
            ),
            Error::ConnectTimedOut { addr, seconds } => {
                write!(f, "cannot connect to {addr}: no answer within {seconds} s")
            }
            Error::Unreachable { addr } => {
                write!(f, "cannot connect to {addr}: network unreachable")
            }
            Error::UnknownHost { host } => write!(f, "unknown host '{host}'"),
            Error::Usage { message, .. } => f.write_str(message),
            Error::Reset => f.write_str("the peer reset the connection"),
            Error::OutputClosed => f.write_str("standard output was closed"),
            Error::PeerClosed => f.write_str("the peer has closed the connection"),
            Error::RoomClosed => f.write_str("the room's server closed the connection"),
            Error::DroppedTooSlow => f.write_str(
                "the room's server dropped this client for reading the room's lines too slowly",
            ),
            Error::Interrupted => f.write_str("interrupted"),
            Error::RoomRefused { reason } => write!(f, "the room turned you away: {reason}"),
            Error::Io { doing, source } => write!(f, "{doing}: {source}"),
            Error::BadLog { path, why } => write!(f, "cannot draw a diagram from {path}: {why}"),
            Error::ThreadDied { thread } => write!(f, "{thread} stopped unexpectedly"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The text after the last `:` of an address, i.e. its port.
fn port_of(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap_or(addr)
}

/// The first port a system may lend to an outgoing connection as its local end (Linux's
/// `net.ipv4.ip_local_port_range` starts here; macOS and Windows start at 49152).
const FIRST_LENT_PORT: u16 = 32768;

/// A neighbouring port to suggest when one is taken.
fn suggest_other_port(addr: &str) -> String {
    match port_of(addr).parse::<u16>() {
        Ok(port) if port < u16::MAX => (port + 1).to_string(),
        _ => "5001".to_string(),
    }
}

/// Shorthand used across the crate.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_2_and_network_errors_exit_1() {
        let usage = Error::Usage {
            message: "bad".into(),
            hint: "fix".into(),
        };
        assert_eq!(usage.exit_code(), EXIT_USAGE);
        let refused = Error::Refused {
            addr: "127.0.0.1:5000".into(),
        };
        assert_eq!(refused.exit_code(), EXIT_RUNTIME);
    }

    #[test]
    fn refused_hint_names_the_port_to_listen_on() {
        let refused = Error::Refused {
            addr: "127.0.0.1:5000".into(),
        };
        let hint = refused.hint().unwrap();
        assert!(hint.contains("`--listen 5000`"), "{hint}");
    }

    #[test]
    fn reset_is_recognised_from_io_errors() {
        let e = Error::io("reading", io::Error::from(io::ErrorKind::ConnectionReset));
        assert!(matches!(e, Error::Reset));
    }

    fn taken_port_hint(addr: &str) -> String {
        Error::AddrInUse { addr: addr.into() }
            .hint()
            .unwrap_or_default()
    }

    #[test]
    fn a_taken_low_port_suggests_the_next_one() {
        assert!(taken_port_hint("0.0.0.0:5000").contains("e.g. --listen 5001"));
    }

    #[test]
    fn a_taken_port_in_the_lent_range_says_why_and_suggests_a_lower_one() {
        let said = taken_port_hint("[::]:40000");
        assert!(said.contains("lent that port"), "{said}");
        assert!(said.contains("e.g. --listen 5000"), "{said}");
    }
}
