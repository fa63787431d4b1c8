//! Send shaping: splitting and merging messages *on purpose*, to see what TCP does with them.
//!
//! On loopback every `write` arrives at once, so the framing bugs students write (treating one
//! `recv()` as one message) only show up later, on a real network. `--chop`, `--delay` and
//! `--coalesce` cause those effects on one laptop:
//!
//! - `--chop BYTES`: each message leaves in pieces of at most BYTES bytes, one `write` each, so
//!   a reader gets it over several `read`s (split);
//! - `--delay MS`: at least MS milliseconds between two `write`s, so the pieces really arrive
//!   apart (and Nagle's algorithm, with `--nodelay off`, has something to hold back);
//! - `--coalesce N` (duplex): N messages gathered into one `write`, so a reader gets them from
//!   one `read` (merged).
//!
//! A netchat peer with line framing still shows whole lines either way; a `--framing raw` peer
//! (or a script calling `recv(1024)`) shows the pieces and the glued messages. Nothing here runs
//! unless asked: [`Shaped`] passes writes straight through when shaping is off.

use std::io::{self, Write};
use std::thread;
use std::time::{Duration, Instant};

/// `--chop`, `--delay` and `--coalesce`, as the command line gave them (all off by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shaping {
    /// Write each message in pieces of at most this many bytes.
    pub chop: Option<usize>,
    /// Wait at least this long between two writes.
    pub delay: Option<Duration>,
    /// Gather this many messages into one write.
    pub coalesce: Option<usize>,
}

/// With `--coalesce N`, how long a gathered batch waits for more messages before it leaves
/// anyway ("when N are there or input pauses"): long enough to type a few lines into one batch,
/// short enough that a lone line does not seem lost.
pub const COALESCE_PAUSE: Duration = Duration::from_secs(2);

impl Shaping {
    /// Whether any shaping is asked for. When not, every send path stays as it is.
    pub fn is_on(&self) -> bool {
        self.chop.is_some() || self.delay.is_some() || self.coalesce.is_some()
    }

    /// One sentence for the status line, so the student knows the experiment is running.
    pub fn describe(&self) -> Option<String> {
        if !self.is_on() {
            return None;
        }
        let mut parts = Vec::new();
        if let Some(n) = self.coalesce {
            parts.push(format!("{n} messages per write()"));
        }
        if let Some(bytes) = self.chop {
            parts.push(format!("each message in pieces of at most {bytes} bytes"));
        }
        if let Some(delay) = self.delay {
            parts.push(format!("{} ms between writes", delay.as_millis()));
        }
        Some(format!("send shaping: {}", parts.join(", ")))
    }
}

/// A writer that applies `--chop` and `--delay` to every `write` it passes on: at most `chop`
/// bytes per call, and at least `delay` since the previous call. `write_all` then makes as many
/// calls as there are pieces, each one its own system call on the socket below.
pub struct Shaped<W> {
    inner: W,
    shaping: Shaping,
    /// When the last `write` went out, for `--delay`.
    last: Option<Instant>,
}

impl<W: Write> Shaped<W> {
    pub fn new(inner: W, shaping: Shaping) -> Shaped<W> {
        Shaped {
            inner,
            shaping,
            last: None,
        }
    }

    /// The wrapped writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }
}

impl<W: Write> Write for Shaped<W> {
    // ANCHOR: shaped_write
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.shaping.is_on() {
            return self.inner.write(buf);
        }
        if let (Some(delay), Some(last)) = (self.shaping.delay, self.last) {
            // Blocking the sender is the point: the pieces must really leave apart.
            thread::sleep(delay.saturating_sub(last.elapsed()));
        }
        let piece = buf.len().min(self.shaping.chop.unwrap_or(usize::MAX));
        let written = self.inner.write(&buf[..piece]);
        self.last = Some(Instant::now());
        written
    }
    // ANCHOR_END: shaped_write

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records each `write` call it gets.
    #[derive(Default)]
    struct Calls(Vec<Vec<u8>>);

    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn off_passes_each_write_through_whole() {
        let mut shaped = Shaped::new(Calls::default(), Shaping::default());
        shaped.write_all(b"hello\n").unwrap();
        assert_eq!(shaped.inner.0, vec![b"hello\n".to_vec()]);
    }

    #[test]
    fn chop_cuts_a_message_into_pieces_of_at_most_n_bytes() {
        let shaping = Shaping {
            chop: Some(3),
            ..Shaping::default()
        };
        let mut shaped = Shaped::new(Calls::default(), shaping);
        shaped.write_all(b"hello\n").unwrap();
        shaped.write_all(b"ab\n").unwrap();
        assert_eq!(
            shaped.inner.0,
            vec![b"hel".to_vec(), b"lo\n".to_vec(), b"ab\n".to_vec()]
        );
    }

    #[test]
    fn delay_spaces_the_writes() {
        let shaping = Shaping {
            chop: Some(2),
            delay: Some(Duration::from_millis(20)),
            ..Shaping::default()
        };
        let mut shaped = Shaped::new(Calls::default(), shaping);
        let start = Instant::now();
        shaped.write_all(b"abcd").unwrap();
        // Two pieces, so at least one delay between them (a lower bound: never flaky).
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(shaped.inner.0.len(), 2);
    }
}
