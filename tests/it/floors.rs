//! Floors run one way: ARCHITECTURE.md lists the source files floor by floor, from the ground
//! up (its "Floors" section, a fenced `floors` block), and this test reads every path a file of
//! `src/` names another by — `use crate::…`, `use super::…`, `self::…`, a child module's name,
//! `crate::x::f(…)` in an expression — and fails on an import that runs up the declared order or
//! closes a circle, naming the file and the line. Every `.rs` file under `src/` must be on a
//! floor. Test code (`#[cfg(test)] mod tests { … }`) is not counted: a test may reach anything.
//!
//! Self-contained (std only), so it needs nothing from the crate it checks.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// One file's import of another, where it is written.
#[derive(Debug, Clone)]
struct Import {
    from: String,
    to: String,
    line: usize,
}

#[test]
fn every_import_runs_down_the_floors_and_none_closes_a_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let architecture = fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let floors = declared_floors(&architecture);
    let mut sources = Vec::new();
    rust_files(root, &root.join("src"), &mut sources);
    sources.sort();

    let mut problems = Vec::new();
    for file in &sources {
        if !floors.contains_key(file) {
            problems.push(format!(
                "{file} is on no floor: add it to ARCHITECTURE.md's floors"
            ));
        }
    }
    for file in floors.keys() {
        if !sources.contains(file) {
            problems.push(format!(
                "ARCHITECTURE.md's floors name {file}, which does not exist"
            ));
        }
    }

    let modules: BTreeMap<Vec<String>, String> = sources
        .iter()
        .map(|file| (module_path(file), file.clone()))
        .collect();
    let mut imports = Vec::new();
    for file in &sources {
        let text = fs::read_to_string(root.join(file)).expect("a readable source file");
        imports.extend(imports_of(file, &text, &modules));
    }

    let mut same_floor: BTreeMap<String, Vec<Import>> = BTreeMap::new();
    for import in &imports {
        let (Some(&from), Some(&to)) = (floors.get(&import.from), floors.get(&import.to)) else {
            continue; // an unlisted file, reported above
        };
        if to > from {
            problems.push(format!(
                "{}:{}: imports {}, which is on a higher floor ({} above {})",
                import.from,
                import.line,
                import.to,
                to + 1,
                from + 1
            ));
        } else if to == from {
            same_floor
                .entry(import.from.clone())
                .or_default()
                .push(import.clone());
        }
    }
    // Every other import runs down or stays on its floor, so a circle can only lie within one
    // floor: look for one there.
    if let Some(circle) = find_circle(&same_floor) {
        let shown: Vec<String> = circle
            .iter()
            .map(|import| format!("{}:{} imports {}", import.from, import.line, import.to))
            .collect();
        problems.push(format!("a circle: {}", shown.join("; ")));
    }
    assert!(
        problems.is_empty(),
        "the floors do not run one way:\n  {}",
        problems.join("\n  ")
    );
}

/// The test's own reading of paths, on a made-up crate: what it finds, and where.
#[test]
fn the_reader_finds_every_kind_of_path_and_skips_tests_comments_and_strings() {
    let files = [
        "src/lib.rs",
        "src/a.rs",
        "src/b.rs",
        "src/c/mod.rs",
        "src/c/d.rs",
        "src/c/e.rs",
    ];
    let modules: BTreeMap<Vec<String>, String> = files
        .iter()
        .map(|file| (module_path(file), file.to_string()))
        .collect();
    let text = "use crate::a::{self, X};\n\
                // use crate::b::Y;\n\
                let s = \"crate::b::Z\";\n\
                use super::e::{F, G};\n\
                fn f() { crate::b::go(); }\n\
                #[cfg(test)]\n\
                mod tests {\n    use crate::lib_only::T;\n    use super::super::c::e;\n}\n";
    let found: Vec<(String, usize)> = imports_of("src/c/d.rs", text, &modules)
        .into_iter()
        .map(|import| (import.to, import.line))
        .collect();
    assert_eq!(
        found,
        [
            ("src/a.rs".to_string(), 1),
            ("src/c/e.rs".to_string(), 4),
            ("src/b.rs".to_string(), 5)
        ]
    );
    let parent = "mod d;\npub mod e;\npub use d::Thing;\nfn f() { e::run(); }\n";
    let found: Vec<String> = imports_of("src/c/mod.rs", parent, &modules)
        .into_iter()
        .map(|import| import.to)
        .collect();
    assert_eq!(found, ["src/c/d.rs", "src/c/e.rs"]);
    let child = "use super::Shared;\nuse super::super::a::X;\n";
    let found: Vec<String> = imports_of("src/c/d.rs", child, &modules)
        .into_iter()
        .map(|import| import.to)
        .collect();
    assert_eq!(found, ["src/c/mod.rs", "src/a.rs"]);
}

