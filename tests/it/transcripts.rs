//! The lessons' transcripts are what netchat prints: each one is produced here, by running the
//! commands the lesson shows, and compared with the lesson's text.
//!
//! A lesson marks each block of netchat's output with an HTML comment right before its fence:
//!
//! ```text
//! <!-- transcript: half-talk/listener -->          the run `half-talk`, the side `listener`
//! <!-- transcript: unchecked (needs a second machine) -->   cannot run here, and says why
//! ```
//!
//! A run is data, one entry of [`SCENARIOS`]: the programs it starts (netchat under a
//! pseudo-terminal where the lesson shows a terminal, with pipes where it shows a pipe, or a
//! hand-written peer standing in for `nc` or a Python script, or a file one of them writes) and
//! the steps a student takes (type, wait for a line). The block names one side of the run (its
//! output at the end) or a snapshot taken during it. Every run starts at once, each on its own thread, on 127.0.0.1
//! with a port the OS chooses.
//!
//! Comparing: the block's lines must appear in the side's output one after the other (`…` in a
//! block stands for any lines left out); a block that starts with `$ COMMAND` shows the output
//! from its first line, and COMMAND must be the program's. Before comparing, both texts are
//! normalised (see [`normalise`]): the listener's port becomes the lesson's 5000, other ports,
//! times and counters become placeholders, the listener's address is the lesson's `[::]`, and
//! the address a member joined from or was refused (a classmate's on the LAN, the test's
//! loopback) is `ADDR`.
//! The lines for classmates on the LAN depend on the machine: the lesson's lines are checked
//! against netchat's own `lan::join_lines` for the interfaces the lesson shows, and then left
//! out (the test's listener binds loopback, which lists none). For a piped program, status
//! lines (`netchat: …`) are compared with its stderr and the others with its stdout, each in
//! order, since the two pipes have no order between them.
//!
//! On a terminal, the turn's status line (`blocked in read() on … — waiting for …`) is drawn by a
//! helper thread: it must be on the screen, but where it lands among lines printed at the same
//! moment is the scheduler's choice, so the other lines are compared without it.
//!
//! A marker that ends with `(in any order)` says that the block's lines come from threads
//! running at once: each must be in the output, in any order.
//!
//! A block that looks like netchat's output (a line starting `netchat: `, `peer>`, `you>`,
//! `host>` or `***`) and has no marker fails the test: no transcript escapes the check.
//!
//! Unix only, like every test under a pseudo-terminal.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::pty::Tty;
use crate::common::{DEADLINE, Netchat, skip_or_fail};

/// The end of a marker whose block's lines may come in any order (threads writing at once).
const ANY_ORDER: &str = "(in any order)";

/// The port the lessons use; the port a run's listener got is shown as this one.
const LESSON_PORT: &str = "5000";

/// The pseudo-terminal of a run: tall and wide enough that nothing scrolls away or wraps.
const ROWS: u16 = 60;
const COLUMNS: u16 = 250;

