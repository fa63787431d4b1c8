//! The chat room: one server, many clients, one owner of the room, and two engines.
//!
//! Socket calls: the server does `bind` → `listen` once, then `accept` for every client; each
//! `accept` returns a new socket for one client. The threads engine (`--engine threads`, the
//! default) gives each client a reader thread (blocking `read`) and a writer thread (blocking on
//! its queue, then `write`), and a hub thread owns the room. The poll engine (`--engine poll`)
//! does it all on one thread: non-blocking sockets and an event loop that asks the kernel which
//! are ready. Either way one owner holds the member list and the names, and offers each outgoing
//! line (formatted once) to every recipient's *bounded* queue or buffer. A client that stops
//! reading fills it and is disconnected: it can never stall the room. The client side
//! (`--connect`) is a small full-duplex program.
//!
//! Try it, in three terminals:
//!
//! ```text
//! netchat room --listen 5000                  # the room (type to speak as [host])
//! netchat room --connect 5000 --nick alice    # a student
//! nc localhost 5000                           # another one, with plain nc (try /nick bob)
//! ```
//!
//! Files, from the ground up: `actions.rs` (the words every room file shares), `protocol/`
//! (commands, names, lines and the room's policy texts), `limits.rs` and `flow.rs` (the limits
//! against a prankster, and one member's flow control), `rules.rs` + `rules/host.rs` (the room's
//! rules, pure: events in, actions out), `engine.rs` (carrying actions out, for every engine),
//! `logqueue.rs` (the console hand-off), `system.rs` (what the OS allows), `options.rs` (what
//! starting an engine takes), `threads.rs` + `hub.rs` (the threads engine), `poll.rs` +
//! `poll/clients.rs` + `outbox.rs` (the poll engine), `server.rs` (the listener and the host's
//! console, for both engines), `stats.rs` (`/stats`), `client.rs`; for a teacher running the
//! room for a class: `access.rs` (`--allow`/`--deny`), `transcript.rs` (`--log`), `bots.rs`
//! (`--bots`, practice members for a student alone). The keyboard, and
//! printing above the line being typed, is the shared `src/terminal.rs`.

pub(crate) mod access;
pub mod actions;
pub(crate) mod bots;
pub(crate) mod client;
pub(crate) mod engine;
pub(crate) mod flow;
pub(crate) mod hub;
pub(crate) mod limits;
pub(crate) mod logqueue;
pub(crate) mod options;
pub(crate) mod outbox;
pub(crate) mod poll;
pub mod protocol;
pub mod rules;
pub(crate) mod server;
pub(crate) mod stats;
pub(crate) mod system;
pub(crate) mod threads;
pub(crate) mod transcript;

use std::io::Read;
use std::path::PathBuf;

use crossbeam_channel::Receiver;

use crate::console::Console;
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::framing::Framing;
use crate::interrupt::Interrupt;
use crate::observe::Observer;

pub use access::AccessList;
pub use bots::BotOptions;
pub use client::ClientOptions;
pub use engine::EngineKind;
pub use options::ServerOptions;
pub use server::DEFAULT_MAX_CLIENTS;

/// Everything `netchat room` can be told, for either side.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--max-line`.
    pub max_line: usize,
    /// `--max-clients` (server only).
    pub max_clients: usize,
    /// `--engine` (server only).
    pub engine: EngineKind,
    /// `--rate-limit` and `--max-per-address` (server only).
    pub limits: rules::Limits,
    /// `--nick` (client only).
    pub nick: Option<String>,
    /// `--framing` (client only: the server speaks one message per line).
    pub framing: Framing,
    /// What a teacher sets up for a class (server only).
    pub class: ClassOptions,
}

/// The server options for running the room for a class: who may join, a transcript, a greeting,
/// practice bots.
#[derive(Debug, Clone, Default)]
pub struct ClassOptions {
    /// `--allow`, `--deny`.
    pub access: AccessList,
    /// `--log FILE`.
    pub log: Option<PathBuf>,
    /// `--motd TEXT` or `--motd-file FILE`.
    pub motd: Motd,
    /// `--bots`, `--bots-slow`, `--seed`.
    pub bots: BotOptions,
}

