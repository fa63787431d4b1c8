//! The keyboard, for the modes where messages arrive while you type (`duplex`, the `room` client
//! and host console), and for `half`.
//!
//! [`Keyboard::start`] starts a thread that turns what the user types into [`Input`] events on a
//! channel, so that a mode's main loop can `select!` over the keyboard and the socket at once.
//!
//! - **Not on a terminal** (a pipe, a file, a test): plain lines from stdin through
//!   the reader pump (pump.rs). No line editor, no escape sequences: output stays plain and stable.
//! - **On a terminal**: a small line editor. Normally the terminal is in "cooked" mode: the
//!   kernel's tty driver echoes what you type and keeps the half-typed line to itself until Enter,
//!   so a message printed meanwhile lands in the middle of it and garbles it. In *raw* mode
//!   (crossterm) netchat receives each key as it is pressed and draws the line itself, so it can
//!   print a message *above* it: erase the prompt line, print the message, draw prompt and partial
//!   input again. [`Console`] output goes through [`AbovePrompt`] for that.
//!
//! Raw mode also turns Ctrl-D into a key rather than an end of file: the editor reports it as
//! [`Input::Eof`]. Ctrl-C is kept the kernel's signal (see `enter_raw_mode`), so that it ends
//! netchat whatever its threads are blocked in; where a terminal cannot keep it a signal, the
//! editor reports it as [`Input::Interrupted`].
//!
//! A paste is asked for bracketed, so it arrives as one event however long, and keys are read
//! through crossterm's `use-dev-tty` reader, which waits with `poll(2)`: the last bytes of a long
//! paste never wait for another key. Keys still unread are dropped before the terminal is given
//! back, and every way out (an end, an error, a signal, a panic) gives it back ([`restore`]).
//!
//! `half` uses the same editor for the whole conversation ([`TurnKeyboard`]): in its own turn the
//! keys are read on the calling thread; in the peer's turn by a helper thread ([`PeerTurn`]), which
//! also counts the seconds on the status line, while Enter waits for the turn. The status line is
//! part of the bottom of the screen, drawn with the prompt: whatever is printed goes above both,
//! so a redraw erases nothing but itself. The layout of prompt and line is editor.rs's; this file
//! draws it, and knows nothing of what a mode does with a line.

