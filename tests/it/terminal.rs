//! netchat at a real (pseudo-)terminal: keys typed as a terminal sends them, the peer's side
//! checked byte for byte, and the screen read through a terminal emulator. Line editing in every
//! place netchat reads the keyboard, messages arriving mid-line, Ctrl-C and the signals that end
//! a terminal session, and the terminal given back in its normal mode.
#![cfg(unix)]

use crate::common;

use std::net::SocketAddr;

use nix::sys::signal::Signal;

use common::pty::{Tty, keys::*, send_signal};
use common::{Engine, Netchat, engine_tests, parse_listening_addr, room_raw_join};

const ROWS: u16 = 24;
const COLUMNS: u16 = 60;

/// A plain (piped) `mode` listener as the peer, and netchat `mode` at a terminal connected to
/// it, with its prompt drawn (a half connector speaks first, so it has one at once).
fn at_terminal(mode: &str, columns: u16) -> (Netchat, Tty) {
    let (peer, addr) = Netchat::listen("peer", mode, &[]);
    let mut tty = Tty::spawn(
        "you",
        &[mode, "--connect", &addr.to_string()],
        ROWS,
        columns,
    );
    tty.wait_for_cursor_row("you>", 5);
    (peer, tty)
}

fn duplex_at_terminal(columns: u16) -> (Netchat, Tty) {
    at_terminal("duplex", columns)
}

#[test]
fn left_arrow_inserts_where_the_cursor_is() {
    let (mut peer, mut tty) = duplex_at_terminal(COLUMNS);
    tty.type_keys(&format!("helo{LEFT}l"));
    tty.wait_for_cursor_row("you> hello", 9);
    tty.type_keys(ENTER);
    assert_eq!(peer.next_stdout(), "hello");
    let screen = tty.wait_for_cursor_row("you>", 5);
    assert!(screen.find("you> hello").is_some(), "{screen:?}");
}

#[test]
fn editing_keys_work_anywhere_on_the_line() {
    let (mut peer, mut tty) = duplex_at_terminal(COLUMNS);
    tty.type_keys(&format!("world{HOME}hello {END}!"));
    tty.wait_for_cursor_row("you> hello world!", 17);
    tty.type_keys(CTRL_W);
    tty.wait_for_cursor_row("you> hello", 11);
    tty.type_keys(&format!("there{ALT_B}{ALT_B}"));
    tty.wait_for_cursor_row("you> hello there", 5);
    tty.type_keys(&format!("{DELETE}{CTRL_RIGHT}{BACKSPACE}"));
    tty.wait_for_cursor_row("you> ell there", 8);
    tty.type_keys(&format!("{CTRL_E}!{CTRL_LEFT}{CTRL_LEFT}{RIGHT}{CTRL_K}"));
    tty.wait_for_cursor_row("you> e", 6);
    tty.type_keys(&format!("{CTRL_A}{ALT_F}{CTRL_U}sent{CTRL_E}{ENTER}"));
    assert_eq!(peer.next_stdout(), "sent");
}

#[test]
fn up_and_down_recall_lines_sent_this_session() {
    let (mut peer, mut tty) = duplex_at_terminal(COLUMNS);
    tty.type_keys(&format!("first{ENTER}second{ENTER}"));
    assert_eq!(peer.next_stdout(), "first");
    assert_eq!(peer.next_stdout(), "second");
    tty.type_keys(&format!("draft{UP}{UP}"));
    tty.wait_for_cursor_row("you> first", 10);
    tty.type_keys(&format!("{DOWN}{DOWN}"));
    tty.wait_for_cursor_row("you> draft", 10);
    tty.type_keys(&format!("{UP}{UP}{ENTER}"));
    assert_eq!(peer.next_stdout(), "first");
}

#[test]
fn typed_blank_lines_are_not_sent() {
    let (mut peer, mut tty) = duplex_at_terminal(COLUMNS);
    tty.type_keys(&format!("{ENTER}{ENTER}   {ENTER}x{ENTER}"));
    assert_eq!(peer.next_stdout(), "x", "no empty message before x");
}

