//! The reader pump: a thread that turns a byte stream (a socket, stdin) into messages on a channel.
//!
//! A blocking `read` can wait for ever, so whoever must also watch the keyboard or Ctrl-C cannot
//! call it on its own thread. The pump calls it on a thread of its own, frames what arrives
//! (framing.rs) and sends the messages to a bounded channel, which the mode's main loop
//! `select!`s over. duplex's socket, the room client's socket and piped stdin all use it; each
//! gives its own thread name and turns [`Pumped`] into its own event type.
//!
//! It is built for bulk: one `read` of up to [`READ_BLOCK`] bytes straight into a [`Messages`]
//! buffer, every whole message it brought framed where it lies, and one channel message for all
//! of them. A person typing produces one line per `read`, which therefore still goes alone and
//! at once; a file piped through costs one system call and one wake-up of the main thread per
//! read, not per line, and no copy or allocation at all once the first buffers come back: an
//! emptied block returns to the pump when dropped and is filled again, never freed while it
//! runs (no fresh pages per read, and never more blocks than were ever out at once).
//!
//! The pump never interprets a message (`bye`, a command): that is the mode's. A mode may name
//! one line to watch for ([`Reporting::stop_word`]); each block then only says whether it holds
//! one, and the mode decides what that means.

use std::io::{self, Read};
use std::net::TcpStream;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::console::Console;
use crate::framing::{
    Frame, Framing, LineDecoder, Messages, StopWord, UNFRAMED_HINT, UnframedHint,
};
use crate::observe::{Call, Watch};

/// What a pump tells besides the messages: each `read` to `watch` (`--trace`, `--events`), and
/// the hint for a peer that does not frame its messages (sockets with line framing).
#[derive(Clone, Default)]
pub struct Reporting {
    pub watch: Option<Watch>,
    pub unframed: Option<UnframedHint>,
    /// Whether each block says if it is plain text ([`Messages::is_plain`]): for what is
    /// printed (a peer's messages), not for what is only sent on (piped input).
    pub plain: bool,
    /// The line that ends the conversation (duplex's `bye`), looked for while framing, so that
    /// each block says whether it holds one ([`Messages::find`]).
    pub stop_word: Option<StopWord>,
}

impl Reporting {
    /// For a peer's socket: its watch, (with line framing) the hint for unframed peers, and
    /// whether blocks are plain text (they will be printed).
    pub fn for_socket(
        stream: &TcpStream,
        framing: Framing,
        watch: &Watch,
        console: &Console,
    ) -> Reporting {
        Reporting {
            watch: Some(watch.clone()),
            unframed: match framing {
                Framing::Line => {
                    UnframedHint::for_peer(stream, console.notice_later(UNFRAMED_HINT))
                }
                Framing::Raw => None,
            },
            plain: true,
            stop_word: None,
        }
    }

    /// The same, looking for `word` in every block ([`LineDecoder::watching`]).
    pub fn watching(self, word: Option<StopWord>) -> Reporting {
        Reporting {
            stop_word: word,
            ..self
        }
    }
}

/// How many bytes one `read` may fetch with line framing. A socket's or a file's `read` returns
/// as much as is waiting, up to this: 64 KiB is a whole pipe buffer, or one loopback segment, so
/// a fast sender is drained in a few system calls instead of many, and a block still fits in the
/// processor's cache while one thread frames it and the other writes it out. Measured with
/// `cargo bench --bench duplex`: 32 KiB was slower on both line lengths; 128 KiB was no
/// faster on 40-byte lines and slower than nc on 1 KiB lines, where 64 KiB is faster.
pub const READ_BLOCK: usize = 64 * 1024;

