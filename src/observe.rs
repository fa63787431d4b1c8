//! Watching the wire: `--trace` (lines a person reads) and `--events` (JSON Lines a grader reads).
//!
//! The lessons say "TCP is a byte stream", "read() returns what has arrived, not what was sent",
//! "FIN means the peer finished sending". This file lets a student *see* it: every mode reports
//! what happened on its sockets — connected, read N bytes that framing turned into K messages,
//! wrote N bytes, FIN, RST, closed — and what happened in the conversation — sent, received,
//! quit, and in a room joined, renamed, left. The mode only says *what happened*; this file
//! decides how it looks, like the console does for messages.
//!
//! - `--trace` writes `netchat: trace …` lines to stderr (through the console, so they print
//!   above a line being typed) or to a file, each with the milliseconds since the connection (or
//!   the room server) started and an escaped preview of the bytes that crossed;
//! - `--events FILE` writes one JSON object per line, flushed as it is written (`tail -f` works):
//!   `"v"` (the schema version), `"t"` (seconds since netchat started) and `"event"`, then the
//!   event's fields. [`Event`] is the schema, shared with `netchat diagram`, which reads it back.
//!
//! Free when off: an [`Observer`] that watches nothing is `None` inside, every report starts by
//! checking that, and call sites pass only what they already hold (a slice, a count), so nothing
//! is formatted or allocated on the hot path unless someone is watching.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::framing::decoder::Framing;
use crate::socket::{Role, Tunable, unmapped};
use crate::text::escape_peer_text;

/// The version of the event log's schema, in every line as `"v"`. Fields are only ever added;
/// a change that renames or removes one would be version 2.
pub const SCHEMA_VERSION: u32 = 1;

/// How many bytes of what crossed the wire a trace line shows.
pub const PREVIEW_BYTES: usize = 40;

/// Where `--trace` and `--events` go, as the command line said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `--trace` alone: `Some(None)`, to stderr; `--trace FILE`: `Some(Some(FILE))`.
    pub trace: Option<Option<PathBuf>>,
    /// `--events FILE`.
    pub events: Option<PathBuf>,
}

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

/// Where reports go: nowhere (the default, free), or to the trace and/or the event log. Cheap to
/// clone: every thread that touches a socket holds one.
#[derive(Clone, Default)]
pub struct Observer(Option<Arc<Sinks>>);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Observer(on)"
        } else {
            "Observer(off)"
        })
    }
}

type Sink = Mutex<Box<dyn Write + Send>>;

struct Sinks {
    start: Instant,
    trace: Option<Sink>,
    events: Option<Sink>,
    /// A room server's members' current names, for trace lines (`#3 alice`): kept from the
    /// `joined` and `renamed` events that pass through here, so the readers and writers, which
    /// know only a client's number, need not ask the hub.
    names: Mutex<HashMap<u64, String>>,
    /// The calls threads are blocked in right now (with `--trace`), by a number each, for the
    /// watchdog that names a call once it has waited [`BLOCKED_AFTER`].
    waits: Mutex<(u64, HashMap<u64, Wait>)>,
}

/// After how long a blocked call gets a trace line: a blocking `read` that returns within a
/// second is a conversation going on; one that does not is a program waiting for something.
pub const BLOCKED_AFTER: Duration = Duration::from_secs(1);

/// How often the watchdog looks at the waits.
const WATCHDOG_TICK: Duration = Duration::from_millis(100);

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

