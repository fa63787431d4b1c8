//! The blocking readers: a [`LineDecoder`] driven by `read` calls on a socket or stdin
//! ([`LineReader`]), one message per `read` for `--framing raw` ([`ChunkReader`]), the two behind
//! one type ([`MessageReader`]); each reports its reads to a [`Watch`] (`--trace`, `--events`).
//! And the hint for a peer that does not frame its messages ([`UnframedHint`]), timed by the
//! socket and said by whoever owns the console: framing never prints.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use super::decoder::{Frame, Framing, LineDecoder};
use super::messages::strip_line_ending;
use crate::observe::{Call, Watch};

/// How many bytes one `read` system call may fetch from the socket at a time.
const READ_CHUNK: usize = 8192;

/// How long a peer may leave a message without its newline before netchat suspects it does not
/// frame its messages at all (a script that pairs one `send()` with one `recv()`): a person
/// typing into nc or telnet ends every line within microseconds of its first byte arriving.
pub const UNFRAMED_AFTER: Duration = Duration::from_secs(1);

/// What the hint says (the console that owns the screen prints it: framing never prints).
pub const UNFRAMED_HINT: &str = "the peer sent bytes without a newline and nothing more for a second: \
     it may be a script that does not end its messages with a newline (one send() per message); \
     if so, run netchat with --framing raw";

/// The hint for unframed peers: when a peer has sent bytes without a newline and nothing more for
/// [`UNFRAMED_AFTER`], say once that it may be a script that does not frame its messages, and that
/// `--framing raw` is for it. Never again on that connection, and never after a newline arrived.
///
/// The one second is timed by the socket itself: only while an unfinished line waits, the reader
/// sets a read timeout, so the ordinary path (lines that end) costs nothing extra.
#[derive(Clone)]
pub struct UnframedHint {
    /// Sets the socket's read timeout (`None`: block again).
    set_timeout: Arc<dyn Fn(Option<Duration>) -> io::Result<()> + Send + Sync>,
    /// Prints the hint (on the console's stderr).
    say: Arc<dyn Fn() + Send + Sync>,
    /// The timeout is set for the read in progress.
    armed: bool,
    /// Said, or a newline arrived: nothing more to do on this connection.
    done: bool,
}

impl UnframedHint {
    /// A hint for the peer on `socket` (a handle to the socket being read); `say` prints it.
    pub fn new(socket: TcpStream, say: impl Fn() + Send + Sync + 'static) -> UnframedHint {
        UnframedHint {
            set_timeout: Arc::new(move |timeout| socket.set_read_timeout(timeout)),
            say: Arc::new(say),
            armed: false,
            done: false,
        }
    }

    /// The hint for the peer on `stream`, said by `say` (the mode passes the console's
    /// [`UNFRAMED_HINT`] notice); `None` if the socket cannot be shared (then there is simply
    /// no hint).
    pub fn for_peer(
        stream: &TcpStream,
        say: impl Fn() + Send + Sync + 'static,
    ) -> Option<UnframedHint> {
        let socket = stream.try_clone().ok()?;
        Some(UnframedHint::new(socket, say))
    }

    /// Before a `read`: if part of a line waits for its newline, time the wait.
    pub fn before_read(&mut self, partial: usize) {
        if !self.done && partial > 0 && !self.armed {
            self.armed = (self.set_timeout)(Some(UNFRAMED_AFTER)).is_ok();
        }
    }

    /// A `read` failed with `error`: `true` if it was our timeout, which says the hint (once);
    /// the caller then reads again, without a timeout.
    pub fn timed_out(&mut self, error: &io::Error) -> bool {
        let ours = self.armed
            && matches!(
                error.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            );
        if ours {
            (self.say)();
            self.disarm();
            self.done = true;
        }
        ours
    }

    /// A `read` returned bytes; `newline` says whether they held one (then never again).
    pub fn after_read(&mut self, newline: bool) {
        self.done |= newline;
        if self.armed {
            self.disarm();
        }
    }

    fn disarm(&mut self) {
        self.armed = false;
        let _ = (self.set_timeout)(None);
    }
}

/// Reads newline-terminated messages from any byte stream (a socket, stdin), bounded in memory:
/// a [`LineDecoder`] driven by blocking reads.
pub struct LineReader<R> {
    inner: BufReader<R>,
    pub(super) decoder: LineDecoder,
    /// `--trace`/`--events`: each `read` and what framing made of it (off: reports nothing).
    watch: Watch,
    /// Frames already decoded from the last `read`, when it is watched: a watched read is
    /// decoded whole at once, so its report ("26 bytes → 2 messages") leaves when it happened.
    ready: VecDeque<Frame>,
    /// The hint for a peer that does not frame its messages (sockets only).
    unframed: Option<UnframedHint>,
}

