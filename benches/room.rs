//! `cargo bench --bench room`: a real `netchat room` server under load from many clients.
//!
//! The load generator runs in this process. Every client is a real TCP connection. Each message
//! a client sends carries its sender, a sequence number and the time it was sent (nanoseconds on
//! this process's monotonic clock), so a receiving client can tell its latency, whether anything
//! was lost or reordered, and whether a line arrived intact (a line spliced from two messages
//! does not parse).
//!
//! Scenarios (select by name: `cargo bench --bench room -- burst`):
//!
//! - `room/burst`: 200 clients each write 200 messages at once; how fast the room fans out all
//!   7,960,000 deliveries, and the server's CPU time per delivery.
//! - `room/rate`: 100 clients × 10 msg/s for 10 s: the latency a class feels.
//! - `room/sat-R`: 100 clients × R msg/s (R = 20 … 320) for 3 s each: where the room saturates.
//! - `room/idle`: 19,000 clients join and say nothing: time to join, memory per connection, and
//!   handshakes the kernel dropped because the server's accept queue was full.
//! - `room/sweep-R`: latency against load. 100 clients × R msg/s for 2 s, R stepping from 10 up
//!   past each server's knee ([`KNEE_FACTOR`], [`KNEE_LOSS`]); then a table of every step, each
//!   server's knee, and a chart of p99 latency against offered deliveries per second, both axes
//!   logarithmic, written to `target/room-sweep.svg`. About three minutes in all.
//!
//! Each scenario runs against each server in the same run, one after the other: first the floor
//! (`support/floor.rs`: the least a one-thread line relay can do, with no names and no rules),
//! then netchat's poll engine, its threads engine, and `ncat --chat` (nmap's ncat, a one-thread
//! `select()` chat server, skipped with a note where it is not installed). Every line after the
//! floor's gives that server's figures as ratios to the floor's in the same run (`p99_x_floor`,
//! `cpu_x_floor`, …): on a shared machine, "1.1× the floor" holds from run to run where "0.5 ms"
//! does not. `--engine floor|poll|threads|ncat` (repeatable) picks some. Every server runs in its
//! own session (`setsid`), as a teacher's terminal would start it: on Linux the scheduler then
//! shares the CPU fairly between the server and this load generator. The targets the poll engine
//! is held to, as ratios to the floor or to ncat, are checked at the end (`target` lines).
//!
//! The generator reads what the server delivers in one of two ways (`--readers loop|threads`):
//!
//! - `loop` (the default): one event loop per core (mio, like the poll engine), each reading an
//!   equal share of the clients, every socket until `WouldBlock`. A delivery that finds its loop
//!   awake (in a burst, most do) costs the server's `write` no wake-up and the generator no
//!   context switch, and two threads instead of 200 leave the server more of the machine: closer
//!   to a server whose students sit at other machines.
//! - `threads`: one blocked reader thread per client (64 KiB stacks), as each student's own
//!   client would be. On one machine every delivery then wakes a thread, and the server's `write`
//!   pays for that wake-up inside the kernel; the generator's threads also compete with the
//!   server for the two cores. Every figure before `--readers` existed was taken this way.
//!
//! One pacing sender writes for all clients. For `idle`, one thread runs all 19,000 clients as an
//! event loop (mio: non-blocking `connect`, and reads of the sockets `poll` says are ready), so
//! that they need neither 19,000 threads (Linux counts threads against `pid_max`, often 32,768)
//! nor a sweep over every socket. The generator's own CPU time is reported as `gen_cpu_s`.

mod support;
mod sweep;

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{ChildStdin, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};
use socket2::{Domain, Socket, Type};

use support::{Args, Guard, Report, floor};

/// A server the room scenarios run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The yardstick: `support/floor.rs`, this bench binary run as a bare line relay.
    Floor,
    /// `netchat room --engine poll`.
    Poll,
    /// `netchat room --engine threads`.
    Threads,
    /// `ncat --chat`: its lines read `<userN> TEXT` (only the first line of each chunk it read
    /// carries the prefix), and its notices `<announce> …`.
    Ncat,
}

impl Target {
    /// The floor first: every server after it in a scenario is measured against it.
    const ALL: [Target; 4] = [Target::Floor, Target::Poll, Target::Threads, Target::Ncat];

    fn name(self) -> &'static str {
        match self {
            Target::Floor => "floor",
            Target::Threads => "threads",
            Target::Poll => "poll",
            Target::Ncat => "ncat",
        }
    }

    /// The targets `--engine` asked for (in the order of [`Target::ALL`]), all four by default.
    fn chosen(args: &Args) -> Vec<Target> {
        if args.engines.is_empty() {
            return Target::ALL.to_vec();
        }
        Target::ALL
            .into_iter()
            .filter(|t| args.engines.iter().any(|e| e == t.name()))
            .collect()
    }
}

/// Stack for each client reader thread: it holds a few small frames; its buffer is on the heap.
const READER_STACK: usize = 64 * 1024;
/// How long after the last send the generator waits for the last delivery before counting loss.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

