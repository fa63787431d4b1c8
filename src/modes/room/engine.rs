//! What every room engine shares to carry out the room's decisions: the small interface an engine
//! implements, the one place that carries the actions out (including dropping a client that
//! stopped reading), and the bounds every engine keeps. The console's side is logqueue.rs; what
//! the operating system allows (clients, threads) is system.rs.
//!
//! The rules (rules.rs) decide *what* happens; an engine only moves bytes. It implements
//! [`Engine`]: offer a line to one client without ever waiting (accepted, full, or gone),
//! disconnect a client, drop a client that stopped reading, show a line at the console. The
//! threads engine (hub.rs) offers a line to a writer thread's queue; the poll engine (poll.rs)
//! appends it to the client's output buffer. [`Dispatch::apply`] walks the actions for both, so
//! "a full client is dropped, and the room told, right after the line that found it full" is
//! written once.

use std::collections::{BTreeSet, VecDeque};
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::actions::{Action, ClientId, Leave, Line, Log, Viewer};
use super::limits;
use super::protocol;
use super::rules::Room;
use super::stats::{self, Output};

/// How many bytes of lines may wait for one client, in either engine. Lines pile up only while
/// the client cannot keep up: during a burst (100 students pasting 100 lines each is 9,900 lines
/// for everyone, offered faster than two cores can write them all), or for good when the client
/// stopped reading and its kernel buffers are full. 1 MiB rides out such a burst (about 15,000
/// chat lines); beyond it the client is *behind*: the senders are held back until it catches
/// up, and if it takes too little meanwhile ([`Behind`]) it is too slow: it is disconnected and
/// the room sees `*** NAME was disconnected: too slow to read the room's messages`. The bound is
/// what keeps one stalled client from growing the server's memory.
pub const CLIENT_QUEUE: usize = 1024 * 1024;

/// Which engine runs the room (`--engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// A reader and a writer thread per client, and a hub thread (lesson 3; the default).
    #[default]
    Threads,
    /// One thread and an event loop over every socket (lesson 4).
    Poll,
}

/// How long a client's output may stay stuck, no byte of it accepted by the kernel, before the
/// client is given up on. The [`CLIENT_QUEUE`] bound catches clients that stop reading while the
/// room is busy; this catches the ones that stop reading when it is quiet, so every connection
/// has an end.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// How much of its output buffer a client keeps between bursts: a few chat lines' worth. A
/// thousand idle clients must not each keep the 64 KiB a burst made them take.
pub const WRITE_KEEP: usize = 4 * 1024;

/// After the last line to a client, how long the server waits for the client to close its side
/// before forcing the connection shut (see `endpoint::close_gracefully` for why it waits). A
/// client on a LAN answers our FIN within milliseconds (netchat and `nc -N` close at once); a
/// plain `nc` never does, so waiting longer buys nothing. Shorter than the polite ending main.rs
/// allows after Ctrl-C (`POLITE_ENDING`, 900 ms), so closing a room with such a client still
/// ends politely ("the room is closed"), not by that deadline.
pub const CLOSE_LINGER: Duration = Duration::from_millis(500);

/// How long closing the room waits for the goodbyes to be written and the connections closed.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// How many refused connections (room full) may be closed gracefully at the same time: each
/// holds a file descriptor (and, in the threads engine, a thread) for up to [`CLOSE_LINGER`]. A
/// crowd knocking at a full room must not take what just ran out; the rest get the line and a
/// plain close.
pub const MAX_REFUSING: usize = 16;

/// The kernel send buffer of each client's socket (`SO_SNDBUF`, endpoint.rs), set at accept by
/// every engine. Fixed, so that how far behind a client may fall before it is dropped does not
/// depend on the kernel's autotuning (which grows it to 4 MiB on Linux): at most
/// [`CLIENT_QUEUE`] in its queue, one write batch in its writer's hands, and this buffer (twice
/// this on Linux, which doubles the request for its bookkeeping). 64 KiB is still a thousand chat
/// lines in flight, so a reading client never waits on it.
pub const CLIENT_SEND_BUFFER: usize = 64 * 1024;

