//! The room's rules: who is in the room, what they are called, and what each line they send
//! makes happen (membership and routing). Pure logic, no sockets, no threads, no clock of its
//! own. A member over its rate limit is paced by its `Flow` (flow.rs); the host's commands are
//! rules/host.rs; the arithmetic of the limits and who may come in is limits.rs.
//!
//! Membership and routing stay one file (a little past 700 lines before its tests) because they
//! are one idea: where a line goes depends on who is in and what they are called, and joining,
//! renaming and leaving are themselves routed (welcome, notices, goodbyes) by the same rules.
//!
//! Both room engines drive this one [`Room`]: the threads engine (hub.rs, server.rs) from its hub
//! thread, the poll engine (poll.rs) from its event loop. An engine tells the room what happened
//! ("client 3 joined", "client 3 said this line", "client 5 is gone") and gets back a list of
//! [`Action`]s ("send this line to everyone but 3", "disconnect 5", "log this"). Carrying the
//! actions out, including dropping a client that stopped reading, is engine.rs, shared too. So a
//! rule (a name check, a command, who hears a notice) exists once, and every rule is tested here
//! without a socket.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::access::{AccessList, Verdict};
use super::actions::{Action, ClientId, Gone, Leave, Line, LineKind, Log, Viewer};
pub use super::flow::Arrived;
use super::flow::{Charged, Flow, Held, Next};
pub use super::limits::Limits;
pub use super::limits::Refusal;
use super::limits::{self, Admission, BotConnections, RateLimit, Refusals, SharedOutput, Speaker};
use super::protocol::{self, Command};
use super::stats::{self, Row, Traffic};
use crate::endpoint;
use crate::observe::{Event, Observer};
use crate::text::{escape_peer_text, thousands};

mod host;

/// How a member came to leave, for the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Departure {
    /// It left (`/quit`, closed, or its connection broke).
    Left,
    /// The host kicked it.
    Kicked,
    /// The room dropped it: it stopped reading.
    Evicted,
}

struct Member {
    nick: String,
    peer: SocketAddr,
    /// One of the practice bots' own connections: it holds no seat of its address.
    bot: bool,
    /// Whether the others were told it joined: only once it stayed a moment (see
    /// [`limits::SHORT_STAY`]) or did something they see. A member never announced leaves
    /// without a notice too, so connect/close churn never reaches anyone's screen.
    announced: bool,
    /// Its rate limit, and what is held and dropped while it is over it (flow.rs).
    flow: Flow,
    /// When it joined, and what it has sent, for `/stats`.
    joined: Instant,
    received: Traffic,
    /// `/limit rate N NICK`: its own rate limit instead of the room's (a paste exercise).
    rate: Option<RateLimit>,
    /// `/mute NICK [MINUTES]`: its messages are not relayed.
    muted: Option<Mute>,
}

/// A member the host muted (`/mute`).
#[derive(Debug, Clone, Copy)]
struct Mute {
    /// Until when; `None`: until `/unmute`.
    until: Option<Instant>,
    /// Whether it was told, the first time it spoke while muted (once, not per line).
    told: bool,
}

impl Member {
    /// Whether it is muted at `now` (a timed mute that ran out is over).
    fn is_muted(&self, now: Instant) -> bool {
        self.muted
            .is_some_and(|mute| mute.until.is_none_or(|until| now < until))
    }
}

/// The room's state and rules, without any I/O.
pub struct Room {
    /// By id, i.e. in the order they joined. One owner (the hub thread, or the poll loop), so
    /// no lock.
    members: BTreeMap<ClientId, Member>,
    /// Who holds each name, by its lookalike key (protocol/names.rs): finding a name is one lookup,
    /// not a comparison with every member, which for a school of 10,000 joining one by one
    /// would be 50 million comparisons.
    by_name: HashMap<String, ClientId>,
    /// The number in the next `guest-N` name.
    next_guest: u64,
    /// `--motd`: the greeting every newcomer gets after the welcome, formatted once.
    motd: Vec<Line>,
    /// `--rate-limit`.
    rate: RateLimit,
    /// Who may come in, by address (limits.rs).
    door: Admission,
    /// The room's output, shared fairly among the speakers (limits.rs).
    output: SharedOutput,
    /// Newcomers whose join is not announced yet, oldest first, with when they joined.
    unannounced: VecDeque<(Instant, ClientId)>,
    /// Refused connections, counted for the console (limits.rs).
    refusals: Refusals,
    /// Members with held lines (see `Member::held`).
    holding: BTreeSet<ClientId>,
    /// `/topic TEXT`, escaped, as the notice everyone sees.
    topic: Option<Line>,
    /// Names the host banned (`/ban NICK` when others share its address), by lookalike key:
    /// the name it was banned as, and until when (`None`: until the room closes).
    banned_names: HashMap<String, (String, Option<Instant>)>,
    /// `--trace`/`--events`: whether to describe what happens as [`Action::Record`]s, and where
    /// the engines' shared [`Dispatch`](super::engine::Dispatch) writes them.
    observer: Observer,
}

/// Up to this many members, everyone is told when someone joins or leaves. Beyond it, only the
/// newcomer (its welcome says how many are here) and the operator's console hear about it.
///
/// Announcing every arrival to everyone costs n lines per join, so n²/2 for a room that fills
/// up: 435 lines for a class of 30, but 50 million for a school of 10,000, which would take the
/// server (and every student's screen) minutes to get through. Nobody reads a thousand "joined"
/// lines anyway; `/who` still lists the room.
pub const ANNOUNCE_UP_TO: usize = 100;

/// A connection beyond `--max-clients`: why it is turned away. The engine counts its seats (a
/// full room is decided where connections are accepted, before the room's owner hears of them:
/// in the threads engine that is the accept thread), and both engines turn a connection away by
/// this one rule, then tell the room ([`Room::refused`]) so the host sees it. `--allow` and
/// `--deny` are asked first: an outsider is told it is not admitted, not that the room is full.
// ANCHOR: room_full
pub fn room_full(max_clients: usize, access: &AccessList, peer: SocketAddr) -> Refusal {
    let ip = endpoint::unmapped(peer).ip();
    match access.decide(ip) {
        Verdict::Admit => Refusal::Full { max: max_clients },
        Verdict::Denied(network) => Refusal::Denied { ip, network },
        Verdict::NotAllowed => Refusal::NotAllowed { ip },
    }
}
// ANCHOR_END: room_full

/// The one line a refused connection gets before it is closed.
pub fn refusal_line(refusal: &Refusal) -> Line {
    line(protocol::refusal(&refusal.to_string()))
}

fn line(text: String) -> Line {
    Arc::from(text)
}

/// A line that carries what a member chose (a message, a `/me`, a private line, a reason in a
/// leave notice), cut for an 80-column screen if it is wider (`protocol::wire_rows`), so that
/// no member's text can start a row of an `nc` reader's screen. The server's own lines (answers,
/// refusals, goodbyes) are its own words and go out whole.
fn member_line(text: String) -> Line {
    match protocol::wire_rows(&text) {
        Cow::Borrowed(_) => Arc::from(text),
        Cow::Owned(rows) => Arc::from(rows),
    }
}

/// [`member_line`] for a line also shown at the console, which cuts it for its own screen: the
/// clients' line shares it when it fits.
fn wire_line(shown: &Line) -> Line {
    match protocol::wire_rows(shown) {
        Cow::Borrowed(_) => Arc::clone(shown),
        Cow::Owned(rows) => Arc::from(rows),
    }
}