fn main() {
    let mut argv = std::env::args().skip(1);
    if argv.next().as_deref() == Some(floor::FLOOR_ARG) {
        // This binary started as the floor relay (`Server::start_floor`), not as the bench.
        let addr = argv
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
        if let Err(e) = floor::serve(addr) {
            eprintln!("floor: {e}");
            std::process::exit(1);
        }
        return;
    }
    let args = Args::parse();
    let load = support::load_average().unwrap_or_else(|| "unknown".to_string());
    if args.json {
        println!(
            "{{\"machine\":\"{}\",\"load_average\":\"{load}\"}}",
            support::machine()
        );
    } else {
        println!("# machine: {}", support::machine());
        println!("# load average (1, 5, 15 min) at the start: {load}");
    }
    let targets = Target::chosen(&args);
    if !targets.contains(&Target::Floor) && !args.json {
        println!("# no floor in this run: add --engine floor for each figure's ratio to it");
    }
    let mut verdicts = Vec::new();
    if args.wants("room/burst") {
        let load = Load::Burst { messages: 200 };
        let results = scenario(&args, &targets, "room/burst", 200, load);
        // The burst's target is ncat's cost: both relay a read as it came, one write per
        // recipient, and the floor does exactly that with nothing else.
        verdicts.extend(Verdict::ratio(
            "poll CPU per delivery at burst, to ncat's",
            results.get(Target::Poll).zip(results.get(Target::Ncat)),
            |m| m.cpu_ns,
            1.0,
        ));
    }
    if args.wants("room/rate") {
        let load = Load::Rate {
            per_second: 10.0,
            seconds: 10.0,
        };
        let results = scenario(&args, &targets, "room/rate", 100, load);
        verdicts.extend(Verdict::ratio(
            "poll CPU per delivery at rate, to the floor's",
            results.get(Target::Poll).zip(results.get(Target::Floor)),
            |m| m.cpu_ns,
            1.2,
        ));
    }
    for rate in [20.0, 40.0, 80.0, 160.0, 320.0] {
        let name = format!("room/sat-{rate}");
        if args.wants(&name) {
            let load = Load::Rate {
                per_second: rate,
                seconds: 3.0,
            };
            scenario(&args, &targets, &name, 100, load);
        }
    }
    if args.wants("room/idle") {
        let mut floor = None;
        for &target in &targets {
            let measured = idle(&args, target, 19_000, floor.as_ref());
            if target == Target::Floor {
                floor = measured;
            }
        }
    }
    // Only when asked for by name: it takes three minutes, and `room/sweep` is no prefix of the
    // others.
    if args.named("room/sweep") {
        verdicts.extend(sweep::run(&args, &targets));
    }
    if !verdicts.is_empty() {
        for verdict in &verdicts {
            verdict.print(args.json);
        }
    }
    let load = support::load_average().unwrap_or_else(|| "unknown".to_string());
    if args.json {
        println!("{{\"load_average_at_end\":\"{load}\"}}");
    } else {
        println!("# load average (1, 5, 15 min) at the end: {load}");
    }
}

/// One scenario against every chosen server, the floor first, each line with its ratios to the
/// floor's figures from this same run.
fn scenario(args: &Args, targets: &[Target], name: &str, clients: usize, load: Load) -> Results {
    let mut results = Results::default();
    for &target in targets {
        let floor = results.get(Target::Floor);
        if let Some(measured) = active(args, target, name, clients, load, floor, DRAIN_DEADLINE) {
            results.0.push((target, measured));
        }
    }
    results
}

/// What each server did in one scenario.
#[derive(Default)]
struct Results(Vec<(Target, Measured)>);

impl Results {
    fn get(&self, target: Target) -> Option<Measured> {
        self.0.iter().find(|(t, _)| *t == target).map(|(_, m)| *m)
    }
}

/// One server's figures in one active scenario, the ones compared across servers.
#[derive(Debug, Clone, Copy)]
struct Measured {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// Server CPU per delivery, in nanoseconds.
    cpu_ns: f64,
    /// Deliveries the clients should have received.
    expected: u64,
    /// Of those, how many did not arrive intact within the drain deadline.
    lost: u64,
    /// Deliveries per second: from the first send to the last delivery.
    delivered_per_s: f64,
    /// Deliveries per second the load asks for (NaN for a burst).
    offered_per_s: f64,
}

impl Measured {
    fn lost_share(&self) -> f64 {
        self.lost as f64 / self.expected.max(1) as f64
    }

    /// The ratios of these figures to the floor's, for the report line.
    fn against(&self, floor: &Measured, report: &mut Report) {
        report
            .float("p50_x_floor", self.p50_ms / floor.p50_ms, 2)
            .float("p99_x_floor", self.p99_ms / floor.p99_ms, 2)
            .float("max_x_floor", self.max_ms / floor.max_ms, 2)
            .float("cpu_x_floor", self.cpu_ns / floor.cpu_ns, 2);
    }
}

/// A target of the poll engine, as a ratio to another server's figure in the same run, and
/// whether it was met.
struct Verdict {
    what: String,
    ratio: f64,
    limit: f64,
    /// Where the ratio was measured, when it is the worst of several (a sweep's steps).
    at: Option<String>,
}

impl Verdict {
    /// `figure(mine) / figure(theirs)` against `limit`, if both servers ran.
    fn ratio(
        what: &str,
        pair: Option<(Measured, Measured)>,
        figure: fn(&Measured) -> f64,
        limit: f64,
    ) -> Option<Verdict> {
        let (mine, theirs) = pair?;
        Some(Verdict {
            what: what.to_string(),
            ratio: figure(&mine) / figure(&theirs),
            limit,
            at: None,
        })
    }

    fn met(&self) -> bool {
        self.ratio <= self.limit
    }

    fn print(&self, json: bool) {
        let mut report = Report::new("target");
        report
            .text("what", &self.what)
            .float("ratio", self.ratio, 2)
            .float("limit", self.limit, 2)
            .text("met", if self.met() { "yes" } else { "NO" });
        if let Some(at) = &self.at {
            report.text("at", at);
        }
        if json {
            report.print(true);
        } else {
            // A sentence, not `name=value` pairs: its text has spaces.
            let at = self
                .at
                .as_deref()
                .map_or(String::new(), |at| format!(" ({at})"));
            println!(
                "target: {}: {:.2}x, limit {:.2}x{at}: {}",
                self.what,
                self.ratio,
                self.limit,
                if self.met() { "met" } else { "NOT met" }
            );
        }
    }
}

/// What the clients send.
#[derive(Clone, Copy)]
enum Load {
    /// Every client writes this many messages at once.
    Burst { messages: u64 },
    /// Every client sends this many messages per second, evenly spread, for this long.
    Rate { per_second: f64, seconds: f64 },
}

impl Load {
    fn messages_per_client(self) -> u64 {
        match self {
            Load::Burst { messages } => messages,
            Load::Rate {
                per_second,
                seconds,
            } => (per_second * seconds).round() as u64,
        }
    }
}

/// A running room server (`netchat room --listen`, or `ncat --chat`) with its stdin held open (a
/// room closes when its input ends) and its stdout (every message, for the operator) going to
/// the null device.
struct Server {
    guard: Guard,
    addr: SocketAddr,
    _stdin: ChildStdin,
    stderr: Receiver<String>,
}

