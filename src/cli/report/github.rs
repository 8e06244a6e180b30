//! GitHub Actions workflow commands that annotate a pull request: `::warning` for warnings, `::notice` for advice,
//! `::error` for files dockopt could not read.

use crate::cli::report::{FileReport, FixKind};
use crate::engine::finding::Severity;
use crate::syntax::diagnostic::{printable, MAX_MESSAGE_CHARS};
use crate::syntax::text::LineIndex;
use std::fmt::Write;

/// One file's annotations.
pub fn file(r: &FileReport) -> String {
    let mut out = String::new();
    let lines = LineIndex::new(&r.source);
    for f in &r.findings {
        let (line, col) = lines.line_col(&r.source, f.range.start);
        let (end_line, end_col) = lines.line_col(&r.source, f.range.end);
        let level = if f.rule.severity == Severity::Advice { "notice" } else { "warning" };
        let label = FixKind::of(f).label(f.rule.severity);
        writeln!(
            out,
            "::{level} file={},line={line},col={col},endLine={end_line},endColumn={end_col},title={}::{}{}{}",
            escape_property(&r.path),
            escape_property(&format!("{} {}", f.rule.code, f.rule.name)),
            escape_data(&f.message),
            if label.is_empty() { "" } else { " " },
            escape_data(label)
        )
        .unwrap();
    }
    for e in &r.errors {
        let place = e.position().map_or_else(String::new, |(line, col)| format!(",line={line},col={col}"));
        let message = escape_data(&format!("{} ({})", e.message, e.help));
        writeln!(out, "::error file={}{place}::{message}", escape_property(&r.path)).unwrap();
    }
    out
}

/// A workflow command's data: `%`, CR and LF encoded as GitHub reads them; other control characters escaped and
/// long text cut, as on a terminal.
fn escape_data(s: &str) -> String {
    let encoded = s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    printable(&encoded, MAX_MESSAGE_CHARS).into_owned()
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}
