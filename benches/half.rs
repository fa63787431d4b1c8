//! `cargo bench --bench half`: how many turns per second two `netchat half` processes take on
//! loopback when their input is piped in.
//!
//! A turn is one message crossing from the side whose turn it is to the other, which then takes
//! its own turn: the connector sends line 1, the listener prints it and answers with its line 1,
//! and so on. Each turn is one `write`, one segment over loopback (TCP_NODELAY), one wake-up of
//! the other process blocked in `read`, and one line on its stdout: the round-trip latency of
//! the whole stack, which is what half-duplex is bound by.

mod support;

use std::fs::File;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Args, Guard, Report};

/// Lines each side sends: 2 × TURNS_PER_SIDE messages cross in all, about a second or two.
const TURNS_PER_SIDE: usize = 25_000;

fn main() {
    let args = Args::parse();
    if args.wants("half/ping-pong") {
        ping_pong(&args);
    }
}

fn ping_pong(args: &Args) {
    let dir = std::env::temp_dir().join(format!("netchat-bench-half-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    let listener_input = dir.join("listener.txt");
    let connector_input = dir.join("connector.txt");
    write_lines(&listener_input, "pong");
    write_lines(&connector_input, "ping");

    let (mut listener, addr, _stderr) = support::spawn_listener(
        "half",
        &[],
        Stdio::from(File::open(&listener_input).expect("listener input")),
        Stdio::piped(),
    )
    .expect("netchat listens");
    let listener_out = support::count_on_thread(listener.0.stdout.take().expect("stdout"));
    let started = Instant::now();
    let mut connector = Guard(
        Command::new(support::netchat_bin())
            .args(["half", "--connect", &addr.to_string()])
            .stdin(File::open(&connector_input).expect("connector input"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the connector"),
    );
    let connector_out = support::count_on_thread(connector.0.stdout.take().expect("stdout"));
    let (_, got_by_listener, _) = listener_out.join().expect("listener output");
    let (_, got_by_connector, _) = connector_out.join().expect("connector output");
    let elapsed = started.elapsed().as_secs_f64();
    let exited =
        listener.wait_exit(Duration::from_secs(10)) && connector.wait_exit(Duration::from_secs(10));
    let turns = got_by_listener + got_by_connector;
    let expected = 2 * TURNS_PER_SIDE as u64;
    Report::new("half/ping-pong")
        .int("turns", turns)
        .float("seconds", elapsed, 3)
        .float("turns_per_s", turns as f64 / elapsed, 0)
        .float(
            "round_trip_us",
            2.0 * elapsed * 1e6 / turns.max(1) as f64,
            1,
        )
        .int("lost", expected.saturating_sub(turns))
        .text("both_exited", if exited { "yes" } else { "no" })
        .text("target", ">=20000 turns/s")
        .print(args.json);
    let _ = std::fs::remove_dir_all(&dir);
}

fn write_lines(path: &std::path::Path, word: &str) {
    let mut file = std::io::BufWriter::new(File::create(path).expect("create input"));
    for i in 0..TURNS_PER_SIDE {
        writeln!(file, "{word} {i}").expect("write input");
    }
    file.flush().expect("write input");
}
