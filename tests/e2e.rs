//! End-to-end proof of the safe fixes: `dockopt measure` builds each case as written and as fixed with Buildah,
//! and the fixed image must build, hold the same files outside package caches, have no more layers than the
//! original and be no bigger, but for the layer the manifests-first fix adds on purpose.
//!
//! Opt in with `DOCKOPT_E2E=1`, as `.ci/run` does (build.rs then compiles these tests as not ignored). It needs
//! root, `buildah`, `debootstrap`, and the network to Debian's mirror, PyPI and npm. No image registry is reachable,
//! so the base images are made here: a Debian bookworm root file system from debootstrap, plus Debian's own Python,
//! Node.js and Go packages on top, tagged with the names the Dockerfiles use (`python:3.12-slim`,
//! `node:20-bookworm-slim`, ...). They are stand-ins: Debian's Python is 3.11, its Node.js 18, its Go 1.19 and its
//! Rust 1.63.
//! Alpine has no such path here, so the apk fixes are checked by snapshot only, and `examples/alpine-apk` is not
//! built. Nor is a heredoc RUN: Debian bookworm's Buildah (1.28) reads heredoc lines as instructions; heredoc
//! support came in Buildah 1.33. Snapshot tests in tests/passes.rs show that no fix touches a heredoc RUN.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where Debian comes from; a closer mirror can be named.
fn mirror() -> String {
    std::env::var("DOCKOPT_E2E_MIRROR").unwrap_or_else(|_| "http://deb.debian.org/debian".into())
}

const BASE: &str = "localhost/dockopt-e2e/debian:bookworm";

/// The directory under the target's temporary directory that keeps the images between runs. Its number goes up
/// whenever the stand-ins are made otherwise, so that a store kept from before is not used with old images.
const STORE_DIR: &str = "e2e-3";

/// apt's configuration in the official Debian and Ubuntu images, which the stand-in carries too: after every
/// install and update, apt deletes the packages it downloaded and keeps no binary caches of its lists
/// (/var/cache/apt/*.bin, tens of megabytes, written again by an update that changes the lists). Without it,
/// `--cache-mounts`' removal of the hook would change nothing.
const DOCKER_CLEAN: &str = "\
DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };
APT::Update::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };
Dir::Cache::pkgcache \"\";
Dir::Cache::srcpkgcache \"\";
";

/// The stand-in images: (tag made here, the image it is built on, what it adds to it, the names Dockerfiles call
/// it by). An image is built on the Debian base or on a stand-in above it.
const DERIVED: &[(&str, &str, &str, &[&str])] = &[
    (
        "localhost/dockopt-e2e/python:bookworm",
        BASE,
        // Debian marks its Python as externally managed; the official images do not, so plain `pip install` works.
        // Their Python makes virtual environments, which Debian's does with python3-venv.
        "RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-pip python3-venv \
         python-is-python3 \
         && rm -rf /var/lib/apt/lists/* && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED",
        &["python:3.12-slim", "python:3.12-slim-bookworm"],
    ),
    (
        "localhost/dockopt-e2e/python-full:bookworm",
        "localhost/dockopt-e2e/python:bookworm",
        // The full image's part that its slim variant lacks and applications most often use: compilers, make and
        // the C library's headers, git, curl and wget (the real one has hundreds of megabytes more).
        "RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev make git curl wget \
         && rm -rf /var/lib/apt/lists/*",
        &["python:3.12-bookworm"],
    ),
    (
        "localhost/dockopt-e2e/node:bookworm",
        BASE,
        // The official images have a `node` user and yarn 1, and Node.js reads its own CA list unless told of the
        // system's.
        "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\n\
         RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm \
         && rm -rf /var/lib/apt/lists/* && useradd --uid 1000 --create-home node \
         && npm install -g yarn@1.22.22 && npm cache clean --force",
        &["node:20-bookworm-slim"],
    ),
    (
        "localhost/dockopt-e2e/golang:bookworm",
        BASE,
        // Without gcc, cgo must be off for `go build` to work.
        // The official images keep GOPATH in /go, where dockopt looks for the module cache.
        "RUN apt-get update && apt-get install -y --no-install-recommends golang-go ca-certificates \
         && rm -rf /var/lib/apt/lists/* && mkdir -p /go/src /go/bin && chmod -R 1777 /go\n\
         ENV CGO_ENABLED=0 GOPATH=/go PATH=/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        &["golang:1.22-bookworm"],
    ),
    (
        "localhost/dockopt-e2e/rust:bookworm",
        BASE,
        // The official images keep Cargo's home, and with it the registry, in /usr/local/cargo.
        "RUN apt-get update && apt-get install -y --no-install-recommends cargo ca-certificates \
         && rm -rf /var/lib/apt/lists/*\n\
         ENV CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        &["rust:1.75-bookworm"],
    ),
    (
        "localhost/dockopt-e2e/ruby:bookworm",
        BASE,
        "RUN apt-get update && apt-get install -y --no-install-recommends ruby && rm -rf /var/lib/apt/lists/*",
        &["ruby:3.1-slim-bookworm"],
    ),
    (
        "localhost/dockopt-e2e/php:bookworm",
        BASE,
        // For composer's official image, an Alpine one: PHP with its zip extension, composer, zip and unzip, run
        // as root, with composer's home, and so its cache, in /tmp.
        "ENV COMPOSER_ALLOW_SUPERUSER=1 COMPOSER_HOME=/tmp\n\
         RUN apt-get update && apt-get install -y --no-install-recommends php-cli php-zip composer unzip zip \
         && rm -rf /var/lib/apt/lists/*\n\
         WORKDIR /app",
        &["composer:2"],
    ),
    (
        "localhost/dockopt-e2e/fedora:bookworm",
        BASE,
        // Neither Fedora's image nor its repositories can be reached, so Debian's dnf stands in, with a repository
        // of its own: one package, built here, which dnf installs as Fedora's would, its metadata kept in
        // /var/cache/dnf. The package's description is 400 KB of random text, so that the metadata weighs
        // something, as a real repository's tens of megabytes do: zypper's cleanup of a tiny repository's
        // metadata added more to its log than it removed.
        "RUN apt-get update && apt-get install -y --no-install-recommends dnf rpm createrepo-c \
         && rm -rf /var/lib/apt/lists/* \
         && mkdir -p /root/rpmbuild/SPECS /srv/repo /etc/yum.repos.d \
         && printf '%s\\n' 'Name: hello' 'Version: 1.0' 'Release: 1' 'Summary: hello' 'License: MIT' \
            'BuildArch: noarch' '%description' \"$(head -c 300000 /dev/urandom | base64 -w 0)\" '%install' \
            'mkdir -p %{buildroot}/usr/share/hello' 'echo hello 1.0 > %{buildroot}/usr/share/hello/greeting' \
            '%files' '/usr/share/hello/greeting' \
            > /root/rpmbuild/SPECS/hello.spec \
         && rpmbuild -bb /root/rpmbuild/SPECS/hello.spec && cp /root/rpmbuild/RPMS/noarch/*.rpm /srv/repo/ \
         && createrepo_c /srv/repo && rm -rf /root/rpmbuild \
         && printf '[local]\\nname=local\\nbaseurl=file:///srv/repo\\ngpgcheck=0\\n' > /etc/yum.repos.d/local.repo",
        &["fedora:40"],
    ),
    (
        "localhost/dockopt-e2e/opensuse:bookworm",
        "localhost/dockopt-e2e/fedora:bookworm",
        // Likewise Debian's zypper for openSUSE's, with the same repository; its metadata is kept in /var/cache/zypp.
        "RUN apt-get update && apt-get install -y --no-install-recommends zypper && rm -rf /var/lib/apt/lists/* \
         && mkdir -p /etc/zypp/repos.d \
         && printf '[local]\\nname=local\\nbaseurl=file:///srv/repo\\ngpgcheck=0\\nenabled=1\\n' \
            > /etc/zypp/repos.d/local.repo",
        &["opensuse/leap:15.6"],
    ),
];