/// One call a thread is blocked in.
struct Wait {
    started: Instant,
    call: Call,
    /// The connection's clock and client, for the trace line.
    since: Instant,
    client: Option<u64>,
    /// The thread that waits (a handle, cheap to clone): in `duplex` the line then says which
    /// of its threads waits where.
    thread: thread::Thread,
    reported: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A thread that panicked mid-line leaves at worst a garbled line: go on.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Observer {
    /// Watches nothing: every report returns at once.
    pub fn off() -> Observer {
        Observer(None)
    }

    /// Opens what `settings` asks for; `stderr` is where `--trace` without a file goes (the
    /// console's error stream, which must take each `write` as one whole line: every trace line
    /// is written in one call). The event log starts with a `started` line.
    pub fn open(
        settings: &Settings,
        stderr: impl Write + Send + 'static,
        mode: &str,
    ) -> Result<Observer> {
        if settings.trace.is_none() && settings.events.is_none() {
            return Ok(Observer::off());
        }
        let trace: Option<Box<dyn Write + Send>> = match &settings.trace {
            None => None,
            Some(None) => Some(Box::new(stderr)),
            Some(Some(path)) => Some(Box::new(create(path, "--trace")?)),
        };
        let events: Option<Box<dyn Write + Send>> = match &settings.events {
            None => None,
            Some(path) => Some(Box::new(create(path, "--events")?)),
        };
        // The two clocks read back to back: the wall clock lets two logs be merged, the
        // monotonic one (which never jumps) times everything after.
        let wall = SystemTime::now();
        let start = Instant::now();
        let observer = Observer(Some(Arc::new(Sinks {
            start,
            trace: trace.map(Mutex::new),
            events: events.map(Mutex::new),
            names: Mutex::new(HashMap::new()),
            waits: Mutex::new((0, HashMap::new())),
        })));
        if let Some(sinks) = &observer.0 {
            if sinks.trace.is_some() {
                spawn_watchdog(Arc::downgrade(sinks))?;
            }
        }
        let unix = wall
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        observer.record(Event::Started {
            unix: (unix * 1e6).round() / 1e6,
            mode: mode.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        });
        Ok(observer)
    }

    /// Whether anything is watched at all.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// A watch for one connection: its trace times count from `since`, and in a room server its
    /// lines carry the `client` number (and the name it has at the time).
    pub fn watch(&self, since: Instant, client: Option<u64>, framing: Framing) -> Watch {
        Watch {
            sinks: self.0.clone(),
            since,
            client,
            framing,
            partial_reads: 0,
        }
    }

    /// A watch whose times count from when netchat started (a room server's connections).
    pub fn watch_from_start(&self, client: Option<u64>, framing: Framing) -> Watch {
        let since = self
            .0
            .as_ref()
            .map_or_else(Instant::now, |sinks| sinks.start);
        self.watch(since, client, framing)
    }

    /// The listening socket is bound.
    pub fn listening(&self, addr: SocketAddr) {
        if self.0.is_some() {
            self.record(Event::Listening {
                addr: addr.to_string(),
            });
        }
    }

    /// The error that ends netchat.
    pub fn error(&self, error: &Error) {
        if self.0.is_some() {
            self.record(Event::Error {
                message: error.to_string(),
            });
        }
    }

    /// Writes one event to the log (if there is one); room events also keep the names the trace
    /// shows.
    pub fn record(&self, event: Event) {
        let Some(sinks) = &self.0 else { return };
        match &event {
            Event::Joined { client, nick, .. }
            | Event::Renamed {
                client, to: nick, ..
            } => {
                lock(&sinks.names).insert(*client, nick.clone());
            }
            // Kept until the connection is closed, so its last trace lines still say who.
            Event::Closed {
                client: Some(client),
            } => {
                lock(&sinks.names).remove(client);
            }
            _ => {}
        }
        let Some(events) = &sinks.events else { return };
        // The time is read under the log's lock: several threads record (readers, the hub), and
        // a time taken before waiting for the lock could be written after a later one, so the
        // log's "t" would go backwards.
        let mut events = lock(events);
        let t = sinks.start.elapsed().as_secs_f64();
        let record = Record {
            v: SCHEMA_VERSION,
            t: (t * 1e6).round() / 1e6,
            event,
        };
        let mut line = match serde_json::to_vec(&record) {
            Ok(line) => line,
            Err(_) => return, // cannot happen: every field is a plain string or number
        };
        line.push(b'\n');
        // A full disk must not stop the conversation: the log just ends there.
        let _ = events.write_all(&line).and_then(|()| events.flush());
    }
}

/// Creates an output file for `--trace FILE` or `--events FILE`, with a sentence if it cannot.
fn create(path: &Path, option: &str) -> Result<BufWriter<File>> {
    File::create(path)
        .map(BufWriter::new)
        .map_err(|e| Error::Usage {
            message: format!("{option} {}: cannot create the file: {e}", path.display()),
            hint: "check that the folder exists and that you may write there".to_string(),
        })
}

/// What one connection reports. Each thread that touches the socket holds its own clone (the
/// reader keeps count of a message that spans reads).
#[derive(Clone)]
pub struct Watch {
    sinks: Option<Arc<Sinks>>,
    since: Instant,
    client: Option<u64>,
    framing: Framing,
    /// How many reads brought the message that is still unfinished (0: none is).
    partial_reads: u32,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Watch(client {:?})", self.client)
    }
}

