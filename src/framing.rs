//! Bytes → messages, and messages → bytes.
//!
//! TCP carries a *stream of bytes*, not messages: one `write` of "hello\n" may arrive as
//! "hel" + "lo\n", and two quick writes may arrive as one read. So a reader must decide where one
//! message ends. netchat ends a message with a newline (`\n`), like telnet, nc and most line
//! protocols, and this file is the only place that knows it.
//!
//! The rule lives once, in [`LineDecoder`]: a state machine that does no I/O, fed whatever bytes
//! arrived. [`LineReader`] drives it with blocking reads (threads); an event loop or a test feeds
//! it directly; the reader pump (pump.rs) has it read straight into a [`Messages`] block and frame
//! the lines where they lie ([`LineDecoder::read_into`], [`LineDecoder::frame_tail`]).
//!
//! The reader never holds more than `max_line` bytes of one message: a peer that sends 50 MB with no
//! newline gets [`Frame::TooLong`] once, the rest of that line is read and thrown away, and the
//! conversation goes on with the next line. That is what keeps netchat's memory bounded whatever a
//! peer sends.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::mem::take;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;

use crate::observe::{Call, Watch};
use crate::scan;

/// Default for `--max-line`: the longest message, in bytes, netchat accepts from a peer or sends.
///
/// 8 KiB is far more than anyone types in a chat and small enough that a thousand connections
/// cost only a few MiB. A longer line is dropped with a notice (see [`Frame::TooLong`]).
pub const DEFAULT_MAX_LINE: usize = 8192;

/// How many bytes one `read` system call may fetch from the socket at a time.
const READ_CHUNK: usize = 8192;

/// `--framing`: the rule that cuts the byte stream into messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A message ends at a newline (netchat, nc, telnet, most line protocols).
    Line,
    /// Whatever one `read` returns is one message, and typed lines are sent without a newline:
    /// the (fragile) convention of classroom scripts that pair one `send()` with one `recv(1024)`.
    Raw,
}

impl Framing {
    /// One sentence for the status line, so a student knows which rule is in force.
    pub fn describe(self) -> &'static str {
        match self {
            Framing::Line => "line framing: a message ends at a newline",
            Framing::Raw => {
                "raw framing: each chunk the socket delivers is one message, and your lines are \
                 sent without a newline"
            }
        }
    }
}

/// A line that ends a conversation when it comes, such as duplex's `bye`: the word alone on a
/// line, in any case, blanks around it forgiven (`  Bye `).
///
/// The reader pump looks for it while it frames a block ([`LineDecoder::watching`]), so that
/// the block can say it holds none ([`Messages::find`]) and the thread that receives the block
/// need not look at every line again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopWord(pub &'static str);

impl StopWord {
    /// Whether `line` is this word.
    pub fn is(self, line: &[u8]) -> bool {
        line.first().is_some_and(|&first| self.may_start(first))
            && line.trim_ascii().eq_ignore_ascii_case(self.0.as_bytes())
    }

    /// Whether a line that starts with `byte` may be the word: its first letter in either case,
    /// or a blank. Nearly every line of a file fails this first test.
    fn may_start(self, byte: u8) -> bool {
        byte.eq_ignore_ascii_case(&self.letter()) || byte.is_ascii_whitespace()
    }

    /// Its first letter: a line that starts with anything but that letter or a blank is not it.
    fn letter(self) -> u8 {
        self.0.as_bytes().first().copied().unwrap_or(b' ')
    }
}

/// One thing the reader found in the byte stream.
///
/// `L` is how the line's bytes are held: owned (`Vec<u8>`, the default, what [`LineReader`]
/// returns) or borrowed (`&[u8]`, what [`LineDecoder`] hands out without copying).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<L = Vec<u8>> {
    /// One message. With line framing: the bytes before the newline, without the `\n` and
    /// without a trailing `\r` (telnet and Windows programs end lines with CR LF). With raw
    /// framing: the bytes one `read` returned. The bytes are as the peer sent them; turning them
    /// into safe text is the console's job.
    Line(L),
    /// A line grew past `limit` bytes. Its bytes were dropped and the rest of it, up to the next
    /// newline, will be skipped.
    TooLong { limit: usize },
}

impl Frame<&[u8]> {
    /// The same frame, with its bytes copied out of the decoder's or the caller's buffer.
    pub fn to_owned_frame(&self) -> Frame {
        match *self {
            Frame::Line(line) => Frame::Line(line.to_vec()),
            Frame::TooLong { limit } => Frame::TooLong { limit },
        }
    }
}

/// What one [`LineDecoder::feed`] did with a chunk: "N bytes made K messages", for `--trace`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fed {
    /// Whole messages the chunk completed (a line that began in an earlier chunk counts here,
    /// where its newline arrived).
    pub lines: usize,
    /// Lines reported as too long while this chunk was decoded.
    pub too_long: usize,
    /// Whether the chunk ended in the middle of a line, which the next chunk continues.
    pub continues: bool,
}

