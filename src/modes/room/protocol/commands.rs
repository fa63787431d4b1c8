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
    /// `/topic`: what the host set as the room's topic.
    Topic,
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
        b"topic" => Command::Topic,
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
        "/msg NICK TEXT   a private message to one person (/msg host TEXT: to the host)",
        "/topic           what the host set as the room's topic",
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
    /// `/ban NICK|ADDRESS [MINUTES] [reason]`: kick, and refuse that member's address (or only
    /// its name, when others share the address) until the room closes or for MINUTES.
    Ban {
        target: BanTarget,
        minutes: Option<u32>,
        reason: Option<Vec<u8>>,
    },
    /// `/unban ADDR`, or `/unban` alone to list the banned addresses.
    Unban(Option<IpAddr>),
    /// `/limit …`: show or change a limit of the running room.
    Limit(LimitChange),
    /// `/mute NICK [MINUTES]`: its lines and private messages are not relayed.
    Mute { nick: Vec<u8>, minutes: Option<u32> },
    /// `/unmute NICK`.
    Unmute(Vec<u8>),
    /// `/topic [TEXT]`: show the topic, or set it (shown to everyone now and every newcomer).
    Topic(Option<Vec<u8>>),
    /// `/msg NICK TEXT`: a private message from the host.
    Msg { nick: Vec<u8>, text: Vec<u8> },
    /// `/quit`: close the room.
    Close,
    /// The console is closing the room, and why (`/quit`, Ctrl-C, window closed, SIGTERM, end
    /// of input): the room's last line, so the transcript says how it ended.
    Closing(String),
    /// `/help`.
    Help,
    /// A blank line.
    Nothing,
    /// Misused or unknown: the text says what to do.
    Usage(String),
}

impl HostCommand {
    /// The command as the host typed it, for the events log; `None` for a line said to the room
    /// (a message of its own there), a blank line, or the room's closing.
    pub fn typed(&self) -> Option<String> {
        let text = |bytes: &[u8]| escape_peer_text(bytes);
        let nick_and = |word: &str, nick: &[u8], rest: Option<String>| match rest {
            Some(rest) => format!("/{word} {} {rest}", text(nick)),
            None => format!("/{word} {}", text(nick)),
        };
        Some(match self {
            HostCommand::Say(_) | HostCommand::Nothing | HostCommand::Closing(_) => return None,
            HostCommand::Who => "/who".to_string(),
            HostCommand::Stats => "/stats".to_string(),
            HostCommand::Help => "/help".to_string(),
            HostCommand::Close => "/quit".to_string(),
            HostCommand::Usage(_) => return None,
            HostCommand::Kick { nick, reason } => {
                nick_and("kick", nick, reason.as_deref().map(text))
            }
            HostCommand::Ban {
                target,
                minutes,
                reason,
            } => {
                let target = match target {
                    BanTarget::Nick(nick) => text(nick),
                    BanTarget::Address(ip) => ip.to_string(),
                };
                let minutes = minutes.map(|m| format!(" {m}")).unwrap_or_default();
                let reason = reason
                    .as_deref()
                    .map(|r| format!(" {}", text(r)))
                    .unwrap_or_default();
                format!("/ban {target}{minutes}{reason}")
            }
            HostCommand::Unban(Some(ip)) => format!("/unban {ip}"),
            HostCommand::Unban(None) => "/unban".to_string(),
            HostCommand::Limit(change) => match change {
                LimitChange::Show => "/limit".to_string(),
                LimitChange::Rate(n) => format!("/limit rate {n}"),
                LimitChange::Seats(n) => format!("/limit seats {n}"),
                LimitChange::Clients(n) => format!("/limit clients {n}"),
                LimitChange::MemberRate { lines, nick } => {
                    format!("/limit rate {lines} {}", text(nick))
                }
            },
            HostCommand::Mute { nick, minutes } => {
                nick_and("mute", nick, minutes.map(|m| m.to_string()))
            }
            HostCommand::Unmute(nick) => nick_and("unmute", nick, None),
            HostCommand::Topic(None) => "/topic".to_string(),
            HostCommand::Topic(Some(topic)) => format!("/topic {}", text(topic)),
            HostCommand::Msg { nick, .. } => format!("/msg {} …", text(nick)),
        })
    }
}

/// Whom `/ban` is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BanTarget {
    /// A member, by name.
    Nick(Vec<u8>),
    /// An address, whoever is behind it.
    Address(IpAddr),
}

/// What `/limit` shows or changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitChange {
    /// `/limit`: every limit now.
    Show,
    /// `/limit rate N`: lines a second per member (0: off).
    Rate(u32),
    /// `/limit seats N`: seats one address may always hold (0: no per-address limit).
    Seats(u32),
    /// `/limit clients N`: the room's seats.
    Clients(usize),
    /// `/limit rate N NICK`: one member's rate (a paste exercise).
    MemberRate { lines: u32, nick: Vec<u8> },
}

