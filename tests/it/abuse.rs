//! `netchat room` against a prankster: each attack a classroom tried, through the real binary,
//! with the room's default limits unless a test says otherwise. Every wait has a deadline;
//! nothing here asserts speed, only what reaches whom.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::{
    DEADLINE, Engine, Netchat, RawPeer, engine_tests, raw_connect, raw_connect_from,
    room_join as join, room_raw_join as raw_join,
};

/// The default `--rate-limit` and its burst (src/modes/room/limits.rs).
const RATE: f64 = 5.0;
const BURST: f64 = 20.0;

fn second_address() -> IpAddr {
    IpAddr::from([127, 0, 0, 2])
}

/// A flooder writing `line` as fast as its socket takes it, on its own thread, until stopped
/// (or until a write has been blocked for the whole deadline: the server stopped reading it).
struct Flood {
    stop: Arc<AtomicBool>,
    stream: TcpStream,
    thread: Option<JoinHandle<u64>>,
}

impl Flood {
    fn start(peer: &RawPeer, line: Vec<u8>) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let mut writer = peer.stream.try_clone().expect("clone the flooder's socket");
        writer.set_write_timeout(Some(DEADLINE)).expect("timeout");
        let stopping = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut sent = 0;
            while !stopping.load(Ordering::SeqCst) && writer.write_all(&line).is_ok() {
                sent += 1;
            }
            sent
        });
        Flood {
            stop,
            stream: peer.stream.try_clone().expect("clone"),
            thread: Some(thread),
        }
    }

    /// Stops the flood and closes the flooder's connection; how many lines it wrote.
    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.stream.shutdown(Shutdown::Both);
        self.thread
            .take()
            .map(|t| t.join().expect("flood thread"))
            .unwrap_or(0)
    }
}

/// Reads raw lines until one equals `line`, and counts those that start with `prefix` on the way.
fn count_until(peer: &mut RawPeer, prefix: &str, line: &str) -> usize {
    let mut count = 0;
    loop {
        let got = peer.read_line();
        if got == line {
            return count;
        }
        if got.starts_with(prefix) {
            count += 1;
        }
    }
}

/// The most lines the rules may relay from one member in `elapsed`: its burst, its sustained
/// rate, and the one line a member may go into debt by.
fn allowed(elapsed: Duration) -> usize {
    (BURST + RATE * elapsed.as_secs_f64() + 1.0).ceil() as usize
}

fn assert_nobody_dropped(server: &Netchat) {
    let transcript = server.transcript();
    assert!(
        !transcript.contains("was disconnected"),
        "an honest member was dropped:\n{transcript}"
    );
}

fn abuse_a_yes_flood_is_held_to_the_rate_limit_and_every_honest_member_hears_the_class(
    engine: Engine,
) {
    // Six members from 127.0.0.1: the seat limit per address is lifted, the rate limit is not.
    let (mut server, addr) = engine.listen("server", &["--max-per-address", "0"]);
    let mut alice = join(addr, "alice");
    let mut bob = join(addr, "bob");
    let mut carol = join(addr, "carol");
    let mut reader = raw_join(addr, "reader");
    let mut flooder = raw_join(addr, "flooder");
    let started = Instant::now();
    let flood = Flood::start(&flooder, b"y\n".to_vec());

    // The flooder is told once; the host's console says so once.
    flooder.read_until("*** slow down:");
    server.expect_stderr("flooder is sending faster than --rate-limit 5 allows");

    alice.send_line("honest line");
    for member in [&mut bob, &mut carol] {
        member.expect_stdout("[alice] honest line");
    }
    let relayed = count_until(&mut reader, "[flooder] ", "[alice] honest line");
    assert!(
        relayed <= allowed(started.elapsed()),
        "{relayed} flood lines relayed in {:?}",
        started.elapsed()
    );
    let written = flood.stop();
    assert!(
        written as usize > relayed,
        "the flooder wrote {written}, {relayed} relayed"
    );
    // The room goes on, and nobody honest was dropped.
    server.send_line("still here");
    alice.expect_stdout("[host] still here");
    assert_nobody_dropped(&server);
    assert_eq!(
        server.transcript().matches("is sending faster").count(),
        1,
        "one console line per episode"
    );
}

