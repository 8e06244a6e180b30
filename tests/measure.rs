//! `dockopt measure` against a stand-in `buildah` on PATH: a shell script that logs its arguments and exports
//! prepared image archives, so the command's flow (builder detection, build flags, comparison, clean-up, exit
//! codes, both output formats) is tested without a real builder. tests/e2e.rs runs the real one.

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FAKE_BUILDAH: &str = r#"#!/bin/sh
echo "$*" >> "$FAKE_DIR/calls"
case "$1" in
  version|inspect) exit 0 ;;
  bud)
    # bud --layers --force-rm --pull=never [--no-cache] -f DOCKERFILE -t TAG CONTEXT (the cached rebuild has no --no-cache)
    if [ "$5" != --no-cache ]; then
      # A rebuild: the original runs again from its COPY, the fixed Dockerfile only from its last step.
      echo "rebuilt $8 with app.py of $(wc -c < "$9/app.py") bytes" >> "$FAKE_DIR/calls"
      echo "STEP 1/3: FROM debian:bookworm"
      case "$8" in
        *original-rebuild) echo "STEP 2/3: COPY . /app"; echo "--> 1a2b"; echo "STEP 3/3: RUN make" ;;
        *) echo "STEP 2/3: RUN make"; echo "--> Using cache 3c4d"; echo "STEP 3/3: COPY . /app" ;;
      esac
      exit 0
    fi
    if grep -q "$FAKE_FAILS" "$7"; then
      # A failed build leaves the image of a step that did build.
      echo "sha256:step-of-$9" >> "$FAKE_DIR/images"
      echo "step failed: exit status 1" >&2; exit 1
    fi
    exit 0 ;;
  push)
    case "$3" in *:original) image=original ;; *:safe) image=safe ;; *) image=fixed ;; esac
    cp "$FAKE_DIR/$image.tar" "${4#docker-archive:}" ;;
  images) cat "$FAKE_DIR/images" 2>/dev/null; exit 0 ;;
  rmi|rm) exit 0 ;;
  from)
    # from --pull=never TAG: a container named after the image's role
    case "$3" in *:original) echo ctr-original ;; *) echo ctr-fixed ;; esac ;;
  run)
    # run --network none CONTAINER -- COMMAND...: the fixed image lacks the program when FAKE_RUN_DIFFERS is set
    container=$4; shift 5
    if [ "$container" = ctr-fixed ] && [ -n "$FAKE_RUN_DIFFERS" ]; then
      echo "$1: executable file not found" >&2; exit 127
    fi
    echo "ran: $*" ;;
  *) echo "unexpected: $*" >&2; exit 3 ;;
esac
"#;

/// A layer of regular files, each (path, content).
fn layer(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(content.len() as u64);
        builder.append_data(&mut header, path, content.as_bytes()).unwrap();
    }
    builder.into_inner().unwrap()
}

fn archive(layers: &[Vec<u8>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let names: Vec<String> = (0..layers.len()).map(|i| format!("{i}.tar")).collect();
    let manifest = serde_json::json!([{"Config": "config.json", "Layers": names}]).to_string();
    for (name, data) in names.iter().zip(layers).chain([(&"manifest.json".to_string(), &manifest.into_bytes())]) {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        builder.append_data(&mut header, name, data.as_slice()).unwrap();
    }
    builder.into_inner().unwrap()
}

struct Fake {
    dir: tempfile::TempDir,
}

impl Fake {
    /// A fake buildah whose original and fixed builds export these images.
    fn new(original: &[Vec<u8>], fixed: &[Vec<u8>]) -> Fake {
        Fake::with_safe_only(original, fixed, fixed)
    }

    /// A fake buildah whose original build, build with the safe fixes alone, and fixed build export these images.
    fn with_safe_only(original: &[Vec<u8>], safe_only: &[Vec<u8>], fixed: &[Vec<u8>]) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("buildah"), FAKE_BUILDAH).unwrap();
        std::fs::set_permissions(bin.join("buildah"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.path().join("original.tar"), archive(original)).unwrap();
        std::fs::write(dir.path().join("fixed.tar"), archive(fixed)).unwrap();
        std::fs::write(dir.path().join("safe.tar"), archive(safe_only)).unwrap();
        Fake { dir }
    }

    fn project(&self, dockerfile: &str) -> PathBuf {
        let project = self.dir.path().join("project");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(project.join("Dockerfile"), dockerfile).unwrap();
        project.join("Dockerfile")
    }

    fn measure(&self, args: &[&str], fails_on: &str) -> Output {
        self.measure_with(args, fails_on, &[])
    }

    fn measure_with(&self, args: &[&str], fails_on: &str, env: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_dockopt"))
            .envs(env.iter().copied())
            .arg("measure")
            .args(args)
            // Only the fake: no real docker, podman or buildah is found.
            .env("PATH", self.dir.path().join("bin").display().to_string() + ":/bin:/usr/bin")
            .env("FAKE_DIR", self.dir.path())
            .env("FAKE_FAILS", fails_on)
            .output()
            .unwrap()
    }

    fn calls(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("calls")).unwrap_or_default()
    }
}

