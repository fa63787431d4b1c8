//! `netchat diagram`: a sequence diagram drawn from event logs (`--events`).
//!
//! Give it one log, or the logs of both sides of one conversation: they are merged by time (each
//! log's `started` line says when its clock began). Messages become arrows labelled with their
//! text; FIN, RST, quits and joins become notes; and the moments the lessons are about are
//! marked: one `read()` that held two messages, a message that took several reads, one `write()`
//! that carried several messages or only part of one.
//!
//! Two formats: Mermaid's `sequenceDiagram` (GitHub and most Markdown viewers draw it; the
//! lessons embed one), and plain text columns for a terminal.
//!
//! Each message is drawn once: by its sender's `sent` when the sender's log is here, otherwise by
//! the receiver's `received` (a room server's log draws its members' messages unless their own
//! logs are given too). In a room, a message is one arrow that says how many it reached, not an
//! arrow per member; the room's log is indexed once, so drawing is linear in the log.
//!
//! A class's log stays readable and the output bounded: [`Filter`] (`--only`, `--from`,
//! `--until`) draws a part of it, and lifelines beyond [`MAX_PARTICIPANTS`] fold into one column.
//! Every label is a peer's text escaped. A bad log is one error line (exit 1), never a panic.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use unicode_segmentation::UnicodeSegmentation;

use crate::console::Console;
use crate::endpoint::Role;
use crate::error::{Error, Result};
use crate::observe::{By, Event, Record, SCHEMA_VERSION};
use crate::text::{self, escape_peer_text};

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagramFormat {
    Mermaid,
    Text,
}

/// `--only`, `--from`, `--until`: which part of a (class-sized) log to draw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// `--only NICK`: that member (under any of its names) and the room.
    pub only: Option<String>,
    /// `--from SECONDS`: steps at or after this time (the time column's seconds).
    pub from: Option<f64>,
    /// `--until SECONDS`: steps at or before this time.
    pub until: Option<f64>,
}

/// The most lifelines drawn: beyond it, the rest share one column (`N more`), and a note says
/// so. A class of 30 drawn as 31 columns of 34 characters is over a thousand columns wide;
/// `--only NICK` draws one member. Bounds the output (and the memory of each row) however many
/// participants a log names.
pub const MAX_PARTICIPANTS: usize = 12;

/// `netchat diagram LOG... [--format …] [--only NICK] [--from S] [--until S]`: reads every log
/// (a missing or corrupt one is one error line, exit 1), then prints the diagram on stdout.
pub fn run(
    paths: &[PathBuf],
    format: DiagramFormat,
    filter: &Filter,
    console: &mut Console,
) -> Result<()> {
    let mut logs = Vec::new();
    for path in paths {
        logs.push(read_log(path)?);
    }
    let diagram = Diagram::from_logs(&logs)
        .filtered(filter)
        .map_err(|why| Error::Usage {
            message: why,
            hint: "the names are the ones the room's log gives its members (joined, renamed)"
                .to_string(),
        })?
        .folded(MAX_PARTICIPANTS);
    let text = match format {
        DiagramFormat::Mermaid => diagram.mermaid(),
        DiagramFormat::Text => diagram.text(),
    };
    console.print(&text)
}

/// One event log, parsed.
#[derive(Debug)]
pub struct Log {
    /// When its clock started (Unix seconds), from its `started` line; 0 if it has none.
    start: f64,
    records: Vec<Record>,
}

impl Log {
    /// Its events, in the order written.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// When its clock started (Unix seconds), 0 if unknown.
    pub fn start(&self) -> f64 {
        self.start
    }
}

/// Reads and parses one log file.
pub fn read_log(path: &Path) -> Result<Log> {
    let shown = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| Error::BadLog {
        path: shown.clone(),
        why: format!("cannot read it: {e}"),
    })?;
    parse_log(&String::from_utf8_lossy(&text)).map_err(|why| Error::BadLog { path: shown, why })
}

/// Parses the text of a log: one JSON object per line, blank lines skipped. The error says which
/// line is wrong and how.
pub fn parse_log(text: &str) -> std::result::Result<Log, String> {
    let mut records = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(line).map_err(|e| {
            format!(
                "line {} is not an event (a JSON object with \"v\", \"t\" and \"event\"): {e}",
                number + 1
            )
        })?;
        if record.v != SCHEMA_VERSION {
            return Err(format!(
                "line {} has schema version {}; this netchat reads version {SCHEMA_VERSION}",
                number + 1,
                record.v
            ));
        }
        records.push(record);
    }
    if records.is_empty() {
        return Err("it holds no events (was it written with --events?)".to_string());
    }
    let start = records
        .iter()
        .find_map(|record| match record.event {
            Event::Started { unix, .. } => Some(unix),
            _ => None,
        })
        .unwrap_or(0.0);
    Ok(Log { start, records })
}

