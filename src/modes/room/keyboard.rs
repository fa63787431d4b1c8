//! The keyboard as a channel: a thread reads stdin lines and sends them, so a loop can
//! `select!` over the keyboard, the socket and Ctrl-C at once.
//!
//! [`Input`] has the same shape as the one of the shared line editor (`src/terminal.rs`, built
//! for `duplex`), so the room can switch to it and print messages above the line being typed.
//!
//! This is the one thread that has no clean end: a thread blocked in `read` on stdin cannot be
//! woken portably. It ends at EOF (Ctrl-D) or when its channel's receiver is gone and the next
//! line arrives; otherwise the process simply exits around it when the conversation is over.

use std::io::{self, Read};
use std::thread;

use crossbeam_channel::{Receiver, bounded};

use crate::framing::{Frame, LineReader};

/// One thing the keyboard produced.
#[derive(Debug)]
pub enum Input {
    /// A line, without its newline.
    Line(Vec<u8>),
    /// A line longer than `max_line`; it was dropped.
    TooLong { limit: usize },
    /// End of input: Ctrl-D, or the end of a piped file.
    Eof,
    /// Ctrl-C typed as a key (only a raw-mode line editor reports it; here Ctrl-C stays a signal).
    Interrupted,
    /// Reading stdin failed.
    Failed(io::Error),
}

/// How many typed lines may wait. A person types far slower than this drains; a pipe that
/// writes faster simply waits (the channel is bounded, so memory is too).
const KEYBOARD_QUEUE: usize = 16;

/// Starts the keyboard thread. Lines longer than `max_line` are reported as `TooLong`, not sent.
pub fn spawn(stdin: impl Read + Send + 'static, max_line: usize) -> Receiver<Input> {
    let (sender, receiver) = bounded(KEYBOARD_QUEUE);
    let body = move || {
        let mut reader = LineReader::new(stdin, max_line);
        loop {
            let item = match reader.read_frame() {
                Ok(Some(Frame::Line(line))) => Input::Line(line),
                Ok(Some(Frame::TooLong { limit })) => Input::TooLong { limit },
                Ok(None) => Input::Eof,
                Err(error) => Input::Failed(error),
            };
            let last = matches!(item, Input::Eof | Input::Failed(_));
            if sender.send(item).is_err() || last {
                return;
            }
        }
    };
    // If the thread cannot start, `body` (and the sender) is dropped: the loop sees the channel
    // closed, which it treats as end of input.
    let _ = thread::Builder::new()
        .name("stdin-reader".into())
        .spawn(body);
    receiver
}
