//! Text made safe and measured: pure functions, no I/O, that every floor above may use.
//!
//! Two questions are answered here once for all of netchat:
//!
//! - **Is it safe to show?** A peer's bytes are never written raw: [`escape_peer_text`] shows
//!   controls, escape sequences, bidi overrides and invisible format characters as visible
//!   escapes, and [`shorten_blank_runs`] keeps a message from padding itself onto a row of its
//!   own. The console, the room's protocol, the trace and `netchat diagram` all call these.
//! - **How wide is it?** [`width`] (and [`end_column`], for text that does not start at the left
//!   edge) says how many columns a terminal gives text: tabs run to the next stop of
//!   [`TAB_STOP`], CJK and emoji take 2, combining marks 0, and a control character counts as
//!   the escape netchat shows for it. The line editor, the console's rows and the diagram's
//!   columns all measure with it, so they agree with each other and with the terminal.
//!
//! Escaping copies runs of safe text whole and escapes only what needs it ([`escape_into`]);
//! [`expand_tabs`] turns tabs into the spaces they show as, and [`rows`] cuts text into rows of
//! a given width under a hanging indent, with the same measure (the console's rows at a terminal,
//! the room's rows on the wire).
//!
//! And one small helper every table uses: [`thousands`].

use std::fmt::Write as _;

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Turns bytes from a peer into text that is safe to print on a terminal.
///
/// Invalid UTF-8 becomes U+FFFD (�). Control characters — ESC, BEL, backspace, carriage return, the
/// C1 range — are shown as visible escapes like `\x1b`, so a peer cannot move the cursor, clear the
/// screen, or overwrite a line with a fake one. So are the Unicode bidirectional overrides,
/// which can make text display in a different order than it was sent, and the invisible format
/// characters (zero-width spaces, joiners, line separators, tags), which can hide text or make
/// two different strings look identical. Tab stays a tab.
pub fn escape_peer_text(bytes: &[u8]) -> String {
    let mut safe = String::with_capacity(bytes.len());
    escape_into(bytes, &mut safe);
    safe
}

/// [`escape_peer_text`], appending to `safe`: valid UTF-8 is copied in runs, and only the
/// characters that need it are decoded and escaped.
// ANCHOR: escape_peer_text
pub fn escape_into(bytes: &[u8], safe: &mut String) {
    // `utf8_chunks` splits the bytes into valid text and the invalid sequences between, exactly
    // as `String::from_utf8_lossy` does; each invalid sequence becomes one U+FFFD.
    for chunk in bytes.utf8_chunks() {
        escape_text(chunk.valid(), safe);
        if !chunk.invalid().is_empty() {
            safe.push(char::REPLACEMENT_CHARACTER);
        }
    }
}

/// Copies valid text into `safe`, escaping controls and invisible format characters. Only a few
/// bytes can start such a character: a C0 control or DEL (below 0x20, 0x7f), 0xC2 (U+0080–U+00BF:
/// the C1 controls, the soft hyphen), 0xD8 (U+0600–U+063F: the Arabic letter mark), 0xE1
/// (U+1000–U+1FFF: the Mongolian vowel separator), 0xE2 (U+2000–U+2FFF: zero-width and bidi
/// controls, separators), 0xEF (U+F000–U+FFFF: the BOM, annotations), 0xF3 (U+C0000–U+FFFFF:
/// the tags). Everything between them is copied as one run, without decoding a single character.
fn escape_text(text: &str, safe: &mut String) {
    let mut run = 0;
    for (at, byte) in text.bytes().enumerate() {
        let suspect = (byte < b' ' && byte != b'\t')
            || matches!(
                byte,
                0x7f | 0xc2 | 0xcd | 0xd8 | 0xdb | 0xdc | 0xe0..=0xe3 | 0xef | 0xf0 | 0xf3
            );
        if !suspect {
            continue;
        }
        // A suspect byte is never inside a character (continuation bytes are 0x80–0xBF), so
        // `at` is a character boundary.
        let Some(c) = text[at..].chars().next() else {
            continue;
        };
        if c.is_control() {
            safe.push_str(&text[run..at]);
            let _ = write!(safe, "\\x{:02x}", u32::from(c));
        } else if is_invisible_format(c) {
            let before = text[..at].chars().next_back();
            let after = text[at + c.len_utf8()..].chars().next();
            if belongs_in_emoji(before, c, after) {
                continue;
            }
            safe.push_str(&text[run..at]);
            let _ = write!(safe, "\\u{{{:x}}}", u32::from(c));
        } else {
            continue;
        }
        run = at + c.len_utf8();
    }
    safe.push_str(&text[run..]);
}
// ANCHOR_END: escape_peer_text

