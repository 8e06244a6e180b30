//! Finding Dockerfiles: paths named on the command line are always taken; directories are walked in
//! parallel, honouring `.gitignore` and `.ignore`, skipping hidden entries unless asked, and leaving out
//! `--exclude` globs. Symlinks that lead out of the walked directory are not followed unless asked. Files named
//! like Dockerfiles that the walk does not take are listed, with the reason, for `--show-files` and the summary.

use crate::engine::build_context::{ContextCache, MAX_GLOB_LEN};
use crate::engine::config::{absolute_in, below, ListedDirectories};
use crate::syntax::diagnostic::printable;
use ignore::overrides::{Override, OverrideBuilder};
use ignore::{WalkBuilder, WalkState};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Default)]
pub struct WalkOptions {
    /// Walk hidden files and directories too.
    pub hidden: bool,
    /// Follow symlinks, also out of the walked directory.
    pub follow_links: bool,
    /// Globs to leave out, relative to the working directory.
    pub exclude: Vec<String>,
}

/// What the walk found: Dockerfiles, sorted; files named like Dockerfiles that it passed over, with the reason;
/// paths it could not read; and the configuration files it saw in the directories it listed.
#[derive(Debug, Default)]
pub struct Found {
    pub files: Vec<PathBuf>,
    pub passed_over: Vec<(PathBuf, &'static str)>,
    pub errors: Vec<(PathBuf, String)>,
    pub listed: ListedDirectories,
}

/// Endings of inputs to template engines with block syntax (`Dockerfile.j2`, `Dockerfile.erb`): they become
/// Dockerfiles only once rendered, so a walk leaves them out. In the corpus all 145 `Dockerfile.jinja2` files fail
/// to parse. `.template` and `.in` stay: they usually hold placeholders for sed or envsubst in what is already a
/// Dockerfile (567 of the corpus's 601 `Dockerfile.template` files parse), and checking them is worth the rest.
const TEMPLATE_ENDINGS: &[&str] = &[
    "ejs", "epp", "erb", "gotmpl", "hbs", "j2", "jinja", "jinja2", "liquid", "m4", "mustache", "njk", "tmpl", "tpl",
    "twig",
];

/// `Dockerfile`, `Containerfile`, `*.Dockerfile`, `*.dockerfile`, `*.containerfile`, and `Dockerfile` followed
/// by `.`, `-` or `_` and more (`Dockerfile.dev`, `Dockerfile-prod`, `Dockerfile_arm64`), but never a
/// `.dockerignore` file, nor a template such as `Dockerfile.j2`.
pub fn is_dockerfile_name(name: &str) -> bool {
    why_not_a_dockerfile(name).is_none()
}

/// Why a file name is not taken as a Dockerfile's, or `None` when it is.
fn why_not_a_dockerfile(name: &str) -> Option<&'static str> {
    if name.ends_with(".dockerignore") {
        return Some("an ignore file");
    }
    let suffixed = ["Dockerfile.", "Dockerfile-", "Dockerfile_"].iter().find_map(|p| name.strip_prefix(p));
    if let Some(rest) = suffixed.filter(|rest| !rest.is_empty()) {
        let ending = rest.rsplit('.').next().unwrap_or(rest);
        return TEMPLATE_ENDINGS.contains(&ending).then_some("a template input, a Dockerfile only once rendered");
    }
    let named = matches!(name, "Dockerfile" | "Containerfile")
        || name.ends_with(".Dockerfile")
        || name.ends_with(".dockerfile")
        || name.ends_with(".containerfile");
    (!named).then_some(
        "not a Dockerfile name (Dockerfile, Containerfile, *.Dockerfile, Dockerfile.*, Dockerfile-*, Dockerfile_*)",
    )
}

/// A name worth saying that the walk passed over: it mentions a Dockerfile or Containerfile.
fn looks_like_dockerfile(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("dockerfile") || lower.contains("containerfile")
}