impl Watch {
    /// A watch that reports nothing (tests, and code paths nobody observes).
    pub fn off() -> Watch {
        Observer::off().watch(Instant::now(), None, Framing::Line)
    }

    /// Whether this connection is watched.
    pub fn is_on(&self) -> bool {
        self.sinks.is_some()
    }

    /// The connection exists (TCP_NODELAY as the socket reports it).
    pub fn connected(&self, stream: &impl Tunable, role: Role) {
        let Some(sinks) = &self.sinks else { return };
        // An IPv4 peer of a dual-stack listener is `::ffff:a.b.c.d` to the socket; the trace
        // and the log name it `a.b.c.d`, as the status lines do.
        let shown = |addr: std::io::Result<std::net::SocketAddr>| {
            addr.map_or("?".into(), |a| unmapped(a).to_string())
        };
        let local = shown(stream.local_addr());
        let peer = shown(stream.peer_addr());
        let nodelay = stream.nodelay().unwrap_or(false);
        let how = match role {
            Role::Listener => format!("accepted {peer} on {local}"),
            Role::Connector => format!("connected {local} → {peer}"),
        };
        let nagle = if nodelay {
            "TCP_NODELAY on: small writes leave at once"
        } else {
            "TCP_NODELAY off: Nagle may hold small writes back"
        };
        self.trace(sinks, format_args!("{how} ({nagle})"), None);
        self.emit(Event::Connected {
            role,
            local,
            peer,
            nodelay,
            client: self.client,
        });
    }

    /// One `read()` returned `chunk`: framing completed `messages` messages with it, and holds
    /// `pending` bytes of one more (0: no message is left unfinished).
    pub fn read(&mut self, chunk: &[u8], messages: usize, pending: usize) {
        if self.sinks.is_none() {
            return;
        }
        // How many reads the first message completed here took: this one, plus those that
        // brought its beginning.
        let reads = self.partial_reads + 1;
        self.partial_reads = if pending == 0 {
            0
        } else if messages == 0 {
            reads
        } else {
            1
        };
        let Some(sinks) = &self.sinks else { return };
        let mut what = format!("read {}", bytes(chunk.len()));
        let _ = match (messages, pending) {
            (0, 0) => write!(what, " → nothing to frame"),
            (0, held) => write!(what, " → message continues ({} so far)", bytes(held)),
            (n, _) => write!(what, " → {}", count(n, "message")),
        };
        if messages == 1 && reads > 1 {
            let _ = write!(what, ", complete after {reads} reads");
        } else if messages > 1 && reads > 1 {
            let _ = write!(what, ", the first complete after {reads} reads");
        }
        if messages > 0 && pending > 0 {
            let _ = write!(what, "; the next continues ({} so far)", bytes(pending));
        }
        self.trace(sinks, format_args!("{what}"), Some(chunk));
        self.emit(Event::Read {
            bytes: chunk.len(),
            messages,
            pending,
            reads: if messages > 0 { reads } else { 0 },
            client: self.client,
        });
    }

