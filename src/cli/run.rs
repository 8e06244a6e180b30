//! `dockopt check`, `dockopt fix` and `dockopt fix --diff`: every file found is read, checked and fixed on all
//! cores, and its output written in path order.

use crate::cli::args::{FileArgs, Mode, OutputArgs};
use crate::cli::discover::{self, is_stdin, Found};
use crate::cli::inputs::{read_input, Inputs, Origin};
use crate::cli::ordered::{cores, for_each_in_order};
use crate::cli::output::{render, Output, Rendering, Shape};
use crate::cli::report::{hunks, FileReport, FileStatus, Lines, Summary};
use crate::cli::write::{clean_up_on_signals, sync_directories, WriteScope, Written};
use crate::engine::build_context::{BuildContext, ContextCache, ContextProblem};
use crate::engine::config::{Resolver, Settings};
use crate::engine::finding::Finding;
use crate::engine::fix::{self, FixOutcome, Remaining};
use crate::syntax::diagnostic::{printable, Diagnostic};
use crate::syntax::text::LineIndex;
use anyhow::Result;
use foldhash::HashSet;
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// Threads per core for a `fix` that writes files. Each write waits for the disk (the synced temporary file, see
/// [`crate::cli::write`]); with more threads than cores the cores keep working meanwhile, and the file system
/// commits several files at once. A `fix -q` of a writable copy of the corpus (13,638 files rewritten, 2 cores)
/// took 8.4–9.7 s with one thread per core and 4.8–6.9 s with four; eight were no faster.
const WRITING_THREADS_PER_CORE: usize = 4;

/// How many threads process files: one per core, more when files are written.
fn workers(mode: Mode) -> usize {
    match mode {
        Mode::Fix { .. } => cores() * WRITING_THREADS_PER_CORE,
        Mode::Check | Mode::Diff { .. } => cores(),
    }
}

pub fn run(args: &FileArgs, output: &OutputArgs, mode: Mode) -> Result<ExitCode> {
    let how = Rendering::new(mode, output)?;
    let inputs = Inputs::gather(args, mode.unsafe_fixes(), output.fail_on_advice)?;
    let Inputs { rules, paths, found, .. } = &inputs;
    if args.show_files {
        show_files(found)?;
        return Ok(ExitCode::SUCCESS);
    }
    let walk_errors: Vec<_> =
        found.errors.iter().map(|(path, error)| render(walk_error_report(path, error), how, rules)).collect();
    let fixed_to_stdout = matches!(mode, Mode::Fix { .. }) && paths.iter().any(|p| is_stdin(p));
    if matches!(mode, Mode::Fix { .. }) {
        clean_up_on_signals();
    }
    let mut files = FileRun::new(args, &inputs, mode);
    files.hunks = how.shape == Shape::Document && matches!(mode, Mode::Diff { .. });
    let mut out = Output::new(how, fixed_to_stdout, found.files.len());
    out.begin(rules)?;
    for_each_in_order(
        &found.files,
        workers(mode),
        |path| files.process(path).map(|report| render(report, how, rules)),
        |rendered| rendered.map_or(Ok(()), |r| out.file(r)),
    )?;
    for r in walk_errors {
        out.file(r)?;
    }
    for (dir, error) in sync_directories() {
        let dir = dir.display();
        writeln!(std::io::stderr(), "{dir}: warning: cannot sync the directory after writing in it: {error}")?;
    }
    let summary = out.finish(found.passed_over.len())?;
    // The run is over, and the process with it: what the run kept (the configuration and context caches, the
    // walk's paths, the output's state) is left to the exit, which returns the memory at once. Freed here, one
    // allocation at a time on this thread, much of it made by the workers, it held back the exit of a `check` of the
    // corpus by 26-31 ms after the last line was written (2-3 ms now), 3.5% of the run's CPU time.
    std::mem::forget(out);
    std::mem::forget(files);
    std::mem::forget(inputs);
    Ok(ExitCode::from(status(&summary, mode, output.exit_zero)))
}

/// `--show-files`: what the walk takes, then what it passes over and why.
fn show_files(found: &Found) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for path in &found.files {
        writeln!(out, "{}", printable(&path.display().to_string(), usize::MAX))?;
    }
    for (path, reason) in &found.passed_over {
        writeln!(out, "{}: passed over: {reason}", printable(&path.display().to_string(), usize::MAX))?;
    }
    Ok(())
}

/// The exit status, written down once (the README's table says the same):
/// - 2 when a file could not be read, parsed or written, dockopt met a bug on one, or the command line or
///   configuration is wrong;
/// - else, with `--diff`, 1 when a file would change;
/// - else 1 when findings that fail the run remain: warnings, and advice only with `--fail-on-advice` (for
///   `check` the findings of the file, for `fix` those left after fixing);
/// - else 0. `--exit-zero` turns every 1 into 0.
fn status(summary: &Summary, mode: Mode, exit_zero: bool) -> u8 {
    if summary.errors > 0 {
        return 2;
    }
    let failed = match mode {
        Mode::Diff { .. } => summary.changed > 0,
        Mode::Check | Mode::Fix { .. } => summary.failing > 0,
    };
    u8::from(failed && !exit_zero)
}

