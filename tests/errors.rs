//! The errors a student meets first: each gets one clear line, a hint, and its exit code.
//! Exit codes: 0 normal end, 1 network or runtime error, 2 usage error.

mod common;

use std::net::TcpListener;

use common::netchat_cmd;
use predicates::prelude::*;
use predicates::str::contains;

/// A port on 127.0.0.1 that nothing listens on: bound by the OS, then released.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn listening_on_a_taken_port_says_so_and_exits_1() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    netchat_cmd()
        .args(["half", "--listen", &addr])
        .assert()
        .code(1)
        .stderr(contains(format!(
            "netchat: error: cannot listen on {addr}: the port is taken"
        )))
        .stderr(contains(
            "netchat: hint: another program is already listening",
        ))
        .stderr(contains("panicked").not());
}

#[test]
fn connecting_where_nothing_listens_is_refused_with_a_hint_and_exit_1() {
    let target = format!("127.0.0.1:{}", closed_port());
    netchat_cmd()
        .args(["half", "--connect", &target])
        .assert()
        .code(1)
        .stderr(contains(format!(
            "cannot connect to {target}: connection refused"
        )))
        .stderr(contains("start the listening side first"));
}

#[test]
fn an_unknown_host_says_so_and_exits_1() {
    netchat_cmd()
        .args(["half", "--connect", "no-such-host.invalid:5000"])
        .assert()
        .code(1)
        .stderr(contains("unknown host 'no-such-host.invalid'"))
        .stderr(contains("hint:"));
}

#[test]
fn an_invalid_port_is_a_usage_error_with_exit_2() {
    for bad in ["99999", "abc", "localhost:port", "-1"] {
        netchat_cmd()
            .args(["half", "--connect", bad])
            .assert()
            .code(2)
            .stderr(contains("netchat: error:"))
            .stderr(contains("panicked").not());
    }
    netchat_cmd()
        .args(["half", "--connect", "70000"])
        .assert()
        .code(2)
        .stderr(contains(
            "'70000' is not a port: use a number from 1 to 65535",
        ));
}

#[test]
fn an_unbracketed_ipv6_address_is_explained() {
    netchat_cmd()
        .args(["half", "--connect", "::1:5000"])
        .assert()
        .code(2)
        .stderr(contains("[::1]:5000"));
}

#[test]
fn connecting_to_port_0_explains_that_it_is_for_listening() {
    netchat_cmd()
        .args(["half", "--connect", "0"])
        .assert()
        .code(2)
        .stderr(contains("only works with --listen"));
}

#[test]
fn listen_and_connect_together_or_neither_are_usage_errors() {
    netchat_cmd()
        .args(["half", "--listen", "0", "--connect", "5000"])
        .assert()
        .code(2)
        .stderr(contains("cannot be used with"));
    netchat_cmd()
        .args(["half"])
        .assert()
        .code(2)
        .stderr(contains("--listen"));
}

#[test]
fn an_unknown_mode_is_a_usage_error() {
    netchat_cmd()
        .args(["walkie-talkie"])
        .assert()
        .code(2)
        .stderr(contains("netchat: error:"));
}
