//! The one process harness every integration test uses.
//!
//! [`Netchat`] spawns the real binary, reads its stdout and stderr on background threads into
//! channels, and lets a test wait for a line *with a deadline*: no test can hang, and a failing
//! wait panics with the command, both transcripts so far, and what it was waiting for. Dropping a
//! `Netchat` kills the child (by its own PID) and reaps it.
//!
//! Helpers for raw peers ([`raw_connect`], [`RawPeer`]) let a test play a hand-written client
//! byte for byte.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, unbounded};

#[cfg(unix)]
pub mod pty;

/// How long any single wait may take before the test fails. Generous, so a loaded CI machine
/// does not cause false failures, yet bounded, so nothing hangs.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// How long a test watches for something that must *not* happen (a message sent out of turn).
pub const QUIET_PERIOD: Duration = Duration::from_millis(300);

/// Path of the netchat binary cargo built for these tests.
pub fn netchat_bin() -> &'static str {
    env!("CARGO_BIN_EXE_netchat")
}

/// A one-shot run of netchat (`--help`, a usage error, `diagram`), bounded by [`DEADLINE`].
pub fn netchat_cmd() -> OneShot {
    let mut command = Command::new(netchat_bin());
    command.env_remove("NO_COLOR");
    OneShot { command }
}

/// A one-shot command: arguments in; its exit status and whole output out, within
/// [`DEADLINE`] (past it the child is killed); [`OneShot::assert`] checks them with assert_cmd.
///
/// Why not assert_cmd's own `Command::timeout`: to wait with a timeout, it installs a SIGCHLD
/// handler in this test process, for good. From then on every child that exits (each test's
/// netchat, many a second) runs the handler on some thread, interrupting the system call that
/// thread was in, and a socket read with a timeout (`SO_RCVTIMEO`, as every [`RawPeer`] has) is
/// never restarted after a handler, `SA_RESTART` or not (signal(7)): it fails with EINTR. Now and
/// then, in a full `cargo test`, [`RawPeer::expect_silence`] got "Interrupted system call"
/// instead of silence. With no handler, SIGCHLD is ignored and interrupts nothing: here the
/// wait polls, as [`wait_until_exit`] does, and no part of the harness installs one.
pub struct OneShot {
    command: Command,
}

impl OneShot {
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut OneShot {
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut OneShot
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut OneShot {
        self.command.env(key, value);
        self
    }

    /// Runs it with an empty stdin (EOF at once) and returns how it ended and what it printed;
    /// `Err` (TimedOut) if it did not end, or its output did not, within [`DEADLINE`].
    pub fn output(&mut self) -> std::io::Result<Output> {
        let deadline = Instant::now() + DEADLINE;
        self.command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn(&mut self.command);
        let stdout = read_all(child.stdout.take());
        let stderr = read_all(child.stderr.take());
        let status = wait_until_exit(&mut child).map_err(|why| {
            let _ = child.kill();
            let _ = child.wait();
            std::io::Error::new(ErrorKind::TimedOut, why)
        })?;
        // A child of its own (a pager) may hold the pipes open after it exited: bounded too.
        let gathered = |output: Receiver<Vec<u8>>| {
            output.recv_deadline(deadline).map_err(|_| {
                std::io::Error::new(ErrorKind::TimedOut, "its output did not end in time")
            })
        };
        Ok(Output {
            status,
            stdout: gathered(stdout)?,
            stderr: gathered(stderr)?,
        })
    }

    /// Runs it (see [`OneShot::output`]) for assert_cmd's checks; a run that did not end within
    /// the deadline fails the test.
    #[track_caller]
    pub fn assert(&mut self) -> assert_cmd::assert::Assert {
        let command = format!("{:?}", self.command);
        match self.output() {
            Ok(output) => {
                assert_cmd::assert::Assert::new(output).append_context("command", command)
            }
            Err(e) => panic!("{command}: {e}"),
        }
    }
}

/// Reads a child's pipe to its end on a thread of its own; the bytes arrive on the channel.
fn read_all(pipe: Option<impl Read + Send + 'static>) -> Receiver<Vec<u8>> {
    let (sender, receiver) = unbounded();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        let _ = sender.send(bytes);
    });
    receiver
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A running netchat process under test.
pub struct Netchat {
    name: String,
    command: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    transcript: Arc<Mutex<Vec<(Stream, String)>>>,
}