impl Server {
    /// The server, or why it did not start (then the scenario is skipped with that reason).
    fn start(target: Target, max_clients: usize) -> Result<Server, String> {
        let max = max_clients.to_string();
        let engine = match target {
            Target::Threads => "threads",
            Target::Poll => "poll",
            Target::Ncat => return Server::start_ncat(max_clients),
            Target::Floor => return Server::start_floor(),
        };
        let (mut guard, addr, stderr) = support::spawn_listener(
            "room",
            // A load test from one address at full speed: the limits against a prankster
            // (rate, seats and connections per address) are lifted, as the README says to.
            &[
                "--max-clients",
                &max,
                "--rate-limit",
                "0",
                "--max-per-address",
                "0",
                "--engine",
                engine,
            ],
            Stdio::piped(),
            Stdio::null(),
        )?;
        let stdin = guard.0.stdin.take().expect("piped stdin");
        Ok(Server {
            guard,
            addr,
            _stdin: stdin,
            stderr,
        })
    }

    /// The floor relay: this bench binary run again as `--floor-relay 127.0.0.1:0`, in a session
    /// of its own like every server here, its stdin held open (it ends when that closes).
    fn start_floor() -> Result<Server, String> {
        let me = std::env::current_exe().map_err(|e| format!("the bench's own path: {e}"))?;
        let mut command = support::in_own_session(&me.to_string_lossy());
        command
            .args([floor::FLOOR_ARG, "127.0.0.1:0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null());
        let (mut guard, addr, stderr) = support::spawn_command(command)?;
        let stdin = guard.0.stdin.take().expect("piped stdin");
        Ok(Server {
            guard,
            addr,
            _stdin: stdin,
            stderr,
        })
    }

    /// `ncat --chat -l 127.0.0.1 PORT`, on a port found free just before (ncat cannot report the
    /// port the OS chose), once it accepts connections.
    fn start_ncat(max_clients: usize) -> Result<Server, String> {
        if !support::on_path("ncat") {
            return Err(
                "ncat is not installed (it is optional: `apt-get install ncat` on \
                        Debian or Ubuntu, or nmap's ncat elsewhere, to compare with it)"
                    .to_string(),
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut child = support::in_own_session("ncat")
            .args([
                "--chat",
                "--keep-open",
                "-l",
                "127.0.0.1",
                &port.to_string(),
            ])
            .args(["--max-conns", &max_clients.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("ncat: {e} (install nmap's ncat to compare)"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut guard = Guard(child);
        let (lines_tx, stderr_lines) = unbounded();
        thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let _ = lines_tx.send(line);
            }
        });
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        // A probe connection joins and leaves an empty chat: nobody is there to be told. It
        // waits for ncat's greeting before it closes: ncat quits altogether ("getpeername …
        // failed") if a connection is gone before it looked at it.
        let probe = loop {
            if let Ok(probe) = TcpStream::connect(addr) {
                break probe;
            }
            if Instant::now() > deadline || guard.wait_exit(Duration::from_millis(20)) {
                let said: Vec<String> = stderr_lines.try_iter().collect();
                return Err(format!("ncat did not listen: {}", said.join(" / ")));
            }
        };
        let _ = probe.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = (&probe).read(&mut [0u8; 256]);
        drop(probe);
        Ok(Server {
            guard,
            addr,
            _stdin: stdin,
            stderr: stderr_lines,
        })
    }

    fn pid(&self) -> u32 {
        self.guard.pid()
    }

    /// Whether the server has ended (ncat does, past its `select()` limit).
    fn exited(&mut self) -> bool {
        !matches!(self.guard.0.try_wait(), Ok(None))
    }

    /// The status lines the server printed so far (for a failing scenario).
    fn status_lines(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }
}

/// What one reader saw (one client's thread, or the event loop of them all).
struct Tally {
    received: u64,
    /// Lines that did not parse, or arrived out of order: must be 0.
    broken: u64,
    latency: Histogram,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            received: 0,
            broken: 0,
            latency: Histogram::new(),
        }
    }
}

/// How the generator reads what the server delivers (`--readers threads|loop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readers {
    /// One thread per client, blocked in `read`: each delivery wakes one thread, as each student's
    /// own client would be woken. On one machine, the server's `write` pays for that wake-up.
    Threads,
    /// One event loop per core for all clients: deliveries that arrive while a loop reads cost no
    /// wake-up, and the generator takes less of the machine from the server.
    Loop,
}

impl Readers {
    fn name(self) -> &'static str {
        match self {
            Readers::Threads => "threads",
            Readers::Loop => "loop",
        }
    }

    fn chosen(args: &Args) -> Readers {
        match args.readers.as_deref() {
            Some("threads") => Readers::Threads,
            None | Some("loop") => Readers::Loop,
            Some(other) => panic!("--readers takes loop or threads, not {other:?}"),
        }
    }
}

/// What readers tell the main thread while clients join: one more was welcomed. The servers
/// take clients in the order they connect, so once all are welcomed, all are in.
struct Welcomed;

