//! `--log FILE`: a transcript of the room, for the teacher to read afterwards.
//!
//! Every message and notice the room's console sees becomes one line with the local time:
//!
//! ```text
//! 14:02:07 *** alice joined from 192.168.1.23:50112 (3 in the room)
//! 14:02:11 [alice] hello everyone
//! 14:02:15 * bob waves
//! ```
//!
//! A room opens its part with a dated header (date, time, address, the limits of the door) and
//! ends it with a line saying how it closed (`/quit`, Ctrl-C, window closed, SIGTERM):
//!
//! ```text
//! ======== netchat room, 2026-12-05 (Saturday) 14:00:02 +01:00, on 0.0.0.0:5000 ========
//! 14:00:02 *** the door: 1000 seats (--max-clients); one address: 4 seats, …
//! …
//! 15:30:40 *** the room closed (/quit)
//! ```
//!
//! The file is opened for appending (a later room in the same file continues it after a blank
//! line and its own header, so two classes never run together) and each line
//! is flushed as it is written, so `tail -f FILE` in another terminal follows the room live and
//! nothing is lost if the server is killed. Private messages appear as "alice sent a private
//! message to bob", like on the console: the host sees that it happened, not what was said.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::actions::Log;
use crate::console::local_clock;
use crate::error::{Error, Result};

/// An open transcript file.
pub struct Transcript {
    path: PathBuf,
    file: BufWriter<File>,
    /// Whether the file held an earlier room's transcript when it was opened.
    continues: bool,
    /// Set after a write failed (disk full, file removed on a network drive): the room goes on,
    /// the operator is told once, and the transcript stops.
    broken: bool,
}

/// What happened to one line written to the transcript.
#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    Written,
    /// The transcript stopped working just now: say this once at the console.
    Failed(String),
    /// It had failed before; nothing more is tried.
    Off,
}

impl Transcript {
    /// Opens (creates) `path` for appending. A file that cannot be opened is an error before the
    /// room starts: a teacher who asked for a transcript must not find out afterwards that there
    /// is none.
    pub fn open(path: &Path) -> Result<Transcript> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|error| Error::Io {
                doing: format!("cannot open the transcript {} (--log)", path.display()),
                source: error,
            })?;
        let continues = file.metadata().is_ok_and(|meta| meta.len() > 0);
        Ok(Transcript {
            path: path.to_path_buf(),
            file: BufWriter::new(file),
            continues,
            broken: false,
        })
    }

    /// Where the transcript goes, for the start-up line.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The room opened: a blank line if an earlier room's transcript is above (the separator),
    /// the dated header naming where the room listens, then `details` (the limits), each a line.
    pub fn begin(&mut self, listening: &str, details: &[String]) -> Recorded {
        let now = jiff::Zoned::now();
        let header = format!(
            "======== netchat room, {}, on {listening} ========",
            now.strftime("%Y-%m-%d (%A) %H:%M:%S %:z")
        );
        let mut written = if self.continues {
            writeln!(self.file)
        } else {
            Ok(())
        };
        written = written.and_then(|()| writeln!(self.file, "{header}"));
        for detail in details {
            written = written.and_then(|()| writeln!(self.file, "{} *** {detail}", local_clock()));
        }
        let written = written.and_then(|()| self.file.flush());
        self.outcome(written)
    }

    /// What a write to the file came to: a failure stops the transcript, said once.
    fn outcome(&mut self, written: io::Result<()>) -> Recorded {
        match written {
            Ok(()) => Recorded::Written,
            Err(error) => {
                self.broken = true;
                Recorded::Failed(format!(
                    "the transcript {} stopped: {error}; the room goes on without it",
                    self.path.display()
                ))
            }
        }
    }

    /// Appends one console entry, time-stamped, and flushes it.
    pub fn record(&mut self, entry: &Log) -> Recorded {
        if self.broken {
            return Recorded::Off;
        }
        let written = self.write_line(&line_of(entry));
        self.outcome(written)
    }

    fn write_line(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.file, "{} {text}", local_clock())?;
        self.file.flush()
    }
}

/// The transcript's text for a console entry: messages as members see them, everything else as
/// a `***` notice.
fn line_of(entry: &Log) -> String {
    match entry {
        Log::Message(text, _) => text.to_string(),
        Log::Status(text) | Log::Notice(text) | Log::Answer(text) => format!("*** {text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modes::room::actions::LineKind;
    use std::sync::Arc;

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("netchat-{}-{name}", std::process::id()))
    }

    #[test]
    fn lines_are_appended_with_a_clock_and_flushed_at_once() {
        let path = temp_path("transcript-append");
        std::fs::write(&path, "earlier class\n").unwrap();
        let mut transcript = Transcript::open(&path).unwrap();
        let said = Log::Message(Arc::from("[alice] hi"), LineKind::Message);
        assert_eq!(transcript.record(&said), Recorded::Written);
        transcript.record(&Log::Status(
            "bob joined from 127.0.0.1:5 (2 in the room)".into(),
        ));
        // Not closed, not dropped: the lines are in the file already (tail -f sees them).
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "earlier class");
        assert_eq!(lines.len(), 3, "{text}");
        let (clock, rest) = lines[1].split_once(' ').unwrap();
        assert_eq!(rest, "[alice] hi");
        assert_eq!(clock.len(), 8);
        assert!(clock.bytes().enumerate().all(|(i, b)| if i == 2 || i == 5 {
            b == b':'
        } else {
            b.is_ascii_digit()
        }));
        assert!(lines[2].ends_with(" *** bob joined from 127.0.0.1:5 (2 in the room)"));
        drop(transcript);
        // A later room: a blank line, then its own dated header.
        let mut later = Transcript::open(&path).unwrap();
        later.begin("127.0.0.1:5000", &["the door: 3 seats".to_string()]);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[3], "");
        assert!(lines[4].starts_with("======== netchat room, 2"), "{text}");
        assert!(lines[4].ends_with(", on 127.0.0.1:5000 ========"), "{text}");
        assert!(lines[5].ends_with(" *** the door: 3 seats"), "{text}");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_file_that_cannot_be_opened_is_an_error_naming_it() {
        let path = temp_path("no-such-dir").join("class.txt");
        let Err(error) = Transcript::open(&path) else {
            panic!("opened a file in a missing directory")
        };
        assert!(error.to_string().contains("cannot open the transcript"));
        assert!(error.to_string().contains("class.txt"));
    }
}
