//! Where a file command's output goes, in which shape, and in what order: each file's part of the report
//! (text or GitHub lines, or its entry in one JSON or SARIF document), its diff or fixed text on standard output,
//! its errors on standard error, then the document's end and the summary.

use crate::cli::args::{Format, Mode, OutputArgs};
use crate::cli::report::{self, Counts, FileReport, Summary};
use crate::engine::rule::Rule;
use anyhow::Result;
use std::io::{IsTerminal, StderrLock, StdoutLock, Write};

/// A file's output, rendered on the worker that processed it, so the file's text and findings can go.
pub struct Rendered {
    /// Its diff, or the fixed standard input.
    stdout: Option<String>,
    /// Its part of the report: text or GitHub lines, or its entry in the JSON report.
    report: String,
    /// Its SARIF results and tool notifications, serialized.
    sarif: (Vec<String>, Vec<String>),
    /// Its errors and warnings, as printed on standard error.
    errors: String,
    counts: Counts,
}

pub fn render(report: FileReport, format: Format, rules: &[&'static dyn Rule]) -> Rendered {
    let text = match format {
        Format::Text => report::text(&report),
        Format::Github => report::github(&report),
        Format::Json => report::json_file(&report).to_string(),
        Format::Sarif => String::new(),
    };
    let sarif = if format == Format::Sarif {
        let (results, notes) = report::sarif_file(&report, rules);
        (results.iter().map(ToString::to_string).collect(), notes.iter().map(ToString::to_string).collect())
    } else {
        (Vec::new(), Vec::new())
    };
    Rendered {
        errors: report
            .errors
            .iter()
            .map(|e| format!("{e}\n"))
            .chain(report.warnings.iter().map(|w| format!("{}\n", w.to_text("warning"))))
            .collect(),
        counts: Counts::of(&report),
        stdout: report.stdout,
        report: text,
        sarif,
    }
}

pub struct Output {
    format: Format,
    mode: Mode,
    statistics: bool,
    /// The report is written per file (text, GitHub) or as one document (JSON, SARIF); not with `--diff` or
    /// `--statistics`, which print diffs or counts instead.
    document: bool,
    /// With `fix -`, standard output carries the fixed file, so the report goes to standard error.
    report_to_stderr: bool,
    colour: bool,
    stdout: StdoutLock<'static>,
    stderr: StderrLock<'static>,
    first_entry: bool,
    sarif_notes: Vec<String>,
    counts: Vec<Counts>,
}

impl Output {
    pub fn new(mode: Mode, args: &OutputArgs, report_to_stderr: bool) -> Output {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Output {
            format: args.format,
            mode,
            statistics: args.statistics,
            document: !matches!(mode, Mode::Diff { .. }) && !args.statistics,
            report_to_stderr,
            colour,
            stdout: std::io::stdout().lock(),
            stderr: std::io::stderr().lock(),
            first_entry: true,
            sarif_notes: Vec::new(),
            counts: Vec::new(),
        }
    }

    fn report_stream(&mut self) -> &mut dyn Write {
        if self.report_to_stderr {
            &mut self.stderr
        } else {
            &mut self.stdout
        }
    }

    /// The start of a JSON or SARIF document.
    pub fn begin(&mut self, rules: &[&'static dyn Rule]) -> Result<()> {
        if self.document {
            match self.format {
                Format::Json => write!(self.report_stream(), "{{\"version\":1,\"files\":[")?,
                Format::Sarif => write!(self.report_stream(), "{}", report::sarif_prefix(rules))?,
                Format::Text | Format::Github => {}
            }
        }
        Ok(())
    }

    /// One file's output.
    pub fn file(&mut self, r: Rendered) -> Result<()> {
        self.stderr.write_all(r.errors.as_bytes())?;
        if let Some(text) = &r.stdout {
            let is_diff = matches!(self.mode, Mode::Diff { .. });
            self.stdout.write_all(if is_diff && self.colour { colourize(text) } else { text.clone() }.as_bytes())?;
        }
        if self.document {
            match self.format {
                Format::Text | Format::Github => self.report_stream().write_all(r.report.as_bytes())?,
                Format::Json => {
                    let separator = if std::mem::take(&mut self.first_entry) { "" } else { "," };
                    write!(self.report_stream(), "{separator}{}", r.report)?;
                }
                Format::Sarif => {
                    for result in &r.sarif.0 {
                        let separator = if std::mem::take(&mut self.first_entry) { "" } else { "," };
                        write!(self.report_stream(), "{separator}{result}")?;
                    }
                    self.sarif_notes.extend(r.sarif.1);
                }
            }
        }
        self.counts.push(r.counts);
        Ok(())
    }

    /// The end of the document or the statistics, then the summary line. Returns the summary.
    pub fn finish(mut self) -> Result<Summary> {
        let summary = Summary::of(&self.counts);
        if self.document {
            match self.format {
                Format::Json => {
                    writeln!(self.report_stream(), "],\"summary\":{}}}", report::summary_json(&summary))?;
                }
                Format::Sarif => {
                    let suffix = report::sarif_suffix(&self.sarif_notes);
                    writeln!(self.report_stream(), "{suffix}")?;
                }
                Format::Text | Format::Github => {}
            }
        } else if self.statistics && !matches!(self.mode, Mode::Diff { .. }) {
            let statistics = report::statistics(&self.counts);
            write!(self.report_stream(), "{statistics}")?;
        }
        self.stdout.flush()?;
        if self.format == Format::Text {
            let verb = match self.mode {
                Mode::Fix { .. } => "fixed",
                Mode::Check | Mode::Diff { .. } => "would change",
            };
            writeln!(self.stderr, "{}", summary.line(verb))?;
        }
        Ok(summary)
    }
}

fn colourize(diff: &str) -> String {
    diff.split_inclusive('\n')
        .map(|line| {
            let code = if line.starts_with("+++") || line.starts_with("---") {
                "1"
            } else if line.starts_with('+') {
                "32"
            } else if line.starts_with('-') {
                "31"
            } else if line.starts_with("@@") {
                "36"
            } else {
                return line.to_string();
            };
            let body = line.trim_end_matches('\n');
            format!("\x1b[{code}m{body}\x1b[0m{}", &line[body.len()..])
        })
        .collect()
}
