//! The source tree's architecture, held by a test: the subsystems are layered one way (syntax ← shell ← engine ←
//! transforms ← measure ← cli), and no two modules inside a subsystem import each other, directly or in a circle.
//!
//! Dependencies are read from the code's `crate::…` and `super::…` paths (comments left out), which is how every
//! module here names another.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The subsystems, lowest first: each may use only those before it.
const LAYERS: [&str; 6] = ["syntax", "shell", "engine", "transforms", "measure", "cli"];

/// A source file and the module path it defines, such as `["engine", "context"]` (`[]` for lib.rs).
struct SourceFile {
    module: Vec<String>,
    code: String,
}

fn source_files() -> Vec<SourceFile> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect(&root.join("src"), &[], &mut files);
    collect(&root.join("transforms"), &["transforms".to_string()], &mut files);
    files
}

fn collect(dir: &Path, module: &[String], out: &mut Vec<SourceFile>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        if path.is_dir() {
            let mut inner = module.to_vec();
            inner.push(name);
            collect(&path, &inner, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let mut own = module.to_vec();
            if !matches!(name.as_str(), "mod" | "lib" | "main") {
                own.push(name);
            }
            out.push(SourceFile { module: own, code: without_comments(&std::fs::read_to_string(&path).unwrap()) });
        }
    }
}

fn without_comments(code: &str) -> String {
    code.lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Every module path the code names, resolved to an absolute path: `crate::a::b::C` gives `[a, b, C]`, `super::x`
/// in module `[a, b]` gives `[a, x]`, and `use crate::{a, b}` gives both. Inside an inline module (`mod tests
/// { … }`), `super::` is the file's own module. A path relative to the file's module (`child::f`) is given as
/// `[…module, child, f]`: whether `child` is a module is for the caller to decide.
fn references(file: &SourceFile) -> Vec<Vec<String>> {
    let inline_module = file.code.lines().position(|l| {
        let l = l.trim_start().trim_start_matches("pub ");
        l.starts_with("mod ") && l.trim_end().ends_with('{')
    });
    let inline_start = inline_module.map_or(file.code.len(), |n| file.code.lines().take(n).map(|l| l.len() + 1).sum());
    let parent = file.module[..file.module.len().saturating_sub(1)].to_vec();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(found) = file.code[at..].find("::") {
        let colons = at + found;
        at = colons + 2;
        let head_start = file.code[..colons].rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
        let head = &file.code[head_start..colons];
        if head.is_empty() || file.code[..head_start].ends_with("::") {
            continue;
        }
        let base = match head {
            "crate" => Vec::new(),
            "super" if colons < inline_start => parent.clone(),
            "super" | "self" => file.module.clone(),
            _ => file.module.iter().cloned().chain([head.to_string()]).collect(),
        };
        let rest = &file.code[colons + 2..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',') {
                out.push(base.iter().cloned().chain(path_of(item.trim())).collect());
            }
        } else {
            out.push(base.iter().cloned().chain(path_of(rest)).collect());
        }
    }
    out
}

fn path_of(text: &str) -> Vec<String> {
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(text.len());
    text[..end].split("::").filter(|s| !s.is_empty()).map(str::to_string).collect()
}

#[test]
fn subsystems_use_only_the_layers_below_them() {
    let rank = |name: &str| LAYERS.iter().position(|l| *l == name);
    let mut violations = Vec::new();
    for file in source_files() {
        let Some(own) = file.module.first().and_then(|m| rank(m)) else { continue };
        for reference in references(&file) {
            if let Some(used) = reference.first().and_then(|m| rank(m)) {
                if used > own {
                    violations.push(format!("{} uses {}", file.module.join("::"), reference.join("::")));
                }
            }
        }
    }
    assert!(violations.is_empty(), "layering broken (lowest first: {LAYERS:?}):\n{}", violations.join("\n"));
}

#[test]
fn modules_inside_a_subsystem_form_no_cycle() {
    let edges = module_edges(&source_files());
    let cycles = cycles(&edges);
    assert!(cycles.is_empty(), "modules that import each other:\n{}", cycles.join("\n"));
}

/// Which module uses which, inside each subsystem: a parent that calls into a child, a child that uses its parent's
/// items, and siblings.
fn module_edges(files: &[SourceFile]) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in files {
        for reference in references(file) {
            // The module a path names: its longest prefix that is a module.
            let Some(target) =
                (1..=reference.len()).rev().map(|n| reference[..n].to_vec()).find(|prefix| modules.contains(prefix))
            else {
                continue;
            };
            let same_subsystem = target.first() == file.module.first();
            if same_subsystem && target != file.module {
                edges.entry(file.module.clone()).or_default().insert(target);
            }
        }
    }
    edges
}

fn cycles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<String> {
    let mut found = Vec::new();
    for start in edges.keys() {
        let mut stack = vec![vec![start.clone()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            for next in edges.get(path.last().unwrap()).into_iter().flatten() {
                if next == start {
                    found.push(path.iter().chain([start]).map(|m| m.join("::")).collect::<Vec<_>>().join(" → "));
                } else if seen.insert(next.clone()) {
                    stack.push(path.iter().cloned().chain([next.clone()]).collect());
                }
            }
        }
    }
    found
}

#[test]
fn the_checks_see_a_cycle_and_a_layer_broken() {
    // The parsing the tests above rely on: a reference upward and a pair of siblings naming each other.
    let engine = SourceFile {
        module: vec!["engine".into(), "fix".into()],
        code: "use crate::cli::run; use super::config::X;".into(),
    };
    let refs = references(&engine);
    assert!(refs.contains(&vec!["cli".to_string(), "run".to_string()]));
    assert!(refs.contains(&vec!["engine".to_string(), "config".to_string(), "X".to_string()]));
    let grouped = SourceFile { module: vec!["cli".into()], code: "use crate::{syntax, shell::Word};".into() };
    let refs = references(&grouped);
    assert!(
        refs.contains(&vec!["syntax".to_string()]) && refs.contains(&vec!["shell".to_string(), "Word".to_string()])
    );
    let sibling =
        SourceFile { module: vec!["engine".into(), "config".into()], code: "use crate::engine::fix::Y;".into() };
    let parent = SourceFile { module: vec!["engine".into()], code: String::new() };
    assert_eq!(cycles(&module_edges(&[engine, sibling, parent])).len(), 2, "fix → config → fix, from either end");
    let child_uses_parent =
        SourceFile { module: vec!["shell".into(), "lexer".into()], code: "use crate::shell::Script;".into() };
    let shell = SourceFile { module: vec!["shell".into()], code: "fn f() { lexer::lex(); }".into() };
    assert_eq!(cycles(&module_edges(&[child_uses_parent, shell])).len(), 2, "shell → lexer → shell");
    let tests = SourceFile {
        module: vec!["engine".into(), "fix".into()],
        code: "use crate::engine::finding::Edit;\nmod tests {\n    use super::*;\n}".into(),
    };
    assert_eq!(references(&tests), vec![vec!["engine", "finding", "Edit"], vec!["engine", "fix"]]);
    let commented =
        SourceFile { module: vec!["syntax".into()], code: without_comments("//! see crate::cli\nfn f() {}") };
    assert!(references(&commented).is_empty());
}
