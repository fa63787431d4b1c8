//! What every netchat benchmark shares: the command line, spawning the real binary, reading the
//! address it listens on, the server's CPU time and peak memory from `/proc`, and the report.
//!
//! Benchmarks never run during `cargo test` (they are `[[bench]]` targets with `harness = false`),
//! and nothing here asserts a speed: a bench prints what it measured, one summary line per
//! scenario, or one JSON object per line with `--json`.
//!
//! ```text
//! cargo bench                          # every scenario of every bench
//! cargo bench --bench room -- rate     # scenarios whose name contains "rate"
//! cargo bench -- --json                # machine-readable, one object per scenario
//! ```
#![allow(dead_code)] // each bench uses a different part

pub mod floor;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Path of the netchat binary: the one cargo built for this bench (cargo sets
/// `CARGO_BIN_EXE_netchat` for benches and integration tests alike), or `NETCHAT_BENCH_BIN` to
/// measure another build (an older commit, for a before/after comparison).
pub fn netchat_bin() -> String {
    std::env::var("NETCHAT_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_netchat").to_string())
}

/// The bench's command line: `--json`, `--engine NAME` (repeatable; the room bench's servers),
/// `--reps N` (how many times a bench that repeats its transfers does so), `--readers
/// loop|threads` (how the room bench's generator reads), and scenario names
/// to run (all when none is given). cargo adds `--bench` (and libtest options
/// a user may type out of habit): those are ignored.
pub struct Args {
    pub json: bool,
    pub engines: Vec<String>,
    /// `--readers threads|loop`: how the room bench's generator reads (room.rs `Readers`).
    pub readers: Option<String>,
    pub reps: Option<usize>,
    filters: Vec<String>,
}

impl Args {
    pub fn parse() -> Args {
        let mut json = false;
        let mut engines = Vec::new();
        let mut readers = None;
        let mut reps = None;
        let mut filters = Vec::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if arg == "--json" {
                json = true;
            } else if arg == "--engine" {
                engines.extend(args.next());
            } else if let Some(engine) = arg.strip_prefix("--engine=") {
                engines.push(engine.to_string());
            } else if arg == "--readers" {
                readers = args.next();
            } else if let Some(how) = arg.strip_prefix("--readers=") {
                readers = Some(how.to_string());
            } else if arg == "--reps" {
                reps = args.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0);
            } else if !arg.starts_with('-') {
                filters.push(arg);
            }
        }
        Args {
            json,
            engines,
            readers,
            reps,
            filters,
        }
    }

    /// Whether the scenario `name` (e.g. `room/rate`) was selected.
    pub fn wants(&self, name: &str) -> bool {
        self.filters.is_empty() || self.named(name)
    }

    /// Whether the scenario `name` was selected by name: for the long ones that an unfiltered
    /// `cargo bench` leaves out (the room's sweep).
    pub fn named(&self, name: &str) -> bool {
        self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

/// Whether `program` is an executable file in one of the `PATH` directories (what `which` says).
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// One figure of a scenario's result.
pub enum Value {
    Int(u64),
    Float(f64, usize),
    Text(String),
}

/// One scenario's result: printed as a single line of `name=value` pairs, or as one JSON object.
pub struct Report {
    scenario: String,
    figures: Vec<(String, Value)>,
}

impl Report {
    pub fn new(scenario: &str) -> Report {
        Report {
            scenario: scenario.to_string(),
            figures: Vec::new(),
        }
    }

    pub fn int(&mut self, name: &str, value: u64) -> &mut Report {
        self.figures.push((name.to_string(), Value::Int(value)));
        self
    }

    /// A float shown with `decimals` decimals.
    pub fn float(&mut self, name: &str, value: f64, decimals: usize) -> &mut Report {
        self.figures
            .push((name.to_string(), Value::Float(value, decimals)));
        self
    }

    pub fn text(&mut self, name: &str, value: &str) -> &mut Report {
        self.figures
            .push((name.to_string(), Value::Text(value.to_string())));
        self
    }

    pub fn print(&self, json: bool) {
        if json {
            let mut line = format!("{{\"scenario\":\"{}\"", self.scenario);
            for (name, value) in &self.figures {
                let value = match value {
                    Value::Int(v) => v.to_string(),
                    Value::Float(v, _) if v.is_finite() => format!("{v}"),
                    Value::Float(..) => "null".to_string(),
                    Value::Text(t) => format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "'")),
                };
                line.push_str(&format!(",\"{name}\":{value}"));
            }
            line.push('}');
            println!("{line}");
        } else {
            let mut line = format!("{:<22}", self.scenario);
            for (name, value) in &self.figures {
                let value = match value {
                    Value::Int(v) => v.to_string(),
                    Value::Float(v, decimals) => format!("{v:.decimals$}"),
                    Value::Text(t) => t.clone(),
                };
                line.push_str(&format!(" {name}={value}"));
            }
            println!("{line}");
        }
    }
}

