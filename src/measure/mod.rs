//! `dockopt measure`: build a Dockerfile as written and as fixed, and compare the two images: layers, size,
//! build time, and every file that differs outside package caches, which for a safe fix should be none.

use crate::builder::Builder;
use crate::image::{self, Comparison, Difference, Image};
use crate::model::Dockerfile;
use anyhow::{Context as _, Result};
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// Package-manager caches and indexes (DESIGN.md, "What makes a fix safe"): removing them is what the fixes are
/// for. The directories themselves are listed where a fix may keep them from being made at all.
const CACHE_PATHS: &[&str] = &[
    "/var/lib/apt/lists/**",
    "/var/cache/apt/**",
    "/var/cache/apk/**",
    "/var/cache/{yum,dnf,zypp}",
    "/var/cache/{yum,dnf,zypp}/**",
    "/{root,home/*}/.cache/{pip,uv,yarn,pnpm}",
    "/{root,home/*}/.cache/{pip,uv,yarn,pnpm}/**",
    "/{root,home/*}/.npm/_cacache",
    "/{root,home/*}/.npm/_cacache/**",
    "/usr/local/share/.cache/yarn/**",
    "/{root,home/*}/.local/share/pnpm/store/**",
    "/opt/conda/pkgs/**",
    "/tmp/**",
    // npm names its logs by the time of the build, so no two builds share them.
    "/{root,home/*}/.npm/_logs",
    "/{root,home/*}/.npm/_logs/**",
];

/// Files whose bytes record when they were written, so two builds of the same Dockerfile differ in them. Measured
/// by building one Dockerfile twice without cache: these were the only paths, caches aside, that differed.
const TIME_STAMPED: &[&str] = &[
    "/var/log/**",
    // ldconfig's cache of library modification times.
    "/var/cache/ldconfig/aux-cache",
    // Python's byte code records its source file's modification time, which is when pip installed it; the source
    // files themselves are compared.
    "**/__pycache__/*.pyc",
];

fn glob_set(patterns: &[&str]) -> GlobSet {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        // The patterns are constants of this file; the unit test below builds them all.
        set.add(Glob::new(pattern).expect("a valid cache path glob"));
    }
    set.build().expect("valid cache path globs")
}

fn cache_paths() -> &'static GlobSet {
    static SET: OnceLock<GlobSet> = OnceLock::new();
    SET.get_or_init(|| glob_set(CACHE_PATHS))
}

fn time_stamped() -> &'static GlobSet {
    static SET: OnceLock<GlobSet> = OnceLock::new();
    SET.get_or_init(|| glob_set(TIME_STAMPED))
}

/// The comparison a safe fix must pass: the same files outside caches, time stamps aside.
pub fn compare(original: &Image, fixed: &Image) -> Vec<Difference> {
    let ignored = |path: &str| cache_paths().is_match(path);
    let content_varies = |path: &str| time_stamped().is_match(path);
    image::differences(original, fixed, &Comparison { ignored: &ignored, content_varies: &content_varies })
}

/// One image's figures.
#[derive(Clone, Debug)]
pub struct Build {
    pub time: Duration,
    pub layers: usize,
    pub size: u64,
}

/// What became of one Dockerfile.
pub enum Outcome {
    /// The fixes change nothing, so there is nothing to build.
    Unchanged,
    Measured {
        original: Build,
        fixed: Build,
        differences: Vec<Difference>,
    },
    /// The Dockerfile as written does not build here; the fixes cannot be judged.
    OriginalFails(String),
    /// The original builds and the fixed one does not: a fix broke the build.
    FixedFails(String),
    Error(String),
}

pub struct Measurement {
    pub path: String,
    pub builder: String,
    pub outcome: Outcome,
}

/// What to build: a Dockerfile, its build context, and its fixed text.
pub struct Subject<'a> {
    pub dockerfile: &'a Path,
    pub context: &'a Path,
    pub fixed: &'a str,
    /// The images its stages start from, pulled first so that neither build time includes a download.
    pub bases: &'a [String],
}

/// Builds the subject's Dockerfile and its fixed text in its place, and compares the images. Every image made
/// is removed again.
pub fn measure(builder: &Builder, subject: &Subject, progress: &mut dyn FnMut(&str)) -> Outcome {
    try_measure(builder, subject, progress).unwrap_or_else(|e| Outcome::Error(format!("{e:#}")))
}

