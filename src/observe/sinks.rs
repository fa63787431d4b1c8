//! Where reports go once someone watches: the trace (`netchat: trace …` lines, to any `Write`)
//! and the event log (JSON Lines, flushed per line), behind one lock each; the names a room's
//! trace lines show; and the watchdog thread that names a call blocked for a second.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::event::{Call, Event, Record, SCHEMA_VERSION};
use crate::error::{Error, Result};

/// How many bytes of what crossed the wire a trace line shows.
pub const PREVIEW_BYTES: usize = 40;

pub(super) type Sink = Mutex<Box<dyn Write + Send>>;

pub(super) struct Sinks {
    pub(super) start: Instant,
    pub(super) trace: Option<Sink>,
    pub(super) events: Option<Sink>,
    /// `--events-level wire`: the log keeps each `read()` and `write()` too.
    pub(super) wire: bool,
    /// A room server's members' current names, for trace lines (`#3 alice`): kept from the
    /// `joined` and `renamed` events that pass through here, so the readers and writers, which
    /// know only a client's number, need not ask the hub.
    pub(super) names: Mutex<HashMap<u64, String>>,
    /// The calls threads are blocked in right now (with `--trace`), by a number each, for the
    /// watchdog that names a call once it has waited [`BLOCKED_AFTER`].
    pub(super) waits: Mutex<(u64, HashMap<u64, Wait>)>,
}

impl Sinks {
    /// Writes one event to the log (if there is one); room events also keep the names the trace
    /// shows.
    pub(super) fn record(&self, event: Event) {
        let sinks = self;
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
        if !sinks.wire && matches!(event, Event::Read { .. } | Event::Write { .. }) {
            return;
        }
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
        // Cannot fail: every field is a plain string or number.
        let Ok(mut line) = serde_json::to_vec(&record) else {
            return;
        };
        line.push(b'\n');
        // A full disk must not stop the conversation: the log just ends there.
        let _ = events.write_all(&line).and_then(|()| events.flush());
    }
}

/// After how long a blocked call gets a trace line: a blocking `read` that returns within a
/// second is a conversation going on; one that does not is a program waiting for something.
pub const BLOCKED_AFTER: Duration = Duration::from_secs(1);

/// How often the watchdog looks at the waits.
const WATCHDOG_TICK: Duration = Duration::from_millis(100);

/// One call a thread is blocked in.
pub(super) struct Wait {
    pub(super) started: Instant,
    pub(super) call: Call,
    /// The connection's clock and client, for the trace line.
    pub(super) since: Instant,
    pub(super) client: Option<u64>,
    /// The thread that waits (a handle, cheap to clone): in `duplex` the line then says which
    /// of its threads waits where.
    pub(super) thread: thread::Thread,
    pub(super) reported: bool,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A thread that panicked mid-line leaves at worst a garbled line: go on.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A call in progress (see [`Watch::waiting`](super::Watch::waiting)); dropping it says the call returned.
pub struct Waiting(pub(super) Option<(Arc<Sinks>, u64)>);

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
pub(super) fn spawn_watchdog(sinks: std::sync::Weak<Sinks>) -> Result<()> {
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
                    sinks.record(Event::Blocked {
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
pub(super) fn trace_line(
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
