//! Configuration: `dockopt.toml`, `.dockopt.toml`, or `[tool.dockopt]` in `pyproject.toml`, found by walking up
//! from each Dockerfile's directory; the nearest one wins. Command-line flags override it. In the directories a
//! search for Dockerfiles listed, the search says which of the first and last are there (see
//! [`ListedDirectories`]).
//!
//! ```toml
//! select = ["DO1", "DO2"]          # codes, code prefixes or names; default: every rule
//! ignore = ["DO304"]               # taken out of the selection
//! unsafe-fixes = false             # apply unsafe fixes in `dockopt fix`
//! fail-on-advice = false           # advice (DO3xx) fails a run, as warnings do
//! cache-mounts = false             # keep caches out of layers with BuildKit cache mounts, not deletions
//! exclude = ["vendor/**"]          # globs, relative to this file's directory
//!
//! [rules.slim-base-image]
//! images = ["python", "node"]      # images whose slim variant the rule suggests
//!
//! [rules.unpinned-base-image]
//! allow = ["internal/base"]        # images that may go without a tag
//! ```
//!
//! An unknown key is an error that names it.

use crate::engine::files::{read_regular, DEFAULT_MAX_FILE_SIZE};
use crate::engine::memo::PathCache;
use crate::engine::options::RuleOptions;
use crate::engine::rule::Rule;
use serde::Deserialize;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConfigFile {
    pub select: Option<Vec<String>>,
    pub ignore: Option<Vec<String>>,
    pub unsafe_fixes: Option<bool>,
    pub fail_on_advice: Option<bool>,
    pub cache_mounts: Option<bool>,
    pub exclude: Option<Vec<String>>,
    #[serde(default)]
    pub rules: RuleOptions,
}

/// A configuration error, with where it is and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: String,
}

/// The help for a configuration file that reads but says something wrong.
const SEE_KEYS: &str = "see the configuration keys in the README (`dockopt.toml`)";

/// What applies to one file once the configuration and the command line are combined.
#[derive(Clone)]
pub struct Settings {
    pub rules: Vec<&'static dyn Rule>,
    pub unsafe_fixes: bool,
    /// Advice fails the run for this file.
    pub fail_on_advice: bool,
    pub options: RuleOptions,
    /// The directory the configuration's `exclude` globs are relative to.
    pub root: PathBuf,
    pub exclude: Vec<String>,
}

/// Command-line flags that override the configuration.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub select: Option<Vec<String>>,
    pub ignore: Vec<String>,
    pub unsafe_fixes: Option<bool>,
    /// `--fail-on-advice`.
    pub fail_on_advice: Option<bool>,
    /// `--cache-mounts`.
    pub cache_mounts: Option<bool>,
    /// `--config`: use this file for every Dockerfile instead of discovering one.
    pub config: Option<PathBuf>,
}

/// Reads a configuration file, checking that its selectors name rules among `rules`. `Ok(None)` for a
/// pyproject.toml without `[tool.dockopt]`.
pub fn read(path: &Path, rules: &[&'static dyn Rule]) -> Result<Option<ConfigFile>, ConfigError> {
    let cannot_read = |e: &dyn std::fmt::Display| ConfigError {
        path: path.to_path_buf(),
        line: 0,
        column: 0,
        message: format!("cannot read the configuration: {e}"),
        help: "check the path (given with --config, or found beside a Dockerfile) and its permissions".into(),
    };
    let bytes = read_regular(path, DEFAULT_MAX_FILE_SIZE).map_err(|e| cannot_read(&e))?;
    let text = String::from_utf8(bytes).map_err(|e| cannot_read(&e))?;
    let located = |e: toml::de::Error| {
        let (line, column) = e.span().map_or((1, 1), |span| {
            let before = &text[..span.start.min(text.len())];
            (before.matches('\n').count() + 1, before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1)
        });
        ConfigError { path: path.to_path_buf(), line, column, message: e.message().to_string(), help: SEE_KEYS.into() }
    };
    if path.file_name().is_some_and(|n| n == "pyproject.toml") {
        let table: toml::Table = toml::from_str(&text).map_err(located)?;
        let Some(section) = table.get("tool").and_then(|t| t.get("dockopt")) else { return Ok(None) };
        // Re-reading the section alone loses its place in the file; say which table the key is in instead.
        let file = ConfigFile::deserialize(section.clone()).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("in [tool.dockopt]: {}", e.message()),
            help: SEE_KEYS.into(),
        })?;
        return check_selectors(path, &text, file, rules).map(Some);
    }
    let file = toml::from_str(&text).map_err(located)?;
    check_selectors(path, &text, file, rules).map(Some)
}

