//! Time per instruction as one file grows: generated Dockerfiles of 1,000, 10,000 and 100,000 RUNs
//! (`RUN apt-get install -y pkgN`), and files of 1, 2, 5 and 10 MB made of one block of 1 MB of real RUN
//! instructions, taken from the corpus in order, written once, twice, five and ten times; and time per command as
//! one RUN grows, to 1,000, 10,000 and 100,000 commands that every cache rule has something to say about; and time
//! per stage as stages grow, to 1,000, 10,000 and 100,000 stages that name and copy from each other, or that each
//! build on the one before (with every fix and cache mounts); and one stage
//! of 1,000, 10,000 and 100,000 instructions that give every kind of rule work, with every fix and cache mounts, and
//! one of as many whose fixes take every round. Each goes through `dockopt check`, `dockopt fix` (on a fresh copy)
//! and `dockopt fix --diff`, as a user runs them. Linear work keeps the time per unit flat: the report gives, per
//! command and kind of file, the ratio of the largest file's time per unit to the smallest's, and each run's peak
//! memory. Run with `cargo bench --bench scaling`.
//!
//! Best of several rounds (`BENCH_ROUNDS`, default 3): these machines are noisy.

mod common;

use dockopt::syntax::model::{Dockerfile, Kind};
use std::io::{Read, Seek};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One generated file: its name, text, and how many of the units it is measured in (instructions, or commands)
/// it holds.
#[derive(Clone)]
struct Sample {
    name: String,
    text: String,
    units: usize,
}

fn generated(runs: usize) -> Sample {
    let mut text = String::from("FROM debian:12\n");
    for n in 0..runs {
        text.push_str(&format!("RUN apt-get install -y pkg{n}\n"));
    }
    Sample { name: format!("{runs} RUNs"), text, units: runs + 1 }
}

/// One RUN of `commands` commands on continuation lines, five to a line: an apt-get update and install, and
/// pip, npm and gem installs, each of which a cache rule reports.
fn one_run(commands: usize) -> Sample {
    let lines: Vec<String> = (0..commands / 5)
        .map(|n| {
            format!(
                "apt-get update && apt-get install -y a{n} && pip install p{n} && npm install n{n} && gem install g{n}"
            )
        })
        .collect();
    let text = format!("FROM debian:12\nRUN {}\n", lines.join(" && \\\n    "));
    Sample { name: format!("one RUN, {commands} commands"), text, units: commands }
}

/// `stages` stages, in pairs: a stage from an image that updates apt's lists and leaves them, and a stage built on
/// it that installs with them; then a final stage that copies from every one. Each FROM, each `COPY --from` and
/// each RUN that leaves the lists asks about the stages before it.
fn many_stages(stages: usize) -> Sample {
    let mut text = String::new();
    for n in 0..stages {
        if n % 2 == 0 {
            text.push_str(&format!("FROM debian:12 AS s{n}\nRUN apt-get update && apt-get install -y pkg{n}\n"));
        } else {
            text.push_str(&format!("FROM s{} AS s{n}\nRUN apt-get install -y pkg{n}\n", n - 1));
        }
    }
    text.push_str("FROM debian:12\n");
    for n in 0..stages {
        text.push_str(&format!("COPY --from=s{n} /usr/bin/pkg{n} /usr/bin/\n"));
    }
    Sample { name: format!("{stages} stages"), text, units: stages }
}

/// `stages` stages, each built on the one before, from a Go image with an ENV for pip: RUNs that update and install
/// with apt, install with pip or yarn and build with Go each ask about the stages up the chain.
fn stage_chain(stages: usize) -> Sample {
    let mut text = String::from("FROM golang:1.22 AS s0\nENV PIP_NO_CACHE_DIR=1\n");
    for n in 1..stages {
        let run = match n % 5 {
            0 => format!("apt-get update && apt-get install -y p{n}"),
            1 => format!("apt-get install -y p{n}"),
            2 => format!("pip install p{n}"),
            3 => format!("yarn add p{n}"),
            _ => format!("go build -o /bin/a{n} ."),
        };
        text.push_str(&format!("FROM s{} AS s{n}\nRUN {run}\n", n - 1));
    }
    Sample { name: format!("chain of {stages} stages"), text, units: stages }
}

