//! The room client: `netchat room --connect`. What `nc HOST PORT` does, plus colors, `--nick`,
//! and a clean ending.
//!
//! Three sources can wake it at any moment: the keyboard, the socket, and Ctrl-C. Each gets its
//! own channel (the keyboard thread of terminal.rs, a socket reader thread, main.rs's Ctrl-C
//! handler) and the main loop `select!`s over all three, exactly like `duplex`. On a terminal,
//! terminal.rs's line editor prints arriving lines above the line being typed.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use std::collections::VecDeque;

use crossbeam_channel::{Receiver, Sender, after, never, select, unbounded};

use super::actions::LineKind;
use super::protocol::{self, Farewell};
use crate::console::Console;
use crate::endpoint::{self, ConnectAddr};
use crate::error::{Error, Result};
use crate::framing::{self, Framing};
use crate::interrupt::Interrupt;
use crate::observe::{By, Observer, Traced, Watch};
use crate::pump::{self, Pumped};
use crate::terminal::{Input, Keyboard, KeyboardOptions};
use crate::text::escape_peer_text;

/// What the client needs besides the address.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// `--max-line`: the longest line accepted from the server or the keyboard.
    pub max_line: usize,
    /// `--nick`: sent as `/nick NAME` right after joining.
    pub nick: Option<String>,
    /// `--framing`: `Line` for a netchat room (or any line-based server); `Raw` for a server that
    /// never frames, such as a classroom Python broadcast script: each chunk is one message, typed
    /// lines go out without a newline, and leaving just closes the connection (such a server has
    /// no `/quit`).
    pub framing: Framing,
}

/// After `/quit`, how long to wait for the server's goodbye and close before leaving anyway.
pub const QUIT_WAIT: Duration = Duration::from_secs(2);

/// After Ctrl-C, how long to wait for the server's goodbye: short, because a person pressing
/// Ctrl-C wants out now, and leaving without the goodbye loses nothing.
pub const INTERRUPT_WAIT: Duration = Duration::from_millis(500);

/// How many hand-overs from the socket reader (each every line one `read` brought, at most
/// `pump::READ_BLOCK` bytes) may wait for the screen. When full, the socket reader stops reading
/// and the server's queue for us fills: a client that cannot keep up is the server's problem to
/// bound, not a reason for us to grow.
const INCOMING_QUEUE: usize = 16;

/// How many typed lines may wait for the socket. When the server stops reading us (we are over
/// the room's rate limit), our `write` blocks in the sender thread, these fill, and the keyboard
/// is not read until they drain: a pasted file waits in its pipe instead of in our memory, and
/// the screen and Ctrl-C keep working meanwhile.
const OUTGOING_QUEUE: usize = 16;

/// A single `read` that brings this much found a backlog waiting in the kernel: the screen was
/// behind the room (a reader that keeps up gets what arrived since its last `read`, a few lines).
/// Half a block, not a whole one: a full read of [`pump::READ_BLOCK`] bytes ends in the middle of
/// a line, so the whole lines it brings are always a little less than a block.
const BACKLOG: usize = pump::READ_BLOCK / 2;

/// If the screen was this far behind the socket (received lines waiting to be shown) this
/// recently when the server closed without a goodbye, the server dropped us for reading too
/// slowly.
const BEHIND_WINDOW: Duration = Duration::from_secs(30);

/// What the main loop gives the sender thread.
enum Outgoing {
    Line(Vec<u8>),
    /// Send our FIN (raw framing's way of leaving: such a server has no `/quit`).
    Finish,
}

