//! The room server's shared half: the listening socket, the operator's console, and starting and
//! stopping whichever engine runs the room (`--engine`).
//!
//! ```text
//!   keyboard, Ctrl-C ──> console (main thread) ──HostCommand──> engine ──> the room's rules
//!                              ^                                  │
//!                              └────────── Log (bounded) ─────────┘
//! ```
//!
//! The engine is the part that moves bytes: threads.rs (a thread per client reader and writer,
//! and a hub thread; lesson 3) or poll.rs (one thread, one event loop; lesson 4). Both run the
//! same rules (rules.rs) and hand the console the same log, so the operator's side is written
//! once, here.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::time::Instant;

use crossbeam_channel::{Receiver, bounded, never, select};

use super::access::Verdict;
use super::actions::{LineKind, Log};
use super::bots;
use super::engine::{EngineKind, SHUTDOWN_GRACE};
use super::limits::{self, BotConnections};
use super::logqueue::{self, LogBatch, LogQueue};
use super::options::{Running, ServerOptions};
use super::protocol::{self, HostCommand};
use super::transcript::{Recorded, Transcript};
use super::{poll, threads};
use crate::console::Console;
use crate::endpoint;
use crate::error::{Error, Result};
use crate::interrupt::Interrupt;
use crate::lan;
use crate::terminal::{Input, Keyboard, KeyboardOptions};

/// Default for `--max-clients`: a whole school's worth of a class. Each client costs one file
/// descriptor and two socket buffers in the kernel, and with the threads engine two threads with
/// small stacks (the poll engine needs no thread per client); the server raises
/// its open-file limit as far as the OS allows and, if the OS cannot hold this many, admits fewer
/// and says so when it starts. Client number 1001 reads `*** goodbye: sorry, the room is full …`
/// and is disconnected.
pub const DEFAULT_MAX_CLIENTS: usize = 1000;

/// `netchat room --listen`: binds, then runs the room until the operator closes it.
pub fn run(
    addr: &endpoint::ListenAddr,
    options: &ServerOptions,
    transcript: Option<Transcript>,
    stdin: impl Read + Send + 'static,
    console: &mut Console,
    interrupt: Receiver<Interrupt>,
) -> Result<()> {
    let listener = endpoint::listen(addr)?;
    // On a terminal, a line editor: the room's lines print above what the host is typing.
    let keyboard = Keyboard::start(
        stdin,
        &KeyboardOptions {
            max_line: options.max_line,
            prompt: "host> ".to_string(),
            timestamps: false,
            stop_word: None,
        },
        console,
    )?;
    let input = keyboard.input().clone();
    let result = serve(listener, options, transcript, input, console, interrupt);
    drop(keyboard);
    result
}

/// The transcript header's line on the rate limit.
fn rate_line(options: &ServerOptions) -> String {
    match options.limits.rate {
        limits::RateLimit::Off => "no rate limit (--rate-limit 0)".to_string(),
        limits::RateLimit::PerSecond { lines } => {
            format!("rate: {lines} lines a second per member (--rate-limit)")
        }
    }
}

/// How students join, with the address they should type.
fn join_hint(local: SocketAddr) -> String {
    let port = local.port();
    match local.ip() {
        // Bound to every interface: the LAN addresses and their commands follow this line.
        ip if ip.is_unspecified() => format!(
            "from this machine: netchat room --connect {port} --nick NAME, or: nc localhost {port}"
        ),
        // Loopback: nobody else can reach it; say so, rather than send a class there.
        ip if ip.is_loopback() => format!(
            "only this machine can join (loopback): netchat room --connect {} --nick NAME, or: \
             nc {ip} {port}; for a class, listen on a port alone (--listen {port})",
            lan::join_target(ip, port)
        ),
        ip => format!(
            "students join with: netchat room --connect {} --nick NAME, or: nc {ip} {port}, or: \
             telnet {ip} {port}",
            lan::join_target(ip, port)
        ),
    }
}

