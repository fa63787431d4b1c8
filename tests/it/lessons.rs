//! The lessons point at the code; this test keeps them pointing at something that exists.
//!
//! Citation syntax, in any `lessons/*.md`: `src/FILE.rs#ANCHOR`, usually in a code span, e.g.
//! `` `src/modes/duplex.rs#converse` ``. It means the region between `// ANCHOR: converse` and
//! `// ANCHOR_END: converse` in that file. A bare `src/FILE.rs` must name a file that exists.

use std::fs;
use std::path::Path;

/// One `src/…rs` or `src/…rs#anchor` found in a lesson.
#[derive(Debug, PartialEq, Eq)]
struct Citation {
    file: String,
    anchor: Option<String>,
}

/// Finds every citation in a markdown text.
fn citations(text: &str) -> Vec<Citation> {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/' | '.');
    let is_anchor_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut found = Vec::new();
    for (start, _) in text.match_indices("src/") {
        // Not the tail of a longer name such as `my_src/` (but `../src/` in a link is fine).
        let before = text[..start].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')) {
            continue;
        }
        let rest = &text[start..];
        let path_len = rest.find(|c| !is_path_char(c)).unwrap_or(rest.len());
        // A sentence may end right after the path: "see src/endpoint.rs."
        let file = rest[..path_len].trim_end_matches('.');
        if !file.ends_with(".rs") {
            continue;
        }
        let after = &rest[file.len()..];
        let anchor = after.strip_prefix('#').map(|tail| {
            let len = tail.find(|c| !is_anchor_char(c)).unwrap_or(tail.len());
            tail[..len].to_string()
        });
        found.push(Citation {
            file: file.to_string(),
            anchor: anchor.filter(|name| !name.is_empty()),
        });
    }
    found
}

/// Whether `source` has both `// ANCHOR: name` and `// ANCHOR_END: name` lines.
fn has_anchor(source: &str, name: &str) -> bool {
    let has_line = |marker: &str| {
        source
            .lines()
            .any(|line| line.trim() == format!("// {marker}: {name}"))
    };
    has_line("ANCHOR") && has_line("ANCHOR_END")
}

#[test]
fn every_anchor_a_lesson_cites_exists_in_src() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lessons = fs::read_dir(root.join("lessons")).expect("a lessons/ directory");
    let mut checked = 0;
    let mut broken = Vec::new();
    for entry in lessons {
        let path = entry.expect("a lessons/ entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("md") {
            continue;
        }
        let text = fs::read_to_string(&path).expect("a readable lesson");
        let lesson = path.file_name().unwrap_or_default().to_string_lossy();
        for citation in citations(&text) {
            checked += 1;
            let shown = match &citation.anchor {
                Some(anchor) => format!("{}#{anchor}", citation.file),
                None => citation.file.clone(),
            };
            match fs::read_to_string(root.join(&citation.file)) {
                Err(_) => broken.push(format!("{lesson}: {shown}: no such file")),
                Ok(source) => match &citation.anchor {
                    Some(anchor) if !has_anchor(&source, anchor) => broken.push(format!(
                        "{lesson}: {shown}: no `// ANCHOR: {anchor}` … `// ANCHOR_END: {anchor}` in {}",
                        citation.file
                    )),
                    _ => {}
                },
            }
        }
    }
    assert!(checked > 0, "no citations found in lessons/*.md");
    assert!(
        broken.is_empty(),
        "lessons cite code that does not exist:\n{}",
        broken.join("\n")
    );
}

#[test]
fn citations_are_found_in_code_spans_links_and_sentences() {
    let text = "See `src/modes/duplex.rs#converse`, [it](../src/terminal.rs#on_key) and \
                src/endpoint.rs. Not my_src/x.rs, not src/lib, not `src/main.rs#`.";
    assert_eq!(
        citations(text),
        vec![
            Citation {
                file: "src/modes/duplex.rs".into(),
                anchor: Some("converse".into())
            },
            Citation {
                file: "src/terminal.rs".into(),
                anchor: Some("on_key".into())
            },
            Citation {
                file: "src/endpoint.rs".into(),
                anchor: None
            },
            Citation {
                file: "src/main.rs".into(),
                anchor: None
            },
        ]
    );
}

