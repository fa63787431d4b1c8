//! The host's commands (`/who`, `/stats`, `/msg`, `/topic`, `/mute`, `/limit`, `/kick`, `/ban`,
//! `/unban`, a plain line said as `[host]`): what the operator typed at the server's console, as
//! more of the room's rules. The host steers a running room with them, without restarting it;
//! each is answered with what changed. Answers go to the console only (`Log::Answer`); what
//! members hear goes through the same actions as everything else.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Departure, Mute, Room, line, wire_line};
use crate::modes::room::actions::{Action, ClientId, Line, LineKind, Log, Viewer};
use crate::modes::room::limits::RateLimit;
use crate::modes::room::protocol::{self, BanTarget, HostCommand, LimitChange};
use crate::modes::room::stats;
use crate::observe::Event;
use crate::text::escape_peer_text;

/// The id the events log gives the host's own lines: no member has it (members count from 1).
pub const HOST_CLIENT: ClientId = 0;

fn answer(text: String) -> Vec<Action> {
    vec![Action::Log(Log::Answer(text))]
}

fn minutes(minutes: u32) -> Duration {
    Duration::from_secs(u64::from(minutes) * 60)
}

/// `5 lines a second`, or `no limit`.
fn rate_text(rate: RateLimit) -> String {
    match rate {
        RateLimit::Off => "no limit".to_string(),
        RateLimit::PerSecond { lines } => format!("{lines} lines a second"),
    }
}

impl Room {
    /// The operator typed something, at `now`.
    // ANCHOR: host
    pub fn host(&mut self, command: HostCommand, now: Instant) -> Vec<Action> {
        let mut recorded = Vec::new();
        if let Some(line) = command.typed() {
            self.record(&mut recorded, || Event::Command {
                client: HOST_CLIENT,
                nick: protocol::HOST_NICK.to_string(),
                line,
            });
        }
        recorded.extend(self.obey_host(command, now));
        recorded
    }
    // ANCHOR_END: host

    fn obey_host(&mut self, command: HostCommand, now: Instant) -> Vec<Action> {
        match command {
            HostCommand::Say(text) => {
                let shown: Line = Arc::from(protocol::said(protocol::HOST_NICK, &text));
                let mut actions = vec![
                    Action::All {
                        except: None,
                        line: wire_line(&shown),
                    },
                    Action::Log(Log::Message(shown, LineKind::Host)),
                ];
                // In the events log too, so a question can be matched with its answers.
                self.record(&mut actions, || Event::Message {
                    client: HOST_CLIENT,
                    nick: protocol::HOST_NICK.to_string(),
                    text: escape_peer_text(&text),
                });
                actions
            }
            HostCommand::Who if self.members.is_empty() => answer("the room is empty".into()),
            HostCommand::Who => {
                let rows = self.stats_rows(Viewer::Host, now);
                let mut lines = vec![format!("in the room ({}):", rows.len())];
                lines.extend(stats::who_table(&rows));
                lines
                    .into_iter()
                    .map(|text| Action::Log(Log::Answer(text)))
                    .collect()
            }
            HostCommand::Stats if self.members.is_empty() => answer("the room is empty".into()),
            HostCommand::Stats => vec![Action::Stats(Viewer::Host)],
            HostCommand::Kick { nick, reason } => self.kick(&nick, reason.as_deref()),
            HostCommand::Ban {
                target,
                minutes,
                reason,
            } => self.ban(target, minutes, reason.as_deref(), now),
            HostCommand::Unban(Some(ip)) => answer(match self.door.unban(ip) {
                Some(nick) => format!("{ip} (banned as {nick}) may join again"),
                None => format!("{ip} was not banned; /unban alone lists the banned addresses"),
            }),
            HostCommand::Unban(None) => {
                let banned: Vec<String> = self
                    .door
                    .banned()
                    .map(|(ip, nick)| format!("{ip} ({nick})"))
                    .chain(
                        self.banned_names
                            .values()
                            .map(|(nick, _)| format!("the name {nick}")),
                    )
                    .collect();
                answer(if banned.is_empty() {
                    "nobody is banned".to_string()
                } else {
                    format!("banned: {}", banned.join(", "))
                })
            }
            HostCommand::Limit(change) => self.limit(change),
            HostCommand::Mute { nick, minutes } => self.mute(&nick, minutes, now),
            HostCommand::Unmute(nick) => self.unmute(&nick),
            HostCommand::Topic(text) => self.topic(text.as_deref()),
            HostCommand::Msg { nick, text } => self.host_whisper(&nick, &text),
            HostCommand::Help => protocol::HOST_HELP
                .iter()
                .map(|text| Action::Log(Log::Answer(text.to_string())))
                .collect(),
            HostCommand::Usage(text) => answer(text),
            HostCommand::Closing(why) => {
                vec![Action::Log(Log::Status(format!("{why}: closing the room")))]
            }
            HostCommand::Nothing | HostCommand::Close => Vec::new(),
        }
    }

