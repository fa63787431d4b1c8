//! The errors a student meets first: each gets one clear line, a hint, and its exit code.
//! Exit codes: 0 normal end, 1 network or runtime error, 2 usage error.
//!
//! Each row is one function, run for every mode (`half`, `duplex`, `room`): the endpoint is
//! shared (endpoint.rs, cli.rs), so every mode must say the same thing.

use crate::common;

use std::net::{TcpListener, ToSocketAddrs};

use common::{Netchat, netchat_cmd, parse_listening_addr, raw_connect};
use predicates::prelude::*;
use predicates::str::contains;

/// A port on 127.0.0.1 that nothing listens on: bound by the OS, then released.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Every mode, for the rows that apply to all of them.
const MODES: [&str; 3] = ["half", "duplex", "room"];

fn listening_on_a_taken_port_says_so_and_exits_1(mode: &str) {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    netchat_cmd()
        .args([mode, "--listen", &addr])
        .assert()
        .code(1)
        .stderr(contains(format!(
            "netchat: error: cannot listen on {addr}: the port is taken"
        )))
        .stderr(contains(
            "netchat: hint: another program is already listening",
        ))
        // Port 0 got a port from the range the OS also lends to outgoing connections.
        .stderr(contains("pick a port below 32768, e.g. --listen 5000"))
        .stderr(contains("panicked").not());
}

fn connecting_where_nothing_listens_is_refused_with_a_hint_and_exit_1(mode: &str) {
    let target = format!("127.0.0.1:{}", closed_port());
    netchat_cmd()
        .args([mode, "--connect", &target])
        .assert()
        .code(1)
        .stderr(contains(format!(
            "netchat: error: cannot connect to {target}: connection refused"
        )))
        .stderr(contains("netchat: hint:"))
        // A room client is told about rooms; half and duplex about the listening side.
        .stderr(contains(if mode == "room" {
            "no room is listening on"
        } else {
            "start the listening side first"
        }))
        .stderr(contains("panicked").not());
}

fn an_unknown_host_says_so_and_exits_1(mode: &str) {
    netchat_cmd()
        .args([mode, "--connect", "no-such-host.invalid:5000"])
        .assert()
        .code(1)
        .stderr(contains(
            "netchat: error: unknown host 'no-such-host.invalid'",
        ))
        .stderr(contains("netchat: hint:"))
        .stderr(contains("panicked").not());
}

fn an_invalid_port_or_address_is_a_usage_error_with_exit_2(mode: &str) {
    for option in ["--connect", "--listen"] {
        for bad in [
            "99999",
            "abc",
            "localhost:port",
            "-1",
            "",
            "1.2.3.4:",
            ":::",
        ] {
            netchat_cmd()
                .args([mode, option, bad])
                .assert()
                .code(2)
                .stderr(contains("netchat: error:"))
                .stderr(contains("panicked").not());
        }
    }
    netchat_cmd()
        .args([mode, "--connect", "70000"])
        .assert()
        .code(2)
        .stderr(contains(
            "'70000' is not a port: use a number from 1 to 65535",
        ));
    // An unbracketed IPv6 address is explained.
    netchat_cmd()
        .args([mode, "--connect", "::1:5000"])
        .assert()
        .code(2)
        .stderr(contains("[::1]:5000"));
    // Port 0 is for listening.
    netchat_cmd()
        .args([mode, "--connect", "0"])
        .assert()
        .code(2)
        .stderr(contains("only works with --listen"));
}

fn listen_and_connect_together_or_neither_are_usage_errors(mode: &str) {
    netchat_cmd()
        .args([mode, "--listen", "0", "--connect", "5000"])
        .assert()
        .code(2)
        .stderr(contains("cannot be used with"));
    netchat_cmd()
        .args([mode])
        .assert()
        .code(2)
        .stderr(contains("--listen"));
}

#[test]
fn every_mode_listening_on_a_taken_port_says_so_and_exits_1() {
    MODES
        .into_iter()
        .for_each(listening_on_a_taken_port_says_so_and_exits_1);
}

