//! The room's limits against a prankster: how fast a member may send, how many seats and new
//! connections one address may take, and who is banned.
//!
//! Pure rules, like the rest of the room's rules: time is passed in (`now`), nothing here reads a
//! clock or touches a socket, so every engine gets the same limits and the tests below run
//! without waiting. What an engine carries out is only "do not read this client until T".
//!
//! Why stop *reading* instead of dropping lines: TCP has flow control. While the server does not
//! read a member's socket, its receive buffer fills, its window closes, and the member's own
//! `write()` blocks. A flooder is slowed by its own kernel — nothing beyond the limit reaches the
//! room. What an engine had read before the pause reached it waits its turn, up to
//! [`HELD_LINES`]: a paste is delivered whole. Only a flood goes past that bound, and only then are
//! lines dropped (counted, and the flooder told), so the server's memory never grows with it.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::access::{AccessList, Network, Verdict};
use crate::endpoint::unmapped_ip;

/// Default for `--rate-limit`: sustained lines per second per member. A person typing sends a
/// line every few seconds; five a second is far above that, yet a flood (`yes | nc`, tens of
/// thousands of lines a second) is cut to a trickle.
pub const DEFAULT_RATE_LIMIT: u32 = 5;

/// How many lines a member may send at once before the sustained rate applies: a pasted snippet
/// of code or a short poem goes out whole.
pub const BURST_LINES: u32 = 20;

/// Bytes per second a member may make the room relay, per line of `--rate-limit`: 2 KiB, so
/// the default allows 10 KiB/s, i.e. five full lines of 80 columns each second with room to
/// spare. Counted as relayed, after escaping (one control byte shown as `\x01` costs four), and
/// answers count too (a `/who` of a big room is long): whatever the member makes the server send.
pub const BYTES_PER_LINE: u32 = 2048;

/// Bytes a member may make the room relay at once: room for a pasted snippet and for one line
/// of the longest kind. Lines are never cut to fit: a member may go into debt by one line, and
/// is not read again until the debt is paid back at the sustained rate.
pub const BURST_BYTES: u32 = 32 * 1024;

/// Default for `--max-per-address`: seats one address may always hold, however full the room
/// is. A student may open a second terminal, or test with nc beside the netchat client.
///
/// Beyond these, an address may take more seats while the room has many free: up to a third
/// of the seats, counting its own (an address holding `s` seats may take one more while
/// `s < (free seats) / 2`). A class behind one address (a school's NAT, a lab router, a room
/// in a VM) gets in with the defaults: 30 of 1,000 seats is far from a third. A script from
/// one address still cannot take every seat: two thirds are left for everyone else, and the
/// share shrinks as the room fills up.
pub const DEFAULT_MAX_PER_ADDRESS: u32 = 4;

/// New connections one address may open at once before the rate below applies: a class behind
/// one address where everyone connects at the teacher's "now" (30 students, a few pressing
/// Enter twice).
pub const CONNECT_BURST: u32 = 40;

/// New connections per second one address may open after its burst: a latecomer or two a
/// second behind one address, too few for connect/close churn to bury the room in notices.
pub const CONNECTS_PER_SECOND: u32 = 2;

/// What a connection that leaves again before it was announced (see [`SHORT_STAY`]) costs its
/// address on top of its arrival, in connections: churn (connect, close, again) uses up the
/// burst in a handful of tries, while a class that connects and stays pays one each. A refused
/// try costs nothing: a student pressing Enter again is not a prankster.
pub const CHURN_COST: u32 = 4;

/// A member held back by its rate limit without a break for this long, while sending more than
/// the room holds for it ([`HELD_LINES`]), is disconnected: a flood ends, and so does the backlog
/// a flooder leaves in the kernel's buffers (megabytes of `y` lines that would otherwise trickle
/// into the room for hours after the flooder quit). A paste the room holds whole is never cut
/// off, however long it takes to go out.
pub const FLOOD_CUTOFF: Duration = Duration::from_secs(60);

/// How long a member may be held back without a break before it is disconnected: a minute
/// ([`FLOOD_CUTOFF`]) once it sent more than the room holds for it (`overflowed`); otherwise a
/// minute more than its held lines take to go out at `rate`, so a paste the room holds whole is
/// never cut off.
pub fn flood_cutoff(rate: RateLimit, overflowed: bool) -> Duration {
    match rate {
        RateLimit::PerSecond { lines } if !overflowed => {
            FLOOD_CUTOFF + Duration::from_secs_f64(HELD_LINES as f64 / f64::from(lines.max(1)))
        }
        _ => FLOOD_CUTOFF,
    }
}

/// How many of a member's lines the rules hold while it is held back by its rate limit: lines an
/// engine read before the pause reached it (a whole `read` of a paste, or of a flood), let out in
/// order as the allowance refills. 500 lines (or [`HELD_BYTES`]) is a pasted program of eight
/// pages: it reaches everyone whole and in order, paced by the limits (at the default limit it
/// takes 100 s to go out, and is never cut off as a flood: see [`FLOOD_CUTOFF`]).
///
/// Beyond it (a flood: `yes` puts 32,768 lines in one 64 KiB read), the member's further lines
/// are dropped, not relayed: counted in `/stats` (`dropped`), the member is told once per
/// episode, and once its held lines went out the room reads one line saying how much of its
/// message was not relayed. Without this bound, every read while the member is held back would
/// add to what the server holds, for as long as the flood lasts.
pub const HELD_LINES: usize = 500;

/// The same bound on the bytes of the held lines: a handful of lines of the longest kind
/// (`--max-line`, 8 KiB by default) or a page of chat. One line always fits, however long.
pub const HELD_BYTES: usize = 64 * 1024;

/// Once a member's held lines overflowed, the pace at which it is read on: at most this many
/// lines a second, and at most [`DRAIN_BYTES_PER_SECOND`]; what is read is dropped (see
/// [`HELD_LINES`]).
///
/// Why read at all, if it is dropped: a flooder's last megabytes wait in the kernel buffers
/// between the two machines, ahead of its FIN. Read at the rate limit they would trickle into
/// the room long after the flooder quit (until [`FLOOD_CUTOFF`]); read and dropped at this pace
/// (`yes` sends 400 KB a second of it) they are gone in seconds, the engine sees the FIN, and
/// the room hears that the flooder left. The pace, not the flooder, bounds what this costs: a
/// few percent of one core per flooder (each dropped line is still cut out and counted).
pub const DRAIN_LINES_PER_SECOND: u32 = 200_000;

