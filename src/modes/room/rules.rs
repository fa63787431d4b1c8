//! The room's rules: who is in the room, what they are called, and what each line they send
//! makes happen. Pure logic, no sockets, no threads, no clock of its own.
//!
//! Both room engines drive this one [`Room`]: the threads engine (hub.rs, server.rs) from its hub
//! thread, the poll engine (poll.rs) from its event loop. An engine tells the room what happened
//! ("client 3 joined", "client 3 said this line", "client 5 is gone") and gets back a list of
//! [`Action`]s ("send this line to everyone but 3", "disconnect 5", "log this"). Carrying the
//! actions out, including dropping a client that stopped reading, is engine.rs, shared too. So a
//! rule (a name check, a command, who hears a notice) exists once, and every rule is tested here
//! without a socket.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use super::protocol::{self, Command, HostCommand};

/// Every client gets a number when it connects; numbers are never reused.
pub type ClientId = u64;

/// One line to send, formatted once and shared: a message for thirty students is formatted and
/// stored once, and each queue holds only a pointer to it (an `Arc`), not a copy.
pub type Line = Arc<str>;

/// Why a client's connection ended, as its engine saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gone {
    /// `read` returned 0: the client closed its side (nc got Ctrl-C or Ctrl-D, a program ended).
    Closed,
    /// `read` failed, e.g. a RST arrived.
    Lost(String),
}

/// What the hub asks the operator's console to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Log {
    /// A chat line (stdout): the same shared line the clients get, not a copy.
    Message(Line),
    /// A status line (stderr, `netchat: …`).
    Status(String),
    /// A status line that deserves attention (stderr, highlighted).
    Notice(String),
}

/// One thing the [`Room`] decided should happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Offer the line to one client.
    To(ClientId, Line),
    /// Offer the line to every member (at the time it is carried out), except `except` (the
    /// sender: nobody gets an echo).
    All {
        except: Option<ClientId>,
        line: Line,
    },
    /// Stop sending to this client: what is already waiting for it (the goodbye) is still sent,
    /// then the connection is closed.
    Disconnect(ClientId),
    /// Show something at the server's console.
    Log(Log),
}

/// Why a member leaves, as the room is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leave {
    /// The connection closed or broke without `/quit`.
    Gone(Gone),
    /// More than `CLIENT_QUEUE` bytes (engine.rs) were waiting for it: it stopped reading.
    TooSlow,
}

struct Member {
    nick: String,
    peer: SocketAddr,
}

/// The room's state and rules, without any I/O.
pub struct Room {
    /// By id, i.e. in the order they joined. One owner (the hub thread, or the poll loop), so
    /// no lock.
    members: BTreeMap<ClientId, Member>,
    /// Who holds each name, by its lookalike key (protocol.rs): finding a name is one lookup,
    /// not a comparison with every member, which for a school of 10,000 joining one by one
    /// would be 50 million comparisons.
    by_name: HashMap<String, ClientId>,
    /// The number in the next `guest-N` name.
    next_guest: u64,
    /// `--motd`: the greeting every newcomer gets after the welcome, formatted once.
    motd: Vec<Line>,
}

/// Up to this many members, everyone is told when someone joins or leaves. Beyond it, only the
/// newcomer (its welcome says how many are here) and the operator's console hear about it.
///
/// Announcing every arrival to everyone costs n lines per join, so n²/2 for a room that fills
/// up: 435 lines for a class of 30, but 50 million for a school of 10,000, which would take the
/// server (and every student's screen) minutes to get through. Nobody reads a thousand "joined"
/// lines anyway; `/who` still lists the room.
pub const ANNOUNCE_UP_TO: usize = 100;

fn line(text: String) -> Line {
    Arc::from(text)
}

impl Default for Room {
    fn default() -> Self {
        Room::new()
    }
}

impl Room {
    pub fn new() -> Room {
        Room {
            members: BTreeMap::new(),
            by_name: HashMap::new(),
            next_guest: 1,
            motd: Vec::new(),
        }
    }

    /// Sets the greeting (`--motd`): each line is shown to every newcomer, as a `***` notice,
    /// right after the welcome.
    pub fn set_motd(&mut self, lines: &[String]) {
        self.motd = lines
            .iter()
            .map(|text| line(protocol::notice(text)))
            .collect();
    }

    /// How many members the room has.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The member's current name, if it is in the room.
    pub fn nick(&self, id: ClientId) -> Option<&str> {
        self.members.get(&id).map(|m| m.nick.as_str())
    }

