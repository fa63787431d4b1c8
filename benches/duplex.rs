//! `cargo bench --bench duplex`: bulk throughput of `netchat duplex`, against `nc` on the same file.
//!
//! 100 MB of lines are piped into a connecting `netchat duplex`; a listening one prints them on
//! its stdout, which this bench counts. The clock runs from starting the sender until the
//! receiver's stdout closes. The same file then goes through OpenBSD `nc` (`nc -N` sends, `nc -l`
//! prints) in the same run, when `nc` is installed; otherwise that comparison is skipped with a
//! note. Both receivers run in a session of their own (`setsid`), both senders in the bench's.
//!
//! Two scenarios (`cargo bench --bench duplex -- 40b` runs one): `duplex/bulk-40b` with 40-byte
//! lines (the cost per *line*: every line is framed, bounded, checked for `bye` and for what a
//! terminal must not see) and `duplex/bulk-1k` with 1 KiB lines (the cost per *byte*), while nc
//! only moves 16 KiB blocks of bytes.
//!
//! One transfer takes a fifth of a second, so one pair of figures says more about what else the
//! scheduler was doing at that moment than about netchat. Each scenario therefore runs
//! [`REPETITIONS`] pairs (`--reps N` for another number), netchat and nc alternating (every
//! other pair starts with nc, so neither always runs first), and reports the median of each
//! side, the median of the pairs' ratios and their range (`ratio_min`, `ratio_max`), and in how
//! many pairs netchat met the target (`met`). nc is measured exactly as netchat is, in the same
//! pairs.
//!
//! The machine may be shared: run it several times and report the range, not one figure.

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

/// The scenarios: name, bytes per line (newline included), and the target ratio to nc.
const SCENARIOS: [(&str, u64, f64); 2] =
    [("duplex/bulk-40b", 40, 0.8), ("duplex/bulk-1k", 1024, 1.0)];

/// Pairs of transfers (netchat, nc) per scenario, unless `--reps N` says otherwise.
const REPETITIONS: usize = 7;

fn main() {
    let args = Args::parse();
    let reps = args.reps.unwrap_or(REPETITIONS);
    for (name, line_bytes, target) in SCENARIOS {
        if args.wants(name) {
            scenario(&args, name, line_bytes, target, reps);
        }
    }
}

fn scenario(args: &Args, name: &str, line_bytes: u64, target: f64, reps: usize) {
    let input = input_file(line_bytes);
    let (mut netchat, mut nc) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        // Every other pair starts with nc: what runs first may find the caches cold, or the
        // machine busier.
        if rep % 2 == 1 {
            nc.extend(run_nc(&input, line_bytes));
        }
        netchat.push(run_netchat(&input, line_bytes));
        if rep % 2 == 0 {
            nc.extend(run_nc(&input, line_bytes));
        }
    }
    let mut report = Report::new(name);
    report
        .int("mb", TOTAL_BYTES / 1_000_000)
        .int("line_bytes", line_bytes)
        .int("reps", reps as u64)
        .float(
            "netchat_mb_per_s",
            median(netchat.iter().map(Run::mb_per_s)),
            1,
        )
        .float(
            "netchat_s",
            median(netchat.iter().map(|run| run.seconds)),
            3,
        )
        .float(
            "sender_cpu_s",
            median(netchat.iter().map(|r| r.sender_cpu)),
            2,
        )
        .float(
            "receiver_cpu_s",
            median(netchat.iter().map(|r| r.receiver_cpu)),
            2,
        )
        .int(
            "lost_lines",
            netchat.iter().map(Run::lost_lines).max().unwrap_or(0),
        );
    if nc.len() == netchat.len() {
        let ratios: Vec<f64> = netchat
            .iter()
            .zip(&nc)
            .map(|(ours, theirs)| ours.mb_per_s() / theirs.mb_per_s())
            .collect();
        let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let high = ratios.iter().copied().fold(0.0, f64::max);
        let met = ratios.iter().filter(|&&ratio| ratio >= target).count();
        report
            .float("nc_mb_per_s", median(nc.iter().map(Run::mb_per_s)), 1)
            .float("ratio", median(ratios.iter().copied()), 2)
            .float("ratio_min", low, 2)
            .float("ratio_max", high, 2)
            .text("met", &format!("{met}/{}", ratios.len()))
            .float(
                "nc_sender_cpu_s",
                median(nc.iter().map(|r| r.sender_cpu)),
                2,
            )
            .float(
                "nc_receiver_cpu_s",
                median(nc.iter().map(|r| r.receiver_cpu)),
                2,
            )
            .int(
                "nc_lost_lines",
                nc.iter().map(Run::lost_lines).max().unwrap_or(0),
            );
    } else {
        report.text("nc", "not-installed(skipped)");
    }
    report
        .text("target", &format!("ratio>={target}"))
        .print(args.json);
}

