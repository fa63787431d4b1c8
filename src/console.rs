//! Everything a person sees.
//!
//! Modes say *what happened* (a status, a message from the peer, a notice); this file decides how
//! it looks. The output contract (ARCHITECTURE.md, "Invariants") lives here:
//!
//! - messages from peers go to **stdout**, everything else to **stderr** as `netchat: …` lines,
//!   so `netchat … > chat.log` keeps only the conversation;
//! - not on a terminal the lines are plain and stable (no colors, no prompts, no labels), so
//!   scripts and tests can read them;
//! - text from a peer is never written raw: a peer could otherwise send ESC sequences that move
//!   the cursor, recolor or clear the terminal, or fake a line from someone else. How it is
//!   escaped and measured is text.rs's (pure); when and where it is written is this file's.
//!
//! How it keeps that contract without slowing a pipe down, and what else it says:
//!
//! - a block of plain-ASCII lines (framing noted it while finding the lines) going to a pipe or a
//!   file is written whole ([`Console::queue_peer_messages`]); anything else is escaped first;
//! - at a terminal, a room line wider than the screen is cut into rows here ([`screen_rows`]),
//!   every row after the first indented ([`CONTINUATION_INDENT`], narrower on a screen under 16
//!   columns), so only a line's first row starts at the left edge, where names are;
//! - a listener's address, and the LAN lines that join it, are said by [`Console::listening`];
//! - a mode may ask for a hint after the peer's first message ([`Console::hint_on_first_message`]:
//!   a `half` or `duplex` connector that reached a netchat room is told so, with the command that
//!   joins it);
//! - a closed stdout is a quiet end, not a crash.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use colored::Colorize;

use crate::error::Error;
use crate::framing::Messages;
use crate::lan;
use crate::scan;
use crate::text::{self, escape_into, escape_peer_text};

/// A stream several threads write whole lines to: the console's stderr, which `--trace` lines
/// from reader and writer threads share with the status lines of the main thread.
pub type SharedWriter = Arc<Mutex<Box<dyn Write + Send>>>;

/// `--color`: when to color the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMode {
    /// Color only when writing to a terminal and `NO_COLOR` is not set.
    Auto,
    Always,
    Never,
}

/// Decides once, at start-up, whether to color. `colored` only looks at stdout, but status goes to
/// stderr, so netchat decides itself and tells `colored` with `set_override` (see main.rs).
pub fn use_color(mode: ColorMode, stderr_is_terminal: bool, no_color_set: bool) -> bool {
    match mode {
        ColorMode::Always => true,
        ColorMode::Never => false,
        ColorMode::Auto => stderr_is_terminal && !no_color_set,
    }
}

/// What standard output is, for a sentence that says where something happened ("the terminal
/// could not keep up"). main.rs finds it out; [`Console::stdout_kind`] tells whoever asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputKind {
    Terminal,
    Pipe,
    File,
    /// Not known (a socket, a device, a platform that cannot tell).
    #[default]
    Other,
}

impl OutputKind {
    /// Who could not keep up, when lines for this output had to be skipped.
    pub fn fell_behind(self) -> &'static str {
        match self {
            OutputKind::Terminal => "the terminal could not keep up",
            OutputKind::Pipe => "the program reading netchat's output (a pipe) could not keep up",
            OutputKind::File => "writing to the output file could not keep up",
            OutputKind::Other => "standard output could not keep up",
        }
    }
}