#[test]
fn wide_characters_wrap_where_the_terminal_wraps_them_and_edit_cleanly() {
    // 20 columns: `you> ` takes 5, then seven 2-column characters fill 14 more; the eighth does
    // not fit in the one column left, so it starts the next row, as the terminal wraps it.
    let (mut peer, mut tty) = duplex_at_terminal(20);
    tty.type_keys("你好你好你好你好你好ab");
    let screen = tty.wait_for_cursor_row("好你好ab", 8);
    let row = usize::from(screen.cursor.0);
    assert_eq!(screen.rows[row - 1], "you> 你好你好你好你", "{screen:?}");
    // Home, then seven characters right: before the eighth, at the start of the second row.
    // (Rows are found again on each screen, not kept from the one before: a status line that
    // comes late scrolls the whole screen.)
    tty.type_keys(&format!("{HOME}{}", RIGHT.repeat(7)));
    tty.wait_for("the cursor at the start of the second row", |s| {
        let row = usize::from(s.cursor.0);
        s.cursor.1 == 0
            && s.cursor_row() == "好你好ab"
            && row > 0
            && s.rows[row - 1] == "you> 你好你好你好你"
    });
    // X fits in the last column of the first row: redrawn with nothing left over.
    tty.type_keys("X");
    let screen = tty.wait_for_text("you> 你好你好你好你X");
    let first = screen.find("you> 你好你好你好你X").expect("the first row");
    assert_eq!(screen.rows[first + 1], "好你好ab", "{screen:?}");
    tty.type_keys(ENTER);
    assert_eq!(peer.next_stdout(), "你好你好你好你X好你好ab");
}

#[test]
fn the_cursor_moves_over_an_accented_letter_as_one_character() {
    let (mut peer, mut tty) = duplex_at_terminal(COLUMNS);
    // `e` followed by a combining acute accent: two chars, one letter, one column.
    tty.type_keys(&format!("cafe\u{301}{LEFT}X"));
    tty.wait_for_cursor_row("you> cafXe\u{301}", 9);
    tty.type_keys(ENTER);
    assert_eq!(peer.next_stdout(), "cafXe\u{301}");
}

#[test]
fn a_message_arriving_mid_line_prints_above_it() {
    let (mut peer, mut tty) = duplex_at_terminal(COLUMNS);
    tty.type_keys("half typ");
    tty.wait_for_cursor_row("you> half typ", 13);
    peer.send_line("incoming");
    let screen = tty.wait_for_text("peer> incoming");
    let screen = if screen.cursor_row() == "you> half typ" {
        screen
    } else {
        tty.wait_for_cursor_row("you> half typ", 13)
    };
    let row = usize::from(screen.cursor.0);
    assert_eq!(screen.rows[row - 1], "peer> incoming", "{screen:?}");
    tty.type_keys(&format!("ed{ENTER}"));
    assert_eq!(peer.next_stdout(), "half typed");
}

#[test]
fn ctrl_l_clears_the_screen_and_keeps_the_line() {
    let (_peer, mut tty) = duplex_at_terminal(COLUMNS);
    tty.type_keys(&format!("abc{LEFT}{CTRL_L}"));
    let screen = tty.wait_for("the line alone at the top", |s| {
        s.rows[0] == "you> abc" && s.cursor == (0, 7)
    });
    assert!(screen.rows[1..].iter().all(String::is_empty), "{screen:?}");
}

#[test]
fn ctrl_c_at_the_prompt_says_bye_and_gives_the_terminal_back() {
    let (mut peer, mut tty) = duplex_at_terminal(COLUMNS);
    assert!(tty.is_raw());
    tty.type_keys(&format!("not sent{CTRL_C}"));
    peer.expect_stderr("the peer said bye");
    tty.wait_for_text("said bye to the peer");
    tty.expect_exit_code(0);
    assert!(!tty.is_raw(), "raw mode left on");
    peer.expect_exit_code(0);
}

