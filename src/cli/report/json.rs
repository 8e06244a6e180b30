//! The JSON report: one document, `{"version": 1, "files": [...], "summary": {...}}` (schema in the README).

use crate::cli::report::{per_rule_counts, Counts, FileReport, FileStatus, FixKind, Hunk, Summary};
use crate::engine::finding::Applicability;
use crate::syntax::diagnostic::Diagnostic;
use crate::syntax::text::{LineIndex, TextRange};
use serde_json::{json, Value};

fn position(lines: &LineIndex, source: &str, range: TextRange) -> Value {
    let (line, column) = lines.line_col(source, range.start);
    let (end_line, end_column) = lines.line_col(source, range.end);
    json!({ "line": line, "column": column, "end_line": end_line, "end_column": end_column })
}

pub fn applicability(a: Applicability) -> &'static str {
    match a {
        Applicability::Safe => "safe",
        Applicability::Unsafe => "unsafe",
        Applicability::DisplayOnly => "display-only",
    }
}

pub fn status(s: FileStatus) -> &'static str {
    match s {
        FileStatus::Checked => "checked",
        FileStatus::Unreadable => "unreadable",
        FileStatus::Unparseable => "unparseable",
    }
}

/// One file's entry.
pub fn file(r: &FileReport) -> Value {
    let lines = LineIndex::new(&r.source);
    let findings: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let fix = f.fix.as_ref().map(|fix| {
                json!({
                    "applicability": applicability(fix.applicability),
                    "edits": fix.edits.iter().map(|e| json!({
                        "range": e.range,
                        "location": position(&lines, &r.source, e.range),
                        "content": e.replacement,
                    })).collect::<Vec<_>>(),
                })
            });
            json!({
                "code": f.rule.code,
                "name": f.rule.name,
                "severity": f.rule.severity.label(),
                "message": f.message,
                "range": f.range,
                "location": position(&lines, &r.source, f.range),
                "fix": fix,
            })
        })
        .collect();
    let mut entry = json!({
        "path": r.path, "status": status(r.status), "changed": r.changed, "layers": r.layers,
        "applied": r.applied, "findings": findings,
        "errors": diagnostics(&r.errors), "warnings": diagnostics(&r.warnings),
    });
    if !r.hunks.is_empty() {
        entry["hunks"] = hunks(&r.hunks);
    }
    entry
}

fn diagnostics(list: &[Diagnostic]) -> Vec<Value> {
    list.iter()
        .map(|e| {
            let (line, column) = e.position().map_or((None, None), |(l, c)| (Some(l), Some(c)));
            json!({ "message": e.message, "help": e.help, "line": line, "column": column })
        })
        .collect()
}

/// The line hunks `--diff` would write, each replacing whole lines of the original.
fn hunks(list: &[Hunk]) -> Value {
    list.iter()
        .map(|h| {
            json!({
                "start_line": h.start_line, "end_line": h.end_line, "range": [h.start, h.end],
                "content": h.replacement, "rules": h.rules,
            })
        })
        .collect()
}

/// The summary object that closes the report.
pub fn summary(s: &Summary) -> Value {
    json!({
        "files": s.files, "changed": s.changed, "findings": s.findings, "fixable": s.fixable,
        "unsafe_fixable": s.unsafe_fixable, "advice": s.advice, "failing": s.failing,
        "errors": s.errors, "warnings": s.warnings,
        "unreadable": s.unreadable, "unparseable": s.unparseable, "passed_over": s.passed_over,
        "applied": s.applied, "by_rule": s.by_rule,
        "layers_before": s.layers_before, "layers_after": s.layers_after,
    })
}

/// `--statistics --format json`: findings per rule, most frequent first, and the summary.
pub fn statistics(counts: &[Counts], totals: &Summary) -> Value {
    let rules: Vec<Value> = per_rule_counts(counts)
        .into_iter()
        .map(|(count, f)| {
            let fix = match f.fix {
                FixKind::Safe => "safe",
                FixKind::Unsafe => "unsafe",
                FixKind::DisplayOnly => "display-only",
                FixKind::None => "none",
            };
            json!({ "code": f.code, "name": f.name, "count": count, "fix": fix, "severity": f.severity.label() })
        })
        .collect();
    json!({ "version": 1, "rules": rules, "summary": summary(totals) })
}
