//! The build context: the directory whose files COPY and ADD read, filtered by its `.dockerignore`.
//!
//! The context is the Dockerfile's directory unless `--context DIR` names another; standard input has none.
//! `<Dockerfile name>.dockerignore` beside the Dockerfile takes precedence over `.dockerignore` at the context
//! root, as in BuildKit. Patterns follow BuildKit's rules: paths are relative to the context root (a leading
//! `/` is dropped), `*` and `?` stay within one path element, `**` spans any number, a pattern that matches a
//! directory excludes everything below it, `!` makes an exception, and the last pattern that matches wins.
//!
//! Nothing outside the context is read: every path is resolved inside the root the way BuildKit resolves it
//! (see [`resolve_in_context`]), only regular files are opened, never blocking, and never past a size limit.

use crate::engine::files::{self, read_regular, resolve_in_context, InContext, ReadError};
use crate::engine::memo::{Memo, PathCache};
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// The longest glob dockopt compiles, in a `.dockerignore` line or an ADD source. Compiling costs time in
/// proportion to the wildcards, and no real pattern comes near this.
pub const MAX_GLOB_LEN: usize = 1024;

/// The largest `.dockerignore` dockopt reads. Real ones hold a few dozen lines.
pub const MAX_IGNORE_FILE_SIZE: u64 = 1024 * 1024;

/// How many wildcard sources of one Dockerfile are looked up; past this dockopt cannot tell what they match, which
/// bounds the work a hostile file can cause.
const MAX_SOURCE_GLOBS: usize = 256;

/// What the build contexts of one run share: a monorepo's Dockerfiles share directories and ignore files.
#[derive(Debug)]
pub struct ContextCache {
    listings: PathCache<Arc<Listing>>,
    /// Each directory's path with every symlink resolved, as found from its parent's.
    real_paths: PathCache<Option<PathBuf>>,
    /// Whether each file a context holds is something other than an archive ADD would unpack.
    plain_entries: PathCache<bool>,
    /// Where each context-relative path asked about leads, by the context's real root: the Dockerfiles that share
    /// a context ask the same questions, and each answer cost a system call per name in the path.
    locations: PathCache<Arc<Memo<String, InContext>>>,
    ignores: PathCache<Arc<Ignore>>,
    /// The files under a directory of a context, for the Dockerfiles whose context and ignore file those are.
    files_under: Memo<FilesUnder, Option<Arc<Vec<String>>>>,
    /// The largest manifest read from a context.
    max_file_size: u64,
}

/// What [`BuildContext::files_under`] asks: the same of two Dockerfiles side by side (`Dockerfile` and
/// `Dockerfile.dev`) that share a context and an ignore file. Paths are kept by their bytes, as in a
/// [`PathCache`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct FilesUnder {
    real_root: OsString,
    ignore_file: Option<OsString>,
    relative: String,
    limit: usize,
}

impl Default for ContextCache {
    fn default() -> Self {
        ContextCache::new(files::DEFAULT_MAX_FILE_SIZE)
    }
}

impl ContextCache {
    pub fn new(max_file_size: u64) -> ContextCache {
        ContextCache {
            listings: PathCache::default(),
            real_paths: PathCache::default(),
            plain_entries: PathCache::default(),
            locations: PathCache::default(),
            ignores: PathCache::default(),
            files_under: Memo::default(),
            max_file_size,
        }
    }

    /// Takes the real path of a directory from someone who knows it, such as a walk that followed no links.
    pub fn know_real_path(&self, dir: PathBuf, real: PathBuf) {
        self.real_paths.extend([(dir.into_os_string(), Some(real))]);
    }

    /// `dir` with every symlink resolved, or `None` when it cannot be found. A directory that is not a symlink
    /// resolves to its parent's real path and its own name, so the Dockerfiles of a monorepo cost one `lstat`
    /// per directory where `canonicalize` would read every component of every path again.
    fn real_path(&self, dir: &Path) -> Option<PathBuf> {
        self.real_paths.get_or_insert_with(dir.as_os_str(), || {
            let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
            let plain_name =
                dir.file_name().filter(|_| matches!(dir.components().next_back(), Some(Component::Normal(_))));
            match (parent, plain_name) {
                (Some(parent), Some(name)) => match std::fs::symlink_metadata(dir) {
                    Ok(metadata) if metadata.is_dir() => self.real_path(parent).map(|p| p.join(name)),
                    // A symlink, or not a directory: the system resolves it.
                    Ok(_) => std::fs::canonicalize(dir).ok(),
                    Err(_) => None,
                },
                _ => std::fs::canonicalize(dir).ok(),
            }
        })
    }

    /// [`resolve_in_context`], once per run for each context root and path.
    fn locate(&self, root: &Path, relative: &str) -> InContext {
        let in_root = self.locations.get_or_insert_with(root.as_os_str(), Arc::default);
        in_root.get_or_insert_with(relative, || resolve_in_context(root, relative))
    }

    /// The entries of `dir`, read once per run; empty when it cannot be read.
    fn listing(&self, dir: &Path) -> Arc<Listing> {
        self.listings.get_or_insert_with(dir.as_os_str(), || Arc::new(Listing::read(dir)))
    }

    /// [`is_plain_entry`] for a path with every symlink resolved, read once per run: the Dockerfiles of a
    /// directory share their context, and each would open every file a `COPY .` or `ADD .` takes again.
    fn is_plain_entry(&self, path: &Path, listed_file: bool) -> bool {
        self.plain_entries.get_or_insert_with(path.as_os_str(), || is_plain_entry(path, listed_file))
    }

    /// [`ContextCache::is_plain_entry`], or `None` while another thread is reading the entry.
    fn is_plain_entry_unless_read_elsewhere(&self, path: &Path, listed_file: bool) -> Option<bool> {
        self.plain_entries.get_or_insert_unless_computing(path.as_os_str(), || is_plain_entry(path, listed_file))
    }