#[test]
fn ctrl_c_in_cooked_mode_ends_the_echoed_line_first() {
    let mut tty = Tty::spawn("you", &["duplex", "--listen", "127.0.0.1:0"], ROWS, COLUMNS);
    tty.wait_for_text("listening on");
    // Nobody has connected: no line editor yet, the kernel echoes, and Ctrl-C is SIGINT.
    tty.type_keys("typing early");
    // (Ctrl-C flushes the terminal's queues: let the echo be shown first, as a person's pause
    // before pressing it would.)
    tty.wait_for_text("typing early");
    tty.type_keys(CTRL_C);
    let screen = tty.wait_for_text("netchat: interrupted");
    let Some(echoed) = screen.find("typing early^C") else {
        tty.fail("no echo of the typed line and ^C")
    };
    let status = screen.find("netchat: interrupted").expect("the status");
    assert!(status > echoed, "{screen:?}");
    assert!(screen.rows[status].starts_with("netchat: "), "{screen:?}");
    tty.expect_exit_code(0);
}

#[test]
fn sighup_ends_duplex_like_ctrl_c_and_gives_the_terminal_back() {
    let (mut peer, mut tty) = duplex_at_terminal(COLUMNS);
    tty.signal(Signal::SIGHUP);
    peer.expect_stderr("the peer said bye");
    tty.expect_exit_code(0);
    assert!(!tty.is_raw(), "raw mode left on");
}

#[test]
fn sigterm_ends_duplex_like_ctrl_c() {
    let (mut peer, addr) = Netchat::listen("peer", "duplex", &[]);
    let mut you = Netchat::connect("you", "duplex", addr, &[]);
    peer.expect_stderr("connected");
    // Both sides: the listener's accept can return before the connector's connect does, and a
    // signal that comes while connect is still under way ends the attempt, with no bye to say.
    you.expect_stderr("connected");
    send_signal(you.pid(), Signal::SIGTERM);
    peer.expect_stderr("the peer said bye");
    you.expect_exit_code(0);
}

/// A room server (piped) and its address.
fn room() -> (Netchat, SocketAddr) {
    Netchat::listen("server", "room", &[])
}

/// ann, a member at a terminal, in the room at `addr`, her line editor running.
fn ann_at_terminal(addr: SocketAddr) -> Tty {
    let target = addr.to_string();
    let args = ["room", "--connect", target.as_str(), "--nick", "ann"];
    let mut ann = Tty::spawn("ann", &args, ROWS, COLUMNS);
    ann.wait_for_text("you are now ann");
    ann.wait_for_raw_mode();
    ann
}

#[test]
fn the_room_client_edits_lines_too() {
    let (_server, addr) = room();
    let mut bob = Netchat::connect("bob", "room", addr, &["--nick", "bob"]);
    bob.expect_stdout("you are now bob");
    let mut ann = ann_at_terminal(addr);
    ann.type_keys(&format!("helo{LEFT}l{ENTER}"));
    bob.expect_stdout("[ann] hello");
}

#[test]
fn sigterm_makes_the_room_client_say_quit() {
    let (_server, addr) = room();
    let mut bob = Netchat::connect("bob", "room", addr, &["--nick", "bob"]);
    bob.expect_stdout("you are now bob");
    let mut ann = ann_at_terminal(addr);
    ann.signal(Signal::SIGTERM);
    bob.expect_stdout("ann left");
    ann.expect_exit_code(0);
    assert!(!ann.is_raw(), "raw mode left on");
}

/// A prankster pads a message to exactly the width of the screen, so that the rest of it would
/// start a row of its own, looking like a line from someone else. Where netchat shows the room
/// (a member's client, the host's console), a message too wide for the screen continues on
/// indented rows: only the first row of a message starts at the left edge.
fn a_message_padded_to_the_screen_width_cannot_start_a_row_as_someone_else(engine: Engine) {
    let args = ["room", "--listen", "127.0.0.1:0", "--engine", engine.name()];
    let mut host = Tty::spawn("host", &args, ROWS, COLUMNS);
    let screen = host.wait_for_text("listening on");
    let line = &screen.rows[screen.find("listening on").unwrap_or(0)];
    let addr = parse_listening_addr(line).unwrap_or_else(|| host.fail("no address"));
    let target = addr.to_string();
    let member = ["room", "--connect", target.as_str(), "--nick", "ann"];
    let mut ann = Tty::spawn("ann", &member, ROWS, COLUMNS);
    ann.wait_for_text("you are now ann");
    let mut mallory = room_raw_join(addr, "mallory");
    // `[mallory] ` and the dots fill the row exactly; what follows would begin the next one.
    let filler = ".".repeat(usize::from(COLUMNS) - "[mallory] ".len());
    mallory.send(format!("{filler}[bob] I am bob, trust me\r\n").as_bytes());
    for (who, tty) in [("ann", &mut ann), ("host", &mut host)] {
        let screen = tty.wait_for_text("I am bob, trust me");
        let faked = screen.rows.iter().find(|row| row.starts_with("[bob]"));
        assert!(
            faked.is_none(),
            "{who}'s screen shows a row that starts as bob's:\n{}",
            screen.rows.join("\n")
        );
    }
}

