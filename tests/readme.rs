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