impl Netchat {
    /// Spawns `netchat ARGS…` with piped stdio. `name` labels it in failure messages.
    pub fn spawn(name: &str, args: &[&str]) -> Netchat {
        Netchat::spawn_stdout(name, args, true)
    }

    /// Spawns `netchat ARGS…` whose stdout nobody reads, like `netchat … | head -0`: its stdout
    /// is a pipe whose reading end is already closed everywhere (see [`closed_pipe`]), so its
    /// first write to stdout fails with EPIPE, every time.
    pub fn spawn_without_stdout(name: &str, args: &[&str]) -> Netchat {
        Netchat::spawn_stdout(name, args, false)
    }

    /// Like [`Netchat::listen`], for a netchat whose stdout nobody reads.
    pub fn listen_without_stdout(name: &str, mode: &str, extra: &[&str]) -> (Netchat, SocketAddr) {
        let mut args = vec![mode, "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut process = Netchat::spawn_without_stdout(name, &args);
        let line = process.expect_stderr("listening on ");
        let addr = parse_listening_addr(&line)
            .unwrap_or_else(|| process.fail(&format!("no address in the line {line:?}")));
        (process, addr)
    }

    fn spawn_stdout(name: &str, args: &[&str], keep_stdout: bool) -> Netchat {
        let mut command = Command::new(netchat_bin());
        command
            .args(args)
            .env_remove("NO_COLOR")
            .stdin(Stdio::piped())
            .stderr(Stdio::piped());
        if keep_stdout {
            command.stdout(Stdio::piped());
        } else {
            command.stdout(closed_pipe());
        }
        let mut child = spawn(&mut command);
        let transcript = Arc::new(Mutex::new(Vec::new()));
        let stdout = match child.stdout.take() {
            Some(pipe) => pump(pipe, Stream::Stdout, &transcript),
            // Nobody reads this child's stdout; an empty channel stands for the output.
            None => unbounded().1,
        };
        let stderr = pump(child.stderr.take().unwrap(), Stream::Stderr, &transcript);
        Netchat {
            name: name.to_string(),
            command: format!("netchat {}", args.join(" ")),
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            transcript,
        }
    }

    /// Spawns `netchat ARGS…` with stdin from the null device (EOF at once).
    pub fn spawn_with_null_stdin(name: &str, args: &[&str]) -> Netchat {
        let mut process = Netchat::spawn(name, args);
        process.close_stdin();
        process
    }

    /// Spawns `netchat MODE --listen 127.0.0.1:0 EXTRA…` and waits for its
    /// `netchat: listening on ADDR` line. Returns the process and the address the OS chose.
    pub fn listen(name: &str, mode: &str, extra: &[&str]) -> (Netchat, SocketAddr) {
        let mut args = vec![mode, "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut process = Netchat::spawn(name, &args);
        let line = process.expect_stderr("listening on ");
        let addr = parse_listening_addr(&line)
            .unwrap_or_else(|| process.fail(&format!("no address in the line {line:?}")));
        (process, addr)
    }

    /// Spawns `netchat MODE --connect ADDR EXTRA…` (does not wait for anything).
    pub fn connect(name: &str, mode: &str, addr: SocketAddr, extra: &[&str]) -> Netchat {
        let target = addr.to_string();
        let mut args = vec![mode, "--connect", target.as_str()];
        args.extend_from_slice(extra);
        Netchat::spawn(name, &args)
    }

    /// Types one line (a newline is added).
    pub fn send_line(&mut self, line: &str) {
        self.send_bytes(format!("{line}\n").as_bytes());
    }

    /// Writes raw bytes to the child's stdin.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        let name = self.name.clone();
        let stdin = self
            .stdin
            .as_mut()
            .unwrap_or_else(|| panic!("{name}: stdin already closed"));
        if let Err(e) = stdin.write_all(bytes).and_then(|()| stdin.flush()) {
            self.fail(&format!("could not write to stdin: {e}"));
        }
    }

    /// Closes the child's stdin: the program sees EOF.
    /// Takes the child's stdin, for a test that feeds it from another thread (a write that may
    /// block while netchat is not reading its input).
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("stdin is piped and not taken yet")
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the next stdout line that contains `needle`; earlier lines are skipped.
    pub fn expect_stdout(&mut self, needle: &str) -> String {
        self.expect(Stream::Stdout, needle)
    }

    /// Waits for the next stderr line that contains `needle`; earlier lines are skipped.
    pub fn expect_stderr(&mut self, needle: &str) -> String {
        self.expect(Stream::Stderr, needle)
    }

    /// The next stdout line, whatever it is, within the deadline.
    pub fn next_stdout(&mut self) -> String {
        let deadline = Instant::now() + DEADLINE;
        match self.stdout.recv_deadline(deadline) {
            Ok(line) => line,
            Err(_) => self.fail("waited for a line on stdout"),
        }
    }

    /// Asserts that no stdout line arrives during [`QUIET_PERIOD`].
    pub fn expect_no_stdout(&mut self) {
        if let Ok(line) = self.stdout.recv_timeout(QUIET_PERIOD) {
            self.fail(&format!("expected no output, got {line:?}"));
        }
    }

    fn expect(&mut self, stream: Stream, needle: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        let receiver = match stream {
            Stream::Stdout => self.stdout.clone(),
            Stream::Stderr => self.stderr.clone(),
        };
        loop {
            match receiver.recv_deadline(deadline) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => self.fail(&format!(
                    "waited {DEADLINE:?} for {stream:?} containing {needle:?}"
                )),
                Err(RecvTimeoutError::Disconnected) => self.fail(&format!(
                    "{stream:?} closed before a line containing {needle:?}"
                )),
            }
        }
    }