const DEBIAN_NAMES: &[&str] = &["debian:bookworm", "debian:bookworm-slim", "debian:bookworm-20240722"];

/// The environment every buildah and dockopt command of these tests runs in: storage of their own, and chroot
/// isolation (no user namespaces needed). The storage is overlay where the kernel lets Buildah mount it, and vfs
/// elsewhere, which needs no mounts but copies the whole file system at every step: several times slower, and
/// rebuild times that follow the number of steps rather than the work done.
struct Builds {
    env: Vec<(&'static str, PathBuf)>,
}

impl Builds {
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command.envs(self.env.iter().map(|(k, v)| (k, v.as_os_str())));
        command
    }

    fn buildah(&self, args: &[&str]) -> Result<String, String> {
        run(self.command("buildah").args(args))
    }

    /// The storage mounts a container's file system, as every build step does.
    fn can_mount(&self) -> Result<(), String> {
        let container = self.buildah(&["from", "scratch"])?.trim().to_string();
        let mounted = self.buildah(&["mount", &container]);
        self.buildah(&["rm", &container])?;
        mounted.map(drop)
    }

    fn has_image(&self, name: &str) -> bool {
        self.buildah(&["inspect", "--type", "image", name]).is_ok()
    }
}

fn run(command: &mut Command) -> Result<String, String> {
    let what = format!("{command:?}");
    let output =
        run_again_if_transient(|| command.output(), &what, PAUSE).map_err(|e| format!("cannot run {what}: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!("{what} failed with {}:\n{}", output.status, tail.join("\n")));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// What a command prints when it failed for a passing reason of the machine's or the network's, not of the build's:
/// run again, it may well succeed.
///
/// - Buildah's "sealing memfd copy". To run a step, Buildah starts itself again from a copy of its binary in a
///   memfd that it seals (containers/storage's `unshare`), and the kernel refuses the write seal with EBUSY while a
///   page of the copy still has another reference. One CI run failed every end-to-end test on it, at a base image
///   step that the run before had built.
/// - A mirror or registry that did not answer, as apt, pip and npm say so: the builds fetch from Debian's mirror,
///   PyPI and npm. A package that is not there (`Unable to locate package`, `No matching distribution`, a 404) is
///   not among them: that fails again.
const TRANSIENT_FAILURES: &[&str] = &[
    "sealing memfd copy",
    // apt, curl and Python's resolver.
    "Temporary failure resolving",
    "Temporary failure in name resolution",
    "Could not resolve host",
    "Connection timed out",
    "Connection reset by peer",
    "Hash Sum mismatch",
    "503  Service Unavailable",
    // pip.
    "Read timed out",
    // npm.
    "ECONNRESET",
    "ETIMEDOUT",
    "EAI_AGAIN",
];

/// How many times a command that fails with one of the [`TRANSIENT_FAILURES`] is run in all.
const ATTEMPTS: u32 = 3;

/// The pause before the second run of a command that failed in passing; before each later run it grows by as much.
/// A mirror that stopped answering mostly answers again within seconds.
const PAUSE: std::time::Duration = std::time::Duration::from_secs(3);

/// Runs `command` until it does not fail with one of the [`TRANSIENT_FAILURES`], at most [`ATTEMPTS`] times, saying
/// so each time and pausing first for `pause` times the runs so far. Any other failure is returned at once.
fn run_again_if_transient(
    mut command: impl FnMut() -> std::io::Result<std::process::Output>,
    what: &str,
    pause: std::time::Duration,
) -> std::io::Result<std::process::Output> {
    let mut attempt = 1;
    loop {
        let output = command()?;
        if output.status.success() || attempt == ATTEMPTS {
            return Ok(output);
        }
        let printed = [&output.stderr, &output.stdout].map(|stream| String::from_utf8_lossy(stream));
        let Some(failure) =
            TRANSIENT_FAILURES.iter().find(|failure| printed.iter().any(|text| text.contains(*failure)))
        else {
            return Ok(output);
        };
        eprintln!("e2e: {what} failed with \"{failure}\" (attempt {attempt} of {ATTEMPTS}); running it again");
        std::thread::sleep(pause * attempt);
        attempt += 1;
    }
}

/// Runs on every machine: the retry needs no builder.
#[test]
fn only_transient_failures_are_run_again() {
    use std::os::unix::process::ExitStatusExt;
    let output = |code: i32, stderr: &str| std::process::Output {
        status: std::process::ExitStatus::from_raw(code << 8),
        stdout: Vec::new(),
        stderr: stderr.as_bytes().to_vec(),
    };
    let busy = "Close_Fd sealing memfd copy: Device or resource busy\nsubprocess exited with status 1";
    let offline = "W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  \
                   Temporary failure resolving 'deb.debian.org'";
    let runs_until = |outputs: Vec<std::process::Output>| {
        let mut outputs = outputs.into_iter();
        let mut runs = 0;
        let last = run_again_if_transient(
            || {
                runs += 1;
                Ok(outputs.next().expect("no more runs than outputs"))
            },
            "a test command",
            std::time::Duration::from_millis(1),
        )
        .expect("an output");
        (runs, last.status.code())
    };
    assert_eq!(runs_until(vec![output(1, busy), output(0, "")]), (2, Some(0)));
    assert_eq!(runs_until(vec![output(100, offline), output(0, "")]), (2, Some(0)));
    assert_eq!(runs_until(vec![output(1, busy), output(1, offline), output(1, busy)]), (ATTEMPTS, Some(1)));
    assert_eq!(runs_until(vec![output(1, "E: Unable to locate package nodejs")]), (1, Some(1)));
    assert_eq!(runs_until(vec![output(0, busy)]), (1, Some(0)));
}

/// The base images, made once per test run and kept in the storage under the target directory, so a second run
/// reuses them.
fn builds() -> &'static Builds {
    static BUILDS: OnceLock<Result<Builds, String>> = OnceLock::new();
    match BUILDS.get_or_init(prepare) {
        Ok(builds) => builds,
        Err(why) => panic!("cannot make the base images: {why}"),
    }
}

fn prepare() -> Result<Builds, String> {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(STORE_DIR);
    let builds = match std::env::var("DOCKOPT_E2E_STORAGE").as_deref() {
        Ok(driver @ ("overlay" | "vfs")) => storage(&root, driver)?,
        Ok(other) => return Err(format!("DOCKOPT_E2E_STORAGE={other}: use overlay or vfs")),
        Err(_) => storage(&root, "overlay").and_then(|b| b.can_mount().map(|()| b)).or_else(|overlay| {
            eprintln!("e2e: overlay storage does not work here, so the builds use vfs: {overlay}");
            storage(&root, "vfs")
        })?,
    };

    if !builds.has_image(BASE) {
        make_debian_base(&builds, &root)?;
    }
    for name in DEBIAN_NAMES {
        builds.buildah(&["tag", BASE, &docker_hub(name)])?;
    }
    for (tag, parent, steps, names) in DERIVED {
        if !builds.has_image(tag) {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            std::fs::write(dir.path().join("Dockerfile"), format!("FROM {parent}\n{steps}\n"))
                .map_err(|e| e.to_string())?;
            let context = dir.path().to_str().ok_or("temporary directory is not UTF-8")?;
            builds.buildah(&["bud", "--pull=never", "-t", tag, context])?;
        }
        for name in *names {
            builds.buildah(&["tag", tag, &docker_hub(name)])?;
        }
    }
    Ok(builds)
}

/// The full name of Docker Hub's image `name`, as a Dockerfile's FROM names it: an official image's is under
/// `library/`, another's under its owner (`opensuse/leap`).
fn docker_hub(name: &str) -> String {
    if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    }
}

/// Buildah's storage with `driver`, in a directory of its own: a store made with one driver cannot be opened with
/// another.
fn storage(root: &Path, driver: &str) -> Result<Builds, String> {
    let root = root.join(driver);
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    let conf = root.join("storage.conf");
    let storage = format!(
        "[storage]\ndriver = \"{driver}\"\nrunroot = \"{}\"\ngraphroot = \"{}\"\n",
        root.join("run").display(),
        root.join("storage").display()
    );
    std::fs::write(&conf, storage).map_err(|e| e.to_string())?;
    Ok(Builds { env: vec![("CONTAINERS_STORAGE_CONF", conf), ("BUILDAH_ISOLATION", "chroot".into())] })
}

/// debootstrap into a directory, then copy it into an image from scratch with owners kept, and add the host's CA
/// bundle so that TLS works behind an intercepting proxy; the bundle also goes where update-ca-certificates
/// picks it up again when a build installs ca-certificates.
fn make_debian_base(builds: &Builds, root: &Path) -> Result<(), String> {
    let rootfs = root.join("rootfs");
    let debootstrap = || {
        let _ = std::fs::remove_dir_all(&rootfs);
        run(Command::new("debootstrap").args(["--variant=minbase", "bookworm"]).arg(&rootfs).arg(mirror()))
    };
    // A download that fails halfway leaves a half-made root file system, so a second try starts afresh.
    debootstrap().or_else(|first| debootstrap().map_err(|second| format!("{first}\nand again:\n{second}")))?;
    std::fs::write(rootfs.join("etc/apt/apt.conf.d/docker-clean"), DOCKER_CLEAN).map_err(|e| e.to_string())?;
    // The official images hold no package lists either; debootstrap leaves the main archive's, about 50 MB.
    // With them in the base, a RUN's `rm -rf /var/lib/apt/lists/*` hides the base's copy and the next
    // `apt-get update` downloads it again into its own layer, a cost the official images, which have no copy to
    // reuse, pay in every update.
    let lists = rootfs.join("var/lib/apt/lists");
    for entry in std::fs::read_dir(&lists).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        removed.map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let host_bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if host_bundle.is_file() {
        let local = rootfs.join("usr/local/share/ca-certificates");
        std::fs::create_dir_all(&local).map_err(|e| e.to_string())?;
        std::fs::copy(host_bundle, local.join("host-ca-bundle.crt")).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(rootfs.join("etc/ssl/certs")).map_err(|e| e.to_string())?;
        std::fs::copy(host_bundle, rootfs.join("etc/ssl/certs/ca-certificates.crt")).map_err(|e| e.to_string())?;
    }
    let container = builds.buildah(&["from", "scratch"])?.trim().to_string();
    let mount = builds.buildah(&["mount", &container])?.trim().to_string();
    run(Command::new("cp").arg("-a").arg(format!("{}/.", rootfs.display())).arg(&mount))?;
    builds.buildah(&["umount", &container])?;
    builds.buildah(&[
        "config",
        "--env",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--cmd",
        "bash",
        &container,
    ])?;
    builds.buildah(&["commit", "--rm", &container, BASE])?;
    std::fs::remove_dir_all(&rootfs).map_err(|e| e.to_string())
}

/// Measures one case and checks what a safe fix promises. `manifests` are the files the manifests-first fix
/// copies ahead of the source: it adds one layer on purpose, holding copies of them, so that layer and its bytes
/// are allowed for.
fn prove(case: &str, manifests: &[&str]) {
    prove_with(case, manifests, &[]);
}

/// [`prove`] with more options for `dockopt measure`, such as an unsafe fix to prove.
fn prove_with(case: &str, manifests: &[&str], options: &[&str]) -> Value {
    let builds = builds();
    let (file, output) = measure(builds, case, options);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(file["outcome"], "measured", "{case}: {file:#}\nstderr:\n{stderr}");
    let (original, fixed) = (&file["original"], &file["fixed"]);
    eprintln!(
        "{case}: layers {} -> {}, {} -> {} bytes, {:.1} s -> {:.1} s",
        original["layers"],
        fixed["layers"],
        original["size_bytes"],
        fixed["size_bytes"],
        original["build_seconds"].as_f64().unwrap_or(0.0),
        fixed["build_seconds"].as_f64().unwrap_or(0.0)
    );
    assert_eq!(file["differences"], Value::Array(Vec::new()), "{case}: the fixed image's files differ");
    let (extra_layers, extra_bytes) = manifests_layer(case, manifests);
    let layers = |build: &Value| build["layers"].as_u64().expect("a layer count");
    assert!(layers(fixed) <= layers(original) + extra_layers, "{case}: more layers: {file:#}");
    let size = |build: &Value| build["size_bytes"].as_u64().expect("a size");
    assert!(size(fixed) <= size(original) + extra_bytes, "{case}: the fixed image is bigger: {file:#}");
    assert!(output.status.success(), "{case}: measure exited with {}\n{stderr}", output.status);
    file
}

/// Buildah's lookup of the layer cache fails ("layer not known") when another test removes an image meanwhile, so
/// the tests that build with the cache run alone and the others together.
static STORE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// The store to oneself, while the layer cache is looked up.
fn store_alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    STORE.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `dockopt measure --json` on one case: the file's report and the process's output.
fn measure(builds: &Builds, case: &str, options: &[&str]) -> (Value, std::process::Output) {
    let cached = options.contains(&"--rebuild");
    let _alone = cached.then(store_alone);
    let _shared = (!cached).then(|| STORE.read().unwrap_or_else(|poisoned| poisoned.into_inner()));
    let dockerfile = Path::new(env!("CARGO_MANIFEST_DIR")).join(case).join("Dockerfile");
    let mut command = builds.command(env!("CARGO_BIN_EXE_dockopt"));
    command.args(["measure", "--builder", "buildah", "--json"]).args(options).arg(&dockerfile);
    let output =
        run_again_if_transient(|| command.output(), &format!("measure of {case}"), PAUSE).expect("dockopt runs");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{case}: measure printed no JSON ({e}); stderr:\n{}", String::from_utf8_lossy(&output.stderr))
    });
    (report["files"][0].clone(), output)
}

