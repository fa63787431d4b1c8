//! Every line the server writes, formatted once: messages with the sender's name put first by
//! the server (`said`, `action`, `private`), notices and goodbyes, and what a member's text may
//! show (escaped, bounded: `message_text`); and, for the client, reading a line's kind back
//! from its text (`classify`).

use std::borrow::Cow;

use unicode_width::UnicodeWidthChar;

use super::names::{HOST_NICK, MAX_NICK};
use crate::modes::room::actions::LineKind;
use crate::text::{
    escape_peer_text, expand_tabs, is_escaped, rows, shorten_blank_runs, thousands, width,
};

/// What starts every notice from the server.
pub const NOTICE_PREFIX: &str = "*** ";

/// What starts the last line the server sends before it closes a connection.
pub const GOODBYE_PREFIX: &str = "*** goodbye: ";

// ANCHOR: format
/// `[alice] hello`: a message, with the sender's name put there by the server.
pub fn said(from: &str, text: &[u8]) -> String {
    format!("[{from}] {}", message_text(text))
}

/// `* alice waves`.
pub fn action(from: &str, text: &[u8]) -> String {
    format!("* {from} {}", message_text(text))
}

/// `[alice -> you] psst`: only the recipient ever receives it.
pub fn private(from: &str, text: &[u8]) -> String {
    format!("[{from} -> you] {}", message_text(text))
}

/// What a member wrote, as the room shows it: escaped (no control, bidi or invisible
/// characters), with long runs of blanks shortened, so no message can start a fake row, and with
/// at most [`MAX_ESCAPED`] escapes and [`MAX_STACKED`] marks on one character, so no message can
/// bury the screen in escapes or paint over the rows around it.
// ANCHOR: message_text
pub fn message_text(text: &[u8]) -> String {
    let (shown, left_out) = bounded(text);
    let mut safe = escape_peer_text(&shown);
    let mut notes = Vec::new();
    if left_out.escapes > 0 {
        notes.push(format!(
            "{} more control characters",
            thousands(left_out.escapes)
        ));
    }
    if left_out.marks > 0 {
        notes.push(format!("{} more stacked marks", thousands(left_out.marks)));
    }
    if !notes.is_empty() {
        safe.push_str(&format!(" [{} not shown]", notes.join(" and ")));
    }
    // Tabs become the spaces they stand for (so every reader's screen measures the message as
    // the server does); last, so that blanks before the note cannot make a wide run with its
    // first space either, long runs of blanks are shortened.
    shorten_blank_runs(&expand_tabs(&safe))
}
// ANCHOR_END: message_text

/// How many characters of one message are shown escaped (`\x01`, `\u{202e}`, or `�` for bytes
/// that are not UTF-8); the rest are left out, and the message ends by saying how many.
///
/// An escape is four to nine columns for one to four bytes of the sender's, so without a bound
/// one 8 KB line of `\x01` bytes fills 32,000 columns: 400 rows of a classmate's screen at once,
/// every 3 s, within the rate limit on bytes. Nobody types 16 control characters into a chat
/// line; a pasted snippet with a stray escape sequence shows its first ones, enough to see what
/// was there.
pub const MAX_ESCAPED: usize = 16;

/// How many marks that take no column of their own (accents, combining marks) may follow each
/// other on one character; the rest are left out and counted like escapes.
///
/// "Zalgo" text stacks hundreds of combining accents on each letter, and terminals draw them
/// above and below it, over the rows of the messages around. Written languages stack a few: a
/// Vietnamese vowel two accents, Hebrew with vowel points and cantillation three, a Devanagari
/// conjunct one at a time; a keycap emoji two.
pub const MAX_STACKED: usize = 4;

/// What [`bounded`] left out of a message.
#[derive(Debug, Default, PartialEq, Eq)]
struct LeftOut {
    escapes: u64,
    marks: u64,
}