/// How long a client may stay more than [`CLIENT_QUEUE`] behind before it is judged by what it
/// took meanwhile ([`Behind`]).
pub const BEHIND_GRACE: Duration = Duration::from_secs(2);

/// What an honest reader on a slow link takes each second (64 KiB/s): a client behind that
/// takes at least half of it over [`BEHIND_GRACE`] counts as reading and is never dropped.
pub const READER_RATE: f64 = 64.0 * 1024.0;

/// How long a sender is not read after one of its lines found a recipient behind: the room's
/// input waits for its slowest *reading* member (backpressure), instead of that member being
/// dropped for the server's own scheduling. Short: the sender is read again at once when the
/// recipient caught up.
pub const BACKPRESSURE_PAUSE: Duration = Duration::from_millis(20);

/// The one rule for "too slow", for every engine: decided by what the *client* takes, never by
/// the server's own scheduling. A client more than [`CLIENT_QUEUE`] behind is not dropped at
/// once (a writer thread that was not scheduled for a moment, during a flood, would make a
/// full-speed reader look slow): its lines are still accepted, the senders are held back
/// ([`BACKPRESSURE_PAUSE`]), and after [`BEHIND_GRACE`] it is judged by how many bytes it took
/// from its output meanwhile. At least [`READER_RATE`] a second: it reads, and is judged again
/// later; less (under half of it, see `judge_at`): it stopped reading (its socket stays full),
/// and it is dropped.
#[derive(Debug, Default, Clone, Copy)]
pub struct Behind {
    /// Since when it is behind, and how many bytes it had taken then.
    since: Option<(Instant, u64)>,
}

impl Behind {
    /// What an offer that leaves `waiting` bytes in the client's output means, its bound being
    /// `bound` ([`CLIENT_QUEUE`]) and the client having taken `taken` bytes of its output since it
    /// joined. Reads the clock only when the client is behind.
    pub fn judge(&mut self, waiting: usize, bound: usize, taken: u64) -> Offer {
        if waiting <= bound {
            self.since = None;
            return Offer::Accepted;
        }
        self.judge_at(taken, Instant::now())
    }

    /// A client behind since `at`, having taken `taken` bytes then (for tests).
    #[cfg(test)]
    pub fn since(at: Instant, taken: u64) -> Behind {
        Behind {
            since: Some((at, taken)),
        }
    }

    /// [`Behind::judge`] for a client that is behind, at `now`.
    // ANCHOR: too_slow_rule
    pub fn judge_at(&mut self, taken: u64, now: Instant) -> Offer {
        let (since, taken_then) = *self.since.get_or_insert((now, taken));
        let behind_for = now.saturating_duration_since(since);
        if behind_for < BEHIND_GRACE {
            return Offer::Behind;
        }
        let took = taken.saturating_sub(taken_then) as f64;
        // Half the rate: its writer takes its output in batches, and the kernel wakes a blocked
        // writer only once a good part of the send buffer is free, so an honest 64 KiB/s reader
        // may be seen taking less than that over one stretch; one that stopped takes nothing.
        if took < READER_RATE / 2.0 * behind_for.as_secs_f64() {
            return Offer::Full;
        }
        // It reads: judge it again over the next stretch.
        self.since = Some((now, taken));
        Offer::Behind
    }
    // ANCHOR_END: too_slow_rule
}

/// What happened to a line offered to one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// It waits in the client's output (queue or buffer) and will be written.
    Accepted,
    /// It waits too, but the client is more than [`CLIENT_QUEUE`] behind while it still reads
    /// ([`Behind`]): whoever sent the line is held back a moment.
    Behind,
    /// The client is more than [`CLIENT_QUEUE`] behind and took too little for
    /// [`BEHIND_GRACE`]: it has stopped reading.
    Full,
    /// The engine no longer has this client (its connection already ended): nothing to do.
    Gone,
}

/// What of a block of gathered lines one recipient gets. The block holds the lines of everyone
/// who spoke in one turn of the poll engine (each line ending in `\n`), and is shared by every
/// recipient: each outbox keeps a reference to it and the byte ranges of it that are its own
/// (everything but the runs of lines that recipient said itself), never a copy.
#[derive(Debug, Clone, Copy)]
pub struct Share<'a> {
    pub block: &'a Arc<[u8]>,
    /// The recipient's parts of `block`, in order.
    pub parts: &'a [Range<usize>],
    /// How many lines the parts hold.
    pub lines: usize,
}