const SPLIT_APT: &str = "FROM debian:bookworm\nRUN apt-get update\nRUN apt-get install -y curl\n";
const NEVER_MATCHES: &str = "no line says this";

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    })
}

#[test]
fn a_fix_that_keeps_the_files_is_measured_and_its_images_removed() {
    let base = layer(&[("etc/os-release", "bookworm")]);
    let original =
        [base.clone(), layer(&[("var/lib/apt/lists/InRelease", "index")]), layer(&[("usr/bin/curl", "curl")])];
    let fixed = [base, layer(&[("usr/bin/curl", "curl")])];
    let fake = Fake::new(&original, &fixed);
    let dockerfile = fake.project(SPLIT_APT);
    let output = fake.measure(&["--builder", "buildah", "--json", dockerfile.to_str().unwrap()], NEVER_MATCHES);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let file = &json(&output)["files"][0];
    assert_eq!(file["outcome"], "measured");
    assert_eq!(file["builder"], "buildah");
    assert_eq!((file["original"]["layers"].as_u64(), file["fixed"]["layers"].as_u64()), (Some(3), Some(2)));
    assert!(file["fixed"]["size_bytes"].as_u64() < file["original"]["size_bytes"].as_u64());
    assert_eq!(file["differences"], serde_json::json!([]));

    let calls = fake.calls();
    let builds: Vec<&str> = calls.lines().filter(|l| l.starts_with("bud ")).collect();
    assert_eq!(builds.len(), 2, "{calls}");
    for build in &builds {
        assert!(build.starts_with("bud --layers --force-rm --pull=never --no-cache -f "), "{build}");
    }
    // The fixed Dockerfile is built from a temporary copy, with the original's directory as the context.
    let context = dockerfile.parent().unwrap().display().to_string();
    assert!(builds.iter().all(|b| b.ends_with(&context)), "{calls}");
    assert!(calls.contains("inspect --type image debian:bookworm"), "the base is looked for first: {calls}");
    let removed: Vec<&str> = calls.lines().filter(|l| l.starts_with("rmi ")).collect();
    assert_eq!(removed.len(), 2, "both images are removed: {calls}");
}

#[test]
fn a_fix_that_changes_the_files_is_reported_with_each_difference() {
    let original = [layer(&[("etc/os-release", "bookworm"), ("usr/bin/curl", "curl")])];
    let fixed = [layer(&[("etc/os-release", "trixie")])];
    let fake = Fake::new(&original, &fixed);
    let dockerfile = fake.project(SPLIT_APT);
    let output = fake.measure(&["--builder", "buildah", dockerfile.to_str().unwrap()], NEVER_MATCHES);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("2 differences outside package caches"), "{text}");
    assert!(text.contains("/etc/os-release: content: file of 8 bytes"), "{text}");
    assert!(text.contains("/usr/bin/curl: only in original"), "{text}");
    assert!(text.contains("please report this"), "{text}");
}

#[test]
fn a_fixed_dockerfile_that_fails_to_build_is_a_failure_and_an_unbuildable_original_an_error() {
    let image = [layer(&[("etc/os-release", "bookworm")])];
    let fake = Fake::new(&image, &image);
    let dockerfile = fake.project(SPLIT_APT);
    let path = dockerfile.to_str().unwrap();
    // Only the fixed text has the merged `&& apt-get install` line.
    let output = fake.measure(&["--builder", "buildah", "--json", path], "&& apt-get install");
    assert_eq!(output.status.code(), Some(1));
    let file = &json(&output)["files"][0];
    assert_eq!(file["outcome"], "fixed fails");
    assert!(file["message"].as_str().unwrap().contains("step failed"), "{file}");

    let output = fake.measure(&["--builder", "buildah", "--json", path], "RUN apt-get update");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(json(&output)["files"][0]["outcome"], "original fails");
    // What the failed builds left behind is removed; what was there before is not.
    let calls = fake.calls();
    let removed: Vec<&str> = calls.lines().filter(|l| l.starts_with("rmi sha256:")).collect();
    assert_eq!(removed.len(), 2, "{calls}");
    assert!(removed.iter().all(|r| r.contains(":original") != r.contains(":fixed")), "{calls}");
}

