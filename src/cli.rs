//! The command line: every clap type lives here, and nowhere else.
//!
//! Modes never see clap: [`crate::run`] turns these structs into plain ones (an
//! [`Endpoint`], a mode's `Options`) before a mode starts. Every option carries `///` help, and
//! a test runs clap's `debug_assert` over the whole command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::console::ColorMode;
use crate::diagram::DiagramFormat;
use crate::endpoint::{ConnectAddr, Endpoint, ListenAddr};
use crate::framing::{DEFAULT_MAX_LINE, Framing};
use crate::modes::room::access::Network;
use crate::modes::room::{AccessList, BotOptions, ClassOptions, EngineKind, Motd};
use crate::observe;
use crate::shaping::Shaping;

/// The largest `--max-line` accepted: 64 MiB, so one peer can never make netchat reserve more.
const MAX_MAX_LINE: u32 = 64 * 1024 * 1024;

const TOP_EXAMPLES: &str = "\
Examples:
  netchat half --listen 5000        wait for a classmate on port 5000
  netchat half --connect 5000       talk to it from another terminal (q quits)
  netchat half --connect 192.168.1.20:5000   talk to another machine on the LAN
  netchat lesson half               read lab 1 (the labs are built in)

Exit codes: 0 the conversation ended normally, 1 network or runtime error, 2 usage error,
130 half interrupted.";

const HALF_EXAMPLES: &str = "\
Examples:
  netchat half --listen 5000              terminal 1: wait for one peer
  netchat half --connect 5000             terminal 2: connect and speak first
  netchat half --listen 127.0.0.1:0       let the OS choose a free port (printed on stderr)";

const DUPLEX_EXAMPLES: &str = "\
Examples:
  netchat duplex --listen 5000            terminal 1: wait for one peer
  netchat duplex --connect 5000           terminal 2: both sides type whenever they like
  printf 'hi\\n' | netchat duplex --connect 5000   send, then keep printing the replies";

const LESSON_EXAMPLES: &str = "\
Examples:
  netchat lesson                  list the labs
  netchat lesson half             read lab 1 (q leaves the pager)
  netchat lesson half > lab1.md   save it";

const ROOM_EXAMPLES: &str = "\
Examples:
  netchat room --listen 5000                    run the room for the class
  netchat room --connect 5000 --nick alice      join it
  nc localhost 5000                             plain nc or telnet can join too
  netchat room --listen 5000 --allow 192.168.1.0/24 --log class.txt --motd 'Lab 3 today'
                                                for a class: the lab's subnet only, a transcript
  netchat room --listen 5000 --bots 3           practise alone with three chatting bots";

/// A classroom toolkit for learning TCP sockets by chatting over them.
#[derive(Debug, Parser)]
#[command(name = "netchat", version, after_help = TOP_EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub mode: ModeCommand,
}

/// The three labs, in the order they are taught.
#[derive(Debug, Subcommand)]
pub enum ModeCommand {
    /// Half-duplex chat: strict turns, one line each, like a walkie-talkie; `q` quits.
    #[command(after_help = HALF_EXAMPLES)]
    Half(HalfArgs),
    /// Full-duplex chat: both sides type at any time, like a phone call; `bye` ends.
    #[command(after_help = DUPLEX_EXAMPLES)]
    Duplex(DuplexArgs),
    /// A chat room: one server, many clients (netchat, nc or telnet), with nicknames.
    #[command(after_help = ROOM_EXAMPLES)]
    Room(RoomArgs),
    /// Draws a sequence diagram from event logs written with --events (both sides of one
    /// conversation are merged by time).
    #[command(after_help = DIAGRAM_EXAMPLES)]
    Diagram(DiagramArgs),
    /// One row per student from a room's event logs (--events): names, address, joined, left,
    /// time in the room, lines, words, private messages, kicked or muted; --csv for a
    /// spreadsheet.
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// The labs, built in: without NAME the list, with it one lab (through $PAGER on a terminal).
    #[command(after_help = LESSON_EXAMPLES)]
    Lesson(LessonArgs),
}