/// A lifeline: one side of a conversation, or a room and its members.
#[derive(Debug)]
struct Participant {
    label: String,
    /// Every name a room member had in the log (for `--only`); empty for anyone else.
    names: Vec<String>,
}

/// One step of the diagram.
#[derive(Debug, PartialEq)]
enum Step {
    Arrow {
        from: usize,
        to: usize,
        label: String,
    },
    Note {
        over: usize,
        text: String,
    },
}

impl Step {
    /// The step with its participants renumbered by `map`; `None` if one of them is dropped.
    fn remapped(self, map: &[Option<usize>]) -> Option<Step> {
        let at = |index: usize| map.get(index).copied().flatten();
        Some(match self {
            Step::Arrow { from, to, label } => Step::Arrow {
                from: at(from)?,
                to: at(to)?,
                label,
            },
            Step::Note { over, text } => Step::Note {
                over: at(over)?,
                text,
            },
        })
    }
}

/// The diagram, independent of how it is drawn.
#[derive(Debug, Default)]
pub struct Diagram {
    participants: Vec<Participant>,
    /// Addresses (and room members) to participants.
    by_key: HashMap<String, usize>,
    /// Steps with their time in seconds since the first event of all the logs, in order.
    steps: Vec<(f64, Step)>,
}

/// Who one log speaks for.
#[derive(Debug, Clone)]
enum Identity {
    /// A two-person mode or a room client: our address and the peer's.
    Pair { me: String, peer: Option<String> },
    /// A room server: its address(es); members are keyed by their address.
    Room { me: String },
}

fn identify(log: &Log) -> Identity {
    let events = || log.records.iter().map(|record| &record.event);
    let is_room_server = events().any(|event| {
        matches!(
            event,
            Event::Joined { .. }
                | Event::Connected {
                    client: Some(_),
                    ..
                }
        )
    }) || (events()
        .any(|event| matches!(event, Event::Started { mode, .. } if mode == "room"))
        && events().any(|event| matches!(event, Event::Listening { .. })));
    let connected = log.records.iter().find_map(|record| match &record.event {
        Event::Connected { local, peer, .. } => Some((local.clone(), peer.clone())),
        _ => None,
    });
    let listening = log.records.iter().find_map(|record| match &record.event {
        Event::Listening { addr } => Some(addr.clone()),
        _ => None,
    });
    match (is_room_server, connected, listening) {
        (true, Some((local, _)), _) => Identity::Room { me: local },
        (true, None, Some(addr)) => Identity::Room { me: addr },
        (true, None, None) => Identity::Room {
            me: "room".to_string(),
        },
        (false, Some((me, peer)), _) => Identity::Pair {
            me,
            peer: Some(peer),
        },
        (false, None, listening) => Identity::Pair {
            me: listening.unwrap_or_else(|| "netchat".to_string()),
            peer: None,
        },
    }
}

impl Diagram {
    /// Builds the diagram from parsed logs.
    pub fn from_logs(logs: &[Log]) -> Diagram {
        let mut diagram = Diagram::default();
        let identities: Vec<Identity> = logs.iter().map(identify).collect();
        // Whose own logs are here: their `sent` draws their messages.
        let mut logged: HashSet<String> = HashSet::new();
        // Room servers first, so members are labelled by their names, not addresses.
        let mut order: Vec<usize> = (0..logs.len()).collect();
        order.sort_by_key(|&i| !matches!(identities[i], Identity::Room { .. }));
        // Each room log's members, read once: who joined from where, under which names.
        let indexes: Vec<Option<RoomIndex>> = logs
            .iter()
            .zip(&identities)
            .map(|(log, identity)| {
                matches!(identity, Identity::Room { .. }).then(|| RoomIndex::of(log))
            })
            .collect();
        for &i in &order {
            match &identities[i] {
                Identity::Room { me } => {
                    logged.insert(me.clone());
                    diagram.participant(me, "room".to_string());
                    if let Some(index) = &indexes[i] {
                        for peer in &index.order {
                            let at = diagram.participant(peer, index.label(peer));
                            diagram.participants[at].names = index.names_of(peer);
                        }
                    }
                }
                Identity::Pair { me, .. } => {
                    logged.insert(me.clone());
                    let role = logs[i]
                        .records
                        .iter()
                        .find_map(|record| match record.event {
                            Event::Connected { role, .. } => Some(role),
                            _ => None,
                        });
                    let label = match role {
                        Some(Role::Listener) => format!("listener {me}"),
                        Some(Role::Connector) => format!("connector {me}"),
                        None => me.clone(),
                    };
                    diagram.participant(me, label);
                }
            }
        }
        let origin = logs
            .iter()
            .filter_map(|log| log.records.first().map(|first| log.start + first.t))
            .fold(f64::INFINITY, f64::min);
        let mut steps = Vec::new();
        for ((log, identity), index) in logs.iter().zip(&identities).zip(&indexes) {
            // How many are in the room: whom a message reaches.
            let mut present = 0usize;
            for record in &log.records {
                let time = log.start + record.t - origin;
                let found = match (identity, index) {
                    (Identity::Room { me }, Some(index)) => {
                        diagram.room_steps(index, &record.event, me, &logged, &mut present)
                    }
                    (Identity::Pair { me, .. }, _) | (Identity::Room { me }, None) => {
                        let peer = match identity {
                            Identity::Pair { peer, .. } => peer.as_deref(),
                            Identity::Room { .. } => None,
                        };
                        diagram.pair_steps(&record.event, me, peer, &logged)
                    }
                };
                steps.extend(found.into_iter().map(|step| (time, step)));
            }
        }
        // Stable: steps at the same moment keep the order their log wrote them in.
        steps.sort_by(|a, b| a.0.total_cmp(&b.0));
        diagram.steps = steps;
        diagram
    }