/// `text` with only its first [`MAX_ESCAPED`] characters that escaping would show as escapes (an
/// invalid UTF-8 sequence counts as one) and at most [`MAX_STACKED`] marks in a row on one
/// character, and what it left out. The text itself, not a copy, when nothing is left out: every
/// ordinary message.
///
/// What is kept is valid UTF-8 (an invalid sequence becomes `�` here already): leaving a
/// character out of valid text cannot join its neighbours into a new one, whereas taking the
/// `\x01` out of `e2 80 | 01 | 8b` would make the bytes of a zero-width space.
fn bounded(text: &[u8]) -> (Cow<'_, [u8]>, LeftOut) {
    let mut kept = String::new();
    let (mut escapes, mut stacked, mut left_out) = (0, 0, LeftOut::default());
    // Bytes of `text` already copied to `kept`, while nothing was left out: until something is,
    // nothing is copied at all.
    let mut copying = false;
    let mut offset = 0;
    for chunk in text.utf8_chunks() {
        for (at, c) in chunk.valid().char_indices() {
            let keep = if is_escaped(c) {
                escapes += 1;
                stacked = 0;
                escapes <= MAX_ESCAPED
            } else if c.width() == Some(0) {
                stacked += 1;
                stacked <= MAX_STACKED
            } else {
                stacked = 0;
                true
            };
            if !keep {
                if !copying {
                    copying = true;
                    kept = String::from_utf8_lossy(&text[..offset + at]).into_owned();
                }
                if is_escaped(c) {
                    left_out.escapes += 1;
                } else {
                    left_out.marks += 1;
                }
            } else if copying {
                kept.push(c);
            }
        }
        offset += chunk.valid().len();
        if !chunk.invalid().is_empty() {
            escapes += 1;
            stacked = 0;
            if escapes > MAX_ESCAPED && !copying {
                copying = true;
                kept = String::from_utf8_lossy(&text[..offset]).into_owned();
            }
            if escapes > MAX_ESCAPED {
                left_out.escapes += 1;
            } else if copying {
                kept.push(char::REPLACEMENT_CHARACTER);
            }
        }
        offset += chunk.invalid().len();
    }
    if copying {
        (Cow::Owned(kept.into_bytes()), left_out)
    } else {
        (Cow::Borrowed(text), left_out)
    }
}

/// The widest screen the server cuts relayed lines for: `nc` and telnet readers in a terminal
/// 80 columns wide or wider. A line wider than this goes out as several, every one after the
/// first starting with [`WIRE_INDENT`]: on such a screen each fits on one row, so the terminal
/// never wraps a line itself, and no message can start a row with text of its own choosing
/// (`[mallory] ` and 70 dots put `*** alice was kicked…` at the start of an 80-column row when
/// the terminal wrapped it). netchat's client cuts them again for narrower screens.
pub const WIRE_COLUMNS: usize = 80;

/// What starts each line a relayed line continues on: no line from the server starts with a
/// blank otherwise, so a reader sees at once that it continues the line above.
pub const WIRE_INDENT: &str = "    ";

/// `line` cut into the lines of at most [`WIRE_COLUMNS`] columns it goes out as (text::rows, the
/// one width model), joined by newlines with [`WIRE_INDENT`]; the line itself when it fits.
// ANCHOR: wire_rows
pub fn wire_rows(line: &str) -> Cow<'_, str> {
    // Most lines are short: no character can take more than 4 columns (an escape's).
    if line.len() <= WIRE_COLUMNS / 4 || width(line) <= WIRE_COLUMNS {
        return Cow::Borrowed(line);
    }
    let separator = format!("\n{WIRE_INDENT}");
    Cow::Owned(rows(line, WIRE_COLUMNS, WIRE_INDENT.len()).join(&separator))
}
// ANCHOR_END: wire_rows

/// `*** TEXT`: anything the server itself says.
pub fn notice(text: &str) -> String {
    format!("{NOTICE_PREFIX}{text}")
}

/// `*** goodbye: REASON`: the last line before the server closes a connection.
pub fn goodbye(reason: &str) -> String {
    format!("{GOODBYE_PREFIX}{reason}")
}
// ANCHOR_END: format

/// How long a line from the server can be when clients' lines are at most `max_line` bytes.
///
/// The server adds a name (at most [`MAX_NICK`] characters of up to 4 bytes) and a few brackets,
/// and escaping can make text longer: one control byte becomes the four characters `\x1b`, one
/// invalid byte the three bytes of `�`. So a client that reads with `--max-line` as its limit
/// would drop its classmates' longest legal lines; it reads with this limit instead.
pub fn longest_relayed_line(max_line: usize) -> usize {
    max_line.saturating_mul(4).saturating_add(4 * MAX_NICK + 32)
}

/// A reason a client gave with `/quit`, made safe and short enough for a notice: escaped, and
/// with long runs of blanks shortened like a message's, or a reason could start a fake row.
pub fn reason_text(reason: &[u8]) -> String {
    let safe = message_text(reason);
    match safe.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &safe[..cut]),
        None => safe,
    }
}

/// `/who`: the names in the room, in the order they joined.
pub fn who(names: &[&str]) -> String {
    let people = if names.len() == 1 { "person" } else { "people" };
    notice(&format!(
        "in the room ({} {people}): {}",
        names.len(),
        names.join(", ")
    ))
}

/// Which kind of server line this is, read back from its text: what a client does, which has
/// nothing else (the server knows each line's kind when it writes it).
pub fn classify(line: &str) -> LineKind {
    if line.starts_with(GOODBYE_PREFIX) {
        LineKind::Goodbye
    } else if line.starts_with(NOTICE_PREFIX) {
        LineKind::Notice
    } else if line.starts_with("* ") {
        LineKind::Action
    } else if line.starts_with(&format!("[{HOST_NICK}] ")) {
        LineKind::Host
    } else if line
        .split_once("] ")
        .is_some_and(|(head, _)| head.starts_with('[') && head.ends_with(" -> you"))
    {
        LineKind::Private
    } else {
        LineKind::Message
    }
}