    /// The member called `nick`, if one is.
    fn find_bytes(&self, nick: &[u8]) -> Option<ClientId> {
        std::str::from_utf8(nick).ok().and_then(|n| self.find(n))
    }

    /// `/limit`: every limit that can refuse or slow a student, now.
    fn limits_now(&self) -> String {
        let seats = match self.door.max_per_address() {
            0 => "no per-address limit".to_string(),
            n => format!("{n} seats per address (more while many are free)"),
        };
        let own: Vec<String> = self
            .members
            .values()
            .filter_map(|m| Some(format!("{} {}", m.nick, rate_text(m.rate?))))
            .collect();
        let own = if own.is_empty() {
            String::new()
        } else {
            format!("; own rates: {}", own.join(", "))
        };
        format!(
            "limits: rate {} per member (/limit rate N); {seats} (/limit seats N); {} seats in \
             the room (/limit clients N){own}",
            rate_text(self.rate),
            self.door.capacity()
        )
    }

    /// `/limit …`: shows or changes a limit; the answer says what changed.
    fn limit(&mut self, change: LimitChange) -> Vec<Action> {
        let text = match change {
            LimitChange::Show => self.limits_now(),
            LimitChange::Rate(lines) => {
                let was = rate_text(self.rate);
                self.rate = RateLimit::from_option(lines);
                format!(
                    "the rate limit is now {} per member (was {was})",
                    rate_text(self.rate)
                )
            }
            LimitChange::Seats(seats) => {
                let was = self.door.max_per_address();
                self.door.set_max_per_address(seats);
                match seats {
                    0 => format!(
                        "one address may now hold any number of seats, and connect as fast as \
                         it likes (was {was} seats)"
                    ),
                    _ => format!(
                        "one address may now hold {seats} seats, more while many are free \
                         (was {was})"
                    ),
                }
            }
            LimitChange::Clients(seats) => {
                let was = self.door.capacity();
                self.door.set_capacity(seats);
                format!(
                    "the room now has {} seats (was {was}); members already in stay, and the \
                     --max-clients the room started with stays the most",
                    self.door.capacity()
                )
            }
            LimitChange::MemberRate { lines, nick } => {
                let Some(member) = self
                    .find_bytes(&nick)
                    .and_then(|id| self.members.get_mut(&id))
                else {
                    return answer(protocol::nobody_called(&nick));
                };
                let rate = RateLimit::from_option(lines);
                member.rate = Some(rate);
                format!(
                    "{} may now send {} (the room's: {}); /limit rate {} {} puts it back",
                    member.nick,
                    rate_text(rate),
                    rate_text(self.rate),
                    match self.rate {
                        RateLimit::Off => 0,
                        RateLimit::PerSecond { lines } => lines,
                    },
                    member.nick
                )
            }
        };
        answer(text)
    }

    /// `/mute NICK [MINUTES]`.
    fn mute(&mut self, nick: &[u8], minutes_given: Option<u32>, now: Instant) -> Vec<Action> {
        let Some((id, member)) = self
            .find_bytes(nick)
            .and_then(|id| Some((id, self.members.get_mut(&id)?)))
        else {
            return answer(protocol::nobody_called(nick));
        };
        member.muted = Some(Mute {
            until: minutes_given.map(|m| now + minutes(m)),
            told: false,
        });
        let how_long = match minutes_given {
            Some(m) => format!("for {m} minute{}", if m == 1 { "" } else { "s" }),
            None => "until /unmute".to_string(),
        };
        let nick = member.nick.clone();
        let mut actions = answer(format!(
            "{nick} is muted {how_long}: its messages are not relayed, and it is told so the \
             first time it speaks; /who and /stats show it"
        ));
        self.record(&mut actions, || Event::Muted {
            client: id,
            nick,
            minutes: minutes_given,
        });
        actions
    }

    /// `/unmute NICK`.
    fn unmute(&mut self, nick: &[u8]) -> Vec<Action> {
        let Some((id, member)) = self
            .find_bytes(nick)
            .and_then(|id| Some((id, self.members.get_mut(&id)?)))
        else {
            return answer(protocol::nobody_called(nick));
        };
        if member.muted.take().is_none() {
            return answer(format!("{} was not muted", member.nick));
        }
        vec![
            Action::To(
                id,
                line(protocol::notice(
                    "the host unmuted you: the room hears you again",
                )),
            ),
            Action::Log(Log::Answer(format!("{} may speak again", member.nick))),
        ]
    }

    /// `/topic [TEXT]`.
    fn topic(&mut self, text: Option<&[u8]>) -> Vec<Action> {
        let Some(text) = text else {
            return answer(match &self.topic {
                Some(topic) => topic.to_string(),
                None => "no topic is set; /topic TEXT sets one".to_string(),
            });
        };
        let topic = line(protocol::notice(&format!(
            "topic: {}",
            protocol::message_text(text)
        )));
        self.topic = Some(Arc::clone(&topic));
        vec![
            Action::All {
                except: None,
                line: topic,
            },
            Action::Log(Log::Answer(format!(
                "the topic is now: {} (everyone was told; newcomers see it after the welcome, \
                 members with /topic)",
                protocol::message_text(text)
            ))),
        ]
    }

