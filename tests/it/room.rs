//! `netchat room`: a real server with netchat clients and raw TCP clients (playing `nc`).

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{
    DEADLINE, Engine, Netchat, RawPeer, engine_tests, parse_listening_addr, raw_connect,
    room_join as join, room_raw_join as raw_join,
};

/// Reads raw lines until one contains `needle` (each read has the harness deadline).
fn read_until(peer: &mut RawPeer, needle: &str) -> String {
    loop {
        let line = peer.read_line();
        if line.contains(needle) {
            return line;
        }
    }
}

/// The next `count` chat lines (`[name] …`, `* name …`) a netchat client prints, skipping notices.
fn chat_lines(client: &mut Netchat, count: usize) -> Vec<String> {
    let mut lines = Vec::new();
    while lines.len() < count {
        let line = client.next_stdout();
        if !line.starts_with("***") {
            lines.push(line);
        }
    }
    lines
}

fn raw_chat_lines(peer: &mut RawPeer, count: usize) -> Vec<String> {
    let mut lines = Vec::new();
    while lines.len() < count {
        let line = peer.read_line();
        if !line.starts_with("***") {
            lines.push(line);
        }
    }
    lines
}

fn room_messages_reach_every_other_member_once_in_server_order(engine: Engine) {
    // Five members from 127.0.0.1: more than one address may hold by default.
    let (mut server, addr) = engine.listen("server", &["--max-per-address", "0"]);
    // Connected first and never says a word: it must hold up nobody.
    let _silent = raw_connect(addr);
    let mut alice = join(addr, "alice");
    let mut bob = join(addr, "bob");
    let mut carol = join(addr, "carol");
    let mut dave = raw_join(addr, "dave");

    // Everyone talks at once; the hub decides one order.
    alice.send_line("a1");
    dave.send(b"d1\r\n");
    bob.send_line("b1");
    carol.send_line("c1");
    alice.send_line("a2");
    dave.send(b"d2\n");
    bob.send_line("b2");

    let order = chat_lines_of_server(&mut server, 7);
    let from = |who: &str| format!("[{who}] ");
    let expected = |me: &str| -> Vec<String> {
        order
            .iter()
            .filter(|line| !line.starts_with(&from(me)))
            .cloned()
            .collect()
    };
    assert_eq!(chat_lines(&mut alice, 5), expected("alice"));
    assert_eq!(chat_lines(&mut bob, 5), expected("bob"));
    assert_eq!(chat_lines(&mut carol, 6), expected("carol"));
    assert_eq!(raw_chat_lines(&mut dave, 5), expected("dave"));

    // Exactly once: the next chat line everyone sees is the host's, not a duplicate.
    server.send_line("end");
    for client in [&mut alice, &mut bob, &mut carol] {
        assert_eq!(chat_lines(client, 1), vec!["[host] end"]);
    }
    assert_eq!(raw_chat_lines(&mut dave, 1), vec!["[host] end"]);
}

fn chat_lines_of_server(server: &mut Netchat, count: usize) -> Vec<String> {
    (0..count).map(|_| server.next_stdout()).collect()
}

fn room_announces_join_rename_and_leave_to_the_others(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let mut alice = join(addr, "alice");
    let mut newcomer = raw_connect(addr);
    let welcome = newcomer.read_line();
    assert!(
        welcome.contains("you are guest-2; also here: alice"),
        "{welcome}"
    );
    alice.expect_stdout("*** guest-2 joined (2 in the room)");

    newcomer.send(b"/nick bob\n");
    alice.expect_stdout("*** guest-2 is now bob");
    server.expect_stderr("guest-2 is now bob");

    // Read what the server sent before closing: closing a socket with unread data makes the
    // kernel send a RST, and the room would see "lost the connection" instead of "left".
    read_until(&mut newcomer, "you are now bob");
    drop(newcomer);
    alice.expect_stdout("*** bob left (1 in the room)");

    let mut carol = join(addr, "carol");
    carol.send_line("/quit lunch time");
    alice.expect_stdout("*** carol left (lunch time) (1 in the room)");
    carol.expect_exit_code(0);
}