    /// The exit status if the process has already exited, without waiting.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for the process to exit, within the deadline, and returns its status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        wait_until_exit(&mut self.child).unwrap_or_else(|why| self.fail(&why))
    }

    /// Waits for the exit and asserts its code.
    pub fn expect_exit_code(&mut self, code: i32) {
        let status = self.wait_exit();
        if status.code() != Some(code) {
            self.fail(&format!("expected exit code {code}, got {status}"));
        }
    }

    /// The process ID, e.g. to read /proc or to send a signal to this child only.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`"INT"`, `"TERM"`, `"HUP"`…) to this child only, by its PID, as a user's
    /// Ctrl-C, `kill` or closed terminal window would.
    #[cfg(unix)]
    pub fn signal(&self, signal: &str) {
        let mut kill = Command::new("kill");
        kill.args([format!("-{signal}"), self.pid().to_string()]);
        let status = spawn(&mut kill).wait();
        match status {
            Ok(status) if status.success() => {}
            other => self.fail(&format!("kill -{signal} failed: {other:?}")),
        }
    }

    /// Kills the child now (SIGKILL on Unix).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Everything the child printed so far, in order, for failure messages.
    pub fn transcript(&self) -> String {
        let lines = self
            .transcript
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lines
            .iter()
            .map(|(stream, line)| match stream {
                Stream::Stdout => format!("  out| {line}\n"),
                Stream::Stderr => format!("  err| {line}\n"),
            })
            .collect()
    }

    /// Fails the test with the full story of this process.
    pub fn fail(&self, what: &str) -> ! {
        panic!(
            "{name}: {what}\ncommand: {command}\ntranscript:\n{transcript}",
            name = self.name,
            command = self.command,
            transcript = self.transcript()
        )
    }
}

impl Drop for Netchat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Held while a child is spawned and while [`closed_pipe`] makes its pipe, so the two never
/// overlap (see there).
static SPAWN_LOCK: Mutex<()> = Mutex::new(());

/// Spawns `command` (every child of the harness starts here; see [`closed_pipe`] for why).
pub fn spawn(command: &mut Command) -> Child {
    let _spawning = SPAWN_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    command
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {command:?}: {e}"))
}

/// The writing end of a pipe whose reading end is closed: a stdout nobody reads.
///
/// Why not spawn with `Stdio::piped()` and drop the reading end afterwards? Tests run in
/// parallel threads, and a child spawned by another thread gets a copy of every file descriptor
/// of this process between its fork and its exec. If that copy includes our reading end, the
/// pipe still has a reader for a moment: netchat's first write then succeeds, and a test that
/// expects EPIPE waits in vain (netchat goes on to wait for input). Here the reading end is
/// closed before our child even exists, while [`SPAWN_LOCK`] keeps the harness's other spawns
/// from copying it in between.
pub fn closed_pipe() -> Stdio {
    let _spawning = SPAWN_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (reader, writer) = std::io::pipe().expect("create a pipe");
    drop(reader);
    Stdio::from(writer)
}

