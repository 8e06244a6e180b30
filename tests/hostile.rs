//! Hostile files and file systems: dockopt pointed at any tree never panics, never hangs, reads nothing outside a
//! build context, and loses nothing it writes. Every file, pipe, link and owner here is made by the test.

mod common;

use common::{dockopt_within, dockopt_within_memory, mkfifo};
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// Long enough for the slowest CI machine; a run that takes longer hangs.
const HANG: Duration = Duration::from_secs(60);

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn run(dir: &Path, args: &[&str]) -> Output {
    dockopt_within(dir, args, HANG)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const NEEDS_FIX: &str = "FROM alpine:3\nRUN apk add curl\n";

#[test]
fn a_glob_that_cannot_compile_is_an_error_for_its_own_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("bad/Dockerfile"), "FROM alpine:3\nCOPY . /app\n");
    write(&root.join("bad/.dockerignore"), &format!("node_modules\n{}\n", "*".repeat(100_000)));
    write(&root.join("add/Dockerfile"), &format!("FROM alpine:3\nADD {} /x/\n", "*".repeat(60_000)));
    write(&root.join("good/Dockerfile"), NEEDS_FIX);

    let out = run(root, &["check", "--format", "json", "."]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the JSON report stays whole");
    let file = |path: &str| report["files"].as_array().unwrap().iter().find(|f| f["path"] == path).unwrap().clone();
    let bad = file("./bad/Dockerfile");
    assert_eq!((bad["errors"][0]["line"].as_u64(), bad["errors"][0]["column"].as_u64()), (Some(2), Some(1)));
    assert!(bad["errors"][0]["message"].as_str().unwrap().contains("invalid pattern"), "{bad}");
    let add = file("./add/Dockerfile");
    assert_eq!((add["errors"][0]["line"].as_u64(), add["errors"][0]["column"].as_u64()), (Some(2), Some(5)));
    assert!(!file("./good/Dockerfile")["findings"].as_array().unwrap().is_empty());
    assert_eq!((report["summary"]["files"].as_u64(), report["summary"]["unparseable"].as_u64()), (Some(1), Some(2)));

    let out = run(root, &["fix", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(std::fs::read_to_string(root.join("good/Dockerfile")).unwrap().contains("--no-cache"));
    assert!(stderr(&out).contains("bad/.dockerignore:2:1: error: invalid pattern"), "{}", stderr(&out));
}

#[test]
fn named_pipes_and_directories_never_block_or_stop_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // ADD of a glob that matches a pipe: the pipe is never opened.
    write(&root.join("add/Dockerfile"), "FROM alpine:3\nADD logs/* /x/\n");
    std::fs::create_dir_all(root.join("add/logs")).unwrap();
    mkfifo(&root.join("add/logs/app.pipe"));
    // A Dockerfile that is a link to a pipe, and one that is a link to a directory.
    std::fs::create_dir_all(root.join("pipe")).unwrap();
    mkfifo(&root.join("pipe/real.pipe"));
    symlink("real.pipe", root.join("pipe/Dockerfile")).unwrap();
    std::fs::create_dir_all(root.join("dirlink/sub")).unwrap();
    symlink("sub", root.join("dirlink/Dockerfile")).unwrap();

    let out = run(root, &["check", "add"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(!stdout(&out).contains("DO102"), "an ADD of a pipe is not rewritten to COPY");

    let out = run(root, &["fix", "pipe", "dirlink"]);
    assert_eq!(out.status.code(), Some(0), "the walk passes them over: {}", stderr(&out));
    assert!(stderr(&out).starts_with("0 files checked"), "{}", stderr(&out));

    let out = run(root, &["fix", "pipe/Dockerfile"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a regular file but a named pipe"), "{}", stderr(&out));
    // A directory named on the command line, through a link or not, is searched.
    let out = run(root, &["fix", "dirlink/Dockerfile"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(root.join("pipe/real.pipe")).unwrap().file_type().is_fifo(), "never written");
}

#[test]
fn nothing_outside_the_build_context_is_read() {
    let outside = tempfile::tempdir().unwrap();
    // Pipes outside the context: opening one would block, which the hang guard turns into a failure.
    mkfifo(&outside.path().join("secret"));
    mkfifo(&outside.path().join("requirements.txt"));
    write(&outside.path().join("plain.txt"), "not an archive\n");
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path();
    symlink(outside.path().join("secret"), ctx.join("link")).unwrap();
    symlink(outside.path().join("plain.txt"), ctx.join("plainlink")).unwrap();
    symlink(outside.path(), ctx.join("dirlink")).unwrap();
    symlink(outside.path().join("requirements.txt"), ctx.join("requirements.txt")).unwrap();
    write(&ctx.join("app.py"), "print('hi')\n");
    write(&ctx.join(".dockerignore"), ".git\n");
    write(
        &ctx.join("Dockerfile"),
        "FROM python:3.12-slim\nADD link /e\nADD plainlink /p\nADD dirlink/* /f/\nWORKDIR /app\nCOPY . /app\n\
         RUN pip install --no-cache-dir -r requirements.txt\n",
    );
    let out = run(ctx, &["check", "--format", "json", "Dockerfile"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["files"][0]["findings"].as_array().unwrap();
    assert!(findings.iter().all(|f| f["code"] != "DO102"), "no ADD through a link is rewritten: {findings:?}");
    let manifests = findings.iter().find(|f| f["code"] == "DO103").expect("the COPY before pip is reported");
    assert!(manifests["fix"].is_null(), "the requirements behind a link out of the context are not read");
}

#[test]
fn fix_writes_through_symlinks_and_says_when_it_splits_hard_links() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("linked/real.txt"), NEEDS_FIX);
    symlink("real.txt", root.join("linked/Dockerfile")).unwrap();
    write(&root.join("hard/Dockerfile"), NEEDS_FIX);
    std::fs::hard_link(root.join("hard/Dockerfile"), root.join("hard/other.txt")).unwrap();

    let out = run(root, &["fix", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(root.join("linked/Dockerfile")).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(root.join("linked/real.txt")).unwrap().contains("--no-cache"));
    assert!(std::fs::read_to_string(root.join("hard/Dockerfile")).unwrap().contains("--no-cache"));
    assert_eq!(std::fs::read_to_string(root.join("hard/other.txt")).unwrap(), NEEDS_FIX);
    assert!(
        stderr(&out).contains("warning: the file had 2 hard links; the other 1 keep the old text"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("1 warning"), "{}", stderr(&out));
}

#[test]
fn a_symlink_out_of_the_searched_tree_is_written_only_when_named() {
    let outside = tempfile::tempdir().unwrap();
    write(&outside.path().join("real"), NEEDS_FIX);
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path();
    symlink(outside.path().join("real"), tree.join("Dockerfile")).unwrap();

    let out = run(tree, &["fix", "--follow-links", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("outside the directories searched"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(outside.path().join("real")).unwrap(), NEEDS_FIX);

    let out = run(tree, &["fix", "Dockerfile"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::read_to_string(outside.path().join("real")).unwrap().contains("--no-cache"));
    assert!(std::fs::symlink_metadata(tree.join("Dockerfile")).unwrap().file_type().is_symlink());
}

#[test]
fn read_only_files_are_refused_and_keep_their_findings() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Dockerfile");
    write(&file, NEEDS_FIX);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
    let out = run(dir.path(), &["fix", "Dockerfile"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot write the fixed file: the file is read-only for you"), "{}", stderr(&out));
    assert!(stdout(&out).contains("DO203"), "the findings are still reported: {}", stdout(&out));
    assert!(stderr(&out).contains("findings left: DO203 ×1"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), NEEDS_FIX);
}

#[test]
fn temporary_files_are_named_for_their_process_and_swept_when_it_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("Dockerfile"), NEEDS_FIX);
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let stale = root.join(format!(".Dockerfile.dockopt-{gone_pid}-abcdef"));
    let live = root.join(format!(".Dockerfile.dockopt-{}-ghijkl", std::process::id()));
    write(&stale, "half");
    write(&live, "in flight");

    let out = run(root, &["fix", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stale.exists(), "a temporary file whose process is gone is removed");
    assert!(live.exists(), "one whose process runs is left alone");
    let left: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".dockopt-") && !n.ends_with("ghijkl"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
#[cfg_attr(not(dockopt_root), ignore = "needs root: gives the Dockerfile to another owner")]
fn fix_keeps_owner_group_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Dockerfile");
    write(&file, NEEDS_FIX);
    std::os::unix::fs::chown(&file, Some(1234), Some(5678)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = run(dir.path(), &["fix", "Dockerfile"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let metadata = std::fs::metadata(&file).unwrap();
    assert!(std::fs::read_to_string(&file).unwrap().contains("--no-cache"));
    assert_eq!((metadata.uid(), metadata.gid(), metadata.mode() & 0o7777), (1234, 5678, 0o640));
}

#[test]
#[cfg_attr(not(dockopt_root), ignore = "needs root: runs dockopt as the user nobody")]
fn a_user_who_may_not_write_the_file_cannot_replace_it() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let file = dir.path().join("Dockerfile");
    write(&file, NEEDS_FIX);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    // The binary must be reachable by nobody: copy it into the world-readable directory.
    let binary = dir.path().join("dockopt");
    std::fs::copy(env!("CARGO_BIN_EXE_dockopt"), &binary).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new(&binary)
        .args(["fix", "Dockerfile"])
        .current_dir(dir.path())
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("read-only for you"), "{}", stderr(&out));
    let metadata = std::fs::metadata(&file).unwrap();
    assert_eq!((metadata.uid(), std::fs::read_to_string(&file).unwrap().as_str()), (0, NEEDS_FIX));
}

#[test]
fn inputs_are_bounded_in_size() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let out = run(root, &["check", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a regular file but a device"), "{}", stderr(&out));

    std::fs::File::create(root.join("sparse.Dockerfile")).unwrap().set_len(2 << 30).unwrap();
    let out = run(root, &["check", "sparse.Dockerfile"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the file is 2147483648 bytes, over the limit of 16777216 bytes"),
        "{}",
        stderr(&out)
    );

    write(&root.join("ctx/Dockerfile"), "FROM alpine:3\nCOPY . /app\n");
    std::fs::File::create(root.join("ctx/.dockerignore")).unwrap().set_len(200 << 20).unwrap();
    let out = run(root, &["check", "ctx"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("ctx/.dockerignore:1:1: error: cannot read the ignore file"), "{}", stderr(&out));

    write(&root.join("small.Dockerfile"), "FROM alpine:3\n");
    let out = run(root, &["check", "--max-file-size", "10", "small.Dockerfile"]);
    assert!(stderr(&out).contains("over the limit of 10 bytes"), "{}", stderr(&out));

    write(&root.join("long.Dockerfile"), &format!("FROM alpine:3\nRUN echo {}\n", "x".repeat(65_536)));
    let out = run(root, &["check", "long.Dockerfile"]);
    assert!(stderr(&out).contains("long.Dockerfile:2:1: error: dockerfile line greater than max allowed size of 65535"));
}

#[test]
fn a_chain_of_thousands_of_stages_does_not_exhaust_the_stack() {
    // Each stage is built on the one before. The first leaves apt's lists and the last reads them: the rule that
    // follows the lists from a stage to the stages built on it once did so by recursion, a call per stage, and
    // aborted here.
    let stages = 100_000;
    let mut text = String::from("FROM debian:12 AS s0\nRUN apt-get update && apt-get install -y curl\n");
    for n in 1..stages {
        text.push_str(&format!("FROM s{} AS s{n}\nRUN true\n", n - 1));
    }
    text.push_str("RUN apt-get install -y x\n");
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("Dockerfile"), &text);

    let out = run(dir.path(), &["check", "Dockerfile"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let reader = format!("stay in this layer for the stages built on it (the install on line {})", 2 * stages + 1);
    assert!(stdout(&out).contains(&reader), "{}", stdout(&out));
}

#[test]
fn quoted_substitutions_nested_thousands_deep_do_not_exhaust_the_stack() {
    // `"$(` inside `"$(`, 20,000 deep, one level a continuation line, then an install in the same script. The
    // shell lexer reads a quoted word inside a substitution by a call, and aborted here. Past 500 levels the script
    // counts as one dockopt cannot read, as one with an unclosed quote does: the install gets no advice.
    let depth = 20_000;
    let mut text = String::from("FROM debian:12\nRUN echo \\\n");
    text.push_str(&"\"$(\\\n".repeat(depth));
    text.push_str("x \\\n");
    text.push_str(&format!("{} \\\n", ")\"".repeat(1000)).repeat(depth / 1000));
    text.push_str("&& apt-get install -y curl\nUSER nobody\n");
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("Dockerfile"), &text);

    let out = run(dir.path(), &["check", "Dockerfile"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("Dockerfile:1:1: DO304 "), "{}", stdout(&out));
    assert!(!stdout(&out).contains("DO202"), "{}", stdout(&out));
}

#[test]
fn compound_commands_nested_hundreds_of_thousands_deep_take_memory_in_proportion() {
    // 300,000 `if`s, each inside the one before, one a continuation line, then an install in the same script.
    // Every command once kept a list of the frames around it, so the script took memory that grew with the square
    // of its depth: 874 MB at 40,000 levels, and tens of gigabytes here. Capped at 2 GB, such a run fails to
    // allocate and aborts. The script is read to its end: the install after the last `fi` gets its advice.
    let depth = 300_000;
    let mut text = String::from("FROM debian:12\nRUN \\\n");
    text.push_str(&"if true; then \\\n".repeat(depth));
    text.push_str("true; \\\n");
    text.push_str(&format!("{} \\\n", "fi; ".repeat(1000)).repeat(depth / 1000));
    text.push_str("apt-get install -y curl\n");
    let last_line = text.lines().count();
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("Dockerfile"), &text);

    let out = dockopt_within_memory(dir.path(), &["check", "Dockerfile"], HANG, 2 << 30);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let install = format!("Dockerfile:{last_line}:1: DO202 ");
    assert!(stdout(&out).contains(&install), "{}", stdout(&out));
}

#[test]
fn a_file_whose_fixes_take_every_round_keeps_few_rounds_in_memory() {
    // Each install after `COPY . .` that manifests-first moves leaves the next one right after it, so the fixes
    // take all 32 rounds. Every round's reading was kept until the last: 20,000 installs took 376 MB, and failed
    // to allocate under this cap. Now only three rounds in a row share their readings: 99 MB.
    let mut text = String::from("FROM node:20\nWORKDIR /app\nCOPY . .\n");
    text.push_str(&"RUN yarn install\n".repeat(20_000));
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("Dockerfile"), &text);
    write(&dir.path().join("package.json"), "{\"name\": \"app\"}\n");

    let out = dockopt_within_memory(dir.path(), &["check", "Dockerfile"], HANG, 512 << 20);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("fixes to apply: DO103 ×32, DO206 ×20000"), "{}", stderr(&out));
}

#[test]
fn a_tree_thousands_of_directories_deep_does_not_exhaust_the_stack() {
    // The configuration of a directory is its own or its parent's: looked up by a call per directory, this depth
    // aborted a walk. 2,000 levels, in a directory of /tmp rather than wherever TMPDIR points, keep the deepest
    // path under the system's limit of 4,096 bytes.
    let dir = tempfile::Builder::new().prefix("d").tempdir_in("/tmp").unwrap();
    let deep = ["a"; 2_000].join("/");
    write(&dir.path().join(&deep).join("Dockerfile"), NEEDS_FIX);

    let out = run(dir.path(), &["check", "."]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("/a/Dockerfile:2:1: DO203"), "{}", stdout(&out));
}

#[test]
fn messages_quoting_the_file_are_cut_and_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let nuls = format!("FROM alpine:3\n{} x\n", "\0".repeat(60_000));
    write(&dir.path().join("nul.Dockerfile"), &nuls);
    write(&dir.path().join("esc.Dockerfile"), "FROM alpine:3\n\x1b]0;pwned\x07 x\n");
    let out = run(dir.path(), &["check", "nul.Dockerfile", "esc.Dockerfile"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.len() < 4096, "{} bytes of errors", err.len());
    assert!(!err.bytes().any(|b| b == 0 || b == 0x1b || b == 0x07), "raw control characters reach the terminal");
    assert!(err.contains("unknown instruction: \\u{1b}]0;pwned\\u{7}"), "{err}");
}

#[test]
fn walk_errors_name_their_path_and_bad_excludes_name_their_glob() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("sub/Dockerfile"), "FROM alpine:3\n");
    symlink("..", root.join("sub/loop")).unwrap();
    let out = run(root, &["check", "--follow-links", "."]);
    let loop_line = stderr(&out).lines().find(|l| l.contains("loop")).map(str::to_string).unwrap_or_default();
    assert!(loop_line.starts_with("./sub/loop:"), "{}", stderr(&out));

    let glob = "*".repeat(2000);
    let out = run(root, &["check", "--exclude", &glob, "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid exclude glob `*****"), "{}", stderr(&out));
}