fn room_refuses_taken_and_invalid_names_and_impersonation_shows(engine: Engine) {
    let (_server, addr) = engine.listen("server", &[]);
    let mut alice = join(addr, "alice");
    let mut bob = raw_join(addr, "bob");

    bob.send(b"/nick Alice\n");
    assert_eq!(
        read_until(&mut bob, "refused"),
        "*** name refused: Alice is taken; you are still bob"
    );
    bob.send(b"/nick al ice\n");
    assert!(read_until(&mut bob, "refused").contains("spaces"));
    bob.send(b"/nick \x1b[31mred\n");
    assert!(read_until(&mut bob, "refused").contains("control"));
    bob.send(b"/nick a1ice\n");
    assert!(read_until(&mut bob, "refused").contains("looks too much like alice"));
    bob.send("/nick \u{430}lice\n".as_bytes()); // Cyrillic а
    assert!(read_until(&mut bob, "refused").contains("ASCII"));
    bob.send(b"/nick host\n");
    assert!(read_until(&mut bob, "refused").contains("operator"));

    // Claiming to be alice only shows who really spoke; escape sequences arrive escaped.
    bob.send(b"[alice] I owe bob 10 euros\n");
    assert_eq!(
        chat_lines(&mut alice, 1),
        vec!["[bob] [alice] I owe bob 10 euros"]
    );
    bob.send(b"\x1b[2Jcleared?\n");
    assert_eq!(chat_lines(&mut alice, 1), vec!["[bob] \\x1b[2Jcleared?"]);
}

fn room_private_message_reaches_only_its_target(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let mut alice = join(addr, "alice");
    let mut bob = join(addr, "bob");
    let mut carol = raw_join(addr, "carol");

    alice.send_line("/msg carol meet me at 5");
    assert_eq!(
        raw_chat_lines(&mut carol, 1),
        vec!["[alice -> you] meet me at 5"]
    );
    server.expect_stderr("alice sent a private message to carol");
    // Everyone's next chat line is a public one: bob never saw the private message.
    alice.send_line("public now");
    assert_eq!(chat_lines(&mut bob, 1), vec!["[alice] public now"]);
    assert_eq!(raw_chat_lines(&mut carol, 1), vec!["[alice] public now"]);
    assert_eq!(server.next_stdout(), "[alice] public now");

    alice.send_line("/msg nobody hi");
    alice.expect_stdout("*** nobody called nobody is here");
}

fn room_line_over_max_line_is_refused_and_the_connection_lives(engine: Engine) {
    let (_server, addr) = engine.listen("server", &["--max-line", "100"]);
    let mut alice = Netchat::connect(
        "alice",
        "room",
        addr,
        &["--nick", "alice", "--max-line", "100"],
    );
    alice.expect_stdout("*** you are now alice");
    let mut bob = raw_join(addr, "bob");
    bob.send(&[b'x'; 300]);
    bob.send(b"\nshort one\n");
    assert_eq!(
        read_until(&mut bob, "longer"),
        "*** your line was longer than 100 bytes and was not sent"
    );
    assert_eq!(chat_lines(&mut alice, 1), vec!["[bob] short one"]);
    // The longest legal line, with as many control bytes as a message shows escaped (16,
    // MAX_ESCAPED in src/modes/room/protocol.rs), reaches a netchat client, longer than
    // --max-line once escaped.
    bob.send(&[0x07; 16]);
    bob.send(&[b'x'; 84]);
    bob.send(b"\n");
    assert_eq!(
        chat_lines(&mut alice, 1),
        vec![format!("[bob] {}{}", "\\x07".repeat(16), "x".repeat(84))]
    );
}

