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
//!
//! The framing floor, one file per idea, from the ground up:
//!
//! - `messages.rs`: [`Messages`], the pooled block of whole messages one read brought (and the
//!   [`StopWord`] a block can say it holds none of);
//! - `decoder.rs`: [`Framing`], the rule, and [`LineDecoder`], the state machine that finds the
//!   lines in bytes of any split, without I/O;
//! - `reader.rs`: the blocking readers that drive it ([`LineReader`], [`ChunkReader`],
//!   [`MessageReader`]), reporting each `read` to the observer, and the hint for a peer that
//!   does not frame ([`UnframedHint`]);
//! - `writer.rs`: a message onto the wire, one `write` each ([`write_line`]).
//!
//! The decoder and the messages sit below the observer (observe/), which counts messages with
//! [`Framing`]; the readers sit above it, since they report to it. This file only gathers them.

pub mod decoder;
pub mod messages;
pub mod reader;
pub mod writer;

pub use decoder::{DEFAULT_MAX_LINE, Fed, Frame, Framing, LineDecoder};
pub use messages::{Iter, Messages, StopWord, strip_line_ending};
pub use reader::{
    ChunkReader, LineReader, MessageReader, UNFRAMED_AFTER, UNFRAMED_HINT, UnframedHint,
};
pub use writer::{queue_message, unsendable, write_line, write_message};

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{self, Read};

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
        assert!(reader.decoder.held() <= 101);
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
