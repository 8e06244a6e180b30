//! What every command on files starts from: the rules, the configuration for each directory, the files the
//! command line names or the walk finds, and reading one of them.

use crate::cli::args::FileArgs;
use crate::cli::discover::{self, is_stdin, WalkOptions};
use crate::engine::build_context::ContextCache;
use crate::engine::config::{self, Overrides, Resolver};
use crate::engine::files::{read_limited, read_regular, read_seen_regular};
use crate::engine::rule::Rule;
use crate::syntax::diagnostic::{decode, Diagnostic};
use crate::transforms;
use anyhow::{bail, Result};
use foldhash::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Inputs {
    pub rules: Vec<&'static dyn Rule>,
    pub resolver: Resolver,
    pub paths: Vec<PathBuf>,
    /// Paths named on the command line rather than found by the walk: configured excludes do not apply to them.
    /// Kept by their bytes, as the walk hands them back, since `Path`'s own hash reads a path component by
    /// component (see [`PathCache`](crate::engine::memo::PathCache)): a pre-commit hook names every file.
    pub explicit: HashSet<OsString>,
    pub found: discover::Found,
    /// What the run reads of build contexts and directories, shared by every file.
    pub cache: Arc<ContextCache>,
}

impl Inputs {
    pub fn gather(args: &FileArgs, unsafe_fixes: Option<bool>, fail_on_advice: bool) -> Result<Inputs> {
        let rules = transforms::all();
        for selectors in args.select.iter().chain(std::iter::once(&args.ignore)) {
            if let Some(unknown) = config::unknown_selectors(selectors, &rules).first() {
                bail!("`{unknown}` names no rule; `dockopt rules` lists them");
            }
        }
        let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths.clone() };
        let walk = WalkOptions { hidden: args.hidden, follow_links: args.follow_links, exclude: args.exclude.clone() };
        let cache = Arc::new(ContextCache::new(args.max_file_size));
        let mut found = discover::discover(&paths, &walk, &cache).map_err(anyhow::Error::msg)?;
        let resolver = Resolver::new(
            rules.clone(),
            Overrides {
                select: args.select.clone(),
                ignore: args.ignore.clone(),
                unsafe_fixes,
                fail_on_advice: fail_on_advice.then_some(true),
                cache_mounts: args.cache_mounts.then_some(true),
                config: args.config.clone(),
            },
            std::mem::take(&mut found.listed),
        );
        let explicit = paths.iter().filter(|p| !p.is_dir()).map(|p| p.as_os_str().to_owned()).collect();
        Ok(Inputs { rules, resolver, paths, explicit, found, cache })
    }
}

/// Where a file to read was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Named on the command line: its type is looked up before it is opened, so that a named pipe or a device is
    /// never opened.
    Named,
    /// Found by the walk, whose directory listing showed a regular file: it is opened at once, and checked again.
    Walked,
}

/// Reads a regular file of at most `limit` bytes, or standard input for `-`, as UTF-8 text. Returns the name to
/// report it by and its text.
pub fn read_input(path: &Path, origin: Origin, limit: u64) -> Result<(String, String), Diagnostic> {
    // `Path::display` decodes through a lossy UTF-8 reader even when the path is valid UTF-8, as nearly all are.
    let name = path.to_str().map_or_else(|| path.display().to_string(), str::to_string);
    let bytes = if is_stdin(path) {
        read_limited(std::io::stdin().lock(), limit)
    } else if origin == Origin::Walked {
        read_seen_regular(path, limit)
    } else {
        read_regular(path, limit)
    };
    let bytes = bytes.map_err(|e| Diagnostic::whole_file(&name, format!("cannot read: {e}"), e.help()))?;
    Ok((name.clone(), decode(&name, bytes)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn a_file_is_named_by_its_path_and_a_path_that_is_not_utf8_lossily() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(OsStr::from_bytes(b"Dockerfile.\xff"));
        std::fs::write(&path, "FROM scratch\n").unwrap();
        let (name, text) = read_input(&path, Origin::Named, 1024).unwrap();
        assert_eq!(name, format!("{}/Dockerfile.\u{fffd}", dir.path().display()));
        assert_eq!(text, "FROM scratch\n");
    }
}
