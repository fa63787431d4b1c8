//! Full-duplex chat: both sides type whenever they like over one TCP connection, like a phone call.
//!
//! Socket calls: `bind` → `listen` → `accept` or `connect` (endpoint.rs), then `read` and `write`
//! on the same socket *at the same time*, from different threads, and `shutdown(Write)` for a
//! half-close. A TCP connection is two independent byte streams, one each way; half mode used one
//! at a time only because its single thread could block in only one place.
//!
//! Threads: `stdin-reader` (or `line-editor` on a terminal, terminal.rs) turns the keyboard into
//! [`Input`] events, `socket-reader` turns the socket into [`PeerEvent`]s; each feeds a channel and
//! the main thread `select!`s over both and Ctrl-C ([`converse`]). `bye` ends both sides; end of
//! stdin (Ctrl-D) sends a FIN but keeps showing what the peer sends, until it ends too.
//!
//! Try it, in two terminals:
//!
//! ```text
//! netchat duplex --listen 5000       # terminal 1
//! netchat duplex --connect 5000      # terminal 2: now type in both, any time
//! ```

use std::io::{BufWriter, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crossbeam_channel::{Receiver, after, bounded, never, select};

use crate::console::Console;
use crate::endpoint::{self, Endpoint, Role};
use crate::error::{Error, Result};
use crate::framing::{self, Framing, Messages, StopWord};
use crate::interrupt::Interrupt;
use crate::modes::room::protocol;
use crate::observe::{By, Observer, Traced, Watch};
use crate::pump::{self, Pumped};
use crate::shaping::{COALESCE_PAUSE, Shaped, Shaping};
use crate::terminal::{Input, Keyboard, KeyboardOptions};

/// What `duplex` needs besides the endpoint.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--max-line`: the longest message accepted from the peer or the keyboard.
    pub max_line: usize,
    /// `--timestamps`: prefix messages with the local time.
    pub timestamps: bool,
    /// `--framing`: newline-terminated lines, or raw chunks for unframed scripts.
    pub framing: Framing,
    /// `--chop`, `--delay`, `--coalesce`: TCP experiments (shaping.rs); off by default.
    pub shaping: Shaping,
    /// `--nodelay on|off`: TCP_NODELAY.
    pub nodelay: bool,
}

/// The word that ends the conversation for both sides.
pub const BYE: &str = "bye";

/// `bye` alone on a line, in any case, spaces around it forgiven. Both reader pumps look for it
/// while they frame a block, so the main thread does not look at every line of a file again.
pub const BYE_LINE: StopWord = StopWord(BYE);

/// How many hand-overs from the socket reader may wait for the main thread: each is everything
/// one `read` brought, at most `pump::READ_BLOCK` (64 KiB) of lines, so at most 512 KiB wait.
/// When the main thread falls behind (a slow terminal), the socket reader waits, the kernel's
/// receive buffer fills, and TCP's flow control slows the sender down: memory stays bounded
/// whatever the peer sends. Eight keep both threads busy through the moments the scheduler
/// gives their core to someone else (measured: with 4, netchat fell behind nc on 1 KiB lines
/// more often); many more would only let the blocks fall out of the processor's caches.
pub const PEER_QUEUE: usize = 8;

/// One thing the socket reader found: the reader pump's events (pump.rs) — every whole message
/// one `read` brought, a line that was too long, the peer's FIN, or a failed `read`.
pub type PeerEvent = Pumped;

/// How the conversation ended; every one of them is a normal end (exit code 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// We typed `bye`.
    WeSaidBye,
    /// The peer sent `bye`.
    PeerSaidBye,
    /// Both directions are closed: our input ended and the peer sent its FIN.
    BothClosed,
    /// Ctrl-C.
    Interrupted,
}

/// What one event does to the conversation.
enum Step {
    Continue,
    /// Our sending direction is closed (we sent a FIN).
    StopSending,
    /// The peer's direction is closed (its FIN arrived).
    StopReceiving,
    End(Ending),
}