/// `instructions` instructions in one stage, in blocks that each give a rule of every kind something to do: a
/// WORKDIR and a `COPY .` before an install, a USER, and apt, pip and apk installs, and a yarn 2 install, whose
/// settings and manifest the `COPY .` brings from the sample's directory ([`YARN_SETTINGS`], [`NODE_MANIFEST`]).
/// Measured with every fix and cache mounts, which ask about the statements before each RUN.
fn every_rule(instructions: usize) -> Sample {
    let mut text = String::from("FROM node:20\n");
    for n in 0..instructions / 9 {
        text.push_str(&format!(
            "WORKDIR /app/d{n}\nCOPY . .\nRUN npm install\nUSER root\nRUN apt-get update && apt-get install -y p{n}\n\
             RUN pip install p{n}\nRUN apk add p{n}\nENV V{n}=1\nRUN yarn install --immutable\n"
        ));
    }
    Sample { name: format!("{instructions} of every rule"), text, units: instructions / 9 * 9 + 1 }
}

/// One stage of `instructions` instructions whose safe fixes take every round: each `npm install` after `COPY . .`
/// that manifests-first moves ahead of it leaves the next one right after it, one a round. A round reads the whole
/// file, so these are the files whose fixes cost the most per instruction, in time and, while every round's reading
/// was kept until the last, in memory.
fn fixes_in_every_round(instructions: usize) -> Sample {
    let mut text = String::from("FROM node:20\nWORKDIR /app\nCOPY . .\n");
    text.push_str(&"RUN npm install\n".repeat(instructions - 3));
    Sample { name: format!("{instructions}, fixed every round"), text, units: instructions }
}

/// The `.yarnrc.yml` beside the samples, which every `COPY .` of [`every_rule`] brings to its yarn install.
const YARN_SETTINGS: &str = "nodeLinker: node-modules\nenableGlobalCache: true\n";

/// The `package.json` beside the samples, which makes each `npm install` of [`every_rule`] one that manifests-first
/// moves ahead of its `COPY .`: without it, a check that grew with the square of the file's ENVs went unseen.
const NODE_MANIFEST: &str = "{\"name\": \"sample\"}\n";

/// The corpus's RUN instructions, as written (continuations and all), in the order of a sorted walk.
fn corpus_runs(root: &Path) -> Vec<String> {
    let mut runs = Vec::new();
    for path in common::dockerfiles(root) {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let df = Dockerfile::parse(&text);
        // A RUN written for the backtick escape of Windows Dockerfiles reads differently after a plain FROM.
        if !df.errors.is_empty() || !df.build_errors.is_empty() || df.tree.escape != '\\' {
            continue;
        }
        for statement in df.statements.iter().filter(|s| s.instruction.kind == Kind::Run) {
            let run = text[statement.range.as_range()].trim_end();
            // Heredocs end where their terminator does, past the instruction's own range: left out.
            if df.heredocs(statement).is_empty() {
                runs.push(format!("{run}\n"));
            }
        }
    }
    runs
}

/// A file of one FROM and `megabytes` times the same 1 MB of corpus RUNs. Every size holds the same mix of RUNs:
/// taking more of the corpus for a larger file took longer RUNs from later in it (172 bytes each in 10 MB against
/// 128 in 1 MB), and the time per instruction grew with them rather than with the file.
fn from_corpus(runs: &[String], megabytes: usize) -> Sample {
    let mut block = String::new();
    let mut block_instructions = 0;
    for run in runs.iter().cycle() {
        if block.len() >= 1 << 20 {
            break;
        }
        block.push_str(run);
        block_instructions += 1;
    }
    let text = format!("FROM debian:12\n{}", block.repeat(megabytes));
    Sample { name: format!("{megabytes} MB of corpus RUNs"), text, units: 1 + block_instructions * megabytes }
}

/// One run's wall time and peak resident memory in kB.
fn run(program: &str, args: &[&str]) -> (Duration, u64) {
    // Standard error goes to a file: a pipe nobody reads while the child runs would fill up and stall it.
    let stderr_file = tempfile::tempfile().expect("temporary file");
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(stderr_file.try_clone().expect("temporary file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let peak_kb = common::wait_sampling_peak(&mut child);
    let wall = start.elapsed();
    let status = child.wait().expect("child status");
    if status.code().is_none_or(|c| c > 1) {
        let mut stderr = String::new();
        let mut file = stderr_file;
        let _ = file.seek(std::io::SeekFrom::Start(0)).and_then(|_| file.read_to_string(&mut stderr));
        panic!("{program} {args:?} failed: {status}\n{stderr}");
    }
    (wall, peak_kb)
}

/// A quiet run of `command` with `options` on `path`, findings or not.
fn arguments<'a>(command: &[&'a str], options: &[&'a str], path: &'a str) -> Vec<&'a str> {
    [command, options, &["-q", "--exit-zero", path]].concat()
}

