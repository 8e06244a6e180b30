//! Instructions, which unlike time do not depend on how busy the machine is: `dockopt check` of the first 1,938
//! Dockerfiles of the corpus in path order, named on the command line as pre-commit names them (the subset the
//! speed work is measured on), and of the whole corpus as a directory, each counted by
//! `valgrind --tool=callgrind`. dockopt runs on one core, so that the count does not depend on how its threads
//! take turns (waiting for an answer another thread is working out, for one), and a count repeats to within two
//! tenths of a million. Needs valgrind. Run with `cargo bench --bench instructions`.
//!
//! The build counted first is the one `cargo bench` makes, whose dependencies have the features the
//! dev-dependencies turn on: it executes up to 0.6% more instructions than the `cargo build --release` binary
//! users run. `DOCKOPT_BIN`, a list of paths as `PATH` is, counts other builds in the same run: the release
//! binaries of two commits, for a before and after.

// Only for where the corpus is: this bench chooses its files its own way.
#[allow(dead_code)]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// The size of the subset: the one the speed work was first measured on, kept so that figures stay comparable.
const SUBSET: usize = 1_938;

/// The instructions `dockopt` executed, as callgrind counts them, running `args` in `dir`.
fn instructions(dockopt: &Path, dir: &Path, args: &[String]) -> Result<u64, String> {
    // One core: `dockopt` starts one worker per core it may run on.
    let pinned = Command::new("taskset").arg("--version").output().is_ok();
    let mut command = if pinned {
        let mut taskset = Command::new("taskset");
        taskset.args(["--cpu-list", "0", "valgrind"]);
        taskset
    } else {
        Command::new("valgrind")
    };
    let output = command
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(dockopt)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run valgrind ({e}); install it, for example with `apt-get install valgrind`"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    // callgrind ends with `==pid== Collected : N`.
    stderr
        .lines()
        .find_map(|line| line.split_once("Collected :").map(|(_, count)| count.trim().to_string()))
        .and_then(|count| count.parse().ok())
        .ok_or_else(|| format!("callgrind reported no count:\n{stderr}"))
}

/// The regular files under `root` whose name holds `ockerfile`, as paths under `prefix`, in no set order.
fn files_named_like_dockerfiles(root: &Path, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![(root.to_path_buf(), prefix.to_string())];
    while let Some((dir, named)) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let (Ok(kind), Some(name)) = (entry.file_type(), entry.file_name().to_str().map(str::to_string)) else {
                continue;
            };
            if kind.is_dir() {
                pending.push((entry.path(), format!("{named}/{name}")));
            } else if kind.is_file() && name.contains("ockerfile") {
                out.push(format!("{named}/{name}"));
            }
        }
    }
    out
}

fn main() -> ExitCode {
    let corpus = common::corpus_root();
    if !corpus.is_dir() {
        eprintln!("no corpus at {}: set DOCKOPT_CORPUS", corpus.display());
        return ExitCode::FAILURE;
    }
    // Named as they were when the subset was first measured: `find ../shared/corpus -type f -name '*ockerfile*'`
    // from the repository, sorted by bytes, the first 1,938.
    let (dir, prefix) = if std::env::var_os("DOCKOPT_CORPUS").is_none() {
        (Path::new(env!("CARGO_MANIFEST_DIR")), "../shared/corpus")
    } else {
        (corpus.as_path(), ".")
    };
    let mut subset = files_named_like_dockerfiles(&corpus, prefix);
    subset.sort();
    subset.truncate(SUBSET);
    let runs = [
        (format!("check of {SUBSET} named files"), dir, std::iter::once("check".to_string()).chain(subset).collect()),
        ("check .".to_string(), corpus.as_path(), vec!["check".to_string(), ".".to_string()]),
    ];

    let builds: Vec<(String, PathBuf)> =
        std::iter::once(("cargo bench's build".to_string(), env!("CARGO_BIN_EXE_dockopt").into()))
            .chain(
                std::env::var_os("DOCKOPT_BIN")
                    .iter()
                    .flat_map(std::env::split_paths)
                    .map(|path| (path.display().to_string(), path)),
            )
            .collect();
    for (label, dockopt) in &builds {
        for (what, dir, args) in &runs {
            match instructions(dockopt, dir, args) {
                Ok(count) => println!("{label}  {what:<28}  {:>8.1}M instructions", count as f64 / 1e6),
                Err(why) => {
                    eprintln!("{why}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    ExitCode::SUCCESS
}