/// `netchat duplex`: opens the connection, starts the two reader threads, converses, hangs up.
// ANCHOR: run
pub fn run(
    endpoint: &Endpoint,
    options: &Options,
    stdin: impl Read + Send + 'static,
    console: &mut Console,
    observer: &Observer,
    interrupt: Receiver<Interrupt>,
) -> Result<()> {
    let Some(connection) = open(endpoint, options.framing, console, observer, &interrupt)? else {
        return Ok(());
    };
    endpoint::set_nodelay(&connection.stream, options.nodelay)?;
    if connection.role == Role::Connector {
        // A netchat room answers a newcomer with its welcome: say where we are, and how to join.
        console.hint_on_first_message(
            protocol::WELCOME_PREFIX,
            protocol::reached_a_room("duplex", connection.peer),
        );
    }
    let watch = connection.watch(observer, options.framing);
    let stream = connection.stream;
    if let Some(experiment) = options.shaping.describe() {
        console.status(&experiment);
    }
    console.set_timestamps(options.timestamps);
    if options.framing == Framing::Raw {
        console.status(options.framing.describe());
    }
    let reporting = pump::Reporting::for_socket(&stream, options.framing, &watch, console)
        .watching(Some(BYE_LINE));
    let (peer_events, socket_reader) =
        spawn_socket_reader(&stream, options.framing, options.max_line, reporting)?;
    let keyboard = Keyboard::start(
        stdin,
        &KeyboardOptions {
            max_line: options.max_line,
            prompt: "you> ".to_string(),
            timestamps: options.timestamps,
            stop_word: Some(BYE_LINE),
        },
        console,
    )?;
    if console.is_interactive() {
        console
            .status("type whenever you like; the peer's messages appear as they arrive; bye ends");
    }
    let result = converse(
        Outgoing::new(&stream, options.framing, options.shaping, watch.clone()),
        keyboard.input(),
        &peer_events,
        &interrupt,
        console,
    );
    // Give the terminal back (raw mode off, prompt erased) before the last lines.
    drop(keyboard);
    // After Ctrl-D our FIN is out already (on_keyboard); every other ending sends it now.
    if !matches!(result, Ok(Ending::BothClosed)) {
        watch.shutdown_write(&stream);
    }
    hang_up(&stream, peer_events, result.is_ok(), &watch, console);
    // It ends: hang_up shut the socket down, which wakes its read, and dropped its channel.
    let _ = socket_reader.join();
    result.map(|_ending| ())
}
// ANCHOR_END: run

/// Opens the connection like [`endpoint::open_one`], but on a helper thread, so that Ctrl-C
/// while waiting for a peer (in `accept`, or a slow `connect`) ends netchat at once instead of
/// being noticed only later, when a peer arrives. `None`: interrupted before anyone connected.
///
/// If interrupted, the helper stays blocked in `accept`/`connect` and is not joined: nothing can
/// wake it portably, and the process exits around it, closing its socket.
// ANCHOR: open
fn open(
    endpoint: &Endpoint,
    framing: Framing,
    console: &mut Console,
    observer: &Observer,
    interrupt: &Receiver<Interrupt>,
) -> Result<Option<endpoint::Connection>> {
    let (sender, opened) = bounded(1);
    let helper = match endpoint {
        Endpoint::Listen(addr) => {
            let listener = endpoint::listen_announced(addr, "duplex", framing, console, observer)?;
            // The helper owns the listener and drops it after one peer: a third person is refused.
            thread::Builder::new()
                .name("acceptor".into())
                .spawn(move || {
                    let _ = sender.send(endpoint::accept_one(listener));
                })
        }
        Endpoint::Connect(addr) => {
            let addr = addr.clone();
            thread::Builder::new()
                .name("connector".into())
                .spawn(move || {
                    let _ = sender.send(endpoint::connect_one(&addr));
                })
        }
    };
    helper.map_err(|e| Error::io("starting the connection thread", e))?;
    let opened = select! {
        recv(opened) -> result => result,
        recv(interrupt) -> signal => match signal {
            Ok(_) => {
                // A peer may have connected at the very same moment: it still gets its bye.
                if let Ok(Ok(connection)) = opened.try_recv() {
                    let _ = framing::write_message(&mut &connection.stream, framing, BYE.as_bytes());
                    endpoint::close_gracefully(&connection.stream, &connection.watch(observer, framing));
                    console.status("interrupted (Ctrl-C): said bye to the peer");
                } else {
                    console.status("interrupted (Ctrl-C) before anyone connected");
                }
                return Ok(None);
            }
            // No Ctrl-C handler: just wait for the connection.
            Err(_) => opened.recv(),
        },
    };
    // The helper always sends before it ends; a closed channel means it died (a panic).
    let connection = opened.map_err(|_| Error::ThreadDied {
        thread: "the connection helper",
    })??;
    endpoint::announce(&connection, console);
    Ok(Some(connection))
}
// ANCHOR_END: open

