//! The threads engine's hub: the one thread that owns the room.
//!
//! Every other thread *tells* the hub what happened, through one channel of [`Event`]s: the
//! accept thread says "someone connected", each reader says "this client sent a line" or "this
//! client is gone", the console says "the host typed something". The hub alone holds the room
//! (the [`Room`] of rules.rs: members and nicknames), so no `Mutex` is needed and no two threads
//! can disagree about who is called what: two clients asking for `alice` at the same moment are
//! simply two events, handled one after the other.
//!
//! The hub asks the `Room` what each event means and carries the actions out (engine.rs) by
//! offering each line to the recipients' bounded queues, never waiting on any of them. What it
//! owns besides the room is this engine's wiring: each client's queue and socket.

use std::collections::BTreeMap;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::actions::{Action, ClientId, Gone, Leave, Line, Log};
use super::engine::{Behind, Dispatch, Engine, Offer};
use super::logqueue::LogQueue;
use super::protocol::HostCommand;
use super::rules::{Arrived, Refusal, Room};
use super::stats::{Output, Traffic};
use crate::framing::Messages;

/// What the other threads tell the hub.
pub enum Event {
    /// The accept thread took a new connection. `queue` feeds its writer thread; `stream` is a
    /// handle on its socket, kept only to shut it down (kick, slow consumer).
    Joined {
        id: ClientId,
        peer: SocketAddr,
        queue: QueueSender,
        stream: Arc<TcpStream>,
        gate: Arc<Gate>,
    },
    /// A reader got lines from its client: every whole line of one `read`, in order. One event
    /// per read, not per line: a flood of short lines (`yes`: 4,096 in one 8 KiB read) would
    /// otherwise cost the reader and the hub a channel hand-over each.
    /// `arrived` says what the read brought in all (its bytes, the unfinished line's), so the
    /// rules charge every byte, lines or not.
    Said {
        id: ClientId,
        lines: Messages,
        arrived: Arrived,
    },
    /// A reader got a line longer than `--max-line` (it was dropped).
    TooLong { id: ClientId, limit: usize },
    /// A reader ended: the client closed (EOF), or the connection broke.
    Gone { id: ClientId, why: Gone },
    /// The operator typed something at the server's console.
    Host(HostCommand),
    /// The accept thread turned a connection away (the room is full): the room counts it for
    /// the console.
    Refused { peer: SocketAddr, refusal: Refusal },
    /// Something went wrong outside any client (e.g. `accept` failed): log it.
    Trouble(String),
    /// Close the room: say goodbye to everyone and end the hub.
    Close,
}

/// A client's queue of lines to send, bounded by what its waiting lines cost in bytes.
///
/// Not a `bounded` channel: that allocates all its slots up front, and a queue deep enough for
/// a burst (see `CLIENT_QUEUE` in engine.rs) would cost hundreds of KiB for every silent client
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
    /// The bytes waiting for the writer, as the bound counts them (each line with its newline and
    /// the queue's bookkeeping): what `/stats` shows as `queued`.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Queues a line, and says how many bytes then wait (the caller judges them against
    /// [`QueueSender::capacity`], engine.rs's `Behind`); `Err` if the writer is gone.
    pub fn send(&self, line: Line) -> Result<usize, Line> {
        let cost = cost(&line);
        let waiting = self.waiting.fetch_add(cost, Ordering::Relaxed) + cost;
        self.lines.send(line).map_err(|error| {
            self.waiting.fetch_sub(cost, Ordering::Relaxed);
            error.0
        })?;
        Ok(waiting)
    }

    /// The bound on the bytes waiting ([`CLIENT_QUEUE`](super::engine::CLIENT_QUEUE)).
    pub fn capacity(&self) -> usize {
        self.capacity
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
    gate: Arc<Gate>,
    /// Every line queued for it, for `/stats`.
    sent: Traffic,
    /// What its lines cost the queue in all, so that what it took is that less what waits.
    pushed: u64,
    /// Whether, and since when, it is more than its queue's bound behind (engine.rs).
    behind: Behind,
}

// ANCHOR: gate
/// Where a client's reader thread waits before each line while the client is over its rate
/// limit: the hub closes the gate until a time, the reader does not `read` its socket until
/// then. Its lines wait in the kernel, whose receive buffer fills, and TCP's flow control makes
/// the sender's own `write()` block: backpressure, with nothing dropped.
#[derive(Default)]
pub struct Gate {
    until: Mutex<Option<Instant>>,
    changed: Condvar,
}