/// `netchat room --connect`: joins, chats until `/quit`, end of input, Ctrl-C or the server
/// closing.
pub fn run(
    addr: &ConnectAddr,
    options: &ClientOptions,
    stdin: impl io::Read + Send + 'static,
    console: &mut Console,
    observer: &Observer,
    interrupt: Receiver<Interrupt>,
) -> Result<()> {
    let connection = endpoint::connect_one(addr).map_err(|error| match error {
        Error::Refused { addr } => Error::NoRoom { addr },
        error => error,
    })?;
    let watch = connection.watch(observer, options.framing);
    let endpoint::Connection { stream, peer, .. } = connection;
    // A server that vanished without closing (its machine off the network) is found out by the
    // kernel, and the client says the connection broke (endpoint.rs). Refused: the OS default.
    let _ = endpoint::keep_alive(&stream);
    match options.framing {
        Framing::Line => console.status(&format!(
            "connected to {peer}; type a line to talk to the room, /help for commands, /quit to leave"
        )),
        Framing::Raw => {
            console.status(&format!("connected to {peer}; /quit or Ctrl-D leaves"));
            console.status(options.framing.describe());
        }
    }
    let clone = |what| {
        stream
            .try_clone()
            .map_err(|e| Error::io(format!("cloning the socket for the {what}"), e))
    };
    let from_server = protocol::longest_relayed_line(options.max_line);
    let reporting = pump::Reporting::for_socket(&stream, options.framing, &watch, console);
    let (incoming, reader) =
        spawn_socket_reader(clone("reader")?, options.framing, from_server, reporting)?;
    let mut server = spawn_socket_writer(clone("sender")?, options.framing, &watch)?;
    if let Some(nick) = &options.nick {
        server.queue(format!("/nick {nick}").into_bytes());
    }
    // On a terminal, a line editor: messages print above the line being typed (terminal.rs).
    let keyboard = Keyboard::start(
        stdin,
        &KeyboardOptions {
            max_line: options.max_line,
            prompt: "you> ".to_string(),
            timestamps: false,
            stop_word: None,
        },
        console,
    )?;
    let result = chat(
        &mut server,
        &incoming,
        keyboard.input().clone(),
        &interrupt,
        console,
    );
    // Give the terminal back (raw mode off, prompt erased) before the last lines.
    drop(keyboard);
    // Wake the socket threads (blocked in read, or in a write the server does not read) and
    // wait for them: every thread we own ends here.
    let _ = stream.shutdown(Shutdown::Both);
    drop(incoming);
    let _ = reader.join();
    server.stop();
    watch.closed();
    result
}

/// The `room-recv` thread: the reader pump (pump.rs) on the socket.
fn spawn_socket_reader(
    stream: TcpStream,
    framing: Framing,
    max_line: usize,
    reporting: pump::Reporting,
) -> Result<(Receiver<Pumped>, thread::JoinHandle<()>)> {
    pump::spawn(
        "room-recv",
        stream,
        framing,
        max_line,
        INCOMING_QUEUE,
        reporting,
        |event| event,
    )
    .map_err(|e| Error::io("starting the socket reader thread", e))
}

/// The sender thread: one blocking `write` per typed line, so that the main loop never blocks
/// on the socket. If the server stops reading us, only this thread waits; each line written is
/// acknowledged on `written` (or the error that ended it).
fn spawn_socket_writer(stream: TcpStream, framing: Framing, watch: &Watch) -> Result<Server> {
    let (lines, to_send) = unbounded::<Outgoing>();
    let (acks, written) = unbounded::<io::Result<()>>();
    let sender_watch = watch.clone();
    let handle = thread::Builder::new()
        .name("room-send".into())
        .spawn(move || {
            // `Traced` shows each `write` in the trace; unwatched it only passes them on.
            let mut socket = Traced::new(&stream, sender_watch.clone());
            for item in to_send {
                let result = match item {
                    Outgoing::Line(line) => framing::write_message(&mut socket, framing, &line)
                        .inspect(|()| sender_watch.sent(&line)),
                    Outgoing::Finish => stream
                        .shutdown(Shutdown::Write)
                        .inspect(|()| sender_watch.fin_sent()),
                };
                let failed = result.is_err();
                if acks.send(result).is_err() || failed {
                    return;
                }
            }
        })
        .map_err(|e| Error::io("starting the socket sender thread", e))?;
    Ok(Server {
        framing,
        watch: watch.clone(),
        lines,
        written,
        handle: Some(handle),
        waiting: VecDeque::new(),
        in_flight: 0,
    })
}

/// The connection to the room's server as the main loop sees it: typed lines wait in `waiting`
/// until the sender thread has room for them (at most [`OUTGOING_QUEUE`] in flight).
struct Server {
    framing: Framing,
    /// `--trace` and `--events`.
    watch: Watch,
    lines: Sender<Outgoing>,
    written: Receiver<io::Result<()>>,
    handle: Option<thread::JoinHandle<()>>,
    waiting: VecDeque<Outgoing>,
    in_flight: usize,
}

impl Server {
    /// Queues a line for the server; it goes out after every line typed before it.
    fn queue(&mut self, line: Vec<u8>) {
        self.waiting.push_back(Outgoing::Line(line));
        self.hand_over();
    }

    /// Hands waiting lines to the sender thread while it has room.
    fn hand_over(&mut self) {
        while self.in_flight < OUTGOING_QUEUE {
            let Some(item) = self.waiting.pop_front() else {
                return;
            };
            if self.lines.send(item).is_err() {
                return; // the sender ended: its error arrives on `written`
            }
            self.in_flight += 1;
        }
    }

