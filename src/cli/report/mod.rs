//! Output formats for findings: text for people, JSON for tools, SARIF for code scanning, and GitHub workflow
//! commands for pull-request annotations.

use crate::engine::finding::{Applicability, Finding, Safety};
use crate::engine::rule::Rule;
use crate::syntax::diagnostic::{printable, Diagnostic, MAX_MESSAGE_CHARS};
use crate::syntax::text::{LineIndex, TextRange};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write;

/// What dockopt found and did in one file.
pub struct FileReport {
    /// The path as the user named or the walk found it.
    pub path: String,
    /// The text the findings' ranges refer to: the file after fixing, when `fix` wrote it.
    pub source: String,
    pub findings: Vec<Finding>,
    /// Problems that stopped dockopt from reading or fixing the file.
    pub errors: Vec<Diagnostic>,
    /// What the user should know about how the file was written, such as a hard link split.
    pub warnings: Vec<Diagnostic>,
    /// The file was rewritten, or (with `--diff`) would be.
    pub changed: bool,
    /// RUN, COPY and ADD instructions (one layer each) before and after safe fixes.
    pub layers: Option<(usize, usize)>,
    /// What goes to standard output for this file, in path order: its diff, or the fixed standard input.
    pub stdout: Option<String>,
}

/// What a file contributes to the summary and the statistics, kept once its output is rendered.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub changed: bool,
    pub findings: usize,
    pub fixable: usize,
    pub errors: usize,
    pub warnings: usize,
    pub layers: Option<(usize, usize)>,
    /// (rule code, rule name, has a fix) per finding.
    pub per_rule: Vec<(&'static str, &'static str, bool)>,
}

impl Counts {
    pub fn of(report: &FileReport) -> Counts {
        let fixable = |f: &Finding| f.fix.as_ref().is_some_and(|f| f.applicability != Applicability::DisplayOnly);
        Counts {
            changed: report.changed,
            findings: report.findings.len(),
            fixable: report.findings.iter().filter(|f| fixable(f)).count(),
            errors: report.errors.len(),
            warnings: report.warnings.len(),
            layers: report.layers,
            per_rule: report.findings.iter().map(|f| (f.rule.code, f.rule.name, f.fix.is_some())).collect(),
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub files: usize,
    pub changed: usize,
    pub findings: usize,
    pub fixable: usize,
    pub errors: usize,
    pub warnings: usize,
    pub layers_before: usize,
    pub layers_after: usize,
}

impl Summary {
    pub fn of<'c>(files: impl IntoIterator<Item = &'c Counts>) -> Summary {
        let mut s = Summary::default();
        for c in files {
            s.files += 1;
            s.changed += usize::from(c.changed);
            s.findings += c.findings;
            s.fixable += c.fixable;
            s.errors += c.errors;
            s.warnings += c.warnings;
            if let Some((before, after)) = c.layers {
                s.layers_before += before;
                s.layers_after += after;
            }
        }
        s
    }

    /// One line: files checked, files changed, findings, layers before → after.
    pub fn line(&self, changed_verb: &str) -> String {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let mut line = format!(
            "{} checked, {} {changed_verb}, {} ({} fixable)",
            plural(self.files, "file"),
            self.changed,
            plural(self.findings, "finding"),
            self.fixable
        );
        if self.errors > 0 {
            write!(line, ", {}", plural(self.errors, "error")).unwrap();
        }
        if self.warnings > 0 {
            write!(line, ", {}", plural(self.warnings, "warning")).unwrap();
        }
        write!(line, "; layers {} → {}", self.layers_before, self.layers_after).unwrap();
        line
    }
}

fn fix_label(finding: &Finding) -> &'static str {
    match finding.fix.as_ref().map(|f| f.applicability) {
        Some(Applicability::Safe) => " [safe fix]",
        Some(Applicability::Unsafe) => " [unsafe fix]",
        Some(Applicability::DisplayOnly) => " [suggestion]",
        None => "",
    }
}

/// Each finding of a file with its source line and a caret under what it is about.
pub fn text(report: &FileReport) -> String {
    let mut out = String::new();
    if !report.findings.is_empty() {
        let lines = LineIndex::new(&report.source);
        let path = printable(&report.path, usize::MAX);
        for finding in &report.findings {
            let (line, col) = lines.line_col(&report.source, finding.range.start);
            writeln!(
                out,
                "{path}:{line}:{col}: {} {}{}",
                finding.rule.code,
                printable(&finding.message, MAX_MESSAGE_CHARS),
                fix_label(finding)
            )
            .unwrap();
            let gutter = " ".repeat(line.to_string().len());
            let (text, indent, carets) = quote(&report.source, finding.range);
            writeln!(out, "{gutter} |\n{line} | {text}\n{gutter} | {indent}{carets}").unwrap();
        }
        out.push('\n');
    }
    out
}