impl Share<'_> {
    /// How many bytes the parts hold.
    pub fn bytes(&self) -> usize {
        self.parts
            .iter()
            .map(std::iter::ExactSizeIterator::len)
            .sum()
    }
}

/// What an engine does for the room. Every method returns at once: an engine never waits for a
/// client, or one stalled student would stall the room.
pub trait Engine {
    /// Puts a line in the client's output, never waiting.
    fn offer(&mut self, id: ClientId, line: &Line) -> Offer;
    /// Puts the client's share of a block of lines in its output, never waiting: all of it, or,
    /// if it does not fit in [`CLIENT_QUEUE`], none of it ([`Offer::Full`]). Only an engine that
    /// gathers ([`Dispatch::gather`]) receives blocks; this default offers the lines one by one.
    fn offer_shared(&mut self, id: ClientId, share: &Share<'_>) -> Offer {
        for part in share.parts {
            let text = String::from_utf8_lossy(&share.block[part.clone()]);
            for line in text.split_terminator('\n') {
                let offer = self.offer(id, &Line::from(line));
                if offer != Offer::Accepted {
                    return offer;
                }
            }
        }
        Offer::Accepted
    }
    /// Stop sending to this client: what already waits for it (its goodbye) is still written,
    /// then the connection closes.
    fn disconnect(&mut self, id: ClientId);
    /// The client stopped reading: close its connection now, discarding what waits for it.
    fn drop_slow(&mut self, id: ClientId);
    /// The client is over its rate limit: do not read from it before `until` (its lines wait
    /// in the kernel, and TCP's flow control slows its sender down).
    fn pause(&mut self, id: ClientId, until: Instant);
    /// A line of this client's found a recipient behind ([`Offer::Behind`]): do not read from
    /// it before `until`, unless it is paused longer already.
    fn hold_back(&mut self, id: ClientId, until: Instant);
    /// Judges the client's output as it stands now, offering nothing ([`Behind::judge`]):
    /// caught up (`Accepted`), still behind but reading, too slow (`Full`), or `Gone`.
    fn judge(&mut self, id: ClientId) -> Offer;
    /// Shows a line at the operator's console, never waiting for the terminal.
    fn log(&mut self, entry: Log);
    /// What was queued for this client and what still waits, for `/stats`; `None` if the
    /// engine no longer has it.
    fn output(&self, id: ClientId) -> Option<Output>;
}

/// How many bytes of lines [`Dispatch`] gathers into one shared block before offering it.
const GATHER_LIMIT: usize = 64 * 1024;

/// Carries out the room's actions on an engine. Holds two lists kept between calls, so that a
/// message costs no allocation here.
#[derive(Default)]
pub struct Dispatch {
    work: VecDeque<Action>,
    recipients: Vec<ClientId>,
    /// Between [`Dispatch::gather`] and [`Dispatch::release`]: lines for the room, not offered
    /// yet, and whom each run of them is not for.
    gathering: bool,
    gathered: Vec<u8>,
    runs: Vec<Run>,
    /// Members that left while lines were gathered, and how many gathered bytes were said
    /// before they left: their share ends there.
    leaving: Vec<(ClientId, usize)>,
    /// One recipient's parts of the gathered block, kept between recipients.
    parts: Vec<Range<usize>>,
    /// A recipient of the lines being offered is behind: hold their senders back.
    behind: bool,
    /// Recipients behind (more than `CLIENT_QUEUE` waiting) while they still read, and the
    /// senders held back until none is ([`Dispatch::check_behind`]).
    lagging: BTreeSet<ClientId>,
    held: BTreeSet<ClientId>,
}

/// Consecutive gathered lines that go to every member but the same one (their sender).
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Where the run ends in the gathered bytes (it starts where the one before it ended).
    end: usize,
    lines: usize,
    except: Option<ClientId>,
}

