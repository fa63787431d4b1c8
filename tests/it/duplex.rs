//! `netchat duplex`: both directions at once, `bye`, half-close, resets and hostile bytes, between
//! two real processes and against raw peers.

use crate::common;

use common::{Netchat, raw_accept, raw_connect, raw_listener};

/// A listener and a connector, both past the connection step.
fn pair(extra: &[&str]) -> (Netchat, Netchat) {
    let (mut listener, addr) = Netchat::listen("listener", "duplex", extra);
    let mut connector = Netchat::connect("connector", "duplex", addr, extra);
    listener.expect_stderr("connected");
    connector.expect_stderr("connected to");
    (listener, connector)
}

#[test]
fn duplex_both_sides_send_without_waiting_and_every_line_arrives_in_order() {
    let (mut listener, mut connector) = pair(&[]);
    // Both type all their lines before reading anything: no turns, nobody waits for the other.
    for i in 1..=5 {
        listener.send_line(&format!("from listener {i}"));
        connector.send_line(&format!("from connector {i}"));
    }
    for i in 1..=5 {
        assert_eq!(connector.next_stdout(), format!("from listener {i}"));
        assert_eq!(listener.next_stdout(), format!("from connector {i}"));
    }
    connector.send_line("bye");
    listener.expect_exit_code(0);
    connector.expect_exit_code(0);
}

#[test]
fn duplex_bye_from_the_connector_ends_both_with_exit_0() {
    let (mut listener, mut connector) = pair(&[]);
    connector.send_line("hello");
    assert_eq!(listener.next_stdout(), "hello");
    connector.send_line("bye");
    connector.expect_stderr("you said bye");
    listener.expect_stderr("the peer said bye");
    listener.expect_exit_code(0);
    connector.expect_exit_code(0);
}

#[test]
fn duplex_bye_from_the_listener_in_any_case_ends_both_with_exit_0() {
    let (mut listener, mut connector) = pair(&[]);
    listener.send_line("  BYE ");
    connector.expect_stderr("the peer said bye");
    connector.expect_exit_code(0);
    listener.expect_exit_code(0);
}

#[test]
fn duplex_bye_goes_on_the_wire_as_one_line_then_fin() {
    let (raw, addr) = raw_listener();
    let mut netchat = Netchat::connect("connector", "duplex", addr, &[]);
    let mut peer = raw_accept(&raw);
    netchat.expect_stderr("connected to");
    netchat.send_line("Bye");
    assert_eq!(peer.read_line(), "bye");
    peer.expect_eof();
    drop(peer);
    netchat.expect_exit_code(0);
}

#[test]
fn duplex_stdin_eof_half_closes_yet_still_receives_the_peers_later_lines() {
    let (raw, addr) = raw_listener();
    let mut netchat = Netchat::connect("connector", "duplex", addr, &[]);
    let mut peer = raw_accept(&raw);
    netchat.send_line("hi");
    netchat.close_stdin();
    // On the wire: the line, then FIN (the raw peer's read returns 0)...
    assert_eq!(peer.read_line(), "hi");
    peer.expect_eof();
    netchat.expect_stderr("half-close");
    // ...yet the other direction is still open: replies sent after that FIN arrive.
    peer.send(b"reply one\nreply two\n");
    assert_eq!(netchat.next_stdout(), "reply one");
    assert_eq!(netchat.next_stdout(), "reply two");
    // The peer ends too: both directions are closed, a normal end.
    drop(peer);
    netchat.expect_stderr("the peer closed the connection");
    netchat.expect_exit_code(0);
}

#[test]
fn duplex_a_half_closed_netchat_still_gets_the_other_netchats_replies() {
    let (mut listener, mut connector) = pair(&[]);
    connector.send_line("question");
    connector.close_stdin();
    assert_eq!(listener.next_stdout(), "question");
    listener.expect_stderr("the peer finished sending");
    listener.send_line("answer");
    assert_eq!(connector.next_stdout(), "answer");
    listener.close_stdin();
    listener.expect_exit_code(0);
    connector.expect_exit_code(0);
}

#[test]
fn duplex_a_file_piped_into_one_side_arrives_whole_on_the_other() {
    let lines: Vec<String> = (1..=3000)
        .map(|i| format!("line {i:04}: the quick brown fox jumps over the lazy dog"))
        .collect();
    let file = lines.join("\n") + "\n";
    let (mut listener, mut connector) = pair(&[]);
    connector.send_bytes(file.as_bytes());
    connector.close_stdin();
    for expected in &lines {
        let got = listener.next_stdout();
        if &got != expected {
            listener.fail(&format!("expected {expected:?}, got {got:?}"));
        }
    }
    listener.expect_stderr("the peer finished sending");
    listener.close_stdin();
    listener.expect_exit_code(0);
    connector.expect_exit_code(0);
}

