//! `--bots N`: practice members for a student who is alone with the room.
//!
//! Each bot is an ordinary client on its own thread: it `connect`s to the room over loopback,
//! takes a name that says what it is (`bot-ada`), and then chats, uses `/me`, renames itself,
//! leaves with `/quit` and comes back, every few seconds like a person. Being real clients, the
//! bots go through exactly the rules every student goes through (admission, names, fan-out, the
//! slow-consumer bound): the room needs no code of its own for them.
//!
//! Between two actions a bot reads what the room sends, with a read timeout that ends when its
//! next action is due: one thread per bot, no busy loop. A bot answers a student who mentions its
//! name (`bot-ada, are you there?`) or sends it a private message (`/msg bot-ada hi`), with a
//! scripted reply within a second: something to talk to when the room is empty. Bots never
//! answer bots, so they cannot start a conversation among themselves.
//!
//! `--bots-slow` adds `bot-sleepy`, which reads only [`SLEEPY_BYTES`] bytes a second, and
//! `bot-paster`, which pastes long lines at the rate limit until the room drops the sleepy one:
//! its queue on the server grows (watch `/stats`) until the room disconnects it as too slow,
//! within a minute, with no flood typed by hand.
//!
//! `--seed` fixes every bot's choices: the same seed gives each bot the same lines in the same
//! order, so a test or a demonstration can rely on them.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};

use super::access::{AccessList, Verdict};
use super::limits::BotConnections;
use super::protocol;
use crate::error::{Error, Result};

/// What `--bots`, `--bots-slow` and `--seed` asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BotOptions {
    /// How many chatting bots.
    pub count: usize,
    /// Also start `bot-sleepy`, which hardly reads, and `bot-paster`, which pastes.
    pub slow: bool,
    /// The seed of their choices; `None` picks one from the clock.
    pub seed: Option<u64>,
}

impl BotOptions {
    /// Whether any bot runs at all.
    pub fn any(&self) -> bool {
        self.count > 0 || self.slow
    }
}

/// The chatting bots' names, after pioneers of computing and networking. A room with more bots
/// than names numbers them (`bot-ada2`).
const NAMES: [&str; 10] = [
    "ada", "grace", "alan", "radia", "vint", "barbara", "dennis", "margaret", "ken", "frances",
];

/// What the bots say: the kind of things a class says during a sockets lab.
const LINES: [&str; 11] = [
    "did anyone get the port number?",
    "my nc says connection refused, is the server up?",
    "TCP is a byte stream, not messages: that's why we need the newline",
    "who else is on the lab's wifi?",
    "I think my firewall blocked the port",
    "try /who to see everyone",
    "does /msg really go to one person only?",
    "brb, reading about the three-way handshake",
    "lol",
    "what does SO_REUSEADDR do again?",
    "the server put my name on my line, not me",
];

/// What a bot says first when it joins for the first time.
const GREETINGS: [&str; 3] = ["hi all", "hello room!", "hey everyone"];

/// What a bot says first when it comes back after a break.
const RETURNS: [&str; 3] = ["back again", "hi again", "I'm back, what did I miss?"];

/// What a bot answers when a student mentions its name: a few sentences that point at the lab.
const ANSWERS: [&str; 5] = [
    "I'm a practice bot: I answer when you mention my name or /msg me",
    "good question! try /help for the room's commands",
    "the server put your name on that line, not your client: try /nick",
    "every line you send goes to everyone else here, once: that's fan-out",
    "I'm here! /who lists everyone in the room",
];

/// What a bot answers to a private message.
const PRIVATE_ANSWERS: [&str; 3] = [
    "got your private message: only you and I see this",
    "psst back! /msg NAME TEXT reaches one person only",
    "I'm a bot, but your /msg reached me and nobody else",
];

/// How long a bot takes to answer: a moment, like a person reading, well within two seconds.
const ANSWER_AFTER: (u64, u64) = (200, 800);

/// At most this many answers wait at once (a student who mentions a bot ten times in a row gets
/// a few answers, not ten).
const ANSWERS_QUEUED: usize = 3;

/// The longest line a bot keeps while it waits for the rest: the room's lines are shorter.
const BOT_LINE: usize = 16 * 1024;

/// What the bots do with `/me`.
const ACTIONS: [&str; 6] = [
    "waves",
    "sips coffee",
    "types furiously",
    "is drawing a SYN, SYN-ACK, ACK diagram",
    "nods",
    "looks for the semicolon",
];