const DIAGRAM_EXAMPLES: &str = "\
Examples:
  netchat half --listen 5000 --events a.jsonl      terminal 1
  netchat half --connect 5000 --events b.jsonl     terminal 2; then, after the chat:
  netchat diagram a.jsonl b.jsonl > chat.mmd       a Mermaid diagram (renders on GitHub)
  netchat diagram a.jsonl b.jsonl --format text    the same, as text for the terminal";

const REPORT_EXAMPLES: &str = "\
Examples:
  netchat room --listen 5000 --events class.jsonl   during the class
  netchat report class.jsonl                        after it: one row per student
  netchat report class.jsonl --csv > class.csv      the same for a spreadsheet";

/// `netchat report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Event logs a room server wrote with --events (several rooms: one after the other).
    #[arg(value_name = "LOG", required = true)]
    pub logs: Vec<PathBuf>,
    /// Write comma-separated values (one header line, one line per student) instead of a table.
    #[arg(long)]
    pub csv: bool,
    /// When to use colors (the report itself is never colored; this is for error lines).
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// `netchat diagram`.
#[derive(Debug, Args)]
pub struct DiagramArgs {
    /// Event logs written with --events; several are merged by time.
    #[arg(value_name = "LOG", required = true)]
    pub logs: Vec<PathBuf>,
    /// mermaid: a Mermaid sequenceDiagram (GitHub and most Markdown viewers draw it);
    /// text: columns for the terminal.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = FormatChoice::Mermaid)]
    pub format: FormatChoice,
    /// Only this room member (under any name it had) and the room: one student of a class.
    #[arg(long, value_name = "NICK")]
    pub only: Option<String>,
    /// Only from this time on, in seconds (the diagram's time column).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub from: Option<f64>,
    /// Only up to this time, in seconds (the diagram's time column).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub until: Option<f64>,
    /// When to use colors (the diagram itself is never colored; this is for error lines).
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// A time in seconds, such as `12` or `3.5`.
fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(seconds),
        _ => Err(format!(
            "'{text}' is not a time in seconds: write one such as 12 or 3.5"
        )),
    }
}

/// `--format mermaid|text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatChoice {
    Mermaid,
    Text,
}

impl From<FormatChoice> for DiagramFormat {
    fn from(choice: FormatChoice) -> DiagramFormat {
        match choice {
            FormatChoice::Mermaid => DiagramFormat::Mermaid,
            FormatChoice::Text => DiagramFormat::Text,
        }
    }
}

/// `netchat lesson`.
#[derive(Debug, Args)]
pub struct LessonArgs {
    /// Which lab to show: half, duplex, room… (`netchat lesson` lists them).
    pub name: Option<String>,
}

impl ModeCommand {
    /// The command's name, as typed (the event log's `started` line says it).
    pub fn name(&self) -> &'static str {
        match self {
            ModeCommand::Half(_) => "half",
            ModeCommand::Duplex(_) => "duplex",
            ModeCommand::Room(_) => "room",
            ModeCommand::Diagram(_) => "diagram",
            ModeCommand::Report(_) => "report",
            ModeCommand::Lesson(_) => "lesson",
        }
    }
}

/// `netchat half`.
#[derive(Debug, Args)]
pub struct HalfArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub wire: WireArgs,
    /// Not for half (it sends one message per turn): accepted only to say why (lib.rs).
    #[arg(long, value_name = "N", hide = true)]
    pub coalesce: Option<u32>,
}

/// `netchat duplex`.
#[derive(Debug, Args)]
pub struct DuplexArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub wire: WireArgs,
    /// TCP experiment: gather N messages into one write() (typed or piped); they leave when N
    /// are there or the input pauses for 2 s. A --framing raw peer sees them glued together.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub coalesce: Option<u32>,
    /// Prefix each message with the local time (HH:MM:SS).
    #[arg(long)]
    pub timestamps: bool,
}

