//! The threads engine (lesson 3): the accept thread, and a reader and a writer thread per client.
//!
//! ```text
//!                      Event (bounded)                 Line queues (bounded, one per client)
//!  accept thread ──Joined──┐                        ┌──> writer 1 ──write──> client 1
//!  reader 1 ──Said/Gone────┼──> hub thread (Room) ──┼──> writer 2 ──write──> client 2
//!  reader 2 ──Said/Gone────┤          │             └──> writer 3 ──write──> client 3
//!  console (host) ─Host────┘          └──Log──> console (main thread: stdout, stderr)
//! ```
//!
//! Why threads per client: a `read` blocks until *that* client sends something. One thread
//! reading thirty sockets in turn would wait on the quietest student while the others' lines
//! pile up. So each client gets a reader blocked on its own socket, and a writer blocked on its
//! own queue (or on its own socket when the client reads slowly) — a stalled client stalls only
//! its own two threads. The price: two threads per client, which is where this engine stops
//! (`thread_limit` below); the poll engine (poll.rs) is lesson 4's answer.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};

use super::actions::{ClientId, Gone};
use super::engine::{
    self, CLIENT_QUEUE, CLOSE_LINGER, MAX_REFUSING, SHUTDOWN_GRACE, WRITE_KEEP, WRITE_TIMEOUT,
};
use super::hub::{self, Event, Gate, QueueReceiver};
use super::logqueue::LogQueue;
use super::options::{Running, ServerOptions};
use super::protocol::HostCommand;
use super::rules::{self, Arrived, Room};
use super::system::{self, Limit, describe, spawn_named};
use crate::console::Console;
use crate::endpoint::{self, Role};
use crate::error::{Error, Result};
use crate::framing::{Frame, Framing, LineReader, Messages};
use crate::observe::{Traced, Watch};

/// Memory mappings per client: two threads, and Rust gives each thread four (its stack, the stack's
/// guard page, and an alternate signal stack with its own guard, on which std reports a stack
/// overflow instead of crashing silently).
const MAPS_PER_CLIENT: usize = 8;

/// Memory mappings kept free for the program itself, its libraries and its heap.
const MAPS_RESERVED: usize = 2_000;

/// How many events may wait for the hub. When it is full, readers wait: they stop reading their
/// sockets, and TCP's flow control slows the senders down. The hub never waits for anything, so
/// a short queue is enough to smooth a burst; it is short because each event may hold a line of
/// up to `--max-line` bytes.
pub const EVENT_QUEUE: usize = 64;

/// Stack size for each client's reader and writer threads.
///
/// A thread's stack is reserved when the thread starts: 2 MiB by default in Rust. Our client
/// threads only hold a few small frames (their buffers live on the heap), so 2 MiB each would
/// reserve 4 GB of address space for a thousand clients for nothing — too much for 32-bit
/// machines or a tight `ulimit -v`. 128 KiB is still many times what they use.
pub const CLIENT_THREAD_STACK: usize = 128 * 1024;

/// How many bytes a writer gathers before it writes: enough for hundreds of chat lines in one
/// system call, small enough to keep per client.
pub const WRITE_BATCH: usize = 64 * 1024;

/// The threads engine, running: how the console reaches it and how it is stopped.
pub struct Threads {
    events: Sender<Event>,
    hub: JoinHandle<()>,
    acceptor: JoinHandle<()>,
    stopping: Arc<AtomicBool>,
    local: SocketAddr,
    /// Disconnected once every client thread has ended (each holds a clone of its sender).
    all_ended: Receiver<()>,
}

/// Starts the hub thread and the accept thread on an already bound listener.
// ANCHOR: start
pub fn start(
    listener: TcpListener,
    options: &ServerOptions,
    room: Room,
    log: LogQueue,
    console: &mut Console,
) -> Result<Threads> {
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("reading the bound address", e))?;
    let (events, hub_events) = bounded::<Event>(EVENT_QUEUE);
    // Every client thread holds a clone of `alive`; when all are gone, `recv` on `all_ended`
    // reports Disconnected. A channel nobody sends on, used as a "wait for all of them".
    let (alive, all_ended) = bounded::<()>(0);
    let stopping = Arc::new(AtomicBool::new(false));

    let hub = spawn_named("room-hub", None, move || hub::run(hub_events, log, room))?;
    let mut options = options.clone();
    options.max_clients = system::admission_limit(
        options.max_clients,
        &[system::file_limit(), thread_limit()],
        console,
    );
    let acceptor = {
        let (events, stopping) = (events.clone(), Arc::clone(&stopping));
        spawn_named("room-accept", None, move || {
            accept_loop(&listener, &options, &events, &alive, &stopping);
        })?
    };
    Ok(Threads {
        events,
        hub,
        acceptor,
        stopping,
        local,
        all_ended,
    })
}
// ANCHOR_END: start