/// DO201's unsafe fix for a child stage that installs with its parent's lists: the parent cleans them, the child
/// updates its own, and the final image holds the same files outside caches.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn unsafe_fix_updates_in_the_child_stage() {
    prove_with("tests/e2e/trap-child-stage", &[], &["--unsafe-fixes", "--select", "DO1,DO201"]);
}

/// The check has teeth: `--no-install-recommends` (an unsafe fix) leaves out ca-certificates, which Debian's
/// curl recommends, and the comparison sees it.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn an_unsafe_fix_that_changes_the_files_is_caught() {
    let builds = builds();
    let (file, output) = measure(builds, "tests/e2e/apt-seed", &["--unsafe-fixes"]);
    assert_eq!(file["outcome"], "measured", "{file:#}");
    let differences = file["differences"].as_array().expect("a list of differences");
    let missing_config =
        differences.iter().any(|d| d["path"] == "/etc/ca-certificates.conf" && d["change"] == "only in original");
    assert!(missing_config, "{file:#}");
    assert_eq!(output.status.code(), Some(1));
}

/// DO104's unsafe fix, proven for what it is: `apt-get install curl jq` in place of two installs builds, and the
/// image differs from the original only in apt's and dpkg's own records of the installs, which is why the fix is
/// not safe.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn unsafe_join_of_installs_changes_only_the_package_records() {
    let builds = builds();
    let (file, output) = measure(builds, "tests/e2e/apt-seed", &["--unsafe-fixes", "--select", "DO1,DO201"]);
    assert_eq!(file["outcome"], "measured", "{file:#}");
    let changed: Vec<&str> = file["differences"]
        .as_array()
        .expect("a list of differences")
        .iter()
        .map(|d| d["path"].as_str().expect("a path"))
        .collect();
    assert_eq!(changed, ["/var/lib/apt/extended_states", "/var/lib/dpkg/status-old"], "{file:#}");
    assert_eq!(output.status.code(), Some(1));
}