/// A `select` or `ignore` entry that names no rule is an error at its place in the file, as `--select` with one
/// is on the command line: otherwise a typo in `select` would turn every rule off without a word.
fn check_selectors(
    path: &Path,
    text: &str,
    file: ConfigFile,
    rules: &[&'static dyn Rule],
) -> Result<ConfigFile, ConfigError> {
    let selectors = file.select.iter().chain(&file.ignore).flatten();
    let Some(unknown) = selectors.clone().find(|s| !rules.iter().any(|r| selects(s, r))) else { return Ok(file) };
    let at = text.find(&format!("\"{unknown}\"")).or_else(|| text.find(&format!("'{unknown}'"))).unwrap_or(0);
    let before = &text[..at];
    Err(ConfigError {
        path: path.to_path_buf(),
        line: before.matches('\n').count() + 1,
        column: before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1,
        message: format!("`{unknown}` names no rule"),
        help: "`dockopt rules` lists the codes and names; a prefix such as DO2 selects a group".into(),
    })
}

/// The names of configuration files, in the order a directory's are read: the first that configures dockopt wins.
const NAMES: [&str; 3] = ["dockopt.toml", ".dockopt.toml", "pyproject.toml"];

/// The configuration files that [`ListedDirectories`] knows of: those a search shows, not being hidden.
const SHOWN_NAMES: [&str; 2] = ["dockopt.toml", "pyproject.toml"];

/// What a directory search saw of the configuration files: each directory it listed, with which of
/// [`SHOWN_NAMES`] it saw there. In those directories only `.dockopt.toml`, which a search does not show, is looked
/// up: the look-ups of a name in every directory of a `check` of the corpus were a tenth of its time, most of it
/// in the kernel. A `dockopt.toml` or `pyproject.toml` that `.gitignore` leaves out is not seen, and so not read,
/// as the Dockerfiles it leaves out are not checked; named on the command line, a Dockerfile's directory is looked
/// up by name.
#[derive(Debug, Default)]
pub struct ListedDirectories {
    /// By the directory's absolute path: a bit per name of [`SHOWN_NAMES`] seen there.
    seen: foldhash::HashMap<std::ffi::OsString, u8>,
}

impl ListedDirectories {
    /// `dir`, absolute, is listed, with nothing seen yet.
    pub fn listed(&mut self, dir: PathBuf) {
        self.seen.entry(dir.into_os_string()).or_insert(0);
    }

    /// A file named `name` was seen in `dir`, absolute, which is listed; names other than [`SHOWN_NAMES`] are
    /// not kept.
    pub fn saw(&mut self, dir: PathBuf, name: &std::ffi::OsStr) {
        if let Some(k) = SHOWN_NAMES.iter().position(|shown| name == *shown) {
            *self.seen.entry(dir.into_os_string()).or_insert(0) |= 1 << k;
        }
    }

    /// Whether [`ListedDirectories::saw`] keeps a file of this name.
    pub fn shows(name: &std::ffi::OsStr) -> bool {
        SHOWN_NAMES.iter().any(|shown| name == *shown)
    }

    /// Adds what another search saw.
    pub fn add(&mut self, other: ListedDirectories) {
        if self.seen.is_empty() {
            self.seen = other.seen;
            return;
        }
        for (dir, seen) in other.seen {
            *self.seen.entry(dir).or_insert(0) |= seen;
        }
    }

    /// `dir`, absolute, could not be read after all: its names are looked up.
    pub fn unlisted(&mut self, dir: &Path) {
        self.seen.remove(dir.as_os_str());
    }

    /// The names of [`NAMES`] to look up in `dir`, absolute: all of them unless a search listed it, and then
    /// those it saw and those it cannot show.
    fn to_look_up(&self, dir: &Path) -> impl Iterator<Item = &'static str> {
        let seen = self.seen.get(dir.as_os_str()).copied();
        NAMES.into_iter().filter(move |name| match (seen, SHOWN_NAMES.iter().position(|shown| shown == name)) {
            (Some(seen), Some(k)) => seen & (1 << k) != 0,
            _ => true,
        })
    }
}

/// `dir` as an absolute, lexically clean path, taking a relative one from `cwd`: the spelling that
/// [`Resolver`] and [`ListedDirectories`] know directories by.
pub fn absolute_in(cwd: Option<&Path>, dir: &Path) -> PathBuf {
    match cwd {
        Some(cwd) if dir.is_relative() => lexically_absolute(&cwd.join(dir)),
        _ => lexically_absolute(dir),
    }
}

