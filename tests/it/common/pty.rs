//! netchat under a pseudo-terminal, as a student runs it: the test types keys as a terminal sends
//! them (`\x1b[D` for Left, `\r` for Enter, `\x03` for Ctrl-C) and reads the screen through a
//! terminal emulator (the `vt100` crate), so it asserts what a person would see — where the
//! cursor is, what is on each row — not which escape codes were written.
//!
//! The child gets the pseudo-terminal as stdin, stdout and stderr, in a session of its own with
//! the terminal as its controlling terminal, so Ctrl-C in cooked mode is a real SIGINT from the
//! kernel. Every wait has the harness's deadline; dropping a [`Tty`] kills the child.

use std::fs::File;
use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, unbounded};
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::pty::{Winsize, openpty};
use nix::sys::signal::{Signal, kill};
use nix::sys::termios::{LocalFlags, tcgetattr};
use nix::unistd::Pid;

use super::{DEADLINE, netchat_bin, wait_until_exit};

/// Keys as a terminal (xterm, and so every terminal emulator a student uses) sends them.
pub mod keys {
    pub const ENTER: &str = "\r";
    pub const LEFT: &str = "\x1b[D";
    pub const RIGHT: &str = "\x1b[C";
    pub const UP: &str = "\x1b[A";
    pub const DOWN: &str = "\x1b[B";
    pub const HOME: &str = "\x1b[H";
    pub const END: &str = "\x1b[F";
    pub const DELETE: &str = "\x1b[3~";
    pub const BACKSPACE: &str = "\x7f";
    pub const CTRL_LEFT: &str = "\x1b[1;5D";
    pub const CTRL_RIGHT: &str = "\x1b[1;5C";
    pub const ALT_B: &str = "\x1bb";
    pub const ALT_F: &str = "\x1bf";
    pub const CTRL_A: &str = "\x01";
    pub const CTRL_C: &str = "\x03";
    pub const CTRL_E: &str = "\x05";
    pub const CTRL_K: &str = "\x0b";
    pub const CTRL_L: &str = "\x0c";
    pub const CTRL_U: &str = "\x15";
    pub const CTRL_W: &str = "\x17";
}

/// A netchat running in a pseudo-terminal of a fixed size.
pub struct Tty {
    name: String,
    command: String,
    child: Child,
    /// The terminal's master side, for typing; `None` once the window is closed.
    master: Option<File>,
    /// Tells the output pump to stop and close its handle of the master side.
    closing: Arc<AtomicBool>,
    pump: Option<thread::JoinHandle<()>>,
    /// Kept to read the terminal's mode (raw or cooked) as the child left it.
    slave: OwnedFd,
    output: Receiver<Vec<u8>>,
    screen: vt100::Parser,
}

impl Tty {
    /// Starts `netchat ARGS…` in a terminal `columns` wide and `rows` high.
    pub fn spawn(name: &str, args: &[&str], rows: u16, columns: u16) -> Tty {
        Tty::spawn_with_env(name, args, &[], rows, columns)
    }