/// The bytes a member's line makes the room send (a message once, however many hear it; an
/// answer; its notices): what its rate limit counts.
fn relayed_bytes(caused: &[Action]) -> usize {
    caused
        .iter()
        .map(|action| match action {
            Action::To(_, line) | Action::All { line, .. } => line.len() + 1,
            _ => 0,
        })
        .sum()
}

impl Default for Room {
    fn default() -> Self {
        Room::new(Limits::default())
    }
}

impl Room {
    pub fn new(limits: Limits) -> Room {
        Room {
            members: BTreeMap::new(),
            by_name: HashMap::new(),
            next_guest: 1,
            motd: Vec::new(),
            rate: limits.rate,
            door: Admission::new(limits.max_per_address),
            output: SharedOutput::default(),
            unannounced: VecDeque::new(),
            refusals: Refusals::default(),
            holding: BTreeSet::new(),
            topic: None,
            banned_names: HashMap::new(),
            observer: Observer::off(),
        }
    }

    /// A room whose events go to `observer` (`--events`). Every engine builds its room this way,
    /// so both engines log the same events.
    pub fn observed(mut self, observer: Observer) -> Room {
        self.observer = observer;
        self
    }

    /// Where [`Action::Record`]s go.
    pub fn observer(&self) -> &Observer {
        &self.observer
    }

    /// Adds `event()` to `actions` if someone watches: when nobody does, nothing is built.
    fn record(&self, actions: &mut Vec<Action>, event: impl FnOnce() -> Event) {
        if self.observer.is_on() {
            actions.push(Action::Record(event()));
        }
    }

    /// Sets `--allow` and `--deny`: decided at the door with the other per-address rules.
    pub fn set_access(&mut self, access: AccessList) {
        self.door.set_access(access);
    }

    /// The room's seats (`--max-clients`), of which one address may take a share (limits.rs).
    pub fn set_capacity(&mut self, seats: usize) {
        self.door.set_capacity(seats);
    }

    /// `--allow` and `--deny`.
    pub fn access(&self) -> &AccessList {
        self.door.access()
    }

