//! Property tests: whatever bytes a peer sends, however TCP splits them, framing and the console
//! keep their promises. proptest generates thousands of inputs and shrinks any failure to a
//! minimal example.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use netchat::console::{CONTINUATION_INDENT, Console, Tone};
use netchat::framing::{Frame, LineDecoder, LineReader, Messages, StopWord};
use netchat::modes::room::actions::{Action, Log};
use netchat::modes::room::protocol;
use netchat::modes::room::rules::{Limits, Room};
use netchat::pump::{self, Pumped};
use netchat::scan;
use netchat::text::{
    MAX_BLANK_RUN, MAX_INDENT, belongs_in_emoji, escape_into, escape_peer_text, is_invisible_format,
};
use proptest::prelude::*;
use unicode_width::UnicodeWidthChar;

/// Hands out `data` in pieces of the given sizes, one piece per `read`, like segments arriving.
struct Split {
    data: Vec<u8>,
    sizes: Vec<usize>,
    next: usize,
}

impl Read for Split {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.data.is_empty() {
            return Ok(0);
        }
        let size = self
            .sizes
            .get(self.next)
            .copied()
            .unwrap_or(usize::MAX)
            .max(1);
        self.next += 1;
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data.drain(..n);
        Ok(n)
    }
}

fn all_frames(reader: impl Read, max_line: usize) -> Vec<Frame> {
    let mut lines = LineReader::new(reader, max_line);
    let mut frames = Vec::new();
    while let Some(frame) = lines.read_frame().expect("in-memory reads do not fail") {
        frames.push(frame);
    }
    frames
}

/// `data` cut at the given points (any order, any repeats): the pieces TCP might deliver.
fn cut(data: &[u8], cuts: &[prop::sample::Index]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
    points.push(0);
    points.push(data.len());
    points.sort_unstable();
    points
        .windows(2)
        .map(|w| data[w[0]..w[1]].to_vec())
        .collect()
}

/// Bytes that look like chat traffic: mostly text, with newlines, CRs, NULs (telnet's CR NUL)
/// and hostile bytes mixed in.
fn traffic() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            6 => b'a'..=b'z',
            2 => Just(b'\n'),
            1 => Just(b'\r'),
            1 => Just(0),
            1 => Just(0x1b),
            1 => any::<u8>(),
        ],
        0..400,
    )
}

/// Lines of text up to a few hundred bytes, as a file piped through has, ending in `\n` or
/// CR LF, with now and then a byte that needs escaping, a NUL or a lone CR.
fn long_lines() -> impl Strategy<Value = Vec<u8>> {
    let line = (
        "[ -~]{0,300}",
        prop_oneof![4 => Just(&b"\n"[..]), 1 => Just(&b"\r\n"[..]), 1 => Just(&b""[..])],
        prop_oneof![8 => Just(vec![]), 1 => prop::collection::vec(any::<u8>(), 1..3)],
    )
        .prop_map(|(text, end, odd)| [text.as_bytes(), &odd, end].concat());
    prop::collection::vec(line, 0..12).prop_map(|lines| lines.concat())
}

/// Many short lines of letters, as in a log file: long runs of whole 64-byte chunks that hold
/// no line that could be `bye`, which the bulk path passes without looking at a line.
fn log_lines() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec("[a-z][a-z ]{0,60}\n", 0..80)
        .prop_map(|lines| lines.concat().into_bytes())
}

/// `data` with lines that are, or nearly are, duplex's `bye` put in at the given places (which
/// may be in the middle of a line).
fn with_byes(data: Vec<u8>, byes: Vec<(prop::sample::Index, &str)>) -> Vec<u8> {
    let mut data = data;
    for (at, bye) in byes {
        let at = at.index(data.len() + 1);
        data.splice(at..at, bye.bytes());
    }
    data
}

