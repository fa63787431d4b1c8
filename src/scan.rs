//! Looking at bytes 64 at a time: whether whole lines are within the limit, and whether anything
//! needs escaping.
//!
//! A loop that tests a byte and branches on the answer handles about one byte per cycle, and a
//! `memchr` call costs a few dozen instructions before it finds the end of a 40-byte line. The
//! loops here test all 64 bytes of a chunk with no branch inside, which the compiler turns into
//! SIMD instructions (16 bytes per comparison), and ask only what can be answered for all 64
//! at once ("is one of them a newline?"). Where each line ends need not be known: in a block of
//! lines, every newline ends a message, so finding the lines is only making sure that none is
//! too long, which a look at whole chunks settles for all but a few.
//!
//! framing.rs finds where the whole lines of a block end with [`whole_lines`] (and in the same
//! look, whether a line may end the conversation), and with [`plain_prefix`] whether a block
//! holds anything but printable ASCII, CR and NUL included; console.rs then prints a plain block
//! without looking at it again.

/// How many bytes are looked at at once.
pub const CHUNK: usize = 64;

/// Whether a byte can reach a terminal as it is: printable ASCII (space to `~`) or a tab.
/// Everything else (controls, DEL, any byte of a multi-byte UTF-8 character) is for the console
/// to look at more closely, and maybe escape.
#[inline]
pub fn is_plain(byte: u8) -> bool {
    byte.wrapping_sub(b' ') < 0x5f || byte == b'\t'
}

/// Whether every byte is plain ([`is_plain`]). Tests whole chunks without stopping at the first
/// odd byte, so that the test of a chunk has no branch in it.
pub fn all_plain(bytes: &[u8]) -> bool {
    bytes
        .chunks(CHUNK)
        .all(|chunk| chunk.iter().fold(true, |plain, &b| plain & is_plain(b)))
}

/// How many bytes at the start are plain text or newlines: the index of the first byte that is
/// neither, or the length if there is none.
// ANCHOR: plain_prefix
pub fn plain_prefix(bytes: &[u8]) -> usize {
    let mut at = 0;
    while let Some(chunk) = bytes[at..].first_chunk::<CHUNK>() {
        // No branch inside: the compiler tests the chunk 16 bytes at a time. One more than a
        // plain byte (space to `~`) is 0x21..=0x7F, which read as a signed number is exactly
        // the numbers above 0x20: controls, DEL and 0x80..=0xFF (parts of multi-byte
        // characters) all fall outside with one addition and one comparison. One more than a
        // tab or a newline is 0x0A or 0x0B, which differ only in their lowest bit.
        let mut plain = true;
        for &b in chunk {
            let next = b.wrapping_add(1);
            plain &= (next as i8 > 0x20) | (next | 1 == 0x0b);
        }
        if !plain {
            break;
        }
        at += CHUNK;
    }
    let rest = &bytes[at..];
    at + rest
        .iter()
        .position(|&b| !is_plain(b) && b != b'\n')
        .unwrap_or(rest.len())
}
// ANCHOR_END: plain_prefix

/// A line to watch for, for [`whole_lines`]: the first letter of the word, and the exact test
/// of a whole line. A line whose first byte is that letter in either case, or a byte no higher
/// than a space (every blank is), is asked about; no other line can be the word.
pub type Word<'a> = (u8, &'a dyn Fn(&[u8]) -> bool);

/// The whole lines at the start of `bytes`, up to the first one longer than `max_line`: returns
/// how many bytes they take (newlines included), and whether one of them is the `word` watched
/// for. Every newline in those bytes ends a message, so nothing else needs to be noted.
///
/// Most of the bytes are looked at 64 at a time with no branch inside (`look`), which the
/// compiler turns into SIMD instructions (16 bytes per comparison), and the answers for the 64
/// are only "is there a newline" and "may a line that starts here be the word": no line is
/// visited one by one. A chunk is passed when no line in it can be too long (it is at most
/// `max_line` bytes from the start of the chunk where the last newline was) and no line that
/// starts in it may be the word. 64 bytes without a newline are a long line, whose end
/// `memchr` finds. Any other chunk is looked at line by line, exactly, with `memchr`; and so is
/// what is left after the last whole chunk.
// ANCHOR: whole_lines
pub fn whole_lines(bytes: &[u8], max_line: usize, word: Option<Word<'_>>) -> (usize, bool) {
    match word {
        Some((letter, is_word)) => lines::<true>(bytes, max_line, letter, is_word),
        None => lines::<false>(bytes, max_line, 0, &|_| false),
    }
}

/// [`whole_lines`], made twice by the compiler: with and without a word to watch for.
fn lines<const WATCH: bool>(
    bytes: &[u8],
    max_line: usize,
    letter: u8,
    is_word: &dyn Fn(&[u8]) -> bool,
) -> (usize, bool) {
    let letter = letter | 0x20;
    let may_start = |byte: u8| WATCH && ((byte | 0x20) == letter || byte <= b' ');
    // `start`: where the first line not yet known to be whole starts, exactly. `at`: the next
    // chunk to look at, with the byte before it (the first byte of all, a line's start, is
    // looked at on its own).
    let (mut start, mut said) = (0, false);
    let mut at = 1;
    let mut exact = bytes.first().is_some_and(|&first| may_start(first));
    loop {
        if !exact {
            at = pass::<WATCH>(bytes, (at, start), max_line, letter);
        }
        exact = false;
        // The lines that ended before `at` are whole; look at the next ones one by one, up
        // to the end of the chunk that was not passed.
        if let Some(last) = memchr::memrchr(b'\n', &bytes[start..at.min(bytes.len())]) {
            start += last + 1;
        }
        let until = at + CHUNK;
        while start < until {
            let Some(length) = memchr::memchr(b'\n', &bytes[start..]) else {
                return (start, said);
            };
            if length > max_line {
                return (start, said);
            }
            if may_start(bytes[start]) {
                said |= is_word(&bytes[start..start + length]);
            }
            start += length + 1;
        }
        at = start;
    }
}
// ANCHOR_END: whole_lines