/// Waits for `child` to exit within [`DEADLINE`]; `Err` says why it did not.
pub fn wait_until_exit(child: &mut Child) -> Result<ExitStatus, String> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) => return Err(format!("waited {DEADLINE:?} for the process to exit")),
            Err(e) => return Err(format!("could not wait for the process: {e}")),
        }
    }
}

/// Reads lines from a child's pipe into a channel and the shared transcript.
fn pump(
    pipe: impl Read + Send + 'static,
    stream: Stream,
    transcript: &Arc<Mutex<Vec<(Stream, String)>>>,
) -> Receiver<String> {
    let (sender, receiver) = unbounded();
    let transcript = Arc::clone(transcript);
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match reader.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if raw.last() == Some(&b'\n') {
                        raw.pop();
                    }
                    let line = String::from_utf8_lossy(&raw).into_owned();
                    if let Ok(mut lines) = transcript.lock() {
                        lines.push((stream, line.clone()));
                    }
                    if sender.send(line).is_err() {
                        return;
                    }
                }
            }
        }
    });
    receiver
}

/// Finds `ADDR` in `netchat: listening on ADDR (…)`.
pub fn parse_listening_addr(line: &str) -> Option<SocketAddr> {
    let after = line.split("listening on ").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

/// A hand-written peer on a raw TcpStream: the test controls every byte.
pub struct RawPeer {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

/// Waits until `stream` has bytes to read, within its read timeout, without taking them
/// (`peek`): how a test knows a line sits unread in a peer's receive buffer. A wait the process
/// is signalled in the middle of fails with EINTR and is never restarted (signal(7)): it waits
/// again, as [`RawPeer::expect_silence`] does.
pub fn wait_for_bytes(stream: &TcpStream, what: &str) {
    loop {
        match stream.peek(&mut [0u8; 1]) {
            Ok(_) => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("{what} did not arrive within the read timeout: {e}"),
        }
    }
}

/// One `read` of whatever has arrived (what one `recv` returns), within the read timeout; EINTR
/// read again, as in [`wait_for_bytes`].
pub fn read_once(stream: &mut TcpStream, buf: &mut [u8], what: &str) -> usize {
    loop {
        match stream.read(buf) {
            Ok(n) => return n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("{what}: no read within the read timeout: {e}"),
        }
    }
}

/// Whether this is a CI run (`CI=true`, as GitHub Actions, GitLab CI and most others set it).
fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !matches!(value.as_str(), "" | "0" | "false"))
}

/// Says why a test cannot run on this machine (no 127.0.0.2, a low `ulimit -n`, a small
/// `somaxconn`, no IPv6 loopback); the caller then returns early, or leaves out the part it
/// cannot check. Under `CI=true` it fails the
/// test with that reason instead: the CI machine has all of these, so there a test that skipped
/// would pass without proving anything. The one place that decides, so no call site can forget.
#[track_caller]
pub fn skip_or_fail(reason: impl std::fmt::Display) {
    if on_ci() {
        panic!("this test cannot run on this machine, and CI=true: {reason}");
    }
    eprintln!("skipped: {reason}");
}

/// Connects a raw peer to `addr`, with read timeouts so no read can hang.
pub fn raw_connect(addr: SocketAddr) -> RawPeer {
    let stream = TcpStream::connect_timeout(&addr, DEADLINE)
        .unwrap_or_else(|e| panic!("raw peer could not connect to {addr}: {e}"));
    RawPeer::new(stream)
}

/// Connects a raw peer to `addr` from the source address `from` (e.g. 127.0.0.2: every address
/// of 127.0.0.0/8 is this machine on Linux), so a test can play a second machine for the room's
/// per-address rules. `None` where the system cannot bind there (macOS has only 127.0.0.1 until
/// an alias is added): [`skip_or_fail`] said why, and the caller returns.
pub fn raw_connect_from(from: std::net::IpAddr, addr: SocketAddr) -> Option<RawPeer> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .expect("a TCP socket");
    socket
        .bind(&SocketAddr::new(from, 0).into())
        .map_err(|e| skip_or_fail(format_args!("cannot bind a socket to {from}: {e}")))
        .ok()?;
    socket
        .connect_timeout(&addr.into(), DEADLINE)
        .unwrap_or_else(|e| panic!("raw peer from {from} could not connect to {addr}: {e}"));
    Some(RawPeer::new(socket.into()))
}

