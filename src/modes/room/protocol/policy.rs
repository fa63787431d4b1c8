//! The room's policy texts: how it words a refusal, a goodbye, a rate limit, a drop, so that every
//! engine says the same and the client can read a goodbye back (`farewell`) for its exit code.

use super::commands::means_quit;
use super::lines::{GOODBYE_PREFIX, goodbye, notice, reason_text};
use crate::text::{escape_peer_text, thousands};

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

/// What a room's first line to a newcomer starts with (the rules' welcome): how a `half` or
/// `duplex` that reached a room by mistake recognises one.
pub const WELCOME_PREFIX: &str = "*** welcome! you are ";

/// What a `half` or `duplex` that reached the room at `addr` says: where it is, and the command
/// that joins the room properly.
pub fn reached_a_room(mode: &str, addr: std::net::SocketAddr) -> String {
    format!(
        "this is a netchat room, not a {mode} peer: it took you in as a guest. To join it as a \
         member, leave here ({}) and run: netchat room --connect {addr} --nick NAME",
        if mode == "half" { "q" } else { "bye" }
    )
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

/// `/word` the server does not know (`word` already escaped). The usual ways to ask to leave
/// (`/q`, `/exit`, `/leave`, `/bye`) are answered with the one that works.
pub fn unknown_command(word: &str) -> String {
    if means_quit(word) {
        return notice(&format!(
            "unknown command /{word}; /quit leaves the room (/help lists the commands)"
        ));
    }
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

/// What everyone reads, once, when part of a member's message was not relayed: it sent more at
/// once than the room holds (limits.rs, `HELD_LINES`). Said once the rest went out, so the
/// count is whole.
pub fn not_relayed(nick: &str, (lines, bytes): (u64, u64), held_lines: usize) -> String {
    notice(&format!(
        "{} lines ({} bytes) of what {nick} sent were not relayed: more than the room holds \
         at once ({held_lines} lines or 64 KiB)",
        thousands(lines),
        thousands(bytes),
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
