//! `netchat half`: strict alternation between two real processes and against raw peers.

use crate::common;

use common::{Netchat, raw_accept, raw_connect, raw_listener};

#[test]
fn half_conversation_alternates_between_two_netchats() {
    let (mut listener, addr) = Netchat::listen("listener", "half", &[]);
    let mut connector = Netchat::connect("connector", "half", addr, &[]);
    listener.expect_stderr("connected");
    connector.expect_stderr("connected to");

    // The listener has its reply typed already, but must not send it before its turn.
    listener.send_line("reply one");
    connector.expect_no_stdout();

    connector.send_line("hello");
    assert_eq!(listener.next_stdout(), "hello");
    assert_eq!(connector.next_stdout(), "reply one");

    connector.send_line("second");
    assert_eq!(listener.next_stdout(), "second");
    listener.send_line("reply two");
    assert_eq!(connector.next_stdout(), "reply two");

    connector.send_line("q");
    listener.expect_stderr("peer quit");
    listener.expect_exit_code(0);
    connector.expect_exit_code(0);
}

#[test]
fn half_q_from_the_listener_ends_both_with_exit_0() {
    let (mut listener, addr) = Netchat::listen("listener", "half", &[]);
    let mut connector = Netchat::connect("connector", "half", addr, &[]);
    connector.send_line("hi");
    assert_eq!(listener.next_stdout(), "hi");
    listener.send_line("q");
    connector.expect_stderr("peer quit");
    connector.expect_exit_code(0);
    listener.expect_exit_code(0);
}

#[test]
fn half_eof_on_stdin_counts_as_q() {
    let (mut listener, addr) = Netchat::listen("listener", "half", &[]);
    let mut connector = Netchat::connect("connector", "half", addr, &[]);
    connector.close_stdin();
    listener.expect_stderr("peer quit");
    connector.expect_stderr("end of input");
    listener.expect_exit_code(0);
    connector.expect_exit_code(0);
}

#[test]
fn half_extra_messages_wait_in_the_socket_for_later_turns() {
    let (mut listener, addr) = Netchat::listen("listener", "half", &[]);
    let mut peer = raw_connect(addr);
    listener.expect_stderr("connected");
    listener.send_line("a");
    listener.send_line("b");
    // The raw peer speaks twice in one turn: netchat shows one message per turn.
    peer.send(b"first\nsecond\n");
    assert_eq!(listener.next_stdout(), "first");
    // "second" already waits in the socket, but the listener's own turn comes first...
    assert_eq!(peer.read_line(), "a");
    // ...and only then does its next receive find it, without the peer sending anything more.
    assert_eq!(listener.next_stdout(), "second");
    assert_eq!(peer.read_line(), "b");
}

#[test]
fn half_listener_speaks_only_after_receiving() {
    let (mut listener, addr) = Netchat::listen("listener", "half", &[]);
    listener.send_line("one");
    listener.send_line("two");
    let mut peer = raw_connect(addr);
    peer.expect_silence();
    peer.send(b"x\n");
    assert_eq!(peer.read_line(), "one");
    peer.expect_silence();
    peer.send(b"y\n");
    assert_eq!(peer.read_line(), "two");
    peer.send(b"q\n");
    listener.expect_exit_code(0);
}

#[test]
fn half_connector_speaks_first_to_a_raw_listener() {
    let (raw, addr) = raw_listener();
    let mut connector = Netchat::connect("connector", "half", addr, &[]);
    let mut peer = raw_accept(&raw);
    connector.send_line("hello there");
    assert_eq!(peer.read_line(), "hello there");
    peer.send(b"q\n");
    connector.expect_stderr("peer quit");
    connector.expect_exit_code(0);
}

/// A raw peer connected to a `netchat half --listen` whose keyboard always has a reply ready.
fn listener_with_raw_peer(extra: &[&str]) -> (Netchat, common::RawPeer) {
    let (mut listener, addr) = Netchat::listen("listener", "half", extra);
    let peer = raw_connect(addr);
    listener.expect_stderr("connected");
    (listener, peer)
}

#[test]
fn half_crlf_from_a_telnet_style_peer_is_one_clean_line() {
    let (mut listener, mut peer) = listener_with_raw_peer(&[]);
    peer.send(b"from telnet\r\n");
    assert_eq!(listener.next_stdout(), "from telnet");
}

#[test]
fn half_invalid_utf8_shows_replacement_characters() {
    let (mut listener, mut peer) = listener_with_raw_peer(&[]);
    peer.send(b"caf\xe9 \xff\n");
    assert_eq!(listener.next_stdout(), "caf\u{fffd} \u{fffd}");
}

#[test]
fn half_escape_sequences_from_the_peer_are_printed_escaped() {
    let (mut listener, mut peer) = listener_with_raw_peer(&[]);
    peer.send(b"\x1b[2J\x1b[31mred\x07\n");
    let line = listener.next_stdout();
    assert_eq!(line, "\\x1b[2J\\x1b[31mred\\x07");
    assert!(!line.contains('\x1b'));
}

#[test]
fn half_an_overlong_line_is_dropped_with_a_notice_and_the_conversation_goes_on() {
    let (mut listener, mut peer) = listener_with_raw_peer(&["--max-line", "16"]);
    let mut long = vec![b'x'; 5000];
    long.push(b'\n');
    peer.send(&long);
    listener.expect_stderr("longer than 16 bytes");
    // The dropped line counted as the peer's turn: the listener answers...
    listener.send_line("still here");
    assert_eq!(peer.read_line(), "still here");
    // ...and the next normal line arrives intact.
    peer.send(b"short\n");
    assert_eq!(listener.next_stdout(), "short");
}

#[test]
fn half_a_typed_line_over_max_line_is_not_sent() {
    let (raw, addr) = raw_listener();
    let mut connector = Netchat::connect("connector", "half", addr, &["--max-line", "8"]);
    let mut peer = raw_accept(&raw);
    connector.send_line("this is far too long");
    connector.expect_stderr("not sent");
    connector.send_line("short");
    assert_eq!(peer.read_line(), "short");
}

#[test]
fn half_the_peer_closing_without_q_ends_with_a_status_and_exit_0() {
    let (mut listener, peer) = listener_with_raw_peer(&[]);
    drop(peer);
    listener.expect_stderr("the peer closed the connection");
    listener.expect_exit_code(0);
}

#[test]
fn half_a_closed_stdout_ends_quietly() {
    let (raw, addr) = raw_listener();
    let target = addr.to_string();
    // Like `netchat half --connect … | head -1` after its line: nobody reads stdout.
    let mut connector = Netchat::spawn_without_stdout("connector", &["half", "--connect", &target]);
    let mut peer = raw_accept(&raw);
    connector.send_line("hello");
    assert_eq!(peer.read_line(), "hello");
    peer.send(b"this reply cannot be printed\n");
    connector.expect_exit_code(0);
    let transcript = connector.transcript();
    assert!(!transcript.contains("panicked"), "{transcript}");
    assert!(!transcript.contains("error"), "{transcript}");
}
