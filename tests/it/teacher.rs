//! Running the room for a class: `--allow`/`--deny`, `--log`, `--motd`, `--bots`, and the LAN
//! addresses printed for a listener on every interface.

use crate::common;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use common::{Engine, Netchat, RawPeer, engine_tests, raw_connect, raw_connect_from};

const SECOND: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const THIRD: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

/// Reads raw lines until one contains `needle`.
fn read_until(peer: &mut RawPeer, needle: &str) -> String {
    peer.read_until(needle)
}

fn allow_admits_only_its_network_and_a_stranger_is_told_why(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &["--allow", "127.0.0.2"]);
    server.expect_stderr("access: only 127.0.0.2/32 may join");

    let Some(mut student) = raw_connect_from(SECOND, addr) else {
        return; // skipped: the harness said why
    };
    assert!(student.read_line().contains("welcome! you are guest-1"));

    let Some(mut stranger) = raw_connect_from(THIRD, addr) else {
        return; // skipped: the harness said why
    };
    let goodbye = stranger.read_line();
    assert!(
        goodbye.starts_with("*** goodbye: sorry, this room"),
        "{goodbye}"
    );
    assert!(
        goodbye.contains("admits only the class's network, and 127.0.0.3 is not in it"),
        "{goodbye}"
    );
    stranger.expect_eof();
    let refused = server.expect_stderr("refused a connection from 127.0.0.3");
    assert!(refused.contains("(--allow, --deny)"), "{refused}");

    // The stranger never became a member: nobody heard of it.
    student.send(b"/who\n");
    let who = read_until(&mut student, "in the room");
    assert!(!who.contains("guest-2"), "{who}");
}

fn deny_wins_inside_an_allowed_network(engine: Engine) {
    let (mut server, addr) =
        engine.listen("server", &["--allow", "127.0.0.0/8", "--deny", "127.0.0.3"]);
    server.expect_stderr("access: only 127.0.0.0/8 may join, and never 127.0.0.3/32");
    let Some(mut student) = raw_connect_from(SECOND, addr) else {
        return; // skipped: the harness said why
    };
    assert!(student.read_line().contains("welcome!"));
    let Some(mut denied) = raw_connect_from(THIRD, addr) else {
        return; // skipped: the harness said why
    };
    let goodbye = denied.read_line();
    assert!(
        goodbye.contains("this room does not admit 127.0.0.3 (the host denied 127.0.0.3/32)"),
        "{goodbye}"
    );
    denied.expect_eof();
}

fn a_storm_of_refusals_is_counted_not_printed_one_line_each(engine: Engine) {
    const KNOCKS: usize = 40;
    let (mut server, addr) = engine.listen("server", &["--deny", "127.0.0.3"]);
    for _ in 0..KNOCKS {
        let Some(mut knock) = raw_connect_from(THIRD, addr) else {
            return; // skipped: the harness said why
        };
        assert!(knock.read_line().contains("does not admit 127.0.0.3"));
    }
    // Someone allowed still gets in: the storm cost no seat.
    let mut student = raw_connect(addr);
    assert!(student.read_line().contains("welcome!"));
    server.close_stdin();
    server.expect_stderr("the room is closed");
    let transcript = server.transcript();
    let reports: Vec<&str> = transcript
        .lines()
        .filter(|line| line.contains("refused"))
        .collect();
    assert!(
        !reports.is_empty() && reports.len() < 10,
        "one line per second at most, not {KNOCKS}: {reports:#?}"
    );
    // Every refusal is counted: the first line, then "refused N more connections: …" at most
    // once a second, and what was left when the room closed.
    let counted: usize = reports
        .iter()
        .map(
            |line| match line.split_once("refused ").map(|(_, rest)| rest) {
                Some(rest) if rest.starts_with("a connection from") => 1,
                Some(rest) => rest
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(0),
                None => 0,
            },
        )
        .sum();
    assert_eq!(counted, KNOCKS, "{reports:#?}");
}