/// A child process that is killed (by its own PID) and reaped when dropped, so a failing bench
/// never leaves a server behind.
pub struct Guard(pub Child);

impl Guard {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Waits up to `limit` for the process to exit; true if it did.
    pub fn wait_exit(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return true;
            }
            thread::sleep(Duration::from_millis(2));
        }
        false
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Spawns `netchat MODE --listen 127.0.0.1:0 EXTRA…` with the given stdio and waits (up to 10 s)
/// for its `listening on ADDR` line. The rest of its stderr is drained on a thread, so the
/// server never blocks on a full pipe; the returned receiver yields those lines, starting with
/// any it printed before `listening on` (a notice about its limits). `Err` holds what netchat
/// said instead (e.g. a mode this build does not have).
pub fn spawn_listener(
    mode: &str,
    extra: &[&str],
    stdin: Stdio,
    stdout: Stdio,
) -> Result<(Guard, SocketAddr, crossbeam_channel::Receiver<String>), String> {
    let mut command = in_own_session(&netchat_bin());
    command
        .arg(mode)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .stdin(stdin)
        .stdout(stdout);
    spawn_command(command)
}

/// Spawns `command` (with its stderr piped) and waits (up to 10 s) for its `listening on ADDR`
/// line, as [`spawn_listener`] does: for a server that is not netchat (the room bench's floor).
pub fn spawn_command(
    mut command: Command,
) -> Result<(Guard, SocketAddr, crossbeam_channel::Receiver<String>), String> {
    command.stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    let stderr = child.stderr.take().expect("piped stderr");
    let guard = Guard(child);
    let (addr, lines) = read_listening_addr(stderr)?;
    Ok((guard, addr, lines))
}

/// A command that runs `program` in a session of its own (`setsid`, where it exists), as a
/// teacher's terminal starts a server. On Linux, the scheduler's autogroups then give the server
/// a fair share of the CPU against the load generator (its own session) instead of one thread's
/// share among the generator's hundreds: the figures are what a server on a shared machine gets.
/// `setsid` execs the program in place, so the child's PID is the program's.
pub fn in_own_session(program: &str) -> Command {
    if Path::new("/usr/bin/setsid").exists() || Path::new("/bin/setsid").exists() {
        let mut command = Command::new("setsid");
        command.arg(program);
        command
    } else {
        Command::new(program)
    }
}

type Listening = (SocketAddr, crossbeam_channel::Receiver<String>);

