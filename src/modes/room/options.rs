//! What starting a room engine takes and gives back: the server's options (`ServerOptions`, the
//! same for either engine) and the handle of a running engine (`Running`), through which the
//! host's console (server.rs) reaches the room and closes it.
//!
//! Both engines (threads.rs, poll.rs) import this file, and server.rs imports them: the options
//! live here, below all three, so that no engine imports the server that starts it.

use super::access::AccessList;
use super::bots::BotOptions;
use super::engine::EngineKind;
use super::limits::BotConnections;
use super::protocol::HostCommand;
use super::rules::{Limits, Room};
use crate::error::Result;
use crate::observe::Observer;

/// What the server needs besides the listening address.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `--max-line`: the longest line accepted from a client.
    pub max_line: usize,
    /// `--max-clients`: connections beyond this get a polite refusal.
    pub max_clients: usize,
    /// `--rate-limit` and `--max-per-address`: the rules' limits against a prankster.
    pub limits: Limits,
    /// `--trace` and `--events`: every client's socket, and the room's events.
    pub observer: Observer,
    /// `--allow` and `--deny`: who may join at all.
    pub access: AccessList,
    /// `--motd`/`--motd-file`: the greeting's lines, already read and escaped.
    pub motd: Vec<String>,
    /// `--bots`, `--bots-slow`, `--seed`.
    pub bots: BotOptions,
    /// `--engine`: which engine moves the bytes.
    pub engine: EngineKind,
}

impl ServerOptions {
    /// The room these options describe, for any engine: its limits, who may join, the
    /// greeting. `bots` are the practice bots' own connections, which the per-address limits
    /// leave alone (see bots.rs).
    pub fn room(&self, bots: BotConnections) -> Room {
        let mut room = Room::new(self.limits).observed(self.observer.clone());
        room.set_access(self.access.clone());
        room.set_capacity(self.max_clients);
        room.set_motd(&self.motd);
        room.exempt_bots(bots);
        room
    }
}

/// A running engine, as the console sees it.
pub trait Running {
    /// Hands a command the operator typed to the room; `false` if the room is gone.
    fn host(&self, command: HostCommand) -> bool;
    /// Closes the room: a goodbye to everyone, every connection closed, the engine's threads
    /// ended (waiting at most `SHUTDOWN_GRACE` for slow clients). An engine thread that panicked
    /// is `Error::ThreadDied` (exit 1), never thrown away as a quiet close.
    fn close(self: Box<Self>) -> Result<()>;
}