/// Where output goes and whether a person is watching.
pub struct Console {
    out: Box<dyn Write + Send>,
    err: SharedWriter,
    /// True when stdin and stdout are both a terminal: a person types and reads, so netchat shows
    /// prompts and labels. False in pipes, scripts and tests, where output stays plain.
    interactive: bool,
    /// `--timestamps`: prefix each message with the local time.
    timestamps: bool,
    /// Whether stdout may be colored. `colored`'s switch is global and main.rs sets it from
    /// stderr, but stdout can be a file while stderr is a terminal (`netchat room … > chat.log`):
    /// then a log full of escape codes would break every `grep`.
    color_out: bool,
    /// Reused for escaping a message, so that escaping does not allocate per line.
    scratch: String,
    /// Notices about the other side's lines over `--max-line`, at most one a second.
    too_long: TooLongNotices,
    /// What stdout is (main.rs tells): where skipped lines were skipped.
    stdout_kind: OutputKind,
    /// Said once if the peer's first message starts with the text given: a mode that reached
    /// another mode by mistake ([`Console::hint_on_first_message`]).
    first_message_hint: Option<(&'static str, String)>,
}

/// The other side's lines over `--max-line` are dropped, each with a notice. A peer that sends
/// nothing else (`yes | tr -d '\n' | fold -w 70000 | nc …`) must not bury the screen in notices:
/// the first is shown, then at most one a second, each counting the lines dropped since; the
/// count still untold is given when the conversation ends (`Console::tell_untold`).
#[derive(Default)]
struct TooLongNotices {
    last_shown: Option<Instant>,
    /// Dropped since the last notice, not told yet.
    untold: u64,
    /// Who sent them ("the peer", "the server") and the limit, for the last word.
    from: &'static str,
    limit: usize,
}

/// How often, at most, a notice about dropped over-long lines is shown.
const TOO_LONG_NOTICE_EVERY: Duration = Duration::from_secs(1);

impl Console {
    /// A console writing to the given streams (the process's stdout and stderr in main.rs, buffers
    /// in tests).
    pub fn new(out: Box<dyn Write + Send>, err: Box<dyn Write + Send>, interactive: bool) -> Self {
        Console {
            out,
            err: Arc::new(Mutex::new(err)),
            interactive,
            timestamps: false,
            color_out: true,
            scratch: String::new(),
            too_long: TooLongNotices::default(),
            stdout_kind: OutputKind::default(),
            first_message_hint: None,
        }
    }

    /// Says what stdout is (main.rs, which owns the process's stdio, finds it out).
    pub fn set_stdout_kind(&mut self, kind: OutputKind) {
        self.stdout_kind = kind;
    }

    /// What stdout is: a terminal, a pipe, a file.
    pub fn stdout_kind(&self) -> OutputKind {
        self.stdout_kind
    }

    /// The stderr stream as a `Write` that takes whole lines from any thread: each `write` goes
    /// out under the stream's lock, at once, so a line never interleaves with another thread's
    /// (where `--trace` without a file writes: observe.rs).
    pub fn stderr_lines(&self) -> StderrLines {
        StderrLines(Arc::clone(&self.err))
    }

    /// The stderr stream, shared: trace lines from other threads go through it, so they too
    /// print above a line being typed (terminal.rs wraps it).
    pub fn stderr_handle(&self) -> SharedWriter {
        Arc::clone(&self.err)
    }