/// With unsafe fixes, a third build shows what the safe fixes alone save, and the report lists what the unsafe
/// ones dropped as something to check, not as a bug.
#[test]
fn unsafe_fixes_are_measured_beside_the_safe_fixes_alone() {
    let base = layer(&[("etc/os-release", "bookworm"), ("usr/bin/curl", "curl")]);
    let original = [base.clone(), layer(&[("var/lib/apt/lists/InRelease", "index")]), layer(&[("usr/bin/x", "x")])];
    let safe_only = [base.clone(), layer(&[("usr/bin/x", "x")])];
    let fixed = [layer(&[("etc/os-release", "bookworm")])];
    let fake = Fake::with_safe_only(&original, &safe_only, &fixed);
    let dockerfile = fake.project(SPLIT_APT);
    let path = dockerfile.to_str().unwrap();
    let output = fake.measure(&["--builder", "buildah", "--unsafe-fixes", "--json", path], NEVER_MATCHES);
    assert_eq!(output.status.code(), Some(1), "the unsafe fixes change the files");
    let file = &json(&output)["files"][0];
    assert_eq!(file["outcome"], "measured");
    let layers = |build: &str| file[build]["layers"].as_u64();
    assert_eq!((layers("original"), layers("safe_only"), layers("fixed")), (Some(3), Some(2), Some(1)));
    let paths: Vec<&str> =
        file["differences"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/usr/bin/curl", "/usr/bin/x"]);
    let calls = fake.calls();
    let built: Vec<&str> = calls.lines().filter(|l| l.starts_with("bud ")).collect();
    // The third build is of the text with the safe fixes alone, written in place of the Dockerfile.
    let safe_dockerfile = built[2].split(" -f ").nth(1).unwrap().split(' ').next().unwrap();
    assert!(safe_dockerfile.ends_with("/safe/Dockerfile"), "{calls}");
    assert_eq!(calls.lines().filter(|l| l.starts_with("rmi ")).count(), 3, "every image is removed: {calls}");

    let output = fake.measure(&["--builder", "buildah", "--unsafe-fixes", path], NEVER_MATCHES);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("  safe only   2 layers, "), "{text}");
    assert!(text.contains("help: unsafe fixes change what the image holds"), "{text}");
}

#[test]
fn a_file_with_nothing_to_fix_is_not_built() {
    let image = [layer(&[("etc/os-release", "bookworm")])];
    let fake = Fake::new(&image, &image);
    let dockerfile = fake.project("FROM debian:bookworm-slim\nCMD [\"true\"]\n");
    let output = fake.measure(&["--builder", "buildah", dockerfile.to_str().unwrap()], NEVER_MATCHES);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("no fixes apply, nothing to measure"));
    assert!(!fake.calls().contains("bud"), "{}", fake.calls());
}

#[test]
fn without_a_builder_it_names_each_one_it_looked_for_and_how_to_get_one() {
    let empty = tempfile::tempdir().unwrap();
    let dockerfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/debian-apt/Dockerfile");
    let output = Command::new(env!("CARGO_BIN_EXE_dockopt"))
        .arg("measure")
        .arg(dockerfile)
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in
        ["docker: not installed", "podman: not installed", "buildah: not installed", "help: start or install one of"]
    {
        assert!(stderr.contains(line), "{line} missing from:\n{stderr}");
    }
}

#[test]
fn run_gives_the_same_command_to_both_images_and_compares_what_it_did() {
    let image = [layer(&[("usr/bin/app", "app")])];
    let fake = Fake::new(&image, &image);
    let dockerfile = fake.project(SPLIT_APT);
    let output =
        fake.measure(&["--json", "--run", "app --name 'two words'", dockerfile.to_str().unwrap()], NEVER_MATCHES);
    let report = json(&output);
    let run = &report["files"][0]["run"];
    assert_eq!(run["same"], true, "{report:#}");
    assert_eq!(run["original"]["stdout"], "ran: app --name two words\n");
    assert_eq!(run["original"]["status"], 0);
    assert_eq!(output.status.code(), Some(0));
    let calls = fake.calls();
    for role in ["original", "fixed"] {
        assert!(calls.contains(&format!("run --network none ctr-{role} -- app --name two words\n")), "{calls}");
        assert!(calls.contains(&format!("rm ctr-{role}\n")), "{calls}");
    }
}

