//! `--help` tells a student what each mode is for, with real examples.

use crate::common;

use common::netchat_cmd;
use predicates::prelude::*;
use predicates::str::contains;

#[test]
fn top_level_help_lists_the_modes_examples_and_exit_codes() {
    netchat_cmd()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(contains("half"))
        .stdout(contains("duplex"))
        .stdout(contains("room"))
        .stdout(contains("netchat half --listen 5000"))
        .stdout(contains("netchat half --connect 5000"))
        .stdout(contains("Exit codes: 0"));
}

#[test]
fn each_mode_has_a_purpose_and_examples_in_its_help() {
    let cases = [
        ("half", "strict turns", "netchat half --connect 5000"),
        ("duplex", "both sides type", "netchat duplex --connect 5000"),
        ("room", "chat room", "netchat room --listen 5000"),
    ];
    for (mode, purpose, example) in cases {
        netchat_cmd()
            .args([mode, "--help"])
            .assert()
            .code(0)
            .stdout(contains(purpose))
            .stdout(contains(example))
            .stdout(contains("--listen <[ADDR:]PORT>"))
            .stdout(contains("--connect <[HOST:]PORT>"))
            .stdout(contains("--color <WHEN>"))
            .stdout(contains("--max-line <BYTES>"));
    }
}

#[test]
fn version_prints_the_crate_version() {
    netchat_cmd()
        .arg("--version")
        .assert()
        .code(0)
        .stdout(contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn bare_netchat_shows_the_help_not_an_error_and_exits_2() {
    netchat_cmd()
        .assert()
        .code(2)
        .stderr(contains("Usage: netchat <COMMAND>"))
        .stderr(contains("netchat: error").not());
}

#[test]
fn every_line_of_a_usage_error_is_marked_as_netchat_s() {
    let output = netchat_cmd()
        .args(["half", "--connect", "99999"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.is_empty());
    for line in stderr.lines() {
        assert!(
            line.starts_with("netchat: "),
            "unmarked line {line:?} in:\n{stderr}"
        );
    }
}

#[test]
fn lesson_without_a_name_lists_the_labs_in_order() {
    let output = netchat_cmd().arg("lesson").assert().code(0);
    let text = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    let names: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(names, ["half", "duplex", "room", "poll"], "{text}");
    assert!(text.contains("half    Lab 1 — Half-duplex"), "{text}");
}

#[test]
fn a_lesson_is_printed_whole_and_plain_when_not_on_a_terminal() {
    // Whole, but for the lines that mark checked transcripts for the tests (tests/it/transcripts.rs).
    let lesson: String = include_str!("../../lessons/duplex.md")
        .lines()
        .filter(|line| !line.trim().starts_with("<!-- transcript:"))
        .flat_map(|line| [line, "\n"])
        .collect();
    netchat_cmd()
        .args(["lesson", "duplex"])
        .env("PAGER", "sed s/^/paged:/")
        .assert()
        .code(0)
        .stdout(lesson);
}

#[test]
fn an_unknown_lesson_is_a_usage_error_that_lists_the_names() {
    netchat_cmd()
        .args(["lesson", "sockets"])
        .assert()
        .code(2)
        .stderr(contains(
            "netchat: error: there is no lesson called 'sockets'",
        ))
        .stderr(contains("the lessons are half, duplex, room"));
}

#[test]
fn a_bare_port_says_to_add_listen_or_connect() {
    netchat_cmd()
        .args(["half", "5417"])
        .assert()
        .code(2)
        .stderr(contains("netchat: error: unexpected argument '5417'"))
        .stderr(contains(
            "netchat: hint: a port needs --listen or --connect in front of it: \
             `netchat half --listen 5417` waits for a peer, \
             `netchat half --connect 5417` connects to one",
        ));
}