/// The floors ARCHITECTURE.md declares: each file and its floor's number, 0 the ground.
fn declared_floors(architecture: &str) -> BTreeMap<String, usize> {
    let start = architecture
        .find("```floors\n")
        .expect("ARCHITECTURE.md has a ```floors block")
        + "```floors\n".len();
    let block = &architecture[start..];
    let block = &block[..block.find("```").expect("the floors block ends")];
    let mut floors = BTreeMap::new();
    let mut floor = 0;
    for line in block.lines() {
        let files = line.split('#').next().unwrap_or_default();
        if files.trim().is_empty() {
            continue;
        }
        for file in files.split_whitespace() {
            let earlier = floors.insert(file.to_string(), floor);
            assert!(earlier.is_none(), "{file} is on two floors");
        }
        floor += 1;
    }
    floors
}

/// Every `.rs` file under `dir`, as a path relative to `root` with `/` separators.
fn rust_files(root: &Path, dir: &Path, found: &mut Vec<String>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path: PathBuf = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(root, &path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let relative = path.strip_prefix(root).expect("under the root");
            let parts: Vec<String> = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            found.push(parts.join("/"));
        }
    }
}

/// The module a file is: `src/a/b.rs` is `a::b`, `src/a/mod.rs` is `a`, the crate roots none.
fn module_path(file: &str) -> Vec<String> {
    let inside = file.strip_prefix("src/").unwrap_or(file);
    let inside = inside.strip_suffix(".rs").unwrap_or(inside);
    let mut parts: Vec<String> = inside.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|last| last == "mod") || matches!(inside, "lib" | "main") {
        parts.pop();
    }
    parts
}

/// Every import of another file of the crate that `file`'s code (not its tests) makes, in order,
/// each file once per line that names it.
fn imports_of(file: &str, text: &str, modules: &BTreeMap<Vec<String>, String>) -> Vec<Import> {
    let code = without_tests(&blank_comments_and_literals(text));
    let here = module_path(file);
    let children = declared_children(&code);
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    let mut at = 0;
    while at < bytes.len() {
        // A path starts at an identifier that follows no `::` and no other identifier.
        let starts = is_ident(bytes[at])
            && (at == 0 || !is_ident(bytes[at - 1]))
            && !(at >= 2 && &bytes[at - 2..at] == b"::");
        if !starts {
            at += 1;
            continue;
        }
        let end = at + code[at..].bytes().take_while(|&b| is_ident(b)).count();
        let head = &code[at..end];
        let base: Option<Vec<String>> = match head {
            "crate" => Some(Vec::new()),
            // main.rs names the library by its crate name.
            "netchat" if file == "src/main.rs" => Some(Vec::new()),
            "self" => Some(here.clone()),
            "super" => Some(here[..here.len().saturating_sub(1)].to_vec()),
            name if children.contains(name) => Some(vec![name.to_string()])
                .map(|child| here.iter().cloned().chain(child).collect()),
            _ => None,
        };
        let Some(base) = base else {
            at = end;
            continue;
        };
        if !code[end..].starts_with("::") {
            at = end;
            continue;
        }
        let (paths, after) = read_path(&code, end + 2, base);
        let line = code[..at].matches('\n').count() + 1;
        for path in paths {
            if let Some(target) = resolve(&path, modules) {
                if target != file && seen.insert((target.clone(), line)) {
                    found.push(Import {
                        from: file.to_string(),
                        to: target,
                        line,
                    });
                }
            }
        }
        at = after;
    }
    found
}

/// Reads the rest of a path from `at` (just after a `::`), starting from `base`: plain segments,
/// `super` and `self`, and `{…}` groups, nested or not. Returns every path it names, and where
/// it ends.
fn read_path(code: &str, mut at: usize, base: Vec<String>) -> (Vec<Vec<String>>, usize) {
    let bytes = code.as_bytes();
    let mut path = base;
    loop {
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if at < bytes.len() && bytes[at] == b'{' {
            let mut paths = Vec::new();
            at += 1;
            loop {
                while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b',') {
                    at += 1;
                }
                if at >= bytes.len() || bytes[at] == b'}' {
                    return (paths, at + 1);
                }
                let (inner, after) = read_path(code, at, path.clone());
                paths.extend(inner);
                at = after;
            }
        }
        let len = code[at..]
            .bytes()
            .take_while(|&b| b.is_ascii_alphanumeric() || b == b'_')
            .count();
        let segment = &code[at..at + len];
        at += len;
        match segment {
            "" => return (vec![path], at),
            "self" => {}
            "super" => {
                path.pop();
            }
            _ => path.push(segment.to_string()),
        }
        // `X as Y`: the rest names nothing of ours.
        if !code[at..].starts_with("::") {
            return (vec![path], at);
        }
        at += 2;
    }
}

