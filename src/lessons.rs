//! `netchat lesson [NAME]`: the labs, built into the binary, so that `cargo install` alone gives a
//! student every lesson, offline.
//!
//! Each lesson is its markdown file from `lessons/`, embedded at compile time with
//! `include_str!`. Without a name, the list; with one, the lesson — through the user's pager on a
//! terminal (main.rs decides, see [`Pager`]), plainly otherwise, so `netchat lesson half > lab1.md`
//! and `| grep` work.

use std::io::{self, Write};
use std::process::{Command, Stdio};

use crate::console::Console;
use crate::error::{Error, Result};

/// One lab: the name `netchat lesson NAME` takes, and its text.
pub struct Lesson {
    pub name: &'static str,
    pub text: &'static str,
}

/// Every lab, in the order they are taught. A new lab is one line here (and its row in
/// `lessons/README.md`, which tests/it/lessons.rs checks against `netchat lesson`).
// ANCHOR: lessons
pub const LESSONS: &[Lesson] = &[
    Lesson::new("half", include_str!("../lessons/half.md")),
    Lesson::new("duplex", include_str!("../lessons/duplex.md")),
    Lesson::new("room", include_str!("../lessons/room.md")),
    Lesson::new("poll", include_str!("../lessons/poll.md")),
];
// ANCHOR_END: lessons

impl Lesson {
    const fn new(name: &'static str, text: &'static str) -> Lesson {
        Lesson { name, text }
    }

    /// The lesson's title: its first line, without the markdown `# `.
    pub fn title(&self) -> &'static str {
        let first = self.text.lines().next().unwrap_or_default();
        first.trim_start_matches('#').trim()
    }
}

/// The program a long text is shown through on a terminal: `$PAGER`, or `less -R` (which keeps
/// colors and lets the student scroll and search). main.rs makes one only when stdout is a
/// terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pager {
    program: String,
    args: Vec<String>,
}

impl Pager {
    /// The pager `$PAGER` names (program and arguments, split at blanks), or `less -R` when it is
    /// not set. `PAGER=` (set but empty) means no pager, as it does for git.
    pub fn from_env(pager: Option<&str>) -> Option<Pager> {
        let command = pager.unwrap_or("less -R");
        let mut words = command.split_whitespace().map(str::to_string);
        let program = words.next()?;
        Some(Pager {
            program,
            args: words.collect(),
        })
    }

    /// Shows `text` through the pager and waits until the student closes it. `Err` if the pager
    /// could not be started at all (not installed): the caller prints the text plainly instead.
    fn show(&self, text: &str) -> io::Result<()> {
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::piped())
            .spawn()?;
        if let Some(mut input) = child.stdin.take() {
            // The student may quit before reading it all: the pager closes its input (EPIPE).
            let _ = input.write_all(text.as_bytes());
        }
        child.wait()?;
        Ok(())
    }
}

/// `netchat lesson [NAME]`.
pub fn run(name: Option<&str>, console: &mut Console, pager: Option<Pager>) -> Result<()> {
    let Some(name) = name else {
        return list(console);
    };
    let Some(lesson) = LESSONS.iter().find(|lesson| lesson.name == name) else {
        return Err(Error::Usage {
            message: format!("there is no lesson called '{name}'"),
            hint: format!(
                "the lessons are {}; `netchat lesson` lists them",
                names().join(", ")
            ),
        });
    };
    let text = for_reading(lesson.text);
    if let Some(pager) = pager {
        if pager.show(&text).is_ok() {
            return Ok(());
        }
    }
    console.plain_text(&text)
}

/// The lesson as a student reads it: without the `<!-- transcript: … -->` lines that mark, for
/// the tests, which blocks are netchat's real output (markdown viewers hide them; a pager would
/// not).
fn for_reading(text: &str) -> String {
    text.lines()
        .filter(|line| {
            let line = line.trim();
            !(line.starts_with("<!-- transcript:") && line.ends_with("-->"))
        })
        .flat_map(|line| [line, "\n"])
        .collect()
}

/// The names, in order.
fn names() -> Vec<&'static str> {
    LESSONS.iter().map(|lesson| lesson.name).collect()
}

fn list(console: &mut Console) -> Result<()> {
    let width = LESSONS.iter().map(|l| l.name.len()).max().unwrap_or(0);
    let mut text = String::from("The netchat labs, in order (`netchat lesson NAME` shows one):\n");
    for lesson in LESSONS {
        text.push_str(&format!("  {:width$}  {}\n", lesson.name, lesson.title()));
    }
    console.plain_text(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lesson_is_read_without_its_transcript_markers() {
        let text = "# Lab\n<!-- transcript: half-listen/listener -->\n```console\n$ x\n```\n";
        assert_eq!(for_reading(text), "# Lab\n```console\n$ x\n```\n");
        for lesson in LESSONS {
            assert!(
                !for_reading(lesson.text).contains("<!-- transcript"),
                "{}",
                lesson.name
            );
        }
    }

    #[test]
    fn every_lesson_has_a_title_and_a_unique_name() {
        for lesson in LESSONS {
            assert!(!lesson.title().is_empty(), "{}", lesson.name);
            assert_eq!(LESSONS.iter().filter(|l| l.name == lesson.name).count(), 1);
        }
    }

    #[test]
    fn the_pager_comes_from_pager_or_is_less() {
        let less = Pager::from_env(None).unwrap();
        assert_eq!(
            (less.program.as_str(), less.args.as_slice()),
            ("less", &["-R".to_string()][..])
        );
        let custom = Pager::from_env(Some("most -s")).unwrap();
        assert_eq!(custom.program, "most");
        assert_eq!(Pager::from_env(Some("")), None);
    }
}