/// Line framing as a state machine that does no I/O ("sans-IO"): give it whatever bytes arrived,
/// in pieces of any size, and it hands back the complete lines in them.
///
/// TCP may cut the stream anywhere, so the decoder keeps exactly one thing between calls: the
/// bytes of the line that has begun but not ended (at most `max_line + 1` of them), and whether
/// it is skipping the rest of a line that was too long. A line that lies whole inside one chunk
/// is handed out as a slice *of that chunk*, never copied; only a line cut by a chunk boundary
/// is gathered in the decoder's own buffer. That buffer is allocated when such a line first
/// appears and freed as soon as the line ends, so a connection that has not spoken, or that is
/// between lines, costs no buffer at all: what lets one thread hold twenty thousand quiet
/// clients (the poll engine), and what lets a blocking reader ([`LineReader`]), an event loop
/// and a test share one definition of a line.
///
/// Newlines are found with `memchr`, which compares 16 or 32 bytes per instruction (SSE2/AVX2,
/// NEON): a 1 KiB line costs a few dozen comparisons instead of a thousand. A line ends at `\n`,
/// or at telnet's CR NUL ([`line_end`]).
#[derive(Debug)]
pub struct LineDecoder {
    /// The line that has begun but not ended: never more than `max_line + 1` bytes (the `+ 1`
    /// leaves room for the CR of a CR LF ending). Empty, with no allocation, between lines.
    pending: Vec<u8>,
    max_line: usize,
    /// True after a `TooLong`, until the newline that ends that long line.
    skipping: bool,
    /// `pending` holds a line that was handed out last call and must be dropped before the next.
    handed_out: bool,
    /// While skipping: the last byte skipped was a CR, so a NUL first in the next chunk ends the
    /// line (telnet's CR NUL cut in two by TCP).
    skipped_cr: bool,
    /// Whether the bulk path notes if each block is plain text ([`Messages::is_plain`]).
    notes_plain: bool,
    /// The line the bulk path looks for in each block ([`LineDecoder::watching`]).
    word: Option<StopWord>,
}

impl LineDecoder {
    /// A decoder for lines of at most `max_line` bytes (not counting the newline or a CR
    /// before it). Allocates nothing.
    pub fn new(max_line: usize) -> Self {
        LineDecoder {
            pending: Vec::new(),
            max_line,
            skipping: false,
            handed_out: false,
            skipped_cr: false,
            notes_plain: false,
            word: None,
        }
    }

    /// Makes the bulk path ([`LineDecoder::frame_tail`]) note whether each block is plain
    /// text, for blocks that will be printed. It costs a look at every byte; for blocks that
    /// will only be sent on (piped input), a block is simply taken as not plain.
    pub fn noting_plain(mut self, notes_plain: bool) -> Self {
        self.notes_plain = notes_plain;
        self
    }

    /// Makes the bulk path ([`LineDecoder::frame_tail`]) look for `word` among the lines it
    /// frames, so that each block can say that it holds none ([`Messages::find`]). It costs one
    /// table look-up per line, in the loop that finds the lines; the receiver of the block would
    /// otherwise look at every line again, on another thread, after the block's bytes have left
    /// this thread's cache.
    pub fn watching(mut self, word: Option<StopWord>) -> Self {
        self.word = word;
        self
    }

    /// The longest line this decoder accepts.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Whether a line has begun and not ended (bytes are waiting for their newline).
    pub fn has_partial(&self) -> bool {
        !self.pending.is_empty() && !self.handed_out
    }

    /// How many bytes of the unfinished line have arrived (0: none has begun).
    pub fn partial_len(&self) -> usize {
        if self.has_partial() {
            self.pending.len()
        } else {
            0
        }
    }

    /// Bytes held for the unfinished line: 0 for a connection between lines.
    pub fn held(&self) -> usize {
        self.pending.capacity()
    }

