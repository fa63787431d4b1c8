//! The thin binary: parse the command line, decide on color, run the mode, and turn an error into
//! its message and exit code. This is the only file that touches the process's real stdio and
//! signals (the terminal's raw mode is terminal.rs's); it holds no mode logic.
//!
//! - **The command line**: clap parses (`Cli::try_parse`); a usage error becomes `netchat: …`
//!   lines and exit code 2, so no module of the library needs clap's error type.
//! - **Signals**: Ctrl-C, SIGTERM (`kill`) and SIGHUP (the window closed) end a conversation
//!   alike: each becomes one `Interrupt` on a channel, named, so a mode can say which (on Unix
//!   through `signal-hook`, since `ctrlc` cannot say which signal came). If that polite ending
//!   cannot finish within `POLITE_ENDING` (a `write()` to a peer that stopped reading), netchat
//!   ends without it.
//! - **Panics**: a hook gives the terminal back before the panic message is printed.

// As in the library: safe Rust only, and stdio written with `writeln!`, whose errors are handled
// (`println!` panics on a closed pipe).
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use crossbeam_channel::{Sender, bounded};

use netchat::cli::{Cli, ModeCommand};
use netchat::console::{self, ColorMode, Console};
use netchat::error::{EXIT_INTERRUPTED, EXIT_USAGE, Error};
use netchat::interrupt::Interrupt;
use netchat::lessons::{self, Pager};
use netchat::terminal;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return command_line_error(&error),
    };

    let color_mode: ColorMode = cli.color().into();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let color = console::use_color(color_mode, io::stderr().is_terminal(), no_color);
    colored::control::set_override(color);

    // Prompts and labels only when a person is both typing and reading.
    let interactive = io::stdin().is_terminal() && io::stdout().is_terminal();
    // Rust's stdout is line-buffered: one `write` system call per line, even into a pipe. The
    // console flushes after each message it prints (or batch of them, duplex.rs), so a bigger
    // buffer changes nothing a person sees, and messages printed one by one leave in 32 KiB
    // writes. A block of plain lines (up to 64 KiB, pump.rs) is larger than the buffer, so it
    // goes straight to stdout in one `write` instead of being copied into the buffer first.
    let stdout = io::BufWriter::with_capacity(32 * 1024, io::stdout());
    let mut console = Console::new(Box::new(stdout), Box::new(io::stderr()), interactive);
    console.set_stdout_kind(stdout_kind());
    console.set_stdout_color(console::use_color(
        color_mode,
        io::stdout().is_terminal(),
        no_color,
    ));

    // A panic must not leave the shell in raw mode (no echo, no line editing): give the terminal
    // back before the panic message is printed.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        terminal::restore();
        default_hook(info);
    }));

    // Held until the end, so the channel never disconnects, even where no handler could be
    // installed: a mode's select! would otherwise see a disconnected channel as an event.
    let (interrupt_sender, interrupt) = bounded(1);
    install_interrupt_handler(&cli, interrupt_sender.clone());

    let result = match &cli.mode {
        // A lesson through the student's pager when stdout is a terminal, plain otherwise.
        ModeCommand::Lesson(args) => {
            let pager = if io::stdout().is_terminal() {
                let variable = std::env::var("PAGER").ok();
                Pager::from_env(variable.as_deref())
            } else {
                None
            };
            lessons::run(args.name.as_deref(), &mut console, pager)
        }
        _ => netchat::run(cli, io::stdin(), &mut console, interrupt),
    };
    console.tell_untold();
    let code = match result {
        Ok(()) | Err(Error::OutputClosed) => ExitCode::SUCCESS,
        Err(Error::Interrupted) => {
            console.status("interrupted");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(error) => {
            console.error(&error);
            ExitCode::from(error.exit_code())
        }
    };
    drop(interrupt_sender);
    code
}

/// Turns Ctrl-C — and SIGTERM (`kill`) and SIGHUP (the terminal window closed), which end a
/// conversation just as surely — into a message on a channel, for the modes that end a
/// conversation politely on it: `duplex` says bye, the room client sends `/quit`, the room server
/// says goodbye to everyone, and all exit with 0.
///
/// `half` keeps the classic ending: the process stops at once with exit code 130, the kernel
/// closes its socket, and the peer sees the connection close. Its single thread is blocked in
/// `read` (the socket, or the keyboard in its turn) and could not notice a message anyway.
///
/// A second signal while the first is still waiting to be noticed ends the process at once, so a
/// student is never stuck with a program that ignores Ctrl-C. Every way out gives the terminal
/// back in its normal mode first.
fn install_interrupt_handler(cli: &Cli, sender: Sender<Interrupt>) {
    if let ModeCommand::Lesson(_) = cli.mode {
        // The pager (`less`) shares the terminal and takes Ctrl-C itself; netchat waits for it
        // rather than vanishing under it.
        if let Err(error) = ctrlc::set_handler(|| {}) {
            let _ = writeln!(io::stderr(), "netchat: cannot handle Ctrl-C ({error})");
        }
        return;
    }
    let half = matches!(cli.mode, ModeCommand::Half(_));
    let on_signal = move |signal: Interrupt| {
        // In cooked mode the kernel has echoed `^C` (or the user was halfway through typing a
        // line) with no newline: end that line, or netchat's next status would be glued to it.
        // In raw mode there is nothing to end: the line editor erases its own prompt.
        let echoing = terminal::is_echoing();
        if echoing && io::stderr().is_terminal() {
            let _ = writeln!(io::stderr());
        }
        if !half && sender.try_send(signal).is_ok() {
            end_anyway_after(POLITE_ENDING);
            return;
        }
        let prompt_showing = !echoing && io::stdin().is_terminal();
        terminal::restore();
        let ending = if prompt_showing { "\r\n" } else { "" };
        let _ = writeln!(io::stderr(), "{ending}netchat: interrupted");
        std::process::exit(i32::from(EXIT_INTERRUPTED));
    };
    if let Err(error) = watch_signals(on_signal) {
        let _ = writeln!(
            io::stderr(),
            "netchat: cannot handle Ctrl-C ({error}); it will end netchat at once"
        );
    }
}

