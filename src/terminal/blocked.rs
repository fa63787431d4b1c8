//! The blocked-call status line: on a terminal, `half` shows which call its one thread is
//! blocked in, and for how long, while it waits for the peer.
//!
//! A blocked thread cannot draw anything: it is asleep in the kernel. So a small helper thread
//! (`blocked-status`) redraws the line once a second until the call returns. The line is printed
//! on its own row, with the cursor left on the row below, where the terminal (in its normal,
//! cooked mode) echoes whatever the student types out of turn; each redraw saves the cursor,
//! goes up one row, rewrites the status and restores the cursor, so a half-typed line is never
//! touched.
//!
//! Once a whole line has been typed (Enter), the echo has moved the cursor a row down and "one
//! row up" is no longer the status line: the helper stops redrawing, leaving the last count
//! standing. It notices the Enter the way the kernel reports it — in cooked mode stdin becomes
//! readable only when a whole line is there — by polling stdin without reading from it.

use std::io::{self, IsTerminal, Write};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use colored::Colorize;
use crossbeam_channel::{RecvTimeoutError, Sender, bounded};
use crossterm::{cursor, queue, terminal};

use crate::console::SharedWriter;
use crate::observe::Call;

/// How often the status line counts up: the count is in whole seconds.
const TICK: Duration = Duration::from_secs(1);

/// The status line while a call blocks (see the module doc). Dropping it — the call returned —
/// stops and joins the helper thread; the line stays on the screen with its last count.
pub struct BlockedLine {
    /// Dropped to stop the helper (its `recv_timeout` then sees the channel disconnected).
    stop: Option<Sender<()>>,
    helper: Option<JoinHandle<()>>,
}

impl BlockedLine {
    // ANCHOR: blocked_line
    /// Prints `netchat: blocked in …` on `err` (the console's stderr, a terminal) and starts
    /// counting the seconds. If the helper thread cannot start, the line simply stays still.
    pub fn show(err: SharedWriter, call: Call) -> BlockedLine {
        // Cursor moves make sense on a screen only: with `2> file` there is no line to redraw.
        if !io::stderr().is_terminal() {
            return BlockedLine {
                stop: None,
                helper: None,
            };
        }
        let started = Instant::now();
        draw(&err, call, None);
        let (stop, stopped) = bounded::<()>(0);
        let helper = thread::Builder::new()
            .name("blocked-status".into())
            .spawn(move || {
                let mut typed = TypedLine::watch();
                loop {
                    match stopped.recv_timeout(TICK) {
                        Err(RecvTimeoutError::Timeout) => {}
                        // The call returned (or nobody will ever stop us): done.
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                    if typed.arrived() {
                        return;
                    }
                    draw(&err, call, Some(started.elapsed()));
                }
            })
            .ok();
        BlockedLine {
            stop: Some(stop),
            helper,
        }
    }
    // ANCHOR_END: blocked_line
}

impl Drop for BlockedLine {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(helper) = self.helper.take() {
            let _ = helper.join();
        }
    }
}

/// Writes the status line: the first time as a new row, then over that row (one up).
fn draw(err: &SharedWriter, call: Call, waited: Option<Duration>) {
    let words = format!("blocked in {} — {}", call.name(), call.waits_for());
    let count = waited.map_or(String::new(), |waited| format!(" ({} s)", waited.as_secs()));
    // A row that wrapped would put the status two rows up: cut the words (never the count) to
    // the terminal's width. Every character here is one column wide.
    let width = terminal::size().map_or(80, |(columns, _)| usize::from(columns));
    let room = width.saturating_sub("netchat: ".len() + count.len() + 1);
    let text: String = words.chars().take(room).chain(count.chars()).collect();
    let mut err = err
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let drawn = match waited {
        None => writeln!(err, "{} {}", "netchat:".dimmed(), text.cyan()),
        Some(_) => redraw_above(&mut *err, &text),
    };
    let _ = drawn.and_then(|()| err.flush());
}

/// Rewrites the row above the cursor and puts the cursor back where the echo left it, in one
/// `write` (stderr is unbuffered: in pieces, the screen would flicker through the cursor moves).
fn redraw_above(err: &mut impl Write, text: &str) -> io::Result<()> {
    let mut redraw = Vec::new();
    queue!(
        redraw,
        cursor::SavePosition,
        cursor::MoveUp(1),
        cursor::MoveToColumn(0),
        terminal::Clear(terminal::ClearType::CurrentLine)
    )?;
    write!(redraw, "{} {}", "netchat:".dimmed(), text.cyan())?;
    queue!(redraw, cursor::RestorePosition)?;
    err.write_all(&redraw)
}

/// Whether a whole line has been typed on stdin since the wait began, without reading it (the
/// keys belong to the next turn). On Unix: poll stdin, which the tty driver in cooked mode
/// reports readable only once Enter was pressed.
struct TypedLine {
    #[cfg(unix)]
    poll: Option<(mio::Poll, mio::Events)>,
}

impl TypedLine {
    fn watch() -> TypedLine {
        #[cfg(unix)]
        {
            use mio::unix::SourceFd;
            use mio::{Interest, Poll, Token};
            // Registering only asks the kernel to tell us; stdin stays blocking and unread.
            let poll = Poll::new().ok().and_then(|poll| {
                poll.registry()
                    .register(&mut SourceFd(&0), Token(0), Interest::READABLE)
                    .ok()?;
                Some((poll, mio::Events::with_capacity(1)))
            });
            TypedLine { poll }
        }
        #[cfg(not(unix))]
        TypedLine {}
    }

    /// True once a line is waiting on stdin. When that cannot be known, always true: then the
    /// status line is drawn once and never redrawn, which can never overwrite a typed line.
    fn arrived(&mut self) -> bool {
        #[cfg(unix)]
        {
            let Some((poll, events)) = &mut self.poll else {
                return true;
            };
            // A zero timeout: look, do not wait. The registration is edge-triggered, which is
            // enough: the caller stops at the first readiness it sees.
            match poll.poll(events, Some(Duration::ZERO)) {
                Ok(()) => !events.is_empty(),
                Err(e) => e.kind() != io::ErrorKind::Interrupted,
            }
        }
        #[cfg(not(unix))]
        true
    }
}
