//! Throughput of parse + model over the whole corpus, against the `parse-dockerfile` crate on the same files in the
//! same run. Run with `cargo bench --bench parse`. Neither builds tokens: dockopt's lossless tree builds them
//! when they are first asked for, which a rule check never does.
//!
//! Both parsers get the same in-memory files; runs alternate between them and the best of several rounds is
//! kept, which is the most stable figure on a noisy 2-core machine. dockopt builds its lossless tree and its model
//! in the same pass, so there is no figure for one without the other.
//!
//! Beside the whole corpus, the files parse-dockerfile accepts and those it rejects are timed apart: it gives up at
//! a file's first error, so on the 355 it rejects it reads a fraction of what dockopt reads.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

// The allocator the dockopt binary uses (src/main.rs), so the figure is the one users get; both parsers share it.
#[global_allocator]
static ALLOCATOR: dockopt::cli::allocator::Allocator = dockopt::cli::allocator::Allocator;

fn corpus_files() -> Vec<String> {
    let root = std::env::var_os("DOCKOPT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != "MANIFEST.tsv") {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    files.push(text);
                }
            }
        }
    }
    if files.is_empty() {
        eprintln!("no corpus at {}; set DOCKOPT_CORPUS", root.display());
        std::process::exit(2);
    }
    files
}

fn time(files: &[&str], parse: impl Fn(&str) -> usize) -> Duration {
    let start = Instant::now();
    let mut sink = 0;
    for f in files {
        sink += parse(f);
    }
    black_box(sink);
    start.elapsed()
}

/// The best time of each parser over `files`, alternating between them.
fn best_of(rounds: usize, files: &[&str], ours: impl Fn(&str) -> usize, peer: impl Fn(&str) -> usize) -> [Duration; 2] {
    let mut best = [Duration::MAX; 2];
    for _ in 0..rounds {
        best[0] = best[0].min(time(files, &ours));
        best[1] = best[1].min(time(files, &peer));
    }
    best
}

fn report(name: &str, files: &[&str], d: Duration) {
    let secs = d.as_secs_f64();
    let bytes: usize = files.iter().map(|f| f.len()).sum();
    println!(
        "{name:<18} {:>8.2} ms  {:>8.1} MB/s  {:>10.0} files/s",
        secs * 1e3,
        bytes as f64 / secs / 1e6,
        files.len() as f64 / secs
    );
}

fn main() {
    let files = corpus_files();
    let all: Vec<&str> = files.iter().map(String::as_str).collect();
    let rounds = std::env::var("BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(7);
    let dockopt = |s: &str| {
        let df = dockopt::syntax::model::Dockerfile::parse(s);
        df.statements.len() + df.tree.nodes.len()
    };
    let peer = |s: &str| parse_dockerfile::parse(s).map_or(0, |d| d.instructions.len());
    // parse-dockerfile stops at a file's first error, where dockopt reads on to the end, keeping every byte and
    // reporting every error: on the files it rejects the two do different work, so they are also timed apart.
    let (accepted, rejected): (Vec<&str>, Vec<&str>) = all.iter().partition(|f| parse_dockerfile::parse(f).is_ok());
    let bytes: usize = all.iter().map(|f| f.len()).sum();
    println!("corpus: {} files, {:.1} MB, best of {rounds} rounds", all.len(), bytes as f64 / 1e6);
    for (what, files) in
        [("every file", &all), ("files both parsers accept", &accepted), ("files parse-dockerfile rejects", &rejected)]
    {
        let [ours, theirs] = best_of(rounds, files, dockopt, peer);
        println!("{what}: {} files", files.len());
        report("  dockopt", files, ours);
        report("  parse-dockerfile", files, theirs);
        println!("  ratio: dockopt throughput = {:.2}x parse-dockerfile", theirs.as_secs_f64() / ours.as_secs_f64());
    }
}