/// Whether [`escape_peer_text`] shows this character as an escape (`\x01`, `\u{202e}`) rather
/// than as itself: the controls but tab, and the invisible format characters.
pub fn is_escaped(c: char) -> bool {
    (c.is_control() && c != '\t') || is_invisible_format(c)
}

/// The characters a terminal draws as nothing at all, yet which change what a reader sees:
///
/// - the bidi controls (U+202A–U+202E, U+2066–U+2069, U+200E/F, U+061C) reorder the text around
///   them (the "Trojan Source" trick);
/// - zero-width spaces and joiners (U+200B–U+200D, U+2060–U+2064, U+FEFF, U+180E, the soft
///   hyphen U+00AD) make two different strings look identical, or hide a word's real spelling;
/// - the line and paragraph separators (U+2028/9) break a line on some terminals;
/// - tag characters (U+E0000–U+E007F) carry invisible ASCII, e.g. instructions hidden in a
///   message; the deprecated format controls (U+206A–U+206F) and interlinear annotations
///   (U+FFF9–U+FFFB) do nothing a chat needs.
///
/// And every other *default-ignorable* code point (Unicode's list of what a terminal may draw
/// as nothing: the combining grapheme joiner U+034F, the Hangul fillers, the Khmer inherent
/// vowels, the Mongolian selectors, the variation selectors U+FE00–U+FE0F and U+E0100–U+E01EF,
/// U+1BCA0–U+1BCA3, the musical format controls U+1D173–U+1D17A, the rest of U+E0000–U+E0FFF)
/// and the format characters that prefix or join others invisibly (U+0600–U+0605, U+06DD,
/// U+070F, U+0890–U+0891, U+08E2, U+110BD, U+110CD, U+13430–U+1343F): up to four of them after
/// each letter once hid 32 bytes in a 22-character message. Only inside an emoji sequence, where
/// they belong, are the joiner U+200D and the emoji selector U+FE0F drawn ([`belongs_in_emoji`]).
pub fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{ad}'
        | '\u{34f}'
        | '\u{600}'..='\u{605}'
        | '\u{61c}'
        | '\u{6dd}'
        | '\u{70f}'
        | '\u{890}'..='\u{891}'
        | '\u{8e2}'
        | '\u{115f}'..='\u{1160}'
        | '\u{17b4}'..='\u{17b5}'
        | '\u{180b}'..='\u{180f}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}'
        | '\u{3164}'
        | '\u{fe00}'..='\u{fe0f}'
        | '\u{feff}'
        | '\u{ffa0}'
        | '\u{fff0}'..='\u{fffb}'
        | '\u{110bd}'
        | '\u{110cd}'
        | '\u{13430}'..='\u{1343f}'
        | '\u{1bca0}'..='\u{1bca3}'
        | '\u{1d173}'..='\u{1d17a}'
        | '\u{e0000}'..='\u{e0fff}'
    )
}

/// Whether an invisible character `c`, between `before` and `after`, is part of an emoji
/// sequence and drawn as such: the zero-width joiner between two emoji (👩‍💻), or the emoji
/// presentation selector U+FE0F after an emoji (❤️), or after a digit, `#` or `*` that a keycap
/// mark follows (1️⃣). Anywhere else, [`escape_peer_text`] shows it escaped.
pub fn belongs_in_emoji(before: Option<char>, c: char, after: Option<char>) -> bool {
    match c {
        '\u{200d}' => {
            before.is_some_and(|b| is_emoji(b) || b == '\u{fe0f}' || is_skin_tone(b))
                && after.is_some_and(is_emoji)
        }
        '\u{fe0f}' => {
            before.is_some_and(is_emoji)
                || (before.is_some_and(|b| b.is_ascii_digit() || b == '#' || b == '*')
                    && after == Some('\u{20e3}'))
        }
        _ => false,
    }
}

/// The characters drawn as emoji (pictographs, symbols that take the emoji selector), roughly
/// Unicode's Extended_Pictographic: enough to tell an emoji sequence from a hidden joiner.
fn is_emoji(c: char) -> bool {
    matches!(c,
        '\u{a9}' | '\u{ae}' | '\u{203c}' | '\u{2049}' | '\u{2122}' | '\u{2139}'
        | '\u{2194}'..='\u{21aa}'
        | '\u{231a}'..='\u{23ff}'
        | '\u{24c2}'
        | '\u{25aa}'..='\u{27bf}'
        | '\u{2934}'..='\u{2935}'
        | '\u{2b05}'..='\u{2b55}'
        | '\u{3030}' | '\u{303d}' | '\u{3297}' | '\u{3299}'
        | '\u{1f000}'..='\u{1faff}'
    ) && !is_skin_tone(c)
}

