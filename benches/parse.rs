//! Throughput of parse + model over the whole corpus, against the `parse-dockerfile` crate on the same files in the
//! same run. Run with `cargo bench --bench parse`. Neither builds tokens: dockopt's lossless tree builds them
//! when they are first asked for, which a rule check never does.
//!
//! Both parsers get the same in-memory files; runs alternate between them and the best of several rounds is
//! kept, which is the most stable figure on a noisy 2-core machine. dockopt builds its lossless tree and its model
//! in the same pass, so there is no figure for one without the other.

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

fn time(files: &[String], parse: impl Fn(&str) -> usize) -> Duration {
    let start = Instant::now();
    let mut sink = 0;
    for f in files {
        sink += parse(f);
    }
    black_box(sink);
    start.elapsed()
}

fn main() {
    let files = corpus_files();
    let bytes: usize = files.iter().map(String::len).sum();
    let rounds = std::env::var("BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(7);
    let dockopt = |s: &str| {
        let df = dockopt::syntax::model::Dockerfile::parse(s);
        df.statements.len() + df.tree.nodes.len()
    };
    let peer = |s: &str| parse_dockerfile::parse(s).map_or(0, |d| d.instructions.len());
    let (mut best_ours, mut best_peer) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        best_ours = best_ours.min(time(&files, dockopt));
        best_peer = best_peer.min(time(&files, peer));
    }
    let report = |name: &str, d: Duration| {
        let secs = d.as_secs_f64();
        println!(
            "{name:<18} {:>8.2} ms  {:>8.1} MB/s  {:>10.0} files/s",
            secs * 1e3,
            bytes as f64 / secs / 1e6,
            files.len() as f64 / secs
        );
    };
    println!("corpus: {} files, {:.1} MB, best of {rounds} rounds", files.len(), bytes as f64 / 1e6);
    report("dockopt", best_ours);
    report("parse-dockerfile", best_peer);
    println!("ratio: dockopt throughput = {:.2}x parse-dockerfile", best_peer.as_secs_f64() / best_ours.as_secs_f64());
}
