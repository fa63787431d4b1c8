//! One client's output in the poll engine: the lines waiting to be written, in order, and the
//! vectored `write` that sends as many of them as the kernel takes.
//!
//! A line the room sends to everybody is not copied into everybody's buffer. The dispatcher
//! gathers the lines of a turn, from everyone who spoke in it, into one block
//! ([`Share`]), and each recipient's outbox holds a reference to that same
//! block and the ranges of it that are for this recipient (all but its own lines): 200 students
//! receiving a pasted 8 KiB block cost one 8 KiB copy and 200 reference counts, not 200 copies
//! (only a share smaller than half its block is copied: [`Outbox::push_share`]).
//! The bytes are gathered from the blocks only by the kernel, in one `writev` per turn
//! (`write_vectored`, which takes a list of slices), and a block's memory is freed when the last
//! recipient has written it.
//!
//! A write may take fewer bytes than offered (the kernel's send buffer is nearly full): the
//! outbox remembers how far into its first block it got, and the next write starts there.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::ops::Range;
use std::sync::Arc;

use super::actions::Line;
use super::engine::Share;

/// How many slices one vectored write may carry. The OS allows 1,024 (`IOV_MAX` on Linux and
/// macOS); in a busy turn a client's outbox holds a slice per stretch of others' lines in each
/// block, a slice per private line, and a few hundred kilobytes per call are plenty (what does
/// not fit goes in the next call).
const SLICES_PER_WRITE: usize = 128;

/// How many entries the outbox's list may keep allocated while it is empty: a burst may leave
/// it with room for hundreds, which a thousand quiet clients must not each keep.
const ENTRIES_KEPT: usize = 16;

/// The lines waiting for one client.
#[derive(Default)]
pub struct Outbox {
    chunks: VecDeque<Chunk>,
    /// How many bytes of the first chunk are already written.
    front_written: usize,
    /// Bytes waiting in all (what the `CLIENT_QUEUE` bound is checked against).
    waiting: usize,
}

/// One entry of an outbox.
enum Chunk {
    /// A line for this client alone (a notice, a private message, its welcome). Its `\n` is
    /// not stored: the write adds it.
    Line(Line),
    /// Lines shared with the other recipients, each ending in `\n`: this range of the block.
    Shared(Arc<[u8]>, Range<usize>),
}

impl Chunk {
    /// The chunk's bytes, as the two slices a write sends in a row.
    fn parts(&self) -> [&[u8]; 2] {
        match self {
            Chunk::Line(line) => [line.as_bytes(), b"\n"],
            Chunk::Shared(block, range) => [&block[range.clone()], b""],
        }
    }

    fn len(&self) -> usize {
        match self {
            Chunk::Line(line) => line.len() + 1,
            Chunk::Shared(_, range) => range.len(),
        }
    }
}