use std::collections::VecDeque;
use std::io::{self, IsTerminal, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use colored::Colorize;
use crossbeam_channel::{
    Receiver, RecvTimeoutError, SendTimeoutError, Sender, TryRecvError, bounded,
};
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::{cursor, execute, queue, terminal};

use crate::console::{self, Console};
use crate::error::{Error, Result};
use crate::framing::{Frame, Framing, LineReader, Messages, StopWord};
use crate::pump::{self, Pumped};

mod blocked;
mod editor;

pub use editor::{Action, LineEditor};

/// One thing the keyboard produced.
#[derive(Debug)]
pub enum Input {
    /// A line, without its newline.
    Line(Vec<u8>),
    /// Every line that one `read` of piped input brought, in order: a file piped into stdin
    /// is handed over in blocks, not line by line (see [`spawn_plain_reader`]).
    Lines(Messages),
    /// A line longer than `max_line` (piped input only; the editor refuses to grow that long).
    TooLong { limit: usize },
    /// End of input: stdin reached end of file, or Ctrl-D on an empty line in the editor.
    Eof,
    /// Ctrl-C in the line editor (in raw mode it is a key, not a signal).
    Interrupted,
    /// Reading the keyboard failed.
    Failed(io::Error),
}

/// How many typed lines may wait for the main loop. A human types far fewer; a file piped into
/// stdin fills it, and then the reader simply waits: backpressure instead of unbounded memory.
pub const INPUT_QUEUE: usize = 64;

/// How many blocks of piped input (each what one `read` brought, up to 64 KiB) may wait for the
/// main loop: as for the peer's blocks (duplex's `PEER_QUEUE`), eight keep both threads busy
/// when the scheduler lets one wait, at most 512 KiB; many more would only hold memory, and let
/// the blocks fall out of the processor's caches before the main thread writes them out.
pub const PIPED_QUEUE: usize = 8;

/// How often the editor thread looks up from the keyboard to check whether it should stop.
/// Short enough that ending feels instant, long enough to cost nothing.
const KEY_POLL: Duration = Duration::from_millis(100);

/// What the keyboard needs to know.
#[derive(Debug, Clone)]
pub struct KeyboardOptions {
    /// `--max-line`: the longest line that may be typed or read.
    pub max_line: usize,
    /// The prompt in front of the line being typed, e.g. `you> ` (terminal only).
    pub prompt: String,
    /// `--timestamps`: prefix a line with the local time once it is sent (terminal only).
    pub timestamps: bool,
    /// The line that ends the conversation (duplex's `bye`): piped input is searched for it
    /// while it is framed ([`LineDecoder::watching`](crate::framing::LineDecoder::watching)).
    pub stop_word: Option<StopWord>,
}

/// The running keyboard reader. Dropping it stops the line editor and gives the terminal back in
/// its normal mode; the plain stdin reader cannot be stopped (see [`spawn_plain_reader`]).
pub struct Keyboard {
    input: Receiver<Input>,
    editor: Option<EditorThread>,
}

struct EditorThread {
    /// Dropping this sender disconnects the channel: the editor's signal to stop.
    stop: Sender<()>,
    /// Disconnects when the editor thread has finished (its sender is dropped with it).
    finished: Receiver<()>,
    screen: SharedScreen,
    handle: JoinHandle<()>,
}

/// How long ending the conversation waits for the editor thread to give the terminal back.
/// It notices the stop within [`KEY_POLL`]; far longer means it is stuck (see [`Keyboard`]'s drop).
const EDITOR_STOP_WAIT: Duration = Duration::from_secs(1);

impl Keyboard {
    /// Starts reading the keyboard: the line editor when a person is at a terminal
    /// ([`Console::is_interactive`]), plain lines from `stdin` otherwise. On a terminal the
    /// console's output is rerouted so that it prints above the line being typed.
    pub fn start(
        stdin: impl Read + Send + 'static,
        options: &KeyboardOptions,
        console: &mut Console,
    ) -> Result<Keyboard> {
        if console.is_interactive() {
            match start_editor(options, console) {
                Ok(keyboard) => return Ok(keyboard),
                Err(error) => console.notice(&format!(
                    "cannot use the line editor ({error}); reading plain lines instead"
                )),
            }
        }
        Ok(Keyboard {
            input: spawn_plain_reader(stdin, options.max_line, options.stop_word)?,
            editor: None,
        })
    }

    /// The channel the keyboard's events arrive on.
    pub fn input(&self) -> &Receiver<Input> {
        &self.input
    }
}

impl Drop for Keyboard {
    fn drop(&mut self) {
        if let Some(editor) = self.editor.take() {
            drop(editor.stop);
            // It notices within KEY_POLL, erases its prompt and leaves raw mode; waiting for it
            // means the shell gets a sane terminal back before netchat prints its last lines.
            if let Err(RecvTimeoutError::Disconnected) =
                editor.finished.recv_timeout(EDITOR_STOP_WAIT)
            {
                let _ = editor.handle.join();
                return;
            }
            // Stuck: once the terminal has hung up (its window closed), crossterm retries the
            // failing read for ever inside `event::poll`. Leave the thread behind, like the plain
            // stdin reader — the process exits around it — and give the terminal back here.
            lock(&editor.screen).active = false;
            restore();
        }
    }
}

/// Reads plain lines from stdin on a thread named `stdin-reader` (the reader pump, pump.rs).
///
/// This thread is never joined. It spends its life blocked in `read()` on stdin, and nothing in
/// std can wake it: closing or shutting down works for sockets, not for a terminal or a pipe held
/// by another process. So the conversation does not wait for it: when the mode returns, `main`
/// returns, and the process exits around the blocked thread (the OS ends every thread of a process).
// ANCHOR: spawn_plain_reader
pub fn spawn_plain_reader(
    stdin: impl Read + Send + 'static,
    max_line: usize,
    stop_word: Option<StopWord>,
) -> Result<Receiver<Input>> {
    // A pipe or a file gives many lines per `read`: they come as one `Input::Lines`, one channel
    // message and one wake-up of the main thread, instead of one per line. A person types one
    // line per `read`: it goes alone, and at once.
    let (input, _never_joined) = pump::spawn(
        "stdin-reader",
        stdin,
        Framing::Line,
        max_line,
        PIPED_QUEUE,
        pump::Reporting::default().watching(stop_word),
        |pumped| match pumped {
            // A last typed line without its newline (a file that does not end with one) counts.
            Pumped::Messages(lines) | Pumped::Cut(lines) => Input::Lines(lines),
            Pumped::TooLong { limit } => Input::TooLong { limit },
            Pumped::Closed => Input::Eof,
            Pumped::Failed(e) => Input::Failed(e),
        },
    )
    .map_err(|e| Error::io("starting the keyboard thread", e))?;
    Ok(input)
}
// ANCHOR_END: spawn_plain_reader

/// The prompt and the line being typed, as drawn on the terminal.
///
/// Drawing is "erase, then write it all again": simple, and correct whatever a key changed. The
/// positions come from `editor::layout`, which measures columns the way the terminal does, so
/// wide (CJK, emoji) and combining characters wrap, and the cursor lands, where they really are.
pub struct PromptLine {
    prompt: String,
    edit: LineEditor,
    /// The row the cursor was left on, counted from the prompt's first row, when last drawn.
    /// Erasing must use this, not the current line, which a key may already have changed.
    cursor_row: usize,
    /// `--timestamps`: a sent line is left on screen with the local time.
    timestamps: bool,
    /// A status line drawn on the row above the prompt (`half`: whose turn it is, the call it
    /// is blocked in). It is part of the bottom of the screen, like the prompt: whatever is
    /// printed goes above both, so redrawing it never erases anything but itself.
    status: Option<Status>,
    /// `half` only: whose turn it is, and what a paste typed ahead of it.
    turns: Option<Turns>,
}

/// A status line at the bottom of the screen: as drawn (colored), and how many columns it takes.
struct Status {
    shown: String,
    columns: usize,
}

impl Status {
    /// `netchat: TEXT`, with the label dimmed and the text colored by `paint`.
    fn new(text: &str, paint: impl Fn(&str) -> colored::ColoredString) -> Status {
        Status {
            shown: format!("{} {}", "netchat:".dimmed(), paint(text)),
            columns: crate::text::width(&format!("netchat: {text}")),
        }
    }

    /// The rows it takes on a screen `columns` wide (a long one wraps).
    fn rows(&self, columns: usize) -> usize {
        self.columns.div_ceil(columns.max(1)).max(1)
    }
}

/// The line editor in `half`, where a line may be sent only in our turn.
#[derive(Default)]
struct Turns {
    /// Whether it is our turn: out of it, keys edit the line, but Enter does not send it.
    mine: bool,
    /// What a paste holds beyond the line that may go now, starting with its line break: it is
    /// typed one line per turn, as the keys would have been.
    ahead: String,
    /// Whether "not your turn" was said this turn (then a bell is enough).
    told: bool,
}

/// Said when Enter (or Ctrl-D) is pressed out of our turn in `half`.
const NOT_YOUR_TURN: &str = "not your turn: the peer answers first; your line stays here \
                             (press Enter when it is your turn)";

impl PromptLine {
    fn new(options: &KeyboardOptions) -> PromptLine {
        PromptLine {
            prompt: options.prompt.clone(),
            edit: LineEditor::new(options.max_line),
            cursor_row: 0,
            timestamps: options.timestamps,
            status: None,
            turns: None,
        }
    }

    /// Shows `status` on the row above the prompt (or none), in place of the one shown before.
    fn set_status(&mut self, out: &mut Terminal, status: Option<Status>) -> io::Result<()> {
        self.erase(out)?;
        self.status = status;
        self.draw(out)
    }

    /// Leaves the status line on the screen as it is now, printed like any line above the
    /// prompt, and draws no status from now on.
    fn settle_status(&mut self, out: &mut Terminal) -> io::Result<()> {
        self.erase(out)?;
        if let Some(status) = self.status.take() {
            write!(out, "{}\r\n", status.shown)?;
        }
        self.draw(out)
    }

    /// `half`: a note above the line when Enter is pressed out of turn, once a turn; a bell
    /// after that.
    fn not_your_turn(&mut self, out: &mut Terminal) -> io::Result<()> {
        let turns = self.turns.get_or_insert_with(Turns::default);
        if std::mem::replace(&mut turns.told, true) {
            out.write_all(b"\x07")?;
            return out.flush();
        }
        self.note(out, NOT_YOUR_TURN)
    }

    /// A `netchat: ` notice above the prompt (and its status line).
    fn note(&mut self, out: &mut Terminal, text: &str) -> io::Result<()> {
        self.erase(out)?;
        write!(out, "{} {}\r\n", "netchat:".dimmed(), text.yellow())?;
        self.draw(out)
    }

    /// `half`: whether this key must wait for our turn (Enter, and Ctrl-D, which would end the
    /// conversation), or go behind a paste still being typed ahead.
    fn held_back(&self, key: &KeyEvent) -> bool {
        let Some(turns) = &self.turns else {
            return false;
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let ends_line = matches!(key.code, KeyCode::Enter)
            || (ctrl && matches!(key.code, KeyCode::Char('j' | 'm' | 'd')));
        (!turns.mine && ends_line) || !turns.ahead.is_empty()
    }

    /// `half`: the part of a paste that may be typed now: up to its first line break out of
    /// turn, up to and including it in our turn (one line per turn). The rest waits.
    fn take_turn(&mut self, text: String) -> String {
        let Some(turns) = &mut self.turns else {
            return text;
        };
        if !turns.ahead.is_empty() {
            turns.ahead.push_str(&text);
            return String::new();
        }
        let Some(at) = text.find(['\r', '\n']) else {
            return text;
        };
        let split = if turns.mine { at + 1 } else { at };
        let mut now = text;
        turns.ahead = now.split_off(split);
        now
    }

    /// Removes the prompt and partial input, leaving the cursor at the start of where they were.
    /// A long input may have wrapped onto several rows: go up to the first one, then clear down.
    // ANCHOR: erase_prompt
    fn erase(&mut self, out: &mut Terminal) -> io::Result<()> {
        let columns = console::screen_columns();
        let status_rows = self
            .status
            .as_ref()
            .map_or(0, |status| status.rows(columns));
        let rows_up = std::mem::take(&mut self.cursor_row) + status_rows;
        queue!(out, cursor::MoveToColumn(0))?;
        if rows_up > 0 {
            queue!(out, cursor::MoveUp(clamp_u16(rows_up)))?;
        }
        queue!(out, terminal::Clear(terminal::ClearType::FromCursorDown))
    }
    // ANCHOR_END: erase_prompt

    /// Draws the prompt and the partial input below whatever was just printed, and puts the
    /// cursor where the editor has it.
    fn draw(&mut self, out: &mut Terminal) -> io::Result<()> {
        let columns = console::screen_columns();
        if let Some(status) = &self.status {
            write!(out, "{}\r\n", status.shown)?;
        }
        let text = self.edit.text();
        let at = editor::layout(&self.prompt, text, self.edit.cursor(), columns);
        write!(out, "{}{text}", self.prompt.green().bold())?;
        if at.end.column == 0 && at.end.row > 0 {
            // The line filled its last row exactly: the terminal holds the cursor in the last
            // column until the next character. Move it down for real, as the layout assumes.
            out.write_all(b"\r\n")?;
        }
        if at.end.row > at.cursor.row {
            queue!(out, cursor::MoveUp(clamp_u16(at.end.row - at.cursor.row)))?;
        }
        queue!(out, cursor::MoveToColumn(clamp_u16(at.cursor.column)))?;
        self.cursor_row = at.cursor.row;
        out.flush()
    }

    fn redraw(&mut self, out: &mut Terminal) -> io::Result<()> {
        self.erase(out)?;
        self.draw(out)
    }

    /// Leaves the sent line on screen as `you> text` (with the time under `--timestamps`) and
    /// starts a fresh prompt below it.
    fn commit(&mut self, out: &mut Terminal, line: &str) -> io::Result<()> {
        self.erase(out)?;
        let time = if self.timestamps {
            format!("[{}] ", console::local_clock())
        } else {
            String::new()
        };
        if let Some(status) = self.status.take() {
            // Our turn's line stays above the line it brought.
            write!(out, "{}\r\n", status.shown)?;
        }
        let prompt = self.prompt.green().bold();
        let text = crate::text::escape_peer_text(line.as_bytes());
        write!(out, "{}{prompt}{text}\r\n", time.dimmed())?;
        self.draw(out)
    }

    /// Applies a key or a paste and shows the result: what they hand to the mode, in order (a
    /// paste of many lines hands over each, as if each had been typed and sent with Enter).
    // ANCHOR: on_key
    fn on_typed(&mut self, out: &mut Terminal, typed: Typed) -> io::Result<Vec<Input>> {
        let actions = match typed {
            Typed::Key(key) if self.held_back(&key) => {
                self.hold(out, key)?;
                return Ok(Vec::new());
            }
            Typed::Key(key) => vec![self.edit.key(key)],
            Typed::Paste(text) => {
                let now = self.take_turn(text);
                self.edit.paste(&now)
            }
        };
        let mut inputs = Vec::new();
        for action in actions {
            inputs.extend(self.show(out, action)?);
        }
        Ok(inputs)
    }

    /// `half`: a key that must wait. Out of turn, Enter is refused with a note (the line stays,
    /// to be sent in our turn); behind a paste still waiting, a key is typed after it.
    fn hold(&mut self, out: &mut Terminal, key: KeyEvent) -> io::Result<()> {
        let turns = self.turns.get_or_insert_with(Turns::default);
        if turns.ahead.is_empty() {
            return self.not_your_turn(out);
        }
        match key.code {
            KeyCode::Enter => turns.ahead.push('\r'),
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                turns.ahead.push(c);
            }
            _ => {
                out.write_all(b"\x07")?;
                out.flush()?;
            }
        }
        Ok(())
    }

    /// `half`, at the start of our turn: types the next line of a paste that waited, if any.
    /// Returns the line if it is complete (it is sent at once, as Enter in the paste said).
    fn type_ahead(&mut self, out: &mut Terminal) -> io::Result<Option<Input>> {
        let Some(turns) = &mut self.turns else {
            return Ok(None);
        };
        let waiting = std::mem::take(&mut turns.ahead);
        if waiting.is_empty() {
            return Ok(None);
        }
        let inputs = self.on_typed(out, Typed::Paste(waiting))?;
        Ok(inputs.into_iter().next())
    }

    /// A line over `--max-line` at Enter: not sent, and said so above the fresh prompt, with
    /// the same words as for a piped line and by how much it is over.
    fn refuse(&mut self, out: &mut Terminal, length: usize, limit: usize) -> io::Result<()> {
        self.note(out, &too_long_note(length, limit))
    }

    /// Shows what the editor did; returns what it hands to the mode, if anything.
    fn show(&mut self, out: &mut Terminal, action: Action) -> io::Result<Option<Input>> {
        match action {
            Action::Nothing => {}
            Action::Redraw => self.redraw(out)?,
            Action::Bell => {
                out.write_all(b"\x07")?;
                out.flush()?;
            }
            Action::ClearScreen => {
                queue!(
                    out,
                    terminal::Clear(terminal::ClearType::All),
                    cursor::MoveTo(0, 0)
                )?;
                self.cursor_row = 0;
                self.draw(out)?;
            }
            Action::Submit(line) => {
                self.commit(out, &line)?;
                return Ok(Some(Input::Line(line.into_bytes())));
            }
            Action::TooLong { length, limit } => self.refuse(out, length, limit)?,
            Action::Interrupt => return Ok(Some(Input::Interrupted)),
            Action::Eof => return Ok(Some(Input::Eof)),
        }
        Ok(None)
    }
    // ANCHOR_END: on_key
}

/// What the user is told when Enter is pressed on a line longer than `--max-line`.
pub fn too_long_note(length: usize, limit: usize) -> String {
    format!(
        "your line is longer than {} bytes (--max-line) by {} and was not sent; ↑ brings it back",
        crate::text::thousands(limit as u64),
        crate::text::thousands(length.saturating_sub(limit) as u64),
    )
}

/// The stream the editor draws on: the console's stdout, a terminal whenever the editor runs.
pub type Terminal = Box<dyn Write + Send>;

/// Cursor moves take a u16; a line can never be that many rows or columns.
fn clamp_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// What the keyboard gave: a key, or a whole pasted block.
enum Typed {
    Key(KeyEvent),
    /// A paste the terminal bracketed (`ESC [ 200 ~` … `ESC [ 201 ~`): one event however long,
    /// so its lines go out together and nothing of it waits for another key.
    Paste(String),
}

/// Waits up to `wait` for a key press (not a release: Windows reports both; not a resize or a
/// mouse event) or a paste.
///
/// crossterm reads the terminal 1,024 bytes at a time. Its default reader on Unix waits with
/// an edge-triggered epoll, which reports new bytes, not bytes still unread: the rest of a paste
/// longer than one read then waited for the next key press. netchat builds crossterm with its
/// `use-dev-tty` reader (Cargo.toml), which waits with `poll(2)`: bytes still unread are always
/// reported, so the last keys of any paste are read at once.
fn next_typed(wait: Duration) -> io::Result<Option<Typed>> {
    if !event::poll(wait)? {
        return Ok(None);
    }
    match event::read()? {
        Event::Key(key) if key.kind != KeyEventKind::Release => Ok(Some(Typed::Key(key))),
        Event::Paste(text) => Ok(Some(Typed::Paste(text))),
        _ => Ok(None),
    }
}

/// Raw mode on, and bracketed paste asked for: a terminal that offers it then sends a paste as
/// one block (a terminal that does not ignores the request, and a paste comes as keys).
///
/// Ctrl-C stays the kernel's signal (ISIG), unlike in crossterm's raw mode: then it ends netchat
/// whatever its threads are doing — a line editor stuck on a full queue, a main thread blocked
/// in `write()` — through the one handler in main.rs. Ctrl-\\ and Ctrl-Z, the other keys
/// ISIG turns into signals, are switched off: netchat is not to be suspended in raw mode.
fn enter_raw_mode() -> io::Result<()> {
    terminal::enable_raw_mode()?;
    #[cfg(unix)]
    keep_ctrl_c_a_signal();
    let _ = execute!(io::stdout(), event::EnableBracketedPaste);
    Ok(())
}

#[cfg(unix)]
fn keep_ctrl_c_a_signal() {
    use rustix::termios::{LocalModes, OptionalActions, SpecialCodeIndex, tcgetattr, tcsetattr};
    // _POSIX_VDISABLE: the value that switches a special key off.
    const DISABLED: u8 = if cfg!(target_os = "linux") { 0 } else { 0xff };
    let Ok(mut mode) = tcgetattr(io::stdin()) else {
        return;
    };
    // NOFLSH: the kernel must not throw away what netchat was drawing when Ctrl-C comes;
    // unread keys are dropped when the terminal is given back (leave_raw_mode).
    mode.local_modes |= LocalModes::ISIG | LocalModes::NOFLSH;
    mode.special_codes[SpecialCodeIndex::VQUIT] = DISABLED;
    mode.special_codes[SpecialCodeIndex::VSUSP] = DISABLED;
    let _ = tcsetattr(io::stdin(), OptionalActions::Now, &mode);
}

/// Bracketed paste off and the terminal cooked again, if netchat had made it raw. Keys typed
/// but never read (the end of a paste, a line typed as the conversation ended) are dropped
/// first: in cooked mode they would reach the shell as a command.
fn leave_raw_mode() {
    if terminal::is_raw_mode_enabled().unwrap_or(false) {
        #[cfg(unix)]
        let _ = rustix::termios::tcflush(io::stdin(), rustix::termios::QueueSelector::IFlush);
        let _ = execute!(io::stdout(), event::DisableBracketedPaste);
    }
    let _ = terminal::disable_raw_mode();
}

/// Raw mode for as long as this lives: dropping it, on every path out of a function (an error,
/// an early return, a panic unwinding), gives the terminal back cooked.
struct RawMode;

impl RawMode {
    fn enable() -> io::Result<RawMode> {
        enter_raw_mode()?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        leave_raw_mode();
    }
}

/// Gives the terminal back in its normal (cooked) mode if netchat had switched it to raw mode;
/// does nothing otherwise. For the paths that end the process without unwinding: main.rs calls
/// it from its panic hook and before exiting on a second Ctrl-C.
pub fn restore() {
    leave_raw_mode();
}

/// Whether the terminal is in its normal mode, where the kernel echoes keys itself: then a
/// Ctrl-C shows as `^C` (or a half-typed line sits there) without a newline, and main.rs ends
/// that line before netchat's next status line.
pub fn is_echoing() -> bool {
    io::stdin().is_terminal() && !terminal::is_raw_mode_enabled().unwrap_or(false)
}

/// What is on the screen's last line(s), shared behind a mutex by the editor thread (which
/// changes the line) and the console's writers (which print above it).
struct Screen {
    /// The terminal: the console's stdout, which is a terminal whenever the editor runs.
    out: Box<dyn Write + Send>,
    /// Whether the editor is drawing a prompt. Once it stops, output passes through unchanged.
    active: bool,
    line: PromptLine,
}

type SharedScreen = Arc<Mutex<Screen>>;

fn lock(screen: &SharedScreen) -> MutexGuard<'_, Screen> {
    // A panic while holding the lock leaves a screen that is at worst drawn wrongly: go on.
    screen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Screen {
    fn erase(&mut self) -> io::Result<()> {
        if self.active {
            self.line.erase(&mut self.out)?;
        }
        Ok(())
    }

    fn draw(&mut self) -> io::Result<()> {
        if self.active {
            self.line.draw(&mut self.out)?;
        }
        self.out.flush()
    }
}

/// Where an [`AbovePrompt`] writer sends its text.
enum Target {
    /// The terminal the editor draws on (the console's stdout).
    Screen,
    /// Another stream (the console's stderr); `terminal` says whether it shows on the terminal
    /// too (then its newlines need a carriage return in raw mode) or goes to a file.
    Other {
        stream: Box<dyn Write + Send>,
        terminal: bool,
    },
}

/// A console stream that prints whole lines above the line being edited.
///
/// `Console` writes a message in pieces and then flushes; this collects the pieces and, on
/// flush, erases the prompt, prints them, and draws the prompt again — all under the screen lock,
/// so the editor thread cannot draw in the middle.
// ANCHOR: above_prompt
pub struct AbovePrompt {
    target: Target,
    screen: SharedScreen,
    pending: Vec<u8>,
}

impl Write for AbovePrompt {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let text = std::mem::take(&mut self.pending);
        let mut guard = lock(&self.screen);
        let screen = &mut *guard;
        if !screen.active {
            let stream = match &mut self.target {
                Target::Screen => &mut screen.out,
                Target::Other { stream, .. } => stream,
            };
            stream.write_all(&text)?;
            return stream.flush();
        }
        screen.erase()?;
        screen.out.flush()?;
        match &mut self.target {
            Target::Screen => write_lines(&mut screen.out, &text, true)?,
            Target::Other { stream, terminal } => write_lines(stream, &text, *terminal)?,
        }
        screen.draw()
    }
}
// ANCHOR_END: above_prompt

