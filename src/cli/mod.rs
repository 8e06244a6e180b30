//! The `dockopt` command line.

use crate::build_context::{BuildContext, Listings};
use crate::builder::{Builder, BuilderKind};
use crate::config::{self, Overrides, Resolver, Settings};
use crate::diagnostic::{decode, Diagnostic};
use crate::discover::{self, WalkOptions};
use crate::dump;
use crate::fix::{self, Safety};
use crate::measure::{self, Measurement, Outcome, Subject};
use crate::model::Dockerfile;
use crate::report::{self, Counts, FileReport, Summary};
use crate::text::LineIndex;
use crate::transforms;
use anyhow::{bail, Context as _, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::collections::HashSet;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// dockopt: make Dockerfiles build faster and smaller, safely.
///
/// `dockopt check` reports what could be better; `dockopt fix` applies the fixes that keep the image's files
/// the same (package caches aside); `dockopt fix --diff` shows them without writing. Paths may be files or
/// directories; directories are searched for Dockerfiles, honouring .gitignore.
#[derive(Parser)]
#[command(version, about, long_about, after_long_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "Examples:
  dockopt check                          report findings in every Dockerfile below the current directory
  dockopt fix --diff services/api        show the safe fixes as a diff, change nothing
  dockopt fix Dockerfile                 apply them
  dockopt fix --unsafe-fixes Dockerfile  also apply fixes that may change what is installed
  dockopt check --format sarif . > dockopt.sarif
  dockopt rule DO101                     explain a rule, with a before/after example";

#[derive(Subcommand)]
enum Command {
    /// Report findings without changing anything.
    ///
    /// Exit status: 0 when nothing is found, 1 when there are findings, 2 when a file cannot be read or parsed.
    Check {
        #[command(flatten)]
        files: FileArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Apply safe fixes in place; with --diff, print them as a unified diff and write nothing.
    ///
    /// A fix is safe when the image keeps the same files, package caches aside; --unsafe-fixes also applies
    /// fixes that may change what the image holds. Files are written atomically, keep their permissions, and
    /// are left untouched when nothing changes. `-` reads standard input and writes the result to standard
    /// output.
    ///
    /// Exit status: 0 when everything is fixed, 1 when findings remain (or, with --diff, when something would
    /// change), 2 when a file cannot be read, parsed or written.
    Fix {
        #[command(flatten)]
        files: FileArgs,
        #[command(flatten)]
        output: OutputArgs,
        /// Print a unified diff instead of writing; colour on a terminal unless NO_COLOR is set.
        #[arg(long)]
        diff: bool,
        /// Also apply fixes that may change what the image holds.
        #[arg(long, overrides_with = "no_unsafe_fixes")]
        unsafe_fixes: bool,
        /// Apply only safe fixes, whatever the configuration says.
        #[arg(long, overrides_with = "unsafe_fixes")]
        no_unsafe_fixes: bool,
    },
    /// Build each Dockerfile as written and as fixed, and compare the images.
    ///
    /// Uses Docker (buildx or the classic builder), Podman or Buildah, whichever works first, or the one named
    /// by --builder. Reports layers, size and build time before and after, and every file that differs between
    /// the images outside package caches, which should be none. Both builds run without cache; base images are
    /// pulled first so neither time includes a download. The images are removed afterwards and nothing is pushed.
    ///
    /// Exit status: 0 when every fixed image keeps the original's files, 1 when a fixed Dockerfile fails to
    /// build or its image differs, 2 when there is no builder or a file cannot be read, parsed or built as written.
    Measure {
        #[command(flatten)]
        files: FileArgs,
        /// The builder to use.
        #[arg(long, value_enum)]
        builder: Option<BuilderKind>,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
        /// Also apply fixes that may change what the image holds.
        #[arg(long)]
        unsafe_fixes: bool,
    },
    /// List the rules.
    Rules,
    /// Explain one rule, by code or name, with a before/after example.
    Rule {
        /// A rule code such as DO101, or a name such as merge-runs.
        rule: String,
    },
    /// Print what dockopt (and BuildKit) sees in each file, one JSON object per line.
    ///
    /// The default output is the model: each instruction's keyword, flags, arguments, heredocs and lines, with
    /// byte ranges, plus parser directives, stages and errors. `--cst` prints the lossless concrete syntax tree
    /// instead: every token with its kind, byte range and text.
    Parse {
        /// Files to read; `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print the concrete syntax tree instead of the model.
        #[arg(long)]
        cst: bool,
        /// Output format of the model.
        #[arg(long, value_enum, default_value_t = ParseFormat::Json)]
        format: ParseFormat,
    },
}

#[derive(Args)]
struct FileArgs {
    /// Dockerfiles or directories to search (default: the current directory); `-` is standard input.
    paths: Vec<PathBuf>,
    /// Rules to run: codes, code prefixes (DO2) or names; replaces the configuration's `select`.
    #[arg(long, value_delimiter = ',')]
    select: Option<Vec<String>>,
    /// Rules to leave out, added to the configuration's `ignore`.
    #[arg(long, value_delimiter = ',')]
    ignore: Vec<String>,
    /// Use this configuration file for every Dockerfile instead of looking for one.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Leave out paths matching this glob (repeatable); paths named explicitly are always checked.
    #[arg(long)]
    exclude: Vec<String>,
    /// Also search hidden files and directories.
    #[arg(long)]
    hidden: bool,
    /// Follow symlinks, also out of the directories searched.
    #[arg(long)]
    follow_links: bool,
    /// The build context COPY and ADD read from (default: each Dockerfile's directory).
    #[arg(long, value_name = "DIR")]
    context: Option<PathBuf>,
}

#[derive(Args)]
struct OutputArgs {
    /// How to print findings.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Print counts per rule instead of each finding.
    #[arg(long)]
    statistics: bool,
    /// Exit with 0 even when findings remain (errors still exit with 2).
    #[arg(long)]
    exit_zero: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Each finding with its source line and a caret.
    Text,
    /// One JSON document (schema in the README).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other tools.
    Sarif,
    /// GitHub Actions workflow commands that annotate a pull request.
    Github,
}

#[derive(Clone, Copy, ValueEnum)]
enum ParseFormat {
    /// One JSON object per file.
    Json,
    /// BuildKit's own AST dump, as in its parser test `result` files.
    Buildkit,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { files, output } => run(&files, &output, Mode::Check),
        Command::Fix { files, output, diff, unsafe_fixes, no_unsafe_fixes } => {
            let unsafe_fixes = (unsafe_fixes || no_unsafe_fixes).then_some(unsafe_fixes);
            run(&files, &output, if diff { Mode::Diff { unsafe_fixes } } else { Mode::Fix { unsafe_fixes } })
        }
        Command::Measure { files, builder, json, unsafe_fixes } => measure_command(&files, builder, json, unsafe_fixes),
        Command::Rules => rules_command(),
        Command::Rule { rule } => rule_command(&rule),
        Command::Parse { files, cst, format } => parse_command(&files, cst, format),
    };
    match result {
        Ok(code) => code,
        // A reader that stops early (`dockopt check | head`) is not an error.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dockopt: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Check,
    /// `None`: as the configuration says.
    Fix {
        unsafe_fixes: Option<bool>,
    },
    Diff {
        unsafe_fixes: Option<bool>,
    },
}

/// What every command on files starts from.
struct Inputs {
    rules: Vec<&'static dyn fix::Rule>,
    resolver: Resolver,
    paths: Vec<PathBuf>,
    /// Paths named on the command line rather than found by the walk: configured excludes do not apply to them.
    explicit: HashSet<PathBuf>,
    found: discover::Found,
}

impl Inputs {
    fn gather(args: &FileArgs, unsafe_fixes: Option<bool>) -> Result<Inputs> {
        let rules = transforms::all();
        for selectors in args.select.iter().chain(std::iter::once(&args.ignore)) {
            if let Some(unknown) = config::unknown_selectors(selectors, &rules).first() {
                bail!("`{unknown}` names no rule; `dockopt rules` lists them");
            }
        }
        let resolver = Resolver::new(
            rules.clone(),
            Overrides {
                select: args.select.clone(),
                ignore: args.ignore.clone(),
                unsafe_fixes,
                config: args.config.clone(),
            },
        );
        let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths.clone() };
        let walk = WalkOptions { hidden: args.hidden, follow_links: args.follow_links, exclude: args.exclude.clone() };
        let found = discover::discover(&paths, &walk).map_err(anyhow::Error::msg)?;
        let explicit = paths.iter().filter(|p| !p.is_dir()).cloned().collect();
        Ok(Inputs { rules, resolver, paths, explicit, found })
    }
}

fn run(args: &FileArgs, output: &OutputArgs, mode: Mode) -> Result<ExitCode> {
    let unsafe_fixes = match mode {
        Mode::Fix { unsafe_fixes } | Mode::Diff { unsafe_fixes } => unsafe_fixes,
        Mode::Check => None,
    };
    let Inputs { rules: all, resolver, paths, explicit, found } = Inputs::gather(args, unsafe_fixes)?;
    let format = output.format;
    let listings = Arc::new(Listings::default());
    let mut walk_errors: Vec<Rendered> = found
        .errors
        .into_iter()
        .map(|(path, error)| {
            let path = path.display().to_string();
            let help = "check the path and its permissions".to_string();
            let report = FileReport {
                path: path.clone(),
                source: String::new(),
                findings: Vec::new(),
                errors: vec![Diagnostic { path, line: 1, column: 1, message: error, help }],
                changed: false,
                layers: None,
                stdout: None,
            };
            render(report, format, &all)
        })
        .collect();

    // With `fix -`, standard output carries the fixed file, so the report goes to standard error.
    let fixed_to_stdout = matches!(mode, Mode::Fix { .. }) && paths.iter().any(|p| p == Path::new("-"));
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut counts: Vec<Counts> = Vec::with_capacity(found.files.len());
    let mut sarif_notes: Vec<String> = Vec::new();
    let mut first_entry = true;
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let document = !matches!(mode, Mode::Diff { .. }) && !output.statistics;
    if document {
        let out: &mut dyn Write = if fixed_to_stdout { &mut stderr } else { &mut stdout };
        match format {
            Format::Json => write!(out, "{{\"version\":1,\"files\":[")?,
            Format::Sarif => write!(out, "{}", report::sarif_prefix(&all))?,
            Format::Text | Format::Github => {}
        }
    }
    // Files are processed on every core while this thread writes the results in path order as they arrive.
    let mut write_one = |r: Rendered| -> Result<()> {
        stderr.write_all(r.errors.as_bytes())?;
        if let Some(text) = &r.stdout {
            let is_diff = matches!(mode, Mode::Diff { .. });
            stdout.write_all(if is_diff && colour { colourize(text) } else { text.clone() }.as_bytes())?;
        }
        if document {
            let out: &mut dyn Write = if fixed_to_stdout { &mut stderr } else { &mut stdout };
            match format {
                Format::Text | Format::Github => out.write_all(r.report.as_bytes())?,
                Format::Json => {
                    write!(out, "{}{}", if first_entry { "" } else { "," }, r.report)?;
                    first_entry = false;
                }
                Format::Sarif => {
                    for result in &r.sarif.0 {
                        write!(out, "{}{result}", if first_entry { "" } else { "," })?;
                        first_entry = false;
                    }
                    sarif_notes.extend(r.sarif.1);
                }
            }
        }
        counts.push(r.counts);
        Ok(())
    };
    for_each_in_order(
        &found.files,
        |path| {
            let is_explicit = explicit.contains(path);
            process(path, is_explicit, &resolver, mode, args.context.as_deref(), &listings)
                .map(|report| render(report, format, &all))
        },
        |rendered| rendered.map_or(Ok(()), &mut write_one),
    )?;
    for r in std::mem::take(&mut walk_errors) {
        write_one(r)?;
    }
    let summary = Summary::of(&counts);
    {
        let out: &mut dyn Write = if fixed_to_stdout { &mut stderr } else { &mut stdout };
        if document {
            match format {
                Format::Json => writeln!(out, "],\"summary\":{}}}", report::summary_json(&summary))?,
                Format::Sarif => writeln!(out, "{}", report::sarif_suffix(&sarif_notes))?,
                Format::Text | Format::Github => {}
            }
        } else if output.statistics && !matches!(mode, Mode::Diff { .. }) {
            write!(out, "{}", report::statistics(&counts))?;
        }
    }
    drop(stdout);
    if format == Format::Text {
        let verb = match mode {
            Mode::Fix { .. } => "fixed",
            Mode::Check | Mode::Diff { .. } => "would change",
        };
        writeln!(stderr, "{}", summary.line(verb))?;
    }
    let status = if summary.errors > 0 {
        2
    } else {
        let remaining = match mode {
            Mode::Diff { .. } => summary.changed > 0,
            Mode::Check | Mode::Fix { .. } => summary.findings > 0,
        };
        u8::from(remaining && !output.exit_zero)
    };
    Ok(ExitCode::from(status))
}

/// How far the workers may run ahead of the writer: enough to keep every core busy, few enough to keep memory
/// flat.
const WINDOW: usize = 256;

/// A file's output, rendered on the worker that processed it, so the file's text and findings can go.
struct Rendered {
    /// Its diff, or the fixed standard input.
    stdout: Option<String>,
    /// Its part of the report: text or GitHub lines, or its entry in the JSON report.
    report: String,
    /// Its SARIF results and tool notifications, serialized.
    sarif: (Vec<String>, Vec<String>),
    /// Its errors, as printed on standard error.
    errors: String,
    counts: Counts,
}

fn render(report: FileReport, format: Format, rules: &[&'static dyn fix::Rule]) -> Rendered {
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
        errors: report.errors.iter().map(|e| format!("{e}\n")).collect(),
        counts: Counts::of(&report),
        stdout: report.stdout,
        report: text,
        sarif,
    }
}

/// Runs `work` on every item on all cores and hands the results to `consume` on this thread, in the items'
/// order, as soon as each is ready. Workers stay at most [`WINDOW`] items ahead of `consume`.
fn for_each_in_order<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
    mut consume: impl FnMut(R) -> Result<()>,
) -> Result<()> {
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let consumed = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len().max(1));
    let live = AtomicUsize::new(workers);
    let ready = Condvar::new();
    let ready_lock = Mutex::new(());
    /// Counts a worker out however it ends, so the writer never waits for a worker that is gone.
    struct Leaving<'a>(&'a AtomicUsize, &'a Mutex<()>, &'a Condvar);
    impl Drop for Leaving<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Release);
            let _guard = self.1.lock();
            self.2.notify_all();
        }
    }
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let _leaving = Leaving(&live, &ready_lock, &ready);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    while i >= consumed.load(Ordering::Acquire) + WINDOW && !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(std::time::Duration::from_micros(200));
                    }
                    let result = work(&items[i]);
                    *slots[i].lock().expect("no panics while holding the lock") = Some(result);
                    // Only the item the writer waits for can wake it.
                    if consumed.load(Ordering::Acquire) == i {
                        let _guard = ready_lock.lock().expect("no panics while holding the lock");
                        ready.notify_all();
                    }
                }
            });
        }
        let outcome = (|| {
            for (i, slot) in slots.iter().enumerate() {
                // The slot is checked under the condvar's lock, so a result stored meanwhile cannot be missed.
                let mut guard = ready_lock.lock().expect("no panics while holding the lock");
                let result = loop {
                    if let Some(result) = slot.lock().expect("no panics while holding the lock").take() {
                        break result;
                    }
                    if live.load(Ordering::Acquire) == 0 {
                        bail!("a worker stopped before finishing its files");
                    }
                    guard = ready.wait(guard).expect("no panics while holding the lock");
                };
                drop(guard);
                consume(result)?;
                consumed.store(i + 1, Ordering::Release);
            }
            Ok(())
        })();
        // On an error (a closed standard output), let the workers finish quickly.
        stop.store(true, Ordering::Relaxed);
        outcome
    })
}

