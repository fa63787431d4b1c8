//! `--framing raw` against peers that do not frame: raw TcpStreams playing, byte for byte, the
//! classroom Python scripts (one `send()` per message, no newline, `recv(2048)` as one message,
//! `q` to quit). No Python is needed to run these tests.

use crate::common;

use common::{Netchat, raw_accept, raw_connect, raw_listener};

/// A Python half-duplex *client* talks to `netchat half --listen --framing raw`.
#[test]
fn raw_half_listener_holds_a_conversation_with_a_python_style_client() {
    let (mut netchat, addr) = Netchat::listen("netchat", "half", &["--framing", "raw"]);
    let mut script = raw_connect(addr);
    netchat.expect_stderr("raw framing");
    // s.send("hello".encode())
    script.send(b"hello");
    assert_eq!(netchat.next_stdout(), "hello");
    netchat.send_line("hi student");
    // data = s.recv(2048): exactly the typed text, no newline after it.
    assert_eq!(script.read_exactly(10), b"hi student");
    script.expect_silence();
    script.send(b"q");
    netchat.expect_stderr("peer quit");
    netchat.expect_exit_code(0);
}

/// `netchat half --connect --framing raw` talks to a Python half-duplex *server*.
#[test]
fn raw_half_connector_holds_a_conversation_with_a_python_style_server() {
    let (listener, addr) = raw_listener();
    let mut netchat = Netchat::connect("netchat", "half", addr, &["--framing", "raw"]);
    let mut script = raw_accept(&listener);
    netchat.send_line("hello server");
    assert_eq!(script.read_exactly(12), b"hello server");
    script.send(b"welcome");
    assert_eq!(netchat.next_stdout(), "welcome");
    netchat.send_line("q");
    assert_eq!(script.read_exactly(1), b"q");
    script.expect_eof();
    netchat.expect_exit_code(0);
}

/// The message-boundary lesson, live: two sends that wait in the receive buffer come back from
/// one `read` as one message with raw framing.
#[test]
fn raw_two_quick_sends_merge_into_one_message() {
    let (mut netchat, addr) = Netchat::listen("netchat", "half", &["--framing", "raw"]);
    let mut script = raw_connect(addr);
    script.send(b"hello");
    assert_eq!(netchat.next_stdout(), "hello");
    // netchat is now reading its keyboard, not the socket: both sends wait in the kernel.
    script.send(b"one");
    script.send(b"two");
    netchat.send_line("reply");
    assert_eq!(script.read_exactly(5), b"reply");
    assert_eq!(netchat.next_stdout(), "onetwo");
}

/// The same two sends, newline-terminated, stay two messages with line framing.
#[test]
fn line_framing_keeps_two_quick_sends_apart() {
    let (mut netchat, addr) = Netchat::listen("netchat", "half", &[]);
    let mut script = raw_connect(addr);
    script.send(b"hello\n");
    assert_eq!(netchat.next_stdout(), "hello");
    script.send(b"one\n");
    script.send(b"two\n");
    netchat.send_line("reply");
    assert_eq!(script.read_line(), "reply");
    assert_eq!(netchat.next_stdout(), "one");
    netchat.send_line("reply 2");
    assert_eq!(netchat.next_stdout(), "two");
}

/// A message longer than one read arrives split with raw framing: each piece is a message.
#[test]
fn raw_a_long_send_arrives_split() {
    let (mut netchat, addr) = Netchat::listen(
        "netchat",
        "half",
        &["--framing", "raw", "--max-line", "1024"],
    );
    let mut script = raw_connect(addr);
    script.send(&[b'x'; 2048]);
    assert_eq!(netchat.next_stdout(), "x".repeat(1024));
    netchat.send_line("got part of it?");
    assert_eq!(script.read_exactly(15), b"got part of it?");
    assert_eq!(netchat.next_stdout(), "x".repeat(1024));
}

/// With raw framing an empty line would send zero bytes: netchat refuses instead of hanging.
#[test]
fn raw_an_empty_line_is_not_sent() {
    let (listener, addr) = raw_listener();
    let mut netchat = Netchat::connect("netchat", "half", addr, &["--framing", "raw"]);
    let mut script = raw_accept(&listener);
    netchat.send_line("");
    netchat.expect_stderr("empty line sends nothing");
    netchat.send_line("now");
    assert_eq!(script.read_exactly(3), b"now");
}

