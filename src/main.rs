use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use dockopt::diagnostic::{decode, Diagnostic};
use dockopt::dump;
use dockopt::model::Dockerfile;
use dockopt::text::LineIndex;
use std::io::{Read, Write};
use std::path::PathBuf;
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

fn parse_command(files: &[PathBuf], cst: bool, format: ParseFormat) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut worst = 0u8;
    for path in files {
        let (name, source) = match read_input(path) {
            Ok(input) => input,
            Err(d) => {
                eprintln!("{d}");
                worst = 2;
                continue;
            }
        };
        let df = Dockerfile::parse(&source);
        let lines = LineIndex::new(df.source());
        for error in &df.errors {
            eprintln!("{}", Diagnostic::from_syntax_error(&name, df.source(), &lines, error));
            worst = worst.max(1);
        }
        match (cst, format) {
            (true, _) => writeln!(out, "{}", dump::cst_json(&name, &df.tree))?,
            (false, ParseFormat::Json) => writeln!(out, "{}", dump::model_json(&name, &df))?,
            (false, ParseFormat::Buildkit) => writeln!(out, "{}", dump::buildkit_ast(&df))?,
        }
    }
    Ok(ExitCode::from(worst))
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse { files, cst, format } => parse_command(&files, cst, format),
    }
}