/// Globs as an ignore-style matcher rooted at `root`. An invalid glob, or one longer than [`MAX_GLOB_LEN`], is an
/// error naming it.
pub fn exclude_matcher(root: &Path, globs: &[String]) -> Result<Override, String> {
    let invalid = |glob: &str, why: &dyn std::fmt::Display| format!("invalid exclude glob `{}`: {why}", shown(glob));
    let mut builder = OverrideBuilder::new(root);
    for glob in globs {
        if glob.len() > MAX_GLOB_LEN {
            return Err(invalid(glob, &format!("{} bytes long, over dockopt's limit of {MAX_GLOB_LEN}", glob.len())));
        }
        // In an override, `!glob` marks what to leave out.
        builder.add(&format!("!{glob}")).map_err(|e| invalid(glob, &e))?;
    }
    builder.build().map_err(|e| {
        // The set failed as a whole; name the first glob that fails alone.
        let culprit = globs.iter().find(|g| {
            let mut alone = OverrideBuilder::new(root);
            alone.add(&format!("!{g}")).is_err() || alone.build().is_err()
        });
        match culprit {
            Some(glob) => invalid(glob, &e),
            None => format!("invalid exclude globs: {e}"),
        }
    })
}

/// A glob as an error message quotes it: long ones cut.
fn shown(glob: &str) -> std::borrow::Cow<'_, str> {
    printable(glob, 80)
}

pub fn is_excluded(matcher: &Override, path: &Path, is_dir: bool) -> bool {
    matcher.matched(path, is_dir).is_ignore()
}

