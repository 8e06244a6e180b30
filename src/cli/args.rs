//! The command line as the user types it: commands, their options, and what a file command was asked to do.

use crate::measure::builder::BuilderKind;
use crate::syntax::parse::MAX_SOURCE_LEN;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// dockopt: make Dockerfiles build faster and smaller, safely.
///
/// `dockopt check` reports what could be better; `dockopt fix` applies the fixes that keep the image's files
/// the same (package caches aside); `dockopt fix --diff` shows them without writing. Paths may be files or
/// directories; directories are searched for Dockerfiles, honouring .gitignore.
#[derive(Parser)]
#[command(version, about, long_about, after_long_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "Examples:
  dockopt check                          report findings in every Dockerfile below the current directory
  dockopt fix --diff services/api        show the safe fixes as a diff, change nothing
  dockopt fix Dockerfile                 apply them
  dockopt fix --unsafe-fixes Dockerfile  also apply fixes that may change what is installed
  dockopt check --format sarif . > dockopt.sarif
  dockopt rule DO101                     explain a rule, with a before/after example";

#[derive(Subcommand)]
pub enum Command {
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
        /// Run COMMAND in the original image and in the fixed one, with no network, in place of their
        /// ENTRYPOINT and CMD, and compare exit status and output (for example `--run 'app --version'`). It is
        /// one command with its arguments, quoted as in a shell; for more, `sh -c '…'` where the images have a
        /// shell.
        #[arg(long, value_name = "COMMAND")]
        run: Option<String>,
        /// After the cold builds, change one source file in a copy of the build context and build both
        /// Dockerfiles again with the layer cache: the rebuild time, and the step each started running from.
        #[arg(long)]
        rebuild: bool,
        /// The file --rebuild changes, relative to the build context (default: the newest file that the last
        /// `COPY .` copies and that is no dependency manifest).
        #[arg(long, value_name = "PATH", requires = "rebuild")]
        touch: Option<String>,
    },
    /// Post a pull-request review on GitHub: safe fixes as suggestions, for the GitHub Action.
    ///
    /// Reads the pull request from the workflow (GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_API_URL) and posts
    /// with GITHUB_TOKEN: each safe fix as a comment with a suggestion block for the lines it changes, each unsafe
    /// fix and each warning without a fix as a comment, and advice as annotations. Fixes on lines the pull request
    /// does not show go into the review's body. Nothing is posted twice: a re-run adds only what is new.
    Review {
        #[command(flatten)]
        files: FileArgs,
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

#[derive(Args, Clone)]
pub struct FileArgs {
    /// Dockerfiles or directories to search (default: the current directory); `-` is standard input.
    pub paths: Vec<PathBuf>,
    /// Rules to run: codes, code prefixes (DO2) or names; replaces the configuration's `select`.
    #[arg(long, value_delimiter = ',')]
    pub select: Option<Vec<String>>,
    /// Rules to leave out, added to the configuration's `ignore`.
    #[arg(long, value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// Use this configuration file for every Dockerfile instead of looking for one.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Leave out paths matching this glob (repeatable); paths named explicitly are always checked.
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Also search hidden files and directories.
    #[arg(long)]
    pub hidden: bool,
    /// Follow symlinks, also out of the directories searched.
    #[arg(long)]
    pub follow_links: bool,
    /// The build context COPY and ADD read from (default: each Dockerfile's directory).
    #[arg(long, value_name = "DIR")]
    pub context: Option<PathBuf>,
    /// List the files the walk takes and those it passes over, with the reason, and stop.
    #[arg(long)]
    pub show_files: bool,
    /// Refuse files bigger than this, before reading them: bytes, or with a unit (KiB, MiB, GiB).
    #[arg(long, value_name = "SIZE", default_value = "16MiB", value_parser = parse_size)]
    pub max_file_size: u64,
    /// Keep pip, uv, npm, yarn, pnpm, apk, Go build and apt caches out of layers with BuildKit cache mounts
    /// (`RUN --mount=type=cache,…`), kept between builds, instead of deleting them (also `cache-mounts = true`).
    #[arg(long)]
    pub cache_mounts: bool,
}

/// `1048576`, `1024KiB`, `1MiB` or `1M`: a size in bytes, below the 2 GiB that dockopt's model can address (see
/// [`MAX_SOURCE_LEN`]).
fn parse_size(text: &str) -> Result<u64, String> {
    let digits = text.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text.trim()[digits.len()..];
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("unknown unit `{unit}`; use bytes, KiB, MiB or GiB")),
    };
    let number: u64 = digits.trim().parse().map_err(|_| format!("`{text}` is not a size such as 16MiB"))?;
    let size = number.checked_mul(multiplier).filter(|&size| size <= MAX_SOURCE_LEN as u64);
    size.ok_or_else(|| format!("`{text}` is too large: dockopt reads files of less than 2GiB"))
}

#[derive(Args)]
pub struct OutputArgs {
    /// How to print findings.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print counts per rule instead of each finding (text or json).
    #[arg(long)]
    pub statistics: bool,
    /// Print only the summary (and errors): no findings, no diffs, no per-file lines.
    #[arg(short, long)]
    pub quiet: bool,
    /// Exit with 0 even when findings remain (errors still exit with 2).
    #[arg(long)]
    pub exit_zero: bool,
    /// Advice (DO3xx) fails the run too, as warnings do.
    #[arg(long)]
    pub fail_on_advice: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Each finding with its source line and a caret.
    Text,
    /// One JSON document (schema in the README).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other tools.
    Sarif,
    /// GitHub Actions workflow commands that annotate a pull request.
    Github,
    /// reviewdog's Diagnostic format, with the safe fixes as suggestions.
    Rdjson,
    /// GitLab Code Quality report.
    Gitlab,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ParseFormat {
    /// One JSON object per file.
    Json,
    /// BuildKit's own AST dump, as in its parser test `result` files.
    Buildkit,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Check,
    /// `None`: as the configuration says.
    Fix {
        unsafe_fixes: Option<bool>,
    },
    Diff {
        unsafe_fixes: Option<bool>,
    },
}

impl Mode {
    /// `--unsafe-fixes` or `--no-unsafe-fixes` as given; `check` never applies fixes.
    pub fn unsafe_fixes(self) -> Option<bool> {
        match self {
            Mode::Fix { unsafe_fixes } | Mode::Diff { unsafe_fixes } => unsafe_fixes,
            Mode::Check => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("3 parsecs").is_err());
        assert!(parse_size("99999999999999GiB").is_err());
        assert_eq!(parse_size("2147483647"), Ok(2_147_483_647));
        assert!(parse_size("2GiB").is_err(), "past what the model can count");
    }
}
