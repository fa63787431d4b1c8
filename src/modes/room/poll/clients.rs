//! The poll engine's client table: every connection the loop holds (its socket, its line decoder,
//! its output buffer, where its connection stands), the sets the loop walks (clients with output
//! to write, clients paused, clients with a deadline), and the engine side of the shared dispatch
//! ([`Engine`]): offering a line is appending to a client's outbox, bounded by `CLIENT_QUEUE`;
//! writing is one vectored write per client, resumed where the kernel stopped. The loop
//! (poll.rs) decides when; this file only keeps the table and moves a client's bytes.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::net::Shutdown;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::framing::LineDecoder;
use crate::modes::room::actions::{ClientId, Line, Log};
use crate::modes::room::engine::{Behind, CLIENT_QUEUE, CLOSE_LINGER, Engine, Offer, Share};
use crate::modes::room::logqueue::LogQueue;
use crate::modes::room::outbox::Outbox;
use crate::modes::room::stats::{Output, Traffic};
use crate::observe::Watch;

/// Where a client's connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// In the room: its lines go to the rules, lines for it are accepted.
    Member,
    /// Leaving (quit, kicked, gone, or refused): what waits for it is still written, then our
    /// FIN is sent. What it sends meanwhile is read and thrown away.
    Closing,
    /// Our FIN is sent; waiting for the client's own close (so ours is not turned into a RST by
    /// unread bytes, see `endpoint::close_gracefully`), at most until `until`.
    Lingering { until: Instant },
}

/// One connection, as the loop holds it. No thread, no read buffer: a few hundred bytes.
pub(super) struct Client {
    pub(super) stream: TcpStream,
    /// Cuts this client's bytes into lines; holds only a line that has begun and not ended.
    pub(super) decoder: LineDecoder,
    /// Lines waiting to be written (outbox.rs). Empty (no allocation) for a quiet client.
    pub(super) out: Outbox,
    pub(super) phase: Phase,
    /// Since when the kernel has refused every byte of `out` (`WouldBlock`), if it has.
    pub(super) blocked_since: Option<Instant>,
    /// It holds a seat (`--max-clients`); refused connections do not.
    pub(super) seat: bool,
    /// The client closed its side: once `out` is written, the connection can close at once.
    pub(super) eof: bool,
    /// It is in the loop's `ready` list (its socket may hold bytes not read yet).
    pub(super) queued: bool,
    /// It is in the `dirty` list (it has bytes to write this turn).
    pub(super) dirty: bool,
    /// Over its rate limit: not read before this time (rules.rs decides, `Engine::pause`).
    pub(super) paused_until: Option<Instant>,
    /// Every line put in `out`, for `/stats`.
    pub(super) offered: Traffic,
    /// The bytes put in `out` in all, so that what it took is that less what waits; and
    /// whether, and since when, it is more than `CLIENT_QUEUE` behind (engine.rs).
    pub(super) pushed: u64,
    pub(super) behind: Behind,
    /// `--trace`: what its socket does (off, and costing nothing, when nobody watches).
    pub(super) watch: Watch,
}

/// Hashes a client id with one multiplication (Fibonacci hashing). Ids are numbers this server
/// hands out in order, not keys a peer chooses, so std's default SipHash (built to resist
/// collision attacks on such keys) buys nothing here; measured, it was a fifth of the loop's
/// CPU in a burst, where every delivered line looks its recipient up.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, id: u64) {
        // 2^64 / φ: consecutive ids land far apart, in the high bits the table looks at too.
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(self.0 ^ u64::from(byte));
        }
    }
}

/// Every connection, and the engine side of the shared dispatch ([`Engine`]).
pub(super) struct Clients {
    pub(super) registry: Registry,
    pub(super) map: HashMap<ClientId, Client, BuildHasherDefault<IdHasher>>,
    pub(super) log: LogQueue,
    /// Clients given output this turn: written once, at the end of the turn, in one `write`
    /// each however many lines they got. That batching is what makes a busy room cheap.
    pub(super) dirty: Vec<ClientId>,
    /// Clients with a deadline: output stuck, or closing. The only ones the sweep looks at.
    pub(super) timed: BTreeSet<ClientId>,
    /// Clients over their rate limit, by the time they may be read again: the loop does not read
    /// them, so their lines wait in the kernel and TCP's flow control slows their senders.
    pub(super) paused: BTreeSet<(Instant, ClientId)>,
    pub(super) seats: usize,
    pub(super) refusing: usize,
}

