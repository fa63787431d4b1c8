//! TCP experiments on one laptop: `--chop`, `--delay` and `--coalesce` split and merge messages
//! on purpose, `--nodelay off` hands small writes to Nagle's algorithm — against raw peers that
//! show what each `read()` got, and against netchat, whose line framing still shows whole lines.

use crate::common;

use common::{Netchat, RawPeer, netchat_cmd, raw_accept, raw_listener};

/// Reads the raw socket until a newline has arrived; returns what each `read()` returned.
fn reads_until_newline(peer: &mut RawPeer) -> Vec<Vec<u8>> {
    let mut reads = Vec::new();
    let mut buf = [0u8; 1024];
    while !reads.iter().any(|read: &Vec<u8>| read.contains(&b'\n')) {
        let n = common::read_once(&mut peer.stream, &mut buf, "raw peer");
        assert!(n > 0, "the connection closed after {reads:?}");
        reads.push(buf[..n].to_vec());
    }
    reads
}

#[test]
fn chop_3_with_delay_50_reaches_a_raw_listener_in_at_least_three_reads() {
    let (listener, addr) = raw_listener();
    let mut netchat = Netchat::connect(
        "connector",
        "duplex",
        addr,
        &["--chop", "3", "--delay", "50", "--trace"],
    );
    let mut peer = raw_accept(&listener);
    netchat.expect_stderr("send shaping: each message in pieces of at most 3 bytes");
    netchat.send_line("hello world, in pieces");
    let reads = reads_until_newline(&mut peer);
    assert!(reads.len() >= 3, "only {} reads: {reads:?}", reads.len());
    assert!(reads.iter().all(|read| !read.is_empty()));
    assert_eq!(reads.concat(), b"hello world, in pieces\n");
    // The sender's side of it: each piece its own write() (the trace counts system calls).
    let piece = netchat.expect_stderr("wrote 3 bytes");
    assert!(piece.contains("part of a message"), "{piece}");
}

#[test]
fn coalesce_3_reaches_a_raw_listener_as_three_lines_in_one_read() {
    let (listener, addr) = raw_listener();
    let mut netchat = Netchat::connect("connector", "duplex", addr, &["--coalesce", "3"]);
    let mut peer = raw_accept(&listener);
    netchat.expect_stderr("send shaping: 3 messages per write()");
    netchat.send_line("one");
    netchat.send_line("two");
    // Two typed lines wait for the third: nothing on the wire yet.
    peer.expect_silence();
    netchat.send_line("three");
    let mut buf = [0u8; 1024];
    let n = common::read_once(&mut peer.stream, &mut buf, "raw peer");
    assert_eq!(&buf[..n], b"one\ntwo\nthree\n", "one read, three lines");
}

#[test]
fn a_netchat_line_receiver_still_prints_whole_lines_when_chopped_or_coalesced() {
    for shaping in [&["--chop", "3", "--delay", "20"][..], &["--coalesce", "3"]] {
        let (mut listener, addr) = Netchat::listen("listener", "duplex", &[]);
        let mut connector = Netchat::connect("connector", "duplex", addr, shaping);
        connector.expect_stderr("send shaping");
        for line in ["first line", "second", "third one"] {
            connector.send_line(line);
        }
        assert_eq!(listener.next_stdout(), "first line", "{shaping:?}");
        assert_eq!(listener.next_stdout(), "second", "{shaping:?}");
        assert_eq!(listener.next_stdout(), "third one", "{shaping:?}");
    }
}

#[test]
fn half_chopped_messages_still_arrive_whole_at_a_netchat_peer() {
    let (mut listener, addr) = Netchat::listen("listener", "half", &[]);
    let mut connector = Netchat::connect("connector", "half", addr, &["--chop", "2"]);
    connector.send_line("taking turns");
    assert_eq!(listener.next_stdout(), "taking turns");
}

