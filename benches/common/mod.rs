//! What the benches share: where the corpus is, and its Dockerfiles.

use std::path::{Path, PathBuf};

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