/// `netchat room`.
#[derive(Debug, Args)]
pub struct RoomArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    /// With --connect: the name to take on joining (ASCII letters, digits, - _ .; at most 20).
    /// Without it you are guest-N until you type /nick NAME.
    #[arg(long, value_name = "NAME", conflicts_with = "listen")]
    pub nick: Option<String>,
    /// With --listen: how many clients may be connected at once; one more is told the room is
    /// full and disconnected.
    #[arg(
        long,
        value_name = "N",
        default_value_t = crate::modes::room::DEFAULT_MAX_CLIENTS as u32,
        value_parser = clap::value_parser!(u32).range(1..=100_000),
        conflicts_with = "connect"
    )]
    pub max_clients: u32,
    /// With --listen: how the server moves the bytes. `threads` (lesson 3): a reader and a
    /// writer thread per client, simple to read, up to a few thousand clients. `poll` (lesson 4):
    /// one thread and an event loop (epoll, kqueue, IOCP), for tens of thousands of clients and
    /// the least CPU per message. Both run the same room with the same rules.
    #[arg(
        long,
        value_enum,
        value_name = "ENGINE",
        default_value_t = EngineChoice::Threads,
        conflicts_with = "connect"
    )]
    pub engine: EngineChoice,
    /// With --listen: the most lines a second each member may send, sustained (a burst of 20
    /// goes at once, and bytes are limited in proportion). A member over it is not read until
    /// its allowance refills, so TCP slows its sender. Lines it had already sent wait their
    /// turn, up to 100; a flood's lines beyond those are dropped and counted (/stats). 0 turns
    /// the limit off (load tests, benchmarks).
    #[arg(
        long,
        value_name = "N",
        default_value_t = crate::modes::room::limits::DEFAULT_RATE_LIMIT,
        value_parser = clap::value_parser!(u32).range(0..=1_000_000),
        conflicts_with = "connect"
    )]
    pub rate_limit: u32,
    /// With --listen: how many connections one address may always have (beyond it, an address
    /// may take more while many seats are free: a class behind one address gets in), and (with
    /// it) a limit on how fast one address may open new ones. 0 lifts both for everyone (many
    /// clients from one machine: tests, benchmarks); --lab lifts them for a class's network.
    #[arg(
        long,
        value_name = "N",
        default_value_t = crate::modes::room::limits::DEFAULT_MAX_PER_ADDRESS,
        conflicts_with = "connect"
    )]
    pub max_per_address: u32,
    #[command(flatten)]
    pub teacher: TeacherArgs,
}

/// The options a teacher running the room for a class needs (all with --listen only).
#[derive(Debug, Args)]
pub struct TeacherArgs {
    /// With --listen: only clients from this network may join (CIDR, e.g. 192.168.1.0/24 or
    /// fd00::/64; a bare address is one machine). Repeat it for several networks.
    #[arg(long, value_name = "NETWORK", conflicts_with = "connect")]
    pub allow: Vec<Network>,
    /// With --listen: clients from this network are refused, even inside an --allow network.
    /// Repeatable.
    #[arg(long, value_name = "NETWORK", conflicts_with = "connect")]
    pub deny: Vec<Network>,
    /// With --listen: a network whose addresses a class shares (a school's NAT, a lab router, a
    /// room in a VM): its addresses are held to no per-address seat or connection limit.
    /// Repeatable. It admits nobody by itself: --allow and --deny still decide.
    #[arg(long, value_name = "NETWORK", conflicts_with = "connect")]
    pub lab: Vec<Network>,
    /// With --listen: append a transcript of the room (every message and notice, with the local
    /// time HH:MM:SS) to FILE, one line at a time, so `tail -f FILE` follows the room.
    #[arg(long, value_name = "FILE", conflicts_with = "connect")]
    pub log: Option<PathBuf>,
    /// With --listen: a greeting shown to every newcomer after the welcome.
    #[arg(long, value_name = "TEXT", conflicts_with_all = ["connect", "motd_file"])]
    pub motd: Option<String>,
    /// With --listen: the greeting, read from a file (several lines are fine).
    #[arg(long, value_name = "FILE", conflicts_with = "connect")]
    pub motd_file: Option<PathBuf>,
    /// With --listen: start N practice bots that join the room over loopback and chat, rename,
    /// use /me, leave and come back at a human pace (their names start with bot-); a bot answers
    /// whoever mentions its name or sends it /msg.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        value_parser = clap::value_parser!(u32).range(0..=50),
        conflicts_with = "connect"
    )]
    pub bots: u32,
    /// With --listen: two extra bots: bot-sleepy, which hardly reads, and bot-paster, which
    /// pastes long lines at the rate limit, so the room's queue for bot-sleepy grows (watch
    /// /stats) until the server disconnects it as too slow, within a minute.
    #[arg(long, conflicts_with = "connect")]
    pub bots_slow: bool,
    /// With --bots: the seed of the bots' choices, so the same seed replays the same lines in the
    /// same order (for tests and demonstrations). Without it, each run differs.
    #[arg(long, value_name = "NUMBER", conflicts_with = "connect")]
    pub seed: Option<u64>,
}