    /// Every member's id, in the order they joined, except `except`, into `into` (a list the
    /// caller keeps between broadcasts, so a message costs no allocation here).
    pub fn members_except(&self, except: Option<ClientId>, into: &mut Vec<ClientId>) {
        into.clear();
        into.extend(
            self.members
                .keys()
                .copied()
                .filter(|&id| Some(id) != except),
        );
    }

    fn find(&self, nick: &str) -> Option<ClientId> {
        self.by_name.get(&protocol::lookalike_key(nick)).copied()
    }

    fn names(&self) -> Vec<&str> {
        self.members.values().map(|m| m.nick.as_str()).collect()
    }

    /// A `guest-N` nobody uses (someone may have picked `guest-4` by hand).
    fn fresh_guest_name(&mut self) -> String {
        loop {
            let name = protocol::guest_nick(self.next_guest);
            self.next_guest += 1;
            if self.find(&name).is_none() {
                return name;
            }
        }
    }

    /// A newcomer: give it a name, welcome it, tell the others.
    // ANCHOR: join
    pub fn join(&mut self, id: ClientId, peer: SocketAddr) -> Vec<Action> {
        let nick = self.fresh_guest_name();
        let count = self.members.len() + 1;
        // In a big room the list of names would be longer than anyone reads (and building it
        // for every newcomer is n² work again): say how many instead.
        let welcome = if count == 1 {
            format!("welcome! you are {nick}, and the first one here")
        } else if count > ANNOUNCE_UP_TO {
            format!("welcome! you are {nick}; {count} in the room (/who lists them)")
        } else {
            format!(
                "welcome! you are {nick}; also here: {}",
                self.names().join(", ")
            )
        };
        self.by_name.insert(protocol::lookalike_key(&nick), id);
        self.members.insert(
            id,
            Member {
                nick: nick.clone(),
                peer,
            },
        );
        let mut actions = vec![
            Action::To(id, line(protocol::notice(&welcome))),
            Action::To(
                id,
                line(protocol::notice(
                    "/nick NAME to pick a name, /help for the commands",
                )),
            ),
        ];
        actions.extend(
            self.motd
                .iter()
                .map(|text| Action::To(id, Arc::clone(text))),
        );
        if count <= ANNOUNCE_UP_TO {
            actions.push(Action::All {
                except: Some(id),
                line: line(protocol::notice(&format!(
                    "{nick} joined ({count} in the room)"
                ))),
            });
        }
        actions.push(Action::Log(Log::Status(format!(
            "{nick} joined from {peer} ({count} in the room)"
        ))));
        actions
    }
    // ANCHOR_END: join

    /// One line from a member: a message or a command.
    // ANCHOR: route
    pub fn said(&mut self, id: ClientId, text: &[u8]) -> Vec<Action> {
        let Some(from) = self.nick(id).map(str::to_string) else {
            return Vec::new(); // already removed (kicked, too slow): its last lines are ignored
        };
        let reply = |text: String| vec![Action::To(id, line(protocol::notice(&text)))];
        match protocol::parse(text) {
            Command::Say(text) => self.broadcast(id, protocol::said(&from, text)),
            Command::Me(text) => self.broadcast(id, protocol::action(&from, text)),
            Command::Msg { to, text } => self.whisper(id, &from, to, text),
            Command::Nick(name) => self.rename(id, &from, name),
            Command::Who => vec![Action::To(id, line(protocol::who(&self.names())))],
            Command::Quit(reason) => self.quit(id, reason),
            Command::Help => protocol::help()
                .into_iter()
                .map(|text| Action::To(id, line(text)))
                .collect(),
            Command::Nothing => Vec::new(),
            Command::Usage(usage) => reply(usage.to_string()),
            Command::Unknown(word) => vec![Action::To(id, line(protocol::unknown_command(&word)))],
        }
    }

    /// A line for everyone but the sender, and for the operator's screen.
    fn broadcast(&self, sender: ClientId, text: String) -> Vec<Action> {
        let shared = line(text);
        vec![
            Action::All {
                except: Some(sender),
                line: Arc::clone(&shared),
            },
            Action::Log(Log::Message(shared)),
        ]
    }
    // ANCHOR_END: route