fn abuse_a_flooder_that_closes_cannot_dump_what_the_server_read_ahead(engine: Engine) {
    let (_server, addr) = engine.listen("server", &["--max-per-address", "0"]);
    // A plain reader, read with short timeouts: it watches the room for a while.
    let mut reader = TcpStream::connect(addr).expect("connect the reader");
    reader.write_all(b"/nick reader\n").expect("reader's /nick");
    let mut lines = BufReader::new(reader.try_clone().expect("clone"));
    // The flooder never reads: once the welcome is waiting in its socket, closing it sends a
    // reset, which an engine notices at once, paused or not.
    let mut flooder = TcpStream::connect(addr).expect("connect the flooder");
    flooder.set_read_timeout(Some(DEADLINE)).expect("timeout");
    common::wait_for_bytes(&flooder, "the welcome");
    let started = Instant::now();
    // 4,000 lines in one write, then the flooder is gone: an engine may read them all at once,
    // far past the limit, and only the rate limit decides what reaches the room.
    let mut flood = b"/nick flooder\n".to_vec();
    flood.extend(b"y\n".repeat(4000));
    flooder.write_all(&flood).expect("flood");
    drop(flooder);

    // Watch for two seconds (or until the room hears the flooder leave): what is relayed is at
    // most its burst, its rate, and one more burst as it leaves.
    reader
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut relayed = 0;
    let mut left = false;
    while !left && started.elapsed() < Duration::from_secs(2) {
        let mut line = String::new();
        match lines.read_line(&mut line) {
            Ok(0) => panic!("the room closed the reader"),
            Ok(_) if line.starts_with("[flooder] ") => relayed += 1,
            Ok(_) => left = line.starts_with("*** flooder l"), // left, lost the connection
            Err(_) => {} // nothing for 200 ms: look at the clock again
        }
    }
    let most = allowed(started.elapsed()) + BURST as usize;
    assert!(
        relayed <= most,
        "{relayed} flood lines relayed in {:?} (at most {most})",
        started.elapsed()
    );
}

/// The `held` and `dropped` columns of `nick`'s row in the host's next `/stats`.
fn held_and_dropped(server: &mut Netchat, nick: &str) -> (usize, u64) {
    server.send_line("/stats");
    server.expect_stderr("in lines/bytes");
    let row = server.expect_stderr(&format!("netchat: {nick}  127.0.0.1:"));
    // netchat: NICK ADDRESS FOR IN OUT QUEUED HELD DROPPED LIMITED
    let words: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(words.len(), 10, "{row}");
    let number = |word: &str| word.replace(',', "").parse::<u64>().expect(&row);
    (number(words[7]) as usize, number(words[8]))
}

/// At most this many of a held-back member's lines wait in the server
/// (`HELD_LINES` in src/modes/room/limits.rs).
const HELD_LINES: usize = 100;