    fn err(&self) -> MutexGuard<'_, Box<dyn Write + Send>> {
        // A thread that panicked mid-line leaves at worst a garbled line: go on.
        self.err
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether stdout may be colored at all (decided in main.rs from `--color`, `NO_COLOR` and
    /// whether stdout is a terminal). On by default; `colored`'s global switch still applies.
    pub fn set_stdout_color(&mut self, on: bool) {
        self.color_out = on;
    }

    /// Turns `--timestamps` on or off: messages get a `[HH:MM:SS] ` prefix in local time.
    pub fn set_timestamps(&mut self, on: bool) {
        self.timestamps = on;
    }

    /// The `[HH:MM:SS] ` prefix for a message, or nothing when `--timestamps` is off.
    pub fn timestamp_prefix(&self) -> String {
        if self.timestamps {
            format!("[{}] ", local_clock())
        } else {
            String::new()
        }
    }

    /// Replaces the two output streams with wrappers around them, e.g. so that a line editor can
    /// print above the line being typed (terminal.rs). `wrap` gets the current streams and returns
    /// the new ones.
    pub fn wrap_streams(
        &mut self,
        wrap: impl FnOnce(
            Box<dyn Write + Send>,
            Box<dyn Write + Send>,
        ) -> (Box<dyn Write + Send>, Box<dyn Write + Send>),
    ) {
        let out = std::mem::replace(&mut self.out, Box::new(io::sink()));
        let mut shared = self.err();
        let err = std::mem::replace(&mut *shared, Box::new(io::sink()));
        let (out, err) = wrap(out, err);
        *shared = err;
        drop(shared);
        self.out = out;
    }

    /// The stream a line editor draws on (stdout, which is the terminal whenever one runs).
    pub fn screen(&mut self) -> &mut Box<dyn Write + Send> {
        &mut self.out
    }

    /// Whether a person is at the keyboard (prompts make sense).
    pub fn is_interactive(&self) -> bool {
        self.interactive
    }

    /// A status line on stderr: `netchat: TEXT`.
    ///
    /// A failing stderr is ignored: there is nowhere left to report it, and the conversation on
    /// stdout and the socket can still go on.
    pub fn status(&mut self, text: &str) {
        self.status_line("netchat:".dimmed(), text);
    }

    /// Where a listener waits and how to reach it: `listening_line` (the line tests and scripts
    /// read the bound address from), then, when `local` is every interface, one line per LAN
    /// address with the command that joins from there (`join_command`, `{}` standing for
    /// `ADDRESS:PORT`) and a firewall hint. `lan.rs` only lists the addresses; saying them is
    /// the console's, so the listener's own code never prints them.
    pub fn listening(
        &mut self,
        listening_line: &str,
        local: SocketAddr,
        join_command: &str,
        admits: &dyn Fn(IpAddr) -> bool,
    ) {
        self.status(listening_line);
        for line in lan::join_lines_here(local, join_command, admits) {
            self.status(&line);
        }
    }

    /// A status line that deserves attention (something was dropped, refused, cut short).
    pub fn notice(&mut self, text: &str) {
        self.status_line("netchat:".dimmed(), text.yellow());
    }

    /// `from` ("the peer", "the server") sent a line longer than `limit` (`--max-line`): it was
    /// dropped. Said at most once a second (`TooLongNotices`).
    pub fn dropped_too_long(&mut self, from: &'static str, limit: usize) {
        let now = Instant::now();
        let notices = &mut self.too_long;
        notices.from = from;
        notices.limit = limit;
        let recent = notices
            .last_shown
            .is_some_and(|shown| now.duration_since(shown) < TOO_LONG_NOTICE_EVERY);
        if recent {
            notices.untold += 1;
            return;
        }
        notices.last_shown = Some(now);
        let text = match std::mem::take(&mut notices.untold) {
            0 => {
                format!("{from} sent a line longer than {limit} bytes (--max-line); it was dropped")
            }
            more => format!(
                "{from} sent a line longer than {limit} bytes (--max-line); it was dropped, \
                 and {more} more since the last notice"
            ),
        };
        self.notice(&text);
    }

    /// At the end of a conversation: the over-long lines left out of the notices, if any
    /// (`TooLongNotices`).
    pub fn tell_untold(&mut self) {
        let TooLongNotices {
            untold,
            from,
            limit,
            ..
        } = std::mem::take(&mut self.too_long);
        if untold > 0 {
            self.notice(&format!(
                "{from} sent {untold} more lines longer than {limit} bytes (--max-line); \
                 they were dropped"
            ));
        }
    }

    /// `LABEL TEXT` and its newline on stderr in one `write`. Stderr has no buffer, so
    /// `writeln!` would make a system call for each piece of the format, four per line; a room
    /// of 19,000 joining prints a line for each of them.
    fn status_line(&mut self, label: impl std::fmt::Display, text: impl std::fmt::Display) {
        let line = format!("{label} {text}\n");
        let mut err = self.err();
        let _ = err.write_all(line.as_bytes()).and_then(|()| err.flush());
    }

    /// A notice to print later, from any thread (the hint for unframed peers, which a reader
    /// thread gives when the moment comes), through the same stderr as every other line.
    pub fn notice_later(&self, text: &str) -> impl Fn() + Send + Sync + 'static {
        let err = Arc::clone(&self.err);
        let line = format!("{} {}\n", "netchat:".dimmed(), text.yellow());
        move || {
            let mut err = err
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = err.write_all(line.as_bytes()).and_then(|()| err.flush());
        }
    }

    /// The error that ends the program, and its hint, as `netchat: error: …` lines.
    pub fn error(&mut self, error: &Error) {
        self.status_line("netchat: error:".red().bold(), error);
        if let Some(hint) = error.hint() {
            self.status_line("netchat: hint:".cyan(), hint);
        }
    }