    fn whisper(&self, id: ClientId, from: &str, to: &[u8], text: &[u8]) -> Vec<Action> {
        let target = std::str::from_utf8(to).ok().and_then(|to| self.find(to));
        match target {
            Some(target) => vec![
                Action::To(target, line(protocol::private(from, text))),
                // The operator sees that it happened, not what was said.
                Action::Log(Log::Status(format!(
                    "{from} sent a private message to {}",
                    self.nick(target).unwrap_or("?")
                ))),
            ],
            None => vec![Action::To(
                id,
                line(protocol::notice(&protocol::nobody_called(to))),
            )],
        }
    }

    // ANCHOR: rename
    fn rename(&mut self, id: ClientId, old: &str, requested: &[u8]) -> Vec<Action> {
        let refuse = |why: String| vec![Action::To(id, line(protocol::name_refused(&why, old)))];
        let new = match protocol::check_nick(requested) {
            Ok(new) => new,
            Err(why) => return refuse(why.to_string()),
        };
        if new == old {
            return refuse(format!("you are already {old}"));
        }
        // The hub is the only owner of the names, so this check and the rename below cannot be
        // raced by another client asking for the same name: its request is the next event.
        if let Some(other) = self.find(&new).filter(|&other| other != id) {
            let holder = self.nick(other).unwrap_or_default();
            return refuse(protocol::name_taken(&new, holder));
        }
        if let Some(member) = self.members.get_mut(&id) {
            self.by_name.remove(&protocol::lookalike_key(&member.nick));
            self.by_name.insert(protocol::lookalike_key(&new), id);
            member.nick = new.clone();
        }
        vec![
            Action::To(id, line(protocol::notice(&format!("you are now {new}")))),
            Action::All {
                except: Some(id),
                line: line(protocol::notice(&format!("{old} is now {new}"))),
            },
            Action::Log(Log::Status(format!("{old} is now {new}"))),
        ]
    }
    // ANCHOR_END: rename

    fn quit(&mut self, id: ClientId, reason: Option<&[u8]>) -> Vec<Action> {
        let why = match reason {
            Some(reason) => format!("left ({})", protocol::reason_text(reason)),
            None => "left".to_string(),
        };
        let goodbye = Action::To(id, line(protocol::goodbye("see you")));
        let mut actions = vec![goodbye];
        actions.extend(self.remove(id, &why, false));
        actions
    }

    /// Takes a member out and tells the others: `*** alice WHY (N in the room)`.
    fn remove(&mut self, id: ClientId, why: &str, notice: bool) -> Vec<Action> {
        let Some(member) = self.members.remove(&id) else {
            return Vec::new();
        };
        self.by_name.remove(&protocol::lookalike_key(&member.nick));
        let count = self.members.len();
        let text = format!("{} {why} ({count} in the room)", member.nick);
        let log = if notice {
            Log::Notice(text.clone())
        } else {
            Log::Status(format!("{text}, from {}", member.peer))
        };
        let mut actions = vec![Action::Disconnect(id)];
        // The same rule as for a join: the room had `count + 1` members with this one.
        if count < ANNOUNCE_UP_TO {
            actions.push(Action::All {
                except: None,
                line: line(protocol::notice(&text)),
            });
        }
        actions.push(Action::Log(log));
        actions
    }

    /// A member's connection ended or it stopped reading.
    pub fn leave(&mut self, id: ClientId, why: Leave) -> Vec<Action> {
        match why {
            Leave::Gone(Gone::Closed) => self.remove(id, "left", false),
            Leave::Gone(Gone::Lost(error)) => {
                self.remove(id, &format!("lost the connection ({error})"), false)
            }
            Leave::TooSlow => self.remove(id, protocol::TOO_SLOW, true),
        }
    }

    /// A line longer than `--max-line`: refused, the connection lives on.
    pub fn too_long(&self, id: ClientId, limit: usize) -> Vec<Action> {
        if !self.members.contains_key(&id) {
            return Vec::new();
        }
        vec![Action::To(id, line(protocol::line_too_long(limit)))]
    }

