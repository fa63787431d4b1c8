//! `netchat half`: strict alternation between two real processes and against raw peers.

mod common;

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