/// The layers a manifests-first fix adds on purpose and their largest size in all: a COPY for each directory the
/// manifest files are in, and one for each directory copied whole (yarn's .yarn). Each file is a tar entry (a header
/// block and its content in whole blocks), each directory a header block, and each layer has the entries of the
/// directories above its files and the end of its archive besides.
fn manifests_layer(case: &str, manifests: &[&str]) -> (u64, u64) {
    const BLOCK: u64 = 512;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(case);
    let mut layers = std::collections::BTreeSet::new();
    let mut entries = 0;
    for name in manifests {
        let path = dir.join(name);
        let metadata = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{case}/{name}: {e}"));
        if metadata.is_dir() {
            layers.insert((name.to_string(), true));
            let mut pending = vec![path];
            while let Some(dir) = pending.pop() {
                entries += BLOCK;
                for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
                    let entry = entry.expect("a directory entry");
                    let metadata = entry.metadata().expect("an entry's metadata");
                    if metadata.is_dir() {
                        pending.push(entry.path());
                    } else {
                        entries += BLOCK + metadata.len().div_ceil(BLOCK) * BLOCK;
                    }
                }
            }
        } else {
            layers.insert((name.rsplit_once('/').map_or("", |(parent, _)| parent).to_string(), false));
            entries += BLOCK + metadata.len().div_ceil(BLOCK) * BLOCK;
        }
    }
    let count = layers.len() as u64;
    (count, entries + count * 8 * BLOCK)
}

