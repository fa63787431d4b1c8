//! The room's side of the operator's console: the room's log lines handed to the console thread
//! in batches, over a bounded channel, never waiting for the terminal (a console that fell
//! behind gets a bounded backlog and a count of what was skipped), and each appended to the
//! transcript (`--log`). Both engines hand their log this way.

use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

use super::actions::Log;
use super::transcript::{Recorded, Transcript};
use crate::console::OutputKind;
use crate::text::thousands;

/// How many console lines may gather for the operator's terminal while it is behind (plus
/// [`LOG_BATCHES`] such batches already handed over). If the terminal cannot keep up (a flood,
/// or output paused with Ctrl-S), further lines are counted and skipped rather than letting the
/// room wait for a screen; the operator then reads
/// `netchat: 1,234 console lines were skipped: the terminal could not keep up` (or the pipe, or
/// the file: whatever stdout is).
pub const LOG_QUEUE: usize = 256;

/// The room's side of the operator's console: lines handed to the console thread through a
/// bounded channel, never waiting for the terminal. Both engines hand their log this way.
///
/// Lines are gathered while the engine works and handed over together when it calls
/// [`LogQueue::flush`] (once per turn of the poll loop, once per event of the hub): the console
/// thread is woken once per batch, not once per chat line. In a busy room that wake-up (a futex
/// call and a context switch) cost more than everything else the loop did for the line.
///
/// What the room logs by itself (joins, messages) may be skipped when the terminal is behind; the
/// answers to the host's own commands ([`Log::Answer`]) never are: they wait here, in order, until
/// the console has room.
pub struct LogQueue {
    sender: Sender<LogBatch>,
    /// Lines not handed over yet, in order: at most [`LOG_QUEUE`] of the room's own lines, and
    /// every answer to the host.
    pending: Vec<Log>,
    /// How many of `pending` are the room's own lines (the ones that may be skipped).
    pending_room_lines: usize,
    skipped: u64,
    /// `--log FILE`: every entry is written there in full, even when the terminal skips some.
    transcript: Option<Transcript>,
    /// Where the console writes, to say where lines were skipped.
    output: OutputKind,
    /// When the last "lines were skipped" note went out: at most one a second.
    noted: Option<Instant>,
}

/// Console lines handed over in one go (see [`LogQueue`]).
pub type LogBatch = Vec<Log>;

/// How many batches may wait for the console thread. With [`LOG_QUEUE`] lines at most in each,
/// and as many more gathering, a terminal that fell behind holds at most about a thousand lines.
pub const LOG_BATCHES: usize = 2;

/// How often, at most, the console says that lines were skipped.
const SKIPPED_NOTE_EVERY: Duration = Duration::from_secs(1);

impl LogQueue {
    pub fn new(sender: Sender<LogBatch>) -> LogQueue {
        LogQueue {
            sender,
            pending: Vec::new(),
            pending_room_lines: 0,
            skipped: 0,
            transcript: None,
            noted: None,
            output: OutputKind::default(),
        }
    }

    /// Says where the console writes (a terminal, a pipe, a file), for the note about skipped
    /// lines.
    pub fn writing_to(mut self, output: OutputKind) -> LogQueue {
        self.output = output;
        self
    }

    /// Also appends every entry to the transcript (`--log`), if there is one.
    pub fn with_transcript(mut self, transcript: Option<Transcript>) -> LogQueue {
        self.transcript = transcript;
        self
    }

    /// Adds a line to the next batch; counts it as skipped if the console is that far behind
    /// (an answer to the host is always kept, never skipped).
    pub fn show(&mut self, entry: Log) {
        self.record(&entry);
        if matches!(entry, Log::Answer(_)) {
            self.pending.push(entry);
            return;
        }
        if self.pending_room_lines >= LOG_QUEUE {
            // A full batch goes now if the console has room for it (300 joins in one turn are
            // not a terminal falling behind); skipped only if it has not.
            self.hand_over();
        }
        if self.pending_room_lines < LOG_QUEUE {
            self.pending_room_lines += 1;
            self.pending.push(entry);
        } else {
            self.skipped += 1;
        }
    }