/// Finds and caches the configuration for each directory.
pub struct Resolver {
    all_rules: Vec<&'static dyn Rule>,
    overrides: Overrides,
    cache: PathCache<Result<Arc<Settings>, ConfigError>>,
    /// The same answers by the directory as [`Resolver::settings_for`] was asked, before it is made absolute.
    by_given_dir: PathCache<Result<Arc<Settings>, ConfigError>>,
    /// The working directory, which relative paths are taken from: read once, not once per file.
    cwd: Option<PathBuf>,
    /// What the search for Dockerfiles saw of configuration files.
    listed: ListedDirectories,
}

impl Resolver {
    pub fn new(all_rules: Vec<&'static dyn Rule>, overrides: Overrides, listed: ListedDirectories) -> Resolver {
        let cwd = std::env::current_dir().ok();
        let (cache, by_given_dir) = (PathCache::default(), PathCache::default());
        Resolver { all_rules, overrides, cache, by_given_dir, cwd, listed }
    }

    /// The settings for a Dockerfile in `dir` (`None` for standard input: the working directory).
    pub fn settings_for(&self, dir: Option<&Path>) -> Result<Arc<Settings>, ConfigError> {
        let dir = match dir {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if let Some(path) = &self.overrides.config {
            let root = path.parent().unwrap_or(Path::new(".")).to_path_buf();
            return self.cache.get_or_insert_with(root.as_os_str(), || {
                Ok(Arc::new(self.settings(root.clone(), read(path, &self.all_rules)?.unwrap_or_default())))
            });
        }
        // The Dockerfiles of one directory ask with the same path: it is made absolute once.
        self.by_given_dir.get_or_insert_with(dir.as_os_str(), || self.for_dir(&absolute_in(self.cwd.as_deref(), dir)))
    }

    /// A directory's settings: from its own configuration file, else its parent's. Each directory is looked
    /// at once, so the ancestors that a monorepo's Dockerfiles share cost one look each. The ancestors are walked
    /// with a loop: a call per directory would exhaust the stack in a tree thousands of directories deep. Two
    /// threads may look at the same new directory at once; both find the same answer.
    fn for_dir(&self, dir: &Path) -> Result<Arc<Settings>, ConfigError> {
        let mut passed = Vec::new();
        let mut current = dir;
        let answer = loop {
            if let Some(known) = self.cache.get(current.as_os_str()) {
                break known;
            }
            passed.push(current);
            if let Some(own) = self.own_settings(current) {
                break own;
            }
            match current.parent() {
                Some(parent) => current = parent,
                None => break Ok(Arc::new(self.settings(current.to_path_buf(), ConfigFile::default()))),
            }
        };
        self.cache.extend(passed.into_iter().map(|d| (d.as_os_str().to_owned(), answer.clone())));
        answer
    }

    /// The settings from `dir`'s own configuration file, if it has one.
    fn own_settings(&self, dir: &Path) -> Option<Result<Arc<Settings>, ConfigError>> {
        use std::os::unix::ffi::OsStrExt;
        // Up to three look-ups per directory, and nearly every one finds nothing: the kernel's cost for one grows
        // with the directories it walks through to the name. In a directory the search listed, only the name it
        // cannot show is looked up (see `ListedDirectories`). Below the working directory, which stays the same
        // for the run, the names are looked up from there: the look-ups for the corpus's 24,177 directories alone
        // take 163 ms instead of 183 ms on one core. The paths are compared and built as bytes: `Path::strip_prefix`
        // and `Path::join` parse components, which cost more instructions than the shorter look-ups saved.
        let dir_bytes = dir.as_os_str().as_bytes();
        let base =
            self.cwd.as_deref().and_then(|cwd| below(dir_bytes, cwd.as_os_str().as_bytes())).unwrap_or(dir_bytes);
        let mut probe = Vec::with_capacity(base.len() + 16);
        for name in self.listed.to_look_up(dir) {
            probe.clear();
            if !base.is_empty() {
                probe.extend_from_slice(base);
                probe.push(b'/');
            }
            probe.extend_from_slice(name.as_bytes());
            if Path::new(std::ffi::OsStr::from_bytes(&probe)).is_file() {
                let path = dir.join(name);
                match read(&path, &self.all_rules) {
                    Ok(Some(file)) => return Some(Ok(Arc::new(self.settings(dir.to_path_buf(), file)))),
                    Ok(None) => {}
                    Err(error) => return Some(Err(error)),
                }
            }
        }
        None
    }

    /// Combines a configuration file with the command line.
    fn settings(&self, root: PathBuf, file: ConfigFile) -> Settings {
        // `--select` on the command line replaces the file's whole selection, its `ignore` included; `--ignore`
        // adds to whichever selection is in force.
        let (select, mut ignore) = match &self.overrides.select {
            Some(select) => (select.clone(), Vec::new()),
            None => (file.select.unwrap_or_else(|| vec!["ALL".to_string()]), file.ignore.unwrap_or_default()),
        };
        ignore.extend(self.overrides.ignore.iter().cloned());
        let rules = self
            .all_rules
            .iter()
            .copied()
            .filter(|r| select.iter().any(|s| selects(s, r)) && !ignore.iter().any(|s| selects(s, r)))
            .collect();
        Settings {
            rules,
            unsafe_fixes: self.overrides.unsafe_fixes.or(file.unsafe_fixes).unwrap_or(false),
            fail_on_advice: self.overrides.fail_on_advice.or(file.fail_on_advice).unwrap_or(false),
            options: RuleOptions {
                cache_mounts: self.overrides.cache_mounts.or(file.cache_mounts).unwrap_or(false),
                ..file.rules
            },
            root,
            exclude: file.exclude.unwrap_or_default(),
        }
    }
}

/// `path` relative to `dir`, cut as bytes, both spelt the same way with no doubled or trailing `/` (absolute and
/// lexically clean here; a walk's entries and the path it was given, in discovery): empty for `dir` itself, `None`
/// when `path` is not below it.
pub(crate) fn below<'p>(path: &'p [u8], dir: &[u8]) -> Option<&'p [u8]> {
    let rest = path.strip_prefix(dir)?;
    if rest.is_empty() || dir.ends_with(b"/") {
        return Some(rest);
    }
    rest.strip_prefix(b"/")
}

