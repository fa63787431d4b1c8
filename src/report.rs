//! `netchat report`: a room's event logs (`--events`) turned into one row per student, to grade
//! a lab from.
//!
//! ```text
//! $ netchat report class.jsonl
//! names        address    joined    left      in room  lines  words  private  host
//! alice        127.0.0.2  14:02:07  14:51:30  49m23s      12     85        1
//! guest-2 bob  127.0.0.2  14:02:09  -         1h01m        3      9        0  muted
//! ```
//!
//! A row is one connection of the room (a student who left and came back is two rows, each with
//! its own address and times): the names it used, in order; its address; when it joined and left
//! (`-`: still there when the log ends); its time in the room; the lines it said to the room
//! (messages and `/me`), their words, the private messages it sent; and whether the host kicked
//! it, muted it, or the room dropped it. `--csv` writes the same for a spreadsheet, times as
//! `YYYY-MM-DD HH:MM:SS` and the time in the room in seconds.
//!
//! Reads the logs only, through diagram.rs's reader, and opens no socket: a bad log is one error
//! line (exit 1), never a panic. Several logs (two rooms, two days) are read one after the other;
//! a log's clients are its own.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::console::Console;
use crate::diagram::{Log, read_log};
use crate::error::Result;
use crate::observe::Event;
use crate::text::{escape_peer_text, width};

/// The host's lines in the log carry this client number: not a student.
const HOST_CLIENT: u64 = 0;

/// One connection of the room, as the report shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Student {
    /// Every name it had, in order, the first `guest-N` left out once it chose one.
    pub names: Vec<String>,
    /// Its address, without the port.
    pub address: String,
    /// Unix seconds.
    pub joined: f64,
    /// Unix seconds; `None`: still in the room when the log ends.
    pub left: Option<f64>,
    /// Seconds in the room (until the log's last event if it never left).
    pub seconds: f64,
    pub lines: u64,
    pub words: u64,
    pub private: u64,
    /// `muted`, `kicked`, `banned`, `dropped`: what the host (or the room) did to it.
    pub marks: Vec<&'static str>,
}

/// Every student of every log, in the order they joined.
pub fn students(logs: &[Log]) -> Vec<Student> {
    let mut all = Vec::new();
    for log in logs {
        let mut here: BTreeMap<u64, Student> = BTreeMap::new();
        let mut last = 0.0_f64;
        for record in log.records() {
            let t = log.start() + record.t;
            last = last.max(t);
            match &record.event {
                Event::Joined { client, nick, peer } if *client != HOST_CLIENT => {
                    here.insert(
                        *client,
                        Student {
                            names: vec![nick.clone()],
                            address: address_of(peer),
                            joined: t,
                            ..Student::default()
                        },
                    );
                }
                Event::Renamed { client, to, .. } => {
                    if let Some(student) = here.get_mut(client) {
                        // `guest-3` was the room's name for it, not its own.
                        if student.names.len() == 1 && student.names[0].starts_with("guest-") {
                            student.names.clear();
                        }
                        if !student.names.contains(to) {
                            student.names.push(to.clone());
                        }
                    }
                }
                Event::Message { client, text, .. } => {
                    if let Some(student) = here.get_mut(client) {
                        student.lines += 1;
                        student.words += text.split_whitespace().count() as u64;
                    }
                }
                Event::Private { from_client, .. } => {
                    if let Some(student) = here.get_mut(from_client) {
                        student.private += 1;
                    }
                }
                Event::Muted { client, .. } => mark(&mut here, *client, "muted"),
                Event::Kicked { client, why, .. } => {
                    let what = if why.contains("banned") {
                        "banned"
                    } else {
                        "kicked"
                    };
                    mark(&mut here, *client, what);
                    leave(&mut here, *client, t);
                }
                Event::Evicted { client, .. } => {
                    mark(&mut here, *client, "dropped");
                    leave(&mut here, *client, t);
                }
                Event::Left { client, .. } => leave(&mut here, *client, t),
                _ => {}
            }
        }
        for student in here.values_mut() {
            student.seconds = (student.left.unwrap_or(last) - student.joined).max(0.0);
        }
        all.extend(here.into_values());
    }
    all
}

fn mark(here: &mut BTreeMap<u64, Student>, client: u64, what: &'static str) {
    if let Some(student) = here.get_mut(&client) {
        if !student.marks.contains(&what) {
            student.marks.push(what);
        }
    }
}

fn leave(here: &mut BTreeMap<u64, Student>, client: u64, t: f64) {
    if let Some(student) = here.get_mut(&client) {
        student.left.get_or_insert(t);
    }
}

/// `127.0.0.15:41234` → `127.0.0.15`, `[::1]:5000` → `::1`.
fn address_of(peer: &str) -> String {
    match peer.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        _ => peer.to_string(),
    }
}

/// Unix seconds as local time, in `format` (jiff's strftime).
fn local(unix: f64, format: &str) -> String {
    let micros = (unix * 1e6).round() as i64;
    match jiff::Timestamp::from_microsecond(micros) {
        Ok(at) => at
            .to_zoned(jiff::tz::TimeZone::system())
            .strftime(format)
            .to_string(),
        Err(_) => "?".to_string(),
    }
}