/// The TCP experiments of `half` and `duplex`: how messages leave.
#[derive(Debug, Args)]
pub struct WireArgs {
    /// TCP experiment: write each message in pieces of at most BYTES bytes (one write() each),
    /// so the peer's read() gets it in pieces. A --framing raw peer sees it split.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub chop: Option<u32>,
    /// TCP experiment: wait MS milliseconds between two write()s (the pieces of --chop, the
    /// batches of --coalesce).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub delay: Option<u32>,
    /// TCP_NODELAY: on (the default) sends small writes at once; off lets Nagle's algorithm
    /// hold a small write back until the previous one is acknowledged.
    #[arg(long, value_enum, value_name = "ON|OFF", default_value_t = Switch::On)]
    pub nodelay: Switch,
}

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

impl WireArgs {
    /// `--chop` and `--delay` (and `--coalesce`, duplex only) as the plain type the modes use.
    pub fn shaping(&self, coalesce: Option<u32>) -> Shaping {
        Shaping {
            chop: self.chop.map(|bytes| bytes as usize),
            delay: self.delay.map(|ms| Duration::from_millis(u64::from(ms))),
            coalesce: coalesce.map(|n| n as usize),
        }
    }

    /// `--nodelay` as a flag.
    pub fn nodelay(&self) -> bool {
        self.nodelay == Switch::On
    }
}

/// Exactly one of `--listen` or `--connect`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct EndpointArgs {
    /// Wait for a peer on this port. A bare PORT listens on every interface, IPv4 and IPv6;
    /// 127.0.0.1:0 lets the OS choose a free port and prints it.
    #[arg(long, value_name = "[ADDR:]PORT")]
    pub listen: Option<ListenAddr>,
    /// Connect to a listener. A bare PORT means this machine (localhost);
    /// host names and `[::1]:5000` work too.
    #[arg(long, value_name = "[HOST:]PORT")]
    pub connect: Option<ConnectAddr>,
}

/// Options every mode shares.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// When to use colors: auto means only on a terminal, and never if NO_COLOR is set.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// The longest message in bytes. Longer lines from a peer are dropped with a notice, so a
    /// peer can never make netchat's memory grow; longer typed lines are not sent.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = DEFAULT_MAX_LINE as u32,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_MAX_LINE))
    )]
    pub max_line: u32,
    /// How the byte stream is cut into messages: line = one message per newline (netchat, nc,
    /// telnet); raw = each chunk as it arrives, and typed lines are sent without a newline
    /// (for scripts that pair one send() with one recv()).
    #[arg(long, value_enum, value_name = "RULE", default_value_t = FramingChoice::Line)]
    pub framing: FramingChoice,
    /// Show every socket event on stderr as `netchat: trace …` lines: connect/accept, each
    /// read() and write() with its bytes and what framing made of them, FIN, RST, close.
    /// With FILE, write those lines to FILE instead.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub trace: Option<Option<PathBuf>>,
    /// Write a JSON Lines event log to FILE (one object per line, flushed as written: `tail -f`
    /// works), for graders and for `netchat diagram`.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// With --events: chat keeps the conversation (connections, joins, names, messages,
    /// commands, refusals, closes); wire adds every read() and write(). Default: chat for a
    /// room (a class's log stays small), wire for half and duplex (what netchat diagram draws).
    #[arg(long, value_enum, value_name = "LEVEL", requires = "events")]
    pub events_level: Option<EventsLevel>,
}