/// Writes `text`, ending each line with CR LF when it goes to a terminal in raw mode: raw mode
/// also turns off the tty driver's output processing, so a bare `\n` would only move down.
fn write_lines(stream: &mut (impl Write + ?Sized), text: &[u8], terminal: bool) -> io::Result<()> {
    if terminal {
        for piece in text.split_inclusive(|&b| b == b'\n') {
            match piece.strip_suffix(b"\n") {
                Some(line) => {
                    stream.write_all(line)?;
                    stream.write_all(b"\r\n")?;
                }
                None => stream.write_all(piece)?,
            }
        }
    } else {
        stream.write_all(text)?;
    }
    stream.flush()
}

/// Switches the terminal to raw mode, reroutes the console, and starts the editor thread.
fn start_editor(options: &KeyboardOptions, console: &mut Console) -> io::Result<Keyboard> {
    enter_raw_mode()?;
    let screen = reroute(console, PromptLine::new(options));
    let (sender, input) = bounded(INPUT_QUEUE);
    let (stop, stopped) = bounded::<()>(0);
    let (finishing, finished) = bounded::<()>(0);
    let editor = Editor {
        screen: Arc::clone(&screen),
        sender,
        stopped,
        _finishing: finishing,
    };
    let spawned = thread::Builder::new()
        .name("line-editor".into())
        .spawn(move || editor.run());
    match spawned {
        Ok(handle) => Ok(Keyboard {
            input,
            editor: Some(EditorThread {
                stop,
                finished,
                screen,
                handle,
            }),
        }),
        Err(error) => {
            lock(&screen).active = false;
            leave_raw_mode();
            Err(error)
        }
    }
}

