//! The room's line protocol: what a client may send, and every line the server sends back.
//!
//! Pure functions on bytes and strings, no sockets, so every rule is unit tested below.
//!
//! A client sends one command per line (`\n` or `\r\n`; framing.rs strips the CR):
//!
//! | line | meaning |
//! |---|---|
//! | `hello all` | a message to everyone else in the room |
//! | `/nick NAME` | take a name (unique, 1–20 ASCII letters, digits, `-`, `_`, `.`) |
//! | `/who` | list who is in the room |
//! | `/me waves` | an action: `* alice waves` |
//! | `/msg NICK TEXT` | a private message to one member |
//! | `/quit [reason]` | leave |
//! | `/help` | list the commands |
//! | `//text` | a message that starts with a slash (`/text`) |
//!
//! The server writes one line per event, and the *server* puts the sender's name first, so a
//! client cannot speak as someone else. Each kind of line starts differently, so a reader (or
//! netchat's client, to pick a color) can tell them apart:
//!
//! | line | sent when |
//! |---|---|
//! | `[alice] hello all` | alice said something (`[host]` is the operator of the server) |
//! | `* alice waves` | alice used `/me` |
//! | `[alice -> you] psst` | alice sent you a private message |
//! | `*** bob joined (3 in the room)` | a notice: join, leave, rename, an answer, a refusal |
//! | `*** goodbye: …` | the last line before the server closes your connection |
//!
//! A line from bob that starts with `[alice]` arrives as `[bob] [alice] …`: nicknames cannot
//! contain spaces or brackets, so the first `[...]` is always the real sender.

use std::borrow::Cow;
use std::net::IpAddr;

use unicode_width::UnicodeWidthChar;

use super::actions::LineKind;
use super::stats;
use crate::console::{escape_peer_text, is_escaped, shorten_blank_runs};

/// The longest nickname, in characters: long enough for a first name and a digit or two, short
/// enough that `/who` for a class of thirty fits on a few lines. A longer `/nick` is refused with
/// the reason.
pub const MAX_NICK: usize = 20;

/// The name the server's operator speaks under. Nobody else may take it.
pub const HOST_NICK: &str = "host";

/// What starts every notice from the server.
pub const NOTICE_PREFIX: &str = "*** ";

/// What starts the last line the server sends before it closes a connection.
pub const GOODBYE_PREFIX: &str = "*** goodbye: ";

