//! The README describes what the code does: its rules table lists every rule with its name and safety, and its
//! example diff is what `dockopt fix --diff` prints for that example.

use dockopt::engine::finding::Safety;
use dockopt::transforms;
use std::process::Command;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

#[test]
fn rules_table_matches_the_rules() {
    let readme = readme();
    for rule in transforms::all() {
        let info = rule.info();
        let safety = match info.safety {
            Safety::Safe => "safe",
            Safety::Unsafe => "unsafe",
            Safety::ReportOnly => "report",
        };
        let row = format!("| {} | {} | {} |", info.code, info.name, safety);
        assert!(readme.contains(&row), "README rules table lacks `{row}`");
        assert!(info.doc.contains("Before:") && info.doc.contains("After:"), "{} doc needs a before/after", info.code);
    }
}

#[test]
fn example_diffs_are_what_dockopt_prints() {
    let readme = readme();
    let blocks: Vec<&str> = readme.split("```diff\n").skip(1).map(|b| &b[..b.find("```").unwrap()]).collect();
    assert!(blocks.len() >= 2, "the README shows the apt and the Flask diffs");
    for block in blocks {
        let path = block.lines().find_map(|l| l.strip_prefix("--- ")).expect("a diff header");
        let out = Command::new(env!("CARGO_BIN_EXE_dockopt"))
            .args(["fix", "--diff", path])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{path} has something to fix");
        assert_eq!(String::from_utf8(out.stdout).unwrap(), block, "{path}");
    }
}

#[test]
fn the_quick_start_prints_what_the_readme_says() {
    let readme = readme();
    let quick_start = &readme[readme.find("## Quick start").expect("a quick start")..];
    let commands = &quick_start[quick_start.find("```sh\n").unwrap() + 6..];
    let install_and_run = commands.lines().next().unwrap();
    let run = install_and_run.split(" && ").nth(1).expect("install && run");
    let args: Vec<&str> = run.strip_prefix("dockopt ").expect("a dockopt command").split_whitespace().collect();
    let shown = &quick_start[quick_start.find("```text\n").unwrap() + 8..];
    let shown = &shown[..shown.find("```").unwrap()];
    let out = Command::new(env!("CARGO_BIN_EXE_dockopt"))
        .args(&args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let printed = format!("{}{}", String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap());
    assert_eq!(printed, shown, "the README's quick start output");
}

#[test]
#[cfg_attr(not(dockopt_corpus), ignore = "needs the shared corpus (DOCKOPT_CORPUS, by default ../shared/corpus)")]
fn the_corpus_figures_are_what_the_walk_finds() {
    let readme = readme();
    let sentence = readme.find("files) the walk takes ").map(|at| &readme[at..]).expect("the walk's figures");
    let figure = |after: &str| -> usize {
        let rest = &sentence[sentence.find(after).unwrap() + after.len()..];
        rest.split_whitespace().next().unwrap().replace(',', "").parse().unwrap()
    };
    let corpus = std::env::var_os("DOCKOPT_CORPUS")
        .map_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"), Into::into);
    let out =
        Command::new(env!("CARGO_BIN_EXE_dockopt")).args(["check", "--show-files"]).arg(&corpus).output().unwrap();
    let listing = String::from_utf8(out.stdout).unwrap();
    let passed_over = listing.lines().filter(|l| l.contains(": passed over: ")).count();
    assert_eq!(
        (listing.lines().count() - passed_over, passed_over),
        (figure("the walk takes "), figure("passes over ")),
        "README: the walk's figures on the corpus"
    );
}

#[test]
fn the_readme_names_every_tool_manifests_first_knows() {
    let readme = readme();
    let rules = transforms::all();
    let doc = rules.iter().find(|r| r.info().code == "DO103").unwrap().info().doc;
    let tools = [
        "pip",
        "npm",
        "yarn",
        "pnpm",
        "go mod download",
        "bundler",
        "composer",
        "pipenv",
        "poetry install --no-root",
        "uv sync --no-install-project",
        "cargo fetch",
    ];
    let paragraph = &readme[readme.find("Manifests-first knows").expect("the manifests-first paragraph")..];
    let paragraph = &paragraph[..paragraph.find("\n\n").unwrap()];
    for tool in tools {
        assert!(doc.contains(tool), "DO103's documentation lacks {tool}");
        assert!(paragraph.contains(tool), "the README's manifests-first paragraph lacks {tool}");
    }
}