    /// The listing of `path`'s directory holds its name.
    fn lists(&self, path: &Path) -> bool {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let (Some(real), Some(name)) = (self.real_path(dir), path.file_name().and_then(|n| n.to_str())) else {
            return false;
        };
        self.listing(&real).contains(name)
    }

    /// The ignore file at `path`, read and compiled once per run.
    fn ignore(&self, path: &Path, read: impl FnOnce() -> Ignore) -> Arc<Ignore> {
        self.ignores.get_or_insert_with(path.as_os_str(), || Arc::new(read()))
    }
}

/// What a directory entry is, without following a symlink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EntryKind {
    Directory,
    File,
    /// A symlink, a device, a socket or a pipe, or what could not be told.
    Other,
}

impl EntryKind {
    fn of(kind: std::fs::FileType) -> EntryKind {
        if kind.is_dir() {
            EntryKind::Directory
        } else if kind.is_file() {
            EntryKind::File
        } else {
            EntryKind::Other
        }
    }
}

/// The names a wildcard matches in one listing, or why the wildcard cannot be compiled.
type Matches = Result<Arc<Vec<String>>, String>;

/// One directory's entries. A monorepo directory can hold thousands, and every Dockerfile whose context holds it
/// asks the same questions round after round, so the answers are kept with the listing.
#[derive(Debug, Default)]
pub struct Listing {
    /// Sorted.
    names: Vec<String>,
    /// What each of `names` is, as the directory's reading told, without following symlinks.
    kinds: Vec<EntryKind>,
    /// What follows the last dot of each name that has one, sorted, without repeats.
    extensions: Vec<String>,
    /// The names each wildcard pattern matches, or why the pattern cannot be compiled.
    matches: Memo<String, Matches>,
}

impl Listing {
    /// `dockopt fix`'s temporary files are left out: a run makes and renames them beside the Dockerfiles it
    /// writes, so whether a listing saw one would be chance.
    fn read(dir: &Path) -> Listing {
        let mut entries: Vec<(String, EntryKind)> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| {
                        let e = e.ok()?;
                        // The kind comes with the name on most file systems, without a look-up of its own.
                        let kind = e.file_type().map_or(EntryKind::Other, EntryKind::of);
                        Some((e.file_name().into_string().ok()?, kind))
                    })
                    .filter(|(name, _)| files::temporary_file_owner(name).is_none())
                    .collect()
            })
            .unwrap_or_default();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let (names, kinds): (Vec<String>, Vec<EntryKind>) = entries.into_iter().unzip();
        let mut extensions: Vec<String> =
            names.iter().filter_map(|name| Some(name.rsplit_once('.')?.1.to_string())).collect();
        extensions.sort();
        extensions.dedup();
        Listing { names, kinds, extensions, matches: Memo::default() }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// What the entry `name` is, when the listing holds it.
    fn kind(&self, name: &str) -> Option<EntryKind> {
        self.position(name).map(|k| self.kinds[k])
    }

    /// Where `name` is in `names`.
    fn position(&self, name: &str) -> Option<usize> {
        self.names.binary_search_by(|n| n.as_str().cmp(name)).ok()
    }

    /// Some name ends with `.extension` (`extension` holds no dot).
    pub fn has_extension(&self, extension: &str) -> bool {
        self.extensions.binary_search_by(|e| e.as_str().cmp(extension)).is_ok()
    }

    /// The names a wildcard (one path element) matches.
    fn matching(&self, pattern: &str) -> Matches {
        self.matches.get_or_insert_with(pattern, || {
            // Only names that start with the pattern's literal prefix can match it; the names are sorted, so those
            // are found by binary search instead of matching every name of a directory of thousands.
            let prefix = &pattern[..pattern.find(['*', '?', '[', '{', '\\']).unwrap_or(pattern.len())];
            let first = self.names.partition_point(|name| name.as_str() < prefix);
            let candidates = self.names[first..].iter().take_while(|name| name.starts_with(prefix));
            let keep =
                |matches: &dyn Fn(&str) -> bool| Arc::new(candidates.filter(|name| matches(name)).cloned().collect());
            match PlainWildcard::new(pattern) {
                Some(wildcard) => Ok(keep(&|name| wildcard.matches(name))),
                None => compile_glob(pattern).map(|glob| keep(&|name| glob.is_match(name))),
            }
        })
    }
}

/// A wildcard of literal characters, `*` and `?` alone, as nearly every COPY source wildcard is (`*.jar`,
/// `requirements*.txt`), within the length [`compile_glob`] accepts, split at its stars once for every name of a
/// listing. It matches as `compile_glob` would: `*` takes any run of bytes and `?` any one byte, since the compiled
/// glob matches bytes. A `GlobSet` costs about 500 instructions a name: in a directory of thousands, that was 2%
/// of `check` over the first 1,938 corpus files.
struct PlainWildcard<'p> {
    /// Before the first `*`: the whole pattern when it has none.
    head: &'p [u8],
    /// After the last `*`, when there is one.
    tail: Option<&'p [u8]>,
    /// The parts between two stars, in order.
    middle: Vec<&'p [u8]>,
}

impl<'p> PlainWildcard<'p> {
    /// `None` when the pattern needs the compiled glob: `**`, a class, braces or an escape, or a long pattern.
    fn new(pattern: &'p str) -> Option<Self> {
        if pattern.len() > MAX_GLOB_LEN || pattern.contains("**") || pattern.contains(['[', ']', '{', '}', '\\']) {
            return None;
        }
        let mut parts = pattern.as_bytes().split(|&b| b == b'*');
        let head = parts.next().unwrap_or_default();
        let mut middle: Vec<&[u8]> = parts.collect();
        let tail = middle.pop();
        Some(PlainWildcard { head, tail, middle })
    }

