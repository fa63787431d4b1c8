//! Half-duplex chat: strict turns over one TCP connection, like a walkie-talkie.
//!
//! Socket calls: the listener does `bind` → `listen` → `accept` (one peer, then it stops
//! listening); the other side does `connect` (both in endpoint.rs). Then a single thread
//! alternates two *blocking* calls: read a line from the keyboard and `write` it to the socket,
//! then `read` the socket until one whole message is back. While it is blocked in one call it
//! cannot notice the other source — that is the lesson, and the reason `duplex` needs threads.
//! (On a terminal a status line names that call and counts its seconds, drawn by a helper
//! thread that also keeps the keyboard in the peer's turn: terminal.rs, `PeerTurn`.)
//! The connecting side speaks first. `q` (or the end of stdin) sends `q` and both sides close.
//!
//! Try it, in two terminals:
//!
//! ```text
//! netchat half --listen 5000       # terminal 1: waits for one peer
//! netchat half --connect 5000      # terminal 2: speaks first
//! ```

use std::io::{Read, Write};

use crate::console::Console;
use crate::endpoint::{self, Endpoint, Role};
use crate::error::{Error, Result};
use crate::framing::{self, Frame, Framing, MessageReader, UnframedHint};
use crate::modes::room::protocol;
use crate::observe::{By, Call, Observer, Traced, Watch};
use crate::shaping::{Shaped, Shaping};
use crate::terminal::{Input, KeyboardOptions, TurnKeyboard};

/// What `half` needs besides the endpoint.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--max-line`: the longest message accepted from the peer or the keyboard.
    pub max_line: usize,
    /// `--framing`: newline-terminated lines, or raw chunks for unframed scripts.
    pub framing: Framing,
    /// `--chop` and `--delay`: TCP experiments (shaping.rs); off by default.
    pub shaping: Shaping,
    /// `--nodelay on|off`: TCP_NODELAY.
    pub nodelay: bool,
}

/// The word that ends the conversation, as in the classic lab.
pub const QUIT: &str = "q";

/// Whose move it is. The whole protocol of half-duplex is this little state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// We read the keyboard and send one message.
    Mine,
    /// We block on the socket until one message arrives.
    Theirs,
    /// Someone said `q`, or the connection closed.
    Over,
}

/// Who ended the conversation, so the caller knows how to close the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// We sent `q` (typed, or stdin ended).
    WeQuit,
    /// The peer sent `q` or closed the connection.
    PeerEnded,
}

/// `netchat half`: opens the connection, holds the conversation, closes politely.
// ANCHOR: run
pub fn run(
    endpoint: &Endpoint,
    options: &Options,
    stdin: impl Read,
    console: &mut Console,
    observer: &Observer,
) -> Result<()> {
    let connection = endpoint::open_one(endpoint, "half", options.framing, console, observer)?;
    if options.framing == Framing::Raw {
        console.status(options.framing.describe());
    }
    let first = match connection.role {
        Role::Connector => Turn::Mine,
        Role::Listener => Turn::Theirs,
    };
    if connection.role == Role::Connector {
        // A netchat room answers a newcomer with its welcome: say where we are, and how to join.
        console.hint_on_first_message(
            protocol::WELCOME_PREFIX,
            protocol::reached_a_room("half", connection.peer),
        );
    }
    let stream = &connection.stream;
    endpoint::set_nodelay(stream, options.nodelay)?;
    let mut watch = connection.watch(observer, options.framing);
    if let Some(experiment) = options.shaping.describe() {
        console.status(&experiment);
    }
    // `&TcpStream` implements both Read and Write: one socket, two directions. `Traced` shows
    // each `write` in the trace (`--trace`), `Shaped` applies `--chop` and `--delay`; when
    // neither is asked for they only pass the writes on.
    let socket_out = Shaped::new(Traced::new(stream, watch.clone()), options.shaping);
    let mut from_peer =
        MessageReader::new(stream, options.framing, options.max_line).watched(watch.clone());
    if let Some(hint) = UnframedHint::for_peer(stream, console.notice_later(framing::UNFRAMED_HINT))
    {
        from_peer = from_peer.hinting(hint);
    }
    let ending = converse(
        from_peer, socket_out, first, stdin, options, &mut watch, console,
    )?;
    match ending {
        Ending::WeQuit => endpoint::close_gracefully(stream, &watch),
        Ending::PeerEnded => watch.closed(),
    }
    Ok(())
}
// ANCHOR_END: run