fn abuse_a_yes_flood_holds_a_bounded_number_of_lines_and_counts_the_rest_as_dropped(
    engine: Engine,
) {
    let (mut server, addr) = engine.listen("server", &["--max-per-address", "0"]);
    let mut alice = join(addr, "alice");
    let mut flooder = raw_join(addr, "flooder");
    // As `yes | nc` floods: `nc` writes what it read from the pipe, thousands of lines a write.
    // Not one line a write: the rules hold what one read brought past the rate limit and read
    // nothing more until those held lines are paid out at the limit, so a loaded machine whose
    // server read the flood a few dozen lines at a time heard of it being dropped only after
    // its held lines were paid out at 5 a second, many seconds later. A write's bytes arrive
    // in one read, so a block of 1,024 lines is always far past the held lines' bound.
    let flood = Flood::start(&flooder, b"y\n".repeat(1024));
    // Told once that what it sends beyond the held lines is dropped; so is the host.
    flooder.read_until("*** you are far ahead of the room");
    server.expect_stderr("flooder sends far faster than its rate limit");
    // However long the flood goes on, what the server holds for it stays bounded, and what it
    // does not hold is counted: each /stats sees more dropped.
    let mut last_dropped = 0;
    for _ in 0..3 {
        let (held, dropped) = held_and_dropped(&mut server, "flooder");
        assert!(held <= HELD_LINES, "{held} lines held");
        assert!(dropped >= last_dropped, "{dropped} after {last_dropped}");
        last_dropped = dropped;
    }
    assert!(last_dropped > 0, "the flood dropped nothing");
    flood.stop();
    server.send_line("still here");
    alice.expect_stdout("[host] still here");
    assert_nobody_dropped(&server);
}

fn abuse_a_flooder_that_quits_is_seen_leaving_and_leaves_at_most_a_burst_behind(engine: Engine) {
    let (_server, addr) = engine.listen("server", &["--max-per-address", "0"]);
    let mut alice = raw_join(addr, "alice");
    let mut flooder = raw_join(addr, "flooder");
    let started = Instant::now();
    let flood = Flood::start(&flooder, b"y\n".to_vec());
    flooder.read_until("*** slow down:");
    // It quits as `yes | nc` does on Ctrl-C: a FIN behind the megabytes its pipe still holds.
    // (`flooder` stays open: closing a socket with unread bytes would send a reset instead.)
    flood.stop();
    // The room drains that backlog, sees the FIN and hears the flooder leave, long before the
    // minute after which it would cut a flood off; until then, the rate limit, and one more
    // burst as it leaves.
    let mut relayed = 0;
    let gone = loop {
        let line = alice.read_line();
        if line.starts_with("[flooder] ") {
            relayed += 1;
        } else if line.starts_with("*** flooder ") {
            break line;
        }
    };
    assert!(
        gone.starts_with("*** flooder left") || gone.starts_with("*** flooder lost"),
        "{gone}"
    );
    let most = allowed(started.elapsed()) + BURST as usize;
    assert!(
        relayed <= most,
        "{relayed} flood lines relayed in {:?} (at most {most})",
        started.elapsed()
    );
}

fn abuse_an_honest_paste_of_30_lines_still_arrives_whole_and_in_order(engine: Engine) {
    let (_server, addr) = engine.listen("server", &[]);
    let mut alice = raw_join(addr, "alice");
    let mut paster = raw_join(addr, "paster");
    let pasted: Vec<String> = (1..=30)
        .map(|n| format!("line {n} of my program"))
        .collect();
    // One write, as a terminal pastes: past the burst of 20, the rest waits its turn.
    paster.send(format!("{}\n", pasted.join("\n")).as_bytes());
    for text in &pasted {
        let line = loop {
            let line = alice.read_line();
            if !line.starts_with("*** ") {
                break line;
            }
        };
        assert_eq!(line, format!("[paster] {text}"));
    }
}

fn abuse_a_line_of_8_kb_of_control_bytes_takes_a_row_not_four_hundred(engine: Engine) {
    let (_server, addr) = engine.listen("server", &[]);
    let mut alice = raw_join(addr, "alice");
    let mut eve = raw_join(addr, "eve");
    let mut line = vec![0x01; 8000];
    line.push(b'\n');
    eve.send(&line);
    let shown = alice.read_until("[eve] ");
    // Escaped whole, it would be 32,000 columns: 400 rows of `\x01` on every screen.
    assert!(shown.len() < 160, "{} columns: {shown}", shown.len());
    assert!(
        shown.starts_with("[eve] \\x01\\x01")
            && shown.ends_with(" [7,984 more control characters not shown]"),
        "{shown}"
    );
}