    /// Whether `name`, one path element, matches. The head must start the name and the tail end it; each part
    /// between is taken where it first fits, which leaves the most room for the parts after it.
    fn matches(&self, name: &str) -> bool {
        let name = name.as_bytes();
        let Some(tail) = self.tail else { return self.head.len() == name.len() && fits(self.head, name) };
        let head = self.head.len();
        let Some(tail_start) = name.len().checked_sub(tail.len()).filter(|&start| start >= head) else { return false };
        if !fits(self.head, name) || !fits(tail, &name[tail_start..]) {
            return false;
        }
        let mut between = &name[head..tail_start];
        for part in &self.middle {
            let Some(last_start) = between.len().checked_sub(part.len()) else { return false };
            let Some(at) = (0..=last_start).find(|&at| fits(part, &between[at..])) else { return false };
            between = &between[at + part.len()..];
        }
        true
    }
}

/// A part of a [`PlainWildcard`] against the start of `text`, which is at least as long: `?` fits any byte.
fn fits(part: &[u8], text: &[u8]) -> bool {
    part.iter().zip(text).all(|(&p, &c)| p == b'?' || p == c)
}

/// Something in the build context that keeps dockopt from reading it as BuildKit would: a `.dockerignore` line
/// it cannot compile, or an ignore file it must not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextProblem {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: String,
}

/// What a COPY or ADD source names in the context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sources {
    /// These context entries (relative paths), possibly none.
    Found(Vec<String>),
    /// dockopt cannot tell: a variable, a wildcard outside the last element, a path leaving the context, or an
    /// ignore file it could not read.
    Unknown,
    /// The source is a glob dockopt cannot compile, with the reason.
    Invalid(String),
}

impl Sources {
    /// The entries, when dockopt can tell what they are.
    pub fn entries(self) -> Option<Vec<String>> {
        match self {
            Sources::Found(entries) => Some(entries),
            Sources::Unknown | Sources::Invalid(_) => None,
        }
    }
}

#[derive(Debug)]
pub struct BuildContext {
    pub root: PathBuf,
    /// The root with every symlink resolved, which paths inside the context are resolved against; `None` when
    /// the root cannot be found.
    real_root: OnceLock<Option<PathBuf>>,
    cache: Arc<ContextCache>,
    /// The Dockerfile's own `<name>.dockerignore`, which wins over the context's `.dockerignore`.
    own_ignore: Option<PathBuf>,
    /// Read on first use: most Dockerfiles never ask, and a monorepo has thousands of them.
    ignore: OnceLock<Arc<Ignore>>,
    /// Answers already found, since every fix round asks again.
    sources: Memo<String, Sources>,
    plain: Memo<String, bool>,
    globs_compiled: AtomicUsize,
}

#[derive(Debug, Default)]
struct Ignore {
    file: Option<PathBuf>,
    /// The patterns that compiled, in order, as one set, so that a path is matched against all of them at once:
    /// one at a time, 20,000 patterns took 50 s for a context of 5,000 files.
    patterns: GlobSet,
    /// For each pattern of `patterns`, whether it is an exception (`!pattern`).
    exceptions: Vec<bool>,
    problems: Vec<ContextProblem>,
}

impl BuildContext {
    /// The context of the Dockerfile at `dockerfile`: `context`, or else the Dockerfile's directory.
    pub fn for_dockerfile(dockerfile: &Path, context: Option<&Path>) -> BuildContext {
        Self::sharing(dockerfile, context, Arc::default())
    }

    /// [`BuildContext::for_dockerfile`], sharing what it reads with the other Dockerfiles of a run.
    pub fn sharing(dockerfile: &Path, context: Option<&Path>, cache: Arc<ContextCache>) -> BuildContext {
        let dir = dockerfile.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let own_ignore = dockerfile.file_name().map(|n| dir.join(format!("{}.dockerignore", n.to_string_lossy())));
        BuildContext {
            root: context.unwrap_or(dir).to_path_buf(),
            real_root: OnceLock::new(),
            cache,
            own_ignore,
            ignore: OnceLock::new(),
            sources: Memo::default(),
            plain: Memo::default(),
            globs_compiled: AtomicUsize::new(0),
        }
    }

    fn real_root(&self) -> Option<&Path> {
        self.real_root.get_or_init(|| self.cache.real_path(&self.root)).as_deref()
    }

    /// Where a cleaned context-relative path leads.
    fn locate(&self, relative: &str) -> InContext {
        match self.real_root() {
            Some(root) => self.cache.locate(root, relative),
            None => InContext::Unreachable,
        }
    }

    /// The entries at the top of the context.
    pub fn top_level(&self) -> Arc<Listing> {
        match self.real_root() {
            Some(root) => self.cache.listing(root),
            None => Arc::default(),
        }
    }

    fn ignore(&self) -> &Ignore {
        self.ignore.get_or_init(|| {
            // Whether the ignore files exist is read from the directories' listings, which the run shares.
            let own = self.own_ignore.as_ref().filter(|own| self.cache.lists(own));
            let file = match own {
                Some(own) => own.clone(),
                None if !self.top_level().contains(".dockerignore") => return Arc::default(),
                None => self.root.join(".dockerignore"),
            };
            // The context's own ignore file is read through the context, so a link out of it is not followed.
            if own.is_none() {
                if let InContext::OutsideLink(_) | InContext::Unreachable = self.locate(".dockerignore") {
                    let problem = ContextProblem {
                        path: file.clone(),
                        line: 1,
                        column: 1,
                        message: "the .dockerignore is a symlink that leads out of the build context".into(),
                        help: "make it a regular file inside the context; dockopt reads nothing outside it".into(),
                    };
                    return Arc::new(Ignore { file: Some(file), problems: vec![problem], ..Ignore::default() });
                }
            }
            self.cache.ignore(&file, || read_ignore(&file))
        })
    }