    /// One `write()` put `chunk` on the wire.
    pub fn wrote(&self, chunk: &[u8]) {
        let Some(sinks) = &self.sinks else { return };
        let messages = match self.framing {
            Framing::Line => chunk.iter().filter(|&&b| b == b'\n').count(),
            // Without newlines a message is whatever one write carries.
            Framing::Raw => 1,
        };
        let carried = if messages == 0 {
            "part of a message".to_string()
        } else {
            count(messages, "message")
        };
        self.trace(
            sinks,
            format_args!("wrote {} ({carried})", bytes(chunk.len())),
            Some(chunk),
        );
        self.emit(Event::Write {
            bytes: chunk.len(),
            messages,
            client: self.client,
        });
    }

    /// `shutdown(Write)` on the socket, reported as `FIN sent`. Errors are ignored, as at every
    /// call site: the peer may be gone already, and we are closing anyway.
    pub fn shutdown_write(&self, stream: &TcpStream) {
        let _ = stream.shutdown(Shutdown::Write);
        self.fin_sent();
    }

    /// `shutdown(Write)` went through: our FIN is on its way.
    pub fn fin_sent(&self) {
        let Some(sinks) = &self.sinks else { return };
        self.trace(
            sinks,
            format_args!("FIN sent: shutdown(Write), we send nothing more"),
            None,
        );
        self.emit(Event::FinSent {
            client: self.client,
        });
    }

    /// `read()` returned 0.
    pub fn fin_received(&self) {
        let Some(sinks) = &self.sinks else { return };
        self.trace(
            sinks,
            format_args!("FIN received: read() returned 0, the peer sends nothing more"),
            None,
        );
        self.emit(Event::FinReceived {
            client: self.client,
        });
    }

    /// A read or write failed: a RST arrived, or the connection broke.
    pub fn reset(&self, error: &io::Error) {
        let Some(sinks) = &self.sinks else { return };
        let what = match error.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => "RST",
            _ => "connection broken",
        };
        self.trace(sinks, format_args!("{what}: {error}"), None);
        self.emit(Event::Reset {
            error: error.to_string(),
            client: self.client,
        });
    }

    /// We are done with the socket; closing it now.
    pub fn closed(&self) {
        let Some(sinks) = &self.sinks else { return };
        self.trace(sinks, format_args!("closed"), None);
        self.emit(Event::Closed {
            client: self.client,
        });
    }

    /// One message we sent (its bytes without the framing).
    pub fn sent(&self, message: &[u8]) {
        if self.sinks.is_some() {
            self.emit(Event::Sent {
                text: escape_peer_text(message),
                bytes: message.len(),
                client: self.client,
            });
        }
    }

    /// One message we received and showed.
    pub fn received(&self, message: &[u8]) {
        if self.sinks.is_some() {
            self.emit(Event::Received {
                text: escape_peer_text(message),
                bytes: message.len(),
                client: self.client,
            });
        }
    }

    /// The conversation ends by a word (`word` is what was typed or received, or why).
    pub fn quit(&self, by: By, word: &str) {
        if self.sinks.is_some() {
            self.emit(Event::Quit {
                by,
                word: word.to_string(),
            });
        }
    }

    /// A notice from a room's server (room client).
    pub fn notice(&self, text: &str) {
        if self.sinks.is_some() {
            self.emit(Event::Notice {
                text: text.to_string(),
            });
        }
    }

    fn emit(&self, event: Event) {
        Observer(self.sinks.clone()).record(event);
    }

    /// Writes one `netchat: trace …` line: the time since `since`, the client (room server),
    /// what happened, and an escaped preview of the bytes.
    fn trace(&self, sinks: &Sinks, what: std::fmt::Arguments<'_>, wire: Option<&[u8]>) {
        trace_line(sinks, self.since, self.client, what, wire);
    }

    /// About to block in `call` (`read()`, `write()`): while the returned guard lives, the
    /// watchdog may say so in the trace once it has waited [`BLOCKED_AFTER`]. Nothing when the
    /// trace is off.
    pub fn waiting(&self, call: Call) -> Waiting {
        let Some(sinks) = self.sinks.as_ref().filter(|sinks| sinks.trace.is_some()) else {
            return Waiting(None);
        };
        let mut waits = lock(&sinks.waits);
        waits.0 += 1;
        let id = waits.0;
        waits.1.insert(
            id,
            Wait {
                started: Instant::now(),
                call,
                since: self.since,
                client: self.client,
                thread: thread::current(),
                reported: false,
            },
        );
        Waiting(Some((Arc::clone(sinks), id)))
    }
}