/// The file a path lands in: the longest start of it that is a file's module.
fn resolve(path: &[String], modules: &BTreeMap<Vec<String>, String>) -> Option<String> {
    (0..=path.len())
        .rev()
        .find_map(|len| modules.get(&path[..len]).cloned())
}

/// The child modules a file declares in files of their own (`mod x;`, `pub mod x;`).
fn declared_children(code: &str) -> BTreeSet<String> {
    code.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("pub(crate) ")
                .or_else(|| line.strip_prefix("pub "))
                .unwrap_or(line);
            let name = rest.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.trim().to_string())
        })
        .collect()
}

/// `code` without its `#[cfg(test)] mod … { … }` blocks (lines kept, so line numbers hold).
/// Braces are counted in code whose comments and literals are already blanked.
fn without_tests(code: &str) -> String {
    let mut out = code.to_string();
    let mut from = 0;
    while let Some(found) = out[from..].find("#[cfg(test)]") {
        let start = from + found;
        let after = out[start + "#[cfg(test)]".len()..].trim_start();
        let is_module = after.starts_with("mod ") || after.starts_with("pub mod ");
        let Some(open) = out[start..].find('{').map(|at| start + at) else {
            break;
        };
        if !is_module || out[start..open].contains(';') {
            from = start + 1;
            continue;
        }
        let mut depth = 0;
        let mut end = out.len();
        for (at, b) in out[open..].bytes().enumerate() {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + at + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        let blank: String = out[start..end]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        out.replace_range(start..end, &blank);
        from = start + blank.len();
    }
    out
}

/// `text` with every comment, string, byte string and char literal replaced by blanks (newlines
/// kept), so that a path inside one is not taken for an import, and line numbers still hold.
/// What is left is ASCII.
fn blank_comments_and_literals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let ident_before = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if !ident_before && (c == 'r' || (c == 'b' && next == Some('r'))) && {
            let start = if c == 'b' { i + 2 } else { i + 1 };
            let hashes = chars[start.min(chars.len())..]
                .iter()
                .take_while(|&&h| h == '#')
                .count();
            chars.get(start + hashes) == Some(&'"')
        } {
            // A raw string: r"…", r#"…"#, br"…".
            let start = if c == 'b' { i + 2 } else { i + 1 };
            let hashes = chars[start..].iter().take_while(|&&h| h == '#').count();
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let body = start + hashes + 1;
            let rest: String = chars[body..].iter().collect();
            let len = rest.find(&close).map_or(rest.chars().count(), |at| {
                rest[..at].chars().count() + close.chars().count()
            });
            for &skipped in &chars[i..(body + len).min(chars.len())] {
                out.push(blank(skipped));
            }
            i = body + len;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                let step = if chars[i] == '\\' { 2 } else { 1 };
                for &skipped in &chars[i..(i + step).min(chars.len())] {
                    out.push(blank(skipped));
                }
                i += step;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{1F600}', '{'), not a lifetime ('a).
            let len = match (next, chars.get(i + 2)) {
                (Some('\\'), _) => chars[i + 2..]
                    .iter()
                    .position(|&e| e == '\'')
                    .map(|at| at + 3),
                (Some(_), Some('\'')) => Some(3),
                _ => None,
            };
            match len {
                Some(len) => {
                    out.extend(std::iter::repeat_n(' ', len));
                    i += len;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            // Code is ASCII but for names nobody imports by: keep byte offsets simple.
            out.push(if c.is_ascii() { c } else { ' ' });
            i += 1;
        }
    }
    out
}

/// A circle among same-floor imports, if there is one: the imports that close it, in order.
fn find_circle(edges: &BTreeMap<String, Vec<Import>>) -> Option<Vec<Import>> {
    // Depth-first, with the path walked so far: an import back onto the path closes a circle.
    fn walk(
        file: &str,
        edges: &BTreeMap<String, Vec<Import>>,
        path: &mut Vec<Import>,
        on_path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<Import>> {
        on_path.push(file.to_string());
        for import in edges.get(file).into_iter().flatten() {
            path.push(import.clone());
            if let Some(at) = on_path.iter().position(|f| *f == import.to) {
                return Some(path[at..].to_vec());
            }
            if !done.contains(&import.to) {
                if let Some(circle) = walk(&import.to, edges, path, on_path, done) {
                    return Some(circle);
                }
            }
            path.pop();
        }
        on_path.pop();
        done.insert(file.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for file in edges.keys() {
        if !done.contains(file) {
            let circle = walk(file, edges, &mut Vec::new(), &mut Vec::new(), &mut done);
            if circle.is_some() {
                return circle;
            }
        }
    }
    None
}