    /// Appends a line of the room to the transcript (`--log`): everything but the answers to
    /// the host's own commands, which are the host's business, not the room's. If the file
    /// stops working, the host is told once, through the lossless answers.
    fn record(&mut self, entry: &Log) {
        let Some(transcript) = &mut self.transcript else {
            return;
        };
        if matches!(entry, Log::Answer(_)) {
            return;
        }
        if let Recorded::Failed(why) = transcript.record(entry) {
            // Not counted with the room's lines: this one is never skipped.
            self.pending.push(Log::Notice(why));
        }
    }

    /// Hands the gathered lines to the console thread, if it has room for them; if not, they
    /// keep gathering (up to the bound) and the engine should call again soon
    /// ([`LogQueue::holds_lines`]).
    pub fn flush(&mut self) {
        self.note_skipped();
        self.hand_over();
    }

    /// Sends the gathered lines as one batch, if the console's channel has room for it.
    fn hand_over(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        match self.sender.try_send(batch) {
            Ok(()) => self.pending_room_lines = 0,
            Err(TrySendError::Full(batch)) => self.pending = batch,
            // The console is gone (the room is closing): nobody will read them.
            Err(TrySendError::Disconnected(_)) => self.pending_room_lines = 0,
        }
    }

    /// Whether lines wait for the console: then the engine should flush again soon.
    pub fn holds_lines(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Once lines were skipped, says how many (at most once a second).
    fn note_skipped(&mut self) {
        let now = Instant::now();
        let recent = self
            .noted
            .is_some_and(|noted| now.saturating_duration_since(noted) < SKIPPED_NOTE_EVERY);
        if self.skipped == 0 || recent {
            return;
        }
        self.pending.push(Log::Notice(format!(
            "{} console lines were skipped: {}",
            thousands(self.skipped),
            self.output.fell_behind()
        )));
        self.skipped = 0;
        self.noted = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(n: usize) -> Log {
        Log::Status(format!("guest-{n} joined"))
    }

    #[test]
    fn a_turn_with_more_lines_than_a_batch_skips_none_while_the_console_has_room() {
        let (sender, console) = crossbeam_channel::bounded(LOG_BATCHES);
        let mut log = LogQueue::new(sender);
        for n in 0..LOG_QUEUE + 44 {
            log.show(joined(n));
        }
        log.flush();
        let shown: usize = console.try_iter().map(|batch| batch.len()).sum();
        assert_eq!(shown, LOG_QUEUE + 44);
    }

    #[test]
    fn a_console_that_fell_behind_gets_a_bounded_backlog_then_a_count_of_the_skipped() {
        let (sender, console) = crossbeam_channel::bounded(LOG_BATCHES);
        let mut log = LogQueue::new(sender).writing_to(OutputKind::Pipe);
        let offered = (LOG_BATCHES + 1) * LOG_QUEUE + 1_010;
        for n in 0..offered {
            log.show(joined(n));
        }
        // An answer to the host is never skipped, however far behind the console is.
        log.show(Log::Answer("in the room (1): alice".into()));
        let waiting: usize = console.try_iter().map(|batch| batch.len()).sum();
        assert_eq!(waiting, LOG_BATCHES * LOG_QUEUE);
        log.flush();
        let next: Vec<Log> = console.try_iter().flatten().collect();
        assert_eq!(
            next.len(),
            LOG_QUEUE + 2,
            "a batch, the answer and the count"
        );
        assert!(matches!(&next[LOG_QUEUE], Log::Answer(_)));
        assert!(
            matches!(&next[LOG_QUEUE + 1], Log::Notice(note) if note == "1,010 console lines were \
                skipped: the program reading netchat's output (a pipe) could not keep up"),
            "{:?}",
            next.last()
        );
    }
}