fn bots_refused_by_a_deny_rule_are_a_usage_error(engine: Engine) {
    let mut server = Netchat::spawn_with_null_stdin(
        "server",
        &[
            "room",
            "--listen",
            "127.0.0.1:0",
            "--engine",
            engine.name(),
            "--bots",
            "1",
            "--deny",
            "127.0.0.0/8",
        ],
    );
    server.expect_stderr("--bots join from 127.0.0.1, which --deny 127.0.0.0/8 refuses");
    server.expect_exit_code(2);
}

/// `--listen '[::ffff:127.0.0.1]:0'`: an IPv6 socket on an IPv4 address. Its bots join from
/// that address and are let in beside `--allow` (their own connections only, not the address)
/// as the IPv4 machine they are (the hub thread used to panic on it), and the events log names
/// every address as IPv4.
fn bots_of_a_room_on_an_ipv4_mapped_address_get_in(engine: Engine) {
    let events = temp_file(&format!("mapped-{}.jsonl", engine.name()));
    let _ = std::fs::remove_file(&events);
    let mut server = Netchat::spawn(
        "server",
        &[
            "room",
            "--listen",
            "[::ffff:127.0.0.1]:0",
            "--engine",
            engine.name(),
            "--allow",
            "10.0.0.0/8",
            "--bots",
            "1",
            "--seed",
            "1",
            "--events",
            events.to_str().expect("a UTF-8 temporary path"),
        ],
    );
    server.expect_stderr("access: only 10.0.0.0/8 may join");
    server.expect_stderr("joined from 127.0.0.1:");
    // The join is written to the log (and flushed) before its status line is shown.
    let log = std::fs::read_to_string(&events).expect("the events log");
    let _ = std::fs::remove_file(&events);
    assert!(log.contains(r#""event":"joined""#), "{log}");
    assert!(!log.contains("::ffff:"), "{log}");
}

/// A path in the system's temporary directory for this test alone.
fn temp_file(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("netchat-test-{}-{name}", std::process::id()))
}

/// `HH:MM:SS ` at the start of a transcript line.
fn has_clock(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes.len() > 9
        && bytes[8] == b' '
        && (0..8).all(|i| {
            if i == 2 || i == 5 {
                bytes[i] == b':'
            } else {
                bytes[i].is_ascii_digit()
            }
        })
}

fn the_transcript_has_every_message_and_notice_with_the_time_as_it_happens(engine: Engine) {
    let path = temp_file("transcript.txt");
    let _ = std::fs::remove_file(&path);
    let log = path.to_string_lossy().into_owned();
    let (mut server, addr) = engine.listen("server", &["--log", &log]);
    server.expect_stderr("transcript: appending to");
    let mut alice = raw_connect(addr);
    alice.send(b"/nick alice\n");
    read_until(&mut alice, "you are now alice");
    alice.send(b"hello \x1b[2J class\n");
    server.expect_stdout("[alice] hello");
    // Written and flushed before the console shows it: `tail -f` would have it now.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("[alice] hello \\x1b[2J class"),
        "escaped like on screen: {text}"
    );
    server.send_line("hi alice");
    read_until(&mut alice, "[host] hi alice");
    drop(alice);
    server.expect_stderr("alice left");
    server.close_stdin();
    server.expect_stderr("the room is closed");

    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let lines: Vec<&str> = text.lines().collect();
    // A dated header: the date, the time, the address, then the limits.
    assert!(lines[0].starts_with("======== netchat room, 20"), "{text}");
    assert!(
        lines[0].ends_with(&format!(", on {addr} ========")),
        "{text}"
    );
    assert!(lines[1..].iter().all(|line| has_clock(line)), "{text}");
    let without_clock: Vec<&str> = lines[1..].iter().map(|line| &line[9..]).collect();
    let expected_in_order = [
        "*** the door: 1000 seats (--max-clients)",
        "*** guest-1 joined from 127.0.0.1:",
        "*** guest-1 is now alice",
        "[alice] hello \\x1b[2J class",
        "[host] hi alice",
        "*** alice left (0 in the room)",
        // How it closed.
        "*** end of input: closing the room",
    ];
    let mut position = 0;
    for expected in expected_in_order {
        let found = without_clock[position..]
            .iter()
            .position(|line| line.starts_with(expected))
            .unwrap_or_else(|| panic!("{expected:?} missing or out of order in:\n{text}"));
        position += found + 1;
    }
}

