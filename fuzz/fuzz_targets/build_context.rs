//! The build-context side: any `.dockerignore`, any ADD and COPY sources, over a generated context of files,
//! directories, archives, named pipes and symlinks (some pointing out of the context, at a pipe). dockopt never
//! panics, and never opens anything outside the context: opening the pipe there would block, which libFuzzer's
//! timeout reports. Fixing the fixed file again, in the same context, changes nothing.
//!
//! The input is three parts split by 0xFF bytes: the `.dockerignore`, the Dockerfile, and the context, one entry
//! per line as a kind letter and a name: `f` file, `d` directory, `a` gzip archive, `p` named pipe, `l` symlink
//! (`lNAME>TARGET`, where a target of `@pipe` or `@dir` is outside the context).
#![no_main]

use dockopt::engine::build_context::BuildContext;
use dockopt::engine::fix;
use dockopt::syntax::model::Dockerfile;
use dockopt::transforms;
use libfuzzer_sys::fuzz_target;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Outside every generated context: a directory holding a named pipe.
static OUTSIDE: OnceLock<PathBuf> = OnceLock::new();

fn outside() -> &'static Path {
    OUTSIDE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("dockopt-fuzz-outside-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        mkfifo(&dir.join("pipe"));
        // libFuzzer ends a run with `exit`, which runs no destructor but does run this.
        // SAFETY: registers a function that takes nothing and never unwinds.
        unsafe { libc::atexit(remove_outside) };
        dir
    })
}

extern "C" fn remove_outside() {
    if let Some(dir) = OUTSIDE.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn mkfifo(path: &Path) {
    let c_path = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) };
}

/// A name inside the context: no NUL, no absolute path, no `..`.
fn inside_name(raw: &str) -> Option<String> {
    let name: String = raw.chars().filter(|&c| c != '\0').collect();
    let name = name.trim_start_matches('/').to_string();
    (!name.is_empty() && name.len() < 100 && !name.split('/').any(|p| p == ".." || p == ".")).then_some(name)
}

/// Whether `name` can be created under `root` without touching anything already made: an entry made earlier
/// may be a symlink out of the context or a pipe, and writing through it would make the harness itself block
/// or write outside.
fn is_fresh(root: &Path, name: &str) -> bool {
    let mut path = root.to_path_buf();
    let parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty()).collect();
    for (index, part) in parts.iter().enumerate() {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Err(_) => return true,
            Ok(_) if index + 1 == parts.len() => return false,
            Ok(meta) if !meta.file_type().is_dir() => return false,
            Ok(_) => {}
        }
    }
    false
}

fn make_context(root: &Path, spec: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in spec.lines().take(32) {
        let mut chars = line.chars();
        let Some(kind) = chars.next() else { continue };
        let rest = chars.as_str();
        let (name, target) = rest.split_once('>').unwrap_or((rest, ""));
        let Some(name) = inside_name(name) else { continue };
        if !is_fresh(root, &name) {
            continue;
        }
        let path = root.join(&name);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = match kind {
            'f' => std::fs::write(&path, name.as_bytes()),
            'a' => std::fs::write(&path, [0x1f, 0x8b, 8, 0, 0, 0]),
            'd' => std::fs::create_dir_all(&path),
            'p' => {
                mkfifo(&path);
                Ok(())
            }
            'l' => {
                let target = match target {
                    "@pipe" => outside().join("pipe"),
                    "@dir" => outside().to_path_buf(),
                    other => PathBuf::from(other.replace('\0', "")),
                };
                std::os::unix::fs::symlink(target, &path)
            }
            _ => continue,
        };
        names.push(name);
    }
    names
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0xFF);
    let ignore = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let dockerfile = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let spec = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let names = make_context(root, &spec);
    // The context may have made `.dockerignore` itself, a directory, a pipe or a link out: dockopt must cope with
    // that as it is, and the harness must not write through it.
    let ignore_path = root.join(".dockerignore");
    if std::fs::symlink_metadata(&ignore_path).is_err() {
        std::fs::write(&ignore_path, &ignore).unwrap();
    }
    let dockerfile_path = root.join("Dockerfile");
    let build = BuildContext::for_dockerfile(&dockerfile_path, None);
    for name in &names {
        build.is_ignored(name);
        build.is_plain(name);
        let _ = build.resolve(name);
        let _ = build.read_text(name);
    }
    let each_plain = names.iter().all(|name| build.is_plain(name));
    assert_eq!(build.all_plain(&names), each_plain, "all_plain disagrees with is_plain of each entry");
    let rules = transforms::all();
    if let Ok(outcome) = fix::fix(&dockerfile, Some(&build), &rules, true) {
        let fixed = Dockerfile::parse(&outcome.text);
        assert!(fixed.errors.is_empty(), "a fix made the file unreadable");
        let again = fix::fix(&outcome.text, Some(&build), &rules, true).expect("a fixed file reads");
        assert_eq!(again.text, outcome.text, "fixing twice in the same context changed the file");
    }
});