/// The skin tone modifiers, which end an emoji before a joiner (🧑🏽‍💻).
fn is_skin_tone(c: char) -> bool {
    matches!(c, '\u{1f3fb}'..='\u{1f3ff}')
}

/// The widest run of blanks kept inside a message, in columns: enough to line up a comment in
/// a pasted snippet, too little to push text onto a row of its own.
pub const MAX_BLANK_RUN: usize = 8;

/// The widest indentation kept at the start of a message, in columns: four levels of code.
pub const MAX_INDENT: usize = 16;

/// Shortens long runs of blanks in text that is already escaped (see [`escape_peer_text`]).
///
/// A terminal wraps a long line onto the next row. A peer that sends `hi`, 70 spaces and
/// `*** bob was kicked by the host` makes the fake notice start its own row, where it looks
/// exactly like a real one. So a run of blanks wider than [`MAX_BLANK_RUN`] columns (or, at the
/// start, [`MAX_INDENT`], so pasted code keeps its indentation) becomes that many spaces: every
/// row a message wraps onto then starts inside visible text. Tabs count as the widest they can
/// be (8 columns); other Unicode spaces (no-break, em, ideographic…) count as blanks too, and
/// so do the characters fonts draw blank (braille blank, Hangul fillers). Characters that take
/// no column of their own (variation selectors, the combining grapheme joiner, accents) are
/// part of a run, or `hi` and 70 times a space and a variation selector would slip through.
// ANCHOR: shorten_blank_runs
pub fn shorten_blank_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let mut width = 0;
    let mut at_start = true;
    for c in text.chars() {
        if let Some(columns) = blank_width(c) {
            run.push(c);
            width += columns;
            continue;
        }
        flush_blank_run(&mut out, &mut run, &mut width, at_start);
        at_start = false;
        out.push(c);
    }
    flush_blank_run(&mut out, &mut run, &mut width, at_start);
    out
}
// ANCHOR_END: shorten_blank_runs

fn flush_blank_run(out: &mut String, run: &mut String, width: &mut usize, at_start: bool) {
    let limit = if at_start { MAX_INDENT } else { MAX_BLANK_RUN };
    if *width > limit {
        out.extend(std::iter::repeat_n(' ', limit));
    } else {
        out.push_str(run);
    }
    run.clear();
    *width = 0;
}

/// How many columns a blank character can take; `None` for a character that shows something.
fn blank_width(c: char) -> Option<usize> {
    match c {
        '\t' => Some(8),
        '\u{3000}' => Some(2),
        '\u{2800}' => Some(1),
        c if c.is_whitespace() => Some(1),
        // Drawn on the character before, taking no column: a run goes on through it. After a
        // letter it forms a run of width 0, which is kept as it is (an emoji's selector stays).
        c if c.width() == Some(0) => Some(0),
        _ => None,
    }
}

/// Where a terminal's tab stops are: every 8 columns.
pub const TAB_STOP: usize = 8;

/// How many columns `text` takes on a terminal, drawn from the left edge.
///
/// Counted by grapheme (what a reader sees as one character: `e` and its accent, a flag) the
/// way a terminal draws it: a tab runs to the next [`TAB_STOP`], a CJK character or an emoji
/// takes 2 columns, a combining mark none, and a control character the columns of the escape
/// netchat shows instead (`\x1b` is 4). Counting `char`s gets CJK and accents wrong.
pub fn width(text: &str) -> usize {
    end_column(text, 0)
}

/// The column a terminal's cursor stands in after drawing `text` from `column` (a tab's width
/// depends on where it starts).
pub fn end_column(text: &str, column: usize) -> usize {
    text.graphemes(true)
        .fold(column, |at, grapheme| at + grapheme_width(grapheme, at))
}

/// How many columns one grapheme takes, drawn at `column`. See [`width`].
pub fn grapheme_width(grapheme: &str, column: usize) -> usize {
    if grapheme == "\t" {
        return TAB_STOP - column % TAB_STOP;
    }
    if grapheme.chars().any(char::is_control) {
        // Never drawn raw: each control shows as its escape, `\xNN`.
        return grapheme
            .chars()
            .map(|c| {
                if c.is_control() {
                    4
                } else {
                    c.width().unwrap_or(0)
                }
            })
            .sum();
    }
    grapheme.width()
}

