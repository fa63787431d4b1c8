//! The floor: the least a one-thread line relay can do, the yardstick every room figure is read
//! against (`cargo bench --bench room -- --engine floor`).
//!
//! One mio event loop on one thread, TCP_NODELAY on every client, and for each `read` the whole
//! lines it completed written to every other client at once; bytes a client's socket did not
//! take wait in that client's outbox until the socket is writable again. Nothing else: no names,
//! no commands, no limits, no console, no log, no check of what a line holds. A joining client
//! gets one line, `*** welcome`, so the bench can tell that everyone is in before it measures.
//!
//! What it leaves out is exactly what a real room must do (and the poll engine does): so a room
//! engine's figure divided by the floor's, measured in the same run, is the price of being a
//! room, not the price of the machine. Its outboxes grow without bound: a client that stops
//! reading would cost it memory without limit, which the bench's clients never do, and which a
//! room must never allow (netchat drops such a client).
//!
//! It runs as a process of its own, started by the room bench exactly as netchat is: the bench
//! binary runs itself with `--floor-relay ADDR` in a session of its own (`setsid`), so the
//! scheduler treats the floor as it treats netchat. It prints `floor: listening on ADDR` on
//! stderr, and ends when its stdin closes (the bench holds it open), like `netchat room`.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Protocol, Socket, Type};

/// The argument that makes the room bench binary the floor relay instead of the bench.
pub const FLOOR_ARG: &str = "--floor-relay";

/// The listener's token; clients are numbered from 0.
const LISTENER: Token = Token(usize::MAX);

/// One read's worth: netchat's poll engine reads 64 KiB at a time too.
const READ_SIZE: usize = 64 * 1024;

/// One client: its socket, the tail of a line it has not finished, and what it was sent that its
/// socket has not taken yet.
struct Client {
    stream: TcpStream,
    partial: Vec<u8>,
    outbox: Vec<u8>,
}

/// Runs the floor relay on `addr` (port 0: any) until its stdin closes or it fails.
pub fn serve(addr: SocketAddr) -> io::Result<()> {
    // As many clients as the system allows (the idle scenario connects 19,000), as netchat does.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let mut listener = listen(addr)?;
    eprintln!("floor: listening on {}", listener.local_addr()?);
    // Ends the process when the bench goes, even if it could not kill it.
    std::thread::spawn(|| {
        let _ = io::copy(&mut io::stdin(), &mut io::sink());
        std::process::exit(0);
    });
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(1024);
    let mut clients: Vec<Option<Client>> = Vec::new();
    // Seats left by clients that went, taken again first.
    let mut free = Vec::new();
    let mut buffer = vec![0u8; READ_SIZE];
    let mut closing = Vec::new();
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in &events {
            if event.token() == LISTENER {
                accept(&listener, &poll, &mut clients, &mut free);
                continue;
            }
            let me = event.token().0;
            if event.is_writable() {
                flush(&mut clients, me, &mut closing);
            }
            if event.is_readable() {
                relay_reads(&mut clients, me, &mut buffer, &mut closing);
            }
            for gone in closing.drain(..) {
                if let Some(mut client) = clients[gone].take() {
                    let _ = poll.registry().deregister(&mut client.stream);
                    free.push(gone);
                }
            }
        }
    }
}

/// `socket` → `bind` → `listen` with the backlog netchat asks for (as many as the system
/// allows), so a crowd joining at once is queued by the kernel alike for both.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::MAX)?;
    socket.set_nonblocking(true)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// Takes every waiting connection: TCP_NODELAY, registered for both directions (edge-triggered),
/// welcomed.
fn accept(
    listener: &TcpListener,
    poll: &Poll,
    clients: &mut Vec<Option<Client>>,
    free: &mut Vec<usize>,
) {
    loop {
        let (mut stream, _) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // WouldBlock: nobody else is waiting. Anything else (out of file descriptors, a
            // connection reset before it was taken): the next readiness event tries again.
            Err(_) => return,
        };
        let _ = stream.set_nodelay(true);
        let seat = free.pop().unwrap_or_else(|| {
            clients.push(None);
            clients.len() - 1
        });
        let interest = Interest::READABLE | Interest::WRITABLE;
        if poll
            .registry()
            .register(&mut stream, Token(seat), interest)
            .is_err()
        {
            free.push(seat);
            continue;
        }
        let mut client = Client {
            stream,
            partial: Vec::new(),
            outbox: Vec::new(),
        };
        let mut failed = Vec::new();
        send(&mut client, b"*** welcome\n", seat, &mut failed);
        if failed.is_empty() {
            clients[seat] = Some(client);
        } else {
            let _ = poll.registry().deregister(&mut client.stream);
            free.push(seat);
        }
    }
}

/// Reads client `me` until `WouldBlock`; after each read, its whole lines go to every other
/// client.
fn relay_reads(
    clients: &mut [Option<Client>],
    me: usize,
    buffer: &mut [u8],
    closing: &mut Vec<usize>,
) {
    loop {
        let Some(client) = clients[me].as_mut() else {
            return;
        };
        let n = match client.stream.read(buffer) {
            Ok(0) => {
                closing.push(me);
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                closing.push(me);
                return;
            }
        };
        let read = &buffer[..n];
        let Some(last_newline) = memchr::memrchr(b'\n', read) else {
            client.partial.extend_from_slice(read);
            continue;
        };
        // The lines: a tail kept from before (rare: the bench writes whole lines) and this
        // read up to its last newline; what follows it waits for the next read.
        let mut kept = std::mem::take(&mut client.partial);
        let lines: &[u8] = if kept.is_empty() {
            &read[..=last_newline]
        } else {
            kept.extend_from_slice(&read[..=last_newline]);
            &kept
        };
        for (other, seat) in clients.iter_mut().enumerate() {
            if let Some(recipient) = seat.as_mut().filter(|_| other != me) {
                send(recipient, lines, other, closing);
            }
        }
        kept.clear();
        kept.extend_from_slice(&read[last_newline + 1..]);
        if let Some(client) = clients[me].as_mut() {
            client.partial = kept;
        }
    }
}

/// Writes `bytes` to a client at once, or queues what its socket does not take (behind anything
/// already queued, so lines stay in order).
fn send(client: &mut Client, bytes: &[u8], seat: usize, closing: &mut Vec<usize>) {
    if !client.outbox.is_empty() {
        client.outbox.extend_from_slice(bytes);
        return;
    }
    let mut written = 0;
    while written < bytes.len() {
        match client.stream.write(&bytes[written..]) {
            Ok(0) => {
                closing.push(seat);
                return;
            }
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                closing.push(seat);
                return;
            }
        }
    }
    client.outbox.extend_from_slice(&bytes[written..]);
}

/// The socket of client `me` is writable again: writes what waits in its outbox.
fn flush(clients: &mut [Option<Client>], me: usize, closing: &mut Vec<usize>) {
    let Some(client) = clients[me].as_mut() else {
        return;
    };
    let mut written = 0;
    while written < client.outbox.len() {
        match client.stream.write(&client.outbox[written..]) {
            Ok(0) => {
                closing.push(me);
                break;
            }
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                closing.push(me);
                break;
            }
        }
    }
    client.outbox.drain(..written);
}