/// One line from a client, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// A plain line: a message to the room. Empty (or all-blank) lines are `Nothing`.
    Say(&'a [u8]),
    /// `/nick NAME`.
    Nick(&'a [u8]),
    /// `/who`.
    Who,
    /// `/stats`: my own line of the room's live view.
    Stats,
    /// `/me ACTION`.
    Me(&'a [u8]),
    /// `/msg NICK TEXT`.
    Msg { to: &'a [u8], text: &'a [u8] },
    /// `/quit [reason]`.
    Quit(Option<&'a [u8]>),
    /// `/help`.
    Help,
    /// A blank line: nc users press Enter by habit; nothing is sent.
    Nothing,
    /// A command used wrongly: the text says how to use it.
    Usage(&'static str),
    /// A `/word` the server does not know, escaped for display.
    Unknown(String),
}

/// Understands one line from a client.
// ANCHOR: parse
pub fn parse(line: &[u8]) -> Command<'_> {
    if line.trim_ascii().is_empty() {
        return Command::Nothing;
    }
    // `//text` says `/text`: the escape for a message that starts with a slash.
    if line.starts_with(b"//") {
        return Command::Say(&line[1..]);
    }
    let Some(rest) = line.strip_prefix(b"/") else {
        return Command::Say(line);
    };
    let (word, argument) = split_word(rest);
    match word.to_ascii_lowercase().as_slice() {
        b"nick" if argument.is_empty() => Command::Usage("usage: /nick NAME"),
        b"nick" => Command::Nick(argument),
        b"who" => Command::Who,
        b"stats" => Command::Stats,
        b"me" if argument.is_empty() => Command::Usage("usage: /me ACTION, e.g. /me waves"),
        b"me" => Command::Me(argument),
        b"msg" => match split_word(argument) {
            (to, text) if !to.is_empty() && !text.is_empty() => Command::Msg { to, text },
            _ => Command::Usage("usage: /msg NICK TEXT"),
        },
        b"quit" => Command::Quit((!argument.is_empty()).then_some(argument)),
        b"help" => Command::Help,
        _ => Command::Unknown(escape_peer_text(word)),
    }
}
// ANCHOR_END: parse

/// Splits `word rest…` at the first run of spaces; `rest` has no leading or trailing blanks.
fn split_word(text: &[u8]) -> (&[u8], &[u8]) {
    let text = text.trim_ascii();
    match text.iter().position(|b| b.is_ascii_whitespace()) {
        Some(space) => (&text[..space], text[space..].trim_ascii()),
        None => (text, &[]),
    }
}

/// Why a nickname was refused; the text is what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NickError {
    Empty,
    TooLong,
    BadCharacter(char),
    NotUtf8,
    Reserved,
    /// Only punctuation: `...` or `_` would be one name with every other such name.
    NoLetters,
}

impl std::fmt::Display for NickError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NickError::Empty => f.write_str("a name cannot be empty"),
            NickError::TooLong => write!(f, "a name has at most {MAX_NICK} characters"),
            NickError::BadCharacter(c) if c.is_whitespace() => {
                f.write_str("a name cannot contain spaces")
            }
            NickError::BadCharacter(c) if c.is_control() => {
                f.write_str("a name cannot contain control characters")
            }
            // The character came from a peer: shown escaped like any peer text, because it may be
            // a bidi override (U+202E) that would reverse the rest of this line on the screen.
            NickError::BadCharacter(c) if !c.is_ascii() => write!(
                f,
                "a name cannot contain '{}': use ASCII letters, digits, '-', '_' and '.' \
                 (letters from other alphabets can look exactly like someone else's name)",
                escape_peer_text(c.encode_utf8(&mut [0; 4]).as_bytes())
            ),
            NickError::BadCharacter(c) => write!(
                f,
                "a name cannot contain '{c}': use letters, digits, '-', '_' and '.'"
            ),
            NickError::NotUtf8 => f.write_str("a name must be valid UTF-8 text"),
            NickError::Reserved => write!(
                f,
                "'{HOST_NICK}' and names that look like it are the server's operator's"
            ),
            NickError::NoLetters => f.write_str("a name needs at least one letter or digit"),
        }
    }
}

/// Checks a requested nickname. Only ASCII letters, digits, `-`, `_` and `.` are allowed: no
/// spaces, brackets or control characters, so a name can never make a line look like it came
/// from someone else or smuggle an escape sequence onto a terminal; and no letters from other
/// alphabets, because a Cyrillic `а` looks exactly like a Latin `a` (`аlice` is not `alice`).
/// Names that merely *look* alike are caught by [`same_nick`].
// ANCHOR: check_nick
pub fn check_nick(name: &[u8]) -> Result<String, NickError> {
    let name = std::str::from_utf8(name).map_err(|_| NickError::NotUtf8)?;
    if name.is_empty() {
        return Err(NickError::Empty);
    }
    if name.chars().count() > MAX_NICK {
        return Err(NickError::TooLong);
    }
    if let Some(bad) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(NickError::BadCharacter(bad));
    }
    if !name.chars().any(|c| c.is_ascii_alphanumeric()) {
        return Err(NickError::NoLetters);
    }
    if same_nick(name, HOST_NICK) {
        return Err(NickError::Reserved);
    }
    Ok(name.to_string())
}
// ANCHOR_END: check_nick

/// Two names are the same if they *look* the same: `Alice`, `aIice` (capital i), `a1ice`,
/// `a.lice` and `alice` are one name, and so are `bob` and `b0b`, `marc` and `rnarc`, `dave` and
/// `clave`, `host` and `host_`.
pub fn same_nick(a: &str, b: &str) -> bool {
    lookalike_key(a) == lookalike_key(b)
}

/// The punctuation a name may contain, and which a reader's eye skips: `a.lice`, `a_lice`,
/// `-alice-` and `alice` read as the same name, so they are one name.
fn is_name_punctuation(c: char) -> bool {
    matches!(c, '.' | '_' | '-')
}