/// The turn-taking loop, on any byte streams (a socket in the program, buffers in unit tests):
/// messages from the peer come through `from_peer`, ours leave through `socket_out`.
// ANCHOR: converse
pub fn converse(
    mut from_peer: MessageReader<impl Read>,
    mut socket_out: impl Write,
    first: Turn,
    stdin: impl Read,
    options: &Options,
    watch: &mut Watch,
    console: &mut Console,
) -> Result<Ending> {
    // The keyboard is always read line by line: Enter ends what you typed. On a terminal, with
    // the line editor, in our turn only (terminal.rs).
    let keyboard_options = KeyboardOptions {
        max_line: options.max_line,
        prompt: "you> ".to_string(),
        timestamps: false,
        stop_word: None,
    };
    let mut from_keyboard = TurnKeyboard::new(stdin, &keyboard_options, console);
    let mut hints = Hints::default();
    let mut turn = first;
    let mut ending = Ending::PeerEnded;
    while turn != Turn::Over {
        turn = match turn {
            Turn::Mine => {
                let next = my_turn(
                    &mut from_keyboard,
                    &mut socket_out,
                    options,
                    watch,
                    &mut hints,
                    console,
                )?;
                if next == Turn::Over {
                    ending = Ending::WeQuit;
                }
                next
            }
            Turn::Theirs => their_turn(&mut from_peer, &from_keyboard, watch, console)?,
            Turn::Over => Turn::Over,
        };
    }
    Ok(ending)
}
// ANCHOR_END: converse

/// Reads one line from the keyboard and sends it. Blocks in `read` on stdin: while we wait here,
/// anything the peer sends just waits in our socket's receive buffer in the kernel.
// ANCHOR: my_turn
fn my_turn(
    keyboard: &mut TurnKeyboard<impl Read>,
    socket_out: &mut impl Write,
    options: &Options,
    watch: &Watch,
    hints: &mut Hints,
    console: &mut Console,
) -> Result<Turn> {
    let framing = options.framing;
    // On a terminal the guide names the call we are about to block in, as the peer's turn does.
    let guide = format!(
        "your turn: blocked in {} — type one line (q quits)",
        Call::Keyboard.name()
    );
    let line = match keyboard.read_line(&guide) {
        Ok(Input::Line(line)) => line,
        Ok(Input::TooLong { limit }) => {
            console.notice(&format!(
                "your line is longer than {limit} bytes (--max-line) and was not sent; \
                 type a shorter one"
            ));
            return Ok(Turn::Mine);
        }
        Ok(Input::Eof) => {
            send(socket_out, framing, QUIT.as_bytes(), watch)?;
            watch.quit(By::Us, "end of input");
            console.status("end of input: sent q, closing the connection");
            return Ok(Turn::Over);
        }
        // Ctrl-C in the line editor, where it is a key: the same end as the signal it would
        // have been in cooked mode (main.rs), exit code 130.
        Ok(Input::Interrupted) => return Err(Error::Interrupted),
        Ok(Input::Lines(_)) => unreachable!("one line at a time: TurnKeyboard never batches"),
        Ok(Input::Failed(e)) | Err(e) => return Err(Error::io("reading standard input", e)),
    };
    if is_quit(&line) {
        send(socket_out, framing, QUIT.as_bytes(), watch)?;
        watch.quit(By::Us, QUIT);
        console.status("you quit");
        return Ok(Turn::Over);
    }
    if let Some(why) = framing::unsendable(framing, &line) {
        console.notice(why);
        return Ok(Turn::Mine);
    }
    send(socket_out, framing, &line, watch)?;
    if is_farewell(&line) && !std::mem::replace(&mut hints.told_quit, true) {
        console.notice(&format!(
            "sent as a message: `{QUIT}` alone on a line is what ends the conversation"
        ));
    }
    Ok(Turn::Theirs)
}
// ANCHOR_END: my_turn

