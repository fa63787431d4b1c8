//! The line being typed: its text, the cursor, the session's history, and what each key does to
//! them. Pure — keys in, [`Action`]s out, no terminal — so every key is tested without one;
//! terminal.rs reads the keys and draws the result. Besides cursor and word moves, kills and
//! history: a blank line is not sent, a paste goes in as lines, and a line over `--max-line` is
//! refused at Enter, never cut.
//!
//! Two measures matter, and they are not the same: the cursor moves by **grapheme** (what a reader
//! sees as one character: `e` + a combining accent, a flag, a family emoji), and the screen is
//! measured in **columns** (a CJK character or an emoji takes two, a combining accent none).
//! Counting `char`s gets both wrong: `←` would stop inside `é`, and a line of Chinese would wrap
//! in a different place than the terminal wraps it, leaving garbage when it is redrawn. Columns
//! are measured by the one width model every screen of netchat shares (text.rs).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use unicode_segmentation::UnicodeSegmentation;

use crate::text::grapheme_width;

/// What a key asks the terminal side to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing visible changed.
    Nothing,
    /// The text or the cursor changed: draw the line again.
    Redraw,
    /// The key could not be applied (the line is full): ring the bell.
    Bell,
    /// Ctrl-L: clear the screen and draw the line at the top.
    ClearScreen,
    /// Enter on a line with something in it: hand it over.
    Submit(String),
    /// Enter on a line longer than `--max-line`: it is not sent (as a piped line would not
    /// be), and the line is cleared; Up brings it back to shorten it.
    TooLong {
        /// How long the line was, in bytes (counting what its capacity refused).
        length: usize,
        /// `--max-line`.
        limit: usize,
    },
    /// Ctrl-C.
    Interrupt,
    /// Ctrl-D on an empty line: end of input.
    Eof,
}

/// The line editor's state for one session: what is typed, where the cursor is, and the lines
/// sent so far (Up/Down).
#[derive(Debug, Default)]
pub struct LineEditor {
    text: String,
    /// A byte offset into `text`, always on a grapheme boundary.
    cursor: usize,
    /// Lines sent this session, oldest first. Consecutive repeats are kept once, like a shell.
    history: Vec<String>,
    /// Which history entry is on the line while browsing with Up/Down; `None`: the user's own.
    browsing: Option<usize>,
    /// The line the user was typing before pressing Up, given back by Down.
    draft: String,
    /// `--max-line`: a longer line is never sent. The line may grow past it, so that what is
    /// refused at Enter is what the user sees, but only up to [`LineEditor::capacity`].
    max_len: usize,
    /// Bytes refused because the line reached its capacity (a huge paste): counted, so that
    /// Enter can say by how much the line was too long without holding it all.
    refused: usize,
}

impl LineEditor {
    /// An empty line that may grow to `max_len` bytes.
    pub fn new(max_len: usize) -> LineEditor {
        LineEditor {
            max_len,
            ..LineEditor::default()
        }
    }

    /// What is typed so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The cursor, as a byte offset into [`LineEditor::text`].
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// How long the line may grow: past `--max-line` (the line is then refused at Enter, not cut),
    /// but not without bound, so a paste of megabytes on one line does not hold them all.
    fn capacity(&self) -> usize {
        self.max_len
            .saturating_mul(2)
            .max(self.max_len.saturating_add(64))
    }

    /// A pasted block (bracketed paste: one event however long): its text goes in at the
    /// cursor as if typed, each line break is an Enter, and tabs and other control characters
    /// are typed as a space or left out, as the keys for them would be. Returns what each Enter
    /// gave, then a final redraw if the last line is left half-typed.
    pub fn paste(&mut self, text: &str) -> Vec<Action> {
        let mut actions = Vec::new();
        let mut changed = false;
        let mut after_cr = false;
        for c in text.chars() {
            let crlf = after_cr && c == '\n';
            after_cr = c == '\r';
            match c {
                // CR LF is one line break, not a line and a blank one.
                _ if crlf => {}
                '\r' | '\n' => {
                    match self.submit() {
                        Action::Nothing | Action::Redraw => {}
                        action => actions.push(action),
                    }
                    changed = true;
                }
                '\t' => changed |= self.insert(' ') != Action::Nothing,
                c if c.is_control() => {}
                c => changed |= self.insert(c) != Action::Nothing,
            }
        }
        if changed {
            actions.push(Action::Redraw);
        }
        actions
    }