/// Runs the room on an already bound listener. Returns when the operator types `/quit`, stdin
/// ends, or `interrupt` fires: by then every client has been told and disconnected.
// ANCHOR: serve
pub fn serve(
    listener: TcpListener,
    options: &ServerOptions,
    transcript: Option<Transcript>,
    keyboard: Receiver<Input>,
    console: &mut Console,
    interrupt: Receiver<Interrupt>,
) -> Result<()> {
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("reading the bound address", e))?;
    let options = options.clone();
    let bot_target = bots::target(local);
    bots::admit(bot_target, &options.bots, &options.access)?;
    // The bots' own connections, which the door lets past the per-address limits (bots.rs).
    let bot_connections = BotConnections::default();
    let transcript_path = transcript.as_ref().map(|t| t.path().display().to_string());
    let door = limits::describe_door(options.max_clients, &options.limits, &options.access.lab);
    let mut transcript = transcript;
    if let Some(transcript) = &mut transcript {
        let listening = endpoint::unmapped(local).to_string();
        let mut details = vec![door.clone(), rate_line(&options)];
        details.extend(
            options
                .access
                .describe()
                .map(|rule| format!("access: {rule}")),
        );
        if let Recorded::Failed(text) = transcript.begin(&listening, &details) {
            console.notice(&text);
        }
    }
    let (log_sender, log) = bounded::<LogBatch>(logqueue::LOG_BATCHES);
    let log_queue = LogQueue::new(log_sender)
        .with_transcript(transcript)
        .writing_to(console.stdout_kind());
    let rules = options.room(bot_connections.clone());
    let room: Box<dyn Running> = match options.engine {
        EngineKind::Threads => Box::new(threads::start(
            listener, &options, rules, log_queue, console,
        )?),
        EngineKind::Poll => Box::new(poll::start(listener, &options, rules, log_queue, console)?),
    };
    // Announced only now that every thread of the room runs: a script (or a test) that waits
    // for this line can connect at once.
    console.listening(
        &format!("listening on {local} ({})", join_hint(local)),
        local,
        "netchat room --connect {} --nick NAME",
        // With --allow, only this machine's addresses on allowed networks are offered.
        &|ip| matches!(options.access.decide(ip), Verdict::Admit),
    );
    // The events log names an IPv4 address as such, even bound the IPv6 way (`[::ffff:…]`).
    options.observer.listening(endpoint::unmapped(local));
    console.status(&door);
    if let Some(rule) = options.access.describe() {
        console.status(&format!("access: {rule} (--allow, --deny)"));
    }
    if let Some(path) = &transcript_path {
        console.status(&format!("transcript: appending to {path} (--log)"));
    }
    // The bots stop when `stop_bots` is dropped, just before the room closes.
    let (stop_bots, bots_stop) = bounded::<()>(0);
    let bots = options.bots.any().then(|| {
        let seed = options.bots.seed.unwrap_or_else(bots::seed_from_clock);
        console.status(&format!(
            "starting {} practice bot(s) (--seed {seed} replays their lines)",
            options.bots.count + 2 * usize::from(options.bots.slow)
        ));
        bots::start(
            bot_target,
            &options.bots,
            seed,
            &bots_stop,
            &bot_connections,
        )
    });
    console.status(
        "type a line to speak as [host]; /who, /stats, /msg, /topic, /mute, /limit, /kick, /ban: \
         /help says how; Ctrl-C or Ctrl-D closes the room",
    );

    // Whatever ends the console (even a closed stdout, `| head`), the room closes politely.
    let outcome = console_loop(room.as_ref(), &log, &keyboard, &interrupt, console);
    let reason = match &outcome {
        Ok(reason) => *reason,
        Err(_) => CloseReason::StdoutClosed,
    };
    // Said by the room, so the transcript ends with how the room closed; by the console itself
    // if the room cannot say it any more.
    if !room.host(HostCommand::Closing(reason.to_string())) {
        console.status(&format!("{reason}: closing the room"));
    }
    if reason == CloseReason::EndOfInput && !console.is_interactive() {
        // Started from a script or in the background with no keyboard: stdin ended at once.
        console.status(
            "to run a room without a keyboard, keep its input open, e.g. \
             `tail -f /dev/null | netchat room --listen PORT`",
        );
    }

    // The bots first, so that none of them comes back while the room closes.
    drop(stop_bots);
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    let closed = room.close();
    for entry in log.try_iter().flatten() {
        // Errors ignored: stdout may be the very thing that closed.
        let _ = show(console, entry);
    }
    if let Some(bots) = bots {
        bots.join(deadline);
    }
    // An engine thread that died is the first thing to say (exit 1), whatever ended the console.
    closed?;
    console.status("the room is closed");
    outcome.map(|_| ())
}
// ANCHOR_END: serve