fn abuse_zalgo_text_cannot_paint_over_the_rows_around_it(engine: Engine) {
    let (_server, addr) = engine.listen("server", &[]);
    let mut alice = raw_join(addr, "alice");
    let mut eve = raw_join(addr, "eve");
    // Each letter carries 100 combining accents, which a terminal draws above and below it.
    let zalgo: String = "class cancelled"
        .chars()
        .flat_map(|c| std::iter::once(c).chain(std::iter::repeat_n('\u{0300}', 100)))
        .collect();
    eve.send(format!("{zalgo}\n").as_bytes());
    let shown = alice.read_until("[eve] ");
    let marks = shown.matches('\u{0300}').count();
    assert!(marks <= 4 * 15, "{marks} marks on 15 characters");
    assert!(shown.ends_with(" stacked marks not shown]"), "{shown}");
}

fn abuse_a_flood_of_8_kb_control_byte_lines_drops_no_honest_member(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &["--max-per-address", "0"]);
    let mut alice = join(addr, "alice");
    let mut bob = join(addr, "bob");
    let mut reader = raw_join(addr, "reader");
    let mut flooder = raw_join(addr, "flooder");
    let mut line = vec![0x01; 8000];
    line.push(b'\n');
    let started = Instant::now();
    let flood = Flood::start(&flooder, line);
    flooder.read_until("*** slow down:");

    bob.send_line("can anyone hear me?");
    alice.expect_stdout("[bob] can anyone hear me?");
    let relayed = count_until(&mut reader, "[flooder] ", "[bob] can anyone hear me?");
    // Each relayed line shows a few escapes and says how many more it left out: the line
    // budget holds it to the limit.
    assert!(
        relayed <= allowed(started.elapsed()),
        "{relayed} lines in {:?}",
        started.elapsed()
    );
    flood.stop();
    server.send_line("still here");
    alice.expect_stdout("[host] still here");
    bob.expect_stdout("[host] still here");
    assert_nobody_dropped(&server);
}

fn abuse_a_private_message_flood_at_one_victim_does_not_get_the_victim_dropped(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let mut alice = join(addr, "alice");
    let mut flooder = raw_join(addr, "flooder");
    let mut line = b"/msg alice ".to_vec();
    line.extend(vec![0x01; 8000]);
    line.push(b'\n');
    let flood = Flood::start(&flooder, line);
    flooder.read_until("*** slow down:");
    alice.expect_stdout("[flooder -> you] \\x01\\x01");
    server.send_line("are you still there, alice?");
    alice.expect_stdout("[host] are you still there, alice?");
    flood.stop();
    alice.send_line("yes");
    server.expect_stdout("[alice] yes");
    assert_nobody_dropped(&server);
}

fn abuse_idle_sockets_from_one_address_cannot_fill_the_room(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let Some(first) = raw_connect_from(second_address(), addr) else {
        return;
    };
    let mut script = vec![first];
    script.extend((1..10).filter_map(|_| raw_connect_from(second_address(), addr)));
    let firsts: Vec<String> = script.iter_mut().map(RawPeer::read_line).collect();
    let welcomed = firsts
        .iter()
        .filter(|l| l.starts_with("*** welcome!"))
        .count();
    // The rest are told why: four seats is the most (and, after eight in a row, that the address
    // connects too fast).
    let refused = firsts
        .iter()
        .filter(|l| l.starts_with("*** goodbye: sorry, your address"))
        .count();
    assert_eq!((welcomed, refused), (4, 6), "{firsts:#?}");
    assert!(
        firsts[4].contains("already has 4 connections"),
        "{firsts:#?}"
    );
    server.expect_stderr("refused a connection from 127.0.0.2");
    // A student from another address still gets a seat.
    let mut alice = join(addr, "alice");
    alice.send_line("I am in");
    server.expect_stdout("[alice] I am in");
}