    /// The ignore file in force, if any.
    pub fn ignore_file(&self) -> Option<&Path> {
        self.ignore().file.as_deref()
    }

    /// Problems with the build context met so far: an ignore file dockopt could not read or compile. A Dockerfile
    /// with such a problem is reported, not fixed.
    pub fn problems(&self) -> &[ContextProblem] {
        self.ignore.get().map_or(&[], |ignore| &ignore.problems)
    }

    /// `.dockerignore` leaves out `relative` (a path relative to the context root, `/`-separated).
    pub fn is_ignored(&self, relative: &str) -> bool {
        let ignore = self.ignore();
        let path = clean(relative);
        // The last pattern that matches the path or one of its parent directories decides.
        let mut last = None;
        let mut matched = Vec::new();
        let mut candidate = path.as_str();
        loop {
            ignore.patterns.matches_into(candidate, &mut matched);
            last = last.max(matched.iter().max().copied());
            match candidate.rfind('/') {
                Some(slash) => candidate = &candidate[..slash],
                None => break,
            }
        }
        last.is_some_and(|k| !ignore.exceptions[k])
    }

    /// The context entries a COPY or ADD source names.
    pub fn resolve(&self, source: &str) -> Sources {
        self.sources.get_or_insert_with(source, || self.resolve_uncached(source))
    }

    fn resolve_uncached(&self, source: &str) -> Sources {
        if source.contains('$') || !self.ignore().problems.is_empty() {
            return Sources::Unknown;
        }
        let relative = clean(source);
        if relative.starts_with("..") {
            return Sources::Unknown;
        }
        let (dir, last) = match relative.rfind('/') {
            Some(slash) => (&relative[..slash], &relative[slash + 1..]),
            None => ("", relative.as_str()),
        };
        if dir.contains(['*', '?', '[']) {
            return Sources::Unknown;
        }
        if !last.contains(['*', '?', '[']) {
            // A path whose first name the top of the context lacks is not there. The context's listing, read once
            // per run (above, to look for the `.dockerignore`, unless the Dockerfile has an ignore file of its own),
            // tells so without a look-up, which cost a system call per name and one more; names are compared byte
            // for byte, as wildcard sources already were. Most sources the corpus's Dockerfiles name are missing,
            // since it holds the Dockerfiles alone.
            let first = relative.split('/').next().unwrap_or_default();
            if !first.is_empty() && self.real_root().is_some() && !self.top_level().contains(first) {
                return Sources::Found(Vec::new());
            }
            return match self.locate(&relative) {
                InContext::Inside(path) if relative.is_empty() || std::fs::symlink_metadata(&path).is_ok() => {
                    Sources::Found(vec![relative])
                }
                InContext::Inside(_) => Sources::Found(Vec::new()),
                InContext::OutsideLink(_) => Sources::Found(vec![relative]),
                InContext::Unreachable => Sources::Unknown,
            };
        }
        if self.globs_compiled.fetch_add(1, Ordering::Relaxed) >= MAX_SOURCE_GLOBS {
            return Sources::Unknown;
        }
        let InContext::Inside(dir_path) = self.locate(dir) else {
            return match compile_glob(last) {
                Ok(_) => Sources::Unknown,
                Err(why) => Sources::Invalid(why),
            };
        };
        match self.cache.listing(&dir_path).matching(last) {
            Ok(names) => Sources::Found(
                names.iter().map(|name| if dir.is_empty() { name.clone() } else { format!("{dir}/{name}") }).collect(),
            ),
            Err(why) => Sources::Invalid(why),
        }
    }

    /// Something is at `relative`, a path from the context's root (a wildcard matches something).
    pub fn contains(&self, relative: &str) -> bool {
        self.resolve(relative).entries().is_some_and(|found| !found.is_empty())
    }

    /// The entry at `relative` is a directory, reached without leaving the context.
    pub fn is_directory(&self, relative: &str) -> bool {
        let cleaned = clean(relative);
        match self.listed(&cleaned) {
            Some((_, kind)) => kind == EntryKind::Directory,
            None => match self.locate(&cleaned) {
                InContext::Inside(path) => path.is_dir(),
                InContext::OutsideLink(_) | InContext::Unreachable => false,
            },
        }
    }

    /// The entry at `relative` is one ADD copies as it is: a directory, or a regular file that is not an archive
    /// (gzip, bzip2, xz or zstd data, or a tar header, recognised by content as BuildKit does), reached without
    /// leaving the context. Anything else, or anything dockopt cannot read, is not.
    pub fn is_plain(&self, relative: &str) -> bool {
        self.plain_with(relative, |path, listed_file| Some(self.cache.is_plain_entry(path, listed_file))) == Some(true)
    }

    /// Every entry of `entries` (context-relative paths) [is plain](BuildContext::is_plain). The Dockerfiles of a
    /// directory share their context, and two threads that check `ADD *` in two of them at once read the same files
    /// in the same order, each waiting for the other at every file: the corpus's biggest directory has two such
    /// Dockerfiles beside 5,203 others. Here a thread passes over a file the other is reading and comes back to it
    /// at the end, so that the two share the reading. The workers' waits over the corpus came to 43-52 ms in all,
    /// and come to 12-21 ms.
    pub fn all_plain(&self, entries: &[String]) -> bool {
        let mut read_elsewhere = Vec::new();
        for entry in entries {
            match self.plain_with(entry, |path, listed_file| {
                self.cache.is_plain_entry_unless_read_elsewhere(path, listed_file)
            }) {
                Some(true) => {}
                Some(false) => return false,
                None => read_elsewhere.push(entry),
            }
        }
        read_elsewhere.into_iter().all(|entry| self.is_plain(entry))
    }

