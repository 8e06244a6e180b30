//! `dockopt check`, `dockopt fix` and `dockopt fix --diff`: every file found is read, checked and fixed on all
//! cores, and its output written in path order.

use crate::cli::args::{FileArgs, Mode, OutputArgs};
use crate::cli::discover;
use crate::cli::inputs::{read_input, Inputs};
use crate::cli::ordered::for_each_in_order;
use crate::cli::output::{render, Output};
use crate::cli::report::{FileReport, Summary};
use crate::cli::write::write_atomically;
use crate::engine::build_context::{BuildContext, Listings};
use crate::engine::config::{Resolver, Settings};
use crate::engine::fix::{self, FixOutcome};
use crate::syntax::diagnostic::Diagnostic;
use crate::syntax::text::LineIndex;
use anyhow::Result;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

pub fn run(args: &FileArgs, output: &OutputArgs, mode: Mode) -> Result<ExitCode> {
    let Inputs { rules, resolver, paths, explicit, found } = Inputs::gather(args, mode.unsafe_fixes())?;
    let format = output.format;
    let listings = Arc::new(Listings::default());
    let walk_errors: Vec<_> =
        found.errors.into_iter().map(|(path, error)| render(walk_error_report(&path, error), format, &rules)).collect();
    let fixed_to_stdout = matches!(mode, Mode::Fix { .. }) && paths.iter().any(|p| p == Path::new("-"));
    let mut out = Output::new(mode, output, fixed_to_stdout);
    out.begin(&rules)?;
    for_each_in_order(
        &found.files,
        |path| {
            let is_explicit = explicit.contains(path);
            process(path, is_explicit, &resolver, mode, args.context.as_deref(), &listings)
                .map(|report| render(report, format, &rules))
        },
        |rendered| rendered.map_or(Ok(()), |r| out.file(r)),
    )?;
    for r in walk_errors {
        out.file(r)?;
    }
    let summary = out.finish()?;
    Ok(ExitCode::from(status(&summary, mode, output.exit_zero)))
}

/// 2 for errors; 1 when findings remain, or when `--diff` would change something (unless `--exit-zero`); else 0.
fn status(summary: &Summary, mode: Mode, exit_zero: bool) -> u8 {
    if summary.errors > 0 {
        return 2;
    }
    let remaining = match mode {
        Mode::Diff { .. } => summary.changed > 0,
        Mode::Check | Mode::Fix { .. } => summary.findings > 0,
    };
    u8::from(remaining && !exit_zero)
}

fn walk_error_report(path: &Path, error: String) -> FileReport {
    let path = path.display().to_string();
    let help = "check the path and its permissions".to_string();
    error_report(
        &path,
        String::new(),
        vec![Diagnostic { path: path.clone(), line: 1, column: 1, message: error, help }],
    )
}

fn error_report(path: &str, source: String, errors: Vec<Diagnostic>) -> FileReport {
    FileReport {
        path: path.to_string(),
        source,
        findings: Vec::new(),
        errors,
        changed: false,
        layers: None,
        stdout: None,
    }
}

/// Checks or fixes one file. `None` when the configuration excludes it.
pub fn process(
    path: &Path,
    explicit: bool,
    resolver: &Resolver,
    mode: Mode,
    context: Option<&Path>,
    listings: &Arc<Listings>,
) -> Option<FileReport> {
    let is_stdin = path == Path::new("-");
    let settings = match settings_for(path, explicit, resolver) {
        Ok(Some(settings)) => settings,
        Ok(None) => return None,
        Err(error) => return Some(error_report(&path.display().to_string(), String::new(), vec![error])),
    };
    let (name, source) = match read_input(path) {
        Ok(input) => input,
        Err(d) => return Some(error_report(&path.display().to_string(), String::new(), vec![d])),
    };
    let build = (!is_stdin).then(|| BuildContext::sharing(path, context, listings.clone()));
    let unsafe_fixes = settings.unsafe_fixes && mode != Mode::Check;
    // `fix` reads the file first and refuses what BuildKit would reject, with the errors to report.
    match fix::fix_with_options(&source, build.as_ref(), &settings.rules, unsafe_fixes, &settings.options) {
        Ok(outcome) => Some(report_outcome(path, name, source, outcome, mode)),
        Err(errors) => {
            let lines = LineIndex::new(&source);
            let errors = errors.iter().map(|e| Diagnostic::from_syntax_error(&name, &source, &lines, e)).collect();
            Some(error_report(&name, source.clone(), errors))
        }
    }
}

/// The settings for the Dockerfile at `path`, or `None` when its configuration's `exclude` leaves it out (a path
/// named on the command line is never left out).
fn settings_for(path: &Path, explicit: bool, resolver: &Resolver) -> Result<Option<Settings>, Diagnostic> {
    let is_stdin = path == Path::new("-");
    let dir = if is_stdin { None } else { path.parent() };
    let settings = resolver.settings_for(dir).map_err(|e| Diagnostic {
        path: e.path.display().to_string(),
        line: e.line,
        column: e.column,
        message: e.message,
        help: "see the configuration keys in the README".into(),
    })?;
    if explicit || is_stdin || settings.exclude.is_empty() {
        return Ok(Some(settings));
    }
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let matcher = discover::exclude_matcher(&settings.root, &settings.exclude).map_err(|message| Diagnostic {
        path: settings.root.display().to_string(),
        line: 1,
        column: 1,
        message,
        help: "fix the glob in `exclude`".into(),
    })?;
    Ok((!discover::is_excluded(&matcher, &absolute, false)).then_some(settings))
}

/// The report of a file that was read and fixed: its findings, and its diff, fixed text or write, as the mode
/// asks.
fn report_outcome(path: &Path, name: String, source: String, outcome: FixOutcome, mode: Mode) -> FileReport {
    let changed = outcome.text != source;
    let mut report = FileReport {
        path: name.clone(),
        source: String::new(),
        findings: Vec::new(),
        errors: Vec::new(),
        changed,
        layers: Some((outcome.layers_before, outcome.layers)),
        stdout: None,
    };
    match mode {
        Mode::Check => {
            report.findings = outcome.initial;
            report.source = source;
            return report;
        }
        Mode::Diff { .. } if changed => {
            let diff = similar::TextDiff::from_lines(&source, &outcome.text);
            report.stdout = Some(diff.unified_diff().context_radius(3).header(&name, &name).to_string());
        }
        Mode::Diff { .. } => {}
        Mode::Fix { .. } if path == Path::new("-") => report.stdout = Some(outcome.text.clone()),
        Mode::Fix { .. } if changed => {
            if let Err(e) = write_atomically(path, &outcome.text) {
                report.changed = false;
                report.errors.push(Diagnostic {
                    path: name,
                    line: 1,
                    column: 1,
                    message: format!("cannot write the fixed file: {e:#}"),
                    help: "make the file and its directory writable, or run `dockopt fix --diff` to see the changes"
                        .into(),
                });
                report.source = source;
                return report;
            }
        }
        Mode::Fix { .. } => {}
    }
    report.findings = outcome.remaining;
    report.source = outcome.text;
    report
}