/// Why the host's side closes the room; shown as `netchat: REASON: closing the room`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CloseReason {
    /// The host typed `/quit`.
    Quit,
    /// Ctrl-C, from the line editor or the signal handler; a closed window; `kill`.
    Interrupted(Interrupt),
    /// The host's input ended (Ctrl-D, or a script's input ran out).
    EndOfInput,
    /// The host's input could not be read.
    StdinFailed,
    /// Nobody reads the room's stdout any more (`| head`).
    StdoutClosed,
    /// The engine is gone (it only ends after a close, so this is a bug).
    RoomStopped,
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CloseReason::Quit => "/quit",
            CloseReason::Interrupted(signal) => return write!(f, "{signal}"),
            CloseReason::EndOfInput => "end of input",
            CloseReason::StdinFailed => "standard input failed",
            CloseReason::StdoutClosed => "standard output closed",
            CloseReason::RoomStopped => "the room stopped",
        })
    }
}

/// The operator's side: shows what the room logs, passes typed lines to the room, and returns why
/// the room should close.
fn console_loop(
    room: &dyn Running,
    log: &Receiver<LogBatch>,
    keyboard: &Receiver<Input>,
    interrupt: &Receiver<Interrupt>,
    console: &mut Console,
) -> Result<CloseReason> {
    let mut interrupt = interrupt.clone();
    loop {
        select! {
            recv(log) -> batch => match batch {
                Ok(batch) => {
                    for entry in batch {
                        show(console, entry)?;
                    }
                }
                Err(_) => return Ok(CloseReason::RoomStopped),
            },
            recv(keyboard) -> typed => match typed.unwrap_or(Input::Eof) {
                Input::Line(line) => {
                    if let Some(reason) = host_line(&line, room) {
                        return Ok(reason);
                    }
                }
                // Piped operator input arrives in blocks: each line as if typed alone.
                Input::Lines(lines) => {
                    if let Some(reason) = lines.iter().find_map(|line| host_line(line, room)) {
                        return Ok(reason);
                    }
                }
                Input::TooLong { limit } => console.notice(&format!(
                    "that line is longer than {limit} bytes (--max-line) and was not sent"
                )),
                Input::Interrupted => return Ok(CloseReason::Interrupted(Interrupt::CtrlC)),
                Input::Eof => return Ok(CloseReason::EndOfInput),
                Input::Failed(error) => {
                    console.notice(&format!("cannot read the keyboard: {error}"));
                    return Ok(CloseReason::StdinFailed);
                }
            },
            recv(interrupt) -> signal => match signal {
                Ok(signal) => return Ok(CloseReason::Interrupted(signal)),
                // Nobody can send Ctrl-C any more: stop watching instead of spinning.
                Err(_) => interrupt = never(),
            },
        }
    }
}

/// One line the operator typed: a command for the room, or why the room should close.
fn host_line(line: &[u8], room: &dyn Running) -> Option<CloseReason> {
    match protocol::parse_host(line) {
        HostCommand::Close => Some(CloseReason::Quit),
        HostCommand::Nothing => None,
        command => (!room.host(command)).then_some(CloseReason::RoomStopped),
    }
}

/// One entry of the room's log at the console, colored by the kind the rules gave it.
fn show(console: &mut Console, entry: Log) -> Result<()> {
    match entry {
        // On a terminal the line editor already left `host> TEXT` on screen; piped, the
        // transcript on stdout keeps `[host] TEXT` like every other message.
        Log::Message(_, LineKind::Host) if console.is_interactive() => {}
        Log::Message(text, kind) => console.room_line(&text, kind.tone())?,
        Log::Status(text) | Log::Answer(text) => console.status(&text),
        Log::Notice(text) => console.notice(&text),
    }
    Ok(())
}
