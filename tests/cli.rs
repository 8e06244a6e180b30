//! The `dockopt` binary as users run it.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

fn dockopt(args: &[&str], stdin: &[u8]) -> Output {
    dockopt_in(Path::new("."), args, stdin)
}

fn dockopt_in(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dockopt"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dockopt runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn parse_prints_the_model_as_json() {
    let out = dockopt(&["parse", "-"], b"FROM alpine AS base\nRUN --mount=type=cache,target=/x apk add curl\n");
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["file"], "-");
    assert_eq!(json["ok"], true);
    let run = &json["instructions"][1];
    assert_eq!(run["cmd"], "RUN");
    assert_eq!(run["flags"][0], "--mount=type=cache,target=/x");
    assert_eq!(run["value"][0], "apk add curl");
    assert_eq!(run["value_ranges"][0], serde_json::json!([53, 65]));
    assert_eq!(json["stages"][0]["name"], "base");
}

#[test]
fn parse_cst_tokens_spell_the_input() {
    let input = "\u{feff}# escape=`\r\nFROM a\r\nRUN b `\r\n  # c\r\n  d\r\nRUN <<EOF\r\nx\r\nEOF\r\n";
    let out = dockopt(&["parse", "--cst", "-"], input.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut text = String::new();
    for node in json["nodes"].as_array().unwrap() {
        for token in node["tokens"].as_array().unwrap() {
            text.push_str(token["text"].as_str().unwrap());
        }
    }
    assert_eq!(text, input);
}

#[test]
fn parse_reports_buildkit_errors_with_a_location() {
    let out = dockopt(&["parse", "-"], b"FROM a\nENV novalue\n");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("-:2:1: error: ENV must have two arguments\n  help: "), "{stderr}");
}

#[test]
fn parse_refuses_non_utf8_and_goes_on() {
    let scratch = scratch_dir("cli");
    let dir = scratch.path();
    let bad = dir.join("bad.Dockerfile");
    let good = dir.join("good.Dockerfile");
    std::fs::write(&bad, b"FROM a\nRUN echo \xff\n").unwrap();
    std::fs::write(&good, b"FROM a\n").unwrap();
    let out = dockopt(&["parse", bad.to_str().unwrap(), good.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("bad.Dockerfile:2:10: error: invalid UTF-8 (byte 0xff)"), "{stderr}");
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1, "the good file is still parsed");
}

#[test]
fn parse_buildkit_format_matches_buildkit_dump() {
    let out = dockopt(&["parse", "--format", "buildkit", "-"], b"FROM a\nENV x=1\nONBUILD RUN b\n");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "(from \"a\")\n(env \"x\" \"1\" \"=\")\n(onbuild (run \"b\"))\n"
    );
}

/// A fresh copy of the monorepo fixture, plus a git-ignored Dockerfile (which git would not have committed), in a
/// directory that is removed when the test ends, however it ends.
fn monorepo(name: &str) -> TempDir {
    let scratch = scratch_dir(name);
    let dir = scratch.path();
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/monorepo"), dir);
    std::fs::create_dir_all(dir.join("ignored")).unwrap();
    std::fs::write(dir.join("ignored/Dockerfile"), "FROM alpine:3.20\nRUN apk add curl\n").unwrap();
    scratch
}

