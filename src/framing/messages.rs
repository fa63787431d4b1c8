//! [`Messages`]: the whole messages one `read` brought, in one buffer, in wire form, handed
//! between threads as one value and given back to the reader that filled it when dropped (the
//! pool that keeps a reader from allocating per read); whether its messages are all plain text,
//! which the console then prints without looking again; and the [`StopWord`] a block can say it
//! holds none of.

use std::io;
use std::mem::take;

use crossbeam_channel::Sender;

use crate::scan;

/// A line that ends a conversation when it comes, such as duplex's `bye`: the word alone on a
/// line, in any case, blanks around it forgiven (`  Bye `).
///
/// The reader pump looks for it while it frames a block ([`LineDecoder::watching`](super::LineDecoder::watching)), so that
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
    pub(super) fn letter(self) -> u8 {
        self.0.as_bytes().first().copied().unwrap_or(b' ')
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
    pub(super) bytes: Vec<u8>,
    pub(super) len: usize,
    framed: usize,
    /// Where each message's `\n` is, only when a message may hold newlines of its own (a raw
    /// chunk): `listed` is then true. Otherwise every `\n` in `bytes[..framed]` ends a message,
    /// and nothing needs to be noted per line: finding the lines of a block is only making sure
    /// that none is too long (scan.rs).
    ends: Vec<usize>,
    listed: bool,
    /// Whether some message may hold a byte that is not plain text ([`scan::is_plain`]): when
    /// false, every message is printable ASCII or tabs, which the console prints as it is.
    pub(super) odd: bool,
    /// A word that framing looked for in every message and did not find ([`Messages::find`]).
    pub(super) clear_of: Option<StopWord>,
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
    pub(super) fn reserve(&mut self, more: usize) {
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
    /// [`LineDecoder::frame_tail`](super::LineDecoder::frame_tail)). The reader fills the block itself, so no byte is copied
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
    /// start of a line that an earlier read brought ([`LineDecoder::read_into`](super::LineDecoder::read_into)). After the end
    /// of the stream or an error, not even the gap is left.
    pub(super) fn read_after(
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
    pub(super) fn framed_len(&self) -> usize {
        self.framed
    }

    /// The bytes at the end that were read but are not framed yet.
    pub fn unframed(&self) -> &[u8] {
        &self.bytes[self.framed..self.len]
    }

    /// The bytes up to `end` are messages now, the last of them ending with the `\n` at
    /// `end - 1`.
    pub(super) fn framed_up_to(&mut self, end: usize) {
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
    /// looked for that word in every message while it found them ([`LineDecoder::watching`](super::LineDecoder::watching))
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

/// A raw chunk without one trailing `\n` or `\r\n`.
pub fn strip_line_ending(chunk: &[u8]) -> &[u8] {
    let chunk = chunk.strip_suffix(b"\n").unwrap_or(chunk);
    chunk.strip_suffix(b"\r").unwrap_or(chunk)
}