/// The host's console is the main thread on both engines; what it types reaches the room through
/// a channel (and, on poll, the loop's waker), and so does the hang-up.
fn the_host_console_edits_lines_and_sighup_says_goodbye_to_the_room(engine: Engine) {
    let args = ["room", "--listen", "127.0.0.1:0", "--engine", engine.name()];
    let mut host = Tty::spawn("host", &args, ROWS, COLUMNS);
    let screen = host.wait_for_text("listening on");
    let line = &screen.rows[screen.find("listening on").unwrap_or(0)];
    let addr = parse_listening_addr(line).unwrap_or_else(|| host.fail("no address"));
    let mut bob = Netchat::connect("bob", "room", addr, &["--nick", "bob"]);
    bob.expect_stdout("you are now bob");
    host.wait_for_raw_mode();
    host.type_keys(&format!("helo{LEFT}l{ENTER}"));
    bob.expect_stdout("[host] hello");
    host.signal(Signal::SIGHUP);
    bob.expect_stdout("goodbye: the host closed the room");
    host.expect_exit_code(0);
    bob.expect_exit_code(0);
}

fn half_at_terminal() -> (Netchat, Tty) {
    at_terminal("half", COLUMNS)
}

#[test]
fn half_edits_the_line_in_its_own_turn_with_history() {
    let (mut peer, mut tty) = half_at_terminal();
    tty.type_keys(&format!("helo{LEFT}l{ENTER}"));
    assert_eq!(peer.next_stdout(), "hello", "no escape codes on the wire");
    peer.send_line("ok");
    tty.wait_for_text("peer> ok");
    tty.wait_for_cursor_row("you>", 5);
    tty.type_keys(&format!("{UP}{ENTER}"));
    assert_eq!(peer.next_stdout(), "hello");
}

#[test]
fn half_keys_typed_out_of_turn_wait_for_the_turn() {
    let (mut peer, mut tty) = half_at_terminal();
    tty.type_keys(&format!("one{ENTER}"));
    assert_eq!(peer.next_stdout(), "one");
    tty.wait_for_text("peer's turn");
    // Not our turn: typed keys go to the line editor and wait on its line; nothing is sent.
    tty.type_keys("early");
    tty.wait_for_cursor_row("you> early", 10);
    peer.expect_no_stdout();
    peer.send_line("ok");
    // Our turn: the waiting keys are on the editor's line, below the message.
    tty.wait_for_text("peer> ok");
    let screen = tty.wait_for_cursor_row("you> early", 10);
    let row = usize::from(screen.cursor.0);
    assert!(
        screen.rows[..row].iter().any(|r| r == "peer> ok"),
        "{screen:?}"
    );
    tty.type_keys(ENTER);
    assert_eq!(peer.next_stdout(), "early");
}

#[test]
fn half_ctrl_c_at_its_prompt_exits_130_in_cooked_mode() {
    let (mut peer, mut tty) = half_at_terminal();
    tty.type_keys(CTRL_C);
    tty.expect_exit_code(130);
    assert!(!tty.is_raw(), "raw mode left on");
    peer.expect_stderr("the peer closed the connection");
}

#[test]
fn half_sigterm_in_the_peers_turn_exits_130() {
    let (mut peer, mut tty) = half_at_terminal();
    tty.type_keys(&format!("one{ENTER}"));
    assert_eq!(peer.next_stdout(), "one");
    tty.wait_for_text("peer's turn");
    tty.signal(Signal::SIGTERM);
    tty.wait_for_text("netchat: interrupted");
    tty.expect_exit_code(130);
}

