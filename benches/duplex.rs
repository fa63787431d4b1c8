//! `cargo bench --bench duplex`: bulk throughput of `netchat duplex`, against `nc` on the same file.
//!
//! 100 MB of 40-byte lines are piped into a connecting `netchat duplex`; a listening one prints
//! them on its stdout, which this bench counts. The clock runs from starting the sender until the
//! receiver's stdout closes. The same file then goes through OpenBSD `nc` (`nc -N` sends, `nc -l`
//! prints), when `nc` is installed; otherwise that comparison is skipped with a note.
//!
//! What this measures is the cost per *line*: every line is framed, handed between threads,
//! escaped for the terminal and written, while nc only moves 16 KiB blocks of bytes.

mod support;

use std::fs::File;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use support::{Args, Guard, Report};

/// 100 MB of input.
const TOTAL_BYTES: u64 = 100_000_000;
/// 39 characters and a newline.
const LINE_BYTES: u64 = 40;

fn main() {
    let args = Args::parse();
    if !args.wants("duplex/bulk") {
        return;
    }
    let input = input_file();
    let netchat = run_netchat(&input);
    let nc = run_nc(&input);
    let mut report = Report::new("duplex/bulk");
    report
        .int("mb", TOTAL_BYTES / 1_000_000)
        .int("line_bytes", LINE_BYTES)
        .float("netchat_mb_per_s", netchat.mb_per_s(), 1)
        .float("netchat_s", netchat.seconds, 3)
        .float("sender_cpu_s", netchat.sender_cpu.unwrap_or(f64::NAN), 2)
        .float(
            "receiver_cpu_s",
            netchat.receiver_cpu.unwrap_or(f64::NAN),
            2,
        )
        .int("lost_lines", netchat.lost_lines());
    match nc {
        Some(nc) => {
            report
                .float("nc_mb_per_s", nc.mb_per_s(), 1)
                .float("ratio", netchat.mb_per_s() / nc.mb_per_s(), 2)
                .int("nc_lost_lines", nc.lost_lines());
        }
        None => {
            report.text("nc", "not-installed(skipped)");
        }
    }
    report.text("target", "ratio>=0.8").print(args.json);
}

struct Run {
    seconds: f64,
    lines: u64,
    sender_cpu: Option<f64>,
    receiver_cpu: Option<f64>,
}

impl Run {
    fn mb_per_s(&self) -> f64 {
        self.lines as f64 * LINE_BYTES as f64 / 1e6 / self.seconds
    }

    fn lost_lines(&self) -> u64 {
        (TOTAL_BYTES / LINE_BYTES).saturating_sub(self.lines)
    }
}

/// The input, made once and kept in cargo's temporary directory for later runs.
fn input_file() -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("duplex-100mb-40b-lines.txt");
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == TOTAL_BYTES) {
        return path;
    }
    let mut file = std::io::BufWriter::new(File::create(&path).expect("create the input file"));
    for i in 0..TOTAL_BYTES / LINE_BYTES {
        // 39 bytes of text: a line number and filler, like a log file.
        writeln!(file, "line {i:>10} the quick brown fox jum").expect("write the input");
    }
    file.flush().expect("write the input");
    path
}

fn run_netchat(input: &Path) -> Run {
    let (mut receiver, addr, _stderr) =
        support::spawn_listener("duplex", &[], Stdio::null(), Stdio::piped())
            .expect("netchat listens");
    let out = support::count_on_thread(receiver.0.stdout.take().expect("stdout"));
    let started = Instant::now();
    let mut sender = Guard(
        Command::new(support::netchat_bin())
            .args(["duplex", "--connect", &addr.to_string()])
            .stdin(File::open(input).expect("open the input"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the sender"),
    );
    // Sample CPU time just before each process exits: poll until stdout closes.
    let (mut sender_cpu, mut receiver_cpu) = (None, None);
    while !out.is_finished() {
        sender_cpu = support::cpu_seconds(sender.pid()).or(sender_cpu);
        receiver_cpu = support::cpu_seconds(receiver.pid()).or(receiver_cpu);
        thread::sleep(Duration::from_millis(20));
    }
    let (_, lines, ended) = out.join().expect("count the output");
    receiver_cpu = support::cpu_seconds(receiver.pid()).or(receiver_cpu);
    sender_cpu = support::cpu_seconds(sender.pid()).or(sender_cpu);
    sender.wait_exit(Duration::from_secs(5));
    receiver.wait_exit(Duration::from_secs(5));
    Run {
        seconds: (ended - started).as_secs_f64(),
        lines,
        sender_cpu,
        receiver_cpu,
    }
}

/// The same transfer with OpenBSD nc, or `None` when there is no `nc`.
fn run_nc(input: &Path) -> Option<Run> {
    let port = free_port();
    let mut receiver = Guard(
        Command::new("nc")
            .args(["-l", "127.0.0.1", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?,
    );
    if !wait_until_listening(port) {
        eprintln!("duplex bench: nc -l did not start listening; skipping the comparison");
        return None;
    }
    let out = support::count_on_thread(receiver.0.stdout.take()?);
    let started = Instant::now();
    let mut sender = Guard(
        Command::new("nc")
            .args(["-N", "127.0.0.1", &port.to_string()])
            .stdin(File::open(input).ok()?)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?,
    );
    let (_, lines, ended) = out.join().ok()?;
    sender.wait_exit(Duration::from_secs(5));
    receiver.wait_exit(Duration::from_secs(5));
    Some(Run {
        seconds: (ended - started).as_secs_f64(),
        lines,
        sender_cpu: None,
        receiver_cpu: None,
    })
}

/// A port that was free a moment ago (nc needs a number; it cannot report what port 0 chose).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a probe socket");
    listener.local_addr().expect("probe address").port()
}

/// Waits until something listens on 127.0.0.1:PORT, without connecting (nc -l would take a
/// probing connection as its one peer): Linux lists listening sockets in /proc/net/tcp (state
/// 0A). Elsewhere, just give nc a moment.
fn wait_until_listening(port: u16) -> bool {
    let needle = format!("0100007F:{port:04X} 00000000:0000 0A");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match std::fs::read_to_string("/proc/net/tcp") {
            Ok(table) if table.contains(&needle) => return true,
            Ok(_) => thread::sleep(Duration::from_millis(5)),
            Err(_) => {
                thread::sleep(Duration::from_millis(300));
                return true;
            }
        }
    }
    false
}