fn abuse_connect_close_churn_is_slowed_and_never_reaches_the_members_screens(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let mut alice = join(addr, "alice");
    let mut admitted = 0;
    let mut turned_away = 0;
    for _ in 0..30 {
        let Some(mut churn) = raw_connect_from(second_address(), addr) else {
            return;
        };
        let first = churn.read_line();
        if first.contains("too many connections in a short time") {
            turned_away += 1;
        } else {
            admitted += 1;
        }
        drop(churn);
    }
    assert!(turned_away > 0, "30 connections in a row, none refused");
    server.expect_stderr("opened too many connections in a short time");
    // The members saw none of it: the next line alice gets is the host's marker, give or take a
    // notice for a churn connection the machine happened to stall for a whole second.
    server.send_line("marker");
    let mut notices = 0;
    loop {
        let line = alice.next_stdout();
        if line == "[host] marker" {
            break;
        }
        notices += 1;
    }
    assert!(
        notices < admitted,
        "{notices} notices for {admitted} short stays"
    );
}

fn abuse_lookalike_names_are_taken_by_their_originals(engine: Engine) {
    let (_server, addr) = engine.listen("server", &[]);
    let _alice = raw_join(addr, "alice");
    let _dave = raw_join(addr, "dave");
    let mut mallory = raw_connect(addr);
    for fake in [
        "host_", "-host", "h0st", "a.lice", "a_lice", "aIice", "Dave_", "clave",
    ] {
        mallory.send(format!("/nick {fake}\n").as_bytes());
        mallory.read_until("*** name refused: ");
    }
    mallory.send(b"/nick mallory\n");
    mallory.read_until("*** you are now mallory");
}

fn abuse_a_run_of_spaces_cannot_put_a_fake_notice_on_its_own_row(engine: Engine) {
    let (_server, addr) = engine.listen("server", &[]);
    let mut alice = raw_join(addr, "alice");
    let mut eve = raw_join(addr, "eve");
    let fake = format!(
        "hi{}*** bob was kicked by the host (cheating)\n",
        " ".repeat(68)
    );
    eve.send(fake.as_bytes());
    eve.send(b"    indented code stays\n");
    assert_eq!(
        alice.read_until("[eve] hi"),
        "[eve] hi        *** bob was kicked by the host (cheating)"
    );
    assert_eq!(alice.read_line(), "[eve]     indented code stays");
}

fn abuse_a_quit_reason_cannot_put_a_fake_notice_on_its_own_row(engine: Engine) {
    let (_server, addr) = engine.listen("server", &[]);
    let mut alice = raw_join(addr, "alice");
    let mut eve = raw_join(addr, "eve");
    eve.send(
        format!(
            "/quit bye{}*** bob was kicked by the host (cheating)\n",
            " ".repeat(70)
        )
        .as_bytes(),
    );
    assert_eq!(
        alice.read_until("*** eve left"),
        "*** eve left (bye        *** bob was kicked by the host (cheating)) (1 in the room)"
    );
}

fn abuse_invisible_characters_between_spaces_do_not_keep_a_long_blank_run(engine: Engine) {
    let (_server, addr) = engine.listen("server", &[]);
    let mut alice = raw_join(addr, "alice");
    let mut eve = raw_join(addr, "eve");
    // A variation selector, a combining grapheme joiner: drawn as nothing, and not escaped
    // (emoji need the first), yet each would break the run of spaces in two.
    for filler in ["\u{fe0f}", "\u{34f}"] {
        let fake = format!("hi{}*** bob was kicked\n", format!(" {filler}").repeat(70));
        eve.send(fake.as_bytes());
        assert_eq!(
            alice.read_until("[eve] hi"),
            "[eve] hi        *** bob was kicked"
        );
    }
    // An emoji keeps its variation selector.
    eve.send("I \u{2764}\u{fe0f} sockets\n".as_bytes());
    assert_eq!(alice.read_line(), "[eve] I \u{2764}\u{fe0f} sockets");
}