fn walk_error_report(path: &Path, error: &str) -> FileReport {
    let path = path.display().to_string();
    let help = "check the path and its permissions".to_string();
    let error = Diagnostic::whole_file(&path, error.to_string(), help);
    error_report(&path, FileStatus::Unreadable, String::new(), vec![error])
}

fn error_report(path: &str, status: FileStatus, source: String, errors: Vec<Diagnostic>) -> FileReport {
    FileReport { path: path.to_string(), status, source, errors, ..FileReport::default() }
}

/// Runs the analysis of the file at `path`, and turns a panic in it (a bug in dockopt, most likely in one rule
/// meeting a file it was not written for) into that file's error: one file must not end a run over thousands, nor
/// keep the others from being checked or fixed. Nothing has been written when the analysis runs, so the file is
/// left as it was. The panic's own message, with where in dockopt it happened, is on standard error above.
fn contain_bug<T>(path: &str, analysis: impl FnOnce() -> T) -> Result<T, Diagnostic> {
    // The analysis shares only caches with other files, each entry of which is whole or not there: a panic cannot
    // leave one half-made for the files after it.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(analysis)).map_err(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("no message");
        Diagnostic::whole_file(
            path,
            format!("dockopt met a bug on this file and left it as it was: {message}"),
            "this is a bug in dockopt, not in the file: please report it with the file and the panic message \
             above; the other files were checked as usual"
                .to_string(),
        )
    })
}

/// What the files of one `check`, `fix` or `fix --diff` run share.
pub struct FileRun<'a> {
    resolver: &'a Resolver,
    /// Paths named on the command line: configured excludes do not apply to them, and fix writes through them
    /// when they are symlinks.
    explicit: &'a HashSet<OsString>,
    mode: Mode,
    context: Option<&'a Path>,
    cache: Arc<ContextCache>,
    max_file_size: u64,
    scope: WriteScope,
    /// Reports carry the line hunks of their fixes (for `--diff` as JSON or rdjson).
    pub hunks: bool,
}

impl<'a> FileRun<'a> {
    pub fn new(args: &'a FileArgs, inputs: &'a Inputs, mode: Mode) -> FileRun<'a> {
        FileRun {
            resolver: &inputs.resolver,
            explicit: &inputs.explicit,
            mode,
            context: args.context.as_deref(),
            cache: inputs.cache.clone(),
            max_file_size: args.max_file_size,
            scope: WriteScope::new(&inputs.paths),
            hunks: false,
        }
    }

    /// Checks or fixes one file. `None` when the configuration excludes it.
    pub fn process(&self, path: &Path) -> Option<FileReport> {
        let stdin = is_stdin(path);
        let explicit = self.explicit.contains(path.as_os_str());
        let unreadable =
            |error| error_report(&path.display().to_string(), FileStatus::Unreadable, String::new(), vec![error]);
        let settings = match settings_for(path, explicit, self.resolver) {
            Ok(Some(settings)) => settings,
            Ok(None) => return None,
            Err(error) => return Some(unreadable(error)),
        };
        let origin = if explicit { Origin::Named } else { Origin::Walked };
        let (name, source) = match read_input(path, origin, self.max_file_size) {
            Ok(input) => input,
            Err(error) => return Some(unreadable(error)),
        };
        let build = (!stdin).then(|| BuildContext::sharing(path, self.context, self.cache.clone()));
        let unsafe_fixes = settings.unsafe_fixes && self.mode != Mode::Check;
        // Check reports the findings of the file as it is and what fixing adds, never what is left after fixing.
        let remaining = if self.mode == Mode::Check { Remaining::Fixable } else { Remaining::All };
        // `fix` reads the file first and refuses what BuildKit would reject, with the errors to report.
        let analysis = || {
            fix::fix_with_options(&source, build.as_ref(), &settings.rules, unsafe_fixes, &settings.options, remaining)
        };
        let outcome = match contain_bug(&name, analysis) {
            Ok(outcome) => outcome,
            Err(bug) => return Some(error_report(&name, FileStatus::Failed, source, vec![bug])),
        };
        let problems = build.as_ref().map_or(&[][..], |b| b.problems());
        if !problems.is_empty() {
            let errors = problems.iter().map(context_problem).collect();
            return Some(error_report(&name, FileStatus::Unparseable, source, errors));
        }
        match outcome {
            Ok(outcome) => Some(self.report_outcome(path, origin, name, source, outcome, settings.fail_on_advice)),
            Err(errors) => {
                let lines = LineIndex::new(&source);
                let errors = errors.iter().map(|e| Diagnostic::from_syntax_error(&name, &source, &lines, e)).collect();
                Some(error_report(&name, FileStatus::Unparseable, source.clone(), errors))
            }
        }
    }

    /// The report of a file that was read and fixed: its findings, and its diff, fixed text or write, as the mode
    /// asks. A file named on the command line is written through when it is a symlink.
    fn report_outcome(
        &self,
        path: &Path,
        origin: Origin,
        name: String,
        source: String,
        outcome: FixOutcome,
        advice_fails: bool,
    ) -> FileReport {
        let changed = outcome.text != source;
        let mut report = FileReport {
            path: name.clone(),
            changed,
            applied: outcome.applied.iter().filter(|(_, &n)| n > 0).map(|(&code, &n)| (code, n)).collect(),
            layers: Some((outcome.layers_before, outcome.layers)),
            advice_fails,
            ..FileReport::default()
        };
        if self.hunks && changed {
            let fixes: Vec<&Finding> =
                outcome.initial.iter().chain(&outcome.follow_ons).filter(|f| f.fix.is_some()).collect();
            report.hunks = hunks(&source, &outcome.text, &fixes);
        }
        match self.mode {
            Mode::Check => {
                // Check says everything fix would do: the findings of the file, and the fixes that only become
                // possible once others are applied.
                let mut findings = outcome.initial;
                findings.extend(outcome.follow_ons);
                findings.sort_by_key(|f| (f.range.start, f.rule.code));
                report.findings = findings;
                report.source = source;
                return report;
            }
            Mode::Diff { .. } if changed => {
                report.stdout = Some(Lines::new(&source, &outcome.text).unified_diff(&name));
            }
            Mode::Diff { .. } => {}
            Mode::Fix { .. } if is_stdin(path) => report.stdout = Some(outcome.text.clone()),
            Mode::Fix { .. } if changed => match self.scope.write(path, origin == Origin::Named, &outcome.text) {
                Ok(Written::Replaced) => {}
                Ok(Written::HardLinkSplit(links)) => report.warnings.push(Diagnostic::whole_file(
                    &name,
                    format!("the file had {links} hard links; the other {} keep the old text", links - 1),
                    "dockopt replaces a file atomically, which gives it an inode of its own; link the others to it \
                     again if they should change too"
                        .into(),
                )),
                Err(e) => {
                    // Nothing was written: the findings and layers are those of the file as it is.
                    report.changed = false;
                    report.applied.clear();
                    report.layers = Some((outcome.layers_before, outcome.layers_before));
                    let message = format!("cannot write the fixed file: {}", e.message);
                    report.errors.push(Diagnostic::whole_file(&name, message, e.help));
                    report.findings = outcome.initial;
                    report.source = source;
                    return report;
                }
            },
            Mode::Fix { .. } => {}
        }
        report.findings = outcome.remaining;
        report.source = outcome.text;
        report
    }
}