/// The pump's supply of [`Messages`] blocks: new ones, or ones that came back empty when their
/// receiver dropped them.
///
/// A block that comes back is kept for the next `read`, never freed while the pump runs: a
/// freed 64 KiB block would come back from the allocator as fresh pages, which the kernel
/// hands out one page fault and one zeroed page at a time (the first measurement found 22 MB of
/// page faults for 100 MB piped through). This costs no memory beyond the most blocks that were
/// ever out at once: a new block is made only when none is waiting, so there are never more
/// than the channel holds, plus the one being filled and the one being read.
pub struct Blocks {
    home: Sender<Messages>,
    spares: Receiver<Messages>,
}

impl Blocks {
    /// A supply for a pump whose channel holds `queue` hand-overs.
    pub fn new(queue: usize) -> Self {
        let (home, spares) = bounded(queue + 2);
        Blocks { home, spares }
    }

    /// An empty block, which comes back here when dropped.
    pub fn empty(&self) -> Messages {
        let mut block = self.spares.try_recv().unwrap_or_default();
        block.return_to(self.home.clone());
        block
    }
}

/// What a pump hands over.
#[derive(Debug)]
pub enum Pumped {
    /// Every whole message that one `read` brought, in order (at least one).
    Messages(Messages),
    /// A line longer than `--max-line`: dropped, reported once.
    TooLong { limit: usize },
    /// The stream ended in the middle of a line: these are the bytes that came of it (always
    /// followed by `Closed`). `printf 'hi' | nc …` sends a last message without a newline, and
    /// duplex and the keyboard take it as one; a room server only ever sends whole lines, so for
    /// its client the line was cut off by the close.
    Cut(Messages),
    /// `read` returned 0: the other side's FIN arrived (or stdin ended); nothing more will come.
    Closed,
    /// `read` failed, most often with ECONNRESET (a RST arrived).
    Failed(io::Error),
}

/// Starts a thread named `name` that reads `source` until it ends, framing it with `framing`
/// (messages of at most `max_line` bytes) and sending what it finds, converted by `wrap`, to the
/// returned channel, which holds at most `queue` of them: when the receiver falls behind, the
/// pump waits, the kernel's buffer fills, and TCP's flow control (or the pipe) slows the writer.
///
/// The thread ends after [`Pumped::Closed`] or [`Pumped::Failed`], or as soon as nobody listens
/// on the channel any more. A socket's pump blocked in `read` is woken by `shutdown(Both)`.
///
/// `reporting` says where each `read` is reported and whether to hint at an unframed peer;
/// [`Reporting::default`] (nothing) for stdin.
// ANCHOR: spawn_pump
pub fn spawn<E: Send + 'static>(
    name: &str,
    source: impl Read + Send + 'static,
    framing: Framing,
    max_line: usize,
    queue: usize,
    reporting: Reporting,
    wrap: fn(Pumped) -> E,
) -> io::Result<(Receiver<E>, JoinHandle<()>)> {
    let (sender, receiver) = bounded(queue);
    let handle = thread::Builder::new()
        .name(name.to_string())
        .spawn(move || pump(source, framing, max_line, &sender, reporting, wrap))?;
    Ok((receiver, handle))
}
// ANCHOR_END: spawn_pump