    fn participant(&mut self, key: &str, label: String) -> usize {
        if let Some(&index) = self.by_key.get(key) {
            return index;
        }
        self.participants.push(Participant {
            label,
            names: Vec::new(),
        });
        let index = self.participants.len() - 1;
        self.by_key.insert(key.to_string(), index);
        index
    }

    /// Steps from one event of a two-person (or room client) log.
    fn pair_steps(
        &mut self,
        event: &Event,
        me: &str,
        peer: Option<&str>,
        logged: &HashSet<String>,
    ) -> Vec<Step> {
        let us = self.participant(me, me.to_string());
        let them = peer.map(|peer| self.participant(peer, peer.to_string()));
        let peer_logged = peer.is_some_and(|peer| logged.contains(peer));
        let note = |text: String| vec![Step::Note { over: us, text }];
        match event {
            Event::Listening { addr } => note(format!("listening on {addr}")),
            Event::Connected {
                role,
                peer,
                nodelay,
                ..
            } => {
                let how = match role {
                    Role::Listener => "accepted",
                    Role::Connector => "connected to",
                };
                let nagle = if *nodelay { "on" } else { "off" };
                note(format!("{how} {peer} (TCP_NODELAY {nagle})"))
            }
            Event::Sent { text, .. } => match them {
                Some(them) => vec![Step::Arrow {
                    from: us,
                    to: them,
                    label: text.clone(),
                }],
                None => note(format!("sent: {text}")),
            },
            Event::Received { text, .. } if !peer_logged => match them {
                Some(them) => vec![Step::Arrow {
                    from: them,
                    to: us,
                    label: text.clone(),
                }],
                None => note(format!("received: {text}")),
            },
            Event::Quit { by: By::Us, word } => note(format!("quit ({word})")),
            Event::Quit { by: By::Peer, word } if !peer_logged => {
                note(format!("the peer quit ({word})"))
            }
            Event::Notice { text } => note(text.clone()),
            other => socket_note(other).map_or_else(Vec::new, note),
        }
    }