    /// Decodes the next frame from the start of `input`: returns how many bytes of `input` it
    /// used and the frame they completed, if any. Call again with the rest of `input` until it
    /// returns `None`; by then every byte was used (kept for the unfinished line, or skipped).
    /// The frame borrows from `input` or from the decoder, so it lives until the next call.
    // ANCHOR: decode
    pub fn decode<'a>(&'a mut self, mut input: &'a [u8]) -> (usize, Option<Frame<&'a [u8]>>) {
        if self.handed_out {
            // The line handed out last call is finished with: free its buffer.
            self.pending = Vec::new();
            self.handed_out = false;
        }
        let total = input.len();
        // The rest of a too-long line is thrown away, up to and including its newline.
        if self.skipping {
            match line_end(input, self.skipped_cr) {
                Some(end) => {
                    self.skipping = false;
                    self.skipped_cr = false;
                    input = &input[end + 1..];
                }
                None => {
                    // An empty chunk says nothing about the last byte skipped.
                    if let Some(&last) = input.last() {
                        self.skipped_cr = last == b'\r';
                    }
                    return (total, None);
                }
            }
        }
        let skipped = total - input.len();
        let Some(newline) = line_end(input, self.pending.last() == Some(&b'\r')) else {
            // No newline yet: keep the bytes for the next chunk, unless they are already too many.
            if would_be_too_long(&self.pending, input, self.max_line) {
                self.skipped_cr = input.last().or(self.pending.last()) == Some(&b'\r');
                self.pending = Vec::new();
                self.skipping = true;
                return (total, Some(self.too_long()));
            }
            self.keep(input);
            return (total, None);
        };
        let used = skipped + newline + 1;
        let piece = &input[..newline];
        if would_be_too_long(&self.pending, piece, self.max_line) {
            self.pending = Vec::new();
            return (used, Some(self.too_long()));
        }
        if self.pending.is_empty() {
            // The common case: the whole line is in this chunk. Hand it out without a copy.
            return (used, Some(Frame::Line(strip_cr(piece))));
        }
        self.keep(piece);
        self.handed_out = true;
        (used, Some(Frame::Line(strip_cr(&self.pending))))
    }
    // ANCHOR_END: decode

    /// The bulk path, first half: reads once with `read` straight into the end of `block` (no
    /// copy between a read buffer and the block), up to `room` bytes, and returns how many came.
    /// The unfinished line the decoder kept from the last read is put in front of them, so that
    /// every line the read completes lies whole in the block; [`LineDecoder::frame_tail`] then
    /// frames them where they lie. At the end of the stream (0 bytes), or on an error, the block
    /// and the decoder are left as they were.
    pub fn read_into(
        &mut self,
        block: &mut Messages,
        room: usize,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let carry = self.partial_len();
        let start = block.len;
        // Room for the longest line that could be carried, so that a block that comes back
        // fits the next read whatever is carried, without growing (a copy of all of it).
        block.reserve(self.max_line + 1 + room);
        let n = block.read_after(carry, room, read)?;
        if n > 0 && carry > 0 {
            block.bytes[start..start + carry].copy_from_slice(&self.pending);
            self.pending = Vec::new();
        }
        Ok(n)
    }

    /// The bulk path, second half: frames the bytes at the end of `block` that are not messages
    /// yet ([`LineDecoder::read_into`] put them there), *in place*, giving exactly the frames
    /// [`LineDecoder::decode`] gives, one after the other. The start of a line that goes on in
    /// the next read is kept, as `decode` keeps it. A line that was too long is not a message:
    /// for each, `too_long` gets where the messages after it start in the block (a caller
    /// splits the block there, [`Messages::split_off`], to report it in its place).
    ///
    /// A line that needs nothing done — within the limit, no CR to drop, no NUL that could end
    /// it early — is already in the form `Messages` keeps, a newline after it. So the usual work
    /// is only to make sure that no line is too long (`Lines::plain_run`); the bytes stay where
    /// the kernel put them, and every newline among them ends a message. Any other line goes through [`LineDecoder::decode`], the one definition of a
    /// line, and is moved down over the bytes it no longer needs (a dropped CR); the plain lines
    /// after it then move down with it. When the decoder watches for a word
    /// ([`LineDecoder::watching`]), every line is checked for it on the way, and a block in
    /// which none is says so ([`Messages::find`]).
    // ANCHOR: frame_tail
    pub fn frame_tail(&mut self, block: &mut Messages, too_long: &mut Vec<usize>) {
        let mut framed = block.framed_len();
        if self.has_partial() {
            // Called without `read_into` before it: put the unfinished line in front.
            let partial = take(&mut self.pending);
            block.bytes.truncate(block.len);
            block.bytes.splice(framed..framed, partial);
            block.len = block.bytes.len();
        }
        // Whether every message of the block was looked at and none is the word.
        let word = self.word;
        let mut clear = word.is_some() && (block.is_empty() || block.clear_of == word);
        let (mut at, end) = (framed, block.len);
        loop {
            if self.between_lines() {
                let bytes = &block.bytes[at..end];
                let lines = Lines {
                    max_line: self.max_line,
                    notes_plain: self.notes_plain,
                    word: self.word,
                };
                let (run, plain, said) = lines.plain_run(bytes);
                block.odd |= !plain;
                clear &= !said;
                block.bytes.copy_within(at..at + run, framed);
                (at, framed) = (at + run, framed + run);
                block.framed_up_to(framed);
            }
            let (used, frame) = self.decode(&block.bytes[at..end]);
            // Where the line lies in the block: never in the decoder's own buffer, which is
            // empty here (the unfinished line was put in the block).
            let line = match frame {
                Some(Frame::Line(line)) => {
                    clear &= !word.is_some_and(|word| word.is(line));
                    Some((
                        line.as_ptr() as usize - block.bytes.as_ptr() as usize,
                        line.len(),
                    ))
                }
                Some(Frame::TooLong { .. }) => {
                    too_long.push(framed);
                    None
                }
                None => {
                    block.len = framed;
                    block.clear_of = word.filter(|_| clear);
                    return;
                }
            };
            at += used;
            let Some((from, len)) = line else {
                continue;
            };
            block.odd |= !self.notes_plain || !scan::all_plain(&block.bytes[from..from + len]);
            block.bytes.copy_within(from..from + len, framed);
            block.bytes[framed + len] = b'\n';
            framed += len + 1;
            block.framed_up_to(framed);
        }
    }
    // ANCHOR_END: frame_tail

    /// No line has begun: the next byte starts a new one.
    fn between_lines(&self) -> bool {
        !self.skipping && (self.handed_out || self.pending.is_empty())
    }

    /// Decodes a whole chunk, calling `on_frame` for each frame in it, in order, and says how
    /// many lines it completed and whether a line goes on into the next chunk.
    pub fn feed(&mut self, mut chunk: &[u8], mut on_frame: impl FnMut(Frame<&[u8]>)) -> Fed {
        let mut fed = Fed::default();
        loop {
            let (used, frame) = self.decode(chunk);
            chunk = &chunk[used..];
            match frame {
                Some(frame) => {
                    match frame {
                        Frame::Line(_) => fed.lines += 1,
                        Frame::TooLong { .. } => fed.too_long += 1,
                    }
                    on_frame(frame);
                }
                None => break,
            }
        }
        fed.continues = self.has_partial() || self.skipping;
        fed
    }

    /// The stream ended (the peer's FIN). A line that was still waiting for its newline is the
    /// last message: `printf 'hi' | nc …` sends one without a newline, and it should not be lost.
    pub fn finish(&mut self) -> Option<Frame<&[u8]>> {
        self.skipping = false;
        if self.handed_out || self.pending.is_empty() {
            self.pending = Vec::new();
            self.handed_out = false;
            return None;
        }
        self.handed_out = true;
        Some(Frame::Line(strip_cr(&self.pending)))
    }

    /// Adds bytes to the unfinished line, which the caller checked stays within the limit. The
    /// buffer grows by doubling, as a `Vec` does, but never past `max_line + 1` bytes, so the
    /// memory a peer can make us hold is the limit, not twice it.
    fn keep(&mut self, bytes: &[u8]) {
        let needed = self.pending.len() + bytes.len();
        if needed > self.pending.capacity() {
            let target = (self.pending.capacity() * 2)
                .min(self.max_line + 1)
                .max(needed);
            self.pending.reserve_exact(target - self.pending.len());
        }
        self.pending.extend_from_slice(bytes);
    }

    fn too_long(&self) -> Frame<&'static [u8]> {
        Frame::TooLong {
            limit: self.max_line,
        }
    }
}