    /// Applies one key press.
    // ANCHOR: editor_key
    pub fn key(&mut self, key: KeyEvent) -> Action {
        let mods = key.modifiers;
        // Ctrl+Alt is AltGr on Windows (how `@` or `{` is typed on many keyboards): a character.
        let ctrl = mods.contains(KeyModifiers::CONTROL) && !mods.contains(KeyModifiers::ALT);
        let alt = mods.contains(KeyModifiers::ALT) && !mods.contains(KeyModifiers::CONTROL);
        let word = ctrl || alt; // Ctrl-Left and Alt-Left both move by word
        match key.code {
            // Raw mode reports Enter as Ctrl-M, and a line typed while the terminal was still
            // cooked arrives ended by `\n`, which is Ctrl-J.
            KeyCode::Enter => self.submit(),
            KeyCode::Char('j' | 'm') if ctrl => self.submit(),
            KeyCode::Char('c') if ctrl => Action::Interrupt,
            KeyCode::Char('d') if ctrl && self.text.is_empty() => Action::Eof,
            KeyCode::Char('d') if ctrl => self.delete(self.cursor, self.next_grapheme()),
            KeyCode::Delete => self.delete(self.cursor, self.next_grapheme()),
            KeyCode::Char('h') if ctrl => self.delete(self.previous_grapheme(), self.cursor),
            KeyCode::Backspace if alt => self.delete(self.word_start(), self.cursor),
            KeyCode::Backspace => self.delete(self.previous_grapheme(), self.cursor),
            KeyCode::Char('a') if ctrl => self.move_to(0),
            KeyCode::Home => self.move_to(0),
            KeyCode::Char('e') if ctrl => self.move_to(self.text.len()),
            KeyCode::End => self.move_to(self.text.len()),
            KeyCode::Left if word => self.move_to(self.word_start()),
            KeyCode::Right if word => self.move_to(self.word_end()),
            KeyCode::Char('b') if alt => self.move_to(self.word_start()),
            KeyCode::Char('f') if alt => self.move_to(self.word_end()),
            KeyCode::Char('b') if ctrl => self.move_to(self.previous_grapheme()),
            KeyCode::Left => self.move_to(self.previous_grapheme()),
            KeyCode::Char('f') if ctrl => self.move_to(self.next_grapheme()),
            KeyCode::Right => self.move_to(self.next_grapheme()),
            KeyCode::Char('k') if ctrl => self.delete(self.cursor, self.text.len()),
            KeyCode::Char('u') if ctrl => self.delete(0, self.cursor),
            KeyCode::Char('w') if ctrl => self.delete(self.blank_separated_start(), self.cursor),
            KeyCode::Char('d') if alt => self.delete(self.cursor, self.word_end()),
            KeyCode::Up => self.older(),
            KeyCode::Char('p') if ctrl => self.older(),
            KeyCode::Down => self.newer(),
            KeyCode::Char('n') if ctrl => self.newer(),
            KeyCode::Char('l') if ctrl => Action::ClearScreen,
            KeyCode::Tab => self.insert(' '),
            KeyCode::Char(c) if !ctrl && !alt && !c.is_control() => self.insert(c),
            _ => Action::Nothing,
        }
    }
    // ANCHOR_END: editor_key

