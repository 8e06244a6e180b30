//! `dockopt fix` over a copy of the corpus, killed at random moments with SIGINT and with SIGKILL, ten times each:
//! every file is left as it was or fully fixed, and no temporary file is left behind (after SIGKILL, once the
//! next run has passed by).
//!
//! Each run's copy is made of hard links to one writable copy: `fix` never writes in place (it renames a new
//! file over the old), so the shared copy stays as it was, and making a copy costs links rather than bytes.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn copy_tree(from: &Path, to: &Path) {
    for (relative, path) in common::files_under(from) {
        let target = to.join(&relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&path, &target).unwrap();
        // The shared corpus is read-only; its copy must be writable for fix to rewrite it.
        std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    }
}

fn link_tree(from: &Path, to: &Path) {
    for (relative, path) in common::files_under(from) {
        let target = to.join(&relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::hard_link(&path, &target).unwrap();
    }
}

fn contents(root: &Path) -> BTreeMap<String, Vec<u8>> {
    common::files_under(root).into_iter().map(|(relative, path)| (relative, std::fs::read(path).unwrap())).collect()
}

fn temporaries(root: &Path) -> Vec<String> {
    common::files_under(root).into_iter().map(|(relative, _)| relative).filter(|r| r.contains(".dockopt-")).collect()
}

fn fix(root: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_dockopt"))
        .arg("fix")
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A small generator of pseudo-random moments, seeded from the clock and printed so a failure can be replayed.
struct Moments(u64);

impl Moments {
    fn next_below(&mut self, bound: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        bound.mul_f64((self.0 % 10_000) as f64 / 10_000.0)
    }
}

#[test]
#[cfg_attr(not(dockopt_corpus), ignore = "needs the shared corpus (DOCKOPT_CORPUS, by default ../shared/corpus)")]
fn an_interrupted_fix_leaves_every_file_original_or_fixed_and_no_temporary_file() {
    let corpus = common::corpus();
    // In memory where the machine has a tmpfs: the test is about signals, not disks, and twenty copies of the
    // corpus on a disk take minutes.
    let shm = Path::new("/dev/shm");
    let work = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.unwrap();
    let pristine = work.path().join("pristine");
    copy_tree(&corpus, &pristine);
    let original = contents(&pristine);
    let fixed_dir = work.path().join("fixed");
    link_tree(&pristine, &fixed_dir);
    let started = Instant::now();
    fix(&fixed_dir).wait().unwrap();
    // The signals land at moments within a full run; the quicker of two full runs keeps one slowed by other work
    // on the machine from putting every moment after the end.
    let first_run = started.elapsed();
    let timing_dir = work.path().join("timing");
    link_tree(&pristine, &timing_dir);
    let again = Instant::now();
    fix(&timing_dir).wait().unwrap();
    let full_run = first_run.min(again.elapsed());
    std::fs::remove_dir_all(&timing_dir).unwrap();
    let fixed = contents(&fixed_dir);
    assert!(original.iter().filter(|(k, v)| fixed[*k] != **v).count() > 1000, "the fix changes many files");
    assert!(contents(&pristine) == original, "fix renames new files in, leaving the linked copy alone");

    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("moments seeded with {seed}; a full run takes {full_run:?}");
    let mut moments = Moments(seed);
    for (signal, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGKILL, "SIGKILL")] {
        let mut interrupted = 0;
        for trial in 0..10 {
            let tree = work.path().join(format!("{name}-{trial}"));
            link_tree(&pristine, &tree);
            let mut child = fix(&tree);
            let moment = moments.next_below(full_run);
            std::thread::sleep(moment);
            // SAFETY: signalling our own child, which has not been waited for, so its pid is still its own.
            unsafe { libc::kill(child.id() as i32, signal) };
            let status = child.wait().unwrap();
            // Exit 130 is dockopt's own answer to SIGINT; SIGKILL shows as the signal.
            let stopped =
                status.code() == Some(130) || std::os::unix::process::ExitStatusExt::signal(&status).is_some();
            interrupted += usize::from(stopped);
            eprintln!("{name} after {moment:?}: {status}");
            let now = contents(&tree);
            let temporary: Vec<&String> = now.keys().filter(|k| k.contains(".dockopt-")).collect();
            for (relative, bytes) in now.iter().filter(|(k, _)| !k.contains(".dockopt-")) {
                assert!(
                    *bytes == original[relative] || *bytes == fixed[relative],
                    "{name} after {moment:?} ({status}): {relative} is neither the original nor the fixed file"
                );
            }
            assert_eq!(now.len() - temporary.len(), original.len(), "{name} after {moment:?}: files lost");
            if signal == libc::SIGINT {
                assert!(temporary.is_empty(), "SIGINT after {moment:?} left {temporary:?}");
            } else {
                fix(&tree).wait().unwrap();
                assert_eq!(temporaries(&tree), Vec::<String>::new(), "the next run removes what SIGKILL left");
                assert!(contents(&tree) == fixed, "the next run finishes the fix");
            }
            std::fs::remove_dir_all(&tree).unwrap();
        }
        assert!(interrupted >= 5, "only {interrupted} of 10 {name} runs were stopped before they finished");
    }
}