fn abuse_invisible_and_format_characters_are_shown_escaped(engine: Engine) {
    let (_server, addr) = engine.listen("server", &[]);
    let mut alice = raw_join(addr, "alice");
    let mut eve = raw_join(addr, "eve");
    eve.send("a\u{200b}b\u{2060}c\u{feff}d\u{61c}e\u{2028}f\u{e0041}g\n".as_bytes());
    assert_eq!(
        alice.read_until("[eve] "),
        "[eve] a\\u{200b}b\\u{2060}c\\u{feff}d\\u{61c}e\\u{2028}f\\u{e0041}g"
    );
}

fn abuse_who_in_a_loop_is_charged_like_any_line_and_amplifies_nothing(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &["--max-per-address", "0"]);
    let _crowd: Vec<RawPeer> = (0..20).map(|_| raw_connect(addr)).collect();
    let mut asker = raw_join(addr, "asker");
    asker.send(&b"/who\n".repeat(300));
    // Each answer is charged to the asker: its burst of 20 lines (one went on `/nick`), then
    // it is paused, so the notice comes right after the answer that went into debt: the 20th.
    let mut answers = 0;
    loop {
        let line = asker.read_line();
        if line.starts_with("*** slow down:") {
            break;
        }
        if line.starts_with("*** in the room") {
            answers += 1;
        }
    }
    assert_eq!(answers, BURST as usize);
    server.expect_stderr("asker is sending faster");
}

fn abuse_a_never_reading_client_with_a_shrunken_window_is_dropped_a_known_number_of_bytes_behind(
    engine: Engine,
) {
    const LINE: usize = 1000;
    // The flood must outrun the sloth: no rate limit here.
    let (server, addr) = engine.listen("server", &["--rate-limit", "0"]);
    let sloth = raw_join(addr, "sloth");
    // The sloth's receive window shrinks after the connection is set up, then it never reads.
    socket2::SockRef::from(&sloth.stream)
        .set_recv_buffer_size(4096)
        .expect("SO_RCVBUF");
    let flooder = raw_join(addr, "flooder");
    let watcher = raw_join(addr, "watcher");

    // The watcher reads everything on its own thread, counting the flood's bytes, until it
    // hears that the sloth was dropped.
    let mut lines = BufReader::new(watcher.stream.try_clone().expect("clone"));
    let watching = thread::spawn(move || -> Option<usize> {
        let mut bytes = 0;
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match lines.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => return None,
                Ok(n) if raw.starts_with(b"[flooder] ") => bytes += n,
                Ok(_) if raw.starts_with(b"*** sloth was disconnected: too slow") => {
                    return Some(bytes);
                }
                Ok(_) => {}
            }
        }
    });
    let mut line = vec![b'z'; LINE];
    line.push(b'\n');
    let flood = Flood::start(&flooder, line);
    let relayed = watching.join().expect("watcher thread");
    flood.stop();
    let relayed = relayed.unwrap_or_else(|| server.fail("the sloth was never dropped"));
    // At most 1 MiB queued, a 64 KiB write, and the fixed 64 KiB send buffer (128 KiB as Linux
    // counts it), plus what the sloth's own kernel took before its window shrank: well under
    // 2.5 MiB. Left to autotuning, the send buffer alone grows to 4 MiB.
    assert!(
        relayed < 5 * 1024 * 1024 / 2,
        "{relayed} bytes before the drop"
    );
    drop(sloth);
}

fn abuse_ban_removes_a_prankster_and_keeps_their_address_out_until_unbanned(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let mut alice = join(addr, "alice");
    let Some(mut eve) = raw_connect_from(second_address(), addr) else {
        return;
    };
    eve.send(b"/nick eve\n");
    eve.read_until("*** you are now eve");
    server.send_line("/ban eve flooding");
    eve.read_until("*** goodbye: you were banned from this room by the host (flooding)");
    alice.expect_stdout("*** eve was banned by the host (flooding)");
    server.expect_stderr("127.0.0.2 is banned until the room closes");
    let mut again = raw_connect_from(second_address(), addr).expect("bound before");
    assert_eq!(
        again.read_line(),
        "*** goodbye: sorry, the host has banned your address from this room"
    );
    server.send_line("/unban 127.0.0.2");
    server.expect_stderr("127.0.0.2 (banned as eve) may join again");
    let mut back = raw_connect_from(second_address(), addr).expect("bound before");
    assert!(back.read_line().starts_with("*** welcome!"));
}

