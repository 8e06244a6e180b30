//! Reading the files dockopt is pointed at, which may be hostile: only regular files, never blocking on open, never
//! more than a size limit; and paths inside a build context resolved the way BuildKit resolves them, so that
//! nothing outside the context is read.

use std::fmt;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// The largest file dockopt reads unless told otherwise: a Dockerfile, `.dockerignore`, configuration or manifest
/// bigger than this is refused before it is read. The corpus's largest Dockerfile is under 1 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// What a temporary file of `dockopt fix` is named, beside the Dockerfile it replaces: `.NAME` + this + `PID-XXXXXX`.
pub const TEMPORARY_MARKER: &str = ".dockopt-";

/// The process id in a temporary file's name `.NAME.dockopt-PID-XXXXXX`, which marks it as dockopt's own and
/// tells whether its writer still runs. A build context listing leaves these out: they come and go as a run
/// writes the Dockerfiles beside them.
pub fn temporary_file_owner(name: &str) -> Option<i32> {
    let rest = name.strip_prefix('.')?;
    let (_, after) = rest.rsplit_once(TEMPORARY_MARKER)?;
    let (pid, random) = after.split_once('-')?;
    (random.len() == 6 && random.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(())?;
    pid.parse().ok()
}

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    /// A directory, named pipe, socket or device: dockopt reads regular files only.
    NotRegular(&'static str),
    TooLarge {
        size: u64,
        limit: u64,
    },
    Io(std::io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotRegular(kind) => write!(f, "not a regular file but {kind}"),
            ReadError::TooLarge { size, limit } => {
                write!(f, "the file is {} bytes, over the limit of {limit} bytes", size)
            }
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl ReadError {
    /// What the user can do about it.
    pub fn help(&self) -> String {
        match self {
            ReadError::NotRegular(_) => "name a regular file; `-` reads standard input".into(),
            ReadError::TooLarge { limit, .. } => {
                format!(
                    "no Dockerfile is this big; check the path, or raise the limit with --max-file-size (now {limit})"
                )
            }
            ReadError::Io(_) => "check that the path exists and is readable".into(),
        }
    }
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// What a file system entry is, in words.
pub fn kind_of(file_type: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a named pipe"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "a regular file"
    }
}

/// Reads the regular file at `path` (following symlinks) if it holds at most `limit` bytes. The type is checked
/// before opening, so a named pipe or device is never opened; then see [`read_seen_regular`].
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Err(ReadError::NotRegular(kind_of(metadata.file_type())));
    }
    if metadata.len() > limit {
        return Err(ReadError::TooLarge { size: metadata.len(), limit });
    }
    read_seen_regular(path, limit)
}

/// Reads the file at `path`, which was just seen to be a regular file (by [`read_regular`], or by the directory
/// listing of the walk that found it), if it holds at most `limit` bytes. It is opened without blocking and checked
/// again, in case it was swapped meanwhile; and no more than `limit` bytes are read, in case it grows.
pub fn read_seen_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let opened = file.metadata()?;
    if !opened.is_file() {
        return Err(ReadError::NotRegular(kind_of(opened.file_type())));
    }
    if opened.len() > limit {
        return Err(ReadError::TooLarge { size: opened.len(), limit });
    }
    read_measured(file, opened.len() as usize, limit)
}

/// Reads a file that held `size` bytes when it was opened. Once it has read that many, it stops: a read that only
/// finds the end would cost a system call per file, 19,542 of them in a `check` of the corpus. What the file held
/// is all read, in as many calls as the system needs; a file that grew meanwhile is read on to its end, within
/// `limit`, and one that shrank up to its new end.
fn read_measured(mut file: std::fs::File, size: usize, limit: u64) -> Result<Vec<u8>, ReadError> {
    // One byte more than the size, to see whether the file grew.
    let mut bytes = vec![0; size + 1];
    let mut filled = 0;
    // At least one read, even of a file measured empty: the files of `/proc` say they hold nothing and do not.
    loop {
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
        if filled >= size {
            break;
        }
    }
    bytes.truncate(filled);
    if filled <= size {
        return Ok(bytes);
    }
    read_limited_into(file, limit, bytes)
}

/// Reads a stream to its end, refusing it once it passes `limit` bytes.
pub fn read_limited(reader: impl Read, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_limited_into(reader, limit, Vec::new())
}

/// Reads the rest of a stream after `bytes`, refusing it once they pass `limit` bytes together.
fn read_limited_into(reader: impl Read, limit: u64, mut bytes: Vec<u8>) -> Result<Vec<u8>, ReadError> {
    reader.take(limit.saturating_add(1).saturating_sub(bytes.len() as u64)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { size: bytes.len() as u64, limit });
    }
    Ok(bytes)
}

/// Where a path inside a build context leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InContext {
    /// A path inside the context root, every symlink on the way followed; it may not exist.
    Inside(PathBuf),
    /// The path is a symlink whose target lies outside the context: BuildKit takes the link itself, and so
    /// dockopt reads nothing through it.
    OutsideLink(PathBuf),
    /// A directory on the way is a symlink leading outside the context, or the links loop: the path leads
    /// nowhere BuildKit would look.
    Unreachable,
}

/// How many symlinks one path may pass through, as the kernel allows (`ELOOP`).
const MAX_LINKS: usize = 40;

