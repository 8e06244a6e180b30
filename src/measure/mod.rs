//! `dockopt measure`: build a Dockerfile as written and as fixed, and compare the two images: layers, size,
//! build time, and every file that differs outside package caches, which for a safe fix should be none.

//!
//! - [`builder`]: the builders it drives (Docker, Podman, Buildah), each through its command line;
//! - [`image`]: the file tree an exported image archive holds, and how two trees differ;
//! - [`compare`]: what a safe fix must keep: the same files outside package caches;
//! - [`report`]: the text and JSON reports.
//!
//! Uses the syntax layer (to read a Dockerfile's base images); only the CLI uses it.

pub mod builder;
pub mod compare;
pub mod image;
pub mod report;

use crate::measure::builder::{Builder, RunResult, Step};
use crate::measure::image::{Difference, Image};
use crate::syntax::model::Dockerfile;
use anyhow::{Context as _, Result};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

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
        /// With unsafe fixes measured, the image of the safe fixes alone, when they change the file.
        safe_only: Option<Build>,
        differences: Vec<Difference>,
        /// With a command to run: what it did in the original image and in the fixed one.
        runs: Option<Box<(RunResult, RunResult)>>,
        /// With rebuilds asked for: how each Dockerfile rebuilt after a source change, or why it could not.
        rebuilds: Option<Result<Box<Rebuilds>, String>>,
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
    /// The fixed Dockerfile has unsafe fixes too, so its files are expected to differ.
    pub unsafe_fixes: bool,
}

/// Each Dockerfile built again with the layer cache after one source file changed.
#[derive(Clone, Debug)]
pub struct Rebuilds {
    /// The file changed, relative to the build context.
    pub touched: String,
    pub original: Rebuild,
    pub fixed: Rebuild,
}

#[derive(Clone, Debug)]
pub struct Rebuild {
    pub time: Duration,
    pub steps: Vec<Step>,
}

impl Rebuild {
    /// The first step the cache did not have, which the build started running from.
    pub fn first_miss(&self) -> Option<usize> {
        self.steps.iter().position(|s| !s.cached)
    }
}

/// What to build: a Dockerfile, its build context, and its fixed text.
pub struct Subject<'a> {
    pub dockerfile: &'a Path,
    pub context: &'a Path,
    pub fixed: &'a str,
    /// With unsafe fixes measured: the text with the safe fixes alone, built as well so that the report tells
    /// what each kind of fix saves. `None` when it is the original or the fixed text.
    pub safe_only: Option<&'a str>,
    /// The images its stages start from, pulled first so that neither build time includes a download.
    pub bases: &'a [String],
    /// A command to run in the original image and in the fixed one, as its words.
    pub run: Option<&'a [String]>,
    /// With rebuilds asked for: the context file to change (relative to the context), or why there is none.
    pub rebuild: Option<Result<&'a str, String>>,
}

/// Builds the subject's Dockerfile and its fixed text in its place, and compares the images. Every image made
/// is removed again.
pub fn measure(builder: &Builder, subject: &Subject, progress: &mut dyn FnMut(&str)) -> Outcome {
    try_measure(builder, subject, progress).unwrap_or_else(|e| Outcome::Error(format!("{e:#}")))
}

fn try_measure(builder: &Builder, subject: &Subject, progress: &mut dyn FnMut(&str)) -> Result<Outcome> {
    let Subject { dockerfile, context, fixed, safe_only, bases, run, ref rebuild } = *subject;
    for base in bases {
        builder.ensure_image(base)?;
    }
    let scratch = tempfile::tempdir().context("cannot make a temporary directory")?;
    let fixed_path = in_place_of(dockerfile, &scratch.path().join("fixed"), fixed)?;
    let changed_context = match rebuild {
        Some(Ok(touched)) => Some(changed_copy(context, &scratch.path().join("changed-context"), touched)?),
        _ => None,
    };
    let changed = changed_context.as_deref();

    progress("building the original");
    let original = match build_and_read(builder, dockerfile, context, scratch.path(), "original", run, changed) {
        Ok(built) => built,
        Err(e) => return Ok(Outcome::OriginalFails(format!("{e:#}"))),
    };
    progress("building the fixed Dockerfile");
    let fixed = match build_and_read(builder, &fixed_path, context, scratch.path(), "fixed", run, changed) {
        Ok(built) => built,
        Err(e) => return Ok(Outcome::FixedFails(format!("{e:#}"))),
    };
    let differences = compare::compare(&original.image, &fixed.image);
    let safe_only = match safe_only {
        Some(text) => {
            progress("building the Dockerfile with the safe fixes alone");
            let path = in_place_of(dockerfile, &scratch.path().join("safe"), text)?;
            match build_and_read(builder, &path, context, scratch.path(), "safe", None, None) {
                Ok(built) => Some(built.build),
                Err(e) => return Ok(Outcome::FixedFails(format!("with the safe fixes alone: {e:#}"))),
            }
        }
        None => None,
    };
    let runs = original.run.zip(fixed.run).map(Box::new);
    let rebuilds = match rebuild {
        None => None,
        Some(Err(why)) => Some(Err(why.clone())),
        Some(Ok(touched)) => match original.rebuild.zip(fixed.rebuild) {
            Some((original, fixed)) => Some(Ok(Box::new(Rebuilds { touched: touched.to_string(), original, fixed }))),
            None => Some(Err("the rebuilds did not run".into())),
        },
    };
    Ok(Outcome::Measured { original: original.build, fixed: fixed.build, safe_only, differences, runs, rebuilds })
}