/// Starts the `socket-reader` thread: it blocks in `read` on (a clone of) the socket and sends
/// every message it frames to the returned channel, ending at EOF, at an error, or when nobody
/// listens any more.
// ANCHOR: spawn_socket_reader
pub fn spawn_socket_reader(
    stream: &TcpStream,
    framing: Framing,
    max_line: usize,
    reporting: pump::Reporting,
) -> Result<(Receiver<PeerEvent>, JoinHandle<()>)> {
    // try_clone gives a second handle (a dup'ed file descriptor) to the *same* socket: one
    // thread reads through it while the main thread writes through the original.
    let socket = stream
        .try_clone()
        .map_err(|e| Error::io("preparing the socket for a reader thread", e))?;
    // One `read` often brings many lines (a file piped through the peer): the pump hands them
    // over together, one channel message, one wake-up of the main thread, instead of one per line.
    pump::spawn(
        "socket-reader",
        socket,
        framing,
        max_line,
        PEER_QUEUE,
        reporting,
        |event| event,
    )
    .map_err(|e| Error::io("starting the socket reader thread", e))
}
// ANCHOR_END: spawn_socket_reader

/// The main loop: wait for whichever comes first — a line from the keyboard, a message from the
/// peer, or Ctrl-C — and handle it. A closed direction's channel is swapped for `never()`, so
/// `select!` stops looking at it while the other direction goes on.
// ANCHOR: converse
pub fn converse(
    mut outgoing: Outgoing<'_>,
    keyboard: &Receiver<Input>,
    peer: &Receiver<PeerEvent>,
    interrupt: &Receiver<Interrupt>,
    console: &mut Console,
) -> Result<Ending> {
    let (mut sending, mut receiving) = (true, true);
    let mut interrupt = interrupt.clone();
    loop {
        let keyboard = if sending { keyboard.clone() } else { never() };
        let peer = if receiving { peer.clone() } else { never() };
        // `--coalesce`: a batch still short of N messages leaves when the input pauses.
        let pause = match outgoing.gathering_since() {
            Some(since) => {
                after((since + COALESCE_PAUSE).saturating_duration_since(Instant::now()))
            }
            None => never(),
        };
        let step = select! {
            recv(keyboard) -> input => {
                let step = on_keyboard(input.unwrap_or(Input::Eof), &mut outgoing, console)?;
                // Flush when the input pauses: a typed line goes out at once, while a file
                // piped in keeps the channel full and travels in big writes.
                if keyboard.is_empty() && outgoing.gathering_since().is_none() {
                    outgoing.flush()?;
                }
                step
            }
            recv(pause) -> _ => {
                outgoing.flush()?;
                Step::Continue
            }
            recv(peer) -> event => {
                let event = event.unwrap_or(PeerEvent::Closed);
                on_peer(event, sending, &outgoing.watch, console)?
            }
            recv(interrupt) -> signal => match signal {
                Ok(_) => on_interrupt(sending, &mut outgoing, console)?,
                // Nobody can send Ctrl-C any more (the handler could not be installed).
                Err(_) => { interrupt = never(); Step::Continue }
            },
        };
        match step {
            Step::Continue => {}
            Step::StopSending => sending = false,
            Step::StopReceiving => receiving = false,
            Step::End(ending) => return Ok(ending),
        }
        if !sending && !receiving {
            return Ok(Ending::BothClosed);
        }
    }
}
// ANCHOR_END: converse