/// The confusable skeleton of a name (Unicode's UTS #39): what it looks like, with the
/// punctuation dropped and every character replaced by the one it is drawn like. Two names are
/// the same exactly when their keys are equal, so the rules index names by key.
///
/// Unicode's table maps `1`, `I` and `l` to `l`, `0` to `O`, `m` to `rn`, and thousands of
/// characters of other alphabets to the Latin letter they look like. It does not fold case, and
/// it maps one character at a time, so three folds are added by hand: `i` is drawn like `l` in
/// many fonts once lowered (`ALICE` must meet `aIice`), `cl` like `d`, `vv` like `w`. The table
/// comes from the `unicode-security` crate, which rustc uses for its own lookalike-identifier
/// lint: hand-written folds alone would miss most of it.
// ANCHOR: lookalike_key
pub fn lookalike_key(name: &str) -> String {
    let bare: String = name
        .chars()
        .filter(|&c| !is_name_punctuation(c))
        .flat_map(char::to_lowercase)
        .collect();
    skeleton(&bare)
        .to_lowercase()
        .replace('i', "l")
        .replace("cl", "d")
        .replace("vv", "w")
}
// ANCHOR_END: lookalike_key

fn skeleton(text: &str) -> String {
    unicode_security::confusable_detection::skeleton(text).collect()
}

/// The name a newcomer gets until it picks one.
pub fn guest_nick(number: u64) -> String {
    format!("guest-{number}")
}

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
            stats::thousands(left_out.escapes)
        ));
    }
    if left_out.marks > 0 {
        notes.push(format!(
            "{} more stacked marks",
            stats::thousands(left_out.marks)
        ));
    }
    if !notes.is_empty() {
        safe.push_str(&format!(" [{} not shown]", notes.join(" and ")));
    }
    // Last, so that blanks before the note cannot make a wide run with its first space either.
    shorten_blank_runs(&safe)
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

/// `*** TEXT`: anything the server itself says.
pub fn notice(text: &str) -> String {
    format!("{NOTICE_PREFIX}{text}")
}

/// `*** goodbye: REASON`: the last line before the server closes a connection.
pub fn goodbye(reason: &str) -> String {
    format!("{GOODBYE_PREFIX}{reason}")
}
// ANCHOR_END: format

// ANCHOR: policy
/// What the room says when it turns something down. Every refusal and every room policy a
/// client can meet is worded here, once, whichever engine runs the room.
///
/// `*** goodbye: sorry, the room is full (N people); try again later`: the one line a connection
/// beyond `--max-clients` receives before it is closed.
pub fn room_full(max_clients: usize) -> String {
    refusal(&format!(
        "the room is full ({max_clients} people); try again later"
    ))
}

/// `*** goodbye: sorry, REASON`: a connection turned away at the door (the room is full, or the
/// host does not let it in). Every refusal is worded through here, so that [`farewell`] — and
/// with it the client's exit code — recognises it.
pub fn refusal(reason: &str) -> String {
    goodbye(&format!("{REFUSAL_PREFIX}{reason}"))
}

/// What every refusal's reason starts with.
const REFUSAL_PREFIX: &str = "sorry, ";

/// What the goodbye of a member the host removed (`/kick`, `/ban`) starts with.
const KICKED_PREFIX: &str = "you were kicked";
const BANNED_PREFIX: &str = "you were banned";

/// Why the server closed our connection, as its goodbye line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Farewell {
    /// Turned away at the door ([`refusal`]): the client exits with 1, as for any refusal.
    Refused { reason: String },
    /// Removed by the host (`/kick`, `/ban`): the host ended the conversation on purpose,
    /// politely; the client exits with 0, as when the room closes. (A banned address that tries
    /// to come back is turned away at the door: [`Farewell::Refused`].)
    RemovedByHost,
    /// Any other goodbye: `/quit` answered, the room closing.
    Closed,
}

/// Reads a goodbye line back into why it was said; `None` for any other line. The client knows
/// the server only by its lines, so this is the one place that parses them, next to the
/// functions that word them.
pub fn farewell(line: &str) -> Option<Farewell> {
    let reason = line.strip_prefix(GOODBYE_PREFIX)?;
    Some(if let Some(why) = reason.strip_prefix(REFUSAL_PREFIX) {
        Farewell::Refused {
            reason: why.to_string(),
        }
    } else if reason.starts_with(KICKED_PREFIX) || reason.starts_with(BANNED_PREFIX) {
        Farewell::RemovedByHost
    } else {
        Farewell::Closed
    })
}

/// `*** name refused: WHY; you are still NAME`.
pub fn name_refused(why: &str, current: &str) -> String {
    notice(&format!("name refused: {why}; you are still {current}"))
}