impl<R: Read> LineReader<R> {
    /// A reader that accepts messages of at most `max_line` bytes.
    pub fn new(inner: R, max_line: usize) -> Self {
        LineReader {
            inner: BufReader::with_capacity(READ_CHUNK, inner),
            decoder: LineDecoder::new(max_line),
            watch: Watch::off(),
            ready: VecDeque::new(),
            unframed: None,
        }
    }

    /// Gives the hint for unframed peers ([`UnframedHint`]) when one seems to be on the line.
    pub fn hinting(mut self, hint: UnframedHint) -> Self {
        self.unframed = Some(hint);
        self
    }

    /// Reports every `read` to `watch` (`--trace`, `--events`), with FIN and errors.
    pub fn watched(mut self, watch: Watch) -> Self {
        self.watch = watch;
        self
    }

    /// Blocks until the next message is complete.
    ///
    /// `Ok(None)` means the peer closed its side (`read` returned 0 bytes: a FIN arrived). If the
    /// stream ends in the middle of a line, that last unterminated line is still returned first:
    /// `printf 'hi' | nc …` sends a message without a newline, and it should not be lost.
    // ANCHOR: read_frame
    pub fn read_frame(&mut self) -> io::Result<Option<Frame>> {
        if let Some(frame) = self.ready.pop_front() {
            return Ok(Some(frame));
        }
        loop {
            let fresh = self.inner.buffer().is_empty();
            if let (true, Some(hint)) = (fresh, &mut self.unframed) {
                hint.before_read(self.decoder.partial_len());
            }
            let waiting = fresh.then(|| self.watch.waiting(Call::SocketRead));
            let filled = self.inner.fill_buf();
            drop(waiting);
            let available = match filled {
                Ok(bytes) => bytes,
                // A signal interrupted the system call before any byte arrived: just ask again.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A second without the rest of a line: the hint was given; wait on.
                Err(e)
                    if self
                        .unframed
                        .as_mut()
                        .is_some_and(|hint| hint.timed_out(&e)) =>
                {
                    continue;
                }
                Err(e) => {
                    self.watch.reset(&e);
                    return Err(e);
                }
            };
            if available.is_empty() {
                self.watch.fin_received();
                return Ok(self.decoder.finish().map(|frame| frame.to_owned_frame()));
            }
            if let (true, Some(hint)) = (fresh, &mut self.unframed) {
                hint.after_read(memchr::memchr(b'\n', available).is_some());
            }
            if fresh && self.watch.is_on() {
                // Watched: decode the whole read now, so that the trace tells what it held.
                let ready = &mut self.ready;
                let fed = self
                    .decoder
                    .feed(available, |frame| ready.push_back(frame.to_owned_frame()));
                let messages = fed.lines + fed.too_long;
                self.watch
                    .read(available, messages, self.decoder.partial_len());
                let used = available.len();
                self.inner.consume(used);
                match self.ready.pop_front() {
                    Some(frame) => return Ok(Some(frame)),
                    None => continue,
                }
            }
            let (used, frame) = self.decoder.decode(available);
            let frame = frame.map(|frame| frame.to_owned_frame());
            self.inner.consume(used);
            if frame.is_some() {
                return Ok(frame);
            }
        }
    }
    // ANCHOR_END: read_frame

    /// One `read`: every frame it completed handed to `on_frame` in order, and how many bytes
    /// it brought (`0`: the peer closed, its unfinished last line handed over first). Unlike
    /// [`LineReader::read_frame`], it returns after each `read` even when no line ended, so a
    /// caller sees every byte as it arrives (the room charges a line that never ends as it is
    /// read). Not to be mixed with `read_frame` on one reader.
    pub fn read_chunk(&mut self, mut on_frame: impl FnMut(Frame<&[u8]>)) -> io::Result<usize> {
        loop {
            let waiting = self.watch.waiting(Call::SocketRead);
            let filled = self.inner.fill_buf();
            drop(waiting);
            let available = match filled {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.watch.summarise_reads();
                    self.watch.reset(&e);
                    return Err(e);
                }
            };
            if available.is_empty() {
                self.watch.summarise_reads();
                self.watch.fin_received();
                if let Some(frame) = self.decoder.finish() {
                    on_frame(frame);
                }
                return Ok(0);
            }
            let fed = self.decoder.feed(available, &mut on_frame);
            self.watch.read(
                available,
                fed.lines + fed.too_long,
                self.decoder.partial_len(),
            );
            let used = available.len();
            self.inner.consume(used);
            return Ok(used);
        }
    }

    /// How many bytes of an unfinished line wait for the next `read` (0: none).
    pub fn unfinished(&self) -> usize {
        self.decoder.partial_len()
    }

    /// Whether bytes that arrived in an earlier `read` still wait here: then the next
    /// [`LineReader::read_frame`] may return without a system call. A reader thread uses it to
    /// hand over, in one go, every message that one `read` brought.
    pub fn has_buffered(&self) -> bool {
        !self.ready.is_empty() || !self.inner.buffer().is_empty()
    }

    /// The next message, if an earlier `read` already brought all of it; never a system call,
    /// never waits. A room's reader thread takes every message of one `read` this way and hands
    /// them over together (an unfinished line is kept for the next `read`).
    pub fn buffered_frame(&mut self) -> Option<Frame> {
        if let Some(frame) = self.ready.pop_front() {
            return Some(frame);
        }
        let available = self.inner.buffer();
        if available.is_empty() {
            return None;
        }
        let (used, frame) = self.decoder.decode(available);
        let frame = frame.map(|frame| frame.to_owned_frame());
        self.inner.consume(used);
        frame
    }
}

