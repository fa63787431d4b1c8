//! The hub: the one thread that owns the room.
//!
//! Every other thread *tells* the hub what happened, through one channel of [`Event`]s: the
//! accept thread says "someone connected", each reader says "this client sent a line" or "this
//! client is gone", the console says "the host typed something". The hub alone holds the member
//! list and the nicknames, so no `Mutex` is needed and no two threads can disagree about who is
//! called what: two clients asking for `alice` at the same moment are simply two events, handled
//! one after the other.
//!
//! The hub is split in two, so the rules can be tested without any socket:
//! - [`Room`] is pure logic: given an event, it returns a list of [`Action`]s ("send this line to
//!   everyone but 3", "disconnect 5", "log this").
//! - [`run`] is the thread: it receives events, asks the `Room`, and carries the actions out by
//!   offering each line to the recipients' bounded queues, never waiting on any of them.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::protocol::{self, Command, HostCommand};
use super::transcript::{Recorded, Transcript};

/// Every client gets a number when it connects; numbers are never reused.
pub type ClientId = u64;

/// One line to send, formatted once and shared: a message for thirty students is formatted and
/// stored once, and each queue holds only a pointer to it (an `Arc`), not a copy.
pub type Line = Arc<str>;

/// What the other threads tell the hub.
pub enum Event {
    /// The accept thread took a new connection. `queue` feeds its writer thread; `stream` is a
    /// handle on its socket, kept only to shut it down (kick, slow consumer).
    Joined {
        id: ClientId,
        peer: SocketAddr,
        queue: QueueSender,
        stream: Arc<TcpStream>,
    },
    /// A reader got one line from its client.
    Said { id: ClientId, line: Vec<u8> },
    /// A reader got a line longer than `--max-line` (it was dropped).
    TooLong { id: ClientId, limit: usize },
    /// A reader ended: the client closed (EOF), or the connection broke.
    Gone { id: ClientId, why: Gone },
    /// The operator typed something at the server's console.
    Host(HostCommand),
    /// Something went wrong outside any client (e.g. `accept` failed): log it.
    Trouble(String),
    /// Close the room: say goodbye to everyone and end the hub.
    Close,
}

/// Why a reader ended.
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
    /// Offer the line to every member, except `except` (the sender: nobody gets an echo).
    All {
        except: Option<ClientId>,
        line: Line,
    },
    /// Stop sending to this client: its queue is dropped, so its writer sends what is already
    /// queued (the goodbye) and then closes the connection.
    Disconnect(ClientId),
    /// Show something at the server's console.
    Log(Log),
}

/// Why a member leaves, as the room is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leave {
    /// The connection closed or broke without `/quit`.
    Gone(Gone),
    /// Its queue was full: it stopped reading. See `CLIENT_QUEUE` in server.rs.
    TooSlow,
}

struct Member {
    nick: String,
    peer: SocketAddr,
}