#[test]
fn an_anchor_needs_both_markers() {
    let source = "// ANCHOR: a\nfn a() {}\n// ANCHOR_END: a\n// ANCHOR: b\n";
    assert!(has_anchor(source, "a"));
    assert!(!has_anchor(source, "b"));
    assert!(!has_anchor(source, "c"));
}

/// `docs/guarantees.md` (the README's "What netchat guarantees" in full) names the test behind
/// each promise as `` `FILE.rs::test_name` ``: each must be a test function in `tests/it/FILE.rs`, so
/// a renamed or deleted test cannot leave a promise without its proof.
#[test]
fn every_test_the_guarantees_cite_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guarantees =
        fs::read_to_string(root.join("docs/guarantees.md")).expect("docs/guarantees.md");
    let mut cited = 0;
    for span in guarantees.split('`').skip(1).step_by(2) {
        let Some((file, test)) = span.split_once("::") else {
            continue;
        };
        let path = root.join("tests/it").join(file);
        let source = fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "docs/guarantees.md cites {span}: cannot read {}: {e}",
                path.display()
            )
        });
        assert!(
            source.contains(&format!("fn {test}(")),
            "docs/guarantees.md cites {span}, but tests/it/{file} has no such test"
        );
        cited += 1;
    }
    assert!(cited >= 10, "only {cited} tests cited in the guarantees");
}

/// The GitHub anchor of a markdown heading: lower case, punctuation dropped, spaces as `-`.
fn heading_anchor(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The anchors of every heading in a markdown text (outside code blocks); a repeated heading
/// gets `-1`, `-2`… as on GitHub.
fn anchors(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut bases: Vec<String> = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let base = heading_anchor(line.trim_start_matches('#'));
        let repeats = bases.iter().filter(|b| **b == base).count();
        found.push(if repeats == 0 {
            base.clone()
        } else {
            format!("{base}-{repeats}")
        });
        bases.push(base);
    }
    found
}

/// Every `](target)` of a markdown text that is not a web address.
fn relative_links(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(start, _)| {
            let rest = &text[start + 2..];
            Some(&rest[..rest.find(')')?])
        })
        .filter(|target| !target.contains("://") && !target.starts_with("mailto:"))
        .collect()
}

/// The documents link to each other with relative links: each must reach a file of the
/// repository, and an `#anchor` a heading of that file, so moving a section breaks a test, not
/// a reader's click.
#[test]
fn every_relative_link_in_the_documents_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut documents = vec!["README.md".to_string(), "ARCHITECTURE.md".to_string()];
    for dir in ["docs", "lessons"] {
        let entries = fs::read_dir(root.join(dir)).unwrap_or_else(|e| panic!("read {dir}: {e}"));
        for entry in entries.flatten() {
            if entry.path().extension().is_some_and(|ext| ext == "md") {
                documents.push(format!("{dir}/{}", entry.file_name().to_string_lossy()));
            }
        }
    }
    let mut checked = 0;
    let mut broken = Vec::new();
    for document in &documents {
        let path = root.join(document);
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {document}: {e}"));
        let dir = path.parent().expect("a document is in a directory");
        for link in relative_links(&text) {
            checked += 1;
            let (file, anchor) = link.split_once('#').unwrap_or((link, ""));
            let target = if file.is_empty() {
                path.clone()
            } else {
                dir.join(file)
            };
            if !target.exists() {
                broken.push(format!("{document}: ({link}): no such file"));
                continue;
            }
            if anchor.is_empty() {
                continue;
            }
            let target_text = fs::read_to_string(&target).unwrap_or_default();
            if !anchors(&target_text).iter().any(|a| a == anchor) {
                broken.push(format!("{document}: ({link}): no heading with that anchor"));
            }
        }
    }
    assert!(checked > 0, "no relative links found");
    assert!(
        broken.is_empty(),
        "links that lead nowhere:\n{}",
        broken.join("\n")
    );
}

