//! The thin binary: parse the command line, decide on color, run the mode, and turn an error into
//! its message and exit code. This is the only file that touches the process's real stdio.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use crossbeam_channel::{Sender, bounded};

use netchat::cli::{Cli, ModeCommand};
use netchat::console::{self, ColorMode, Console};
use netchat::error::{EXIT_USAGE, Error};

/// The conventional exit code of a program ended by SIGINT (128 + 2).
const EXIT_INTERRUPTED: i32 = 130;

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
    // buffer changes nothing a person sees, and a file streamed through netchat leaves in 64 KiB
    // writes.
    let stdout = io::BufWriter::with_capacity(64 * 1024, io::stdout());
    let mut console = Console::new(Box::new(stdout), Box::new(io::stderr()), interactive);
    console.set_stdout_color(console::use_color(
        color_mode,
        io::stdout().is_terminal(),
        no_color,
    ));

    // Held until the end, so the channel never disconnects, even where no handler could be
    // installed: a mode's select! would otherwise see a disconnected channel as an event.
    let (interrupt_sender, interrupt) = bounded(1);
    install_interrupt_handler(&cli, interrupt_sender.clone());

    let code = match netchat::run(cli, io::stdin(), &mut console, interrupt) {
        Ok(()) | Err(Error::OutputClosed) => ExitCode::SUCCESS,
        Err(error) => {
            console.error(&error);
            ExitCode::from(error.exit_code())
        }
    };
    drop(interrupt_sender);
    code
}

/// Turns Ctrl-C into a message on a channel, for the modes that end a conversation politely on it
/// (telling the peer, or every member of a room). `half` keeps the default: the kernel ends the
/// process and closes its socket, and the peer sees the connection close.
///
/// A second Ctrl-C while the first is still waiting to be noticed, or one after the mode stopped
/// listening, ends the process at once, so a student is never stuck with a program that ignores
/// Ctrl-C.
fn install_interrupt_handler(cli: &Cli, sender: Sender<()>) {
    if matches!(cli.mode, ModeCommand::Half(_)) {
        return;
    }
    let result = ctrlc::set_handler(move || {
        if sender.try_send(()).is_err() {
            std::process::exit(EXIT_INTERRUPTED);
        }
    });
    if let Err(error) = result {
        let _ = writeln!(
            io::stderr(),
            "netchat: cannot handle Ctrl-C ({error}); it will end netchat at once"
        );
    }
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
    ExitCode::from(EXIT_USAGE)
}