/// A client that never reads is disconnected once its queue is full, while the room goes on.
///
/// To fill the sloth's kernel buffers (a few MB on loopback) and then its 256-line queue quickly,
/// the flood uses long lines. The flooder stays at most `LEAD` lines ahead of what the watcher
/// has received, so the data in flight stays small, and it stops as soon as the server reports
/// the disconnection.
fn room_disconnects_a_client_that_never_reads(engine: Engine) {
    const LINE: usize = 16_000;
    const LEAD: usize = 32;
    const MAX_FLOOD: usize = 5000; // 80 MB: far more than buffers + queue can hold
    // The flooder must outrun the sloth's buffers: no rate limit here (tests/abuse.rs has them).
    let (mut server, addr) = engine.listen("server", &["--max-line", "16384", "--rate-limit", "0"]);
    let mut sloth = raw_join(addr, "sloth");
    let flooder = raw_join(addr, "flooder");
    let watcher = raw_join(addr, "watcher");
    sloth.send(b"I will never read again\n");

    // The watcher reads everything on its own thread, as a healthy client does: it gives the
    // flooder one credit per flood line received, and reports the other lines it sees.
    let (seen, lines) = crossbeam_channel::unbounded::<String>();
    let (credit, credits) = crossbeam_channel::unbounded::<()>();
    let mut watcher_reader = BufReader::new(watcher.stream.try_clone().unwrap());
    let watching = thread::spawn(move || {
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match watcher_reader.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => return,
                Ok(_) if raw.starts_with(b"[flooder] zzz") => {
                    let _ = credit.send(());
                }
                Ok(_) => {
                    let line = String::from_utf8_lossy(&raw).trim_end().to_string();
                    if seen.send(line).is_err() {
                        return;
                    }
                }
            }
        }
    });

    let (stop, stopped) = crossbeam_channel::bounded::<()>(1);
    let mut writer = flooder.stream.try_clone().unwrap();
    writer.set_write_timeout(Some(DEADLINE)).unwrap();
    let flooding = thread::spawn(move || {
        let mut big = vec![b'z'; LINE];
        big.push(b'\n');
        for sent in 0..MAX_FLOOD {
            let go_on = stopped.try_recv().is_err()
                && (sent < LEAD || credits.recv_timeout(DEADLINE).is_ok())
                && writer.write_all(&big).is_ok();
            if !go_on {
                return;
            }
        }
    });
    // The watcher hears of the disconnection at most LEAD lines after it happened. Relaying the
    // ~9 MB it takes is quick, but a debug build on a loaded 2-core CI machine may need more than
    // the usual deadline, so this one wait gets three.
    let deadline = Instant::now() + 3 * DEADLINE;
    loop {
        match lines.recv_deadline(deadline) {
            Ok(line) if line.contains("sloth was disconnected: too slow") => break,
            Ok(_) => {}
            Err(_) => server.fail("the never-reading client was not disconnected"),
        }
    }
    let _ = stop.send(());
    assert!(flooding.join().is_ok());
    server.expect_stderr("sloth was disconnected: too slow");

    // The room goes on.
    let mut flooder = flooder;
    flooder.send(b"still here\n");
    let deadline = Instant::now() + DEADLINE;
    loop {
        match lines.recv_deadline(deadline) {
            Ok(line) if line == "[flooder] still here" => break,
            Ok(_) => {}
            Err(_) => panic!("the watcher stopped hearing the room"),
        }
    }
    drop(watcher);
    let _ = flooder.stream.shutdown(std::net::Shutdown::Both);
    drop(lines);
    let _ = watching.join();
}

fn room_refuses_one_client_more_than_max_clients(engine: Engine) {
    let (_server, addr) = engine.listen("server", &["--max-clients", "2"]);
    let _alice = raw_join(addr, "alice");
    let _bob = raw_join(addr, "bob");
    let mut third = raw_connect(addr);
    let refusal = third.read_line();
    assert_eq!(
        refusal,
        "*** goodbye: sorry, the room is full (2 people); try again later"
    );
    third.expect_eof();
}

fn a_netchat_client_turned_away_by_a_full_room_exits_1(engine: Engine) {
    let (_server, addr) = engine.listen("server", &["--max-clients", "1"]);
    let _alice = raw_join(addr, "alice");
    let mut late = Netchat::connect("late", "room", addr, &[]);
    late.expect_stdout("*** goodbye: sorry, the room is full (");
    late.expect_stderr("error: the room turned you away: the room is full");
    late.expect_stderr("hint: the room's host decides who may join");
    late.expect_exit_code(1);
}