impl Running for Threads {
    fn host(&self, command: HostCommand) -> bool {
        self.events.send(Event::Host(command)).is_ok()
    }

    /// Tells the hub, which says goodbye to everyone and drops every client's queue; then stops
    /// accepting and gives the writers a moment to deliver the goodbyes.
    fn close(self: Box<Self>) -> Result<()> {
        let _ = self.events.send(Event::Close);
        drop(self.events);
        let hub = system::join(self.hub, "room-hub");
        let acceptor = stop_accepting(&self.stopping, self.local, self.acceptor);
        // A client thread still running after the grace is a slow client, not an error.
        let _ = self
            .all_ended
            .recv_deadline(Instant::now() + SHUTDOWN_GRACE);
        hub.and(acceptor)
    }
}

/// Ends the accept thread. A thread blocked in `accept()` cannot be woken portably (closing the
/// listener from another thread does not reliably do it), so we set the flag and then connect to
/// ourselves: `accept` returns, sees the flag, and the thread ends.
fn stop_accepting(
    stopping: &AtomicBool,
    local: SocketAddr,
    acceptor: JoinHandle<()>,
) -> Result<()> {
    stopping.store(true, Ordering::SeqCst);
    let target = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, local.port()))
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, local.port()))
        }
        _ => local,
    };
    if TcpStream::connect_timeout(&target, Duration::from_secs(1)).is_ok() {
        return system::join(acceptor, "room-accept");
    }
    // Otherwise the thread is left blocked in accept(); the process exits around it.
    Ok(())
}