/// Where the line at the start of `input` ends: the index of its `\n`, or of the NUL of a
/// CR NUL. `cr_before` says whether the byte just before `input` (kept from an earlier chunk) is
/// a CR.
///
/// telnet sends the Enter key as CR LF, but a bare carriage return as CR NUL (`\r\0`, RFC 854:
/// a CR must be followed by LF or NUL). Both end a line here, and [`strip_cr`] then drops the CR,
/// so no `\x0d\x00` ever reaches the room. A NUL that does not follow a CR is an ordinary byte
/// of the line (shown escaped).
// ANCHOR: line_end
fn line_end(input: &[u8], cr_before: bool) -> Option<usize> {
    memchr::memchr2_iter(b'\n', 0, input).find(|&at| {
        input[at] == b'\n'
            || match at {
                0 => cr_before,
                _ => input[at - 1] == b'\r',
            }
    })
}
// ANCHOR_END: line_end

// ANCHOR: plain_run
/// What the bulk path looks for in the lines it frames: the decoder's settings, borrowed.
struct Lines {
    max_line: usize,
    notes_plain: bool,
    word: Option<StopWord>,
}

impl Lines {
    /// The whole lines at the start of `bytes` that need nothing done to become messages:
    /// within `max_line`, with no CR (which might have to be dropped) and no NUL (which ends a
    /// line after a CR). Returns how many bytes they take (newlines included); if
    /// `notes_plain`, whether all of them are plain text ([`scan::is_plain`]; `false` when not
    /// asked); and whether one of them is the word watched for.
    ///
    /// Scans that the compiler or `memchr` runs 16 or 32 bytes per instruction: how far the
    /// bytes are plain text, if asked, which also rules out CR and NUL there (in a file of
    /// text, the whole block); where the first CR or NUL is after that; and the lines up to it
    /// ([`scan::whole_lines`]).
    fn plain_run(&self, bytes: &[u8]) -> (usize, bool, bool) {
        let plain = if self.notes_plain {
            scan::plain_prefix(bytes)
        } else {
            0
        };
        let clean = match memchr::memchr2(b'\r', 0, &bytes[plain..]) {
            Some(special) => plain + special,
            None => bytes.len(),
        };
        let is_word = |line: &[u8]| self.word.is_some_and(|word| word.is(line));
        let word = self
            .word
            .map(|word| (word.letter(), &is_word as &dyn Fn(&[u8]) -> bool));
        let (run, said) = scan::whole_lines(&bytes[..clean], self.max_line, word);
        (run, self.notes_plain && run <= plain, said)
    }
}
// ANCHOR_END: plain_run

/// A line without the CR of a CR LF (or CR NUL) ending.
fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

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
    decoder: LineDecoder,
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

/// Whole messages stored back to back in one buffer, each followed by a `\n`: everything one
/// large `read` brought, handed between threads as one value. A file piped through netchat
/// arrives as a few thousand lines per read; keeping them in one buffer costs one allocation per
/// read instead of one per line, and with line framing the buffer is exactly the bytes the wire
/// carries (each message and its newline), so it can be sent or printed in one `write`.
///
/// A block may be given a way home ([`Messages::return_to`]): when whoever received it drops it,
/// its buffers go back to the reader that filled it, to be filled again. A fresh 64 KiB buffer
/// per read would cost the kernel a page fault and a zeroed page every 4 KiB.
#[derive(Debug, Default, Clone)]
pub struct Messages {
    /// The messages, each followed by `\n`, in `bytes[..framed]`, then, only while a `read` is
    /// framed, bytes not framed yet, up to `len`. Bytes beyond `len` are left from an earlier
    /// use of the block: kept, so that the next `read` can fill them without their being zeroed
    /// again.
    bytes: Vec<u8>,
    len: usize,
    framed: usize,
    /// Where each message's `\n` is, only when a message may hold newlines of its own (a raw
    /// chunk): `listed` is then true. Otherwise every `\n` in `bytes[..framed]` ends a message,
    /// and nothing needs to be noted per line: finding the lines of a block is only making sure
    /// that none is too long (scan.rs).
    ends: Vec<usize>,
    listed: bool,
    /// Whether some message may hold a byte that is not plain text ([`scan::is_plain`]): when
    /// false, every message is printable ASCII or tabs, which the console prints as it is.
    odd: bool,
    /// A word that framing looked for in every message and did not find ([`Messages::find`]).
    clear_of: Option<StopWord>,
    /// Where the emptied buffers go when this block is dropped.
    home: Option<Sender<Messages>>,
}

