//! Watching the wire: `--trace` lines, the `--events` JSON Lines log, and `netchat diagram`,
//! through the real binary against raw peers and each other.

use crate::common;

use std::fs;
use std::net::{Shutdown, SocketAddr};
use std::path::Path;

use common::{
    Engine, Netchat, engine_tests, netchat_cmd, parse_listening_addr, raw_connect, room_raw_join,
    temp_path,
};
use serde_json::Value;

/// Every event of a log, parsed; each line must be one JSON object with `v`, `t` and `event`.
fn events(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the event log {}: {e}", path.display()));
    let mut last_t = 0.0;
    text.lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}\nlog:\n{text}"));
            assert_eq!(event["v"], 1, "{line}");
            let t = event["t"]
                .as_f64()
                .unwrap_or_else(|| panic!("no t: {line}"));
            assert!(t >= last_t, "time went backwards at {line}\nlog:\n{text}");
            last_t = t;
            assert!(event["event"].is_string(), "{line}");
            event
        })
        .collect()
}

/// The events named in `kinds`, in order, as `name` or `name:field` strings for easy comparison.
fn story(events: &[Value], kinds: &[&str]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| {
            let name = event["event"].as_str()?;
            if !kinds.contains(&name) {
                return None;
            }
            let detail = match name {
                "sent" | "received" => event["text"].as_str().map(str::to_string),
                "quit" => Some(format!("{} {}", event["by"], event["word"])),
                "connected" => event["role"].as_str().map(str::to_string),
                _ => None,
            };
            Some(match detail {
                Some(detail) => format!("{name}:{detail}"),
                None => name.to_string(),
            })
        })
        .collect()
}