macro_rules! cases {
    ($($name:ident: $dir:literal, manifests [$($manifest:literal),*];)*) => {
        $(
            #[test]
            #[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
            fn $name() {
                prove($dir, &[$($manifest),*]);
            }
        )*
    };
}

cases! {
    example_debian_apt: "examples/debian-apt", manifests [];
    example_go_multistage: "examples/go-multistage", manifests [];
    apt_seed: "tests/e2e/apt-seed", manifests [];
    flask_copy_first: "tests/e2e/flask-copy-first", manifests ["requirements.txt"];
    node_npm_ci: "tests/e2e/node-npm-ci", manifests ["package.json", "package-lock.json"];
    node_modules_in_the_context_not_moved_over: "tests/e2e/node-npm-local-modules", manifests [];
    trap_cd_in_merged_run: "tests/e2e/trap-cd", manifests [];
    trap_export: "tests/e2e/trap-export", manifests [];
    trap_exit: "tests/e2e/trap-exit", manifests [];
    trap_env_between_update_and_install: "tests/e2e/trap-env-between", manifests [];
    trap_child_stage_uses_parent_lists: "tests/e2e/trap-child-stage", manifests [];
    trap_comments_between_runs: "tests/e2e/trap-comments", manifests [];
    trap_case_statement_after_apt: "tests/e2e/trap-case-statement", manifests [];
    trap_case_statement_installs_after_update: "tests/e2e/trap-case-install", manifests [];
    add_to_copy_but_not_for_an_archive: "tests/e2e/add-to-copy", manifests [];
    go_build_cache_cleaned: "tests/e2e/go-split", manifests [];
    dnf_cache_cleaned: "tests/e2e/dnf-cache", manifests [];
    node_yarn_copy_first: "tests/e2e/node-yarn", manifests ["package.json", "yarn.lock"];
    node_pnpm_copy_first: "tests/e2e/node-pnpm", manifests ["package.json", "pnpm-lock.yaml", "pnpm-workspace.yaml"];
    node_pnpm10_copy_first:
        "tests/e2e/node-pnpm10", manifests ["package.json", "pnpm-lock.yaml", "pnpm-workspace.yaml"];
    python_uv_copy_first: "tests/e2e/python-uv", manifests ["pyproject.toml", "uv.lock"];
    python_uv_find_links_not_moved: "tests/e2e/python-uv-find-links", manifests [];
    go_copy_first: "tests/e2e/go-copy-first", manifests ["go.mod", "go.sum"];
    cargo_fetch_copy_first: "tests/e2e/cargo-fetch-first", manifests ["Cargo.lock", "Cargo.toml"];
    bundler_copy_first: "tests/e2e/bundler-copy-first", manifests [".ruby-version", "Gemfile", "Gemfile.lock"];
    composer_copy_first: "tests/e2e/composer-copy-first", manifests ["composer.json", "composer.lock"];
    python_poetry_copy_first: "tests/e2e/python-poetry", manifests ["poetry.lock", "poetry.toml", "pyproject.toml"];
    python_pipenv_copy_first: "tests/e2e/python-pipenv", manifests [".env", "Pipfile", "Pipfile.lock"];
    python_pipenv_local_file_not_moved: "tests/e2e/python-pipenv-local-file", manifests [];
    zypper_cache_cleaned: "tests/e2e/zypper-cache", manifests [];
}

