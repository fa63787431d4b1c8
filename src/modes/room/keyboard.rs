//! The keyboard as a channel: a thread reads stdin lines and sends them, so a loop can
//! `select!` over the keyboard, the socket and Ctrl-C at once.
//!
//! This is the one thread that has no clean end: a thread blocked in `read` on stdin cannot be
//! woken portably. It ends at EOF (Ctrl-D) or when its channel's receiver is gone and the next
//! line arrives; otherwise the process simply exits around it when the conversation is over.

use std::io::Read;
use std::thread;

use crossbeam_channel::{Receiver, bounded};

use crate::framing::{Frame, LineReader};

/// What the keyboard thread reports. The channel closing means end of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keyboard {
    Line(Vec<u8>),
    TooLong { limit: usize },
    Failed(String),
}

/// How many typed lines may wait. A person types far slower than this drains; a pipe that
/// writes faster simply waits (the channel is bounded, so memory is too).
const KEYBOARD_QUEUE: usize = 16;

/// Starts the keyboard thread. Lines longer than `max_line` are reported as `TooLong`, not sent.
pub fn spawn(stdin: impl Read + Send + 'static, max_line: usize) -> Receiver<Keyboard> {
    let (sender, receiver) = bounded(KEYBOARD_QUEUE);
    let body = move || {
        let mut reader = LineReader::new(stdin, max_line);
        loop {
            let item = match reader.read_frame() {
                Ok(Some(Frame::Line(line))) => Keyboard::Line(line),
                Ok(Some(Frame::TooLong { limit })) => Keyboard::TooLong { limit },
                Ok(None) => return,
                Err(error) => Keyboard::Failed(error.to_string()),
            };
            let failed = matches!(item, Keyboard::Failed(_));
            if sender.send(item).is_err() || failed {
                return;
            }
        }
    };
    // If the thread cannot start, `body` (and the sender) is dropped: the loop sees end of input.
    let _ = thread::Builder::new().name("keyboard".into()).spawn(body);
    receiver
}
