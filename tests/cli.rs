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
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "(from \"a\")\n(env \"x\" \"1\" \"=\")\n(onbuild (run \"b\"))\n");
}