/// `text` with each tab replaced by the spaces a terminal would move over, counted from the
/// start of `text` (tab stops every [`TAB_STOP`] columns, measured with [`grapheme_width`]).
///
/// A tab's width depends on the column it starts in, which the sender cannot know on a reader's
/// screen and the room's server decides once: expanded, a relayed message is as wide on every
/// terminal as the server measured it, so no padding of tabs can reach a row's edge unseen
/// (`x` and a tab, eight times, counted as zero columns, once let a message put
/// `[host] class is cancelled` at the start of a row). The text itself when it has no tab.
pub fn expand_tabs(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\t') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut column = 0;
    for grapheme in text.graphemes(true) {
        let columns = grapheme_width(grapheme, column);
        if grapheme == "\t" {
            out.extend(std::iter::repeat_n(' ', columns));
        } else {
            out.push_str(grapheme);
        }
        column += columns;
    }
    std::borrow::Cow::Owned(out)
}

/// `text` (every character of it drawn: already escaped) cut into the rows a screen `columns`
/// wide shows when every row after the first starts `indent` columns in (a hanging indent):
/// the first row `columns` wide, the others `columns - indent`. Measured with the one width
/// model ([`grapheme_width`]): a wide character that would not fit at the end of a row goes to
/// the next one, as a terminal would put it, and a grapheme is never cut from its accents.
///
/// This is how no message can start a row of its own choosing: only a line's first row starts
/// at the left edge, where the server put the sender's name. The console cuts a room line for
/// its screen with it, and the room's server cuts each relayed line for the widest screen it
/// promises (80 columns, for `nc` and telnet readers, which cannot indent).
pub fn rows(text: &str, columns: usize, indent: usize) -> Vec<&str> {
    if columns <= indent {
        return vec![text];
    }
    let mut rows = Vec::new();
    // `column` is where the cursor stands on the screen: a row after the first starts after
    // its indent, which is where its tabs are measured from.
    let (mut start, mut column) = (0, 0);
    for (at, grapheme) in text.grapheme_indices(true) {
        let w = grapheme_width(grapheme, column);
        if column + w > columns && at > start {
            rows.push(&text[start..at]);
            start = at;
            column = indent;
        }
        column += grapheme_width(grapheme, column);
    }
    rows.push(&text[start..]);
    rows
}