fn try_measure(builder: &Builder, subject: &Subject, progress: &mut dyn FnMut(&str)) -> Result<Outcome> {
    let Subject { dockerfile, context, fixed, bases } = *subject;
    for base in bases {
        builder.ensure_image(base)?;
    }
    let scratch = tempfile::tempdir().context("cannot make a temporary directory")?;
    // The fixed Dockerfile keeps its name so that BuildKit still finds a `<name>.dockerignore` beside it.
    let name = dockerfile.file_name().context("the Dockerfile path has no file name")?;
    let fixed_path = scratch.path().join(name);
    std::fs::write(&fixed_path, fixed).context("cannot write the fixed Dockerfile")?;
    let mut ignore_name = name.to_os_string();
    ignore_name.push(".dockerignore");
    let own_ignore = dockerfile.with_file_name(&ignore_name);
    if own_ignore.is_file() {
        std::fs::copy(&own_ignore, scratch.path().join(&ignore_name)).context("cannot copy its .dockerignore")?;
    }

    progress("building the original");
    let original = match build_and_read(builder, dockerfile, context, scratch.path(), "original") {
        Ok(built) => built,
        Err(e) => return Ok(Outcome::OriginalFails(format!("{e:#}"))),
    };
    progress("building the fixed Dockerfile");
    let fixed = match build_and_read(builder, &fixed_path, context, scratch.path(), "fixed") {
        Ok(built) => built,
        Err(e) => return Ok(Outcome::FixedFails(format!("{e:#}"))),
    };
    let differences = compare(&original.1, &fixed.1);
    Ok(Outcome::Measured { original: original.0, fixed: fixed.0, differences })
}

/// The images a Dockerfile's stages start from, which a build would pull: not `scratch`, not earlier stages,
/// and not names made of build arguments, which only the build can resolve.
pub fn base_images(text: &str) -> Vec<String> {
    let dockerfile = Dockerfile::parse(text);
    let mut bases: Vec<String> = Vec::new();
    for stage in &dockerfile.stages {
        let base = &stage.base;
        let external = stage.base_stage.is_none() && !base.contains('$') && !base.eq_ignore_ascii_case("scratch");
        if external && !bases.contains(base) {
            bases.push(base.clone());
        }
    }
    bases
}

/// A tag no other run uses, removed again when it goes out of scope.
struct Tagged<'b> {
    builder: &'b Builder,
    tag: String,
    built: bool,
}

impl Drop for Tagged<'_> {
    fn drop(&mut self) {
        if self.built {
            // A failed removal leaves an image behind but does not change the measurement.
            let _ = self.builder.remove(&self.tag);
        }
    }
}

fn build_and_read(
    builder: &Builder,
    dockerfile: &Path,
    context: &Path,
    scratch: &Path,
    role: &str,
) -> Result<(Build, Image)> {
    static SERIAL: AtomicUsize = AtomicUsize::new(0);
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    let tag = format!("localhost/dockopt-measure-{}-{serial}:{role}", std::process::id());
    let mut tagged = Tagged { builder, tag, built: false };
    let time = builder.build(dockerfile, context, &tagged.tag)?;
    tagged.built = true;
    let archive = scratch.join(format!("{role}.tar"));
    builder.save(&tagged.tag, &archive)?;
    let file = std::fs::File::open(&archive).context("cannot open the exported image")?;
    let image = image::read_archive(std::io::BufReader::with_capacity(1 << 20, file))
        .with_context(|| format!("cannot read the exported {role} image"))?;
    std::fs::remove_file(&archive).context("cannot remove the exported image")?;
    Ok((Build { time, layers: image.layers, size: image.size }, image))
}

/// Whether the fixes kept the image's files; errors and unbuildable originals are not counted either way.
pub fn is_failure(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Measured { differences, .. } => !differences.is_empty(),
        Outcome::FixedFails(_) => true,
        Outcome::Unchanged | Outcome::OriginalFails(_) | Outcome::Error(_) => false,
    }
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn percent(before: f64, after: f64) -> f64 {
    if before == 0.0 {
        0.0
    } else {
        (after - before) / before * 100.0
    }
}

/// How much of a difference list the text report shows before it summarises the rest.
const SHOWN_DIFFERENCES: usize = 20;