/// DO306's split of a single-stage Go build: the runtime stage `FROM scratch` holds the binary, the CA bundle,
/// time zones, the users and the static files, and the server's own `--version` prints the same in both images.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn multi_stage_split_of_a_go_server_runs_the_same() {
    let proof = prove_unsafe_fix("tests/e2e/go-split", "DO306", "/usr/local/bin/hello --version", "hello 1.0\n");
    assert!(proof.fixed * 10 < proof.original, "the runtime image is not a tenth of the original: {proof:?}");
    assert!(proof.kept("/srv/static/index.html") && proof.kept("/usr/local/bin/hello"), "{proof:?}");
}

/// What an unsafe fix did to an image, as `measure --unsafe-fixes --run` saw it.
#[derive(Debug)]
struct UnsafeProof {
    original: u64,
    fixed: u64,
    differences: Vec<Value>,
}

impl UnsafeProof {
    /// The fixed image has the same file at `path` as the original.
    fn kept(&self, path: &str) -> bool {
        !self.differences.iter().any(|d| d["path"] == path)
    }
}

/// Measures `rule`'s unsafe fix on `case` and checks that the fixed image builds and that `smoke` prints
/// `expected` in it, as in the original.
fn prove_unsafe_fix(case: &str, rule: &str, smoke: &str, expected: &str) -> UnsafeProof {
    let (file, output) = measure(builds(), case, &["--unsafe-fixes", "--select", rule, "--run", smoke]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(file["outcome"], "measured", "{file:#}\nstderr:\n{stderr}");
    let run = &file["run"];
    assert_eq!(run["same"], true, "{run:#}");
    assert!(run["fixed"]["stdout"].as_str().is_some_and(|s| s.starts_with(expected)), "{run:#}");
    let size = |build: &Value| build["size_bytes"].as_u64().expect("a size");
    let (original, fixed) = (size(&file["original"]), size(&file["fixed"]));
    eprintln!("{case}: {original} -> {fixed} bytes");
    let differences = file["differences"].as_array().expect("differences").clone();
    UnsafeProof { original, fixed, differences }
}

/// DO306's split of a Node.js build: TypeScript, the only devDependency, compiles the app in the builder and is
/// pruned there; the runtime stage on the same image gets the app's directory, and the app prints the same. The
/// directory's name has a blank, so the runtime stage copies it with a COPY in exec form, which this proves too.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn multi_stage_split_of_a_node_build_runs_the_same() {
    let smoke = "node '/srv/my app/dist/index.js' --version";
    let proof = prove_unsafe_fix("tests/e2e/node-build", "DO306", smoke, "hello 1.0.0\n");
    assert!(proof.fixed + 20_000_000 < proof.original, "less than 20 MB saved: {proof:?}");
    assert!(!proof.kept("/srv/my app/node_modules/typescript/package.json"), "TypeScript is gone");
    assert!(proof.kept("/srv/my app/dist/index.js"), "the built app is the same");
}

/// DO304's switch to the slim variant: the app, with a package from PyPI, builds and runs the same on the slim
/// image, which lacks the full image's compilers and tools. The full image is a stand-in: the slim one with gcc,
/// make, the C headers, git, curl and wget added.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn slim_base_image_runs_the_same() {
    let proof = prove_unsafe_fix("tests/e2e/slim-switch", "DO304", "python /app/app.py", "six 1.16.0\n");
    assert!(proof.fixed + 50_000_000 < proof.original, "less than 50 MB saved: {proof:?}");
    assert!(!proof.kept("/usr/bin/make"), "make is gone");
    assert!(proof.kept("/app/app.py"), "the app is the same");
}

/// DO306's split of a Python build: psycopg2, compiled with gcc against libpq in the builder's virtual
/// environment, imports in the runtime stage, which has the library (libpq5, found by ldd in the builder) and
/// neither gcc nor the headers.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn multi_stage_split_of_a_python_build_imports_the_same() {
    let smoke = "python -c 'import psycopg2; print(psycopg2.__version__)'";
    let proof = prove_unsafe_fix("tests/e2e/pip-build-deps", "DO306", smoke, "2.9.10");
    assert!(proof.fixed + 50_000_000 < proof.original, "less than 50 MB saved: {proof:?}");
    assert!(!proof.kept("/usr/bin/x86_64-linux-gnu-gcc-12"), "gcc is gone");
}

/// DO307's purge of build-only packages: psycopg2, compiled from source against libpq, still imports once gcc
/// and the headers are gone, because the package that owns libpq.so.5 was kept; the image is smaller.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn build_only_packages_purged_and_the_extension_still_imports() {
    let smoke = "python -c 'import psycopg2; print(psycopg2.__version__)'";
    let proof = prove_unsafe_fix("tests/e2e/pip-build-deps", "DO307", smoke, "2.9.10");
    assert!(proof.fixed + 50_000_000 < proof.original, "less than 50 MB saved: {proof:?}");
    assert!(!proof.kept("/usr/bin/x86_64-linux-gnu-gcc-12"), "gcc is gone");
}

/// DO207's `--no-document`: a gem built and installed from the context requires and answers the same, and its
/// documentation, which is why the fix is not safe, is all that is gone.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn gem_installed_without_documentation_runs_the_same() {
    let smoke = "ruby -e 'require %q(hello); puts Hello.greeting'";
    let proof = prove_unsafe_fix("tests/e2e/gem-docs", "DO207", smoke, "hello 1.0.0\n");
    assert!(proof.fixed < proof.original, "{proof:?}");
    assert!(proof.kept("/var/lib/gems/3.1.0/gems/hello-1.0.0/lib/hello.rb"), "{proof:?}");
    assert!(!proof.kept("/var/lib/gems/3.1.0/doc/hello-1.0.0"), "the documentation is gone: {proof:?}");
    let outside_docs = |d: &&Value| !d["path"].as_str().is_some_and(|p| p.starts_with("/var/lib/gems/3.1.0/doc/"));
    assert_eq!(proof.differences.iter().filter(outside_docs).count(), 0, "{proof:?}");
}