/// `--events-level chat|wire`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventsLevel {
    Chat,
    Wire,
}

/// `--framing line|raw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FramingChoice {
    Line,
    Raw,
}

impl From<FramingChoice> for Framing {
    fn from(choice: FramingChoice) -> Framing {
        match choice {
            FramingChoice::Line => Framing::Line,
            FramingChoice::Raw => Framing::Raw,
        }
    }
}

/// `--engine threads|poll`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineChoice {
    Threads,
    Poll,
}

impl From<EngineChoice> for EngineKind {
    fn from(choice: EngineChoice) -> EngineKind {
        match choice {
            EngineChoice::Threads => EngineKind::Threads,
            EngineChoice::Poll => EngineKind::Poll,
        }
    }
}

/// `--color auto|always|never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl From<ColorChoice> for ColorMode {
    fn from(choice: ColorChoice) -> ColorMode {
        match choice {
            ColorChoice::Auto => ColorMode::Auto,
            ColorChoice::Always => ColorMode::Always,
            ColorChoice::Never => ColorMode::Never,
        }
    }
}

impl EndpointArgs {
    /// The plain endpoint. clap's group guarantees exactly one of the two is present.
    pub fn endpoint(&self) -> Endpoint {
        match (&self.listen, &self.connect) {
            (Some(listen), _) => Endpoint::Listen(listen.clone()),
            (None, Some(connect)) => Endpoint::Connect(connect.clone()),
            (None, None) => unreachable!("clap requires --listen or --connect"),
        }
    }
}

impl CommonArgs {
    /// `--max-line` as a size.
    pub fn max_line(&self) -> usize {
        self.max_line as usize
    }

    /// `--framing` as the plain type the modes use.
    pub fn framing(&self) -> Framing {
        self.framing.into()
    }

    /// `--trace`, `--events` and `--events-level` (whose default, `default_level`, is the
    /// mode's).
    pub fn observe(&self, default_level: observe::Level) -> observe::Settings {
        observe::Settings {
            trace: self.trace.clone(),
            events: self.events.clone(),
            level: match self.events_level {
                None => default_level,
                Some(EventsLevel::Chat) => observe::Level::Chat,
                Some(EventsLevel::Wire) => observe::Level::Wire,
            },
        }
    }
}

impl TeacherArgs {
    /// The plain options the room server takes.
    pub fn class_options(&self) -> ClassOptions {
        let motd = match (&self.motd, &self.motd_file) {
            (Some(text), _) => Motd::Text(text.clone()),
            (None, Some(path)) => Motd::File(path.clone()),
            (None, None) => Motd::None,
        };
        ClassOptions {
            access: AccessList {
                allow: self.allow.clone(),
                deny: self.deny.clone(),
                lab: self.lab.clone(),
            },
            log: self.log.clone(),
            motd,
            bots: BotOptions {
                count: self.bots as usize,
                slow: self.bots_slow,
                seed: self.seed,
            },
        }
    }
}

impl Cli {
    /// The options every mode shares, whichever mode was chosen (`diagram` and `lesson`,
    /// which open no connection, have none).
    pub fn common(&self) -> Option<&CommonArgs> {
        match &self.mode {
            ModeCommand::Half(args) => Some(&args.common),
            ModeCommand::Duplex(args) => Some(&args.common),
            ModeCommand::Room(args) => Some(&args.common),
            ModeCommand::Diagram(_) | ModeCommand::Report(_) | ModeCommand::Lesson(_) => None,
        }
    }

