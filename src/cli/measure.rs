//! `dockopt measure`: each Dockerfile built as written and as fixed, one at a time.

use crate::cli::args::{FileArgs, Mode};
use crate::cli::inputs::Inputs;
use crate::cli::run::FileRun;
use crate::measure::builder::{Builder, BuilderKind};
use crate::measure::{self, report, Measurement, Outcome, Subject};
use crate::shell::Script;
use anyhow::{bail, Result};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// `dockopt measure`: one file at a time, since each build already keeps the machine busy.
pub fn measure_command(
    args: &FileArgs,
    wanted: Option<BuilderKind>,
    json: bool,
    unsafe_fixes: bool,
    run: Option<&str>,
) -> Result<ExitCode> {
    let run = run.map(command_words).transpose()?;
    let builder = Builder::detect(wanted)?;
    let inputs = Inputs::gather(args, unsafe_fixes.then_some(true), false)?;
    let mode = Mode::Diff { unsafe_fixes: unsafe_fixes.then_some(true) };
    let files = FileRun::new(args, &inputs.resolver, &inputs.explicit, &inputs.paths, mode);
    // With unsafe fixes, the safe fixes alone are built too: the same files, with unsafe fixes turned off.
    let safe_inputs = if unsafe_fixes { Some(Inputs::gather(args, Some(false), false)?) } else { None };
    let safe_files = safe_inputs.as_ref().map(|safe| {
        let mode = Mode::Diff { unsafe_fixes: Some(false) };
        FileRun::new(args, &safe.resolver, &safe.explicit, &safe.paths, mode)
    });
    let mut status = 0u8;
    for (path, error) in &inputs.found.errors {
        writeln!(std::io::stderr(), "{}:1:1: {error}", path.display())?;
        status = 2;
    }
    let mut documents = Vec::new();
    for path in &inputs.found.files {
        let measurement = match measure_file(path, args, &files, safe_files.as_ref(), &builder, run.as_deref()) {
            Ok(Some(measurement)) => measurement,
            Ok(None) => continue,
            Err(errors) => {
                write!(std::io::stderr(), "{errors}")?;
                status = 2;
                continue;
            }
        };
        status = status.max(match &measurement.outcome {
            Outcome::OriginalFails(_) | Outcome::Error(_) => 2,
            outcome if measure::is_failure(outcome) => 1,
            _ => 0,
        });
        if json {
            documents.push(report::json(&measurement));
        } else {
            write!(std::io::stdout(), "{}", report::text(&measurement))?;
        }
    }
    if json {
        writeln!(std::io::stdout(), "{}", serde_json::json!({"version": 1, "files": documents}))?;
    }
    Ok(ExitCode::from(status))
}

/// Fixes one Dockerfile and, when the fixes change it, builds it both ways (and with the safe fixes alone, when
/// `safe_files` fixes it that way and unsafe fixes add to them). `None` when the configuration excludes it; the
/// errors to print when it cannot be read, parsed or measured.
fn measure_file(
    path: &Path,
    args: &FileArgs,
    files: &FileRun,
    safe_files: Option<&FileRun>,
    builder: &Builder,
    run: Option<&[String]>,
) -> Result<Option<Measurement>, String> {
    if path == Path::new("-") {
        return Err(
            "-: measure builds images, which needs a Dockerfile in a build context, not standard input\n".into()
        );
    }
    let Some(report) = files.process(path) else {
        return Ok(None);
    };
    if !report.errors.is_empty() {
        return Err(report.errors.iter().map(|e| format!("{e}\n")).collect());
    }
    let outcome = if report.changed {
        let context = match &args.context {
            Some(dir) => dir.clone(),
            None => path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf(),
        };
        let bases = measure::base_images(&report.source);
        // Progress is a courtesy: a closed standard error must not stop the measurement.
        let mut progress = |step: &str| {
            let _ = writeln!(std::io::stderr(), "{}: {step} with {builder}", report.path);
        };
        let safe = safe_files.and_then(|safe| safe.process(path)).filter(|safe| safe.errors.is_empty());
        let safe_only =
            safe.as_ref().filter(|safe| safe.changed && safe.source != report.source).map(|safe| safe.source.as_str());
        let subject =
            Subject { dockerfile: path, context: &context, fixed: &report.source, safe_only, bases: &bases, run };
        measure::measure(builder, &subject, &mut progress)
    } else {
        Outcome::Unchanged
    };
    let unsafe_fixes = safe_files.is_some();
    Ok(Some(Measurement { path: report.path, builder: builder.to_string(), outcome, unsafe_fixes }))
}

/// The words of `--run`'s command, read as a shell reads one simple command: quotes and escapes removed.
fn command_words(command: &str) -> Result<Vec<String>> {
    let script = Script::parse(command);
    let words = match script.commands.as_slice() {
        [only] if script.balanced && only.assignments.is_empty() && only_words(&script) => {
            only.words.iter().map(|w| w.literal.clone()).collect::<Option<Vec<String>>>()
        }
        _ => None,
    };
    match words {
        Some(words) if !words.is_empty() => Ok(words),
        _ => bail!(
            "--run {command:?}: give one command with its arguments, without variables, operators or redirections; \
             for more, run a shell: --run 'sh -c \"…\"'"
        ),
    }
}

/// The script is words alone: no redirection, pipe, other operator or comment.
fn only_words(script: &Script) -> bool {
    script.tokens.iter().all(|t| t.kind == crate::shell::TokenKind::Word)
}