/// A netchat room client that joined as `nick` (waits for the server's confirmation).
pub fn room_join(addr: SocketAddr, nick: &str) -> Netchat {
    let mut client = Netchat::connect(nick, "room", addr, &["--nick", nick]);
    client.expect_stdout(&format!("*** you are now {nick}"));
    client
}

/// A raw room client (what `nc` does) that took the name `nick`.
pub fn room_raw_join(addr: SocketAddr, nick: &str) -> RawPeer {
    let mut peer = raw_connect(addr);
    peer.send(format!("/nick {nick}\r\n").as_bytes());
    peer.read_until(&format!("*** you are now {nick}"));
    peer
}

/// A loopback listener on a port the OS chooses, for tests where netchat connects to a raw peer.
pub fn raw_listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    (listener, addr)
}

/// A raw listener whose connections have a receive buffer of a few KiB: a peer that never
/// reads is then full after that much, not after the megabytes loopback otherwise allows, so a
/// sender's `write()` blocks soon.
pub fn small_window_listener() -> (TcpListener, SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    // Set before listen: accepted connections inherit it, and it caps the window offered.
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    socket.bind(&addr.into()).expect("bind 127.0.0.1:0");
    socket.listen(1).expect("listen");
    let listener: TcpListener = socket.into();
    let addr = listener.local_addr().expect("local_addr");
    (listener, addr)
}

/// Accepts one connection on a raw listener, within the deadline.
pub fn raw_accept(listener: &TcpListener) -> RawPeer {
    listener.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + DEADLINE;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).expect("blocking");
                return RawPeer::new(stream);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("raw listener: no connection within {DEADLINE:?}: {e}"),
        }
    }
}

impl RawPeer {
    /// A raw peer on a socket the test connected itself (e.g. with socket options set first).
    pub fn new(stream: TcpStream) -> RawPeer {
        stream
            .set_read_timeout(Some(DEADLINE))
            .expect("read timeout");
        stream.set_nodelay(true).expect("nodelay");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        RawPeer { stream, reader }
    }

    /// Sends these exact bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("raw peer: write");
    }

    /// Reads one line (without its newline), within the deadline.
    pub fn read_line(&mut self) -> String {
        let mut raw = Vec::new();
        match self.reader.read_until(b'\n', &mut raw) {
            Ok(0) => panic!("raw peer: connection closed while waiting for a line"),
            Ok(_) if raw.last() == Some(&b'\n') => {
                raw.pop();
                String::from_utf8_lossy(&raw).into_owned()
            }
            Ok(_) => panic!("raw peer: connection closed in the middle of a line: {raw:?}"),
            Err(e) => panic!("raw peer: no line within {DEADLINE:?}: {e}"),
        }
    }

    /// Reads lines until one contains `needle` and returns it (each read has the deadline).
    pub fn read_until(&mut self, needle: &str) -> String {
        loop {
            let line = self.read_line();
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// Reads exactly `n` bytes, within the deadline: what a script's `recv` would see, newline
    /// or not.
    pub fn read_exactly(&mut self, n: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; n];
        match self.reader.read_exact(&mut bytes) {
            Ok(()) => bytes,
            Err(e) => panic!("raw peer: {n} bytes did not arrive within {DEADLINE:?}: {e}"),
        }
    }

    /// Asserts that nothing arrives during [`QUIET_PERIOD`].
    ///
    /// A read with a timeout that the process is stopped or signalled in the middle of fails
    /// with EINTR (signal(7): such reads are never restarted): nothing arrived yet, so it reads
    /// again for what is left of the period, as `read_exact` and `read_until` do on their own.
    pub fn expect_silence(&mut self) {
        let end = Instant::now() + QUIET_PERIOD;
        let mut byte = [0u8; 1];
        let result = loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Err(ErrorKind::TimedOut.into());
            }
            self.stream.set_read_timeout(Some(left)).expect("timeout");
            match self.reader.read(&mut byte) {
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        self.stream
            .set_read_timeout(Some(DEADLINE))
            .expect("timeout");
        match result {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Ok(0) => panic!("raw peer: expected silence, the connection closed"),
            Ok(_) => panic!("raw peer: expected silence, got byte {:?}", byte[0] as char),
            Err(e) => panic!("raw peer: expected silence, got error {e}"),
        }
    }

    /// Waits for the other side to close (read returns 0), within the deadline.
    pub fn expect_eof(&mut self) {
        let rest = self.read_to_eof();
        assert!(rest.is_empty(), "raw peer: expected EOF, got {rest:?}");
    }

    /// Reads whatever still arrives until the other side closes (read returns 0), within the
    /// deadline (each read has it), and returns it.
    pub fn read_to_eof(&mut self) -> String {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => String::from_utf8_lossy(&rest).into_owned(),
            Err(e) => panic!("raw peer: expected EOF within {DEADLINE:?}: {e}"),
        }
    }
}