/// One active scenario against one server: prints its line (with its ratios to `floor`, the
/// floor's figures in the same run, if given) and returns its figures, or `None` if the server
/// did not start. Deliveries that have not arrived `drain` after the last send count as lost.
fn active(
    args: &Args,
    target: Target,
    name: &str,
    clients: usize,
    load: Load,
    floor: Option<Measured>,
    drain: Duration,
) -> Option<Measured> {
    let server = match Server::start(target, clients + 10) {
        Ok(server) => server,
        Err(why) => {
            skipped(args, target, name, &why);
            return None;
        }
    };
    let base = Instant::now();
    let per_client = load.messages_per_client();
    let expected_each = per_client * (clients as u64 - 1);
    let (joined_tx, joined) = unbounded();
    let reading = Reading {
        clients,
        expected: expected_each,
        base,
        joined: joined_tx,
    };
    let streams: Vec<Arc<TcpStream>> = (0..clients)
        .map(|_| Arc::new(connect(server.addr)))
        .collect();
    let readers = match Readers::chosen(args) {
        Readers::Threads => streams
            .iter()
            .enumerate()
            .map(|(me, stream)| {
                let stream = Arc::clone(stream);
                let reading = reading.clone();
                thread::Builder::new()
                    .name(format!("client-{me}"))
                    .stack_size(READER_STACK)
                    .spawn(move || read_client(&stream, &reading))
                    .expect("start a client reader")
            })
            .collect::<Vec<_>>(),
        Readers::Loop => {
            // One event loop per core, each with an equal share of the clients.
            let loops = thread::available_parallelism().map_or(2, std::num::NonZero::get);
            let mut shares: Vec<Vec<TcpStream>> = (0..loops).map(|_| Vec::new()).collect();
            for (me, stream) in streams.iter().enumerate() {
                let handle = stream
                    .try_clone()
                    .expect("a second handle on a client socket");
                shares[me % loops].push(handle);
            }
            shares
                .into_iter()
                .enumerate()
                .map(|(n, share)| {
                    let reading = reading.clone();
                    thread::Builder::new()
                        .name(format!("clients-{n}"))
                        .spawn(move || read_all_clients(share, &reading))
                        .expect("start a clients' reader")
                })
                .collect()
        }
    };
    drop(reading);
    wait_for_everyone(&joined, clients, &server);

    let cpu_before = support::cpu_seconds(server.pid());
    let switches_before = support::context_switches(server.pid());
    let own_before = support::own_cpu_seconds();
    let started = Instant::now();
    let started_ns = since(base);
    let sender_streams = streams.clone();
    let sender = thread::Builder::new()
        .name("sender".into())
        .spawn(move || send_all(&sender_streams, load, base))
        .expect("start the sender");
    let send_ok = sender.join().unwrap_or(false);
    // Readers end when they have everything; a deadline shuts the rest down.
    let deadline = Instant::now() + drain;
    while readers.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    let finished = Instant::now();
    for stream in &streams {
        let _ = stream.shutdown(Shutdown::Both);
    }
    let mut total = Tally::new();
    for reader in readers {
        if let Ok(tally) = reader.join() {
            total.received += tally.received;
            total.broken += tally.broken;
            total.latency.merge(&tally.latency);
        }
    }
    let cpu = delta(support::cpu_seconds(server.pid()), cpu_before);
    let switches = support::context_switches(server.pid())
        .zip(switches_before)
        .map(|(after, before)| after.saturating_sub(before));
    let own = delta(support::own_cpu_seconds(), own_before);
    let expected = expected_each * clients as u64;
    // From the first send to the last delivery: the last reader to finish.
    let span = total
        .latency
        .last_arrival_ns
        .saturating_sub(started_ns)
        .max(1) as f64
        / 1e9;
    let cpu_ns = cpu.unwrap_or(f64::NAN) * 1e9 / total.received.max(1) as f64;
    let measured = Measured {
        p50_ms: total.latency.percentile(0.50),
        p99_ms: total.latency.percentile(0.99),
        max_ms: total.latency.max_ms(),
        cpu_ns,
        expected,
        lost: expected.saturating_sub(total.received),
        delivered_per_s: total.received as f64 / span,
        offered_per_s: offered(load, clients),
    };
    let mut report = Report::new(name);
    report.text("server", target.name());
    report.text("readers", Readers::chosen(args).name());
    report.int("clients", clients as u64);
    match load {
        Load::Burst { messages } => report.int("msgs_each", messages),
        Load::Rate { per_second, .. } => report.float("msg_per_s_each", per_second, 0),
    };
    report
        .float("offered_per_s", measured.offered_per_s, 0)
        .float("deliveries_per_s", measured.delivered_per_s, 0)
        .int("deliveries", total.received)
        .int("lost", measured.lost)
        .int("broken", total.broken)
        .float("p50_ms", measured.p50_ms, 3)
        .float("p99_ms", measured.p99_ms, 3)
        .float("max_ms", measured.max_ms, 3)
        .float("server_cpu_s", cpu.unwrap_or(f64::NAN), 2)
        .float("cpu_ns_per_delivery", cpu_ns, 0)
        .int(
            "server_peak_rss_kib",
            support::proc_status_kib(server.pid(), "VmHWM:").unwrap_or(0),
        )
        .int("server_ctx_switches", switches.unwrap_or(0))
        .float("gen_cpu_s", own.unwrap_or(f64::NAN), 2)
        .float("wall_s", (finished - started).as_secs_f64(), 2);
    // The server's own word for a client it dropped (netchat: `… too slow …`).
    let status = server.status_lines();
    let dropped = status.iter().filter(|l| l.contains("too slow")).count();
    report.int("dropped_slow", dropped as u64);
    if let Some(floor) = floor.filter(|_| target != Target::Floor) {
        measured.against(&floor, &mut report);
    }
    if !send_ok {
        report.text("note", "a send failed: the server closed a connection");
    }
    report.print(args.json);
    if total.broken > 0 || !send_ok {
        for line in status.iter().rev().take(5) {
            eprintln!("  server: {line}");
        }
    }
    Some(measured)
}

fn skipped(args: &Args, target: Target, name: &str, why: &str) {
    Report::new(name)
        .text("server", target.name())
        .text("skipped", &format!("the room server did not start: {why}"))
        .print(args.json);
}

fn offered(load: Load, clients: usize) -> f64 {
    match load {
        Load::Burst { .. } => f64::NAN,
        Load::Rate { per_second, .. } => per_second * clients as f64 * (clients as f64 - 1.0),
    }
}

fn delta(after: Option<f64>, before: Option<f64>) -> Option<f64> {
    Some(after? - before?)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the room");
    // Like netchat itself: a message leaves at once, not when Nagle's algorithm allows.
    stream.set_nodelay(true).expect("TCP_NODELAY");
    stream
}

/// Nanoseconds since `base` on the monotonic clock (shared by every thread of this process).
fn since(base: Instant) -> u64 {
    base.elapsed().as_nanos() as u64
}

fn wait_for_everyone(joined: &Receiver<Welcomed>, clients: usize, server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut welcomed = 0;
    while welcomed < clients {
        match joined.recv_deadline(deadline) {
            Ok(Welcomed) => welcomed += 1,
            Err(_) => panic!(
                "only {welcomed} of {clients} clients joined within 30 s; server said: {:?}",
                server.status_lines()
            ),
        }
    }
}

/// What every reader needs: how many clients send, how many message lines each client should
/// get, the clock the send times are on, and where to say that a client was welcomed.
#[derive(Clone)]
struct Reading {
    clients: usize,
    expected: u64,
    base: Instant,
    joined: Sender<Welcomed>,
}