    /// Like [`Tty::spawn`], with these environment variables set.
    pub fn spawn_with_env(
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
        rows: u16,
        columns: u16,
    ) -> Tty {
        let size = Winsize {
            ws_row: rows,
            ws_col: columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(Some(&size), None).expect("openpty");
        // Other tests start children at the same time: they must not inherit this terminal.
        for fd in [&pty.master, &pty.slave] {
            fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).expect("cloexec");
        }
        let stdio = || Stdio::from(pty.slave.try_clone().expect("dup the terminal"));
        let mut command = Command::new(netchat_bin());
        command
            .args(args)
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .envs(env.iter().copied())
            .stdin(stdio())
            .stdout(stdio())
            .stderr(stdio());
        // SAFETY: between fork and exec only async-signal-safe calls: setsid and ioctl.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(|| {
                // A session of its own, with this terminal as its controlling terminal: then the
                // kernel turns Ctrl-C into SIGINT for it, as in a real terminal window.
                nix::unistd::setsid()?;
                if nix::libc::ioctl(0, nix::libc::TIOCSCTTY as _, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", netchat_bin()));
        let master = File::from(pty.master);
        let reader = master.try_clone().expect("clone the terminal");
        let closing = Arc::new(AtomicBool::new(false));
        let (output, pump) = pump(reader, Arc::clone(&closing));
        Tty {
            name: name.to_string(),
            command: format!("netchat {}", args.join(" ")),
            child,
            master: Some(master),
            closing,
            pump: Some(pump),
            slave: pty.slave,
            output,
            screen: vt100::Parser::new(non_zero(rows), non_zero(columns), 0),
        }
    }

    /// Types these keys (see [`keys`]), all in one write, as a fast typist or a paste would.
    pub fn type_keys(&mut self, keys: &str) {
        let Some(master) = self.master.as_mut() else {
            self.fail("typing after the window was closed")
        };
        if let Err(e) = master.write_all(keys.as_bytes()) {
            self.fail(&format!("could not type {keys:?}: {e}"));
        }
    }

    /// Pastes `text` from a thread of its own, as a terminal writes a paste: as fast as netchat
    /// reads it. A netchat that stops reading (its queues full) cannot block the test: the
    /// writer gives up when the [`Paste`] is dropped, or when the terminal is gone.
    pub fn paste_in_background(&mut self, text: Vec<u8>) -> Paste {
        let Some(master) = self.master.as_ref() else {
            self.fail("pasting after the window was closed")
        };
        let mut master = master.try_clone().expect("clone the terminal");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let (done, written) = unbounded();
        let writer = thread::spawn(move || {
            for chunk in text.chunks(256) {
                // Write only when the terminal has room, a short wait at a time, to notice `stop`.
                loop {
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let mut ready = [PollFd::new(master.as_fd(), PollFlags::POLLOUT)];
                    match poll(&mut ready, PollTimeout::from(50u16)) {
                        Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                        Ok(_) => break,
                        Err(_) => return,
                    }
                }
                if master.write_all(chunk).is_err() {
                    return;
                }
            }
            let _ = done.send(());
        });
        Paste {
            stop,
            written,
            writer: Some(writer),
        }
    }

    /// Whether netchat has asked the terminal for bracketed paste (`ESC [ ? 2004 h`): then a
    /// terminal wraps a paste in `ESC [ 200 ~` … `ESC [ 201 ~`.
    pub fn bracketed_paste(&mut self) -> bool {
        self.screen();
        self.screen.screen().bracketed_paste()
    }

    /// Closes the terminal window: every handle of the master side is closed, the kernel hangs
    /// the terminal up and sends SIGHUP to the process that owns it. The screen is gone too.
    pub fn close_window(&mut self) {
        self.master = None;
        self.closing.store(true, Ordering::SeqCst);
        if let Some(pump) = self.pump.take() {
            let _ = pump.join();
        }
    }

    /// Waits until the screen satisfies `ready`, and returns its rows.
    pub fn wait_for(&mut self, what: &str, ready: impl Fn(&Screen) -> bool) -> Screen {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            match self.output.recv_deadline(deadline) {
                Ok(bytes) => self.screen.process(&bytes),
                Err(RecvTimeoutError::Timeout) => self.fail(&format!(
                    "waited {DEADLINE:?} for the screen to show {what}"
                )),
                Err(RecvTimeoutError::Disconnected) => {
                    self.fail(&format!("the terminal closed before it showed {what}"))
                }
            }
        }
    }

    /// Waits until some row contains `needle`.
    pub fn wait_for_text(&mut self, needle: &str) -> Screen {
        self.wait_for(&format!("{needle:?}"), |screen| {
            screen.rows.iter().any(|row| row.contains(needle))
        })
    }

    /// Waits until the row the cursor is on reads `row` (trailing blanks ignored) with the
    /// cursor in column `column`: the line being edited, and where the next key goes.
    pub fn wait_for_cursor_row(&mut self, row: &str, column: u16) -> Screen {
        self.wait_for(
            &format!("the cursor's row {row:?}, cursor in column {column}"),
            |s| s.cursor_row() == row && s.cursor.1 == column,
        )
    }

    /// The screen as it is now, after everything received so far.
    pub fn screen(&mut self) -> Screen {
        while let Ok(bytes) = self.output.try_recv() {
            self.screen.process(&bytes);
        }
        let screen = self.screen.screen();
        let (_, columns) = screen.size();
        Screen {
            rows: screen
                .rows(0, columns.get())
                .map(|row| row.trim_end().to_string())
                .collect(),
            cursor: screen.cursor_position(),
        }
    }

