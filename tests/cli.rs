//! The `dockopt` binary as users run it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn dockopt(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dockopt"))
        .args(args)
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
    let dir = std::env::temp_dir().join(format!("dockopt-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.Dockerfile");
    let good = dir.join("good.Dockerfile");
    std::fs::write(&bad, b"FROM a\nRUN echo \xff\n").unwrap();
    std::fs::write(&good, b"FROM a\n").unwrap();
    let out = dockopt(&["parse", bad.to_str().unwrap(), good.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("bad.Dockerfile:2:10: error: invalid UTF-8 (byte 0xff)"), "{stderr}");
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1, "the good file is still parsed");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn parse_buildkit_format_matches_buildkit_dump() {
    let out = dockopt(&["parse", "--format", "buildkit", "-"], b"FROM a\nENV x=1\nONBUILD RUN b\n");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "(from \"a\")\n(env \"x\" \"1\" \"=\")\n(onbuild (run \"b\"))\n"
    );
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dockopt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SPLIT: &str = "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n";
const MERGED: &str =
    "FROM debian:12\nRUN apt-get update \\\n && apt-get install -y curl \\\n && rm -rf /var/lib/apt/lists/*\n";

#[test]
fn fix_rewrites_in_place_and_keeps_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("fix");
    let file = dir.join("Dockerfile");
    std::fs::write(&file, SPLIT).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = dockopt(&["fix", file.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), MERGED);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o640);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file is left behind");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn fix_leaves_a_clean_file_untouched() {
    let dir = temp_dir("clean");
    let file = dir.join("Dockerfile");
    std::fs::write(&file, MERGED).unwrap();
    let before = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = dockopt(&["fix", file.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), before, "an unchanged file is not rewritten");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn fix_diff_prints_and_writes_nothing() {
    let dir = temp_dir("diff");
    let file = dir.join("Dockerfile");
    std::fs::write(&file, SPLIT).unwrap();
    let out = dockopt(&["fix", "--diff", file.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(
        diff.contains("\n-RUN apt-get install -y curl\n") && diff.contains("\n+ && apt-get install -y curl \\\n"),
        "{diff}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), SPLIT);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn fix_reads_stdin_and_writes_stdout() {
    let out = dockopt(&["fix", "-"], SPLIT.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), MERGED);
}

#[test]
fn fix_refuses_what_buildkit_rejects() {
    let out = dockopt(&["fix", "-"], b"FROM a\nRUNN x\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .starts_with("-:2:1: error: unknown instruction: RUNN\n  help: did you mean `RUN`?"));
    assert!(out.stdout.is_empty());
}

#[test]
fn check_lists_findings_with_their_fixes() {
    let out = dockopt(&["check", "-"], SPLIT.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "-:3:1: DO101 2 consecutive RUN instructions (lines 2-3) make 2 layers; merge them into one [fix]\n"
        ),
        "{text}"
    );
    assert!(text.contains(
        "DO202 `apt-get install` without `--no-install-recommends` installs recommended packages too [unsafe fix]"
    ));
}