/// One client's reader thread: counts and checks every message line, and measures its latency.
fn read_client(stream: &TcpStream, reading: &Reading) -> Tally {
    let mut tally = Tally::new();
    let mut inbox = Inbox::new(reading);
    while !inbox.done() {
        match inbox.read_from(stream, &mut tally, reading) {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
    }
    tally
}

/// Many clients' reading on one thread, as an event loop (mio, like the poll engine): the thread
/// sleeps until some of its sockets are readable, then reads each until `WouldBlock`. A delivery
/// that finds it awake costs the server no wake-up, and the generator no context switch.
fn read_all_clients(streams: Vec<TcpStream>, reading: &Reading) -> Tally {
    let mut tally = Tally::new();
    let mut poll = mio::Poll::new().expect("an event loop for the clients");
    let mut sockets = Vec::with_capacity(streams.len());
    for (client, stream) in streams.into_iter().enumerate() {
        stream
            .set_nonblocking(true)
            .expect("a non-blocking client socket");
        let mut socket = mio::net::TcpStream::from_std(stream);
        poll.registry()
            .register(&mut socket, mio::Token(client), mio::Interest::READABLE)
            .expect("register a client socket");
        sockets.push(socket);
    }
    let mut inboxes: Vec<Inbox> = (0..sockets.len()).map(|_| Inbox::new(reading)).collect();
    // Clients neither done nor closed.
    let mut open = sockets.len();
    let mut events = mio::Events::with_capacity(1024);
    while open > 0 {
        if poll.poll(&mut events, None).is_err() {
            continue; // EINTR
        }
        for event in &events {
            let client = event.token().0;
            let inbox = &mut inboxes[client];
            if inbox.finished() {
                continue;
            }
            // Edge-triggered: read until the kernel has nothing more, or the client is done.
            while !inbox.done() {
                match inbox.read_from(&sockets[client], &mut tally, reading) {
                    Ok(true) => continue,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Ok(false) | Err(_) => {
                        inbox.closed = true;
                        break;
                    }
                }
            }
            if inbox.finished() {
                open -= 1;
            }
        }
    }
    tally
}

/// One client's incoming side: the bytes of a line not yet whole, and the next sequence number
/// it expects from each sender (anything else is `broken`: lost, reordered or spliced).
struct Inbox {
    buffer: Vec<u8>,
    filled: usize,
    next_seq: Vec<u64>,
    received: u64,
    expected: u64,
    /// The server closed this client (or a read failed).
    closed: bool,
}

impl Inbox {
    fn new(reading: &Reading) -> Inbox {
        Inbox {
            buffer: vec![0u8; 64 * 1024],
            filled: 0,
            next_seq: vec![0; reading.clients],
            received: 0,
            expected: reading.expected,
            closed: false,
        }
    }

    fn done(&self) -> bool {
        self.received >= self.expected
    }

    fn finished(&self) -> bool {
        self.done() || self.closed
    }

    /// One `read`, then every whole line it completed: counted, checked, its latency recorded.
    /// `Ok(false)` at the end of the stream.
    fn read_from(
        &mut self,
        mut stream: impl Read,
        tally: &mut Tally,
        reading: &Reading,
    ) -> io::Result<bool> {
        if self.filled == self.buffer.len() {
            tally.broken += 1; // a 64 KiB line: nothing netchat should ever send
            self.filled = 0;
        }
        let n = stream.read(&mut self.buffer[self.filled..])?;
        if n == 0 {
            return Ok(false);
        }
        // One clock reading per read: every line in it became available at this moment.
        let now = since(reading.base);
        self.filled += n;
        let mut start = 0;
        // What was kept from the last read holds no newline: look only at the new bytes.
        let new_bytes = self.filled - n;
        let newlines = memchr::memchr_iter(b'\n', &self.buffer[new_bytes..self.filled]);
        for newline in newlines.map(|at| new_bytes + at) {
            let line = &self.buffer[start..newline];
            start = newline + 1;
            if line.starts_with(b"*** welcome") || line.starts_with(b"<announce> already") {
                let _ = reading.joined.send(Welcomed);
            } else if line.starts_with(b"***") || line.starts_with(b"<announce>") {
                // Other notices (joins, leaves).
            } else {
                match parse_message(line) {
                    Some((from, seq, sent))
                        if from < self.next_seq.len() && seq == self.next_seq[from] =>
                    {
                        self.next_seq[from] += 1;
                        self.received += 1;
                        tally.received += 1;
                        tally.latency.record(now.saturating_sub(sent), now);
                    }
                    _ => tally.broken += 1,
                }
            }
        }
        self.buffer.copy_within(start..self.filled, 0);
        self.filled -= start;
        Ok(true)
    }
}

/// `[guestN] m FROM SEQ SENT_NS` (netchat), `<userN> m …` or a bare `m …` (ncat) → (FROM, SEQ,
/// SENT_NS).
fn parse_message(line: &[u8]) -> Option<(usize, u64, u64)> {
    // The prefix ends at the first "] " or "> "; a bare line has none. Byte by byte: this runs
    // for each of the millions of lines a burst delivers, on the generator's share of the CPU.
    let text = match line.first()? {
        b'[' | b'<' => {
            let close = if line[0] == b'[' { b']' } else { b'>' };
            let end = line.iter().position(|&b| b == close)?;
            line.get(end + 1..)?.strip_prefix(b" ")?
        }
        _ => line,
    };
    let (from, rest) = leading_number(text.strip_prefix(b"m ")?)?;
    let (seq, rest) = leading_number(rest.strip_prefix(b" ")?)?;
    let (sent, rest) = leading_number(rest.strip_prefix(b" ")?)?;
    rest.is_empty()
        .then_some((usize::try_from(from).ok()?, seq, sent))
}

/// The decimal number (1 to 19 digits) at the start of `bytes`, and what follows it.
fn leading_number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let value = bytes[..digits]
        .iter()
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    Some((value, &bytes[digits..]))
}