pub fn text(m: &Measurement) -> String {
    let mut out = String::new();
    match &m.outcome {
        Outcome::Unchanged => out.push_str(&format!("{}: no fixes apply, nothing to measure\n", m.path)),
        Outcome::Measured { original, fixed, differences } => {
            out.push_str(&format!("{}: built with {}\n", m.path, m.builder));
            let layer_change = fixed.layers as i64 - original.layers as i64;
            out.push_str(&format!("  layers      {} → {} ({layer_change:+})\n", original.layers, fixed.layers));
            let (before, after) = (megabytes(original.size), megabytes(fixed.size));
            out.push_str(&format!(
                "  size        {before:.1} MB → {after:.1} MB ({:+.1} MB, {:+.1}%)\n",
                after - before,
                percent(before, after)
            ));
            let (before, after) = (original.time.as_secs_f64(), fixed.time.as_secs_f64());
            out.push_str(&format!("  build time  {before:.1} s → {after:.1} s ({:+.1}%)\n", percent(before, after)));
            if differences.is_empty() {
                out.push_str("  files       the same, package caches aside\n");
            } else {
                out.push_str(&format!("  files       {} differences outside package caches:\n", differences.len()));
                for d in differences.iter().take(SHOWN_DIFFERENCES) {
                    let side = |s: &Option<String>| s.clone().unwrap_or_else(|| "absent".into());
                    out.push_str(&format!(
                        "    {}: {}: {} → {}\n",
                        d.path,
                        d.change,
                        side(&d.original),
                        side(&d.fixed)
                    ));
                }
                if differences.len() > SHOWN_DIFFERENCES {
                    out.push_str(&format!(
                        "    … and {} more (--json lists all)\n",
                        differences.len() - SHOWN_DIFFERENCES
                    ));
                }
                out.push_str(
                    "  help: a safe fix must keep the image's files; please report this with the Dockerfile\n",
                );
            }
        }
        Outcome::OriginalFails(why) => {
            out.push_str(&format!("{}: the Dockerfile as written does not build with {}:\n", m.path, m.builder));
            out.push_str(&indent(why));
            out.push_str("  help: make it build first; dockopt can only compare images that build\n");
        }
        Outcome::FixedFails(why) => {
            out.push_str(&format!("{}: the original builds but the fixed Dockerfile does not:\n", m.path));
            out.push_str(&indent(why));
            out.push_str("  help: a safe fix must never break a build; please report this with the Dockerfile\n");
        }
        Outcome::Error(why) => {
            out.push_str(&format!("{}: cannot measure: {}\n", m.path, why.replace('\n', "\n  ")));
        }
    }
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    {line}\n")).collect()
}

fn build_json(build: &Build) -> Value {
    json!({"layers": build.layers, "size_bytes": build.size, "build_seconds": build.time.as_secs_f64()})
}

pub fn json(m: &Measurement) -> Value {
    let (outcome, details) = match &m.outcome {
        Outcome::Unchanged => ("unchanged", json!({})),
        Outcome::Measured { original, fixed, differences } => (
            "measured",
            json!({"original": build_json(original), "fixed": build_json(fixed), "differences": differences}),
        ),
        Outcome::OriginalFails(why) => ("original fails", json!({"message": why})),
        Outcome::FixedFails(why) => ("fixed fails", json!({"message": why})),
        Outcome::Error(why) => ("error", json!({"message": why})),
    };
    let mut value = json!({"path": m.path, "builder": m.builder, "outcome": outcome});
    if let (Value::Object(into), Value::Object(from)) = (&mut value, details) {
        into.extend(from);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_paths_match_what_the_fixes_remove() {
        for cached in [
            "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
            "/var/cache/apt/pkgcache.bin",
            "/root/.cache/pip",
            "/root/.cache/pip/http-v2/a/b",
            "/home/app/.cache/pip/wheels/x.whl",
            "/root/.npm/_cacache/index-v5/00/11",
            "/root/.npm/_logs/2026-11-22T10_00_00_000Z-debug-0.log",
            "/var/cache/dnf",
            "/tmp/build/x",
        ] {
            assert!(cache_paths().is_match(cached), "{cached}");
        }
        for kept in ["/var/lib/apt/lists", "/var/lib/apt/extended_states", "/root/.cache", "/usr/bin/pip", "/tmp"] {
            assert!(!cache_paths().is_match(kept), "{kept}");
        }
        assert!(time_stamped().is_match("/usr/lib/python3/dist-packages/flask/__pycache__/app.cpython-311.pyc"));
        assert!(time_stamped().is_match("/var/log/apt/history.log"));
        assert!(!time_stamped().is_match("/usr/lib/python3/dist-packages/flask/app.py"));
    }
}