/// A later room appended to the same file starts after a blank line with its own header, and
/// each room's last line says how it closed.
fn the_transcript_says_how_each_room_closed_and_separates_a_later_room(engine: Engine) {
    let path = temp_file("two-rooms.txt");
    let _ = std::fs::remove_file(&path);
    let log = path.to_string_lossy().into_owned();
    let (mut first, _) = engine.listen("first", &["--log", &log]);
    first.send_line("/quit");
    first.expect_stderr("the room is closed");
    first.expect_exit_code(0);
    let (mut second, _) = engine.listen("second", &["--log", &log]);
    second.signal("TERM");
    second.expect_stderr("the room is closed");
    second.expect_exit_code(0);
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let lines: Vec<&str> = text.lines().collect();
    let headers: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("======== netchat room, "))
        .collect();
    assert_eq!(headers.len(), 2, "{text}");
    assert!(
        lines[headers[1] - 2].ends_with("*** /quit: closing the room"),
        "{text}"
    );
    assert_eq!(
        lines[headers[1] - 1],
        "",
        "a blank line between rooms: {text}"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .ends_with("*** SIGTERM: closing the room"),
        "{text}"
    );
}

#[test]
fn a_transcript_that_cannot_be_opened_stops_the_room_before_it_starts() {
    let path = temp_file("no-such-directory").join("class.txt");
    let log = path.to_string_lossy().into_owned();
    let mut server = Netchat::spawn_with_null_stdin(
        "server",
        &["room", "--listen", "127.0.0.1:0", "--log", &log],
    );
    let error = server.expect_stderr("netchat: error:");
    assert!(error.contains("cannot open the transcript"), "{error}");
    assert!(error.contains("class.txt"), "{error}");
    server.expect_exit_code(1);
    assert!(!server.transcript().contains("listening on"));
}

/// The first `count` lines a plain client hears from the bot `bot-ada` once it has its name.
fn ada_lines(engine: Engine, seed: &str, count: usize) -> Vec<String> {
    let (_server, addr) = engine.listen("server", &["--bots", "1", "--seed", seed]);
    let mut student = raw_connect(addr);
    let mut heard = Vec::new();
    while heard.len() < count {
        let line = student.read_line();
        // Its arrival depends on who connected first; what it does after that does not.
        if line.contains("bot-ada") && !line.contains("guest-") && !line.contains("joined") {
            heard.push(line);
        }
    }
    heard
}

fn bots_chat_within_seconds_and_a_seed_replays_their_lines(engine: Engine) {
    let replay = std::thread::spawn(move || ada_lines(engine, "7", 2));
    let first = ada_lines(engine, "7", 2);
    let second = replay.join().unwrap();
    assert!(
        first[0].starts_with("[bot-ada] ") || first[0].starts_with("* bot-ada "),
        "a bot says hello first: {first:?}"
    );
    assert_eq!(first, second, "the same seed, the same lines");
}

