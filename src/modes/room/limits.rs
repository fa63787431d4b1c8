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

use std::collections::HashMap;
use std::net::IpAddr;
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

/// Default for `--max-per-address`: seats one address may hold. A student may open a second
/// terminal, or test with nc beside the netchat client; a script cannot fill the room.
pub const DEFAULT_MAX_PER_ADDRESS: u32 = 4;

/// New connections one address may open at once before the rate below applies.
pub const CONNECT_BURST: u32 = 8;

/// New connections per second one address may open after its burst: enough to rejoin after a
/// mistake, too few for connect/close churn to bury the room in notices.
pub const CONNECTS_PER_SECOND: u32 = 1;

/// A member held back by its rate limit without a break for this long is disconnected. Nobody
/// types or pastes that much (a minute at the default limit is 300 lines); a flood ends, and so
/// does the backlog a flooder leaves in the kernel's buffers (megabytes of `y` lines that would
/// otherwise trickle into the room for hours after the flooder quit).
pub const FLOOD_CUTOFF: Duration = Duration::from_secs(60);

/// How many of a member's lines the rules hold while it is held back by its rate limit: lines an
/// engine read before the pause reached it (a whole `read` of a paste, or of a flood), let out in
/// order as the allowance refills. 100 lines is a pasted program of a page and a half (with the
/// burst of 20 that goes at once); at the default limit they take 20 s to go out.
///
/// Beyond it (a flood: `yes` puts 32,768 lines in one 64 KiB read), the member's further lines
/// are dropped, not relayed: counted in `/stats` (`dropped`), and the member is told once per
/// episode. Without this bound, every read while the member is held back would add to what the
/// server holds, for as long as the flood lasts.
pub const HELD_LINES: usize = 100;

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
        self.lines.take(1.0, f64::NEG_INFINITY);
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

/// How often, at most, the console gets a line about refused connections: a storm of them
/// (a script retrying in a loop) is counted, not printed line by line.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(1);

/// Refused connections, counted for the console: the first of a storm is shown at once, then
/// at most one line a second says how many more there were.
#[derive(Debug, Default)]
pub struct Refusals {
    /// Refusals not yet reported.
    pending: u64,
    /// When the last report was.
    last: Option<Instant>,
}

impl Refusals {
    /// Counts a refused connection from `ip`; the console's line for it, if one is due now.
    pub fn count(&mut self, ip: IpAddr, refusal: &Refusal, now: Instant) -> Option<String> {
        self.pending += 1;
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < REFUSAL_LOG_EVERY)
        {
            return None;
        }
        let more = match self.pending - 1 {
            0 => String::new(),
            n => format!(" ({n} more refused since the last such line)"),
        };
        self.pending = 0;
        self.last = Some(now);
        let hint = match refusal {
            Refusal::TooManySeats { .. } | Refusal::TooFast => {
                " (--max-per-address N sets it, 0 lifts it)"
            }
            Refusal::Banned => " (/unban lets it in)",
            Refusal::Denied { .. } | Refusal::NotAllowed { .. } => " (--allow, --deny)",
        };
        Some(format!(
            "refused a connection from {ip}: {refusal}{hint}{more}"
        ))
    }

    /// Refusals counted since the last line about them.
    pub fn pending(&self) -> u64 {
        self.pending
    }
}