    /// Steps from one event of a room server's log.
    fn room_steps(
        &mut self,
        index: &RoomIndex,
        event: &Event,
        me: &str,
        logged: &HashSet<String>,
        present: &mut usize,
    ) -> Vec<Step> {
        let room = self.participant(me, "room".to_string());
        match event {
            Event::Joined { .. } => *present += 1,
            Event::Left { .. } | Event::Kicked { .. } | Event::Evicted { .. } => {
                *present = present.saturating_sub(1);
            }
            _ => {}
        }
        let reached = present.saturating_sub(1);
        let mut member = |client: u64| -> (usize, bool) {
            let peer = index
                .peers
                .get(&client)
                .cloned()
                .unwrap_or_else(|| format!("#{client}"));
            let label = index.label(&peer);
            (self.participant(&peer, label), logged.contains(&peer))
        };
        match event {
            Event::Listening { addr } => vec![Step::Note {
                over: room,
                text: format!("listening on {addr}"),
            }],
            Event::Joined {
                client, nick, peer, ..
            } => vec![Step::Note {
                over: member(*client).0,
                text: format!("joined from {peer} as {nick}"),
            }],
            Event::Renamed { client, from, to } => vec![Step::Note {
                over: member(*client).0,
                text: format!("{from} is now {to}"),
            }],
            // The host's own lines (client 0) come from the room itself.
            Event::Message {
                client: 0, text, ..
            } => vec![Step::Note {
                over: room,
                text: format!("[host] {text} (→ {present} members)"),
            }],
            // One arrow to the room, and whom it reached: not one arrow per member.
            Event::Message { client, text, .. } => match member(*client) {
                (_, true) => Vec::new(),
                (from, false) => vec![Step::Arrow {
                    from,
                    to: room,
                    label: format!(
                        "{text} (→ {reached} member{})",
                        if reached == 1 { "" } else { "s" }
                    ),
                }],
            },
            Event::Private {
                from_client,
                to_client,
                ..
            } => vec![Step::Arrow {
                from: member(*from_client).0,
                to: member(*to_client).0,
                label: "(private message)".to_string(),
            }],
            Event::Left { client, why, .. }
            | Event::Kicked { client, why, .. }
            | Event::Evicted { client, why, .. } => vec![Step::Note {
                over: member(*client).0,
                text: why.clone(),
            }],
            Event::Refused { peer, why } => vec![Step::Note {
                over: room,
                text: format!("refused {peer}: {why}"),
            }],
            Event::Connected {
                client: Some(_), ..
            } => Vec::new(),
            other => {
                let client = match other {
                    Event::Read { client, .. }
                    | Event::Write { client, .. }
                    | Event::FinSent { client }
                    | Event::FinReceived { client }
                    | Event::Reset { client, .. }
                    | Event::Closed { client } => *client,
                    _ => None,
                };
                match (socket_note(other), client) {
                    (Some(text), Some(client)) => vec![Step::Note {
                        over: room,
                        text: format!("client {client}: {text}"),
                    }],
                    (Some(text), None) => vec![Step::Note { over: room, text }],
                    (None, _) => Vec::new(),
                }
            }
        }
    }

    /// Only what `filter` asks for: `--only NICK` keeps the room, that member and what passes
    /// between them; `--from` and `--until` a window of time. An `--only` name nobody had is an
    /// error (the sentence says so).
    pub fn filtered(self, filter: &Filter) -> std::result::Result<Diagram, String> {
        let in_window = |time: f64| {
            filter.from.is_none_or(|from| time >= from)
                && filter.until.is_none_or(|until| time <= until)
        };
        let keep: Vec<bool> = match &filter.only {
            None => vec![true; self.participants.len()],
            Some(nick) => {
                let keep: Vec<bool> = self
                    .participants
                    .iter()
                    .map(|p| {
                        p.label == "room" || p.names.iter().any(|n| n.eq_ignore_ascii_case(nick))
                    })
                    .collect();
                let found = self
                    .participants
                    .iter()
                    .any(|p| p.names.iter().any(|n| n.eq_ignore_ascii_case(nick)));
                if !found {
                    return Err(format!(
                        "--only {}: no room member had that name in these logs",
                        escape_peer_text(nick.as_bytes())
                    ));
                }
                keep
            }
        };
        let map: Vec<Option<usize>> = keep
            .iter()
            .scan(0, |next, &kept| {
                Some(kept.then(|| {
                    *next += 1;
                    *next - 1
                }))
            })
            .collect();
        let steps = self
            .steps
            .into_iter()
            .filter(|(time, _)| in_window(*time))
            .filter_map(|(time, step)| Some((time, step.remapped(&map)?)))
            .collect();
        let participants = self
            .participants
            .into_iter()
            .zip(&keep)
            .filter_map(|(p, &kept)| kept.then_some(p))
            .collect();
        Ok(Diagram {
            participants,
            by_key: HashMap::new(),
            steps,
        })
    }

    /// At most `max` lifelines: the participants beyond `max - 1` share the last one, and a
    /// note at the top says how many it holds.
    pub fn folded(self, max: usize) -> Diagram {
        let max = max.max(2);
        if self.participants.len() <= max {
            return self;
        }
        let folded = self.participants.len() - (max - 1);
        let map: Vec<Option<usize>> = (0..self.participants.len())
            .map(|index| Some(index.min(max - 1)))
            .collect();
        let mut participants: Vec<Participant> =
            self.participants.into_iter().take(max - 1).collect();
        participants.push(Participant {
            label: format!("{folded} more"),
            names: Vec::new(),
        });
        let first = self.steps.first().map_or(0.0, |(time, _)| *time);
        let mut steps = vec![(
            first,
            Step::Note {
                over: max - 1,
                text: format!(
                    "{folded} participants share this column (at most {max} are drawn; \
                     --only NICK draws one member)"
                ),
            },
        )];
        steps.extend(
            self.steps
                .into_iter()
                .filter_map(|(time, step)| Some((time, step.remapped(&map)?))),
        );
        Diagram {
            participants,
            by_key: HashMap::new(),
            steps,
        }
    }

