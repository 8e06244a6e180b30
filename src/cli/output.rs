//! Where a file command's output goes, in which shape, and in what order: each file's part of the report (lines,
//! or entries of one document), its diff or fixed text on standard output, its errors on standard error, then the
//! document's end, the statistics and the summary. A progress bar shows on a terminal, and nowhere else.

use crate::cli::args::{Format, Mode, OutputArgs};
use crate::cli::report::{self, Counts, FileReport, Summary};
use crate::engine::rule::Rule;
use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Stderr, Stdout, Write};

/// What a run prints per file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Text or GitHub lines per file.
    Lines,
    /// Entries of one JSON, SARIF, rdjson or GitLab document.
    Document,
    /// Unified diffs (`fix --diff` as text).
    Diffs,
    /// Counts per rule at the end, as text or JSON.
    Statistics,
}

/// How each file is rendered.
#[derive(Clone, Copy)]
pub struct Rendering {
    pub format: Format,
    pub mode: Mode,
    pub shape: Shape,
    pub quiet: bool,
}

impl Rendering {
    /// The shape the options ask for, or why they do not go together.
    pub fn new(mode: Mode, args: &OutputArgs) -> Result<Rendering> {
        let diff = matches!(mode, Mode::Diff { .. });
        let shape = match (args.format, diff, args.statistics) {
            (_, true, true) => bail!("--statistics counts findings and --diff shows changes; use one of them"),
            (Format::Text | Format::Json, false, true) => Shape::Statistics,
            (_, _, true) => bail!("--statistics prints text or json"),
            (Format::Text, true, false) => Shape::Diffs,
            (Format::Json | Format::Rdjson, true, false) => Shape::Document,
            (format, true, false) => bail!(
                "--diff prints a unified diff, or the changes as json or rdjson; for {} use `dockopt check --format {}`",
                format_name(format),
                format_name(format)
            ),
            (Format::Text | Format::Github, false, false) => Shape::Lines,
            (Format::Json | Format::Sarif | Format::Rdjson | Format::Gitlab, false, false) => Shape::Document,
        };
        if args.quiet && args.format != Format::Text {
            bail!("--quiet leaves only the text summary; --format {} prints a whole report", format_name(args.format));
        }
        Ok(Rendering { format: args.format, mode, shape, quiet: args.quiet })
    }

    fn fixed(self) -> bool {
        matches!(self.mode, Mode::Fix { .. })
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Text => "text",
        Format::Json => "json",
        Format::Sarif => "sarif",
        Format::Github => "github",
        Format::Rdjson => "rdjson",
        Format::Gitlab => "gitlab",
    }
}

/// A file's output, rendered on the worker that processed it, so the file's text and findings can go.
pub struct Rendered {
    /// Its diff (with a header naming the fixes), or the fixed standard input.
    stdout: Option<String>,
    /// Its lines of the report.
    lines: String,
    /// Its entries in the document, serialized.
    entries: Vec<String>,
    /// Its SARIF tool notifications, serialized.
    notes: Vec<String>,
    /// Its errors and warnings, as printed on standard error.
    errors: String,
    counts: Counts,
}

