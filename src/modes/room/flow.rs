//! One member's flow control: its rate limit's bucket, whether the engine may read it now, the
//! lines an engine read ahead while it was held back, and the count of those it had to drop.
//!
//! Pure, with time passed in: the rules (rules.rs) ask it what becomes of a member's line
//! ([`Flow::hold`], [`Flow::charge`]), and it answers with the actions that carry it out: pause
//! the engine's reading, and tell the member and the host once per limited episode. Why the room
//! stops *reading* a member over its limit, and the bounds, are in limits.rs.
//!
//! ```text
//!  a line read ──> must_wait? ──no──> taken (a command, a message) ──> charge ──> Go
//!                     │                                                  ├──> Paused until T
//!                     yes                                                └──> Flooded (a minute)
//!                     └──> hold: kept (≤ HELD_LINES) ──> next_held at T
//!                                 or dropped (counted; read on at the drain pace)
//! ```

use std::collections::VecDeque;
use std::time::Instant;

use super::actions::{Action, ClientId, Line, Log};
use super::limits::{self, Bucket, Charge, RateLimit};

/// What one read of a member's socket brought, as its engine tells the rules after handing
/// over the read's lines: every byte of it, and the unfinished line's bytes now waiting in the
/// engine's decoder for the next read (at most `--max-line`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Arrived {
    pub bytes: usize,
    pub unfinished: usize,
}
use super::protocol;
use crate::observe::Event;

/// A member's flow control, as the rules keep it.
#[derive(Debug)]
pub struct Flow {
    /// Its rate limit's bucket (limits.rs).
    bucket: Bucket,
    /// Over its rate limit: not read before this time.
    paused_until: Option<Instant>,
    /// Lines that were already on their way when the pause began (an engine reads a whole
    /// `read` before the pause reaches it): kept in order, and taken when the pause ends, so
    /// that nothing is relayed beyond the limit. At most [`limits::HELD_LINES`] lines and
    /// [`limits::HELD_BYTES`] bytes (`held_bytes`); lines beyond them are dropped and counted.
    held: VecDeque<Vec<u8>>,
    held_bytes: usize,
    /// Lines dropped because `held` was full, for `/stats` and the console.
    dropped: u64,
    /// Its held lines overflowed in this limited episode: it was told that its lines are being
    /// dropped, and it is read at the drain pace ([`limits::DRAIN_LINES_PER_SECOND`]) until the
    /// episode ends.
    overflowed: bool,
    /// When the lines it had dropped are paid for at the drain pace, and the pause the engine
    /// was last given for them (see [`limits::DRAIN_STEP`]).
    drained_at: Option<Instant>,
    draining_until: Option<Instant>,
    /// What the engine's reads brought that made no line yet, so that every byte read is
    /// charged (see [`Flow::read`]): the bytes of the lines taken since the last read ended, the
    /// unfinished line's bytes at the end of the last read, and how many of those were charged
    /// (given back when the line ends and is charged as a line).
    framed: usize,
    unfinished: usize,
    prepaid: usize,
    /// It was told its line was too long in this episode: once is enough.
    told_too_long: bool,
    /// Lines and bytes dropped since the room was last told (`Flow::untold_drops`).
    untold: (u64, u64),
}

/// What became of a line read while its member is held back.
#[derive(Debug, PartialEq)]
pub enum Held {
    /// Kept, to be taken in order once the pause is over.
    Kept,
    /// Dropped and counted: the held lines are full. The actions pace the engine's reading (the
    /// drain pace) and, the first time in an episode, tell the member and the host.
    Dropped(Vec<Action>),
}

/// What charging a member's line to its rate limit decided.
#[derive(Debug, PartialEq)]
pub enum Charged {
    /// Within the limit: read on.
    Go,
    /// Held back without a break for [`limits::FLOOD_CUTOFF`]: a flood, which ends here (the
    /// rules disconnect it).
    Flooded,
    /// Over the limit: the actions pause the engine's reading (unless its held lines overflowed:
    /// the drain pace paces it then) and, at the start of an episode, tell the member, the host
    /// and the events log.
    Paused(Vec<Action>),
}

/// A member's next held line, when the rules ask for it.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Its pause is not over: the held lines wait.
    Paused,
    /// Nothing is held.
    Empty,
    /// This line's turn has come.
    Line(Vec<u8>),
}

impl Flow {
    /// A newcomer's flow: a full bucket, nothing held.
    pub fn new(now: Instant) -> Flow {
        Flow {
            bucket: Bucket::new(now),
            paused_until: None,
            held: VecDeque::new(),
            held_bytes: 0,
            dropped: 0,
            overflowed: false,
            drained_at: None,
            draining_until: None,
            framed: 0,
            unfinished: 0,
            prepaid: 0,
            told_too_long: false,
            untold: (0, 0),
        }
    }