/// Resolves `relative` (`/`-separated, relative to the context root, already cleaned of `.` and `..`) inside
/// `root`, which must be absolute and free of symlinks. A symlink is followed only while its target stays inside
/// the root: an absolute target must lie under `root`, and a relative one must not climb above it.
pub fn resolve_in_context(root: &Path, relative: &str) -> InContext {
    let mut pending: Vec<String> = relative.split('/').filter(|p| !p.is_empty()).rev().map(str::to_string).collect();
    let mut resolved: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "." => continue,
            ".." => {
                if resolved.pop().is_none() {
                    return InContext::Unreachable;
                }
                continue;
            }
            _ => {}
        }
        resolved.push(part);
        let path = join(root, &resolved);
        let Ok(metadata) = std::fs::symlink_metadata(&path) else { continue };
        if !metadata.file_type().is_symlink() {
            continue;
        }
        links += 1;
        let Ok(target) = std::fs::read_link(&path) else { return InContext::Unreachable };
        let inside = if target.is_absolute() {
            target.strip_prefix(root).ok().map(|rest| (Vec::new(), rest.to_path_buf()))
        } else {
            Some((resolved[..resolved.len() - 1].to_vec(), target.clone()))
        };
        let followed = inside.and_then(|(base, rest)| lexically_inside(base, &rest));
        match followed {
            Some(parts) if links <= MAX_LINKS => {
                resolved.clear();
                pending.extend(parts.into_iter().rev());
            }
            _ if pending.is_empty() => return InContext::OutsideLink(path),
            _ => return InContext::Unreachable,
        }
    }
    InContext::Inside(join(root, &resolved))
}

/// `rest` taken from `base`, with `..` resolved by name: the parts from the root, or `None` when it climbs out.
fn lexically_inside(mut base: Vec<String>, rest: &Path) -> Option<Vec<String>> {
    for component in rest.components() {
        match component {
            Component::Normal(part) => base.push(part.to_str()?.to_string()),
            Component::ParentDir => {
                base.pop()?;
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Some(base)
}

fn join(root: &Path, parts: &[String]) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(parts);
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_are_followed_only_inside_the_context() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(root.join("real")).unwrap();
        std::fs::write(root.join("real/file"), "x").unwrap();
        symlink("real", root.join("inlink")).unwrap();
        symlink(root.join("real/file"), root.join("abslink")).unwrap();
        symlink(outside.path().join("secret"), root.join("out")).unwrap();
        symlink(outside.path(), root.join("outdir")).unwrap();
        symlink("../..", root.join("real/up")).unwrap();
        symlink("loop", root.join("loop")).unwrap();

        assert_eq!(resolve_in_context(&root, "inlink/file"), InContext::Inside(root.join("real/file")));
        assert_eq!(resolve_in_context(&root, "abslink"), InContext::Inside(root.join("real/file")));
        assert_eq!(resolve_in_context(&root, "missing/x"), InContext::Inside(root.join("missing/x")));
        assert_eq!(resolve_in_context(&root, "out"), InContext::OutsideLink(root.join("out")));
        assert_eq!(resolve_in_context(&root, "outdir/secret"), InContext::Unreachable);
        assert_eq!(resolve_in_context(&root, "real/up"), InContext::OutsideLink(root.join("real/up")));
        assert_eq!(resolve_in_context(&root, "loop"), InContext::OutsideLink(root.join("loop")));
    }

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
        assert!(matches!(read_regular(&fifo, 100), Err(ReadError::NotRegular("a named pipe"))));
        assert!(matches!(read_regular(dir.path(), 100), Err(ReadError::NotRegular("a directory"))));
        assert!(matches!(read_regular(Path::new("/dev/zero"), 100), Err(ReadError::NotRegular("a device"))));
        let big = dir.path().join("big");
        std::fs::File::create(&big).unwrap().set_len(1 << 31).unwrap();
        assert!(matches!(read_regular(&big, 100), Err(ReadError::TooLarge { size: 2147483648, limit: 100 })));
        std::fs::write(dir.path().join("small"), "FROM a\n").unwrap();
        assert_eq!(read_regular(&dir.path().join("small"), 100).unwrap(), b"FROM a\n");
        // A file the walk listed as regular and that was swapped or grew before it was opened.
        assert!(matches!(read_seen_regular(&fifo, 100), Err(ReadError::NotRegular("a named pipe"))));
        assert!(matches!(read_seen_regular(dir.path(), 100), Err(ReadError::NotRegular("a directory"))));
        assert!(matches!(read_seen_regular(&big, 100), Err(ReadError::TooLarge { size: 2147483648, limit: 100 })));
        assert_eq!(read_seen_regular(&dir.path().join("small"), 100).unwrap(), b"FROM a\n");
        assert!(matches!(read_limited(&b"0123456789"[..], 9), Err(ReadError::TooLarge { .. })));
    }

    #[test]
    fn a_file_that_changed_size_since_it_was_measured_is_read_to_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Dockerfile");
        std::fs::write(&path, "FROM a\nRUN b\n").unwrap();
        let open = || std::fs::File::open(&path).unwrap();
        assert_eq!(read_measured(open(), 13, 100).unwrap(), b"FROM a\nRUN b\n");
        // Measured before it grew: the rest is read too, within the limit.
        assert_eq!(read_measured(open(), 7, 100).unwrap(), b"FROM a\nRUN b\n");
        assert_eq!(read_measured(open(), 0, 100).unwrap(), b"FROM a\nRUN b\n");
        assert!(matches!(read_measured(open(), 7, 12), Err(ReadError::TooLarge { size: 13, limit: 12 })));
        // Measured before it shrank: what it holds now.
        assert_eq!(read_measured(open(), 40, 100).unwrap(), b"FROM a\nRUN b\n");
        // A file of `/proc` says it holds no bytes.
        assert_eq!(std::fs::metadata("/proc/self/status").unwrap().len(), 0);
        assert!(read_seen_regular(Path::new("/proc/self/status"), 1 << 20).unwrap().starts_with(b"Name:"));
    }
}
