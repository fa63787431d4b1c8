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
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::engine::{Dispatch, Engine, LogQueue, Offer};
use super::protocol::HostCommand;
use super::rules::{Action, ClientId, Gone, Leave, Line, Log, Room};
use super::transcript::Transcript;

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
pub fn run(
    events: Receiver<Event>,
    log: Sender<Log>,
    mut room: Room,
    transcript: Option<Transcript>,
) {
    let mut dispatch = Dispatch::default();
    let mut wires = Wires {
        wires: BTreeMap::new(),
        log: LogQueue::new(log).with_transcript(transcript),
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
                wires.wires.insert(id, Wire { queue, stream });
                room.join(id, peer)
            }
            Event::Said { id, line } => room.said(id, &line),
            Event::TooLong { id, limit } => room.too_long(id, limit),
            Event::Gone { id, why } => {
                wires.wires.remove(&id);
                room.leave(id, Leave::Gone(why))
            }
            Event::Host(command) => room.host(command),
            Event::Trouble(text) => vec![Action::Log(Log::Notice(text))],
            Event::Close => {
                let actions = room.close();
                dispatch.apply(&mut room, &mut wires, actions);
                break;
            }
        };
        dispatch.apply(&mut room, &mut wires, actions);
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
        let Some(wire) = self.wires.get(&id) else {
            return Offer::Gone;
        };
        match wire.queue.try_send(Arc::clone(line)) {
            Ok(()) => Offer::Accepted,
            Err(TrySendError::Full(_)) => Offer::Full,
            // The writer ended (its write failed): the reader will report the client gone.
            Err(TrySendError::Disconnected(_)) => {
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
        }
    }
    // ANCHOR_END: offer

    /// Dropping the queue's sender is the signal: the writer sends what is queued, then closes.
    fn disconnect(&mut self, id: ClientId) {
        self.wires.remove(&id);
    }

    fn log(&mut self, entry: Log) {
        self.log.show(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut room = Room::new();
        let mut wires = Wires {
            wires: BTreeMap::new(),
            log: LogQueue::new(log),
        };
        let (alice_queue, alice_lines) = client_queue(1000);
        // Room for exactly one line: the one already waiting.
        let (slow_queue, _slow_lines) = client_queue(cost(&Arc::from("already waiting")));
        slow_queue.try_send(Arc::from("already waiting")).unwrap();
        for (id, name, queue) in [(1, "alice", alice_queue), (2, "slow", slow_queue)] {
            room.join(id, addr());
            room.said(id, format!("/nick {name}").as_bytes());
            wires.wires.insert(
                id,
                Wire {
                    queue,
                    stream: socket(),
                },
            );
        }
        // Forget the welcome lines: only what follows the host's line matters here.
        while alice_lines.try_recv().is_some() {}
        let actions = room.host(HostCommand::Say(b"hi".to_vec()));
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