/// Puts `line` at the bottom of the screen and reroutes the console's streams through
/// [`AbovePrompt`], so that everything printed goes above it.
fn reroute(console: &mut Console, line: PromptLine) -> SharedScreen {
    let screen: SharedScreen = Arc::new(Mutex::new(Screen {
        out: Box::new(io::sink()),
        active: true,
        line,
    }));
    let stderr_is_terminal = io::stderr().is_terminal();
    console.wrap_streams(|out, err| {
        lock(&screen).out = out;
        let to_screen = AbovePrompt {
            target: Target::Screen,
            screen: Arc::clone(&screen),
            pending: Vec::new(),
        };
        let to_err = AbovePrompt {
            target: Target::Other {
                stream: err,
                terminal: stderr_is_terminal,
            },
            screen: Arc::clone(&screen),
            pending: Vec::new(),
        };
        (Box::new(to_screen), Box::new(to_err))
    });
    screen
}

/// The line editor thread: keys in, lines out.
struct Editor {
    screen: SharedScreen,
    sender: Sender<Input>,
    stopped: Receiver<()>,
    /// Never sent on: dropped with the editor when its thread ends, which tells [`Keyboard`].
    _finishing: Sender<()>,
}

impl Editor {
    /// Runs until told to stop, or until Ctrl-D; then always leaves the terminal as it found it.
    fn run(self) {
        {
            // erase first: the console may already have printed a line above the prompt (and
            // drawn it) before this thread got going; drawing again would show `you> you> `.
            let mut screen = lock(&self.screen);
            let _ = screen.erase();
            let _ = screen.draw();
        }
        if let Err(error) = self.read_keys() {
            let _ = self.sender.send(Input::Failed(error));
        }
        let mut screen = lock(&self.screen);
        let _ = screen.erase();
        screen.active = false;
        let _ = screen.out.flush();
        leave_raw_mode();
    }