/// The pacing sender: writes every client's messages, on time. False if a write failed.
fn send_all(streams: &[Arc<TcpStream>], load: Load, base: Instant) -> bool {
    let mut line = Vec::with_capacity(64);
    match load {
        Load::Burst { messages } => {
            // Each client's messages in one write: they reach the server as one read.
            let mut block = Vec::with_capacity(messages as usize * 40);
            for (from, stream) in streams.iter().enumerate() {
                block.clear();
                let sent = since(base);
                for seq in 0..messages {
                    let _ = writeln!(block, "m {from} {seq} {sent}");
                }
                if !send(stream, &block) {
                    return false;
                }
            }
            true
        }
        Load::Rate {
            per_second,
            seconds,
        } => {
            // Slot k belongs to client k % N: every client sends every 1/rate seconds, and the
            // clients are spread evenly over that period.
            let clients = streams.len();
            let slot = Duration::from_secs_f64(1.0 / per_second / clients as f64);
            let slots = (per_second * seconds).round() as u64 * clients as u64;
            let start = Instant::now();
            let mut k = 0u64;
            while k < slots {
                let due = start + slot.mul_f64(k as f64);
                let now = Instant::now();
                if due > now {
                    thread::sleep((due - now).max(Duration::from_micros(50)));
                    continue;
                }
                // Send everything that is due (after a late wake-up, several at once).
                while k < slots && start + slot.mul_f64(k as f64) <= Instant::now() {
                    let from = (k % clients as u64) as usize;
                    let seq = k / clients as u64;
                    line.clear();
                    let _ = writeln!(line, "m {from} {seq} {}", since(base));
                    if !send(&streams[from], &line) {
                        return false;
                    }
                    k += 1;
                }
            }
            true
        }
    }
}

/// Writes all of `bytes` to a client's socket, false if that failed. With `--readers loop` the
/// socket is non-blocking (the flag is the socket's, shared by the reader's handle): when its
/// send buffer is full, wait a moment for the server to read, for at most [`DRAIN_DEADLINE`].
fn send(stream: &TcpStream, mut bytes: &[u8]) -> bool {
    let deadline = Instant::now() + DRAIN_DEADLINE;
    let mut stream = stream;
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return false,
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_micros(100));
            }
            Err(_) => return false,
        }
    }
    true
}

/// Latencies in buckets: 1 µs wide below 10 ms, 100 µs below 1 s, 10 ms above.
struct Histogram {
    counts: Vec<u64>,
    max_ns: u64,
    last_arrival_ns: u64,
}

const FINE: u64 = 10_000; // µs
const COARSE: u64 = 1_000_000; // µs
const BUCKETS: usize = (FINE + (COARSE - FINE) / 100 + 1000) as usize;

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS],
            max_ns: 0,
            last_arrival_ns: 0,
        }
    }

    fn record(&mut self, latency_ns: u64, arrival_ns: u64) {
        let us = latency_ns / 1000;
        let bucket = if us < FINE {
            us
        } else if us < COARSE {
            FINE + (us - FINE) / 100
        } else {
            (FINE + (COARSE - FINE) / 100 + (us - COARSE) / 10_000).min(BUCKETS as u64 - 1)
        };
        self.counts[bucket as usize] += 1;
        self.max_ns = self.max_ns.max(latency_ns);
        self.last_arrival_ns = self.last_arrival_ns.max(arrival_ns);
    }

    fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.max_ns = self.max_ns.max(other.max_ns);
        self.last_arrival_ns = self.last_arrival_ns.max(other.last_arrival_ns);
    }

    /// The latency below which `fraction` of the deliveries fell, in milliseconds (the upper
    /// edge of its bucket).
    fn percentile(&self, fraction: f64) -> f64 {
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return f64::NAN;
        }
        let wanted = (total as f64 * fraction).ceil() as u64;
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                let bucket = bucket as u64;
                let upper_us = if bucket < FINE {
                    bucket + 1
                } else if bucket < FINE + (COARSE - FINE) / 100 {
                    FINE + (bucket - FINE + 1) * 100
                } else {
                    COARSE + (bucket - FINE - (COARSE - FINE) / 100 + 1) * 10_000
                };
                return (upper_us as f64 / 1000.0).min(self.max_ms());
            }
        }
        self.max_ms()
    }

    fn max_ms(&self) -> f64 {
        self.max_ns as f64 / 1e6
    }
}

