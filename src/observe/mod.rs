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
//!
//! The [`Observer`] travels beside the [`Console`](crate::console::Console), never inside it:
//! lib.rs opens it from the options and hands it to the mode, which gives clones to its socket
//! threads. Watching never stops a conversation: a log that cannot be written (a full disk) ends
//! the log, not the chat.
//!
//! One idea per file, from the ground up: `event.rs` is the schema (what `diagram` reads),
//! `sinks.rs` where reports go (the trace, the log, the watchdog), `watch.rs` what one
//! connection reports, and this file the [`Observer`] a mode opens and hands out.

mod event;
mod sinks;
mod watch;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use event::{By, Call, Event, Record, SCHEMA_VERSION};
pub use watch::{Traced, Watch};

use crate::error::{Error, Result};
use crate::framing::decoder::Framing;
use sinks::{Sinks, spawn_watchdog};

/// Where `--trace` and `--events` go, as the command line said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `--trace` alone: `Some(None)`, to stderr; `--trace FILE`: `Some(Some(FILE))`.
    pub trace: Option<Option<PathBuf>>,
    /// `--events FILE`.
    pub events: Option<PathBuf>,
    /// `--events-level`: what the event log keeps.
    pub level: Level,
}

/// `--events-level`: how much of what happens the event log keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    /// The conversation: connections, joins, names, messages, commands, refusals, closes; no
    /// event per `read()` or `write()`. The room's default, so a class's log stays small (one
    /// flood would otherwise be tens of thousands of `read` events).
    Chat,
    /// Everything, each `read()` and `write()` too: what `netchat diagram` draws the wire
    /// from. The default of `half` and `duplex`.
    #[default]
    Wire,
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
            wire: settings.level == Level::Wire,
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
        Watch::new(self.0.clone(), since, client, framing)
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
        if let Some(sinks) = &self.0 {
            sinks.record(event);
        }
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

#[cfg(test)]
mod tests {
    use super::sinks::preview;
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