    /// A status line for a person at a terminal only (whose turn it is, what to type next).
    /// Scripts and tests never see it, so their output stays stable.
    pub fn guide(&mut self, text: &str) {
        if self.interactive {
            self.status_line("netchat:".dimmed(), text.green());
        }
    }

    /// A message from a peer on stdout, escaped. `label` says who sent it; it is shown only on a
    /// terminal, so piped output is exactly what the peer sent, one message per line.
    ///
    /// A closed stdout (`netchat … | head -1`) becomes [`Error::OutputClosed`], which ends the
    /// program quietly.
    pub fn peer_message(&mut self, label: &str, message: &[u8]) -> Result<(), Error> {
        self.queue_peer_message(label, message)?;
        self.flush_messages()
    }

    /// Like [`Console::peer_message`], but leaves the line in stdout's buffer until
    /// [`Console::flush_messages`]: when many messages arrive at once (a file piped through
    /// netchat), one `write` for all of them instead of one system call per line.
    // ANCHOR: queue_peer_message
    pub fn queue_peer_message(&mut self, label: &str, message: &[u8]) -> Result<(), Error> {
        if self.first_message_hint.is_some() {
            // Written (and flushed) before the hint about it.
            self.write_peer_message(label, message)?;
            self.check_first_message(message);
            return Ok(());
        }
        self.write_peer_message(label, message)
    }

    fn write_peer_message(&mut self, label: &str, message: &[u8]) -> Result<(), Error> {
        let time = self.timestamp_prefix();
        let written = if self.interactive {
            let text = escape_peer_text(message);
            let label = format!("{label}>").cyan().bold();
            writeln!(self.out, "{}{label} {text}", time.dimmed())
        } else if scan::all_plain(message) {
            // Most lines are printable ASCII, which is safe as it is: copy it straight out,
            // without decoding and re-encoding it character by character.
            self.out
                .write_all(time.as_bytes())
                .and_then(|()| self.out.write_all(message))
                .and_then(|()| self.out.write_all(b"\n"))
        } else {
            self.scratch.clear();
            escape_into(message, &mut self.scratch);
            writeln!(self.out, "{time}{}", self.scratch)
        };
        written.map_err(output_error)
    }
    // ANCHOR_END: queue_peer_message

    /// Text of netchat's own on stdout, as it is (a diagram): the caller made it safe.
    pub fn print(&mut self, text: &str) -> Result<(), Error> {
        self.out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(output_error)
    }

    /// Queues every message of a block, exactly as [`Console::queue_peer_message`] would queue
    /// them one by one, but without looking at them one by one when it need not.
    ///
    /// The bulk path: in a pipe or a file (not a terminal), without `--timestamps`, a block whose
    /// messages are all printable ASCII or tabs ([`Messages::is_plain`], which framing noted
    /// while it found the lines) *is* its own output, a newline after each message: it is
    /// copied out whole, with no per-line work. A block with anything else goes message by
    /// message, and each message copies its plain runs and escapes only the characters that
    /// need it.
    // ANCHOR: queue_peer_messages
    pub fn queue_peer_messages(&mut self, label: &str, messages: &Messages) -> Result<(), Error> {
        let as_is = !self.interactive && !self.timestamps && messages.is_plain();
        if as_is {
            self.out.write_all(messages.bytes()).map_err(output_error)?;
        } else {
            for message in messages.iter() {
                self.write_peer_message(label, message)?;
            }
        }
        if self.first_message_hint.is_some() {
            if let Some(first) = messages.iter().next() {
                self.check_first_message(first);
            }
        }
        Ok(())
    }
    // ANCHOR_END: queue_peer_messages

    /// Says `hint` (once, after the message) if the peer's first message starts with `prefix`:
    /// how a `half` or `duplex` that reached a netchat room tells its student so. Only the first
    /// message is looked at, so it costs nothing afterwards.
    pub fn hint_on_first_message(&mut self, prefix: &'static str, hint: String) {
        self.first_message_hint = Some((prefix, hint));
    }