/// The room's state and rules, without any I/O.
pub struct Room {
    /// By id, i.e. in the order they joined. Only the hub thread touches it.
    members: BTreeMap<ClientId, Member>,
    /// Who holds each name, by its lookalike key (protocol.rs): finding a name is one lookup,
    /// not a comparison with every member, which for a school of 10,000 joining one by one
    /// would be 50 million comparisons.
    by_name: HashMap<String, ClientId>,
    /// The number in the next `guest-N` name.
    next_guest: u64,
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
        }
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
            Command::Unknown(word) => reply(format!(
                "unknown command /{word}; /help lists the commands, //{word} says it"
            )),
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
                line(protocol::notice(&format!(
                    "nobody called {} is here; /who lists the room",
                    crate::console::escape_peer_text(to)
                ))),
            )],
        }
    }

    // ANCHOR: rename
    fn rename(&mut self, id: ClientId, old: &str, requested: &[u8]) -> Vec<Action> {
        let refuse = |why: String| {
            vec![Action::To(
                id,
                line(protocol::notice(&format!(
                    "name refused: {why}; you are still {old}"
                ))),
            )]
        };
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
            return refuse(if holder.eq_ignore_ascii_case(&new) {
                format!("{new} is taken")
            } else {
                format!("{new} looks too much like {holder}, who is here")
            });
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
            Leave::TooSlow => self.remove(
                id,
                "was disconnected: too slow to read the room's messages",
                true,
            ),
        }
    }

    /// A line longer than `--max-line`: refused, the connection lives on.
    pub fn too_long(&self, id: ClientId, limit: usize) -> Vec<Action> {
        if !self.members.contains_key(&id) {
            return Vec::new();
        }
        vec![Action::To(
            id,
            line(protocol::notice(&format!(
                "your line was longer than {limit} bytes and was not sent"
            ))),
        )]
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
            return vec![Action::Log(Log::Status(format!(
                "nobody called {} is here; /who lists the room",
                crate::console::escape_peer_text(nick)
            )))];
        };
        let why = match reason {
            Some(reason) => format!("was kicked by the host ({})", protocol::reason_text(reason)),
            None => "was kicked by the host".to_string(),
        };
        let goodbye = match reason {
            Some(reason) => format!(
                "you were kicked by the host ({})",
                protocol::reason_text(reason)
            ),
            None => "you were kicked by the host".to_string(),
        };
        let mut actions = vec![Action::To(id, line(protocol::goodbye(&goodbye)))];
        actions.extend(self.remove(id, &why, true));
        actions
    }

    /// The room is closing: a goodbye to everyone, and every connection closed.
    pub fn close(&mut self) -> Vec<Action> {
        let mut actions = vec![Action::All {
            except: None,
            line: line(protocol::goodbye("the host closed the room")),
        }];
        actions.extend(self.members.keys().map(|&id| Action::Disconnect(id)));
        self.members.clear();
        self.by_name.clear();
        actions
    }
}

/// How many console lines may wait for the operator's terminal. If the terminal cannot keep up
/// (a flood, or output paused with Ctrl-S), further lines are counted and skipped rather than
/// letting the hub, and so the whole room, wait for a screen; the operator then reads
/// `netchat: N console lines were skipped: the terminal could not keep up`.
pub const LOG_QUEUE: usize = 256;

/// A client's queue of lines to send, bounded by what its waiting lines cost in bytes.
///
/// Not a `bounded` channel: that allocates all its slots up front, and a queue deep enough for
/// a burst (see `CLIENT_QUEUE` in server.rs) would cost hundreds of KiB for every silent client
/// of a 10,000-seat room. An unbounded channel grows in small blocks as lines wait and gives them
/// back as they are written; a count of the waiting bytes keeps the bound. Bytes, not lines: a
/// bound of N lines would let one slow client hold N × `--max-line` bytes.
// ANCHOR: client_queue
pub fn client_queue(capacity: usize) -> (QueueSender, QueueReceiver) {
    let (lines, receiver) = crossbeam_channel::unbounded();
    let waiting = Arc::new(AtomicUsize::new(0));
    let sender = QueueSender {
        lines,
        waiting: Arc::clone(&waiting),
        capacity,
    };
    (
        sender,
        QueueReceiver {
            lines: receiver,
            waiting,
        },
    )
}

/// What one waiting line costs its queue: its text, its newline, and the queue's bookkeeping
/// (a pointer to the shared line and its slot), so that a flood of tiny lines is bounded too.
fn cost(line: &Line) -> usize {
    line.len() + 1 + 32
}

/// The hub's end of a client queue.
pub struct QueueSender {
    lines: Sender<Line>,
    waiting: Arc<AtomicUsize>,
    capacity: usize,
}

impl QueueSender {
    /// Queues a line unless the waiting lines would cost more than `capacity` bytes (`Full`), or
    /// the writer is gone (`Disconnected`).
    pub fn try_send(&self, line: Line) -> Result<(), TrySendError<Line>> {
        let cost = cost(&line);
        if self.waiting.fetch_add(cost, Ordering::Relaxed) + cost > self.capacity {
            self.waiting.fetch_sub(cost, Ordering::Relaxed);
            return Err(TrySendError::Full(line));
        }
        self.lines.send(line).map_err(|error| {
            self.waiting.fetch_sub(cost, Ordering::Relaxed);
            TrySendError::Disconnected(error.0)
        })
    }
}