/// 19,000 clients join and stay silent: how long joining takes, and what each connection costs
/// the server in resident memory.
///
/// The generator is itself an event loop (mio, as the poll engine): it connects without waiting
/// (non-blocking `connect`), keeps at most [`IDLE_WINDOW`] clients waiting for their welcome at
/// any moment, and reads only the sockets `poll` says are ready. Its work grows with the number
/// of clients, not with its square, so the figure is the server's. A client counts as joined when
/// its welcome line arrived; one told anything else, or closed or reset before its welcome, as
/// refused. All within [`IDLE_DEADLINE`].
///
/// Returns what is compared with the floor's, or `None` if the server did not start.
fn idle(
    args: &Args,
    target: Target,
    clients: usize,
    floor: Option<&IdleMeasured>,
) -> Option<IdleMeasured> {
    let mut server = match Server::start(target, clients + 10) {
        Ok(server) => server,
        Err(why) => {
            skipped(args, target, "room/idle", &why);
            return None;
        }
    };
    let pid = server.pid();
    let mut crowd = match Crowd::new(clients) {
        Ok(crowd) => crowd,
        Err(why) => {
            skipped(args, target, "room/idle", &why);
            return None;
        }
    };
    // Let the server settle, then take its memory before anyone joins.
    thread::sleep(Duration::from_millis(200));
    let rss_before = support::proc_status_kib(pid, "VmRSS:").unwrap_or(0);
    let own_before = support::own_cpu_seconds();
    let cpu_before = support::cpu_seconds(pid);
    let kernel_before = KERNEL_COUNTERS.map(|(counter, _)| support::tcp_counter(counter));
    let started = Instant::now();
    let deadline = started + IDLE_DEADLINE;
    // The server as last seen alive: ncat exits at its limit, and its figures go with it.
    let mut seen = Seen::now(pid);
    while crowd.settled() < clients && Instant::now() < deadline {
        crowd.connect_more(server.addr);
        if crowd.connect_error.is_some() && crowd.waiting == 0 {
            break; // nobody left to wait for, and nobody more can connect
        }
        if seen.at.elapsed() >= SEEN_EVERY {
            seen = seen.again(pid);
        }
        if server.exited() {
            break; // ncat past its select() limit: nobody more will be welcomed
        }
        crowd.read_ready(Duration::from_millis(50));
    }
    let join_s = crowd
        .last_settled
        .map_or(f64::NAN, |at| (at - started).as_secs_f64());
    // Read what is still in flight, then look at the server.
    let settle = Instant::now() + Duration::from_millis(500);
    while Instant::now() < settle {
        crowd.read_ready(settle - Instant::now());
    }
    let seen = seen.again(pid);
    let (rss_after, threads) = (seen.rss_kib.unwrap_or(0), seen.threads.unwrap_or(0));
    let cpu = delta(seen.cpu, cpu_before);
    let own = delta(support::own_cpu_seconds(), own_before);
    let kernel_after = KERNEL_COUNTERS.map(|(counter, _)| support::tcp_counter(counter));
    let welcomed = crowd.welcomed;
    let per_connection = rss_after.saturating_sub(rss_before) as f64 / welcomed.max(1) as f64;
    let mut report = Report::new("room/idle");
    report
        .text("server", target.name())
        .int("clients", clients as u64)
        .int("joined", welcomed)
        .int("refused", crowd.refused)
        .float("join_s", join_s, 2)
        .int("server_rss_kib", rss_after)
        .float("rss_per_conn_kib", per_connection, 1)
        .int("server_threads", threads)
        .int("server_peak_rss_kib", seen.peak_rss_kib.unwrap_or(0))
        .float("server_cpu_s", cpu.unwrap_or(f64::NAN), 2)
        .float("gen_cpu_s", own.unwrap_or(f64::NAN), 2);
    // What the kernel did with handshakes while the clients joined (the whole machine's counts).
    for (((_, name), before), after) in KERNEL_COUNTERS.iter().zip(kernel_before).zip(kernel_after)
    {
        if let Some(count) = after
            .zip(before)
            .map(|(after, before)| after.saturating_sub(before))
        {
            report.int(name, count);
        }
    }
    let measured = IdleMeasured {
        join_s,
        cpu_s: cpu.unwrap_or(f64::NAN),
        rss_per_conn_kib: per_connection,
    };
    if let Some(floor) = floor.filter(|_| target != Target::Floor) {
        report
            .float("join_x_floor", measured.join_s / floor.join_s, 2)
            .float("cpu_x_floor", measured.cpu_s / floor.cpu_s, 2)
            .float(
                "rss_x_floor",
                measured.rss_per_conn_kib / floor.rss_per_conn_kib,
                2,
            );
    }
    if let Some(error) = &crowd.connect_error {
        report.text("connect_error", error);
    }
    if crowd.refused > 0 {
        report.text(
            "note",
            "the server refused or closed the rest (see its status lines)",
        );
    } else if welcomed < clients as u64 && crowd.connect_error.is_none() {
        report.text("note", "deadline reached before everyone joined");
    }
    if server.exited() {
        report.text(
            "server_exited",
            "yes: its figures are from just before (its last status lines follow)",
        );
    }
    report.print(args.json);
    if welcomed < clients as u64 {
        // The server's own explanation (its notice on the admission limit), if it gave one.
        let lines = server.status_lines();
        let said = lines.iter().find(|l| l.contains("lets the room hold"));
        for line in said.into_iter().chain(lines.iter().rev().take(2)) {
            eprintln!("  server: {line}");
        }
    }
    // The server goes first: its closes reach clients that are still open, so the generator's
    // side of each connection closes second and leaves no TIME_WAIT behind on its ports.
    drop(server);
    drop(crowd);
    Some(measured)
}

/// What the idle scenario compares with the floor's.
struct IdleMeasured {
    join_s: f64,
    cpu_s: f64,
    rss_per_conn_kib: f64,
}

/// How often the idle scenario looks at the server while clients join.
const SEEN_EVERY: Duration = Duration::from_millis(100);

/// The server's figures from `/proc` at one moment.
struct Seen {
    at: Instant,
    cpu: Option<f64>,
    rss_kib: Option<u64>,
    peak_rss_kib: Option<u64>,
    threads: Option<u64>,
}

impl Seen {
    fn now(pid: u32) -> Seen {
        Seen {
            at: Instant::now(),
            cpu: support::cpu_seconds(pid),
            rss_kib: support::proc_status_kib(pid, "VmRSS:"),
            peak_rss_kib: support::proc_status_kib(pid, "VmHWM:"),
            threads: support::proc_status_kib(pid, "Threads:"),
        }
    }

    /// A new look, or this one if the server is gone: its `/proc` with it, or all but its CPU
    /// time while it is a zombie (no `VmRSS` then).
    fn again(self, pid: u32) -> Seen {
        let now = Seen::now(pid);
        if now.rss_kib.is_some() { now } else { self }
    }
}

/// The kernel's counters the idle scenario reports (`support::tcp_counter`), and their names in
/// the report: handshakes dropped on a full accept queue, and answered with a SYN cookie.
const KERNEL_COUNTERS: [(&str, &str); 2] = [
    ("ListenOverflows", "listen_overflows"),
    ("SyncookiesSent", "syn_cookies"),
];

/// How many clients may be waiting for their welcome at once: a lecture hall pressing Enter
/// together, many times over, and as fast as the server takes them. The server's accept queue
/// must hold them (endpoint.rs asks for as many as the system allows: 4,096 on Linux); with a
/// smaller one (std's 128) the kernel drops handshakes, and clients either send their SYN again
/// a second later or, answered with a SYN cookie, stay connected to nobody (`listen_overflows`,
/// `syn_cookies`).
const IDLE_WINDOW: usize = 1_000;
/// How long the idle scenario may take to bring everyone in.
const IDLE_DEADLINE: Duration = Duration::from_secs(30);

/// Where one idle client stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seat {
    /// Connected (or connecting), no line yet.
    Waiting,
    Welcomed,
    /// Told something else (room full, refused), or closed or reset before a welcome.
    Refused,
}

