//! The keyboard, for the modes where messages arrive while you type (`duplex`, the `room` client).
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
//! Raw mode also turns Ctrl-C and Ctrl-D into keys rather than a signal and an end of file: the
//! editor reports them as [`Input::Interrupted`] and [`Input::Eof`].

use std::io::{self, IsTerminal, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use colored::Colorize;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, bounded, select};
use crossterm::event::{self, Event, KeyEvent, KeyEventKind};
use crossterm::{cursor, queue, terminal};

use crate::console::{self, Console};
use crate::error::{Error, Result};
use crate::framing::{Frame, Framing, LineReader, Messages, StopWord};
use crate::pump::{self, Pumped};

mod blocked;
mod editor;

pub use blocked::BlockedLine;
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
}

impl PromptLine {
    fn new(options: &KeyboardOptions) -> PromptLine {
        PromptLine {
            prompt: options.prompt.clone(),
            edit: LineEditor::new(options.max_line),
            cursor_row: 0,
            timestamps: options.timestamps,
        }
    }

    /// Removes the prompt and partial input, leaving the cursor at the start of where they were.
    /// A long input may have wrapped onto several rows: go up to the first one, then clear down.
    // ANCHOR: erase_prompt
    fn erase(&mut self, out: &mut Terminal) -> io::Result<()> {
        let rows_up = std::mem::take(&mut self.cursor_row);
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
        let prompt = self.prompt.green().bold();
        let text = crate::text::escape_peer_text(line.as_bytes());
        write!(out, "{}{prompt}{text}\r\n", time.dimmed())?;
        self.draw(out)
    }

    /// Applies one key and shows the result; returns what the key hands to the mode, if anything.
    // ANCHOR: on_key
    fn on_key(&mut self, out: &mut Terminal, key: KeyEvent) -> io::Result<Option<Input>> {
        match self.edit.key(key) {
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
            Action::Interrupt => return Ok(Some(Input::Interrupted)),
            Action::Eof => return Ok(Some(Input::Eof)),
        }
        Ok(None)
    }
    // ANCHOR_END: on_key
}

/// The stream the editor draws on: the console's stdout, a terminal whenever the editor runs.
pub type Terminal = Box<dyn Write + Send>;