impl PartialEq for Messages {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes() && self.iter().eq(other.iter())
    }
}

impl Eq for Messages {}

impl Drop for Messages {
    fn drop(&mut self) {
        if let Some(home) = self.home.take() {
            let mut spare = Messages::default();
            spare.bytes = take(&mut self.bytes);
            spare.ends = take(&mut self.ends);
            spare.ends.clear();
            // Full (enough spares already) or gone (the reader ended): the memory is freed.
            let _ = home.try_send(spare);
        }
    }
}

/// The messages of a block, in order, each without its `\n` ([`Messages::iter`]).
pub struct Iter<'a> {
    /// The messages not handed out yet, each followed by its `\n`.
    rest: &'a [u8],
    /// Where each one's `\n` is, counted from `offset`, when they are listed.
    ends: Option<std::slice::Iter<'a, usize>>,
    offset: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let end = match &mut self.ends {
            Some(ends) => ends.next()? - self.offset,
            None => memchr::memchr(b'\n', self.rest)?,
        };
        let (message, rest) = self.rest.split_at(end);
        self.rest = &rest[1..];
        self.offset += end + 1;
        Some(message)
    }
}

impl Messages {
    /// Makes this block's buffers go to `home` when it is dropped (see [`Messages`]).
    pub fn return_to(&mut self, home: Sender<Messages>) {
        self.home = Some(home);
    }

    /// Makes sure `more` bytes fit after the ones in use without the buffer growing.
    fn reserve(&mut self, more: usize) {
        self.bytes
            .reserve((self.len + more).saturating_sub(self.bytes.len()));
    }

    /// Appends `data` after the bytes in use.
    fn put(&mut self, data: &[u8]) {
        self.bytes.truncate(self.len);
        self.bytes.extend_from_slice(data);
        self.len = self.bytes.len();
    }

    /// Reads once with `read` into up to `room` more bytes at the end of the block, and returns
    /// how many came: they are not messages yet (see [`Messages::frame_raw`] and
    /// [`LineDecoder::frame_tail`]). The reader fills the block itself, so no byte is copied
    /// from a read buffer into it.
    ///
    /// `read` gets zeroed memory to fill: std has no stable way to read into memory that was
    /// never written, and zeroing 64 KiB costs much less than copying it.
    pub fn read_more(
        &mut self,
        room: usize,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.read_after(0, room, read)
    }

    /// [`Messages::read_more`], leaving `gap` bytes (zeroed) before what is read: room for the
    /// start of a line that an earlier read brought ([`LineDecoder::read_into`]). After the end
    /// of the stream or an error, not even the gap is left.
    fn read_after(
        &mut self,
        gap: usize,
        room: usize,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let start = self.len;
        if self.bytes.len() < start + gap + room {
            // Zeroed once, the first time the block is this large; reused as it is after that.
            self.bytes.resize(start + gap + room, 0);
        }
        let result = read(&mut self.bytes[start + gap..start + gap + room]);
        let n = result.as_ref().map_or(0, |&n| n.min(room));
        if n > 0 {
            self.len = start + gap + n;
        }
        result.map(|_| n)
    }

    /// How many bytes the messages take, each with its newline; any bytes after them were read
    /// but are not framed yet.
    fn framed_len(&self) -> usize {
        self.framed
    }

    /// The bytes at the end that were read but are not framed yet.
    pub fn unframed(&self) -> &[u8] {
        &self.bytes[self.framed..self.len]
    }

    /// The bytes up to `end` are messages now, the last of them ending with the `\n` at
    /// `end - 1`.
    fn framed_up_to(&mut self, end: usize) {
        if self.listed {
            let first = self.framed;
            let ends = memchr::memchr_iter(b'\n', &self.bytes[first..end]);
            self.ends.extend(ends.map(|at| first + at));
        }
        self.framed = end;
    }

    /// From here on, where each message ends is listed (a message may hold a newline).
    fn list_ends(&mut self) {
        if !self.listed {
            self.ends.clear();
            let ends = memchr::memchr_iter(b'\n', &self.bytes[..self.framed]);
            self.ends.extend(ends);
            self.listed = true;
        }
    }

    /// Where the messages from the `n`-th on start (the end of the first `n`).
    fn offset_of(&self, n: usize) -> usize {
        match n.checked_sub(1) {
            None => 0,
            Some(last) if self.listed => self.ends[last] + 1,
            Some(last) => memchr::memchr_iter(b'\n', self.bytes())
                .nth(last)
                .map_or(self.framed, |end| end + 1),
        }
    }

    /// Moves the messages that start at byte `at` or later (`at` is where one starts, or the
    /// end) to the end of `to` (which is empty, or holds messages only), keeping the ones
    /// before here. Each byte moved is looked at once, so cutting a block at many places, from
    /// its end, costs no more than moving it once.
    pub fn split_off(&mut self, at: usize, to: &mut Messages) {
        let end = self.framed;
        if at >= end {
            return;
        }
        if self.listed {
            to.list_ends();
        }
        let base = to.framed;
        to.len = base;
        to.put(&self.bytes[at..end]);
        if self.listed {
            let moved = self.ends.partition_point(|&e| e < at);
            to.ends
                .extend(self.ends[moved..].iter().map(|&e| e - at + base));
            self.ends.truncate(moved);
            to.framed = to.len;
        } else {
            to.framed_up_to(to.len);
        }
        to.odd |= self.odd;
        // The messages moved were looked at for the word as this block's were.
        if to.clear_of != self.clear_of {
            to.clear_of = self.clear_of.filter(|_| base == 0);
        }
        (self.framed, self.len) = (at, at);
    }