    /// Reads keys and hands what they give to the main loop, never blocking on it: lines the
    /// main loop has no room for yet (a paste of megabytes, a peer that stopped reading us)
    /// wait here, in order, while the keyboard is still read. A keyboard left unread would fill
    /// the terminal's buffer, and a Ctrl-C typed behind the paste would never reach the kernel,
    /// which turns it into the signal that ends netchat.
    fn read_keys(&self) -> io::Result<()> {
        let mut waiting: VecDeque<Input> = VecDeque::new();
        loop {
            if matches!(self.stopped.try_recv(), Err(TryRecvError::Disconnected)) {
                return Ok(());
            }
            while let Some(input) = waiting.pop_front() {
                let last = matches!(input, Input::Eof);
                match self.sender.send_timeout(input, HAND_OVER_WAIT) {
                    Ok(()) if last => return Ok(()),
                    Ok(()) => {}
                    Err(SendTimeoutError::Timeout(input)) => {
                        waiting.push_front(input);
                        break;
                    }
                    Err(SendTimeoutError::Disconnected(_)) => return Ok(()),
                }
            }
            // Waiting with a timeout rather than blocking in read(): that is what lets this
            // thread, unlike the plain stdin reader, notice that it should stop, and be joined.
            let wait = if waiting.is_empty() {
                KEY_POLL
            } else {
                HAND_OVER_WAIT
            };
            let Some(typed) = next_typed(wait)? else {
                continue;
            };
            let mut guard = lock(&self.screen);
            let screen = &mut *guard;
            waiting.extend(screen.line.on_typed(&mut screen.out, typed)?);
        }
    }
}