impl Clients {
    /// Registers a new connection with the poller: tell us when it can be read or written.
    /// mio's registrations are edge-triggered: an event means "something changed", so each
    /// readiness is followed through until `WouldBlock`.
    pub(super) fn add(
        &mut self,
        id: ClientId,
        mut stream: TcpStream,
        max_line: usize,
        seat: bool,
        watch: Watch,
    ) -> bool {
        let token = Token(id as usize);
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(error) = self.registry.register(&mut stream, token, interest) {
            let text = format!("cannot watch a new connection: {error}");
            self.log.show(Log::Notice(text));
            return false;
        }
        self.map.insert(
            id,
            Client {
                stream,
                decoder: LineDecoder::new(max_line),
                out: Outbox::default(),
                phase: Phase::Member,
                blocked_since: None,
                seat,
                eof: false,
                queued: false,
                dirty: false,
                paused_until: None,
                offered: Traffic::default(),
                pushed: 0,
                behind: Behind::default(),
                watch,
            },
        );
        if seat {
            self.seats += 1;
        }
        true
    }

    /// Closes a connection now: off the poller, out of the map, the socket closed.
    pub(super) fn remove(&mut self, id: ClientId) {
        self.timed.remove(&id);
        if let Some(mut client) = self.map.remove(&id) {
            client.watch.closed();
            if let Some(until) = client.paused_until {
                self.paused.remove(&(until, id));
            }
            let _ = self.registry.deregister(&mut client.stream);
            if client.seat {
                self.seats -= 1;
            } else {
                self.refusing -= 1;
            }
        }
    }

    /// Puts the client on this turn's write list, if it has something to write or to close.
    pub(super) fn mark_dirty(&mut self, id: ClientId) {
        if let Some(client) = self.map.get_mut(&id) {
            let work = !client.out.is_empty() || client.phase == Phase::Closing;
            if work && !client.dirty {
                client.dirty = true;
                self.dirty.push(id);
            }
        }
    }

    /// Writes what waits for one client, as much as the kernel takes. A partial write keeps the
    /// rest for the next writable event. `Err` means the connection is broken.
    // ANCHOR: flush
    pub(super) fn flush(&mut self, id: ClientId, now: Instant) -> io::Result<()> {
        let Some(client) = self.map.get_mut(&id) else {
            return Ok(());
        };
        client.dirty = false;
        while !client.out.is_empty() {
            // `--trace` sees the bytes each write took; nobody watching, nothing is copied.
            let mut traced = client.watch.is_on().then(Vec::new);
            match client.out.write_to(&mut &client.stream, traced.as_mut()) {
                Ok(_) => {
                    if let Some(bytes) = traced {
                        client.watch.wrote(&bytes);
                    }
                    client.blocked_since = None;
                }
                // The kernel's send buffer is full (the client reads slower than we write):
                // keep the rest, and wait for the writable event that says there is room.
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    client.blocked_since.get_or_insert(now);
                    self.timed.insert(id);
                    return Ok(());
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
        }
        // All written. Shared blocks are released as they go; the outbox's own list keeps its
        // size for now (in a burst it fills again at once), and the sweep gives back what a
        // burst made it take, a moment later.
        client.blocked_since = None;
        match client.phase {
            Phase::Member if client.out.holds_spare_room() => {
                self.timed.insert(id);
            }
            Phase::Member => {
                self.timed.remove(&id);
            }
            // The last line (its goodbye) is out: send our FIN after it (as the threads engine
            // does, and as `--trace` shows), then wait for the client's, unless it already
            // closed.
            Phase::Closing => {
                let _ = client.stream.shutdown(Shutdown::Write);
                client.watch.fin_sent();
                if client.eof {
                    self.remove(id);
                } else {
                    client.phase = Phase::Lingering {
                        until: now + CLOSE_LINGER,
                    };
                    self.timed.insert(id);
                }
            }
            Phase::Lingering { .. } => {}
        }
        Ok(())
    }
    // ANCHOR_END: flush
}

impl Clients {
    /// Puts `bytes` more in a member's outbox (`put` adds them and counts them for `/stats`),
    /// unless more than `CLIENT_QUEUE` bytes would then wait; puts it on this turn's write list.
    // ANCHOR: queue
    pub(super) fn queue(
        &mut self,
        id: ClientId,
        bytes: usize,
        put: impl FnOnce(&mut Outbox, &mut Traffic),
    ) -> Offer {
        let Some(client) = self.map.get_mut(&id) else {
            return Offer::Gone;
        };
        if client.phase != Phase::Member {
            return Offer::Gone;
        }
        put(&mut client.out, &mut client.offered);
        client.pushed += bytes as u64;
        if !client.dirty {
            client.dirty = true;
            self.dirty.push(id);
        }
        let waiting = client.out.waiting();
        let taken = client.pushed.saturating_sub(waiting as u64);
        client.behind.judge(waiting, CLIENT_QUEUE, taken)
    }
    // ANCHOR_END: queue
}

impl Engine for Clients {
    /// Appends the line to the client's output buffer, unless more than `CLIENT_QUEUE` bytes
    /// already wait there. Nothing is written yet: that happens once per turn (`write_dirty`).
    // ANCHOR: offer
    fn offer(&mut self, id: ClientId, line: &Line) -> Offer {
        self.queue(id, line.len() + 1, |out, offered| {
            out.push_line(Line::clone(line));
            offered.count(line.len());
        })
    }
    // ANCHOR_END: offer