    /// Raw framing: the bytes not framed yet are one message, without one trailing `\n` or
    /// `\r\n` ([`strip_line_ending`]).
    pub fn frame_raw(&mut self) {
        // A chunk may hold newlines of its own: where it ends must be listed.
        self.list_ends();
        let framed = self.framed;
        let message = strip_line_ending(&self.bytes[framed..self.len]);
        self.odd |= !scan::all_plain(message);
        self.clear_of = self.clear_of.filter(|word| !word.is(message));
        self.len = framed + message.len();
        self.ends.push(self.len);
        self.put(b"\n");
        self.framed = self.len;
    }

    /// Adds one message at the end.
    pub fn push(&mut self, message: &[u8]) {
        self.odd |= !scan::all_plain(message);
        self.clear_of = self.clear_of.filter(|word| !word.is(message));
        if memchr::memchr(b'\n', message).is_some() {
            self.list_ends();
        }
        self.len = self.framed;
        self.put(message);
        if self.listed {
            self.ends.push(self.len);
        }
        self.put(b"\n");
        self.framed = self.len;
    }

    /// Where the first message that is `word` is, if one is. Answered at once when framing
    /// looked for that word in every message while it found them ([`LineDecoder::watching`])
    /// and found none; otherwise by looking at each message.
    pub fn find(&self, word: StopWord) -> Option<usize> {
        if self.clear_of == Some(word) {
            return None;
        }
        self.iter().position(|message| word.is(message))
    }

    /// Whether every message is plain text: printable ASCII and tabs only ([`scan::is_plain`]),
    /// nothing a terminal could take for a command. Framing notes it as it finds the lines, so
    /// the console need not look at the bytes again. (After [`Messages::truncate`] it may say
    /// `false` of messages that are plain: never the other way round.)
    pub fn is_plain(&self) -> bool {
        !self.odd
    }

    /// How many messages there are (counted, not kept: `memchr` counts 32 bytes at a time).
    pub fn len(&self) -> usize {
        if self.listed {
            self.ends.len()
        } else {
            memchr::memchr_iter(b'\n', self.bytes()).count()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.framed == 0
    }

    /// The messages in order, each without its `\n`.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            rest: self.bytes(),
            ends: self.listed.then(|| self.ends.iter()),
            offset: 0,
        }
    }

    /// Every message followed by `\n`, back to back: with line framing, the wire form.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.framed]
    }

    /// Keeps the first `n` messages and drops the rest (e.g. everything after a `bye`).
    pub fn truncate(&mut self, n: usize) {
        let keep = self.offset_of(n);
        if keep < self.framed {
            (self.framed, self.len) = (keep, keep);
            if self.listed {
                self.ends.truncate(n);
            }
        }
    }
}

