//! Property tests: whatever bytes a peer sends, however TCP splits them, framing and the console
//! keep their promises. proptest generates thousands of inputs and shrinks any failure to a
//! minimal example.

use std::io::{self, Read};

use netchat::console::escape_peer_text;
use netchat::framing::{Frame, LineReader};
use proptest::prelude::*;

/// Hands out `data` in pieces of the given sizes, one piece per `read`, like segments arriving.
struct Split {
    data: Vec<u8>,
    sizes: Vec<usize>,
    next: usize,
}

impl Read for Split {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.data.is_empty() {
            return Ok(0);
        }
        let size = self
            .sizes
            .get(self.next)
            .copied()
            .unwrap_or(usize::MAX)
            .max(1);
        self.next += 1;
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data.drain(..n);
        Ok(n)
    }
}

fn all_frames(reader: impl Read, max_line: usize) -> Vec<Frame> {
    let mut lines = LineReader::new(reader, max_line);
    let mut frames = Vec::new();
    while let Some(frame) = lines.read_frame().expect("in-memory reads do not fail") {
        frames.push(frame);
    }
    frames
}

/// Bytes that look like chat traffic: mostly text, with newlines, CRs and hostile bytes mixed in.
fn traffic() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            6 => b'a'..=b'z',
            2 => Just(b'\n'),
            1 => Just(b'\r'),
            1 => Just(0x1b),
            1 => any::<u8>(),
        ],
        0..400,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn framing_is_the_same_however_the_stream_is_split(
        data in traffic(),
        sizes in prop::collection::vec(1usize..50, 0..100),
        max_line in 1usize..64,
    ) {
        let whole = all_frames(&data[..], max_line);
        let split = all_frames(Split { data: data.clone(), sizes, next: 0 }, max_line);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn no_message_exceeds_max_line(data in traffic(), max_line in 1usize..64) {
        for frame in all_frames(&data[..], max_line) {
            if let Frame::Line(line) = frame {
                prop_assert!(line.len() <= max_line, "{} > {}", line.len(), max_line);
                prop_assert!(!line.contains(&b'\n'));
            }
        }
    }

    #[test]
    fn short_lines_come_back_exactly(lines in prop::collection::vec("[a-z ]{0,20}", 0..20)) {
        let mut data = Vec::new();
        for line in &lines {
            data.extend_from_slice(line.as_bytes());
            data.push(b'\n');
        }
        let expected: Vec<Frame> =
            lines.iter().map(|l| Frame::Line(l.as_bytes().to_vec())).collect();
        prop_assert_eq!(all_frames(&data[..], 20), expected);
    }

    #[test]
    fn escaped_text_has_no_control_characters_and_is_valid_utf8(data in any::<Vec<u8>>()) {
        let shown = escape_peer_text(&data);
        for c in shown.chars() {
            prop_assert!(c == '\t' || !c.is_control(), "control character {:?} in {:?}", c, shown);
            prop_assert_ne!(c, '\x1b');
        }
    }
}
