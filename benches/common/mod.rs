//! What the benches share: where the corpus is, and its Dockerfiles.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

/// `DOCKOPT_CORPUS`, or `../shared/corpus` beside the repository.
pub fn corpus_root() -> PathBuf {
    std::env::var_os("DOCKOPT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"))
}

/// Every file under `root` with a Dockerfile's name, sorted.
pub fn dockerfiles(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().and_then(|n| n.to_str()).is_some_and(dockopt::cli::discover::is_dockerfile_name)
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Waits for `child`, sampling its peak resident memory (VmHWM) until it exits, in kB. Not its `ru_maxrss`: the
/// child shares the bench's memory until it execs, and the kernel counts that memory as the child's.
pub fn wait_sampling_peak(child: &mut Child) -> u64 {
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok());
            peak_kb = peak_kb.max(hwm.unwrap_or(0));
        }
        if child.try_wait().expect("child status").is_some() {
            return peak_kb;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
