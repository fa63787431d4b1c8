//! What a member and the host may type: a line understood as a command (`parse`, `Command`; at
//! the server's console `parse_host`, `HostCommand`), and the `/help` each of them reads.

use std::net::IpAddr;

use super::lines::notice;
use crate::text::escape_peer_text;

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
    match text.iter().position(u8::is_ascii_whitespace) {
        Some(space) => (&text[..space], text[space..].trim_ascii()),
        None => (text, &[]),
    }
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
        _ if means_quit(&String::from_utf8_lossy(word)) => HostCommand::Usage(format!(
            "unknown command /{}: /quit closes the room",
            escape_peer_text(word)
        )),
        _ => HostCommand::Usage(format!(
            "unknown command /{}: the host has /who, /stats, /kick NICK [reason], \
             /ban NICK [reason], /unban ADDRESS, /quit, /help",
            escape_peer_text(word)
        )),
    }
}

/// Whether `/word` is a usual way to ask for `/quit` (what other chat programs use): the
/// answer to it names `/quit`.
pub fn means_quit(word: &str) -> bool {
    ["q", "exit", "leave", "bye", "logout"]
        .iter()
        .any(|quit| word.eq_ignore_ascii_case(quit))
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