#[cfg(unix)]
fn abuse_a_client_the_server_stopped_reading_still_leaves_on_ctrl_c_with_exit_0(engine: Engine) {
    let (_server, addr) = engine.listen("server", &[]);
    let target = addr.to_string();
    let mut bob = Netchat::spawn("bob", &["room", "--connect", &target, "--nick", "bob"]);
    bob.expect_stdout("*** you are now bob");
    // 20 MB of 8 KB lines: far more than the server reads under its rate limit, and than the
    // kernel buffers between them hold, so bob's own `write` ends up blocked.
    let line = format!("{}\n", "x".repeat(8000));
    let mut stdin = bob.take_stdin();
    let feeding = thread::spawn(move || {
        for _ in 0..2500 {
            if stdin.write_all(line.as_bytes()).is_err() {
                return;
            }
        }
    });
    bob.expect_stdout("*** slow down:");
    bob.signal("INT");
    bob.expect_exit_code(0);
    let _ = feeding.join();
}

#[test]
fn abuse_a_line_cut_off_by_the_close_is_shown_as_cut_not_as_a_message() {
    // A "server" that closes in the middle of a line, as a crashed or killed one would.
    let (listener, addr) = common::raw_listener();
    let target = addr.to_string();
    let mut client = Netchat::spawn("client", &["room", "--connect", &target]);
    let mut server = common::raw_accept(&listener);
    server.send(b"*** welcome!\n[bob] I owe you 10 eu");
    drop(server);
    client.expect_stdout("*** welcome!");
    client.expect_stderr(
        "the connection ended in the middle of a line; what arrived of it: [bob] I owe you 10 eu",
    );
    client.expect_exit_code(1);
    // The fragment was never printed as a message, on stdout where messages go.
    assert!(
        !client.transcript().contains("out| [bob]"),
        "{}",
        client.transcript()
    );
}

#[cfg(unix)]
fn abuse_a_client_dropped_for_reading_too_slowly_is_told_so_not_that_the_server_crashed(
    engine: Engine,
) {
    // No rate limit: the flood must outrun bob, who is suspended (as with Ctrl-Z) and reads nothing.
    let (mut server, addr) = engine.listen("server", &["--rate-limit", "0"]);
    let bob = join(addr, "bob");
    let flooder = raw_join(addr, "flooder");
    bob.signal("STOP");
    let mut line = vec![b'z'; 1000];
    line.push(b'\n');
    let flood = Flood::start(&flooder, line);
    server.expect_stderr("bob was disconnected: too slow");
    flood.stop();
    let mut bob = bob;
    bob.signal("CONT");
    bob.expect_stderr(
        "the room's server dropped this client for reading the room's lines too slowly",
    );
    bob.expect_exit_code(1);
}

// Every attack above, on both engines: the rules that stop it are the same code.

/// The most memory the process ever had resident (Linux: `VmHWM` in /proc/PID/status), in KiB.
#[cfg(target_os = "linux")]
fn peak_kib(pid: u32) -> u64 {
    common::proc_status_kib(pid, "VmHWM").expect("VmHWM in /proc/PID/status")
}

/// How many flooders, each from an address of its own (127.0.1.N), so that no per-address
/// limit stops them: a class of pranksters.
#[cfg(target_os = "linux")]
const FLOODERS: u8 = 32;

