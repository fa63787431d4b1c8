//! What one connection reports ([`Watch`]: connected, each `read` and what framing made of it,
//! each `write`, FIN, RST, closed, the messages sent and received), and [`Traced`], a writer that
//! reports every `write` it passes on. Nothing is formatted when nobody watches.
//!
//! Reads beyond [`READS_SHOWN_PER_SECOND`] in one second are summed into one record, so a flood
//! writes a bounded rate of log, not one record per `read`.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use super::event::{By, Call, Event};
use super::sinks::{Sinks, Wait, Waiting, lock, trace_line};
use crate::framing::decoder::Framing;
use crate::socket::{Role, Tunable, unmapped};
use crate::text::escape_peer_text;

/// What one connection reports. Each thread that touches the socket holds its own clone (the
/// reader keeps count of a message that spans reads).
#[derive(Clone)]
pub struct Watch {
    sinks: Option<Arc<Sinks>>,
    since: Instant,
    client: Option<u64>,
    framing: Framing,
    /// How many reads brought the message that is still unfinished (0: none is).
    pub(super) partial_reads: u32,
    /// The reads of this second beyond the first [`READS_SHOWN_PER_SECOND`], counted for one
    /// summary record instead of one record each.
    reads: ReadWindow,
}

/// How many `read()`s of one connection are reported one by one in each second; the rest of
/// the second's reads are summed into one record (trace line and `read` event, with `count`).
/// A lesson's conversation reads a few times a second and sees every read; a flood (`yes`, a
/// line that never ends) reads thousands of times a second and would otherwise write tens of
/// megabytes of log a second: summed, it writes a few records a second per connection.
pub const READS_SHOWN_PER_SECOND: u32 = 10;

/// The reads of the current second, and the ones not reported yet.
#[derive(Clone, Debug)]
struct ReadWindow {
    started: Option<Instant>,
    shown: u32,
    summed: u64,
    bytes: usize,
    messages: usize,
    pending: usize,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Watch(client {:?})", self.client)
    }
}

impl Watch {
    /// A watch reporting to `sinks` (none: off); see [`Observer::watch`](super::Observer::watch).
    pub(super) fn new(
        sinks: Option<Arc<Sinks>>,
        since: Instant,
        client: Option<u64>,
        framing: Framing,
    ) -> Watch {
        Watch {
            sinks,
            since,
            client,
            framing,
            partial_reads: 0,
            reads: ReadWindow {
                started: None,
                shown: 0,
                summed: 0,
                bytes: 0,
                messages: 0,
                pending: 0,
            },
        }
    }

    /// A watch that reports nothing (tests, and code paths nobody observes).
    pub fn off() -> Watch {
        Watch::new(None, Instant::now(), None, Framing::Line)
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
        if !self.shows_read(chunk.len(), messages, pending) {
            return;
        }
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
            count: None,
        });
    }

    /// Whether this read is reported on its own: one of the first [`READS_SHOWN_PER_SECOND`]
    /// of its second. If not, it is summed; a second's sums are reported once that second is
    /// over (at the next read, or at FIN, RST or close).
    fn shows_read(&mut self, bytes: usize, messages: usize, pending: usize) -> bool {
        let now = Instant::now();
        let window = &mut self.reads;
        if window
            .started
            .is_none_or(|started| now.saturating_duration_since(started).as_secs() >= 1)
        {
            self.summarise_reads();
            self.reads.started = Some(now);
            self.reads.shown = 0;
        }
        let window = &mut self.reads;
        if window.shown < READS_SHOWN_PER_SECOND {
            window.shown += 1;
            return true;
        }
        window.summed += 1;
        window.bytes += bytes;
        window.messages += messages;
        window.pending = pending;
        false
    }

    /// Reports the reads summed since the last summary, if any: one trace line and one `read`
    /// event with their totals and `count`. The reader calls it when the connection ends (FIN,
    /// RST), so the last second's reads are told too.
    pub fn summarise_reads(&mut self) {
        let window = &mut self.reads;
        if window.summed == 0 {
            return;
        }
        let (summed, total, messages, pending) =
            (window.summed, window.bytes, window.messages, window.pending);
        (window.summed, window.bytes, window.messages) = (0, 0, 0);
        let Some(sinks) = &self.sinks else { return };
        self.trace(
            sinks,
            format_args!(
                "{} more reads in that second, not shown one by one: {} → {}",
                crate::text::thousands(summed),
                bytes(total),
                count(messages, "message")
            ),
            None,
        );
        self.emit(Event::Read {
            bytes: total,
            messages,
            pending,
            reads: 0,
            client: self.client,
            count: Some(summed),
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
        if let Some(sinks) = &self.sinks {
            sinks.record(event);
        }
    }

    /// Writes one `netchat: trace …` line: the time since `since`, the client (room server),
    /// what happened, and an escaped preview of the bytes.
    fn trace(&self, sinks: &Sinks, what: std::fmt::Arguments<'_>, wire: Option<&[u8]>) {
        trace_line(sinks, self.since, self.client, what, wire);
    }

    /// About to block in `call` (`read()`, `write()`): while the returned guard lives, the
    /// watchdog may say so in the trace once it has waited [`BLOCKED_AFTER`](super::sinks::BLOCKED_AFTER). Nothing when the
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
