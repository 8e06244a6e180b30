//! Writing a fixed Dockerfile back in place without losing anything the user had.
//!
//! - Only a regular file is written, and only one the user may write: its mode must allow writing, and so must
//!   the kernel for this user (`access(W_OK)`), so a file in a shared directory is not replaced by someone who
//!   could not have edited it.
//! - A symlink is written through, to its target, when that target lies inside the searched directories or the
//!   link was named on the command line; the link stays a link.
//! - The new text goes to a temporary file beside the target, named `.NAME.dockopt-PID-XXXXXX`, which gets the
//!   file's mode, owner and group (or the write is refused when they cannot be kept), is synced, and is renamed
//!   over the target; the directories renamed in are synced at the end of the run (past a few dozen, with one
//!   `syncfs` per file system). A crash or power loss leaves the old file or the new one, never a part.
//! - A file with other hard links gets a new inode, so the other links keep the old text: the write says so.
//! - On SIGINT, SIGTERM or SIGHUP the temporary files in flight are removed before dockopt exits; after a
//!   SIGKILL, the next `fix` that writes in that directory removes those whose process is gone.

use crate::engine::files::{temporary_file_owner, TEMPORARY_MARKER};
use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Why a fixed file was not written: what went wrong, and what the user can do.
#[derive(Debug)]
pub struct WriteError {
    pub message: String,
    pub help: String,
}

impl WriteError {
    fn new(message: impl Into<String>, help: impl Into<String>) -> WriteError {
        WriteError { message: message.into(), help: help.into() }
    }

    /// An I/O error, with the help its cause calls for.
    fn io(what: &str, error: std::io::Error) -> WriteError {
        use std::io::ErrorKind;
        let help = match error.kind() {
            ErrorKind::PermissionDenied => "make the file and its directory writable",
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => "free some space on that file system",
            ErrorKind::ReadOnlyFilesystem => "the file system is mounted read-only",
            _ => "check the file and its directory",
        };
        WriteError::new(format!("{what}: {error}"), format!("{help}, or run `dockopt fix --diff` to see the changes"))
    }
}

/// What writing did besides replacing the text, for the report.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Replaced,
    /// The file had this many hard links; they keep the old text.
    HardLinkSplit(u64),
}

/// Where a run may write through symlinks: the directories it searched, and the paths named on the command line.
pub struct WriteScope {
    roots: Vec<PathBuf>,
}

impl WriteScope {
    /// `paths` as the command line names them; directories among them are the searched roots.
    pub fn new(paths: &[PathBuf]) -> WriteScope {
        WriteScope {
            roots: paths.iter().filter(|p| p.is_dir()).filter_map(|p| std::fs::canonicalize(p).ok()).collect(),
        }
    }

    /// Writes `text` to the Dockerfile at `path` (named on the command line when `explicit`), as the module
    /// documentation says.
    pub fn write(&self, path: &Path, explicit: bool, text: &str) -> Result<Written, WriteError> {
        let target = self.target(path, explicit)?;
        let metadata = std::fs::metadata(&target).map_err(|e| WriteError::io("cannot look at the file", e))?;
        if !metadata.is_file() {
            return Err(WriteError::new("not a regular file", "dockopt writes only regular files"));
        }
        if metadata.permissions().readonly() || !may_write(&target) {
            return Err(WriteError::new(
                "the file is read-only for you",
                "make it writable if it should be fixed, or run `dockopt fix --diff` to see the changes",
            ));
        }
        replace(&target, text, &metadata)?;
        Ok(if metadata.nlink() > 1 { Written::HardLinkSplit(metadata.nlink()) } else { Written::Replaced })
    }

    /// The file a write to `path` lands in: `path` itself, or the target of the symlink it is.
    fn target(&self, path: &Path, explicit: bool) -> Result<PathBuf, WriteError> {
        let is_link = std::fs::symlink_metadata(path).map_err(|e| WriteError::io("cannot look at the file", e))?;
        if !is_link.file_type().is_symlink() {
            return Ok(path.to_path_buf());
        }
        let target = std::fs::canonicalize(path).map_err(|e| WriteError::io("cannot follow the symlink", e))?;
        if explicit || self.roots.iter().any(|root| target.starts_with(root)) {
            return Ok(target);
        }
        Err(WriteError::new(
            format!("a symlink to {}, outside the directories searched", target.display()),
            "name the link or its target on the command line to fix it",
        ))
    }
}

