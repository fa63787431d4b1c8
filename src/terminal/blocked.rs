//! The blocked-call status line's words: on a terminal, `half` shows which call its one thread
//! is blocked in, and for how long, while it waits for the peer.
//!
//! A blocked thread cannot draw anything: it is asleep in the kernel. So a helper thread redraws
//! the line once a second until the call returns (terminal.rs, `PeerTurn`). The line sits on the
//! row above the line being typed, at the bottom of the screen, where nothing else is printed:
//! whatever comes meanwhile (a trace line, a hint) is printed above it, so a redraw only ever
//! erases the status line itself. This file says what the line reads; it draws nothing.

/// `WORDS (N s)` for a call blocked `waited` so far (no count before the first second), cut to
/// fit one row of a screen `columns` wide after `netchat: `: a row that wrapped would take two,
/// and the redraw would miss one. The words are cut, never the count.
pub fn status_text(words: &str, waited: Option<std::time::Duration>, columns: usize) -> String {
    let count = waited.map_or(String::new(), |waited| format!(" ({} s)", waited.as_secs()));
    let room = columns.saturating_sub("netchat: ".len() + count.len() + 1);
    words.chars().take(room).chain(count.chars()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_count_is_never_cut_and_the_line_fits_one_row() {
        let words = "blocked in read() on the socket — waiting for the peer";
        assert_eq!(status_text(words, None, 100), words);
        let line = status_text(words, Some(Duration::from_millis(2_500)), 40);
        assert!(line.ends_with(" (2 s)"), "{line}");
        assert!("netchat: ".len() + line.chars().count() < 40, "{line}");
    }
}