/// The median of some figures (the mean of the middle two for an even count); NaN for none,
/// or when a figure is missing (CPU time where there is no /proc).
fn median(values: impl Iterator<Item = impl Into<Option<f64>>>) -> f64 {
    let values: Option<Vec<f64>> = values.map(Into::into).collect();
    let Some(mut values) = values.filter(|v| !v.is_empty()) else {
        return f64::NAN;
    };
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

struct Run {
    seconds: f64,
    lines: u64,
    line_bytes: u64,
    sender_cpu: Option<f64>,
    receiver_cpu: Option<f64>,
}

impl Run {
    fn mb_per_s(&self) -> f64 {
        self.lines as f64 * self.line_bytes as f64 / 1e6 / self.seconds
    }

    fn lost_lines(&self) -> u64 {
        (TOTAL_BYTES / self.line_bytes).saturating_sub(self.lines)
    }
}

/// The input, made once and kept in cargo's temporary directory for later runs: as many lines
/// of `line_bytes` (newline included) as fit in 100 MB, each a line number and filler text,
/// like a log file.
fn input_file(line_bytes: u64) -> PathBuf {
    let lines = TOTAL_BYTES / line_bytes;
    let name = format!("duplex-100mb-{line_bytes}b-lines.txt");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == lines * line_bytes) {
        return path;
    }
    let filler: String = "the quick brown fox jumps over the lazy dog "
        .chars()
        .cycle()
        .take(line_bytes as usize)
        .collect();
    let mut file = std::io::BufWriter::new(File::create(&path).expect("create the input file"));
    for i in 0..lines {
        let number = format!("line {i:>10} ");
        let text = &filler[..line_bytes as usize - 1 - number.len()];
        writeln!(file, "{number}{text}").expect("write the input");
    }
    file.flush().expect("write the input");
    path
}

fn run_netchat(input: &Path, line_bytes: u64) -> Run {
    let (mut receiver, addr, _stderr) =
        support::spawn_listener("duplex", &[], Stdio::null(), Stdio::piped())
            .expect("netchat listens");
    let out = support::count_on_thread(receiver.0.stdout.take().expect("stdout"));
    let started = Instant::now();
    let sender = Guard(
        Command::new(support::netchat_bin())
            .args(["duplex", "--connect", &addr.to_string()])
            .stdin(File::open(input).expect("open the input"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the sender"),
    );
    finish(sender, receiver, out, started, line_bytes).expect("count the output")
}

/// Waits for the receiver's stdout to close, sampling both processes' CPU time until they exit
/// (the last sample before exit is the total), then lets them end.
fn finish(
    mut sender: Guard,
    mut receiver: Guard,
    out: thread::JoinHandle<(u64, u64, Instant)>,
    started: Instant,
    line_bytes: u64,
) -> Option<Run> {
    let (mut sender_cpu, mut receiver_cpu) = (None, None);
    while !out.is_finished() {
        sender_cpu = support::cpu_seconds(sender.pid()).or(sender_cpu);
        receiver_cpu = support::cpu_seconds(receiver.pid()).or(receiver_cpu);
        thread::sleep(Duration::from_millis(20));
    }
    let (_, lines, ended) = out.join().ok()?;
    receiver_cpu = support::cpu_seconds(receiver.pid()).or(receiver_cpu);
    sender_cpu = support::cpu_seconds(sender.pid()).or(sender_cpu);
    sender.wait_exit(Duration::from_secs(5));
    receiver.wait_exit(Duration::from_secs(5));
    Some(Run {
        seconds: (ended - started).as_secs_f64(),
        lines,
        line_bytes,
        sender_cpu,
        receiver_cpu,
    })
}

/// The same transfer with OpenBSD nc, or `None` when there is no `nc`.
fn run_nc(input: &Path, line_bytes: u64) -> Option<Run> {
    let port = free_port();
    // In its own session, like netchat's receiver (support::spawn_listener): on a shared
    // machine both listeners then get the same share of the CPU.
    let mut receiver = Guard(
        support::in_own_session("nc")
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
    let sender = Guard(
        Command::new("nc")
            .args(["-N", "127.0.0.1", &port.to_string()])
            .stdin(File::open(input).ok()?)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?,
    );
    finish(sender, receiver, out, started, line_bytes)
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