/// The same pace in bytes: 1 MiB a second.
pub const DRAIN_BYTES_PER_SECOND: u32 = 1024 * 1024;

/// How much reading time one dropped line of `len` bytes (and its newline) costs at the drain
/// pace: the engine is not to read the member again before the sum of these has passed.
pub fn drain_cost(len: usize) -> Duration {
    let by_lines = 1.0 / f64::from(DRAIN_LINES_PER_SECOND);
    let by_bytes = (len + 1) as f64 / f64::from(DRAIN_BYTES_PER_SECOND);
    Duration::from_secs_f64(by_lines.max(by_bytes))
}

/// How far the drain may run ahead of the pause an engine was last given before it is given a
/// new one: one `Pause` per 10 ms of reading time, not one per dropped line (one read of `yes`
/// is 32,768 of them).
pub const DRAIN_STEP: Duration = Duration::from_millis(10);

/// A member who leaves within this time of joining was never announced (see the rules' join),
/// so its leaving is not announced either: churn stays off everyone's screen.
pub const SHORT_STAY: Duration = Duration::from_secs(1);

/// The practice bots' own connections, by source address and port: each bot adds its socket's
/// address before it connects and takes it out when the visit ends (bots.rs), and the door lets
/// exactly those past the per-address limits (`Admission::admit_peer`). Shared between the bot
/// threads and the room's owner, hence the lock: a handful of entries, touched once a visit.
#[derive(Debug, Clone, Default)]
pub struct BotConnections(Arc<Mutex<HashSet<SocketAddr>>>);

impl BotConnections {
    pub fn insert(&self, addr: SocketAddr) {
        self.lock().insert(unmapped(addr));
    }

    pub fn remove(&self, addr: SocketAddr) {
        self.lock().remove(&unmapped(addr));
    }

    pub fn contains(&self, addr: SocketAddr) -> bool {
        self.lock().contains(&unmapped(addr))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<SocketAddr>> {
        // A set of addresses cannot be left half-changed: a panicked holder left a valid one.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `[::ffff:a.b.c.d]:p` as `a.b.c.d:p`: a bot's socket on an IPv4-mapped address and the
/// server's view of it name one connection.
fn unmapped(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(unmapped_ip(addr.ip()), addr.port())
}

/// How a member's sending is limited: `--rate-limit N`, or `Off` with `--rate-limit 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateLimit {
    /// No limit: for load tests and benchmarks.
    Off,
    /// Sustained `lines` per second, with bytes scaled from it (see [`BYTES_PER_LINE`]).
    PerSecond { lines: u32 },
}

impl RateLimit {
    /// `--rate-limit N`: `0` turns limits off.
    pub fn from_option(lines: u32) -> RateLimit {
        if lines == 0 {
            RateLimit::Off
        } else {
            RateLimit::PerSecond { lines }
        }
    }

    fn rates(self) -> Option<(f64, f64)> {
        match self {
            RateLimit::Off => None,
            RateLimit::PerSecond { lines } => Some((
                f64::from(lines),
                f64::from(lines) * f64::from(BYTES_PER_LINE),
            )),
        }
    }
}

/// What the rules decide after a member's line was charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// Within the limit: read on.
    Go,
    /// Over the limit: do not read this member again before `until`. `new_episode` is true for
    /// the first pause after the member had been within its limit: only then is it told (and the
    /// host's console too), so a flood costs one notice, not one per line.
    Pause { until: Instant, new_episode: bool },
}

/// One token bucket: it holds up to `burst` tokens and refills at `rate` tokens a second, time
/// passed in. The one place that refills: a member's lines and bytes ([`Bucket`]) and each
/// address's new connections ([`Admission`]) are each one of these.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn full(burst: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            tokens: burst,
            updated: now,
        }
    }

    /// How many tokens it would hold at `now`, without changing it.
    pub fn level_at(&self, rate: f64, burst: f64, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        (self.tokens + elapsed * rate).min(burst)
    }

    /// Adds what `now` brought since the last refill, up to the burst; the tokens it holds.
    pub fn refill(&mut self, rate: f64, burst: f64, now: Instant) -> f64 {
        self.tokens = self.level_at(rate, burst, now);
        self.updated = now;
        self.tokens
    }

    /// Takes `amount` out, going into debt if need be, but never below `floor`.
    pub fn take(&mut self, amount: f64, floor: f64) {
        self.tokens = (self.tokens - amount).max(floor);
    }
}

// ANCHOR: bucket
/// A token bucket on lines and on bytes: each holds up to its burst, refills at its sustained
/// rate, and every line a member sends takes one line and its relayed bytes out of it. A bucket
/// may go below zero by one line (lines are never cut); then the member is paused until both
/// are back at zero. On average nothing passes beyond the sustained rate.
#[derive(Debug, Clone)]
pub struct Bucket {
    lines: TokenBucket,
    bytes: TokenBucket,
    /// In a limited episode: paused at least once since the buckets were last full.
    limited: bool,
    /// When the current limited episode began.
    since: Option<Instant>,
}

impl Bucket {
    /// A full bucket: a newcomer may paste at once.
    pub fn new(now: Instant) -> Bucket {
        Bucket {
            lines: TokenBucket::full(f64::from(BURST_LINES), now),
            bytes: TokenBucket::full(f64::from(BURST_BYTES), now),
            limited: false,
            since: None,
        }
    }

    /// How long the member has been held back without a break (zero when it is not).
    pub fn limited_for(&self, now: Instant) -> Duration {
        self.since
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }

    /// Whether the member is in a limited episode (for `/stats`).
    pub fn is_limited(&self) -> bool {
        self.limited
    }

    /// Takes one line of `bytes` relayed bytes out of the bucket, and says whether to read on.
    pub fn charge(&mut self, limit: RateLimit, now: Instant, bytes: usize) -> Charge {
        self.take(limit, now, 1.0, bytes)
    }