    fn check_first_message(&mut self, message: &[u8]) {
        if let Some((prefix, hint)) = self.first_message_hint.take() {
            if message.starts_with(prefix.as_bytes()) {
                // After what is queued: the student reads the welcome, then why it came.
                let _ = self.out.flush();
                self.notice(&hint);
            }
        }
    }

    /// Sends the queued messages on their way (see [`Console::queue_peer_message`]).
    pub fn flush_messages(&mut self) -> Result<(), Error> {
        self.out.flush().map_err(output_error)
    }

    /// Text of netchat's own (a lesson, a list) on stdout, as it is.
    pub fn plain_text(&mut self, text: &str) -> Result<(), Error> {
        self.out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(output_error)
    }

    /// A line of a chat room on stdout, colored by `tone` (colors only when enabled).
    ///
    /// `text` must already be safe to print: the room server escapes what peers sent before it
    /// relays it, and the room client escapes again what it receives.
    ///
    /// At a terminal, a line wider than the screen is cut into rows here, and every row after
    /// the first is indented ([`CONTINUATION_INDENT`]): left to the terminal, the rest of a
    /// message padded to exactly the screen's width would start a row of its own, and
    /// `[mallory] ......[bob] I am bob` would show a row that reads as bob's.
    // ANCHOR: room_line
    pub fn room_line(&mut self, text: &str, tone: Tone) -> Result<(), Error> {
        self.queue_room_line(text, tone)?;
        self.flush_messages()
    }

    /// Like [`Console::room_line`], but leaves the line in stdout's buffer until
    /// [`Console::flush_messages`]: the lines one `read` brought (a busy room) leave in one
    /// `write`.
    pub fn queue_room_line(&mut self, text: &str, tone: Tone) -> Result<(), Error> {
        let (rows, indent) = if self.interactive {
            let columns = screen_columns();
            (screen_rows(text, columns), indent_for(columns))
        } else {
            (vec![text], 0)
        };
        let mut shown = String::new();
        for (number, row) in rows.into_iter().enumerate() {
            if number > 0 {
                shown.push('\n');
                shown.extend(std::iter::repeat_n(' ', indent));
            }
            let colored = match tone {
                _ if !self.color_out => row.to_string(),
                Tone::Own => row.green().to_string(),
                // `[bob] hi`: the name stands out; what you type yourself stays plain.
                // A row that starts with the name: a continuation (indented by the server
                // for narrow readers) is never colored as one.
                Tone::Other if number == 0 && row.starts_with('[') => match row.split_once("] ") {
                    Some((name, said)) => format!("{} {said}", format!("{name}]").cyan().bold()),
                    None => row.to_string(),
                },
                Tone::Other => row.to_string(),
                Tone::Action => row.cyan().to_string(),
                Tone::Private => row.magenta().bold().to_string(),
                Tone::Notice => row.yellow().to_string(),
            };
            shown.push_str(&colored);
        }
        writeln!(self.out, "{shown}").map_err(output_error)
    }
    // ANCHOR_END: room_line
}

/// The console's stderr for another thread's whole lines ([`Console::stderr_lines`]).
pub struct StderrLines(SharedWriter);

impl Write for StderrLines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // A thread that panicked mid-line leaves at worst a garbled line: go on.
        let mut stream = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        stream.write_all(buf)?;
        stream.flush()?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What starts every row of a room line after its first, at a terminal: only a line's first
/// row starts at the left edge, where names are.
pub const CONTINUATION_INDENT: &str = "    ";

/// Below this width, the indent is narrower than [`CONTINUATION_INDENT`] (a quarter of the
/// screen, at least one column): a 4-column indent would leave an 8-column screen half empty,
/// and no indent at all would let a message start a row.
const NARROWEST_WRAPPED: usize = 4 * CONTINUATION_INDENT.len();

/// How many columns the terminal has (80 if it cannot say).
pub fn screen_columns() -> usize {
    crossterm::terminal::size().map_or(80, |(columns, _)| usize::from(columns))
}

/// How far rows after a line's first are indented on a screen `columns` wide.
fn indent_for(columns: usize) -> usize {
    if columns >= NARROWEST_WRAPPED {
        CONTINUATION_INDENT.len()
    } else {
        (columns / 4).max(1)
    }
}

/// `text` (already escaped: every character draws) cut into the rows a screen `columns` wide
/// shows, the first `columns` wide and the others narrower by their indent ([`text::rows`], the
/// one width model: tabs to the next stop, wide characters 2). At every width of 2 columns or
/// more, every row but the first is indented.
pub fn screen_rows(text: &str, columns: usize) -> Vec<&str> {
    text::rows(text, columns, indent_for(columns))
}

/// How a chat-room line looks, by who it is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Our own words (or, on the server's console, the host's).
    Own,
    /// Someone else's message.
    Other,
    /// `/me` actions.
    Action,
    /// A private message to us.
    Private,
    /// What the server itself says: joins, leaves, renames, answers.
    Notice,
}