    /// The operator typed something.
    // ANCHOR: host
    pub fn host(&mut self, command: HostCommand) -> Vec<Action> {
        let status = |text: String| vec![Action::Log(Log::Status(text))];
        match command {
            HostCommand::Say(text) => {
                let shared = line(protocol::said(protocol::HOST_NICK, &text));
                vec![
                    Action::All {
                        except: None,
                        line: Arc::clone(&shared),
                    },
                    Action::Log(Log::Message(shared)),
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
            HostCommand::Kick { nick, reason } => self.kick(&nick, reason.as_deref()),
            HostCommand::Help => protocol::HOST_HELP
                .iter()
                .map(|text| Action::Log(Log::Status(text.to_string())))
                .collect(),
            HostCommand::Usage(text) => status(text),
            HostCommand::Nothing | HostCommand::Close => Vec::new(),
        }
    }
    // ANCHOR_END: host

    fn kick(&mut self, nick: &[u8], reason: Option<&[u8]>) -> Vec<Action> {
        let target = std::str::from_utf8(nick).ok().and_then(|n| self.find(n));
        let Some(id) = target else {
            return vec![Action::Log(Log::Status(protocol::nobody_called(nick)))];
        };
        let (goodbye, why) = protocol::kicked(reason);
        let mut actions = vec![Action::To(id, line(goodbye))];
        actions.extend(self.remove(id, &why, true));
        actions
    }

    /// The room is closing: a goodbye to everyone, and every connection closed.
    pub fn close(&mut self) -> Vec<Action> {
        // One line to each member by name: after this call the room is empty, and `All` means
        // the members at the time the actions are carried out.
        let goodbye = line(protocol::goodbye("the host closed the room"));
        let mut actions: Vec<Action> = self
            .members
            .keys()
            .map(|&id| Action::To(id, Arc::clone(&goodbye)))
            .collect();
        actions.extend(self.members.keys().map(|&id| Action::Disconnect(id)));
        self.members.clear();
        self.by_name.clear();
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:4000".parse().unwrap()
    }

    fn lines_to(actions: &[Action], who: ClientId) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::To(id, line) if *id == who => Some(line.to_string()),
                Action::All { except, line } if *except != Some(who) => Some(line.to_string()),
                _ => None,
            })
            .collect()
    }

    fn room_of(names: &[&str]) -> Room {
        let mut room = Room::new();
        for (i, name) in names.iter().enumerate() {
            let id = i as ClientId + 1;
            room.join(id, addr());
            room.said(id, format!("/nick {name}").as_bytes());
        }
        room
    }

    #[test]
    fn newcomers_get_unique_guest_names_and_a_welcome() {
        let mut room = Room::new();
        let first = room.join(1, addr());
        assert!(lines_to(&first, 1)[0].contains("you are guest-1"));
        room.said(1, b"/nick guest-2");
        room.join(2, addr());
        assert_eq!(room.nick(2), Some("guest-3"));
    }

    #[test]
    fn the_greeting_follows_the_welcome_for_every_newcomer() {
        let mut room = Room::new();
        room.set_motd(&["Lab 3: sockets".to_string(), "be kind".to_string()]);
        for id in 1..=2 {
            let lines = lines_to(&room.join(id, addr()), id);
            assert!(lines[0].contains("welcome!"), "{lines:?}");
            assert_eq!(lines[2..4], ["*** Lab 3: sockets", "*** be kind"]);
        }
    }

    #[test]
    fn join_is_announced_to_the_others_only() {
        let mut room = room_of(&["alice"]);
        let actions = room.join(2, addr());
        assert!(matches!(
            &actions[2],
            Action::All { except: Some(2), line } if line.contains("guest-2 joined (2 in the room)")
        ));
    }

    #[test]
    fn a_big_room_does_not_announce_every_join_or_leave() {
        let mut room = Room::new();
        for id in 1..=ANNOUNCE_UP_TO as ClientId {
            room.join(id, addr());
        }
        let newcomer = ANNOUNCE_UP_TO as ClientId + 1;
        let actions = room.join(newcomer, addr());
        assert!(!actions.iter().any(|a| matches!(a, Action::All { .. })));
        let welcome = &lines_to(&actions, newcomer)[0];
        assert!(welcome.contains(&format!("{} in the room", ANNOUNCE_UP_TO + 1)));
        assert!(
            !welcome.contains("guest-1,"),
            "no list of 100 names: {welcome}"
        );
        let gone = room.leave(newcomer, Leave::Gone(Gone::Closed));
        assert!(!gone.iter().any(|a| matches!(a, Action::All { .. })));
        // Back at the limit, leaving is announced again.
        let gone = room.leave(1, Leave::Gone(Gone::Closed));
        assert!(gone.iter().any(|a| matches!(a, Action::All { .. })));
    }

    #[test]
    fn names_are_found_by_how_they_look_after_renames_and_leaves() {
        let mut room = room_of(&["alice", "bob"]);
        assert_eq!(room.find("AIice"), Some(1));
        room.said(1, b"/nick carol");
        assert_eq!(room.find("alice"), None);
        assert_eq!(room.find("caro1"), Some(1));
        room.leave(2, Leave::Gone(Gone::Closed));
        assert_eq!(room.find("b0b"), None);
    }

    #[test]
    fn a_message_goes_to_everyone_but_the_sender_with_its_name() {
        let mut room = room_of(&["alice", "bob"]);
        let actions = room.said(1, b"hello");
        assert_eq!(
            actions[0],
            Action::All {
                except: Some(1),
                line: Arc::from("[alice] hello")
            }
        );
        assert!(lines_to(&actions, 1).is_empty());
    }

    #[test]
    fn a_taken_name_is_refused_whatever_its_case() {
        let mut room = room_of(&["alice", "bob"]);
        let actions = room.said(2, b"/nick ALICE");
        assert_eq!(
            lines_to(&actions, 2),
            vec!["*** name refused: ALICE is taken; you are still bob"]
        );
        assert!(lines_to(&actions, 1).is_empty());
        assert_eq!(room.nick(2), Some("bob"));
    }

    #[test]
    fn a_lookalike_name_is_refused_with_the_reason() {
        let mut room = room_of(&["alice", "bob"]);
        let actions = room.said(2, b"/nick a1ice");
        assert_eq!(
            lines_to(&actions, 2),
            vec![
                "*** name refused: a1ice looks too much like alice, who is here; you are still bob"
            ]
        );
    }

    #[test]
    fn a_rename_is_confirmed_and_announced() {
        let mut room = room_of(&["alice", "bob"]);
        let actions = room.said(2, b"/nick bobby");
        assert_eq!(lines_to(&actions, 2), vec!["*** you are now bobby"]);
        assert_eq!(lines_to(&actions, 1), vec!["*** bob is now bobby"]);
    }

    #[test]
    fn a_private_message_reaches_only_its_target() {
        let mut room = room_of(&["alice", "bob", "carol"]);
        let actions = room.said(1, b"/msg Bob psst");
        assert_eq!(lines_to(&actions, 2), vec!["[alice -> you] psst"]);
        assert!(lines_to(&actions, 3).is_empty());
        assert!(lines_to(&actions, 1).is_empty());
        let missing = room.said(1, b"/msg dave hi");
        assert!(lines_to(&missing, 1)[0].contains("nobody called dave"));
    }

    #[test]
    fn quit_says_goodbye_and_tells_the_others() {
        let mut room = room_of(&["alice", "bob"]);
        let actions = room.said(2, b"/quit lunch");
        assert_eq!(lines_to(&actions, 2)[0], "*** goodbye: see you");
        assert!(actions.contains(&Action::Disconnect(2)));
        assert_eq!(
            lines_to(&actions, 1),
            vec!["*** bob left (lunch) (1 in the room)"]
        );
        assert!(room.said(2, b"still here?").is_empty());
    }

    #[test]
    fn kick_disconnects_with_a_reason() {
        let mut room = room_of(&["alice", "bob"]);
        let actions = room.host(HostCommand::Kick {
            nick: b"bob".to_vec(),
            reason: Some(b"spam".to_vec()),
        });
        assert_eq!(
            lines_to(&actions, 2)[0],
            "*** goodbye: you were kicked by the host (spam)"
        );
        assert!(actions.contains(&Action::Disconnect(2)));
        assert!(lines_to(&actions, 1)[0].contains("bob was kicked by the host (spam)"));
        assert_eq!(room.len(), 1);
    }

    #[test]
    fn a_slow_consumer_is_removed_with_a_notice() {
        let mut room = room_of(&["alice", "bob"]);
        let actions = room.leave(2, Leave::TooSlow);
        assert!(lines_to(&actions, 1)[0].contains("bob was disconnected: too slow"));
        assert!(room.leave(2, Leave::TooSlow).is_empty(), "only once");
    }

    #[test]
    fn the_host_speaks_as_host_to_everyone() {
        let mut room = room_of(&["alice"]);
        let actions = room.host(HostCommand::Say(b"hi class".to_vec()));
        assert_eq!(lines_to(&actions, 1), vec!["[host] hi class"]);
    }

    #[test]
    fn close_says_goodbye_to_all() {
        let mut room = room_of(&["alice", "bob"]);
        let actions = room.close();
        assert!(lines_to(&actions, 1)[0].starts_with("*** goodbye:"));
        assert!(lines_to(&actions, 2)[0].starts_with("*** goodbye:"));
        assert!(
            actions.contains(&Action::Disconnect(1)) && actions.contains(&Action::Disconnect(2))
        );
        assert!(room.is_empty());
    }
}