/// A line typed (or piped) on our side.
// ANCHOR: on_keyboard
fn on_keyboard(input: Input, outgoing: &mut Outgoing<'_>, console: &mut Console) -> Result<Step> {
    match input {
        Input::Line(line) => on_line(&line, outgoing, console),
        Input::Lines(lines) => on_lines(lines, outgoing, console),
        Input::TooLong { limit } => {
            console.notice(&format!(
                "your line is longer than {limit} bytes (--max-line) and was not sent"
            ));
            Ok(Step::Continue)
        }
        // A half-close: FIN goes out after everything we sent, and the peer's `read` will
        // return 0. Our receiving direction stays open, so its replies still arrive.
        Input::Eof => {
            outgoing.flush()?;
            outgoing
                .watch
                .shutdown_write(outgoing.socket.get_ref().get_ref().get_ref());
            console.status(
                "end of input: sent FIN (half-close); still showing what the peer sends until it ends",
            );
            Ok(Step::StopSending)
        }
        Input::Interrupted => on_interrupt(true, outgoing, console),
        Input::Failed(e) => Err(Error::io("reading standard input", e)),
    }
}
// ANCHOR_END: on_keyboard

/// Piped input, every line one `read` brought: each line means what it would mean alone, but
/// with line framing the lines before a `bye` (all of them, usually) leave in one `write`, as
/// they came: the block is already their wire form, a newline after each.
// ANCHOR: on_lines
fn on_lines(
    mut lines: Messages,
    outgoing: &mut Outgoing<'_>,
    console: &mut Console,
) -> Result<Step> {
    if outgoing.framing == Framing::Raw || outgoing.shaping.is_on() {
        // Each message its own `write` (see `Outgoing::send`), or shaped one by one: no bulk
        // path to take.
        for line in lines.iter() {
            let step = on_line(line, outgoing, console)?;
            if !matches!(step, Step::Continue) {
                return Ok(step);
            }
        }
        return Ok(Step::Continue);
    }
    let bye = lines.find(BYE_LINE);
    if let Some(at) = bye {
        lines.truncate(at);
    }
    outgoing.send_block(lines.bytes())?;
    match bye {
        Some(_) => on_line(BYE.as_bytes(), outgoing, console),
        None => Ok(Step::Continue),
    }
}
// ANCHOR_END: on_lines

/// One line of our input: `bye`, or a message for the peer.
fn on_line(line: &[u8], outgoing: &mut Outgoing<'_>, console: &mut Console) -> Result<Step> {
    if is_bye(line) {
        outgoing.send(BYE.as_bytes())?;
        outgoing.flush()?;
        outgoing.watch.quit(By::Us, BYE);
        console.status("you said bye");
        Ok(Step::End(Ending::WeSaidBye))
    } else if let Some(why) = framing::unsendable(outgoing.framing, line) {
        console.notice(why);
        Ok(Step::Continue)
    } else {
        outgoing.send(line)?;
        Ok(Step::Continue)
    }
}