    /// The diagram in Mermaid's `sequenceDiagram` syntax.
    pub fn mermaid(&self) -> String {
        let mut out = String::from("sequenceDiagram\n");
        for (index, participant) in self.participants.iter().enumerate() {
            let _ = writeln!(
                out,
                "    participant p{index} as {}",
                mermaid_text(&participant.label)
            );
        }
        for (_, step) in &self.steps {
            let _ = match step {
                Step::Arrow { from, to, label } => {
                    writeln!(out, "    p{from}->>p{to}: {}", mermaid_label(label))
                }
                Step::Note { over, text } => {
                    writeln!(out, "    Note over p{over}: {}", mermaid_text(text))
                }
            };
        }
        out
    }

    /// The diagram as text columns: one lifeline per participant, time on the left.
    pub fn text(&self) -> String {
        let columns = self.participants.len().max(1);
        let width = TEXT_COLUMN;
        let line_of = |index: usize| TIME_WIDTH + index * width + width / 2;
        let total = TIME_WIDTH + columns * width;
        let mut out = String::new();
        // Header: each label centred over its lifeline.
        let mut header = blank_row(total);
        put(&mut header, 0, &format!("{:>8}", "time (s)"));
        for (index, participant) in self.participants.iter().enumerate() {
            let label = fit(&escape_peer_text(participant.label.as_bytes()), width - 2);
            let start = line_of(index).saturating_sub(text::width(&label) / 2);
            put(&mut header, start, &label);
        }
        push_row(&mut out, &header);
        for (time, step) in &self.steps {
            let mut row = blank_row(total);
            for index in 0..columns {
                set(&mut row, line_of(index), "|");
            }
            put(&mut row, 0, &format!("{time:>8.3}"));
            match step {
                Step::Arrow { from, to, label } if from != to => {
                    let (left, right) = (line_of(*from.min(to)), line_of(*from.max(to)));
                    for column in left + 1..right {
                        set(&mut row, column, "-");
                    }
                    if from < to {
                        set(&mut row, right - 1, ">");
                    } else {
                        set(&mut row, left + 1, "<");
                    }
                    let room = right - left - 5;
                    let label = fit(&format!(" {} ", escape_peer_text(label.as_bytes())), room);
                    put(&mut row, left + 3, &label);
                }
                Step::Arrow { from, label, .. } => {
                    let text = format!(" (to itself) {}", escape_peer_text(label.as_bytes()));
                    put(&mut row, line_of(*from) + 2, &text);
                }
                Step::Note { over, text } => {
                    let text = format!("[{}]", escape_peer_text(text.as_bytes()));
                    put(&mut row, line_of(*over) + 2, &text);
                }
            }
            push_row(&mut out, &row);
        }
        out
    }
}

/// Width of one participant's column in the text format.
const TEXT_COLUMN: usize = 34;

/// Width of the time column in the text format.
const TIME_WIDTH: usize = 10;

/// One row of the text format, a cell per terminal column: the grapheme drawn there, or `""`
/// in the column a wide character (CJK, emoji) covers after its own, so that every row's
/// lifelines stand in the same columns whatever the labels hold.
type Row = Vec<String>;

fn blank_row(total: usize) -> Row {
    vec![" ".to_string(); total]
}

/// Writes `text` into `row` from column `start`, growing the row if it runs past the end.
/// Columns are measured by the one width model (text.rs): a wide character takes two cells, a
/// tab the blanks to its stop.
fn put(row: &mut Row, start: usize, label: &str) {
    let mut column = start;
    for grapheme in label.graphemes(true) {
        let width = text::grapheme_width(grapheme, column);
        if grapheme == "\t" {
            for _ in 0..width {
                set(row, column, " ");
                column += 1;
            }
            continue;
        }
        if width == 0 {
            // A mark with nothing before it in the label: drawn on what is there.
            if let Some(cell) = column.checked_sub(1).and_then(|before| row.get_mut(before)) {
                cell.push_str(grapheme);
            }
            continue;
        }
        set(row, column, grapheme);
        for covered in column + 1..column + width {
            set(row, covered, "");
        }
        column += width;
    }
}

