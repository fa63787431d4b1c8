//! The line decoder: where one message ends in a byte stream, as a state machine that does no
//! I/O (lesson 1's "framing"). Fed bytes of any split, it hands back whole lines, borrowed from
//! the chunk when a line lies inside it, and keeps only the unfinished line, never more than
//! `max_line + 1` bytes. Its state is one enum: between lines, inside one, a line handed out, or
//! skipping the rest of a line that was too long. The bulk path ([`LineDecoder::read_into`],
//! [`LineDecoder::frame_tail`]) frames a [`Messages`] block in place. [`Framing`] (lines or raw)
//! sits here too, below the observer, which counts messages with it.

use std::io;
use std::mem::take;

use super::messages::{Messages, StopWord};
use crate::scan;

/// Default for `--max-line`: the longest message, in bytes, netchat accepts from a peer or sends.
///
/// 8 KiB is far more than anyone types in a chat and small enough that a thousand connections
/// cost only a few MiB. A longer line is dropped with a notice (see [`Frame::TooLong`]).
pub const DEFAULT_MAX_LINE: usize = 8192;

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

/// One thing the reader found in the byte stream.
///
/// `L` is how the line's bytes are held: owned (`Vec<u8>`, the default, what [`LineReader`](super::LineReader)
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
/// TCP may cut the stream anywhere, so the decoder keeps exactly one thing between calls: where
/// it is in the stream (its `State`: between lines, inside one, skipping the rest of one that was
/// too long) and the bytes of the line that has begun but not ended (at most `max_line + 1` of
/// them). A line that lies whole inside one chunk
/// is handed out as a slice *of that chunk*, never copied; only a line cut by a chunk boundary
/// is gathered in the decoder's own buffer. That buffer is allocated when such a line first
/// appears and freed as soon as the line ends, so a connection that has not spoken, or that is
/// between lines, costs no buffer at all: what lets one thread hold twenty thousand quiet
/// clients (the poll engine), and what lets a blocking reader ([`LineReader`](super::LineReader)), an event loop
/// and a test share one definition of a line.
///
/// Newlines are found with `memchr`, which compares 16 or 32 bytes per instruction (SSE2/AVX2,
/// NEON): a 1 KiB line costs a few dozen comparisons instead of a thousand. A line ends at `\n`,
/// or at telnet's CR NUL (`line_end`).
#[derive(Debug)]
pub struct LineDecoder {
    /// The line that has begun but not ended: never more than `max_line + 1` bytes (the `+ 1`
    /// leaves room for the CR of a CR LF ending). Empty, with no allocation, between lines.
    pending: Vec<u8>,
    max_line: usize,
    /// Where the decoder is in the stream.
    state: State,
    /// Whether the bulk path notes if each block is plain text ([`Messages::is_plain`]).
    notes_plain: bool,
    /// The line the bulk path looks for in each block ([`LineDecoder::watching`]).
    word: Option<StopWord>,
}

/// Where a [`LineDecoder`] is in the byte stream, between two chunks: the state machine of
/// lesson 1, whose every arrow is a chunk arriving.
///
/// ```text
///            bytes, no newline                 newline
///  Between ─────────────────────> Partial ──────────────> HandedOut ──(next call)──> Between
///     │  └──── newline in the chunk: the line is handed out from the chunk itself ─────┘
///     └──── more than max_line before a newline ──> Skipping ──(its newline)──> Between
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No line has begun; `pending` is empty, with no allocation.
    Between,
    /// A line has begun and waits for its newline: its bytes are in `pending`.
    Partial,
    /// `pending` holds the line handed out by the last call, dropped before the next.
    HandedOut,
    /// After a `TooLong`: throwing away the rest of that line, up to its newline. `after_cr`:
    /// the last byte thrown away was a CR, so a NUL first in the next chunk ends the line
    /// (telnet's CR NUL cut in two by TCP).
    Skipping { after_cr: bool },
}

impl LineDecoder {
    /// A decoder for lines of at most `max_line` bytes (not counting the newline or a CR
    /// before it). Allocates nothing.
    pub fn new(max_line: usize) -> Self {
        LineDecoder {
            pending: Vec::new(),
            max_line,
            state: State::Between,
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
        self.state == State::Partial
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
        if self.state == State::HandedOut {
            // The line handed out last call is finished with: free its buffer.
            self.pending = Vec::new();
            self.state = State::Between;
        }
        let total = input.len();
        // The rest of a too-long line is thrown away, up to and including its newline.
        if let State::Skipping { after_cr } = self.state {
            match line_end(input, after_cr) {
                Some(end) => {
                    self.state = State::Between;
                    input = &input[end + 1..];
                }
                None => {
                    // An empty chunk says nothing about the last byte skipped.
                    if let Some(&last) = input.last() {
                        self.state = State::Skipping {
                            after_cr: last == b'\r',
                        };
                    }
                    return (total, None);
                }
            }
        }
        let skipped = total - input.len();
        let Some(newline) = line_end(input, self.pending.last() == Some(&b'\r')) else {
            // No newline yet: keep the bytes for the next chunk, unless they are already too many.
            if would_be_too_long(&self.pending, input, self.max_line) {
                let after_cr = input.last().or(self.pending.last()) == Some(&b'\r');
                self.pending = Vec::new();
                self.state = State::Skipping { after_cr };
                return (total, Some(self.too_long()));
            }
            self.keep(input);
            return (total, None);
        };
        let used = skipped + newline + 1;
        let piece = &input[..newline];
        if would_be_too_long(&self.pending, piece, self.max_line) {
            self.pending = Vec::new();
            self.state = State::Between;
            return (used, Some(self.too_long()));
        }
        if self.pending.is_empty() {
            // The common case: the whole line is in this chunk. Hand it out without a copy.
            return (used, Some(Frame::Line(strip_cr(piece))));
        }
        self.keep(piece);
        self.state = State::HandedOut;
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
            self.state = State::Between;
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
            self.state = State::Between;
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
        matches!(self.state, State::Between | State::HandedOut)
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
        fed.continues = matches!(self.state, State::Partial | State::Skipping { .. });
        fed
    }

    /// The stream ended (the peer's FIN). A line that was still waiting for its newline is the
    /// last message: `printf 'hi' | nc …` sends one without a newline, and it should not be lost.
    pub fn finish(&mut self) -> Option<Frame<&[u8]>> {
        if self.state == State::Partial {
            self.state = State::HandedOut;
            return Some(Frame::Line(strip_cr(&self.pending)));
        }
        self.pending = Vec::new();
        self.state = State::Between;
        None
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
        if !self.pending.is_empty() {
            self.state = State::Partial;
        }
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

/// Whether `pending` plus `more` would exceed the limit. Checked *before* the bytes are stored,
/// so the pending line never outgrows it. A line of exactly `max_line` bytes may still be
/// followed by the CR of a CR LF ending.
fn would_be_too_long(pending: &[u8], more: &[u8], max_line: usize) -> bool {
    let len = pending.len() + more.len();
    let last = more.last().or(pending.last());
    len > max_line + 1 || (len == max_line + 1 && last != Some(&b'\r'))
}