/// A call in progress (see [`Watch::waiting`]); dropping it says the call returned.
pub struct Waiting(Option<(Arc<Sinks>, u64)>);

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some((sinks, id)) = &self.0 {
            lock(&sinks.waits).1.remove(id);
        }
    }
}

/// Starts the `trace-watchdog` thread: every [`WATCHDOG_TICK`] it looks for calls blocked longer
/// than [`BLOCKED_AFTER`] and names each once. It ends when the observer is gone. A blocked
/// thread cannot say that it is blocked — that is what blocked means — so another thread must.
// ANCHOR: watchdog
fn spawn_watchdog(sinks: std::sync::Weak<Sinks>) -> Result<()> {
    thread::Builder::new()
        .name("trace-watchdog".into())
        .spawn(move || {
            loop {
                thread::sleep(WATCHDOG_TICK);
                let Some(sinks) = sinks.upgrade() else { return };
                let overdue: Vec<(Instant, Option<u64>, Call, Duration, String)> = {
                    let mut waits = lock(&sinks.waits);
                    waits
                        .1
                        .values_mut()
                        .filter(|wait| !wait.reported && wait.started.elapsed() >= BLOCKED_AFTER)
                        .map(|wait| {
                            wait.reported = true;
                            let thread = wait.thread.name().unwrap_or("unnamed").to_string();
                            (
                                wait.since,
                                wait.client,
                                wait.call,
                                wait.started.elapsed(),
                                thread,
                            )
                        })
                        .collect()
                };
                for (since, client, call, waited, thread) in overdue {
                    let seconds = waited.as_secs_f64();
                    trace_line(
                        &sinks,
                        since,
                        client,
                        format_args!("blocked in {call} for {seconds:.1} s (thread {thread})"),
                        None,
                    );
                    Observer(Some(Arc::clone(&sinks))).record(Event::Blocked {
                        call: call.to_string(),
                        seconds: (seconds * 10.0).round() / 10.0,
                        client,
                        thread: Some(thread),
                    });
                }
            }
        })
        .map(|_detached| ())
        .map_err(|e| Error::io("starting the trace watchdog thread", e))
}
// ANCHOR_END: watchdog

/// Writes one `netchat: trace …` line: the time since `since`, the client (room server), what
/// happened, and an escaped preview of the bytes.
fn trace_line(
    sinks: &Sinks,
    since: Instant,
    client: Option<u64>,
    what: std::fmt::Arguments<'_>,
    wire: Option<&[u8]>,
) {
    let Some(trace) = &sinks.trace else { return };
    let ms = since.elapsed().as_secs_f64() * 1000.0;
    let mut line = format!("netchat: trace {ms:>9.1} ms ");
    if let Some(client) = client {
        match lock(&sinks.names).get(&client) {
            Some(nick) => {
                let _ = write!(line, "#{client} {nick}: ");
            }
            None => {
                let _ = write!(line, "#{client}: ");
            }
        }
    }
    let _ = line.write_fmt(what);
    if let Some(wire) = wire {
        line.push_str("  ");
        line.push_str(&preview(wire));
    }
    line.push('\n');
    let mut trace = lock(trace);
    let _ = trace
        .write_all(line.as_bytes())
        .and_then(|()| trace.flush());
}