#[test]
fn run_reports_a_command_that_fails_in_the_fixed_image() {
    let image = [layer(&[("usr/bin/app", "app")])];
    let fake = Fake::new(&image, &image);
    let dockerfile = fake.project(SPLIT_APT);
    let args = ["--run", "app --version", dockerfile.to_str().unwrap()];
    let output = fake.measure_with(&args, NEVER_MATCHES, &[("FAKE_RUN_DIFFERS", "1")]);
    let text = String::from_utf8_lossy(&output.stdout);
    let expected =
        "  run         differs:\n    original: exit status 0\n      stdout:\n        ran: app --version\n    \
                    fixed: exit status 127\n      stderr:\n        app: executable file not found\n";
    assert!(text.contains(expected), "{text}");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn run_takes_one_command_only() {
    let fake = Fake::new(&[], &[]);
    let dockerfile = fake.project(SPLIT_APT);
    for command in ["app | tee log", "app && other", "app > out", "$APP --version", ""] {
        let output = fake.measure(&["--run", command, dockerfile.to_str().unwrap()], NEVER_MATCHES);
        assert_eq!(output.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("give one command with its arguments"), "{command}: {stderr}");
        assert!(fake.calls().is_empty(), "nothing is built for {command}");
    }
}

#[test]
fn rebuild_changes_a_source_file_and_rebuilds_both_with_the_cache() {
    let image = [layer(&[("usr/bin/app", "app")])];
    let fake = Fake::new(&image, &image);
    let dockerfile =
        fake.project("FROM debian:bookworm\nCOPY . /app\nRUN apt-get update\nRUN apt-get install -y make\n");
    let project = dockerfile.parent().unwrap();
    std::fs::write(project.join("app.py"), "print('hi')\n").unwrap();
    std::fs::write(project.join("requirements.txt"), "flask\n").unwrap();
    let output = fake.measure(&["--json", "--rebuild", dockerfile.to_str().unwrap()], NEVER_MATCHES);
    let report = json(&output);
    let rebuild = &report["files"][0]["rebuild"];
    assert_eq!(rebuild["touched"], "app.py", "{report:#}");
    assert_eq!(rebuild["original"]["first_miss"], 1, "{rebuild:#}");
    assert_eq!(rebuild["fixed"]["first_miss"], 2, "{rebuild:#}");
    assert_eq!(rebuild["fixed"]["steps"][2]["instruction"], "COPY . /app");
    let calls = fake.calls();
    // Each rebuild saw the changed copy: one byte more than the 12 of the project's own app.py.
    for role in ["original", "fixed"] {
        assert!(calls.contains(&format!("{role}-rebuild with app.py of 13 bytes")), "{calls}");
    }
    assert_eq!(std::fs::read_to_string(project.join("app.py")).unwrap(), "print('hi')\n", "the project is untouched");

    let text = fake.measure(&["--rebuild", "--touch", "requirements.txt", dockerfile.to_str().unwrap()], NEVER_MATCHES);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("  rebuild     after a change to requirements.txt: "), "{text}");
    assert!(text.contains("    original 2 of 3 steps run again, from step 2 `COPY . /app`\n"), "{text}");
    assert!(text.contains("    fixed    1 of 3 steps run again, from step 3 `COPY . /app`\n"), "{text}");
}

#[test]
fn rebuild_says_why_when_no_source_change_reaches_the_build() {
    let image = [layer(&[("usr/bin/app", "app")])];
    let fake = Fake::new(&image, &image);
    let dockerfile = fake.project(SPLIT_APT);
    let output = fake.measure(&["--json", "--rebuild", dockerfile.to_str().unwrap()], NEVER_MATCHES);
    let report = json(&output);
    let why = report["files"][0]["rebuild"]["error"].as_str().unwrap_or_default();
    assert!(why.contains("name a file with --touch PATH"), "{report:#}");
    assert!(!fake.calls().contains("rebuilt"), "nothing is rebuilt");
}