/// Lines that are `bye`, or start like it and are not, to mix into traffic.
fn byes() -> impl Strategy<Value = Vec<(prop::sample::Index, &'static str)>> {
    let bye = prop::sample::select(vec![
        "bye\n",
        "  BYE \r\n",
        "Bye\t\n",
        "byebye\n",
        " b\n",
        "b\n",
        "\n",
        " bye now\n",
        "\x0cbye\r\0",
    ]);
    prop::collection::vec((any::<prop::sample::Index>(), bye), 0..4)
}

/// The word duplex watches for, as the pumps of a duplex conversation look for it.
const BYE: StopWord = StopWord("bye");

/// What the reader pump hands over for `data` read in the pieces `cuts` makes, then the end,
/// framed in blocks that come back and are filled again (noting whether each is plain text, or
/// not, and watching for `bye`, or not): `each` sees every block as the pump made it, before it
/// goes back.
fn pump_blocks(
    data: &[u8],
    cuts: &[prop::sample::Index],
    max_line: usize,
    (notes_plain, watching): (bool, bool),
    mut each: impl FnMut(&Pumped),
) {
    let mut decoder = LineDecoder::new(max_line)
        .noting_plain(notes_plain)
        .watching(watching.then_some(BYE));
    let blocks = pump::Blocks::new(2);
    let mut hand_over = |event: Pumped| {
        each(&event);
        true
    };
    for piece in cut(data, cuts) {
        assert!(pump::frame_chunk(
            &mut decoder,
            &blocks,
            &piece,
            &mut hand_over
        ));
    }
    assert!(pump::hand_over_last_line(&mut decoder, &mut hand_over));
}

/// Any bytes, often with multi-byte characters that matter to a terminal mixed in: bidi
/// overrides, C1 controls written as UTF-8, line and paragraph separators.
fn peer_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..6),
        1 => prop::sample::select(vec!['\u{202e}', '\u{2066}', '\u{200f}', '\u{85}', '\u{9b}', '\u{2028}', '\u{7f}', '\u{1b}'])
            .prop_map(|c| c.to_string().into_bytes()),
        1 => prop::sample::select(INVISIBLE.to_vec()).prop_map(|c| c.to_string().into_bytes()),
        1 => prop::sample::select(vec![" ", "\t", "        ", "\u{a0}", "\u{3000}", "\u{2003}"])
            .prop_map(|blank| blank.repeat(4).into_bytes()),
    ];
    prop::collection::vec(piece, 0..20).prop_map(|pieces| pieces.concat())
}