#[test]
fn nodelay_off_is_what_the_socket_has() {
    let (listener, addr) = raw_listener();
    let mut off = Netchat::connect("off", "duplex", addr, &["--nodelay", "off", "--trace"]);
    let _peer = raw_accept(&listener);
    // The trace reads TCP_NODELAY back from the socket (TcpStream::nodelay), not from the option.
    off.expect_stderr("TCP_NODELAY off");
    let (listener, addr) = raw_listener();
    let mut on = Netchat::connect("on", "half", addr, &["--trace"]);
    let _peer = raw_accept(&listener);
    on.expect_stderr("TCP_NODELAY on");
}

#[test]
fn coalesce_in_half_is_a_usage_error_that_says_why() {
    // Half sends one message per turn: there is nothing to gather.
    netchat_cmd()
        .args(["half", "--connect", "5000", "--coalesce", "3"])
        .assert()
        .code(2)
        .stderr(predicates::str::starts_with(
            "netchat: error: --coalesce does not apply to half",
        ))
        .stderr(predicates::str::contains("strict turns"));
}

#[test]
fn absurd_shaping_values_are_usage_errors() {
    for args in [
        &["duplex", "--connect", "5000", "--chop", "0"][..],
        &["duplex", "--connect", "5000", "--chop", "1000000"],
        &["duplex", "--connect", "5000", "--delay", "0"],
        &["duplex", "--connect", "5000", "--delay", "999999"],
        &["duplex", "--connect", "5000", "--coalesce", "0"],
        &["duplex", "--connect", "5000", "--coalesce", "1000000"],
        &["duplex", "--connect", "5000", "--nodelay", "maybe"],
    ] {
        netchat_cmd()
            .args(args)
            .assert()
            .code(2)
            .stderr(predicates::str::starts_with("netchat: error:"));
    }
}

#[test]
fn a_peer_that_sends_bytes_without_a_newline_gets_the_unframed_hint_once() {
    for mode in ["half", "duplex"] {
        let (mut netchat, addr) = Netchat::listen("listener", mode, &[]);
        let mut peer = common::raw_connect(addr);
        netchat.expect_stderr("connected");
        peer.send(b"hello");
        let hint = netchat.expect_stderr("without a newline");
        assert!(hint.contains("--framing raw"), "{hint}");
        // More bytes without a newline: no second hint (once per connection).
        peer.send(b" again");
        peer.send(b" and again\n");
        assert_eq!(netchat.next_stdout(), "hello again and again");
        netchat.close_stdin();
        if mode == "half" {
            // Our turn came, and input ended: half says q.
            assert_eq!(peer.read_line(), "q");
        }
        peer.expect_eof();
        drop(peer);
        netchat.wait_exit();
        let hints = netchat.transcript().matches("without a newline").count();
        assert_eq!(hints, 1, "{mode}: {}", netchat.transcript());
    }
}

#[test]
fn a_line_framed_peer_never_gets_the_unframed_hint() {
    let (mut netchat, addr) = Netchat::listen("listener", "duplex", &["--trace"]);
    let mut peer = common::raw_connect(addr);
    peer.send(b"a whole line\n");
    assert_eq!(netchat.next_stdout(), "a whole line");
    // Then half a line and a pause: a peer that framed its first line frames, so no hint.
    peer.send(b"half");
    netchat.expect_stderr("blocked in read()");
    peer.send(b" a line\n");
    assert_eq!(netchat.next_stdout(), "half a line");
    assert!(!netchat.transcript().contains("without a newline"));
}

#[test]
fn trace_names_the_call_and_thread_a_program_is_blocked_in_after_a_second() {
    // half's one thread waits in read(); duplex's socket thread does (its main thread selects).
    for (mode, thread) in [("half", "main"), ("duplex", "socket-reader")] {
        let (mut netchat, addr) = Netchat::listen("listener", mode, &["--trace"]);
        let _peer = common::raw_connect(addr);
        netchat.expect_stderr("accepted");
        // The peer says nothing, and the trace says where the program waits for it.
        let blocked = netchat.expect_stderr("blocked in");
        assert!(blocked.starts_with("netchat: trace"), "{blocked}");
        assert!(
            blocked.contains("blocked in read() on the socket (waiting for the peer) for "),
            "{blocked}"
        );
        assert!(
            blocked.ends_with(&format!(" s (thread {thread})")),
            "{mode}: how long, and which thread: {blocked}"
        );
    }
}