fn read_listening_addr(stderr: ChildStderr) -> Result<Listening, String> {
    let (sender, receiver) = crossbeam_channel::unbounded();
    let (early, early_lines) = crossbeam_channel::unbounded::<String>();
    thread::Builder::new()
        .name("bench-stderr".into())
        .spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        })
        .expect("start the stderr thread");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut said = Vec::new();
    loop {
        let Ok(line) = receiver.recv_deadline(deadline) else {
            return Err(said.join(" / "));
        };
        if let Some(rest) = line.split("listening on ").nth(1) {
            let addr = rest.split_whitespace().next().unwrap_or_default();
            let addr = addr
                .parse()
                .map_err(|_| format!("no address in {line:?}"))?;
            // The lines before it come first, then the rest as they arrive.
            for line in said {
                let _ = early.send(line);
            }
            thread::Builder::new()
                .name("bench-stderr-relay".into())
                .spawn(move || {
                    for line in receiver {
                        if early.send(line).is_err() {
                            return;
                        }
                    }
                })
                .map_err(|e| e.to_string())?;
            return Ok((addr, early_lines));
        }
        said.push(line);
    }
}

/// CPU seconds (user + system) a process has used so far, from `/proc/PID/stat`; `None` where
/// there is no `/proc` (macOS, Windows).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name, in clock ticks.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux architecture netchat runs on (std cannot ask sysconf).
    Some((utime + stime) / 100.0)
}

/// CPU seconds this bench process itself has used (the load generator's own cost).
pub fn own_cpu_seconds() -> Option<f64> {
    cpu_seconds(std::process::id())
}

/// A line of `/proc/PID/status` in KiB: `VmHWM` (peak resident memory), `VmRSS`, `Threads`...
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Voluntary + involuntary context switches of a process so far, summed over all its threads
/// (`/proc/PID/status` counts only the main thread; each thread has its own under `task/`).
pub fn context_switches(pid: u32) -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue; // the thread ended meanwhile
        };
        for line in status.lines() {
            if line.starts_with("voluntary_ctxt_switches:")
                || line.starts_with("nonvoluntary_ctxt_switches:")
            {
                total += line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    Some(total)
}

/// Reads everything from `reader` on a thread; returns (bytes, lines, when EOF came).
pub fn count_on_thread(
    reader: impl Read + Send + 'static,
) -> thread::JoinHandle<(u64, u64, Instant)> {
    thread::Builder::new()
        .name("bench-counter".into())
        .spawn(move || {
            let mut reader = reader;
            let mut buffer = vec![0u8; 1 << 16];
            let (mut bytes, mut lines) = (0u64, 0u64);
            loop {
                match reader.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        bytes += n as u64;
                        lines += buffer[..n].iter().filter(|&&b| b == b'\n').count() as u64;
                    }
                }
            }
            (bytes, lines, Instant::now())
        })
        .expect("start a counter thread")
}

/// A short description of the machine for the report: CPU model, core count and, where there is
/// a `/proc`, the kernel's release.
pub fn machine() -> String {
    let cores = thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    match std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        Ok(release) => format!("{model}, {cores} cores, Linux {}", release.trim()),
        Err(_) => format!("{model}, {cores} cores"),
    }
}

/// The machine's load averages over 1, 5 and 15 minutes (`/proc/loadavg`, what `uptime` shows):
/// how busy the machine was around a run, for figures from a shared machine.
pub fn load_average() -> Option<String> {
    let loadavg = std::fs::read_to_string("/proc/loadavg").ok()?;
    let three: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    (three.len() == 3).then(|| three.join(" "))
}

/// A counter of the whole machine's TCP stack (`TcpExt:` in `/proc/net/netstat`), `None` where
/// there is no `/proc`. The room's idle scenario reads two: `ListenOverflows` (handshakes dropped
/// because a listener's accept queue, its backlog, was full: each costs its client a SYN sent
/// again a second later, or leaves it connected to nobody) and `SyncookiesSent` (handshakes
/// answered without keeping any state, because the queue of half-open ones was full).
pub fn tcp_counter(name: &str) -> Option<u64> {
    let netstat = std::fs::read_to_string("/proc/net/netstat").ok()?;
    // Pairs of lines: `TcpExt: Name1 Name2 …` then `TcpExt: value1 value2 …`.
    let mut lines = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let names = lines.next()?;
    let values = lines.next()?;
    let column = names.split_whitespace().position(|n| n == name)?;
    values.split_whitespace().nth(column)?.parse().ok()
}