/// One place in a count shared between threads (live connections for `--max-clients`, refusals
/// being closed), so an atomic; membership and names stay with the hub. Dropping it gives the
/// place back: for a client, when its writer ends.
struct Seat(Arc<AtomicUsize>);

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The limit only the threads engine has (the open-file limit, shared by every engine, is in
/// engine.rs): on Linux each thread's stack is a memory mapping, and `vm.max_map_count` (65,530
/// by default) caps them per process, so about 8,000 clients at two threads each. The poll engine
/// needs no thread per client, and the start-up line says so.
// ANCHOR: thread_limit
fn thread_limit() -> Limit {
    let maps = max_map_count();
    Limit {
        clients: maps.map_or(usize::MAX, |maps| {
            maps.saturating_sub(MAPS_RESERVED) / MAPS_PER_CLIENT
        }),
        why: format!(
            "each client costs two threads and Linux allows {} memory mappings per process \
             (vm.max_map_count); raise it with `sudo sysctl vm.max_map_count=262144`, or run \
             the room with `--engine poll`, which needs no thread per client",
            maps.unwrap_or_default()
        ),
    }
}
// ANCHOR_END: thread_limit

/// Linux's per-process limit on memory mappings; `None` elsewhere (no such limit to read).
fn max_map_count() -> Option<usize> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The accept thread: takes each new connection and gives it a reader and a writer.
// ANCHOR: accept_loop
fn accept_loop(
    listener: &TcpListener,
    options: &ServerOptions,
    events: &Sender<Event>,
    alive: &Sender<()>,
    stopping: &AtomicBool,
) {
    let live = Arc::new(AtomicUsize::new(0));
    let refusing = Arc::new(AtomicUsize::new(0));
    let mut next_id: ClientId = 1;
    loop {
        let (stream, peer) = match endpoint::accept(listener) {
            Ok(accepted) => accepted,
            Err(error) => {
                // E.g. EMFILE: out of file descriptors. Say so, wait a little, and go on: the
                // connections already in the room are not affected.
                let text = format!("cannot accept a connection: {error}");
                if events.send(Event::Trouble(text)).is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        if live.load(Ordering::SeqCst) >= options.max_clients {
            let refusal = rules::room_full(options.max_clients, &options.access, peer);
            let line = format!("{}\n", rules::refusal_line(&refusal));
            refuse(stream, line, options, &refusing, alive);
            if events.send(Event::Refused { peer, refusal }).is_err() {
                return;
            }
            continue;
        }
        live.fetch_add(1, Ordering::SeqCst);
        let seat = Seat(Arc::clone(&live));
        let id = next_id;
        next_id += 1;
        if start_client(id, stream, peer, seat, options, events, alive).is_err() {
            return; // the hub is gone: the room is closing
        }
    }
}
// ANCHOR_END: accept_loop

/// One connection too many: a polite line, then close. On its own short thread, because a
/// graceful close waits up to a second and the accept thread must not. At most
/// [`MAX_REFUSING`] such threads at once (engine.rs).
fn refuse(
    stream: TcpStream,
    line: String,
    options: &ServerOptions,
    refusing: &Arc<AtomicUsize>,
    alive: &Sender<()>,
) {
    let watch = options.observer.watch_from_start(None, Framing::Line);
    if refusing.fetch_add(1, Ordering::SeqCst) >= MAX_REFUSING {
        refusing.fetch_sub(1, Ordering::SeqCst);
        let _ = (&stream).write_all(line.as_bytes());
        return;
    }
    // Counted like a seat: the count goes down when the thread ends, or at once if it cannot
    // start (the closure, and the seat in it, is dropped).
    let slot = Seat(Arc::clone(refusing));
    let alive = alive.clone();
    let _ = spawn_named("room-refuse", Some(CLIENT_THREAD_STACK), move || {
        let _ = (&stream).write_all(line.as_bytes());
        endpoint::close_gracefully(&stream, &watch);
        drop((slot, alive));
    });
}

/// Registers a client with the hub, then starts its writer and reader. `Err` means the hub is
/// gone.
// ANCHOR: start_client
fn start_client(
    id: ClientId,
    stream: TcpStream,
    peer: SocketAddr,
    seat: Seat,
    options: &ServerOptions,
    events: &Sender<Event>,
    alive: &Sender<()>,
) -> std::result::Result<(), ()> {
    // A write that blocks this long means the client stopped reading (see WRITE_TIMEOUT).
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    // If the OS refuses, the client keeps the default buffer: bounded still, by the OS maximum.
    let _ = endpoint::fix_send_buffer(&stream, engine::CLIENT_SEND_BUFFER);
    // A client that vanished without closing is found out by the kernel (endpoint.rs).
    let _ = endpoint::keep_alive(&stream);
    // Trace lines carry the client's number (and name, once the hub gave it one).
    let watch = options.observer.watch_from_start(Some(id), Framing::Line);
    watch.connected(&stream, Role::Listener);
    // One socket, shared by the reader, the writer and the hub. `&TcpStream` can read and write,
    // so sharing it by `Arc` costs one file descriptor per client; `try_clone` would `dup` a new
    // descriptor for each holder, and the usual limit is 1024 per process. The socket closes when
    // the last holder drops it.
    let stream = Arc::new(stream);
    let (for_hub, for_writer) = (Arc::clone(&stream), Arc::clone(&stream));
    let (queue, lines) = hub::client_queue(CLIENT_QUEUE);
    let gate = Arc::new(Gate::default());
    // The hub must know the client before its reader can report a line from it.
    events
        .send(Event::Joined {
            id,
            peer,
            queue,
            stream: for_hub,
            gate: Arc::clone(&gate),
        })
        .map_err(|_| ())?;
    // The reader tells the writer it has ended by dropping `reader_done`.
    let (reader_done, reader_ended) = bounded::<()>(0);
    let writer_alive = alive.clone();
    let writer_watch = watch.clone();
    let writer_events = events.clone();
    let writer = spawn_named(
        &format!("room-write-{id}"),
        Some(CLIENT_THREAD_STACK),
        move || {
            let end = write_loop(&mut Traced::new(&*for_writer, writer_watch.clone()), &lines);
            if end == WriterEnd::Stuck {
                let _ = writer_events.send(Event::Stuck { id });
            }
            finish(&for_writer, &reader_ended, &writer_watch);
            drop((seat, writer_alive));
        },
    );
    let reader_events = events.clone();
    let reader_alive = alive.clone();
    let max_line = options.max_line;
    let reader = spawn_named(
        &format!("room-read-{id}"),
        Some(CLIENT_THREAD_STACK),
        move || {
            let why = read_loop(id, &stream, max_line, &gate, &reader_events, watch);
            let _ = reader_events.send(Event::Gone { id, why });
            drop((reader_done, reader_alive));
        },
    );
    if writer.is_err() || reader.is_err() {
        // Out of threads: the hub drops this client once told it is gone.
        let why = Gone::Lost("the server could not start a thread for it".into());
        events.send(Event::Gone { id, why }).map_err(|_| ())?;
    }
    Ok(())
}
// ANCHOR_END: start_client

/// The reader: one blocking `read` after another on this client's socket; the lines each `read`
/// brought are one event for the hub. Ends at EOF, on an error, or when someone shuts the socket down (kick, slow, closing).
// ANCHOR: read_loop
fn read_loop(
    id: ClientId,
    stream: &TcpStream,
    max_line: usize,
    gate: &Gate,
    events: &Sender<Event>,
    watch: Watch,
) -> Gone {
    // Wait for the first byte *before* taking a read buffer: `peek` blocks like `read` but
    // leaves the byte in the socket. A client that never speaks (most of a school-sized room)
    // then costs no 8 KiB buffer. Whatever peek returns (data, EOF, an error), the reader below
    // sees it again and handles it.
    let _ = stream.peek(&mut [0u8; 1]);
    let mut reader = LineReader::new(stream, max_line).watched(watch);
    loop {
        // Over its rate limit, the client is not read until the hub's gate opens (hub.rs). The
        // gate is checked before each `read`, not before each line: the lines one `read` brought
        // go to the hub together, in one event, and the rules hold them (or, past their bound,
        // drop them), as they do with each read of the poll engine.
        gate.wait();
        // One buffer for every line of the read, not one per line: a reader blocked on a full
        // event queue holds this block, and a flood of `yes` puts 4,096 lines in one 8 KiB read,
        // which as separate `Vec`s held 230 KB (their headers and smallest allocations) instead
        // of 40 KB, for each of fifty flooders and each event waiting for the hub.
        let mut lines = Messages::default();
        let mut hub_gone = false;
        let read = reader.read_chunk(|frame| match frame {
            Frame::Line(line) => lines.push(line),
            // In order: the lines before it, then the refusal.
            Frame::TooLong { limit } => {
                hub_gone |= !hand_over(id, &mut lines, Arrived::default(), events)
                    || events.send(Event::TooLong { id, limit }).is_err();
            }
        });
        let bytes = match read {
            Ok(0) => {
                let _ = hand_over(id, &mut lines, Arrived::default(), events);
                return Gone::Closed;
            }
            Ok(bytes) => bytes,
            Err(error) => return Gone::Lost(describe(&error)),
        };
        // With the read's lines, what it brought: the rules charge the bytes that made no line.
        let arrived = Arrived {
            bytes,
            unfinished: reader.unfinished(),
        };
        let handed = !hub_gone && hand_over(id, &mut lines, arrived, events);
        if !handed {
            return Gone::Closed;
        }
    }
}

/// Sends the lines gathered from one `read` to the hub, if there are any; `false` if the hub is
/// gone. Blocks while the hub's queue is full: this client waits, the others do not.
fn hand_over(id: ClientId, lines: &mut Messages, arrived: Arrived, events: &Sender<Event>) -> bool {
    if lines.is_empty() && arrived == Arrived::default() {
        return true;
    }
    let lines = std::mem::take(lines);
    events.send(Event::Said { id, lines, arrived }).is_ok()
}
// ANCHOR_END: read_loop

/// How a writer ended.
#[derive(Debug, PartialEq, Eq)]
enum WriterEnd {
    /// The hub dropped the queue (the client left, was kicked, or the room closed), or a write
    /// failed (the client is gone: reset, closed).
    Done,
    /// A write accepted no byte for [`WRITE_TIMEOUT`]: the client's receive window stayed shut,
    /// it stopped reading. The hub is told, so the room drops it as too slow, by the same rule
    /// as a full queue (and the poll engine's stuck output), not as one that left.
    Stuck,
}

/// The writer: waits for a line, then takes everything else already queued and sends it all
/// with as few `write` calls as possible — one system call (and, with TCP_NODELAY, as few packets
/// as possible) for a burst of lines. Ends when the hub drops the queue's sender, or when a
/// write fails or stays blocked.
// ANCHOR: write_loop
fn write_loop(stream: &mut impl Write, lines: &QueueReceiver) -> WriterEnd {
    // Empty until the first line: a silent client's writer holds no buffer at all.
    let mut batch = Vec::new();
    while let Some(first) = lines.recv() {
        for line in std::iter::once(first).chain(std::iter::from_fn(|| lines.try_recv())) {
            batch.extend_from_slice(line.as_bytes());
            batch.push(b'\n');
            if batch.len() >= WRITE_BATCH
                && let Err(end) = send_batch(stream, &mut batch)
            {
                return end;
            }
        }
        if let Err(end) = send_batch(stream, &mut batch) {
            return end;
        }
    }
    WriterEnd::Done
}

/// Writes the batch and empties it, giving back memory a burst of long lines made it take: a
/// thousand idle writers must not each keep megabytes. An error means the client is finished:
/// gone or reset ([`WriterEnd::Done`]), or blocked longer than WRITE_TIMEOUT
/// ([`WriterEnd::Stuck`]). Our `lines` receiver is then dropped, so the hub's next offer sees
/// Disconnected.
fn send_batch(stream: &mut impl Write, batch: &mut Vec<u8>) -> std::result::Result<(), WriterEnd> {
    let written = stream.write_all(batch);
    batch.clear();
    batch.shrink_to(WRITE_KEEP);
    written.map_err(|error| match error.kind() {
        // SO_SNDTIMEO ran out (Unix says EAGAIN, Windows a time-out).
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => WriterEnd::Stuck,
        _ => WriterEnd::Done,
    })
}
// ANCHOR_END: write_loop

/// After the last line: send our FIN (shutdown Write), give the client a moment to close its
/// side and the reader to see it, then shut everything so the reader ends for sure.
fn finish(stream: &TcpStream, reader_ended: &Receiver<()>, watch: &Watch) {
    watch.shutdown_write(stream);
    let _ = reader_ended.recv_timeout(CLOSE_LINGER);
    let _ = stream.shutdown(Shutdown::Both);
    watch.closed();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::Captured;
    use std::io;

    #[test]
    fn a_small_room_is_admitted_as_asked_without_a_word() {
        let err = Captured::default();
        let mut console = Console::new(Box::new(io::sink()), Box::new(err.clone()), false);
        let limits = [system::file_limit(), thread_limit()];
        assert_eq!(system::admission_limit(10, &limits, &mut console), 10);
        assert!(err.text().is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn more_clients_than_the_system_can_hold_are_capped_with_the_reason() {
        let err = Captured::default();
        let mut console = Console::new(Box::new(io::sink()), Box::new(err.clone()), false);
        let limits = [system::file_limit(), thread_limit()];
        let limit = system::admission_limit(100_000_000, &limits, &mut console);
        assert!(limit < 100_000_000);
        let said = err.text();
        assert!(
            said.contains(&format!("lets the room hold {limit} clients")),
            "{said}"
        );
    }

    /// The hub thread panicked (a bug): closing the room says so, it does not end quietly.
    #[test]
    fn a_hub_thread_that_panicked_makes_close_an_error() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let local = listener.local_addr().expect("the bound address");
        let stopping = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let stopping = Arc::clone(&stopping);
            spawn_named("room-accept", None, move || {
                while !stopping.load(Ordering::SeqCst) {
                    let _ = listener.accept();
                }
            })
            .expect("a thread")
        };
        let (events, _hub_events) = bounded::<Event>(EVENT_QUEUE);
        let (alive, all_ended) = bounded::<()>(0);
        drop(alive);
        let hub = spawn_named("room-hub", None, || panic!("a bug in the hub")).expect("a thread");
        let running: Box<dyn Running> = Box::new(Threads {
            events,
            hub,
            acceptor,
            stopping,
            local,
            all_ended,
        });
        assert!(matches!(
            running.close(),
            Err(Error::ThreadDied { thread: "room-hub" })
        ));
    }
}