#[test]
fn heading_anchors_are_githubs() {
    assert_eq!(
        anchors("# A\n## 3. What it does, call by call\n## Nagle's `TCP_NODELAY`\n## A\n"),
        vec![
            "a",
            "3-what-it-does-call-by-call",
            "nagles-tcp_nodelay",
            "a-1"
        ]
    );
    assert_eq!(
        heading_anchor(" For graders: `--events`"),
        "for-graders---events"
    );
}

/// Every `.rs` file under `dir`, as a path relative to `root` with `/` separators.
fn rust_files(root: &Path, dir: &Path, found: &mut Vec<String>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(root, &path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let relative = path.strip_prefix(root).expect("under the root");
            let parts: Vec<_> = relative.iter().map(|p| p.to_string_lossy()).collect();
            found.push(parts.join("/"));
        }
    }
}

/// ARCHITECTURE.md's code map names every source file (a new file gets its line there, saying
/// what it owns), and every file it names exists.
#[test]
fn architecture_maps_every_source_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let map = fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut files = Vec::new();
    rust_files(root, &root.join("src"), &mut files);
    let mut unmapped: Vec<_> = files
        .iter()
        .filter(|file| !file.ends_with("/mod.rs") && !map.contains(&format!("`{file}`")))
        .collect();
    unmapped.sort();
    assert!(
        unmapped.is_empty(),
        "ARCHITECTURE.md's code map does not mention {unmapped:?}"
    );
    for cited in citations(&map) {
        assert!(
            root.join(&cited.file).is_file(),
            "ARCHITECTURE.md names {}, which does not exist",
            cited.file
        );
    }
}

/// The repository explains itself: no file in it sends the reader to documents outside it.
#[test]
fn nothing_points_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec!["README.md".to_string(), "ARCHITECTURE.md".to_string()];
    for dir in ["src", "tests", "benches", "lessons", "docs"] {
        rust_files(root, &root.join(dir), &mut files);
        if let Ok(entries) = fs::read_dir(root.join(dir)) {
            for entry in entries.flatten() {
                if entry.path().extension().is_some_and(|ext| ext == "md") {
                    files.push(format!("{dir}/{}", entry.file_name().to_string_lossy()));
                }
            }
        }
    }
    // Built from pieces, so this file does not match itself.
    let outside = [
        ["DESIGN", ".md"].concat(),
        ["STYLE", ".md"].concat(),
        ["../", "shared"].concat(),
    ];
    for file in files {
        let text = fs::read_to_string(root.join(&file)).unwrap_or_default();
        for name in &outside {
            assert!(
                !text.contains(name.as_str()),
                "{file} points to {name}, which is not in the repository"
            );
        }
    }
}

/// `lessons/README.md`'s table and `netchat lesson` list the same labs, in the same order: a
/// new lesson is added to both (one line in `src/lessons.rs`).
#[test]
fn the_built_in_lessons_are_the_ones_the_lessons_readme_lists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = fs::read_to_string(root.join("lessons/README.md")).expect("lessons/README.md");
    let in_readme: Vec<String> = readme
        .lines()
        .filter(|line| line.starts_with("| "))
        .filter_map(|line| {
            let link = line.split("](").nth(1)?;
            Some(link.split(".md)").next()?.to_string())
        })
        .collect();
    let output = crate::common::netchat_cmd()
        .arg("lesson")
        .output()
        .expect("netchat lesson ends within the deadline");
    let listed: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next().map(str::to_string))
        .collect();
    assert_eq!(in_readme, listed);
}