/// The invisible and format characters a peer must never get onto a terminal raw: zero-width
/// spaces and joiners, word joiner and invisible operators, BOM, the Arabic letter mark, line
/// and paragraph separators, soft hyphen, and tag characters.
const INVISIBLE: &[char] = &[
    '\u{200b}',
    '\u{200c}',
    '\u{200d}',
    '\u{200e}',
    '\u{200f}',
    '\u{2028}',
    '\u{2029}',
    '\u{2060}',
    '\u{2061}',
    '\u{2062}',
    '\u{2063}',
    '\u{2064}',
    '\u{feff}',
    '\u{61c}',
    '\u{ad}',
    '\u{e0001}',
    '\u{e0041}',
    '\u{e007f}',
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn framing_is_the_same_however_the_stream_is_split(
        data in traffic(),
        sizes in prop::collection::vec(1usize..50, 0..100),
        max_line in 1usize..64,
    ) {
        let whole = all_frames(&data[..], max_line);
        let split = all_frames(Split { data: data.clone(), sizes, next: 0 }, max_line);
        prop_assert_eq!(whole, split);
    }

    /// The sans-IO decoder, fed the pieces of any split (empty pieces included), gives exactly
    /// the frames the blocking reader gives for the whole stream; it reports as many lines as it
    /// handed out, and never holds more than one line's bytes.
    #[test]
    fn the_decoder_gives_the_same_frames_for_any_split(
        data in traffic(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
        max_line in 1usize..64,
    ) {
        let whole = all_frames(&data[..], max_line);
        let mut decoder = LineDecoder::new(max_line);
        let mut split = Vec::new();
        for piece in cut(&data, &cuts) {
            let before = split.len();
            let fed = decoder.feed(&piece, |frame| split.push(frame.to_owned_frame()));
            prop_assert_eq!(fed.lines + fed.too_long, split.len() - before);
            prop_assert!(decoder.held() <= max_line + 1, "{} bytes held", decoder.held());
            prop_assert!(!decoder.has_partial() || decoder.held() > 0);
        }
        split.extend(decoder.finish().map(|frame| frame.to_owned_frame()));
        prop_assert_eq!(whole, split);
    }

    /// The reader pump's bulk path (each read framed in place in its block: the newlines of
    /// plain lines found 64 bytes at a time, any other line through the decoder and moved down)
    /// gives the frames the blocking reader gives, in the same order, for any split, short lines
    /// or long, with blocks that come back and are filled again. Each block is its own wire form
    /// (every message followed by its newline); one that says it is plain is, and when asked,
    /// every block of a plain stream says so (the printing fast path is taken). Where the pump
    /// watches for `bye`, each block finds the same first `bye` as looking at every line does.
    #[test]
    fn the_pumps_blocks_hold_the_same_frames_for_any_split(
        data in prop_oneof![traffic(), long_lines(), log_lines()],
        byes in byes(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
        max_line in prop_oneof![1usize..64, 64usize..400],
        notes_plain: bool,
        watching: bool,
    ) {
        let data = with_byes(data, byes);
        let whole = all_frames(&data[..], max_line);
        let mut frames = Vec::new();
        let mut wrong = None;
        let plain_stream = scan::plain_prefix(&data) == data.len();
        pump_blocks(&data, &cuts, max_line, (notes_plain, watching), |event| match event {
            // The last line, without its newline, comes as `Cut`: the same frame.
            Pumped::Messages(lines) | Pumped::Cut(lines) => {
                let wire: Vec<u8> = lines.iter().flat_map(|l| [l, b"\n"].concat()).collect();
                let plain = |l: &[u8]| l.iter().all(|&b| b == b'\t' || (b' '..=b'~').contains(&b));
                if lines.is_empty() {
                    wrong = Some("an empty block was handed over");
                } else if lines.bytes() != wire {
                    wrong = Some("a block is not its messages, each followed by a newline");
                } else if lines.is_plain() && !lines.iter().all(plain) {
                    wrong = Some("a block says it is plain and is not");
                } else if notes_plain && plain_stream && !lines.is_plain() {
                    wrong = Some("a block of plain text does not say so");
                } else if lines.find(BYE) != lines.iter().position(|line| BYE.is(line)) {
                    wrong = Some("a block finds another bye than its lines hold");
                }
                frames.extend(lines.iter().map(|line| Frame::Line(line.to_vec())));
            }
            Pumped::TooLong { limit } => frames.push(Frame::TooLong { limit: *limit }),
            Pumped::Closed | Pumped::Failed(_) => unreachable!("not from framing"),
        });
        prop_assert_eq!(wrong, None);
        prop_assert_eq!(whole, frames);
    }

    /// Whatever the blocks the pump makes, printing one at once (the bulk path: a plain block
    /// is written out whole) gives exactly what printing its lines one by one gives.
    #[test]
    fn the_pumps_blocks_print_exactly_what_their_lines_print_one_by_one(
        data in prop_oneof![traffic(), long_lines()],
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        interactive: bool,
        notes_plain: bool,
    ) {
        let (mut bulk, bulk_out, _) = captured_console(interactive);
        let (mut single, single_out, _) = captured_console(interactive);
        pump_blocks(&data, &cuts, 200, (notes_plain, false), |event| {
            if let Pumped::Messages(lines) | Pumped::Cut(lines) = event {
                bulk.queue_peer_messages("peer", lines).expect("writing to memory");
                bulk.flush_messages().expect("writing to memory");
                for line in lines.iter() {
                    single.peer_message("peer", line).expect("writing to memory");
                }
            }
        });
        prop_assert_eq!(bulk_out.bytes(), single_out.bytes());
        assert_terminal_safe(&bulk_out.bytes())?;
    }

    /// With no limit, the whole lines found 64 bytes at a time end at the last newline; the
    /// plain prefix ends exactly at the first byte that is neither printable ASCII, a tab nor
    /// a newline.
    #[test]
    fn the_64_byte_scans_agree_with_looking_at_each_byte(
        data in prop_oneof![traffic(), long_lines(), any::<Vec<u8>>()],
        start in 0usize..64,
    ) {
        let data = &data[start.min(data.len())..];
        let whole = data.iter().rposition(|&b| b == b'\n').map_or(0, |last| last + 1);
        prop_assert_eq!(scan::whole_lines(data, usize::MAX, None), (whole, false));
        let odd = |b: u8| !(b == b'\t' || b == b'\n' || (b' '..=b'~').contains(&b));
        let first_odd = data.iter().position(|&b| odd(b)).unwrap_or(data.len());
        prop_assert_eq!(scan::plain_prefix(data), first_odd);
        prop_assert_eq!(scan::all_plain(data), !data.iter().any(|&b| b == b'\n' || odd(b)));
    }

    /// `whole_lines` finds the whole lines before the first one longer than `max_line`, and
    /// says whether one of them is `bye`, though it looks at most lines only 64 bytes at a time
    /// and asks about only the lines whose first byte could start one.
    #[test]
    fn whole_lines_stop_before_the_first_long_line_and_see_every_bye(
        data in prop_oneof![traffic(), long_lines(), log_lines()],
        byes in byes(),
        max_line in prop_oneof![0usize..64, 64usize..400],
    ) {
        let data = with_byes(data, byes);
        let (mut start, mut said) = (0, false);
        for end in (0..data.len()).filter(|&i| data[i] == b'\n') {
            if end - start > max_line {
                break;
            }
            said |= BYE.is(&data[start..end]);
            start = end + 1;
        }
        let is_bye = |line: &[u8]| BYE.is(line);
        let found = scan::whole_lines(&data, max_line, Some((b'b', &is_bye)));
        prop_assert_eq!(found, (start, said));
        prop_assert_eq!(scan::whole_lines(&data, max_line, None), (start, false));
    }

    #[test]
    fn no_message_exceeds_max_line(data in traffic(), max_line in 1usize..64) {
        for frame in all_frames(&data[..], max_line) {
            if let Frame::Line(line) = frame {
                prop_assert!(line.len() <= max_line, "{} > {}", line.len(), max_line);
                prop_assert!(!line.contains(&b'\n'));
                // telnet's CR NUL ends a line: it is never inside one.
                prop_assert!(!line.windows(2).any(|pair| pair == b"\r\0"));
            }
        }
    }

    #[test]
    fn short_lines_come_back_exactly(lines in prop::collection::vec("[a-z ]{0,20}", 0..20)) {
        let mut data = Vec::new();
        for line in &lines {
            data.extend_from_slice(line.as_bytes());
            data.push(b'\n');
        }
        let expected: Vec<Frame> =
            lines.iter().map(|l| Frame::Line(l.as_bytes().to_vec())).collect();
        prop_assert_eq!(all_frames(&data[..], 20), expected);
    }

    /// However a message mixes text and blanks (spaces, tabs, Unicode spaces), the room's form of
    /// it has no run of blanks wider than the limit (indentation excepted, to its own limit), so
    /// it cannot push a fake line onto a row of its own; and text between the runs is kept.
    #[test]
    fn no_relayed_message_has_a_wide_run_of_blanks(data in peer_bytes()) {
        let shown = protocol::message_text(&data);
        let mut width = 0;
        let mut leading = true;
        for c in shown.chars() {
            match c {
                '\t' => width += 8,
                '\u{3000}' => width += 2,
                c if c.is_whitespace() => width += 1,
                // Takes no column (a variation selector, an accent): it cannot end a run.
                c if UnicodeWidthChar::width(c) == Some(0) => {}
                _ => {
                    width = 0;
                    leading = false;
                }
            }
            let limit = if leading { MAX_INDENT } else { MAX_BLANK_RUN };
            prop_assert!(width <= limit, "a run of {} columns in {:?}", width, shown);
        }
        // What shows is kept: a shortened run may lose the zero-width characters inside it, and
        // a message with many escapes leaves the later ones out, and says so at its end.
        let visible = |text: &str| {
            text.chars()
                .filter(|&c| !c.is_whitespace() && UnicodeWidthChar::width(c) != Some(0))
                .collect::<String>()
        };
        let full = visible(&escape_peer_text(&data));
        let cut = shown
            .strip_suffix(" not shown]")
            .and_then(|body| body.rfind(" [").map(|at| &shown[..at]));
        match cut {
            None => prop_assert_eq!(visible(&shown), full),
            // The rest, in order.
            Some(body) => {
                let mut rest = full.chars();
                let shown_body = visible(body);
                prop_assert!(
                    shown_body.chars().all(|c| rest.any(|r| r == c)),
                    "{:?} is not part of {:?}", shown_body, full
                );
            }
        }
    }

    /// Escaping that copies runs of safe text gives exactly what escaping character by character
    /// gives (the definition, kept here as the reference).
    #[test]
    fn run_copying_escape_matches_the_character_by_character_definition(data in peer_bytes()) {
        let mut appended = String::from("before ");
        escape_into(&data, &mut appended);
        prop_assert_eq!(&appended["before ".len()..], reference_escape(&data));
        prop_assert_eq!(escape_peer_text(&data), reference_escape(&data));
    }

    #[test]
    fn escaped_text_has_no_control_characters_and_is_valid_utf8(data in any::<Vec<u8>>()) {
        let shown = escape_peer_text(&data);
        for c in shown.chars() {
            prop_assert!(c == '\t' || !c.is_control(), "control character {:?} in {:?}", c, shown);
            prop_assert_ne!(c, '\x1b');
        }
    }
}

/// The definition of escaping, one character at a time: what the console's run-copying escape
/// must give. Invalid UTF-8 becomes U+FFFD; controls but tab become `\xNN`; bidi controls and
/// invisible characters become `\u{NNNN}` (but a joiner or selector inside an emoji
/// sequence); everything else stays.
fn reference_escape(bytes: &[u8]) -> String {
    let mut safe = String::new();
    let text = String::from_utf8_lossy(bytes);
    let chars: Vec<char> = text.chars().collect();
    for (at, &c) in chars.iter().enumerate() {
        let before = at.checked_sub(1).map(|b| chars[b]);
        let after = chars.get(at + 1).copied();
        if c == '\t' {
            safe.push(c);
        } else if c.is_control() {
            safe.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else if is_invisible_format(c) && !belongs_in_emoji(before, c, after) {
            safe.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            safe.push(c);
        }
    }
    safe
}

/// A writer whose bytes a test can read back after the console wrote them.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

/// A console writing into memory, without colors (colors are netchat's own escape sequences,
/// chosen by `--color`; what is tested here is that a peer can never add any).
fn captured_console(interactive: bool) -> (Console, Captured, Captured) {
    colored::control::set_override(false);
    let (out, err) = (Captured::default(), Captured::default());
    let console = Console::new(Box::new(out.clone()), Box::new(err.clone()), interactive);
    (console, out, err)
}

/// What reaches a terminal is valid UTF-8 with no control character but newline and tab: no ESC
/// (so no CSI/OSC sequence), no BEL, no backspace or carriage return to overwrite a line, no C1;
/// and no bidirectional override, which would make a line display in another order.
fn assert_terminal_safe(written: &[u8]) -> Result<(), TestCaseError> {
    let text = std::str::from_utf8(written)
        .map_err(|e| TestCaseError::fail(format!("not UTF-8 ({e}): {written:?}")))?;
    for c in text.chars() {
        prop_assert!(
            c == '\n' || c == '\t' || !c.is_control(),
            "control character {:?} written: {:?}",
            c,
            text
        );
        prop_assert!(
            !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}'),
            "bidi control {:?} written: {:?}",
            c,
            text
        );
        prop_assert!(
            !INVISIBLE.contains(&c),
            "invisible format character {:?} written: {:?}",
            c,
            text
        );
    }
    Ok(())
}

/// One line a hostile client might send: commands, names, brackets, escapes, invalid UTF-8.
fn hostile_line() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"/nick ".to_vec()),
        Just(b"/me ".to_vec()),
        Just(b"/msg ".to_vec()),
        Just(b"/msg alice ".to_vec()),
        Just(b"/quit ".to_vec()),
        Just(b"/who".to_vec()),
        Just(b"/help".to_vec()),
        Just(b"//".to_vec()),
        Just(b"[alice] ".to_vec()),
        Just(b"*** ".to_vec()),
        Just(b"alice".to_vec()),
        Just(b"host".to_vec()),
        Just(b"\x1b[2J".to_vec()),
        Just(b"\x1b]0;pwned\x07".to_vec()),
        Just(b"\r".to_vec()),
        Just("\u{202e}".as_bytes().to_vec()),
        Just("\u{85}".as_bytes().to_vec()),
        Just(vec![0xff, 0xfe]),
        "[a-z ]{0,8}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|pieces| pieces.concat())
}