/// This machine's non-loopback, non-link-local addresses with their interfaces, as `ip -o addr`
/// lists them (Linux); `None` where that tool is missing.
fn machine_addresses() -> Option<BTreeSet<(String, IpAddr)>> {
    let output = std::process::Command::new("ip")
        .args(["-o", "addr", "show"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut found = BTreeSet::new();
    for line in text.lines() {
        // "2: eth0    inet 192.0.2.2/24 brd … scope global eth0"
        let words: Vec<&str> = line.split_whitespace().collect();
        let (Some(interface), Some(address)) = (words.get(1), words.get(3)) else {
            continue;
        };
        let Ok(ip) = address.split('/').next().unwrap_or("").parse::<IpAddr>() else {
            continue;
        };
        let link_local = match ip {
            IpAddr::V4(v4) => v4.is_link_local(),
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        };
        if !ip.is_loopback() && !link_local {
            found.insert((interface.trim_end_matches(':').to_string(), ip));
        }
    }
    Some(found)
}

/// A room run with `--allow` offers only this machine's addresses inside the allowed networks:
/// with `--allow 127.0.0.0/8` no LAN address is, and the card says so instead of naming
/// addresses whose classmates the room would refuse.
#[test]
fn a_room_with_allow_offers_no_address_outside_it() {
    let Some(addresses) = machine_addresses() else {
        common::skip_or_fail("no `ip` tool to list this machine's interfaces with");
        return;
    };
    if addresses.is_empty() {
        common::skip_or_fail("this machine has no network address besides loopback");
        return;
    }
    let mut server = Netchat::spawn(
        "server",
        &["room", "--listen", "0", "--allow", "127.0.0.0/8"],
    );
    server.expect_stderr("listening on ");
    let line = server.expect_stderr("inside --allow");
    assert!(
        line.contains("none of this machine's network addresses"),
        "{line}"
    );
    let shown = server.transcript();
    assert!(
        !shown.contains("classmates on the same network join with one of:"),
        "{shown}"
    );
}

#[test]
fn a_listener_on_every_interface_prints_this_machines_addresses_with_the_command() {
    let Some(expected) = machine_addresses() else {
        common::skip_or_fail("no `ip` tool to list this machine's interfaces with");
        return;
    };
    // Listens on every interface for a moment: nothing is sent anywhere, the list is only
    // printed.
    let mut server = Netchat::spawn("server", &["duplex", "--listen", "0"]);
    let listening = server.expect_stderr("listening on ");
    let local = common::parse_listening_addr(&listening).unwrap();
    let port = local.port();
    // A dual-stack `[::]` socket takes both families; a plain 0.0.0.0 one IPv4 only.
    let expected: BTreeSet<(String, IpAddr)> = expected
        .into_iter()
        .filter(|(_, ip)| local.is_ipv6() || ip.is_ipv4())
        .collect();
    if expected.is_empty() {
        server.expect_stderr("no network address besides loopback");
        // What was checked is the message; the list of addresses the test is named after is not.
        common::skip_or_fail("this machine has no network address besides loopback");
        return;
    }
    server.expect_stderr("classmates on the same network join with one of:");
    let mut printed = BTreeSet::new();
    for _ in 0..expected.len() {
        let line = server.expect_stderr("--connect");
        let words: Vec<&str> = line.split_whitespace().collect();
        // "netchat:   eth0  netchat duplex --connect 192.0.2.2:5000   or: nc 192.0.2.2 5000"
        let interface = words[1].to_string();
        let ip: IpAddr = words[words.len() - 2].parse().unwrap();
        let target = std::net::SocketAddr::new(ip, port);
        assert!(
            line.contains(&format!("netchat duplex --connect {target}")),
            "{line}"
        );
        assert!(line.ends_with(&format!("or: nc {ip} {port}")), "{line}");
        printed.insert((interface, ip));
    }
    assert_eq!(printed, expected);
    server.expect_stderr("firewall: ");
}

fn telnets_bare_cr_nul_ends_a_line_and_never_shows_in_the_room(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let mut reader = raw_connect(addr);
    read_until(&mut reader, "welcome!");
    let mut telnet = raw_connect(addr);
    read_until(&mut telnet, "welcome!");
    // What telnet sends for a bare carriage return, once cut in two by TCP.
    telnet.send(b"/nick tel\r\0hello\r");
    telnet.send(b"\0second line\r\n");
    read_until(&mut telnet, "you are now tel");
    assert_eq!(read_until(&mut reader, "[tel]"), "[tel] hello");
    assert_eq!(read_until(&mut reader, "[tel]"), "[tel] second line");
    let shown = server.expect_stdout("[tel] second line");
    assert!(!server.transcript().contains("\\x0d") && !server.transcript().contains("\\x00"));
    assert_eq!(shown, "[tel] second line");
}

fn every_newcomer_reads_the_greeting_right_after_the_welcome(engine: Engine) {
    let (_server, addr) = engine.listen("server", &["--motd", "Lab 3 today\\nbe kind"]);
    for _ in 0..2 {
        let mut student = raw_connect(addr);
        assert!(student.read_line().starts_with("*** welcome!"));
        assert!(student.read_line().contains("/nick NAME"));
        assert_eq!(student.read_line(), "*** Lab 3 today");
        assert_eq!(student.read_line(), "*** be kind");
    }
}

fn the_greeting_can_come_from_a_file_and_a_missing_one_stops_the_room(engine: Engine) {
    let path = temp_file("motd.txt");
    std::fs::write(&path, "Welcome to the lab\nsubmit on the course page\n").unwrap();
    let motd = path.to_string_lossy().into_owned();
    let (_server, addr) = engine.listen("server", &["--motd-file", &motd]);
    let mut student = raw_connect(addr);
    assert_eq!(student.read_until("Welcome"), "*** Welcome to the lab");
    assert_eq!(student.read_line(), "*** submit on the course page");
    let _ = std::fs::remove_file(&path);

    let mut missing = Netchat::spawn_with_null_stdin(
        "server",
        &["room", "--listen", "127.0.0.1:0", "--motd-file", &motd],
    );
    let error = missing.expect_stderr("netchat: error:");
    assert!(error.contains("cannot read the greeting"), "{error}");
    missing.expect_exit_code(1);
}

fn more_bots_than_one_address_may_seat_all_get_in(engine: Engine) {
    // Six bots, bot-sleepy and bot-paster from one loopback address: more than
    // --max-per-address allows a student, and faster than one address may connect.
    let (mut server, _addr) =
        engine.listen("server", &["--bots", "6", "--bots-slow", "--seed", "5"]);
    let mut named = BTreeSet::new();
    while named.len() < 8 {
        let line = server.expect_stderr(" is now bot-");
        let name = line
            .rsplit(" is now ")
            .next()
            .unwrap_or_default()
            .to_string();
        named.insert(name.trim_end_matches("-afk").to_string());
    }
    assert!(named.contains("bot-sleepy"), "{named:?}");
    assert!(named.contains("bot-paster"), "{named:?}");
    // (Not any "refused": a bot may say "my nc says connection refused".)
    assert!(
        !server.transcript().contains("refused a connection")
            && !server.transcript().contains("more connection"),
        "{}",
        server.transcript()
    );
}

/// Joins as `nick` with a raw client.
fn raw_join(addr: std::net::SocketAddr, nick: &str) -> RawPeer {
    let mut peer = raw_connect(addr);
    peer.send(format!("/nick {nick}\n").as_bytes());
    peer.read_until(&format!("*** you are now {nick}"));
    peer
}

/// The `queued` column of `nick`'s row in the host's next `/stats`.
fn queued_for(server: &mut Netchat, nick: &str) -> usize {
    server.send_line("/stats");
    server.expect_stderr("in lines/bytes");
    let row = server.expect_stderr(&format!("netchat: {nick} "));
    let words: Vec<&str> = row.split_whitespace().collect();
    // netchat: NICK ADDRESS FOR IN OUT QUEUED HELD DROPPED LIMITED
    assert_eq!(words.len(), 10, "{row}");
    words[6].replace(',', "").parse().unwrap()
}

fn stats_shows_the_queue_of_a_member_that_stopped_reading_grow(engine: Engine) {
    const LINE: usize = 1000;
    // The flood must outrun the sleeper: no rate limit here.
    let (mut server, addr) = engine.listen("server", &["--rate-limit", "0"]);
    let sleeper = raw_join(addr, "sleeper");
    // It stops reading, with a small receive window, so the server's queue for it fills.
    socket2::SockRef::from(&sleeper.stream)
        .set_recv_buffer_size(4096)
        .expect("SO_RCVBUF");
    let mut flooder = raw_join(addr, "flooder");
    let mut watcher = raw_join(addr, "watcher");
    let text = "z".repeat(LINE);
    let mut batch = |mark: usize| {
        for _ in 0..350 {
            flooder.send(format!("{text}\n").as_bytes());
        }
        flooder.send(format!("mark-{mark}\n").as_bytes());
        // Everything before the mark went through the rules, to every member's queue.
        watcher.read_until(&format!("[flooder] mark-{mark}"));
    };
    batch(1);
    let first = queued_for(&mut server, "sleeper");
    batch(2);
    let second = queued_for(&mut server, "sleeper");
    assert!(
        first > 0 && second > first,
        "the queue grows: {first} then {second} bytes"
    );
    // The members who read keep an empty queue.
    assert_eq!(queued_for(&mut server, "watcher"), 0);
    drop(sleeper);
}

fn a_member_sees_only_its_own_line_of_stats(engine: Engine) {
    let (_server, addr) = engine.listen("server", &[]);
    let _alice = raw_join(addr, "alice");
    let mut bob = raw_join(addr, "bob");
    bob.send(b"hello\n/stats\n");
    let header = bob.read_until("in lines/bytes");
    assert!(header.starts_with("*** nick "), "{header}");
    let own = bob.read_line();
    assert!(own.starts_with("*** bob "), "{own}");
    // in: /nick bob, hello, /stats; nobody else's line follows.
    assert!(own.contains(" 3/"), "{own}");
    bob.send(b"/who\n");
    assert!(bob.read_line().contains("in the room"));
}

// Every rule above lives in the room's shared code, and the bots are clients like any other:
// both engines keep it.
/// The host's Ctrl-C while a plain `nc` is in the room: nc reads the goodbye but never closes
/// its side, and the room still closes politely ("the room is closed", exit 0), not by the
/// deadline after which netchat ends without waiting.
#[cfg(unix)]
fn ctrl_c_with_a_plain_nc_in_the_room_still_closes_it_politely(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let mut nc = common::raw_connect(addr);
    nc.read_until("*** welcome");
    server.signal("INT");
    nc.read_until("*** goodbye: the host closed the room");
    server.expect_stderr("the room is closed");
    server.expect_exit_code(0);
}

engine_tests! {
    allow_admits_only_its_network_and_a_stranger_is_told_why,
    deny_wins_inside_an_allowed_network,
    bots_refused_by_a_deny_rule_are_a_usage_error,
    bots_chat_within_seconds_and_a_seed_replays_their_lines,
    more_bots_than_one_address_may_seat_all_get_in,
    bots_of_a_room_on_an_ipv4_mapped_address_get_in,
    a_storm_of_refusals_is_counted_not_printed_one_line_each,
    the_transcript_has_every_message_and_notice_with_the_time_as_it_happens,
    the_transcript_says_how_each_room_closed_and_separates_a_later_room,
    telnets_bare_cr_nul_ends_a_line_and_never_shows_in_the_room,
    every_newcomer_reads_the_greeting_right_after_the_welcome,
    the_greeting_can_come_from_a_file_and_a_missing_one_stops_the_room,
    stats_shows_the_queue_of_a_member_that_stopped_reading_grow,
    a_member_sees_only_its_own_line_of_stats,
}

// The same on both engines, where signals exist.
#[cfg(unix)]
mod signals {
    use super::*;
    engine_tests! {
        ctrl_c_with_a_plain_nc_in_the_room_still_closes_it_politely,
    }
}
