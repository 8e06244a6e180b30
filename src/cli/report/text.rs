//! The text report: each finding with its source line and a caret under what it is about, and for `fix` a line
//! per file saying what it fixed.

use crate::cli::report::{per_rule, FileReport, FixKind};
use crate::syntax::diagnostic::{is_printable_ascii, printable, MAX_MESSAGE_CHARS};
use crate::syntax::text::{LineCursor, TextRange};
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
    // Room for what a finding usually takes (its message, and its line quoted with carets under it), so that the
    // report is not copied again and again as it grows.
    out.reserve(report.findings.len() * (path.len() + 256));
    let mut lines = LineCursor::new(&report.source);
    // Pieces are pushed rather than formatted, numbers included, and a line of printable ASCII is quoted from the
    // source without copies: a check of a large tree writes tens of thousands of these.
    let (mut line_digits, mut col_digits) = (itoa::Buffer::new(), itoa::Buffer::new());
    for finding in &report.findings {
        let (line, col) = lines.line_col(finding.range.start);
        let label = FixKind::of(finding).label(finding.rule.severity);
        let number = line_digits.format(line);
        out.push_str(&path);
        out.push(':');
        out.push_str(number);
        out.push(':');
        out.push_str(col_digits.format(col));
        out.push_str(": ");
        out.push_str(finding.rule.code);
        out.push(' ');
        out.push_str(&printable(&finding.message, MAX_MESSAGE_CHARS));
        if !label.is_empty() {
            out.push(' ');
            out.push_str(label);
        }
        out.push('\n');
        quote(&report.source, finding.range).write(&mut out, number);
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

/// How a finding's source line is quoted: see [`quote`].
enum Quote<'s> {
    Ascii(AsciiQuote<'s>),
    Any { text: String, indent: String, carets: String },
}

impl Quote<'_> {
    /// The lines under a finding's message: a bar in the gutter, then the quoted text after the line `number`,
    /// then under it the indent and the carets that point at the finding.
    fn write(&self, out: &mut String, number: &str) {
        push_repeated(out, ' ', number.len());
        out.push_str(" |\n");
        out.push_str(number);
        out.push_str(" | ");
        match self {
            Quote::Ascii(quote) => quote.write_text(out),
            Quote::Any { text, .. } => out.push_str(text),
        }
        out.push('\n');
        push_repeated(out, ' ', number.len());
        out.push_str(" | ");
        match self {
            Quote::Ascii(quote) => quote.write_marks(out),
            Quote::Any { indent, carets, .. } => {
                out.push_str(indent);
                out.push_str(carets);
            }
        }
        out.push('\n');
    }
}

/// The source line of `range` as the text report quotes it, printable and cut to a window around the range, with
/// the indent and carets that point at the range under it.
fn quote(source: &str, range: TextRange) -> Quote<'_> {
    let bytes = source.as_bytes();
    let line_start = memchr::memrchr(b'\n', &bytes[..range.start]).map_or(0, |n| n + 1);
    let line_end = memchr::memchr(b'\n', &bytes[range.start..]).map_or(source.len(), |n| range.start + n);
    if is_printable_ascii(&bytes[line_start..line_end]) {
        Quote::Ascii(AsciiQuote::new(source, range, line_start, line_end))
    } else {
        let (text, indent, carets) = quote_any(source, range, line_start, line_end);
        Quote::Any { text, indent, carets }
    }
}

/// [`quote`] of a line of printable ASCII, which nearly every line is: a byte is a character and nothing needs
/// escaping, so the window is cut by byte counts and the quote is slices of the source.
struct AsciiQuote<'s> {
    /// The line goes on before `lead`.
    cut_lead: bool,
    /// What is shown of the line before the range.
    lead: &'s str,
    /// What is shown of the line from the range on.
    rest: &'s str,
    /// The line goes on after `rest`.
    cut_rest: bool,
    /// How many carets point at the range.
    carets: usize,
}

impl<'s> AsciiQuote<'s> {
    fn new(source: &'s str, range: TextRange, line_start: usize, line_end: usize) -> Self {
        let before = &source[line_start..range.start];
        let lead = &before[before.len().saturating_sub(QUOTE_CHARS / 4)..];
        let cut_lead = lead.len() < before.len();
        let after = &source[range.start..line_end];
        let room = QUOTE_CHARS.saturating_sub(lead.len() + usize::from(cut_lead)).max(1);
        let rest = &after[..after.len().min(room)];
        let cut_rest = rest.len() < after.len();
        let shown = (rest.len() + usize::from(cut_rest)).max(1);
        let marked = range.end.min(line_end).max(range.start) - range.start;
        AsciiQuote { cut_lead, lead, rest, cut_rest, carets: marked.clamp(1, shown) }
    }

    /// The quoted text, from the source.
    fn write_text(&self, out: &mut String) {
        if self.cut_lead {
            out.push('…');
        }
        out.push_str(self.lead);
        out.push_str(self.rest);
        if self.cut_rest {
            out.push('…');
        }
    }

    /// The indent under the quoted text, and the carets under the range.
    fn write_marks(&self, out: &mut String) {
        if self.cut_lead {
            out.push(' ');
        }
        out.extend(self.lead.chars().map(|c| if c == '\t' { '\t' } else { ' ' }));
        push_repeated(out, '^', self.carets);
    }
}

fn push_repeated(out: &mut String, c: char, times: usize) {
    out.extend(std::iter::repeat_n(c, times));
}

/// [`quote`] of any line: characters that are not printable are escaped, and the window is cut by characters.
fn quote_any(source: &str, range: TextRange, line_start: usize, line_end: usize) -> (String, String, String) {
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

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The ASCII quote is the general one, on lines where both apply.
        #[test]
        fn an_ascii_line_is_quoted_as_any_line_is(
            line in "[ -~\t]{0,400}",
            start in 0usize..400,
            len in 0usize..400,
            more in "(\n[ -~]{0,20}){0,2}",
        ) {
            let source = format!("{line}{more}");
            let start = start.min(line.len());
            let range = TextRange::new(start, (start + len).min(source.len()));
            let line_end = line.len();
            let mut ascii = String::new();
            Quote::Ascii(AsciiQuote::new(&source, range, 0, line_end)).write(&mut ascii, "12");
            let (text, indent, carets) = quote_any(&source, range, 0, line_end);
            let mut any = String::new();
            Quote::Any { text, indent, carets }.write(&mut any, "12");
            proptest::prop_assert_eq!(ascii, any);
        }
    }

    #[test]
    fn a_line_that_is_not_ascii_is_quoted_with_escapes_and_cut_by_characters() {
        let line = format!("RUN {}\u{7}é", "x".repeat(200));
        let Quote::Any { text, indent, carets } = quote(&line, TextRange::new(4, 6)) else {
            panic!("a line that is not ASCII is quoted with escapes")
        };
        assert_eq!(text, format!("RUN {}…", "x".repeat(156)));
        assert_eq!((indent.as_str(), carets.as_str()), ("    ", "^^"));
        let Quote::Any { text, .. } = quote("RUN \u{7}é", TextRange::new(4, 5)) else {
            panic!("a line that is not ASCII is quoted with escapes")
        };
        assert_eq!(text, "RUN \\u{7}é");
    }
}
