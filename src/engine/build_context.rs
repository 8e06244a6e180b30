//! The build context: the directory whose files COPY and ADD read, filtered by its `.dockerignore`.
//!
//! The context is the Dockerfile's directory unless `--context DIR` names another; standard input has none.
//! `<Dockerfile name>.dockerignore` beside the Dockerfile takes precedence over `.dockerignore` at the context
//! root, as in BuildKit. Patterns follow BuildKit's rules: paths are relative to the context root (a leading
//! `/` is dropped), `*` and `?` stay within one path element, `**` spans any number, a pattern that matches a
//! directory excludes everything below it, `!` makes an exception, and the last pattern that matches wins.

use globset::{GlobBuilder, GlobMatcher};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// What directories hold, looked at once per run: a monorepo's Dockerfiles share their directories.
#[derive(Debug, Default)]
pub struct Listings {
    entries: Mutex<HashMap<PathBuf, Arc<Vec<String>>>>,
}

impl Listings {
    /// The names in `dir`, sorted; empty when it cannot be read.
    fn names(&self, dir: &Path) -> Arc<Vec<String>> {
        if let Some(found) = self.entries.lock().expect("no panics while holding the lock").get(dir) {
            return found.clone();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
            .unwrap_or_default();
        names.sort();
        let names = Arc::new(names);
        self.entries.lock().expect("no panics while holding the lock").insert(dir.to_path_buf(), names.clone());
        names
    }
}

#[derive(Clone, Debug)]
pub struct BuildContext {
    pub root: PathBuf,
    listings: Arc<Listings>,
    /// The Dockerfile's own `<name>.dockerignore`, which wins over the context's `.dockerignore`.
    own_ignore: Option<PathBuf>,
    /// Read on first use: most Dockerfiles never ask, and a monorepo has thousands of them.
    ignore: OnceLock<Ignore>,
    /// Answers already found, since every fix round asks again.
    resolved: Arc<Mutex<HashMap<String, Option<Vec<String>>>>>,
    archives: Arc<Mutex<HashMap<String, bool>>>,
}

#[derive(Clone, Debug, Default)]
struct Ignore {
    file: Option<PathBuf>,
    patterns: Vec<IgnorePattern>,
}

#[derive(Clone, Debug)]
struct IgnorePattern {
    exception: bool,
    matcher: GlobMatcher,
}

impl BuildContext {
    /// The context of the Dockerfile at `dockerfile`: `context`, or else the Dockerfile's directory.
    pub fn for_dockerfile(dockerfile: &Path, context: Option<&Path>) -> BuildContext {
        Self::sharing(dockerfile, context, Arc::default())
    }

    /// [`BuildContext::for_dockerfile`], sharing directory listings with the other Dockerfiles of a run.
    pub fn sharing(dockerfile: &Path, context: Option<&Path>, listings: Arc<Listings>) -> BuildContext {
        let dir = dockerfile.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let own_ignore = dockerfile.file_name().map(|n| dir.join(format!("{}.dockerignore", n.to_string_lossy())));
        BuildContext {
            root: context.unwrap_or(dir).to_path_buf(),
            listings,
            own_ignore,
            ignore: OnceLock::new(),
            resolved: Arc::default(),
            archives: Arc::default(),
        }
    }

    /// The names at the top of the context.
    pub fn top_level_names(&self) -> Arc<Vec<String>> {
        self.listings.names(&self.root)
    }

    fn ignore(&self) -> &Ignore {
        self.ignore.get_or_init(|| {
            let own = self.own_ignore.clone().filter(|p| p.is_file());
            let file = own.or_else(|| Some(self.root.join(".dockerignore")).filter(|p| p.is_file()));
            let patterns = file
                .as_deref()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .map_or_else(Vec::new, |t| parse_ignore(&t));
            Ignore { file, patterns }
        })
    }

    /// The ignore file in force, if any.
    pub fn ignore_file(&self) -> Option<&Path> {
        self.ignore().file.as_deref()
    }

    /// `.dockerignore` leaves out `relative` (a path relative to the context root, `/`-separated).
    pub fn is_ignored(&self, relative: &str) -> bool {
        let path = clean(relative);
        let mut ignored = false;
        for pattern in &self.ignore().patterns {
            // A pattern matches a path when it matches the path or one of its parent directories.
            let mut candidate = path.as_str();
            let hit = loop {
                if pattern.matcher.is_match(candidate) {
                    break true;
                }
                match candidate.rfind('/') {
                    Some(slash) => candidate = &candidate[..slash],
                    None => break false,
                }
            };
            if hit {
                ignored = !pattern.exception;
            }
        }
        ignored
    }

    /// The context entries a COPY or ADD source names, or `None` when dockopt cannot tell: the source uses a
    /// variable, a wildcard outside its last element, or leaves the context.
    pub fn resolve(&self, source: &str) -> Option<Vec<String>> {
        if let Some(found) = self.resolved.lock().expect("no panics while holding the lock").get(source) {
            return found.clone();
        }
        let found = self.resolve_uncached(source);
        self.resolved.lock().expect("no panics while holding the lock").insert(source.to_string(), found.clone());
        found
    }

    fn resolve_uncached(&self, source: &str) -> Option<Vec<String>> {
        if source.contains('$') {
            return None;
        }
        let relative = clean(source);
        if relative.starts_with("..") {
            return None;
        }
        let (dir, last) = match relative.rfind('/') {
            Some(slash) => (&relative[..slash], &relative[slash + 1..]),
            None => ("", relative.as_str()),
        };
        if dir.contains(['*', '?', '[']) {
            return None;
        }
        if !last.contains(['*', '?', '[']) {
            return Some(if self.root.join(&relative).exists() || relative.is_empty() {
                vec![relative]
            } else {
                Vec::new()
            });
        }
        let matcher = GlobBuilder::new(last).literal_separator(true).build().ok()?.compile_matcher();
        let names = self.listings.names(&self.root.join(dir));
        Some(
            names
                .iter()
                .filter(|name| matcher.is_match(name.as_str()))
                .map(|name| if dir.is_empty() { name.clone() } else { format!("{dir}/{name}") })
                .collect(),
        )
    }

    /// The file at `relative` is an archive that ADD would unpack: gzip, bzip2, xz or zstd data, or a tar
    /// header, recognised by content as BuildKit does. Directories and unreadable paths are not.
    pub fn is_archive(&self, relative: &str) -> bool {
        if let Some(&known) = self.archives.lock().expect("no panics while holding the lock").get(relative) {
            return known;
        }
        let archive = self.sniff_archive(relative);
        self.archives.lock().expect("no panics while holding the lock").insert(relative.to_string(), archive);
        archive
    }

    fn sniff_archive(&self, relative: &str) -> bool {
        let Ok(mut file) = std::fs::File::open(self.root.join(relative)) else { return false };
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return false;
        }
        let mut head = [0u8; 512];
        let mut len = 0;
        while len < head.len() {
            match file.read(&mut head[len..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => len += n,
            }
        }
        is_archive_header(&head[..len])
    }
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

fn parse_ignore(text: &str) -> Vec<IgnorePattern> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let pattern = clean(pattern);
            let matcher = GlobBuilder::new(&pattern).literal_separator(true).build().ok()?.compile_matcher();
            Some(IgnorePattern { exception, matcher })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(ignore: &str) -> BuildContext {
        let ignore = Ignore { file: None, patterns: parse_ignore(ignore) };
        BuildContext {
            root: PathBuf::from("."),
            listings: Arc::default(),
            own_ignore: None,
            ignore: OnceLock::from(ignore),
            resolved: Arc::default(),
            archives: Arc::default(),
        }
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
}