    /// Whether the terminal is in raw mode now (the kernel neither echoes nor collects lines).
    pub fn is_raw(&self) -> bool {
        let mode = tcgetattr(&self.slave).expect("tcgetattr");
        !mode.local_flags.contains(LocalFlags::ICANON)
    }

    /// Waits until netchat has switched the terminal to raw mode (its line editor is running).
    pub fn wait_for_raw_mode(&mut self) {
        let deadline = Instant::now() + DEADLINE;
        while !self.is_raw() {
            // Output arrives as the editor draws its prompt, right after raw mode is on.
            match self.output.recv_deadline(deadline) {
                Ok(bytes) => self.screen.process(&bytes),
                Err(_) if self.is_raw() => return,
                Err(_) => self.fail("waited for the terminal to be in raw mode"),
            }
        }
    }

    /// Sends a signal to this child only, by its PID.
    pub fn signal(&mut self, signal: Signal) {
        send_signal(self.child.id(), signal);
    }

    /// Waits for the child to exit, within the deadline.
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

    /// Fails the test with the command and the screen as it is.
    pub fn fail(&mut self, what: &str) -> ! {
        let screen = self.screen();
        panic!(
            "{name}: {what}\ncommand: {command}\nscreen (cursor at row {}, column {}):\n{}",
            screen.cursor.0,
            screen.cursor.1,
            screen
                .rows
                .iter()
                .map(|row| format!("  |{row}\n"))
                .collect::<String>(),
            name = self.name,
            command = self.command,
        )
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A paste being written by [`Tty::paste_in_background`]; dropping it stops the writer.
pub struct Paste {
    stop: Arc<AtomicBool>,
    written: Receiver<()>,
    writer: Option<thread::JoinHandle<()>>,
}

impl Paste {
    /// Waits until every byte was written to the terminal (read by netchat, or in the kernel's
    /// buffer for it), within the deadline.
    pub fn wait_written(&mut self) {
        let deadline = Instant::now() + DEADLINE;
        assert!(
            self.written.recv_deadline(deadline).is_ok(),
            "the paste was not read within {DEADLINE:?}"
        );
    }
}

impl Drop for Paste {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// What the terminal shows: each row without trailing blanks, and the cursor (row, column).
#[derive(Debug, Clone)]
pub struct Screen {
    pub rows: Vec<String>,
    pub cursor: (u16, u16),
}

impl Screen {
    /// The row the cursor is on.
    pub fn cursor_row(&self) -> &str {
        self.rows
            .get(usize::from(self.cursor.0))
            .map_or("", String::as_str)
    }

    /// The index of the first row containing `needle`.
    pub fn find(&self, needle: &str) -> Option<usize> {
        self.rows.iter().position(|row| row.contains(needle))
    }
}

fn non_zero(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).expect("a terminal has at least one row and one column")
}

/// Reads the terminal's output into a channel until the child's side is closed, or until
/// `closing` is set: then it drops its handle of the master side (see [`Tty::close_window`]).
fn pump(mut master: File, closing: Arc<AtomicBool>) -> (Receiver<Vec<u8>>, thread::JoinHandle<()>) {
    let (sender, receiver) = unbounded();
    let handle = thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        loop {
            // Wait for output a short while at a time, to notice `closing`: a blocked `read`
            // could not be interrupted.
            let mut ready = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
            match poll(&mut ready, PollTimeout::from(50u16)) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => {
                    if closing.load(Ordering::SeqCst) {
                        return;
                    }
                    continue;
                }
                Ok(_) => {}
                Err(_) => return,
            }
            match master.read(&mut buffer) {
                // EIO once every process has closed the terminal: the end, like 0.
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if sender.send(buffer[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    (receiver, handle)
}

/// Sends a signal to one process, by its PID (a [`super::Netchat`] with piped stdio, say).
pub fn send_signal(pid: u32, signal: Signal) {
    let pid = Pid::from_raw(i32::try_from(pid).expect("a PID fits in i32"));
    kill(pid, signal).unwrap_or_else(|e| panic!("could not send {signal} to {pid}: {e}"));
}
