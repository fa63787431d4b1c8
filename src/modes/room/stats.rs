//! `/stats`: a live view of the room, one line per member.
//!
//! ```text
//! nick        address          for    in lines/bytes  out lines/bytes     queued  held  dropped  limited
//! alice       127.0.0.1:50312  2m05s          12/340         40/1,231          0     0        0  no
//! bot-sleepy  127.0.0.1:50320  1m58s            2/71  9,811/5,310,422  1,048,112     0        0  no
//! flooder     127.0.0.1:50330  40s    51,466/102,932          3/1,204          0   100   51,093  yes
//! ```
//!
//! What each column shows, and where it comes from: the rules count what a member sent (`in`),
//! know whether it is over its rate limit (`limited`: the server has stopped reading it), how
//! many of its lines they hold until its allowance lets them out (`held`, at most `HELD_LINES`)
//! and how many they dropped because those were full (`dropped`, limits.rs); the
//! engine counts what was queued for it (`out`) and how many bytes still wait in its queue
//! (`queued`). A member that stops reading shows `queued` growing from one `/stats` to the next,
//! until the room disconnects it at the bound (`CLIENT_QUEUE` in engine.rs). The host sees every
//! member; a member sees its own line only (others' addresses are not its business).

use std::net::SocketAddr;
use std::time::Duration;

use super::actions::ClientId;
use crate::text::thousands;

/// Lines and bytes, counted one line or one block of lines at a time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub lines: u64,
    pub bytes: u64,
}

impl Traffic {
    /// Counts one line of `len` bytes and its newline.
    pub fn count(&mut self, len: usize) {
        self.lines += 1;
        self.bytes += len as u64 + 1;
    }

    /// Counts a block of `lines` lines, `bytes` bytes with their newlines.
    pub fn count_block(&mut self, lines: usize, bytes: usize) {
        self.lines += lines as u64;
        self.bytes += bytes as u64;
    }
}

/// What an engine knows about a client's output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Output {
    /// Every line put in its output (queued; written unless still waiting).
    pub sent: Traffic,
    /// Bytes waiting in its queue or buffer, not yet written to its socket.
    pub waiting: usize,
}

/// One member's line of `/stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: ClientId,
    pub nick: String,
    pub peer: SocketAddr,
    pub connected: Duration,
    /// What it sent the room.
    pub received: Traffic,
    /// Over its rate limit: not read until its allowance refills.
    pub limited: bool,
    /// Its lines the rules hold until its allowance lets them out (limits.rs, `HELD_LINES`).
    pub held: usize,
    /// Its lines dropped because the held ones were full.
    pub dropped: u64,
    /// Muted by the host (`/mute`): its messages are not relayed.
    pub muted: bool,
    /// Filled in by the engine; `None` if its connection is already gone.
    pub output: Option<Output>,
}