/// Puts `cell` in `column`. A wide character partly overwritten leaves a blank in the column
/// it still covers, so no row is ever shifted by half a character.
fn set(row: &mut Row, column: usize, cell: &str) {
    while row.len() <= column {
        row.push(" ".to_string());
    }
    if row[column].is_empty() {
        // The right half of a wide character: its left half becomes a blank.
        let mut owner = column;
        while owner > 0 && row[owner].is_empty() {
            owner -= 1;
        }
        row[owner] = " ".to_string();
        for cell in &mut row[owner + 1..column] {
            *cell = " ".to_string();
        }
    }
    let mut next = column + 1;
    while next < row.len() && row[next].is_empty() {
        // The left half of a wide character: what it covered becomes blanks.
        row[next] = " ".to_string();
        next += 1;
    }
    row[column] = cell.to_string();
}

fn push_row(out: &mut String, row: &[String]) {
    let line: String = row.concat();
    out.push_str(line.trim_end());
    out.push('\n');
}

/// `text`, cut with `…` to at most `width` columns.
fn fit(label: &str, width: usize) -> String {
    if text::width(label) <= width {
        return label.to_string();
    }
    let mut cut = String::new();
    let mut used = 0;
    for grapheme in label.graphemes(true) {
        let columns = text::grapheme_width(grapheme, used);
        if used + columns + 1 > width {
            break;
        }
        cut.push_str(grapheme);
        used += columns;
    }
    cut.push('…');
    cut
}

/// A note for the socket-level moments the lessons are about; `None` for ordinary ones (a read
/// that brought exactly one whole message, a write of one message).
fn socket_note(event: &Event) -> Option<String> {
    match event {
        Event::Read {
            bytes,
            messages,
            pending,
            reads,
            ..
        } => {
            let mut marks = Vec::new();
            if *messages >= 2 {
                marks.push(format!(
                    "one read() of {bytes} bytes held {messages} messages"
                ));
            }
            if *messages >= 1 && *reads >= 2 {
                marks.push(format!("a message complete after {reads} reads"));
            }
            if *messages == 0 && *pending > 0 {
                marks.push(format!(
                    "read() of {bytes} bytes: the message continues ({pending} bytes so far)"
                ));
            }
            (!marks.is_empty()).then(|| marks.join("; "))
        }
        Event::Write {
            bytes, messages, ..
        } => match messages {
            0 => Some(format!("write() of {bytes} bytes: part of a message")),
            1 => None,
            n => Some(format!("one write() of {bytes} bytes carried {n} messages")),
        },
        Event::FinSent { .. } => Some("FIN sent".to_string()),
        Event::FinReceived { .. } => Some("FIN received".to_string()),
        Event::Reset { error, .. } => Some(format!("RST: {error}")),
        Event::Closed { .. } => Some("closed".to_string()),
        Event::Error { message } => Some(format!("error: {message}")),
        _ => None,
    }
}

/// A room server's log, read once: which address each client joined from and the names each
/// address's member had, so drawing each event is a lookup, not a scan of the log (which made
/// drawing a class's log take quadratic time).
#[derive(Debug, Default)]
struct RoomIndex {
    /// Client number → the address it joined from.
    peers: HashMap<u64, String>,
    /// Address → `alice (client 3)`: the last name of the last member from there.
    labels: HashMap<String, String>,
    /// Address → every name its members had, in order.
    names: HashMap<String, Vec<String>>,
    /// Addresses in the order they first joined.
    order: Vec<String>,
}

impl RoomIndex {
    fn of(log: &Log) -> RoomIndex {
        let mut index = RoomIndex::default();
        // Address → the client that joined from it last.
        let mut latest: HashMap<String, u64> = HashMap::new();
        for record in &log.records {
            match &record.event {
                Event::Joined { client, nick, peer } => {
                    index.peers.entry(*client).or_insert_with(|| peer.clone());
                    if !index.names.contains_key(peer) {
                        index.order.push(peer.clone());
                    }
                    index
                        .labels
                        .insert(peer.clone(), format!("{nick} (client {client})"));
                    latest.insert(peer.clone(), *client);
                    let names = index.names.entry(peer.clone()).or_default();
                    if !names.contains(nick) {
                        names.push(nick.clone());
                    }
                }
                Event::Renamed { client, to, .. } => {
                    let Some(peer) = index.peers.get(client).cloned() else {
                        continue;
                    };
                    if latest.get(&peer) == Some(client) {
                        index
                            .labels
                            .insert(peer.clone(), format!("{to} (client {client})"));
                    }
                    let names = index.names.entry(peer).or_default();
                    if !names.contains(to) {
                        names.push(to.clone());
                    }
                }
                _ => {}
            }
        }
        index
    }