/// Where the greeting comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Motd {
    #[default]
    None,
    Text(String),
    File(PathBuf),
}

/// The longest greeting, in bytes: a few paragraphs. Every newcomer gets all of it.
pub const MAX_MOTD: usize = 4096;

impl Motd {
    /// The greeting's lines, read now: a file that cannot be read is an error before the room
    /// starts (exit 1), a greeting too long for a welcome a usage error.
    pub fn lines(&self) -> Result<Vec<String>> {
        let text = match self {
            Motd::None => return Ok(Vec::new()),
            Motd::Text(text) => text.clone(),
            Motd::File(path) => std::fs::read_to_string(path).map_err(|error| Error::Io {
                doing: format!("cannot read the greeting {} (--motd-file)", path.display()),
                source: error,
            })?,
        };
        if text.len() > MAX_MOTD {
            return Err(Error::Usage {
                message: format!(
                    "the greeting is {} bytes, longer than {MAX_MOTD}",
                    text.len()
                ),
                hint: "keep the message of the day to a few lines; put long notes on the course \
                       page"
                    .to_string(),
            });
        }
        // `--motd 'line one\nline two'` from a shell script arrives with a literal backslash-n.
        let text = text.replace("\\n", "\n");
        Ok(text
            .lines()
            .map(|line| crate::text::escape_peer_text(line.trim_end().as_bytes()))
            .collect())
    }
}

/// `netchat room`: runs the room (`--listen`) or joins one (`--connect`).
pub fn run(
    endpoint: &Endpoint,
    options: &Options,
    stdin: impl Read + Send + 'static,
    console: &mut Console,
    observer: &Observer,
    interrupt: Receiver<Interrupt>,
) -> Result<()> {
    match endpoint {
        Endpoint::Listen(_) if options.framing == Framing::Raw => Err(Error::Usage {
            message: "a room server does not take --framing raw".to_string(),
            hint: "the room's protocol is one message per line (nc and telnet speak it); \
                   --framing raw is for a client joining a server that never frames"
                .to_string(),
        }),
        Endpoint::Listen(addr) => {
            // Everything that can fail before the room opens fails here, with its message.
            let transcript = match &options.class.log {
                Some(path) => Some(transcript::Transcript::open(path)?),
                None => None,
            };
            let server_options = ServerOptions {
                max_line: options.max_line,
                max_clients: options.max_clients,
                engine: options.engine,
                access: options.class.access.clone(),
                motd: options.class.motd.lines()?,
                bots: options.class.bots.clone(),
                limits: options.limits,
                observer: observer.clone(),
            };
            server::run(addr, &server_options, transcript, stdin, console, interrupt)
        }
        Endpoint::Connect(addr) => {
            // Refused here, before connecting, with the same rule the server applies.
            if let Some(nick) = &options.nick {
                if let Err(why) = protocol::check_nick(nick.as_bytes()) {
                    return Err(Error::Usage {
                        message: format!("--nick {nick:?}: {why}"),
                        hint: format!(
                            "a name has 1 to {} ASCII letters, digits, '-', '_' or '.', e.g. --nick alice",
                            protocol::MAX_NICK
                        ),
                    });
                }
            }
            if options.framing == Framing::Raw && options.nick.is_some() {
                return Err(Error::Usage {
                    message: "--nick needs a netchat room, which speaks line framing".to_string(),
                    hint: "to join a netchat room, drop --framing raw; to join a server that \
                           never frames (it has no /nick), drop --nick"
                        .to_string(),
                });
            }
            let options = ClientOptions {
                max_line: options.max_line,
                nick: options.nick.clone(),
                framing: options.framing,
            };
            client::run(addr, &options, stdin, console, observer, interrupt)
        }
    }
}
