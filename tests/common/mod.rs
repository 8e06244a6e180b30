//! Locating the shared corpus and conformance data. Tests that need them are marked
//! `#[cfg_attr(not(dockopt_corpus), ignore = …)]` (see build.rs), so without the data `cargo test` lists them as
//! ignored, with the reason; with the marker present, or `DOCKOPT_REQUIRE_CORPUS=1` (which `.ci/run` sets), they
//! run, and missing data fails them.

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod every_round;

use std::path::{Path, PathBuf};

fn shared_path(var: &str, default: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(default),
    }
}

fn present(what: &str, path: PathBuf) -> PathBuf {
    assert!(path.exists(), "{what} not found at {}", path.display());
    path
}

/// `$DOCKOPT_CORPUS`, by default `../shared/corpus`.
pub fn corpus() -> PathBuf {
    present("corpus", shared_path("DOCKOPT_CORPUS", "../shared/corpus"))
}

/// `$DOCKOPT_OFFICIAL`, by default `../shared/conformance/official-parser.jsonl`.
pub fn official() -> PathBuf {
    present("official parser results", shared_path("DOCKOPT_OFFICIAL", "../shared/conformance/official-parser.jsonl"))
}

/// `$DOCKOPT_CONFORMANCE`, by default `../shared/conformance`: BuildKit's test files and what its parser makes of
/// them.
pub fn conformance() -> PathBuf {
    present("conformance data", shared_path("DOCKOPT_CONFORMANCE", "../shared/conformance"))
}

/// Every file under `root` except a top-level MANIFEST.tsv, as (path relative to root, full path), sorted.
pub fn files_under(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable corpus directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                if rel != "MANIFEST.tsv" {
                    out.push((rel, path));
                }
            }
        }
    }
    out.sort();
    out
}

/// insta settings that keep every snapshot in the top-level `snapshots/` folder.
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"));
    settings.set_prepend_module_to_snapshot(true);
    settings
}

/// Runs dockopt with `args` in `dir`, failing the test if it has not finished after `limit`: a guard against hangs,
/// not a measure of speed.
pub fn dockopt_within(dir: &Path, args: &[&str], limit: std::time::Duration) -> std::process::Output {
    finish_within(dockopt(dir, args), args, limit)
}

/// [`dockopt_within`], with dockopt's address space capped at `bytes`: a run that needs more fails to allocate and
/// aborts, so a test can tell memory that grows out of bounds without the run taking the machine's.
pub fn dockopt_within_memory(
    dir: &Path,
    args: &[&str],
    limit: std::time::Duration,
    bytes: u64,
) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut command = dockopt(dir, args);
    // SAFETY: between fork and exec the child only calls setrlimit, which allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(move || {
            let cap = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
            match libc::setrlimit(libc::RLIMIT_AS, &cap) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    finish_within(command, args, limit)
}

fn dockopt(dir: &Path, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_dockopt"));
    command.args(args).current_dir(dir);
    command
}

/// Runs `command`, which runs dockopt with `args`, and waits for it as [`dockopt_within`] says.
fn finish_within(
    mut command: std::process::Command,
    args: &[&str],
    limit: std::time::Duration,
) -> std::process::Output {
    use std::process::Stdio;
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("dockopt runs");
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).map(|_| buf)
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut buf).map(|_| buf)
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("dockopt {args:?} did not finish within {limit:?}: it hangs");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    std::process::Output { status, stdout: out.join().unwrap().unwrap(), stderr: err.join().unwrap().unwrap() }
}

/// Makes a named pipe at `path`.
pub fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}