/// While typed lines wait for the main loop, how long the editor waits for room for them
/// before it looks at the keyboard again.
const HAND_OVER_WAIT: Duration = Duration::from_millis(20);

/// The keyboard for a mode that reads it only when it is its turn (`half`): one line at a time,
/// on the calling thread.
///
/// On a terminal the line editor runs in raw mode for the whole conversation, so the terminal
/// never echoes on its own: what is on the `you>` line is what will be sent. In our turn the
/// calling thread reads the keys ([`TurnKeyboard::read_line`]). In the peer's turn that thread
/// is asleep in `read()` on the socket, so a helper thread keeps the keyboard and the status
/// line ([`TurnKeyboard::peer_turn`]): keys edit the line, but Enter is refused with a note —
/// the line waits on screen, as it is, for our turn.
pub enum TurnKeyboard<R: Read> {
    /// A person at a terminal: the line editor, shared with the helper of the peer's turn.
    Editor(TurnEditor),
    /// A pipe or a file: plain lines (boxed: the reader's buffer state is large).
    Plain(Box<LineReader<R>>),
}

/// `half`'s line editor on a terminal (see [`TurnKeyboard`]).
pub struct TurnEditor {
    screen: SharedScreen,
    /// Raw mode until the conversation is over.
    _raw: RawMode,
}