    /// Enter. A blank line is not a message: it is cleared and nothing is sent, as a shell
    /// just shows its prompt again. (Blank lines *piped* into netchat are still sent: a script
    /// may mean them.)
    fn submit(&mut self) -> Action {
        let line = std::mem::take(&mut self.text);
        let refused = std::mem::take(&mut self.refused);
        self.cursor = 0;
        self.browsing = None;
        self.draft.clear();
        if line.trim().is_empty() {
            return if line.is_empty() {
                Action::Nothing
            } else {
                Action::Redraw
            };
        }
        if self.history.last() != Some(&line) {
            self.history.push(line.clone());
        }
        let length = line.len() + refused;
        if length > self.max_len {
            return Action::TooLong {
                length,
                limit: self.max_len,
            };
        }
        Action::Submit(line)
    }

    fn insert(&mut self, c: char) -> Action {
        if self.text.len() + c.len_utf8() > self.capacity() {
            // Ring once, not once per refused character of a paste.
            let first = self.refused == 0;
            self.refused += c.len_utf8();
            return if first { Action::Bell } else { Action::Nothing };
        }
        self.text.insert(self.cursor, c);
        // A combining accent joins the grapheme before it; the cursor then stands after both.
        self.cursor += c.len_utf8();
        Action::Redraw
    }

    /// Removes the bytes `from..to` (both on grapheme boundaries) and leaves the cursor at `from`.
    fn delete(&mut self, from: usize, to: usize) -> Action {
        if from == to {
            return Action::Nothing;
        }
        self.text.replace_range(from..to, "");
        self.cursor = from;
        Action::Redraw
    }

    fn move_to(&mut self, cursor: usize) -> Action {
        if cursor == self.cursor {
            return Action::Nothing;
        }
        self.cursor = cursor;
        Action::Redraw
    }

    fn previous_grapheme(&self) -> usize {
        self.text[..self.cursor]
            .grapheme_indices(true)
            .next_back()
            .map_or(0, |(start, _)| start)
    }

    fn next_grapheme(&self) -> usize {
        self.text[self.cursor..]
            .graphemes(true)
            .next()
            .map_or(self.cursor, |g| self.cursor + g.len())
    }

    /// Alt-B, Ctrl-Left: back over any punctuation or spaces, then over a word (letters and
    /// digits), like readline.
    fn word_start(&self) -> usize {
        let before = &self.text[..self.cursor];
        let mut start = self.cursor;
        let mut in_word = false;
        for (at, c) in before.char_indices().rev() {
            match (c.is_alphanumeric(), in_word) {
                (true, _) => in_word = true,
                (false, true) => break,
                (false, false) => {}
            }
            start = at;
        }
        self.grapheme_floor(start)
    }

    /// Alt-F, Ctrl-Right: forward over any punctuation or spaces, then to the end of a word.
    fn word_end(&self) -> usize {
        let mut in_word = false;
        for (at, c) in self.text[self.cursor..].char_indices() {
            match (c.is_alphanumeric(), in_word) {
                (true, _) => in_word = true,
                (false, true) => return self.grapheme_floor(self.cursor + at),
                (false, false) => {}
            }
        }
        self.text.len()
    }

    /// Ctrl-W: back to the previous blank, the way a terminal's own Ctrl-W erases a word
    /// (`http://x.org/a` goes in one press).
    fn blank_separated_start(&self) -> usize {
        let before = self.text[..self.cursor].trim_end();
        before.rfind(char::is_whitespace).map_or(0, |blank| {
            blank + before[blank..].chars().next().map_or(1, char::len_utf8)
        })
    }

    /// The grapheme boundary at or before `at`, so a word move never stops inside `é`.
    fn grapheme_floor(&self, at: usize) -> usize {
        self.text
            .grapheme_indices(true)
            .map(|(start, _)| start)
            .take_while(|&start| start <= at)
            .last()
            .unwrap_or(0)
    }

    /// Up: the previous line sent (the line being typed is kept for Down).
    fn older(&mut self) -> Action {
        let index = match self.browsing {
            None if self.history.is_empty() => return Action::Nothing,
            None => {
                self.draft = std::mem::take(&mut self.text);
                self.history.len() - 1
            }
            Some(0) => return Action::Nothing,
            Some(index) => index - 1,
        };
        self.show_history(Some(index))
    }

