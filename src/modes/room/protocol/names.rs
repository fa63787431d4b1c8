//! Names in the room: which a member may take (`check_nick`), when two are the same because they
//! look alike (`lookalike_key`, Unicode's confusable skeleton), the host's, and a newcomer's.

use crate::text::escape_peer_text;

/// The longest nickname, in characters: long enough for a first name and a digit or two, short
/// enough that `/who` for a class of thirty fits on a few lines. A longer `/nick` is refused with
/// the reason.
pub const MAX_NICK: usize = 20;

/// The name the server's operator speaks under. Nobody else may take it.
pub const HOST_NICK: &str = "host";

/// Why a nickname was refused; the text is what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NickError {
    Empty,
    TooLong,
    BadCharacter(char),
    NotUtf8,
    Reserved,
    /// Only punctuation: `...` or `_` would be one name with every other such name.
    NoLetters,
}

impl std::fmt::Display for NickError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NickError::Empty => f.write_str("a name cannot be empty"),
            NickError::TooLong => write!(f, "a name has at most {MAX_NICK} characters"),
            NickError::BadCharacter(c) if c.is_whitespace() => {
                f.write_str("a name cannot contain spaces")
            }
            NickError::BadCharacter(c) if c.is_control() => {
                f.write_str("a name cannot contain control characters")
            }
            // The character came from a peer: shown escaped like any peer text, because it may be
            // a bidi override (U+202E) that would reverse the rest of this line on the screen.
            NickError::BadCharacter(c) if !c.is_ascii() => write!(
                f,
                "a name cannot contain '{}': use ASCII letters, digits, '-', '_' and '.' \
                 (letters from other alphabets can look exactly like someone else's name)",
                escape_peer_text(c.encode_utf8(&mut [0; 4]).as_bytes())
            ),
            NickError::BadCharacter(c) => write!(
                f,
                "a name cannot contain '{c}': use letters, digits, '-', '_' and '.'"
            ),
            NickError::NotUtf8 => f.write_str("a name must be valid UTF-8 text"),
            NickError::Reserved => write!(
                f,
                "'{HOST_NICK}' and names that look like it are the server's operator's"
            ),
            NickError::NoLetters => f.write_str("a name needs at least one letter or digit"),
        }
    }
}

/// Checks a requested nickname. Only ASCII letters, digits, `-`, `_` and `.` are allowed: no
/// spaces, brackets or control characters, so a name can never make a line look like it came
/// from someone else or smuggle an escape sequence onto a terminal; and no letters from other
/// alphabets, because a Cyrillic `а` looks exactly like a Latin `a` (`аlice` is not `alice`).
/// Names that merely *look* alike are caught by [`same_nick`].
// ANCHOR: check_nick
pub fn check_nick(name: &[u8]) -> Result<String, NickError> {
    let name = std::str::from_utf8(name).map_err(|_| NickError::NotUtf8)?;
    if name.is_empty() {
        return Err(NickError::Empty);
    }
    if name.chars().count() > MAX_NICK {
        return Err(NickError::TooLong);
    }
    if let Some(bad) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(NickError::BadCharacter(bad));
    }
    if !name.chars().any(|c| c.is_ascii_alphanumeric()) {
        return Err(NickError::NoLetters);
    }
    if same_nick(name, HOST_NICK) {
        return Err(NickError::Reserved);
    }
    Ok(name.to_string())
}
// ANCHOR_END: check_nick

/// Two names are the same if they *look* the same: `Alice`, `aIice` (capital i), `a1ice`,
/// `a.lice` and `alice` are one name, and so are `bob` and `b0b`, `marc` and `rnarc`, `dave` and
/// `clave`, `host` and `host_`.
pub fn same_nick(a: &str, b: &str) -> bool {
    lookalike_key(a) == lookalike_key(b)
}

/// Whether `/msg NAME` means the host (`/msg host TEXT`).
pub fn is_host(name: &[u8]) -> bool {
    std::str::from_utf8(name).is_ok_and(|name| same_nick(name, HOST_NICK))
}

/// The punctuation a name may contain, and which a reader's eye skips: `a.lice`, `a_lice`,
/// `-alice-` and `alice` read as the same name, so they are one name.
fn is_name_punctuation(c: char) -> bool {
    matches!(c, '.' | '_' | '-')
}

/// The confusable skeleton of a name (Unicode's UTS #39): what it looks like, with the
/// punctuation dropped and every character replaced by the one it is drawn like. Two names are
/// the same exactly when their keys are equal, so the rules index names by key.
///
/// Unicode's table maps `1`, `I` and `l` to `l`, `0` to `O`, `m` to `rn`, and thousands of
/// characters of other alphabets to the Latin letter they look like. It does not fold case, and
/// it maps one character at a time, so a few folds are added by hand: `i` is drawn like `l` in
/// many fonts once lowered (`ALICE` must meet `aIice`), `cl` like `d`, `vv` like `w`; and the
/// digits a reader takes for letters ("leetspeak": `ho5t`, `4lice`, `8ob`, `ol9a`), with `q`
/// like `g` ([`looks_like`]). The table comes from the `unicode-security` crate, which rustc
/// uses for its own lookalike-identifier lint: hand-written folds alone would miss most of it.
// ANCHOR: lookalike_key
pub fn lookalike_key(name: &str) -> String {
    let bare: String = name
        .chars()
        .filter(|&c| !is_name_punctuation(c))
        .flat_map(char::to_lowercase)
        .collect();
    skeleton(&bare)
        .to_lowercase()
        .chars()
        .map(looks_like)
        .collect::<String>()
        .replace("cl", "d")
        .replace("vv", "w")
}
// ANCHOR_END: lookalike_key

/// The letter a lowercase character (after the skeleton) is read as: `0` as `o`; `1` and `i`
/// as `l`; `3` as `e`; `4` as `a`; `5` as `s`; `7` as `t`; `8` as `b`; `9` and `q` as `g`.
fn looks_like(c: char) -> char {
    match c {
        '0' => 'o',
        '1' | 'i' => 'l',
        '3' => 'e',
        '4' => 'a',
        '5' => 's',
        '7' => 't',
        '8' => 'b',
        '9' | 'q' => 'g',
        other => other,
    }
}

fn skeleton(text: &str) -> String {
    unicode_security::confusable_detection::skeleton(text).collect()
}

/// The name a newcomer gets until it picks one.
pub fn guest_nick(number: u64) -> String {
    format!("guest-{number}")
}
