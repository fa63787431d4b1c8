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

use crossbeam_channel::{Receiver, after, never, select};

use super::protocol::{self, Farewell};
use super::server::tone_of;
use crate::console::{Console, escape_peer_text};
use crate::endpoint::{self, ConnectAddr};
use crate::error::{Error, Result};
use crate::framing::{self, Framing};
use crate::pump::{self, Pumped};
use crate::terminal::{Input, Keyboard, KeyboardOptions};

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

/// How many hand-overs from the socket reader (each every line one `read` brought, at most
/// `pump::READ_BLOCK` bytes) may wait for the screen. When full, the socket reader stops reading
/// and the server's queue for us fills: a client that cannot keep up is the server's problem to
/// bound, not a reason for us to grow.
const INCOMING_QUEUE: usize = 16;

/// `netchat room --connect`: joins, chats until `/quit`, end of input, Ctrl-C or the server
/// closing.
pub fn run(
    addr: &ConnectAddr,
    options: &ClientOptions,
    stdin: impl io::Read + Send + 'static,
    console: &mut Console,
    interrupt: Receiver<()>,
) -> Result<()> {
    let endpoint::Connection { stream, peer, .. } = endpoint::connect_one(addr)?;
    let server = Server {
        stream: &stream,
        framing: options.framing,
    };
    match options.framing {
        Framing::Line => console.status(&format!(
            "connected to {peer}; type a line to talk to the room, /help for commands, /quit to leave"
        )),
        Framing::Raw => {
            console.status(&format!("connected to {peer}; /quit or Ctrl-D leaves"));
            console.status(options.framing.describe());
        }
    }
    if let Some(nick) = &options.nick {
        server.send(format!("/nick {nick}").as_bytes())?;
    }
    let reading = stream
        .try_clone()
        .map_err(|e| Error::io("cloning the socket", e))?;
    let from_server = protocol::longest_relayed_line(options.max_line);
    let (incoming, reader) = spawn_socket_reader(reading, options.framing, from_server)?;
    // On a terminal, a line editor: messages print above the line being typed (terminal.rs).
    let keyboard = Keyboard::start(
        stdin,
        &KeyboardOptions {
            max_line: options.max_line,
            prompt: "you> ".to_string(),
            timestamps: false,
        },
        console,
    )?;
    let result = chat(
        server,
        &incoming,
        keyboard.input().clone(),
        &interrupt,
        console,
    );
    // Give the terminal back (raw mode off, prompt erased) before the last lines.
    drop(keyboard);
    // Wake the socket reader (blocked in read) and wait for it: every thread we own ends here.
    let _ = stream.shutdown(Shutdown::Both);
    drop(incoming);
    let _ = reader.join();
    result
}

/// The `room-recv` thread: the reader pump (pump.rs) on the socket.
fn spawn_socket_reader(
    stream: TcpStream,
    framing: Framing,
    max_line: usize,
) -> Result<(Receiver<Pumped>, thread::JoinHandle<()>)> {
    pump::spawn(
        "room-recv",
        stream,
        framing,
        max_line,
        INCOMING_QUEUE,
        |event| event,
    )
    .map_err(|e| Error::io("starting the socket reader thread", e))
}