/// A file read in blocks takes the bulk path on both sides (lines framed in place, a plain block
/// printed in one piece), and every line that needs more still gets it, in order: a CR LF
/// ending dropped, control and bidi characters escaped, a line over the receiver's limit dropped
/// with a notice, and a `bye` in the middle of a block ending the conversation there.
#[test]
fn duplex_a_piped_file_keeps_every_guarantee_in_bulk_and_stops_at_its_bye() {
    let mut file = String::new();
    let mut expected = Vec::new();
    let mut line = |sent: &str, shown: Option<&str>| {
        file.push_str(sent);
        file.push('\n');
        expected.extend(shown.map(str::to_string));
    };
    for i in 0..3000 {
        let plain = format!("plain line {i:04} the quick brown fox");
        line(&plain, Some(&plain));
    }
    line("windows line\r", Some("windows line"));
    line("\x1b[31mred?", Some("\\x1b[31mred?"));
    line(
        "caf\u{e9} \u{202e}reversed",
        Some("caf\u{e9} \\u{202e}reversed"),
    );
    line(&"x".repeat(100), None);
    line("tab\tkept", Some("tab\tkept"));
    for i in 0..3000 {
        let plain = format!("more plain {i:04}");
        line(&plain, Some(&plain));
    }
    line("  BYE ", None);
    line("never sent", None);
    let (mut listener, addr) = Netchat::listen("listener", "duplex", &["--max-line", "64"]);
    let mut connector = Netchat::connect("connector", "duplex", addr, &[]);
    listener.expect_stderr("connected");
    connector.send_bytes(file.as_bytes());
    for want in &expected {
        let got = listener.next_stdout();
        if &got != want {
            listener.fail(&format!("expected {want:?}, got {got:?}"));
        }
    }
    listener.expect_stderr("longer than 64 bytes");
    listener.expect_stderr("the peer said bye");
    listener.expect_exit_code(0);
    listener.expect_no_stdout();
    connector.expect_stderr("you said bye");
    connector.expect_exit_code(0);
}

/// A peer that is not netchat (nc, a script) sends a file in which a `bye` line hides among
/// thousands of plain ones, in one write: the reader's bulk path, which passes whole 64-byte
/// chunks without looking at each line, still sees it and shows exactly the lines before it.
#[test]
fn duplex_a_bye_among_thousands_of_plain_lines_from_a_raw_peer_ends_exactly_there() {
    let mut file = Vec::new();
    let mut expected = Vec::new();
    for i in 0..5000 {
        let plain = format!("line {i:05} of a log file, plain ascii");
        file.extend_from_slice(plain.as_bytes());
        file.push(b'\n');
        expected.push(plain);
        // Lines that start like `bye` and are not: they must go through.
        if i % 1000 == 999 {
            file.extend_from_slice(b" byebye\nb\n");
            expected.extend([" byebye".to_string(), "b".to_string()]);
        }
    }
    file.extend_from_slice(b"\tBye \nnever shown\n");
    let (mut listener, addr) = Netchat::listen("listener", "duplex", &[]);
    let mut peer = raw_connect(addr);
    listener.expect_stderr("connected");
    peer.send(&file);
    for want in &expected {
        let got = listener.next_stdout();
        if &got != want {
            listener.fail(&format!("expected {want:?}, got {got:?}"));
        }
    }
    listener.expect_stderr("the peer said bye");
    listener.expect_exit_code(0);
    listener.expect_no_stdout();
}

#[test]
fn duplex_a_killed_peer_shows_as_fin_and_ends_normally_once_our_input_ends() {
    let (mut listener, mut connector) = pair(&[]);
    connector.send_line("still there?");
    assert_eq!(listener.next_stdout(), "still there?");
    // SIGKILL: the kernel closes the dead process's socket. Nothing was left unread, so it sends
    // a FIN, which looks exactly like a half-close.
    connector.kill();
    listener.expect_stderr("the peer finished sending");
    listener.close_stdin();
    listener.expect_stderr("end of input");
    listener.expect_exit_code(0);
}

#[test]
fn duplex_a_reset_from_the_peer_is_an_error_with_exit_1() {
    let (mut netchat, addr) = Netchat::listen("listener", "duplex", &[]);
    let peer = raw_connect(addr);
    netchat.expect_stderr("connected");
    netchat.send_line("you will not read this");
    // Wait until the line sits unread in the peer's receive buffer, then close: closing a socket
    // with unread data makes the kernel send a RST instead of a FIN.
    common::wait_for_bytes(&peer.stream, "the line");
    drop(peer);
    netchat.expect_stderr("netchat: error: the peer reset the connection");
    netchat.expect_stderr("netchat: hint:");
    netchat.expect_exit_code(1);
}