    /// Takes `bytes` that were read but made no line (an over-long line's, an unfinished
    /// line's) out of the byte bucket, and says whether to read on: every byte read is charged,
    /// or a member could make the server read gigabytes of lines it never relays.
    pub fn charge_unframed(&mut self, limit: RateLimit, now: Instant, bytes: usize) -> Charge {
        self.take(limit, now, 0.0, bytes)
    }

    /// Gives back `bytes` charged earlier as an unfinished line's, now that the line ended and
    /// is charged as a line (so no byte is charged twice). Never above the burst.
    pub fn refund(&mut self, limit: RateLimit, now: Instant, bytes: usize) {
        let Some((_, byte_rate)) = limit.rates() else {
            return;
        };
        let burst = f64::from(BURST_BYTES);
        let level = self.bytes.refill(byte_rate, burst, now);
        self.bytes.tokens = (level + bytes as f64).min(burst);
    }

    /// Whether both buckets are full at `now`: the member kept within its limit long enough
    /// for any episode to be over. Always, with limits off.
    pub fn is_full(&self, limit: RateLimit, now: Instant) -> bool {
        let Some((line_rate, byte_rate)) = limit.rates() else {
            return true;
        };
        self.lines.level_at(line_rate, f64::from(BURST_LINES), now) >= f64::from(BURST_LINES)
            && self.bytes.level_at(byte_rate, f64::from(BURST_BYTES), now) >= f64::from(BURST_BYTES)
    }

    fn take(&mut self, limit: RateLimit, now: Instant, lines: f64, bytes: usize) -> Charge {
        let Some((line_rate, byte_rate)) = limit.rates() else {
            return Charge::Go;
        };
        let (burst_lines, burst_bytes) = (f64::from(BURST_LINES), f64::from(BURST_BYTES));
        let line_level = self.lines.refill(line_rate, burst_lines, now);
        let byte_level = self.bytes.refill(byte_rate, burst_bytes, now);
        // Full again: the member kept within its limit long enough, the episode is over.
        if line_level >= burst_lines && byte_level >= burst_bytes {
            self.limited = false;
            self.since = None;
        }
        // Lines are never cut: a line may take a bucket below zero (no floor).
        self.lines.take(lines, f64::NEG_INFINITY);
        self.bytes.take(bytes as f64, f64::NEG_INFINITY);
        let (lines, bytes) = (self.lines.tokens, self.bytes.tokens);
        if lines >= 0.0 && bytes >= 0.0 {
            return Charge::Go;
        }
        let wait = (-lines / line_rate).max(-bytes / byte_rate).max(0.0);
        let new_episode = !self.limited;
        self.limited = true;
        if new_episode {
            self.since = Some(now);
        }
        Charge::Pause {
            until: now + Duration::from_secs_f64(wait),
            new_episode,
        }
    }
}
// ANCHOR_END: bucket

/// The room's shared output, in bytes a second: what every member's messages together may make
/// the room relay. An honest reader on a slow link (64 KiB/s) must keep up with the room however
/// many members send within their own limits (32 seats at 10 KiB/s each would be 320 KiB/s); 48
/// KiB/s leaves a quarter of that link for notices and answers, and is still ten pages of chat a
/// second. Shared fairly among the speakers ([`SharedOutput`]).
pub const ROOM_BYTES_PER_SECOND: u32 = 48 * 1024;

/// What the room may relay at once, before its shared rate applies: one pasted page (64 KiB)
/// from one speaker, or a share of it each when several speak at once.
pub const ROOM_BURST_BYTES: u32 = 64 * 1024;

/// A speaker who relayed nothing for this long no longer counts when the room's output is shared.
pub const SPEAKER_QUIET: Duration = Duration::from_secs(10);

/// Who gets a share of the room's output ([`SharedOutput`]): an address, when seats are limited
/// per address (one person's four terminals, or a prankster's four seats, are one speaker, so
/// seats cannot buy a bigger share); each member, when `--max-per-address 0` says that an address
/// is not a person (a class behind one NAT address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Speaker {
    Address(IpAddr),
    Member(u64),
}

/// The room's total relayed output, bounded ([`ROOM_BYTES_PER_SECOND`]) and shared fairly: each
/// speaker active in the last [`SPEAKER_QUIET`] has a token bucket of an equal share of the rate
/// and the burst. A speaker over its share is not read until its share refills (like a member
/// over its own limit); the others' shares are untouched, so one speaker, however many seats it
/// holds, cannot take another's.
#[derive(Debug, Default)]
pub struct SharedOutput {
    speakers: HashMap<Speaker, (TokenBucket, Instant)>,
}

impl SharedOutput {
    /// Charges `bytes` relayed for `speaker` at `now`; `Some(until)` if it is over its share and
    /// must not be read before then. Nothing with limits off (`--rate-limit 0`).
    // ANCHOR: fair_share
    pub fn charge(
        &mut self,
        limit: RateLimit,
        speaker: Speaker,
        bytes: usize,
        now: Instant,
    ) -> Option<Instant> {
        if limit == RateLimit::Off || bytes == 0 {
            return None;
        }
        // Forget the speakers who went quiet: the active ones share the whole room.
        self.speakers
            .retain(|_, (_, last)| now.saturating_duration_since(*last) < SPEAKER_QUIET);
        let sharing = self.speakers.len() + usize::from(!self.speakers.contains_key(&speaker));
        let rate = f64::from(ROOM_BYTES_PER_SECOND) / sharing as f64;
        let burst = f64::from(ROOM_BURST_BYTES) / sharing as f64;
        let (bucket, last) = self
            .speakers
            .entry(speaker)
            .or_insert((TokenBucket::full(burst, now), now));
        *last = now;
        bucket.refill(rate, burst, now);
        // Like a member's own bucket: a line is never cut, it may take the share into debt.
        bucket.take(bytes as f64, f64::NEG_INFINITY);
        let tokens = bucket.tokens;
        (tokens < 0.0).then(|| now + Duration::from_secs_f64(-tokens / rate))
    }
    // ANCHOR_END: fair_share