impl Gate {
    /// Keep the reader from reading before `until`.
    pub fn close_until(&self, until: Instant) {
        *self.lock() = Some(until);
    }

    /// Keep the reader from reading before `until`, unless it is kept out longer already.
    pub fn close_at_least_until(&self, until: Instant) {
        let mut closed = self.lock();
        if closed.is_none_or(|later| later < until) {
            *closed = Some(until);
        }
    }

    /// Let the reader go now (the client is leaving: its reader must see the end).
    pub fn open(&self) {
        *self.lock() = None;
        self.changed.notify_all();
    }

    /// Waits until the gate is open.
    pub fn wait(&self) {
        let mut until = self.lock();
        while let Some(deadline) = *until {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                *until = None;
                return;
            }
            until = match self.changed.wait_timeout(until, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Instant>> {
        // Nothing can be half-updated behind this lock: a panicking holder left a valid value.
        self.until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
// ANCHOR_END: gate

/// While console lines wait for the console thread (engine.rs, `LogQueue`), how soon the hub
/// tries again.
const LOG_RETRY: Duration = Duration::from_millis(20);

/// The hub thread's body: receives events until told to close (or until every sender is gone),
/// and carries out what the [`Room`] decides.
// ANCHOR: hub_loop
pub fn run(events: Receiver<Event>, log: LogQueue, mut room: Room) {
    let mut dispatch = Dispatch::default();
    let mut wires = Wires {
        wires: BTreeMap::new(),
        log,
    };
    loop {
        // Wait for the next event, or until the room has something to do on its own (announce
        // a newcomer who stayed), or to retry the answers the console had no room for.
        let retry = wires.log.holds_lines().then(|| Instant::now() + LOG_RETRY);
        // While a member is behind, its output is judged again every few milliseconds.
        let behind = dispatch.behind_deadline(Instant::now());
        let deadline = [room.next_deadline(), retry, behind]
            .into_iter()
            .flatten()
            .min();
        let event = match deadline {
            Some(deadline) => match events.recv_deadline(deadline) {
                Ok(event) => Some(event),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            },
            // `recv` fails only when every sender (accept thread, readers, console) is gone.
            None => match events.recv() {
                Ok(event) => Some(event),
                Err(_) => break,
            },
        };
        let now = Instant::now();
        let actions = match event {
            None => Vec::new(),
            Some(Event::Joined {
                id,
                peer,
                queue,
                stream,
                gate,
            }) => {
                wires.wires.insert(
                    id,
                    Wire {
                        queue,
                        stream,
                        gate,
                        sent: Traffic::default(),
                        pushed: 0,
                        behind: Behind::default(),
                    },
                );
                room.join(id, peer, now)
            }
            Some(Event::Said { id, lines, arrived }) => {
                let mut actions: Vec<Action> = lines
                    .iter()
                    .flat_map(|line| room.said(id, line, now))
                    .collect();
                if arrived != Arrived::default() {
                    actions.extend(room.read(id, arrived, now));
                }
                actions
            }
            Some(Event::TooLong { id, limit }) => room.too_long(id, limit, now),
            Some(Event::Gone { id, why }) => {
                wires.wires.remove(&id);
                room.leave(id, Leave::Gone(why))
            }
            Some(Event::Host(command)) => room.host(command, now),
            Some(Event::Refused { peer, refusal }) => room.refused(peer, &refusal, now),
            Some(Event::Trouble(text)) => vec![Action::Log(Log::Notice(text))],
            Some(Event::Close) => {
                let actions = room.close();
                dispatch.apply(&mut room, &mut wires, actions);
                wires.log.flush();
                break;
            }
        };
        dispatch.apply(&mut room, &mut wires, actions);
        // Checked after every event too: in a busy room events never stop arriving.
        let ticked = room.tick(now);
        dispatch.apply(&mut room, &mut wires, ticked);
        dispatch.check_behind(&mut room, &mut wires, now);
        wires.log.flush();
    }
    // Dropping `wires` drops every remaining queue sender: each writer finishes what is queued
    // (the goodbye) and closes its connection.
}
// ANCHOR_END: hub_loop

/// The threads engine as the shared dispatch sees it: a queue and a socket per client.
struct Wires {
    wires: BTreeMap<ClientId, Wire>,
    log: LogQueue,
}

impl Engine for Wires {
    /// Puts a line in a client's queue without ever waiting.
    // ANCHOR: offer
    fn offer(&mut self, id: ClientId, line: &Line) -> Offer {
        let Some(wire) = self.wires.get_mut(&id) else {
            return Offer::Gone;
        };
        match wire.queue.send(Arc::clone(line)) {
            Ok(waiting) => {
                wire.sent.count(line.len());
                wire.pushed += cost(line) as u64;
                let taken = wire.pushed.saturating_sub(waiting as u64);
                wire.behind.judge(waiting, wire.queue.capacity(), taken)
            }
            // The writer ended (its write failed): the reader will report the client gone.
            Err(_) => {
                self.wires.remove(&id);
                Offer::Gone
            }
        }
    }

    fn drop_slow(&mut self, id: ClientId) {
        // Its writer is stuck in `write` because the client's receive window is shut.
        // shutdown() wakes that blocked write (it fails with EPIPE) and the reader (EOF), so
        // both threads end; we drop the queue and the room moves on without waiting.
        if let Some(wire) = self.wires.remove(&id) {
            let _ = wire.stream.shutdown(Shutdown::Both);
            wire.gate.open();
        }
    }
    // ANCHOR_END: offer

    /// Dropping the queue's sender is the signal: the writer sends what is queued, then closes.
    fn disconnect(&mut self, id: ClientId) {
        if let Some(wire) = self.wires.remove(&id) {
            wire.gate.open();
        }
    }

    fn pause(&mut self, id: ClientId, until: Instant) {
        if let Some(wire) = self.wires.get(&id) {
            wire.gate.close_until(until);
        }
    }

    fn judge(&mut self, id: ClientId) -> Offer {
        let Some(wire) = self.wires.get_mut(&id) else {
            return Offer::Gone;
        };
        let waiting = wire.queue.waiting();
        let taken = wire.pushed.saturating_sub(waiting as u64);
        wire.behind.judge(waiting, wire.queue.capacity(), taken)
    }

    fn hold_back(&mut self, id: ClientId, until: Instant) {
        if let Some(wire) = self.wires.get(&id) {
            wire.gate.close_at_least_until(until);
        }
    }

    fn log(&mut self, entry: Log) {
        self.log.show(entry);
    }

    fn output(&self, id: ClientId) -> Option<Output> {
        let wire = self.wires.get(&id)?;
        Some(Output {
            sent: wire.sent,
            waiting: wire.queue.waiting(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modes::room::engine::BEHIND_GRACE;
    use crate::modes::room::rules::Limits;

    fn addr() -> SocketAddr {
        "127.0.0.1:4000".parse().unwrap()
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
        let mut room = Room::new(Limits::off());
        let mut wires = Wires {
            wires: BTreeMap::new(),
            log: LogQueue::new(log),
        };
        let (alice_queue, alice_lines) = client_queue(1000);
        // Room for exactly one line: the one already waiting.
        let (slow_queue, _slow_lines) = client_queue(cost(&Arc::from("already waiting")));
        slow_queue.send(Arc::from("already waiting")).unwrap();
        for (id, name, queue) in [(1, "alice", alice_queue), (2, "slow", slow_queue)] {
            room.join(id, addr(), Instant::now());
            room.said(id, format!("/nick {name}").as_bytes(), Instant::now());
            wires.wires.insert(
                id,
                Wire {
                    queue,
                    stream: socket(),
                    gate: Arc::default(),
                    sent: Traffic::default(),
                    pushed: 0,
                    // Behind for longer than the grace, having taken nothing meanwhile.
                    behind: Behind::since(Instant::now().checked_sub(BEHIND_GRACE).unwrap(), 0),
                },
            );
        }
        // Forget the welcome lines: only what follows the host's line matters here.
        while alice_lines.try_recv().is_some() {}
        let actions = room.host(HostCommand::Say(b"hi".to_vec()), Instant::now());
        Dispatch::default().apply(&mut room, &mut wires, actions);
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
        assert!(!wires.wires.contains_key(&2));
        assert_eq!(room.nick(2), None);
    }
}
