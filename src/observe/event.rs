//! The event log's schema: what can happen on a connection or in a room, as `--events` writes it
//! (one JSON object per line) and `netchat diagram` reads it back. Pure data: no sink, no clock.
//! Also [`Call`], the blocking calls a thread can sleep in, as a student would name them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::socket::Role;

/// The version of the event log's schema, in every line as `"v"`. Fields are only ever added;
/// a change that renames or removes one would be version 2.
pub const SCHEMA_VERSION: u32 = 1;

/// Who ended a conversation, in a `quit` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum By {
    Us,
    Peer,
}

/// One thing that happened: the schema of the event log (`--events`), one JSON object per line.
///
/// Serialized with its name as `"event"` (`Sent { .. }` becomes `{"event":"sent",…}`). `client`
/// is present only in a room server's log, where one process holds many connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The first line of every log: when (Unix time, seconds) and what started, so that logs of
    /// two processes can be merged by time (`netchat diagram a.jsonl b.jsonl`).
    Started {
        unix: f64,
        mode: String,
        version: String,
    },
    /// The listening socket is bound (the real address, port 0 resolved).
    Listening { addr: String },
    /// A connection exists: we connected, or accepted one.
    Connected {
        role: Role,
        local: String,
        peer: String,
        nodelay: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<u64>,
    },
    /// One message we sent, as netchat shows it.
    Sent {
        text: String,
        bytes: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<u64>,
    },
    /// One message we received, as netchat shows it.
    Received {
        text: String,
        bytes: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<u64>,
    },
    /// One `read()` on the socket: how many bytes, and how many messages they completed.
    /// `pending`: bytes of an unfinished message held after it (0: none); `reads`: over how many
    /// reads the first message it completed arrived (1: all in this one).
    Read {
        bytes: usize,
        messages: usize,
        pending: usize,
        reads: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<u64>,
        /// Present when the record sums several reads (a busy connection's reads beyond the
        /// first few of a second): how many; `bytes` and `messages` are their totals.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<u64>,
    },
    /// One `write()` on the socket: how many bytes, and how many messages they completed.
    Write {
        bytes: usize,
        messages: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<u64>,
    },
    /// `shutdown(Write)`: our FIN is on its way; we send nothing more.
    FinSent {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<u64>,
    },
    /// `read()` returned 0: the peer's FIN arrived; it sends nothing more.
    FinReceived {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<u64>,
    },
    /// The connection was reset (RST) or broke.
    Reset {
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<u64>,
    },
    /// We closed the socket.
    Closed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<u64>,
    },
    /// The conversation ended by a word (`q`, `bye`, `/quit`) or the end of input.
    Quit { by: By, word: String },
    /// The error that ended netchat, as printed.
    Error { message: String },
    /// A line from the room's server that is not a member's message (room client).
    Notice { text: String },
    /// Room server: a client joined under a guest name.
    Joined {
        client: u64,
        nick: String,
        peer: String,
    },
    /// Room server: a member took a new name.
    Renamed {
        client: u64,
        from: String,
        to: String,
    },
    /// Room server: a member's message to the room (also `/me`), with the name the server put on it.
    Message {
        client: u64,
        nick: String,
        text: String,
    },
    /// Room server: a private message (who to whom, not what).
    Private {
        from: String,
        to: String,
        from_client: u64,
        to_client: u64,
    },
    /// Room server: a member left (`/quit`, closed, or the connection broke).
    Left {
        client: u64,
        nick: String,
        why: String,
    },
    /// Room server: the host kicked a member.
    Kicked {
        client: u64,
        nick: String,
        why: String,
    },
    /// Room server: a member was disconnected by the room (it stopped reading).
    Evicted {
        client: u64,
        nick: String,
        why: String,
    },
    /// Room server: a member sends faster than `--rate-limit` allows: it is not read for
    /// `seconds` (its lines wait in its socket).
    Limited {
        client: u64,
        nick: String,
        seconds: f64,
    },
    /// A call that blocked longer than a second (`--trace` on): `read()` waiting for the peer,
    /// `write()` waiting for it to read.
    Blocked {
        call: String,
        seconds: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<u64>,
        /// The waiting thread's name (`main`, `socket-reader`, …).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread: Option<String>,
    },
    /// Room server: a connection was turned away before joining (the room is full, too many
    /// from one address, banned).
    Refused { peer: String, why: String },
    /// Room server: a member (or the host, `client` 0) typed a command that is not a message,
    /// a rename, a private message or a quit (those have events of their own): `/who`,
    /// `/stats`, `/help`, `/topic`, and the host's `/mute`, `/limit`, `/ban`… as typed, escaped.
    Command {
        client: u64,
        nick: String,
        line: String,
    },
    /// Room server: the host muted a member (`/mute`), for `minutes` or until `/unmute`.
    Muted {
        client: u64,
        nick: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        minutes: Option<u32>,
    },
    /// An event this version of netchat does not know (a newer log): kept, and skipped by
    /// `netchat diagram`.
    #[serde(other)]
    Unknown,
}

/// One line of the event log.
#[derive(Debug, Serialize, Deserialize)]
pub struct Record {
    pub v: u32,
    /// Seconds since netchat started.
    pub t: f64,
    #[serde(flatten)]
    pub event: Event,
}

/// A blocking call a thread can sleep in, as a student would name it. The trace's line
/// (`blocked in read() on the socket (waiting for the peer) for 1.0 s`) and `half`'s status line
/// on a terminal (terminal/blocked.rs) both name it from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `read()` on the socket: nothing happens until the peer sends.
    SocketRead,
    /// `write()` on the socket: the send buffers are full because the peer does not read.
    SocketWrite,
    /// `read()` on stdin: the program waits for the person at the keyboard.
    Keyboard,
}

impl Call {
    /// The system call and what it is called on.
    pub fn name(self) -> &'static str {
        match self {
            Call::SocketRead => "read() on the socket",
            Call::SocketWrite => "write() on the socket",
            Call::Keyboard => "read() on your keyboard",
        }
    }

    /// What the call is waiting for.
    pub fn waits_for(self) -> &'static str {
        match self {
            Call::SocketRead => "waiting for the peer",
            Call::SocketWrite => "the peer is not reading",
            Call::Keyboard => "waiting for you to type",
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.waits_for())
    }
}