    /// How many speakers share the room's output now, and each one's share in bytes a second
    /// (for `/stats`).
    pub fn shares(&self, now: Instant) -> (usize, u32) {
        let active = self
            .speakers
            .values()
            .filter(|(_, last)| now.saturating_duration_since(*last) < SPEAKER_QUIET)
            .count();
        (active, ROOM_BYTES_PER_SECOND / active.max(1) as u32)
    }
}

/// The limits a room is run with (`--rate-limit`, `--max-per-address`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub rate: RateLimit,
    /// 0 lifts the per-address limits (seats and connection rate).
    pub max_per_address: u32,
}

impl Default for Limits {
    /// The limits a room gets unless told otherwise: a prankster cannot ruin it.
    fn default() -> Self {
        Limits {
            rate: RateLimit::PerSecond {
                lines: DEFAULT_RATE_LIMIT,
            },
            max_per_address: DEFAULT_MAX_PER_ADDRESS,
        }
    }
}

impl Limits {
    /// No limits at all: for load tests and benchmarks (`--rate-limit 0 --max-per-address 0`).
    pub fn off() -> Limits {
        Limits {
            rate: RateLimit::Off,
            max_per_address: 0,
        }
    }
}

/// The start-up card's one line of every limit that can refuse a student at the door, with the
/// option that sets each: e.g. `the door: 1000 seats (--max-clients); one address: 4 seats, more
/// while many are free, 40 connections at once, then 2 a second (--max-per-address, --lab)`.
pub fn describe_door(max_clients: usize, limits: &Limits, labs: &[Network]) -> String {
    let per_address = if limits.max_per_address == 0 {
        "no per-address limit (--max-per-address 0)".to_string()
    } else {
        let labs = match labs {
            [] => String::new(),
            labs => format!(
                ", none for {}",
                labs.iter()
                    .map(Network::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        format!(
            "one address: {} seats, more while many are free, {CONNECT_BURST} connections at \
             once, then {CONNECTS_PER_SECOND} a second{labs} (--max-per-address, --lab)",
            limits.max_per_address
        )
    };
    format!("the door: {max_clients} seats (--max-clients); {per_address}")
}

/// How often, at most, the console gets a line about refused connections: a storm of them
/// (a script retrying in a loop) is counted, not printed line by line.
pub const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(1);

/// Refused connections, counted for the console: the first of a storm is shown at once, with
/// its reason and what the host can do; then at most one line a second sums up the others,
/// counted per reason and address (`refused 12 more: 10 from 127.0.0.2 (too fast), …`).
#[derive(Debug, Default)]
pub struct Refusals {
    /// Refusals not yet reported, by address and reason, in the order first seen (at most
    /// [`PENDING_PARTS`] of them: a storm from many addresses is counted in `others`).
    pending: Vec<(IpAddr, RefusalKind, u64)>,
    /// Refusals not yet reported beyond those.
    others: u64,
    /// When the last report was.
    last: Option<Instant>,
}

/// Beyond this many addresses and reasons in one summary, the rest are one count.
const SUMMARY_PARTS: usize = 6;

/// How many addresses and reasons are counted apart between two summaries: a storm from
/// thousands of addresses costs a bounded list, and each refusal a bounded search.
const PENDING_PARTS: usize = 64;

impl Refusals {
    /// Counts a refused connection from `ip`; the console's line for it, if one is due now.
    pub fn count(&mut self, ip: IpAddr, refusal: &Refusal, now: Instant) -> Option<String> {
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= REFUSAL_LOG_EVERY);
        if due && self.pending.is_empty() && self.others == 0 {
            self.last = Some(now);
            return Some(format!(
                "refused a connection from {ip}: {refusal} ({})",
                refusal.kind().host_hint()
            ));
        }
        let kind = refusal.kind();
        let room = self.pending.len() < PENDING_PARTS;
        match self
            .pending
            .iter_mut()
            .find(|(at, k, _)| *at == ip && *k == kind)
        {
            Some((_, _, n)) => *n += 1,
            None if room => self.pending.push((ip, kind, 1)),
            None => self.others += 1,
        }
        if !due {
            return None;
        }
        self.last = Some(now);
        self.summary()
    }

    /// When a summary of the refusals counted since the last line is due, if any are.
    pub fn deadline(&self) -> Option<Instant> {
        if self.pending.is_empty() && self.others == 0 {
            return None;
        }
        // Something is pending only after a first line was shown, so `last` is set.
        self.last.map(|last| last + REFUSAL_LOG_EVERY)
    }

    /// The summary line, if refusals are pending and one line a second allows it now.
    pub fn due(&mut self, now: Instant) -> Option<String> {
        match self.deadline() {
            Some(at) if at <= now => {
                self.last = Some(now);
                self.summary()
            }
            _ => None,
        }
    }

    /// The line summing up what is pending, whatever the time (the room is closing).
    pub fn summary(&mut self) -> Option<String> {
        if self.pending.is_empty() && self.others == 0 {
            return None;
        }
        let total: u64 = self.pending.iter().map(|(_, _, n)| n).sum::<u64>() + self.others;
        let mut parts: Vec<String> = self
            .pending
            .iter()
            .take(SUMMARY_PARTS)
            .map(|(ip, kind, n)| format!("{n} from {ip} ({})", kind.label()))
            .collect();
        let rest: u64 = self
            .pending
            .iter()
            .skip(SUMMARY_PARTS)
            .map(|(_, _, n)| n)
            .sum::<u64>()
            + self.others;
        if rest > 0 {
            parts.push(format!("{rest} from other addresses"));
        }
        let mut hints: Vec<&str> = Vec::new();
        for (_, kind, _) in &self.pending {
            let hint = kind.host_hint();
            if !hints.contains(&hint) {
                hints.push(hint);
            }
        }
        self.pending.clear();
        self.others = 0;
        let s = if total == 1 { "" } else { "s" };
        Some(format!(
            "refused {total} more connection{s}: {} ({})",
            parts.join(", "),
            hints.join("; ")
        ))
    }
}

/// Why a connection was refused, without its details: what the console's summary counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    Banned,
    Seats,
    TooFast,
    Denied,
    NotAllowed,
    Full,
}

impl RefusalKind {
    /// A word or two for the console's summary.
    pub fn label(self) -> &'static str {
        match self {
            RefusalKind::Banned => "banned",
            RefusalKind::Seats => "its share of seats",
            RefusalKind::TooFast => "too fast",
            RefusalKind::Denied => "denied",
            RefusalKind::NotAllowed => "not allowed",
            RefusalKind::Full => "room full",
        }
    }

    /// What the host can do about it.
    fn host_hint(self) -> &'static str {
        match self {
            RefusalKind::Seats | RefusalKind::TooFast => {
                "a class behind one address: --lab NETWORK or /limit seats 0"
            }
            RefusalKind::Banned => "/unban lets it in",
            RefusalKind::Denied | RefusalKind::NotAllowed => "--allow, --deny",
            RefusalKind::Full => "/limit clients N makes room",
        }
    }
}