/// Why a connection is not let in. The text is what it is told before it is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The host banned this address (`/ban`).
    Banned,
    /// This address already holds `max` seats (`--max-per-address`).
    TooManySeats { max: u32 },
    /// This address opened connections too fast.
    TooFast,
    /// In a `--deny` network (access.rs).
    Denied { ip: IpAddr, network: Network },
    /// `--allow` was given and this address is in none of its networks.
    NotAllowed { ip: IpAddr },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Banned => f.write_str("the host has banned your address from this room"),
            Refusal::TooManySeats { max } => write!(
                f,
                "your address already has {max} connections in this room, the most one \
                 address may have; close one to join"
            ),
            Refusal::TooFast => f.write_str(
                "your address opened too many connections in a short time; wait a few \
                 seconds and join again",
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
/// Who may come in, by address: bans, seats per address, new connections per second.
///
/// One place for every per-address decision, so that other rules about addresses (an allow or
/// deny list) sit beside these and every engine asks the same question: [`Admission::admit`]
/// when a connection arrives, [`Admission::release`] when it leaves.
#[derive(Debug)]
pub struct Admission {
    /// `--max-per-address`; 0 lifts both per-address limits (seats and connection rate).
    max_per_address: u32,
    visitors: HashMap<IpAddr, Visitor>,
    banned: HashMap<IpAddr, String>,
    /// `--allow` and `--deny` (access.rs).
    access: AccessList,
    /// The address the practice bots join from (`--bots`): no seat or connection-rate limit.
    exempt: Option<IpAddr>,
    /// The table's size at which idle addresses are next forgotten.
    sweep_at: usize,
}

/// Below this many addresses the table is never swept: a class fits without any sweeping.
const SWEEP_MIN: usize = 256;

impl Admission {
    pub fn new(max_per_address: u32) -> Admission {
        Admission {
            max_per_address,
            visitors: HashMap::new(),
            banned: HashMap::new(),
            access: AccessList::default(),
            exempt: None,
            sweep_at: SWEEP_MIN,
        }
    }

    /// Sets `--allow` and `--deny`.
    pub fn set_access(&mut self, access: AccessList) {
        self.access = access;
    }

    /// Leaves `ip` out of the per-address limits (seats and connection rate): the address the
    /// practice bots join from. Bans and `--deny` still apply.
    pub fn exempt(&mut self, ip: IpAddr) {
        self.exempt = Some(unmapped_ip(ip));
    }

    /// A connection from `ip` arrived: let it in (and count its seat) or say why not.
    pub fn admit(&mut self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        // `::ffff:a.b.c.d` (an IPv4 client of a dual-stack listener) is `a.b.c.d`: one address,
        // one set of seats and one ban, however the socket reported it.
        let ip = unmapped_ip(ip);
        if self.banned.contains_key(&ip) {
            return Err(Refusal::Banned);
        }
        // ANCHOR: access_at_the_door
        match self.access.decide(ip) {
            Verdict::Admit => {}
            Verdict::Denied(network) => return Err(Refusal::Denied { ip, network }),
            Verdict::NotAllowed => return Err(Refusal::NotAllowed { ip }),
        }
        // ANCHOR_END: access_at_the_door
        if self.visitors.len() >= self.sweep_at {
            self.forget_idle(now);
        }
        // The bots' address is counted like any other (its seats come back when bots leave),
        // only never refused for its number of connections.
        let max = if self.exempt == Some(ip) {
            0
        } else {
            self.max_per_address
        };
        let (rate, burst) = (f64::from(CONNECTS_PER_SECOND), f64::from(CONNECT_BURST));
        let visitor = self.visitors.entry(ip).or_insert(Visitor {
            seats: 0,
            connects: TokenBucket::full(burst, now),
        });
        if max == 0 {
            visitor.seats += 1;
            return Ok(());
        }
        let tokens = visitor.connects.refill(rate, burst, now);
        let refusal = if visitor.seats >= max {
            Some(Refusal::TooManySeats { max })
        } else if tokens < 1.0 {
            Some(Refusal::TooFast)
        } else {
            visitor.seats += 1;
            None
        };
        // Every attempt costs a token, refused or not: a script retrying in a loop stays out
        // until it slows down.
        visitor.connects.take(1.0, -burst);
        refusal.map_or(Ok(()), Err)
    }

    /// A member from `ip` left: its seat is free.
    pub fn release(&mut self, ip: IpAddr) {
        if let Some(visitor) = self.visitors.get_mut(&unmapped_ip(ip)) {
            visitor.seats = visitor.seats.saturating_sub(1);
        }
    }

    /// `/ban`: refuse this address from now until the room closes. `nick` is remembered for the
    /// host's `/unban` answer.
    pub fn ban(&mut self, ip: IpAddr, nick: &str) {
        self.banned.insert(unmapped_ip(ip), nick.to_string());
    }

    /// `/unban`: the name the address was banned under, if it was.
    pub fn unban(&mut self, ip: IpAddr) -> Option<String> {
        self.banned.remove(&unmapped_ip(ip))
    }

    /// The banned addresses, for `/unban` without an argument.
    pub fn banned(&self) -> impl Iterator<Item = (&IpAddr, &String)> {
        self.banned.iter()
    }

    /// Forgets the addresses with no seat and a full connection bucket, so that a crowd of
    /// one-time visitors does not grow the table. Done when the table has doubled since the last
    /// time, so it costs a constant amount per connection, however many there are.
    fn forget_idle(&mut self, now: Instant) {
        let (rate, burst) = (f64::from(CONNECTS_PER_SECOND), f64::from(CONNECT_BURST));
        let limited = self.max_per_address != 0;
        self.visitors.retain(|_, v| {
            v.seats > 0 || (limited && v.connects.level_at(rate, burst, now) < burst)
        });
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
    fn one_address_gets_a_handful_of_seats() {
        let now = Instant::now();
        let mut door = Admission::new(2);
        let script = ip("127.0.0.2");
        assert_eq!(door.admit(script, now), Ok(()));
        assert_eq!(door.admit(script, now), Ok(()));
        assert_eq!(
            door.admit(script, now),
            Err(Refusal::TooManySeats { max: 2 })
        );
        // Another address is not affected, and a freed seat can be taken again.
        assert_eq!(door.admit(ip("127.0.0.1"), now), Ok(()));
        door.release(script);
        assert_eq!(door.admit(script, now), Ok(()));
    }

    #[test]
    fn churn_from_one_address_is_slowed_down() {
        let start = Instant::now();
        let mut door = Admission::new(4);
        let churner = ip("10.0.0.9");
        for _ in 0..CONNECT_BURST {
            assert_eq!(door.admit(churner, start), Ok(()));
            door.release(churner);
        }
        assert_eq!(door.admit(churner, start), Err(Refusal::TooFast));
        // Refused attempts cost too: retrying at once keeps it out.
        assert_eq!(door.admit(churner, start), Err(Refusal::TooFast));
        let later = start + Duration::from_secs(u64::from(CONNECT_BURST) * 3);
        assert_eq!(door.admit(churner, later), Ok(()));
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
        door.ban(prankster, "eve");
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
            door.release(visitor);
        }
        door.admit(ip("10.0.1.1"), later).unwrap();
        assert_eq!(door.visitors.len(), 1);
    }

    #[test]
    fn a_mapped_address_is_one_address_with_its_ipv4_self() {
        let now = Instant::now();
        let mut door = Admission::new(2);
        assert_eq!(door.admit(ip("::ffff:127.0.0.2"), now), Ok(()));
        assert_eq!(door.admit(ip("127.0.0.2"), now), Ok(()));
        assert_eq!(
            door.admit(ip("::ffff:127.0.0.2"), now),
            Err(Refusal::TooManySeats { max: 2 })
        );
        door.release(ip("::ffff:127.0.0.2"));
        assert_eq!(door.admit(ip("127.0.0.2"), now), Ok(()));

        door.ban(ip("::ffff:10.0.0.9"), "eve");
        assert_eq!(door.admit(ip("10.0.0.9"), now), Err(Refusal::Banned));
        assert_eq!(
            door.banned()
                .map(|(ip, _)| ip.to_string())
                .collect::<Vec<_>>(),
            ["10.0.0.9"]
        );
        assert_eq!(door.unban(ip("10.0.0.9")), Some("eve".to_string()));
        door.ban(ip("10.0.0.8"), "mallory");
        assert_eq!(door.admit(ip("::ffff:10.0.0.8"), now), Err(Refusal::Banned));
        assert_eq!(
            door.unban(ip("::ffff:10.0.0.8")),
            Some("mallory".to_string())
        );
    }
}