/// Why `/nick NEW` was refused because someone holds it, or a name that looks like it.
pub fn name_taken(new: &str, holder: &str) -> String {
    if holder.eq_ignore_ascii_case(new) {
        format!("{new} is taken")
    } else {
        format!("{new} looks too much like {holder}, who is here")
    }
}

/// `/word` the server does not know (`word` already escaped).
pub fn unknown_command(word: &str) -> String {
    notice(&format!(
        "unknown command /{word}; /help lists the commands, //{word} says it"
    ))
}

/// A name (from a client or the host) that nobody in the room has; without the `*** ` prefix,
/// since the host's console shows it as a status line.
pub fn nobody_called(nick: &[u8]) -> String {
    format!(
        "nobody called {} is here; /who lists the room",
        escape_peer_text(nick)
    )
}

/// A line longer than `--max-line`: dropped, and its sender told.
pub fn line_too_long(limit: usize) -> String {
    notice(&format!(
        "your line was longer than {limit} bytes and was not sent"
    ))
}

/// What a kicked member is told (its goodbye) and what the room is told about it.
pub fn kicked(reason: Option<&[u8]>) -> (String, String) {
    match reason.map(reason_text) {
        Some(reason) => (
            goodbye(&format!("{KICKED_PREFIX} by the host ({reason})")),
            format!("was kicked by the host ({reason})"),
        ),
        None => (
            goodbye(&format!("{KICKED_PREFIX} by the host")),
            "was kicked by the host".to_string(),
        ),
    }
}

/// What a banned member is told (its goodbye) and what the room is told about it.
pub fn banned(reason: Option<&[u8]>) -> (String, String) {
    match reason.map(reason_text) {
        Some(reason) => (
            goodbye(&format!(
                "{BANNED_PREFIX} from this room by the host ({reason})"
            )),
            format!("was banned by the host ({reason})"),
        ),
        None => (
            goodbye(&format!("{BANNED_PREFIX} from this room by the host")),
            "was banned by the host".to_string(),
        ),
    }
}

/// What a member over its rate limit is told, once per episode (limits.rs).
pub fn slow_down(lines_per_second: u32) -> String {
    notice(&format!(
        "slow down: you are sending faster than this room allows ({lines_per_second} lines a \
         second, more in a short burst); the server reads your next lines as your allowance \
         refills"
    ))
}

/// What a member is told, once per episode, when its held lines are full and the room starts
/// dropping what it sends (limits.rs, `HELD_LINES`).
pub fn dropping(held_lines: usize) -> String {
    notice(&format!(
        "you are far ahead of the room: it holds {held_lines} of your lines until your \
         allowance lets them out, and drops what you send beyond them (not relayed)"
    ))
}

/// What a member held back by its rate limit for a minute without a break is told as it is
/// disconnected (limits.rs, `FLOOD_CUTOFF`), and what the room is told.
pub const FLOODED_YOU: &str =
    "you kept sending faster than this room allows for a minute; join again and slow down";
pub const FLOODED: &str = "was disconnected: it kept flooding the room for a minute";

/// What the room is told about a member dropped for not reading (engine.rs, `CLIENT_QUEUE`).
pub const TOO_SLOW: &str = "was disconnected: too slow to read the room's messages";
// ANCHOR_END: policy

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

/// `/help`: one line per command.
pub fn help() -> Vec<String> {
    [
        "commands: a plain line is a message to everyone",
        "/nick NAME       take a name (ASCII letters, digits, - _ .)",
        "/who             who is in the room",
        "/stats           your connection: time, lines and bytes, your queue",
        "/me ACTION       e.g. /me waves -> * you waves",
        "/msg NICK TEXT   a private message to one person",
        "/quit [reason]   leave the room",
        "//text           a message that starts with /",
    ]
    .iter()
    .map(|line| notice(line))
    .collect()
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

/// What the operator types at the server's console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostCommand {
    /// A plain line: said to the room as `[host] …`.
    Say(Vec<u8>),
    /// `/who`.
    Who,
    /// `/stats`: every member's line of the room's live view.
    Stats,
    /// `/kick NICK [reason]`.
    Kick {
        nick: Vec<u8>,
        reason: Option<Vec<u8>>,
    },
    /// `/ban NICK [reason]`: kick, and refuse that member's address until the room closes.
    Ban {
        nick: Vec<u8>,
        reason: Option<Vec<u8>>,
    },
    /// `/unban ADDR`, or `/unban` alone to list the banned addresses.
    Unban(Option<IpAddr>),
    /// `/quit`: close the room.
    Close,
    /// `/help`.
    Help,
    /// A blank line.
    Nothing,
    /// Misused or unknown: the text says what to do.
    Usage(String),
}