/// Why a connection is not let in. The text is what it is told before it is closed: what the
/// student can do about it, for nc and telnet as much as for netchat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The host banned this address (`/ban`).
    Banned,
    /// This address already holds `held` seats, its share (`--max-per-address`, and a share of
    /// the free seats beyond it).
    TooManySeats { held: u32 },
    /// This address opened connections too fast.
    TooFast,
    /// In a `--deny` network (access.rs).
    Denied { ip: IpAddr, network: Network },
    /// `--allow` was given and this address is in none of its networks.
    NotAllowed { ip: IpAddr },
    /// Every seat is taken (`--max-clients`, or `/limit clients`).
    Full { max: usize },
}

impl Refusal {
    /// The reason, without its details.
    pub fn kind(&self) -> RefusalKind {
        match self {
            Refusal::Banned => RefusalKind::Banned,
            Refusal::TooManySeats { .. } => RefusalKind::Seats,
            Refusal::TooFast => RefusalKind::TooFast,
            Refusal::Denied { .. } => RefusalKind::Denied,
            Refusal::NotAllowed { .. } => RefusalKind::NotAllowed,
            Refusal::Full { .. } => RefusalKind::Full,
        }
    }
}

/// What a student behind a shared address can do: the host can let the class in.
const SHARED_ADDRESS_HINT: &str = "your class may share one address: ask the host";

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Banned => f.write_str("the host has banned your address from this room"),
            Refusal::TooManySeats { held } => write!(
                f,
                "your address already has {held} connections in this room, as many as one \
                 address may take now; close one to join, or, if {SHARED_ADDRESS_HINT}"
            ),
            Refusal::TooFast => write!(
                f,
                "your address opened too many connections in a short time; wait a few \
                 seconds and join again ({SHARED_ADDRESS_HINT})"
            ),
            Refusal::Denied { ip, network } => write!(
                f,
                "this room does not admit {ip} (the host denied {network}); ask the host \
                 if that is a mistake"
            ),
            Refusal::NotAllowed { ip } => write!(
                f,
                "this room admits only the class's network, and {ip} is not in it; join \
                 from the lab's network or ask the host"
            ),
            Refusal::Full { max } => write!(f, "the room is full ({max} people); try again later"),
        }
    }
}

/// What one address holds: its seats and its connection bucket.
#[derive(Debug)]
struct Visitor {
    seats: u32,
    /// New connections: [`CONNECT_BURST`] at once, then [`CONNECTS_PER_SECOND`].
    connects: TokenBucket,
}

// ANCHOR: admission
/// Who may come in, by address: bans, `--allow`/`--deny`, seats per address, new connections
/// per second.
///
/// One place for every per-address decision, so every engine asks the same question:
/// [`Admission::admit`] when a connection arrives, [`Admission::release`] when it leaves.
#[derive(Debug)]
pub struct Admission {
    /// `--max-per-address`: seats an address always may hold; 0 lifts both per-address limits
    /// (seats and connection rate).
    max_per_address: u32,
    /// `--max-clients` (or `/limit clients`): the room's seats, of which an address may take a
    /// share.
    capacity: u32,
    /// Seats taken, from every address.
    taken: u32,
    visitors: HashMap<IpAddr, Visitor>,
    /// `/ban`: the name each address was banned as, and until when (`None`: until the room
    /// closes).
    banned: HashMap<IpAddr, (String, Option<Instant>)>,
    /// `--allow` and `--deny` (access.rs).
    access: AccessList,
    /// The practice bots' own connections (`--bots`), by their exact source address and port:
    /// no seat or connection-rate limit, and past `--allow`.
    exempt: BotConnections,
    /// The table's size at which idle addresses are next forgotten.
    sweep_at: usize,
}

/// Below this many addresses the table is never swept: a class fits without any sweeping.
const SWEEP_MIN: usize = 256;

impl Admission {
    pub fn new(max_per_address: u32) -> Admission {
        Admission {
            max_per_address,
            capacity: u32::MAX,
            taken: 0,
            visitors: HashMap::new(),
            banned: HashMap::new(),
            access: AccessList::default(),
            exempt: BotConnections::default(),
            sweep_at: SWEEP_MIN,
        }
    }

    /// Whether seats are limited for `ip` (`--max-per-address` is not 0, and `ip` is in no
    /// `--lab` network): then that address is taken for one person.
    pub fn limits_seats(&self, ip: IpAddr) -> bool {
        !self.unlimited(unmapped_ip(ip))
    }

    /// Sets `--allow`, `--deny` and `--lab`.
    pub fn set_access(&mut self, access: AccessList) {
        self.access = access;
    }

    /// `--allow` and `--deny`, for a refusal decided outside (a full room).
    pub fn access(&self) -> &AccessList {
        &self.access
    }

    /// Sets the room's seats (`--max-clients`, `/limit clients`), of which an address may take
    /// a share.
    pub fn set_capacity(&mut self, seats: usize) {
        self.capacity = u32::try_from(seats).unwrap_or(u32::MAX);
    }

    /// Sets `--max-per-address` (`/limit seats`).
    pub fn set_max_per_address(&mut self, seats: u32) {
        self.max_per_address = seats;
    }