    /// The same for the client's share of a block of lines shared with the other recipients
    /// (engine.rs, `Dispatch::gather`): the outbox keeps a reference to the block, or a copy of
    /// a share that is less than half of it (`Outbox::push_share`).
    fn offer_shared(&mut self, id: ClientId, share: &Share<'_>) -> Offer {
        let bytes = share.bytes();
        self.queue(id, bytes, |out, offered| {
            out.push_share(share);
            offered.count_block(share.lines, bytes);
        })
    }

    fn disconnect(&mut self, id: ClientId) {
        if let Some(client) = self.map.get_mut(&id) {
            if client.phase == Phase::Member {
                client.phase = Phase::Closing;
                // A leaving client is read again, if only to see its FIN.
                if let Some(until) = client.paused_until.take() {
                    self.paused.remove(&(until, id));
                }
                self.timed.insert(id);
                self.mark_dirty(id);
            }
        }
    }

    /// Stops reading the client until `until`: its socket stays registered, and `read_turn`
    /// leaves it alone while it is paused.
    fn pause(&mut self, id: ClientId, until: Instant) {
        if let Some(client) = self.map.get_mut(&id) {
            if client.phase == Phase::Member {
                if let Some(earlier) = client.paused_until.replace(until) {
                    self.paused.remove(&(earlier, id));
                }
                self.paused.insert((until, id));
            }
        }
    }

    fn judge(&mut self, id: ClientId) -> Offer {
        let Some(client) = self.map.get_mut(&id) else {
            return Offer::Gone;
        };
        if client.phase != Phase::Member {
            return Offer::Gone;
        }
        let waiting = client.out.waiting();
        let taken = client.pushed.saturating_sub(waiting as u64);
        client.behind.judge(waiting, CLIENT_QUEUE, taken)
    }

    fn hold_back(&mut self, id: ClientId, until: Instant) {
        let later = self
            .map
            .get(&id)
            .and_then(|client| client.paused_until)
            .is_some_and(|paused| paused >= until);
        if !later {
            self.pause(id, until);
        }
    }

    fn drop_slow(&mut self, id: ClientId) {
        if let Some(client) = self.map.get(&id) {
            // Both directions at once: nothing more is read or written, and the bytes waiting
            // for it are thrown away.
            let _ = client.stream.shutdown(Shutdown::Both);
        }
        self.remove(id);
    }

    fn log(&mut self, entry: Log) {
        self.log.show(entry);
    }

    /// What `/stats` shows as `queued`: the bytes of `out` the kernel has not taken yet.
    fn output(&self, id: ClientId) -> Option<Output> {
        let client = self.map.get(&id)?;
        Some(Output {
            sent: client.offered,
            waiting: client.out.waiting(),
        })
    }
}
