//! `netchat room` for a real class: thirty laptops behind one address, a host who steers a
//! running room, refusals the host sees. Through the real binary on loopback, on both engines;
//! every wait has a deadline and is synchronized on output.

use crate::common;

use std::net::{IpAddr, SocketAddr};

use common::{Engine, Netchat, RawPeer, engine_tests, raw_connect_from, room_join as join};

fn from(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// A student with nc from `ip`: connects, and presses Enter again once (reconnects) if turned
/// away. The first line the room said to its last try, and the peer if it is in.
fn student(ip: IpAddr, addr: SocketAddr) -> Option<(String, Option<RawPeer>)> {
    let mut said = String::new();
    for _ in 0..2 {
        let mut peer = raw_connect_from(ip, addr)?;
        said = peer.read_line();
        if said.starts_with("*** welcome!") {
            return Some((said, Some(peer)));
        }
    }
    Some((said, None))
}

fn class_a_lab_of_30_behind_one_address_all_join_with_the_defaults(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    // The card says what can refuse a student, in one line.
    server.expect_stderr("the door: 1000 seats (--max-clients); one address: 4 seats");
    let mut class = Vec::new();
    for _ in 0..30 {
        let Some((said, peer)) = student(from(2), addr) else {
            return;
        };
        assert!(peer.is_some(), "a student was turned away: {said}");
        class.extend(peer);
    }
    server.expect_stderr("(30 in the room)");
    // A script from another address, all at once: it cannot take every seat, and another
    // student still gets in.
    let mut script = Vec::new();
    let mut refused = 0;
    for _ in 0..60 {
        let Some(mut peer) = raw_connect_from(from(3), addr) else {
            return;
        };
        let said = peer.read_line();
        if said.starts_with("*** goodbye: sorry, your address") {
            assert!(
                said.contains("your class may share one address: ask the host"),
                "{said}"
            );
            refused += 1;
        }
        script.push(peer);
    }
    assert!(
        refused > 0,
        "a script from one address took 60 seats at once"
    );
    server.expect_stderr("refused a connection from 127.0.0.3");
    let mut alice = join(addr, "alice");
    alice.send_line("still room for me");
    server.expect_stdout("[alice] still room for me");
}

fn class_an_outsider_at_a_full_room_is_told_it_is_not_admitted_and_the_host_sees_it(
    engine: Engine,
) {
    let (mut server, addr) =
        engine.listen("server", &["--max-clients", "1", "--allow", "127.0.0.1"]);
    let _alice = join(addr, "alice");
    let Some(mut outsider) = raw_connect_from(from(2), addr) else {
        return;
    };
    let said = outsider.read_line();
    assert!(said.contains("admits only the class's network"), "{said}");
    server.expect_stderr("refused a connection from 127.0.0.2: this room admits only");
    // A full room is on the console too.
    let mut late = common::raw_connect(addr);
    assert!(late.read_line().contains("the room is full (1 people)"));
    server.close_stdin();
    server.expect_stderr("refused 1 more connection: 1 from 127.0.0.1 (room full)");
}

fn class_the_host_steers_a_running_room_from_the_console(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    server.send_line("/help");
    server.expect_stderr("/limit rate N [NICK]");
    server.send_line("/limit");
    server.expect_stderr(
        "limits: rate 5 lines a second per member (/limit rate N); 4 seats per address",
    );
    let mut alice = join(addr, "alice");
    let mut bob = join(addr, "bob");
    // A topic: everyone now, a newcomer after its welcome, a member who asks.
    server.send_line("/topic Lab 3: sockets");
    server.expect_stderr("the topic is now: Lab 3: sockets");
    alice.expect_stdout("*** topic: Lab 3: sockets");
    let mut carol = common::raw_connect(addr);
    carol.read_until("*** topic: Lab 3: sockets");
    carol.send(b"/topic\r\n");
    carol.read_until("*** topic: Lab 3: sockets");
    // A mute: bob is told once, nobody hears him, /who shows it; /unmute gives his voice back.
    server.send_line("/mute bob 5");
    server.expect_stderr("bob is muted for 5 minutes");
    bob.send_line("can you hear me?");
    bob.expect_stdout("*** the host muted you for 4m");
    bob.send_line("hello?");
    server.send_line("/who");
    server.expect_stderr("bob (muted)");
    server.send_line("marker");
    assert_eq!(alice.next_stdout(), "[host] marker");
    server.send_line("/unmute bob");
    server.expect_stderr("bob may speak again");
    bob.expect_stdout("*** the host unmuted you");
    bob.send_line("back");
    alice.expect_stdout("[bob] back");
    // A private word from the host.
    server.send_line("/msg alice see me after class");
    server.expect_stderr("[you -> alice] see me after class");
    alice.expect_stdout("[host -> you] see me after class");
    // One member's rate, for a paste exercise; the room's limits.
    server.send_line("/limit rate 50 alice");
    server.expect_stderr("alice may now send 50 lines a second (the room's: 5 lines a second)");
    server.send_line("/limit rate 8");
    server.expect_stderr("the rate limit is now 8 lines a second per member (was 5");
    server.send_line("/limit seats 10");
    server.expect_stderr("one address may now hold 10 seats");
    server.send_line("/limit clients 3");
    server.expect_stderr("the room now has 3 seats (was 1000)");
    let mut late = common::raw_connect(addr);
    assert!(late.read_line().contains("the room is full (3 people)"));
    server.expect_stderr("refused a connection from 127.0.0.1: the room is full (3 people)");
}

fn class_ban_behind_a_shared_address_names_who_shares_it_and_bans_only_the_name(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let Some(mut eve) = raw_connect_from(from(2), addr) else {
        return;
    };
    eve.send(b"/nick eve\r\n");
    eve.read_until("*** you are now eve");
    let Some(mut dan) = raw_connect_from(from(2), addr) else {
        return;
    };
    dan.send(b"/nick dan\r\n");
    dan.read_until("*** you are now dan");
    server.send_line("/ban eve 10");
    server.expect_stderr(
        "eve is out, and the name eve is banned for 10 minutes; its address 127.0.0.2 is shared \
         with dan here",
    );
    eve.read_until("*** goodbye: you were banned");
    // Back as a guest from the same address, the name stays banned.
    let Some(mut again) = raw_connect_from(from(2), addr) else {
        return;
    };
    again.read_until("*** welcome!");
    again.send(b"/nick eve\r\n");
    again.read_until("*** name refused: the host banned the name eve");
    server.send_line("/ban 127.0.0.2");
    server.expect_stderr("127.0.0.2 is banned until the room closes");
}

fn class_a_closed_window_is_named_so_not_ctrl_c(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    let bob = join(addr, "bob");
    bob.signal("HUP");
    server.expect_stderr("bob left (window closed)");
    let carol = join(addr, "carol");
    carol.signal("TERM");
    server.expect_stderr("carol left (SIGTERM)");
}

fn class_the_report_of_a_scripted_class_is_one_csv_row_per_student(engine: Engine) {
    let events = common::temp_path(&format!("report-{}.jsonl", engine.name()));
    let path = events.to_string_lossy().into_owned();
    let (mut server, addr) = engine.listen("server", &["--events", &path]);
    let mut alice = join(addr, "alice");
    let Some(mut bob) = raw_connect_from(from(2), addr) else {
        return;
    };
    bob.send(b"/nick bob\r\n");
    bob.read_until("*** you are now bob");
    alice.send_line("hello class, this is alice");
    server.expect_stdout("[alice] hello class, this is alice");
    bob.send(b"/msg alice psst\r\n");
    alice.expect_stdout("[bob -> you] psst");
    server.send_line("a question from the host");
    alice.expect_stdout("[host] a question from the host");
    server.send_line("/mute bob");
    server.expect_stderr("bob is muted");
    alice.send_line("/quit");
    server.expect_stderr("alice left");
    server.close_stdin();
    server.expect_stderr("the room is closed");
    server.expect_exit_code(0);
    let log = std::fs::read_to_string(&events).unwrap();
    // The room's default level keeps the conversation, the host's lines too, and no reads.
    assert!(
        log.contains(r#""nick":"host","text":"a question from the host""#),
        "{log}"
    );
    assert!(!log.contains(r#""event":"read""#), "{log}");
    // The host's commands too, so a grader sees what the host did and when.
    assert!(
        log.contains(r#""event":"command","client":0,"nick":"host","line":"/mute bob""#),
        "{log}"
    );
    let output = common::netchat_cmd()
        .args(["report", &path, "--csv"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&events);
    assert!(output.status.success());
    let csv = String::from_utf8_lossy(&output.stdout);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "names,address,joined,left,seconds_in_room,lines,words,private_messages,host"
    );
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows[1].starts_with("alice,127.0.0.1,"), "{csv}");
    assert!(rows[1].ends_with(",1,5,0,"), "{csv}");
    assert!(rows[2].starts_with("bob,127.0.0.2,"), "{csv}");
    assert!(rows[2].ends_with(",0,0,1,muted"), "{csv}");
}

fn class_a_diagram_of_one_student_shows_only_that_student_and_the_room(engine: Engine) {
    let events = common::temp_path(&format!("only-{}.jsonl", engine.name()));
    let path = events.to_string_lossy().into_owned();
    let (mut server, addr) = engine.listen("server", &["--events", &path]);
    let mut alice = join(addr, "alice");
    let mut bob = join(addr, "bob");
    let _carol = join(addr, "carol");
    alice.send_line("hi from alice");
    bob.expect_stdout("[alice] hi from alice");
    bob.send_line("yo from bob");
    alice.expect_stdout("[bob] yo from bob");
    server.close_stdin();
    server.expect_stderr("the room is closed");
    server.expect_exit_code(0);
    let output = common::netchat_cmd()
        .args(["diagram", &path, "--format", "text", "--only", "alice"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&events);
    assert!(output.status.success());
    let drawn = String::from_utf8_lossy(&output.stdout);
    let header = drawn.lines().next().unwrap_or_default();
    assert!(
        header.contains("room") && header.contains("alice (client 1)"),
        "{drawn}"
    );
    assert!(!header.contains("bob"), "{drawn}");
    assert!(drawn.contains("hi from alice (→ 2 members)"), "{drawn}");
    assert!(!drawn.contains("yo from bob"), "{drawn}");
}

engine_tests! {
    class_a_bot_answers_a_mention_and_a_private_message,
    class_a_diagram_of_one_student_shows_only_that_student_and_the_room,
    class_the_report_of_a_scripted_class_is_one_csv_row_per_student,
    class_a_closed_window_is_named_so_not_ctrl_c,
    class_the_host_steers_a_running_room_from_the_console,
    class_ban_behind_a_shared_address_names_who_shares_it_and_bans_only_the_name,
    class_a_lab_of_30_behind_one_address_all_join_with_the_defaults,
    class_an_outsider_at_a_full_room_is_told_it_is_not_admitted_and_the_host_sees_it,
}

/// A `half` or `duplex` that reached a room by mistake says so, with the command that joins it.
#[test]
fn mixup_a_half_or_duplex_that_reached_a_room_says_how_to_join_it() {
    let (_server, addr) = Netchat::listen("server", "room", &[]);
    let mut half = Netchat::connect("half", "half", addr, &[]);
    half.send_line("hello?");
    half.expect_stdout("*** welcome! you are guest-1");
    half.expect_stderr(&format!(
        "this is a netchat room, not a half peer: it took you in as a guest. To join it as a \
         member, leave here (q) and run: netchat room --connect {addr} --nick NAME"
    ));
    let mut duplex = Netchat::connect("duplex", "duplex", addr, &[]);
    duplex.expect_stdout("*** welcome! you are guest-2");
    duplex.expect_stderr("this is a netchat room, not a duplex peer: it took you in as a guest. To join it as a member, leave here (bye)");
}

/// A room client that reached a half listener: no welcome within 2 s, so it says what this looks
/// like; when the listener leaves, the ending is no crashed room.
#[test]
fn mixup_a_room_client_that_reached_a_half_listener_says_it_is_no_room() {
    let (mut half, addr) = Netchat::listen("half", "half", &[]);
    let mut client = Netchat::connect("client", "room", addr, &[]);
    half.expect_stderr("connected");
    client.expect_stderr(
        "no welcome after 2 s: this does not look like a netchat room (a half or duplex listener?",
    );
    // The half listener speaks after us; its `q` ends the conversation.
    client.send_line("hi");
    half.expect_stdout("hi");
    half.send_line("q");
    client.expect_stderr("it was not a netchat room");
    client.expect_exit_code(1);
}

/// A room client with no room at the address: the hint speaks of a room.
#[test]
fn mixup_a_room_client_refused_is_told_no_room_is_listening() {
    let (listener, addr) = common::raw_listener();
    drop(listener);
    let mut client = Netchat::connect("client", "room", addr, &[]);
    client.expect_stderr(&format!(
        "no room is listening on {addr}: ask the host whether the room is running (it starts \
         with `netchat room --listen"
    ));
    client.expect_exit_code(1);
}

/// A practice bot answers a student who mentions it or sends it a private message.
fn class_a_bot_answers_a_mention_and_a_private_message(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &["--bots", "1", "--seed", "2"]);
    server.expect_stderr("is now bot-ada");
    let mut alice = join(addr, "alice");
    alice.send_line("bot-ada, are you there?");
    alice.expect_stdout("[bot-ada] alice: ");
    alice.send_line("/msg bot-ada psst");
    alice.expect_stdout("[bot-ada -> you] ");
}