#[test]
fn every_mode_connecting_where_nothing_listens_is_refused_with_a_hint_and_exit_1() {
    MODES
        .into_iter()
        .for_each(connecting_where_nothing_listens_is_refused_with_a_hint_and_exit_1);
}

#[test]
fn every_mode_an_unknown_host_says_so_and_exits_1() {
    MODES
        .into_iter()
        .for_each(an_unknown_host_says_so_and_exits_1);
}

#[test]
fn every_mode_an_invalid_port_or_address_is_a_usage_error_with_exit_2() {
    MODES
        .into_iter()
        .for_each(an_invalid_port_or_address_is_a_usage_error_with_exit_2);
}

#[test]
fn every_mode_listen_and_connect_together_or_neither_are_usage_errors() {
    MODES
        .into_iter()
        .for_each(listen_and_connect_together_or_neither_are_usage_errors);
}

#[test]
fn an_unknown_mode_is_a_usage_error() {
    netchat_cmd()
        .args(["walkie-talkie"])
        .assert()
        .code(2)
        .stderr(contains("netchat: error:"));
}

/// Whether this machine has IPv6 on its loopback (a container may not): the IPv6 half of the
/// dual-stack test needs it.
fn ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn a_bare_listen_port_is_reached_over_ipv4_and_ipv6_and_shows_ipv4_peers_plainly() {
    let mut server = Netchat::spawn("server", &["room", "--listen", "0"]);
    let line = server.expect_stderr("listening on ");
    let port = parse_listening_addr(&line)
        .unwrap_or_else(|| server.fail("no address"))
        .port();
    let mut targets = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")];
    if ipv6_loopback() {
        targets.push(format!("[::1]:{port}"));
    } else {
        common::skip_or_fail("no IPv6 loopback (::1): the IPv6 half of this test is left out");
    }
    for target in targets {
        let addr = target
            .to_socket_addrs()
            .expect("resolve")
            .next()
            .expect("an address");
        let mut peer = raw_connect(addr);
        peer.read_until("welcome");
    }
    // An IPv4 peer of the dual-stack socket is 127.0.0.1, not ::ffff:127.0.0.1.
    let joined = server.expect_stderr("joined");
    assert!(!joined.contains("::ffff:"), "{joined}");
}

#[test]
fn a_busy_two_person_listener_is_explained_to_the_third() {
    let (mut listener, addr) = Netchat::listen("listener", "half", &[]);
    let _first = raw_connect(addr);
    listener.expect_stderr("connected");
    netchat_cmd()
        .args(["half", "--connect", &addr.to_string()])
        .assert()
        .code(1)
        .stderr(contains("connection refused"))
        .stderr(contains(
            "takes one peer and then stops listening, so if it is already talking to someone",
        ));
}

#[test]
fn a_raw_framing_listener_suggests_a_raw_framing_connect() {
    for mode in ["half", "duplex"] {
        let args = [mode, "--listen", "127.0.0.1:0", "--framing", "raw"];
        let mut listener = Netchat::spawn(mode, &args);
        let line = listener.expect_stderr("listening on ");
        let port = parse_listening_addr(&line).map_or(0, |addr| addr.port());
        let suggestion =
            format!("(from another terminal: netchat {mode} --connect {port} --framing raw)");
        assert!(line.ends_with(&suggestion), "{line}");
    }
}

#[test]
fn nick_with_raw_framing_says_which_option_to_drop_for_which_server() {
    netchat_cmd()
        .args([
            "room",
            "--connect",
            "5000",
            "--nick",
            "ann",
            "--framing",
            "raw",
        ])
        .assert()
        .code(2)
        .stderr(contains(
            "to join a netchat room, drop --framing raw; to join a server that never frames",
        ));
}

#[test]
fn a_host_without_a_port_is_shown_the_host_port_form() {
    netchat_cmd()
        .args(["half", "--connect", "labpc-7"])
        .assert()
        .code(2)
        .stderr(contains(
            "'labpc-7' is not a port: give HOST:PORT, e.g. labpc-7:5000",
        ));
}