/// Many `yes` floods at once, each from its own address, each writing 1 MiB that the server
/// must read (and, past the held lines, drop). What the server holds for each is its held lines
/// and one read's worth on its way to the rules, so its peak memory grows by a few megabytes.
/// (The threads engine once handed each line of a read over as an allocation of its own: 4,096
/// of them for 8 KiB of `y` lines, 230 KB per read waiting for the hub, 2 MB per flooder once
/// the allocator's per-thread arenas had their share.)
#[cfg(target_os = "linux")]
fn abuse_a_class_of_flooders_does_not_grow_the_servers_memory(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let mut alice = join(addr, "alice");
    let before = peak_kib(server.pid());
    let block = b"y\n".repeat(4096);
    let floods: Vec<JoinHandle<()>> = (0..FLOODERS)
        .map(|n| {
            let from = IpAddr::from([127, 0, 1, n + 1]);
            let mut peer = raw_connect_from(from, addr).expect("a loopback source address");
            peer.stream
                .set_write_timeout(Some(DEADLINE))
                .expect("timeout");
            let block = block.clone();
            thread::spawn(move || {
                for _ in 0..(1024 * 1024 / block.len()) {
                    peer.stream
                        .write_all(&block)
                        .expect("the server reads the flood");
                }
                // Seen through: the server took it all (it reads at its drain pace).
                peer.read_until("*** you are far ahead of the room");
            })
        })
        .collect();
    for flood in floods {
        flood.join().expect("a flooder");
    }
    let grown = peak_kib(server.pid()).saturating_sub(before);
    assert!(
        grown < u64::from(FLOODERS) * 512,
        "the server's peak memory grew by {grown} KiB for {FLOODERS} flooders"
    );
    server.send_line("still here");
    alice.expect_stdout("[host] still here");
    assert_nobody_dropped(&server);
}

engine_tests! {
    abuse_a_yes_flood_is_held_to_the_rate_limit_and_every_honest_member_hears_the_class,
    abuse_a_flooder_that_closes_cannot_dump_what_the_server_read_ahead,
    abuse_a_yes_flood_holds_a_bounded_number_of_lines_and_counts_the_rest_as_dropped,
    abuse_a_flooder_that_quits_is_seen_leaving_and_leaves_at_most_a_burst_behind,
    abuse_an_honest_paste_of_30_lines_still_arrives_whole_and_in_order,
    abuse_a_flood_of_8_kb_control_byte_lines_drops_no_honest_member,
    abuse_a_line_of_8_kb_of_control_bytes_takes_a_row_not_four_hundred,
    abuse_zalgo_text_cannot_paint_over_the_rows_around_it,
    abuse_a_private_message_flood_at_one_victim_does_not_get_the_victim_dropped,
    abuse_idle_sockets_from_one_address_cannot_fill_the_room,
    abuse_connect_close_churn_is_slowed_and_never_reaches_the_members_screens,
    abuse_lookalike_names_are_taken_by_their_originals,
    abuse_a_run_of_spaces_cannot_put_a_fake_notice_on_its_own_row,
    abuse_a_quit_reason_cannot_put_a_fake_notice_on_its_own_row,
    abuse_invisible_characters_between_spaces_do_not_keep_a_long_blank_run,
    abuse_invisible_and_format_characters_are_shown_escaped,
    abuse_who_in_a_loop_is_charged_like_any_line_and_amplifies_nothing,
    abuse_a_never_reading_client_with_a_shrunken_window_is_dropped_a_known_number_of_bytes_behind,
    abuse_ban_removes_a_prankster_and_keeps_their_address_out_until_unbanned,
    abuse_a_client_the_server_stopped_reading_still_leaves_on_ctrl_c_with_exit_0,
}

#[cfg(target_os = "linux")]
mod memory {
    use super::*;
    engine_tests! {
        abuse_a_class_of_flooders_does_not_grow_the_servers_memory,
    }
}

// The same on both engines, where signals exist.
#[cfg(unix)]
mod slow {
    use super::*;
    engine_tests! {
        abuse_a_client_dropped_for_reading_too_slowly_is_told_so_not_that_the_server_crashed,
    }
}