    /// Down: the next line sent, and after the newest, what was being typed.
    fn newer(&mut self) -> Action {
        match self.browsing {
            None => Action::Nothing,
            Some(index) if index + 1 < self.history.len() => self.show_history(Some(index + 1)),
            Some(_) => self.show_history(None),
        }
    }

    fn show_history(&mut self, index: Option<usize>) -> Action {
        self.browsing = index;
        self.text = match index {
            Some(index) => self.history[index].clone(),
            None => std::mem::take(&mut self.draft),
        };
        self.cursor = self.text.len();
        Action::Redraw
    }
}

/// A position on the screen, relative to where the prompt starts: row 0 is the prompt's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spot {
    pub row: usize,
    pub column: usize,
}

/// Where the cursor and the end of the line land when `prompt` and then `text` are written from
/// column 0 of a terminal `columns` wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub cursor: Spot,
    pub end: Spot,
}

/// Lays out the prompt and the line the way the terminal will wrap them: a character that does
/// not fit in what is left of a row goes to the next one — a wide character in the last column
/// leaves that column empty — and a character of width 0 (a combining accent) stays on its base.
///
/// A line that exactly fills its last row leaves the terminal's cursor in the last column
/// ("pending wrap") rather than on the next row; the layout puts the end on the next row, and
/// terminal.rs writes a newline there so the terminal agrees.
// ANCHOR: layout
pub fn layout(prompt: &str, text: &str, cursor: usize, columns: usize) -> Layout {
    let columns = columns.max(2);
    let mut at = Spot { row: 0, column: 0 };
    // Places one grapheme, wrapping first if it would not fit; returns where it starts.
    let place = |at: &mut Spot, grapheme: &str| {
        let mut width = grapheme_width(grapheme, at.column);
        if at.column + width > columns {
            at.row += 1;
            at.column = 0;
            width = grapheme_width(grapheme, 0);
        }
        let start = *at;
        at.column += width;
        start
    };
    for grapheme in prompt.graphemes(true) {
        place(&mut at, grapheme);
    }
    let mut cursor_spot = None;
    for (start, grapheme) in text.grapheme_indices(true) {
        let spot = place(&mut at, grapheme);
        if start == cursor {
            cursor_spot = Some(spot);
        }
    }
    if at.column >= columns {
        at = Spot {
            row: at.row + 1,
            column: 0,
        };
    }
    Layout {
        cursor: cursor_spot.unwrap_or(at),
        end: at,
    }
}
// ANCHOR_END: layout

#[cfg(test)]
mod tests {
    use super::*;

    fn press(editor: &mut LineEditor, code: KeyCode, modifiers: KeyModifiers) -> Action {
        editor.key(KeyEvent::new(code, modifiers))
    }

    fn typed(text: &str) -> LineEditor {
        let mut editor = LineEditor::new(100);
        for c in text.chars() {
            press(&mut editor, KeyCode::Char(c), KeyModifiers::NONE);
        }
        editor
    }

    fn plain(editor: &mut LineEditor, code: KeyCode) -> Action {
        press(editor, code, KeyModifiers::NONE)
    }