    /// The sender wrote one line (or failed).
    fn written(&mut self, result: io::Result<()>) -> io::Result<()> {
        self.in_flight = self.in_flight.saturating_sub(1);
        result?;
        self.hand_over();
        Ok(())
    }

    /// Lines typed but not yet taken by the server: it has stopped reading us.
    fn unsent(&self) -> usize {
        self.in_flight + self.waiting.len()
    }

    /// Whether the keyboard may be read: not while typed lines wait for the server.
    fn has_room(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Asks to leave and returns the deadline to wait for the server's goodbye. A netchat room
    /// gets `/quit`. A raw server has no such command: our FIN is the goodbye, and its close
    /// (or the deadline) ends the wait.
    fn quit(&mut self, why: &str, wait: Duration) -> Option<Instant> {
        self.watch.quit(By::Us, why);
        match self.framing {
            Framing::Line => self.queue(format!("/quit {why}").into_bytes()),
            Framing::Raw => {
                self.waiting.push_back(Outgoing::Finish);
                self.hand_over();
            }
        }
        Some(Instant::now() + wait)
    }

    /// Ends the sender thread: the socket must already be shut down, which fails a blocked
    /// `write`.
    fn stop(&mut self) {
        self.waiting.clear();
        let (closed, _) = unbounded();
        self.lines = closed;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// How the conversation is going, for the main loop.
struct Leaving {
    /// Set once we asked to leave: from then on the server's close is the expected ending.
    deadline: Option<Instant>,
    /// The server's goodbye line, once it came: it says whether its close is a normal end.
    goodbye: Option<Farewell>,
    /// When received lines last filled the queue to the screen: the screen was behind.
    behind: Option<Instant>,
    /// A `q`, `quit` or `exit` typed alone and not sent, with the hint that `/quit` leaves:
    /// typed again at once, it is sent as a message.
    held_farewell: Option<Vec<u8>>,
    /// Whether the server has welcomed us as a netchat room does (line framing only).
    welcome: Welcome,
}

/// What the server's first line said about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Welcome {
    /// Nothing heard yet: [`WELCOME_WAIT`] runs.
    Awaited,
    /// A room's welcome: a netchat room.
    Heard,
    /// Something else, or nothing in time: we said it does not look like a room.
    Missing,
    /// `--framing raw`: a server that never frames, not a room; nothing is expected.
    NotExpected,
}

/// How long a netchat room may take to welcome us: it sends its welcome as soon as it accepts.
/// Silence for this long means something else answered (a `half` or `duplex` listener waits for
/// us to speak first).
const WELCOME_WAIT: Duration = Duration::from_secs(2);

/// Says, once, that the server is not a netchat room.
fn not_a_room(state: &mut Leaving, console: &mut Console, why: &str) {
    state.welcome = Welcome::Missing;
    console.notice(&format!(
        "{why}: this does not look like a netchat room (a half or duplex listener? those take \
         one peer: join them with netchat half --connect or netchat duplex --connect)"
    ));
}

/// Looks at the first lines the server sent: a room's welcome, or something else.
fn check_welcome(item: &Pumped, state: &mut Leaving, console: &mut Console) {
    if state.welcome != Welcome::Awaited {
        return;
    }
    if let Pumped::Messages(lines) = item {
        if let Some(first) = lines.iter().next() {
            // A room that turns us away says goodbye instead: a room all the same.
            let goodbye = protocol::farewell(&String::from_utf8_lossy(first)).is_some();
            if goodbye || first.starts_with(protocol::WELCOME_PREFIX.as_bytes()) {
                state.welcome = Welcome::Heard;
            } else {
                not_a_room(
                    state,
                    console,
                    "the server's first line is no room's welcome",
                );
            }
        }
    }
}

/// The main loop: whichever of keyboard, socket and Ctrl-C is ready first is handled first.
// ANCHOR: client_loop
fn chat(
    server: &mut Server,
    incoming: &Receiver<Pumped>,
    keyboard: Receiver<Input>,
    interrupt: &Receiver<Interrupt>,
    console: &mut Console,
) -> Result<()> {
    let mut interrupt = interrupt.clone();
    let mut keyboard_open = true;
    let mut state = Leaving {
        deadline: None,
        goodbye: None,
        behind: None,
        held_farewell: None,
        welcome: match server.framing {
            Framing::Line => Welcome::Awaited,
            Framing::Raw => Welcome::NotExpected,
        },
    };
    let welcome_wait = after(WELCOME_WAIT);
    loop {
        let no_welcome = if state.welcome == Welcome::Awaited {
            welcome_wait.clone()
        } else {
            never()
        };
        let give_up = match state.deadline {
            Some(deadline) => after(deadline.saturating_duration_since(Instant::now())),
            None => never(),
        };
        // While typed lines wait for the server, the keyboard waits too (see OUTGOING_QUEUE).
        let typing = if keyboard_open && server.has_room() {
            keyboard.clone()
        } else {
            never()
        };
        select! {
            recv(incoming) -> item => {
                let Ok(item) = item else {
                    return Err(Error::RoomClosed); // the pump always reports its end first
                };
                // Behind: lines wait for the screen, or one `read` found a backlog in the kernel.
                let backlog = matches!(&item, Pumped::Messages(lines) if lines.bytes().len() >= BACKLOG);
                if incoming.is_full() || backlog {
                    state.behind = Some(Instant::now());
                }
                check_welcome(&item, &mut state, console);
                if let Some(ending) = received(item, &mut state, &server.watch, console)? {
                    // Closed by something that never welcomed us: not a room that crashed.
                    if state.welcome == Welcome::Missing
                        && matches!(ending, Err(Error::RoomClosed))
                    {
                        return Err(Error::NotARoom);
                    }
                    return ending;
                }
            }
            recv(no_welcome) -> _ => {
                not_a_room(&mut state, console, &format!(
                    "no welcome after {} s", WELCOME_WAIT.as_secs()
                ));
            }
            recv(server.written) -> result => {
                if let Ok(result) = result {
                    if let Err(error) = server.written(result) {
                        if state.deadline.is_some() {
                            console.status("you left the room");
                            return Ok(());
                        }
                        return Err(lost(error));
                    }
                }
            }
            recv(typing) -> typed => match typed.unwrap_or(Input::Eof) {
                Input::Line(line) => {
                    if held_back_farewell(&line, &mut state, console) {
                        continue;
                    }
                    if typed_line(server, line, &mut state, console) {
                        return Ok(());
                    }
                }
                // A script piped in arrives in blocks: each of its lines as if typed alone.
                Input::Lines(lines) => {
                    for line in lines.iter() {
                        if typed_line(server, line.to_vec(), &mut state, console) {
                            return Ok(());
                        }
                    }
                }
                Input::TooLong { limit } => console.notice(&format!(
                    "your line is longer than {limit} bytes (--max-line) and was not sent"
                )),
                Input::Interrupted => {
                    if let Some(ending) = interrupted(server, Interrupt::CtrlC, &mut state, console) {
                        return ending;
                    }
                }
                Input::Eof | Input::Failed(_) => {
                    // End of input (Ctrl-D, or the end of a piped script): leave politely.
                    keyboard_open = false;
                    state.deadline = state
                        .deadline
                        .or_else(|| server.quit("end of input", QUIT_WAIT));
                }
            },
            recv(interrupt) -> signal => {
                if let Ok(signal) = signal {
                    if let Some(ending) = interrupted(server, signal, &mut state, console) {
                        return ending;
                    }
                } else {
                    interrupt = never(); // nobody can send Ctrl-C any more: stop watching
                }
            }
            recv(give_up) -> _ => {
                console.status("you left the room (the server did not answer /quit)");
                return Ok(());
            }
        }
    }
}
// ANCHOR_END: client_loop

/// One thing the socket reader reported; `Some` ends the conversation with that result.
fn received(
    item: Pumped,
    state: &mut Leaving,
    watch: &Watch,
    console: &mut Console,
) -> Result<Option<Result<()>>> {
    match item {
        Pumped::Messages(lines) => {
            // A line the server cut for 80-column screens (`protocol::wire_rows`) arrives as
            // rows, each after the first starting with `WIRE_INDENT`, in one write: joined
            // again here, the console cuts it for this screen, however wide.
            let mut whole: Option<(String, LineKind)> = None;
            for bytes in lines.iter() {
                // The server escapes what it relays, but a client trusts no peer: escape again.
                let text = escape_peer_text(bytes);
                if let (Some((line, _)), Some(rest)) =
                    (whole.as_mut(), text.strip_prefix(protocol::WIRE_INDENT))
                {
                    line.push_str(rest);
                    continue;
                }
                if let Some((line, kind)) = whole.take() {
                    console.queue_room_line(&line, kind.tone())?;
                }
                if let Some(farewell) = protocol::farewell(&text) {
                    state.goodbye = Some(farewell);
                }
                let kind = protocol::classify(&text);
                match kind {
                    LineKind::Notice | LineKind::Goodbye => watch.notice(&text),
                    _ => watch.received(bytes),
                }
                whole = Some((text, kind));
            }
            if let Some((line, kind)) = whole {
                console.queue_room_line(&line, kind.tone())?;
            }
            // Everything one `read` brought leaves in one `write` to stdout.
            console.flush_messages()?;
        }
        // Not a message: the server sends whole lines only, so the close cut this one off.
        Pumped::Cut(lines) => {
            for bytes in lines.iter() {
                console.notice(&format!(
                    "the connection ended in the middle of a line; what arrived of it: {}",
                    escape_peer_text(bytes)
                ));
            }
        }
        Pumped::TooLong { limit } => console.dropped_too_long("the server", limit),
        // EOF, or an error after we had already said goodbye: a normal ending.
        Pumped::Closed | Pumped::Failed(_) if state.deadline.is_some() => {
            console.status("you left the room");
            return Ok(Some(Ok(())));
        }
        Pumped::Closed | Pumped::Failed(_) if state.goodbye.is_some() => {
            return Ok(Some(match state.goodbye.take() {
                Some(Farewell::Refused { reason }) => Err(Error::RoomRefused { reason }),
                _ => {
                    console.status("the server closed the connection (its goodbye is above)");
                    Ok(())
                }
            }));
        }
        // No goodbye, and we were behind: the server gave up on us (it cannot send a goodbye
        // through a queue that is full).
        Pumped::Closed | Pumped::Failed(_)
            if state.behind.is_some_and(|at| at.elapsed() < BEHIND_WINDOW) =>
        {
            return Ok(Some(Err(Error::DroppedTooSlow)));
        }
        Pumped::Failed(error) => return Ok(Some(Err(lost(error)))),
        Pumped::Closed => return Ok(Some(Err(Error::RoomClosed))),
    }
    Ok(None)
}

/// Ctrl-C (or a closed window, or `kill`): leave politely if the server is reading us, saying
/// which it was (`/quit window closed`), at once if it is not (our `/quit` would wait behind the
/// lines it has not read), and at once on a second Ctrl-C.
fn interrupted(
    server: &mut Server,
    signal: Interrupt,
    state: &mut Leaving,
    console: &mut Console,
) -> Option<Result<()>> {
    let unsent = server.unsent();
    if state.deadline.is_none() && unsent == 0 {
        state.deadline = server.quit(&signal.to_string(), INTERRUPT_WAIT);
        return None;
    }
    if unsent > 0 {
        console.notice(&format!(
            "{unsent} line(s) you typed were not sent: the server was not reading them \
             (over the room's rate limit?)"
        ));
    }
    console.status("you left the room");
    Some(Ok(()))
}

/// A line we typed: queued for the server, unless we are already leaving. `/quit` starts the
/// wait for the server's goodbye; `true` means the conversation is over (`/quit` to a raw
/// server).
fn typed_line(
    server: &mut Server,
    line: Vec<u8>,
    state: &mut Leaving,
    console: &mut Console,
) -> bool {
    if state.deadline.is_some() {
        return false;
    }
    let quitting = matches!(protocol::parse(&line), protocol::Command::Quit(_));
    if quitting {
        server.watch.quit(By::Us, "/quit");
    }
    if quitting && server.framing == Framing::Raw {
        console.status("you left (closed the connection)");
        return true;
    }
    if let Some(why) = framing::unsendable(server.framing, &line) {
        console.notice(why);
        return false;
    }
    server.queue(line);
    if quitting {
        state.deadline = Some(Instant::now() + QUIT_WAIT);
    }
    false
}

/// `q`, `quit` or `exit` typed alone (at the keyboard, not piped): the student most likely
/// meant to leave, and a room would show the word to every member. So it is not sent the first
/// time, and the hint says that `/quit` leaves; typed again straight after (↑ Enter), it is sent
/// as a message. Returns whether the line was held back.
fn held_back_farewell(line: &[u8], state: &mut Leaving, console: &mut Console) -> bool {
    let word = line.trim_ascii();
    let farewell = ["q", "quit", "exit"]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w.as_bytes()));
    let again = state.held_farewell.take().is_some_and(|held| held == line);
    if !farewell || again {
        return false;
    }
    state.held_farewell = Some(line.to_vec());
    console.notice(&format!(
        "`{}` was not sent: /quit leaves the room (to send it as a message, type it again)",
        String::from_utf8_lossy(word)
    ));
    true
}

/// A broken connection to the room: reset or closed under us means the server went away.
fn lost(error: io::Error) -> Error {
    match Error::io("talking to the room", error) {
        Error::PeerClosed | Error::Reset => Error::RoomClosed,
        other => other,
    }
}