    fn label(&self, peer: &str) -> String {
        self.labels
            .get(peer)
            .cloned()
            .unwrap_or_else(|| peer.to_string())
    }

    fn names_of(&self, peer: &str) -> Vec<String> {
        self.names.get(peer).cloned().unwrap_or_default()
    }
}

/// Text made safe for one Mermaid statement: a `;` or a newline would end it, `#` starts an
/// entity, and `<`/`>` could be read as HTML.
fn mermaid_text(text: &str) -> String {
    let mut safe = String::with_capacity(text.len());
    for c in escape_peer_text(text.as_bytes()).chars() {
        match c {
            '#' => safe.push_str("#35;"),
            ';' => safe.push_str("#59;"),
            '<' => safe.push_str("#lt;"),
            '>' => safe.push_str("#gt;"),
            '\t' => safe.push(' '),
            c => safe.push(c),
        }
    }
    safe
}

/// A message's text as an arrow's label (an empty message is shown as such).
fn mermaid_label(text: &str) -> String {
    if text.is_empty() {
        "(empty line)".to_string()
    } else {
        mermaid_text(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(lines: &[&str]) -> Log {
        parse_log(&lines.join("\n")).unwrap()
    }

    #[test]
    fn a_corrupt_line_is_named_with_its_number() {
        let error = parse_log("{\"v\":1,\"t\":0,\"event\":\"closed\"}\nnot json\n").unwrap_err();
        assert!(error.starts_with("line 2 is not an event"), "{error}");
        let error = parse_log("{\"v\":2,\"t\":0,\"event\":\"closed\"}").unwrap_err();
        assert!(error.contains("schema version 2"), "{error}");
        assert!(parse_log("\n\n").unwrap_err().contains("no events"));
    }

    #[test]
    fn two_logs_draw_each_message_once_in_time_order() {
        let listener = log(&[
            r#"{"v":1,"t":0,"event":"started","unix":100.0,"mode":"half","version":"0"}"#,
            r#"{"v":1,"t":1.0,"event":"connected","role":"listener","local":"A","peer":"B","nodelay":true}"#,
            r#"{"v":1,"t":1.5,"event":"received","text":"hi","bytes":2}"#,
            r#"{"v":1,"t":1.6,"event":"sent","text":"yo","bytes":2}"#,
        ]);
        let connector = log(&[
            r#"{"v":1,"t":0,"event":"started","unix":100.5,"mode":"half","version":"0"}"#,
            r#"{"v":1,"t":0.5,"event":"connected","role":"connector","local":"B","peer":"A","nodelay":true}"#,
            r#"{"v":1,"t":0.9,"event":"sent","text":"hi","bytes":2}"#,
            r#"{"v":1,"t":1.2,"event":"received","text":"yo","bytes":2}"#,
        ]);
        let diagram = Diagram::from_logs(&[listener, connector]);
        let arrows = arrows(&diagram);
        assert_eq!(
            arrows,
            vec![
                &Step::Arrow {
                    from: 1,
                    to: 0,
                    label: "hi".into()
                },
                &Step::Arrow {
                    from: 0,
                    to: 1,
                    label: "yo".into()
                },
            ]
        );
        assert_eq!(diagram.participants[0].label, "listener A");
        assert_eq!(diagram.participants[1].label, "connector B");
    }

    #[test]
    fn the_text_diagram_lines_up_wide_characters_by_columns() {
        let diagram = Diagram {
            participants: vec![
                Participant {
                    label: "listener 你好".into(),
                    names: Vec::new(),
                },
                Participant {
                    label: "connector B".into(),
                    names: Vec::new(),
                },
            ],
            by_key: HashMap::new(),
            steps: vec![
                (
                    0.5,
                    Step::Arrow {
                        from: 0,
                        to: 1,
                        label: "你好世界".into(),
                    },
                ),
                (
                    0.6,
                    Step::Arrow {
                        from: 1,
                        to: 0,
                        label: "hi".into(),
                    },
                ),
            ],
        };
        let drawn = diagram.text();
        let rows: Vec<&str> = drawn.lines().collect();
        // The terminal column where `what` is drawn in `row` (the last time it occurs).
        let column_of = |row: &str, what: &str| {
            let at = row.rfind(what).expect("drawn");
            text::width(&row[..at])
        };
        let lifeline = |index: usize| TIME_WIDTH + index * TEXT_COLUMN + TEXT_COLUMN / 2;
        // Each label centred by its width in columns (13 for `listener 你好`), so the label
        // after a Chinese one stands where it would after any other.
        assert_eq!(
            column_of(rows[0], "listener"),
            lifeline(0) - 13 / 2,
            "{drawn}"
        );
        assert_eq!(
            column_of(rows[0], "connector"),
            lifeline(1) - 11 / 2,
            "{drawn}"
        );
        // The arrow carrying Chinese text ends at the same column as the one carrying ASCII.
        assert_eq!(column_of(rows[1], ">"), lifeline(1) - 1, "{drawn}");
        assert_eq!(column_of(rows[1], "|"), lifeline(1), "{drawn}");
        assert_eq!(column_of(rows[2], "|"), lifeline(1), "{drawn}");
    }

    #[test]
    fn mermaid_labels_cannot_break_out_of_their_statement() {
        assert_eq!(mermaid_text("a;b#c<d>\u{1b}"), "a#59;b#35;c#lt;d#gt;\\x1b");
        assert_eq!(mermaid_label(""), "(empty line)");
    }

    /// The diagram's arrows, in order.
    fn arrows(diagram: &Diagram) -> Vec<&Step> {
        diagram
            .steps
            .iter()
            .map(|(_, step)| step)
            .filter(|step| matches!(step, Step::Arrow { .. }))
            .collect()
    }

    /// A room's log with `members` joining, each saying one line, then leaving.
    fn class_log(members: usize) -> String {
        let mut lines = vec![
            r#"{"v":1,"t":0,"event":"started","unix":100.0,"mode":"room","version":"0"}"#
                .to_string(),
            r#"{"v":1,"t":0,"event":"listening","addr":"127.0.0.1:5000"}"#.to_string(),
        ];
        for n in 1..=members {
            lines.push(format!(
                r#"{{"v":1,"t":{n},"event":"joined","client":{n},"nick":"guest-{n}","peer":"127.0.0.2:{}"}}"#,
                40000 + n
            ));
        }
        for n in 1..=members {
            let t = members + n;
            lines.push(format!(
                r#"{{"v":1,"t":{t},"event":"message","client":{n},"nick":"guest-{n}","text":"line {n}"}}"#
            ));
        }
        lines.join("\n")
    }

    #[test]
    fn a_room_message_is_one_arrow_that_says_whom_it_reached() {
        let diagram = Diagram::from_logs(&[log(&[&class_log(30)])]);
        let arrows = arrows(&diagram);
        assert_eq!(arrows.len(), 30, "one arrow per message, not per member");
        assert!(
            matches!(arrows[0], Step::Arrow { label, .. } if label == "line 1 (→ 29 members)"),
            "{arrows:?}"
        );
    }

    #[test]
    fn only_one_member_and_a_window_of_time() {
        let diagram = Diagram::from_logs(&[log(&[&class_log(30)])]);
        let only = diagram
            .filtered(&Filter {
                only: Some("GUEST-7".into()),
                from: Some(30.0),
                until: None,
            })
            .unwrap();
        assert_eq!(only.participants.len(), 2);
        assert_eq!(only.participants[1].label, "guest-7 (client 7)");
        assert_eq!(only.steps.len(), 1, "{:?}", only.steps);
        let drawn = only.text();
        assert!(drawn.contains("line 7 (→ 29 members)"), "{drawn}");
        let nobody = Diagram::from_logs(&[log(&[&class_log(3)])]).filtered(&Filter {
            only: Some("zed".into()),
            ..Filter::default()
        });
        assert!(nobody.unwrap_err().contains("--only zed"));
    }

    #[test]
    fn many_participants_fold_into_one_column_with_a_note() {
        let diagram = Diagram::from_logs(&[log(&[&class_log(3000)])]).folded(MAX_PARTICIPANTS);
        assert_eq!(diagram.participants.len(), MAX_PARTICIPANTS);
        assert_eq!(
            diagram.participants[MAX_PARTICIPANTS - 1].label,
            "2990 more"
        );
        let drawn = diagram.text();
        assert!(
            drawn.contains("2990 participants share this column"),
            "{}",
            &drawn[..400]
        );
        let widest = drawn.lines().map(text::width).max().unwrap_or(0);
        assert!(
            widest <= TIME_WIDTH + MAX_PARTICIPANTS * TEXT_COLUMN + 120,
            "{widest}"
        );
    }

    #[test]
    fn a_crafted_label_is_escaped_in_the_text_format() {
        let text = class_log(1).replace(r#""nick":"guest-1""#, r#""nick":"\u001b[41mx""#);
        let drawn = Diagram::from_logs(&[log(&[&text])]).text();
        assert!(!drawn.contains('\u{1b}'), "{drawn}");
        assert!(drawn.contains("\\x1b[41mx"), "{drawn}");
    }
}