/// Understands one line the operator typed.
pub fn parse_host(line: &[u8]) -> HostCommand {
    if line.trim_ascii().is_empty() {
        return HostCommand::Nothing;
    }
    if line.starts_with(b"//") {
        return HostCommand::Say(line[1..].to_vec());
    }
    let Some(rest) = line.strip_prefix(b"/") else {
        return HostCommand::Say(line.to_vec());
    };
    let (word, argument) = split_word(rest);
    match word.to_ascii_lowercase().as_slice() {
        b"who" => HostCommand::Who,
        b"stats" => HostCommand::Stats,
        b"kick" => match split_word(argument) {
            ([], _) => HostCommand::Usage("usage: /kick NICK [reason]".into()),
            (nick, reason) => HostCommand::Kick {
                nick: nick.to_vec(),
                reason: (!reason.is_empty()).then(|| reason.to_vec()),
            },
        },
        b"ban" => match split_word(argument) {
            ([], _) => HostCommand::Usage("usage: /ban NICK [reason]".into()),
            (nick, reason) => HostCommand::Ban {
                nick: nick.to_vec(),
                reason: (!reason.is_empty()).then(|| reason.to_vec()),
            },
        },
        b"unban" if argument.is_empty() => HostCommand::Unban(None),
        b"unban" => match std::str::from_utf8(argument)
            .ok()
            .and_then(|a| a.parse().ok())
        {
            Some(ip) => HostCommand::Unban(Some(ip)),
            None => HostCommand::Usage(format!(
                "usage: /unban ADDRESS, e.g. /unban 192.168.1.23 (not {}); /unban alone lists \
                 the banned addresses",
                escape_peer_text(argument)
            )),
        },
        b"quit" => HostCommand::Close,
        b"help" => HostCommand::Help,
        _ => HostCommand::Usage(format!(
            "unknown command /{}: the host has /who, /stats, /kick NICK [reason], \
             /ban NICK [reason], /unban ADDRESS, /quit, /help",
            escape_peer_text(word)
        )),
    }
}

