//! GitLab's Code Quality report: a JSON array of issues, shown in merge requests. Warnings are `minor`, advice
//! `info`, and files dockopt could not read `major`.

use crate::cli::report::{digest, json_text, FileReport};
use crate::engine::finding::Severity;
use crate::syntax::text::LineIndex;
use serde_json::json;

/// A fingerprint that stays the same while the finding does: the path, the rule, and the text it is about, but not
/// its line, so a finding keeps its identity when lines above it change.
fn fingerprint(parts: &[&str]) -> String {
    digest(parts, 16)
}

/// One file's issues, each as JSON text.
pub fn file(r: &FileReport) -> Vec<String> {
    let lines = LineIndex::new(&r.source);
    let path = r.path.trim_start_matches("./");
    let mut out: Vec<String> = r
        .findings
        .iter()
        .map(|f| {
            let (begin, _) = lines.line_col(&r.source, f.range.start);
            let (end, _) = lines.line_col(&r.source, f.range.end);
            let text = &r.source[f.range.as_range()];
            json_text(&json!({
                "description": format!("{} {}", f.rule.code, f.message),
                "check_name": f.rule.code,
                "fingerprint": fingerprint(&[path, f.rule.code, text]),
                "severity": if f.rule.severity == Severity::Advice { "info" } else { "minor" },
                "location": { "path": path, "lines": { "begin": begin, "end": end } },
            }))
        })
        .collect();
    out.extend(r.errors.iter().map(|e| {
        json_text(&json!({
            "description": format!("{} ({})", e.message, e.help),
            "check_name": "dockopt-error",
            "fingerprint": fingerprint(&[path, "error", &e.message]),
            "severity": "major",
            "location": { "path": path, "lines": { "begin": e.position().map_or(1, |(line, _)| line) } },
        }))
    }));
    out
}