/// The writer's end of a client queue.
pub struct QueueReceiver {
    lines: Receiver<Line>,
    waiting: Arc<AtomicUsize>,
}

impl QueueReceiver {
    /// Waits for the next line; `None` once the hub dropped its end and the queue is empty.
    pub fn recv(&self) -> Option<Line> {
        let line = self.lines.recv().ok()?;
        self.waiting.fetch_sub(cost(&line), Ordering::Relaxed);
        Some(line)
    }

    /// The next line if one is waiting, without waiting.
    pub fn try_recv(&self) -> Option<Line> {
        let line = self.lines.try_recv().ok()?;
        self.waiting.fetch_sub(cost(&line), Ordering::Relaxed);
        Some(line)
    }
}
// ANCHOR_END: client_queue

/// A client's end of the wiring, as the hub holds it.
struct Wire {
    queue: QueueSender,
    stream: Arc<TcpStream>,
}

/// The hub thread's body: receives events until told to close (or until every sender is gone),
/// and carries out what the [`Room`] decides.
// ANCHOR: hub_loop
pub fn run(events: Receiver<Event>, log: Sender<Log>, transcript: Option<Transcript>) {
    let mut hub = Hub {
        room: Room::new(),
        wires: BTreeMap::new(),
        recipients: Vec::new(),
        log,
        skipped_logs: 0,
        transcript,
    };
    // `recv` fails only when every sender (accept thread, readers, console) is gone.
    while let Ok(event) = events.recv() {
        let actions = match event {
            Event::Joined {
                id,
                peer,
                queue,
                stream,
            } => {
                hub.wires.insert(id, Wire { queue, stream });
                hub.room.join(id, peer)
            }
            Event::Said { id, line } => hub.room.said(id, &line),
            Event::TooLong { id, limit } => hub.room.too_long(id, limit),
            Event::Gone { id, why } => {
                hub.wires.remove(&id);
                hub.room.leave(id, Leave::Gone(why))
            }
            Event::Host(command) => hub.room.host(command),
            Event::Trouble(text) => vec![Action::Log(Log::Notice(text))],
            Event::Close => {
                let actions = hub.room.close();
                hub.apply(actions);
                break;
            }
        };
        hub.apply(actions);
    }
    // Dropping `hub` drops every remaining queue sender: each writer finishes what is queued
    // (the goodbye) and closes its connection.
}
// ANCHOR_END: hub_loop

struct Hub {
    room: Room,
    wires: BTreeMap<ClientId, Wire>,
    /// Scratch list of a broadcast's recipients, reused from one message to the next.
    recipients: Vec<ClientId>,
    log: Sender<Log>,
    skipped_logs: u64,
    /// `--log FILE`: every console entry, written in full even when the terminal skips some.
    transcript: Option<Transcript>,
}

impl Hub {
    /// Carries out actions in order. A full queue found while offering a line adds the slow
    /// client's removal to the same work list, so its leave notice follows right after.
    // ANCHOR: fan_out
    fn apply(&mut self, actions: Vec<Action>) {
        let mut work: VecDeque<Action> = actions.into();
        while let Some(action) = work.pop_front() {
            match action {
                Action::To(id, line) => {
                    if let Some(slow) = self.offer(id, line) {
                        work.extend(self.room.leave(slow, Leave::TooSlow));
                    }
                }
                Action::All { except, line } => {
                    // The recipients are listed first (offering may remove a slow one from
                    // `wires`), into a list kept between messages: no allocation per message.
                    let mut ids = std::mem::take(&mut self.recipients);
                    ids.clear();
                    ids.extend(self.wires.keys().copied().filter(|&id| Some(id) != except));
                    for &id in &ids {
                        if let Some(slow) = self.offer(id, Arc::clone(&line)) {
                            work.extend(self.room.leave(slow, Leave::TooSlow));
                        }
                    }
                    self.recipients = ids;
                }
                Action::Disconnect(id) => {
                    self.wires.remove(&id);
                }
                Action::Log(entry) => self.show(entry),
            }
        }
    }
    // ANCHOR_END: fan_out