    /// A line of `len` bytes came out of a read: its bytes (and its newline) are charged as a
    /// line, so what was charged of them while it was unfinished is given back.
    pub fn line_read(&mut self, len: usize, rate: RateLimit, now: Instant) {
        self.framed += len + 1;
        let credit = self.prepaid.min(len + 1);
        self.prepaid -= credit;
        self.bucket.refund(rate, now, credit);
    }

    /// A read of `bytes` ended, an unfinished line of `unfinished` bytes waiting for the next:
    /// the bytes that made no line (an over-long line's, skipped; the unfinished line's, not
    /// charged before) are charged now, to the byte allowance only. Without this, a member
    /// sending lines longer than `--max-line`, or one line that never ends, made the server
    /// read without limit (gigabytes in seconds) while relaying nothing: never charged.
    // ANCHOR: charge_read
    pub fn read(
        &mut self,
        id: ClientId,
        nick: &str,
        rate: RateLimit,
        read: Arrived,
        now: Instant,
        observed: bool,
    ) -> Charged {
        // Every byte read is in a line taken, skipped, or in the unfinished line.
        let skipped = (read.bytes + self.unfinished).saturating_sub(self.framed + read.unfinished);
        let due = (skipped + read.unfinished).saturating_sub(self.prepaid);
        self.prepaid = read.unfinished;
        self.unfinished = read.unfinished;
        self.framed = 0;
        if due == 0 {
            return Charged::Go;
        }
        let charge = self.bucket.charge_unframed(rate, now, due);
        self.charged(id, nick, rate, charge, now, observed)
    }
    // ANCHOR_END: charge_read

    /// Whether to tell the member that its line was too long: once per episode (until it kept
    /// within its limit long enough for its allowance to be full again), not once per line.
    pub fn tell_too_long(&mut self, rate: RateLimit, now: Instant) -> bool {
        if self.told_too_long && self.bucket.is_full(rate, now) && !self.is_limited(now) {
            self.told_too_long = false;
        }
        !std::mem::replace(&mut self.told_too_long, true)
    }

    /// Whether a line read now must wait its turn: the member is paused, or lines wait before
    /// this one. When it need not, any pause is over.
    pub fn must_wait(&mut self, now: Instant) -> bool {
        if self.paused_until.is_some_and(|until| now < until) || !self.held.is_empty() {
            return true;
        }
        self.paused_until = None;
        false
    }

    /// A line read while the member `id` (called `nick`) is held back: kept for later if there
    /// is room, dropped and counted if not. Once full, the engine reads on at the drain pace
    /// ([`limits::drain_cost`]; what it reads is dropped here), so that a departed flooder's
    /// backlog is gone in seconds.
    // ANCHOR: hold
    pub fn hold(&mut self, id: ClientId, nick: &str, text: &[u8], now: Instant) -> Held {
        // Once a line was dropped in this episode, the rest of it is too: the message is cut
        // once, not kept again in pieces as the held lines go out (the room is told how much).
        let fits = !self.overflowed
            && self.held.len() < limits::HELD_LINES
            && (self.held.is_empty() || self.held_bytes + text.len() <= limits::HELD_BYTES);
        if fits {
            self.held.push_back(text.to_vec());
            self.held_bytes += text.len();
            return Held::Kept;
        }
        self.dropped += 1;
        self.untold.0 += 1;
        self.untold.1 += text.len() as u64 + 1;
        let mut actions = Vec::new();
        let drained_at =
            self.drained_at.map_or(now, |at| at.max(now)) + limits::drain_cost(text.len());
        self.drained_at = Some(drained_at);
        if self
            .draining_until
            .is_none_or(|until| drained_at >= until + limits::DRAIN_STEP)
        {
            self.draining_until = Some(drained_at);
            actions.push(Action::Pause {
                id,
                until: drained_at,
            });
        }
        if !self.overflowed {
            self.overflowed = true;
            actions.push(Action::To(id, line(protocol::dropping(limits::HELD_LINES))));
            actions.push(Action::Log(Log::Notice(format!(
                "{nick} sends far faster than its rate limit: the room holds {} of its lines and \
                 drops the rest, not relaying them (/stats counts them)",
                limits::HELD_LINES
            ))));
        }
        Held::Dropped(actions)
    }
    // ANCHOR_END: hold