    /// `/msg NICK TEXT` from the host.
    fn host_whisper(&mut self, nick: &[u8], text: &[u8]) -> Vec<Action> {
        let Some(id) = self.find_bytes(nick) else {
            return answer(protocol::nobody_called(nick));
        };
        let to = self.nick(id).unwrap_or_default().to_string();
        let mut actions = vec![
            Action::To(id, line(protocol::private(protocol::HOST_NICK, text))),
            Action::Log(Log::Answer(format!(
                "[you -> {to}] {}",
                protocol::message_text(text)
            ))),
        ];
        self.record(&mut actions, || Event::Private {
            from: protocol::HOST_NICK.to_string(),
            to,
            from_client: HOST_CLIENT,
            to_client: id,
        });
        actions
    }

    fn kick(&mut self, nick: &[u8], reason: Option<&[u8]>) -> Vec<Action> {
        let Some(id) = self.find_bytes(nick) else {
            return answer(protocol::nobody_called(nick));
        };
        let (goodbye, why) = protocol::kicked(reason);
        let mut actions = vec![Action::To(id, line(goodbye))];
        actions.extend(self.remove(id, &why, Departure::Kicked));
        actions
    }

    /// `/ban NICK|ADDRESS [MINUTES] [reason]`.
    ///
    /// A member's address is banned, unless others in the room share it (a class behind one
    /// address, where banning it would ban the class): then only its *name* is banned, and the
    /// answer names who shares the address and how to ban the whole address anyway
    /// (`/ban ADDRESS`). An address given as such is banned whoever is behind it; the members
    /// from it are not removed (the host may `/kick` them).
    fn ban(
        &mut self,
        target: BanTarget,
        minutes_given: Option<u32>,
        reason: Option<&[u8]>,
        now: Instant,
    ) -> Vec<Action> {
        let until = minutes_given.map(|m| now + minutes(m));
        let how_long = match minutes_given {
            Some(m) => format!("for {m} minute{}", if m == 1 { "" } else { "s" }),
            None => "until the room closes".to_string(),
        };
        let nick = match target {
            BanTarget::Address(ip) => {
                self.door.ban(ip, "an address", until);
                let here = self.names_from(ip, None);
                let here = if here.is_empty() {
                    String::new()
                } else {
                    format!("; still here from it: {} (/kick NICK)", here.join(", "))
                };
                return answer(format!(
                    "{ip} is banned {how_long}; /unban {ip} lets it in again{here}"
                ));
            }
            BanTarget::Nick(nick) => nick,
        };
        let Some((id, member)) = self
            .find_bytes(&nick)
            .and_then(|id| Some((id, self.members.get(&id)?)))
        else {
            return answer(protocol::nobody_called(&nick));
        };
        let (ip, name) = (member.peer.ip(), member.nick.clone());
        let sharing = self.names_from(ip, Some(id));
        let (goodbye, why) = protocol::banned(reason);
        let mut actions = vec![Action::To(id, line(goodbye))];
        actions.extend(self.remove(id, &why, Departure::Kicked));
        let text = if sharing.is_empty() {
            self.door.ban(ip, &name, until);
            format!("{ip} is banned {how_long}; /unban {ip} lets it in again")
        } else if name.starts_with("guest-") {
            // A name the room gave it: banning it would keep out nobody.
            format!(
                "{name} is out; it never chose a name, and its address {ip} is shared with {} \
                 here, so it can come back as a new guest (/ban {ip} bans everyone behind it)",
                sharing.join(", ")
            )
        } else {
            self.banned_names
                .insert(protocol::lookalike_key(&name), (name.clone(), until));
            format!(
                "{name} is out, and the name {name} is banned {how_long}; its address {ip} is \
                 shared with {} here, so the address stays open (/ban {ip} bans everyone \
                 behind it)",
                sharing.join(", ")
            )
        };
        actions.push(Action::Log(Log::Answer(text)));
        actions
    }

    /// The names of the members from `ip`, but `except`; a long list shortened.
    fn names_from(&self, ip: IpAddr, except: Option<ClientId>) -> Vec<String> {
        let names: Vec<&str> = self
            .members
            .iter()
            .filter(|&(&id, m)| m.peer.ip() == ip && Some(id) != except)
            .map(|(_, m)| m.nick.as_str())
            .collect();
        let mut shown: Vec<String> = names
            .iter()
            .take(5)
            .map(std::string::ToString::to_string)
            .collect();
        if names.len() > 5 {
            shown.push(format!("{} more", names.len() - 5));
        }
        shown
    }
}
