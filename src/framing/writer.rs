//! Messages onto the wire: one `write` per message (with its newline, or exactly as typed for
//! `--framing raw`), so that with TCP_NODELAY each leaves in one segment.

use std::io::{self, Write};

use super::decoder::Framing;

/// Why a typed message cannot be sent with this framing, if it cannot. With raw framing an empty
/// line would be zero bytes on the wire: no message at all, and a peer waiting for one would wait
/// for ever. Every mode refuses it with this sentence.
pub fn unsendable(framing: Framing, message: &[u8]) -> Option<&'static str> {
    (framing == Framing::Raw && message.is_empty())
        .then_some("an empty line sends nothing with --framing raw; type some text")
}

/// Sends one message with the chosen framing: with a newline, or (raw) exactly as typed.
pub fn write_message(writer: &mut impl Write, framing: Framing, message: &[u8]) -> io::Result<()> {
    match framing {
        Framing::Line => write_line(writer, message),
        Framing::Raw => {
            writer.write_all(message)?;
            writer.flush()
        }
    }
}

/// Puts one message into `writer` with the chosen framing, *without* flushing: for a buffered
/// writer that gathers many messages into one `write` (duplex.rs, `Outgoing`). Whoever queues must
/// flush when there is nothing more to send right now, or the message waits in the buffer.
pub fn queue_message(writer: &mut impl Write, framing: Framing, message: &[u8]) -> io::Result<()> {
    writer.write_all(message)?;
    match framing {
        Framing::Line => writer.write_all(b"\n"),
        Framing::Raw => Ok(()),
    }
}

/// Sends one message: its bytes and a newline, in a single `write` call.
///
/// One write per message means the kernel gets the whole line at once; with TCP_NODELAY (set in
/// endpoint.rs) it leaves in one segment instead of Nagle's algorithm holding half of it back.
// ANCHOR: write_line
pub fn write_line(writer: &mut impl Write, message: &[u8]) -> io::Result<()> {
    let mut wire = Vec::with_capacity(message.len() + 1);
    wire.extend_from_slice(message);
    wire.push(b'\n');
    writer.write_all(&wire)?;
    writer.flush()
}
// ANCHOR_END: write_line