    /// Puts a line in a client's queue without ever waiting. Returns the client's id if its queue
    /// was full: it has stopped reading.
    // ANCHOR: offer
    fn offer(&mut self, id: ClientId, line: Line) -> Option<ClientId> {
        let wire = self.wires.get(&id)?;
        match wire.queue.try_send(line) {
            Ok(()) => None,
            Err(TrySendError::Full(_)) => {
                // Its writer is stuck in `write` because the client's receive window is shut.
                // shutdown() wakes that blocked write (it fails with EPIPE) and the reader (EOF),
                // so both threads end; we drop the queue and the room moves on without waiting.
                let _ = wire.stream.shutdown(Shutdown::Both);
                self.wires.remove(&id);
                Some(id)
            }
            // The writer ended (its write failed): the reader will report the client gone.
            Err(TrySendError::Disconnected(_)) => {
                self.wires.remove(&id);
                None
            }
        }
    }
    // ANCHOR_END: offer

    /// Hands a line to the console thread, never waiting for the terminal.
    fn show(&mut self, entry: Log) {
        if let Some(transcript) = &mut self.transcript {
            if let Recorded::Failed(why) = transcript.record(&entry) {
                let _ = self.log.try_send(Log::Notice(why));
            }
        }
        if self.skipped_logs > 0 {
            let note = Log::Notice(format!(
                "{} console lines were skipped: the terminal could not keep up",
                self.skipped_logs
            ));
            if self.log.try_send(note).is_ok() {
                self.skipped_logs = 0;
            }
        }
        if self.log.try_send(entry).is_err() {
            self.skipped_logs += 1;
        }
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

    /// A loopback connection, for a `Wire` whose socket the hub may shut down.
    fn socket() -> Arc<TcpStream> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _server_side = listener.accept().unwrap();
        Arc::new(client)
    }

    #[test]
    fn the_hub_disconnects_a_full_queue_and_never_waits_for_it() {
        let (log, _logs) = crossbeam_channel::unbounded();
        let mut hub = Hub {
            room: room_of(&["alice", "slow"]),
            wires: BTreeMap::new(),
            recipients: Vec::new(),
            log,
            skipped_logs: 0,
            transcript: None,
        };
        let (alice_queue, alice_lines) = client_queue(1000);
        // Room for exactly one line: the one already waiting.
        let (slow_queue, _slow_lines) = client_queue(cost(&Arc::from("already waiting")));
        slow_queue.try_send(Arc::from("already waiting")).unwrap();
        let slow_socket = socket();
        for (id, queue, stream) in [(1, alice_queue, socket()), (2, slow_queue, slow_socket)] {
            hub.wires.insert(id, Wire { queue, stream });
        }
        let actions = hub.room.host(HostCommand::Say(b"hi".to_vec()));
        hub.apply(actions);
        let alice_got: Vec<String> = std::iter::from_fn(|| alice_lines.try_recv())
            .map(|l| l.to_string())
            .collect();
        assert_eq!(
            alice_got,
            vec![
                "[host] hi",
                "*** slow was disconnected: too slow to read the room's messages (1 in the room)"
            ]
        );
        assert!(!hub.wires.contains_key(&2));
        assert_eq!(hub.room.nick(2), None);
    }

    #[test]
    fn close_says_goodbye_to_all() {
        let mut room = room_of(&["alice", "bob"]);
        let actions = room.close();
        assert!(lines_to(&actions, 1)[0].starts_with("*** goodbye:"));
        assert!(
            actions.contains(&Action::Disconnect(1)) && actions.contains(&Action::Disconnect(2))
        );
        assert!(room.is_empty());
    }
}