/// `/help` at the server's console.
pub const HOST_HELP: &[&str] = &[
    "a plain line is said to the room as [host]",
    "/who                 who is in the room",
    "/stats               each member: address, time, lines and bytes, queue, rate limit",
    "/kick NICK [reason]  disconnect someone, telling the room",
    "/ban NICK [reason]   kick, and refuse their address until the room closes",
    "/unban ADDRESS       let a banned address in again (/unban alone lists them)",
    "/quit (or Ctrl-C, or Ctrl-D)  close the room",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_are_messages_and_blank_lines_nothing() {
        assert_eq!(parse(b"hello all"), Command::Say(b"hello all"));
        assert_eq!(parse(b""), Command::Nothing);
        assert_eq!(parse(b"   "), Command::Nothing);
    }

    #[test]
    fn commands_parse_with_their_arguments() {
        assert_eq!(parse(b"/nick alice"), Command::Nick(b"alice"));
        assert_eq!(parse(b"/NICK  alice  "), Command::Nick(b"alice"));
        assert_eq!(parse(b"/who"), Command::Who);
        assert_eq!(parse(b"/stats"), Command::Stats);
        assert_eq!(parse(b"/me waves hello"), Command::Me(b"waves hello"));
        assert_eq!(
            parse(b"/msg bob  see you at 5"),
            Command::Msg {
                to: b"bob",
                text: b"see you at 5"
            }
        );
        assert_eq!(parse(b"/quit"), Command::Quit(None));
        assert_eq!(
            parse(b"/quit time for lunch"),
            Command::Quit(Some(b"time for lunch"))
        );
        assert_eq!(parse(b"/help"), Command::Help);
    }

    #[test]
    fn misused_and_unknown_commands_say_why() {
        assert!(matches!(parse(b"/nick"), Command::Usage(_)));
        assert!(matches!(parse(b"/msg bob"), Command::Usage(_)));
        assert!(matches!(parse(b"/me"), Command::Usage(_)));
        assert_eq!(parse(b"/dance now"), Command::Unknown("dance".into()));
        assert_eq!(parse(b"/\x1b[2J"), Command::Unknown("\\x1b[2J".into()));
    }

    #[test]
    fn a_double_slash_says_a_line_that_starts_with_a_slash() {
        assert_eq!(
            parse(b"//nick is a command"),
            Command::Say(b"/nick is a command")
        );
    }

    #[test]
    fn a_refused_character_is_shown_escaped() {
        let why = check_nick("bob\u{202e}".as_bytes())
            .unwrap_err()
            .to_string();
        assert!(why.contains("cannot contain '\\u{202e}'"), "{why}");
        assert!(!why.contains('\u{202e}'), "{why}");
        let why = check_nick("\u{430}lice".as_bytes())
            .unwrap_err()
            .to_string();
        assert!(why.contains("cannot contain '\u{430}'"), "{why}");
    }

    #[test]
    fn good_nicknames_pass() {
        assert_eq!(check_nick(b"alice").unwrap(), "alice");
        assert_eq!(check_nick(b"Zoe_2.b-c").unwrap(), "Zoe_2.b-c");
        assert!(check_nick(&[b'a'; MAX_NICK]).is_ok());
    }

    #[test]
    fn bad_nicknames_are_refused_with_the_reason() {
        assert_eq!(check_nick(b""), Err(NickError::Empty));
        assert_eq!(check_nick(&[b'a'; MAX_NICK + 1]), Err(NickError::TooLong));
        let spaces = check_nick(b"al ice").unwrap_err();
        assert!(spaces.to_string().contains("spaces"), "{spaces}");
        let control = check_nick(b"al\x1bice").unwrap_err();
        assert!(control.to_string().contains("control"), "{control}");
        assert_eq!(check_nick(b"[alice]"), Err(NickError::BadCharacter('[')));
        assert_eq!(check_nick(b"a\xffb"), Err(NickError::NotUtf8));
        assert_eq!(check_nick(b"HOST"), Err(NickError::Reserved));
        // The invisible bidi override is not alphanumeric either.
        assert!(check_nick("a\u{202e}b".as_bytes()).is_err());
    }

    #[test]
    fn names_are_compared_without_case() {
        assert!(same_nick("Alice", "alice"));
        assert!(!same_nick("alice", "alice2"));
    }

    #[test]
    fn lookalike_names_count_as_the_same() {
        assert!(same_nick("aIice", "alice"));
        assert!(same_nick("a1ice", "ALICE"));
        assert!(same_nick("b0b", "bob"));
        assert!(same_nick("rnarc", "marc"));
        assert!(same_nick("vvill", "will"));
        assert!(!same_nick("bob", "rob"));
        assert!(!same_nick("alice", "alicia"));
    }

    #[test]
    fn punctuation_and_confusable_letters_do_not_make_a_new_name() {
        for (lookalike, original) in [
            ("host_", "host"),
            ("-host", "host"),
            ("h.o.s.t", "host"),
            ("a.lice", "alice"),
            ("a_lice", "alice"),
            ("Dave_", "dave"),
            ("clave", "dave"),
            ("CLAVE", "Dave"),
            ("rn", "m"),
        ] {
            assert!(same_nick(lookalike, original), "{lookalike} vs {original}");
        }
        // Letters of other alphabets fold onto the Latin ones they look like, so the rule holds
        // even for a name that never went through check_nick.
        assert!(same_nick("\u{430}lice", "alice"));
        assert!(!same_nick("dave", "dove"));
    }

    #[test]
    fn host_and_its_lookalikes_are_reserved() {
        for name in ["host", "HOST", "host_", "-host", "h0st", "ho.st", "Host-"] {
            assert_eq!(
                check_nick(name.as_bytes()),
                Err(NickError::Reserved),
                "{name}"
            );
        }
        assert!(check_nick(b"hostess").is_ok());
    }

    #[test]
    fn a_name_of_punctuation_only_is_refused() {
        assert_eq!(check_nick(b"..."), Err(NickError::NoLetters));
        assert_eq!(check_nick(b"_"), Err(NickError::NoLetters));
        // Other alphabets are refused outright: Cyrillic а (U+0430) looks like Latin a.
        let cyrillic = check_nick("\u{430}lice".as_bytes()).unwrap_err();
        assert!(cyrillic.to_string().contains("ASCII"), "{cyrillic}");
    }

    #[test]
    fn the_sender_name_comes_first_so_impersonation_shows() {
        assert_eq!(
            said("bob", b"[alice] I owe bob 10 euros"),
            "[bob] [alice] I owe bob 10 euros"
        );
        assert_eq!(
            classify(&said("bob", b"[alice -> you] x")),
            LineKind::Message
        );
    }

    #[test]
    fn relayed_text_is_escaped_for_raw_terminals() {
        assert_eq!(said("bob", b"\x1b[2Jhi\x07"), "[bob] \\x1b[2Jhi\\x07");
        assert_eq!(action("bob", b"waves\r"), "* bob waves\\x0d");
        assert_eq!(private("bob", b"\xff"), "[bob -> you] \u{fffd}");
        assert_eq!(said("bob", "a\u{200b}b".as_bytes()), "[bob] a\\u{200b}b");
    }

    #[test]
    fn a_message_cannot_push_a_fake_notice_onto_its_own_row() {
        let fake = format!(
            "hi{}*** bob was kicked by the host (cheating)",
            " ".repeat(68)
        );
        let shown = said("eve", fake.as_bytes());
        assert_eq!(
            shown,
            "[eve] hi        *** bob was kicked by the host (cheating)"
        );
        assert_eq!(said("eve", b"    indented()"), "[eve]     indented()");
    }

    #[test]
    fn a_line_of_control_bytes_shows_a_few_escapes_and_says_how_many_were_left_out() {
        let shown = said("eve", &[0x01; 8000]);
        assert_eq!(
            shown,
            format!(
                "[eve] {} [7,984 more control characters not shown]",
                "\\x01".repeat(MAX_ESCAPED)
            )
        );
        // One row or two, not 400.
        assert!(shown.len() < 120, "{} columns", shown.len());
    }

    #[test]
    fn the_text_around_left_out_escapes_is_kept_and_a_few_escapes_are_not_counted() {
        let mut text = b"see ".to_vec();
        text.extend([0x07; 20]);
        text.extend(b" here");
        assert_eq!(
            message_text(&text),
            format!(
                "see {} here [4 more control characters not shown]",
                "\\x07".repeat(MAX_ESCAPED)
            )
        );
        assert_eq!(message_text(b"a\x1b[31mred"), "a\\x1b[31mred");
    }

    #[test]
    fn leaving_an_escape_out_never_joins_its_neighbours_into_a_new_character() {
        // `e2 80` and `8b` are invalid apart, and a zero-width space (U+200B) together.
        let text: Vec<u8> = [0xe2, 0x80, 0x01, 0x8b].repeat(100);
        let shown = message_text(&text);
        assert!(!shown.contains("200b"), "{shown}");
        assert!(shown.chars().count() < 120, "{shown}");
    }

    #[test]
    fn zalgo_keeps_a_few_marks_on_each_letter_and_says_how_many_it_left_out() {
        let zalgo: String = "hi"
            .chars()
            .flat_map(|c| std::iter::once(c).chain(std::iter::repeat_n('\u{0301}', 50)))
            .collect();
        let shown = said("eve", zalgo.as_bytes());
        let four = "\u{0301}".repeat(MAX_STACKED);
        assert_eq!(
            shown,
            format!("[eve] h{four}i{four} [92 more stacked marks not shown]")
        );
    }

    #[test]
    fn the_accents_of_written_languages_and_emoji_pass_untouched() {
        for text in [
            "Ti\u{1ebf}ng Vi\u{1ec7}t, e\u{0323}\u{0302}", // Vietnamese, precomposed and not
            "\u{05e9}\u{05c1}\u{05b8}\u{0591}\u{05dc}\u{05d5}\u{05b9}\u{05dd}", // Hebrew points and a cantillation mark
            "\u{0915}\u{094d}\u{0937}\u{093f} \u{0928}\u{092e}\u{0938}\u{094d}\u{0924}\u{0947}", // Devanagari
            "1\u{fe0f}\u{20e3} \u{1f44d}\u{1f3fd}", // a keycap, a thumb with a skin tone
        ] {
            assert_eq!(message_text(text.as_bytes()), text);
        }
    }

    #[test]
    fn escapes_and_marks_left_out_are_both_told() {
        let mut text = vec![0x01; 20];
        text.extend("a".bytes().chain("\u{0300}".repeat(10).bytes()));
        assert!(
            message_text(&text)
                .ends_with(" [4 more control characters and 6 more stacked marks not shown]")
        );
    }

    #[test]
    fn every_goodbye_says_why_to_the_client() {
        assert_eq!(
            farewell(&room_full(2)),
            Some(Farewell::Refused {
                reason: "the room is full (2 people); try again later".into()
            })
        );
        let removed = Some(Farewell::RemovedByHost);
        assert_eq!(farewell(&kicked(Some(b"noisy")).0), removed);
        assert_eq!(farewell(&kicked(None).0), removed);
        assert_eq!(farewell(&banned(Some(b"spam")).0), removed);
        assert_eq!(farewell(&goodbye("see you")), Some(Farewell::Closed));
        assert_eq!(farewell("[bob] *** goodbye: sorry, fake"), None);
    }

    #[test]
    fn each_kind_of_line_is_recognised() {
        assert_eq!(classify("[alice] hi"), LineKind::Message);
        assert_eq!(classify("[host] hi"), LineKind::Host);
        assert_eq!(classify("* alice waves"), LineKind::Action);
        assert_eq!(classify(&private("alice", b"psst")), LineKind::Private);
        assert_eq!(classify(&notice("bob joined")), LineKind::Notice);
        assert_eq!(classify(&goodbye("the room is closing")), LineKind::Goodbye);
    }

    #[test]
    fn who_lists_names_in_order() {
        assert_eq!(
            who(&["alice", "bob"]),
            "*** in the room (2 people): alice, bob"
        );
        assert_eq!(who(&["alice"]), "*** in the room (1 person): alice");
    }

    #[test]
    fn the_longest_relayed_line_fits_the_client_limit() {
        let worst = vec![0x1b_u8; 100];
        let nick = "ü".repeat(MAX_NICK);
        for line in [
            said(&nick, &worst),
            private(&nick, &worst),
            action(&nick, &worst),
        ] {
            assert!(line.len() <= longest_relayed_line(100), "{}", line.len());
        }
    }

    #[test]
    fn long_quit_reasons_are_cut() {
        let long = vec![b'x'; 500];
        assert_eq!(reason_text(&long).chars().count(), 201);
        assert_eq!(reason_text(b"lunch"), "lunch");
        let fake = format!("bye{}*** bob was kicked", " ".repeat(70));
        assert_eq!(
            reason_text(fake.as_bytes()),
            "bye        *** bob was kicked"
        );
    }

    #[test]
    fn host_commands_parse() {
        assert_eq!(
            parse_host(b"hello class"),
            HostCommand::Say(b"hello class".to_vec())
        );
        assert_eq!(parse_host(b"/who"), HostCommand::Who);
        assert_eq!(parse_host(b"/STATS"), HostCommand::Stats);
        assert_eq!(
            parse_host(b"/kick bob spamming"),
            HostCommand::Kick {
                nick: b"bob".to_vec(),
                reason: Some(b"spamming".to_vec())
            }
        );
        assert_eq!(
            parse_host(b"/kick bob"),
            HostCommand::Kick {
                nick: b"bob".to_vec(),
                reason: None
            }
        );
        assert!(matches!(parse_host(b"/kick"), HostCommand::Usage(_)));
        assert_eq!(parse_host(b"/quit"), HostCommand::Close);
        assert_eq!(
            parse_host(b"/ban eve flooding"),
            HostCommand::Ban {
                nick: b"eve".to_vec(),
                reason: Some(b"flooding".to_vec())
            }
        );
        assert!(matches!(parse_host(b"/ban"), HostCommand::Usage(_)));
        assert_eq!(
            parse_host(b"/unban 127.0.0.2"),
            HostCommand::Unban(Some("127.0.0.2".parse().unwrap()))
        );
        assert_eq!(
            parse_host(b"/unban ::1"),
            HostCommand::Unban(Some("::1".parse().unwrap()))
        );
        assert_eq!(parse_host(b"/unban"), HostCommand::Unban(None));
        assert!(matches!(parse_host(b"/unban eve"), HostCommand::Usage(_)));
        assert!(matches!(parse_host(b"/nick x"), HostCommand::Usage(_)));
    }
}