    /// `--max-per-address` now.
    pub fn max_per_address(&self) -> u32 {
        self.max_per_address
    }

    /// Leaves the practice bots' own connections out of the per-address limits (seats and
    /// connection rate) and `--allow`: each bot registers its socket's address and port before
    /// it connects (bots.rs). Bans and `--deny` still apply. Any other connection from the same
    /// address (a student on the teacher's machine, a script) meets every rule.
    pub fn exempt(&mut self, bots: BotConnections) {
        self.exempt = bots;
    }

    /// A connection from `peer` arrived: let it in or say why not; `Ok(true)` for one of the
    /// bots' own connections, which holds no seat of its address.
    pub fn admit_peer(&mut self, peer: SocketAddr, now: Instant) -> Result<bool, Refusal> {
        let ip = unmapped_ip(peer.ip());
        if !self.exempt.contains(SocketAddr::new(ip, peer.port())) {
            return self.admit(ip, now).map(|()| false);
        }
        if self.banned.contains_key(&ip) {
            return Err(Refusal::Banned);
        }
        if let Verdict::Denied(network) = self.access.decide(ip) {
            return Err(Refusal::Denied { ip, network });
        }
        Ok(true)
    }

    /// Whether the per-address limits leave `ip` alone: a `--lab` network, or no per-address
    /// limit at all. (The bots' own connections never reach here: [`Admission::admit_peer`].)
    fn unlimited(&self, ip: IpAddr) -> bool {
        self.max_per_address == 0 || self.access.lab.iter().any(|lab| lab.contains(ip))
    }

    /// Whether an address holding `held` seats may take one more: always up to
    /// `--max-per-address`; beyond it, while it holds less than half of the free seats.
    fn may_seat(&self, held: u32) -> bool {
        let free = self.capacity.saturating_sub(self.taken);
        held < self.max_per_address || held < free / 2
    }

    /// A connection from `ip` arrived: let it in (and count its seat) or say why not.
    pub fn admit(&mut self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        // `::ffff:a.b.c.d` (an IPv4 client of a dual-stack listener) is `a.b.c.d`: one address,
        // one set of seats and one ban, however the socket reported it.
        let ip = unmapped_ip(ip);
        if let Some((_, until)) = self.banned.get(&ip) {
            if until.is_none_or(|until| now < until) {
                return Err(Refusal::Banned);
            }
            self.banned.remove(&ip);
        }
        // ANCHOR: access_at_the_door
        match self.access.decide(ip) {
            Verdict::Admit => {}
            Verdict::Denied(network) => return Err(Refusal::Denied { ip, network }),
            Verdict::NotAllowed => return Err(Refusal::NotAllowed { ip }),
        }
        // ANCHOR_END: access_at_the_door
        // The room's seats (`/limit clients`; the engine refuses beyond `--max-clients` before
        // the room hears of a connection). Asked after `--allow`/`--deny`, so an outsider is
        // told it is not admitted rather than that the room is full.
        if self.taken >= self.capacity {
            return Err(Refusal::Full {
                max: self.capacity as usize,
            });
        }
        if self.visitors.len() >= self.sweep_at {
            self.forget_idle(now);
        }
        let unlimited = self.unlimited(ip);
        let (rate, burst) = (f64::from(CONNECTS_PER_SECOND), f64::from(CONNECT_BURST));
        let held = self.visitors.get(&ip).map_or(0, |v| v.seats);
        let may_seat = unlimited || self.may_seat(held);
        let visitor = self.visitors.entry(ip).or_insert(Visitor {
            seats: 0,
            connects: TokenBucket::full(burst, now),
        });
        if !unlimited {
            // A refused try costs nothing: a student pressing Enter again, or a classmate
            // behind the same address, is not kept out longer for it.
            if !may_seat {
                return Err(Refusal::TooManySeats { held });
            }
            if visitor.connects.refill(rate, burst, now) < 1.0 {
                return Err(Refusal::TooFast);
            }
            visitor.connects.take(1.0, -burst);
        }
        visitor.seats += 1;
        self.taken += 1;
        Ok(())
    }

    /// A member from `ip` left: its seat is free. `churned`: it left before it was announced
    /// (connect, close), which costs its address [`CHURN_COST`] more connections.
    pub fn release(&mut self, ip: IpAddr, churned: bool) {
        if let Some(visitor) = self.visitors.get_mut(&unmapped_ip(ip)) {
            if visitor.seats > 0 {
                self.taken = self.taken.saturating_sub(1);
            }
            visitor.seats = visitor.seats.saturating_sub(1);
            if churned {
                visitor
                    .connects
                    .take(f64::from(CHURN_COST), -f64::from(CONNECT_BURST));
            }
        }
    }

    /// `/ban`: refuse this address from now until `until` (`None`: until the room closes).
    /// `nick` is remembered for the host's `/unban` answer.
    pub fn ban(&mut self, ip: IpAddr, nick: &str, until: Option<Instant>) {
        self.banned
            .insert(unmapped_ip(ip), (nick.to_string(), until));
    }

    /// `/unban`: the name the address was banned under, if it was.
    pub fn unban(&mut self, ip: IpAddr) -> Option<String> {
        self.banned.remove(&unmapped_ip(ip)).map(|(nick, _)| nick)
    }

    /// The banned addresses, for `/unban` without an argument.
    pub fn banned(&self) -> impl Iterator<Item = (&IpAddr, &String)> {
        self.banned.iter().map(|(ip, (nick, _))| (ip, nick))
    }