impl Outbox {
    /// Bytes not written yet.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    pub fn is_empty(&self) -> bool {
        self.waiting == 0
    }

    /// Queues one line (its `\n` is added when it is written).
    pub fn push_line(&mut self, line: Line) {
        self.waiting += line.len() + 1;
        self.chunks.push_back(Chunk::Line(line));
    }

    /// Queues a client's share of a block of lines shared with other outboxes: references to
    /// the block, or, when the share is less than half of it, a copy of the share. A member who
    /// said most of a block and gets one line of it must not keep the whole block alive for that
    /// line: the client is charged for its share ([`CLIENT_QUEUE`](super::engine::CLIENT_QUEUE)),
    /// and what its outbox keeps alive stays under twice that.
    pub fn push_share(&mut self, share: &Share<'_>) {
        let bytes = share.bytes();
        if bytes * 2 < share.block.len() {
            let mut copy = Vec::with_capacity(bytes);
            for part in share.parts {
                copy.extend_from_slice(&share.block[part.clone()]);
            }
            self.push_shared(Arc::from(copy), 0..bytes);
        } else {
            for part in share.parts {
                self.push_shared(Arc::clone(share.block), part.clone());
            }
        }
    }

    /// Queues whole lines of a block shared with other outboxes: the bytes of `range`.
    fn push_shared(&mut self, block: Arc<[u8]>, range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        self.waiting += range.len();
        self.chunks.push_back(Chunk::Shared(block, range));
    }

    /// One vectored write of what waits (up to `SLICES_PER_WRITE` slices). Returns how many
    /// bytes the kernel took; `written`, if given, receives a copy of them (for `--trace`).
    /// `WouldBlock` and every other error are the caller's to handle; nothing is lost by them.
    // ANCHOR: write_vectored
    pub fn write_to(
        &mut self,
        out: &mut impl Write,
        written: Option<&mut Vec<u8>>,
    ) -> io::Result<usize> {
        let mut slices = [IoSlice::new(&[]); SLICES_PER_WRITE];
        let mut count = 0;
        let mut skip = self.front_written;
        'chunks: for chunk in &self.chunks {
            for part in chunk.parts() {
                if skip >= part.len() {
                    // Already written (or an empty part): nothing of it to send.
                    skip -= part.len();
                    continue;
                }
                slices[count] = IoSlice::new(&part[skip..]);
                skip = 0;
                count += 1;
                if count == SLICES_PER_WRITE {
                    break 'chunks;
                }
            }
        }
        if count == 0 {
            return Ok(0);
        }
        let n = out.write_vectored(&slices[..count])?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        if let Some(copy) = written {
            let mut left = n;
            for slice in &slices[..count] {
                let take = left.min(slice.len());
                copy.extend_from_slice(&slice[..take]);
                left -= take;
                if left == 0 {
                    break;
                }
            }
        }
        self.advance(n);
        Ok(n)
    }
    // ANCHOR_END: write_vectored

    /// Forgets the first `n` bytes: they are written. A chunk whose last byte went out is
    /// dropped (and a shared block freed, once every outbox has dropped it).
    fn advance(&mut self, mut n: usize) {
        self.waiting -= n;
        while n > 0 {
            let Some(front) = self.chunks.front() else {
                break;
            };
            let left = front.len() - self.front_written;
            if n < left {
                self.front_written += n;
                return;
            }
            n -= left;
            self.chunks.pop_front();
            self.front_written = 0;
        }
    }

    /// Whether it is empty but keeps room a burst made it take (the sweep gives it back).
    pub fn holds_spare_room(&self) -> bool {
        self.is_empty() && self.chunks.capacity() > ENTRIES_KEPT
    }

    /// Gives back the room of an empty outbox.
    pub fn shrink(&mut self) {
        if self.is_empty() {
            self.chunks = VecDeque::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes at most `per_write` bytes per call, like a nearly full send buffer.
    struct Trickle {
        got: Vec<u8>,
        per_write: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.per_write);
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let mut total = 0;
            for buf in bufs {
                let n = self.write(&buf[..buf.len().min(self.per_write - total)])?;
                total += n;
                if total == self.per_write {
                    break;
                }
            }
            Ok(total)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn filled() -> Outbox {
        let mut outbox = Outbox::default();
        let shared: Arc<[u8]> = Arc::from(&b"[bob] one\n[amy] hi\n[bob] two\n"[..]);
        outbox.push_line(Line::from("*** welcome"));
        outbox.push_share(&Share {
            block: &shared,
            parts: &[Range {
                start: 0,
                end: shared.len(),
            }],
            lines: 3,
        });
        outbox.push_line(Line::from(""));
        // amy's share: the block without her own line.
        outbox.push_share(&Share {
            block: &shared,
            parts: &[0..10, 19..shared.len(), 3..3],
            lines: 2,
        });
        outbox
    }

    const EXPECTED: &[u8] =
        b"*** welcome\n[bob] one\n[amy] hi\n[bob] two\n\n[bob] one\n[bob] two\n";

    #[test]
    fn partial_writes_of_any_size_send_every_byte_once_in_order() {
        for per_write in 1..=EXPECTED.len() + 1 {
            let mut outbox = filled();
            assert_eq!(outbox.waiting(), EXPECTED.len());
            let mut socket = Trickle {
                got: Vec::new(),
                per_write,
            };
            let mut traced = Vec::new();
            while !outbox.is_empty() {
                outbox.write_to(&mut socket, Some(&mut traced)).unwrap();
            }
            assert_eq!(socket.got, EXPECTED, "{per_write} bytes per write");
            assert_eq!(traced, EXPECTED, "what --trace saw, {per_write} per write");
            assert_eq!(outbox.waiting(), 0);
        }
    }

    /// The bytes of the blocks an outbox keeps alive.
    fn kept(outbox: &Outbox) -> usize {
        outbox
            .chunks
            .iter()
            .map(|chunk| match chunk {
                Chunk::Line(line) => line.len(),
                Chunk::Shared(block, _) => block.len(),
            })
            .sum()
    }

    #[test]
    fn a_small_share_of_a_big_block_is_copied_and_a_big_share_is_referenced() {
        // amy said 8 long lines of the block, bob one short line: amy's share is bob's line.
        let mut bytes = Vec::new();
        for _ in 0..8 {
            bytes.extend_from_slice(&[b'a'; 8000]);
            bytes.push(b'\n');
        }
        let amy_end = bytes.len();
        bytes.extend_from_slice(b"[bob] hi\n");
        let block: Arc<[u8]> = Arc::from(bytes);
        let mut amy = Outbox::default();
        amy.push_share(&Share {
            block: &block,
            parts: &[Range {
                start: amy_end,
                end: block.len(),
            }],
            lines: 1,
        });
        assert_eq!(amy.waiting(), 9);
        assert!(
            kept(&amy) <= 2 * amy.waiting(),
            "amy keeps {} bytes",
            kept(&amy)
        );
        // bob's share is most of the block: a reference, no copy.
        let mut bob = Outbox::default();
        bob.push_share(&Share {
            block: &block,
            parts: &[Range {
                start: 0,
                end: amy_end,
            }],
            lines: 8,
        });
        assert_eq!(bob.waiting(), amy_end);
        assert_eq!(Arc::strong_count(&block), 2);
        let mut socket = Trickle {
            got: Vec::new(),
            per_write: 4096,
        };
        while !amy.is_empty() {
            amy.write_to(&mut socket, None).unwrap();
        }
        assert_eq!(socket.got, b"[bob] hi\n");
    }

    #[test]
    fn an_empty_outbox_writes_nothing() {
        let mut socket = Trickle {
            got: Vec::new(),
            per_write: 100,
        };
        assert_eq!(Outbox::default().write_to(&mut socket, None).unwrap(), 0);
        assert!(socket.got.is_empty());
    }
}