#[test]
fn a_lesson_goes_through_the_pager_on_a_terminal() {
    // A "pager" that marks every line it shows: proof the text went through $PAGER.
    let env = [("PAGER", "sed s/^/paged:/")];
    let mut tty = Tty::spawn_with_env("lesson", &["lesson", "half"], &env, ROWS, COLUMNS);
    tty.wait_for_text("paged:");
    tty.expect_exit_code(0);
}

#[test]
fn closing_the_terminal_window_says_bye_and_exits() {
    let (mut peer, mut tty) = duplex_at_terminal(COLUMNS);
    tty.type_keys("half a line");
    tty.wait_for_cursor_row("you> half a line", 16);
    // The kernel hangs the terminal up: SIGHUP, and every read of it fails from now on.
    tty.close_window();
    peer.expect_stderr("the peer said bye");
    tty.expect_exit_code(0);
    peer.expect_exit_code(0);
}

#[test]
fn half_shows_the_call_it_is_blocked_in_and_counts_the_seconds() {
    let (mut peer, mut tty) = at_terminal("half", 100);
    tty.wait_for_text("your turn: blocked in read() on your keyboard");
    tty.type_keys(&format!("one{ENTER}"));
    assert_eq!(peer.next_stdout(), "one");
    tty.wait_for_text("netchat: blocked in read() on the socket — waiting for the peer");
    // The thread sleeps in read(); the status line still counts, a second at a time.
    tty.wait_for_text("waiting for the peer (2 s)");
    // A half-typed line out of turn sits on the row below and is never overwritten.
    tty.type_keys("early");
    // (Waiting for a screen where both hold: a redraw that overwrote the row never gets there.
    // Any count past 2 s will do: on a loaded machine the echo of `early` may come after 3 s.)
    tty.wait_for("the count going on above the typed line", |screen| {
        waited_seconds(screen).is_some_and(|seconds| seconds >= 3)
            && screen.cursor_row() == "you> early"
    });
    peer.send_line("ok");
    tty.wait_for_text("peer> ok");
    tty.wait_for_cursor_row("you> early", 10);
}

/// The seconds half's status line counts, `N` in `waiting for the peer (N s)`, if it is on screen.
fn waited_seconds(screen: &common::pty::Screen) -> Option<u64> {
    const COUNT: &str = "waiting for the peer (";
    screen.rows.iter().find_map(|row| {
        let after = &row[row.find(COUNT)? + COUNT.len()..];
        after.split(" s)").next()?.parse().ok()
    })
}

// The room server's console at a terminal, on both engines.
engine_tests! {
    the_host_console_edits_lines_and_sighup_says_goodbye_to_the_room,
    a_message_padded_to_the_screen_width_cannot_start_a_row_as_someone_else,
}

/// `count` lines of `width` characters each, numbered, as a paste sends them: each ended by a
/// carriage return (what Enter is in raw mode, and what terminals put in a pasted block).
fn pasted_lines(count: usize, width: usize) -> (Vec<String>, String) {
    let lines: Vec<String> = (0..count)
        .map(|n| format!("{n:04}{}", "x".repeat(width - 4)))
        .collect();
    let typed = lines.iter().map(|line| format!("{line}\r")).collect();
    (lines, typed)
}

/// Waits for each of `lines` on the peer's stdout, in order.
fn expect_lines(peer: &mut Netchat, lines: &[String]) {
    for line in lines {
        assert_eq!(&peer.next_stdout(), line);
    }
}

#[test]
fn a_paste_of_50_lines_arrives_whole_from_a_terminal_without_bracketed_paste() {
    // 5,000 bytes: more than crossterm reads at once (1,024), typed key by key into the
    // terminal as a terminal that does not bracket pastes sends them. The last line arrives
    // without another key being pressed.
    let (mut peer, mut tty) = duplex_at_terminal(COLUMNS);
    let (lines, typed) = pasted_lines(50, 99);
    assert_eq!(typed.len(), 5_000);
    let mut paste = tty.paste_in_background(typed.into_bytes());
    expect_lines(&mut peer, &lines);
    paste.wait_written();
}

