//! `--help` tells a student what each mode is for, with real examples.

mod common;

use common::netchat_cmd;
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
