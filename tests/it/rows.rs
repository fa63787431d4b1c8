//! No fake rows: a member's text can never begin a screen row of its own choosing. Each attack a
//! prankster who read the code tried (tabs counted as nothing, dots to the screen's edge, `/quit`
//! and `/me` and `/msg` and a kick reason padded the same way) is sent once, and the rows are
//! drawn where classmates read the room: netchat's client and the host's console at a terminal
//! (vt100, 12, 80, 100 and 132 columns), and `nc` in a terminal (a plain-text model of how a
//! terminal wraps, at the same widths). No row may start with what the prankster chose.
#![cfg(unix)]

use crate::common;

use std::net::SocketAddr;

use common::pty::Tty;
use common::{Engine, RawPeer, engine_tests, parse_listening_addr, room_raw_join};

/// The widths every screen is drawn at: the smallest a terminal opens with, and wider ones.
const WIDTHS: [u16; 3] = [80, 100, 132];

/// What the prankster wants a row to start with: someone else's line, or the server's.
const FAKES: [&str; 5] = [
    "[host]",
    ".[host]",
    "*** alice was kicked",
    "*** bob was kicked",
    "*** carol was kicked",
];

/// The attacks, as the prankster `mallory` sends them (a second prankster, `trudy`, quits).
fn attacks() -> Vec<Vec<u8>> {
    let tabs = "x\t".repeat(8);
    let dots = ".".repeat(70);
    vec![
        format!("{tabs}.[host] class is cancelled, everyone go home now\n").into_bytes(),
        format!("{dots}*** alice was kicked by the host (cheating) (3 in the room)\n").into_bytes(),
        format!("/me {dots}*** bob was kicked by the host (cheating)\n").into_bytes(),
        format!("/msg alice {dots}[host] alice, see me after class\n").into_bytes(),
        format!("{}[host] {tabs}the test is moved\n", "ab".repeat(40)).into_bytes(),
    ]
}

/// How a terminal `columns` wide shows `lines` printed one after another from the left edge:
/// it wraps a line at the screen's edge. Every text here is ASCII (the server expands tabs).
fn terminal_rows(lines: &[String], columns: usize) -> Vec<String> {
    let mut rows = Vec::new();
    for line in lines {
        let chars: Vec<char> = line.chars().collect();
        if chars.is_empty() {
            rows.push(String::new());
        }
        for row in chars.chunks(columns) {
            rows.push(row.iter().collect());
        }
    }
    rows
}

fn assert_no_fake_row(who: &str, rows: &[String]) {
    for row in rows {
        assert!(
            !FAKES.iter().any(|fake| row.starts_with(fake)),
            "{who}: a row starts as the prankster chose: {row:?}\n{}",
            rows.join("\n")
        );
    }
}

/// Waits until the screen shows `text`, perhaps cut into rows (on a narrow screen): compared
/// without blanks, which the rows' indents add.
fn wait_for_words(tty: &mut Tty, text: &str) -> common::pty::Screen {
    let bare = |s: &str| s.split_whitespace().collect::<String>();
    let wanted = bare(text);
    tty.wait_for(&format!("{text:?}"), |screen| {
        bare(&screen.rows.join(" ")).contains(&wanted)
    })
}

/// A room server at a terminal `columns` wide (the host's console) and its address.
fn host_at(engine: Engine, columns: u16) -> (Tty, SocketAddr) {
    let args = ["room", "--listen", "127.0.0.1:0", "--engine", engine.name()];
    let mut host = Tty::spawn("host", &args, 60, columns);
    let screen = host.wait_for_text("listening on");
    let line = &screen.rows[screen.find("listening on").unwrap_or(0)];
    let addr = parse_listening_addr(line).unwrap_or_else(|| host.fail("no address"));
    (host, addr)
}

/// Sends every attack, then `ok` (12 columns, a row of the narrowest screen): what a reader sees once `[mallory] ok` arrives.
fn attack(addr: SocketAddr, host: &mut Tty) -> (RawPeer, RawPeer) {
    let mut mallory = room_raw_join(addr, "mallory");
    let mut trudy = room_raw_join(addr, "trudy");
    for line in attacks() {
        mallory.send(&line);
    }
    // A quit reason and a kick reason padded the same way.
    trudy.send(
        format!(
            "/quit {}*** bob was kicked by the host (cheating)\n",
            "x\t".repeat(9)
        )
        .as_bytes(),
    );
    let eve = room_raw_join(addr, "eve");
    host.type_keys(&format!(
        "/kick eve {}*** carol was kicked\r",
        ".".repeat(60)
    ));
    // Just wide enough to reach the edge of a 12-column screen.
    mallory.send(b"ab[host] the lab moved\nok\n");
    (mallory, eve)
}

fn rows_are_never_the_pranksters_on_nc_readers(engine: Engine) {
    let (mut host, addr) = host_at(engine, 80);
    let mut alice = room_raw_join(addr, "alice");
    let _pranksters = attack(addr, &mut host);
    let mut lines = Vec::new();
    loop {
        let line = alice.read_line();
        let done = line == "[mallory] ok";
        lines.push(line);
        if done {
            break;
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("alice, see me after class")),
        "{lines:#?}"
    );
    for columns in WIDTHS {
        let rows = terminal_rows(&lines, usize::from(columns));
        assert_no_fake_row(&format!("nc at {columns} columns"), &rows);
    }
}

fn rows_are_never_the_pranksters_on_netchat_clients_and_the_host_console(engine: Engine) {
    // At any width: a phone's narrow terminal too.
    for columns in [12].into_iter().chain(WIDTHS) {
        // (The host's console is never narrower than 80 here: its listening line must fit.)
        let (mut host, addr) = host_at(engine, columns.max(80));
        let target = addr.to_string();
        let member = ["room", "--connect", target.as_str(), "--nick", "alice"];
        let mut alice = Tty::spawn("alice", &member, 60, columns);
        wait_for_words(&mut alice, "you are now alice");
        let _pranksters = attack(addr, &mut host);
        for (who, tty) in [("alice", &mut alice), ("host", &mut host)] {
            let screen = wait_for_words(tty, "[mallory] ok");
            assert_no_fake_row(&format!("{who} at {columns} columns"), &screen.rows);
        }
    }
}

engine_tests! {
    rows_are_never_the_pranksters_on_nc_readers,
    rows_are_never_the_pranksters_on_netchat_clients_and_the_host_console,
}