/// Writes `text` into `dir` under the Dockerfile's own name, so that BuildKit still finds a `<name>.dockerignore`
/// beside it, which is copied along.
fn in_place_of(dockerfile: &Path, dir: &Path, text: &str) -> Result<std::path::PathBuf> {
    std::fs::create_dir(dir).context("cannot make a temporary directory")?;
    let name = dockerfile.file_name().context("the Dockerfile path has no file name")?;
    let path = dir.join(name);
    std::fs::write(&path, text).context("cannot write the fixed Dockerfile")?;
    let mut ignore_name = name.to_os_string();
    ignore_name.push(".dockerignore");
    let own_ignore = dockerfile.with_file_name(&ignore_name);
    if own_ignore.is_file() {
        std::fs::copy(&own_ignore, dir.join(&ignore_name)).context("cannot copy its .dockerignore")?;
    }
    Ok(path)
}

/// The images a Dockerfile's stages start from, which a build would pull: not `scratch`, not earlier stages,
/// and not names made of build arguments, which only the build can resolve.
pub fn base_images(text: &str) -> Vec<String> {
    let dockerfile = Dockerfile::parse(text);
    let mut bases: Vec<String> = Vec::new();
    for stage in &dockerfile.stages {
        let base = dockerfile.base(stage);
        let external = stage.base_stage.is_none() && !base.contains('$') && !base.eq_ignore_ascii_case("scratch");
        if external && !bases.iter().any(|b| b == base) {
            bases.push(base.to_string());
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

/// One Dockerfile built: its figures and files, and what running a command in it and rebuilding it gave.
struct Built {
    build: Build,
    image: Image,
    run: Option<RunResult>,
    rebuild: Option<Rebuild>,
}

/// A copy of the build context in `into` with `touched` changed by one appended newline: a developer's edit that
/// no build step can tell from another. Symlinks are copied as links, and nothing but files, directories and links.
fn changed_copy(context: &Path, into: &Path, touched: &str) -> Result<std::path::PathBuf> {
    copy_tree(context, into).with_context(|| format!("cannot copy the build context {}", context.display()))?;
    let path = into.join(touched);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot change {touched} in the copy of the build context"))?;
    std::io::Write::write_all(&mut file, b"\n").with_context(|| format!("cannot change {touched}"))?;
    Ok(into.to_path_buf())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn build_and_read(
    builder: &Builder,
    dockerfile: &Path,
    context: &Path,
    scratch: &Path,
    role: &str,
    run: Option<&[String]>,
    changed_context: Option<&Path>,
) -> Result<Built> {
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
    let run = match run {
        Some(command) => {
            Some(builder.run(&tagged.tag, command).with_context(|| format!("cannot run the {role} image"))?)
        }
        None => None,
    };
    // The rebuild finds the cold build's layers in the cache; its image goes as soon as it is timed.
    let rebuild = match changed_context {
        Some(changed) => {
            let mut again = Tagged { builder, tag: format!("{}-rebuild", tagged.tag), built: false };
            let (time, steps) = builder
                .rebuild(dockerfile, changed, &again.tag)
                .with_context(|| format!("cannot rebuild the {role} Dockerfile after the change"))?;
            again.built = true;
            Some(Rebuild { time, steps })
        }
        None => None,
    };
    Ok(Built { build: Build { time, layers: image.layers, size: image.size }, image, run, rebuild })
}

/// Whether the fixes kept the image's files; errors and unbuildable originals are not counted either way.
pub fn is_failure(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Measured { differences, runs, .. } => {
            !differences.is_empty() || runs.as_deref().is_some_and(|(original, fixed)| original != fixed)
        }
        Outcome::FixedFails(_) => true,
        Outcome::Unchanged | Outcome::OriginalFails(_) | Outcome::Error(_) => false,
    }
}
