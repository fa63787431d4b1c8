//! netchat's integration tests, in one test binary: each module was once a file of its own in
//! `tests/`, and each still runs the real binary through the one harness in `common/`.
//!
//! One binary instead of fourteen, as ripgrep and rust-analyzer do: cargo links the harness and
//! the dev-dependencies once, not once per file, and `cargo test` starts one process that runs
//! every test in parallel. A test's name is its module path: `cargo test room::` runs the room's
//! tests, `cargo test threads::` every room test on the threads engine.

mod common;

mod abuse;
mod class;
mod cli;
mod duplex;
mod errors;
mod experiments;
mod faults;
mod floors;
mod half;
mod lessons;
mod properties;
mod raw_framing;
mod room;
mod rows;
mod teacher;
mod terminal;
mod transcripts;
mod watch;