impl<R: Read> TurnKeyboard<R> {
    /// The line editor when a person is at a terminal ([`Console::is_interactive`]), plain lines
    /// from `stdin` otherwise. On a terminal the console's output is rerouted so that it prints
    /// above the line being typed, as in `duplex`.
    pub fn new(stdin: R, options: &KeyboardOptions, console: &mut Console) -> TurnKeyboard<R> {
        if console.is_interactive() {
            match RawMode::enable() {
                Ok(raw) => {
                    let mut line = PromptLine::new(options);
                    line.turns = Some(Turns::default());
                    let screen = reroute(console, line);
                    return TurnKeyboard::Editor(TurnEditor { screen, _raw: raw });
                }
                Err(error) => console.notice(&format!(
                    "cannot use the line editor ({error}); reading plain lines instead"
                )),
            }
        }
        TurnKeyboard::Plain(Box::new(LineReader::new(stdin, options.max_line)))
    }

    /// Blocks until one line is typed (or input ends, or Ctrl-C in the editor). On a terminal,
    /// `turn` is shown above the prompt until the line is sent (the guide: whose turn, and
    /// which call the thread is blocked in).
    // ANCHOR: read_turn
    pub fn read_line(&mut self, turn: &str) -> io::Result<Input> {
        let editor = match self {
            TurnKeyboard::Plain(lines) => {
                return Ok(match lines.read_frame()? {
                    Some(Frame::Line(line)) => Input::Line(line),
                    Some(Frame::TooLong { limit }) => Input::TooLong { limit },
                    None => Input::Eof,
                });
            }
            TurnKeyboard::Editor(editor) => editor,
        };
        {
            let mut guard = lock(&editor.screen);
            let screen = &mut *guard;
            let turns = screen.line.turns.get_or_insert_with(Turns::default);
            turns.mine = true;
            turns.told = false;
            let status = Status::new(turn, |text| text.green());
            screen.line.set_status(&mut screen.out, Some(status))?;
            // A paste's next line, typed while the peer had the turn, goes first.
            if let Some(input) = screen.line.type_ahead(&mut screen.out)? {
                return Ok(input);
            }
        }
        loop {
            // The thread sleeps here, in poll() and read() on the keyboard, until a key comes.
            let Some(typed) = next_typed(Duration::from_secs(3600))? else {
                continue;
            };
            let mut guard = lock(&editor.screen);
            let screen = &mut *guard;
            if let Some(input) = screen
                .line
                .on_typed(&mut screen.out, typed)?
                .into_iter()
                .next()
            {
                return Ok(input);
            }
        }
    }
    // ANCHOR_END: read_turn

    /// The peer's turn begins: on a terminal, shows `status` above the prompt and starts the
    /// helper that keeps the keyboard and the status line until the returned guard is dropped
    /// (the call returned). Nothing for piped input: nobody is typing.
    pub fn peer_turn(&self, status: &str) -> Option<PeerTurn> {
        let TurnKeyboard::Editor(editor) = self else {
            return None;
        };
        Some(PeerTurn::start(&editor.screen, status))
    }
}

impl Drop for TurnEditor {
    fn drop(&mut self) {
        // The conversation is over: the line being typed goes, and so do keys typed ahead that
        // nobody will read (leave_raw_mode drops them), so none of them reach the shell.
        let mut screen = lock(&self.screen);
        let _ = screen.erase();
        screen.active = false;
        let _ = screen.out.flush();
    }
}