/// Something the socket reader found.
// ANCHOR: on_peer
fn on_peer(event: PeerEvent, sending: bool, watch: &Watch, console: &mut Console) -> Result<Step> {
    match event {
        // A last line without its newline (`printf 'hi' | nc`) is a message like any other.
        PeerEvent::Messages(mut lines) | PeerEvent::Cut(mut lines) => {
            // The messages before a `bye` are shown; the bye ends the conversation.
            let bye = lines.find(BYE_LINE);
            // What was received, up to and including a bye (`--events`).
            if watch.is_on() {
                let shown = bye.map_or(lines.len(), |at| at + 1);
                lines
                    .iter()
                    .take(shown)
                    .for_each(|line| watch.received(line));
            }
            if let Some(at) = bye {
                lines.truncate(at);
            }
            // One flush, so one `write` to stdout, for everything this read brought.
            console.queue_peer_messages("peer", &lines)?;
            console.flush_messages()?;
            if bye.is_some() {
                watch.quit(By::Peer, BYE);
                console.status("the peer said bye");
                return Ok(Step::End(Ending::PeerSaidBye));
            }
            Ok(Step::Continue)
        }
        PeerEvent::TooLong { limit } => {
            console.dropped_too_long("the peer", limit);
            Ok(Step::Continue)
        }
        // FIN: the peer will send nothing more. It may have only half-closed (its input ended)
        // and still read what we send, so our direction stays open until our input ends too.
        PeerEvent::Closed if sending => {
            console.status(
                "the peer finished sending (FIN); what you type is still sent: \
                 type bye or press Ctrl-D to end",
            );
            Ok(Step::StopReceiving)
        }
        PeerEvent::Closed => {
            console.status("the peer closed the connection");
            Ok(Step::StopReceiving)
        }
        PeerEvent::Failed(e) => Err(Error::io("receiving from the peer", e)),
    }
}
// ANCHOR_END: on_peer

/// Ctrl-C: say `bye` (if we still can) so the peer sees a polite end, not a vanished partner.
fn on_interrupt(sending: bool, outgoing: &mut Outgoing<'_>, console: &mut Console) -> Result<Step> {
    if sending {
        // The peer may be gone already; we are leaving either way.
        let _ = outgoing
            .send(BYE.as_bytes())
            .and_then(|()| outgoing.flush());
        outgoing.watch.quit(By::Us, "Ctrl-C");
        console.status("interrupted (Ctrl-C): said bye to the peer");
    } else {
        console.status("interrupted (Ctrl-C)");
    }
    Ok(Step::End(Ending::Interrupted))
}

/// Closes the connection without losing anything: our FIN first, then wait a moment
/// ([`endpoint::LINGER`]) for the peer's FIN, showing any messages still in flight (typed before
/// the peer saw our bye). Closing while unread data sits in our receive buffer would make the
/// kernel send a RST instead of a FIN; endpoint::close_gracefully explains the same dance.
// ANCHOR: hang_up
fn hang_up(
    stream: &TcpStream,
    peer: Receiver<PeerEvent>,
    drain: bool,
    watch: &Watch,
    console: &mut Console,
) {
    let deadline = Instant::now() + endpoint::LINGER;
    let mut draining = drain;
    while draining {
        draining = match peer.recv_deadline(deadline) {
            Ok(PeerEvent::Messages(lines) | PeerEvent::Cut(lines)) => {
                lines.iter().filter(|line| !is_bye(line)).all(|line| {
                    watch.received(line);
                    console.peer_message("peer", line).is_ok()
                })
            }
            Ok(PeerEvent::TooLong { .. }) => true,
            Ok(PeerEvent::Closed | PeerEvent::Failed(_)) | Err(_) => false,
        };
    }
    // Wakes the socket reader if it is still blocked in `read` (a peer that never closed), and
    // dropping the channel ends it if it is blocked handing over a message.
    let _ = stream.shutdown(Shutdown::Both);
    drop(peer);
    watch.closed();
}
// ANCHOR_END: hang_up

/// `bye` alone on a line, in any case, spaces around it forgiven ([`BYE_LINE`]).
pub fn is_bye(line: &[u8]) -> bool {
    BYE_LINE.is(line)
}