/// The kernel lets this process write the file, by its effective user and groups.
fn may_write(path: &Path) -> bool {
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return false };
    // SAFETY: a valid NUL-terminated path; faccessat only reads it.
    unsafe { libc::faccessat(libc::AT_FDCWD, c_path.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0 }
}

/// Replaces `target` with `text` through a synced temporary file renamed over it, keeping mode, owner and group.
fn replace(target: &Path, text: &str, metadata: &std::fs::Metadata) -> Result<(), WriteError> {
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = target.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    sweep_stale(dir);
    let temp = in_flight().create(dir, &name)?;
    let prepared = (|| {
        let mut file = &temp.file;
        file.write_all(text.as_bytes()).map_err(|e| WriteError::io("cannot write the fixed file", e))?;
        file.set_permissions(std::fs::Permissions::from_mode(metadata.mode() & 0o7777))
            .map_err(|e| WriteError::io("cannot give the fixed file the original's mode", e))?;
        let created = file.metadata().map_err(|e| WriteError::io("cannot look at the fixed file", e))?;
        if (created.uid(), created.gid()) != (metadata.uid(), metadata.gid()) {
            std::os::unix::fs::fchown(file, Some(metadata.uid()), Some(metadata.gid())).map_err(|e| {
                WriteError::new(
                    format!("cannot keep the file's owner {}:{}: {e}", metadata.uid(), metadata.gid()),
                    "run dockopt as the file's owner (or as root) so the fixed file keeps its owner",
                )
            })?;
        }
        file.sync_data().map_err(|e| WriteError::io("cannot sync the fixed file", e))
    })();
    if let Err(error) = prepared {
        in_flight().discard(&temp.path);
        return Err(error);
    }
    in_flight().rename(&temp.path, target).map_err(|e| WriteError::io("cannot replace the file", e))?;
    in_flight().renamed_in.lock().expect("no panics while holding the lock").insert(dir.to_path_buf());
    Ok(())
}

/// Up to this many directories renamed in are synced one by one at the end of a run; past it, each file system
/// they are on is synced once (`syncfs`). A directory's fsync commits the file system's journal, so a run that
/// fixed files in thousands of directories spent seconds committing it once each; `syncfs` commits it once. It
/// also writes out whatever else is pending on that file system, which for a few directories would cost more
/// than it saves.
const DIRECTORIES_SYNCED_ONE_BY_ONE: usize = 32;

/// Makes every rename durable: at the end of a run rather than after each rename, since until then a lost rename
/// leaves the old file, which is whole. Returns the directories that could not be synced.
pub fn sync_directories() -> Vec<(PathBuf, std::io::Error)> {
    let dirs = std::mem::take(&mut *in_flight().renamed_in.lock().expect("no panics while holding the lock"));
    if dirs.len() <= DIRECTORIES_SYNCED_ONE_BY_ONE {
        return dirs
            .into_iter()
            .filter_map(|dir| File::open(&dir).and_then(|d| d.sync_all()).err().map(|e| (dir, e)))
            .collect();
    }
    let mut by_file_system: std::collections::HashMap<u64, Vec<PathBuf>> = std::collections::HashMap::new();
    let mut failed = Vec::new();
    for dir in dirs {
        match std::fs::metadata(&dir) {
            Ok(metadata) => by_file_system.entry(metadata.dev()).or_default().push(dir),
            Err(error) => failed.push((dir, error)),
        }
    }
    for dirs in by_file_system.into_values() {
        if let Err(error) = File::open(&dirs[0]).and_then(|d| sync_file_system(&d)) {
            failed.extend(dirs.into_iter().map(|dir| (dir, std::io::Error::new(error.kind(), error.to_string()))));
        }
    }
    failed
}

