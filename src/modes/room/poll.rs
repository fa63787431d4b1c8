//! The poll engine (lesson 4): one thread, one event loop, every socket.
//!
//! Socket calls: `bind` → `listen` once; then the loop. `poll` (epoll_wait on Linux, kevent on
//! macOS, IOCP on Windows, all behind mio) blocks until some of the sockets are *ready*; the loop
//! then makes non-blocking `accept`, `read` and `write` calls on the ready ones only, each until
//! the kernel says `WouldBlock` ("nothing more right now"). No call in the loop ever waits, so
//! one thread serves twenty thousand clients: a quiet client costs a few hundred bytes and no
//! thread, a slow one costs only the bytes waiting in its output buffer.
//!
//! The room's rules are the same [`Room`] the threads engine runs (rules.rs), and its actions
//! are carried out by the same [`Dispatch`] (engine.rs): this file is the loop, and its client
//! table (each connection, its output, the engine side of the dispatch) is poll/clients.rs. The
//! operator's console runs on the main thread (server.rs) and reaches the loop through a channel
//! and a [`Waker`], which makes `poll` return.
//!
//! Try it: `netchat room --listen 5000 --engine poll`, then `nc localhost 5000` in two other
//! terminals, and watch the loop's system calls with `strace -f -e trace=epoll_wait,read,write
//! -p PID`: one `epoll_wait`, then a `read` or `write` per ready socket.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, bounded};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::actions::{ClientId, Gone, Leave, Log};
use super::engine::{CLIENT_SEND_BUFFER, Dispatch, MAX_REFUSING, SHUTDOWN_GRACE, WRITE_TIMEOUT};
use super::logqueue::LogQueue;
use super::options::{Running, ServerOptions};
use super::protocol::HostCommand;
use super::rules::{self, Room};
use super::system::{self, describe, spawn_named};
use crate::console::Console;
use crate::endpoint::{self, Role};
use crate::error::{Error, Result};
use crate::framing::{Frame, Framing, LineDecoder};
use crate::observe::Observer;

/// The listening socket's token: `poll` names each ready socket by the token it was registered
/// with. Clients get their id as their token, from [`FIRST_CLIENT`] on; the listener and the
/// waker take tokens from the top, which no client id reaches.
const LISTENER: Token = Token(usize::MAX - 1);
/// The waker's token: the console has sent a command.
const WAKER: Token = Token(usize::MAX - 2);
/// The first client id, as on the threads engine, so a trace reads `#1` for the first client on
/// both (ids are never reused, so a late event cannot reach the wrong client).
const FIRST_CLIENT: ClientId = 1;

/// How many readiness events one `poll` call may return. More ready sockets simply wait for the
/// next call: nothing is lost, since a socket stays ready until it is read.
const EVENTS_PER_POLL: usize = 1024;

/// The loop's one read buffer, shared by every client: a client that has not spoken costs no
/// buffer (its [`LineDecoder`] holds only an unfinished line, if any).
const READ_BUFFER: usize = 64 * 1024;

/// How many bytes the loop reads from one client before it turns to the others. A flooder whose
/// socket is always full must not keep the loop to itself; its remaining bytes wait for the next
/// turn (and TCP's flow control makes the flooder wait, not the room).
const READ_TURN: usize = 64 * 1024;

/// How many bytes the loop reads, from all clients together, before it writes what they said.
/// Everything read in a turn is written in one go at its end (one write per recipient, however
/// many lines), but each byte read may become a copy in every recipient's output: a turn that
/// read 200 students' pastes at once would queue 200 pastes for each of them, and a recipient
/// could pass its `CLIENT_QUEUE` bound while it reads as fast as it can. The rest wait for the
/// next turn, which comes at once.
const TURN_BUDGET: usize = 256 * 1024;

/// How often, while some connection is closing or stuck, the loop checks their deadlines.
const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// After `accept` fails (out of file descriptors), how long before the loop tries again.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// How many commands from the console may wait for the loop.
const CONTROL_QUEUE: usize = 64;

/// While console lines wait for the console thread (engine.rs, `LogQueue`), how soon the loop
/// tries again.
const LOG_RETRY: Duration = Duration::from_millis(20);