#[test]
fn a_bracketed_paste_of_64_kib_arrives_whole() {
    let (mut peer, mut tty) = duplex_at_terminal(COLUMNS);
    assert!(
        tty.bracketed_paste(),
        "netchat asks the terminal for bracketed paste"
    );
    let (lines, typed) = pasted_lines(64, 1023);
    assert_eq!(typed.len(), 64 * 1024);
    let mut paste = tty.paste_in_background(format!("\x1b[200~{typed}\x1b[201~").into_bytes());
    expect_lines(&mut peer, &lines);
    paste.wait_written();
    // The editor is ready for the next line, and the terminal is still drawn as it should be.
    tty.wait_for_cursor_row("you>", 5);
}

#[test]
fn a_paste_in_the_room_goes_out_line_by_line() {
    let (_server, addr) = Netchat::listen("server", "room", &["--rate-limit", "0"]);
    let mut bob = Netchat::connect("bob", "room", addr, &["--nick", "bob"]);
    bob.expect_stdout("you are now bob");
    let mut ann = ann_at_terminal(addr);
    let (lines, typed) = pasted_lines(50, 99);
    let mut paste = ann.paste_in_background(format!("\x1b[200~{typed}\x1b[201~").into_bytes());
    for line in &lines {
        bob.expect_stdout(&format!("[ann] {line}"));
    }
    paste.wait_written();
}

#[test]
fn a_typed_line_over_max_line_is_refused_at_enter_never_cut() {
    let (mut peer, addr) = Netchat::listen("peer", "duplex", &[]);
    let target = addr.to_string();
    let args = ["duplex", "--connect", target.as_str(), "--max-line", "10"];
    let mut tty = Tty::spawn("you", &args, ROWS, COLUMNS);
    tty.wait_for_cursor_row("you>", 5);
    tty.type_keys(&format!("0123456789AB{ENTER}"));
    // (60 columns: the note takes two rows.)
    tty.wait_for_text("your line is longer than 10 bytes (--max-line) by 2");
    tty.wait_for_text("and was not sent; ↑ brings it back");
    tty.wait_for_cursor_row("you>", 5);
    peer.expect_no_stdout();
    // Up brings it back whole; shortened, it goes.
    tty.type_keys(&format!("{UP}{BACKSPACE}{BACKSPACE}{ENTER}"));
    assert_eq!(peer.next_stdout(), "0123456789");
}

/// `half --connect` at a terminal `columns` wide with `extra` options, to a raw listener the
/// test speaks for; `one` already sent, so it is the peer's turn.
fn half_facing_a_script(columns: u16, extra: &[&str]) -> (common::RawPeer, Tty) {
    let (listener, addr) = common::raw_listener();
    let target = addr.to_string();
    let mut args = vec!["half", "--connect", target.as_str()];
    args.extend_from_slice(extra);
    let mut tty = Tty::spawn("you", &args, ROWS, columns);
    let mut peer = common::raw_accept(&listener);
    tty.wait_for_cursor_row("you>", 5);
    tty.type_keys(&format!("one{ENTER}"));
    assert_eq!(peer.read_line(), "one");
    (peer, tty)
}