/// An absolute path with `.` and `..` resolved by name, without a system call per file as `canonicalize`
/// would make. The path's bytes are cut at each `/` rather than parsed into components, which costs several times
/// less, and the result is what pushing the components one by one gives.
fn lexically_absolute(path: &Path) -> PathBuf {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let absolute = if path.is_absolute() {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
    };
    let bytes = absolute.as_os_str().as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    if bytes.first() == Some(&b'/') {
        out.push(b'/');
    }
    for part in bytes.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                // Back to the `/` before the last name, keeping the root's.
                let cut = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(cut.max(usize::from(out.first() == Some(&b'/'))));
            }
            name => {
                if !out.is_empty() && out.last() != Some(&b'/') {
                    out.push(b'/');
                }
                out.extend_from_slice(name);
            }
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// `ALL`, a code, a code prefix (`DO2`) or a rule name selects the rule.
pub fn selects(selector: &str, rule: &&'static dyn Rule) -> bool {
    let info = rule.info();
    selector.eq_ignore_ascii_case("ALL")
        || info.name == selector
        || info.code.len() >= selector.len() && info.code[..selector.len()].eq_ignore_ascii_case(selector)
}

/// A selector that names no rule is a mistake worth reporting.
pub fn unknown_selectors<'s>(selectors: &'s [String], rules: &[&'static dyn Rule]) -> Vec<&'s str> {
    selectors.iter().map(String::as_str).filter(|s| !rules.iter().any(|r| selects(s, r))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn lexically_absolute_is_pushing_the_components(path in "/?((a|bc|\\.|\\.\\.|)/){0,6}(a|\\.\\.|\\.)?") {
            let path = Path::new(&path);
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            let mut by_components = PathBuf::new();
            for component in absolute.components() {
                match component {
                    std::path::Component::CurDir => {}
                    std::path::Component::ParentDir => {
                        by_components.pop();
                    }
                    other => by_components.push(other),
                }
            }
            proptest::prop_assert_eq!(lexically_absolute(path), by_components);
        }

        #[test]
        fn below_is_strip_prefix(dir in "/((a|ab|b)/){0,2}(a|ab|b)?", path in "/((a|ab|b)/){0,3}(a|ab|b)?") {
            let clean = |p: &str| if p.len() > 1 { p.trim_end_matches('/').to_string() } else { p.to_string() };
            let (dir, path) = (clean(&dir), clean(&path));
            let by_components = Path::new(&path).strip_prefix(&dir).ok().map(|rest| rest.to_str().unwrap().to_string());
            let by_bytes = below(path.as_bytes(), dir.as_bytes()).map(|rest| String::from_utf8(rest.to_vec()).unwrap());
            proptest::prop_assert_eq!(by_bytes, by_components);
        }
    }

    #[test]
    fn unknown_keys_are_named_with_their_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dockopt.toml");
        std::fs::write(&path, "select = [\"DO1\"]\nselct = [\"DO2\"]\n").unwrap();
        let error = read(&path, &[]).unwrap_err();
        assert_eq!((error.line, error.column), (2, 1));
        assert!(error.message.contains("unknown field `selct`"), "{}", error.message);
        std::fs::write(&path, "[rules.slim-base-image]\nimage = []\n").unwrap();
        assert!(read(&path, &[]).unwrap_err().message.contains("unknown field `image`"));
    }
}