/// What the console thread tells the loop.
enum Control {
    Host(HostCommand),
    Close,
}

/// The poll engine, running: the console's way in, and the loop's thread.
pub struct PollRoom {
    control: Sender<Control>,
    waker: Arc<Waker>,
    thread: JoinHandle<()>,
}

/// Registers the listener and a waker with a new `Poll`, and starts the loop on its thread.
pub fn start(
    listener: std::net::TcpListener,
    options: &ServerOptions,
    room: Room,
    log: LogQueue,
    console: &mut Console,
) -> Result<PollRoom> {
    // Only the open-file limit applies: no thread per client, so no memory mappings per client.
    let max_clients =
        system::admission_limit(options.max_clients, &[system::file_limit()], console);
    let setup = |what: &str, error| Error::io(format!("starting the event loop: {what}"), error);
    // Non-blocking: `accept` on a listener with no pending connection returns WouldBlock.
    listener
        .set_nonblocking(true)
        .map_err(|e| setup("non-blocking listener", e))?;
    let mut listener = TcpListener::from_std(listener);
    let poll = Poll::new().map_err(|e| setup("creating the poller", e))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .map_err(|e| setup("registering the listener", e))?;
    let waker =
        Arc::new(Waker::new(poll.registry(), WAKER).map_err(|e| setup("creating a waker", e))?);
    let registry = poll
        .registry()
        .try_clone()
        .map_err(|e| setup("sharing the registry", e))?;
    let (control, commands) = bounded(CONTROL_QUEUE);
    let mut event_loop = EventLoop {
        poll,
        listener: Some(listener),
        commands,
        room,
        dispatch: Dispatch::default(),
        clients: Clients {
            registry,
            map: HashMap::default(),
            log,
            dirty: Vec::new(),
            timed: BTreeSet::new(),
            paused: BTreeSet::new(),
            seats: 0,
            refusing: 0,
        },
        buffer: vec![0; READ_BUFFER],
        ready: VecDeque::new(),
        read_this_turn: 0,
        max_line: options.max_line,
        max_clients,
        next_id: FIRST_CLIENT,
        observer: options.observer.clone(),
        accept_again: None,
        next_sweep: Instant::now(),
        closing: None,
    };
    let thread = spawn_named("room-poll", None, move || event_loop.run())?;
    Ok(PollRoom {
        control,
        waker,
        thread,
    })
}

impl Running for PollRoom {
    /// The command goes into the channel, then the waker makes the loop's `poll` return.
    fn host(&self, command: HostCommand) -> bool {
        self.control.send(Control::Host(command)).is_ok() && self.waker.wake().is_ok()
    }

    /// The loop says goodbye to everyone and ends once every connection is closed, or after
    /// `SHUTDOWN_GRACE`.
    fn close(self: Box<Self>) -> Result<()> {
        if self.control.send(Control::Close).is_ok() {
            let _ = self.waker.wake();
        }
        drop(self.control);
        system::join(self.thread, "room-poll")
    }
}

mod clients;

use clients::{Clients, Phase};

/// The loop's state. Owned by its one thread: no lock anywhere.
struct EventLoop {
    poll: Poll,
    /// `None` once the room is closing: no more connections.
    listener: Option<TcpListener>,
    commands: Receiver<Control>,
    room: Room,
    dispatch: Dispatch,
    clients: Clients,
    buffer: Vec<u8>,
    /// Clients whose sockets may hold unread bytes, each read for one turn, in order.
    ready: VecDeque<ClientId>,
    /// Bytes read in this turn so far (see [`TURN_BUDGET`]).
    read_this_turn: usize,
    max_line: usize,
    max_clients: usize,
    next_id: ClientId,
    /// `--trace` and `--events`: each connection gets a [`Watch`](crate::observe::Watch) from it.
    observer: Observer,
    accept_again: Option<Instant>,
    next_sweep: Instant,
    /// When the room is closing: the deadline for the last goodbyes.
    closing: Option<Instant>,
}

