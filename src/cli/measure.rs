//! `dockopt measure`: each Dockerfile built as written and as fixed, one at a time.

use crate::cli::args::{FileArgs, Mode};
use crate::cli::discover::is_stdin;
use crate::cli::inputs::Inputs;
use crate::cli::run::FileRun;
use crate::engine::build_context::BuildContext;
use crate::measure::builder::{Builder, BuilderKind};
use crate::measure::{self, report, Measurement, Outcome, Subject};
use crate::shell::Script;
use crate::syntax::model::{Dockerfile, Kind};
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
    rebuild: Option<Option<String>>,
) -> Result<ExitCode> {
    let extras = Extras { run: run.map(command_words).transpose()?, rebuild };
    let builder = Builder::detect(wanted)?;
    let inputs = Inputs::gather(args, unsafe_fixes.then_some(true), false)?;
    let mode = Mode::Diff { unsafe_fixes: unsafe_fixes.then_some(true) };
    let files = FileRun::new(args, &inputs, mode);
    // With unsafe fixes, the safe fixes alone are built too: the same files, with unsafe fixes turned off.
    let safe_inputs = if unsafe_fixes { Some(Inputs::gather(args, Some(false), false)?) } else { None };
    let safe_files = safe_inputs.as_ref().map(|safe| {
        let mode = Mode::Diff { unsafe_fixes: Some(false) };
        FileRun::new(args, safe, mode)
    });
    let mut status = 0u8;
    for (path, error) in &inputs.found.errors {
        writeln!(std::io::stderr(), "{}:1:1: {error}", path.display())?;
        status = 2;
    }
    let mut documents = Vec::new();
    for path in &inputs.found.files {
        let measurement = match measure_file(path, args, &files, safe_files.as_ref(), &builder, &extras) {
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
    extras: &Extras,
) -> Result<Option<Measurement>, String> {
    if is_stdin(path) {
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
        let touched = extras.rebuild.as_ref().map(|touch| file_to_touch(path, &context, touch.as_deref()));
        let rebuild = touched.as_ref().map(|t| t.as_deref().map_err(Clone::clone));
        let run = extras.run.as_deref();
        let fixed = &report.source;
        let subject = Subject { dockerfile: path, context: &context, fixed, safe_only, bases: &bases, run, rebuild };
        measure::measure(builder, &subject, &mut progress)
    } else {
        Outcome::Unchanged
    };
    let unsafe_fixes = safe_files.is_some();
    Ok(Some(Measurement { path: report.path, builder: builder.to_string(), outcome, unsafe_fixes }))
}

/// What else to do with each pair of images than compare them.
struct Extras {
    /// `--run`: a command to run in both, as its words.
    run: Option<Vec<String>>,
    /// `--rebuild`, with the file `--touch` names, if any.
    rebuild: Option<Option<String>>,
}

/// Dependency manifests: a change to one reinstalls the dependencies however the Dockerfile is written, so
/// `--rebuild` changes a source file instead.
const MANIFESTS: &[&str] = &[
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    ".npmrc",
    "go.mod",
    "go.sum",
    "Gemfile",
    "Gemfile.lock",
    "composer.json",
    "composer.lock",
    "Pipfile",
    "Pipfile.lock",
    "pyproject.toml",
    "poetry.lock",
    "uv.lock",
    "Cargo.toml",
    "Cargo.lock",
];

/// The context file `--rebuild` changes: the one `--touch` names, or the newest file the last whole-context COPY
/// (or ADD) copies that is no manifest, nor the Dockerfile or its ignore file; ties go to the shallower path,
/// then the first in order. Why there is none, otherwise.
fn file_to_touch(dockerfile: &Path, context: &Path, touch: Option<&str>) -> Result<String, String> {
    if let Some(touch) = touch {
        return match std::fs::symlink_metadata(context.join(touch)) {
            Ok(m) if m.is_file() => Ok(touch.to_string()),
            _ => Err(format!("--touch {touch}: no regular file at that path in the build context")),
        };
    }
    let text = std::fs::read_to_string(dockerfile).map_err(|e| format!("cannot read the Dockerfile: {e}"))?;
    let df = Dockerfile::parse(&text);
    let copies_all = df.statements.iter().any(|s| {
        let ins = &s.instruction;
        matches!(ins.kind, Kind::Copy | Kind::Add)
            && !df.flag_texts(ins).any(|f| f.starts_with("--from"))
            && df.value_texts(ins).rev().skip(1).any(|w| matches!(w, "." | "./"))
    });
    if !copies_all {
        return Err("the Dockerfile copies no whole build context (`COPY . …`), so no source change is certain to \
                    reach it; name a file with --touch PATH"
            .into());
    }
    let build = BuildContext::for_dockerfile(dockerfile, Some(context));
    let files = build.files_under(".", 100_000).ok_or("cannot list the build context")?;
    // The Dockerfile itself, where the context holds it.
    let own = dockerfile.strip_prefix(context).ok().and_then(|p| p.to_str()).unwrap_or_default().to_string();
    let is_manifest =
        |base: &str| MANIFESTS.contains(&base) || (base.starts_with("requirements") && base.ends_with(".txt"));
    let mut candidates: Vec<(std::time::SystemTime, usize, String)> = files
        .iter()
        .filter(|f| {
            let base = f.rsplit('/').next().unwrap_or(f);
            !is_manifest(base) && !base.ends_with(".dockerignore") && **f != own
        })
        .filter_map(|f| {
            let modified = std::fs::symlink_metadata(context.join(f)).and_then(|m| m.modified()).ok()?;
            Some((modified, f.matches('/').count(), f.clone()))
        })
        .collect();
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    candidates
        .into_iter()
        .next()
        .map(|(_, _, f)| f)
        .ok_or_else(|| "the build context holds no source file to change".into())
}

/// The words of `--run`'s command, read as a shell reads one simple command: quotes and escapes removed.
fn command_words(command: &str) -> Result<Vec<String>> {
    let script = Script::parse(command);
    let words = match script.commands.as_slice() {
        [only] if script.balanced && only.assignments.is_empty() && script.is_only_words() => {
            only.words.iter().map(|w| w.literal.as_deref().map(str::to_string)).collect::<Option<Vec<String>>>()
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