    /// The room's seats now (`--max-clients`, `/limit clients`).
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Forgets the addresses with no seat and a full connection bucket, so that a crowd of
    /// one-time visitors does not grow the table. Done when the table has doubled since the last
    /// time, so it costs a constant amount per connection, however many there are.
    fn forget_idle(&mut self, now: Instant) {
        let (rate, burst) = (f64::from(CONNECTS_PER_SECOND), f64::from(CONNECT_BURST));
        self.visitors
            .retain(|_, v| v.seats > 0 || v.connects.level_at(rate, burst, now) < burst);
        self.sweep_at = (self.visitors.len() * 2).max(SWEEP_MIN);
    }
}
// ANCHOR_END: admission

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE: RateLimit = RateLimit::PerSecond { lines: 5 };

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_speaker_over_its_share_of_the_room_never_takes_another_speakers_share() {
        let now = Instant::now();
        let mut output = SharedOutput::default();
        let (flooder, alice) = (
            Speaker::Address(IpAddr::from([10, 0, 0, 1])),
            Speaker::Address(IpAddr::from([10, 0, 0, 2])),
        );
        // Alone, a speaker has the room's whole burst.
        assert_eq!(output.charge(FIVE, flooder, 60_000, now), None);
        // Once it is beyond it, it waits for its share to refill, however many seats send.
        let Some(until) = output.charge(FIVE, flooder, 8_000, now) else {
            panic!("the flooder went past the room's burst");
        };
        assert!(until > now);
        // Another speaker has its own share: nothing the flooder took is missing from it.
        assert_eq!(output.charge(FIVE, alice, 2_000, now), None);
        assert_eq!(output.shares(now), (2, ROOM_BYTES_PER_SECOND / 2));
        // With limits off, nothing is shared out.
        assert_eq!(output.charge(RateLimit::Off, flooder, 1 << 30, now), None);
        // A speaker quiet for a while no longer counts.
        assert_eq!(output.shares(now + SPEAKER_QUIET).0, 0);
    }

    #[test]
    fn a_pasted_snippet_passes_at_once() {
        let now = Instant::now();
        let mut bucket = Bucket::new(now);
        for _ in 0..BURST_LINES {
            assert_eq!(bucket.charge(FIVE, now, 80), Charge::Go);
        }
    }

    #[test]
    fn a_flood_is_paused_once_per_episode_at_the_sustained_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::new(start);
        for _ in 0..BURST_LINES {
            bucket.charge(FIVE, start, 10);
        }
        let Charge::Pause { until, new_episode } = bucket.charge(FIVE, start, 10) else {
            panic!("line 21 in no time must pause");
        };
        assert!(new_episode);
        // One line in debt at 5 lines/s: a fifth of a second.
        assert_eq!(until - start, Duration::from_millis(200));
        // Read on at `until`: the next line pauses again, but it is the same episode.
        let Charge::Pause { new_episode, .. } = bucket.charge(FIVE, until, 10) else {
            panic!("still flooding");
        };
        assert!(!new_episode);
        assert!(bucket.is_limited());
        // Quiet long enough to refill completely: the episode is over.
        let later = until + Duration::from_secs(60);
        assert_eq!(bucket.charge(FIVE, later, 10), Charge::Go);
        assert!(!bucket.is_limited());
        assert_eq!(bucket.limited_for(later), Duration::ZERO);
    }

    #[test]
    fn a_flood_that_never_lets_up_is_measured_from_its_start() {
        let start = Instant::now();
        let mut bucket = Bucket::new(start);
        let mut now = start;
        for _ in 0..1000 {
            if let Charge::Pause { until, .. } = bucket.charge(FIVE, now, 2) {
                now = until;
            }
        }
        // 1000 lines at 5 a second, after a burst of 20: held back for about 196 s, no break.
        assert!(bucket.limited_for(now) > Duration::from_secs(190));
    }

    #[test]
    fn long_lines_are_limited_by_their_bytes() {
        let start = Instant::now();
        let mut bucket = Bucket::new(start);
        // One 32 KiB line (8 KB of control bytes, escaped) passes: lines are never cut.
        assert_eq!(bucket.charge(FIVE, start, 32 * 1024), Charge::Go);
        let Charge::Pause { until, .. } = bucket.charge(FIVE, start, 32 * 1024) else {
            panic!("the second one in no time must pause");
        };
        // 32 KiB of debt at 10 KiB/s.
        assert_eq!(until - start, Duration::from_secs_f64(3.2));
    }

    #[test]
    fn no_limit_means_no_pause() {
        let now = Instant::now();
        let mut bucket = Bucket::new(now);
        for _ in 0..100_000 {
            assert_eq!(bucket.charge(RateLimit::Off, now, 100_000), Charge::Go);
        }
        assert_eq!(RateLimit::from_option(0), RateLimit::Off);
    }

    #[test]
    fn one_address_gets_a_handful_of_seats_in_a_full_room() {
        let now = Instant::now();
        let mut door = Admission::new(2);
        door.set_capacity(4);
        let script = ip("127.0.0.2");
        assert_eq!(door.admit(script, now), Ok(()));
        assert_eq!(door.admit(script, now), Ok(()));
        assert_eq!(
            door.admit(script, now),
            Err(Refusal::TooManySeats { held: 2 })
        );
        // Another address is not affected, and a freed seat can be taken again.
        assert_eq!(door.admit(ip("127.0.0.1"), now), Ok(()));
        door.release(script, false);
        assert_eq!(door.admit(script, now), Ok(()));
    }

    #[test]
    fn a_class_behind_one_address_gets_in_and_a_script_not_every_seat() {
        let now = Instant::now();
        let mut door = Admission::new(DEFAULT_MAX_PER_ADDRESS);
        door.set_capacity(1000);
        let lab = ip("127.0.0.2");
        for _ in 0..30 {
            assert_eq!(door.admit(lab, now), Ok(()));
        }
        // A script from another address, at once: its share, then no more.
        let script = ip("127.0.0.3");
        let mut seats = 0;
        let mut later = now;
        let refusal = loop {
            // One a second, so that its pace never stops it: its seats do.
            later += Duration::from_secs(1);
            match door.admit(script, later) {
                Ok(()) => seats += 1,
                Err(refusal) => break refusal,
            }
        };
        assert_eq!(refusal, Refusal::TooManySeats { held: seats });
        // A third of what was free, counting its own: two thirds are left for the others.
        assert_eq!(seats, 323);
        assert_eq!(door.admit(ip("127.0.0.4"), later), Ok(()));
    }

    #[test]
    fn a_lab_network_is_held_to_no_per_address_limit() {
        let now = Instant::now();
        let mut door = Admission::new(2);
        door.set_capacity(1000);
        door.set_access(AccessList {
            lab: vec!["10.1.0.0/16".parse().unwrap()],
            ..AccessList::default()
        });
        for _ in 0..100 {
            assert_eq!(door.admit(ip("10.1.2.3"), now), Ok(()));
        }
        door.ban(ip("10.1.2.4"), "eve", None);
        assert_eq!(door.admit(ip("10.1.2.4"), now), Err(Refusal::Banned));
    }

    #[test]
    fn churn_from_one_address_is_slowed_down_and_a_refused_try_costs_nothing() {
        let start = Instant::now();
        let mut door = Admission::new(4);
        let churner = ip("10.0.0.9");
        let cycles = CONNECT_BURST / (1 + CHURN_COST);
        for _ in 0..cycles {
            assert_eq!(door.admit(churner, start), Ok(()));
            door.release(churner, true);
        }
        assert_eq!(door.admit(churner, start), Err(Refusal::TooFast));
        // Refused attempts cost nothing: a second later there is room for two.
        let later = start + Duration::from_secs(1);
        assert_eq!(door.admit(churner, later), Ok(()));
        assert_eq!(door.admit(churner, later), Ok(()));
        assert_eq!(door.admit(churner, later), Err(Refusal::TooFast));
    }

    #[test]
    fn the_card_names_every_limit_of_the_door_in_one_line() {
        let card = describe_door(1000, &Limits::default(), &["10.0.0.0/8".parse().unwrap()]);
        assert_eq!(
            card,
            "the door: 1000 seats (--max-clients); one address: 4 seats, more while many are \
             free, 40 connections at once, then 2 a second, none for 10.0.0.0/8 \
             (--max-per-address, --lab)"
        );
        assert!(describe_door(5, &Limits::off(), &[]).ends_with("(--max-per-address 0)"));
    }

    #[test]
    fn refusals_are_shown_once_then_summed_up_per_address_and_reason_each_second() {
        let start = Instant::now();
        let mut refusals = Refusals::default();
        let first = refusals
            .count(ip("127.0.0.2"), &Refusal::TooFast, start)
            .unwrap();
        assert!(first.starts_with("refused a connection from 127.0.0.2: your address opened"));
        assert!(first.contains("--lab NETWORK"), "{first}");
        for _ in 0..3 {
            assert_eq!(
                refusals.count(ip("127.0.0.2"), &Refusal::TooFast, start),
                None
            );
        }
        let full = Refusal::Full { max: 3 };
        assert_eq!(refusals.count(ip("10.0.0.5"), &full, start), None);
        assert_eq!(refusals.due(start), None);
        let second = start + REFUSAL_LOG_EVERY;
        assert_eq!(refusals.deadline(), Some(second));
        assert_eq!(
            refusals.due(second).unwrap(),
            "refused 4 more connections: 3 from 127.0.0.2 (too fast), 1 from 10.0.0.5 (room \
             full) (a class behind one address: --lab NETWORK or /limit seats 0; /limit \
             clients N makes room)"
        );
        assert_eq!(refusals.deadline(), None);
        // A storm from thousands of addresses: a bounded list, every refusal counted.
        for n in 0..5000u32 {
            refusals.count(IpAddr::from(n.to_be_bytes()), &Refusal::TooFast, second);
        }
        assert!(refusals.pending.len() <= PENDING_PARTS);
        let storm = refusals.due(second + REFUSAL_LOG_EVERY).unwrap();
        assert!(
            storm.starts_with("refused 5000 more connections: "),
            "{storm}"
        );
        assert!(storm.contains("4994 from other addresses"), "{storm}");
    }

    #[test]
    fn zero_lifts_both_per_address_limits() {
        let now = Instant::now();
        let mut door = Admission::new(0);
        for _ in 0..1000 {
            assert_eq!(door.admit(ip("127.0.0.1"), now), Ok(()));
        }
    }

    #[test]
    fn a_banned_address_stays_out_until_unbanned() {
        let now = Instant::now();
        let mut door = Admission::new(0);
        let prankster = ip("::1");
        door.ban(prankster, "eve", None);
        assert_eq!(door.admit(prankster, now), Err(Refusal::Banned));
        assert_eq!(door.unban(prankster), Some("eve".to_string()));
        assert_eq!(door.admit(prankster, now), Ok(()));
        assert_eq!(door.unban(prankster), None);
    }

    #[test]
    fn idle_addresses_are_forgotten() {
        let start = Instant::now();
        let later = start + Duration::from_secs(60);
        let mut door = Admission::new(4);
        for n in 0..=255u8 {
            let visitor = IpAddr::from([10, 0, 0, n]);
            door.admit(visitor, start).unwrap();
            door.release(visitor, false);
        }
        door.admit(ip("10.0.1.1"), later).unwrap();
        assert_eq!(door.visitors.len(), 1);
    }

    #[test]
    fn a_mapped_address_is_one_address_with_its_ipv4_self() {
        let now = Instant::now();
        let mut door = Admission::new(2);
        door.set_capacity(4);
        assert_eq!(door.admit(ip("::ffff:127.0.0.2"), now), Ok(()));
        assert_eq!(door.admit(ip("127.0.0.2"), now), Ok(()));
        assert_eq!(
            door.admit(ip("::ffff:127.0.0.2"), now),
            Err(Refusal::TooManySeats { held: 2 })
        );
        door.release(ip("::ffff:127.0.0.2"), false);
        assert_eq!(door.admit(ip("127.0.0.2"), now), Ok(()));

        door.ban(ip("::ffff:10.0.0.9"), "eve", None);
        assert_eq!(door.admit(ip("10.0.0.9"), now), Err(Refusal::Banned));
        assert_eq!(
            door.banned()
                .map(|(ip, _)| ip.to_string())
                .collect::<Vec<_>>(),
            ["10.0.0.9"]
        );
        assert_eq!(door.unban(ip("10.0.0.9")), Some("eve".to_string()));
        door.ban(ip("10.0.0.8"), "mallory", None);
        assert_eq!(door.admit(ip("::ffff:10.0.0.8"), now), Err(Refusal::Banned));
        assert_eq!(
            door.unban(ip("::ffff:10.0.0.8")),
            Some("mallory".to_string())
        );
    }
}