/// The pump's loop: read, frame, hand over, until the stream or the listener is gone.
fn pump<E>(
    mut source: impl Read,
    framing: Framing,
    max_line: usize,
    sender: &Sender<E>,
    reporting: Reporting,
    wrap: fn(Pumped) -> E,
) {
    let mut watch = reporting.watch.unwrap_or_else(Watch::off);
    let mut unframed = reporting.unframed;
    let mut decoder = LineDecoder::new(max_line)
        .noting_plain(reporting.plain)
        .watching(reporting.stop_word);
    let blocks = Blocks::new(sender.capacity().unwrap_or(1));
    // A failed send means the conversation is over and nobody listens any more.
    let mut hand_over = |event: Pumped| sender.send(wrap(event)).is_ok();
    loop {
        if let Some(hint) = &mut unframed {
            hint.before_read(decoder.partial_len());
        }
        let mut block = blocks.empty();
        let waiting = watch.waiting(Call::SocketRead);
        let read = read_block(framing, &mut decoder, &mut block, |buffer| {
            source.read(buffer)
        });
        drop(waiting);
        let n = match read {
            Ok(0) => {
                watch.fin_received();
                let _ =
                    hand_over_last_line(&mut decoder, &mut hand_over) && hand_over(Pumped::Closed);
                return;
            }
            Ok(n) => n,
            // A signal interrupted the system call before any byte arrived: just ask again.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A second without the rest of a line: the hint was given; wait on.
            Err(e) if unframed.as_mut().is_some_and(|hint| hint.timed_out(&e)) => continue,
            Err(e) => {
                watch.reset(&e);
                hand_over(Pumped::Failed(e));
                return;
            }
        };
        // What this read brought: the last `n` bytes of the block.
        let fresh = block.unframed();
        let chunk = &fresh[fresh.len() - n..];
        if let Some(hint) = &mut unframed {
            hint.after_read(memchr::memchr(b'\n', chunk).is_some());
        }
        let delivered = if watch.is_on() {
            // Watched: frame first, report what this read held, then hand it over, so the
            // report comes before anything the messages cause. (Framing works in place, so
            // the report needs its own copy of the bytes.)
            let chunk = chunk.to_vec();
            let mut held = Vec::new();
            frame(framing, &mut decoder, &blocks, block, &mut |event| {
                held.push(event);
                true
            });
            let messages = held.iter().map(Pumped::messages).sum();
            watch.read(&chunk, messages, decoder.partial_len());
            held.into_iter().all(&mut hand_over)
        } else {
            frame(framing, &mut decoder, &blocks, block, &mut hand_over)
        };
        if !delivered {
            return;
        }
    }
}

/// One `read` into `block` (see [`LineDecoder::read_into`]): up to [`READ_BLOCK`] bytes with
/// line framing, a line that began in the last read put in front of them; with raw framing,
/// where each `read` is one message, up to `max_line` bytes.
fn read_block(
    framing: Framing,
    decoder: &mut LineDecoder,
    block: &mut Messages,
    read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
) -> io::Result<usize> {
    match framing {
        Framing::Line => decoder.read_into(block, READ_BLOCK, read),
        Framing::Raw => block.read_more(decoder.max_line().max(1), read),
    }
}

/// Frames what one `read` put in `block` and hands over what it made; `false` when nobody
/// listens any more.
fn frame(
    framing: Framing,
    decoder: &mut LineDecoder,
    blocks: &Blocks,
    mut block: Messages,
    hand_over: &mut impl FnMut(Pumped) -> bool,
) -> bool {
    match framing {
        Framing::Line => frame_lines(decoder, blocks, block, hand_over),
        Framing::Raw => {
            block.frame_raw();
            hand_over(Pumped::Messages(block))
        }
    }
}

impl Pumped {
    /// How many messages this counts as in a trace: a too-long line is one.
    fn messages(&self) -> usize {
        match self {
            Pumped::Messages(lines) | Pumped::Cut(lines) => lines.len(),
            Pumped::TooLong { .. } => 1,
            Pumped::Closed | Pumped::Failed(_) => 0,
        }
    }
}

/// Frames, in place, the lines one `read` put in `block` ([`LineDecoder::frame_tail`]) and
/// hands over what it completed: the whole lines in one [`Messages`], and a
/// [`Pumped::TooLong`] in its place among them when a line was too long (the lines after it
/// then go in another block: each byte is moved at most once, however many lines were too
/// long). `false` when nobody listens any more.
///
/// Sans-IO like the decoder, so a test can feed it any split of a stream
/// ([`frame_chunk`]).
// ANCHOR: frame_lines
pub fn frame_lines(
    decoder: &mut LineDecoder,
    blocks: &Blocks,
    mut block: Messages,
    hand_over: &mut impl FnMut(Pumped) -> bool,
) -> bool {
    let mut too_long = Vec::new();
    decoder.frame_tail(&mut block, &mut too_long);
    // Cut from the end, so that each piece is moved once; then hand over from the start.
    let mut pieces = Vec::with_capacity(too_long.len());
    for &at in too_long.iter().rev() {
        let mut piece = blocks.empty();
        block.split_off(at, &mut piece);
        pieces.push(piece);
    }
    // The lines before the first too-long one, then each too-long line and the lines after it.
    let limit = decoder.max_line();
    let mut lines = block;
    for piece in pieces.into_iter().rev() {
        if !(lines.is_empty() || hand_over(Pumped::Messages(lines))) {
            return false;
        }
        if !hand_over(Pumped::TooLong { limit }) {
            return false;
        }
        lines = piece;
    }
    lines.is_empty() || hand_over(Pumped::Messages(lines))
}
// ANCHOR_END: frame_lines