    /// Whether the entry at `relative` is plain, kept for this Dockerfile's later rounds; an entry inside the
    /// context is read with `read`, told whether a listing says it is a regular file, and `None` is its word that
    /// another thread is reading it now.
    fn plain_with(&self, relative: &str, read: impl FnOnce(&Path, bool) -> Option<bool>) -> Option<bool> {
        if let Some(known) = self.plain.get(relative) {
            return Some(known);
        }
        let cleaned = clean(relative);
        let plain = match self.listed(&cleaned) {
            Some((_, EntryKind::Directory)) => true,
            Some((path, EntryKind::File)) => read(&path, true)?,
            _ => match self.locate(&cleaned) {
                InContext::Inside(path) => read(&path, false)?,
                InContext::OutsideLink(_) | InContext::Unreachable => false,
            },
        };
        self.plain.extend([(relative.to_string(), plain)]);
        Some(plain)
    }

    /// Where the clean `relative` path leads and what it is, when a listing this run has read holds it and it is
    /// no symlink: then it is where its directory leads, by its name. A wildcard's matches are all such entries,
    /// and `ADD *` in a directory of thousands looked each one up again, two system calls a name.
    fn listed(&self, relative: &str) -> Option<(PathBuf, EntryKind)> {
        let (dir, name) = relative.rsplit_once('/').unwrap_or(("", relative));
        if name.is_empty() || name == ".." {
            return None;
        }
        let dir = match dir {
            "" => self.real_root()?.to_path_buf(),
            dir => match self.locate(dir) {
                InContext::Inside(dir) => dir,
                InContext::OutsideLink(_) | InContext::Unreachable => return None,
            },
        };
        let kind = self.cache.listings.get(dir.as_os_str())?.kind(name)?;
        (kind != EntryKind::Other).then(|| (dir.join(name), kind))
    }

    /// The regular files under `relative` in the context (itself, when it is one), as relative paths, leaving out
    /// what `.dockerignore` excludes, in no set order. Symlinks are not followed, so nothing outside the context is
    /// listed. `None` when there are more than `limit` entries or something cannot be read: the caller cannot tell.
    /// Each answer is kept for the run: every fix round asks again, and so do the other Dockerfiles with the same
    /// context and ignore file.
    pub fn files_under(&self, relative: &str, limit: usize) -> Option<Arc<Vec<String>>> {
        let question = FilesUnder {
            real_root: self.real_root()?.as_os_str().to_owned(),
            ignore_file: self.ignore().file.as_ref().map(|file| file.as_os_str().to_owned()),
            relative: clean(relative),
            limit,
        };
        self.cache.files_under.get_or_insert_with(&question, || self.walk(&question.relative, limit).map(Arc::new))
    }

    fn walk(&self, relative: &str, limit: usize) -> Option<Vec<String>> {
        if relative.starts_with("..") {
            return None;
        }
        let InContext::Inside(path) = self.locate(relative) else { return None };
        let ignores = !self.ignore().patterns.is_empty();
        let kind = std::fs::symlink_metadata(&path).ok()?.file_type();
        let mut files = Vec::new();
        // Each entry waits with its relative name and kind, and a directory with its full path, to be listed.
        let mut pending = vec![(relative.to_string(), kind, kind.is_dir().then_some(path))];
        let mut seen = 0;
        while let Some((relative, kind, path)) = pending.pop() {
            seen += 1;
            if seen > limit {
                return None;
            }
            if ignores && !relative.is_empty() && self.is_ignored(&relative) {
                continue;
            }
            if kind.is_file() {
                files.push(relative);
            } else if let Some(path) = path {
                for entry in std::fs::read_dir(&path).ok()? {
                    let entry = entry.ok()?;
                    let name = entry.file_name();
                    let name = name.to_str()?;
                    let child = if relative.is_empty() { name.to_string() } else { format!("{relative}/{name}") };
                    let kind = entry.file_type().ok()?;
                    pending.push((child, kind, kind.is_dir().then(|| entry.path())));
                }
            }
        }
        Some(files)
    }

    /// The text of a context file, such as a manifest: `None` when it is not a regular UTF-8 file inside the
    /// context within the size limit.
    pub fn read_text(&self, relative: &str) -> Option<String> {
        let relative = clean(relative);
        if relative.starts_with("..") {
            return None;
        }
        let InContext::Inside(path) = self.locate(&relative) else { return None };
        String::from_utf8(read_regular(&path, self.cache.max_file_size).ok()?).ok()
    }
}

/// Whether the entry at `path` is a directory, or a regular file that is not an archive. One that its directory's
/// listing says is a regular file is opened at once, not looked up first: the open does not follow a symlink, and
/// the file opened is checked to be regular.
fn is_plain_entry(path: &Path, listed_file: bool) -> bool {
    if !listed_file {
        // Looked up first, so that a device or a pipe is not opened.
        let Ok(metadata) = std::fs::metadata(path) else { return false };
        if metadata.is_dir() {
            return true;
        }
        if !metadata.is_file() {
            return false;
        }
    }
    let flags = libc::O_NONBLOCK | if listed_file { libc::O_NOFOLLOW } else { 0 };
    let Ok(mut file) = std::fs::OpenOptions::new().read(true).custom_flags(flags).open(path) else {
        return false;
    };
    let Ok(metadata) = file.metadata() else { return false };
    if !metadata.is_file() {
        return false;
    }
    let mut head = [0u8; 512];
    // What the file holds of the head, by its size: a smaller file is read in one call, not two, the second
    // finding its end.
    let want = head.len().min(usize::try_from(metadata.len()).unwrap_or(usize::MAX));
    let mut len = 0;
    while len < want {
        match file.read(&mut head[len..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
    }
    !is_archive_header(&head[..len])
}

/// Compression magic numbers, or a tar header whose checksum holds.
pub fn is_archive_header(head: &[u8]) -> bool {
    const MAGIC: [&[u8]; 4] = [&[0x1f, 0x8b], b"BZh", &[0xfd, b'7', b'z', b'X', b'Z', 0x00], &[0x28, 0xb5, 0x2f, 0xfd]];
    if MAGIC.iter().any(|m| head.starts_with(m)) {
        return true;
    }
    if head.len() < 512 {
        return false;
    }
    // The checksum field holds the octal sum of the header's bytes, counting the field itself as spaces.
    let field = &head[148..156];
    let digits: String = field.iter().map(|&b| b as char).filter(|c| c.is_ascii_digit()).collect();
    let Ok(stored) = u64::from_str_radix(&digits, 8) else { return false };
    let sum: u64 = head.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u64::from(b) }).sum();
    !digits.is_empty() && sum == stored
}

