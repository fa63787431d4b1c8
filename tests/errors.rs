//! The errors a student meets first: each gets one clear line, a hint, and its exit code.
//! Exit codes: 0 normal end, 1 network or runtime error, 2 usage error.
//!
//! Each row is one function, run for every mode (`half`, `duplex`, `room`): the endpoint is
//! shared (endpoint.rs, cli.rs), so every mode must say the same thing.

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
        .stderr(contains("start the listening side first"))
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