/// What stdout is: a terminal, a pipe or a file (for "N lines were skipped: …").
fn stdout_kind() -> console::OutputKind {
    use console::OutputKind;
    if io::stdout().is_terminal() {
        return OutputKind::Terminal;
    }
    // /dev/stdout leads to whatever fd 1 is, on Linux and the BSDs (macOS) alike.
    match std::fs::metadata("/dev/stdout") {
        Ok(meta) if meta.is_file() => OutputKind::File,
        #[cfg(unix)]
        Ok(meta) if std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()) => OutputKind::Pipe,
        _ => OutputKind::Other,
    }
}

/// How long a polite ending (bye, `/quit`, the room's goodbye) may take after Ctrl-C, SIGTERM or
/// SIGHUP before netchat ends without it. A polite ending takes milliseconds; one that takes
/// longer is stuck behind something that may never move — a `write()` to a peer that stopped
/// reading, a queue nobody empties — and Ctrl-C must always work.
const POLITE_ENDING: std::time::Duration = std::time::Duration::from_millis(900);

/// Ends the process after `grace`, if it has not ended by then: a thread that sleeps, and exits
/// (0: the user asked netchat to end, and it did) after giving the terminal back.
fn end_anyway_after(grace: std::time::Duration) {
    let spawned = std::thread::Builder::new()
        .name("ending".into())
        .spawn(move || {
            std::thread::sleep(grace);
            terminal::restore();
            let _ = writeln!(
                io::stderr(),
                "\r\nnetchat: ended without waiting any longer: the conversation could not \
                 finish politely within {} ms (a peer that stopped reading?)",
                grace.as_millis()
            );
            std::process::exit(0);
        });
    if spawned.is_err() {
        // No thread for the deadline: end now rather than risk never ending.
        terminal::restore();
        std::process::exit(0);
    }
}

/// Calls `on_signal` for each SIGINT, SIGHUP and SIGTERM, on a thread of its own (signal-hook
/// turns the signal into a value a normal thread reads, so printing and exiting are safe there).
/// Like the stdin reader, it has no end of its own: the process exits around it.
#[cfg(unix)]
fn watch_signals(on_signal: impl Fn(Interrupt) + Send + 'static) -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGHUP, SIGTERM])?;
    std::thread::Builder::new()
        .name("signals".to_string())
        .spawn(move || {
            for signal in signals.forever() {
                on_signal(match signal {
                    SIGHUP => Interrupt::WindowClosed,
                    SIGTERM => Interrupt::Terminated,
                    _ => Interrupt::CtrlC,
                });
            }
        })?;
    Ok(())
}

/// Elsewhere (Windows), ctrlc's one handler: every way of being stopped is a Ctrl-C.
#[cfg(not(unix))]
fn watch_signals(on_signal: impl Fn(Interrupt) + Send + 'static) -> io::Result<()> {
    ctrlc::set_handler(move || on_signal(Interrupt::CtrlC)).map_err(io::Error::other)
}

/// `--help` and `--version` print normally; a usage error becomes `netchat: …` lines, exit 2.
fn command_line_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let is_help = matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if is_help {
        // --help and --version go to stdout, bare `netchat` shows the help on stderr; either way
        // a closed stream (`netchat --help | head -1`) is fine.
        let _ = error.print();
        return ExitCode::from(if error.use_stderr() { EXIT_USAGE } else { 0 });
    }
    // clap's own text, with every line marked as netchat's, as the output contract says.
    let text = error.render().to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    let mut stderr = io::stderr();
    for (number, line) in text.lines().filter(|line| !line.is_empty()).enumerate() {
        let marker = if number == 0 {
            "netchat: error: "
        } else {
            "netchat: "
        };
        let _ = writeln!(stderr, "{marker}{line}");
    }
    // `netchat half 5417`: say which option the port needs.
    if let Some(clap::error::ContextValue::String(unexpected)) =
        error.get(clap::error::ContextKind::InvalidArg)
    {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if let Some(hint) = netchat::cli::bare_port_hint(&args, unexpected) {
            let _ = writeln!(stderr, "netchat: hint: {hint}");
        }
    }
    ExitCode::from(EXIT_USAGE)
}