#[test]
fn trace_says_two_messages_in_one_read_when_a_raw_peer_writes_two_lines_at_once() {
    let (mut netchat, addr) = Netchat::listen("listener", "duplex", &["--trace"]);
    let mut peer = raw_connect(addr);
    let connected = netchat.expect_stderr("netchat: trace");
    assert!(connected.contains("TCP_NODELAY on"), "{connected}");
    peer.send(b"one\ntwo\n");
    let read = netchat.expect_stderr("read 8 bytes");
    assert!(read.starts_with("netchat: trace"), "{read}");
    assert!(read.contains("→ 2 messages"), "{read}");
    assert!(
        read.contains(r#""one\ntwo\n""#),
        "the preview shows the bytes: {read}"
    );
    assert_eq!(netchat.next_stdout(), "one");
    assert_eq!(netchat.next_stdout(), "two");
}

#[test]
fn trace_names_an_ipv4_peer_of_a_dual_stack_listener_as_plain_ipv4() {
    // A bare port listens on [::], where an IPv4 peer is ::ffff:127.0.0.1 to the socket; the
    // trace must say 127.0.0.1, as the "connected" status line does.
    let mut netchat = Netchat::spawn("listener", &["half", "--listen", "0", "--trace"]);
    let line = netchat.expect_stderr("listening on ");
    let port = parse_listening_addr(&line)
        .unwrap_or_else(|| netchat.fail("no address"))
        .port();
    let _peer = raw_connect(SocketAddr::from(([127, 0, 0, 1], port)));
    let accepted = netchat.expect_stderr("trace");
    assert!(accepted.contains("accepted 127.0.0.1:"), "{accepted}");
    assert!(
        accepted.contains(&format!(" on 127.0.0.1:{port} ")),
        "{accepted}"
    );
    assert!(!accepted.contains("::ffff:"), "{accepted}");
}

#[test]
fn trace_shows_a_line_written_in_two_pieces_as_taking_two_reads() {
    let (mut netchat, addr) = Netchat::listen("listener", "half", &["--trace"]);
    let mut peer = raw_connect(addr);
    netchat.expect_stderr("accepted");
    peer.send(b"hel");
    // The next piece goes only once netchat has read the first: two reads for sure.
    let first = netchat.expect_stderr("read 3 bytes");
    assert!(
        first.contains("message continues (3 bytes so far)"),
        "{first}"
    );
    peer.send(b"lo\n");
    let second = netchat.expect_stderr("read 3 bytes");
    assert!(
        second.contains("1 message, complete after 2 reads"),
        "{second}"
    );
    assert_eq!(netchat.next_stdout(), "hello");
}

#[test]
fn trace_shows_fin_sent_at_end_of_input_and_fin_received_when_the_peer_closes() {
    let (mut netchat, addr) = Netchat::listen("listener", "duplex", &["--trace"]);
    let mut peer = raw_connect(addr);
    netchat.expect_stderr("accepted");
    netchat.close_stdin();
    netchat.expect_stderr("FIN sent");
    peer.expect_eof();
    peer.stream
        .shutdown(std::net::Shutdown::Write)
        .expect("raw peer: shutdown");
    let fin = netchat.expect_stderr("FIN received");
    assert!(fin.starts_with("netchat: trace"), "{fin}");
    netchat.expect_stderr("trace");
    netchat.expect_exit_code(0);
}

#[test]
fn trace_to_a_file_leaves_stderr_to_the_status_lines() {
    let path = temp_path("trace-file.log");
    let target = path.to_string_lossy().into_owned();
    let (mut netchat, addr) = Netchat::listen("listener", "duplex", &["--trace", &target]);
    let mut peer = raw_connect(addr);
    peer.send(b"hi\n");
    assert_eq!(netchat.next_stdout(), "hi");
    netchat.close_stdin();
    peer.expect_eof();
    drop(peer);
    netchat.expect_exit_code(0);
    assert!(
        !netchat.transcript().contains("trace"),
        "{}",
        netchat.transcript()
    );
    let trace = fs::read_to_string(&path).expect("the trace file");
    assert!(trace.contains("read 3 bytes → 1 message"), "{trace}");
    assert!(
        trace.lines().all(|line| line.starts_with("netchat: trace")),
        "{trace}"
    );
}

#[test]
fn half_event_log_shows_the_strict_alternation_and_the_end() {
    let (a, b) = (
        temp_path("half-listener.jsonl"),
        temp_path("half-connector.jsonl"),
    );
    let (a_path, b_path) = (a.to_string_lossy(), b.to_string_lossy());
    let (mut listener, addr) = Netchat::listen("listener", "half", &["--events", &a_path]);
    let mut connector = Netchat::connect("connector", "half", addr, &["--events", &b_path]);
    connector.send_line("hi");
    assert_eq!(listener.next_stdout(), "hi");
    listener.send_line("yo");
    assert_eq!(connector.next_stdout(), "yo");
    connector.send_line("q");
    listener.expect_exit_code(0);
    connector.expect_exit_code(0);
    let kinds = ["connected", "sent", "received", "quit", "closed"];
    assert_eq!(
        story(&events(&a), &kinds),
        [
            "connected:listener",
            "received:hi",
            "sent:yo",
            "received:q",
            "quit:\"peer\" \"q\"",
            "closed"
        ]
    );
    let connector_events = events(&b);
    assert_eq!(
        story(&connector_events, &kinds),
        [
            "connected:connector",
            "sent:hi",
            "received:yo",
            "sent:q",
            "quit:\"us\" \"q\"",
            "closed"
        ]
    );
    assert_eq!(connector_events[0]["event"], "started");
    assert!(story(&connector_events, &["fin_sent"]).len() == 1);
}

fn room_event_log_shows_joined_renamed_message_with_the_real_nick_and_left(engine: Engine) {
    let log = temp_path(&format!("room-{}.jsonl", engine.name()));
    let log_path = log.to_string_lossy();
    let (mut server, addr) = engine.listen("server", &["--events", &log_path]);
    let mut alice = Netchat::connect("alice", "room", addr, &["--nick", "alice"]);
    alice.expect_stdout("you are now alice");
    alice.send_line("hello, room");
    server.expect_stdout("[alice] hello, room");
    alice.send_line("/quit");
    server.expect_stderr("alice left");
    alice.expect_exit_code(0);
    let events = events(&log);
    let room: Vec<&Value> = events
        .iter()
        .filter(|e| {
            matches!(
                e["event"].as_str(),
                Some("joined" | "renamed" | "message" | "left")
            )
        })
        .collect();
    assert_eq!(room.len(), 4, "{room:?}");
    assert_eq!(room[0]["event"], "joined");
    assert_eq!(room[0]["nick"], "guest-1");
    let client = room[0]["client"].clone();
    assert!(
        room[0]["peer"]
            .as_str()
            .is_some_and(|p| p.starts_with("127.0.0.1:"))
    );
    assert_eq!(room[1]["event"], "renamed");
    assert_eq!(
        (&room[1]["from"], &room[1]["to"]),
        (&"guest-1".into(), &"alice".into())
    );
    assert_eq!(room[2]["event"], "message");
    assert_eq!(
        (&room[2]["nick"], &room[2]["text"]),
        (&"alice".into(), &"hello, room".into())
    );
    assert_eq!(room[3]["event"], "left");
    assert_eq!(room[3]["nick"], "alice");
    assert!(room.iter().all(|e| e["client"] == client));
}

/// The committed log of lesson 2's lab, and the diagram the lesson shows.
const LESSON_LOGS: [&str; 2] = [
    "lessons/wire/duplex-listener.jsonl",
    "lessons/wire/duplex-connector.jsonl",
];

fn diagram(format: &str) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let logs: Vec<String> = LESSON_LOGS
        .iter()
        .map(|log| format!("{root}/{log}"))
        .collect();
    let output = netchat_cmd()
        .arg("diagram")
        .args(&logs)
        .args(["--format", format])
        .output()
        .expect("netchat diagram");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).expect("UTF-8")
}

#[test]
fn diagram_of_the_lessons_logs_is_the_one_the_lesson_embeds() {
    let lesson = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/lessons/duplex.md"))
        .expect("lesson 2");
    let start = lesson
        .find("```mermaid\n")
        .expect("a mermaid block in lesson 2")
        + 11;
    let end = start
        + lesson[start..]
            .find("```")
            .expect("the end of the mermaid block");
    assert_eq!(
        diagram("mermaid"),
        &lesson[start..end],
        "regenerate it with: netchat diagram {} {}",
        LESSON_LOGS[0],
        LESSON_LOGS[1]
    );
}