/// `-` names standard input, spelt exactly so: `./-` and `-/` name a file or a directory.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The Dockerfiles under `paths`, and what the walk passed over. `cache` is told the real path of the directory of
/// each file the walk finds, which a walk that follows no links knows without asking the system.
pub fn discover(paths: &[PathBuf], options: &WalkOptions, cache: &ContextCache) -> Result<Found, String> {
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let excludes = exclude_matcher(&cwd, &options.exclude)?;
    let mut found = Found::default();
    for path in paths {
        if is_stdin(path) || !path.is_dir() {
            // Named explicitly: always checked (a missing one is reported when it is read).
            found.files.push(path.clone());
            continue;
        }
        let real_root = std::fs::canonicalize(path).ok();
        let root = real_root.clone().unwrap_or_else(|| path.clone());
        let files = Mutex::new(Vec::new());
        let passed_over = Mutex::new(Vec::new());
        let errors = Mutex::new(Vec::new());
        let listed = Arc::new(Mutex::new(ListedDirectories::default()));
        let spelling = Spelling { given: path.clone(), absolute_root: absolute_in(Some(&cwd), path), cwd: cwd.clone() };
        let mut walk = WalkBuilder::new(path);
        walk.hidden(!options.hidden).follow_links(options.follow_links).require_git(false);
        if !options.exclude.is_empty() {
            let (excludes, cwd) = (excludes.clone(), cwd.clone());
            let (listed, spelling) = (Arc::clone(&listed), spelling.clone());
            walk.filter_entry(move |entry| {
                let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                let relative: PathBuf =
                    entry.path().components().filter(|c| *c != std::path::Component::CurDir).collect();
                let excluded = is_excluded(&excludes, &cwd.join(relative), is_dir);
                // A configuration file stays in force when --exclude leaves it out of the files to check.
                if excluded && !is_dir {
                    saw(&listed, &spelling, entry);
                }
                !excluded
            });
        }
        walk.build_parallel().run(|| {
            // The directory of the last file this thread told the cache about: a directory's files come one after
            // another, and a directory of thousands was told its real path once for each.
            let mut told = PathBuf::new();
            let (files, passed_over, errors, listed, spelling) = (&files, &passed_over, &errors, &listed, &spelling);
            let (real_root, root) = (&real_root, &root);
            Box::new(move |entry| {
                match entry {
                    Ok(entry) if entry.file_type().is_some_and(|t| t.is_dir()) => {
                        let dir = spelling.of(entry.path());
                        listed.lock().expect("no panics while holding the lock").listed(dir);
                    }
                    Ok(entry) => {
                        saw(listed, spelling, &entry);
                        let name = entry.file_name().to_string_lossy();
                        let reason = why_not_a_dockerfile(&name)
                            .or_else(|| (!is_regular_file(&entry)).then_some("not a regular file"))
                            .or_else(|| {
                                (!options.follow_links && !stays_inside(root, &entry))
                                    .then_some("a symlink out of the searched directory (--follow-links follows it)")
                            });
                        match reason {
                            None => {
                                // Told on the walk's threads as each file is found: after the walk, for every file
                                // of the corpus, it held back the start of the work by 11-15 ms.
                                if let (false, Some(real_root)) = (options.follow_links, real_root) {
                                    let dir = entry.path().parent().unwrap_or(Path::new(""));
                                    if dir.as_os_str() != told.as_os_str() {
                                        if let Some(real) = real_dir(path, real_root, dir) {
                                            cache.know_real_path(dir.to_path_buf(), real);
                                        }
                                        told = dir.to_path_buf();
                                    }
                                }
                                files.lock().expect("no panics while holding the lock").push(entry.into_path())
                            }
                            Some(reason) if looks_like_dockerfile(&name) => {
                                let passed = (entry.into_path(), reason);
                                passed_over.lock().expect("no panics while holding the lock").push(passed);
                            }
                            Some(_) => {}
                        }
                    }
                    Err(error) => {
                        let path = error_path(&error).unwrap_or_else(|| path.clone());
                        errors.lock().expect("no panics while holding the lock").push((path, error.to_string()));
                    }
                }
                WalkState::Continue
            })
        });
        found.files.extend(files.into_inner().expect("walk finished"));
        found.passed_over.extend(passed_over.into_inner().expect("walk finished"));
        let errors = errors.into_inner().expect("walk finished");
        let mut listed = std::mem::take(&mut *listed.lock().expect("walk finished"));
        for (path, _) in &errors {
            listed.unlisted(&spelling.of(path));
        }
        found.listed.add(listed);
        found.errors.extend(errors);
    }
    // In path order, `/` before any other byte, as comparing components would put them; comparing one key per
    // path costs a fraction of comparing paths component by component.
    found.files.sort_by_cached_key(|path| path_order_key(path));
    // Paths that overlap (`.` and `./api`) find a file twice; one walk finds each file once, so with one path
    // there is nothing to look for, and comparing 20,000 paths component by component took 3-4 ms.
    if paths.len() > 1 {
        found.files.dedup();
    }
    found.passed_over.sort();
    found.passed_over.dedup();
    found.errors.sort();
    Ok(found)
}

/// How the configuration's look-ups spell the directories of one walk: absolute and lexically clean. The walk
/// names each entry by the path it was given and the names below it, so only that path is made absolute.
#[derive(Clone)]
struct Spelling {
    given: PathBuf,
    absolute_root: PathBuf,
    cwd: PathBuf,
}

impl Spelling {
    /// Cut and joined as bytes: `Path::strip_prefix` and `Path::join` parse every component, and this runs for
    /// each directory of the walk.
    fn of(&self, entry: &Path) -> PathBuf {
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        // The walk names what it finds by the given path, a `/` and the names below it.
        let Some(below) = below(entry.as_os_str().as_bytes(), self.given.as_os_str().as_bytes()) else {
            return absolute_in(Some(&self.cwd), entry);
        };
        if below.is_empty() {
            return self.absolute_root.clone();
        }
        let root = self.absolute_root.as_os_str().as_bytes();
        let mut bytes = Vec::with_capacity(root.len() + 1 + below.len());
        bytes.extend_from_slice(root);
        if !root.ends_with(b"/") {
            bytes.push(b'/');
        }
        bytes.extend_from_slice(below);
        PathBuf::from(std::ffi::OsString::from_vec(bytes))
    }
}