/// A `Write` that reports every `write()` it passes on to `inner`: wrap a socket in it and each
/// system call shows in the trace, exactly as the kernel got it.
pub struct Traced<W> {
    inner: W,
    watch: Watch,
}

impl<W: Write> Traced<W> {
    pub fn new(inner: W, watch: Watch) -> Traced<W> {
        Traced { inner, watch }
    }

    /// The wrapped writer (e.g. the socket, to shut it down).
    pub fn get_ref(&self) -> &W {
        &self.inner
    }
}

impl<W: Write> Write for Traced<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let waiting = self.watch.waiting(Call::SocketWrite);
        let written = self.inner.write(buf);
        drop(waiting);
        match &written {
            Ok(n) => self.watch.wrote(&buf[..*n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted || !self.watch.is_on() => {}
            Err(e) => self.watch.reset(e),
        }
        written
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `1 byte`, `26 bytes`.
fn bytes(n: usize) -> String {
    count(n, "byte")
}

/// `1 message`, `2 messages`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The first [`PREVIEW_BYTES`] bytes, quoted, with everything that is not printable ASCII shown
/// as an escape (`\n`, `\r`, `\t`, `\x1b`, and each byte of UTF-8 as `\xc3`): the trace shows the
/// bytes that crossed, and stays safe for a terminal whatever they were.
pub fn preview(wire: &[u8]) -> String {
    let shown = &wire[..wire.len().min(PREVIEW_BYTES)];
    let mut text = String::with_capacity(shown.len() + 8);
    text.push('"');
    for &b in shown {
        match b {
            b'\n' => text.push_str("\\n"),
            b'\r' => text.push_str("\\r"),
            b'\t' => text.push_str("\\t"),
            b'"' => text.push_str("\\\""),
            b'\\' => text.push_str("\\\\"),
            b' '..=b'~' => text.push(char::from(b)),
            _ => {
                let _ = write!(text, "\\x{b:02x}");
            }
        }
    }
    text.push('"');
    if wire.len() > shown.len() {
        let _ = write!(text, "…(+{})", wire.len() - shown.len());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preview_escapes_and_cuts_at_forty_bytes() {
        assert_eq!(preview(b"hi\n\x1b[2J\"\\"), r#""hi\n\x1b[2J\"\\""#);
        assert_eq!(preview("é".as_bytes()), r#""\xc3\xa9""#);
        let long = [b'x'; 50];
        assert_eq!(preview(&long), format!("\"{}\"…(+10)", "x".repeat(40)));
    }

    #[test]
    fn an_observer_that_is_off_reports_nothing_and_costs_a_check() {
        let mut watch = Watch::off();
        assert!(!watch.is_on());
        watch.read(b"abc", 0, 3);
        watch.sent(b"abc");
        assert_eq!(watch.partial_reads, 0);
    }

    #[test]
    fn records_are_json_lines_with_v_t_and_event_first() {
        let record = Record {
            v: SCHEMA_VERSION,
            t: 0.5,
            event: Event::Sent {
                text: "hi \"you\"".into(),
                bytes: 8,
                client: None,
            },
        };
        let line = serde_json::to_string(&record).unwrap();
        assert_eq!(
            line,
            r#"{"v":1,"t":0.5,"event":"sent","text":"hi \"you\"","bytes":8}"#
        );
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back.event, record.event);
    }

    #[test]
    fn an_unknown_event_from_a_newer_log_still_parses() {
        let back: Record =
            serde_json::from_str(r#"{"v":1,"t":1,"event":"teleported","to":"mars"}"#).unwrap();
        assert_eq!(back.event, Event::Unknown);
    }
}