/// Commits everything written to the file system `file` is on.
fn sync_file_system(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: syncfs takes an open descriptor, which `file` holds for the duration of the call.
    if unsafe { libc::syncfs(file.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A temporary file being written.
struct Temporary {
    path: PathBuf,
    file: File,
}

/// The temporary files this process has in flight, so that a signal can remove them. Creating and removing
/// happen under one lock, so none is created after the signal handler has cleaned up. Renaming does not hold it:
/// a rename racing the handler's removal of the same temporary file either moves it first (the removal finds
/// nothing) or finds it gone (the target keeps its old text). With the lock held across it, writers waited on
/// each other's renames: a `fix -q` of a copy of the corpus made 54,400–54,600 futex calls that way and
/// 39,200–39,600 this way.
struct InFlight {
    paths: Mutex<HashSet<PathBuf>>,
    /// Directories already cleared of stale temporary files this run.
    swept: Mutex<HashSet<PathBuf>>,
    /// Directories with a rename not yet synced.
    renamed_in: Mutex<HashSet<PathBuf>>,
}

fn in_flight() -> &'static InFlight {
    static IN_FLIGHT: OnceLock<InFlight> = OnceLock::new();
    IN_FLIGHT.get_or_init(|| InFlight {
        paths: Mutex::default(),
        swept: Mutex::default(),
        renamed_in: Mutex::default(),
    })
}

impl InFlight {
    fn create(&self, dir: &Path, name: &str) -> Result<Temporary, WriteError> {
        let mut paths = self.paths.lock().expect("no panics while holding the lock");
        let prefix = format!(".{name}{TEMPORARY_MARKER}{}-", std::process::id());
        let (file, path) = tempfile::Builder::new()
            .prefix(&prefix)
            .rand_bytes(6)
            .tempfile_in(dir)
            .map_err(|e| WriteError::io("cannot create a temporary file beside it", e))?
            .keep()
            .map_err(|e| WriteError::io("cannot create a temporary file beside it", e.error))?;
        paths.insert(path.clone());
        Ok(Temporary { path, file })
    }

    fn rename(&self, temp: &Path, target: &Path) -> std::io::Result<()> {
        let renamed = std::fs::rename(temp, target);
        if renamed.is_err() {
            let _ = std::fs::remove_file(temp);
        }
        self.paths.lock().expect("no panics while holding the lock").remove(temp);
        renamed
    }

    fn discard(&self, temp: &Path) {
        let mut paths = self.paths.lock().expect("no panics while holding the lock");
        let _ = std::fs::remove_file(temp);
        paths.remove(temp);
    }

    /// Removes every temporary file in flight, and keeps any more from being made: called on a signal, right
    /// before exiting.
    fn abandon(&self) -> std::sync::MutexGuard<'_, HashSet<PathBuf>> {
        let paths = self.paths.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for path in paths.iter() {
            let _ = std::fs::remove_file(path);
        }
        paths
    }
}

/// On SIGINT, SIGTERM or SIGHUP: remove the temporary files in flight and exit with 130, as a shell reports an
/// interrupted command. Every Dockerfile is then as it was or fully fixed.
pub fn clean_up_on_signals() {
    // Failing to install the handler (one is already installed) leaves the default: exit at once, and the next
    // run removes the temporary files left.
    let _ = ctrlc::set_handler(|| {
        let _held = in_flight().abandon();
        std::process::exit(130);
    });
}

/// Removes the temporary files that a `fix` killed before it could clean up left in `dir`: those named by
/// [`InFlight::create`] whose process is gone. Each directory is looked at once per run, before the first write
/// in it: a temporary file is left only where a Dockerfile was not yet replaced, which the next run replaces.
fn sweep_stale(dir: &Path) {
    if !in_flight().swept.lock().expect("no panics while holding the lock").insert(dir.to_path_buf()) {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if temporary_file_owner(&name.to_string_lossy()).is_some_and(|pid| !process_exists(pid)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn process_exists(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    alive || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_carry_their_process() {
        assert_eq!(temporary_file_owner(".Dockerfile.dockopt-4242-a1B2c3"), Some(4242));
        assert_eq!(temporary_file_owner(".api.Dockerfile.dockopt-7-zzzzzz"), Some(7));
        assert_eq!(temporary_file_owner("Dockerfile.dockopt-7-zzzzzz"), None);
        assert_eq!(temporary_file_owner(".Dockerfile.dockopt-x-zzzzzz"), None);
        assert_eq!(temporary_file_owner(".Dockerfile.dockopt-7-zz"), None);
        assert!(process_exists(std::process::id() as i32));
    }

    #[test]
    fn help_follows_the_cause() {
        let full = WriteError::io("cannot write", std::io::Error::from(std::io::ErrorKind::StorageFull));
        assert!(full.help.starts_with("free some space"), "{}", full.help);
        let denied = WriteError::io("cannot write", std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert!(denied.help.starts_with("make the file"), "{}", denied.help);
    }
}