    /// The practice bots' own connections (`--bots`): not held to the per-address limits.
    pub fn exempt_bots(&mut self, bots: BotConnections) {
        self.door.exempt(bots);
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
    pub fn join(&mut self, id: ClientId, peer: SocketAddr, now: Instant) -> Vec<Action> {
        // An IPv4 client of a dual-stack listener is `a.b.c.d` everywhere: the console, `/who`,
        // `/ban`, the events log.
        let peer = endpoint::unmapped(peer);
        let admitted = self.door.admit_peer(peer, now);
        if let Err(refusal) = admitted {
            let mut actions = vec![
                Action::To(id, refusal_line(&refusal)),
                Action::Disconnect(id),
            ];
            actions.extend(self.refused(peer, &refusal, now));
            return actions;
        }
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
                bot: admitted == Ok(true),
                announced: false,
                flow: Flow::new(now),
                joined: now,
                received: Traffic::default(),
                rate: None,
                muted: None,
            },
        );
        // Recorded first: `--trace` then names the member in the line that shows its welcome
        // written (the threads engine's writer may write it before the next action is seen).
        let mut actions = Vec::new();
        self.record(&mut actions, || Event::Joined {
            client: id,
            nick: nick.clone(),
            peer: peer.to_string(),
        });
        actions.push(Action::To(id, line(protocol::notice(&welcome))));
        actions.push(Action::To(
            id,
            line(protocol::notice(
                "/nick NAME to pick a name, /help for the commands",
            )),
        ));
        actions.extend(
            self.motd
                .iter()
                .chain(&self.topic)
                .map(|text| Action::To(id, Arc::clone(text))),
        );
        // Told to the others only once it stayed a moment (`tick`), or acted first.
        if count <= ANNOUNCE_UP_TO {
            self.unannounced.push_back((now, id));
        }
        actions.push(Action::Log(Log::Status(format!(
            "{nick} joined from {peer} ({count} in the room)"
        ))));
        actions
    }
    // ANCHOR_END: join

    /// A connection was turned away, here or by the engine (a full room): counted for the
    /// console (at most a line a second, [`Refusals`]), which the transcript keeps, and recorded
    /// for the events log.
    pub fn refused(&mut self, peer: SocketAddr, refusal: &Refusal, now: Instant) -> Vec<Action> {
        let peer = endpoint::unmapped(peer);
        let mut actions: Vec<Action> = self
            .refusals
            .count(peer.ip(), refusal, now)
            .map(|text| Action::Log(Log::Notice(text)))
            .into_iter()
            .collect();
        self.record(&mut actions, || Event::Refused {
            peer: peer.to_string(),
            why: refusal.to_string(),
        });
        actions
    }

    /// Time passed: announces the newcomers that stayed [`limits::SHORT_STAY`], and takes the
    /// held lines of members whose pause is over. An engine calls it at [`Room::next_deadline`]
    /// (and may call it any time).
    pub fn tick(&mut self, now: Instant) -> Vec<Action> {
        let mut actions: Vec<Action> = self
            .refusals
            .due(now)
            .map(|text| Action::Log(Log::Notice(text)))
            .into_iter()
            .collect();
        // Timed name bans that ran out (timed address bans run out at the door).
        self.banned_names
            .retain(|_, (_, until)| until.is_none_or(|until| now < until));
        while let Some(&(joined, id)) = self.unannounced.front() {
            if now.saturating_duration_since(joined) < limits::SHORT_STAY {
                break;
            }
            self.unannounced.pop_front();
            actions.extend(self.announce(id));
        }
        let holding: Vec<ClientId> = self.holding.iter().copied().collect();
        for id in holding {
            actions.extend(self.release_held(id, now));
        }
        actions
    }

    /// When the room next has something to do on its own ([`Room::tick`]), if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        let announce = self
            .unannounced
            .front()
            .map(|&(joined, _)| joined + limits::SHORT_STAY);
        let resume = self
            .holding
            .iter()
            .filter_map(|id| self.members.get(id)?.flow.paused_until())
            .min();
        let refusals = self.refusals.deadline();
        announce.into_iter().chain(resume).chain(refusals).min()
    }

    /// Takes a member's held lines while its pause is over, until it is paused again.
    fn release_held(&mut self, id: ClientId, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        loop {
            let Some(member) = self.members.get_mut(&id) else {
                self.holding.remove(&id);
                return actions;
            };
            match member.flow.next_held(now) {
                Next::Paused => return actions,
                Next::Empty => {
                    self.holding.remove(&id);
                    actions.extend(self.tell_not_relayed(id));
                    return actions;
                }
                Next::Line(text) => actions.extend(self.take_line(id, &text, now)),
            }
        }
    }

    /// Once a member's held lines went out, everyone reads how much of what it sent was not
    /// relayed, if anything was: one line, however many were dropped.
    fn tell_not_relayed(&mut self, id: ClientId) -> Vec<Action> {
        let Some(member) = self.members.get_mut(&id) else {
            return Vec::new();
        };
        let Some(untold) = member.flow.untold_drops() else {
            return Vec::new();
        };
        let text = protocol::not_relayed(&member.nick, untold, limits::HELD_LINES);
        vec![Action::All {
            except: None,
            line: line(text),
        }]
    }

    /// Tells the others that this member joined, unless they were told already (or the room is
    /// too big for join notices).
    fn announce(&mut self, id: ClientId) -> Option<Action> {
        let count = self.members.len();
        let member = self.members.get_mut(&id)?;
        if member.announced {
            return None;
        }
        member.announced = true;
        (count <= ANNOUNCE_UP_TO).then(|| Action::All {
            except: Some(id),
            line: line(protocol::notice(&format!(
                "{} joined ({count} in the room)",
                member.nick
            ))),
        })
    }

    /// One line from a member: a message or a command.
    // ANCHOR: route
    pub fn said(&mut self, id: ClientId, text: &[u8], now: Instant) -> Vec<Action> {
        let Some(member) = self.members.get_mut(&id) else {
            return Vec::new(); // already removed (kicked, too slow): its last lines are ignored
        };
        member.received.count(text.len());
        member.flow.line_read(text.len(), self.rate, now);
        // Paused, or lines wait before this one: it waits its turn (see `Member::held`).
        if member.flow.must_wait(now) {
            return self.hold(id, text, now);
        }
        self.take_line(id, text, now)
    }

    /// A line read while its member is held back: kept for later if there is room, dropped
    /// and counted if not (flow.rs).
    fn hold(&mut self, id: ClientId, text: &[u8], now: Instant) -> Vec<Action> {
        let Some(member) = self.members.get_mut(&id) else {
            return Vec::new();
        };
        match member.flow.hold(id, &member.nick, text, now) {
            Held::Kept => {
                self.holding.insert(id);
                Vec::new()
            }
            Held::Dropped(actions) => actions,
        }
    }

    /// A member's line, its turn come: what it makes happen, charged to its rate limit.
    fn take_line(&mut self, id: ClientId, text: &[u8], now: Instant) -> Vec<Action> {
        let command = protocol::parse(text);
        let mut recorded = Vec::new();
        if matches!(
            command,
            Command::Who
                | Command::Stats
                | Command::Help
                | Command::Topic
                | Command::Usage(_)
                | Command::Unknown(_)
        ) {
            let nick = self.nick(id).unwrap_or_default().to_string();
            self.record(&mut recorded, || Event::Command {
                client: id,
                nick,
                line: escape_peer_text(text),
            });
        }
        if let Some(mut actions) = self.muted_line(id, &command, now) {
            actions.extend(self.charge(id, &actions, now));
            return actions;
        }
        if !recorded.is_empty() {
            // Recorded first, so the log has the command before what it made happen; not
            // charged (it sends nothing).
            let mut actions = recorded;
            let caused = self.obey(id, command);
            actions.extend(self.charge(id, &caused, now));
            actions.splice(1..1, caused);
            return actions;
        }
        // Whatever the others will see of this member, they first hear that it joined.
        let mut actions = match command {
            Command::Say(_) | Command::Me(_) | Command::Nick(_) => {
                self.announce(id).into_iter().collect()
            }
            _ => Vec::new(),
        };
        actions.extend(self.obey(id, command));
        actions.extend(self.charge(id, &actions, now));
        actions
    }

    /// A message of a muted member: not relayed; it is told once. `None` when the line goes on
    /// as usual (not muted, or not a message: `/who`, `/nick`, `/quit` still work).
    fn muted_line(&mut self, id: ClientId, command: &Command, now: Instant) -> Option<Vec<Action>> {
        if !matches!(
            command,
            Command::Say(_) | Command::Me(_) | Command::Msg { .. }
        ) {
            return None;
        }
        let member = self.members.get_mut(&id)?;
        if !member.is_muted(now) {
            member.muted = None;
            return None;
        }
        let mute = member.muted.as_mut()?;
        if mute.told {
            return Some(Vec::new());
        }
        mute.told = true;
        let until = match mute.until {
            Some(until) => format!(
                " for {} more",
                stats::duration(until.saturating_duration_since(now))
            ),
            None => String::new(),
        };
        Some(vec![Action::To(
            id,
            line(protocol::notice(&format!(
                "the host muted you{until}: your messages are not relayed (you still \
                 hear the room; /msg host TEXT reaches the host)"
            ))),
        )])
    }

    /// What a member's line makes happen.
    fn obey(&mut self, id: ClientId, command: Command<'_>) -> Vec<Action> {
        let Some(from) = self.nick(id).map(str::to_string) else {
            return Vec::new(); // already removed (kicked, too slow): its last lines are ignored
        };
        let reply = |text: String| vec![Action::To(id, line(protocol::notice(&text)))];
        match command {
            Command::Say(text) => {
                let said = protocol::said(&from, text);
                self.broadcast(id, &from, text, said, LineKind::Message)
            }
            Command::Me(text) => {
                let action = protocol::action(&from, text);
                self.broadcast(id, &from, text, action, LineKind::Action)
            }
            Command::Msg { to, text } if protocol::is_host(to) => {
                let said = line(protocol::private(&from, text));
                vec![
                    Action::Log(Log::Message(said, LineKind::Private)),
                    Action::To(id, line(protocol::notice("sent to the host"))),
                ]
            }
            Command::Msg { to, text } => self.whisper(id, &from, to, text),
            Command::Topic => reply(match &self.topic {
                Some(topic) => topic
                    .trim_start_matches(protocol::NOTICE_PREFIX)
                    .to_string(),
                None => "the host has set no topic".to_string(),
            }),
            Command::Nick(name) => self.rename(id, &from, name),
            Command::Who => vec![Action::To(id, line(protocol::who(&self.names())))],
            Command::Stats => vec![Action::Stats(Viewer::Member(id))],
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

    /// A line for everyone but the sender, and for the operator's screen. `said` is what the
    /// member typed, for the event log.
    fn broadcast(
        &self,
        sender: ClientId,
        from: &str,
        said: &[u8],
        text: String,
        kind: LineKind,
    ) -> Vec<Action> {
        let shown: Line = Arc::from(text);
        let mut actions = vec![
            Action::All {
                except: Some(sender),
                line: wire_line(&shown),
            },
            Action::Log(Log::Message(shown, kind)),
        ];
        self.record(&mut actions, || Event::Message {
            client: sender,
            nick: from.to_string(),
            text: escape_peer_text(said),
        });
        actions
    }
    // ANCHOR_END: route

    /// Charges a member's line to its rate limit: one line, and every byte it makes the room
    /// send (a message once, however many hear it; an answer such as `/who`; its notices). Over
    /// the limit, the engine is told to stop reading it for a while (flow.rs); held back for a
    /// minute without a break, it is disconnected.
    fn charge(&mut self, id: ClientId, caused: &[Action], now: Instant) -> Vec<Action> {
        let observed = self.observer.is_on();
        let Some(member) = self.members.get_mut(&id) else {
            return Vec::new(); // it left with this line (/quit)
        };
        let rate = member.rate.unwrap_or(self.rate);
        let bytes = relayed_bytes(caused);
        let charged = member
            .flow
            .charge(id, &member.nick, rate, now, bytes, observed);
        let mut actions = self.carry_out(id, charged);
        actions.extend(self.share_room(id, caused, now));
        actions
    }

    /// Charges what a member's line makes the room relay to everyone to its speaker's share of
    /// the room's output (limits.rs, `SharedOutput`); over it, the member is not read until the
    /// share refills.
    fn share_room(&mut self, id: ClientId, caused: &[Action], now: Instant) -> Vec<Action> {
        let to_everyone: usize = caused
            .iter()
            .map(|action| match action {
                Action::All { line, .. } => line.len() + 1,
                _ => 0,
            })
            .sum();
        let speaker = self.speaker(id);
        let Some(member) = self.members.get_mut(&id) else {
            return Vec::new();
        };
        match self.output.charge(self.rate, speaker, to_everyone, now) {
            Some(until) => member.flow.hold_for_room(id, until),
            None => Vec::new(),
        }
    }

    /// How many speakers share the room's output now and each one's share (for `/stats`);
    /// `None` with limits off.
    pub fn output_shares(&self, now: Instant) -> Option<(usize, u32)> {
        (self.rate != RateLimit::Off).then(|| self.output.shares(now))
    }

    /// Who a member is when the room's output is shared: its address, unless seats are not
    /// limited for that address (`--max-per-address 0`, or a `--lab` network a class shares):
    /// then each member is a speaker of its own.
    fn speaker(&self, id: ClientId) -> Speaker {
        match self.members.get(&id) {
            Some(member) if self.door.limits_seats(member.peer.ip()) => {
                Speaker::Address(member.peer.ip())
            }
            _ => Speaker::Member(id),
        }
    }

    /// A read of member `id` ended (its lines were handed over first): the bytes it brought
    /// that made no line are charged to its byte allowance (flow.rs, `Flow::read`).
    pub fn read(&mut self, id: ClientId, read: Arrived, now: Instant) -> Vec<Action> {
        let (rate, observed) = (self.rate, self.observer.is_on());
        let Some(member) = self.members.get_mut(&id) else {
            return Vec::new();
        };
        let charged = member
            .flow
            .read(id, &member.nick, rate, read, now, observed);
        self.carry_out(id, charged)
    }

    /// What a charge decided, as actions: nothing, a pause, or the end of a flood.
    fn carry_out(&mut self, id: ClientId, charged: Charged) -> Vec<Action> {
        match charged {
            Charged::Go => Vec::new(),
            Charged::Paused(actions) => actions,
            Charged::Flooded => {
                let mut actions = vec![Action::To(
                    id,
                    line(protocol::goodbye(protocol::FLOODED_YOU)),
                )];
                actions.extend(self.remove(id, protocol::FLOODED, Departure::Evicted));
                actions
            }
        }
    }

    /// Whether the member is being held back by its rate limit now (for `/stats`).
    /// The rules' part of `/stats` for `viewer`: every member for the host, its own line for a
    /// member. The engine adds what it knows of each one's output.
    pub fn stats_rows(&self, viewer: Viewer, now: Instant) -> Vec<Row> {
        let row = |(&id, member): (&ClientId, &Member)| Row {
            id,
            nick: member.nick.clone(),
            peer: member.peer,
            connected: now.saturating_duration_since(member.joined),
            received: member.received,
            limited: member.flow.is_limited(now),
            held: member.flow.held(),
            dropped: member.flow.dropped(),
            muted: member.is_muted(now),
            output: None,
        };
        match viewer {
            Viewer::Host => self.members.iter().map(row).collect(),
            Viewer::Member(id) => self
                .members
                .get_key_value(&id)
                .map(row)
                .into_iter()
                .collect(),
        }
    }

    fn whisper(&self, id: ClientId, from: &str, to: &[u8], text: &[u8]) -> Vec<Action> {
        let target = std::str::from_utf8(to).ok().and_then(|to| self.find(to));
        match target {
            Some(target) => {
                let to = self.nick(target).unwrap_or("?");
                let mut actions = vec![
                    Action::To(target, member_line(protocol::private(from, text))),
                    // The operator sees that it happened, not what was said.
                    Action::Log(Log::Status(format!(
                        "{from} sent a private message to {to}"
                    ))),
                ];
                self.record(&mut actions, || Event::Private {
                    from: from.to_string(),
                    to: to.to_string(),
                    from_client: id,
                    to_client: target,
                });
                actions
            }
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
        let key = protocol::lookalike_key(&new);
        if let Some((banned, _)) = self.banned_names.get(&key) {
            return refuse(format!("the host banned the name {banned}"));
        }
        if let Some(other) = self.find(&new).filter(|&other| other != id) {
            let holder = self.nick(other).unwrap_or_default();
            return refuse(protocol::name_taken(&new, holder));
        }
        if let Some(member) = self.members.get_mut(&id) {
            self.by_name.remove(&protocol::lookalike_key(&member.nick));
            self.by_name.insert(protocol::lookalike_key(&new), id);
            member.nick = new.clone();
        }
        let mut actions = vec![
            Action::To(id, line(protocol::notice(&format!("you are now {new}")))),
            Action::All {
                except: Some(id),
                line: line(protocol::notice(&format!("{old} is now {new}"))),
            },
            Action::Log(Log::Status(format!("{old} is now {new}"))),
        ];
        self.record(&mut actions, || Event::Renamed {
            client: id,
            from: old.to_string(),
            to: new,
        });
        actions
    }
    // ANCHOR_END: rename

    fn quit(&mut self, id: ClientId, reason: Option<&[u8]>) -> Vec<Action> {
        let why = match reason {
            Some(reason) => format!("left ({})", protocol::reason_text(reason)),
            None => "left".to_string(),
        };
        let goodbye = Action::To(id, line(protocol::goodbye("see you")));
        let mut actions = vec![goodbye];
        actions.extend(self.remove(id, &why, Departure::Left));
        actions
    }

    /// Takes a member out and tells the others: `*** alice WHY (N in the room)`.
    fn remove(&mut self, id: ClientId, why: &str, departure: Departure) -> Vec<Action> {
        let Some(member) = self.members.remove(&id) else {
            return Vec::new();
        };
        self.by_name.remove(&protocol::lookalike_key(&member.nick));
        if !member.bot {
            // Never announced and still waiting to be: it came and went at once (churn).
            let churned = !member.announced && self.unannounced.iter().any(|&(_, u)| u == id);
            self.door.release(member.peer.ip(), churned);
        }
        let count = self.members.len();
        let text = format!("{} {why} ({count} in the room)", member.nick);
        let log = match departure {
            Departure::Left => Log::Status(format!("{text}, from {}", member.peer)),
            Departure::Kicked | Departure::Evicted => Log::Notice(text.clone()),
        };
        let mut actions = vec![Action::Disconnect(id)];
        // The same rule as for a join: the room had `count + 1` members with this one. And the
        // others hear that it left only if they heard that it came.
        if count < ANNOUNCE_UP_TO && member.announced {
            actions.push(Action::All {
                except: None,
                line: member_line(protocol::notice(&text)),
            });
        }
        actions.push(Action::Log(log));
        self.record(&mut actions, || {
            let (client, nick, why) = (id, member.nick, why.to_string());
            match departure {
                Departure::Left => Event::Left { client, nick, why },
                Departure::Kicked => Event::Kicked { client, nick, why },
                Departure::Evicted => Event::Evicted { client, nick, why },
            }
        });
        actions
    }

    /// A member's connection ended or it stopped reading.
    pub fn leave(&mut self, id: ClientId, why: Leave) -> Vec<Action> {
        // Lines it sent before it closed still count: `printf '…30 lines…' | ncat` ends at once.
        // Taken now, or they would be lost with it; but only one more burst of them. An engine
        // may have read far ahead of the limit (the poll engine reads 64 KiB at a time: 32,768
        // lines of `yes`), and a flooder that closes must not get its backlog relayed at once.
        let mut actions = Vec::new();
        if why != Leave::TooSlow {
            // A paste the room held whole goes out whole (its sender may leave at once, as
            // `netchat room --connect < file` does); a flooder's backlog, at most one burst.
            let whole = self
                .members
                .get(&id)
                .is_some_and(|member| !member.flow.overflowed());
            let (held, mut dropped) = self
                .members
                .get_mut(&id)
                .map(|member| member.flow.take_held())
                .unwrap_or_default();
            let (mut lines, mut bytes) = (0, 0);
            for text in held {
                let burst_over =
                    lines >= limits::BURST_LINES as usize || bytes >= limits::BURST_BYTES as usize;
                if burst_over && !whole {
                    dropped += 1;
                    continue;
                }
                let caused = self.obey(id, protocol::parse(&text));
                lines += 1;
                bytes += relayed_bytes(&caused);
                actions.extend(caused);
            }
            if let (true, Some(nick)) = (dropped > 0, self.nick(id)) {
                actions.push(Action::Log(Log::Notice(format!(
                    "{nick} leaves with {} of its lines over its rate limit not relayed",
                    thousands(dropped)
                ))));
            }
        }
        self.holding.remove(&id);
        actions.extend(self.depart(id, why));
        actions
    }

    fn depart(&mut self, id: ClientId, why: Leave) -> Vec<Action> {
        match why {
            Leave::Gone(Gone::Closed) => self.remove(id, "left", Departure::Left),
            Leave::Gone(Gone::Lost(error)) => self.remove(
                id,
                &format!("lost the connection ({error})"),
                Departure::Left,
            ),
            Leave::TooSlow => self.remove(id, protocol::TOO_SLOW, Departure::Evicted),
        }
    }

    /// A line longer than `--max-line`: refused (its bytes are charged when the read ends,
    /// `Room::read`), the connection lives on. The member is told once per episode: a stream
    /// of over-long lines must not make the server write a notice for each.
    pub fn too_long(&mut self, id: ClientId, limit: usize, now: Instant) -> Vec<Action> {
        let rate = self.rate;
        let Some(member) = self.members.get_mut(&id) else {
            return Vec::new();
        };
        if !member.flow.tell_too_long(rate, now) {
            return Vec::new();
        }
        vec![Action::To(id, line(protocol::line_too_long(limit)))]
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
        if self.observer.is_on() {
            actions.extend(self.members.iter().map(|(&client, member)| {
                Action::Record(Event::Left {
                    client,
                    nick: member.nick.clone(),
                    why: "the host closed the room".to_string(),
                })
            }));
        }
        self.members.clear();
        self.by_name.clear();
        // The end of a storm of refusals was counted, never shown: say it now.
        if let Some(text) = self.refusals.summary() {
            actions.push(Action::Log(Log::Notice(text)));
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modes::room::protocol::{BanTarget, HostCommand};
    use crate::text;
    use std::time::Duration;

    /// Whether the member is inside a rate-limit episode (the rules' own state, read by the test).
    fn is_limited(room: &Room, id: ClientId) -> bool {
        room.members
            .get(&id)
            .is_some_and(|member| member.flow.in_episode())
    }

    fn addr() -> SocketAddr {
        "127.0.0.1:4000".parse().unwrap()
    }

    /// The rules never read a clock: tests hand them the time, and later moments by adding.
    fn now() -> Instant {
        Instant::now()
    }

    /// Long enough after any join for it to be announced.
    fn later() -> Instant {
        now() + limits::SHORT_STAY * 2
    }

    fn peer(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn logs(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Log(Log::Status(text) | Log::Notice(text) | Log::Answer(text)) => {
                    Some(text.clone())
                }
                _ => None,
            })
            .collect()
    }

    /// The lines `who` gets, each as it was before it was cut for an 80-column screen.
    fn lines_to(actions: &[Action], who: ClientId) -> Vec<String> {
        let whole = |line: &Line| line.replace(&format!("\n{}", protocol::WIRE_INDENT), "");
        actions
            .iter()
            .filter_map(|a| match a {
                Action::To(id, line) if *id == who => Some(whole(line)),
                Action::All { except, line } if *except != Some(who) => Some(whole(line)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_line_wider_than_80_columns_goes_out_as_rows_that_continue_indented() {
        let mut room = room_of(&["alice", "bob"]);
        let padded = format!(
            "{}*** alice was kicked by the host (cheating)",
            ".".repeat(70)
        );
        let actions = room.said(2, padded.as_bytes(), now());
        let relayed: Vec<&Line> = actions
            .iter()
            .filter_map(|a| match a {
                Action::All { line, .. } => Some(line),
                _ => None,
            })
            .collect();
        let rows: Vec<&str> = relayed[0].split('\n').collect();
        assert_eq!(rows[0], format!("[bob] {}*** ", ".".repeat(70)));
        assert_eq!(rows[1], "    alice was kicked by the host (cheating)");
        assert!(
            rows.iter()
                .all(|row| text::width(row) <= protocol::WIRE_COLUMNS)
        );
        // The console shows the line whole, and cuts it for its own screen.
        assert!(actions.iter().any(|a| matches!(a,
            Action::Log(Log::Message(line, _)) if !line.contains('\n'))));
    }

    /// A room with the default limits and two members who joined at the returned moment: 1, who
    /// floods or pastes in the tests below, and 2, who watches.
    fn two_members() -> (Room, Instant) {
        let mut room = Room::new(Limits::default());
        let start = now();
        room.join(1, addr(), start);
        room.join(2, addr(), start);
        (room, start)
    }

    fn room_of(names: &[&str]) -> Room {
        let mut room = Room::new(Limits::off());
        for (i, name) in names.iter().enumerate() {
            let id = i as ClientId + 1;
            room.join(id, addr(), now());
            room.said(id, format!("/nick {name}").as_bytes(), now());
        }
        room
    }

    #[test]
    fn stats_show_the_host_everyone_and_a_member_itself() {
        let mut room = room_of(&["alice", "bob"]);
        room.said(2, b"hello", now());
        assert_eq!(
            room.said(2, b"/stats", now()),
            vec![Action::Stats(Viewer::Member(2))]
        );
        assert_eq!(
            room.host(HostCommand::Stats, now()),
            vec![Action::Stats(Viewer::Host)]
        );
        let later = now() + Duration::from_secs(65);
        let all = room.stats_rows(Viewer::Host, later);
        let names: Vec<&str> = all.iter().map(|row| row.nick.as_str()).collect();
        assert_eq!(names, ["alice", "bob"]);
        let own = room.stats_rows(Viewer::Member(2), later);
        assert_eq!(own.len(), 1);
        // /nick bob (10 bytes with its newline), hello (6), /stats (7).
        assert_eq!((own[0].received.lines, own[0].received.bytes), (3, 23));
        assert_eq!(own[0].connected.as_secs(), 65);
        assert!(!own[0].limited && own[0].output.is_none());
        assert!(room.stats_rows(Viewer::Member(9), now()).is_empty());
    }

    #[test]
    fn an_unobserved_room_builds_no_events() {
        let mut room = room_of(&["alice", "bob"]);
        let mut actions = room.said(1, b"hello", now());
        actions.extend(room.said(1, b"/nick carol", now()));
        actions.extend(room.leave(2, Leave::TooSlow));
        assert!(!actions.iter().any(|a| matches!(a, Action::Record(_))));
    }

    #[test]
    fn newcomers_get_unique_guest_names_and_a_welcome() {
        let mut room = Room::new(Limits::off());
        let first = room.join(1, addr(), now());
        assert!(lines_to(&first, 1)[0].contains("you are guest-1"));
        room.said(1, b"/nick guest-2", now());
        room.join(2, addr(), now());
        assert_eq!(room.nick(2), Some("guest-3"));
    }

    #[test]
    fn every_welcome_starts_as_a_half_or_duplex_recognises_it() {
        let mut room = Room::default();
        for id in 1..=3 {
            let actions = room.join(id, addr(), now());
            assert!(
                lines_to(&actions, id)[0].starts_with(protocol::WELCOME_PREFIX),
                "{actions:?}"
            );
        }
    }

    #[test]
    fn the_greeting_follows_the_welcome_for_every_newcomer() {
        let mut room = Room::new(Limits::off());
        room.set_motd(&["Lab 3: sockets".to_string(), "be kind".to_string()]);
        for id in 1..=2 {
            let lines = lines_to(&room.join(id, addr(), now()), id);
            assert!(lines[0].contains("welcome!"), "{lines:?}");
            assert_eq!(lines[2..4], ["*** Lab 3: sockets", "*** be kind"]);
        }
    }

    #[test]
    fn join_is_announced_to_the_others_only() {
        let mut room = room_of(&["alice"]);
        let actions = room.join(2, addr(), now());
        assert!(!actions.iter().any(|a| matches!(a, Action::All { .. })));
        let actions = room.tick(later());
        assert!(matches!(
            &actions[0],
            Action::All { except: Some(2), line } if line.contains("guest-2 joined (2 in the room)")
        ));
    }

    #[test]
    fn a_big_room_does_not_announce_every_join_or_leave() {
        let mut room = Room::new(Limits::off());
        for id in 1..=ANNOUNCE_UP_TO as ClientId {
            room.join(id, addr(), now());
        }
        room.tick(later());
        let newcomer = ANNOUNCE_UP_TO as ClientId + 1;
        let actions = room.join(newcomer, addr(), now());
        assert!(!actions.iter().any(|a| matches!(a, Action::All { .. })));
        let welcome = &lines_to(&actions, newcomer)[0];
        assert!(welcome.contains(&format!("{} in the room", ANNOUNCE_UP_TO + 1)));
        assert!(
            !welcome.contains("guest-1,"),
            "no list of 100 names: {welcome}"
        );
        assert!(room.tick(later()).is_empty());
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
        room.said(1, b"/nick carol", now());
        assert_eq!(room.find("alice"), None);
        assert_eq!(room.find("caro1"), Some(1));
        room.leave(2, Leave::Gone(Gone::Closed));
        assert_eq!(room.find("b0b"), None);
    }

    #[test]
    fn a_message_goes_to_everyone_but_the_sender_with_its_name() {
        let mut room = room_of(&["alice", "bob"]);
        let actions = room.said(1, b"hello", now());
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
        let actions = room.said(2, b"/nick ALICE", now());
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
        let actions = room.said(2, b"/nick a1ice", now());
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
        let actions = room.said(2, b"/nick bobby", now());
        assert_eq!(lines_to(&actions, 2), vec!["*** you are now bobby"]);
        assert_eq!(lines_to(&actions, 1), vec!["*** bob is now bobby"]);
    }

    #[test]
    fn a_private_message_reaches_only_its_target() {
        let mut room = room_of(&["alice", "bob", "carol"]);
        let actions = room.said(1, b"/msg Bob psst", now());
        assert_eq!(lines_to(&actions, 2), vec!["[alice -> you] psst"]);
        assert!(lines_to(&actions, 3).is_empty());
        assert!(lines_to(&actions, 1).is_empty());
        let missing = room.said(1, b"/msg dave hi", now());
        assert!(lines_to(&missing, 1)[0].contains("nobody called dave"));
    }

    #[test]
    fn quit_says_goodbye_and_tells_the_others() {
        let mut room = room_of(&["alice", "bob"]);
        let actions = room.said(2, b"/quit lunch", now());
        assert_eq!(lines_to(&actions, 2)[0], "*** goodbye: see you");
        assert!(actions.contains(&Action::Disconnect(2)));
        assert_eq!(
            lines_to(&actions, 1),
            vec!["*** bob left (lunch) (1 in the room)"]
        );
        assert!(room.said(2, b"still here?", now()).is_empty());
    }

    #[test]
    fn kick_disconnects_with_a_reason() {
        let mut room = room_of(&["alice", "bob"]);
        let actions = room.host(
            HostCommand::Kick {
                nick: b"bob".to_vec(),
                reason: Some(b"spam".to_vec()),
            },
            now(),
        );
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
        let actions = room.host(HostCommand::Say(b"hi class".to_vec()), now());
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

    #[test]
    fn a_member_who_stays_only_moments_is_never_announced() {
        let mut room = room_of(&["alice"]);
        room.tick(later());
        let came = room.join(2, addr(), now());
        let went = room.leave(2, Leave::Gone(Gone::Closed));
        assert!(lines_to(&came, 1).is_empty() && lines_to(&went, 1).is_empty());
        assert!(room.tick(later()).is_empty());
        // The console still sees both.
        assert!(logs(&came)[0].contains("guest-2 joined"));
        assert!(logs(&went)[0].contains("guest-2 left"));
    }

    #[test]
    fn a_newcomer_who_speaks_at_once_is_announced_first() {
        let mut room = room_of(&["alice"]);
        room.tick(later());
        room.join(2, addr(), now());
        let actions = room.said(2, b"hi all", now());
        assert_eq!(
            lines_to(&actions, 1),
            vec!["*** guest-2 joined (2 in the room)", "[guest-2] hi all"]
        );
        assert!(room.tick(later()).is_empty(), "announced once");
    }

    #[test]
    fn a_flooder_is_paused_and_told_once() {
        let (mut room, start) = two_members();
        for _ in 0..limits::BURST_LINES {
            let actions = room.said(1, b"spam", start);
            assert!(!actions.iter().any(|a| matches!(a, Action::Pause { .. })));
        }
        let actions = room.said(1, b"spam", start);
        assert!(actions.contains(&Action::Pause {
            id: 1,
            until: start + Duration::from_millis(200)
        }));
        assert!(lines_to(&actions, 1)[0].starts_with("*** slow down:"));
        assert!(logs(&actions)[0].contains("guest-1 is sending faster"));
        assert!(is_limited(&room, 1));
        // The line that went over was still relayed: nothing read is ever dropped.
        assert_eq!(lines_to(&actions, 2).last().unwrap(), "[guest-1] spam");
        // Lines already on their way when the pause began wait, in order, for it to end.
        assert!(room.said(1, b"one", start).is_empty());
        assert!(room.said(1, b"two", start).is_empty());
        let resume = start + Duration::from_millis(200);
        assert_eq!(room.next_deadline(), Some(resume));
        assert!(room.tick(start + Duration::from_millis(100)).is_empty());
        let released = room.tick(resume);
        // One line's worth of allowance: "one" goes, and the member is paused again, quietly.
        assert_eq!(lines_to(&released, 2), vec!["[guest-1] one"]);
        assert!(released.iter().any(|a| matches!(a, Action::Pause { .. })));
        assert!(lines_to(&released, 1).is_empty() && logs(&released).is_empty());
        let released = room.tick(resume + Duration::from_millis(200));
        assert_eq!(lines_to(&released, 2), vec!["[guest-1] two"]);
    }

    #[test]
    fn a_member_held_back_for_a_minute_without_a_break_is_disconnected() {
        let (mut room, start) = two_members();
        let mut at = start;
        let mut relayed = 0;
        let gone = loop {
            let actions = room.said(1, b"y", at);
            if actions.contains(&Action::Disconnect(1)) {
                break actions;
            }
            relayed += 1;
            if let Some(Action::Pause { until, .. }) =
                actions.iter().find(|a| matches!(a, Action::Pause { .. }))
            {
                at = *until;
            }
            assert!(relayed < 2000, "never cut off");
        };
        // It kept within its limit, never sending more than the room holds: not a flood until
        // it kept the limit busy longer than any paste needs.
        let longest = limits::flood_cutoff(RateLimit::PerSecond { lines: 5 }, false);
        assert!(at - start >= longest);
        assert!(
            lines_to(&gone, 1)
                .iter()
                .any(|l| l.starts_with("*** goodbye: you kept sending"))
        );
        assert!(
            lines_to(&gone, 2)
                .iter()
                .any(|l| l.contains("guest-1 was disconnected: it kept"))
        );
        // Until then it was held to its limit: its burst, then five a second.
        assert!(
            relayed <= 20 + 5 * (longest.as_secs() as usize + 1),
            "{relayed}"
        );
    }

    #[test]
    fn held_lines_of_a_member_who_leaves_are_still_relayed() {
        let (mut room, start) = two_members();
        for _ in 0..=limits::BURST_LINES {
            room.said(1, b"paste", start);
        }
        room.said(1, b"last line", start);
        let gone = room.leave(1, Leave::Gone(Gone::Closed));
        assert_eq!(lines_to(&gone, 2)[0], "[guest-1] last line");
        assert_eq!(room.next_deadline(), Some(start + limits::SHORT_STAY));
    }

    #[test]
    fn a_flooder_that_leaves_gets_one_burst_of_its_backlog_relayed_not_all_of_it() {
        let (mut room, start) = two_members();
        // What the poll engine may read in one turn of a `yes` flood: far past the limit.
        for _ in 0..10_000 {
            room.said(1, b"y", start);
        }
        let gone = room.leave(1, Leave::Gone(Gone::Closed));
        let relayed = lines_to(&gone, 2)
            .iter()
            .filter(|line| *line == "[guest-1] y")
            .count();
        assert_eq!(relayed, limits::BURST_LINES as usize);
    }

    /// What an engine does with a flooder, in simulated time: every `step` it runs the room's
    /// tick, and, unless the room paused the flooder (id 1), reads `per_read` more of its `y`
    /// lines. Stops when `done` says so; returns the time then and the most lines ever held.
    fn flood_through_an_engine(
        room: &mut Room,
        start: Instant,
        per_read: usize,
        mut done: impl FnMut(&[Action], Instant) -> bool,
    ) -> (Instant, usize) {
        let step = Duration::from_millis(10);
        let (mut at, mut paused, mut most_held) = (start, None::<Instant>, 0);
        loop {
            let mut actions = room.tick(at);
            if paused.is_none_or(|until| at >= until) {
                for _ in 0..per_read {
                    actions.extend(room.said(1, b"y", at));
                }
            }
            for action in &actions {
                if let Action::Pause { id: 1, until } = action {
                    paused = Some(*until);
                }
            }
            most_held = most_held.max(room.members.get(&1).map_or(0, |m| m.flow.held()));
            if done(&actions, at) {
                return (at, most_held);
            }
            at += step;
        }
    }

    #[test]
    fn a_flooders_held_lines_stay_bounded_and_the_rest_are_dropped_counted_and_told_once() {
        let (mut room, start) = two_members();
        // What the poll engine reads of `yes` in one turn: 32,768 lines, far past the limit.
        let actions: Vec<Action> = (0..32_768)
            .flat_map(|_| room.said(1, b"y", start))
            .collect();
        let relayed = BURST_LINES_USIZE + 1; // the burst, and the line that went over
        let row = &room.stats_rows(Viewer::Host, start)[0];
        assert_eq!(row.held, limits::HELD_LINES);
        assert_eq!(row.dropped, (32_768 - relayed - limits::HELD_LINES) as u64);
        let told = lines_to(&actions, 1);
        assert_eq!(
            told.iter()
                .filter(|l| l.starts_with("*** slow down"))
                .count(),
            1
        );
        assert_eq!(
            told.iter()
                .filter(|l| l.starts_with("*** you are far ahead"))
                .count(),
            1
        );
        assert_eq!(
            logs(&actions)
                .iter()
                .filter(|l| l.contains("drops the rest"))
                .count(),
            1
        );
        // Reading goes on at the drain pace: the engine is paused until the dropped lines are
        // paid for, with one pause per DRAIN_STEP of it, not one a line.
        let pauses: Vec<Instant> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Pause { until, .. } => Some(*until),
                _ => None,
            })
            .collect();
        let drained = limits::drain_cost(1) * row.dropped as u32;
        let steps = (drained.as_micros() / limits::DRAIN_STEP.as_micros()) as usize;
        assert!(pauses.len() <= 2 + steps, "{} pauses", pauses.len());
        let last = *pauses.last().unwrap();
        assert!(
            last > (start + drained).checked_sub(limits::DRAIN_STEP).unwrap()
                && last <= start + drained
        );
        // Held lines go out at the rate, and no longer stop the engine from draining the rest.
        let released = room.tick(start + Duration::from_millis(200));
        assert_eq!(lines_to(&released, 2), vec!["[guest-1] y"]);
        assert!(!released.iter().any(|a| matches!(a, Action::Pause { .. })));
    }

    const BURST_LINES_USIZE: usize = limits::BURST_LINES as usize;

    #[test]
    fn a_flooder_whose_lines_overflow_is_still_cut_off_after_a_minute() {
        let (mut room, start) = two_members();
        let (gone, most_held) = flood_through_an_engine(&mut room, start, 500, |actions, at| {
            assert!(at - start < limits::FLOOD_CUTOFF * 2, "never cut off");
            actions.contains(&Action::Disconnect(1))
        });
        assert!(gone - start >= limits::FLOOD_CUTOFF);
        assert!(most_held <= limits::HELD_LINES, "{most_held} held");
    }

    #[test]
    fn a_flooder_that_stops_is_read_to_its_end_at_the_drain_pace() {
        let (mut room, start) = two_members();
        // A backlog of 200,000 lines after the flooder quit (megabytes in the kernel buffers):
        // read 2,000 at a time, it is gone long before the rate limit would have let it out.
        let mut left = 200_000;
        let (read_all, _) = flood_through_an_engine(&mut room, start, 2_000, |_, at| {
            assert!(
                at - start < limits::FLOOD_CUTOFF,
                "still reading {left} lines"
            );
            left -= 2_000.min(left);
            left == 0
        });
        assert!(
            read_all - start < Duration::from_secs(5),
            "{:?}",
            read_all - start
        );
    }

    #[test]
    fn an_honest_paste_of_30_lines_goes_out_whole_and_in_order() {
        let (mut room, start) = two_members();
        let pasted: Vec<String> = (1..=30).map(|n| format!("line {n}")).collect();
        let mut actions: Vec<Action> = pasted
            .iter()
            .flat_map(|text| room.said(1, text.as_bytes(), start))
            .collect();
        while let Some(at) = room.next_deadline() {
            actions.extend(room.tick(at));
        }
        let expected: Vec<String> = pasted.iter().map(|t| format!("[guest-1] {t}")).collect();
        let got: Vec<String> = lines_to(&actions, 2)
            .into_iter()
            .filter(|l| l.starts_with("[guest-1]"))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(room.stats_rows(Viewer::Member(1), start)[0].dropped, 0);
    }

    #[test]
    fn answers_count_against_the_limit_so_who_is_no_amplifier() {
        let mut room = Room::new(Limits {
            rate: RateLimit::PerSecond { lines: 5 },
            max_per_address: 0,
        });
        let start = now();
        for id in 1..=200 {
            room.join(id, addr(), start);
        }
        // A /who of 200 names is about 2 KB: the byte budget, not the line budget, stops it.
        let asked = (1..=limits::BURST_LINES)
            .take_while(|_| {
                let actions = room.said(1, b"/who", start);
                !actions.iter().any(|a| matches!(a, Action::Pause { .. }))
            })
            .count();
        assert!(asked < 20, "{asked} answers before a pause");
    }

    #[test]
    fn no_limits_never_pause() {
        let mut room = room_of(&["alice", "bob"]);
        for _ in 0..10_000 {
            let actions = room.said(1, b"spam", now());
            assert!(!actions.iter().any(|a| matches!(a, Action::Pause { .. })));
        }
    }

    #[test]
    fn one_address_over_its_seats_is_refused_politely() {
        let mut room = Room::new(Limits {
            rate: RateLimit::Off,
            max_per_address: 2,
        });
        room.set_capacity(4);
        let script = peer("127.0.0.2:5000");
        room.join(1, script, now());
        room.join(2, script, now());
        let refused = room.join(3, script, now());
        assert!(
            lines_to(&refused, 3)[0].starts_with("*** goodbye: sorry, your address already has 2")
        );
        assert!(refused.contains(&Action::Disconnect(3)));
        assert_eq!(room.nick(3), None);
        assert!(logs(&refused)[0].contains("refused a connection from 127.0.0.2"));
        // A storm of refusals is one console line, not one each.
        let storm: Vec<Action> = (4..100)
            .flat_map(|id| room.join(id, script, now()))
            .collect();
        assert!(logs(&storm).is_empty());
        // Then summed up, a second later at most, per address and reason.
        let summary = logs(&room.tick(later()));
        assert_eq!(
            summary[0],
            "refused 96 more connections: 96 from 127.0.0.2 (its share of seats) (a class \
             behind one address: --lab NETWORK or /limit seats 0)"
        );
        // Someone from another address still gets in.
        room.join(100, peer("127.0.0.1:5000"), now());
        assert!(room.nick(100).is_some());
        // A seat freed is a seat to take, once the storm has blown over.
        room.leave(1, Leave::Gone(Gone::Closed));
        room.join(101, script, now() + Duration::from_secs(60));
        assert!(room.nick(101).is_some());
    }

    #[test]
    fn ban_removes_the_member_and_keeps_its_address_out() {
        let mut room = Room::new(Limits::off());
        room.join(1, peer("127.0.0.1:5000"), now());
        room.join(2, peer("127.0.0.2:5000"), now());
        room.said(2, b"/nick eve", now());
        let actions = room.host(
            HostCommand::Ban {
                target: BanTarget::Nick(b"eve".to_vec()),
                minutes: None,
                reason: Some(b"flooding".to_vec()),
            },
            now(),
        );
        assert_eq!(
            lines_to(&actions, 2)[0],
            "*** goodbye: you were banned from this room by the host (flooding)"
        );
        assert!(actions.contains(&Action::Disconnect(2)));
        assert_eq!(
            logs(&actions).last().unwrap(),
            "127.0.0.2 is banned until the room closes; /unban 127.0.0.2 lets it in again"
        );
        let back = room.join(4, peer("127.0.0.2:6000"), now());
        assert!(lines_to(&back, 4)[0].contains("banned your address"));
        assert_eq!(room.nick(4), None);
        let unban = room.host(
            HostCommand::Unban(Some("127.0.0.2".parse().unwrap())),
            now(),
        );
        assert!(logs(&unban)[0].contains("may join again"));
        room.join(5, peer("127.0.0.2:6001"), now());
        assert!(room.nick(5).is_some());
    }

    #[test]
    fn an_address_is_one_speaker_unless_a_lab_network_shares_it() {
        let mut room = Room::new(Limits::default());
        room.join(1, peer("127.0.0.2:5000"), now());
        room.join(2, peer("127.0.0.2:5001"), now());
        assert_eq!(room.speaker(1), room.speaker(2), "one address, one share");
        let mut lab = Room::new(Limits::default());
        lab.set_access(AccessList {
            lab: vec!["127.0.0.0/24".parse().unwrap()],
            ..AccessList::default()
        });
        lab.join(1, peer("127.0.0.2:5000"), now());
        lab.join(2, peer("127.0.0.2:5001"), now());
        assert_ne!(
            lab.speaker(1),
            lab.speaker(2),
            "a class behind --lab: a share each"
        );
    }

    #[test]
    fn banning_a_guest_behind_a_shared_address_says_it_can_come_back() {
        let mut room = Room::new(Limits::off());
        room.join(1, peer("127.0.0.2:5000"), now());
        room.join(2, peer("127.0.0.2:5001"), now());
        let actions = room.host(
            HostCommand::Ban {
                target: BanTarget::Nick(b"guest-2".to_vec()),
                minutes: None,
                reason: None,
            },
            now(),
        );
        assert!(actions.contains(&Action::Disconnect(2)));
        assert!(
            logs(&actions).last().unwrap().contains(
                "it never chose a name, and its address 127.0.0.2 is shared with guest-1"
            )
        );
    }

    #[test]
    fn ban_behind_a_shared_address_bans_the_name_and_says_who_shares_it() {
        let mut room = Room::new(Limits::off());
        room.join(1, peer("127.0.0.2:5000"), now());
        room.join(2, peer("127.0.0.2:5001"), now());
        room.said(2, b"/nick eve", now());
        let actions = room.host(
            HostCommand::Ban {
                target: BanTarget::Nick(b"eve".to_vec()),
                minutes: Some(10),
                reason: None,
            },
            now(),
        );
        assert!(actions.contains(&Action::Disconnect(2)));
        assert!(!actions.contains(&Action::Disconnect(1)));
        assert_eq!(
            logs(&actions).last().unwrap(),
            "eve is out, and the name eve is banned for 10 minutes; its address 127.0.0.2 is \
             shared with guest-1 here, so the address stays open (/ban 127.0.0.2 bans \
             everyone behind it)"
        );
        // Back as a guest, it cannot take the name again (nor a lookalike of it).
        room.join(3, peer("127.0.0.2:5002"), now());
        let refused = room.said(3, b"/nick EVE", now());
        assert_eq!(
            lines_to(&refused, 3),
            ["*** name refused: the host banned the name eve; you are still guest-3"]
        );
        // Ten minutes later the name is free again.
        room.tick(now() + Duration::from_secs(601));
        let renamed = room.said(3, b"/nick eve", now() + Duration::from_secs(601));
        assert_eq!(lines_to(&renamed, 3), ["*** you are now eve"]);
        // The whole address, if the host means it.
        let actions = room.host(
            HostCommand::Ban {
                target: BanTarget::Address("127.0.0.2".parse().unwrap()),
                minutes: None,
                reason: None,
            },
            now(),
        );
        assert!(logs(&actions)[0].starts_with("127.0.0.2 is banned until the room closes"));
        let back = room.join(4, peer("127.0.0.2:6000"), now());
        assert!(lines_to(&back, 4)[0].contains("banned your address"));
    }

    #[test]
    fn a_member_from_an_ipv4_mapped_address_is_shown_and_banned_as_ipv4() {
        let mut room = Room::default();
        let actions = room.join(1, peer("[::ffff:127.0.0.15]:4000"), now());
        assert!(
            logs(&actions).contains(&"guest-1 joined from 127.0.0.15:4000 (1 in the room)".into()),
            "{actions:?}"
        );
        room.host(
            HostCommand::Ban {
                target: BanTarget::Nick(b"guest-1".to_vec()),
                minutes: None,
                reason: None,
            },
            now(),
        );
        let refused = room.join(2, peer("127.0.0.15:4001"), later());
        assert!(refused.contains(&Action::Disconnect(2)), "{refused:?}");
    }
}