/// The local wall-clock time as `HH:MM:SS`, for `--timestamps`.
///
/// std knows only UTC: the local offset needs the time zone database (`/etc/localtime`, `TZ`, or
/// Windows' own), which jiff reads. If the zone cannot be found, jiff falls back to UTC.
pub fn local_clock() -> String {
    jiff::Zoned::now().strftime("%H:%M:%S").to_string()
}

/// A failed write to stdout: a closed pipe is a quiet end, anything else an error.
fn output_error(error: io::Error) -> Error {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Error::OutputClosed
    } else {
        Error::io("writing to standard output", error)
    }
}

/// What the unit tests of every floor above the console share.
#[cfg(test)]
pub(crate) mod testing {
    use std::io;
    use std::sync::{Arc, Mutex};

    /// A writer the test can read back: give a clone to a `Console`, keep one.
    #[derive(Clone, Default)]
    pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        /// Everything written so far.
        pub(crate) fn text(&self) -> String {
            String::from_utf8_lossy(
                &self
                    .0
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            )
            .into()
        }
    }

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_wider_than_the_screen_continues_on_rows_narrower_by_the_indent() {
        let text = format!("[mallory] {}[bob] hi", ".".repeat(20));
        assert_eq!(
            screen_rows(&text, 30),
            ["[mallory] ....................", "[bob] hi"]
        );
        assert_eq!(screen_rows("short", 30), ["short"]);
        // Later rows hold 26 columns: 30 less the indent.
        let long = "x".repeat(30 + 26 + 1);
        let rows = screen_rows(&long, 30);
        assert_eq!(
            rows.iter().map(|r| r.len()).collect::<Vec<_>>(),
            [30, 26, 1]
        );
        // A wide character that does not fit at the end of a row starts the next one.
        assert_eq!(
            screen_rows(&format!("{}你好", "x".repeat(29)), 30),
            [&"x".repeat(29) as &str, "你好"]
        );
        // Narrow: a narrower indent, but still one.
        assert_eq!(screen_rows("abcdefghij", 8), ["abcdefgh", "ij"]);
        assert_eq!(
            screen_rows("abcdefghijklm", 4),
            ["abcd", "efg", "hij", "klm"]
        );
    }

    #[test]
    fn color_auto_follows_the_terminal_and_no_color() {
        assert!(use_color(ColorMode::Auto, true, false));
        assert!(!use_color(ColorMode::Auto, false, false));
        assert!(!use_color(ColorMode::Auto, true, true));
        assert!(use_color(ColorMode::Always, false, true));
        assert!(!use_color(ColorMode::Never, true, false));
    }

    use super::testing::Captured;

    #[test]
    fn plain_output_has_no_label_and_status_goes_to_stderr() {
        colored::control::set_override(false);
        let (out, err) = (Captured::default(), Captured::default());
        let mut console = Console::new(Box::new(out.clone()), Box::new(err.clone()), false);
        console.peer_message("peer", b"hi").unwrap();
        console.status("connected");
        console.guide("your turn");
        assert_eq!(out.text(), "hi\n");
        assert_eq!(err.text(), "netchat: connected\n");
    }

    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_stdout_is_a_quiet_end() {
        let mut console = Console::new(Box::new(ClosedPipe), Box::new(io::sink()), false);
        let result = console.peer_message("peer", b"hi");
        assert!(matches!(result, Err(Error::OutputClosed)));
    }
}