/// An empty temporary directory, removed when dropped.
fn scratch_dir(name: &str) -> TempDir {
    tempfile::Builder::new().prefix(&format!("dockopt-{name}-")).tempdir().unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Exit status, standard output and standard error, for a snapshot.
fn shown(out: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn snapshot(name: &str, value: String) {
    common::snapshot_settings().bind(|| insta::assert_snapshot!(name, value));
}

#[test]
fn check_text_walks_the_monorepo() {
    let scratch = monorepo("check-text");
    let dir = scratch.path();
    snapshot("cli_check_text", shown(&dockopt_in(dir, &["check"], b"")));
}

#[test]
fn check_json() {
    let scratch = monorepo("check-json");
    let dir = scratch.path();
    let mut out = dockopt_in(dir, &["check", "--format", "json"], b"");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the report is one JSON document");
    out.stdout = serde_json::to_vec_pretty(&json).unwrap();
    out.stdout.push(b'\n');
    snapshot("cli_check_json", shown(&out));
}

#[test]
fn check_github() {
    let scratch = monorepo("check-github");
    let dir = scratch.path();
    snapshot("cli_check_github", shown(&dockopt_in(dir, &["check", "--format", "github"], b"")));
}

#[test]
fn check_statistics() {
    let scratch = monorepo("check-statistics");
    let dir = scratch.path();
    snapshot("cli_check_statistics", shown(&dockopt_in(dir, &["check", "--statistics"], b"")));
}

#[test]
fn check_sarif_validates_against_the_sarif_schema() {
    let scratch = monorepo("check-sarif");
    let dir = scratch.path();
    let out = dockopt_in(dir, &["check", "--format", "sarif"], b"");
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema: serde_json::Value = serde_json::from_str(include_str!("schemas/sarif-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&sarif).map(|e| format!("{} at {}", e, e.instance_path)).collect();
    assert!(errors.is_empty(), "SARIF does not validate: {errors:#?}");
    assert!(sarif["runs"][0]["results"].as_array().unwrap().iter().any(|r| r.get("fixes").is_some()));
    // The rules' full documentation makes the snapshot long; the results are what matter here.
    let results = serde_json::to_string_pretty(&sarif["runs"][0]["results"]).unwrap();
    snapshot("cli_check_sarif_results", results);
}

/// The schema errors of `document` against the schema file under tests/schemas.
fn schema_errors(schema_file: &str, document: &serde_json::Value) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas").join(schema_file);
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator.iter_errors(document).map(|e| format!("{} at {}", e, e.instance_path)).collect()
}

#[test]
fn rdjson_validates_against_reviewdogs_schema_and_carries_the_safe_fixes() {
    let scratch = monorepo("check-rdjson");
    let dir = scratch.path();
    let out = dockopt_in(dir, &["check", "--format", "rdjson"], b"");
    let rdjson: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = schema_errors("rdjson-DiagnosticResult.json", &rdjson);
    assert!(errors.is_empty(), "rdjson does not validate: {errors:#?}");
    let diagnostics = rdjson["diagnostics"].as_array().unwrap();
    let pip = diagnostics.iter().find(|d| d["code"]["value"] == "DO205").expect("the pip finding");
    assert_eq!(pip["location"]["path"], "./legacy/Dockerfile.old");
    assert_eq!(
        pip["suggestions"][0],
        serde_json::json!({"range": {"start": {"line": 2, "column": 16}, "end": {"line": 2, "column": 16}}, "text": " --no-cache-dir"})
    );
    assert!(diagnostics.iter().any(|d| d["severity"] == "INFO"), "advice is INFO");

    // With --diff, each diagnostic replaces whole lines with what fix would write.
    let out = dockopt_in(dir, &["fix", "--diff", "--format", "rdjson", "services/api/Dockerfile"], b"");
    let rdjson: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(schema_errors("rdjson-DiagnosticResult.json", &rdjson).is_empty());
    let hunk = &rdjson["diagnostics"][0];
    assert_eq!(hunk["suggestions"][0]["range"]["start"], serde_json::json!({"line": 2, "column": 1}));
    assert_eq!(hunk["suggestions"][0]["range"]["end"], serde_json::json!({"line": 4, "column": 1}));
    assert_eq!(
        hunk["suggestions"][0]["text"],
        "RUN apt-get update \\\n && apt-get install -y --no-install-recommends curl \\\n && rm -rf /var/lib/apt/lists/*\n"
    );
    assert!(hunk["message"].as_str().unwrap().contains("DO101, DO201"), "{hunk}");
}

#[test]
fn gitlab_code_quality_validates_against_gitlabs_format() {
    let scratch = monorepo("check-gitlab");
    let dir = scratch.path();
    let out = dockopt_in(dir, &["check", "--format", "gitlab"], b"");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = schema_errors("gitlab-code-quality.json", &report);
    assert!(errors.is_empty(), "the GitLab report does not validate: {errors:#?}");
    let issues = report.as_array().unwrap();
    assert_eq!(issues.len(), 5);
    let fingerprints: std::collections::HashSet<&str> =
        issues.iter().map(|i| i["fingerprint"].as_str().unwrap()).collect();
    assert_eq!(fingerprints.len(), issues.len(), "fingerprints are unique");
    assert!(issues.iter().any(|i| i["severity"] == "info" && i["check_name"] == "DO301"));
}

#[test]
fn diff_as_json_gives_the_changed_lines_and_refuses_what_it_cannot_show() {
    let scratch = monorepo("diff-json");
    let dir = scratch.path();
    let out = dockopt_in(dir, &["fix", "--diff", "--format", "json", "services/api/Dockerfile"], b"");
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = &json["files"][0];
    assert_eq!(file["applied"], serde_json::json!({"DO101": 1, "DO201": 1}));
    assert_eq!(file["hunks"][0]["start_line"], 2);
    assert_eq!(file["hunks"][0]["end_line"], 3);
    assert_eq!(file["hunks"][0]["rules"], serde_json::json!(["DO101", "DO201"]));
    let before = std::fs::read_to_string(dir.join("services/api/Dockerfile")).unwrap();
    let (start, end) = (file["hunks"][0]["range"][0].as_u64().unwrap(), file["hunks"][0]["range"][1].as_u64().unwrap());
    let applied = format!(
        "{}{}{}",
        &before[..start as usize],
        file["hunks"][0]["content"].as_str().unwrap(),
        &before[end as usize..]
    );
    let fixed = dockopt_in(dir, &["fix", "-"], before.as_bytes());
    assert_eq!(applied, String::from_utf8(fixed.stdout).unwrap(), "the hunk gives the fixed file");

    let statistics = dockopt_in(dir, &["check", "--statistics", "--format", "json"], b"");
    let statistics: serde_json::Value = serde_json::from_slice(&statistics.stdout).unwrap();
    assert_eq!(statistics["rules"][0]["fix"], "safe");
    for (args, says) in [
        (&["fix", "--diff", "--format", "sarif"][..], "--diff prints a unified diff, or the changes as json or rdjson"),
        (&["fix", "--diff", "--statistics"], "--statistics counts findings and --diff shows changes"),
        (&["check", "--statistics", "--format", "sarif"], "--statistics prints text or json"),
        (&["check", "-q", "--format", "json"], "--quiet leaves only the text summary"),
    ] {
        let out = dockopt_in(dir, args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(says), "{args:?}: {}", shown(&out));
    }
}

#[test]
fn diffs_count_lines_as_patch_does_a_lone_carriage_return_ends_none() {
    // BuildKit, git and patch end lines at `\n` only: a comment holding lone `\r`s is one line to all of them.
    let scratch = scratch_dir("lone-cr");
    let dir = scratch.path();
    let before = "FROM debian:12\n# a\rb\rc\n# x\nRUN apt-get update\nRUN apt-get install -y curl\n";
    std::fs::write(dir.join("Dockerfile"), before).unwrap();
    let fixed = String::from_utf8(dockopt_in(dir, &["fix", "-"], before.as_bytes()).stdout).unwrap();
    assert!(fixed.contains("&& apt-get install -y curl"), "{fixed}");

    let out = dockopt_in(dir, &["fix", "--diff", "Dockerfile"], b"");
    let diff = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{diff}");
    assert!(diff.contains("@@ -1,5 +1,6 @@\n FROM debian:12\n # a\rb\rc\n # x\n-RUN apt-get update\n"), "{diff:?}");

    for format in ["json", "rdjson"] {
        let out = dockopt_in(dir, &["fix", "--diff", "--format", format, "Dockerfile"], b"");
        assert_eq!(out.status.code(), Some(1), "--format {format}: {}", shown(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("a document");
    }
    let out = dockopt_in(dir, &["fix", "--diff", "--format", "json", "Dockerfile"], b"");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hunk = &json["files"][0]["hunks"][0];
    assert_eq!((&hunk["start_line"], &hunk["end_line"]), (&serde_json::json!(4), &serde_json::json!(5)));
    let (start, end) = (hunk["range"][0].as_u64().unwrap() as usize, hunk["range"][1].as_u64().unwrap() as usize);
    let applied = format!("{}{}{}", &before[..start], hunk["content"].as_str().unwrap(), &before[end..]);
    assert_eq!(applied, fixed, "the hunk gives the fixed file");

    // A last line that ends in a lone `\r` has no line end: the diff says so, or `patch` refuses it.
    std::fs::write(dir.join("Dockerfile"), "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\r")
        .unwrap();
    let diff = String::from_utf8(dockopt_in(dir, &["fix", "--diff", "Dockerfile"], b"").stdout).unwrap();
    assert!(diff.contains("-RUN apt-get install -y curl\r\n\\ No newline at end of file\n+RUN"), "{diff:?}");
    assert!(diff.ends_with("/var/lib/apt/lists/*\r\n\\ No newline at end of file\n"), "{diff:?}");
}

#[test]
fn quiet_prints_the_summary_only() {
    let scratch = monorepo("quiet");
    let dir = scratch.path();
    for args in [&["check", "-q"][..], &["fix", "--diff", "-q"], &["fix", "--quiet"]] {
        let out = dockopt_in(dir, args, b"");
        assert!(out.stdout.is_empty(), "{args:?}: {}", shown(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("4 files checked, 3 "), "{args:?}: {stderr}");
        assert!(stderr.contains("DO101 ×1, DO201 ×1, DO205 ×1, DO206 ×1"), "{args:?}: {stderr}");
    }
}

#[test]
fn paths_that_overlap_check_each_file_once() {
    let scratch = monorepo("overlap");
    let args = ["check", "-q", ".", "./services", "./services/api/Dockerfile"];
    let stderr = String::from_utf8(dockopt_in(scratch.path(), &args, b"").stderr).unwrap();
    assert!(stderr.starts_with("4 files checked, 3 "), "{stderr}");
    let stderr = String::from_utf8(dockopt_in(scratch.path(), &["check", "-q", "."], b"").stderr).unwrap();
    assert!(stderr.starts_with("4 files checked, 3 "), "{stderr}");
}

#[test]
fn the_walk_takes_dashed_names_and_shows_what_it_passes_over() {
    let scratch = monorepo("walk-names");
    let dir = scratch.path();
    for name in ["Dockerfile-dev", "Dockerfile_prod", "Dockerfile_amd64"] {
        std::fs::write(dir.join("tools").join(name), "FROM alpine:3.20\nUSER nobody\n").unwrap();
    }
    std::fs::write(dir.join("tools/dockerfile"), "FROM alpine:3.20\n").unwrap();
    let out = dockopt_in(dir, &["check", "--show-files"], b"");
    assert_eq!(out.status.code(), Some(0));
    let listing = String::from_utf8(out.stdout).unwrap();
    for taken in ["./tools/Dockerfile-dev\n", "./tools/Dockerfile_prod\n", "./tools/Dockerfile_amd64\n"] {
        assert!(listing.contains(taken), "{listing}");
    }
    assert!(listing.contains("./tools/Dockerfile.j2: passed over: a template input"), "{listing}");
    assert!(listing.contains("./tools/dockerfile: passed over: not a Dockerfile name"), "{listing}");
    let out = dockopt_in(dir, &["check"], b"");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not checked: 2 passed over by the walk"), "{}", shown(&out));
}

#[test]
fn fix_select_applies_exactly_that_rules_fixes() {
    let scratch = monorepo("select-one");
    let dir = scratch.path();
    let out = dockopt_in(dir, &["fix", "--select", "DO101"], b"");
    assert!(String::from_utf8_lossy(&out.stderr).contains("fixes applied: DO101 ×1\n"), "{}", shown(&out));
    let api = std::fs::read_to_string(dir.join("services/api/Dockerfile")).unwrap();
    assert!(api.contains("apt-get update \\\n && apt-get install") && !api.contains("rm -rf"), "{api}");
    assert!(!std::fs::read_to_string(dir.join("legacy/Dockerfile.old")).unwrap().contains("--no-cache-dir"));
}

#[test]
fn no_progress_bar_unless_both_streams_are_a_terminal() {
    // Here standard output and standard error are pipes: nothing but the summary reaches standard error.
    let scratch = monorepo("progress");
    let dir = scratch.path();
    let out = dockopt_in(dir, &["fix", "-q"], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains('\r') && !stderr.contains("\x1b[") && !stderr.contains("files, "), "{stderr:?}");
}

#[test]
fn hidden_and_ignored_files_are_skipped_unless_asked() {
    let scratch = monorepo("discovery");
    let dir = scratch.path();
    let listed = |args: &[&str]| -> Vec<String> {
        let out = dockopt_in(dir, args, b"");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(
        listed(&["check", "--format", "json"]),
        [
            "./legacy/Dockerfile.old",
            "./services/api/Dockerfile",
            "./services/web/web.Dockerfile",
            "./tools/Containerfile"
        ]
    );
    assert!(listed(&["check", "--format", "json", "--hidden"]).contains(&"./.hidden/Dockerfile".to_string()));
    assert_eq!(
        listed(&["check", "--format", "json", "--exclude", "services/**", "--exclude", "legacy"]),
        ["./tools/Containerfile"]
    );
    // Named explicitly, a file is checked even when ignored, hidden or excluded.
    assert_eq!(
        listed(&["check", "--format", "json", "--exclude", "ignored/**", "ignored/Dockerfile", ".hidden/Dockerfile"]),
        [".hidden/Dockerfile", "ignored/Dockerfile"]
    );
    // A template is no Dockerfile until rendered, so the walk passes over `tools/Dockerfile.j2`; named, it is read.
    let named = dockopt_in(dir, &["check", "tools/Dockerfile.j2"], b"");
    assert_eq!(named.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&named.stderr).contains("tools/Dockerfile.j2:2:1: error: unknown instruction: {%"));
}

#[test]
fn exit_statuses() {
    // `-` reads the Dockerfile from standard input; its configuration is the monorepo's (DO304 ignored).
    const WARNING: &[u8] = b"FROM alpine:3.20\nRUN apk add curl\nUSER nobody\n";
    const ADVICE_ONLY: &[u8] = b"FROM alpine:3.20\nRUN apk add --no-cache curl\n";
    const UNSAFE_LEFT: &[u8] = b"FROM debian:12\nRUN apt-get update && apt-get install -y curl \\\n && rm -rf /var/lib/apt/lists/*\nUSER nobody\n";
    const BROKEN: &[u8] = b"FROM a:1\nENV x\n";
    let table: &[(&[&str], &[u8], i32, &str)] = &[
        (&["check", "tools/Containerfile"], b"", 0, "check: nothing found"),
        (&["check", "-"], WARNING, 1, "check: a warning fails"),
        (&["check", "--exit-zero", "-"], WARNING, 0, "check: --exit-zero"),
        (&["check", "-"], ADVICE_ONLY, 0, "check: advice alone does not fail"),
        (&["check", "--fail-on-advice", "-"], ADVICE_ONLY, 1, "check: unless asked"),
        (&["check", "-"], BROKEN, 2, "check: a parse error"),
        (&["check", "--exit-zero", "-"], BROKEN, 2, "check: errors are not findings"),
        (&["check", "--frobnicate"], b"", 2, "usage error"),
        (&["check", "--select", "DO999"], b"", 2, "a selector that names no rule"),
        (&["check", "missing/Dockerfile"], b"", 2, "unreadable"),
        (&["fix", "--diff", "-"], WARNING, 1, "diff: would change"),
        (&["fix", "--diff", "-"], ADVICE_ONLY, 0, "diff: nothing to change, advice left"),
        (&["fix", "-"], WARNING, 0, "fix: everything fixed"),
        (&["fix", "-"], ADVICE_ONLY, 0, "fix: advice left does not fail"),
        (&["fix", "--fail-on-advice", "-"], ADVICE_ONLY, 1, "fix: unless asked"),
        (&["fix", "-"], UNSAFE_LEFT, 1, "fix: a warning left (an unsafe fix not taken) fails"),
        (&["fix", "--unsafe-fixes", "-"], UNSAFE_LEFT, 0, "fix: which --unsafe-fixes applies"),
        (&["fix", "--exit-zero", "-"], UNSAFE_LEFT, 0, "fix: the pre-commit hook's --exit-zero"),
        (&["fix", "-"], BROKEN, 2, "fix: a parse error"),
    ];
    let scratch = monorepo("exit-statuses");
    let dir = scratch.path();
    let mut wrong = Vec::new();
    for (args, stdin, expected, why) in table {
        let out = dockopt_in(dir, args, stdin);
        if out.status.code() != Some(*expected) {
            wrong.push(format!("{why}: {args:?} exited {:?}, not {expected}\n{}", out.status.code(), shown(&out)));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_pre_commit_hook_passes_on_a_file_it_has_fixed() {
    let hooks = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml")).unwrap();
    let entry = hooks.lines().find_map(|l| l.trim().strip_prefix("entry: dockopt fix")).expect("the dockopt-fix hook");
    let scratch = monorepo("pre-commit");
    let dir = scratch.path();
    let file = "services/api/Dockerfile";
    let hook: Vec<&str> = ["fix"].into_iter().chain(entry.split_whitespace()).chain([file]).collect();
    let first = dockopt_in(dir, &hook, b"");
    assert_eq!(first.status.code(), Some(0), "{}", shown(&first));
    let fixed = std::fs::read_to_string(dir.join(file)).unwrap();
    let second = dockopt_in(dir, &hook, b"");
    assert_eq!(second.status.code(), Some(0), "{}", shown(&second));
    assert_eq!(std::fs::read_to_string(dir.join(file)).unwrap(), fixed, "the second run changes nothing");
}

#[test]
fn a_typo_in_the_configuration_select_is_an_error_at_its_place() {
    let scratch = monorepo("config-typo");
    let dir = scratch.path();
    std::fs::write(dir.join("tools/dockopt.toml"), "# tools\nselect = [\"DO2\", \"DO999\"]\n").unwrap();
    let out = dockopt_in(dir, &["check", "tools/Containerfile"], b"");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tools/dockopt.toml:2:18: error: `DO999` names no rule"), "{stderr}");
    let out = dockopt_in(dir, &["check", "--config", "nope.toml", "tools/Containerfile"], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nope.toml: error: cannot read the configuration"), "{stderr}");
    assert!(stderr.contains("help: check the path"), "{stderr}");
}

#[test]
fn a_missing_file_is_an_error_not_a_file_checked() {
    let out = dockopt(&["check", "nope/Dockerfile"], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("nope/Dockerfile: error: cannot read: No such file"), "{stderr}");
    assert!(stderr.contains("0 files checked"), "{stderr}");
    assert!(stderr.contains("not checked: 1 could not be read"), "{stderr}");
}

#[test]
fn no_command_panics_on_a_closed_pipe() {
    for args in [&["rule", "DO103"][..], &["rules"], &["check", "tests/fixtures/monorepo"], &["--help"]] {
        for _ in 0..10 {
            let mut child = Command::new(env!("CARGO_BIN_EXE_dockopt"))
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // Read one byte, then close the pipe, as `| head -c 1` does.
            let mut stdout = child.stdout.take().unwrap();
            let _ = std::io::Read::read(&mut stdout, &mut [0u8; 1]);
            drop(stdout);
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
            assert!(out.status.code().is_some_and(|c| c == 0 || c == 1), "{args:?}: {:?} {stderr}", out.status);
        }
    }
}

#[test]
fn fix_diff_writes_nothing_and_prints_in_path_order() {
    let scratch = monorepo("diff");
    let dir = scratch.path();
    let before = std::fs::read_to_string(dir.join("services/api/Dockerfile")).unwrap();
    let out = dockopt_in(dir, &["fix", "--diff"], b"");
    assert_eq!(std::fs::read_to_string(dir.join("services/api/Dockerfile")).unwrap(), before);
    snapshot("cli_fix_diff", shown(&out));
}

#[test]
fn fix_rewrites_in_place_keeps_permissions_and_leaves_clean_files() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = monorepo("fix");
    let dir = scratch.path();
    let api = dir.join("services/api/Dockerfile");
    std::fs::set_permissions(&api, std::fs::Permissions::from_mode(0o640)).unwrap();
    let clean = dir.join("tools/Containerfile");
    let clean_mtime = std::fs::metadata(&clean).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = dockopt_in(dir, &["fix"], b"");
    snapshot("cli_fix", shown(&out));
    assert_eq!(
        std::fs::read_to_string(&api).unwrap(),
        "FROM debian:12.6\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends curl \\\n && rm -rf /var/lib/apt/lists/*\nUSER nobody\n"
    );
    assert_eq!(std::fs::metadata(&api).unwrap().permissions().mode() & 0o777, 0o640);
    assert_eq!(std::fs::metadata(&clean).unwrap().modified().unwrap(), clean_mtime, "a clean file is not rewritten");
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.join("services/api")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "no temporary file is left behind: {leftovers:?}");
}

#[test]
fn fix_in_more_directories_than_are_synced_one_by_one_writes_every_file() {
    // Past 32 directories the renames are made durable with one syncfs per file system instead of an fsync per
    // directory: every file is still replaced, and nothing is reported as failing.
    let scratch = scratch_dir("many-dirs");
    let dir = scratch.path();
    let before = "FROM alpine:3.20\nRUN apk add curl\nUSER nobody\n";
    for k in 0..40 {
        std::fs::create_dir_all(dir.join(format!("service{k}"))).unwrap();
        std::fs::write(dir.join(format!("service{k}/Dockerfile")), before).unwrap();
    }
    let out = dockopt_in(dir, &["fix", "-q"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    for k in 0..40 {
        let after = std::fs::read_to_string(dir.join(format!("service{k}/Dockerfile"))).unwrap();
        assert_eq!(after, "FROM alpine:3.20\nRUN apk add --no-cache curl\nUSER nobody\n");
    }
}

#[test]
fn fix_reads_stdin_and_writes_stdout() {
    let out = dockopt(&["fix", "-"], b"FROM debian:12.6\nRUN apt-get update\nRUN apt-get install -y curl\nUSER app\n");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "FROM debian:12.6\nRUN apt-get update \\\n && apt-get install -y curl \\\n && rm -rf /var/lib/apt/lists/*\nUSER app\n"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("DO202"), "remaining findings go to standard error: {stderr}");
}

#[test]
fn read_only_files_and_bad_files_do_not_stop_the_others() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = monorepo("read-only");
    let dir = scratch.path();
    let api = dir.join("services/api/Dockerfile");
    std::fs::set_permissions(&api, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::write(dir.join("tools/bad.Dockerfile"), b"FROM alpine:3.20\nRUN echo \xff\n").unwrap();
    let out = dockopt_in(dir, &["fix"], b"");
    snapshot("cli_fix_read_only_and_non_utf8", shown(&out));
    assert!(std::fs::read_to_string(dir.join("services/web/web.Dockerfile"))
        .unwrap()
        .contains("npm cache clean --force"));
    assert!(!std::fs::read_to_string(&api).unwrap().contains("&&"), "the read-only file is left alone");
}

#[test]
fn reports_and_errors_on_one_stream_keep_the_order_of_the_files() {
    // Standard output is written in batches; what goes to standard error must still land between the files it
    // came between when both streams are one pipe.
    let scratch = scratch_dir("interleaved");
    let dir = scratch.path();
    for (name, text) in [
        ("a", "FROM alpine:3.20\nRUN a\nRUN b\n"),
        ("b", "FROM alpine:3.20\nRUNN x\n"),
        ("c", "FROM alpine:3.20\nRUN c\nRUN d\n"),
    ] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("Dockerfile"), text).unwrap();
    }
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("'{}' check a/Dockerfile b/Dockerfile c/Dockerfile 2>&1", env!("CARGO_BIN_EXE_dockopt")))
        .current_dir(dir)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("no {needle:?} in:\n{text}"));
    assert!(at("a/Dockerfile:3:1: DO101") < at("b/Dockerfile:2:1: error"), "{text}");
    assert!(at("b/Dockerfile:2:1: error") < at("c/Dockerfile:3:1: DO101"), "{text}");
    assert!(at("c/Dockerfile:3:1: DO101") < at("2 files checked"), "{text}");
}

#[test]
fn configuration_discovery_and_precedence() {
    let scratch = monorepo("config");
    let dir = scratch.path();
    let codes_in = |cwd: &Path, args: &[&str]| -> Vec<String> {
        let out = dockopt_in(cwd, args, b"");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let mut codes: Vec<String> = json["files"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|f| f["findings"].as_array().unwrap().iter().map(|x| x["code"].as_str().unwrap().to_string()))
            .collect();
        codes.sort();
        codes.dedup();
        codes
    };
    let codes = |args: &[&str]| codes_in(dir, args);
    // The root config ignores DO304; services/web/.dockopt.toml selects only DO2xx there.
    assert_eq!(codes(&["check", "--format", "json", "legacy/Dockerfile.old"]), ["DO205", "DO301"]);
    // The same from below the root config, which is then found above the working directory.
    assert_eq!(codes_in(&dir.join("legacy"), &["check", "--format", "json", "Dockerfile.old"]), ["DO205", "DO301"]);
    assert_eq!(codes_in(&dir.join("services/web"), &["check", "--format", "json", "."]), ["DO206"]);
    assert_eq!(codes(&["check", "--format", "json", "services/web/web.Dockerfile"]), ["DO206"]);
    // The command line wins over the file.
    assert_eq!(codes(&["check", "--format", "json", "--select", "DO304", "legacy/Dockerfile.old"]), ["DO304"]);
    assert_eq!(
        codes(&["check", "--format", "json", "--ignore", "pip-no-cache-dir", "legacy/Dockerfile.old"]),
        ["DO301"]
    );
    // pyproject.toml's [tool.dockopt], nearer than the root config.
    std::fs::write(
        dir.join("legacy/pyproject.toml"),
        "[project]\nname = \"x\"\n[tool.dockopt]\nselect = [\"DO304\"]\n",
    )
    .unwrap();
    assert_eq!(codes(&["check", "--format", "json", "legacy/Dockerfile.old"]), ["DO304"]);
    // --config replaces discovery.
    std::fs::write(dir.join("only-pip.toml"), "select = [\"DO205\"]\n").unwrap();
    assert_eq!(codes(&["check", "--format", "json", "--config", "only-pip.toml", "legacy/Dockerfile.old"]), ["DO205"]);
    // An unknown key is an error that names it.
    std::fs::write(dir.join("dockopt.toml"), "ignore = []\nselct = [\"DO1\"]\n").unwrap();
    let out = dockopt_in(dir, &["check", "tools/Containerfile"], b"");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("dockopt.toml:2:1: error: unknown field `selct`"), "{stderr}");
}

#[test]
fn a_search_reads_the_configuration_files_it_sees_and_hidden_ones() {
    let scratch = scratch_dir("config-search");
    let dir = scratch.path();
    let dockerfile = "FROM python:3.12\nRUN pip install flask\n";
    let configs = [
        ("plain/dockopt.toml", "select = [\"DO205\"]\n"),
        ("pyproject/pyproject.toml", "[project]\nname = \"x\"\n[tool.dockopt]\nselect = [\"DO304\"]\n"),
        ("hidden/.dockopt.toml", "select = [\"DO301\"]\n"),
        ("gitignored/dockopt.toml", "select = [\"DO205\"]\n"),
        ("gitignored-hidden/.dockopt.toml", "select = [\"DO205\"]\n"),
        ("parent/dockopt.toml", "select = [\"DO304\"]\n"),
    ];
    for (config, text) in configs {
        let sub = dir.join(config).parent().unwrap().to_path_buf();
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(dir.join(config), text).unwrap();
        std::fs::write(sub.join("Dockerfile"), dockerfile).unwrap();
    }
    std::fs::create_dir_all(dir.join("parent/child")).unwrap();
    std::fs::write(dir.join("parent/child/Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.join(".gitignore"), "gitignored/dockopt.toml\ngitignored-hidden/.dockopt.toml\n").unwrap();
    let codes = |args: &[&str]| -> Vec<(String, Vec<String>)> {
        let out = dockopt_in(dir, args, b"");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let files = json["files"].as_array().unwrap().iter();
        let codes_of = |f: &serde_json::Value| {
            let mut codes: Vec<String> =
                f["findings"].as_array().unwrap().iter().map(|x| x["code"].as_str().unwrap().into()).collect();
            codes.sort();
            codes.dedup();
            codes
        };
        files.map(|f| (f["path"].as_str().unwrap().to_string(), codes_of(f))).collect()
    };
    let all = ["DO205", "DO301", "DO304"].map(String::from).to_vec();
    let only = |code: &str| vec![code.to_string()];
    let searched = vec![
        // A configuration file that .gitignore leaves out is not read when the directory is searched, but for
        // .dockopt.toml, which a search cannot show: it is looked up by name.
        ("./gitignored/Dockerfile".to_string(), all.clone()),
        ("./gitignored-hidden/Dockerfile".to_string(), only("DO205")),
        ("./hidden/Dockerfile".to_string(), only("DO301")),
        ("./parent/Dockerfile".to_string(), only("DO304")),
        ("./parent/child/Dockerfile".to_string(), only("DO304")),
        ("./plain/Dockerfile".to_string(), only("DO205")),
        ("./pyproject/Dockerfile".to_string(), only("DO304")),
    ];
    assert_eq!(codes(&["check", "--format", "json", "."]), searched);
    // Named, a Dockerfile is read with the configuration files beside it, whatever .gitignore says.
    assert_eq!(
        codes(&["check", "--format", "json", "gitignored/Dockerfile"]),
        [("gitignored/Dockerfile".to_string(), only("DO205"))]
    );
    // An --exclude glob that takes a configuration file out of the search does not take it out of force.
    let excluded = codes(&["check", "--format", "json", "--exclude", "**/dockopt.toml", "."]);
    assert!(excluded.contains(&("./plain/Dockerfile".to_string(), only("DO205"))), "{excluded:?}");
}

#[test]
fn rule_options_from_the_configuration_apply() {
    let scratch = monorepo("rule-options");
    let dir = scratch.path();
    std::fs::create_dir_all(dir.join("internal")).unwrap();
    std::fs::write(dir.join("internal/Dockerfile"), "FROM registry.example.com/base\nFROM debian\n").unwrap();
    let check = |config: &str| {
        std::fs::write(dir.join("internal/dockopt.toml"), config).unwrap();
        let out = dockopt_in(dir, &["check", "--select", "DO302,DO304", "internal/Dockerfile"], b"");
        String::from_utf8(out.stdout).unwrap()
    };
    let default = check("");
    assert!(default.contains("DO302 `registry.example.com/base` has no tag"), "{default}");
    assert!(default.contains("DO304 the final image builds on `debian`; `debian:stable-slim`"), "{default}");
    let configured = check(
        "[rules.unpinned-base-image]\nallow = [\"registry.example.com/base\"]\n\
         [rules.slim-base-image]\nimages = [\"python\"]\n",
    );
    assert!(!configured.contains("registry.example.com/base` has no tag"), "allowed untagged: {configured}");
    assert!(configured.contains("DO302 `debian` has no tag"), "{configured}");
    assert!(!configured.contains("DO304"), "debian is not in the configured images: {configured}");
}

#[test]
fn ignore_comment_forms() {
    let file = "# check=skip=DO302\nFROM debian\n# dockopt: global ignore=DO304  # we need the full image\nRUN apt-get update\n# dockopt: ignore=DO101 keep apart\nRUN apt-get install -y curl\n# hadolint ignore=DL3059\nRUN echo a\n# dockopt: ignore\nRUN echo b\nRUN echo c\nUSER root\n";
    let out = dockopt(&["check", "-"], file.as_bytes());
    snapshot("cli_ignore_comment_forms", shown(&out));
}

#[test]
fn rules_and_rule() {
    let rules = String::from_utf8(dockopt(&["rules"], b"").stdout).unwrap();
    assert_eq!(rules.lines().count(), dockopt::transforms::all().len());
    assert!(rules.starts_with("DO101  merge-runs"));
    let rule = dockopt(&["rule", "apk-no-cache"], b"");
    snapshot("cli_rule_apk_no_cache", shown(&rule));
    assert_eq!(dockopt(&["rule", "DO999"], b"").status.code(), Some(2));
}

#[test]
fn symlinks_out_of_the_walked_directory_are_followed_only_when_asked() {
    let scratch = monorepo("symlinks");
    let dir = scratch.path();
    let outside_scratch = scratch_dir("outside");
    let outside = outside_scratch.path();
    std::fs::write(outside.join("Dockerfile"), "FROM alpine:3.20\nRUN apk add curl\n").unwrap();
    std::os::unix::fs::symlink(outside.join("Dockerfile"), dir.join("tools/linked.Dockerfile")).unwrap();
    std::os::unix::fs::symlink(dir.join("tools/Containerfile"), dir.join("docs/inside.Dockerfile")).unwrap();
    let listed = |args: &[&str]| -> Vec<String> {
        let json: serde_json::Value = serde_json::from_slice(&dockopt_in(dir, args, b"").stdout).unwrap();
        json["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap().to_string()).collect()
    };
    let plain = listed(&["check", "--format", "json"]);
    assert!(!plain.contains(&"./tools/linked.Dockerfile".to_string()), "{plain:?}");
    assert!(plain.contains(&"./docs/inside.Dockerfile".to_string()), "a link within the walked directory is taken");
    assert!(listed(&["check", "--format", "json", "--follow-links"]).contains(&"./tools/linked.Dockerfile".to_string()));
}

#[test]
fn context_flag_names_the_build_context() {
    let scratch = monorepo("context");
    let dir = scratch.path();
    std::fs::create_dir_all(dir.join("build/app")).unwrap();
    std::fs::write(dir.join("build/app/main.py"), "print('hi')\n").unwrap();
    std::fs::write(dir.join("tools/add.Dockerfile"), "FROM python:3.12-slim\nADD app/main.py /app/\nUSER nobody\n")
        .unwrap();
    let codes = |args: &[&str]| -> String { String::from_utf8(dockopt_in(dir, args, b"").stdout).unwrap() };
    // In the Dockerfile's own directory there is no app/main.py: ADD stays as it is.
    assert!(!codes(&["check", "tools/add.Dockerfile"]).contains("DO102"));
    assert!(codes(&["check", "--context", "build", "tools/add.Dockerfile"]).contains("DO102"));
}

/// `check` names what the fixes make possible: the cleanup `fix` applies once the RUNs are merged, and the unsafe
/// join of the installs that the merge puts in a row, which `fix` leaves to `--unsafe-fixes` and a `check` of the
/// fixed file finds.
#[test]
fn check_reports_what_the_fixes_make_possible() {
    let input = b"FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\nRUN apt-get install -y jq\n";
    let out = dockopt(&["check", "--select", "DO1,DO2", "-"], input);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("-:2:1: DO201 apt lists downloaded on line 2 stay in this layer; remove /var/lib/apt/lists/* in the same RUN (applies after the other fixes) [safe fix]"), "{report}");
    let join = "DO104 2 `apt-get` installs in a row with the same options; install the packages in one";
    assert!(report.contains(&format!("-:3:5: {join} (applies after the other fixes) [unsafe fix]")), "{report}");
    let fixed = dockopt(&["fix", "--select", "DO1,DO2", "-"], input).stdout;
    let again = dockopt(&["check", "--select", "DO104", "-"], &fixed);
    assert!(String::from_utf8_lossy(&again.stdout).contains(&format!("-:3:5: {join} [unsafe fix]")));
}

/// `check` labels a finding as `fix` leaves it: a cleanup whose fix a merge makes impossible (the merged script has
/// a case statement beside an `rm`, so dockopt cannot tell whether it removes go) is reported with no fix, the count
/// of fixable findings agrees with the fixes to apply, and `fix` leaves the finding, with no fix, in the fixed text.
#[test]
fn check_takes_off_a_fix_that_the_other_fixes_keep_from_applying() {
    let input = b"FROM golang:1.22\nRUN go build ./...\nRUN case x in x) echo;; esac && rm -f /tmp/x\nUSER nobody\n";
    let out = dockopt(&["check", "-"], input);
    let report = String::from_utf8_lossy(&out.stdout);
    let cache = "DO209 go leaves its build cache in /root/.cache/go-build; run `go clean -cache` in the same RUN";
    assert!(report.contains(&format!("-:2:1: {cache} (no fix once the other fixes apply)\n")), "{report}");
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("2 findings (1 fixable)"), "{summary}");
    assert!(summary.contains("fixes to apply: DO101 ×1\n"), "{summary}");
    let fixed = dockopt(&["fix", "-"], input).stdout;
    let again = String::from_utf8_lossy(&dockopt(&["check", "-"], &fixed).stdout).into_owned();
    assert!(again.contains(&format!("-:2:1: {cache}\n")), "{again}");
}

/// A finding with no fix of its own does not foretell the fix that a merge makes possible where it starts: `check`
/// reports that fix too. A cleanup after `exit 0` would never run, so the first RUN's finding has none; merged,
/// the `exit` runs in a subshell, and the cleanup lands at the end of the merged RUN, which starts there.
#[test]
fn check_reports_a_fix_that_a_finding_without_one_does_not_foretell() {
    let input = b"FROM centos:7\nRUN yum update -y; exit 0\nRUN yum install -y x\nRUN adduser foo\nUSER nobody\n";
    let report = String::from_utf8_lossy(&dockopt(&["check", "--select", "DO1,DO2", "-"], input).stdout).into_owned();
    let cache = "-:2:1: DO204 yum leaves its cache in /var/cache/yum; clean it in the same RUN";
    assert!(report.contains(&format!("{cache}\n")), "{report}");
    assert!(report.contains(&format!("{cache} (applies after the other fixes) [safe fix]\n")), "{report}");
}