/// Cursor moves take a u16; a line can never be that many rows or columns.
fn clamp_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Waits up to `wait` for a key press (not a release: Windows reports both; not a resize or a
/// mouse event).
fn next_key(wait: Duration) -> io::Result<Option<KeyEvent>> {
    if !event::poll(wait)? {
        return Ok(None);
    }
    match event::read()? {
        Event::Key(key) if key.kind != KeyEventKind::Release => Ok(Some(key)),
        _ => Ok(None),
    }
}

/// Raw mode for as long as this lives: dropping it, on every path out of a function (an error,
/// an early return, a panic unwinding), gives the terminal back cooked.
struct RawMode;

impl RawMode {
    fn enable() -> io::Result<RawMode> {
        terminal::enable_raw_mode()?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = terminal::disable_raw_mode();
    }
}

/// Gives the terminal back in its normal (cooked) mode if netchat had switched it to raw mode;
/// does nothing otherwise. For the paths that end the process without unwinding: main.rs calls
/// it from its panic hook and before exiting on a second Ctrl-C.
pub fn restore() {
    let _ = terminal::disable_raw_mode();
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
    terminal::enable_raw_mode()?;
    let screen: SharedScreen = Arc::new(Mutex::new(Screen {
        out: Box::new(io::sink()),
        active: true,
        line: PromptLine::new(options),
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
            let _ = terminal::disable_raw_mode();
            Err(error)
        }
    }
}

/// The line editor thread: keys in, lines out.
struct Editor {
    screen: SharedScreen,
    sender: Sender<Input>,
    stopped: Receiver<()>,
    /// Never sent on: dropped with the editor when its thread ends, which tells [`Keyboard`].
    _finishing: Sender<()>,
}

/// What the editor does after handing over an event.
enum Flow {
    Continue,
    Stop,
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
        let _ = terminal::disable_raw_mode();
    }

    fn read_keys(&self) -> io::Result<()> {
        loop {
            if matches!(self.stopped.try_recv(), Err(TryRecvError::Disconnected)) {
                return Ok(());
            }
            // Waiting with a timeout rather than blocking in read(): that is what lets this
            // thread, unlike the plain stdin reader, notice that it should stop, and be joined.
            let Some(key) = next_key(KEY_POLL)? else {
                continue;
            };
            let input = {
                let mut guard = lock(&self.screen);
                let screen = &mut *guard;
                screen.line.on_key(&mut screen.out, key)?
            };
            let Some(input) = input else { continue };
            let last = matches!(input, Input::Eof);
            if let Flow::Stop = self.send(input) {
                return Ok(());
            }
            if last {
                return Ok(());
            }
        }
    }

    /// Hands an event to the main loop, unless the conversation is over (then stop).
    fn send(&self, input: Input) -> Flow {
        select! {
            send(self.sender, input) -> sent => if sent.is_ok() { Flow::Continue } else { Flow::Stop },
            recv(self.stopped) -> _ => Flow::Stop,
        }
    }
}

/// The keyboard for a mode that reads it only when it is its turn (`half`): one line at a time,
/// on the calling thread, with nothing else printed meanwhile.
///
/// On a terminal each call switches to raw mode, edits one line (history included, kept from
/// turn to turn), and switches back. Between turns the terminal is cooked again, so what the user
/// types out of turn is echoed by the kernel and waits in its buffer: the next turn's editor
/// reads those keys first (a line ended with Enter out of turn is sent at once).
pub enum TurnKeyboard<R: Read> {
    /// A person at a terminal: the line editor, and its state from turn to turn.
    Editor(PromptLine),
    /// A pipe or a file: plain lines.
    Plain(LineReader<R>),
}

impl<R: Read> TurnKeyboard<R> {
    /// The line editor when a person is at a terminal ([`Console::is_interactive`]), plain lines
    /// from `stdin` otherwise.
    pub fn new(stdin: R, options: &KeyboardOptions, console: &Console) -> TurnKeyboard<R> {
        if console.is_interactive() {
            TurnKeyboard::Editor(PromptLine::new(options))
        } else {
            TurnKeyboard::Plain(LineReader::new(stdin, options.max_line))
        }
    }

    /// Blocks until one line is typed (or input ends, or Ctrl-C in the editor).
    // ANCHOR: read_turn
    pub fn read_line(&mut self, console: &mut Console) -> io::Result<Input> {
        let line = match self {
            TurnKeyboard::Plain(lines) => {
                return Ok(match lines.read_frame()? {
                    Some(Frame::Line(line)) => Input::Line(line),
                    Some(Frame::TooLong { limit }) => Input::TooLong { limit },
                    None => Input::Eof,
                });
            }
            TurnKeyboard::Editor(line) => line,
        };
        let out = console.screen();
        let raw = RawMode::enable()?;
        line.draw(out)?;
        let input = loop {
            if let Some(key) = next_key(Duration::from_secs(3600))? {
                if let Some(input) = line.on_key(out, key)? {
                    break input;
                }
            }
        };
        line.erase(out)?;
        out.flush()?;
        drop(raw);
        Ok(input)
    }
    // ANCHOR_END: read_turn

    /// Before a message is printed out of our turn: on a terminal, erases what the kernel echoed
    /// of a line typed meanwhile, so the message does not land glued to it. The keys themselves
    /// still wait in the kernel's buffer; the next turn's editor shows them on its line.
    pub fn clear_echo(&self, console: &mut Console) -> io::Result<()> {
        if let TurnKeyboard::Editor(_) = self {
            let out = console.screen();
            queue!(
                out,
                cursor::MoveToColumn(0),
                terminal::Clear(terminal::ClearType::CurrentLine)
            )?;
        }
        Ok(())
    }
}

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