    /// The next held line, if its turn has come.
    pub fn next_held(&mut self, now: Instant) -> Next {
        if self.paused_until.is_some_and(|until| now < until) {
            return Next::Paused;
        }
        self.paused_until = None;
        match self.held.pop_front() {
            Some(text) => {
                self.held_bytes -= text.len();
                Next::Line(text)
            }
            None => Next::Empty,
        }
    }

    /// Charges one line of member `id` (called `nick`) that makes the room send `bytes` to the
    /// rate limit. `observed`: someone watches the events log (`--events`).
    // ANCHOR: charge
    pub fn charge(
        &mut self,
        id: ClientId,
        nick: &str,
        rate: RateLimit,
        now: Instant,
        bytes: usize,
        observed: bool,
    ) -> Charged {
        let charge = self.bucket.charge(rate, now, bytes);
        self.charged(id, nick, rate, charge, now, observed)
    }
    // ANCHOR_END: charge

    /// What a charge to the bucket means for the member: read on, pause its reading (telling
    /// it, the host and the events log at the start of an episode), or end a flood.
    fn charged(
        &mut self,
        id: ClientId,
        nick: &str,
        rate: RateLimit,
        charge: Charge,
        now: Instant,
        observed: bool,
    ) -> Charged {
        let RateLimit::PerSecond { lines } = rate else {
            return Charged::Go;
        };
        let Charge::Pause { until, new_episode } = charge else {
            return Charged::Go;
        };
        // Held back without a break for a minute while sending more than the room holds for it:
        // a flood, or a flooder's backlog; it ends here. A paste held whole goes out at its pace,
        // however long that takes; only a member that keeps its limit busy for longer than any
        // paste needs is cut off too.
        if self.bucket.limited_for(now) >= limits::flood_cutoff(rate, self.overflowed) {
            return Charged::Flooded;
        }
        self.paused_until = Some(until);
        if new_episode {
            self.overflowed = false;
        }
        // Not read before its next held line may go out; unless its held lines overflowed:
        // then what is read is dropped, and `hold` paces the reading instead.
        let mut actions = Vec::new();
        if !self.overflowed {
            actions.push(Action::Pause { id, until });
        }
        if new_episode && observed {
            actions.push(Action::Record(Event::Limited {
                client: id,
                nick: nick.to_string(),
                seconds: until.saturating_duration_since(now).as_secs_f64(),
            }));
        }
        if new_episode {
            actions.push(Action::To(id, line(protocol::slow_down(lines))));
            actions.push(Action::Log(Log::Notice(format!(
                "{nick} is sending faster than --rate-limit {lines} allows: not reading from them \
                 until their allowance refills"
            ))));
        }
        Charged::Paused(actions)
    }

    /// The member's speaker is over its share of the room's output (limits.rs,
    /// `SharedOutput`): not read before `until` (or its own pause, if later). Lines read
    /// meanwhile are held, as for its own limit; it is not told each time (its share, and how
    /// many share the room, are in `/stats`).
    pub fn hold_for_room(&mut self, id: ClientId, until: Instant) -> Vec<Action> {
        let until = self.paused_until.map_or(until, |paused| paused.max(until));
        self.paused_until = Some(until);
        if self.overflowed {
            return Vec::new(); // the drain pace paces its reading
        }
        vec![Action::Pause { id, until }]
    }

    /// Lines and bytes of its message that were dropped and that the room was not told of yet,
    /// once nothing of it waits any more (its held lines went out); then the room is told, once.
    pub fn untold_drops(&mut self) -> Option<(u64, u64)> {
        if self.untold.0 == 0 || !self.held.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut self.untold))
    }

    /// Whether what it sent in this episode went beyond what the room holds (a flood, or a paste
    /// longer than [`limits::HELD_LINES`]).
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Takes every held line out (the member is leaving), and how many were dropped so far.
    pub fn take_held(&mut self) -> (VecDeque<Vec<u8>>, u64) {
        self.held_bytes = 0;
        (std::mem::take(&mut self.held), self.dropped)
    }

    /// When its pause ends, if it is paused.
    pub fn paused_until(&self) -> Option<Instant> {
        self.paused_until
    }

    /// Whether it is in a limited episode (its bucket has not refilled since its last pause).
    /// Only the rules' tests ask: the rules themselves act on `is_limited` and the pause.
    #[cfg(test)]
    pub fn in_episode(&self) -> bool {
        self.bucket.is_limited()
    }

    /// Whether it is held back by its rate limit now (for `/stats`).
    pub fn is_limited(&self, now: Instant) -> bool {
        self.bucket.is_limited() || self.paused_until.is_some_and(|until| now < until)
    }

    /// How many of its lines are held.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// How many of its lines were dropped because the held lines were full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

fn line(text: String) -> Line {
    Line::from(text)
}