/// The main loop: whichever of keyboard, socket and Ctrl-C is ready first is handled first.
// ANCHOR: client_loop
fn chat(
    server: Server<'_>,
    incoming: &Receiver<Pumped>,
    mut keyboard: Receiver<Input>,
    interrupt: &Receiver<()>,
    console: &mut Console,
) -> Result<()> {
    let mut interrupt = interrupt.clone();
    // Set once we asked to leave: from then on the server's close is the expected ending.
    let mut leaving: Option<Instant> = None;
    // The server's goodbye line, once it came: it says whether this is a normal end.
    let mut goodbye: Option<Farewell> = None;
    loop {
        let give_up = match leaving {
            Some(deadline) => after(deadline.saturating_duration_since(Instant::now())),
            None => never(),
        };
        select! {
            recv(incoming) -> item => match item {
                Ok(Pumped::Messages(lines)) => {
                    for bytes in lines.iter() {
                        // The server escapes what it relays, but a client trusts no peer:
                        // escape again.
                        let text = escape_peer_text(bytes);
                        if let Some(farewell) = protocol::farewell(&text) {
                            goodbye = Some(farewell);
                        }
                        console.room_line(&text, tone_of(&text))?;
                    }
                }
                Ok(Pumped::TooLong { limit }) => console.notice(&format!(
                    "the server sent a line longer than {limit} bytes (--max-line); it was dropped"
                )),
                // EOF, or an error after we had already said goodbye: a normal ending.
                Ok(Pumped::Closed | Pumped::Failed(_)) | Err(_) if leaving.is_some() => {
                    console.status("you left the room");
                    return Ok(());
                }
                Ok(Pumped::Closed | Pumped::Failed(_)) | Err(_) if goodbye.is_some() => {
                    return match goodbye.take() {
                        Some(Farewell::Refused { reason }) => Err(Error::RoomRefused { reason }),
                        _ => {
                            console.status("the server closed the connection (its goodbye is above)");
                            Ok(())
                        }
                    };
                }
                Ok(Pumped::Failed(error)) => return Err(lost(error)),
                Ok(Pumped::Closed) | Err(_) => return Err(Error::RoomClosed),
            },
            recv(keyboard) -> typed => match typed.unwrap_or(Input::Eof) {
                Input::Line(line) => {
                    if typed_line(server, &line, &mut leaving, console)? {
                        return Ok(());
                    }
                }
                // A script piped in arrives in blocks: each of its lines as if typed alone.
                Input::Lines(lines) => {
                    for line in lines.iter() {
                        if typed_line(server, line, &mut leaving, console)? {
                            return Ok(());
                        }
                    }
                }
                Input::TooLong { limit } => console.notice(&format!(
                    "your line is longer than {limit} bytes (--max-line) and was not sent"
                )),
                Input::Interrupted => leaving = leaving.or_else(|| server.quit("Ctrl-C")),
                Input::Eof | Input::Failed(_) => {
                    // End of input (Ctrl-D, or the end of a piped script): leave politely.
                    keyboard = never();
                    leaving = leaving.or_else(|| server.quit("end of input"));
                }
            },
            recv(interrupt) -> signal => {
                if signal.is_ok() {
                    leaving = leaving.or_else(|| server.quit("Ctrl-C"));
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

/// A line we typed: sent, unless we are already leaving. `/quit` starts the wait for the
/// server's goodbye; `true` means the conversation is over (`/quit` to a raw server).
fn typed_line(
    server: Server<'_>,
    line: &[u8],
    leaving: &mut Option<Instant>,
    console: &mut Console,
) -> Result<bool> {
    if leaving.is_some() {
        return Ok(false);
    }
    let quitting = matches!(protocol::parse(line), protocol::Command::Quit(_));
    if quitting && server.framing == Framing::Raw {
        console.status("you left (closed the connection)");
        return Ok(true);
    }
    if let Some(why) = framing::unsendable(server.framing, line) {
        console.notice(why);
        return Ok(false);
    }
    server.send(line)?;
    if quitting {
        *leaving = Some(Instant::now() + QUIT_WAIT);
    }
    Ok(false)
}

/// The connection to the room's server, and the framing it speaks.
#[derive(Clone, Copy)]
struct Server<'a> {
    stream: &'a TcpStream,
    framing: Framing,
}

impl Server<'_> {
    fn send(self, line: &[u8]) -> Result<()> {
        let mut stream = self.stream;
        framing::write_message(&mut stream, self.framing, line).map_err(lost)
    }

    /// Asks to leave and returns the deadline to wait for the server's goodbye. A netchat room
    /// gets `/quit` (errors ignored: we are leaving anyway). A raw server has no such command:
    /// our FIN is the goodbye, and its close (or the deadline) ends the wait.
    fn quit(self, why: &str) -> Option<Instant> {
        match self.framing {
            Framing::Line => {
                let _ = self.send(format!("/quit {why}").as_bytes());
            }
            Framing::Raw => {
                let _ = self.stream.shutdown(Shutdown::Write);
            }
        }
        Some(Instant::now() + QUIT_WAIT)
    }
}

/// A broken connection to the room: reset or closed under us means the server went away.
fn lost(error: io::Error) -> Error {
    match Error::io("talking to the room", error) {
        Error::PeerClosed | Error::Reset => Error::RoomClosed,
        other => other,
    }
}