#[test]
fn duplex_escapes_peer_text_drops_overlong_lines_and_goes_on() {
    let (mut netchat, addr) = Netchat::listen("listener", "duplex", &["--max-line", "16"]);
    let mut peer = raw_connect(addr);
    netchat.expect_stderr("connected");
    peer.send(b"\x1b[2Jwiped?\n");
    assert_eq!(netchat.next_stdout(), "\\x1b[2Jwiped?");
    peer.send(b"bad \xff\xfe utf8\n");
    assert_eq!(netchat.next_stdout(), "bad \u{fffd}\u{fffd} utf8");
    peer.send(&[b'x'; 100]);
    peer.send(b"\nafter\n");
    netchat.expect_stderr("longer than 16 bytes");
    assert_eq!(netchat.next_stdout(), "after");
    // Still a conversation, in both directions.
    netchat.send_line("still here");
    assert_eq!(peer.read_line(), "still here");
}

#[test]
fn duplex_an_overlong_typed_line_is_not_sent_and_the_next_one_is() {
    let (mut netchat, addr) = Netchat::listen("listener", "duplex", &["--max-line", "8"]);
    let mut peer = raw_connect(addr);
    netchat.expect_stderr("connected");
    netchat.send_line("far too long for eight bytes");
    netchat.expect_stderr("was not sent");
    netchat.send_line("short");
    assert_eq!(peer.read_line(), "short");
}

#[test]
fn duplex_timestamps_prefix_messages_with_the_time() {
    let (mut listener, mut connector) = pair(&["--timestamps"]);
    connector.send_line("what time is it?");
    let line = listener.next_stdout();
    let (stamp, text) = line.split_at(11);
    let digits = stamp.bytes().filter(u8::is_ascii_digit).count();
    assert!(
        stamp.starts_with('[') && stamp.ends_with("] ") && digits == 6,
        "{line:?}"
    );
    assert_eq!(text, "what time is it?");
}

#[cfg(unix)]
#[test]
fn duplex_ctrl_c_says_bye_so_the_peer_sees_a_polite_end() {
    let (mut listener, mut connector) = pair(&[]);
    interrupt(&connector);
    connector.expect_stderr("Ctrl-C");
    listener.expect_stderr("the peer said bye");
    listener.expect_exit_code(0);
    connector.expect_exit_code(0);
}

#[cfg(unix)]
#[test]
fn duplex_ctrl_c_while_waiting_for_a_peer_ends_at_once() {
    let (mut listener, addr) = Netchat::listen("listener", "duplex", &[]);
    interrupt(&listener);
    listener.expect_stderr("before anyone connected");
    listener.expect_exit_code(0);
    // The port is closed with the process: nobody is left waiting in its backlog.
    assert!(std::net::TcpStream::connect(addr).is_err());
}

/// Sends SIGINT (what Ctrl-C sends) to this one child, by its PID.
#[cfg(unix)]
fn interrupt(process: &Netchat) {
    process.signal("INT");
}

#[test]
fn duplex_help_lists_the_shared_options_and_timestamps() {
    let output = common::netchat_cmd()
        .args(["duplex", "--help"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    for option in [
        "--listen",
        "--connect",
        "--color",
        "--max-line",
        "--timestamps",
    ] {
        assert!(text.contains(option), "{option} missing from:\n{text}");
    }
}

/// A peer that sends nothing but over-long lines cannot bury the screen in notices: at most one
/// a second, each counting the lines dropped since, and the rest counted when the conversation
/// ends. Every dropped line is still accounted for.
#[test]
fn duplex_a_flood_of_overlong_lines_is_told_in_a_few_notices_that_count_them_all() {
    const LINES: u64 = 500;
    let (mut netchat, addr) = Netchat::listen("listener", "duplex", &["--max-line", "16"]);
    let mut peer = raw_connect(addr);
    netchat.expect_stderr("connected");
    let mut flood = Vec::new();
    for _ in 0..LINES {
        flood.extend_from_slice(&[b'x'; 100]);
        flood.push(b'\n');
    }
    flood.extend_from_slice(b"after\n");
    peer.send(&flood);
    assert_eq!(netchat.next_stdout(), "after");
    // Both sides end: our input, then the peer's FIN.
    netchat.close_stdin();
    netchat.expect_stderr("sent FIN");
    drop(peer);
    netchat.expect_exit_code(0);
    let transcript = netchat.transcript();
    let notices: Vec<&str> = transcript
        .lines()
        .filter(|line| line.contains("longer than 16 bytes"))
        .collect();
    // The first notice counts one line; each later one its own and the N more it mentions.
    let counted: u64 = notices
        .iter()
        .map(|notice| {
            let more = |marker: &str| {
                notice
                    .split(marker)
                    .next()?
                    .rsplit(' ')
                    .next()?
                    .parse::<u64>()
                    .ok()
            };
            match more(" more since the last notice") {
                Some(n) => n + 1,
                // The last word ("sent N more lines …"), or a first notice (one line).
                None => more(" more lines longer than").unwrap_or(1),
            }
        })
        .sum();
    assert_eq!(counted, LINES, "{notices:#?}");
    assert!(
        notices.len() < 50,
        "{} notices: {transcript}",
        notices.len()
    );
}
