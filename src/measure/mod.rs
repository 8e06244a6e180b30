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

use crate::measure::builder::{Builder, RunResult};
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
        runs: Option<(RunResult, RunResult)>,
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
}

/// Builds the subject's Dockerfile and its fixed text in its place, and compares the images. Every image made
/// is removed again.
pub fn measure(builder: &Builder, subject: &Subject, progress: &mut dyn FnMut(&str)) -> Outcome {
    try_measure(builder, subject, progress).unwrap_or_else(|e| Outcome::Error(format!("{e:#}")))
}

fn try_measure(builder: &Builder, subject: &Subject, progress: &mut dyn FnMut(&str)) -> Result<Outcome> {
    let Subject { dockerfile, context, fixed, safe_only, bases, run } = *subject;
    for base in bases {
        builder.ensure_image(base)?;
    }
    let scratch = tempfile::tempdir().context("cannot make a temporary directory")?;
    let fixed_path = in_place_of(dockerfile, &scratch.path().join("fixed"), fixed)?;

    progress("building the original");
    let original = match build_and_read(builder, dockerfile, context, scratch.path(), "original", run) {
        Ok(built) => built,
        Err(e) => return Ok(Outcome::OriginalFails(format!("{e:#}"))),
    };
    progress("building the fixed Dockerfile");
    let fixed = match build_and_read(builder, &fixed_path, context, scratch.path(), "fixed", run) {
        Ok(built) => built,
        Err(e) => return Ok(Outcome::FixedFails(format!("{e:#}"))),
    };
    let differences = compare::compare(&original.1, &fixed.1);
    let safe_only = match safe_only {
        Some(text) => {
            progress("building the Dockerfile with the safe fixes alone");
            let path = in_place_of(dockerfile, &scratch.path().join("safe"), text)?;
            match build_and_read(builder, &path, context, scratch.path(), "safe", None) {
                Ok((build, ..)) => Some(build),
                Err(e) => return Ok(Outcome::FixedFails(format!("with the safe fixes alone: {e:#}"))),
            }
        }
        None => None,
    };
    let runs = original.2.zip(fixed.2);
    Ok(Outcome::Measured { original: original.0, fixed: fixed.0, safe_only, differences, runs })
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
    run: Option<&[String]>,
) -> Result<(Build, Image, Option<RunResult>)> {
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
    let ran = match run {
        Some(command) => {
            Some(builder.run(&tagged.tag, command).with_context(|| format!("cannot run the {role} image"))?)
        }
        None => None,
    };
    Ok((Build { time, layers: image.layers, size: image.size }, image, ran))
}

/// Whether the fixes kept the image's files; errors and unbuildable originals are not counted either way.
pub fn is_failure(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Measured { differences, runs, .. } => {
            !differences.is_empty() || runs.as_ref().is_some_and(|(original, fixed)| original != fixed)
        }
        Outcome::FixedFails(_) => true,
        Outcome::Unchanged | Outcome::OriginalFails(_) | Outcome::Error(_) => false,
    }
}