/// How much of a source line the text report quotes around a finding.
const QUOTE_CHARS: usize = 160;

/// The source line of `range` as the text report quotes it, printable and cut to a window around the range, with
/// the indent and carets that point at the range under it.
fn quote(source: &str, range: TextRange) -> (String, String, String) {
    let line_start = source[..range.start].rfind('\n').map_or(0, |n| n + 1);
    let line_end = source[range.start..].find('\n').map_or(source.len(), |n| range.start + n);
    let before: Vec<char> = source[line_start..range.start].chars().collect();
    let marked = source[range.start..range.end.min(line_end).max(range.start)].trim_end_matches('\r');
    let after = source[range.start..line_end].trim_end_matches('\r');
    // Keep a little of what comes before the range, and cut the rest so the range stays in view.
    let skip = before.len().saturating_sub(QUOTE_CHARS / 4);
    let lead: String = before[skip..].iter().collect();
    let lead = if skip > 0 { format!("…{lead}") } else { lead };
    let shown_lead = printable(&lead, usize::MAX).into_owned();
    let rest = printable(after, QUOTE_CHARS.saturating_sub(shown_lead.chars().count()).max(1));
    let indent = shown_lead.chars().map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    let width = printable(marked, rest.chars().count()).chars().count().max(1).min(rest.chars().count().max(1));
    (format!("{shown_lead}{rest}"), indent, "^".repeat(width))
}

/// Counts per rule, most frequent first.
pub fn statistics<'c>(files: impl IntoIterator<Item = &'c Counts>) -> String {
    let mut counts: BTreeMap<&str, (usize, &str, bool)> = BTreeMap::new();
    for &(code, name, fixable) in files.into_iter().flat_map(|c| &c.per_rule) {
        let entry = counts.entry(code).or_insert((0, name, false));
        entry.0 += 1;
        entry.2 |= fixable;
    }
    let mut rows: Vec<_> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
    let mut out = String::new();
    for (code, (count, name, fixable)) in rows {
        writeln!(out, "{count:>6}  {code}  {name}{}", if fixable { "  [fix]" } else { "" }).unwrap();
    }
    out
}

fn position(lines: &LineIndex, source: &str, range: TextRange) -> Value {
    let (line, column) = lines.line_col(source, range.start);
    let (end_line, end_column) = lines.line_col(source, range.end);
    json!({ "line": line, "column": column, "end_line": end_line, "end_column": end_column })
}

/// One file's entry in the JSON report. See the README for the schema.
pub fn json_file(r: &FileReport) -> Value {
    let lines = LineIndex::new(&r.source);
    let findings: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let fix = f.fix.as_ref().map(|fix| {
                json!({
                    "applicability": match fix.applicability {
                        Applicability::Safe => "safe",
                        Applicability::Unsafe => "unsafe",
                        Applicability::DisplayOnly => "display-only",
                    },
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
                "message": f.message,
                "range": f.range,
                "location": position(&lines, &r.source, f.range),
                "fix": fix,
            })
        })
        .collect();
    let diagnostics = |list: &[Diagnostic]| -> Vec<Value> {
        list.iter()
            .map(|e| json!({ "message": e.message, "help": e.help, "line": e.line, "column": e.column }))
            .collect()
    };
    json!({
        "path": r.path, "changed": r.changed, "layers": r.layers, "findings": findings,
        "errors": diagnostics(&r.errors), "warnings": diagnostics(&r.warnings),
    })
}

/// The summary object that closes the JSON report.
pub fn summary_json(s: &Summary) -> Value {
    json!({
        "files": s.files, "changed": s.changed, "findings": s.findings, "fixable": s.fixable,
        "errors": s.errors, "warnings": s.warnings, "layers_before": s.layers_before, "layers_after": s.layers_after,
    })
}