impl Dispatch {
    /// Carries out actions in order. A client found full while a line is offered is dropped,
    /// and the room's reaction (its leave notice) joins the same work list, so it follows right
    /// after: the slow-consumer cascade, once for both engines.
    // ANCHOR: fan_out
    pub fn apply<E: Engine>(&mut self, room: &mut Room, engine: &mut E, actions: Vec<Action>) {
        // A member whose own line made it leave (`/quit`, a flood cut off) is out of the room
        // before its actions come here, but it was there when the lines gathered so far were
        // said: it still gets those, and nothing gathered after.
        if self.gathering && !self.gathered.is_empty() {
            for action in &actions {
                if let Action::Disconnect(id) = action {
                    self.leaving.push((*id, self.gathered.len()));
                }
            }
        }
        self.work.extend(actions);
        while let Some(action) = self.work.pop_front() {
            let gathers = self.gathering && matches!(action, Action::All { .. });
            // Whatever reaches clients goes after what was gathered before it. The console and
            // the event log are not the clients' output: the gathered lines can wait for them.
            if !gathers && !matches!(action, Action::Log(_) | Action::Record(_)) {
                self.offer_gathered(room, engine);
            }
            match action {
                Action::All { except, line } if gathers => {
                    self.gather_line(room, engine, except, &line);
                }
                Action::To(id, line) => {
                    if engine.offer(id, &line) == Offer::Full {
                        self.too_slow(room, engine, id);
                    }
                }
                Action::All { except, line } => {
                    self.offer_to_everyone(room, engine, except, |engine, id| {
                        engine.offer(id, &line)
                    });
                    self.hold_back_senders(engine, [&except]);
                }
                Action::Disconnect(id) => engine.disconnect(id),
                Action::Pause { id, until } => engine.pause(id, until),
                Action::Log(entry) => engine.log(entry),
                // The event log is written here, once for both engines.
                Action::Record(event) => room.observer().record(event),
                Action::Stats(viewer) => self.stats(room, engine, viewer),
            }
        }
    }

    /// Offers something to every member but `except`; a recipient found full is dropped. The
    /// recipients are listed first (a slow one leaves the room while we offer), into a list kept
    /// between messages.
    fn offer_to_everyone<E: Engine>(
        &mut self,
        room: &mut Room,
        engine: &mut E,
        except: Option<ClientId>,
        mut offer: impl FnMut(&mut E, ClientId) -> Offer,
    ) {
        let mut ids = std::mem::take(&mut self.recipients);
        room.members_except(except, &mut ids);
        for &id in &ids {
            match offer(engine, id) {
                Offer::Full => self.too_slow(room, engine, id),
                Offer::Behind => {
                    self.behind = true;
                    self.lagging.insert(id);
                }
                Offer::Accepted | Offer::Gone => {}
            }
        }
        self.recipients = ids;
    }