#[test]
fn diagram_as_text_is_stable() {
    let expected = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/snapshots/duplex-diagram.txt"
    ))
    .expect("the snapshot");
    assert_eq!(diagram("text"), expected);
}

#[test]
fn diagram_of_a_missing_or_corrupt_log_is_one_error_line_and_exit_1() {
    let missing = temp_path("missing.jsonl");
    let output = netchat_cmd()
        .arg("diagram")
        .arg(&missing)
        .output()
        .expect("netchat diagram");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("netchat: error: cannot draw a diagram from"),
        "{stderr}"
    );

    let corrupt = temp_path("corrupt.jsonl");
    fs::write(
        &corrupt,
        "{\"v\":1,\"t\":0,\"event\":\"closed\"}\n{\"v\":1,\"t\":\n",
    )
    .unwrap();
    let output = netchat_cmd()
        .arg("diagram")
        .arg(&corrupt)
        .output()
        .expect("netchat diagram");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("line 2 is not an event"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn an_events_file_that_cannot_be_created_is_a_usage_error() {
    netchat_cmd()
        .args([
            "half",
            "--listen",
            "127.0.0.1:0",
            "--events",
            "/nonexistent-dir/x.jsonl",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--events /nonexistent-dir/x.jsonl: cannot create",
        ));
}

/// `#N` of a room's trace line: the connection's number (each engine numbers its own way).
fn trace_client(line: &str) -> String {
    let number = line
        .split_whitespace()
        .find(|word| word.starts_with('#'))
        .unwrap_or_else(|| panic!("no #N in {line:?}"));
    number.trim_end_matches(':').to_string()
}

fn room_trace_shows_each_members_accept_reads_writes_fins_and_close(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &["--trace"]);
    // The accept, with both ends and the socket option netchat set.
    let mut alice = room_raw_join(addr, "alice");
    let accepted = server.expect_stderr("accepted 127.0.0.1:");
    assert!(accepted.starts_with("netchat: trace"), "{accepted}");
    assert!(accepted.contains(&format!(" on {addr} ")), "{accepted}");
    assert!(accepted.contains("TCP_NODELAY on"), "{accepted}");
    let a = trace_client(&accepted);
    // Numbered alike on both engines: the first client is #1 (guest-1).
    assert_eq!(a, "#1", "{accepted}");
    // Its welcome, written to it. (Whether its /nick is read before or after depends on the
    // engine and the moment: the threads engine's reader starts at once.)
    let welcome = server.expect_stderr("*** welcome! you are guest-1");
    assert!(welcome.contains(&format!("{a} ")), "{welcome}");
    assert!(welcome.contains(": wrote "), "{welcome}");
    let mut bob = room_raw_join(addr, "bob");
    let b = trace_client(&server.expect_stderr("accepted 127.0.0.1:"));
    assert_ne!(a, b);
    let welcome = server.expect_stderr("*** welcome! you are guest-2");
    assert!(welcome.contains(&format!("{b} ")), "{welcome}");

    // A line read from one member is written to the other, under each one's number and name.
    alice.send(b"hi there\n");
    let read = server.expect_stderr(&format!("{a} alice: read 9 bytes"));
    assert!(read.contains("→ 1 message"), "{read}");
    assert!(
        read.contains(r#""hi there\n""#),
        "the bytes, escaped: {read}"
    );
    let relayed = server.expect_stderr("[alice] hi there");
    assert!(relayed.contains(&format!("{b} bob: wrote ")), "{relayed}");
    bob.read_until("[alice] hi there");

    // The member closes first: its FIN, then ours, then the close.
    alice.stream.shutdown(Shutdown::Write).expect("shutdown");
    server.expect_stderr(&format!("{a} alice: FIN received"));
    server.expect_stderr(&format!("{a} alice: FIN sent"));
    server.expect_stderr(&format!("{a} alice: closed"));
    alice.read_to_eof();

    // The server closes first (/quit): its goodbye and FIN, then the member's FIN, the close.
    bob.send(b"/quit\n");
    server.expect_stderr(&format!("{b} bob: FIN sent"));
    bob.read_to_eof();
    bob.stream.shutdown(Shutdown::Write).expect("shutdown");
    server.expect_stderr(&format!("{b} bob: FIN received"));
    server.expect_stderr(&format!("{b} bob: closed"));
    assert!(
        !server.transcript().contains("RST"),
        "both closed politely: {}",
        server.transcript()
    );
}

// The room's events come from its rules (engine.rs writes them), the same on both engines; its
// trace lines come from each engine's socket calls, and say the same.
engine_tests! {
    room_event_log_shows_joined_renamed_message_with_the_real_nick_and_left,
    room_trace_shows_each_members_accept_reads_writes_fins_and_close,
}
