//! The words the room's rules and its engines share: who a client is (`ClientId`), a line
//! formatted once (`Line`), why a connection ended (`Gone`, `Leave`), what the console is asked
//! to show (`Log`, each line with its [`LineKind`]), and what the rules decide (`Action`).
//!
//! It sits below every other file of the room and imports none of them, so the rules, `/stats`,
//! the protocol and both engines can all name these types without any of them importing back.

use std::sync::Arc;
use std::time::Instant;

use crate::console::Tone;
use crate::observe::Event;

/// Every client gets a number when it connects; numbers are never reused.
pub type ClientId = u64;

/// One line to send, formatted once and shared: a message for thirty students is formatted and
/// stored once, and each queue holds only a pointer to it (an `Arc`), not a copy.
pub type Line = Arc<str>;

/// Why a client's connection ended, as its engine saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gone {
    /// `read` returned 0: the client closed its side (nc got Ctrl-C or Ctrl-D, a program ended).
    Closed,
    /// `read` failed, e.g. a RST arrived.
    Lost(String),
}

/// Why a member leaves, as the room is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leave {
    /// The connection closed or broke without `/quit`.
    Gone(Gone),
    /// More than `CLIENT_QUEUE` bytes (engine.rs) were waiting for it: it stopped reading.
    TooSlow,
}

/// The kinds of line the room sends, for choosing a color. The server knows the kind of each
/// line it writes ([`Log::Message`] carries it); a client only has the text, and reads the kind
/// back from it (`protocol::classify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// `[alice] hello`
    Message,
    /// `[host] hello`
    Host,
    /// `* alice waves`
    Action,
    /// `[alice -> you] psst`
    Private,
    /// `*** …`
    Notice,
    /// `*** goodbye: …`
    Goodbye,
}

impl LineKind {
    /// The color a line of this kind is shown in.
    pub fn tone(self) -> Tone {
        match self {
            LineKind::Message => Tone::Other,
            LineKind::Host => Tone::Own,
            LineKind::Action => Tone::Action,
            LineKind::Private => Tone::Private,
            LineKind::Notice | LineKind::Goodbye => Tone::Notice,
        }
    }
}

/// What the room asks the operator's console to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Log {
    /// A chat line (stdout): the same shared line the clients get, not a copy, and its kind.
    Message(Line, LineKind),
    /// A status line (stderr, `netchat: …`).
    Status(String),
    /// A status line that deserves attention (stderr, highlighted).
    Notice(String),
    /// An answer to the host's own command (stderr, like a status): never skipped, however far
    /// behind the console is (engine.rs, `LogQueue`).
    Answer(String),
}

/// Who asked for `/stats`, and so who gets which lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// The operator's console: every member.
    Host,
    /// A member: its own line only.
    Member(ClientId),
}

/// One thing the room's rules decided should happen.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Offer the line to one client.
    To(ClientId, Line),
    /// Offer the line to every member (at the time it is carried out), except `except` (the
    /// sender: nobody gets an echo).
    All {
        except: Option<ClientId>,
        line: Line,
    },
    /// Stop sending to this client: what is already waiting for it (the goodbye) is still sent,
    /// then the connection is closed.
    Disconnect(ClientId),
    /// Do not read from this client before `until`: it is over its rate limit (limits.rs). Its
    /// lines wait in its socket, and TCP's flow control makes its own `write()` wait.
    Pause { id: ClientId, until: Instant },
    /// Show something at the server's console.
    Log(Log),
    /// Write this to the event log (`--events`): joined, renamed, message, left… Only produced
    /// when someone watches (see `Room::observed`), so an unwatched room builds none.
    Record(Event),
    /// `/stats`: the room's rows (`Room::stats_rows`) completed with what the engine knows
    /// of each client's output, shown to the host or to the member who asked (stats.rs).
    Stats(Viewer),
}