/// A glob as BuildKit reads one (`*` and `?` stay within a path element), compiled with an error rather than a
/// panic, and refused past [`MAX_GLOB_LEN`].
pub fn compile_glob(pattern: &str) -> Result<GlobSet, String> {
    compile_alone(parse_glob(pattern)?)
}

/// A set of one glob.
fn compile_alone(glob: Glob) -> Result<GlobSet, String> {
    let mut set = GlobSetBuilder::new();
    set.add(glob);
    set.build().map_err(|e| format!("cannot compile the pattern: {}", e.kind()))
}

/// A pattern as a glob whose `*` does not cross `/`, or why it is not one.
fn parse_glob(pattern: &str) -> Result<Glob, String> {
    if pattern.len() > MAX_GLOB_LEN {
        return Err(format!("the pattern is {} bytes long, over dockopt's limit of {MAX_GLOB_LEN}", pattern.len()));
    }
    GlobBuilder::new(pattern).literal_separator(true).build().map_err(|e| e.kind().to_string())
}

/// A context-relative path with `.`, empty elements and a leading `/` dropped, and `..` resolved by name.
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for component in Path::new(path.trim_start_matches('/')).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str().unwrap_or_default()),
            Component::ParentDir => match parts.pop() {
                Some(_) => {}
                None => parts.push(".."),
            },
            _ => {}
        }
    }
    parts.join("/")
}