/// Our sending direction: the socket, behind a buffer, and the framing both sides agreed on.
///
/// Messages are gathered in the buffer and leave when the input pauses ([`converse`] flushes
/// when the keyboard channel is empty) or the buffer is full. A person typing never has a second
/// line waiting, so each typed line is still its own `write` and leaves at once (TCP_NODELAY,
/// endpoint.rs). A file piped into stdin has thousands waiting: one `write` carries 64 KiB of
/// them, instead of one system call, and one wake-up of the peer's reader, per 40-byte line.
// ANCHOR: outgoing
pub struct Outgoing<'a> {
    /// `Traced` shows each `write` in the trace; when nobody watches it only passes them on.
    /// `Shaped` applies `--chop` and `--delay`; when they are off it only passes writes on.
    socket: BufWriter<Shaped<Traced<&'a TcpStream>>>,
    framing: Framing,
    shaping: Shaping,
    /// Messages queued since the last flush, and when the last of them was (`--coalesce`).
    gathered: (usize, Option<Instant>),
    watch: Watch,
}

/// How many bytes of messages may gather before they are written anyway.
pub const SEND_BUFFER: usize = 64 * 1024;

impl<'a> Outgoing<'a> {
    pub fn new(socket: &'a TcpStream, framing: Framing, shaping: Shaping, watch: Watch) -> Self {
        let traced = Traced::new(socket, watch.clone());
        Outgoing {
            socket: BufWriter::with_capacity(SEND_BUFFER, Shaped::new(traced, shaping)),
            framing,
            shaping,
            gathered: (0, None),
            watch,
        }
    }

    /// With `--coalesce`: since when a batch short of N messages waits for more.
    fn gathering_since(&self) -> Option<Instant> {
        self.shaping.coalesce.and(self.gathered.1)
    }

    /// Queues one message (framing.rs adds the newline). With raw framing the message leaves at
    /// once, in its own `write`: without a newline, only the timing of the writes separates two
    /// messages for a script that calls `recv(1024)`, so gathering them would merge them for sure.
    fn send(&mut self, message: &[u8]) -> Result<()> {
        framing::queue_message(&mut self.socket, self.framing, message)
            .map_err(|e| Error::io("sending to the peer", e))?;
        self.watch.sent(message);
        self.gathered = (self.gathered.0 + 1, Some(Instant::now()));
        let leave_now = match self.shaping.coalesce {
            // `--coalesce N`: the batch leaves, in one write, once it holds N messages.
            Some(n) => self.gathered.0 >= n,
            // `--chop`: each message leaves alone, so its pieces are its own.
            None => self.framing == Framing::Raw || self.shaping.chop.is_some(),
        };
        if leave_now {
            self.flush()?;
        }
        Ok(())
    }

    /// Queues messages that are already in their wire form (line framing: each followed by its
    /// newline). A large block (a file piped in comes in blocks of up to 64 KiB) goes straight
    /// to the socket in one `write`, after whatever was queued before it: copying it into the
    /// buffer first would cost a pass over every byte and save no system call.
    fn send_block(&mut self, wire: &[u8]) -> Result<()> {
        let sent = if wire.len() >= SEND_BUFFER / 2 {
            self.flush()?;
            self.socket.get_mut().write_all(wire)
        } else {
            self.socket.write_all(wire)
        };
        sent.map_err(|e| Error::io("sending to the peer", e))?;
        if self.watch.is_on() {
            let lines = wire.strip_suffix(b"\n").unwrap_or(wire);
            if !wire.is_empty() {
                lines
                    .split(|&b| b == b'\n')
                    .for_each(|line| self.watch.sent(line));
            }
        }
        Ok(())
    }