/// DO306's split of a single-stage Rust build: the runtime stage on the builder's Debian slim release holds the
/// binary and its configuration, and the binary prints the same in both images.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn multi_stage_split_of_a_rust_binary_runs_the_same() {
    let proof =
        prove_unsafe_fix("tests/e2e/rust-split", "DO306", "/app/target/release/hello --version", "hello 1.0.0\n");
    assert!(proof.fixed + 100_000_000 < proof.original, "less than 100 MB saved: {proof:?}");
    assert!(proof.kept("/app/config/app.toml") && proof.kept("/app/target/release/hello"), "{proof:?}");
}

/// The example's safe fixes proven as [`prove`] does, and in the same measurement what `--rebuild` shows
/// manifests-first is for: after a change to a source file the original installs its dependencies again and the
/// fixed Dockerfile takes them from the cache, starting later.
fn prove_and_rebuild(case: &str, manifests: &[&str], install: &str) {
    let file = prove_with(case, manifests, &["--rebuild"]);
    let rebuild = &file["rebuild"];
    assert!(rebuild["touched"].is_string(), "{file:#}");
    let step = |image: &str| {
        let steps = rebuild[image]["steps"].as_array().expect("steps");
        let found = steps.iter().find(|s| s["instruction"].as_str().is_some_and(|i| i.starts_with(install)));
        found.unwrap_or_else(|| panic!("{case}: no `{install}` step in the {image} rebuild: {rebuild:#}"))["cached"]
            .clone()
    };
    assert_eq!(step("original"), false, "{rebuild:#}");
    assert_eq!(step("fixed"), true, "{rebuild:#}");
    let first_miss = |image: &str| rebuild[image]["first_miss"].as_u64().expect("a step ran again");
    assert!(first_miss("fixed") > first_miss("original"), "{rebuild:#}");
    let seconds = |image: &str| rebuild[image]["seconds"].as_f64().expect("seconds");
    eprintln!("{case}: rebuild {:.1} s -> {:.1} s", seconds("original"), seconds("fixed"));
}

#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn example_python_flask_and_its_rebuild() {
    prove_and_rebuild("examples/python-flask", &["requirements.txt"], "RUN pip install");
}

#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn example_node_express_and_its_rebuild() {
    prove_and_rebuild("examples/node-express", &["package.json", "package-lock.json"], "RUN npm ci");
}

/// `--cache-mounts`: the pip and apt caches go into cache mounts instead of being deleted, and the images hold the
/// same files outside caches as the originals.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn cache_mounts_keep_the_files_of_the_flask_example() {
    // The example says nothing of BuildKit (no `# syntax` line), so the mount is an unsafe fix there.
    prove_with("examples/python-flask", &["requirements.txt"], &["--cache-mounts", "--unsafe-fixes"]);
}

#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn cache_mounts_keep_the_files_of_the_node_example() {
    let manifests = ["package.json", "package-lock.json"];
    prove_with("examples/node-express", &manifests, &["--cache-mounts", "--unsafe-fixes"]);
}

/// apt's lists and archives in cache mounts: the fixed image differs from the original only by the docker-clean
/// hook, which the fix removes so that apt keeps what it downloads in the mounts, and which makes it unsafe.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn cache_mounts_keep_the_files_of_the_apt_seed_but_the_hook() {
    let builds = builds();
    let options = ["--cache-mounts", "--unsafe-fixes", "--select", "DO101,DO201"];
    let (file, output) = measure(builds, "tests/e2e/apt-seed", &options);
    assert_eq!(file["outcome"], "measured", "{file:#}");
    let differences = file["differences"].as_array().expect("a list of differences");
    let hook_only = |d: &Value| d["path"] == "/etc/apt/apt.conf.d/docker-clean" && d["change"] == "only in original";
    assert!(differences.len() == 1 && hook_only(&differences[0]), "{file:#}");
    let size = |build: &Value| build["size_bytes"].as_u64().expect("a size");
    assert!(size(&file["fixed"]) <= size(&file["original"]), "the fixed image is bigger: {file:#}");
    assert_eq!(output.status.code(), Some(1));
}

/// DO210 with DO209: Go's module cache and build cache in cache mounts. The module comes from a file proxy in the
/// context, so `go mod download` fills the module cache offline, and `go build` finds it in the mount of its own
/// RUN. The images hold the same files outside caches, and the program prints the same.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn cache_mounts_keep_the_files_of_a_go_module_build() {
    prove_mounts_and_run("tests/e2e/go-modules", "hello", "hello from example.com/greet v1.0.0\n");
}

/// DO210 for Cargo: the registry in cache mounts. The crate comes from a local registry in the context, which
/// Cargo unpacks into its registry offline; the images hold the same files outside caches, and the program prints
/// the same.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn cache_mounts_keep_the_files_of_a_cargo_build() {
    prove_mounts_and_run("tests/e2e/cargo-registry", "/app/target/release/hello", "hello from greet 1.0.0\n");
}

/// DO209's `go clean -cache` after a `case` statement, which DO101 merged into the RUN that builds: the images hold
/// the same files outside caches, and the program prints the same architecture, which the `case` recorded.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn go_build_cache_cleaned_after_a_merged_case_statement() {
    prove_case_statement_runs("tests/e2e/trap-case-go", "arch-of-image");
}

