//! What the operating system gives a room: how many clients it can hold (the open-file limit, for
//! every engine; the threads engine adds its own in threads.rs), named threads and how their end
//! is waited for, and the words for a broken connection.

use std::io;
use std::thread::{self, JoinHandle};

use crate::console::Console;
use crate::error::{Error, Result};

/// File descriptors kept free for everything that is not a client: stdio, the listener, the
/// terminal, the poll engine's epoll descriptor, and a margin for the refusals in flight.
const FILES_RESERVED: usize = 32;

/// A limit the system puts on how many clients a room can hold, and why, in words the operator
/// can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub clients: usize,
    pub why: String,
}

/// The open-file limit, which binds every engine: each client is one socket, one file
/// descriptor. The soft limit is often 1,024 (`ulimit -n`); a process may raise it itself up to
/// the hard limit, so we do. std has no call for it (`setrlimit`); the `rlimit` crate wraps it,
/// and knows macOS's lower real maximum (`kern.maxfilesperproc`).
// ANCHOR: file_limit
pub fn file_limit() -> Limit {
    let files = rlimit::increase_nofile_limit(u64::MAX).map_or(usize::MAX, |soft| {
        usize::try_from(soft).unwrap_or(usize::MAX)
    });
    Limit {
        clients: files.saturating_sub(FILES_RESERVED),
        why: format!(
            "the open-file limit is {files} and each client needs one; \
             raise it with `ulimit -n` (or its hard limit, in /etc/security/limits.conf)"
        ),
    }
}
// ANCHOR_END: file_limit

/// How many clients the room admits: `requested` (`--max-clients`), or fewer if one of the
/// system's `limits` is lower, in which case the operator is told which one and how to raise
/// it. Past such a limit a new client would not get a polite "room is full" but a failed
/// `accept` (or, for the threads engine, a thread that cannot start).
pub fn admission_limit(requested: usize, limits: &[Limit], console: &mut Console) -> usize {
    let tightest = limits.iter().min_by_key(|limit| limit.clients);
    match tightest {
        Some(limit) if limit.clients < requested => {
            console.notice(&format!(
                "this system lets the room hold {} clients, not {requested}: {}; \
                 later ones are told the room is full",
                limit.clients, limit.why
            ));
            limit.clients
        }
        _ => requested,
    }
}

/// How a broken connection is described to the room: "reset by the peer" rather than the OS's
/// wording, which differs between systems.
pub fn describe(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            "reset by the peer".to_string()
        }
        _ => error.to_string(),
    }
}

/// Starts a named thread (names show in debuggers, `top -H` and /proc/PID/task/*/comm).
pub fn spawn_named<F>(name: &str, stack: Option<usize>, body: F) -> Result<JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    let mut builder = thread::Builder::new().name(name.to_string());
    if let Some(size) = stack {
        builder = builder.stack_size(size);
    }
    builder
        .spawn(body)
        .map_err(|e| Error::io(format!("starting thread {name}"), e))
}

/// Waits for one of the room's threads to end. A thread that panicked (a bug in netchat, which
/// the panic message above says) is [`Error::ThreadDied`]: netchat then ends with exit 1 and one
/// line naming the thread, never with a 0 that says the room closed normally.
pub fn join(handle: JoinHandle<()>, thread: &'static str) -> Result<()> {
    handle.join().map_err(|_| Error::ThreadDied { thread })
}
