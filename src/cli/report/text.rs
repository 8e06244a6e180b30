//! The text report: each finding with its source line and a caret under what it is about, and for `fix` a line
//! per file saying what it fixed.

use crate::cli::report::{per_rule, FileReport, FixKind};
use crate::syntax::diagnostic::{printable, MAX_MESSAGE_CHARS};
use crate::syntax::text::{LineIndex, TextRange};
use std::fmt::Write;

/// A file's findings, after `path: fixed N (DO101 ×2, …)` when `fixed` and fixes were applied.
pub fn file(report: &FileReport, fixed: bool) -> String {
    let mut out = String::new();
    let path = printable(&report.path, usize::MAX);
    if fixed && !report.applied.is_empty() {
        let total: usize = report.applied.values().sum();
        writeln!(out, "{path}: fixed {total} ({})", per_rule(&report.applied)).unwrap();
    }
    if report.findings.is_empty() {
        return out;
    }
    let lines = LineIndex::new(&report.source);
    // Pieces are pushed rather than formatted: a check of a large tree writes tens of thousands of these.
    let mut number = String::new();
    for finding in &report.findings {
        let (line, col) = lines.line_col(&report.source, finding.range.start);
        let label = FixKind::of(finding).label(finding.rule.severity);
        number.clear();
        write!(number, "{line}").unwrap();
        out.push_str(&path);
        out.push(':');
        out.push_str(&number);
        write!(out, ":{col}: ").unwrap();
        out.push_str(finding.rule.code);
        out.push(' ');
        out.push_str(&printable(&finding.message, MAX_MESSAGE_CHARS));
        if !label.is_empty() {
            out.push(' ');
            out.push_str(label);
        }
        let (text, indent, carets) = quote(&report.source, finding.range);
        let gutter = " ".repeat(number.len());
        for piece in ["\n", &gutter, " |\n", &number, " | ", &text, "\n", &gutter, " | ", &indent, &carets, "\n"] {
            out.push_str(piece);
        }
    }
    out.push('\n');
    out
}

/// The header `--diff` prints above a file's diff: the fixes it shows, per rule.
pub fn diff_header(report: &FileReport) -> String {
    let total: usize = report.applied.values().sum();
    let fixes = if total == 1 { "fix" } else { "fixes" };
    format!("dockopt: {}: {total} {fixes}: {}\n", printable(&report.path, usize::MAX), per_rule(&report.applied))
}

/// How much of a source line the text report quotes around a finding.
const QUOTE_CHARS: usize = 160;

/// The source line of `range` as the text report quotes it, printable and cut to a window around the range, with
/// the indent and carets that point at the range under it.
fn quote(source: &str, range: TextRange) -> (String, String, String) {
    let line_start = source[..range.start].rfind('\n').map_or(0, |n| n + 1);
    let line_end = source[range.start..].find('\n').map_or(source.len(), |n| range.start + n);
    let before = &source[line_start..range.start];
    let marked = source[range.start..range.end.min(line_end).max(range.start)].trim_end_matches('\r');
    let after = source[range.start..line_end].trim_end_matches('\r');
    // Keep a little of what comes before the range, and cut the rest so the range stays in view.
    let lead_start = before.char_indices().rev().nth(QUOTE_CHARS / 4 - 1).map_or(0, |(at, _)| at);
    let mut shown_lead = String::with_capacity(before.len() - lead_start + 3);
    if lead_start > 0 {
        shown_lead.push('…');
    }
    shown_lead.push_str(&printable(&before[lead_start..], usize::MAX));
    let rest = printable(after, QUOTE_CHARS.saturating_sub(shown_lead.chars().count()).max(1));
    let indent = shown_lead.chars().map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    let shown = rest.chars().count().max(1);
    let width = printable(marked, shown).chars().count().clamp(1, shown);
    (format!("{shown_lead}{rest}"), indent, "^".repeat(width))
}