/// The screen's text with every blank left out: a line wrapped at any column is found whole.
fn squeezed(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The count on half's status line, `N` in `netchat: blocked in … (N s)`, if it is on screen.
fn status_count(screen: &common::pty::Screen) -> Option<u64> {
    screen.rows.iter().find_map(|row| {
        let words = row.strip_prefix("netchat: blocked in ")?;
        let count = words.rsplit_once(" (")?.1.strip_suffix(" s)")?;
        count.parse().ok()
    })
}

/// The counting status line erases nothing but itself: the trace lines and the unframed-peer
/// hint printed while it counts stay on the screen, whole, however narrow the terminal.
fn the_status_line_erases_nothing_but_itself(columns: u16) {
    let (mut peer, mut tty) = half_facing_a_script(columns, &["--trace"]);
    // A line typed out of turn, long enough to wrap under the status line.
    let typed = "w".repeat(usize::from(columns) + 7);
    tty.type_keys(&typed);
    // A script's answer without a newline: a trace line for the read, then after a second the
    // watchdog's trace line and the hint, all while the status line counts on.
    peer.send(b"hi");
    // Waiting for the whole bottom settled (a screen read mid-redraw is half drawn): the status
    // line counting past the hint, right above the typed line, which wrapped onto two rows.
    let first_row = format!("you> {}", &typed[..usize::from(columns) - 5]);
    let second_row = &typed[usize::from(columns) - 5..];
    let screen = tty.wait_for("the status line counting past the hint", |screen| {
        let row = usize::from(screen.cursor.0);
        status_count(screen).is_some_and(|seconds| seconds >= 3)
            && row >= 2
            && screen.cursor_row() == second_row
            && screen.rows[row - 1] == first_row
            && screen.rows[row - 2].starts_with("netchat: blocked in")
    });
    let shown = squeezed(&screen.rows.concat());
    for line in [
        "netchat: the peer sent bytes without a newline and nothing more for a second: it may be \
         a script that does not end its messages with a newline (one send() per message); if so, \
         run netchat with --framing raw",
        "→ message continues (2 bytes so far) \"hi\"",
        // (The watchdog says how long it has waited: about a second, more on a busy machine.)
        "trace",
        "blocked in read() on the socket (waiting for the peer) for",
    ] {
        assert!(
            shown.contains(&squeezed(line)),
            "{line:?} was erased: {screen:#?}"
        );
    }
    // One status line, and only one.
    let counts = screen.rows.iter().filter(|r| r.ends_with(" s)")).count();
    assert_eq!(counts, 1, "{screen:#?}");
}

#[test]
fn the_status_line_erases_nothing_at_80_columns() {
    the_status_line_erases_nothing_but_itself(80);
}

#[test]
fn the_status_line_erases_nothing_at_40_columns() {
    the_status_line_erases_nothing_but_itself(40);
}

#[test]
fn half_out_of_turn_shows_exactly_what_it_will_send() {
    let (mut peer, mut tty) = half_at_terminal();
    tty.type_keys(&format!("one{ENTER}"));
    assert_eq!(peer.next_stdout(), "one");
    tty.wait_for_text("peer's turn");
    // Arrows and history out of turn edit the line, as in our turn: ↑ brings `one` back.
    tty.type_keys(&format!("abc{LEFT}X{UP}"));
    tty.wait_for_cursor_row("you> one", 8);
    // Enter out of turn sends nothing: it says so, and the line stays.
    tty.type_keys(ENTER);
    tty.wait_for_text("not your turn");
    tty.wait_for_cursor_row("you> one", 8);
    peer.expect_no_stdout();
    peer.send_line("ok");
    tty.wait_for_text("peer> ok");
    tty.wait_for_cursor_row("you> one", 8);
    tty.type_keys(ENTER);
    assert_eq!(peer.next_stdout(), "one");
    // Wide characters and an emoji, with Backspace over them: what shows is what goes.
    tty.wait_for_text("peer's turn");
    tty.type_keys(&format!("日本x🎉{BACKSPACE}{BACKSPACE}{BACKSPACE}語"));
    tty.wait_for_cursor_row("you> 日語", 9);
    peer.send_line("ok again");
    tty.wait_for_text("peer> ok again");
    tty.wait_for_cursor_row("you> 日語", 9);
    tty.type_keys(ENTER);
    assert_eq!(peer.next_stdout(), "日語");
}

#[test]
fn half_ctrl_l_out_of_turn_redraws_the_status_and_the_line() {
    let (_peer, mut tty) = half_at_terminal();
    tty.type_keys(&format!("one{ENTER}"));
    tty.wait_for_text("peer's turn");
    tty.type_keys(&format!("abc{CTRL_L}"));
    tty.wait_for("the status line and the line alone at the top", |s| {
        s.rows[0].starts_with("netchat: blocked in read() on the socket")
            && s.rows[1] == "you> abc"
            && s.cursor == (1, 8)
    });
}

/// Ends netchat at a terminal while it is stuck: connected to a listener that never reads, with
/// a 6 MB paste to send, so the kernel's buffers fill, duplex's main thread blocks in `write()`
/// and the line editor's queue is full. `end` (Ctrl-C, or a signal) must still end it.
fn a_stuck_duplex_still_ends(end: impl FnOnce(&mut Tty)) {
    let (listener, addr) = common::small_window_listener();
    let target = addr.to_string();
    let mut tty = Tty::spawn(
        "you",
        &["duplex", "--connect", target.as_str()],
        ROWS,
        COLUMNS,
    );
    let _never_reads = common::raw_accept(&listener);
    tty.wait_for_cursor_row("you>", 5);
    let (_, typed) = pasted_lines(6_000, 1_023);
    let _paste = tty.paste_in_background(format!("\x1b[200~{typed}\x1b[201~").into_bytes());
    // Lines are going out: the paste was read, and its lines are on the screen as sent (rows
    // full of `x`; their beginnings scroll past faster than a screen can be caught).
    let full_row = "x".repeat(usize::from(COLUMNS));
    tty.wait_for("pasted lines sent", |s| s.rows.contains(&full_row));
    end(&mut tty);
    tty.expect_exit_code(0);
    assert!(!tty.is_raw(), "raw mode left on");
}

#[test]
fn ctrl_c_ends_duplex_stuck_on_a_peer_that_never_reads() {
    a_stuck_duplex_still_ends(|tty| tty.type_keys(CTRL_C));
}

#[test]
fn sigterm_ends_duplex_stuck_on_a_peer_that_never_reads() {
    a_stuck_duplex_still_ends(|tty| tty.signal(Signal::SIGTERM));
}

#[test]
fn sighup_ends_duplex_stuck_on_a_peer_that_never_reads() {
    a_stuck_duplex_still_ends(|tty| tty.signal(Signal::SIGHUP));
}

#[test]
fn quit_typed_in_the_room_is_held_back_with_the_hint_that_slash_quit_leaves() {
    let (_server, addr) = room();
    let mut bob = Netchat::connect("bob", "room", addr, &["--nick", "bob"]);
    bob.expect_stdout("you are now bob");
    let mut ann = ann_at_terminal(addr);
    ann.type_keys(&format!("quit{ENTER}"));
    ann.wait_for_text("`quit` was not sent: /quit leaves the room");
    // Typed again at once, it is what the student means: a message.
    ann.type_keys(&format!("{UP}{ENTER}"));
    bob.expect_stdout("[ann] quit");
}

#[test]
fn half_types_a_pasted_block_one_line_per_turn() {
    let (mut peer, mut tty) = half_at_terminal();
    assert!(
        tty.bracketed_paste(),
        "netchat asks the terminal for bracketed paste"
    );
    tty.type_keys("\x1b[200~first\rsecond\rthird\x1b[201~");
    assert_eq!(peer.next_stdout(), "first");
    peer.expect_no_stdout();
    peer.send_line("ok");
    // The paste's next line goes at the start of the turn, as its line break said.
    assert_eq!(peer.next_stdout(), "second");
    peer.send_line("ok");
    // The last line had no line break: it waits on the line, to be finished and sent.
    tty.wait_for_cursor_row("you> third", 10);
    peer.expect_no_stdout();
    tty.type_keys(&format!("!{ENTER}"));
    assert_eq!(peer.next_stdout(), "third!");
}

#[test]
fn a_paste_at_the_host_console_goes_out_whole() {
    let args = ["room", "--listen", "127.0.0.1:0"];
    let mut host = Tty::spawn("host", &args, ROWS, COLUMNS);
    let screen = host.wait_for_text("listening on");
    let line = &screen.rows[screen.find("listening on").unwrap_or(0)];
    let addr = parse_listening_addr(line).unwrap_or_else(|| host.fail("no address"));
    let mut bob = Netchat::connect("bob", "room", addr, &["--nick", "bob"]);
    bob.expect_stdout("you are now bob");
    host.wait_for_raw_mode();
    // 5,000 bytes as a terminal without bracketed paste types them: the last line too.
    let (lines, typed) = pasted_lines(50, 99);
    let mut paste = host.paste_in_background(typed.into_bytes());
    for line in &lines {
        bob.expect_stdout(&format!("[host] {line}"));
    }
    paste.wait_written();
}