/// One program of a run.
#[derive(Clone, Copy)]
enum Program {
    /// netchat in a terminal of its own: the screen is its output.
    Terminal(&'static str),
    /// netchat with stdin from a pipe that holds these bytes (then ends), stdout and stderr
    /// piped: `printf '…' | netchat …`.
    Piped(&'static str, &'static str),
    /// A hand-written peer that connects to the run's listener (what `nc` or a Python client
    /// does): its output is what it received, with what it typed in between, as nc's terminal
    /// shows it.
    Peer(&'static str),
    /// A hand-written peer that listens (a Python server): netchat connects to it.
    PeerListener(&'static str),
    /// A file a program of the run writes (`--log class.txt`): its lines.
    File(&'static str),
}

impl Program {
    /// The command as the lesson shows it.
    fn command(self) -> &'static str {
        match self {
            Program::Terminal(c)
            | Program::Piped(c, _)
            | Program::Peer(c)
            | Program::PeerListener(c)
            | Program::File(c) => c,
        }
    }
}

/// What a student does, in order.
#[derive(Clone, Copy)]
enum Step {
    /// Starts program N. A listener (`--listen 5000`) binds 127.0.0.1:0 instead and is waited
    /// for until it says where it listens; a connector connects to the run's listener.
    Start(usize),
    /// Types on program N: keys on its terminal (`\r` is Enter), bytes on a peer's socket.
    Type(usize, &'static str),
    /// Waits (with the harness's deadline) until program N's output contains this text; on a
    /// terminal, `\n` in it is the start of the next row.
    Wait(usize, &'static str),
    /// Keeps program N's output as it is now, under this name (`run/name` in a marker).
    Snapshot(usize, &'static str),
    /// A peer that listens accepts its connection.
    Accept(usize),
    /// A peer closes its socket (the script ends).
    Close(usize),
    /// Waits this many milliseconds: only where the lesson's own story has a pause (a script's
    /// `time.sleep`), never to synchronize.
    Pause(u64),
    /// A peer sends this many lines of `y` in one write: `yes | nc`, as far as the room can
    /// tell, and more than it holds for one member.
    Flood(usize, usize),
    /// A peer answers every line it receives with `ok` (the echo server of lesson 2) until the
    /// other side closes.
    EchoOk(usize),
}

/// What a run needs of the machine, beyond loopback.
#[derive(Clone, Copy)]
enum Needs {
    Nothing,
    /// The lessons' thread-limit line: Linux's default `vm.max_map_count` (65530), which makes
    /// the threads engine's limit (7,941 clients) the tightest, below an open-file limit of at
    /// least 10,000.
    ThreadLimitBinds,
}

impl Needs {
    /// `Err` says why this machine cannot give the run what it needs.
    fn check(self) -> Result<(), String> {
        match self {
            Needs::Nothing => Ok(()),
            Needs::ThreadLimitBinds => {
                let maps = fs::read_to_string("/proc/sys/vm/max_map_count").unwrap_or_default();
                if maps.trim() != "65530" {
                    return Err(format!(
                        "vm.max_map_count is {:?}, not Linux's default 65530",
                        maps.trim()
                    ));
                }
                let limits = fs::read_to_string("/proc/self/limits").unwrap_or_default();
                let hard = limits
                    .lines()
                    .find(|line| line.starts_with("Max open files"))
                    .and_then(|line| line.split_whitespace().nth(4))
                    .and_then(|hard| hard.parse::<u64>().ok());
                match hard {
                    Some(hard) if hard >= 10_000 => Ok(()),
                    _ => Err(format!(
                        "the hard open-file limit is {hard:?}, under 10,000"
                    )),
                }
            }
        }
    }
}

/// One run: its name, what it needs, its programs with the names of their sides, its steps.
struct Scenario {
    name: &'static str,
    needs: Needs,
    sides: &'static [(&'static str, Program)],
    steps: &'static [Step],
}

use Program::{File, Peer, PeerListener, Piped, Terminal};
use Step::{Accept, Close, EchoOk, Flood, Pause, Snapshot, Start, Type, Wait};

/// `seq 20 | sed 's/.*/message number &, twenty-five/'`.
const NAGLE_INPUT: &str = concat!(
    "message number 1, twenty-five\n",
    "message number 2, twenty-five\n",
    "message number 3, twenty-five\n",
    "message number 4, twenty-five\n",
    "message number 5, twenty-five\n",
    "message number 6, twenty-five\n",
    "message number 7, twenty-five\n",
    "message number 8, twenty-five\n",
    "message number 9, twenty-five\n",
    "message number 10, twenty-five\n",
    "message number 11, twenty-five\n",
    "message number 12, twenty-five\n",
    "message number 13, twenty-five\n",
    "message number 14, twenty-five\n",
    "message number 15, twenty-five\n",
    "message number 16, twenty-five\n",
    "message number 17, twenty-five\n",
    "message number 18, twenty-five\n",
    "message number 19, twenty-five\n",
    "message number 20, twenty-five\n",
);

/// The runs the lessons' transcripts come from.
const SCENARIOS: &[Scenario] = &[
    // Lab 1 §2: the first conversation.
    Scenario {
        name: "half-talk",
        needs: Needs::Nothing,
        sides: &[
            ("listener", Terminal("netchat half --listen 5000")),
            ("connector", Terminal("netchat half --connect 5000")),
        ],
        steps: &[
            Start(0),
            Start(1),
            Wait(1, "netchat: your turn"),
            Wait(0, "waiting for the peer"),
            Snapshot(1, "connector-start"),
            Snapshot(0, "listener-start"),
            Type(1, "hello from terminal 2\r"),
            Wait(0, "peer> hello from terminal 2"),
            Type(0, "hi back\r"),
            Wait(1, "peer> hi back"),
            Type(1, "q\r"),
            Wait(1, "you quit"),
            Wait(0, "peer quit"),
        ],
    },
    // Lab 1 §4: typing out of turn.
    Scenario {
        name: "half-out-of-turn",
        needs: Needs::Nothing,
        sides: &[
            ("listener", Terminal("netchat half --listen 5000")),
            ("connector", Terminal("netchat half --connect 5000")),
        ],
        steps: &[
            Start(0),
            Start(1),
            Wait(1, "netchat: your turn"),
            Type(1, "one\r"),
            Wait(0, "peer> one"),
            Wait(1, "waiting for the peer"),
            Type(1, "two\r"),
            Wait(1, "not your turn"),
            Wait(1, "you> two"),
            Snapshot(1, "early"),
            Type(0, "ok\r"),
            Wait(1, "peer> ok\nnetchat: your turn"),
            // `two` is back on the line in the connector's turn: Enter sends it.
            Type(1, "\r"),
            Wait(0, "peer> two"),
            Wait(1, "you> two\nnetchat: peer's turn"),
            Wait(
                1,
                "you> two\nnetchat: peer's turn: waiting for its message (what you type now is sent on your turn)\nnetchat: blocked",
            ),
        ],
    },
    // Lab 1 §5: two messages in one write, from nc.
    Scenario {
        name: "half-two-in-one",
        needs: Needs::Nothing,
        sides: &[
            ("listener", Terminal("netchat half --listen 5000")),
            ("nc", Peer("nc localhost 5000")),
        ],
        steps: &[
            Start(0),
            Start(1),
            Type(1, "first\nsecond\n"),
            Wait(0, "netchat: your turn"),
            Type(0, "a\r"),
            Wait(0, "peer> second\nnetchat: your turn"),
        ],
    },
    // The same, traced.
    Scenario {
        name: "half-two-in-one-traced",
        needs: Needs::Nothing,
        sides: &[
            ("listener", Terminal("netchat half --listen 5000 --trace")),
            ("nc", Peer("nc localhost 5000")),
        ],
        steps: &[
            Start(0),
            Start(1),
            Type(1, "first\nsecond\n"),
            Wait(0, "netchat: your turn"),
            Type(0, "a\r"),
            Wait(0, "peer> second\nnetchat: your turn"),
        ],
    },
    // Lab 1 §5: one message in two reads, from a Python script.
    Scenario {
        name: "half-one-in-two",
        needs: Needs::Nothing,
        sides: &[
            ("listener", Terminal("netchat half --listen 5000 --trace")),
            ("script", Peer("python3 -c …")),
        ],
        steps: &[
            Start(0),
            Start(1),
            Type(1, "hel"),
            Pause(100),
            Type(1, "lo\n"),
            Wait(0, "netchat: your turn"),
            Pause(1000),
            Close(1),
            Type(0, "q\r"),
            Wait(0, "you quit"),
            Wait(0, "closed"),
        ],
    },
    // Lab 1 §5: split and merge on purpose.
    Scenario {
        name: "chop",
        needs: Needs::Nothing,
        sides: &[
            (
                "listener",
                Terminal("netchat duplex --listen 5000 --framing raw"),
            ),
            (
                "connector",
                Terminal("netchat duplex --connect 5000 --chop 3 --delay 100"),
            ),
        ],
        steps: &[
            Start(0),
            Start(1),
            Wait(1, "bye ends"),
            Type(1, "hello world\r"),
            Wait(0, "peer> ld"),
            Type(1, "how are you\r"),
            Wait(0, "peer> ou"),
            Type(1, "see you soon\r"),
            // The newline leaves last, alone: an empty "message".
            Wait(0, "peer> oon\npeer>"),
        ],
    },
    Scenario {
        name: "coalesce",
        needs: Needs::Nothing,
        sides: &[
            (
                "listener",
                Terminal("netchat duplex --listen 5000 --framing raw"),
            ),
            (
                "connector",
                Terminal("netchat duplex --connect 5000 --coalesce 3"),
            ),
        ],
        steps: &[
            Start(0),
            Start(1),
            Wait(1, "bye ends"),
            Type(1, "hello world\rhow are you\rsee you soon\r"),
            Wait(0, "see you soon"),
        ],
    },
    Scenario {
        name: "line-framing",
        needs: Needs::Nothing,
        sides: &[
            ("listener", Terminal("netchat duplex --listen 5000")),
            (
                "connector",
                Terminal("netchat duplex --connect 5000 --chop 3 --delay 100"),
            ),
        ],
        steps: &[
            Start(0),
            Start(1),
            Wait(1, "bye ends"),
            Type(1, "hello world\r"),
            Wait(0, "peer> hello world"),
            Type(1, "how are you\r"),
            Wait(0, "peer> how are you"),
            Type(1, "see you soon\r"),
            Wait(0, "peer> see you soon"),
        ],
    },
    // Lab 1 §7: a Python server that does not frame its messages.
    Scenario {
        name: "half-script",
        needs: Needs::Nothing,
        sides: &[
            ("script", PeerListener("python3 server.py")),
            ("connector", Terminal("netchat half --connect 5000")),
        ],
        steps: &[
            Start(0),
            Start(1),
            Accept(0),
            Wait(1, "netchat: your turn"),
            Type(1, "hello\r"),
            Wait(0, "hello\n"),
            Type(0, "hi"),
            Wait(1, "--framing raw"),
        ],
    },
    // The same, traced: the watchdog names the call both sides are stuck in.
    Scenario {
        name: "half-script-traced",
        needs: Needs::Nothing,
        sides: &[
            ("script", PeerListener("python3 server.py")),
            ("connector", Terminal("netchat half --connect 5000 --trace")),
        ],
        steps: &[
            Start(0),
            Start(1),
            Accept(0),
            Wait(1, "netchat: your turn"),
            Type(1, "hello\r"),
            Wait(0, "hello\n"),
            Type(0, "hi"),
            Wait(1, "blocked in read() on the socket (waiting for the peer)"),
        ],
    },
    Scenario {
        name: "half-script-raw",
        needs: Needs::Nothing,
        sides: &[
            ("script", PeerListener("python3 server.py")),
            (
                "connector",
                Terminal("netchat half --connect 5000 --framing raw"),
            ),
        ],
        steps: &[
            Start(0),
            Start(1),
            Accept(0),
            Wait(1, "netchat: your turn"),
            Type(1, "hello\r"),
            Wait(0, "hello"),
            Type(0, "hi"),
            Wait(1, "peer> hi"),
            Type(1, "q\r"),
            Wait(1, "you quit"),
        ],
    },
    // Lab 2 §2: one thread cannot wait for two things.
    Scenario {
        name: "half-stuck",
        needs: Needs::Nothing,
        sides: &[
            ("listener", Terminal("netchat half --listen 5000")),
            ("connector", Terminal("netchat half --connect 5000")),
        ],
        steps: &[
            Start(0),
            Start(1),
            Wait(1, "netchat: your turn"),
            Type(1, "hello\r"),
            Wait(0, "peer> hello"),
            Wait(0, "netchat: your turn"),
            Wait(1, "waiting for the peer"),
            Type(1, "are you there?\r"),
            Wait(1, "are you there?"),
        ],
    },
    // Lab 2 §4: the two-terminal session.
    Scenario {
        name: "duplex-talk",
        needs: Needs::Nothing,
        sides: &[
            ("listener", Terminal("netchat duplex --listen 5000")),
            ("connector", Terminal("netchat duplex --connect 5000")),
        ],
        steps: &[
            Start(0),
            Start(1),
            Wait(1, "bye ends"),
            Wait(0, "bye ends"),
            Type(1, "hi, can you hear me?\r"),
            Wait(0, "peer> hi, can you hear me?"),
            Type(0, "yes! and I can talk while you ty"),
            Wait(0, "you> yes! and I can talk while you ty"),
            Type(1, "wait, one more thing\r"),
            Wait(
                0,
                "peer> wait, one more thing\nyou> yes! and I can talk while you ty",
            ),
            Snapshot(0, "half-typed"),
            Type(0, "pe\r"),
            Wait(1, "peer> yes! and I can talk while you type"),
            Type(1, "bye\r"),
            Wait(1, "you said bye"),
            Wait(0, "the peer said bye"),
        ],
    },
    Scenario {
        name: "duplex-piped",
        needs: Needs::Nothing,
        sides: &[
            ("listener", Terminal("netchat duplex --listen 5000")),
            (
                "connector",
                Piped("netchat duplex --connect 5000", "hi\nanyone there?\n"),
            ),
        ],
        steps: &[
            Start(0),
            Start(1),
            Wait(1, "netchat: end of input"),
            Wait(0, "the peer finished sending"),
            Snapshot(0, "after-fin"),
            Type(0, "yes, I am\r"),
            Wait(1, "yes, I am"),
            Type(0, "\x04"),
            Wait(1, "netchat: the peer closed the connection"),
            Wait(0, "end of input"),
        ],
    },
    // Lab 2 §5: the wire, traced.
    Scenario {
        name: "duplex-trace",
        needs: Needs::Nothing,
        sides: &[
            ("listener", Terminal("netchat duplex --listen 5000 --trace")),
            (
                "connector",
                Piped("netchat duplex --connect 5000 --trace", "one\ntwo\n"),
            ),
        ],
        steps: &[
            Start(0),
            Start(1),
            Wait(0, "the peer finished sending"),
            Type(0, "your FIN arrived, but I can still talk\r"),
            Wait(1, "netchat: trace"),
            Wait(1, "your FIN arrived"),
            Type(0, "\x04"),
            Wait(1, "netchat: the peer closed the connection"),
            Wait(0, "closed"),
        ],
    },
    // Lab 2 §5: Nagle's algorithm against a Python echo server.
    Scenario {
        name: "nagle",
        needs: Needs::Nothing,
        sides: &[
            ("server", PeerListener("python3 echo.py")),
            (
                "connector",
                Piped(
                    "netchat half --connect 127.0.0.1:5000 --chop 5 --nodelay off --trace",
                    NAGLE_INPUT,
                ),
            ),
        ],
        steps: &[
            Start(0),
            Start(1),
            Accept(0),
            EchoOk(0),
            Wait(1, "netchat: trace"),
        ],
    },
    // Lab 2 §6: a Python client that does not frame its messages.
    Scenario {
        name: "duplex-script",
        needs: Needs::Nothing,
        sides: &[
            ("listener", Terminal("netchat duplex --listen 5000")),
            ("script", Peer("python3 client.py")),
        ],
        steps: &[
            Start(0),
            Start(1),
            Wait(0, "bye ends"),
            Type(1, "hello"),
            Wait(0, "--framing raw"),
        ],
    },
    Scenario {
        name: "duplex-script-raw",
        needs: Needs::Nothing,
        sides: &[
            (
                "listener",
                Terminal("netchat duplex --listen 5000 --framing raw"),
            ),
            ("script", Peer("python3 client.py")),
        ],
        steps: &[
            Start(0),
            Start(1),
            Wait(0, "bye ends"),
            Type(1, "hello"),
            Wait(0, "peer> hello"),
        ],
    },
    // Lab 3 §3: who owns a name.
    Scenario {
        name: "room-names",
        needs: Needs::Nothing,
        sides: &[
            ("server", Terminal("netchat room --listen 5000")),
            ("alice", Peer("nc localhost 5000")),
            ("bob", Peer("nc localhost 5000")),
            ("carol", Peer("nc localhost 5000")),
        ],
        steps: &[
            Start(0),
            Start(1),
            Type(1, "/nick alice\n"),
            Wait(1, "you are now alice"),
            Start(2),
            Type(2, "/nick bob\n"),
            Wait(2, "you are now bob"),
            Start(3),
            Wait(3, "/help for the commands"),
            Type(3, "/nick alice\n"),
            Wait(3, "name refused"),
            Type(2, "[alice] I owe bob 10 euros\n"),
            Wait(1, "I owe bob"),
            Type(2, "/nick a1ice\n"),
            Wait(2, "name refused"),
        ],
    },
    // Lab 3 §5: a classmate floods the room.
    Scenario {
        name: "room-flood",
        needs: Needs::Nothing,
        sides: &[
            ("server", Terminal("netchat room --listen 5000")),
            (
                "alice",
                Terminal("netchat room --connect 5000 --nick alice"),
            ),
            ("flooder", Peer("yes | nc localhost 5000")),
        ],
        steps: &[
            Start(0),
            Start(1),
            Wait(1, "you are now alice"),
            Start(2),
            Wait(2, "/help for the commands"),
            Flood(2, 1000),
            Wait(2, "far ahead"),
            Wait(0, "is sending faster"),
        ],
    },
    // Lab 3 §7: the lab, three terminals.
    Scenario {
        name: "room-lab",
        needs: Needs::Nothing,
        sides: &[
            ("teacher", Terminal("netchat room --listen 5000")),
            (
                "alice",
                Terminal("netchat room --connect 5000 --nick alice"),
            ),
            ("bob", Peer("nc localhost 5000")),
        ],
        steps: &[
            Start(0),
            Wait(0, "host>"),
            Snapshot(0, "teacher-start"),
            Start(1),
            Wait(1, "you are now alice\nyou>"),
            Snapshot(1, "alice-start"),
            Start(2),
            Wait(2, "/help for the commands"),
            Type(2, "/nick bob\n"),
            Wait(2, "you are now bob"),
            Type(2, "hi alice, I am on nc\n"),
            Wait(1, "[bob] hi alice, I am on nc"),
            Snapshot(2, "bob-start"),
            Type(1, "hello bob\r"),
            Wait(2, "[alice] hello bob"),
            Type(1, "/msg bob psst, lunch?\r"),
            Wait(2, "psst, lunch?"),
            Type(1, "/me waves\r"),
            Wait(2, "* alice waves"),
            Type(1, "/who\r"),
            Wait(1, "in the room (2 people)"),
            Type(2, "[alice] I am alice now\n"),
            Wait(1, "[bob] [alice] I am alice now"),
            Wait(0, "[bob] [alice] I am alice now"),
            Type(2, "/nick alice\n"),
            Wait(2, "name refused"),
            Type(0, "welcome, class\r"),
            Wait(2, "[host] welcome, class"),
            Wait(1, "[host] welcome, class"),
            Type(0, "/kick bob impersonation\r"),
            Wait(2, "goodbye: you were kicked"),
            Wait(1, "bob was kicked"),
            Wait(
                0,
                "bob was kicked by the host (impersonation) (1 in the room)\nhost>",
            ),
            Wait(
                1,
                "bob was kicked by the host (impersonation) (1 in the room)\nyou>",
            ),
            Snapshot(0, "teacher-kick"),
            Snapshot(1, "alice-kick"),
            // bob leaves his nc (Ctrl-C) before the teacher closes the room.
            Close(2),
            Type(0, "\x03"),
            Wait(0, "the room is closed"),
            Wait(1, "the server closed the connection"),
        ],
    },
    // Lab 3 §7: a room for the lab's network only, knocked on from elsewhere.
    Scenario {
        name: "room-allow",
        needs: Needs::Nothing,
        sides: &[
            (
                "server",
                Terminal("netchat room --listen 5000 --allow 192.168.1.0/24"),
            ),
            ("student", Peer("nc localhost 5000")),
        ],
        steps: &[Start(0), Start(1), Wait(1, "ask the host\n")],
    },
    // Lab 3 §7: the room's transcript, for a teacher.
    Scenario {
        name: "room-log",
        needs: Needs::Nothing,
        sides: &[
            (
                "server",
                Terminal("netchat room --listen 5000 --log class.txt"),
            ),
            ("alice", Peer("nc localhost 5000")),
            ("bob", Peer("nc localhost 5000")),
            ("eve", Peer("nc localhost 5000")),
            ("log", File("class.txt")),
        ],
        steps: &[
            Start(0),
            Start(4),
            Start(1),
            Type(1, "/nick alice\nhello everyone, is port 5000 right?\n"),
            Wait(0, "[alice] hello everyone"),
            Type(0, "yes, 5000\r"),
            Wait(1, "[host] yes, 5000"),
            Start(2),
            Type(2, "/nick bob\n/msg alice see you at lunch\n"),
            Wait(1, "see you at lunch"),
            Start(3),
            Type(3, "/nick eve\n"),
            Wait(3, "you are now eve"),
            Type(0, "/ban eve\r"),
            Wait(3, "goodbye"),
            Type(0, "/quit\r"),
            Wait(4, "closing the room"),
        ],
    },
    // Lab 3 §8: a Python chat server that does not frame its messages.
    Scenario {
        name: "room-script",
        needs: Needs::Nothing,
        sides: &[
            ("script", PeerListener("python3 broadcast.py")),
            ("student", Terminal("netchat room --connect 5000")),
        ],
        steps: &[
            Start(0),
            Start(1),
            Accept(0),
            Type(0, "Welcome to the chat room!"),
            Wait(1, "--framing raw"),
            Wait(1, "no welcome after 2 s"),
            Type(0, "<127.0.0.1> hello\n"),
            Wait(1, "<127.0.0.1> hello"),
        ],
    },
    Scenario {
        name: "room-script-raw",
        needs: Needs::Nothing,
        sides: &[
            ("script", PeerListener("python3 broadcast.py")),
            (
                "student",
                Terminal("netchat room --connect 5000 --framing raw"),
            ),
        ],
        steps: &[
            Start(0),
            Start(1),
            Accept(0),
            Type(0, "Welcome to the chat room!"),
            Wait(1, "Welcome to the chat room!"),
            Type(1, "hello\r"),
            Wait(0, "hello"),
            Type(0, "<127.0.0.1> hi back"),
            Wait(1, "<127.0.0.1> hi back"),
        ],
    },
    // Lab 3 §4: the same, for the class of 10,000 of lesson 3.
    Scenario {
        name: "room-thread-limit",
        needs: Needs::ThreadLimitBinds,
        sides: &[(
            "server",
            Piped("netchat room --listen 5000 --max-clients 10000", ""),
        )],
        steps: &[Start(0), Wait(0, "netchat: the room is closed")],
    },
    // Lab 4 §1: what the system lets a room of threads hold.
    Scenario {
        name: "thread-limit",
        needs: Needs::ThreadLimitBinds,
        sides: &[(
            "server",
            Piped("netchat room --listen 5000 --max-clients 20000", ""),
        )],
        steps: &[Start(0), Wait(0, "netchat: the room is closed")],
    },
];

/// One program while a run goes on.
enum Running {
    Terminal(Box<Tty>),
    Piped(Netchat),
    Peer(PeerSide),
    Listening(TcpListener),
    File(std::path::PathBuf),
}

/// A hand-written peer: its socket, and what its terminal would show.
struct PeerSide {
    stream: TcpStream,
    shown: Vec<u8>,
}

impl PeerSide {
    fn new(stream: TcpStream) -> PeerSide {
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("read timeout");
        stream.set_nodelay(true).expect("nodelay");
        PeerSide {
            stream,
            shown: Vec::new(),
        }
    }

    /// Reads whatever has arrived; `false` once the other side has closed.
    fn poll(&mut self) -> bool {
        let mut buffer = [0u8; 4096];
        match self.stream.read(&mut buffer) {
            Ok(0) => false,
            Ok(n) => {
                self.shown.extend_from_slice(&buffer[..n]);
                true
            }
            // Nothing within the short timeout; or a signal interrupted the read (EINTR, never
            // restarted on a socket with a timeout: see the harness): nothing yet, either way.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                true
            }
            Err(_) => false,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.shown).into_owned()
    }
}

/// The lines a run produced: each side's output, and the snapshots.
type Outputs = BTreeMap<String, Output>;

/// A run's outputs and the port its listener got, or why it failed.
type RunResult = Result<(Outputs, u16), String>;

/// What one side showed.
#[derive(Clone, Debug)]
enum Output {
    /// One sequence of lines (a terminal's screen, a peer's terminal).
    Lines(Vec<String>),
    /// A piped netchat: its stderr and its stdout.
    Piped {
        stderr: Vec<String>,
        stdout: Vec<String>,
    },
}

/// The command a test runs for the lesson's `command`: a listener binds 127.0.0.1:0, a
/// connector connects to the run's listener.
fn test_args(run: &str, command: &str, port: Option<u16>) -> Vec<String> {
    let words: Vec<&str> = command.split_whitespace().skip(1).collect();
    let mut args = Vec::new();
    let mut previous = "";
    for word in words {
        let arg = match previous {
            "--listen" => "127.0.0.1:0".to_string(),
            "--connect" => format!("127.0.0.1:{}", port.expect("a connector needs a listener")),
            "--log" => {
                // Fresh: a file a previous run left would be appended to.
                let path = file_path(run, word);
                let _ = fs::remove_file(&path);
                path.display().to_string()
            }
            _ => word.to_string(),
        };
        args.push(arg);
        previous = word;
    }
    args
}

/// Where a run's file `name` (`--log class.txt`) is written: in the temporary folder, unique to
/// this test process and the run.
fn file_path(run: &str, name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "netchat-test-{}-transcript-{run}-{name}",
        std::process::id()
    ))
}

/// Runs a scenario and returns every side's output and every snapshot.
fn run(scenario: &Scenario) -> RunResult {
    let mut running: Vec<Option<Running>> = scenario.sides.iter().map(|_| None).collect();
    let mut port: Option<u16> = None;
    let mut outputs = Outputs::new();
    let side = |i: usize| scenario.sides[i].0;
    for step in scenario.steps {
        match *step {
            Start(i) => {
                let program = scenario.sides[i].1;
                let args = test_args(scenario.name, program.command(), port);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let listens = program.command().contains("--listen");
                running[i] = Some(match program {
                    Terminal(_) => {
                        let mut tty = Tty::spawn(side(i), &args, ROWS, COLUMNS);
                        if listens {
                            let screen = tty.wait_for_text("listening on ");
                            port = screen.rows.iter().find_map(|row| listening_port(row));
                        }
                        Running::Terminal(Box::new(tty))
                    }
                    Piped(_, input) => {
                        let mut process = Netchat::spawn(side(i), &args);
                        process.send_bytes(input.as_bytes());
                        process.close_stdin();
                        if listens {
                            let line = process.expect_stderr("listening on ");
                            port = listening_port(&line);
                        }
                        Running::Piped(process)
                    }
                    Peer(_) => {
                        let addr = SocketAddr::from(([127, 0, 0, 1], port.ok_or("no listener")?));
                        let stream = TcpStream::connect_timeout(&addr, DEADLINE)
                            .map_err(|e| format!("{}: connect: {e}", side(i)))?;
                        Running::Peer(PeerSide::new(stream))
                    }
                    PeerListener(_) => {
                        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
                        port = Some(listener.local_addr().expect("local address").port());
                        Running::Listening(listener)
                    }
                    Program::File(name) => Running::File(file_path(scenario.name, name)),
                });
            }
            Accept(i) => {
                let Some(Running::Listening(listener)) = &running[i] else {
                    return Err(format!(
                        "{}: accept on a side that does not listen",
                        side(i)
                    ));
                };
                listener.set_nonblocking(true).expect("nonblocking");
                let deadline = Instant::now() + DEADLINE;
                let stream = loop {
                    match listener.accept() {
                        Ok((stream, _)) => break stream,
                        Err(_) if Instant::now() < deadline => {
                            thread::sleep(Duration::from_millis(5));
                        }
                        Err(e) => return Err(format!("{}: no connection: {e}", side(i))),
                    }
                };
                stream.set_nonblocking(false).expect("blocking");
                running[i] = Some(Running::Peer(PeerSide::new(stream)));
            }
            Type(i, keys) => match running[i].as_mut() {
                Some(Running::Terminal(tty)) => tty.type_keys(keys),
                Some(Running::Peer(peer)) => {
                    peer.stream
                        .write_all(keys.as_bytes())
                        .map_err(|e| format!("{}: write: {e}", side(i)))?;
                    // nc's terminal echoes what its user types.
                    peer.shown.extend_from_slice(keys.as_bytes());
                }
                _ => return Err(format!("{}: cannot type there", side(i))),
            },
            Wait(i, text) => wait(running[i].as_mut(), side(i), text)?,
            Snapshot(i, name) => {
                let output = output_of(running[i].as_mut(), side(i))?;
                outputs.insert(name.to_string(), output);
            }
            Close(i) => {
                // Like the script's exit: what it showed stays, its socket is closed.
                let output = output_of(running[i].as_mut(), side(i))?;
                outputs.insert(side(i).to_string(), output);
                running[i] = None;
            }
            Pause(ms) => thread::sleep(Duration::from_millis(ms)),
            Flood(i, lines) => {
                let Some(Running::Peer(peer)) = running[i].as_mut() else {
                    return Err(format!("{}: not a connected peer", side(i)));
                };
                peer.stream
                    .write_all("y\n".repeat(lines).as_bytes())
                    .map_err(|e| format!("{}: write: {e}", side(i)))?;
            }
            EchoOk(i) => {
                let Some(Running::Peer(peer)) = running[i].as_mut() else {
                    return Err(format!("{}: not a connected peer", side(i)));
                };
                echo_ok(peer, side(i))?;
            }
        }
    }
    for (i, slot) in running.iter_mut().enumerate() {
        if slot.is_none() && outputs.contains_key(side(i)) {
            continue;
        }
        outputs.insert(side(i).to_string(), output_of(slot.as_mut(), side(i))?);
    }
    Ok((outputs, port.unwrap_or(0)))
}

/// The echo server of lesson 2: `ok\n` for each line, until the peer closes.
fn echo_ok(peer: &mut PeerSide, name: &str) -> Result<(), String> {
    let deadline = Instant::now() + DEADLINE;
    let mut answered = 0;
    while Instant::now() < deadline {
        let open = peer.poll();
        let lines = peer.shown.iter().filter(|&&b| b == b'\n').count();
        while answered < lines {
            peer.stream
                .write_all(b"ok\n")
                .map_err(|e| format!("{name}: write: {e}"))?;
            answered += 1;
        }
        if !open {
            return Ok(());
        }
    }
    Err(format!("{name}: the other side did not close"))
}

/// The port in `listening on ADDR:PORT (…)`.
fn listening_port(line: &str) -> Option<u16> {
    crate::common::parse_listening_addr(line).map(|addr| addr.port())
}

fn wait(program: Option<&mut Running>, name: &str, text: &str) -> Result<(), String> {
    match program {
        Some(Running::Terminal(tty)) => {
            // `\n` in the text stands for the start of the next row.
            tty.wait_for(&format!("{text:?}"), |screen| {
                screen.rows.join("\n").contains(text)
            });
        }
        Some(Running::Piped(process)) => {
            if text.starts_with("netchat:") {
                process.expect_stderr(text);
            } else {
                process.expect_stdout(text);
            }
        }
        Some(Running::Peer(peer)) => {
            let deadline = Instant::now() + DEADLINE;
            while !peer.text().contains(text) {
                if !peer.poll() && !peer.text().contains(text) || Instant::now() > deadline {
                    return Err(format!(
                        "{name}: waited for {text:?}; it has shown {:?}",
                        peer.text()
                    ));
                }
            }
        }
        Some(Running::File(path)) => {
            let deadline = Instant::now() + DEADLINE;
            while !fs::read_to_string(&*path)
                .unwrap_or_default()
                .contains(text)
            {
                if Instant::now() > deadline {
                    return Err(format!("{name}: {} never held {text:?}", path.display()));
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
        _ => return Err(format!("{name}: not running")),
    }
    Ok(())
}

fn output_of(program: Option<&mut Running>, name: &str) -> Result<Output, String> {
    Ok(match program {
        Some(Running::Terminal(tty)) => {
            let mut rows = tty.screen().rows;
            while rows.last().is_some_and(String::is_empty) {
                rows.pop();
            }
            Output::Lines(rows)
        }
        Some(Running::Piped(process)) => {
            let mut stderr = Vec::new();
            let mut stdout = Vec::new();
            for line in process.transcript().lines() {
                if let Some(text) = line.strip_prefix("  err| ") {
                    stderr.push(text.to_string());
                } else if let Some(text) = line.strip_prefix("  out| ") {
                    stdout.push(text.to_string());
                }
            }
            Output::Piped { stderr, stdout }
        }
        Some(Running::Peer(peer)) => {
            peer.poll();
            Output::Lines(peer.text().lines().map(str::to_string).collect())
        }
        Some(Running::Listening(_)) => Output::Lines(Vec::new()),
        Some(Running::File(path)) => {
            let text = fs::read_to_string(&*path).unwrap_or_default();
            let _ = fs::remove_file(&*path);
            Output::Lines(text.lines().map(str::to_string).collect())
        }
        None => return Err(format!("{name}: never started")),
    })
}

/// One marked block of a lesson.
#[derive(Debug)]
struct Block {
    /// `half.md:123`, for messages.
    place: String,
    /// What the marker says: `run/side`, or `unchecked (why)`.
    marker: String,
    lines: Vec<String>,
}

/// Whether a line of a fenced block looks like netchat's output.
fn looks_like_output(line: &str) -> bool {
    let line = line.trim_start();
    ["netchat: ", "peer>", "you>", "host>", "*** "]
        .iter()
        .any(|start| line.starts_with(start))
}

/// The fenced blocks of a lesson, with their markers, and an error for each unmarked block that
/// looks like netchat's output.
fn blocks(lesson: &str, text: &str) -> (Vec<Block>, Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut unmarked = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let fence = lines[i].trim_start();
        if !fence.starts_with("```") {
            i += 1;
            continue;
        }
        let indent = lines[i].len() - fence.len();
        let language = fence.trim_start_matches('`');
        let start = i;
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            body.push(lines[i].get(indent..).unwrap_or("").to_string());
            i += 1;
        }
        i += 1;
        let marker = lines[..start]
            .iter()
            .rev()
            .find(|line| !line.trim().is_empty())
            .and_then(|line| line.trim().strip_prefix("<!-- transcript:"))
            .and_then(|rest| rest.strip_suffix("-->"))
            .map(|marker| marker.trim().to_string());
        let place = format!("{lesson}:{}", start + 1);
        match marker {
            Some(marker) => found.push(Block {
                place,
                marker,
                lines: body,
            }),
            None if matches!(language, "" | "text" | "console")
                && body.iter().any(|line| looks_like_output(line)) =>
            {
                unmarked.push(format!(
                    "{place}: a block of netchat's output without a `<!-- transcript: … -->` marker"
                ));
            }
            None => {}
        }
    }
    (found, unmarked)
}

/// `trace   1052.8 ms` → `trace T ms`: the time since the connection began.
fn normalise_trace_time(line: &str) -> String {
    let Some(at) = line.find("trace ") else {
        return line.to_string();
    };
    let rest = &line[at + "trace ".len()..];
    let number = rest.trim_start();
    let digits = number
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(number.len());
    if digits == 0 || !number[digits..].starts_with(" ms") {
        return line.to_string();
    }
    format!("{}trace T{}", &line[..at], &number[digits..])
}

/// Replaces every whole number `from` by `to` (not part of a longer number).
fn replace_number(line: &str, from: &str, to: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(from) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + from.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(|c| c.is_ascii_digit()) || after.is_some_and(|c| c.is_ascii_digit()) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}

/// `127.0.0.1:41186` → `127.0.0.1:PORT`, for every port but the lesson's listening one: a port
/// the kernel lent to a connector differs on every run.
fn normalise_ports(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        out.push(chars[i]);
        if chars[i] == ':' && i + 1 < chars.len() && chars[i + 1].is_ascii_digit() {
            let before: String = chars[..i].iter().collect();
            let host_end = before.ends_with(']')
                || before
                    .rsplit(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .next()
                    .is_some_and(|host| host.split('.').count() == 4);
            let end = (i + 1..chars.len())
                .find(|&j| !chars[j].is_ascii_digit())
                .unwrap_or(chars.len());
            let port: String = chars[i + 1..end].iter().collect();
            if host_end && port != LESSON_PORT {
                out.push_str("PORT");
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// What may differ between a student's run and the test's, made the same on both sides.
fn normalise(line: &str) -> String {
    let mut line = normalise_trace_time(line.trim_end());
    // The turn line counts the seconds it waited: `(2 s)`, or nothing within the first second.
    if line.ends_with(" s)") {
        if let Some(open) = line.rfind(" (") {
            if line[open + 2..line.len() - 3]
                .chars()
                .all(|c| c.is_ascii_digit())
            {
                line.truncate(open);
            }
        }
    }
    line = normalise_ports(&line);
    // A log opens with the date and time of the room: `======== netchat room, 2026-12-05 …`.
    if let Some(rest) = line.strip_prefix("======== netchat room, ") {
        if let Some(on) = rest.find(", on ") {
            line = format!("======== netchat room, DATE{}", &rest[on..]);
        }
    }
    // A log line starts with the time: `14:02:07 `.
    let bytes = line.as_bytes();
    if bytes.len() > 9
        && bytes[2] == b':'
        && bytes[5] == b':'
        && bytes[8] == b' '
        && [0, 1, 3, 4, 6, 7]
            .iter()
            .all(|&i| bytes[i].is_ascii_digit())
    {
        line = format!("HH:MM:SS{}", &line[8..]);
    }
    // A refused address: one outside the lab's network, or the test's loopback.
    if let Some(at) = line.find(", and ") {
        let rest = &line[at + ", and ".len()..];
        if let Some(end) = rest.find(" is not in it") {
            if !rest[..end].contains(' ') {
                line = format!("{}, and ADDR{}", &line[..at], &rest[end..]);
            }
        }
    }
    // Where a member joined from: a classmate's address on the LAN, or the test's loopback.
    if let Some(at) = line.find("joined from ") {
        let rest = &line[at + "joined from ".len()..];
        if let Some(colon) = rest.find(":PORT") {
            line = format!("{}joined from ADDR{}", &line[..at], &rest[colon..]);
        }
    }
    // How long a call had been blocked when the watchdog spoke: a second, give or take.
    if let Some(at) = line.rfind(" for ") {
        let rest = &line[at + " for ".len()..];
        if let Some(end) = rest.find(" s (thread ") {
            if rest[..end].chars().all(|c| c.is_ascii_digit() || c == '.') {
                line = format!("{} for N{}", &line[..at], &rest[end..]);
            }
        }
    }
    // A room on one address names it; on every interface (a student's bare port), this
    // machine's shortcut comes first and the LAN lines follow.
    line = line.replace(
        "(only this machine can join (loopback): netchat room --connect 127.0.0.1:5000 --nick NAME, \
         or: nc 127.0.0.1 5000; for a class, listen on a port alone (--listen 5000))",
        "(from this machine: netchat room --connect 5000 --nick NAME, or: nc localhost 5000)",
    );
    // What the system lets a room of threads hold depends on its vm.max_map_count.
    for (before, after) in [("hold ", " clients"), ("allows ", " memory mappings")] {
        line = replace_figure(&line, before, after);
    }
    // The test's listener binds 127.0.0.1, a student's bare port `[::]`.
    if let Some(at) = line.find("listening on ") {
        let rest = &line[at + "listening on ".len()..];
        if let Some(space) = rest.find(' ') {
            line = format!("{}listening on [::]:5000{}", &line[..at], &rest[space..]);
        }
    }
    line
}

/// `hold 7941 clients` → `hold N clients`: a number between these words.
fn replace_figure(line: &str, before: &str, after: &str) -> String {
    let Some(at) = line.find(before) else {
        return line.to_string();
    };
    let rest = &line[at + before.len()..];
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if digits == 0 || !rest[digits..].starts_with(after) {
        return line.to_string();
    }
    format!("{}{before}N{}", &line[..at], &rest[digits..])
}

/// Whether a lesson line belongs to the lines for classmates on the LAN.
fn is_lan_line(line: &str) -> bool {
    line.starts_with("netchat: classmates on the same network join with one of:")
        || line.starts_with("netchat:   ")
        || line.starts_with("netchat: firewall: ")
}

/// Checks the lesson's lines for classmates against what netchat prints for the interfaces they
/// show, and leaves them out.
fn check_lan_lines(lines: &[String]) -> Result<Vec<String>, String> {
    let shown: Vec<&String> = lines.iter().filter(|line| is_lan_line(line)).collect();
    if shown.is_empty() {
        return Ok(lines.to_vec());
    }
    let mut interfaces = Vec::new();
    let mut client = None;
    for line in &shown {
        let Some(entry) = line.strip_prefix("netchat:   ") else {
            continue;
        };
        let (interface, rest) = entry.trim_start().split_once(' ').ok_or("no interface")?;
        let (command, nc) = rest.trim_start().split_once("   or: nc ").ok_or("no nc")?;
        let ip: std::net::IpAddr = nc
            .split_whitespace()
            .next()
            .and_then(|ip| ip.parse().ok())
            .ok_or_else(|| format!("no address in {line:?}"))?;
        let target = netchat::lan::join_target(ip, 5000);
        client = Some(command.replace(&target, "{}"));
        interfaces.push(netchat::lan::LanAddress {
            interface: interface.to_string(),
            ip,
        });
    }
    let client = client.ok_or("lines for classmates without an interface line")?;
    let listener: SocketAddr = "[::]:5000".parse().expect("an address");
    // The lessons' listeners admit everyone (no `--allow`).
    let expected: Vec<String> = netchat::lan::join_lines(listener, &client, &interfaces, &|_| true)
        .into_iter()
        .map(|line| format!("netchat: {line}"))
        .collect();
    // The firewall line is this OS's; the lessons show Linux's.
    let compare = |lines: &[&String], expected: &[String]| {
        lines.len() == expected.len()
            && lines.iter().zip(expected).all(|(shown, expected)| {
                shown.as_str() == expected
                    || (!cfg!(target_os = "linux") && shown.starts_with("netchat: firewall: "))
            })
    };
    if !compare(&shown, &expected) {
        return Err(format!(
            "the lines for classmates are not what netchat prints for these interfaces:\n\
             lesson:\n{}\nnetchat:\n{}",
            shown.iter().map(|l| format!("  {l}\n")).collect::<String>(),
            expected
                .iter()
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
        ));
    }
    Ok(lines
        .iter()
        .filter(|line| !is_lan_line(line))
        .cloned()
        .collect())
}

/// The run a checked block's marker names.
fn run_of(block: &Block) -> Option<&str> {
    block.marker.split('/').next()
}

/// Whether `expected` (with `…` for any lines) appears in `actual`; `anchored`: from its start.
fn appears(expected: &[String], actual: &[String], anchored: bool) -> bool {
    let segments: Vec<&[String]> = expected.split(|line| line == "…").collect();
    let mut from = 0;
    for (n, segment) in segments.iter().enumerate() {
        if segment.is_empty() {
            continue;
        }
        let fits = |at: usize| {
            at + segment.len() <= actual.len()
                && segment.iter().zip(&actual[at..]).all(|(e, a)| e == a)
        };
        let found = if n == 0 && anchored {
            fits(from).then_some(from)
        } else {
            (from..=actual.len()).find(|&at| fits(at))
        };
        match found {
            Some(at) => from = at + segment.len(),
            None => return false,
        }
    }
    true
}

/// Whether a (normalised) line is the turn's status line, `blocked in read() on … — waiting …`.
fn is_turn_status(line: &str) -> bool {
    line.starts_with("netchat: blocked in read() on ") && line.contains(" — waiting for ")
}

fn without_turn_status(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|line| !is_turn_status(line))
        .cloned()
        .collect()
}

/// Whether every line of `expected` is in `actual`, each as often, in any order: for output
/// that threads running at once write in an order of their own.
fn holds_all(expected: &[String], actual: &[String]) -> bool {
    let mut left: Vec<&String> = actual.iter().collect();
    expected
        .iter()
        .all(|line| match left.iter().position(|a| *a == line) {
            Some(at) => {
                left.remove(at);
                true
            }
            None => false,
        })
}

/// Compares one block with the run's output; `Err` says how they differ.
fn compare(
    block: &Block,
    scenario: &Scenario,
    output: &Output,
    port: u16,
    any_order: bool,
) -> Result<(), String> {
    let mut lines = block.lines.clone();
    let mut anchored = false;
    if let Some(first) = lines.first().and_then(|l| l.strip_prefix("$ ")) {
        // `printf … | netchat …  # comment` runs `netchat …`.
        let command = first.split("  #").next().unwrap_or(first).trim();
        let command = command.rsplit(" | ").next().unwrap_or(command);
        let name = block.marker.split('/').nth(1).unwrap_or("");
        // A snapshot shows the side it was taken of.
        let snapshot_of = scenario.steps.iter().find_map(|step| match step {
            Snapshot(i, snapshot) if *snapshot == name => Some(scenario.sides[*i].0),
            _ => None,
        });
        let name = snapshot_of.unwrap_or(name);
        let program = scenario
            .sides
            .iter()
            .find(|(side, _)| *side == name)
            .map(|(_, program)| program.command());
        if program != Some(command) {
            return Err(format!(
                "the lesson runs `{command}`, the test `{}`",
                program.unwrap_or("(no such side)")
            ));
        }
        lines.remove(0);
        anchored = true;
    }
    // A listener on every interface (a bare port) always says next how classmates join.
    for (i, line) in lines.iter().enumerate() {
        let next = lines.get(i + 1).map_or("", String::as_str);
        if line.contains("listening on [::]:") && !is_lan_line(next) {
            return Err(format!(
                "a listener on [::] prints the lines for classmates right after {line:?}"
            ));
        }
    }
    let lines = check_lan_lines(&lines)?;
    let expected: Vec<String> = lines.iter().map(|l| normalise(l)).collect();
    let actual_of = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .map(|l| normalise(&replace_number(l, &port.to_string(), LESSON_PORT)))
            .collect()
    };
    let show = |lines: &[String]| {
        lines
            .iter()
            .map(|l| format!("  |{l}\n"))
            .collect::<String>()
    };
    match output {
        Output::Lines(actual) => {
            let actual = actual_of(actual);
            // The turn's status line is drawn by a helper thread, so where it lands among lines
            // printed at the same moment is the scheduler's choice: it is compared by its text,
            // and the other lines by their order.
            let missing_status = expected
                .iter()
                .filter(|line| is_turn_status(line))
                .find(|line| !actual.contains(line));
            let (bare_expected, bare_actual) =
                (without_turn_status(&expected), without_turn_status(&actual));
            let fits = missing_status.is_none()
                && if any_order {
                    holds_all(&bare_expected, &bare_actual)
                } else {
                    appears(&bare_expected, &bare_actual, anchored)
                };
            if fits {
                return Ok(());
            }
            Err(format!(
                "the lesson shows:\n{}netchat printed:\n{}",
                show(&expected),
                show(&actual)
            ))
        }
        Output::Piped { stderr, stdout } => {
            let (status, messages): (Vec<String>, Vec<String>) = expected
                .iter()
                .cloned()
                .partition(|line| line.starts_with("netchat: ") || line == "…");
            let (stderr, stdout) = (actual_of(stderr), actual_of(stdout));
            let messages: Vec<String> = messages.into_iter().filter(|l| l != "…").collect();
            if appears(&status, &stderr, anchored) && appears(&messages, &stdout, anchored) {
                return Ok(());
            }
            Err(format!(
                "the lesson shows:\n{}netchat printed on stderr:\n{}and on stdout:\n{}",
                show(&expected),
                show(&stderr),
                show(&stdout)
            ))
        }
    }
}

#[test]
fn every_transcript_in_the_lessons_is_what_netchat_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    let mut problems = Vec::new();
    let mut names: Vec<String> = fs::read_dir(root.join("lessons"))
        .expect("lessons/")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .collect();
    names.sort();
    for name in names {
        let text = fs::read_to_string(root.join("lessons").join(&name)).expect("a lesson");
        let (found, unmarked) = blocks(&name, &text);
        all.extend(found);
        problems.extend(unmarked);
    }
    let checked: Vec<&Block> = all
        .iter()
        .filter(|block| !block.marker.starts_with("unchecked"))
        .collect();
    for block in &all {
        let unchecked = block.marker.strip_prefix("unchecked");
        if unchecked.is_some_and(|why| !why.trim_start().starts_with('(')) {
            problems.push(format!(
                "{}: an unchecked block says why, in parentheses",
                block.place
            ));
        }
    }
    for scenario in SCENARIOS {
        if !checked
            .iter()
            .any(|block| run_of(block) == Some(scenario.name))
        {
            problems.push(format!("the run {} is shown by no lesson", scenario.name));
        }
    }
    // A run this machine cannot give what it needs is skipped, saying why (a failure on CI).
    let mut skipped = Vec::new();
    let runnable: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|scenario| {
            checked
                .iter()
                .any(|block| run_of(block) == Some(scenario.name))
        })
        .filter(|scenario| match scenario.needs.check() {
            Ok(()) => true,
            Err(why) => {
                skip_or_fail(format_args!("the run {}: {why}", scenario.name));
                skipped.push(scenario.name);
                false
            }
        })
        .collect();
    // Every run at once, each on its own thread: a run takes a second or two.
    let results: Vec<(&Scenario, RunResult)> = thread::scope(|scope| {
        let handles: Vec<_> = runnable
            .iter()
            .map(|&scenario| {
                scope.spawn(move || {
                    let outcome = std::panic::catch_unwind(|| run(scenario));
                    match outcome {
                        Ok(result) => result,
                        Err(panic) => Err(panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(ToString::to_string))
                            .unwrap_or_else(|| "the run panicked".to_string())),
                    }
                })
            })
            .collect();
        runnable
            .iter()
            .zip(handles)
            .map(|(&scenario, handle)| {
                let result = handle
                    .join()
                    .unwrap_or_else(|_| Err("panicked".to_string()));
                (scenario, result)
            })
            .collect()
    });
    for block in &checked {
        let marker = block.marker.trim_end_matches(ANY_ORDER).trim_end();
        let Some((run_name, side)) = marker.split_once('/') else {
            problems.push(format!(
                "{}: the marker names RUN/SIDE, not {:?}",
                block.place, block.marker
            ));
            continue;
        };
        if skipped.contains(&run_name) {
            continue;
        }
        let Some((scenario, result)) = results.iter().find(|(s, _)| s.name == run_name) else {
            problems.push(format!("{}: no run named {run_name}", block.place));
            continue;
        };
        let (outputs, port) = match result {
            Ok((outputs, port)) => (outputs, *port),
            Err(why) => {
                problems.push(format!("{}: the run {run_name} failed: {why}", block.place));
                continue;
            }
        };
        let Some(output) = outputs.get(side) else {
            problems.push(format!(
                "{}: the run {run_name} has no side {side}",
                block.place
            ));
            continue;
        };
        if let Err(why) = compare(block, scenario, output, port, marker != block.marker) {
            problems.push(format!("{} ({}): {why}", block.place, block.marker));
        }
    }
    assert!(
        problems.is_empty(),
        "{} lesson transcript(s) differ from netchat:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

#[test]
fn normalising_keeps_what_matters_and_drops_what_differs() {
    assert_eq!(
        normalise("netchat: trace    1052.8 ms #3 guest-3: read 24 bytes"),
        "netchat: trace T ms #3 guest-3: read 24 bytes"
    );
    assert_eq!(
        normalise("netchat: blocked in read() on the socket — waiting for the peer (12 s)"),
        "netchat: blocked in read() on the socket — waiting for the peer"
    );
    assert_eq!(
        normalise("netchat: 127.0.0.1:41186 connected to 127.0.0.1:5000"),
        "netchat: 127.0.0.1:PORT connected to 127.0.0.1:5000"
    );
    assert_eq!(
        normalise("14:02:07 *** guest-1 joined from 192.168.1.23:50112 (1 in the room)"),
        "HH:MM:SS *** guest-1 joined from ADDR:PORT (1 in the room)"
    );
    assert_eq!(
        normalise("*** goodbye: sorry, …, and 10.8.0.5 is not in it; join from …"),
        "*** goodbye: sorry, …, and ADDR is not in it; join from …"
    );
    assert_eq!(
        replace_number("a 15000 5000 50001", "5000", "X"),
        "a 15000 X 50001"
    );
    let lines = |v: &[&str]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert!(appears(
        &lines(&["b", "…", "d"]),
        &lines(&["a", "b", "c", "d"]),
        false
    ));
    assert!(!appears(
        &lines(&["b", "…", "d"]),
        &lines(&["a", "b", "c", "d"]),
        true
    ));
    assert!(!appears(
        &lines(&["b", "d"]),
        &lines(&["a", "b", "c", "d"]),
        false
    ));
}

#[test]
fn blocks_are_found_by_their_marker_and_an_unmarked_transcript_is_an_error() {
    let lesson = "Text.\n\n<!-- transcript: half-talk/listener -->\n```console\n$ netchat half \
                  --listen 5000\nnetchat: listening on [::]:5000\n```\n\n  <!-- transcript: \
                  unchecked (needs a LAN) -->\n  ```text\n  *** goodbye\n  ```\n\n```python\n\
                  print(\"netchat: not output\")\n```\n";
    let (found, unmarked) = blocks("x.md", lesson);
    assert!(unmarked.is_empty());
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].marker, "half-talk/listener");
    assert_eq!(found[0].place, "x.md:4");
    assert_eq!(found[1].marker, "unchecked (needs a LAN)");
    assert_eq!(found[1].lines, vec!["*** goodbye".to_string()]);
    let unmarked = "```text\npeer> hello\n```\n";
    assert_eq!(blocks("y.md", unmarked).1.len(), 1);
}

#[test]
fn the_lans_lines_are_checked_against_netchats_own() {
    let line = |s: &str| s.to_string();
    let shown = vec![
        line(
            "netchat: listening on [::]:5000 (from another terminal: netchat half --connect 5000)",
        ),
        line("netchat: classmates on the same network join with one of:"),
        line(
            "netchat:   wlan0  netchat half --connect 192.168.1.20:5000   or: nc 192.168.1.20 5000",
        ),
        netchat_firewall_line(),
        line("netchat: 127.0.0.1:41186 connected"),
    ];
    assert_eq!(
        check_lan_lines(&shown).expect("netchat's own lines"),
        vec![shown[0].clone(), shown[4].clone()]
    );
    let mut wrong = shown.clone();
    wrong[2] = line("netchat:   wlan0  netchat half --connect 192.168.1.20:5000");
    assert!(check_lan_lines(&wrong).is_err());
}

/// The firewall line of this OS, as a listener on port 5000 prints it.
fn netchat_firewall_line() -> String {
    format!("netchat: {}", netchat::lan::firewall_hint(5000))
}