/// Blocks in `read` on the socket until one whole message has arrived. On a terminal, keys typed
/// meanwhile go to the line editor (a helper thread reads them, terminal.rs) and wait on the
/// `you>` line, as they will be sent, for our turn.
// ANCHOR: their_turn
fn their_turn(
    peer: &mut MessageReader<impl Read>,
    keyboard: &TurnKeyboard<impl Read>,
    watch: &Watch,
    console: &mut Console,
) -> Result<Turn> {
    console.guide("peer's turn: waiting for its message (what you type now is sent on your turn)");
    // On a terminal, a status line names the call this thread is about to sleep in and counts
    // the seconds (terminal.rs, `PeerTurn`): a peer that never answers is visible, not a silent hang.
    let call = Call::SocketRead;
    let blocked = keyboard.peer_turn(&format!(
        "blocked in {} — {}",
        call.name(),
        call.waits_for()
    ));
    let frame = peer.read_frame();
    drop(blocked);
    match frame {
        Ok(Some(Frame::Line(line))) if is_quit(&line) => {
            watch.received(&line);
            watch.quit(By::Peer, QUIT);
            console.status("peer quit");
            Ok(Turn::Over)
        }
        Ok(Some(Frame::Line(line))) => {
            watch.received(&line);
            console.peer_message("peer", &line)?;
            Ok(Turn::Mine)
        }
        Ok(Some(Frame::TooLong { limit })) => {
            console.dropped_too_long("the peer", limit);
            Ok(Turn::Mine)
        }
        // read() returned 0: the peer's FIN arrived without a `q` (Ctrl-C, or a script that ended).
        Ok(None) => {
            console.status("the peer closed the connection");
            Ok(Turn::Over)
        }
        Err(e) => Err(Error::io("receiving from the peer", e)),
    }
}
// ANCHOR_END: their_turn

/// Hints given at most once per conversation.
#[derive(Default)]
struct Hints {
    /// `quit`, `exit` or `bye` was sent as a message, and we said that `q` quits.
    told_quit: bool,
}

/// `quit`, `exit` or `bye` alone on a line: what a student types to leave. They are still sent
/// (a peer's script may expect them); the first earns a hint that `q` is the word.
fn is_farewell(line: &[u8]) -> bool {
    let word = line.trim_ascii();
    ["quit", "exit", "bye"]
        .iter()
        .any(|farewell| word.eq_ignore_ascii_case(farewell.as_bytes()))
}

/// `q` alone on a line (spaces around it and a capital Q are forgiven).
fn is_quit(line: &[u8]) -> bool {
    line.trim_ascii().eq_ignore_ascii_case(QUIT.as_bytes())
}

/// Sends one message and reports it (`--events`).
fn send(
    socket_out: &mut impl Write,
    framing: Framing,
    message: &[u8],
    watch: &Watch,
) -> Result<()> {
    framing::write_message(socket_out, framing, message)
        .map_err(|e| Error::io("sending to the peer", e))?;
    watch.sent(message);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn quiet_console() -> Console {
        Console::new(Box::new(io::sink()), Box::new(io::sink()), false)
    }

    fn options() -> Options {
        Options {
            max_line: 100,
            framing: Framing::Line,
            shaping: Shaping::default(),
            nodelay: true,
        }
    }

    #[test]
    fn the_speaker_sends_one_line_then_waits_for_one_reply() {
        let mut wire = Vec::new();
        let ending = converse(
            MessageReader::new(&b"reply\nreply2\n"[..], Framing::Line, 100),
            &mut wire,
            Turn::Mine,
            &b"one\ntwo\n"[..],
            &options(),
            &mut Watch::off(),
            &mut quiet_console(),
        )
        .unwrap();
        // one, (reply), two, (reply2), then stdin ended: q.
        assert_eq!(wire, b"one\ntwo\nq\n");
        assert_eq!(ending, Ending::WeQuit);
    }

    #[test]
    fn q_from_the_peer_ends_without_reading_the_keyboard() {
        let mut wire = Vec::new();
        let ending = converse(
            MessageReader::new(&b"q\n"[..], Framing::Line, 100),
            &mut wire,
            Turn::Theirs,
            &b"never sent\n"[..],
            &options(),
            &mut Watch::off(),
            &mut quiet_console(),
        )
        .unwrap();
        assert_eq!(ending, Ending::PeerEnded);
        assert!(wire.is_empty());
    }

    #[test]
    fn quit_is_forgiving_about_case_and_spaces() {
        assert!(is_quit(b"q"));
        assert!(is_quit(b" Q "));
        assert!(!is_quit(b"quit"));
    }

    #[test]
    fn quit_exit_and_bye_are_sent_with_one_hint_that_q_quits() {
        colored::control::set_override(false);
        let err = crate::console::testing::Captured::default();
        let mut console = Console::new(Box::new(io::sink()), Box::new(err.clone()), false);
        let mut wire = Vec::new();
        converse(
            MessageReader::new(&b"a\nb\n"[..], Framing::Line, 100),
            &mut wire,
            Turn::Mine,
            &b"quit\n EXIT \n"[..],
            &options(),
            &mut Watch::off(),
            &mut console,
        )
        .unwrap();
        assert_eq!(
            wire, b"quit\n EXIT \nq\n",
            "still sent: a peer may expect them"
        );
        let err = err.text();
        assert_eq!(err.matches("`q` alone on a line").count(), 1, "{err}");
    }
}
