use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand, ValueEnum};
use dockopt::context::Context;
use dockopt::diagnostic::{decode, Diagnostic};
use dockopt::dump;
use dockopt::fix::{self, Applicability, Rule};
use dockopt::model::Dockerfile;
use dockopt::text::LineIndex;
use dockopt::transforms;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// dockopt: make Dockerfiles build faster and smaller, safely.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply safe fixes in place. With --diff, print what would change and write nothing.
    ///
    /// A fix is safe when the image keeps the same files, package caches aside. Exit status: 0 when every file
    /// is fixed or clean, 1 when --diff would change something, 2 when a file cannot be read or parsed.
    Fix {
        /// Dockerfiles to fix; `-` reads standard input and writes the result to standard output.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print a unified diff of the changes instead of writing them.
        #[arg(long)]
        diff: bool,
        /// Also apply fixes that may change what the image holds.
        #[arg(long)]
        unsafe_fixes: bool,
    },
    /// Report findings without changing anything. Exit status 1 when there are findings.
    Check {
        /// Dockerfiles to check; `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
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

#[derive(Clone, Copy, ValueEnum)]
enum ParseFormat {
    /// One JSON object per file.
    Json,
    /// BuildKit's own AST dump, as in its parser test `result` files.
    Buildkit,
}

fn read_input(path: &PathBuf) -> Result<(String, String), Diagnostic> {
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

/// Runs `each` on every input in order. An input that cannot be read is reported and makes the status 2; the
/// others still run. The exit status is the highest any input returned.
fn for_each_input(files: &[PathBuf], mut each: impl FnMut(&Path, &str, String) -> Result<u8>) -> Result<ExitCode> {
    let mut status = 0u8;
    for path in files {
        match read_input(path) {
            Ok((name, source)) => status = status.max(each(path, &name, source)?),
            Err(d) => {
                eprintln!("{d}");
                status = 2;
            }
        }
    }
    Ok(ExitCode::from(status))
}

fn parse_command(files: &[PathBuf], cst: bool, format: ParseFormat) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for_each_input(files, |_, name, source| {
        let mut status = 0;
        let df = Dockerfile::parse(&source);
        let lines = LineIndex::new(df.source());
        for error in &df.errors {
            eprintln!("{}", Diagnostic::from_syntax_error(name, df.source(), &lines, error));
            status = 1;
        }
        match (cst, format) {
            (true, _) => writeln!(out, "{}", dump::cst_json(name, &df.tree))?,
            (false, ParseFormat::Json) => writeln!(out, "{}", dump::model_json(name, &df))?,
            (false, ParseFormat::Buildkit) => writeln!(out, "{}", dump::buildkit_ast(&df))?,
        }
        Ok(status)
    })
}

/// The build context is the Dockerfile's directory; standard input has none.
fn context_path(path: &Path) -> Option<&Path> {
    (path != Path::new("-")).then_some(path)
}

fn print_errors(name: &str, source: &str, errors: &[dockopt::syntax::SyntaxError]) {
    let lines = LineIndex::new(source);
    for error in errors {
        eprintln!("{}", Diagnostic::from_syntax_error(name, source, &lines, error));
    }
}

fn fix_command(files: &[PathBuf], diff: bool, unsafe_fixes: bool) -> Result<ExitCode> {
    let rules = transforms::all();
    for_each_input(files, |path, name, source| {
        let outcome = match fix::fix(&source, context_path(path), &rules, unsafe_fixes) {
            Ok(outcome) => outcome,
            Err(errors) => {
                print_errors(name, &source, &errors);
                return Ok(2);
            }
        };
        if name == "-" && !diff {
            std::io::stdout().write_all(outcome.text.as_bytes())?;
            return Ok(0);
        }
        if outcome.text == source {
            return Ok(0);
        }
        if diff {
            let text_diff = similar::TextDiff::from_lines(&source, &outcome.text);
            write!(std::io::stdout().lock(), "{}", text_diff.unified_diff().context_radius(3).header(name, name))?;
            return Ok(1);
        }
        write_atomically(path, &outcome.text).with_context(|| format!("{name}: cannot write the fixed file"))?;
        let count: usize = outcome.applied.values().sum();
        eprintln!("{name}: applied {count} fix{}", if count == 1 { "" } else { "es" });
        Ok(0)
    })
}

/// Writes through a temporary file in the same directory and a rename, keeping the file's permissions, so a
/// crash never leaves a half-written Dockerfile.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let permissions = std::fs::metadata(path)?.permissions();
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(text.as_bytes())?;
    temp.as_file().set_permissions(permissions)?;
    temp.persist(path)?;
    Ok(())
}

fn check_command(files: &[PathBuf]) -> Result<ExitCode> {
    let rules: Vec<&dyn Rule> = transforms::all();
    for_each_input(files, |path, name, source| {
        let df = Dockerfile::parse(&source);
        if !df.errors.is_empty() || !df.build_errors.is_empty() {
            print_errors(name, &source, &df.errors);
            print_errors(name, &source, &df.build_errors);
            return Ok(2);
        }
        let ctx = Context::new(&df, context_path(path));
        let lines = LineIndex::new(&source);
        let findings = fix::check(&ctx, &rules);
        let mut out = std::io::stdout().lock();
        for finding in &findings {
            let (line, col) = lines.line_col(&source, finding.range.start);
            let marker = match finding.fix.as_ref().map(|f| f.applicability) {
                Some(Applicability::Safe) => " [fix]",
                Some(Applicability::Unsafe) => " [unsafe fix]",
                _ => "",
            };
            writeln!(out, "{name}:{line}:{col}: {} {}{marker}", finding.rule.code, finding.message)?;
        }
        Ok(u8::from(!findings.is_empty()))
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse { files, cst, format } => parse_command(&files, cst, format),
        Command::Fix { files, diff, unsafe_fixes } => fix_command(&files, diff, unsafe_fixes),
        Command::Check { files } => check_command(&files),
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