/// DO206's `npm cache clean --force` after a `case` statement, which DO101 merged into the RUN that installs: the
/// images hold the same files outside caches, and the `case` recorded the same architecture in both.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn npm_cache_cleaned_after_a_merged_case_statement() {
    prove_case_statement_runs("tests/e2e/trap-case-npm", "cat /srv/arch");
}

/// DO103 under yarn 4's Plug'n'Play, where DO206 cleans nothing: the global cache holds the install, which the
/// comparison of files counts as a cache, so the program is run in both images too.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn node_yarn_berry_copy_first() {
    let manifests = [".yarn", ".yarnrc.yml", "package.json", "yarn.lock"];
    let file = prove_with("tests/e2e/node-yarn-berry", &manifests, &["--run", "node -r ./.pnp.cjs index.js"]);
    assert_eq!(file["run"]["fixed"]["stdout"], "hello 1.0.0, 7 is a number: true\n", "{file:#}");
}

/// DO206's `yarn cache clean --all` after yarn 4 installs into node_modules, as its .yarnrc.yml says, the only fix
/// of the case: the images hold the same files outside the global cache, the fixed one is smaller for lacking it,
/// and the program runs the same.
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn yarn_berry_cache_cleaned_where_it_lays_out_node_modules() {
    let case = "tests/e2e/node-yarn-berry-node-modules";
    let dockerfile = Path::new(env!("CARGO_MANIFEST_DIR")).join(case).join("Dockerfile");
    let fixed = Command::new(env!("CARGO_BIN_EXE_dockopt")).args(["fix", "--diff"]).arg(&dockerfile).output();
    let fixed = String::from_utf8(fixed.expect("dockopt runs").stdout).expect("UTF-8");
    let changed: Vec<&str> =
        fixed.lines().filter(|l| l.starts_with(['+', '-']) && !l.starts_with("+++") && !l.starts_with("---")).collect();
    assert_eq!(changed, ["-RUN yarn install --immutable", "+RUN yarn install --immutable && yarn cache clean --all"]);
    let file = prove_with(case, &[], &["--run", "node index.js"]);
    let run = &file["run"];
    assert_eq!(run["fixed"]["stdout"], "hello 1.0.0, 7 is a number: true\n", "{run:#}");
    let size = |build: &str| file[build]["size_bytes"].as_u64().expect("a size");
    assert!(size("fixed") < size("original"), "{file:#}");
}

/// Proves the fixes on `case` like [`prove`], and that `show`, run in both images, prints the same architecture,
/// which the `case` statement in the merged RUN recorded.
fn prove_case_statement_runs(case: &str, show: &str) {
    let file = prove_with(case, &[], &["--run", show]);
    let run = &file["run"];
    assert_eq!(run["same"], true, "{run:#}");
    assert!(matches!(run["fixed"]["stdout"].as_str(), Some("x86-64\n" | "other\n")), "{run:#}");
}

/// Proves the `--cache-mounts` fixes on `case` like [`prove`], and that `smoke` prints `expected` in both images.
fn prove_mounts_and_run(case: &str, smoke: &str, expected: &str) {
    let file = prove_with(case, &[], &["--cache-mounts", "--run", smoke]);
    let run = &file["run"];
    assert_eq!(run["same"], true, "{run:#}");
    assert_eq!(run["fixed"]["stdout"], expected, "{run:#}");
}

/// The point of a cache mount: after the RUN changes, apt finds the packages it downloaded in the mount, and
/// downloads only the new one. (Neither apt's lists nor pip's cache can show it here: this network sends the lists
/// again whatever apt has, and pip caches nothing behind its proxy; see the README.)
#[test]
#[cfg_attr(not(dockopt_e2e), ignore = "builds images: set DOCKOPT_E2E=1 (needs root, buildah and debootstrap)")]
fn cache_mount_is_reused_after_a_dependency_change() {
    let builds = builds();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/apt-seed/Dockerfile");
    let fixed = Command::new(env!("CARGO_BIN_EXE_dockopt"))
        .args(["fix", "--cache-mounts", "--unsafe-fixes", "--select", "DO101,DO201", "-"])
        .stdin(std::fs::File::open(seed).expect("the seed's Dockerfile"))
        .output()
        .expect("dockopt runs");
    let fixed = String::from_utf8(fixed.stdout).expect("UTF-8");
    assert!(fixed.contains("--mount=type=cache,target=/var/lib/apt/lists,sharing=locked"), "{fixed}");
    let work = tempfile::tempdir().expect("a temporary directory");
    let context = work.path().to_str().expect("a UTF-8 path");
    let _alone = store_alone();
    let build = |dockerfile: &str, tag: &str| {
        std::fs::write(work.path().join("Dockerfile"), dockerfile).expect("a Dockerfile");
        builds.buildah(&["bud", "--layers", "--pull=never", "-t", tag, context])
    };
    build(&fixed, "localhost/dockopt-e2e/cache-mount:first").expect("the first build");
    let changed = fixed.replace("apt-get install -y jq", "apt-get install -y jq tree");
    assert_ne!(changed, fixed, "the dependency change applies");
    let second = build(&changed, "localhost/dockopt-e2e/cache-mount:second").expect("the second build");
    for tag in ["first", "second"] {
        let _ = builds.buildah(&["rmi", &format!("localhost/dockopt-e2e/cache-mount:{tag}")]);
    }
    // curl and its libraries are in the mount since the first build (or an earlier one: the builder keeps its
    // cache mounts), and the base image has no package files: nothing of them is fetched again.
    assert!(second.lines().any(|l| l.starts_with("Need to get 0 B/")), "curl was downloaded again:\n{second}");
}