/// Raw framing: each `read` is one message, at most `max_line` bytes.
///
/// This is what a script does with `msg = sock.recv(1024)`, and it shows why that is fragile:
/// two quick sends can come back from one `read` (merged), and a long one from several (split).
/// TCP never promised anything else.
pub struct ChunkReader<R> {
    inner: R,
    buffer: Vec<u8>,
    watch: Watch,
}

impl<R: Read> ChunkReader<R> {
    /// A reader whose messages are at most `max_line` bytes: the buffer is that size, so a longer
    /// send simply arrives as several messages.
    pub fn new(inner: R, max_line: usize) -> Self {
        ChunkReader {
            inner,
            buffer: vec![0; max_line.max(1)],
            watch: Watch::off(),
        }
    }

    /// Reports every `read` to `watch` (`--trace`, `--events`), with FIN and errors.
    pub fn watched(mut self, watch: Watch) -> Self {
        self.watch = watch;
        self
    }

    /// Blocks until the socket has some bytes; `Ok(None)` at EOF. The message is the chunk
    /// without one trailing `\n` or `\r\n`: a script that does `send(text + "\n")` should not
    /// show a stray `\x0a` after every message. Newlines *inside* a chunk stay (escaped when
    /// shown), so merged sends remain visible.
    // ANCHOR: read_chunk
    pub fn read_frame(&mut self) -> io::Result<Option<Frame>> {
        loop {
            let waiting = self.watch.waiting(Call::SocketRead);
            let read = self.inner.read(&mut self.buffer);
            drop(waiting);
            match read {
                Ok(0) => {
                    self.watch.fin_received();
                    return Ok(None);
                }
                Ok(n) => {
                    self.watch.read(&self.buffer[..n], 1, 0);
                    let chunk = strip_line_ending(&self.buffer[..n]);
                    return Ok(Some(Frame::Line(chunk.to_vec())));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.watch.reset(&e);
                    return Err(e);
                }
            }
        }
    }
    // ANCHOR_END: read_chunk
}

/// Reads messages with the framing the user chose.
pub enum MessageReader<R> {
    Lines(LineReader<R>),
    Chunks(ChunkReader<R>),
}

impl<R: Read> MessageReader<R> {
    pub fn new(inner: R, framing: Framing, max_line: usize) -> Self {
        match framing {
            Framing::Line => MessageReader::Lines(LineReader::new(inner, max_line)),
            Framing::Raw => MessageReader::Chunks(ChunkReader::new(inner, max_line)),
        }
    }

    /// Gives the hint for unframed peers (line framing only: raw framing is their cure).
    pub fn hinting(self, hint: UnframedHint) -> Self {
        match self {
            MessageReader::Lines(reader) => MessageReader::Lines(reader.hinting(hint)),
            chunks @ MessageReader::Chunks(_) => chunks,
        }
    }

    /// Reports every `read` to `watch` (`--trace`, `--events`), with FIN and errors.
    pub fn watched(self, watch: Watch) -> Self {
        match self {
            MessageReader::Lines(reader) => MessageReader::Lines(reader.watched(watch)),
            MessageReader::Chunks(reader) => MessageReader::Chunks(reader.watched(watch)),
        }
    }

    /// Whether the next message may already be here, without another `read` (raw framing:
    /// never, each `read` is one message).
    pub fn has_buffered(&self) -> bool {
        match self {
            MessageReader::Lines(reader) => reader.has_buffered(),
            MessageReader::Chunks(_) => false,
        }
    }

    /// The next message, `Ok(None)` at EOF: see [`LineReader::read_frame`] and
    /// [`ChunkReader::read_frame`].
    pub fn read_frame(&mut self) -> io::Result<Option<Frame>> {
        match self {
            MessageReader::Lines(reader) => reader.read_frame(),
            MessageReader::Chunks(reader) => reader.read_frame(),
        }
    }
}
