//! reviewdog's Diagnostic format (rdjson), so reviewdog can post the findings, and the safe fixes as suggestions,
//! on GitHub, GitLab, Bitbucket and Gitea. With `fix --diff` each diagnostic is a hunk of lines the fixes replace,
//! with the replacement as its suggestion.

use crate::cli::report::{json_text, FileReport, Hunk};
use crate::engine::finding::{Applicability, Severity};
use crate::syntax::text::{LineIndex, TextRange};
use serde_json::{json, Value};

/// The document up to the first diagnostic.
pub fn prefix() -> String {
    let source = json!({ "name": "dockopt", "url": "https://github.com/dockopt/dockopt" });
    format!("{{\"source\":{source},\"diagnostics\":[")
}

pub fn suffix() -> &'static str {
    "]}"
}

/// Line and column (1-based, the column counted in UTF-8 bytes, as rdjson asks) of a byte offset.
fn position(lines: &LineIndex, offset: usize) -> Value {
    let (line, column) = lines.line_byte_col(offset);
    json!({ "line": line, "column": column })
}

fn range(lines: &LineIndex, range: TextRange) -> Value {
    json!({ "start": position(lines, range.start), "end": position(lines, range.end) })
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Advice => "INFO",
        Severity::Warning => "WARNING",
    }
}

/// One file's diagnostics, each as JSON text: its findings (safe fixes as suggestions), or with `--diff` its hunks,
/// and its errors.
pub fn file(r: &FileReport, diff: bool) -> Vec<String> {
    let mut out = Vec::new();
    if diff {
        out.extend(r.hunks.iter().map(|h| json_text(&hunk(r, h))));
    } else {
        let lines = LineIndex::new(&r.source);
        for f in &r.findings {
            let mut diagnostic = json!({
                "message": f.message,
                "location": { "path": r.path, "range": range(&lines, f.range) },
                "severity": severity(f.rule.severity),
                "code": { "value": f.rule.code },
            });
            let safe = f.fix.as_ref().filter(|fix| fix.applicability == Applicability::Safe && !fix.edits.is_empty());
            if let Some(fix) = safe {
                diagnostic["suggestions"] = fix
                    .edits
                    .iter()
                    .map(|e| json!({ "range": range(&lines, e.range), "text": e.replacement }))
                    .collect();
            }
            out.push(json_text(&diagnostic));
        }
    }
    for e in &r.errors {
        let mut location = json!({ "path": r.path });
        if let Some((line, column)) = e.position() {
            location["range"] = json!({ "start": { "line": line, "column": column } });
        }
        out.push(json_text(
            &json!({ "message": format!("{} ({})", e.message, e.help), "location": location, "severity": "ERROR" }),
        ));
    }
    out
}

/// A hunk as a diagnostic whose suggestion replaces exactly its lines: from the start of its first line to the
/// start of the line after its last (the report's text is the fixed file, so positions come from line numbers).
fn hunk(r: &FileReport, h: &Hunk) -> Value {
    let rules = if h.rules.is_empty() { String::new() } else { format!(" ({})", h.rules.join(", ")) };
    let lines = json!({
        "start": { "line": h.start_line, "column": 1 },
        "end": { "line": h.end_line + 1, "column": 1 },
    });
    json!({
        "message": format!("dockopt's safe fixes change these lines{rules}"),
        "location": { "path": r.path, "range": lines },
        "severity": "WARNING",
        "code": { "value": h.rules.first().copied().unwrap_or("dockopt") },
        "suggestions": [{ "range": lines, "text": h.replacement }],
    })
}
