//! The host's commands (`/who`, `/stats`, `/kick`, `/ban`, `/unban`, a plain line said as
//! `[host]`): what the operator typed at the server's console, as more of the room's rules.
//! Answers go to the console only (`Log::Answer`); what members hear goes through the same
//! actions as everything else.

use std::sync::Arc;

use super::{Departure, Room, line};
use crate::modes::room::actions::{Action, LineKind, Log, Viewer};
use crate::modes::room::protocol::{self, HostCommand};

impl Room {
    /// The operator typed something.
    // ANCHOR: host
    pub fn host(&mut self, command: HostCommand) -> Vec<Action> {
        let status = |text: String| vec![Action::Log(Log::Answer(text))];
        match command {
            HostCommand::Say(text) => {
                let shared = line(protocol::said(protocol::HOST_NICK, &text));
                vec![
                    Action::All {
                        except: None,
                        line: Arc::clone(&shared),
                    },
                    Action::Log(Log::Message(shared, LineKind::Host)),
                ]
            }
            HostCommand::Who if self.members.is_empty() => status("the room is empty".into()),
            HostCommand::Who => {
                let names: Vec<String> = self
                    .members
                    .values()
                    .map(|m| format!("{} ({})", m.nick, m.peer))
                    .collect();
                status(format!(
                    "in the room ({}): {}",
                    names.len(),
                    names.join(", ")
                ))
            }
            HostCommand::Stats if self.members.is_empty() => status("the room is empty".into()),
            HostCommand::Stats => vec![Action::Stats(Viewer::Host)],
            HostCommand::Kick { nick, reason } => self.kick(&nick, reason.as_deref()),
            HostCommand::Ban { nick, reason } => self.ban(&nick, reason.as_deref()),
            HostCommand::Unban(Some(ip)) => status(match self.door.unban(ip) {
                Some(nick) => format!("{ip} (banned as {nick}) may join again"),
                None => format!("{ip} was not banned; /unban alone lists the banned addresses"),
            }),
            HostCommand::Unban(None) => {
                let banned: Vec<String> = self
                    .door
                    .banned()
                    .map(|(ip, nick)| format!("{ip} ({nick})"))
                    .collect();
                status(if banned.is_empty() {
                    "nobody is banned".to_string()
                } else {
                    format!("banned: {}", banned.join(", "))
                })
            }
            HostCommand::Help => protocol::HOST_HELP
                .iter()
                .map(|text| Action::Log(Log::Answer(text.to_string())))
                .collect(),
            HostCommand::Usage(text) => status(text),
            HostCommand::Nothing | HostCommand::Close => Vec::new(),
        }
    }
    // ANCHOR_END: host

    fn kick(&mut self, nick: &[u8], reason: Option<&[u8]>) -> Vec<Action> {
        let target = std::str::from_utf8(nick).ok().and_then(|n| self.find(n));
        let Some(id) = target else {
            return vec![Action::Log(Log::Answer(protocol::nobody_called(nick)))];
        };
        let (goodbye, why) = protocol::kicked(reason);
        let mut actions = vec![Action::To(id, line(goodbye))];
        actions.extend(self.remove(id, &why, Departure::Kicked));
        actions
    }

    /// `/ban`: the member is disconnected and its address refused until the room closes (or
    /// `/unban`). Others already in the room from that address stay: on a shared machine or
    /// behind a school's NAT they may be honest; the host is told how many there are, and can
    /// `/ban` them too.
    fn ban(&mut self, nick: &[u8], reason: Option<&[u8]>) -> Vec<Action> {
        let target = std::str::from_utf8(nick).ok().and_then(|n| self.find(n));
        let Some((id, member)) = target.and_then(|id| Some((id, self.members.get(&id)?))) else {
            return vec![Action::Log(Log::Answer(protocol::nobody_called(nick)))];
        };
        let (ip, name) = (member.peer.ip(), member.nick.clone());
        self.door.ban(ip, &name);
        let (goodbye, why) = protocol::banned(reason);
        let mut actions = vec![Action::To(id, line(goodbye))];
        actions.extend(self.remove(id, &why, Departure::Kicked));
        let others: Vec<&str> = self
            .members
            .values()
            .filter(|m| m.peer.ip() == ip)
            .map(|m| m.nick.as_str())
            .collect();
        let staying = match others.as_slice() {
            [] => String::new(),
            names => format!(
                "; still here from that address: {} (/ban them too if they are the same \
                 prankster)",
                names.join(", ")
            ),
        };
        actions.push(Action::Log(Log::Answer(format!(
            "{ip} is banned until the room closes; /unban {ip} lets it in again{staying}"
        ))));
        actions
    }
}