fn context_problem(problem: &ContextProblem) -> Diagnostic {
    Diagnostic {
        path: problem.path.display().to_string(),
        line: problem.line,
        column: problem.column,
        message: problem.message.clone(),
        help: problem.help.clone(),
    }
}

/// The settings for the Dockerfile at `path`, or `None` when its configuration's `exclude` leaves it out (a path
/// named on the command line is never left out).
fn settings_for(path: &Path, explicit: bool, resolver: &Resolver) -> Result<Option<Arc<Settings>>, Diagnostic> {
    let stdin = is_stdin(path);
    let dir = if stdin { None } else { path.parent() };
    let settings = resolver.settings_for(dir).map_err(|e| Diagnostic {
        path: e.path.display().to_string(),
        line: e.line,
        column: e.column,
        message: e.message,
        help: e.help,
    })?;
    if explicit || stdin || settings.exclude.is_empty() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::report::Counts;

    #[test]
    fn a_panic_in_the_analysis_is_that_files_error_and_fails_the_run() {
        assert_eq!(contain_bug("Dockerfile", || 7).ok(), Some(7));
        let bug = contain_bug("app/Dockerfile", || -> usize { panic!("index {} out of range", 3) }).unwrap_err();
        assert_eq!((bug.path.as_str(), bug.position()), ("app/Dockerfile", None));
        assert_eq!(bug.message, "dockopt met a bug on this file and left it as it was: index 3 out of range");
        assert!(bug.help.starts_with("this is a bug in dockopt, not in the file"), "{}", bug.help);
        let bug = contain_bug("Dockerfile", || -> usize { std::panic::panic_any(42) }).unwrap_err();
        assert!(bug.message.ends_with("left it as it was: no message"), "{}", bug.message);

        let report = error_report("app/Dockerfile", FileStatus::Failed, String::new(), vec![bug]);
        let mut summary = Summary::default();
        summary.add(&Counts::of(&report));
        summary.add(&Counts { status: FileStatus::Checked, ..Counts::default() });
        assert_eq!((summary.files, summary.failed, summary.errors), (1, 1, 1));
        assert!(summary.text("check").ends_with("not checked: 1 met a bug in dockopt\n"), "{}", summary.text("check"));
        // Like a file that cannot be read: 2, which `--exit-zero` does not turn into 0.
        assert_eq!(status(&summary, Mode::Check, true), 2);
        assert_eq!(crate::cli::report::json::status(report.status), "failed");
    }
}