/// Time before a bot's first action after it joined: soon, so a student sees the room come alive.
const FIRST_ACTION: (u64, u64) = (500, 1_500);

/// Time between two actions, in milliseconds: a person typing, not a script.
const PACE: (u64, u64) = (2_000, 6_000);

/// How long a bot stays away after `/quit` (or after being disconnected) before it comes back.
const AWAY: (u64, u64) = (4_000, 10_000);

/// How many bytes `bot-sleepy` reads each second: about one chat line. A room that sends it more
/// than that fills its queue on the server, which is the lesson.
pub const SLEEPY_BYTES: usize = 64;

/// How often a bot checks whether the room is closing, while it waits or reads.
const CHECK_STOP: Duration = Duration::from_millis(200);

/// A small pseudo-random generator (SplitMix64): a few lines that make `--seed` reproducible on
/// every platform, where a crate's generator may change its sequence between versions.
#[derive(Debug, Clone)]
pub struct Dice(u64);

impl Dice {
    pub fn new(seed: u64) -> Dice {
        Dice(seed)
    }

    pub fn roll(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..high` (`low` if the range is empty).
    pub fn between(&mut self, (low, high): (u64, u64)) -> u64 {
        low + self.roll() % (high - low).max(1)
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.roll() % from.len() as u64) as usize]
    }

    fn pause(&mut self, range: (u64, u64)) -> Duration {
        Duration::from_millis(self.between(range))
    }
}

/// One thing a bot does on its turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    Say(&'static str),
    Me(&'static str),
    /// Take this name (`bot-ada-afk`, and back to `bot-ada` next time).
    Rename(String),
    /// `/quit`, then come back after a while.
    Leave,
}

impl Move {
    /// The line the bot sends for it.
    pub fn line(&self) -> String {
        match self {
            Move::Say(text) => format!("{text}\n"),
            Move::Me(text) => format!("/me {text}\n"),
            Move::Rename(name) => format!("/nick {name}\n"),
            Move::Leave => "/quit brb\n".to_string(),
        }
    }
}

/// A chatting bot's script: its name and its dice, deciding one move at a time.
#[derive(Debug, Clone)]
pub struct Script {
    name: String,
    away_name: bool,
    dice: Dice,
}

impl Script {
    /// The script of chatting bot number `index` (from 0) for `seed`.
    pub fn new(index: usize, seed: u64) -> Script {
        let base = NAMES[index % NAMES.len()];
        let round = index / NAMES.len();
        let name = if round == 0 {
            format!("bot-{base}")
        } else {
            format!("bot-{base}{}", round + 1)
        };
        // Each bot gets its own stream of numbers from the one seed.
        let dice = Dice::new(seed ^ (index as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407));
        Script {
            name,
            away_name: false,
            dice,
        }
    }

    /// The name it has now.
    pub fn name(&self) -> String {
        if self.away_name {
            format!("{}-afk", self.name)
        } else {
            self.name.clone()
        }
    }

    /// The bot's next move: mostly talk, sometimes `/me`, now and then a rename or a break.
    pub fn next_move(&mut self) -> Move {
        match self.dice.roll() % 20 {
            0..=10 => Move::Say(self.dice.pick(&LINES)),
            11..=15 => Move::Me(self.dice.pick(&ACTIONS)),
            16..=17 => {
                self.away_name = !self.away_name;
                Move::Rename(self.name())
            }
            _ => Move::Leave,
        }
    }
}

/// Where bots should connect for a room listening on `local`: the loopback address of the same
/// family when it listens on every interface (bots never use the LAN), else the address itself.
pub fn target(local: SocketAddr) -> SocketAddr {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port())
}

/// Checks, before the room opens, that the bots can join: they join from `target`'s address
/// (loopback), each connection registered with the door first ([`connect`]), which lets exactly
/// those connections past `--allow` and the per-address limits (a handful of seats, a few new
/// connections a second): ten bots from one address are not a prankster's script, but nothing
/// else from that address is let past. A `--deny` that covers it is a usage error: the bots
/// could never join.
pub fn admit(target: SocketAddr, options: &BotOptions, access: &AccessList) -> Result<()> {
    if !options.any() {
        return Ok(());
    }
    let ip = target.ip();
    match access.decide(ip) {
        Verdict::Denied(network) => Err(Error::Usage {
            message: format!("--bots join from {ip}, which --deny {network} refuses"),
            hint: "drop that --deny, or run the room without --bots".to_string(),
        }),
        Verdict::Admit | Verdict::NotAllowed => Ok(()),
    }
}

/// A bot's connection to `target`, its source address and port registered with the door
/// (`registry`) before it connects, so the room knows it for a bot's; the registration ends
/// when the returned guard is dropped (the visit is over).
/// `receive_buffer`, when given, is set before connecting (`bot-sleepy`'s small one); an error
/// setting it is ignored: with the default buffer a slow bot only takes longer to fall behind.
fn connect(
    target: SocketAddr,
    registry: &BotConnections,
    receive_buffer: Option<usize>,
) -> io::Result<(TcpStream, Registered)> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(target),
        socket2::Type::STREAM,
        None,
    )?;
    if let Some(bytes) = receive_buffer {
        let _ = socket.set_recv_buffer_size(bytes);
    }
    socket.bind(&SocketAddr::new(target.ip(), 0).into())?;
    let local = socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("a bot's socket has no IP address"))?;
    registry.insert(local);
    let registered = Registered {
        registry: registry.clone(),
        local,
    };
    socket.connect_timeout(&target.into(), Duration::from_secs(2))?;
    Ok((socket.into(), registered))
}

/// A bot's connection registered with the door; taken out when dropped.
struct Registered {
    registry: BotConnections,
    local: SocketAddr,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.remove(self.local);
    }
}

/// The running bots. They end when `stop`'s sender is dropped (the room closes); [`Bots::join`]
/// waits for them.
pub struct Bots {
    threads: Vec<JoinHandle<()>>,
}

/// The seed a run without `--seed` uses: different every time.
pub fn seed_from_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

/// Starts the bots against the room at `target`. A bot that cannot start a thread is skipped:
/// practice partners are not worth failing the room for.
pub fn start(
    target: SocketAddr,
    options: &BotOptions,
    seed: u64,
    stop: &Receiver<()>,
    registry: &BotConnections,
) -> Bots {
    let mut threads = Vec::new();
    for index in 0..options.count {
        let script = Script::new(index, seed);
        let (stop, registry) = (stop.clone(), registry.clone());
        let name = format!("room-bot-{index}");
        if let Ok(handle) = thread::Builder::new()
            .name(name)
            .spawn(move || chat(target, script, &stop, &registry))
        {
            threads.push(handle);
        }
    }
    if options.slow {
        let (stop_sleepy, registry_sleepy) = (stop.clone(), registry.clone());
        if let Ok(handle) = thread::Builder::new()
            .name("room-bot-sleepy".into())
            .spawn(move || sleepy(target, &stop_sleepy, &registry_sleepy))
        {
            threads.push(handle);
        }
        let (stop, registry) = (stop.clone(), registry.clone());
        if let Ok(handle) = thread::Builder::new()
            .name("room-bot-paster".into())
            .spawn(move || paster(target, &stop, &registry))
        {
            threads.push(handle);
        }
    }
    Bots { threads }
}

impl Bots {
    /// Waits for every bot to end, at most until `deadline` (a bot blocked in `connect` to a
    /// closing room is left to the process's exit).
    pub fn join(self, deadline: Instant) {
        for handle in self.threads {
            while !handle.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
            if handle.is_finished() {
                let _ = handle.join();
            }
        }
    }
}

/// Whether the room is closing.
fn stopping(stop: &Receiver<()>) -> bool {
    matches!(stop.try_recv(), Err(TryRecvError::Disconnected))
}

/// Waits `pause`, or less if the room closes meanwhile; `false` then.
fn wait(stop: &Receiver<()>, pause: Duration) -> bool {
    !matches!(
        stop.recv_timeout(pause),
        Err(RecvTimeoutError::Disconnected)
    )
}

/// How one visit to the room ended.
enum Visit {
    /// The bot said `/quit`: it comes back after a break.
    Left,
    /// The room closed the connection (kicked, closed, refused) or it could not connect.
    Ended,
    /// The room is closing: the bot ends.
    Stop,
}

/// A chatting bot: visits, breaks, visits again, until the room closes or sends it away.
fn chat(target: SocketAddr, mut script: Script, stop: &Receiver<()>, registry: &BotConnections) {
    let mut greetings: &[&str] = &GREETINGS;
    loop {
        let visit = match connect(target, registry, None) {
            Ok((stream, _registered)) => {
                let visit = visit(&stream, &mut script, greetings, stop);
                greetings = &RETURNS;
                visit
            }
            Err(_) => Visit::Ended,
        };
        // Sent away or refused: a person would not hammer the door either. Try once more after
        // a longer break, and stop if the room is closing.
        let pause = match visit {
            Visit::Stop => return,
            Visit::Left => script.dice.pause(AWAY),
            Visit::Ended => script.dice.pause(AWAY) * 3,
        };
        if !wait(stop, pause) {
            return;
        }
    }
}

/// Whole lines out of what a bot reads, however the reads split them; an over-long line is
/// dropped (a bot keeps at most [`BOT_LINE`] bytes).
#[derive(Debug, Default)]
struct LineBuffer {
    pending: Vec<u8>,
    skipping: bool,
}

impl LineBuffer {
    fn feed(&mut self, bytes: &[u8], mut line: impl FnMut(&str)) {
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            let (body, ends) = match piece.strip_suffix(b"\n") {
                Some(body) => (body, true),
                None => (piece, false),
            };
            if !self.skipping {
                self.pending.extend_from_slice(body);
                if self.pending.len() > BOT_LINE {
                    self.pending.clear();
                    self.skipping = true;
                }
            }
            if ends {
                if !self.skipping {
                    let text = String::from_utf8_lossy(&self.pending);
                    line(text.trim_end_matches('\r'));
                }
                self.pending.clear();
                self.skipping = false;
            }
        }
    }
}

/// What a bot called `me` answers to one line from the room, if anything: a mention of its
/// name (`[alice] bot-ada, are you there?`) or a private message (`[alice -> you] hi`). Never
/// to a bot, nor to itself.
pub fn answer(me: &str, line: &str, dice: &mut Dice) -> Option<String> {
    let rest = line.strip_prefix('[')?;
    let (head, text) = rest.split_once("] ")?;
    let (from, private) = match head.strip_suffix(" -> you") {
        Some(from) => (from, true),
        None => (head, false),
    };
    if from.is_empty() || from.contains(' ') || from.starts_with("bot-") {
        return None;
    }
    if private {
        return Some(format!("/msg {from} {}", dice.pick(&PRIVATE_ANSWERS)));
    }
    let mentioned = text.to_ascii_lowercase().contains(&me.to_ascii_lowercase());
    mentioned.then(|| format!("{from}: {}", dice.pick(&ANSWERS)))
}

/// One visit: take the name, then one move at a time while reading what comes, answering a
/// student who talks to it.
fn visit(
    stream: &TcpStream,
    script: &mut Script,
    greetings: &[&'static str],
    stop: &Receiver<()>,
) -> Visit {
    let mut stream_ref = stream;
    if stream_ref
        .write_all(format!("/nick {}\n", script.name()).as_bytes())
        .is_err()
    {
        return Visit::Ended;
    }
    let mut due = Instant::now() + script.dice.pause(FIRST_ACTION);
    let mut sink = [0u8; 4096];
    let mut lines = LineBuffer::default();
    let mut answers: Vec<(Instant, String)> = Vec::new();
    // Like a person, a bot says hello before anything else (never leaves straight away).
    let mut next = Move::Say(script.dice.pick(greetings));
    loop {
        if stopping(stop) {
            let _ = stream.shutdown(Shutdown::Both);
            return Visit::Stop;
        }
        let now = Instant::now();
        if let Some(at) = answers.iter().position(|(when, _)| *when <= now) {
            let (_, text) = answers.remove(at);
            if stream_ref
                .write_all(format!("{text}\n").as_bytes())
                .is_err()
            {
                return Visit::Ended;
            }
            continue;
        }
        if now >= due {
            if stream_ref.write_all(next.line().as_bytes()).is_err() {
                return Visit::Ended;
            }
            if next == Move::Leave {
                drain_until_closed(stream);
                return Visit::Left;
            }
            next = script.next_move();
            due = Instant::now() + script.dice.pause(PACE);
            continue;
        }
        let wake = answers
            .iter()
            .map(|(when, _)| *when)
            .fold(due, Instant::min);
        let _ = stream.set_read_timeout(Some(wake.saturating_duration_since(now).min(CHECK_STOP)));
        match stream_ref.read(&mut sink) {
            Ok(0) => return Visit::Ended,
            Ok(n) => {
                // Its name without `-afk`: a student mentions `bot-ada` either way.
                let me = script.name.clone();
                let dice = &mut script.dice;
                lines.feed(&sink[..n], |line| {
                    if answers.len() < ANSWERS_QUEUED {
                        if let Some(text) = answer(&me, line, dice) {
                            let when = Instant::now() + dice.pause(ANSWER_AFTER);
                            answers.push((when, text));
                        }
                    }
                });
            }
            Err(e) if is_timeout(&e) => {}
            Err(_) => return Visit::Ended,
        }
    }
}

/// After `/quit`: read the goodbye until the server closes, for a couple of seconds at most.
fn drain_until_closed(mut stream: &TcpStream) {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut sink = [0u8; 4096];
    while Instant::now() < deadline {
        let _ = stream.set_read_timeout(Some(CHECK_STOP));
        match stream.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => return,
        }
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// `bot-sleepy`'s receive buffer: small, so the room's output backs up into the server's queue
/// (where `/stats` shows it) within seconds instead of filling a large kernel buffer first.
const SLEEPY_RECEIVE_BUFFER: usize = 8 * 1024;

/// `bot-sleepy`: joins once, says so, then reads [`SLEEPY_BYTES`] a second until the room drops
/// it (or closes).
fn sleepy(target: SocketAddr, stop: &Receiver<()>, registry: &BotConnections) {
    // A small receive buffer; with the default one, it only takes longer to fall behind.
    let Ok((stream, _registered)) = connect(target, registry, Some(SLEEPY_RECEIVE_BUFFER)) else {
        return;
    };
    let mut stream_ref = &stream;
    let hello = format!(
        "/nick bot-sleepy\n/me will read only {SLEEPY_BYTES} bytes a second: watch /stats\n"
    );
    if stream_ref.write_all(hello.as_bytes()).is_err() {
        return;
    }
    let mut sip = [0u8; SLEEPY_BYTES];
    loop {
        if !wait(stop, Duration::from_secs(1)) {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        let _ = stream.set_read_timeout(Some(CHECK_STOP));
        match stream_ref.read(&mut sip) {
            Ok(0) => return, // disconnected: too slow, kicked, or the room closed
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => return,
        }
    }
}

/// How often `bot-paster` pastes a line: 4 a second, under the default rate limit (5 lines and
/// 10 KiB a second), so the room never holds it back.
const PASTE_EVERY: Duration = Duration::from_millis(250);

/// How long each pasted line is: 4 of them a second make about 6 KB a second for every member,
/// far more than `bot-sleepy`'s 64 bytes.
const PASTE_LINE: usize = 1500;

/// `bot-paster` stops after this long even if `bot-sleepy` is still there (a room run with a
/// higher `--rate-limit` may never drop it).
const PASTE_FOR: Duration = Duration::from_secs(90);

/// `bot-paster`: pastes a long log into the room at the rate limit, so `bot-sleepy`'s queue grows
/// (watch `/stats`) until the room drops it; then it says so and stops pasting.
fn paster(target: SocketAddr, stop: &Receiver<()>, registry: &BotConnections) {
    let Ok((stream, _registered)) = connect(target, registry, None) else {
        return;
    };
    let mut stream_ref = &stream;
    let hello = "/nick bot-paster\n/me pastes a long log, so bot-sleepy falls behind: watch \
                 /stats\n";
    if stream_ref.write_all(hello.as_bytes()).is_err() {
        return;
    }
    let started = Instant::now();
    let mut lines = LineBuffer::default();
    let mut sink = [0u8; 4096];
    let mut next = Instant::now() + PASTE_EVERY;
    let mut number = 0u64;
    let mut pasting = true;
    loop {
        if stopping(stop) {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        let now = Instant::now();
        if pasting && now >= next {
            number += 1;
            let head = format!("log line {number}: ");
            let body = "GET /index.html 200 ".repeat(PASTE_LINE / 20);
            if stream_ref
                .write_all(format!("{head}{body}\n").as_bytes())
                .is_err()
            {
                return;
            }
            next = now + PASTE_EVERY;
            if now.duration_since(started) > PASTE_FOR {
                pasting = false;
                let _ = stream_ref.write_all(b"/me stops pasting\n");
            }
            continue;
        }
        let wait = if pasting {
            next.saturating_duration_since(now).min(CHECK_STOP)
        } else {
            CHECK_STOP
        };
        let _ = stream.set_read_timeout(Some(wait));
        match stream_ref.read(&mut sink) {
            Ok(0) => return,
            Ok(n) => {
                let mut gone = false;
                lines.feed(&sink[..n], |line| {
                    // Dropped as too slow, or its connection given up on: either way, gone.
                    gone |= line.starts_with("*** bot-sleepy ")
                        && (line.contains(protocol::TOO_SLOW)
                            || line.contains(" left")
                            || line.contains(" lost the connection"));
                });
                if gone && pasting {
                    pasting = false;
                    let _ = stream_ref
                        .write_all(b"bot-sleepy could not keep up and is gone: I stop pasting\n");
                }
            }
            Err(e) if is_timeout(&e) => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_moves_and_another_seed_others() {
        let moves = |seed| {
            let mut script = Script::new(0, seed);
            (0..30).map(|_| script.next_move()).collect::<Vec<_>>()
        };
        assert_eq!(moves(7), moves(7));
        assert_ne!(moves(7), moves(8));
    }

    #[test]
    fn bots_of_one_room_do_not_say_the_same_things() {
        let moves = |index| {
            let mut script = Script::new(index, 7);
            (0..30).map(|_| script.next_move()).collect::<Vec<_>>()
        };
        assert_ne!(moves(0), moves(1));
    }

    #[test]
    fn names_say_they_are_bots_and_stay_valid_names() {
        for index in 0..50 {
            let mut script = Script::new(index, 1);
            let name = script.name();
            assert!(name.starts_with("bot-"), "{name}");
            for _ in 0..40 {
                if let Move::Rename(name) = script.next_move() {
                    assert!(name.starts_with("bot-"), "{name}");
                    assert!(
                        super::super::protocol::check_nick(name.as_bytes()).is_ok(),
                        "{name}"
                    );
                }
            }
        }
        assert_eq!(Script::new(10, 1).name(), "bot-ada2");
    }

    #[test]
    fn every_move_is_one_line_of_the_protocol() {
        let mut script = Script::new(3, 99);
        for _ in 0..100 {
            let line = script.next_move().line();
            assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        }
    }

    #[test]
    fn bots_join_over_loopback_of_the_listening_family() {
        let v4: SocketAddr = "0.0.0.0:5000".parse().unwrap();
        assert_eq!(target(v4).to_string(), "127.0.0.1:5000");
        let v6: SocketAddr = "[::]:5000".parse().unwrap();
        assert_eq!(target(v6).to_string(), "[::1]:5000");
        let one: SocketAddr = "127.0.0.5:5000".parse().unwrap();
        assert_eq!(target(one), one);
    }

    #[test]
    fn a_bot_answers_a_mention_or_a_private_message_from_a_person_only() {
        let mut dice = Dice::new(3);
        let mention = answer("bot-ada", "[alice] hey BOT-ADA, are you there?", &mut dice);
        assert!(mention.is_some_and(|text| text.starts_with("alice: ")));
        let private = answer("bot-ada", "[alice -> you] psst", &mut dice);
        assert!(private.is_some_and(|text| text.starts_with("/msg alice ")));
        assert_eq!(answer("bot-ada", "[alice] hello room", &mut dice), None);
        assert_eq!(answer("bot-ada", "[bot-grace] bot-ada?", &mut dice), None);
        assert_eq!(answer("bot-ada", "*** bot-ada joined", &mut dice), None);
        assert_eq!(answer("bot-ada", "[bot-ada] bot-ada", &mut dice), None);
    }

    #[test]
    fn lines_are_whole_however_the_reads_split_them() {
        let mut buffer = LineBuffer::default();
        let mut seen = Vec::new();
        buffer.feed(b"[alice] he", |line| seen.push(line.to_string()));
        buffer.feed(b"llo\r\n[bob] x\n[c", |line| seen.push(line.to_string()));
        assert_eq!(seen, ["[alice] hello", "[bob] x"]);
        buffer.feed(&vec![b'y'; BOT_LINE * 2], |line| {
            seen.push(line.to_string());
        });
        buffer.feed(b"\nok\n", |line| seen.push(line.to_string()));
        assert_eq!(seen, ["[alice] hello", "[bob] x", "ok"]);
    }

    #[test]
    fn seed_2_starts_with_talk_not_a_rename_or_a_break() {
        // tests/it/class.rs talks to bot-ada of `--seed 2` right after it joined.
        let mut script = Script::new(0, 2);
        for _ in 0..4 {
            let next = script.next_move();
            assert!(matches!(next, Move::Say(_) | Move::Me(_)), "{next:?}");
        }
    }

    #[test]
    fn dice_stay_in_range() {
        let mut dice = Dice::new(1);
        for _ in 0..1000 {
            let n = dice.between(PACE);
            assert!((PACE.0..PACE.1).contains(&n));
        }
    }
}