/// The fast part of [`whole_lines`]: from the chunk at `at` (the line being read started at or
/// after `since`), passes every chunk in which no line can be too long and no line that starts
/// there may be the word, and every long line that is within the limit. Returns where it
/// stopped: every line that ended before it is whole.
fn pass<const WATCH: bool>(
    bytes: &[u8],
    (mut at, mut since): (usize, usize),
    max_line: usize,
    letter: u8,
) -> usize {
    loop {
        let (Some(before), Some(chunk)) = (
            bytes.get(at - 1..).and_then(<[u8]>::first_chunk::<CHUNK>),
            bytes.get(at..).and_then(<[u8]>::first_chunk::<CHUNK>),
        ) else {
            return at;
        };
        if at + CHUNK - 1 - since > max_line {
            return at;
        }
        let (newline, maybe) = look::<WATCH>(before, chunk, letter);
        if maybe {
            return at;
        }
        if !newline {
            // 64 bytes without a newline: a long line, whose end `memchr` finds fastest (it
            // skips 32 bytes per step).
            match memchr::memchr(b'\n', &bytes[at + CHUNK..]) {
                Some(length) if at + CHUNK + length - since <= max_line => {
                    (at, since) = (at + CHUNK + length + 1, at + CHUNK + length + 1);
                    continue;
                }
                _ => return at,
            }
        }
        (at, since) = (at + CHUNK, at);
    }
}

/// What 64 bytes hold, looked at all at once: whether one of them is a newline, and (when
/// `WATCH`) whether a line starts at one of them (the byte `before` it is a newline) with a
/// byte that [`whole_lines`] must ask about. `before[i]` is the byte before `chunk[i]`.
// ANCHOR: look
#[inline]
fn look<const WATCH: bool>(before: &[u8; CHUNK], chunk: &[u8; CHUNK], letter: u8) -> (bool, bool) {
    let (mut newline, mut maybe) = (0u8, 0u8);
    for (&previous, &byte) in before.iter().zip(chunk) {
        let is_newline = u8::from(byte == b'\n');
        newline |= is_newline;
        if WATCH {
            let starts = u8::from(previous == b'\n');
            // The word's letter in either case, or a blank (an empty line is not the word).
            let like = u8::from((byte | 0x20) == letter) | (u8::from(byte <= b' ') & !is_newline);
            maybe |= starts & like;
        }
    }
    (newline != 0, maybe & 1 != 0)
}
// ANCHOR_END: look

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_is_printable_ascii_and_tab() {
        assert!(all_plain(b"Hello, world!\tok ~"));
        assert!(!all_plain(b"bell\x07"));
        assert!(!all_plain(b"del\x7f"));
        assert!(!all_plain("caf\u{e9}".as_bytes()));
        assert!(!all_plain(b"new\nline"));
        assert!(all_plain(b""));
    }

    #[test]
    fn whole_lines_stop_before_the_first_too_long_line_and_see_every_bye() {
        let is_bye = |line: &[u8]| line.trim_ascii().eq_ignore_ascii_case(b"bye");
        let short = b"ab\n  bye\nbyebye\nlong line\nx\n";
        assert_eq!(whole_lines(short, 6, Some((b'b', &is_bye))), (16, true));
        assert_eq!(whole_lines(short, 6, None), (16, false));
        assert_eq!(whole_lines(short, 9, None), (short.len(), false));
        // Past the first 64 bytes, in every position, and in long lines.
        for length in [0, 1, 5, 40, 62, 63, 64, 65, 100, 127, 128, 129, 300, 1023] {
            let mut text = Vec::new();
            for n in 0..40 {
                text.extend(std::iter::repeat_n(b'x', length));
                text.push(b'\n');
                if n == 30 {
                    text.extend_from_slice(b" BYE\n");
                }
            }
            text.extend_from_slice(b"no newline at the end");
            let whole = text.len() - "no newline at the end".len();
            let bye = 31 * (length + 1);
            for start in 0..70.min(bye) {
                let text = &text[start..];
                let whole = whole - start;
                assert_eq!(
                    whole_lines(text, 2000, Some((b'b', &is_bye))),
                    (whole, true)
                );
                assert_eq!(whole_lines(text, 2000, None), (whole, false));
                let first = memchr::memchr(b'\n', text).unwrap_or(0);
                let stop = match (first > 50, length > 50) {
                    (true, _) => 0,
                    (false, true) => first + 1,
                    (false, false) => whole,
                };
                assert_eq!(whole_lines(text, 50, None).0, stop, "{length} {start}");
            }
        }
    }

    #[test]
    fn the_plain_prefix_ends_at_the_first_odd_byte_in_any_chunk() {
        let mut text = b"a line\n".repeat(40);
        assert_eq!(plain_prefix(&text), text.len());
        for at in [0, 1, 63, 64, 65, 200, text.len() - 1] {
            let mut odd = text.clone();
            odd[at] = b'\r';
            assert_eq!(plain_prefix(&odd), at);
            odd[at] = 0xc3;
            assert_eq!(plain_prefix(&odd), at);
        }
        text.clear();
        assert_eq!(plain_prefix(&text), 0);
    }
}