/// A threaded Python duplex *client* (sends raw `input()` text, ends when a chunk `.strip()`s to
/// `bye`) against `netchat duplex --listen --framing raw`: both talk freely, its bye ends both.
#[test]
fn raw_duplex_listener_chats_freely_with_a_threaded_python_style_client() {
    let (mut netchat, addr) = Netchat::listen("netchat", "duplex", &["--framing", "raw"]);
    let mut script = raw_connect(addr);
    netchat.expect_stderr("raw framing");
    // Both sides speak without waiting for each other.
    netchat.send_line("hello script");
    script.send(b"hello netchat");
    assert_eq!(script.read_exactly(12), b"hello script");
    assert_eq!(netchat.next_stdout(), "hello netchat");
    netchat.send_line("and again");
    assert_eq!(script.read_exactly(9), b"and again");
    script.send(b"bye");
    netchat.expect_stderr("the peer said bye");
    netchat.expect_exit_code(0);
}

/// `netchat duplex --connect --framing raw` against a threaded Python *server*: netchat's bye
/// arrives as the three bytes the script compares after strip().
#[test]
fn raw_duplex_connector_says_bye_to_a_threaded_python_style_server() {
    let (listener, addr) = raw_listener();
    let mut netchat = Netchat::connect("netchat", "duplex", addr, &["--framing", "raw"]);
    let mut script = raw_accept(&listener);
    script.send(b"welcome");
    assert_eq!(netchat.next_stdout(), "welcome");
    netchat.send_line("thanks");
    assert_eq!(script.read_exactly(6), b"thanks");
    netchat.send_line("bye");
    assert_eq!(script.read_exactly(3), b"bye");
    // The script ends when its recv() returns b"" (netchat's FIN) and closes: netchat is done.
    script.expect_eof();
    drop(script);
    netchat.expect_exit_code(0);
}

/// Two `netchat room --connect --framing raw` clients in a Python-style broadcast room: the test
/// plays the server, which greets without a newline and relays each client's text to the others
/// prefixed `<ip> `, never framing anything.
#[test]
fn raw_room_clients_talk_through_a_python_style_broadcast_server() {
    let (listener, addr) = raw_listener();
    let mut alice = Netchat::connect("alice", "room", addr, &["--framing", "raw"]);
    let mut alice_conn = raw_accept(&listener);
    let mut bob = Netchat::connect("bob", "room", addr, &["--framing", "raw"]);
    let mut bob_conn = raw_accept(&listener);
    alice_conn.send(b"Welcome to the chat room!");
    bob_conn.send(b"Welcome to the chat room!");
    assert_eq!(alice.next_stdout(), "Welcome to the chat room!");
    assert_eq!(bob.next_stdout(), "Welcome to the chat room!");

    // What alice types reaches the server as exactly those bytes...
    alice.send_line("hello all");
    assert_eq!(alice_conn.read_exactly(9), b"hello all");
    // ...and the server's relay, prefixed with her address, shows on bob's side.
    bob_conn.send(b"<127.0.0.1> hello all");
    assert_eq!(bob.next_stdout(), "<127.0.0.1> hello all");
    bob.send_line("hi alice");
    assert_eq!(bob_conn.read_exactly(8), b"hi alice");
    alice_conn.send(b"<127.0.0.1> hi alice");
    assert_eq!(alice.next_stdout(), "<127.0.0.1> hi alice");

    // /quit with a raw server just closes: the script's recv() returns b"".
    alice.send_line("/quit");
    alice_conn.expect_eof();
    alice.expect_exit_code(0);
    bob.close_stdin();
    bob_conn.expect_eof();
    drop(bob_conn);
    bob.expect_exit_code(0);
}

#[test]
fn raw_framing_is_refused_for_a_room_server_and_with_nick() {
    common::netchat_cmd()
        .args(["room", "--listen", "127.0.0.1:0", "--framing", "raw"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("does not take --framing raw"));
    common::netchat_cmd()
        .args([
            "room",
            "--connect",
            "5000",
            "--framing",
            "raw",
            "--nick",
            "al",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--nick needs a netchat room"));
}