/// Best time of `rounds` of one command on `path`, with `options` (`--unsafe-fixes` goes to `fix` only), and the
/// highest peak of memory in kB; `fix` gets a fresh copy of the file each time.
fn measure(dockopt: &str, rounds: usize, command: &str, options: &[&str], path: &Path, text: &str) -> (Duration, u64) {
    let path_arg = path.to_str().expect("UTF-8 temporary path");
    let check_options: Vec<&str> = options.iter().copied().filter(|o| *o != "--unsafe-fixes").collect();
    (0..rounds)
        .map(|_| match command {
            "check" => run(dockopt, &arguments(&["check"], &check_options, path_arg)),
            "fix" => {
                std::fs::write(path, text).expect("write the sample");
                run(dockopt, &arguments(&["fix"], options, path_arg))
            }
            "fix --diff" => run(dockopt, &arguments(&["fix", "--diff"], options, path_arg)),
            other => unreachable!("no command {other}"),
        })
        .fold((Duration::MAX, 0), |(best, peak), (wall, kb)| (best.min(wall), peak.max(kb)))
}

fn main() {
    let dockopt = env!("CARGO_BIN_EXE_dockopt");
    let rounds = std::env::var("BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let corpus = common::corpus_root();
    let scratch = tempfile::tempdir().expect("temporary directory");
    std::fs::write(scratch.path().join(".yarnrc.yml"), YARN_SETTINGS).expect("write the yarn settings");
    std::fs::write(scratch.path().join("package.json"), NODE_MANIFEST).expect("write the manifest");
    let every_fix: &[&str] = &["--unsafe-fixes", "--cache-mounts"];
    let mut kinds = vec![
        ("generated", "instruction", &[][..], [1_000, 10_000, 100_000].map(generated).to_vec()),
        ("one RUN", "command", &[], [1_000, 10_000, 100_000].map(one_run).to_vec()),
        ("stages", "stage", &[], [1_000, 10_000, 100_000].map(many_stages).to_vec()),
        ("stage chain", "stage", every_fix, [1_000, 10_000, 100_000].map(stage_chain).to_vec()),
        ("every rule", "instruction", every_fix, [1_000, 10_000, 100_000].map(every_rule).to_vec()),
        ("every round", "instruction", &[], [1_000, 10_000, 100_000].map(fixes_in_every_round).to_vec()),
    ];
    if corpus.is_dir() {
        let runs = corpus_runs(&corpus);
        kinds.push(("corpus RUNs", "instruction", &[], [1, 2, 5, 10].map(|mb| from_corpus(&runs, mb)).to_vec()));
    } else {
        println!("no corpus at {} (set DOCKOPT_CORPUS): generated files only", corpus.display());
    }
    println!("best of {rounds} rounds");
    for (kind, unit, options, samples) in &kinds {
        for command in ["check", "fix", "fix --diff"] {
            let mut per_unit = Vec::new();
            for sample in samples {
                let path = scratch.path().join("Dockerfile");
                std::fs::write(&path, &sample.text).expect("write the sample");
                let (wall, peak_kb) = measure(dockopt, rounds, command, options, &path, &sample.text);
                let micros = wall.as_secs_f64() * 1e6 / sample.units as f64;
                per_unit.push(micros);
                println!(
                    "{command:<10} {:<26} {:>8} {unit}s {:>6.1} MB {:>8.3} s {:>7.2} µs/{unit} {:>7.1} MB peak",
                    sample.name,
                    sample.units,
                    sample.text.len() as f64 / (1 << 20) as f64,
                    wall.as_secs_f64(),
                    micros,
                    peak_kb as f64 / 1024.0
                );
            }
            let smallest = per_unit.first().copied().unwrap_or(1.0);
            let largest = per_unit.last().copied().unwrap_or(1.0);
            println!("{command:<10} {kind}: largest / smallest time per {unit} = {:.2}", largest / smallest);
        }
    }
}