const LIMIT_USAGE: &str = "usage: /limit (show), /limit rate N [NICK], /limit seats N, \
                           /limit clients N";

/// `/limit …`.
fn parse_limit(argument: &[u8]) -> HostCommand {
    let (what, rest) = split_word(argument);
    let (number, nick) = split_word(rest);
    let number = std::str::from_utf8(number)
        .ok()
        .and_then(|n| n.parse::<u32>().ok());
    let change = match (what.to_ascii_lowercase().as_slice(), number, nick) {
        (b"", _, _) => LimitChange::Show,
        (b"rate", Some(lines), []) => LimitChange::Rate(lines),
        (b"rate", Some(lines), nick) if !nick.contains(&b' ') => LimitChange::MemberRate {
            lines,
            nick: nick.to_vec(),
        },
        (b"seats", Some(seats), []) => LimitChange::Seats(seats),
        (b"clients", Some(seats), []) if seats > 0 => LimitChange::Clients(seats as usize),
        _ => return HostCommand::Usage(LIMIT_USAGE.into()),
    };
    HostCommand::Limit(change)
}

/// A leading number of minutes, if the first word is one: `(minutes, the rest)`.
fn minutes(argument: &[u8]) -> (Option<u32>, &[u8]) {
    let (first, rest) = split_word(argument);
    match std::str::from_utf8(first).ok().and_then(|n| n.parse().ok()) {
        Some(minutes) if minutes > 0 => (Some(minutes), rest),
        _ => (None, argument),
    }
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
    let some = |text: &[u8]| (!text.is_empty()).then(|| text.to_vec());
    match word.to_ascii_lowercase().as_slice() {
        b"who" => HostCommand::Who,
        b"stats" => HostCommand::Stats,
        b"kick" => match split_word(argument) {
            ([], _) => HostCommand::Usage("usage: /kick NICK [reason]".into()),
            (nick, reason) => HostCommand::Kick {
                nick: nick.to_vec(),
                reason: some(reason),
            },
        },
        b"ban" => match split_word(argument) {
            ([], _) => HostCommand::Usage(
                "usage: /ban NICK [MINUTES] [reason], or /ban ADDRESS [MINUTES]".into(),
            ),
            (target, rest) => {
                let (minutes, reason) = minutes(rest);
                let address = std::str::from_utf8(target)
                    .ok()
                    .and_then(|t| t.parse().ok());
                HostCommand::Ban {
                    target: address
                        .map_or_else(|| BanTarget::Nick(target.to_vec()), BanTarget::Address),
                    minutes,
                    reason: some(reason),
                }
            }
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
        b"limit" => parse_limit(argument),
        b"mute" => match split_word(argument) {
            ([], _) => HostCommand::Usage("usage: /mute NICK [MINUTES]".into()),
            (nick, rest) => match minutes(rest) {
                (minutes, []) => HostCommand::Mute {
                    nick: nick.to_vec(),
                    minutes,
                },
                _ => HostCommand::Usage("usage: /mute NICK [MINUTES], e.g. /mute eve 5".into()),
            },
        },
        b"unmute" => match split_word(argument) {
            (nick, []) if !nick.is_empty() => HostCommand::Unmute(nick.to_vec()),
            _ => HostCommand::Usage("usage: /unmute NICK".into()),
        },
        b"topic" => HostCommand::Topic(some(argument)),
        b"msg" => match split_word(argument) {
            (nick, text) if !nick.is_empty() && !text.is_empty() => HostCommand::Msg {
                nick: nick.to_vec(),
                text: text.to_vec(),
            },
            _ => HostCommand::Usage("usage: /msg NICK TEXT".into()),
        },
        b"quit" => HostCommand::Close,
        b"help" => HostCommand::Help,
        _ if means_quit(&String::from_utf8_lossy(word)) => HostCommand::Usage(format!(
            "unknown command /{}: /quit closes the room",
            escape_peer_text(word)
        )),
        _ => HostCommand::Usage(format!(
            "unknown command /{}: /help lists the host's commands",
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
    "/who                      who is in the room: name, address, time in the room",
    "/stats                    each member: address, time, lines and bytes, queue, rate limit",
    "/msg NICK TEXT            a private message to one member",
    "/topic [TEXT]             show or set the topic (everyone sees it; newcomers too)",
    "/mute NICK [MINUTES]      its messages are not relayed (/unmute NICK)",
    "/limit                    the limits now; change one without restarting:",
    "  /limit rate N [NICK]    lines a second per member (or one member's: a paste exercise)",
    "  /limit seats N          seats one address may always hold (0: no per-address limit)",
    "  /limit clients N        seats in the room",
    "/kick NICK [reason]       disconnect someone, telling the room",
    "/ban NICK [MINUTES]       kick, and refuse their address (their name only, if others",
    "                          share the address); /ban ADDRESS [MINUTES] the whole address",
    "/unban ADDRESS            let a banned address in again (/unban alone lists them)",
    "/quit (or Ctrl-C, or Ctrl-D)  close the room",
];