/// What the pump does with one `read` that brought `chunk`, with line framing: read it into a
/// block as the socket would, and frame it. For tests, which feed any split of a stream.
pub fn frame_chunk(
    decoder: &mut LineDecoder,
    blocks: &Blocks,
    chunk: &[u8],
    hand_over: &mut impl FnMut(Pumped) -> bool,
) -> bool {
    let mut block = blocks.empty();
    let copied = decoder.read_into(&mut block, chunk.len(), |buffer| {
        buffer.copy_from_slice(chunk);
        Ok(chunk.len())
    });
    match copied {
        Ok(0) | Err(_) => true,
        Ok(_) => frame_lines(decoder, blocks, block, hand_over),
    }
}

/// At the end of the stream, a line still waiting for its newline is the last message.
pub fn hand_over_last_line(
    decoder: &mut LineDecoder,
    hand_over: &mut impl FnMut(Pumped) -> bool,
) -> bool {
    match decoder.finish() {
        Some(Frame::Line(line)) => hand_over(Pumped::Cut(Messages::from_iter([line]))),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pumped(source: &[u8], framing: Framing, max_line: usize) -> Vec<String> {
        let (events, handle) = spawn(
            "test-pump",
            io::Cursor::new(source.to_vec()),
            framing,
            max_line,
            4,
            Reporting::default(),
            |e| e,
        )
        .unwrap();
        let mut seen = Vec::new();
        for event in events {
            seen.push(match event {
                Pumped::Messages(m) => format!(
                    "{:?}",
                    m.iter().map(String::from_utf8_lossy).collect::<Vec<_>>()
                ),
                Pumped::Cut(m) => format!(
                    "cut {:?}",
                    m.iter().map(String::from_utf8_lossy).collect::<Vec<_>>()
                ),
                Pumped::TooLong { limit } => format!("too long {limit}"),
                Pumped::Closed => "closed".to_string(),
                Pumped::Failed(e) => format!("failed {e}"),
            });
        }
        handle.join().unwrap();
        seen
    }

    #[test]
    fn one_read_of_lines_is_one_message_block_then_the_end() {
        assert_eq!(
            pumped(b"a\r\nbb\ntoo long here\nc\nlast", Framing::Line, 4),
            vec![
                r#"["a", "bb"]"#.to_string(),
                "too long 4".into(),
                r#"["c"]"#.into(),
                r#"cut ["last"]"#.into(),
                "closed".into()
            ]
        );
    }

    #[test]
    fn each_too_long_line_is_reported_in_its_place_among_the_lines_of_one_read() {
        assert_eq!(
            pumped(
                b"ok\n0123456789\nb\n0123456789\n0123456789\nd\ne\n",
                Framing::Line,
                4
            ),
            vec![
                r#"["ok"]"#.to_string(),
                "too long 4".into(),
                r#"["b"]"#.into(),
                "too long 4".into(),
                "too long 4".into(),
                r#"["d", "e"]"#.into(),
                "closed".into()
            ]
        );
    }

    #[test]
    fn raw_framing_hands_over_each_read_as_one_message() {
        assert_eq!(
            pumped(b"one\ntwo\n", Framing::Raw, 64),
            vec![r#"["one\ntwo"]"#.to_string(), "closed".into()]
        );
    }
}