/// `1048576` as `1,048,576`: a growing number is read at a glance.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    // The first group has 1 to 3 digits, every later one 3.
    let first = match digits.len() % 3 {
        0 => 3,
        short => short,
    }
    .min(digits.len());
    let (head, rest) = digits.split_at(first);
    let mut out = head.to_string();
    for group in rest.as_bytes().chunks(3) {
        out.push(',');
        out.extend(group.iter().map(|&digit| char::from(digit)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan;

    #[test]
    fn escape_sequences_are_shown_not_obeyed() {
        assert_eq!(escape_peer_text(b"\x1b[2Jgotcha"), "\\x1b[2Jgotcha");
        assert_eq!(escape_peer_text(b"bell\x07"), "bell\\x07");
        assert_eq!(escape_peer_text(b"a\rb"), "a\\x0db");
    }

    #[test]
    fn c1_controls_and_bidi_overrides_are_escaped() {
        assert_eq!(escape_peer_text("x\u{9b}y".as_bytes()), "x\\x9by");
        assert_eq!(escape_peer_text("a\u{202e}b".as_bytes()), "a\\u{202e}b");
    }

    #[test]
    fn invisible_format_characters_are_escaped() {
        for (c, shown) in [
            ('\u{200b}', "\\u{200b}"),
            ('\u{200d}', "\\u{200d}"),
            ('\u{2060}', "\\u{2060}"),
            ('\u{feff}', "\\u{feff}"),
            ('\u{61c}', "\\u{61c}"),
            ('\u{2029}', "\\u{2029}"),
            ('\u{e0041}', "\\u{e0041}"),
        ] {
            assert_eq!(
                escape_peer_text(format!("a{c}b").as_bytes()),
                format!("a{shown}b")
            );
        }
    }

    #[test]
    fn default_ignorable_characters_are_escaped_but_emoji_sequences_stay_whole() {
        for c in [
            '\u{fe00}',
            '\u{fe0f}',
            '\u{e0100}',
            '\u{1d173}',
            '\u{1bca0}',
            '\u{13430}',
            '\u{600}',
            '\u{110bd}',
            '\u{34f}',
            '\u{3164}',
        ] {
            let shown = escape_peer_text(format!("a{c}b").as_bytes());
            assert_eq!(shown, format!("a\\u{{{:x}}}b", u32::from(c)));
        }
        for emoji in [
            "👩\u{200d}💻",
            "❤\u{fe0f}",
            "1\u{fe0f}\u{20e3}",
            "🧑🏽\u{200d}💻",
        ] {
            assert_eq!(escape_peer_text(emoji.as_bytes()), emoji);
        }
        // A joiner between letters, a selector after a letter: escaped.
        assert_eq!(escape_peer_text("a\u{200d}b".as_bytes()), "a\\u{200d}b");
        assert_eq!(escape_peer_text("a\u{fe0f}".as_bytes()), "a\\u{fe0f}");
    }

    #[test]
    fn long_blank_runs_are_shortened_but_indentation_stays() {
        let fake = format!("hi{}*** bob was kicked", " ".repeat(68));
        assert_eq!(
            shorten_blank_runs(&fake),
            format!("hi{}*** bob was kicked", " ".repeat(8))
        );
        assert_eq!(shorten_blank_runs("    if x {"), "    if x {");
        assert_eq!(shorten_blank_runs("\t\tx = 1;"), "\t\tx = 1;");
        assert_eq!(shorten_blank_runs("x = 1;   // one"), "x = 1;   // one");
        assert_eq!(
            shorten_blank_runs(&format!("{}x", " ".repeat(40))),
            format!("{}x", " ".repeat(16))
        );
        assert_eq!(shorten_blank_runs("a\t\tb"), "a        b");
        assert_eq!(
            shorten_blank_runs("a\u{a0}\u{3000}\u{3000}\u{3000}\u{3000}b"),
            "a        b"
        );
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        assert_eq!(escape_peer_text(b"ok \xff!"), "ok \u{fffd}!");
    }

    #[test]
    fn ordinary_text_and_tabs_pass_unchanged() {
        assert_eq!(
            escape_peer_text("héllo\twörld 👋".as_bytes()),
            "héllo\twörld 👋"
        );
    }

    #[test]
    fn the_plain_ascii_shortcut_agrees_with_escaping() {
        for text in [
            &b"hello, world\tok"[..],
            b"a\x7fb",
            b"\x1b[2J",
            b"caf\xc3\xa9",
            b"",
        ] {
            assert_eq!(
                scan::all_plain(text),
                escape_peer_text(text).as_bytes() == text && text.is_ascii()
            );
        }
    }
    #[test]
    fn width_counts_columns_as_a_terminal_draws_them() {
        assert_eq!(width("hello"), 5);
        assert_eq!(width("你好"), 4);
        assert_eq!(width("e\u{301}"), 1);
        assert_eq!(width("\t"), 8);
        assert_eq!(width("ab\tc"), 9);
        assert_eq!(end_column("\t", 3), 8);
        assert_eq!(width("a\x1bb"), 6);
        assert_eq!(width(&escape_peer_text(b"a\x1bb")), width("a\x1bb"));
    }

    #[test]
    fn tabs_expand_to_the_stops_a_terminal_would_move_to() {
        assert_eq!(expand_tabs("no tab"), "no tab");
        assert_eq!(
            expand_tabs("x\tx\t."),
            format!("x{}x{}.", " ".repeat(7), " ".repeat(7))
        );
        assert_eq!(
            expand_tabs("\t你\t"),
            format!("{}你{}", " ".repeat(8), " ".repeat(6))
        );
        assert_eq!(width(&expand_tabs("ab\tc")), width("ab\tc"));
    }

    #[test]
    fn rows_after_the_first_start_at_the_indent() {
        let text = format!("[mallory] {}[bob] hi", ".".repeat(20));
        assert_eq!(
            rows(&text, 30, 4),
            ["[mallory] ....................", "[bob] hi"]
        );
        let long = "x".repeat(30 + 26 + 1);
        assert_eq!(
            rows(&long, 30, 4)
                .iter()
                .map(|r| r.len())
                .collect::<Vec<_>>(),
            [30, 26, 1]
        );
        // A wide character that does not fit at the end of a row starts the next one.
        assert_eq!(
            rows(&format!("{}你好", "x".repeat(29)), 30, 4),
            [&"x".repeat(29) as &str, "你好"]
        );
        // Narrow screens get a narrow indent, never none.
        assert_eq!(rows("abcdef", 3, 1), ["abc", "de", "f"]);
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_048_576), "1,048,576");
    }
}
