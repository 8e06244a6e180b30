//! Writing a fixed Dockerfile back in place.

use anyhow::{bail, Context as _, Result};
use std::io::Write;
use std::path::Path;

/// Writes through a temporary file in the same directory and a rename, keeping the file's permissions, so a
/// crash never leaves a half-written Dockerfile. A read-only file is refused rather than replaced.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let permissions = std::fs::metadata(path)?.permissions();
    if permissions.readonly() {
        bail!("the file is read-only");
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir).context("cannot create a temporary file beside it")?;
    temp.write_all(text.as_bytes())?;
    temp.as_file().set_permissions(permissions)?;
    temp.persist(path)?;
    Ok(())
}