/// Tells `listed` of a file the walk saw, when it may be a configuration file.
fn saw(listed: &Mutex<ListedDirectories>, spelling: &Spelling, entry: &ignore::DirEntry) {
    if let (true, Some(dir)) = (ListedDirectories::shows(entry.file_name()), entry.path().parent()) {
        listed.lock().expect("no panics while holding the lock").saw(spelling.of(dir), entry.file_name());
    }
}

/// The path with every symlink resolved of `dir`, which the walk of `root` entered: a walk that follows no links
/// enters only real directories, so that is `real_root` and the rest.
fn real_dir(root: &Path, real_root: &Path, dir: &Path) -> Option<PathBuf> {
    Some(real_root.join(dir.strip_prefix(root).ok()?))
}

/// The bytes of `path` with each `/` made the lowest byte, so that byte order is path order: `a/b` before `a-b`.
fn path_order_key(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().iter().map(|&b| if b == b'/' { 0 } else { b }).collect()
}

/// A regular file, or a symlink to one: a named pipe, socket, device or directory named like a Dockerfile is
/// passed over.
fn is_regular_file(entry: &ignore::DirEntry) -> bool {
    match entry.file_type() {
        Some(t) if t.is_file() => true,
        Some(t) if t.is_symlink() => std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file()),
        _ => false,
    }
}

/// The path a walk error is about, looking through the line and depth the walker wraps it in.
fn error_path(error: &ignore::Error) -> Option<PathBuf> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        ignore::Error::WithLineNumber { err, .. } | ignore::Error::WithDepth { err, .. } => error_path(err),
        ignore::Error::Partial(errors) => errors.iter().find_map(error_path),
        _ => None,
    }
}

/// A symlink whose target lies outside `root` is not taken. Whether the entry is a symlink is known from the
/// directory listing the walk read.
fn stays_inside(root: &Path, entry: &ignore::DirEntry) -> bool {
    !entry.path_is_symlink() || std::fs::canonicalize(entry.path()).is_ok_and(|target| target.starts_with(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_sort_as_their_components_do() {
        let mut by_key: Vec<PathBuf> =
            ["a-b/Dockerfile", "a/Dockerfile", "a/b/Dockerfile", "a.b/Dockerfile", "a/Dockerfile.dev", "A/Dockerfile"]
                .map(PathBuf::from)
                .to_vec();
        let mut by_components = by_key.clone();
        by_key.sort_by_cached_key(|p| path_order_key(p));
        by_components.sort();
        assert_eq!(by_key, by_components);
    }

    #[test]
    fn dockerfile_names() {
        for yes in [
            "Dockerfile",
            "Containerfile",
            "api.Dockerfile",
            "api.dockerfile",
            "Dockerfile.dev",
            "Dockerfile.3.12-slim",
            "Dockerfile.template",
            "x.containerfile",
            "Dockerfile-dev",
            "Dockerfile_prod",
            "Dockerfile_amd64",
        ] {
            assert!(is_dockerfile_name(yes), "{yes}");
        }
        for no in [
            "Dockerfile.dockerignore",
            ".dockerignore",
            "dockerfile",
            "Dockerfiles",
            "README.md",
            "api.Dockerfile.dockerignore",
            "Dockerfile.j2",
            "Dockerfile.jinja2",
            "Dockerfile.alpine.tmpl",
            "Dockerfile-dev.j2",
            "Dockerfile-",
        ] {
            assert!(!is_dockerfile_name(no), "{no}");
        }
    }

    #[test]
    fn only_a_bare_dash_is_standard_input() {
        assert!(is_stdin(Path::new("-")));
        for file in ["./-", "-/", "--", "dir/-", ""] {
            assert!(!is_stdin(Path::new(file)), "{file}");
        }
    }
}