/// `12s`, `3m05s`, `1h02m`: as `/stats` writes it.
fn duration(seconds: f64) -> String {
    let seconds = Duration::from_secs_f64(seconds.max(0.0)).as_secs();
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

/// The names, escaped (a log is a file anyone could have edited: nothing from it reaches the
/// terminal raw).
fn names(student: &Student) -> String {
    let names: Vec<String> = student
        .names
        .iter()
        .map(|n| escape_peer_text(n.as_bytes()))
        .collect();
    names.join(" ")
}

/// The aligned table: a header and one row per student, numbers right-aligned, columns
/// measured as the terminal shows them.
pub fn table(students: &[Student]) -> String {
    let header = [
        "names", "address", "joined", "left", "in room", "lines", "words", "private", "host",
    ];
    let rows: Vec<[String; 9]> = students
        .iter()
        .map(|s| {
            [
                names(s),
                escape_peer_text(s.address.as_bytes()),
                local(s.joined, "%H:%M:%S"),
                s.left.map_or("-".to_string(), |t| local(t, "%H:%M:%S")),
                duration(s.seconds),
                s.lines.to_string(),
                s.words.to_string(),
                s.private.to_string(),
                s.marks.join(", "),
            ]
        })
        .collect();
    let mut widths = header.map(width);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header.map(str::to_string)).chain(rows) {
        let mut line = String::new();
        for (column, (cell, &w)) in row.iter().zip(&widths).enumerate() {
            if column > 0 {
                line.push_str("  ");
            }
            let pad = " ".repeat(w.saturating_sub(width(cell)));
            if (5..=7).contains(&column) {
                line.push_str(&pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&pad);
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// The same as CSV (RFC 4180: a field with a comma, a quote or a line break is quoted).
pub fn csv(students: &[Student]) -> String {
    let field = |text: &str| {
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_string()
        }
    };
    let mut out = String::from(
        "names,address,joined,left,seconds_in_room,lines,words,private_messages,host\n",
    );
    for s in students {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            field(&names(s)),
            field(&escape_peer_text(s.address.as_bytes())),
            local(s.joined, "%Y-%m-%d %H:%M:%S"),
            s.left
                .map_or(String::new(), |t| local(t, "%Y-%m-%d %H:%M:%S")),
            // Whole seconds, as the table counts them.
            s.seconds.floor(),
            s.lines,
            s.words,
            s.private,
            field(&s.marks.join(" ")),
        );
    }
    out
}

/// `netchat report LOG… [--csv]`: reads every log, then prints the table (or the CSV) on stdout.
pub fn run(paths: &[PathBuf], as_csv: bool, console: &mut Console) -> Result<()> {
    let mut logs = Vec::new();
    for path in paths {
        logs.push(read_log(path)?);
    }
    let students = students(&logs);
    let text = if as_csv {
        csv(&students)
    } else if students.is_empty() {
        "nobody joined a room in these logs (were they written by netchat room --events?)\n"
            .to_string()
    } else {
        table(&students)
    };
    console.print(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagram::parse_log;

    const CLASS: &str = r#"{"v":1,"t":0.0,"event":"started","unix":1700000000.0,"mode":"room","version":"x"}
{"v":1,"t":1.0,"event":"joined","client":1,"nick":"guest-1","peer":"127.0.0.2:5000"}
{"v":1,"t":2.0,"event":"renamed","client":1,"from":"guest-1","to":"alice"}
{"v":1,"t":3.0,"event":"joined","client":2,"nick":"guest-2","peer":"[::1]:5001"}
{"v":1,"t":4.0,"event":"message","client":1,"nick":"alice","text":"hello there class"}
{"v":1,"t":5.0,"event":"message","client":0,"nick":"host","text":"hi alice"}
{"v":1,"t":6.0,"event":"private","from":"alice","to":"guest-2","from_client":1,"to_client":2}
{"v":1,"t":7.0,"event":"muted","client":2,"nick":"guest-2"}
{"v":1,"t":8.0,"event":"message","client":2,"nick":"guest-2","text":"x, y"}
{"v":1,"t":61.0,"event":"left","client":1,"nick":"alice","why":"left"}
{"v":1,"t":70.0,"event":"kicked","client":2,"nick":"guest-2","why":"was kicked"}
"#;

    #[test]
    fn a_class_log_becomes_one_row_per_student() {
        let log = parse_log(CLASS).unwrap();
        let students = students(&[log]);
        assert_eq!(students.len(), 2, "the host is no student");
        let alice = &students[0];
        assert_eq!(alice.names, ["alice"]);
        assert_eq!(alice.address, "127.0.0.2");
        assert_eq!((alice.lines, alice.words, alice.private), (1, 3, 1));
        assert_eq!(alice.seconds, 60.0);
        let other = &students[1];
        assert_eq!(other.names, ["guest-2"]);
        assert_eq!(other.address, "::1");
        assert_eq!(other.marks, ["muted", "kicked"]);
        let csv = csv(&students);
        let rows: Vec<&str> = csv.lines().collect();
        assert!(rows[1].starts_with("alice,127.0.0.2,20"), "{csv}");
        assert!(rows[1].ends_with(",60,1,3,1,"), "{csv}");
        assert!(rows[2].ends_with(",67,1,2,0,muted kicked"), "{csv}");
        let table = table(&students);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("names    address    joined"),
            "{table}"
        );
        assert!(
            lines[2].ends_with("1m07s        1      2        0  muted, kicked"),
            "{table}"
        );
    }

    #[test]
    fn a_name_from_an_edited_log_is_escaped() {
        let text = CLASS.replace("\"to\":\"alice\"", "\"to\":\"\\u001b[41malice\"");
        let students = students(&[parse_log(&text).unwrap()]);
        assert!(table(&students).contains("\\x1b[41malice"));
        assert!(!table(&students).contains('\u{1b}'));
    }
}