fn addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4000))
}

/// Every line of text in the room's actions, with whether `who` receives it.
fn texts(actions: &[Action], who: u64) -> Vec<(bool, String)> {
    actions
        .iter()
        .map(|action| match action {
            Action::To(id, line) => (*id == who, line.to_string()),
            Action::All { except, line } => (*except != Some(who), line.to_string()),
            Action::Log(Log::Message(line, _)) => (false, line.to_string()),
            Action::Log(Log::Status(text) | Log::Notice(text) | Log::Answer(text)) => {
                (false, text.clone())
            }
            // The event log is for graders, not shown to anyone (and off in these rooms).
            Action::Disconnect(_) | Action::Pause { .. } | Action::Record(_) => {
                (false, String::new())
            }
            // `/stats` is a table the engine builds from names the rules already checked.
            Action::Stats(_) => (false, String::new()),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_line_parses_as_a_command_or_a_message_without_panicking(line in any::<Vec<u8>>()) {
        let _ = protocol::parse(&line);
        let _ = protocol::parse_host(&line);
        let _ = protocol::check_nick(&line);
        let _ = protocol::reason_text(&line);
    }

    #[test]
    fn hostile_lines_parse_without_panicking(line in hostile_line()) {
        if let protocol::Command::Unknown(word) = protocol::parse(&line) {
            assert_terminal_safe(word.as_bytes())?;
        }
        if let protocol::HostCommand::Usage(text) = protocol::parse_host(&line) {
            assert_terminal_safe(text.as_bytes())?;
        }
    }

    /// A hostile member (2) says anything it likes to a room with alice (1) and carol (3). Every
    /// line the hub formats — relayed to clients, which a raw `nc` prints as it is, or shown on the
    /// host's console — is terminal-safe, and every line alice gets because of it names the real
    /// sender first: `[mallory] …`, `* mallory …`, `[mallory -> you] …` or `*** mallory …`.
    #[test]
    fn whatever_a_member_sends_the_room_relays_safe_lines_that_name_the_real_sender(
        lines in prop::collection::vec(hostile_line(), 1..12),
    ) {
        // The default limits, so that the rate limit's notices are checked too.
        let mut room = Room::new(Limits::default());
        let now = Instant::now();
        for (id, name) in [(1, "alice"), (2, "mallory"), (3, "carol")] {
            room.join(id, addr(), now);
            room.said(id, format!("/nick {name}").as_bytes(), now);
        }
        for line in &lines {
            let Some(sender) = room.nick(2).map(str::to_string) else {
                break; // it quit
            };
            let actions = room.said(2, line, now);
            for (to_alice, text) in texts(&actions, 1) {
                // A line wider than 80 columns goes out as rows (protocol::wire_rows): every row
                // after the first starts with WIRE_INDENT, so none can begin as someone else.
                for row in text.split('\n').skip(1) {
                    prop_assert!(
                        row.starts_with(protocol::WIRE_INDENT),
                        "a row that does not continue its line: {:?} in {:?}",
                        row,
                        text
                    );
                }
                assert_terminal_safe(text.replace('\n', " ").as_bytes())?;
                if to_alice {
                    let honest = [
                        format!("[{sender}] "),
                        format!("* {sender} "),
                        format!("[{sender} -> you] "),
                        format!("*** {sender} "),
                    ];
                    prop_assert!(
                        honest.iter().any(|prefix| text.starts_with(prefix.as_str())),
                        "alice got {:?} from {}'s line {:?}",
                        text,
                        sender,
                        String::from_utf8_lossy(line)
                    );
                }
            }
        }
    }

    /// What the console writes for a peer's message, plain (piped) and interactive (labelled).
    #[test]
    fn peer_messages_reach_the_terminal_safe(data in peer_bytes(), interactive: bool) {
        let (mut console, out, _) = captured_console(interactive);
        console.peer_message("peer", &data).expect("writing to memory");
        let written = out.bytes();
        assert_terminal_safe(&written)?;
        prop_assert_eq!(written.iter().filter(|&&b| b == b'\n').count(), 1);
    }

    /// A block of messages printed at once (the bulk path) is byte for byte what printing its
    /// messages one by one gives, plain or interactive, whatever the messages hold: a block of
    /// plain lines is copied out whole, any other block goes line by line.
    #[test]
    fn a_block_prints_exactly_what_its_lines_print_one_by_one(
        lines in prop::collection::vec(prop_oneof![
            4 => "[ -~\t]{0,30}".prop_map(String::into_bytes),
            1 => peer_bytes(),
        ], 0..12),
        interactive: bool,
    ) {
        let block: Messages = lines.iter().collect();
        let (mut bulk, bulk_out, _) = captured_console(interactive);
        bulk.queue_peer_messages("peer", &block).expect("writing to memory");
        bulk.flush_messages().expect("writing to memory");
        let (mut single, single_out, _) = captured_console(interactive);
        for line in &lines {
            single.peer_message("peer", line).expect("writing to memory");
        }
        prop_assert_eq!(bulk_out.bytes(), single_out.bytes());
        assert_terminal_safe(&bulk_out.bytes())?;
    }

    /// What a netchat room client prints for any line a server sends it (the client escapes it
    /// again: the server might not be netchat), in every tone.
    #[test]
    fn room_lines_reach_the_terminal_safe(data in peer_bytes()) {
        let (mut console, out, _) = captured_console(true);
        let text = escape_peer_text(&data);
        let tones = [Tone::Own, Tone::Other, Tone::Action, Tone::Private, Tone::Notice];
        for tone in std::iter::once(protocol::classify(&text).tone()).chain(tones) {
            let before = out.bytes().len();
            console.room_line(&text, tone).expect("writing to memory");
            let written = out.bytes()[before..].to_vec();
            assert_terminal_safe(&written)?;
            // One line, which a terminal may show on several rows: every row after its first
            // is indented, so none but the first starts where names are.
            let shown = String::from_utf8_lossy(&written);
            let rows = shown.strip_suffix('\n').unwrap_or_default();
            prop_assert!(shown.ends_with('\n'), "{shown:?}");
            for row in rows.split('\n').skip(1) {
                prop_assert!(row.starts_with(CONTINUATION_INDENT), "{row:?} in {shown:?}");
            }
        }
    }
}