/// Every markdown document of the repository, by its path from the root.
fn documents(root: &Path) -> Vec<String> {
    let mut found = vec!["README.md".to_string(), "ARCHITECTURE.md".to_string()];
    for dir in ["docs", "lessons"] {
        let mut names: Vec<String> = fs::read_dir(root.join(dir))
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                    .filter(|name| name.ends_with(".md"))
                    .map(|name| format!("{dir}/{name}"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        found.extend(names);
    }
    found
}

/// The README, ARCHITECTURE.md and docs/ name source files as lessons do (`src/FILE.rs`, now and
/// then with `#ANCHOR`): when a file is split or renamed, every document that names it must
/// follow, or this fails naming the document and the path.
#[test]
fn every_source_file_the_documents_name_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut broken = Vec::new();
    let mut checked = 0;
    for document in documents(root) {
        let text = fs::read_to_string(root.join(&document)).expect("a readable document");
        for citation in citations(&text) {
            checked += 1;
            match fs::read_to_string(root.join(&citation.file)) {
                Err(_) => broken.push(format!("{document}: {}: no such file", citation.file)),
                Ok(source) => {
                    if let Some(anchor) = citation.anchor.filter(|a| !has_anchor(&source, a)) {
                        broken.push(format!(
                            "{document}: {}#{anchor}: no such anchor",
                            citation.file
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 0, "no source files named in the documents");
    assert!(
        broken.is_empty(),
        "documents name source files that do not exist:\n{}",
        broken.join("\n")
    );
}

/// Whether `source` defines `name` (a function, type, constant, module or anchor).
fn defines(source: &str, name: &str) -> bool {
    let kinds = [
        "fn", "struct", "enum", "trait", "type", "const", "static", "mod",
    ];
    source.lines().any(|line| {
        let line = line.trim_start();
        line == format!("// ANCHOR: {name}")
            || line
                .split(|c: char| c.is_whitespace() || c == '(' || c == '<' || c == ':' || c == '{')
                .collect::<Vec<_>>()
                .windows(2)
                .any(|pair| kinds.contains(&pair[0]) && pair[1] == name)
    })
}

/// The README's "Socket patterns" table sends a reader from an idea to the code that shows it:
/// `` `src/FILE.rs` (`name`, `name`) ``. Each file must exist and define each name it lists.
#[test]
fn every_item_the_socket_patterns_table_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = fs::read_to_string(root.join("README.md")).expect("README.md");
    let start = readme
        .find("## Socket patterns")
        .expect("README has a socket-patterns table");
    let table = &readme[start..];
    let table = &table[..table[3..].find("\n## ").map_or(table.len(), |end| end + 3)];
    let mut broken = Vec::new();
    let mut checked = 0;
    for row in table.lines().filter(|row| row.starts_with("| ")) {
        let Some(code) = row.split('|').nth(3) else {
            continue;
        };
        // `src/a.rs` (`x`, `y`), `src/b.rs`: a file, then the names in the brackets after it.
        for part in code.split("`src/").skip(1) {
            let Some((file, rest)) = part.split_once('`') else {
                continue;
            };
            let file = format!("src/{file}");
            let Ok(source) = fs::read_to_string(root.join(&file)) else {
                broken.push(format!("{file}: no such file"));
                continue;
            };
            let names = rest
                .trim_start()
                .strip_prefix('(')
                .and_then(|inside| inside.split_once(')'))
                .map_or("", |(inside, _)| inside);
            for name in names.split(',').map(|name| name.trim().trim_matches('`')) {
                if name.is_empty() {
                    continue;
                }
                checked += 1;
                if !defines(&source, name) {
                    broken.push(format!("{file}: defines no `{name}`"));
                }
            }
        }
    }
    assert!(checked > 10, "the table names only {checked} items");
    assert!(
        broken.is_empty(),
        "the socket-patterns table names code that is not there:\n{}",
        broken.join("\n")
    );
}