fn a_banned_netchat_client_exits_0_and_its_address_is_turned_away_with_1(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let mut bob = join(addr, "bob");
    server.send_line("/ban bob spam");
    bob.expect_stdout("*** goodbye: you were banned from this room by the host (spam)");
    bob.expect_exit_code(0);
    // Every test client comes from 127.0.0.1: the next one is bob's address coming back.
    let mut again = Netchat::connect("again", "room", addr, &[]);
    again.expect_stdout("*** goodbye: sorry, the host has banned your address");
    again.expect_stderr("error: the room turned you away");
    again.expect_exit_code(1);
}

fn room_host_kicks_a_member_and_speaks_as_host(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let mut alice = join(addr, "alice");
    let mut bob = join(addr, "bob");
    server.send_line("hello class");
    assert_eq!(chat_lines(&mut alice, 1), vec!["[host] hello class"]);
    server.send_line("/kick bob too noisy");
    bob.expect_stdout("*** goodbye: you were kicked by the host (too noisy)");
    bob.expect_exit_code(0);
    alice.expect_stdout("*** bob was kicked by the host (too noisy) (1 in the room)");
    server.send_line("/who");
    server.expect_stderr("in the room (1):");
    server.expect_stderr("  alice  127.0.0.1:");
}

fn room_the_usual_ways_to_leave_are_answered_with_slash_quit(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let mut alice = join(addr, "alice");
    for word in ["/q", "/exit", "/leave"] {
        alice.send_line(word);
        alice.expect_stdout(&format!(
            "*** unknown command {word}; /quit leaves the room"
        ));
    }
    server.send_line("/exit");
    server.expect_stderr("unknown command /exit: /quit closes the room");
}

fn room_closing_on_end_of_input_tells_everyone_and_exits_0(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let mut alice = join(addr, "alice");
    let mut bob = raw_join(addr, "bob");
    server.close_stdin();
    alice.expect_stdout("*** goodbye: the host closed the room");
    alice.expect_exit_code(0);
    read_until(&mut bob, "*** goodbye: the host closed the room");
    bob.expect_eof();
    server.expect_exit_code(0);
}

#[cfg(unix)]
fn room_ctrl_c_closes_the_room_and_exits_0(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let mut alice = join(addr, "alice");
    server.signal("INT");
    alice.expect_stdout("*** goodbye: the host closed the room");
    server.expect_stderr("Ctrl-C: closing the room");
    server.expect_exit_code(0);
    alice.expect_exit_code(0);
}

fn room_client_exits_1_when_the_server_vanishes(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let mut alice = join(addr, "alice");
    server.kill();
    alice.expect_stderr("netchat: error: the room's server closed the connection");
    alice.expect_exit_code(1);
}

fn room_client_leaves_at_end_of_input_with_exit_0(engine: Engine) {
    let (_server, addr) = engine.listen("server", &[]);
    let mut alice = join(addr, "alice");
    let mut bob = join(addr, "bob");
    bob.send_line("last words");
    bob.close_stdin();
    assert_eq!(chat_lines(&mut alice, 1), vec!["[bob] last words"]);
    alice.expect_stdout("*** bob left (end of input) (1 in the room)");
    bob.expect_exit_code(0);
}