/// How often the status line of the peer's turn counts up: the count is in whole seconds.
const TICK: Duration = Duration::from_secs(1);

/// The peer's turn in `half` on a terminal: a helper thread (`blocked-status`) reads the keys
/// into the line editor and counts the seconds on the status line, since the thread that waits
/// is asleep in the kernel and can draw nothing. Dropping it — the call returned — stops and
/// joins the helper; the status line stays on the screen with its last count.
// ANCHOR: blocked_line
pub struct PeerTurn {
    screen: SharedScreen,
    /// Dropped to stop the helper (it then sees the channel disconnected).
    stop: Option<Sender<()>>,
    helper: Option<JoinHandle<()>>,
}

impl PeerTurn {
    fn start(screen: &SharedScreen, status: &str) -> PeerTurn {
        let started = std::time::Instant::now();
        let show = {
            let status = status.to_string();
            move |waited: Option<Duration>| {
                let text = blocked::status_text(&status, waited, console::screen_columns());
                Status::new(&text, |text| text.cyan())
            }
        };
        {
            let mut guard = lock(screen);
            let screen = &mut *guard;
            let turns = screen.line.turns.get_or_insert_with(Turns::default);
            turns.mine = false;
            turns.told = false;
            let _ = screen.line.set_status(&mut screen.out, Some(show(None)));
        }
        let (stop, stopped) = bounded::<()>(0);
        let shared = Arc::clone(screen);
        let helper = thread::Builder::new()
            .name("blocked-status".into())
            .spawn(move || {
                let mut next_tick = started + TICK;
                loop {
                    if matches!(stopped.try_recv(), Err(TryRecvError::Disconnected)) {
                        return;
                    }
                    let now = std::time::Instant::now();
                    if now >= next_tick {
                        let mut guard = lock(&shared);
                        let screen = &mut *guard;
                        let status = Some(show(Some(started.elapsed())));
                        let _ = screen.line.set_status(&mut screen.out, status);
                        next_tick += TICK;
                        continue;
                    }
                    let wait = (next_tick - now).min(KEY_POLL);
                    match next_typed(wait) {
                        Ok(Some(typed)) => {
                            let mut guard = lock(&shared);
                            let screen = &mut *guard;
                            // Out of turn nothing is handed over: Enter is held back (and
                            // Ctrl-C is the kernel's signal, see enter_raw_mode).
                            let _ = screen.line.on_typed(&mut screen.out, typed);
                        }
                        Ok(None) => {}
                        // The terminal is gone (hung up): the signal that came with it ends us.
                        Err(_) => return,
                    }
                }
            })
            .ok();
        PeerTurn {
            screen: Arc::clone(screen),
            stop: Some(stop),
            helper,
        }
    }
}

impl Drop for PeerTurn {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(helper) = self.helper.take() {
            let _ = helper.join();
        }
        let mut guard = lock(&self.screen);
        let screen = &mut *guard;
        let _ = screen.line.settle_status(&mut screen.out);
    }
}
// ANCHOR_END: blocked_line

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_reader_yields_lines_then_eof() {
        let input = spawn_plain_reader(&b"one\r\ntwo\n"[..], 100, None).unwrap();
        // Both came from one `read`: one batch.
        assert!(
            matches!(input.recv().unwrap(), Input::Lines(l) if l.iter().eq([&b"one"[..], b"two"]))
        );
        assert!(matches!(input.recv().unwrap(), Input::Eof));
        assert!(input.recv().is_err(), "the thread ends after EOF");
    }

    #[test]
    fn plain_reader_reports_overlong_lines_and_goes_on() {
        let input = spawn_plain_reader(&b"0123456789\nok\n"[..], 4, None).unwrap();
        assert!(matches!(input.recv().unwrap(), Input::TooLong { limit: 4 }));
        assert!(matches!(input.recv().unwrap(), Input::Lines(l) if l.iter().eq([&b"ok"[..]])));
    }

    /// A stdin that gives one piece per `read`, when the test sends it, like a person typing.
    struct Typist(Receiver<&'static [u8]>);

    impl Read for Typist {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let piece = self.0.recv().unwrap_or_default();
            buf[..piece.len()].copy_from_slice(piece);
            Ok(piece.len())
        }
    }

    #[test]
    fn plain_reader_hands_over_a_line_alone_when_nothing_follows_it() {
        let (keys, typed) = bounded(1);
        let input = spawn_plain_reader(Typist(typed), 100, None).unwrap();
        keys.send(&b"typed\n"[..]).unwrap();
        assert!(matches!(input.recv().unwrap(), Input::Lines(l) if l.iter().eq([&b"typed"[..]])));
        keys.send(&b"again\n"[..]).unwrap();
        assert!(matches!(input.recv().unwrap(), Input::Lines(l) if l.iter().eq([&b"again"[..]])));
        drop(keys);
        assert!(matches!(input.recv().unwrap(), Input::Eof));
    }

    #[test]
    fn raw_mode_lines_end_with_cr_lf_only_on_a_terminal() {
        let mut out = Vec::new();
        write_lines(&mut out, b"a\nb\n", true).unwrap();
        assert_eq!(out, b"a\r\nb\r\n");
        let mut out = Vec::new();
        write_lines(&mut out, b"a\nb\n", false).unwrap();
        assert_eq!(out, b"a\nb\n");
    }
}