/// The table: a header and one line per row, columns aligned.
pub fn table(rows: &[Row]) -> Vec<String> {
    let header = [
        "nick",
        "address",
        "for",
        "in lines/bytes",
        "out lines/bytes",
        "queued",
        "held",
        "dropped",
        "limited",
    ];
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|row| {
            let (out, queued) = match row.output {
                Some(output) => (traffic(output.sent), thousands(output.waiting as u64)),
                None => ("-".to_string(), "-".to_string()),
            };
            [
                nick_cell(row),
                row.peer.to_string(),
                duration(row.connected),
                traffic(row.received),
                out,
                queued,
                thousands(row.held as u64),
                thousands(row.dropped),
                if row.limited { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut lines = vec![format_row(&header.map(str::to_string), &widths)];
    lines.extend(cells.iter().map(|row| format_row(row, &widths)));
    lines
}

/// The line under the table: how the room's output is shared now (limits.rs, `SharedOutput`),
/// given as `(speakers, bytes a second each)`, or `None` with limits off.
pub fn share_line(shares: Option<(usize, u32)>, total: u32) -> String {
    let kib = |bytes: u32| format!("{} KiB/s", thousands(u64::from(bytes / 1024)));
    match shares {
        None => "room output: not limited (--rate-limit 0)".to_string(),
        Some((0, _)) => format!("room output: {} shared by whoever speaks", kib(total)),
        Some((1, _)) => format!("room output: {}, all of it for the one speaker", kib(total)),
        Some((speakers, each)) => format!(
            "room output: {} shared by {speakers} speakers, {} each (an address's seats are one speaker)",
            kib(total),
            kib(each)
        ),
    }
}

/// A member's name, marked if the host muted it.
fn nick_cell(row: &Row) -> String {
    if row.muted {
        format!("{} (muted)", row.nick)
    } else {
        row.nick.clone()
    }
}

/// The host's `/who`: one member a line, in columns (name, address, time in the room), so a
/// class of 30 is 30 short rows that fit 80 columns, not one wrapped line.
pub fn who_table(rows: &[Row]) -> Vec<String> {
    let cells: Vec<[String; 3]> = rows
        .iter()
        .map(|row| {
            [
                nick_cell(row),
                row.peer.to_string(),
                duration(row.connected),
            ]
        })
        .collect();
    let header = ["name", "address", "in the room"];
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    std::iter::once(header.map(str::to_string))
        .chain(cells)
        .map(|[name, address, time]| {
            let (n, a) = (widths[0], widths[1]);
            format!("  {name:<n$}  {address:<a$}  {time}")
                .trim_end()
                .to_string()
        })
        .collect()
}

/// Text columns left-aligned, number columns right-aligned.
fn format_row(cells: &[String; 9], widths: &[usize; 9]) -> String {
    let mut line = String::new();
    for (column, (cell, &width)) in cells.iter().zip(widths).enumerate() {
        if column > 0 {
            line.push_str("  ");
        }
        if (3..=7).contains(&column) {
            line.push_str(&format!("{cell:>width$}"));
        } else {
            line.push_str(&format!("{cell:<width$}"));
        }
    }
    line.trim_end().to_string()
}

fn traffic(traffic: Traffic) -> String {
    format!("{}/{}", thousands(traffic.lines), thousands(traffic.bytes))
}

/// `12s`, `3m05s`, `1h02m`.
pub fn duration(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(nick: &str, waiting: usize) -> Row {
        let mut received = Traffic::default();
        received.count(4);
        Row {
            id: 1,
            nick: nick.to_string(),
            peer: "127.0.0.1:50312".parse().unwrap(),
            connected: Duration::from_secs(125),
            received,
            limited: false,
            held: 0,
            dropped: 0,
            muted: false,
            output: Some(Output {
                sent: Traffic {
                    lines: 9811,
                    bytes: 5_310_422,
                },
                waiting,
            }),
        }
    }

    #[test]
    fn the_table_aligns_every_column_under_its_header() {
        let lines = table(&[row("alice", 0), row("bot-sleepy", 1_048_112)]);
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("nick        address"), "{lines:#?}");
        assert!(lines[1].starts_with("alice       127.0.0.1:50312  2m05s"));
        assert!(
            lines[2].contains("9,811/5,310,422  1,048,112     0        0  no"),
            "{lines:#?}"
        );
        let queued_end = lines[0].find("queued").unwrap() + "queued".len();
        assert_eq!(
            lines[1][..queued_end].chars().last(),
            Some('0'),
            "{lines:#?}"
        );
    }

    #[test]
    fn who_is_a_table_that_fits_80_columns_for_a_class_of_30() {
        let rows: Vec<Row> = (1..=30)
            .map(|n| {
                let mut row = row(&format!("student-{n:02}"), 0);
                row.peer = format!("203.0.113.200:{}", 50000 + n).parse().unwrap();
                row.muted = n == 7;
                row
            })
            .collect();
        let lines = who_table(&rows);
        assert_eq!(lines.len(), 31);
        assert_eq!(
            lines[0],
            "  name                address              in the room"
        );
        assert_eq!(lines[1], "  student-01          203.0.113.200:50001  2m05s");
        assert_eq!(lines[7], "  student-07 (muted)  203.0.113.200:50007  2m05s");
        assert!(lines.iter().all(|l| l.chars().count() <= 80));
    }

    #[test]
    fn a_gone_connection_shows_dashes_not_zeros() {
        let mut gone = row("carol", 0);
        gone.output = None;
        let lines = table(&[gone]);
        assert!(
            lines[1].ends_with("  -       -     0        0  no"),
            "{lines:#?}"
        );
    }

    #[test]
    fn durations_and_numbers_read_like_a_person_writes_them() {
        assert_eq!(duration(Duration::from_secs(7)), "7s");
        assert_eq!(duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(duration(Duration::from_secs(3720)), "1h02m");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_048_576), "1,048,576");
    }
}