impl EventLoop {
    /// The loop: wait for readiness, then accept, read and write until the kernel says
    /// `WouldBlock`, and never wait anywhere else.
    // ANCHOR: event_loop
    fn run(&mut self) {
        let mut events = Events::with_capacity(EVENTS_PER_POLL);
        loop {
            // 1. Wait until a socket is ready, the console wakes us, or a deadline comes.
            match self.poll.poll(&mut events, self.timeout()) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    let text = format!("the event loop failed: {error}");
                    self.clients.log.show(Log::Notice(text));
                    return;
                }
            }
            // 2. Note what is ready. Reading and writing come after, so that every line read in
            //    this turn, for every client, is written in one go at the end.
            for event in &events {
                match event.token() {
                    LISTENER => self.accept_all(),
                    WAKER => self.take_commands(),
                    Token(token) => {
                        let id = token as ClientId;
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.mark_ready(id);
                        }
                        if event.is_writable() || event.is_error() {
                            self.clients.mark_dirty(id);
                        }
                    }
                }
            }
            // 3. Read: each ready client gets one turn; one that still has bytes goes to the
            //    back of the line. Past the turn's budget, the rest wait for the next turn. The
            //    lines for everyone that this turn reads are gathered into one block, offered to
            //    each recipient once (engine.rs, `Dispatch::gather`).
            self.read_this_turn = 0;
            self.dispatch.gather();
            for _ in 0..self.ready.len() {
                if self.read_this_turn >= TURN_BUDGET {
                    break;
                }
                let Some(id) = self.ready.pop_front() else {
                    break;
                };
                if self.read_turn(id) {
                    self.ready.push_back(id);
                } else if let Some(client) = self.clients.map.get_mut(&id) {
                    client.queued = false;
                }
            }
            self.dispatch.release(&mut self.room, &mut self.clients);
            // 4. Write what this turn produced.
            self.write_dirty();
            // 5. Deadlines: the room's own (announcing a newcomer who stayed, taking the held
            //    lines of a member whose pause is over), paused clients to read again, stuck
            //    clients, lingering closes, a failed accept.
            let now = Instant::now();
            let ticked = self.room.tick(now);
            self.dispatch
                .apply(&mut self.room, &mut self.clients, ticked);
            self.dispatch
                .check_behind(&mut self.room, &mut self.clients, now);
            self.resume(now);
            if now >= self.next_sweep {
                self.sweep(now);
            }
            self.write_dirty();
            self.clients.log.flush();
            if self.accept_again.is_some_and(|at| now >= at) {
                self.accept_again = None;
                self.accept_all();
            }
            if self
                .closing
                .is_some_and(|deadline| self.clients.map.is_empty() || now >= deadline)
            {
                return; // dropping the loop closes whatever is left
            }
        }
    }
    // ANCHOR_END: event_loop

    /// How long `poll` may wait: not at all while a client has unread bytes, until the next
    /// deadline while one is pending, and forever otherwise (a quiet room costs no CPU).
    fn timeout(&self) -> Option<Duration> {
        if !self.ready.is_empty() || !self.clients.dirty.is_empty() {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        let sweep = (!self.clients.timed.is_empty()).then_some(self.next_sweep);
        let resume = self.clients.paused.first().map(|&(until, _)| until);
        let answers = self.clients.log.holds_lines().then(|| now + LOG_RETRY);
        [
            sweep,
            resume,
            self.dispatch.behind_deadline(now),
            answers,
            self.room.next_deadline(),
            self.accept_again,
            self.closing,
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|at| at.saturating_duration_since(now))
    }

    /// Clients whose pause is over are read again. Their socket may have held bytes all along
    /// (no new readiness event will say so), so they go straight to the ready list.
    fn resume(&mut self, now: Instant) {
        while let Some(&(until, id)) = self.clients.paused.first() {
            if until > now {
                return;
            }
            self.clients.paused.pop_first();
            if let Some(client) = self.clients.map.get_mut(&id) {
                if client.paused_until == Some(until) {
                    client.paused_until = None;
                    self.mark_ready(id);
                }
            }
        }
    }

    fn mark_ready(&mut self, id: ClientId) {
        if let Some(client) = self.clients.map.get_mut(&id) {
            // A paused client is read again when its pause ends (`resume`), not before.
            if !client.queued && client.paused_until.is_none() {
                client.queued = true;
                self.ready.push_back(id);
            }
        }
    }

    /// Takes every connection waiting in the backlog.
    // ANCHOR: accept
    fn accept_all(&mut self) {
        loop {
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                // As endpoint::accept: an IPv4 peer of a dual-stack listener is its IPv4 address.
                Ok((stream, peer)) => self.admit(stream, endpoint::unmapped(peer)),
                // The backlog is empty: back to `poll`.
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    // E.g. EMFILE: out of file descriptors. The connection stays in the backlog;
                    // try again a little later (the listener will not be reported ready again
                    // for it).
                    let text = format!("cannot accept a connection: {error}");
                    self.clients.log.show(Log::Notice(text));
                    self.accept_again = Some(Instant::now() + ACCEPT_RETRY);
                    return;
                }
            }
        }
    }

    /// A new connection: a seat in the room, or a polite refusal.
    fn admit(&mut self, stream: TcpStream, peer: SocketAddr) {
        // Errors ignored: TCP_NODELAY only makes lines leave sooner; a refused SO_SNDBUF leaves
        // the OS default, bounded still by the OS maximum (engine.rs, `CLIENT_SEND_BUFFER`).
        let _ = endpoint::tune(&stream);
        let _ = endpoint::fix_send_buffer(&stream, CLIENT_SEND_BUFFER);
        // A client that vanished without closing is found out by the kernel (endpoint.rs).
        let _ = endpoint::keep_alive(&stream);
        if self.clients.seats >= self.max_clients {
            self.refuse(stream, peer);
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        // Trace lines carry the client's number (and name, once the room gave it one).
        let watch = self.observer.watch_from_start(Some(id), Framing::Line);
        watch.connected(&stream, Role::Listener);
        if !self.clients.add(id, stream, self.max_line, true, watch) {
            return;
        }
        let actions = self.room.join(id, peer, Instant::now());
        self.dispatch
            .apply(&mut self.room, &mut self.clients, actions);
    }
    // ANCHOR_END: accept

    /// One connection too many: it gets the line, then a graceful close, like any leaving
    /// client. Beyond `MAX_REFUSING` at once, the line and a plain close.
    fn refuse(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        let refusal = rules::room_full(self.max_clients, self.room.access(), peer);
        let line = rules::refusal_line(&refusal);
        let actions = self.room.refused(peer, &refusal, Instant::now());
        self.dispatch
            .apply(&mut self.room, &mut self.clients, actions);
        let watch = self.observer.watch_from_start(None, Framing::Line);
        if self.clients.refusing >= MAX_REFUSING {
            let _ = stream.write(format!("{line}\n").as_bytes());
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        if self.clients.add(id, stream, self.max_line, false, watch) {
            if let Some(client) = self.clients.map.get_mut(&id) {
                client.out.push_line(line);
                client.phase = Phase::Closing;
            }
            self.clients.refusing += 1;
            self.clients.mark_dirty(id);
        }
    }

    /// Commands from the console, sent before the waker rang.
    fn take_commands(&mut self) {
        loop {
            match self.commands.try_recv() {
                Ok(Control::Host(command)) => {
                    let actions = self.room.host(command, Instant::now());
                    self.dispatch
                        .apply(&mut self.room, &mut self.clients, actions);
                }
                // The console is gone (or asked): close the room.
                Ok(Control::Close) | Err(TryRecvError::Disconnected) => {
                    self.begin_close();
                    return;
                }
                Err(TryRecvError::Empty) => return,
            }
        }
    }

    /// Goodbye to everyone, no more connections; the loop ends when the last one is closed.
    fn begin_close(&mut self) {
        if self.closing.is_some() {
            return;
        }
        let actions = self.room.close();
        self.dispatch
            .apply(&mut self.room, &mut self.clients, actions);
        if let Some(mut listener) = self.listener.take() {
            let _ = self.clients.registry.deregister(&mut listener);
        }
        self.closing = Some(Instant::now() + SHUTDOWN_GRACE);
    }

    /// Reads one client until the kernel has nothing more (`false`), or its turn is used up
    /// (`true`: read it again next turn).
    // ANCHOR: read_turn
    fn read_turn(&mut self, id: ClientId) -> bool {
        let mut taken = 0;
        loop {
            let Some(client) = self.clients.map.get_mut(&id) else {
                return false;
            };
            // Over its rate limit (perhaps since a line of this very turn): leave its bytes in
            // the kernel until `resume`.
            if client.paused_until.is_some() {
                return false;
            }
            // `&TcpStream` reads: the socket is non-blocking, so this returns at once.
            let read = (&client.stream).read(&mut self.buffer);
            let member = client.phase == Phase::Member;
            match read {
                Ok(0) => {
                    self.peer_closed(id);
                    return false;
                }
                Ok(n) => {
                    self.read_this_turn += n;
                    // A leaving client's bytes are read only to see its FIN, and dropped.
                    if member {
                        self.hand_to_room(id, n);
                    }
                    taken += n;
                    if taken >= READ_TURN {
                        return true;
                    }
                }
                // Nothing more for now: `poll` will say when more arrives.
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return false,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    self.lost(id, &error);
                    return false;
                }
            }
        }
    }

    /// Cuts `n` bytes from the read buffer into lines and hands each to the room's rules, whose
    /// actions are carried out at once (lines for others land in their output buffers).
    fn hand_to_room(&mut self, id: ClientId, n: usize) {
        let Some(client) = self.clients.map.get_mut(&id) else {
            return;
        };
        // The decoder is taken out while the room may change `clients` (a /quit in the middle of
        // the chunk), and put back if the client is still there. An empty decoder allocates
        // nothing.
        let mut decoder = std::mem::replace(&mut client.decoder, LineDecoder::new(self.max_line));
        let (room, dispatch, clients) = (&mut self.room, &mut self.dispatch, &mut self.clients);
        let now = Instant::now();
        let fed = decoder.feed(&self.buffer[..n], |frame| {
            let actions = match frame {
                Frame::Line(line) => room.said(id, line, now),
                Frame::TooLong { limit } => room.too_long(id, limit, now),
            };
            dispatch.apply(room, clients, actions);
        });
        // Then what the read brought beyond its lines is charged (rules.rs, `Room::read`).
        let read = rules::Arrived {
            bytes: n,
            unfinished: decoder.partial_len(),
        };
        let actions = room.read(id, read, now);
        dispatch.apply(room, clients, actions);
        if let Some(client) = self.clients.map.get_mut(&id) {
            let pending = if fed.continues { decoder.held() } else { 0 };
            client
                .watch
                .read(&self.buffer[..n], fed.lines + fed.too_long, pending);
            client.decoder = decoder;
        }
    }
    // ANCHOR_END: read_turn

    /// `read` returned 0: the client closed its side. Its last unfinished line still counts.
    fn peer_closed(&mut self, id: ClientId) {
        // Lines gathered in this turn reach the room as it was when they were said.
        self.dispatch.offer_now(&mut self.room, &mut self.clients);
        let Some(client) = self.clients.map.get_mut(&id) else {
            return;
        };
        client.watch.summarise_reads();
        client.watch.fin_received();
        client.eof = true;
        match client.phase {
            Phase::Member => {
                let mut decoder =
                    std::mem::replace(&mut client.decoder, LineDecoder::new(self.max_line));
                if let Some(Frame::Line(line)) = decoder.finish() {
                    let actions = self.room.said(id, line, Instant::now());
                    self.dispatch
                        .apply(&mut self.room, &mut self.clients, actions);
                }
                // Leaving disconnects it (Action::Disconnect): what waits is still written.
                let actions = self.room.leave(id, Leave::Gone(Gone::Closed));
                self.dispatch
                    .apply(&mut self.room, &mut self.clients, actions);
                self.clients.mark_dirty(id);
            }
            // Its goodbye is still being written: it closes once that is done.
            Phase::Closing => {}
            Phase::Lingering { .. } => self.clients.remove(id),
        }
    }

    /// The connection broke (reset, or a write failed): close it and tell the room.
    fn lost(&mut self, id: ClientId, error: &io::Error) {
        self.dispatch.offer_now(&mut self.room, &mut self.clients);
        if let Some(client) = self.clients.map.get(&id) {
            client.watch.reset(error);
        }
        let was_member = self
            .clients
            .map
            .get(&id)
            .is_some_and(|client| client.phase == Phase::Member);
        self.clients.remove(id);
        if was_member {
            let actions = self
                .room
                .leave(id, Leave::Gone(Gone::Lost(describe(error))));
            self.dispatch
                .apply(&mut self.room, &mut self.clients, actions);
        }
    }

    /// Writes every client that got output this turn. Writing may find a broken connection,
    /// whose leave notice is more output: repeat until nothing is left to write.
    // ANCHOR: write_dirty
    fn write_dirty(&mut self) {
        let now = Instant::now();
        let mut batch = Vec::new();
        while !self.clients.dirty.is_empty() {
            std::mem::swap(&mut batch, &mut self.clients.dirty);
            for id in batch.drain(..) {
                match self.clients.flush(id, now) {
                    Ok(()) => {}
                    Err(error) => self.lost(id, &error),
                }
            }
        }
        // Keep the larger list's allocation for the next turn.
        if batch.capacity() > self.clients.dirty.capacity() {
            self.clients.dirty = batch;
        }
    }
    // ANCHOR_END: write_dirty

    /// Clients whose output has been stuck for `WRITE_TIMEOUT` stopped reading: dropped, by the
    /// same rule as a full buffer. Lingering closes that waited long enough are closed. Empty
    /// buffers a burst made large give their memory back: a thousand quiet clients must not each
    /// keep a megabyte.
    fn sweep(&mut self, now: Instant) {
        self.next_sweep = now + SWEEP_EVERY;
        let due: Vec<ClientId> = self.clients.timed.iter().copied().collect();
        for id in due {
            let Some(client) = self.clients.map.get(&id) else {
                self.clients.timed.remove(&id);
                continue;
            };
            let stuck = client
                .blocked_since
                .is_some_and(|since| now.duration_since(since) >= WRITE_TIMEOUT);
            let idle = client.out.is_empty();
            match client.phase {
                Phase::Member if stuck => {
                    self.dispatch
                        .drop_slow(&mut self.room, &mut self.clients, id);
                }
                Phase::Member if idle => {
                    if let Some(client) = self.clients.map.get_mut(&id) {
                        client.out.shrink();
                    }
                    self.clients.timed.remove(&id);
                }
                Phase::Closing if stuck => self.clients.remove(id),
                Phase::Lingering { until } if now >= until => self.clients.remove(id),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::Captured;
    use crate::modes::room::access::AccessList;
    use crate::modes::room::bots::BotOptions;
    use crate::modes::room::engine::EngineKind;
    use crate::modes::room::rules::Limits;
    use crate::modes::room::server::serve;
    use crate::terminal::Input;
    use std::io::{BufRead, BufReader};
    use std::net::TcpStream as StdStream;

    /// Every wait has a deadline: a test fails, it never hangs.
    const DEADLINE: Duration = Duration::from_secs(10);

    /// A poll-engine room served on a listener the test bound (127.0.0.1, port 0), through
    /// `server::serve`, on its own thread; the host's keyboard is a channel.
    struct Served {
        addr: SocketAddr,
        keyboard: Sender<Input>,
        out: Captured,
        ended: Receiver<Result<()>>,
        _interrupt: Sender<crate::interrupt::Interrupt>,
    }

    impl Served {
        fn start(max_clients: usize) -> Served {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
            let addr = listener.local_addr().expect("the bound address");
            let options = ServerOptions {
                max_line: 1024,
                max_clients,
                limits: Limits::default(),
                observer: Observer::off(),
                access: AccessList::default(),
                motd: Vec::new(),
                bots: BotOptions::default(),
                engine: EngineKind::Poll,
            };
            let (keyboard, keys) = bounded(16);
            let (interrupt, interrupted) = bounded(1);
            let (done, ended) = bounded(1);
            let out = Captured::default();
            let shown = out.clone();
            std::thread::spawn(move || {
                let mut console = Console::new(Box::new(shown), Box::new(io::sink()), false);
                let result = serve(listener, &options, None, keys, &mut console, interrupted);
                let _ = done.send(result);
            });
            Served {
                addr,
                keyboard,
                out,
                ended,
                _interrupt: interrupt,
            }
        }

        fn host(&self, line: &str) {
            self.keyboard
                .send(Input::Line(line.as_bytes().to_vec()))
                .expect("the room reads its keyboard");
        }

        /// Ends the host's input, as Ctrl-D does, and waits for `serve` to return.
        fn close(self) -> Result<()> {
            self.keyboard
                .send(Input::Eof)
                .expect("the room reads its keyboard");
            self.ended.recv_timeout(DEADLINE).expect("serve returns")
        }
    }

    /// A plain TCP client, as `nc` is.
    struct Peer(BufReader<StdStream>);

    impl Peer {
        fn connect(addr: SocketAddr) -> Peer {
            let stream = StdStream::connect(addr).expect("connect to the room");
            stream.set_read_timeout(Some(DEADLINE)).expect("a deadline");
            Peer(BufReader::new(stream))
        }

        fn send(&mut self, line: &str) {
            io::Write::write_all(self.0.get_mut(), format!("{line}\n").as_bytes()).expect("send");
        }

        /// The next line, within the deadline; `None` at the end of the connection.
        fn line(&mut self) -> Option<String> {
            let mut line = String::new();
            match self
                .0
                .read_line(&mut line)
                .expect("a line within the deadline")
            {
                0 => None,
                _ => Some(line.trim_end().to_string()),
            }
        }

        fn until(&mut self, prefix: &str) -> String {
            loop {
                let line = self.line().expect("a line before the end");
                if line.starts_with(prefix) {
                    return line;
                }
            }
        }
    }

    #[test]
    fn a_members_line_reaches_the_others_with_its_name_and_never_comes_back() {
        let room = Served::start(10);
        let mut alice = Peer::connect(room.addr);
        alice.until("*** welcome! you are guest-1");
        alice.send("/nick alice");
        alice.until("*** you are now alice");
        let mut bob = Peer::connect(room.addr);
        bob.until("*** welcome! you are guest-2; also here: alice");
        alice.send("[bob] hello");
        assert_eq!(bob.until("[alice]"), "[alice] [bob] hello");
        // Alice's next line is the answer to her /who: her own message never came back.
        alice.send("/who");
        let next = alice.line().expect("an answer");
        assert!(next.starts_with("*** "), "{next}");
        assert!(!next.contains("hello"), "{next}");
        assert!(room.out.text().contains("[alice] [bob] hello"));
        room.close().expect("a quiet close");
    }

    #[test]
    fn the_hosts_line_reaches_everyone_and_closing_says_goodbye_then_closes() {
        let room = Served::start(10);
        let mut alice = Peer::connect(room.addr);
        alice.until("*** welcome!");
        room.host("class starts now");
        assert_eq!(alice.until("[host]"), "[host] class starts now");
        room.close().expect("a quiet close");
        assert_eq!(
            alice.until("*** goodbye"),
            "*** goodbye: the host closed the room"
        );
        assert_eq!(alice.line(), None);
    }

    #[test]
    fn a_connection_beyond_max_clients_is_told_the_room_is_full_and_closed() {
        let room = Served::start(1);
        let mut alice = Peer::connect(room.addr);
        alice.until("*** welcome!");
        let mut late = Peer::connect(room.addr);
        let refused = late.line().expect("one line");
        assert!(
            refused.starts_with("*** goodbye: sorry, the room is full (1 people)"),
            "{refused}"
        );
        assert_eq!(late.line(), None);
        room.close().expect("a quiet close");
    }

    /// The loop's thread panicked (a bug): closing the room says so, it does not end quietly.
    #[test]
    fn a_loop_that_panicked_makes_close_an_error() {
        let poll = Poll::new().expect("a poller");
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).expect("a waker"));
        let (control, _commands) = bounded(CONTROL_QUEUE);
        let thread =
            spawn_named("room-poll", None, || panic!("a bug in the loop")).expect("a thread");
        let running: Box<dyn Running> = Box::new(PollRoom {
            control,
            waker,
            thread,
        });
        assert!(matches!(
            running.close(),
            Err(Error::ThreadDied {
                thread: "room-poll"
            })
        ));
    }
}