/// One file's SARIF results and tool notifications (for files dockopt could not read).
pub fn sarif_file(r: &FileReport, rules: &[&'static dyn Rule]) -> (Vec<Value>, Vec<Value>) {
    let rule_index = |code: &str| rules.iter().position(|rule| rule.info().code == code);
    let lines = LineIndex::new(&r.source);
    let uri = r.path.trim_start_matches("./");
    let region = |range: TextRange| {
        let (start_line, start_column) = lines.line_col(&r.source, range.start);
        let (end_line, end_column) = lines.line_col(&r.source, range.end);
        json!({ "startLine": start_line, "startColumn": start_column, "endLine": end_line, "endColumn": end_column })
    };
    let mut results = Vec::new();
    for f in &r.findings {
        let mut result = json!({
            "ruleId": f.rule.code,
            "level": if f.rule.safety == Safety::ReportOnly { "note" } else { "warning" },
            "message": { "text": f.message },
            "locations": [{ "physicalLocation": {
                "artifactLocation": { "uri": uri },
                "region": region(f.range),
            }}],
        });
        if let Some(index) = rule_index(f.rule.code) {
            result["ruleIndex"] = json!(index);
        }
        if let Some(fix) = f.fix.as_ref().filter(|fix| fix.applicability != Applicability::DisplayOnly) {
            let safety = if fix.applicability == Applicability::Safe { "safe" } else { "unsafe" };
            result["fixes"] = json!([{
                "description": { "text": format!("{} ({safety})", f.rule.summary) },
                "artifactChanges": [{
                    "artifactLocation": { "uri": uri },
                    "replacements": fix.edits.iter().map(|e| json!({
                        "deletedRegion": region(e.range),
                        "insertedContent": { "text": e.replacement },
                    })).collect::<Vec<_>>(),
                }],
            }]);
        }
        results.push(result);
    }
    let notifications = r
        .errors
        .iter()
        .map(|e| {
            json!({
                "level": "error",
                "message": { "text": format!("{} ({})", e.message, e.help) },
                "locations": [{ "physicalLocation": {
                    "artifactLocation": { "uri": uri },
                    "region": { "startLine": e.line, "startColumn": e.column },
                }}],
                "descriptor": { "id": "parse-error" },
            })
        })
        .collect();
    (results, notifications)
}

/// SARIF 2.1.0 up to the first result: the tool with the rules' metadata. Results follow, separated by
/// commas, then [`sarif_suffix`]. Columns count Unicode code points.
pub fn sarif_prefix(rules: &[&'static dyn Rule]) -> String {
    let descriptors: Vec<Value> = rules
        .iter()
        .map(|r| {
            let info = r.info();
            json!({
                "id": info.code,
                "name": info.name,
                "shortDescription": { "text": info.summary },
                "fullDescription": { "text": info.doc },
                "help": { "text": info.doc },
                "defaultConfiguration": { "level": if info.safety == Safety::ReportOnly { "note" } else { "warning" } },
                "properties": {
                    "fix": match info.safety { Safety::Safe => "safe", Safety::Unsafe => "unsafe", Safety::ReportOnly => "none" },
                    "hadolint": info.hadolint,
                },
            })
        })
        .collect();
    let driver = json!({
        "name": "dockopt",
        "version": env!("CARGO_PKG_VERSION"),
        "informationUri": "https://github.com/dockopt/dockopt",
        "rules": descriptors,
    });
    format!(
        "{{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\",\"runs\":[{{\"tool\":{{\"driver\":{driver}}},\"columnKind\":\"unicodeCodePoints\",\"results\":["
    )
}

/// Closes a SARIF log after its results, with the notifications for files dockopt could not read.
pub fn sarif_suffix(notifications: &[String]) -> String {
    format!(
        "],\"invocations\":[{{\"executionSuccessful\":{},\"toolExecutionNotifications\":[{}]}}]}}]}}",
        notifications.is_empty(),
        notifications.join(",")
    )
}

/// GitHub Actions workflow commands for one file: one annotation per finding and error.
pub fn github(r: &FileReport) -> String {
    let mut out = String::new();
    {
        let lines = LineIndex::new(&r.source);
        for f in &r.findings {
            let (line, col) = lines.line_col(&r.source, f.range.start);
            let (end_line, end_col) = lines.line_col(&r.source, f.range.end);
            let level = if f.rule.safety == Safety::ReportOnly { "notice" } else { "warning" };
            writeln!(
                out,
                "::{level} file={},line={line},col={col},endLine={end_line},endColumn={end_col},title={}::{}{}",
                escape_property(&r.path),
                escape_property(&format!("{} {}", f.rule.code, f.rule.name)),
                escape_data(&f.message),
                escape_data(fix_label(f))
            )
            .unwrap();
        }
        for e in &r.errors {
            writeln!(
                out,
                "::error file={},line={},col={}::{}",
                escape_property(&r.path),
                e.line,
                e.column,
                escape_data(&format!("{} ({})", e.message, e.help))
            )
            .unwrap();
        }
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