    /// Holds back the senders of lines that found a recipient behind, if any did.
    fn hold_back_senders<'a>(
        &mut self,
        engine: &mut impl Engine,
        senders: impl IntoIterator<Item = &'a Option<ClientId>>,
    ) {
        if !std::mem::take(&mut self.behind) {
            return;
        }
        let until = Instant::now() + BACKPRESSURE_PAUSE;
        for &sender in senders.into_iter().flatten() {
            self.held.insert(sender);
            engine.hold_back(sender, until);
        }
    }

    /// While a recipient is behind, when the engine should call [`Dispatch::check_behind`].
    pub fn behind_deadline(&self, now: Instant) -> Option<Instant> {
        (!self.lagging.is_empty()).then(|| now + BACKPRESSURE_PAUSE / 2)
    }

    /// Judges again every recipient that is behind (an engine calls this at
    /// [`Dispatch::behind_deadline`]): one that caught up is let go, one that took too little is
    /// dropped as too slow; while any is still behind, the senders stay held back, so the room's
    /// input waits for its slowest reading member and no output grows past its bound by more
    /// than what was already read.
    // ANCHOR: check_behind
    pub fn check_behind(&mut self, room: &mut Room, engine: &mut impl Engine, now: Instant) {
        if self.lagging.is_empty() {
            self.held.clear();
            return;
        }
        let lagging: Vec<ClientId> = self.lagging.iter().copied().collect();
        for id in lagging {
            match engine.judge(id) {
                Offer::Behind => {}
                Offer::Accepted | Offer::Gone => {
                    self.lagging.remove(&id);
                }
                Offer::Full => {
                    self.lagging.remove(&id);
                    self.too_slow(room, engine, id);
                }
            }
        }
        if self.lagging.is_empty() {
            self.held.clear();
        } else {
            let until = now + BACKPRESSURE_PAUSE;
            for &sender in &self.held {
                engine.hold_back(sender, until);
            }
        }
        self.apply(room, engine, Vec::new());
    }
    // ANCHOR_END: check_behind
    // ANCHOR_END: fan_out

    /// From now until [`Dispatch::release`], lines for everyone are gathered into one block,
    /// which each recipient is offered once, without its own lines ([`Engine::offer_shared`]).
    /// The poll engine gathers while it reads the clients of one turn: when 30 students spoke in
    /// it, each recipient costs one offer and one slice of one `writev`, not 30 of each. Anything
    /// else that reaches clients (a private line, a disconnect) first offers what was gathered,
    /// so everyone still gets everything in the order it happened; a member whose own line made
    /// it leave (`/quit`) still gets what was gathered before that ([`Dispatch::apply`]).
    // ANCHOR: gather
    pub fn gather(&mut self) {
        self.gathering = true;
    }

    /// Offers what was gathered, and carries out what that caused (a recipient found full).
    pub fn release(&mut self, room: &mut Room, engine: &mut impl Engine) {
        self.gathering = false;
        self.offer_now(room, engine);
    }

    /// Offers what was gathered so far, and goes on gathering: before the room changes in a way
    /// that is not a line (a member left), so that the lines said before reach who was there.
    pub fn offer_now(&mut self, room: &mut Room, engine: &mut impl Engine) {
        self.offer_gathered(room, engine);
        self.apply(room, engine, Vec::new());
    }

    fn gather_line(
        &mut self,
        room: &mut Room,
        engine: &mut impl Engine,
        except: Option<ClientId>,
        line: &Line,
    ) {
        if self.gathered.len() >= GATHER_LIMIT {
            self.offer_gathered(room, engine);
        }
        self.gathered.extend_from_slice(line.as_bytes());
        self.gathered.push(b'\n');
        let end = self.gathered.len();
        match self.runs.last_mut() {
            Some(run) if run.except == except => {
                run.end = end;
                run.lines += 1;
            }
            _ => self.runs.push(Run {
                end,
                lines: 1,
                except,
            }),
        }
    }

    /// The gathered lines, as one block shared by every recipient (one copy, however many).
    fn offer_gathered<E: Engine>(&mut self, room: &mut Room, engine: &mut E) {
        if self.runs.is_empty() {
            return;
        }
        let block: Arc<[u8]> = Arc::from(self.gathered.as_slice());
        self.gathered.clear();
        let mut runs = std::mem::take(&mut self.runs);
        let mut parts = std::mem::take(&mut self.parts);
        let leaving = std::mem::take(&mut self.leaving);
        let mut offer = |engine: &mut E, id: ClientId, until: usize| {
            let lines = share_for(&block, &runs, id, until, &mut parts);
            if lines == 0 {
                return Offer::Accepted; // it said every line of the block itself
            }
            let share = Share {
                block: &block,
                parts: &parts,
                lines,
            };
            engine.offer_shared(id, &share)
        };
        for &(id, until) in &leaving {
            if room.nick(id).is_none() {
                // Left the room, but its engine still writes to it (its goodbye comes next). If
                // even this does not fit, it is not dropped here: it is leaving anyway.
                offer(engine, id, until);
            }
        }
        self.offer_to_everyone(room, engine, None, |engine, id| {
            offer(engine, id, block.len())
        });
        self.hold_back_senders(engine, runs.iter().map(|run| &run.except));
        runs.clear();
        self.runs = runs;
        self.parts = parts;
    }
    // ANCHOR_END: gather

    /// `/stats`: the rules' rows, each completed with the engine's view of its output, as a
    /// table for the host's console or as notices to the member who asked.
    // ANCHOR: stats
    fn stats(&mut self, room: &mut Room, engine: &mut impl Engine, viewer: Viewer) {
        let now = Instant::now();
        let mut rows = room.stats_rows(viewer, now);
        for row in &mut rows {
            row.output = engine.output(row.id);
        }
        let mut lines = stats::table(&rows);
        // The host sees how the room's output is shared; a member sees its own line only.
        if viewer == Viewer::Host {
            lines.push(stats::share_line(
                room.output_shares(now),
                limits::ROOM_BYTES_PER_SECOND,
            ));
        }
        match viewer {
            Viewer::Host => lines
                .into_iter()
                .for_each(|line| engine.log(Log::Answer(line))),
            Viewer::Member(id) => {
                for text in lines {
                    if engine.offer(id, &Line::from(protocol::notice(&text))) == Offer::Full {
                        self.too_slow(room, engine, id);
                        return;
                    }
                }
            }
        }
    }
    // ANCHOR_END: stats

    /// The cascade: drop the client at once, and queue the room's reaction (its leave notice)
    /// right after the action being carried out.
    fn too_slow(&mut self, room: &mut Room, engine: &mut impl Engine, id: ClientId) {
        engine.drop_slow(id);
        self.work.extend(room.leave(id, Leave::TooSlow));
    }

    /// Drops a client found stuck outside a fan-out (its output accepted no byte for
    /// [`WRITE_TIMEOUT`]), by the same rule, and carries out the room's reaction.
    pub fn drop_slow(&mut self, room: &mut Room, engine: &mut impl Engine, id: ClientId) {
        self.too_slow(room, engine, id);
        self.apply(room, engine, Vec::new());
    }
}