fn error_report(path: &str, source: String, errors: Vec<Diagnostic>) -> Option<FileReport> {
    Some(FileReport {
        path: path.to_string(),
        source,
        findings: Vec::new(),
        errors,
        changed: false,
        layers: None,
        stdout: None,
    })
}

fn read_input(path: &Path) -> Result<(String, String), Diagnostic> {
    let name = path.display().to_string();
    let bytes = if name == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(path)
    };
    let bytes = bytes.map_err(|e| Diagnostic {
        path: name.clone(),
        line: 1,
        column: 1,
        message: format!("cannot read: {e}"),
        help: "check that the path exists and is readable".into(),
    })?;
    Ok((name.clone(), decode(&name, bytes)?))
}

/// Checks or fixes one file. `None` when the configuration excludes it.
fn process(
    path: &Path,
    explicit: bool,
    resolver: &Resolver,
    mode: Mode,
    context: Option<&Path>,
    listings: &Arc<Listings>,
) -> Option<FileReport> {
    let is_stdin = path == Path::new("-");
    let dir = if is_stdin { None } else { path.parent() };
    let settings: Settings = match resolver.settings_for(dir) {
        Ok(settings) => settings,
        Err(e) => {
            let error = Diagnostic {
                path: e.path.display().to_string(),
                line: e.line,
                column: e.column,
                message: e.message,
                help: "see the configuration keys in the README".into(),
            };
            return error_report(&path.display().to_string(), String::new(), vec![error]);
        }
    };
    if !explicit && !is_stdin && !settings.exclude.is_empty() {
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        match discover::exclude_matcher(&settings.root, &settings.exclude) {
            Ok(matcher) if discover::is_excluded(&matcher, &absolute, false) => return None,
            Ok(_) => {}
            Err(message) => {
                let error = Diagnostic {
                    path: settings.root.display().to_string(),
                    line: 1,
                    column: 1,
                    message,
                    help: "fix the glob in `exclude`".into(),
                };
                return error_report(&path.display().to_string(), String::new(), vec![error]);
            }
        }
    }
    let (name, source) = match read_input(path) {
        Ok(input) => input,
        Err(d) => return error_report(&path.display().to_string(), String::new(), vec![d]),
    };
    let build = (!is_stdin).then(|| BuildContext::sharing(path, context, listings.clone()));
    let unsafe_fixes = settings.unsafe_fixes && mode != Mode::Check;
    // `fix` reads the file first and refuses what BuildKit would reject, with the errors to report.
    let outcome = match fix::fix_with_options(&source, build.as_ref(), &settings.rules, unsafe_fixes, &settings.options)
    {
        Ok(outcome) => outcome,
        Err(errors) => {
            let lines = LineIndex::new(&source);
            let errors = errors.iter().map(|e| Diagnostic::from_syntax_error(&name, &source, &lines, e)).collect();
            return error_report(&name, source.clone(), errors);
        }
    };
    let (layers_before, layers_after) = (outcome.layers_before, outcome.layers);
    let changed = outcome.text != source;
    let mut report = FileReport {
        path: name.clone(),
        source: String::new(),
        findings: Vec::new(),
        errors: Vec::new(),
        changed,
        layers: Some((layers_before, layers_after)),
        stdout: None,
    };
    match mode {
        Mode::Check => {
            report.findings = outcome.initial;
            report.source = source;
        }
        Mode::Diff { .. } => {
            if changed {
                let diff = similar::TextDiff::from_lines(&source, &outcome.text);
                report.stdout = Some(diff.unified_diff().context_radius(3).header(&name, &name).to_string());
            }
            report.findings = outcome.remaining;
            report.source = outcome.text;
        }
        Mode::Fix { .. } if is_stdin => {
            report.stdout = Some(outcome.text.clone());
            report.findings = outcome.remaining;
            report.source = outcome.text;
        }
        Mode::Fix { .. } => {
            if changed {
                if let Err(e) = write_atomically(path, &outcome.text) {
                    report.changed = false;
                    report.errors.push(Diagnostic {
                        path: name.clone(),
                        line: 1,
                        column: 1,
                        message: format!("cannot write the fixed file: {e:#}"),
                        help:
                            "make the file and its directory writable, or run `dockopt fix --diff` to see the changes"
                                .into(),
                    });
                    report.source = source;
                    return Some(report);
                }
            }
            report.findings = outcome.remaining;
            report.source = outcome.text;
        }
    }
    Some(report)
}

