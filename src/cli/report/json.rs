//! The JSON report: one document, `{"version": 1, "files": [...], "summary": {...}}` (schema in the README).

use crate::cli::report::{json_text, per_rule_counts, Counts, FileReport, FileStatus, FixKind, Hunk, Summary};
use crate::engine::finding::Applicability;
use crate::syntax::diagnostic::Diagnostic;
use crate::syntax::text::{LineIndex, TextRange};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Where a range lies, in 1-based lines and character columns. Fields here and below are in alphabetical order,
/// the order the report has always had.
#[derive(Serialize)]
struct Location {
    column: usize,
    end_column: usize,
    end_line: usize,
    line: usize,
}

impl Location {
    fn of(lines: &LineIndex, source: &str, range: TextRange) -> Location {
        let (line, column) = lines.line_col(source, range.start);
        let (end_line, end_column) = lines.line_col(source, range.end);
        Location { column, end_column, end_line, line }
    }
}

#[derive(Serialize)]
struct EditEntry<'r> {
    content: &'r str,
    location: Location,
    range: TextRange,
}

#[derive(Serialize)]
struct FixEntry<'r> {
    applicability: &'static str,
    edits: Vec<EditEntry<'r>>,
}

#[derive(Serialize)]
struct FindingEntry<'r> {
    code: &'static str,
    fix: Option<FixEntry<'r>>,
    location: Location,
    message: &'r str,
    name: &'static str,
    range: TextRange,
    severity: &'static str,
}

/// One file's entry, serialized straight from the report: a file with a hundred thousand findings costs their
/// text, not a tree of maps for each.
#[derive(Serialize)]
struct FileEntry<'r> {
    applied: &'r BTreeMap<&'static str, usize>,
    changed: bool,
    errors: Vec<Value>,
    findings: Vec<FindingEntry<'r>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hunks: Option<Value>,
    layers: Option<(usize, usize)>,
    path: &'r str,
    status: &'static str,
    warnings: Vec<Value>,
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
        FileStatus::Failed => "failed",
    }
}

/// One file's entry, as JSON text.
pub fn file(r: &FileReport) -> String {
    let lines = LineIndex::new(&r.source);
    let location = |range| Location::of(&lines, &r.source, range);
    let findings = r
        .findings
        .iter()
        .map(|f| FindingEntry {
            code: f.rule.code,
            fix: f.fix.as_ref().map(|fix| FixEntry {
                applicability: applicability(fix.applicability),
                edits: fix
                    .edits
                    .iter()
                    .map(|e| EditEntry { content: &e.replacement, location: location(e.range), range: e.range })
                    .collect(),
            }),
            location: location(f.range),
            message: &f.message,
            name: f.rule.name,
            range: f.range,
            severity: f.rule.severity.label(),
        })
        .collect();
    let entry = FileEntry {
        applied: &r.applied,
        changed: r.changed,
        errors: diagnostics(&r.errors),
        findings,
        hunks: (!r.hunks.is_empty()).then(|| hunks(&r.hunks)),
        layers: r.layers,
        path: &r.path,
        status: status(r.status),
        warnings: diagnostics(&r.warnings),
    };
    json_text(&entry)
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
        "unreadable": s.unreadable, "unparseable": s.unparseable, "failed": s.failed, "passed_over": s.passed_over,
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