/// Reads and compiles an ignore file. A file that is absent has no patterns; one that cannot be read, or a line
/// that cannot be compiled, is a problem.
fn read_ignore(path: &Path) -> Ignore {
    let problem = |line, column, message: String, help: &str| ContextProblem {
        path: path.to_path_buf(),
        line,
        column,
        message,
        help: help.to_string(),
    };
    let bytes = match read_regular(path, MAX_IGNORE_FILE_SIZE) {
        Ok(bytes) => bytes,
        Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ignore::default(),
        Err(e) => {
            let help = "dockopt reads only regular ignore files of at most 1 MiB";
            let problem = problem(1, 1, format!("cannot read the ignore file: {e}"), help);
            return Ignore { file: Some(path.to_path_buf()), problems: vec![problem], ..Ignore::default() };
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let (patterns, exceptions, problems) = parse_ignore(&text, &problem);
    Ignore { file: Some(path.to_path_buf()), patterns, exceptions, problems }
}

fn parse_ignore(
    text: &str,
    problem: &dyn Fn(usize, usize, String, &str) -> ContextProblem,
) -> (GlobSet, Vec<bool>, Vec<ContextProblem>) {
    let mut patterns = GlobSetBuilder::new();
    let mut exceptions = Vec::new();
    let mut problems = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let column = raw.len() - raw.trim_start().len() + 1;
        let (exception, pattern) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        // Each pattern is compiled alone first, so that one that cannot be is named by its line.
        let pattern = clean(pattern);
        match parse_glob(&pattern).and_then(|glob| compile_alone(glob.clone()).map(|_| glob)) {
            Ok(glob) => {
                patterns.add(glob);
                exceptions.push(exception);
            }
            Err(why) => {
                problems.push(problem(n + 1, column, format!("invalid pattern: {why}"), "fix or remove the line"))
            }
        }
    }
    match patterns.build() {
        Ok(patterns) => (patterns, exceptions, problems),
        Err(e) => {
            let message = format!("cannot compile the patterns together: {}", e.kind());
            problems.push(problem(1, 1, message, "use fewer or simpler patterns"));
            (GlobSet::empty(), Vec::new(), problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// The plain wildcard matcher agrees with the compiled glob on every name, multi-byte characters included.
        /// Two letters make most names match some of the patterns.
        #[test]
        fn plain_wildcards_match_as_compiled_globs(
            pattern in "[abé*?]{0,7}",
            name in "[abé]{0,8}",
        ) {
            proptest::prop_assume!(PlainWildcard::new(&pattern).is_some());
            let wildcard = PlainWildcard::new(&pattern).unwrap();
            let compiled = compile_glob(&pattern).unwrap();
            proptest::prop_assert_eq!(wildcard.matches(&name), compiled.is_match(&name));
        }
    }

    #[test]
    fn plain_wildcards() {
        let plain_wildcard_matches = |pattern, name| PlainWildcard::new(pattern).unwrap().matches(name);
        assert!(plain_wildcard_matches("*.jar", "app.jar"));
        assert!(!plain_wildcard_matches("*.jar", "app.jar.sha1"));
        assert!(plain_wildcard_matches("requirements*.txt", "requirements-dev.txt"));
        assert!(plain_wildcard_matches("a??c", "aéc"), "as the compiled glob, `?` is one byte");
        assert!(!plain_wildcard_matches("a?c", "ac"));
        assert!(plain_wildcard_matches("*a*b", "xaybab"));
        for compiled_only in ["[ab].txt", "{a,b}", "a**", "a\\*"] {
            assert!(PlainWildcard::new(compiled_only).is_none(), "{compiled_only}");
        }
    }

    fn context(ignore: &str) -> BuildContext {
        let problem = |line, column, message, help: &str| ContextProblem {
            path: PathBuf::from(".dockerignore"),
            line,
            column,
            message,
            help: help.to_string(),
        };
        let (patterns, exceptions, problems) = parse_ignore(ignore, &problem);
        let context = BuildContext::for_dockerfile(Path::new("Dockerfile"), None);
        context.ignore.set(Arc::new(Ignore { file: None, patterns, exceptions, problems })).unwrap();
        context
    }

    #[test]
    fn real_paths_resolve_symlinked_directories_on_the_way() {
        let tmp = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::create_dir_all(real.join("repo/app/src")).unwrap();
        std::os::unix::fs::symlink(real.join("repo"), real.join("link")).unwrap();
        let cache = ContextCache::default();
        for (asked, expected) in [
            ("repo/app/src", "repo/app/src"),
            ("link/app/src", "repo/app/src"),
            ("link/app/src/../..", "repo"),
            ("repo/./app", "repo/app"),
        ] {
            assert_eq!(cache.real_path(&real.join(asked)), Some(real.join(expected)), "{asked}");
        }
        assert_eq!(cache.real_path(&real.join("repo/missing")), None);
        // The answer for a directory stays what it was the first time it was asked.
        std::fs::remove_dir(real.join("repo/app/src")).unwrap();
        assert_eq!(cache.real_path(&real.join("link/app/src")), Some(real.join("repo/app/src")));
    }

    #[test]
    fn dockerfiles_with_one_context_and_ignore_file_share_its_listing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        for file in ["main.go", "notes.md", "Dockerfile", "Dockerfile.dev", "Dockerfile.prod"] {
            std::fs::write(dir.join(file), "").unwrap();
        }
        std::fs::write(dir.join("Dockerfile.prod.dockerignore"), "*.md\n").unwrap();
        let cache = Arc::new(ContextCache::default());
        let files = |dockerfile: &str| {
            let context = BuildContext::sharing(&dir.join(dockerfile), None, cache.clone());
            let mut files = context.files_under(".", 100).unwrap();
            Arc::make_mut(&mut files).sort();
            files
        };
        let (plain, dev, prod) = (files("Dockerfile"), files("Dockerfile.dev"), files("Dockerfile.prod"));
        assert!(plain.contains(&"notes.md".to_string()) && plain == dev);
        assert!(!prod.contains(&"notes.md".to_string()), "Dockerfile.prod's own ignore file leaves it out: {prod:?}");
        let shared = BuildContext::sharing(&dir.join("Dockerfile"), None, cache.clone()).files_under(".", 100);
        let again = BuildContext::sharing(&dir.join("Dockerfile.dev"), None, cache.clone()).files_under(".", 100);
        assert!(Arc::ptr_eq(&shared.unwrap(), &again.unwrap()), "one listing for both");
    }

    #[test]
    fn dockerfiles_of_one_context_look_up_where_a_path_leads_once() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::create_dir(root.join("src")).unwrap();
        std::os::unix::fs::symlink("src", root.join("link")).unwrap();
        let cache = Arc::new(ContextCache::default());
        let first = BuildContext::sharing(&root.join("Dockerfile"), None, cache.clone());
        assert_eq!(first.locate("link/main.py"), InContext::Inside(root.join("src/main.py")));
        // The link now leads out of the context; the run keeps the answer it found first, for every Dockerfile.
        std::fs::remove_file(root.join("link")).unwrap();
        std::os::unix::fs::symlink("/", root.join("link")).unwrap();
        let second = BuildContext::sharing(&root.join("Dockerfile.dev"), None, cache.clone());
        assert_eq!(second.locate("link/main.py"), InContext::Inside(root.join("src/main.py")));
        let unshared = BuildContext::for_dockerfile(&root.join("Dockerfile"), None);
        assert_eq!(unshared.locate("link/main.py"), InContext::Unreachable);
    }

    #[test]
    fn plain_sources_are_found_at_the_top_of_the_context_below_it_and_through_links() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap().join("context");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("app.py"), "").unwrap();
        std::fs::write(root.join("src/main.py"), "").unwrap();
        std::fs::write(root.join("Dockerfile"), "").unwrap();
        std::os::unix::fs::symlink("src", root.join("inner")).unwrap();
        std::os::unix::fs::symlink(tmp.path(), root.join("out")).unwrap();
        let context = BuildContext::for_dockerfile(&root.join("Dockerfile"), None);
        let found = |names: &[&str]| Sources::Found(names.iter().map(|n| n.to_string()).collect());
        for (source, expected) in [
            ("app.py", found(&["app.py"])),
            ("./app.py", found(&["app.py"])),
            ("src/main.py", found(&["src/main.py"])),
            ("inner/main.py", found(&["inner/main.py"])),
            ("out", found(&["out"])),
            (".", found(&[""])),
            ("missing.txt", found(&[])),
            ("missing/deep/file", found(&[])),
            ("src/missing.py", found(&[])),
            ("inner/missing.py", found(&[])),
            ("out/anything", Sources::Unknown),
        ] {
            assert_eq!(context.resolve(source), expected, "{source}");
        }
    }

    /// A context in a temporary directory holding `src/`, `app.py`, the archive `vendor.tgz`, and `out`, a symlink
    /// to the directory outside it.
    fn plain_and_archive_context() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap().join("context");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("app.py"), "print()\n").unwrap();
        std::fs::write(root.join("vendor.tgz"), [0x1f, 0x8b, 8, 0]).unwrap();
        std::os::unix::fs::symlink(tmp.path(), root.join("out")).unwrap();
        (tmp, root)
    }

    #[test]
    fn entries_are_plain_unless_an_archive_or_outside_the_context() {
        let (_tmp, root) = plain_and_archive_context();
        let names = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let cache = Arc::new(ContextCache::default());
        for (entries, plain) in [
            (names(&["app.py", "src", ""]), true),
            (names(&["app.py", "vendor.tgz"]), false),
            (names(&["out", "app.py"]), false),
            (names(&[]), true),
        ] {
            // Asked with nothing read yet, and again of a cache that has read every entry.
            let fresh = BuildContext::sharing(&root.join("Dockerfile"), None, Arc::default());
            assert_eq!(fresh.all_plain(&entries), plain, "{entries:?}");
            let warm = BuildContext::sharing(&root.join("Dockerfile"), None, cache.clone());
            let each: Vec<bool> = entries.iter().map(|e| warm.is_plain(e)).collect();
            assert_eq!(each.iter().all(|&p| p), plain, "{entries:?}");
            let shared = BuildContext::sharing(&root.join("Dockerfile"), None, cache.clone());
            assert_eq!(shared.all_plain(&entries), plain, "{entries:?}");
        }
    }

    #[test]
    fn entries_a_wildcard_lists_are_plain_as_those_looked_up_one_by_one() {
        let (_tmp, root) = plain_and_archive_context();
        std::os::unix::fs::symlink("vendor.tgz", root.join("latest.tgz")).unwrap();
        std::os::unix::fs::symlink("src", root.join("inner")).unwrap();
        let fifo = std::ffi::CString::new(root.join("pipe").as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid, NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let expected = [
            ("app.py", true),
            ("inner", true),
            ("latest.tgz", false),
            ("out", false),
            ("pipe", false),
            ("src", true),
            ("vendor.tgz", false),
        ];
        // Read after the wildcard's listing, every entry is taken from it but the symlinks and the pipe.
        let listed = BuildContext::for_dockerfile(&root.join("Dockerfile"), None);
        let Sources::Found(all) = listed.resolve("*") else { panic!("the context can be listed") };
        assert_eq!(all, expected.map(|(name, _)| name));
        assert!(!listed.all_plain(&all));
        for (name, plain) in expected {
            let one_by_one = BuildContext::for_dockerfile(&root.join("Dockerfile"), None);
            assert_eq!((name, one_by_one.is_plain(name)), (name, plain));
            assert_eq!((name, listed.is_plain(name)), (name, plain));
        }
        assert!(listed.all_plain(&["app.py".to_string(), "src".to_string(), "inner".to_string()]));
    }

    #[test]
    fn dockerignore_follows_buildkit() {
        let c = context("# comment\n/node_modules\n*.log\n!keep.log\n**/__pycache__\ndocs/*.md\n!docs/README.md\n");
        assert!(c.is_ignored("node_modules/x/y.js"));
        assert!(c.is_ignored("app.log") && !c.is_ignored("keep.log"));
        assert!(!c.is_ignored("sub/app.log"), "* does not cross /");
        assert!(c.is_ignored("a/b/__pycache__/m.pyc"));
        assert!(c.is_ignored("docs/guide.md") && !c.is_ignored("docs/README.md"));
        assert!(!c.is_ignored("src/main.py"));
        assert!(c.problems().is_empty());
    }

    #[test]
    fn bad_ignore_lines_are_problems_with_their_place() {
        let c = context(&format!("ok\n  [unclosed\n{}\n", "*".repeat(100_000)));
        let places: Vec<(usize, usize)> = c.problems().iter().map(|p| (p.line, p.column)).collect();
        assert_eq!(places, [(2, 3), (3, 1)]);
        assert!(c.problems()[1].message.contains("over dockopt's limit"), "{}", c.problems()[1].message);
        assert_eq!(c.resolve("ok"), Sources::Unknown, "a broken ignore file leaves the context unknown");
    }

    #[test]
    fn archives_by_content() {
        assert!(is_archive_header(&[0x1f, 0x8b, 8, 0]));
        assert!(is_archive_header(b"BZh91AY"));
        assert!(!is_archive_header(b"#!/bin/sh\necho hi\n"));
        let mut tar = [0u8; 512];
        tar[..5].copy_from_slice(b"hello");
        let sum: u64 = tar.iter().map(|&b| u64::from(b)).sum::<u64>() + 8 * 32;
        tar[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        tar[155] = b' ';
        assert!(is_archive_header(&tar));
        tar[0] = b'j';
        assert!(!is_archive_header(&tar), "a wrong checksum is not a tar header");
    }

    #[test]
    fn paths_are_cleaned_like_buildkit() {
        assert_eq!(clean("/a/./b//c/"), "a/b/c");
        assert_eq!(clean("a/../b"), "b");
        assert_eq!(clean("../x"), "../x");
    }

    #[test]
    fn wildcards_match_as_if_every_name_were_tried() {
        let tmp = tempfile::tempdir().unwrap();
        let names =
            ["a.txt", "ab.txt", "b.txt", "req", "req1.txt", "req2.txt", "requirements.txt", "r[q].txt", "é.txt"];
        for name in names {
            std::fs::write(tmp.path().join(name), "").unwrap();
        }
        let listing = Listing::read(tmp.path());
        for pattern in ["req*.txt", "req*", "*.txt", "r?q*", "ab*", "a*", "re", "z*", "r\\[q].txt", "{a,b}.txt", "é*"]
        {
            let matcher = compile_glob(pattern).unwrap();
            let every_name: Vec<String> =
                listing.names.iter().filter(|n| matcher.is_match(n.as_str())).cloned().collect();
            assert_eq!(*listing.matching(pattern).unwrap(), every_name, "{pattern}");
        }
        assert_eq!(*listing.matching("req*.txt").unwrap(), ["req1.txt", "req2.txt", "requirements.txt"]);
    }

    #[test]
    fn huge_globs_are_errors_not_panics() {
        assert!(compile_glob(&"*".repeat(100_000)).is_err());
        assert!(compile_glob("[z-a").is_err());
        assert!(compile_glob("*.txt").unwrap().is_match("a.txt"));
    }
}
