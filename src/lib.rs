//! netchat: a classroom toolkit for learning TCP sockets by chatting over them.
//!
//! ARCHITECTURE.md, at the top of the repository, gives the bird's-eye view, the code map and
//! the invariants every change keeps.
//!
//! The crate map, each module with the socket idea it teaches:
//!
//! | module | what it shows |
//! |---|---|
//! | [`endpoint`] | `bind`/`listen`/`accept` versus `connect`; TCP_NODELAY; closing without losing data |
//! | [`lan`] | which of this machine's addresses classmates can connect to |
//! | [`framing`] | TCP is a byte stream: finding message boundaries, with bounded memory |
//! | [`console`] | never print a peer's bytes raw; stdout for messages, stderr for status |
//! | [`text`] | escaping peer text and measuring it in terminal columns (pure, no I/O) |
//! | [`error`] | what each failure means (refused, in use, reset…) and its exit code |
//! | [`modes::half`] | half-duplex: one thread, blocking calls, strict turns |
//! | [`modes::duplex`] | full-duplex: reader threads, channels and `select!`; half-close with FIN |
//! | [`modes::room`] | many peers: accept loop, a thread per client, a hub owning the room, slow consumers |
//! | [`pump`] | a blocking `read` on its own thread, feeding a channel; bulk reads, one hand-over per read |
//! | [`scan`] | looking at 64 bytes at once: whether whole lines are within the limit (and may be `bye`), whether anything needs escaping |
//! | [`terminal`] | the keyboard as a channel; printing above the line being typed (raw mode) |
//! | [`shaping`] | TCP experiments: split (`--chop`) and merge (`--coalesce`) messages on purpose |
//! | [`observe`] | watching the wire: `--trace` lines and the `--events` JSON Lines log |
//! | [`diagram`] | `netchat diagram`: sequence diagrams drawn from event logs |
//! | [`cli`] | the command line (the only module that knows clap) |
//! | [`lessons`] | the labs, embedded in the binary (`netchat lesson`) |
//! | [`socket`] | what every floor may say about a socket without opening one: its role, its options, IPv4-mapped addresses |
//! | [`interrupt`] | Ctrl-C, a closed window (SIGHUP) and `kill` (SIGTERM), each named |
//! | [`report`] | `netchat report`: a room's event logs as one row per student |

// Safe Rust only, with no way to lift it further down; and nothing in the library prints with
// `println!`/`eprintln!` (they panic on a closed pipe: everything goes through the console).
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]
// The crate's API is what main.rs and the tests need; the rest is `pub(crate)`. Its docs are a
// book of every module, private ones included (`cargo doc --document-private-items`, which
// .cargo/config.toml makes the default), so the map above may link to them.
#![allow(rustdoc::private_intra_doc_links)]

pub mod cli;
pub mod console;
pub(crate) mod diagram;
pub(crate) mod endpoint;
pub mod error;
pub mod framing;
pub mod interrupt;
pub mod lan;
pub mod lessons;
pub mod modes;
pub(crate) mod observe;
pub mod pump;
pub mod report;
pub mod scan;
pub(crate) mod shaping;
pub(crate) mod socket;
pub mod terminal;
pub mod text;

use std::io::Read;

use crossbeam_channel::Receiver;

use cli::{Cli, ModeCommand};
use console::Console;
use error::{Error, Result};
use interrupt::Interrupt;
use observe::Observer;

/// Runs the mode the command line chose, with `stdin` as the keyboard. `interrupt` receives one
/// message per Ctrl-C (main.rs owns the signal handler); `half` does not use it.
///
/// `--trace` and `--events` are opened here, before the mode starts, and the error that ends a
/// mode is the last line of the event log.
pub fn run(
    cli: Cli,
    stdin: impl Read + Send + 'static,
    console: &mut Console,
    interrupt: Receiver<Interrupt>,
) -> Result<()> {
    let observer = match cli.common() {
        Some(common) => {
            // A room's log keeps the conversation, not every read and write: a class with one
            // flood would otherwise write megabytes of `read` events.
            let level = match cli.mode {
                ModeCommand::Room(_) => observe::Level::Chat,
                _ => observe::Level::Wire,
            };
            Observer::open(
                &common.observe(level),
                console.stderr_lines(),
                cli.mode.name(),
            )?
        }
        None => Observer::off(),
    };
    let result = run_mode(cli, stdin, console, &observer, interrupt);
    if let Err(error) = &result {
        observer.error(error);
    }
    result
}

/// The console and the observer travel side by side: the console is what a person sees, the
/// observer what `--trace` and `--events` record, and a mode hands each to whoever needs it.
fn run_mode(
    cli: Cli,
    stdin: impl Read + Send + 'static,
    console: &mut Console,
    observer: &Observer,
    interrupt: Receiver<Interrupt>,
) -> Result<()> {
    match cli.mode {
        ModeCommand::Half(args) => {
            if args.coalesce.is_some() {
                return Err(Error::Usage {
                    message: "--coalesce does not apply to half".to_string(),
                    hint: "half takes strict turns: it sends one message and then waits for the \
                           reply, so there are never several messages to gather into one write(); \
                           use --coalesce with duplex, or --chop and --delay with half"
                        .to_string(),
                });
            }
            let options = modes::half::Options {
                max_line: args.common.max_line(),
                framing: args.common.framing(),
                shaping: args.wire.shaping(None),
                nodelay: args.wire.nodelay(),
            };
            modes::half::run(
                &args.endpoint.endpoint(),
                &options,
                stdin,
                console,
                observer,
            )
        }
        ModeCommand::Duplex(args) => {
            let options = modes::duplex::Options {
                max_line: args.common.max_line(),
                timestamps: args.timestamps,
                framing: args.common.framing(),
                shaping: args.wire.shaping(args.coalesce),
                nodelay: args.wire.nodelay(),
            };
            let endpoint = args.endpoint.endpoint();
            modes::duplex::run(&endpoint, &options, stdin, console, observer, interrupt)
        }
        // main.rs runs the lesson itself, with the pager it chose; here, plain text.
        ModeCommand::Lesson(args) => lessons::run(args.name.as_deref(), console, None),
        ModeCommand::Room(args) => {
            let options = modes::room::Options {
                max_line: args.common.max_line(),
                max_clients: args.max_clients as usize,
                engine: args.engine.into(),
                limits: modes::room::rules::Limits {
                    rate: modes::room::limits::RateLimit::from_option(args.rate_limit),
                    max_per_address: args.max_per_address,
                },
                nick: args.nick,
                framing: args.common.framing(),
                class: args.teacher.class_options(),
            };
            modes::room::run(
                &args.endpoint.endpoint(),
                &options,
                stdin,
                console,
                observer,
                interrupt,
            )
        }
        ModeCommand::Diagram(args) => {
            let filter = diagram::Filter {
                only: args.only.clone(),
                from: args.from,
                until: args.until,
            };
            diagram::run(&args.logs, args.format.into(), &filter, console)
        }
        ModeCommand::Report(args) => report::run(&args.logs, args.csv, console),
    }
}