/// `dockopt measure`: one file at a time, since each build already keeps the machine busy.
fn measure_command(args: &FileArgs, wanted: Option<BuilderKind>, json: bool, unsafe_fixes: bool) -> Result<ExitCode> {
    let builder = Builder::detect(wanted)?;
    let Inputs { resolver, explicit, found, .. } = Inputs::gather(args, unsafe_fixes.then_some(true))?;
    let listings = Arc::new(Listings::default());
    let mut status = 0u8;
    for (path, error) in &found.errors {
        eprintln!("{}:1:1: {error}", path.display());
        status = 2;
    }
    let mut documents = Vec::new();
    for path in &found.files {
        if path == Path::new("-") {
            eprintln!("-: measure builds images, which needs a Dockerfile in a build context, not standard input");
            status = 2;
            continue;
        }
        let mode = Mode::Diff { unsafe_fixes: unsafe_fixes.then_some(true) };
        let is_explicit = explicit.contains(path);
        let Some(report) = process(path, is_explicit, &resolver, mode, args.context.as_deref(), &listings) else {
            continue;
        };
        if !report.errors.is_empty() {
            for error in &report.errors {
                eprintln!("{error}");
            }
            status = 2;
            continue;
        }
        let outcome = if report.changed {
            let context = match &args.context {
                Some(dir) => dir.clone(),
                None => path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf(),
            };
            let bases = measure::base_images(&report.source);
            let mut progress = |step: &str| eprintln!("{}: {step} with {builder}", report.path);
            let subject = Subject { dockerfile: path, context: &context, fixed: &report.source, bases: &bases };
            measure::measure(&builder, &subject, &mut progress)
        } else {
            Outcome::Unchanged
        };
        status = status.max(match &outcome {
            Outcome::OriginalFails(_) | Outcome::Error(_) => 2,
            outcome if measure::is_failure(outcome) => 1,
            _ => 0,
        });
        let measurement = Measurement { path: report.path, builder: builder.to_string(), outcome };
        if json {
            documents.push(measure::json(&measurement));
        } else {
            print!("{}", measure::text(&measurement));
        }
    }
    if json {
        println!("{}", serde_json::json!({"version": 1, "files": documents}));
    }
    Ok(ExitCode::from(status))
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

/// Writes through a temporary file in the same directory and a rename, keeping the file's permissions, so a
/// crash never leaves a half-written Dockerfile. A read-only file is refused rather than replaced.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let permissions = std::fs::metadata(path)?.permissions();
    if permissions.readonly() {
        bail!("the file is read-only");
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir).context("cannot create a temporary file beside it")?;
    temp.write_all(text.as_bytes())?;
    temp.as_file().set_permissions(permissions)?;
    temp.persist(path)?;
    Ok(())
}