    /// `--color`, whichever command was chosen.
    pub fn color(&self) -> ColorChoice {
        match &self.mode {
            ModeCommand::Diagram(args) => args.color,
            ModeCommand::Report(args) => args.color,
            _ => self
                .common()
                .map_or(ColorChoice::Auto, |common| common.color),
        }
    }
}

/// The hint for a usage error where a bare `[HOST:]PORT` stands without `--listen` or
/// `--connect` (`netchat half 5417`): which to add, as whole commands. `args` are the program's
/// arguments after its name; `unexpected` is the argument clap did not expect.
pub fn bare_port_hint(args: &[String], unexpected: &str) -> Option<String> {
    let mode = args
        .iter()
        .find(|arg| !arg.starts_with('-'))
        .filter(|mode| ["half", "duplex", "room"].contains(&mode.as_str()))?;
    let port = unexpected.rsplit(':').next()?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let waits = if unexpected.contains(':') {
        // A host was given: that is where to connect; a listener takes only an address of ours.
        format!("netchat {mode} --listen {port}")
    } else {
        format!("netchat {mode} --listen {unexpected}")
    };
    Some(format!(
        "a port needs --listen or --connect in front of it: `{waits}` waits for a peer, \
         `netchat {mode} --connect {unexpected}` connects to one"
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bare_port_gets_the_hint_to_add_listen_or_connect() {
        let args: Vec<String> = ["half", "5417"].map(String::from).into();
        let hint = super::bare_port_hint(&args, "5417").expect("a hint");
        assert!(
            hint.contains("`netchat half --listen 5417` waits"),
            "{hint}"
        );
        assert!(
            hint.contains("`netchat half --connect 5417` connects"),
            "{hint}"
        );
        let args: Vec<String> = ["room", "10.0.0.5:5000"].map(String::from).into();
        let hint = super::bare_port_hint(&args, "10.0.0.5:5000").expect("a hint");
        assert!(hint.contains("--connect 10.0.0.5:5000"), "{hint}");
        assert_eq!(super::bare_port_hint(&args, "hello"), None);
        let args: Vec<String> = ["diagram", "5417"].map(String::from).into();
        assert_eq!(super::bare_port_hint(&args, "5417"), None);
    }

    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn listen_and_connect_are_exclusive_and_one_is_required() {
        assert!(Cli::try_parse_from(["netchat", "half"]).is_err());
        assert!(
            Cli::try_parse_from(["netchat", "half", "--listen", "1", "--connect", "2"]).is_err()
        );
        let cli = Cli::try_parse_from(["netchat", "half", "--connect", "5000"]).unwrap();
        let ModeCommand::Half(args) = cli.mode else {
            panic!("expected half")
        };
        assert_eq!(
            args.endpoint.endpoint(),
            Endpoint::Connect("localhost:5000".parse().unwrap())
        );
    }

    #[test]
    fn trace_takes_an_optional_file_and_events_a_required_one() {
        let parse = |args: &[&str]| {
            let mut all = vec!["netchat", "duplex", "--listen", "0"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all).map(|cli| cli.common().unwrap().observe(observe::Level::Wire))
        };
        assert_eq!(parse(&[]).unwrap(), observe::Settings::default());
        assert_eq!(parse(&["--trace"]).unwrap().trace, Some(None));
        assert_eq!(
            parse(&["--trace", "t.log"]).unwrap().trace,
            Some(Some(PathBuf::from("t.log")))
        );
        assert!(parse(&["--events"]).is_err());
    }

    #[test]
    fn max_line_defaults_to_8192_and_rejects_zero() {
        let cli = Cli::try_parse_from(["netchat", "half", "--listen", "0"]).unwrap();
        assert_eq!(cli.common().map(CommonArgs::max_line), Some(8192));
        assert!(
            Cli::try_parse_from(["netchat", "half", "--listen", "0", "--max-line", "0"]).is_err()
        );
    }
}
