//! Looking at bytes 64 at a time: where the newlines are, and whether anything needs escaping.
//!
//! A loop that tests a byte and branches on the answer handles about one byte per cycle, and a
//! `memchr` call costs a few dozen instructions before it finds the end of a 40-byte line. The
//! loops here test all 64 bytes of a chunk with no branch inside, which the compiler turns into
//! SIMD instructions (16 bytes per comparison). [`mask`] then gathers the 64 answers into one
//! number, one bit per byte: "where are the newlines in these 64 bytes" is a `u64`, and the next
//! newline is its lowest set bit (`trailing_zeros`, one instruction).
//!
//! framing.rs finds lines with [`whole_lines`] (and in the same loop, a line that may end the
//! conversation), and with [`plain_prefix`] whether a block holds anything but printable ASCII,
//! CR and NUL included; console.rs then prints a plain block without looking at it again.

/// How many bytes one mask covers: one bit per byte of a `u64`.
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
        // No branch inside: the compiler tests the chunk 16 bytes at a time. Read as a signed
        // number, a byte is below a space when it is a control or one of 0x80..=0xFF (part of a
        // multi-byte character): one comparison for both.
        let mut odd = 0u8;
        for &b in chunk {
            let below_space = u8::from((b as i8) < 0x20) & u8::from(b != b'\t' && b != b'\n');
            odd |= below_space | u8::from(b == 0x7f);
        }
        if odd != 0 {
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

/// The bytes a line may start with to be worth a closer look, one flag per byte value: see
/// [`whole_lines`]. All false: no line is.
pub type FirstBytes = [bool; 256];

/// The whole lines at the start of `bytes` whose newline comes at most `max_line` bytes after
/// their start. For each, in order, pushes
/// `base` + the offset of its newline to `ends`; stops before the first line that is longer.
/// Returns how many bytes those lines take (newlines included), and whether `is_word` said yes
/// to one of them. `is_word` is asked only about the lines whose first byte is in `first`: a
/// conversation's last word (duplex's `bye`) is looked for while the lines are found, in the
/// same loop, at the cost of one table look-up per line.
///
/// Short lines (the costly kind: one newline every few dozen bytes) are found 64 bytes at a
/// time ([`mask`]): one mask per 64 bytes, then one instruction per newline. When 64 bytes hold
/// no newline, the line is long, and `memchr` (which skips 32 bytes per step, but costs a few
/// dozen instructions to start) finds its end. Written as one loop with nothing behind a reference, so that the compiler keeps the state in
/// registers: finding a 40-byte line costs a handful of instructions.
// ANCHOR: whole_lines
pub fn whole_lines(
    bytes: &[u8],
    max_line: usize,
    first: &FirstBytes,
    is_word: impl Fn(&[u8]) -> bool,
    ends: &mut Vec<usize>,
    base: usize,
) -> (usize, bool) {
    // `start`: where the line being looked for starts; `said`: the word was seen.
    let (mut start, mut said) = (0, false);
    // One line, whose newline is at `end`: `false` (and nothing recorded) when it is too long.
    let mut line = |start: &mut usize, end: usize| {
        if end - *start > max_line {
            return false;
        }
        ends.push(base + end);
        if first[usize::from(bytes[*start])] {
            said |= is_word(&bytes[*start..end]);
        }
        *start = end + 1;
        true
    };
    let mut at = 0;
    while let Some(chunk) = bytes[at..].first_chunk::<CHUNK>() {
        let mut found = mask(chunk, |b| b == b'\n');
        if found == 0 {
            // 64 bytes without a newline: a long line, whose end `memchr` finds fastest.
            match memchr::memchr(b'\n', &bytes[at + CHUNK..]) {
                Some(end) if line(&mut start, at + CHUNK + end) => at = start,
                _ => return (start, said),
            }
            continue;
        }
        while found != 0 {
            if !line(&mut start, at + found.trailing_zeros() as usize) {
                return (start, said);
            }
            found &= found - 1;
        }
        at += CHUNK;
    }
    for end in memchr::memchr_iter(b'\n', &bytes[at..]) {
        if !line(&mut start, at + end) {
            break;
        }
    }
    (start, said)
}
// ANCHOR_END: whole_lines

/// One bit per byte of `chunk`: bit `i` is set when `test(chunk[i])`.
// ANCHOR: mask
#[inline]
pub fn mask(chunk: &[u8; CHUNK], test: impl Fn(u8) -> bool) -> u64 {
    // First every answer as a byte, 0 or 1: 64 comparisons with no branch, which the compiler
    // does 16 or 32 at once.
    let answers: [u8; CHUNK] = std::array::from_fn(|i| u8::from(test(chunk[i])));
    // Then 8 answers at a time into 8 bits. In the product, answer k (bit 8k of `eight`) times
    // the multiplier's byte 7 - k (2^(7-k), at bit 8(7-k)) lands on bit 56 + k, and every other
    // pair lands on a bit of its own below 56, or beyond 63: the top byte holds the 8 answers.
    let mut bits = 0;
    for (i, eight) in answers.chunks_exact(8).enumerate() {
        let mut word = [0; 8];
        word.copy_from_slice(eight);
        let eight = u64::from_le_bytes(word);
        bits |= (eight.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * i);
    }
    bits
}
// ANCHOR_END: mask

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
    fn a_mask_has_one_bit_per_byte_in_order() {
        for seed in 0..300u64 {
            let chunk: [u8; CHUNK] =
                std::array::from_fn(|i| [b'\n', b'a', b'\r', 0, 0xc3][(seed as usize + i * i) % 5]);
            let one_by_one = (0..CHUNK).fold(0, |bits, i| bits | u64::from(chunk[i] == b'\n') << i);
            assert_eq!(mask(&chunk, |b| b == b'\n'), one_by_one);
        }
        let mut chunk = [b'x'; CHUNK];
        (chunk[0], chunk[63]) = (b'\n', b'\n');
        assert_eq!(mask(&chunk, |b| b == b'\n'), 1 | 1 << 63);
    }

    /// Every newline of `bytes`, as `whole_lines` finds them with no limit and no word.
    fn all_newlines(bytes: &[u8]) -> Vec<usize> {
        let mut ends = Vec::new();
        whole_lines(bytes, usize::MAX, &[false; 256], |_| true, &mut ends, 0);
        ends
    }

    #[test]
    fn newlines_are_found_in_order_in_short_and_long_lines() {
        let mut text = Vec::new();
        for length in [
            0, 1, 5, 40, 62, 63, 64, 65, 100, 127, 128, 129, 300, 1023, 3, 0,
        ] {
            text.extend(std::iter::repeat_n(b'x', length));
            text.push(b'\n');
        }
        text.extend_from_slice(b"no newline at the end");
        for start in 0..70 {
            let expected: Vec<usize> = memchr::memchr_iter(b'\n', &text[start..]).collect();
            assert_eq!(all_newlines(&text[start..]), expected);
        }
    }

    #[test]
    fn whole_lines_stop_before_the_first_too_long_line_and_ask_only_about_first_bytes() {
        let text = b"ab\n  bye\nbyebye\nlong line\nx\n";
        let mut first = [false; 256];
        (first[usize::from(b' ')], first[usize::from(b'b')]) = (true, true);
        let asked = std::cell::RefCell::new(Vec::new());
        let mut ends = vec![7];
        let (len, said) = whole_lines(
            text,
            6,
            &first,
            |line| {
                asked.borrow_mut().push(line.to_vec());
                line.trim_ascii() == b"bye"
            },
            &mut ends,
            100,
        );
        assert_eq!((len, said), (16, true));
        assert_eq!(ends, [7, 102, 108, 115]);
        assert_eq!(asked.into_inner(), [&b"  bye"[..], b"byebye"]);
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