    /// Writes everything queued, in as few `write` calls as the kernel allows.
    fn flush(&mut self) -> Result<()> {
        self.gathered = (0, None);
        self.socket
            .flush()
            .map_err(|e| Error::io("sending to the peer", e))
    }
}
// ANCHOR_END: outgoing

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::net::TcpListener;

    fn quiet_console() -> Console {
        Console::new(Box::new(io::sink()), Box::new(io::sink()), false)
    }

    fn outgoing(socket: &TcpStream) -> Outgoing<'_> {
        Outgoing::new(socket, Framing::Line, Shaping::default(), Watch::off())
    }

    fn socket_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (b, _) = listener.accept().unwrap();
        (a, b)
    }

    #[test]
    fn bye_is_forgiving_about_case_and_spaces() {
        assert!(is_bye(b"bye"));
        assert!(is_bye(b"  BYE "));
        assert!(is_bye(b"Bye\t"));
        assert!(!is_bye(b"goodbye"));
        assert!(!is_bye(b"bye now"));
    }

    /// Converses with only the keyboard speaking: returns how it ended and what reached the peer.
    fn converse_typing(inputs: Vec<Input>) -> (Ending, String) {
        let (ours, theirs) = socket_pair();
        let (keys, keyboard) = bounded(inputs.len());
        let (_peer_tx, peer) = bounded(1);
        inputs
            .into_iter()
            .for_each(|input| keys.send(input).unwrap());
        let ending = converse(
            outgoing(&ours),
            &keyboard,
            &peer,
            &never(),
            &mut quiet_console(),
        )
        .unwrap();
        drop(ours);
        let mut wire = String::new();
        (&theirs).read_to_string(&mut wire).unwrap();
        (ending, wire)
    }

    #[test]
    fn typing_bye_sends_it_and_ends() {
        let typed = vec![Input::Line(b"hi".to_vec()), Input::Line(b" Bye ".to_vec())];
        let (ending, wire) = converse_typing(typed);
        assert_eq!(ending, Ending::WeSaidBye);
        assert_eq!(wire, "hi\nbye\n");
    }

    #[test]
    fn piped_lines_leave_as_one_block_up_to_a_bye() {
        let block = Messages::from_iter(["one", "two", " BYE", "never sent"]);
        let (ending, wire) = converse_typing(vec![Input::Lines(block)]);
        assert_eq!(ending, Ending::WeSaidBye);
        assert_eq!(wire, "one\ntwo\nbye\n");
    }

    #[test]
    fn eof_then_the_peers_fin_closes_both_directions() {
        let (ours, theirs) = socket_pair();
        let (keys, keyboard) = bounded(4);
        let (peer_tx, peer) = bounded(4);
        keys.send(Input::Eof).unwrap();
        peer_tx
            .send(PeerEvent::Messages(Messages::from_iter([b"late reply"])))
            .unwrap();
        peer_tx.send(PeerEvent::Closed).unwrap();
        let ending = converse(
            outgoing(&ours),
            &keyboard,
            &peer,
            &never(),
            &mut quiet_console(),
        )
        .unwrap();
        assert_eq!(ending, Ending::BothClosed);
        // Our FIN went out: the peer reads EOF.
        let mut wire = Vec::new();
        (&theirs).read_to_end(&mut wire).unwrap();
        assert!(wire.is_empty());
    }

    #[test]
    fn a_reset_is_an_error() {
        let (ours, _theirs) = socket_pair();
        let (_keys, keyboard) = bounded(1);
        let (peer_tx, peer) = bounded(1);
        peer_tx
            .send(PeerEvent::Failed(io::ErrorKind::ConnectionReset.into()))
            .unwrap();
        let result = converse(
            outgoing(&ours),
            &keyboard,
            &peer,
            &never(),
            &mut quiet_console(),
        );
        assert!(matches!(result, Err(Error::Reset)));
    }

    #[test]
    fn ctrl_c_says_bye() {
        let (ours, theirs) = socket_pair();
        let (_keys, keyboard) = bounded(1);
        let (_peer_tx, peer) = bounded(1);
        let (ctrl_c, interrupt) = bounded(1);
        ctrl_c.send(Interrupt::CtrlC).unwrap();
        let ending = converse(
            outgoing(&ours),
            &keyboard,
            &peer,
            &interrupt,
            &mut quiet_console(),
        )
        .unwrap();
        assert_eq!(ending, Ending::Interrupted);
        drop(ours);
        let mut wire = String::new();
        (&theirs).read_to_string(&mut wire).unwrap();
        assert_eq!(wire, "bye\n");
    }
}