impl<T: AsRef<[u8]>> FromIterator<T> for Messages {
    fn from_iter<I: IntoIterator<Item = T>>(messages: I) -> Self {
        let mut all = Messages::default();
        for message in messages {
            all.push(message.as_ref());
        }
        all
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

/// A raw chunk without one trailing `\n` or `\r\n`.
pub fn strip_line_ending(chunk: &[u8]) -> &[u8] {
    let chunk = chunk.strip_suffix(b"\n").unwrap_or(chunk);
    chunk.strip_suffix(b"\r").unwrap_or(chunk)
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
            chunks => chunks,
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

/// Why a typed message cannot be sent with this framing, if it cannot. With raw framing an empty
/// line would be zero bytes on the wire: no message at all, and a peer waiting for one would wait
/// for ever. Every mode refuses it with this sentence.
pub fn unsendable(framing: Framing, message: &[u8]) -> Option<&'static str> {
    (framing == Framing::Raw && message.is_empty())
        .then_some("an empty line sends nothing with --framing raw; type some text")
}

/// Sends one message with the chosen framing: with a newline, or (raw) exactly as typed.
pub fn write_message(writer: &mut impl Write, framing: Framing, message: &[u8]) -> io::Result<()> {
    match framing {
        Framing::Line => write_line(writer, message),
        Framing::Raw => {
            writer.write_all(message)?;
            writer.flush()
        }
    }
}

/// Puts one message into `writer` with the chosen framing, *without* flushing: for a buffered
/// writer that gathers many messages into one `write` (duplex.rs, `Outgoing`). Whoever queues must
/// flush when there is nothing more to send right now, or the message waits in the buffer.
pub fn queue_message(writer: &mut impl Write, framing: Framing, message: &[u8]) -> io::Result<()> {
    writer.write_all(message)?;
    match framing {
        Framing::Line => writer.write_all(b"\n"),
        Framing::Raw => Ok(()),
    }
}

/// Whether `pending` plus `more` would exceed the limit. Checked *before* the bytes are stored,
/// so the pending line never outgrows it. A line of exactly `max_line` bytes may still be
/// followed by the CR of a CR LF ending.
fn would_be_too_long(pending: &[u8], more: &[u8], max_line: usize) -> bool {
    let len = pending.len() + more.len();
    let last = more.last().or(pending.last());
    len > max_line + 1 || (len == max_line + 1 && last != Some(&b'\r'))
}

/// Sends one message: its bytes and a newline, in a single `write` call.
///
/// One write per message means the kernel gets the whole line at once; with TCP_NODELAY (set in
/// endpoint.rs) it leaves in one segment instead of Nagle's algorithm holding half of it back.
// ANCHOR: write_line
pub fn write_line(writer: &mut impl Write, message: &[u8]) -> io::Result<()> {
    let mut wire = Vec::with_capacity(message.len() + 1);
    wire.extend_from_slice(message);
    wire.push(b'\n');
    writer.write_all(&wire)?;
    writer.flush()
}
// ANCHOR_END: write_line

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out its bytes in the given pieces, one piece per `read` call,
    /// the way a socket does when segments arrive one by one.
    struct Pieces(Vec<Vec<u8>>);

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let piece = &mut self.0[0];
            let n = piece.len().min(buf.len());
            buf[..n].copy_from_slice(&piece[..n]);
            piece.drain(..n);
            if piece.is_empty() {
                self.0.remove(0);
            }
            Ok(n)
        }
    }

    fn frames(pieces: &[&[u8]], max_line: usize) -> Vec<Frame> {
        let source = Pieces(pieces.iter().map(|p| p.to_vec()).collect());
        let mut reader = LineReader::new(source, max_line);
        let mut out = Vec::new();
        while let Some(frame) = reader.read_frame().unwrap() {
            out.push(frame);
        }
        out
    }

    fn line(text: &str) -> Frame {
        Frame::Line(text.as_bytes().to_vec())
    }

    #[test]
    fn splits_on_newlines() {
        assert_eq!(frames(&[b"a\nbb\n"], 100), vec![line("a"), line("bb")]);
    }

    #[test]
    fn joins_a_line_split_across_reads() {
        assert_eq!(
            frames(&[b"hel", b"lo\nwor", b"ld\n"], 100),
            vec![line("hello"), line("world")]
        );
    }

    #[test]
    fn drops_the_cr_of_crlf() {
        assert_eq!(
            frames(&[b"hi\r\n", b"\r\n"], 100),
            vec![line("hi"), line("")]
        );
    }

    #[test]
    fn telnets_cr_nul_ends_a_line_like_cr_lf() {
        assert_eq!(
            frames(&[b"bare\r\0crlf\r\nnext\r\0"], 100),
            vec![line("bare"), line("crlf"), line("next")]
        );
    }

    #[test]
    fn cr_nul_cut_between_two_reads_still_ends_the_line() {
        assert_eq!(
            frames(&[b"one\r", b"\0two\r", b"\0"], 100),
            vec![line("one"), line("two")]
        );
    }

    #[test]
    fn the_bulk_path_ends_lines_at_cr_nul_too() {
        let mut decoder = LineDecoder::new(100);
        let mut lines = Messages::default();
        let chunk = b"plain\nbare\r\0after\nnul\0inside\n";
        let read = decoder.read_into(&mut lines, 100, |buffer| {
            buffer[..chunk.len()].copy_from_slice(chunk);
            Ok(chunk.len())
        });
        assert_eq!(read.unwrap(), chunk.len());
        let mut too_long = Vec::new();
        decoder.frame_tail(&mut lines, &mut too_long);
        assert!(too_long.is_empty());
        assert!(lines.unframed().is_empty());
        let got: Vec<&[u8]> = lines.iter().collect();
        let expected: [&[u8]; 4] = [b"plain", b"bare", b"after", b"nul\0inside"];
        assert_eq!(got, expected);
    }

    #[test]
    fn a_nul_without_a_cr_before_it_is_part_of_the_line() {
        assert_eq!(
            frames(&[b"a\0b\n\0c\r\n"], 100),
            vec![Frame::Line(b"a\0b".to_vec()), Frame::Line(b"\0c".to_vec())]
        );
    }

    #[test]
    fn a_too_long_line_ends_at_cr_nul_too() {
        assert_eq!(
            frames(&[b"0123456789", b"abc\r", b"\0ok\r\0"], 4),
            vec![Frame::TooLong { limit: 4 }, line("ok")]
        );
    }

    #[test]
    fn keeps_a_cr_that_is_not_at_the_end() {
        assert_eq!(frames(&[b"a\rb\n"], 100), vec![line("a\rb")]);
    }

    #[test]
    fn returns_a_last_line_without_newline_at_eof() {
        assert_eq!(frames(&[b"one\ntwo"], 100), vec![line("one"), line("two")]);
    }

    #[test]
    fn eof_on_an_empty_stream_is_a_clean_close() {
        assert_eq!(frames(&[], 100), vec![]);
    }

    #[test]
    fn keeps_invalid_utf8_bytes_for_the_console_to_replace() {
        assert_eq!(
            frames(&[b"\xff\xfe\n"], 100),
            vec![Frame::Line(vec![0xff, 0xfe])]
        );
    }

    #[test]
    fn an_overlong_line_is_reported_once_and_skipped() {
        let long = vec![b'x'; 50];
        let mut stream = long.clone();
        stream.extend_from_slice(b"\nafter\n");
        assert_eq!(
            frames(&[&stream[..20], &stream[20..]], 10),
            vec![Frame::TooLong { limit: 10 }, line("after")]
        );
    }

    #[test]
    fn an_overlong_line_is_reported_before_its_newline_arrives() {
        let source = Pieces(vec![vec![b'x'; 30]]);
        let mut reader = LineReader::new(source, 10);
        assert_eq!(
            reader.read_frame().unwrap(),
            Some(Frame::TooLong { limit: 10 })
        );
        assert_eq!(reader.read_frame().unwrap(), None);
    }

    #[test]
    fn a_line_of_exactly_max_line_bytes_passes_with_or_without_cr() {
        assert_eq!(frames(&[b"abcd\n"], 4), vec![line("abcd")]);
        assert_eq!(frames(&[b"abcd\r", b"\n"], 4), vec![line("abcd")]);
        assert_eq!(frames(&[b"abcde\n"], 4), vec![Frame::TooLong { limit: 4 }]);
        assert_eq!(
            frames(&[b"abcd\rx\n"], 4),
            vec![Frame::TooLong { limit: 4 }]
        );
    }

    #[test]
    fn memory_stays_bounded_for_a_huge_line() {
        let source = Pieces(vec![vec![b'x'; 1 << 20]]);
        let mut reader = LineReader::new(source, 100);
        assert_eq!(
            reader.read_frame().unwrap(),
            Some(Frame::TooLong { limit: 100 })
        );
        assert!(reader.decoder.pending.capacity() <= 101);
        assert_eq!(reader.read_frame().unwrap(), None);
    }

    /// Every frame the decoder gives for `chunks`, fed one after the other, then the end.
    fn decoded(chunks: &[&[u8]], max_line: usize) -> Vec<Frame> {
        let mut decoder = LineDecoder::new(max_line);
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk, |frame| out.push(frame.to_owned_frame()));
        }
        out.extend(decoder.finish().map(|frame| frame.to_owned_frame()));
        out
    }

    #[test]
    fn the_decoder_gives_the_readers_frames() {
        assert_eq!(
            decoded(&[b"hel", b"lo\r\nwor", b"ld\n", b"tail"], 100),
            vec![line("hello"), line("world"), line("tail")]
        );
        assert_eq!(
            decoded(&[b"xxxxxxxx", b"xxx\nok\n"], 4),
            vec![Frame::TooLong { limit: 4 }, line("ok")]
        );
    }

    #[test]
    fn the_decoder_holds_no_buffer_between_lines() {
        let mut decoder = LineDecoder::new(100);
        assert_eq!(decoder.held(), 0);
        decoder.feed(b"whole line\n", |_| {});
        assert_eq!(decoder.held(), 0, "a line inside one chunk is never copied");
        decoder.feed(b"half a ", |_| {});
        assert!(decoder.has_partial());
        assert!(decoder.held() >= 7);
        decoder.feed(b"line\n", |_| {});
        assert_eq!(decoder.held(), 0, "the buffer goes once its line has ended");
        assert!(!decoder.has_partial());
    }

    #[test]
    fn feed_counts_the_lines_a_chunk_completed_and_whether_one_continues() {
        let mut decoder = LineDecoder::new(8);
        let fed = decoder.feed(b"a\nb\nc", |_| {});
        assert_eq!(
            fed,
            Fed {
                lines: 2,
                too_long: 0,
                continues: true
            }
        );
        let fed = decoder.feed(b"\nwaytoolongline", |_| {});
        assert_eq!(
            fed,
            Fed {
                lines: 1,
                too_long: 1,
                continues: true
            }
        );
        let fed = decoder.feed(b"\n", |_| {});
        assert_eq!(fed, Fed::default());
    }

    #[test]
    fn a_line_inside_one_chunk_is_borrowed_from_it() {
        let chunk = b"one\ntwo\n";
        let mut decoder = LineDecoder::new(100);
        let (used, frame) = decoder.decode(chunk);
        assert_eq!(used, 4);
        let Some(Frame::Line(line)) = frame else {
            panic!("expected a line, got {frame:?}");
        };
        assert_eq!(line.as_ptr(), chunk.as_ptr());
    }

    #[test]
    fn raw_chunks_are_bounded_by_max_line() {
        let mut reader = ChunkReader::new(Pieces(vec![b"abcdefgh".to_vec(), b"ij".to_vec()]), 5);
        assert_eq!(reader.read_frame().unwrap(), Some(line("abcde")));
        assert_eq!(reader.read_frame().unwrap(), Some(line("fgh")));
        assert_eq!(reader.read_frame().unwrap(), Some(line("ij")));
        assert_eq!(reader.read_frame().unwrap(), None);
    }

    #[test]
    fn a_raw_chunk_loses_one_trailing_line_ending_but_keeps_inner_newlines() {
        let mut reader = ChunkReader::new(Pieces(vec![b"hi\r\n".to_vec(), b"a\nb\n".to_vec()]), 64);
        assert_eq!(reader.read_frame().unwrap(), Some(line("hi")));
        assert_eq!(reader.read_frame().unwrap(), Some(line("a\nb")));
    }

    #[test]
    fn only_an_empty_raw_message_is_unsendable() {
        assert!(unsendable(Framing::Raw, b"").is_some());
        assert!(unsendable(Framing::Raw, b"x").is_none());
        assert!(unsendable(Framing::Line, b"").is_none());
    }

    #[test]
    fn raw_messages_are_sent_without_a_newline() {
        let mut wire = Vec::new();
        write_message(&mut wire, Framing::Raw, b"hello").unwrap();
        write_message(&mut wire, Framing::Line, b"there").unwrap();
        assert_eq!(wire, b"hellothere\n");
    }

    #[test]
    fn write_line_appends_one_newline() {
        let mut wire = Vec::new();
        write_line(&mut wire, b"hello").unwrap();
        assert_eq!(wire, b"hello\n");
    }
}
