//! The `dockopt` command line: commands, finding files, output formats, writing fixes back.
//!
//! - [`args`]: the commands and options as the user types them; [`allocator`]: the program's memory allocator;
//! - [`discover`]: finding Dockerfiles; [`inputs`]: the rules, configuration and files a command starts from;
//! - [`run`]: `check`, `fix` and `fix --diff`, file by file on all cores ([`ordered`]), writing fixes back
//!   ([`write`]);
//! - [`report`]: the output formats of findings; [`output`]: where and in what order they are written;
//! - [`measure`], [`review`], [`rules`], [`dump`]: the `measure`, `review` (a GitHub pull-request review),
//!   `rules`/`rule` and `parse` commands.
//!
//! Uses every layer below it; nothing uses it.

pub mod allocator;
pub mod args;
pub mod discover;
pub mod dump;
pub mod inputs;
pub mod measure;
pub mod ordered;
pub mod output;
pub mod report;
pub mod review;
pub mod rules;
pub mod run;
pub mod write;

use crate::cli::args::{Cli, Command, Mode};
use crate::syntax::diagnostic::{printable, MAX_MESSAGE_CHARS};
use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { files, output } => run::run(&files, &output, Mode::Check),
        Command::Fix { files, output, diff, unsafe_fixes, no_unsafe_fixes } => {
            let unsafe_fixes = (unsafe_fixes || no_unsafe_fixes).then_some(unsafe_fixes);
            run::run(&files, &output, if diff { Mode::Diff { unsafe_fixes } } else { Mode::Fix { unsafe_fixes } })
        }
        Command::Measure { files, builder, json, unsafe_fixes, run, rebuild, touch } => {
            let rebuild = rebuild.then_some(touch);
            measure::measure_command(&files, builder, json, unsafe_fixes, run.as_deref(), rebuild)
        }
        Command::Review { files } => review::review_command(&files),
        Command::Rules => rules::rules_command(),
        Command::Rule { rule } => rules::rule_command(&rule),
        Command::Parse { files, cst, format } => dump::parse_command(&files, cst, format),
    };
    match result {
        Ok(code) => code,
        // A reader that stops early (`dockopt check | head`) is not an error.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            // With standard error closed too there is nowhere left to say it; the status still does.
            let _ = writeln!(std::io::stderr(), "dockopt: error: {}", printable(&format!("{e:#}"), MAX_MESSAGE_CHARS));
            ExitCode::from(2)
        }
    }
}