/// A fresh path in the system's temporary folder for a file a test makes netchat write (an
/// event log, a trace): unique to this process and `name`, removed first if a previous run left
/// it.
pub fn temp_path(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("netchat-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// The two engines a room server can run on (`--engine`). The room's tests are written once, as
/// functions taking an `Engine`, and [`engine_tests!`] runs each of them on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Threads,
    Poll,
}

impl Engine {
    /// The value of `--engine`.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Threads => "threads",
            Engine::Poll => "poll",
        }
    }

    /// `netchat room --listen 127.0.0.1:0 --engine ENGINE EXTRA…`, once it listens.
    pub fn listen(self, name: &str, extra: &[&str]) -> (Netchat, SocketAddr) {
        let mut args = vec!["--engine", self.name()];
        args.extend_from_slice(extra);
        Netchat::listen(name, "room", &args)
    }
}

/// For each listed `fn NAME(engine: Engine)`, a test per engine: `threads::NAME`, `poll::NAME`.
/// One set of tests, two engines: whatever the room promises, both engines keep.
macro_rules! engine_tests {
    ($($name:ident),* $(,)?) => {
        mod threads {
            $(#[test]
            fn $name() {
                super::$name(crate::common::Engine::Threads)
            })*
        }
        mod poll {
            $(#[test]
            fn $name() {
                super::$name(crate::common::Engine::Poll)
            })*
        }
    };
}
pub(crate) use engine_tests;

/// A figure in kB from /proc/PID/status (`VmRSS`: resident now, `VmHWM`: the most ever
/// resident), Linux only; `None` once the process is gone.
#[cfg(target_os = "linux")]
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let value = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?;
    value.split_whitespace().next()?.parse().ok()
}

/// How many entries /proc/PID/DIR holds (`task`: threads, `fd`: open files), Linux only; 0 once
/// the process is gone.
#[cfg(target_os = "linux")]
pub fn proc_entries(pid: u32, dir: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/{dir}")).map_or(0, std::iter::Iterator::count)
}

/// The harness's own promise, checked where it once broke: a raw peer's quiet period is silence
/// even while children exit, after a one-shot run (which once left a SIGCHLD handler behind,
/// see [`OneShot`]). The SIGCHLDs go to this very thread, so a handler, if there were one, would
/// interrupt the read every time: the harness neither installs one nor takes an interrupted read
/// for a failure.
#[cfg(unix)]
#[test]
fn a_raw_peers_quiet_period_is_not_cut_short_by_a_child_exiting() {
    use nix::sys::pthread::{pthread_kill, pthread_self};
    use nix::sys::signal::Signal;
    use std::sync::atomic::{AtomicBool, Ordering};

    netchat_cmd().arg("--version").assert().success();
    let (listener, addr) = raw_listener();
    let mut peer = raw_connect(addr);
    let _silent = raw_accept(&listener);
    let reader = pthread_self();
    let done = Arc::new(AtomicBool::new(false));
    let signalling = Arc::clone(&done);
    let signaller = thread::spawn(move || {
        while !signalling.load(Ordering::SeqCst) {
            pthread_kill(reader, Signal::SIGCHLD).expect("signal the reading thread");
            thread::sleep(Duration::from_millis(10));
        }
    });
    peer.expect_silence();
    done.store(true, Ordering::SeqCst);
    signaller.join().expect("the signalling thread");
}