pub fn render(report: FileReport, how: Rendering, rules: &[&'static dyn Rule]) -> Rendered {
    let diff = matches!(how.mode, Mode::Diff { .. });
    let mut rendered = Rendered {
        stdout: None,
        lines: String::new(),
        entries: Vec::new(),
        notes: Vec::new(),
        errors: report
            .errors
            .iter()
            .map(|e| format!("{e}\n"))
            .chain(report.warnings.iter().map(|w| format!("{}\n", w.to_text("warning"))))
            .collect(),
        counts: Counts::of(&report),
    };
    match how.shape {
        Shape::Lines if !how.quiet => {
            rendered.lines = match how.format {
                Format::Github => report::github::file(&report),
                _ => report::text::file(&report, how.fixed()),
            }
        }
        Shape::Diffs if !how.quiet => {
            rendered.stdout =
                report.stdout.as_ref().map(|diff| format!("{}{diff}", report::text::diff_header(&report)));
        }
        Shape::Document => match how.format {
            Format::Json => rendered.entries.push(report::json::file(&report)),
            Format::Rdjson => rendered.entries = report::rdjson::file(&report, diff),
            Format::Gitlab => rendered.entries = report::gitlab::file(&report),
            Format::Sarif => (rendered.entries, rendered.notes) = report::sarif::file(&report, rules),
            Format::Text | Format::Github => {}
        },
        Shape::Lines | Shape::Diffs | Shape::Statistics => {}
    }
    // `fix -` writes the fixed file to standard output whatever else is asked.
    if how.fixed() && report.path == "-" {
        rendered.stdout = report.stdout;
    }
    rendered
}

/// How much standard output [`Output`] gathers before it writes it.
const BATCH: usize = 64 * 1024;

pub struct Output {
    how: Rendering,
    /// With `fix -`, standard output carries the fixed file, so the report goes to standard error.
    report_to_stderr: bool,
    colour: bool,
    /// Locked for each write, not for the whole run: a worker thread that writes to standard error (a `dbg!`
    /// while debugging a rule) would otherwise wait for the lock forever, and the run with it.
    stdout: Stdout,
    stderr: Stderr,
    /// What is bound for standard output and not written yet. A write per file was a write call per file, tens of
    /// thousands over a tree; batched, they are one per [`BATCH`] bytes. The batch is written before anything
    /// goes to standard error, so the two streams interleave as they would unbatched, and after each file when a
    /// person watches the terminal.
    batch: Vec<u8>,
    /// Standard output is a terminal, where a person watches the files go by.
    watched: bool,
    first_entry: bool,
    notes: Vec<String>,
    /// The run so far, counted in as each file is written: counting 20,000 files in at the end held back the exit.
    totals: Summary,
    /// Each file's counts, kept for `--statistics` alone.
    counts: Vec<Counts>,
    progress: Option<ProgressBar>,
    /// Files changed so far, for the progress bar.
    changed: usize,
}

impl Output {
    pub fn new(how: Rendering, report_to_stderr: bool, files: usize) -> Output {
        let terminal = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        // A bar only where a person watches: both streams on a terminal, and a run long enough to need one.
        let progress = (terminal && files > 1).then(|| {
            let bar = ProgressBar::with_draw_target(Some(files as u64), ProgressDrawTarget::stderr_with_hz(10));
            let style = ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} files, {msg}")
                .expect("a valid template")
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message("0 changed");
            bar
        });
        Output {
            how,
            report_to_stderr,
            colour,
            stdout: std::io::stdout(),
            stderr: std::io::stderr(),
            batch: Vec::new(),
            watched: std::io::stdout().is_terminal(),
            first_entry: true,
            notes: Vec::new(),
            totals: Summary::default(),
            counts: Vec::new(),
            progress,
            changed: 0,
        }
    }

    fn print_out(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.batch.extend_from_slice(bytes);
        if self.batch.len() >= BATCH {
            self.write_batch()?;
        }
        Ok(())
    }

    fn print_err(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if !bytes.is_empty() {
            self.write_batch()?;
            self.stderr.write_all(bytes)?;
        }
        Ok(())
    }

    fn print_report(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.report_to_stderr {
            self.print_err(bytes)
        } else {
            self.print_out(bytes)
        }
    }

    fn write_batch(&mut self) -> std::io::Result<()> {
        if !self.batch.is_empty() {
            let mut stdout = self.stdout.lock();
            stdout.write_all(&self.batch)?;
            stdout.flush()?;
            self.batch.clear();
        }
        Ok(())
    }

    /// The start of a document.
    pub fn begin(&mut self, rules: &[&'static dyn Rule]) -> Result<()> {
        if self.how.shape == Shape::Document {
            let prefix = match self.how.format {
                Format::Json => "{\"version\":1,\"files\":[".to_string(),
                Format::Sarif => report::sarif::prefix(rules),
                Format::Rdjson => report::rdjson::prefix(),
                Format::Gitlab => "[".to_string(),
                Format::Text | Format::Github => String::new(),
            };
            self.print_report(prefix.as_bytes())?;
        }
        Ok(())
    }

    /// One file's output. The progress bar is cleared only around output, so that it is not redrawn for every
    /// file.
    pub fn file(&mut self, r: Rendered) -> Result<()> {
        let prints = r.stdout.is_some() || !r.errors.is_empty() || !r.lines.is_empty() || !r.entries.is_empty();
        match self.progress.take() {
            Some(bar) => {
                let written = if prints { bar.suspend(|| self.write_file(&r)) } else { Ok(()) };
                self.progress = Some(bar);
                written?;
            }
            None => self.write_file(&r)?,
        }
        if let Some(bar) = &self.progress {
            bar.inc(1);
            if r.counts.changed {
                self.changed += 1;
                bar.set_message(format!("{} changed", self.changed));
            }
        }
        self.totals.add(&r.counts);
        if self.how.shape == Shape::Statistics {
            self.counts.push(r.counts);
        }
        Ok(())
    }

    fn write_file(&mut self, r: &Rendered) -> Result<()> {
        self.print_err(r.errors.as_bytes())?;
        if let Some(text) = &r.stdout {
            let diff = matches!(self.how.mode, Mode::Diff { .. });
            if diff && self.colour {
                self.print_out(colourize(text).as_bytes())?;
            } else {
                self.print_out(text.as_bytes())?;
            }
        }
        self.print_report(r.lines.as_bytes())?;
        for entry in &r.entries {
            let separator = if std::mem::take(&mut self.first_entry) { "" } else { "," };
            self.print_report(separator.as_bytes())?;
            self.print_report(entry.as_bytes())?;
        }
        self.notes.extend(r.notes.iter().cloned());
        if self.watched {
            self.write_batch()?;
        }
        Ok(())
    }

    /// The end of the document or the statistics, then the summary (text only). Returns the summary.
    pub fn finish(&mut self, passed_over: usize) -> Result<Summary> {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
        let summary = Summary { passed_over, ..std::mem::take(&mut self.totals) };
        match (self.how.shape, self.how.format) {
            (Shape::Document, Format::Json) => {
                let end = format!("],\"summary\":{}}}\n", report::json::summary(&summary));
                self.print_report(end.as_bytes())?;
            }
            (Shape::Document, Format::Sarif) => {
                let end = format!("{}\n", report::sarif::suffix(&self.notes));
                self.print_report(end.as_bytes())?;
            }
            (Shape::Document, Format::Rdjson) => {
                self.print_report(format!("{}\n", report::rdjson::suffix()).as_bytes())?
            }
            (Shape::Document, Format::Gitlab) => self.print_report(b"]\n")?,
            (Shape::Statistics, Format::Json) => {
                let document = report::json::statistics(&self.counts, &summary);
                self.print_report(format!("{document}\n").as_bytes())?;
            }
            (Shape::Statistics, _) => {
                let statistics = report::statistics(&self.counts);
                self.print_report(statistics.as_bytes())?;
            }
            _ => {}
        }
        self.write_batch()?;
        if self.how.format == Format::Text {
            let mode = match self.how.mode {
                Mode::Check => "check",
                Mode::Fix { .. } => "fix",
                Mode::Diff { .. } => "diff",
            };
            write!(self.stderr, "{}", summary.text(mode))?;
        }
        Ok(summary)
    }
}

impl Drop for Output {
    /// A run that stops early still prints what it gathered.
    fn drop(&mut self) {
        let _ = self.write_batch();
    }
}

fn colourize(diff: &str) -> String {
    diff.split_inclusive('\n')
        .map(|line| {
            let code = if line.starts_with("+++") || line.starts_with("---") || line.starts_with("dockopt: ") {
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