#[test]
fn room_client_refuses_an_invalid_nick_before_connecting() {
    common::netchat_cmd()
        .args(["room", "--connect", "5000", "--nick", "al ice"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("a name cannot contain spaces"));
}

#[test]
fn room_nick_and_max_clients_belong_to_one_side_each() {
    common::netchat_cmd()
        .args(["room", "--listen", "0", "--nick", "x"])
        .assert()
        .code(2);
    common::netchat_cmd()
        .args(["room", "--connect", "5000", "--max-clients", "3"])
        .assert()
        .code(2);
}

/// 200 clients join and leave; afterwards the server has as many threads and open files as
/// before: every per-client thread ended and every socket was closed.
#[cfg(target_os = "linux")]
fn room_200_clients_leave_no_threads_or_sockets_behind(engine: Engine) {
    // 200 clients from one address, in a burst: a load test, so no per-address limits.
    let (server, addr) = engine.listen("server", &["--max-per-address", "0"]);
    let pid = server.pid();
    let count = |what: &str| common::proc_entries(pid, what);
    let (threads, files) = (count("task"), count("fd"));

    let mut clients: Vec<TcpStream> = Vec::new();
    for _ in 0..200 {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        clients.push(stream);
    }
    // Every one of them is in the room: each got its welcome.
    for stream in &clients {
        let mut line = String::new();
        BufReader::new(stream)
            .read_line(&mut line)
            .expect("welcome");
        assert!(line.contains("welcome"), "{line}");
    }
    // The threads engine: two threads per client (the reader of the last one may still be
    // starting: poll). The poll engine: not one more thread.
    let per_client = match engine {
        Engine::Threads => 2,
        Engine::Poll => 0,
    };
    let deadline = Instant::now() + DEADLINE;
    while count("task") < threads + 200 * per_client {
        if Instant::now() > deadline {
            server.fail(&format!("{} threads for 200 clients", count("task")));
        }
        thread::sleep(Duration::from_millis(20));
    }
    if engine == Engine::Poll && count("task") != threads {
        server.fail(&format!("{} threads for 200 clients", count("task")));
    }
    // One descriptor per client: reader, writer and hub share the socket.
    let open = count("fd");
    assert!(
        open >= files + 200 && open <= files + 210,
        "{open} fds for 200 clients (before: {files})"
    );
    for mut stream in clients.drain(..) {
        let _ = stream.write_all(b"/quit\n");
    }

    let deadline = Instant::now() + DEADLINE;
    while count("task") > threads || count("fd") > files {
        if Instant::now() > deadline {
            server.fail(&format!(
                "after 200 clients left: {} threads (before: {threads}), {} fds (before: {files})",
                count("task"),
                count("fd")
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn room_client_colors_kinds_of_lines_only_when_asked(engine: Engine) {
    let (_server, addr) = engine.listen("server", &[]);
    let mut alice = Netchat::connect(
        "alice",
        "room",
        addr,
        &["--nick", "alice", "--color", "always"],
    );
    let confirmed = alice.expect_stdout("you are now alice");
    assert!(
        confirmed.starts_with("\u{1b}[33m"),
        "notice in yellow: {confirmed:?}"
    );
    let mut bob = raw_join(addr, "bob");
    bob.send(b"/msg alice psst\n");
    let private = alice.expect_stdout("psst");
    assert!(
        private.starts_with("\u{1b}[1;35m"),
        "private in bold magenta: {private:?}"
    );
    // The peer's own escape sequence still arrives escaped, between our color codes.
    bob.send(b"\x1b[31mred\n");
    let message = alice.expect_stdout("red");
    assert!(message.contains("\\x1b[31mred"), "{message:?}");
    // Without --color, piped output has no escape codes at all (checked by every other test).
}

// The fault matrix (tests/faults.rs), room rows: a hostile or broken client, or a closed stdout.

fn room_50_mb_without_a_newline_keeps_the_server_bounded_and_the_room_goes_on(engine: Engine) {
    let (server, addr) = engine.listen("server", &[]);
    let mut alice = join(addr, "alice");
    let mut bob = raw_join(addr, "bob");
    let mut flooder = raw_join(addr, "flooder");
    let mut writer = flooder.stream.try_clone().unwrap();
    writer.set_write_timeout(Some(DEADLINE)).unwrap();
    // Written until the server stops reading it: every byte of a line that is too long is
    // charged, so the flooder is paused like any other flood.
    let flood = thread::spawn(move || {
        let block = vec![b'x'; 1 << 20];
        (0..50).all(|_| writer.write_all(&block).is_ok())
    });
    read_until(&mut flooder, "longer than 8192 bytes and was not sent");
    read_until(&mut flooder, "*** slow down:");
    bob.send(b"the room goes on\n");
    assert_eq!(chat_lines(&mut alice, 1), vec!["[bob] the room goes on"]);
    #[cfg(target_os = "linux")]
    {
        let kib = common::proc_status_kib(server.pid(), "VmRSS").expect("VmRSS");
        assert!(
            kib < 32 * 1024,
            "server resident memory {kib} KiB after a 50 MB line"
        );
    }
    let _ = flooder.stream.shutdown(std::net::Shutdown::Both);
    let _ = flood.join();
    drop(server);
}

fn room_one_byte_per_write_still_frames_lines(engine: Engine) {
    let (_server, addr) = engine.listen("server", &[]);
    let mut alice = join(addr, "alice");
    let mut bob = raw_join(addr, "bob");
    let message = "drip ".repeat(600);
    for byte in message.as_bytes().iter().chain(b"\r\n") {
        bob.send(std::slice::from_ref(byte));
    }
    assert_eq!(chat_lines(&mut alice, 1), vec![format!("[bob] {message}")]);
}

fn room_server_with_a_closed_stdout_closes_the_room_politely_and_exits_0(engine: Engine) {
    // Like `netchat room --listen … | head -0`: nobody reads the server's stdout.
    let extra = ["--engine", engine.name()];
    let (mut server, addr) = Netchat::listen_without_stdout("server", "room", &extra);
    let mut alice = join(addr, "alice");
    let mut bob = raw_join(addr, "bob");
    bob.send(b"this message cannot be printed on the server\n");
    alice.expect_stdout("*** goodbye: the host closed the room");
    alice.expect_exit_code(0);
    read_until(&mut bob, "*** goodbye: the host closed the room");
    server.expect_stderr("standard output closed: closing the room");
    server.expect_exit_code(0);
    let transcript = server.transcript();
    assert!(!transcript.contains("panicked"), "{transcript}");
}

/// A client whose kernel receive buffer is 4 KiB (set before `connect`, so the window it
/// advertises stays small): the server can write only a little at a time, and must keep the
/// rest and write it when there is room again. Every line still arrives, whole and in order.
fn room_a_client_with_a_4_kib_receive_window_gets_every_line_in_order(engine: Engine) {
    use socket2::{Domain, Socket, Type};
    const LINES: usize = 3000;
    let (mut server, addr) = engine.listen("server", &[]);
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let mut small = RawPeer::new(socket.into());
    read_until(&mut small, "welcome");
    let mut reader = raw_join(addr, "reader");
    // About 180 KB for a client that can take 4 KiB at a time (well under the bound at which a
    // client counts as not reading). The client does not read until all of it was offered.
    let text: String = (0..LINES)
        .map(|i| format!("line {i:05} of a partial-write test, padded to about sixty\n"))
        .collect();
    server.send_bytes(text.as_bytes());
    // Once an ordinary reader has the last line, every line was offered to both.
    read_until(&mut reader, &format!("[host] line {:05} of", LINES - 1));
    for i in 0..LINES {
        let line = read_until(&mut small, "[host] line ");
        assert_eq!(
            line,
            format!("[host] line {i:05} of a partial-write test, padded to about sixty")
        );
    }
}

/// `ulimit -n` this test needs: 5,000 client sockets here, 5,000 in the server, and a margin.
const FILES_FOR_5000: u64 = 10_300;

/// The poll engine holds thousands of clients on one thread, and gives every file descriptor
/// back when they leave.
#[cfg(target_os = "linux")]
#[test]
fn room_poll_5000_clients_join_and_leave_on_one_thread_and_fds_return_to_the_baseline() {
    const CLIENTS: usize = 5000;
    // The server inherits this process's (raised) soft limit.
    let limit = rlimit::increase_nofile_limit(FILES_FOR_5000).unwrap_or(0);
    if limit < FILES_FOR_5000 {
        common::skip_or_fail(format_args!(
            "the open-file limit is {limit}, this test needs {FILES_FOR_5000} \
             (raise it with `ulimit -n {FILES_FOR_5000}`)"
        ));
        return;
    }
    let max = CLIENTS.to_string();
    // All from 127.0.0.1: a load test, so no per-address limits.
    let (server, addr) =
        Engine::Poll.listen("server", &["--max-clients", &max, "--max-per-address", "0"]);
    let pid = server.pid();
    let count = |what: &str| common::proc_entries(pid, what);
    let (threads, files) = (count("task"), count("fd"));

    // In batches, each waiting for its welcomes: a crowd connecting faster than the server
    // accepts would overflow the listen backlog and wait for SYN retries.
    let mut clients: Vec<TcpStream> = Vec::with_capacity(CLIENTS);
    for batch in 0..CLIENTS / 100 {
        let start = clients.len();
        for _ in 0..100 {
            let stream = TcpStream::connect(addr).expect("connect");
            stream.set_read_timeout(Some(DEADLINE)).unwrap();
            clients.push(stream);
        }
        for stream in &clients[start..] {
            let mut line = String::new();
            BufReader::new(stream)
                .read_line(&mut line)
                .unwrap_or_else(|e| server.fail(&format!("batch {batch}: no welcome: {e}")));
            assert!(line.contains("welcome"), "{line}");
        }
    }
    let open = count("fd");
    assert!(
        open >= files + CLIENTS,
        "{open} fds for {CLIENTS} clients (before: {files})"
    );
    assert_eq!(count("task"), threads, "no thread per client");

    drop(clients);
    let deadline = Instant::now() + 3 * DEADLINE;
    while count("fd") > files {
        if Instant::now() > deadline {
            server.fail(&format!(
                "after {CLIENTS} clients left: {} fds (before: {files})",
                count("fd")
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

// Every test above that runs a room server, once per engine.
engine_tests! {
    room_the_usual_ways_to_leave_are_answered_with_slash_quit,
    room_messages_reach_every_other_member_once_in_server_order,
    room_announces_join_rename_and_leave_to_the_others,
    room_refuses_taken_and_invalid_names_and_impersonation_shows,
    room_private_message_reaches_only_its_target,
    room_line_over_max_line_is_refused_and_the_connection_lives,
    room_disconnects_a_client_that_never_reads,
    room_refuses_one_client_more_than_max_clients,
    room_host_kicks_a_member_and_speaks_as_host,
    room_closing_on_end_of_input_tells_everyone_and_exits_0,
    room_ctrl_c_closes_the_room_and_exits_0,
    room_client_exits_1_when_the_server_vanishes,
    room_client_leaves_at_end_of_input_with_exit_0,
    room_200_clients_leave_no_threads_or_sockets_behind,
    room_client_colors_kinds_of_lines_only_when_asked,
    room_50_mb_without_a_newline_keeps_the_server_bounded_and_the_room_goes_on,
    room_one_byte_per_write_still_frames_lines,
    a_netchat_client_turned_away_by_a_full_room_exits_1,
    a_banned_netchat_client_exits_0_and_its_address_is_turned_away_with_1,
    room_server_with_a_closed_stdout_closes_the_room_politely_and_exits_0,
    room_a_client_with_a_4_kib_receive_window_gets_every_line_in_order,
    room_an_ipv4_client_of_a_dual_stack_room_is_known_by_its_ipv4_address,
    room_a_paste_with_commands_in_it_reaches_the_others_in_order_under_the_right_names,
}

/// One write carrying lines and commands together: the poll engine hands the whole chunk to the
/// rules at once and sends the lines for everyone as shared blocks (engine.rs,
/// `Dispatch::gather`). Each line must still arrive in order, under the name its sender had
/// when it was said, with the private message and the notices in their places.
fn room_a_paste_with_commands_in_it_reaches_the_others_in_order_under_the_right_names(
    engine: Engine,
) {
    let (_server, addr) = engine.listen("server", &["--max-per-address", "0"]);
    let mut bob = raw_join(addr, "bob");
    let mut carol = raw_join(addr, "carol");
    let mut alice = raw_join(addr, "alice");
    alice.send(b"a1\na2\n/nick alicia\na3\n/me waves\n/msg bob psst\na4\n/quit bye\n");
    let said_to_everyone = [
        "[alice] a1",
        "[alice] a2",
        "*** alice is now alicia",
        "[alicia] a3",
        "* alicia waves",
        "[alicia] a4",
        "*** alicia left (bye) (2 in the room)",
    ];
    for (peer, private) in [(&mut bob, Some("[alicia -> you] psst")), (&mut carol, None)] {
        let mut expected: Vec<&str> = said_to_everyone.to_vec();
        if let Some(private) = private {
            expected.insert(5, private);
        }
        // Skip what came before alice's first line (join notices).
        let mut got = vec![read_until(peer, "[alice] a1")];
        while got.len() < expected.len() {
            got.push(peer.read_line());
        }
        assert_eq!(got, expected);
    }
}

/// A bare port listens on IPv4 and IPv6 at once, and an IPv4 client then arrives as
/// `::ffff:127.0.0.1`. Both engines know it (and ban it, and count its seats) as `127.0.0.1`.
fn room_an_ipv4_client_of_a_dual_stack_room_is_known_by_its_ipv4_address(engine: Engine) {
    let mut server = Netchat::spawn(
        "server",
        &["room", "--listen", "0", "--engine", engine.name()],
    );
    let line = server.expect_stderr("listening on ");
    let port = parse_listening_addr(&line)
        .unwrap_or_else(|| server.fail(&format!("no address in {line:?}")))
        .port();
    let mut alice = join(([127, 0, 0, 1], port).into(), "alice");
    let joined = server.expect_stderr("joined from ");
    assert!(joined.contains("joined from 127.0.0.1:"), "{joined}");
    server.send_line("/ban alice");
    alice.expect_exit_code(0);
    server.send_line("/unban 127.0.0.1");
    server.expect_stderr("127.0.0.1 (banned as alice) may join again");
}

/// A crowd arriving while the server is busy (here: stopped, as by Ctrl-Z) waits in the kernel's
/// accept queue, the listener's backlog, and gets in once the server takes it. With std's
/// backlog of 128 the kernel drops the handshakes beyond it: a connect then hangs, retried a
/// second later and again, or, answered with a SYN cookie, a quiet client is connected to a
/// server that never heard of it (the room bench's idle scenario lost hundreds that way).
#[cfg(target_os = "linux")]
fn room_a_crowd_that_connects_while_the_server_is_busy_waits_in_the_backlog_and_gets_in(
    engine: Engine,
) {
    const CROWD: usize = 300;
    // Every kernel caps a backlog at its own limit: 4096 on Linux since 5.4, 128 before.
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|text| text.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if somaxconn <= CROWD {
        common::skip_or_fail(format_args!(
            "net.core.somaxconn is {somaxconn}, it cannot queue {CROWD} clients"
        ));
        return;
    }
    // 300 sockets here, while other tests of this file hold theirs: up to the hard limit.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let (server, addr) = engine.listen("server", &["--max-per-address", "0"]);
    server.signal("STOP");
    // Each handshake is completed by the kernel alone, into the accept queue: no connect waits
    // while there is room.
    let crowd: Vec<TcpStream> = (0..CROWD)
        .map(|n| {
            TcpStream::connect_timeout(&addr, DEADLINE).unwrap_or_else(|e| {
                server.signal("CONT");
                server.fail(&format!("client {n} of {CROWD} could not connect: {e}"))
            })
        })
        .collect();
    server.signal("CONT");
    for (n, stream) in crowd.into_iter().enumerate() {
        let mut peer = RawPeer::new(stream);
        let first = peer.read_line();
        assert!(first.contains("welcome!"), "client {n}: {first}");
    }
}

#[cfg(target_os = "linux")]
mod crowd {
    use super::*;
    engine_tests! {
        room_a_crowd_that_connects_while_the_server_is_busy_waits_in_the_backlog_and_gets_in,
    }
}