fn safety_label(safety: Safety) -> &'static str {
    match safety {
        Safety::Safe => "safe fix",
        Safety::Unsafe => "unsafe fix",
        Safety::ReportOnly => "report only",
    }
}

fn rules_command() -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    for rule in transforms::all() {
        let info = rule.info();
        writeln!(out, "{}  {:<26} {:<12} {}", info.code, info.name, safety_label(info.safety), info.summary)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn rule_command(wanted: &str) -> Result<ExitCode> {
    let rules = transforms::all();
    let Some(rule) = rules.iter().find(|r| r.info().code.eq_ignore_ascii_case(wanted) || r.info().name == wanted)
    else {
        bail!("no rule `{wanted}`; `dockopt rules` lists them");
    };
    let info = rule.info();
    let hadolint =
        if info.hadolint.is_empty() { String::new() } else { format!("; hadolint {}", info.hadolint.join(", ")) };
    println!(
        "{} {} ({}{hadolint})\n\n{}\n\n{}",
        info.code,
        info.name,
        safety_label(info.safety),
        info.summary,
        info.doc
    );
    Ok(ExitCode::SUCCESS)
}

fn parse_command(files: &[PathBuf], cst: bool, format: ParseFormat) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut status = 0u8;
    for path in files {
        let (name, source) = match read_input(path) {
            Ok(input) => input,
            Err(d) => {
                eprintln!("{d}");
                status = 2;
                continue;
            }
        };
        let df = Dockerfile::parse(&source);
        let lines = LineIndex::new(df.source());
        for error in &df.errors {
            eprintln!("{}", Diagnostic::from_syntax_error(&name, df.source(), &lines, error));
            status = status.max(1);
        }
        match (cst, format) {
            (true, _) => writeln!(out, "{}", dump::cst_json(&name, &df.tree))?,
            (false, ParseFormat::Json) => writeln!(out, "{}", dump::model_json(&name, &df))?,
            (false, ParseFormat::Buildkit) => writeln!(out, "{}", dump::buildkit_ast(&df))?,
        }
    }
    Ok(ExitCode::from(status))
}