    fn ctrl(editor: &mut LineEditor, c: char) -> Action {
        press(editor, KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    fn alt(editor: &mut LineEditor, c: char) -> Action {
        press(editor, KeyCode::Char(c), KeyModifiers::ALT)
    }

    #[test]
    fn left_then_typing_inserts_in_the_middle() {
        let mut editor = typed("helo");
        plain(&mut editor, KeyCode::Left);
        plain(&mut editor, KeyCode::Char('l'));
        assert_eq!(
            plain(&mut editor, KeyCode::Enter),
            Action::Submit("hello".into())
        );
    }

    #[test]
    fn the_cursor_moves_over_a_whole_grapheme() {
        // `e` + combining acute accent is one grapheme of two chars.
        let mut editor = typed("cafe\u{301}!");
        plain(&mut editor, KeyCode::Left);
        plain(&mut editor, KeyCode::Left);
        assert_eq!(editor.cursor(), 3, "before the accented e, not inside it");
        plain(&mut editor, KeyCode::Delete);
        assert_eq!(editor.text(), "caf!");
        plain(&mut editor, KeyCode::End);
        plain(&mut editor, KeyCode::Backspace);
        assert_eq!(editor.text(), "caf");
    }

    #[test]
    fn home_end_and_their_control_keys() {
        let mut editor = typed("bc");
        plain(&mut editor, KeyCode::Home);
        plain(&mut editor, KeyCode::Char('a'));
        ctrl(&mut editor, 'e');
        plain(&mut editor, KeyCode::Char('d'));
        ctrl(&mut editor, 'a');
        plain(&mut editor, KeyCode::Char('>'));
        plain(&mut editor, KeyCode::End);
        plain(&mut editor, KeyCode::Char('!'));
        assert_eq!(editor.text(), ">abcd!");
    }

    #[test]
    fn word_moves_skip_punctuation_then_a_word() {
        let mut editor = typed("one, two  three");
        alt(&mut editor, 'b');
        assert_eq!(&editor.text()[editor.cursor()..], "three");
        press(&mut editor, KeyCode::Left, KeyModifiers::CONTROL);
        assert_eq!(&editor.text()[editor.cursor()..], "two  three");
        alt(&mut editor, 'b');
        assert_eq!(editor.cursor(), 0);
        alt(&mut editor, 'f');
        assert_eq!(&editor.text()[editor.cursor()..], ", two  three");
        press(&mut editor, KeyCode::Right, KeyModifiers::CONTROL);
        assert_eq!(&editor.text()[editor.cursor()..], "  three");
    }

    #[test]
    fn kill_keys_cut_to_the_end_the_start_and_the_last_word() {
        let mut editor = typed("see http://x.org/a now");
        ctrl(&mut editor, 'w');
        assert_eq!(editor.text(), "see http://x.org/a ");
        ctrl(&mut editor, 'w');
        assert_eq!(editor.text(), "see ");
        let mut editor = typed("abcdef");
        plain(&mut editor, KeyCode::Left);
        plain(&mut editor, KeyCode::Left);
        ctrl(&mut editor, 'k');
        assert_eq!(editor.text(), "abcd");
        plain(&mut editor, KeyCode::Left);
        ctrl(&mut editor, 'u');
        assert_eq!((editor.text(), editor.cursor()), ("d", 0));
    }

    #[test]
    fn up_and_down_walk_the_history_and_give_the_draft_back() {
        let mut editor = typed("first");
        plain(&mut editor, KeyCode::Enter);
        for c in "second".chars() {
            plain(&mut editor, KeyCode::Char(c));
        }
        plain(&mut editor, KeyCode::Enter);
        for c in "dra".chars() {
            plain(&mut editor, KeyCode::Char(c));
        }
        plain(&mut editor, KeyCode::Up);
        assert_eq!(editor.text(), "second");
        plain(&mut editor, KeyCode::Up);
        assert_eq!(editor.text(), "first");
        assert_eq!(plain(&mut editor, KeyCode::Up), Action::Nothing);
        plain(&mut editor, KeyCode::Down);
        plain(&mut editor, KeyCode::Down);
        assert_eq!(editor.text(), "dra");
        plain(&mut editor, KeyCode::Up);
        assert_eq!(
            plain(&mut editor, KeyCode::Enter),
            Action::Submit("second".into())
        );
        assert_eq!(editor.history, ["first", "second"], "a repeat is kept once");
    }

    #[test]
    fn blank_lines_are_not_submitted() {
        let mut editor = LineEditor::new(100);
        assert_eq!(plain(&mut editor, KeyCode::Enter), Action::Nothing);
        let mut editor = typed("   ");
        assert_eq!(plain(&mut editor, KeyCode::Enter), Action::Redraw);
        assert_eq!(editor.text(), "");
        assert!(editor.history.is_empty());
    }

    #[test]
    fn ctrl_d_ends_input_only_on_an_empty_line() {
        let mut editor = typed("ab");
        plain(&mut editor, KeyCode::Home);
        ctrl(&mut editor, 'd');
        assert_eq!(editor.text(), "b");
        ctrl(&mut editor, 'd');
        assert_eq!(ctrl(&mut editor, 'd'), Action::Eof);
    }

    #[test]
    fn a_line_longer_than_max_line_is_refused_at_enter_never_cut() {
        let mut editor = LineEditor::new(3);
        for c in "abcd".chars() {
            assert_eq!(plain(&mut editor, KeyCode::Char(c)), Action::Redraw);
        }
        assert_eq!(editor.text(), "abcd", "what is shown is what Enter judges");
        let refused = Action::TooLong {
            length: 4,
            limit: 3,
        };
        assert_eq!(plain(&mut editor, KeyCode::Enter), refused);
        assert_eq!(
            editor.text(),
            "",
            "nothing was sent, and the line is cleared"
        );
        // Up brings it back, to be shortened and sent.
        plain(&mut editor, KeyCode::Up);
        plain(&mut editor, KeyCode::Backspace);
        assert_eq!(
            plain(&mut editor, KeyCode::Enter),
            Action::Submit("abc".into())
        );
    }

    #[test]
    fn the_line_stops_growing_at_its_capacity_and_counts_what_it_refused() {
        let mut editor = LineEditor::new(3);
        let actions = editor.paste(&"x".repeat(100));
        assert_eq!(actions, [Action::Redraw]);
        assert_eq!(editor.text().len(), 67, "--max-line + 64");
        assert_eq!(
            editor.paste("\r"),
            [
                Action::TooLong {
                    length: 100,
                    limit: 3
                },
                Action::Redraw
            ]
        );
    }

    #[test]
    fn a_paste_is_typed_line_by_line_and_its_last_line_stays_on_the_line() {
        let mut editor = typed("> ");
        let actions = editor.paste("one\r\ntwo\r\r\tthree\x1b[Dx\nfou");
        assert_eq!(
            actions,
            [
                Action::Submit("> one".into()),
                Action::Submit("two".into()),
                // The blank line between is not sent; the tab is a space, the escape left out.
                Action::Submit(" three[Dx".into()),
                Action::Redraw,
            ]
        );
        assert_eq!(editor.text(), "fou");
        assert_eq!(editor.cursor(), 3);
    }

    #[test]
    fn altgr_characters_are_typed_not_taken_as_commands() {
        let mut editor = LineEditor::new(100);
        let altgr = KeyModifiers::CONTROL | KeyModifiers::ALT;
        press(&mut editor, KeyCode::Char('@'), altgr);
        assert_eq!(editor.text(), "@");
    }

    #[test]
    fn layout_counts_columns_not_chars() {
        // `you> ` is 5 columns, each of the CJK characters 2.
        let line = "你好吗";
        let at = layout("you> ", line, line.len(), 80);
        assert_eq!(at.end, Spot { row: 0, column: 11 });
        let at = layout("you> ", "e\u{301}", 0, 80);
        assert_eq!(
            at.end,
            Spot { row: 0, column: 6 },
            "a combining accent takes no column"
        );
    }

    #[test]
    fn a_wide_character_that_does_not_fit_starts_the_next_row() {
        // 10 columns: `> ` + 3 wide characters = 8, the 4th would need columns 9 and 10: fits;
        // the 5th starts row 1.
        let line = "一二三四五";
        let at = layout("> ", line, 0, 10);
        assert_eq!(at.end, Spot { row: 1, column: 2 });
        // With `>> ` (3 columns) the 4th wide character would straddle the edge: it wraps,
        // leaving the last column empty.
        let at = layout(">> ", line, "一二三".len(), 10);
        assert_eq!(at.cursor, Spot { row: 1, column: 0 });
        assert_eq!(at.end, Spot { row: 1, column: 4 });
    }

    #[test]
    fn a_line_that_fills_its_row_ends_on_the_next() {
        let at = layout("> ", "abcdefgh", 8, 10);
        assert_eq!(at.end, Spot { row: 1, column: 0 });
        assert_eq!(at.cursor, at.end);
    }
}