/// Puts in `parts` the byte ranges of the gathered block that go to `id`: every run but its own,
/// neighbouring runs joined into one range, up to byte `until` (a member that left while the
/// block was gathered gets what was said before it left). Returns how many lines they hold.
fn share_for(
    block: &[u8],
    runs: &[Run],
    id: ClientId,
    until: usize,
    parts: &mut Vec<Range<usize>>,
) -> usize {
    parts.clear();
    let mut lines = 0;
    let mut start = 0;
    for run in runs {
        if start >= until {
            break;
        }
        if run.except != Some(id) {
            let end = run.end.min(until);
            lines += if end == run.end {
                run.lines
            } else {
                memchr::memchr_iter(b'\n', &block[start..end]).count()
            };
            match parts.last_mut() {
                Some(part) if part.end == start => part.end = end,
                _ => parts.push(start..end),
            }
        }
        start = run.end;
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::super::rules::Limits;
    use super::*;
    use std::collections::BTreeMap;

    /// An engine that writes down every line each client was offered, in order.
    #[derive(Default)]
    struct Recorder {
        got: BTreeMap<ClientId, Vec<String>>,
        shares: usize,
    }

    impl Engine for Recorder {
        fn offer(&mut self, id: ClientId, line: &Line) -> Offer {
            self.got.entry(id).or_default().push(line.to_string());
            Offer::Accepted
        }
        fn offer_shared(&mut self, id: ClientId, share: &Share<'_>) -> Offer {
            self.shares += 1;
            let got = self.got.entry(id).or_default();
            let before = got.len();
            for part in share.parts {
                let text = String::from_utf8_lossy(&share.block[part.clone()]);
                got.extend(text.split_terminator('\n').map(String::from));
            }
            assert_eq!(got.len() - before, share.lines, "the share's line count");
            Offer::Accepted
        }
        fn disconnect(&mut self, _: ClientId) {}
        fn drop_slow(&mut self, _: ClientId) {}
        fn pause(&mut self, _: ClientId, _: Instant) {}
        fn hold_back(&mut self, _: ClientId, _: Instant) {}
        fn judge(&mut self, _: ClientId) -> Offer {
            Offer::Accepted
        }
        fn log(&mut self, _: Log) {}
        fn output(&self, _: ClientId) -> Option<Output> {
            None
        }
    }

    /// A room of amy (1), bob (2) and cy (3), and a dispatcher gathering as the poll engine's
    /// read phase does.
    fn amy_bob_and_cy_gathering() -> (Room, Recorder, Dispatch, Instant) {
        let now = Instant::now();
        let peer = "127.0.0.1:5000".parse().unwrap();
        let mut room = Room::new(Limits::off());
        for (id, name) in [(1, "amy"), (2, "bob"), (3, "cy")] {
            room.join(id, peer, now);
            room.said(id, format!("/nick {name}").as_bytes(), now);
        }
        let mut dispatch = Dispatch::default();
        dispatch.gather();
        (room, Recorder::default(), dispatch, now)
    }

    #[test]
    fn a_client_behind_is_too_slow_only_if_it_took_too_little_for_the_whole_grace() {
        let start = Instant::now();
        let over = CLIENT_QUEUE + 1;
        // Behind: not judged before the grace is over, whatever it took.
        let mut reader = Behind::default();
        assert_eq!(reader.judge(CLIENT_QUEUE, CLIENT_QUEUE, 0), Offer::Accepted);
        assert_eq!(reader.judge_at(0, start), Offer::Behind);
        assert_eq!(reader.judge_at(0, start + BEHIND_GRACE / 2), Offer::Behind);
        // It took at least READER_RATE a second: it reads, and is never dropped.
        let took = (READER_RATE * BEHIND_GRACE.as_secs_f64()) as u64;
        assert_eq!(reader.judge_at(took, start + BEHIND_GRACE), Offer::Behind);
        let later = start + 2 * BEHIND_GRACE;
        assert_eq!(reader.judge_at(2 * took, later), Offer::Behind);
        // It stopped taking: dropped once a whole grace passed without enough.
        assert_eq!(
            reader.judge_at(2 * took + 10, later + BEHIND_GRACE),
            Offer::Full
        );
        // Caught up: the next time it is behind, the grace starts again.
        let mut caught_up = Behind::since(start, 0);
        assert_eq!(caught_up.judge(10, over, 0), Offer::Accepted);
        assert_eq!(caught_up.judge_at(0, later), Offer::Behind);
    }

    #[test]
    fn a_member_that_quits_in_a_turn_still_gets_what_was_said_before_and_nothing_after() {
        let (mut room, mut engine, mut dispatch, now) = amy_bob_and_cy_gathering();
        for (id, text) in [(1, "before"), (2, "/quit"), (3, "after")] {
            let actions = room.said(id, text.as_bytes(), now);
            dispatch.apply(&mut room, &mut engine, actions);
        }
        dispatch.release(&mut room, &mut engine);
        let got = |id| engine.got.get(&id).cloned().unwrap_or_default();
        assert_eq!(got(2)[0], "[amy] before", "bob got {:?}", got(2));
        assert!(
            got(2).iter().all(|line| !line.contains("after")),
            "bob got {:?}",
            got(2)
        );
        assert_eq!(got(3)[0], "[amy] before");
        assert!(got(1).iter().any(|line| line == "[cy] after"));
    }

    #[test]
    fn a_turn_of_lines_from_several_senders_reaches_each_member_once_in_order_without_its_own() {
        let (mut room, mut engine, mut dispatch, now) = amy_bob_and_cy_gathering();
        for (id, text) in [(1, "one"), (1, "two"), (2, "three"), (1, "four")] {
            let actions = room.said(id, text.as_bytes(), now);
            dispatch.apply(&mut room, &mut engine, actions);
        }
        // A line for bob alone, in the middle of the turn: what was gathered goes first.
        let actions = room.said(3, b"/msg bob psst", now);
        dispatch.apply(&mut room, &mut engine, actions);
        let actions = room.said(2, b"five", now);
        dispatch.apply(&mut room, &mut engine, actions);
        dispatch.release(&mut room, &mut engine);
        let got = |id| engine.got.get(&id).cloned().unwrap_or_default();
        assert_eq!(got(1), ["[bob] three", "[bob] five"]);
        assert_eq!(
            got(2),
            ["[amy] one", "[amy] two", "[amy] four", "[cy -> you] psst"]
        );
        assert_eq!(
            got(3),
            [
                "[amy] one",
                "[amy] two",
                "[bob] three",
                "[amy] four",
                "[bob] five"
            ]
        );
        // Two blocks (before and after the private line), each offered once per recipient
        // that had a line in it.
        assert_eq!(engine.shares, 5);
    }
}