/// The idle clients: non-blocking sockets registered with one `mio::Poll`, read only when ready.
struct Crowd {
    poll: mio::Poll,
    events: mio::Events,
    streams: Vec<mio::net::TcpStream>,
    seats: Vec<Seat>,
    /// How many clients to connect in all.
    wanted: usize,
    waiting: usize,
    welcomed: u64,
    refused: u64,
    /// When the last client was welcomed or refused.
    last_settled: Option<Instant>,
    /// Why connecting stopped early (out of ports or file descriptors), if it did.
    connect_error: Option<String>,
    ports: Ports,
    buffer: Vec<u8>,
}

impl Crowd {
    fn new(wanted: usize) -> Result<Crowd, String> {
        Ok(Crowd {
            poll: mio::Poll::new().map_err(|e| format!("the generator's poller: {e}"))?,
            events: mio::Events::with_capacity(1024),
            streams: Vec::with_capacity(wanted),
            seats: Vec::with_capacity(wanted),
            wanted,
            waiting: 0,
            welcomed: 0,
            refused: 0,
            last_settled: None,
            connect_error: None,
            ports: Ports::ephemeral(),
            buffer: vec![0u8; 64 * 1024],
        })
    }

    fn settled(&self) -> usize {
        (self.welcomed + self.refused) as usize
    }

    /// Starts connections until [`IDLE_WINDOW`] wait for their welcome, or all are started.
    fn connect_more(&mut self, addr: SocketAddr) {
        while self.connect_error.is_none()
            && self.waiting < IDLE_WINDOW
            && self.streams.len() < self.wanted
        {
            let mut stream = match self.connect_one(addr) {
                Ok(stream) => stream,
                Err(e) => {
                    self.connect_error = Some(e.to_string());
                    return;
                }
            };
            let token = mio::Token(self.streams.len());
            if let Err(e) =
                self.poll
                    .registry()
                    .register(&mut stream, token, mio::Interest::READABLE)
            {
                self.connect_error = Some(e.to_string());
                return;
            }
            self.streams.push(stream);
            self.seats.push(Seat::Waiting);
            self.waiting += 1;
        }
    }

    /// One client socket, bound to the next free port of [`Ports`] and connecting: `connect`
    /// returns at once (non-blocking), the handshake completes in the kernel, and the welcome
    /// (or the refusal, or the reset) arrives as a readiness event.
    fn connect_one(&mut self, addr: SocketAddr) -> io::Result<mio::net::TcpStream> {
        loop {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
            socket.set_nonblocking(true)?;
            let local = SocketAddr::new(addr.ip(), self.ports.next()?);
            match socket.bind(&local.into()) {
                Ok(()) => {}
                // Taken by some other program: the next one.
                Err(e) if e.kind() == ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e),
            }
            match socket.connect(&addr.into()) {
                Ok(()) => {}
                Err(e) if in_progress(&e) => {}
                // This port and the server's still have a connection in TIME_WAIT: the next.
                Err(e) if e.kind() == ErrorKind::AddrNotAvailable => continue,
                Err(e) => return Err(e),
            }
            return Ok(mio::net::TcpStream::from_std(socket.into()));
        }
    }

    /// Waits up to `timeout` for readiness, then reads every ready socket until `WouldBlock`
    /// (registrations are edge-triggered), throwing the bytes away.
    fn read_ready(&mut self, timeout: Duration) {
        if let Err(e) = self.poll.poll(&mut self.events, Some(timeout)) {
            if e.kind() != ErrorKind::Interrupted {
                panic!("the generator's poll failed: {e}");
            }
            return;
        }
        let ready: Vec<usize> = self.events.iter().map(|event| event.token().0).collect();
        for client in ready {
            self.read_client(client);
        }
    }

    fn read_client(&mut self, client: usize) {
        loop {
            // (what the read says about the client, whether its connection has ended)
            let (outcome, ended) = match (&self.streams[client]).read(&mut self.buffer) {
                Ok(0) => (Seat::Refused, true),
                // The first bytes a joined client gets are its welcome.
                Ok(n) if welcome(&self.buffer[..n]) => (Seat::Welcomed, false),
                Ok(_) => (Seat::Refused, false),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => (Seat::Refused, true),
            };
            if self.seats[client] == Seat::Waiting {
                self.seats[client] = outcome;
                self.waiting -= 1;
                self.last_settled = Some(Instant::now());
                match outcome {
                    Seat::Welcomed => self.welcomed += 1,
                    _ => self.refused += 1,
                }
            }
            if ended {
                // Off the poller: a closed socket would be reported ready again and again.
                let _ = self.poll.registry().deregister(&mut self.streams[client]);
                return;
            }
        }
    }
}

/// The generator's own choice of local ports, one after the other through the ephemeral range.
///
/// A class's clients are on many machines, each picking a port of its own at once. From one
/// machine, to one server address, Linux's search for a free ephemeral port in `connect` grows
/// with the ports already in use: with 19,000 clients, 93% of the generator's CPU went to
/// `__inet_hash_connect` (`perf record -g`), and the generator, not the server, set the join
/// time. Binding each socket to the next port first makes that search one lookup.
struct Ports {
    next: u16,
    last: u16,
}

impl Ports {
    /// The machine's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`), or IANA's.
    fn ephemeral() -> Ports {
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|text| {
                let mut bounds = text.split_whitespace().map(|n| n.parse::<u16>().ok());
                Some((bounds.next()??, bounds.next()??))
            });
        let (next, last) = range.unwrap_or((49152, 65535));
        Ports { next, last }
    }

    fn next(&mut self) -> io::Result<u16> {
        if self.next > self.last {
            return Err(io::Error::new(
                ErrorKind::AddrNotAvailable,
                "the generator ran out of local ports",
            ));
        }
        self.next += 1;
        Ok(self.next - 1)
    }
}

/// A non-blocking `connect` that has begun: `EINPROGRESS` on Unix, `WSAEWOULDBLOCK` on Windows.
fn in_progress(error: &io::Error) -> bool {
    #[cfg(unix)]
    if error.raw_os_error() == Some(nix::errno::Errno::EINPROGRESS as i32) {
        return true;
    }
    error.kind() == ErrorKind::WouldBlock
}

/// The first bytes a joined client gets: netchat's welcome, or ncat's announcements.
fn welcome(bytes: &[u8]) -> bool {
    bytes.starts_with(b"*** welcome") || bytes.starts_with(b"<announce>")
}
