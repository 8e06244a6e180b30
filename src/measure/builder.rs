//! The image builders `dockopt measure` drives: Docker (buildx or the classic builder), Podman and Buildah, each
//! through its own command line, so dockopt needs no daemon API and no library of theirs.

use anyhow::{bail, Context as _, Result};
use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BuilderKind {
    Docker,
    Podman,
    Buildah,
}

impl BuilderKind {
    /// The order builders are looked for in when none is asked for.
    pub const ALL: [BuilderKind; 3] = [BuilderKind::Docker, BuilderKind::Podman, BuilderKind::Buildah];

    pub fn program(self) -> &'static str {
        match self {
            BuilderKind::Docker => "docker",
            BuilderKind::Podman => "podman",
            BuilderKind::Buildah => "buildah",
        }
    }
}

/// One step of a build as the builder printed it: its instruction, and whether the layer cache had it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub instruction: String,
    pub cached: bool,
}

/// The steps of a build's output, in order, in the forms Buildah and Podman (`STEP 2/5: COPY . /app`, then
/// `--> Using cache`), Docker's classic builder (`Step 2/5 : COPY . /app`, then `---> Using cache`) and BuildKit's
/// plain progress (`#7 [2/5] COPY . /app`, then `#7 CACHED`) print. A FROM is never a cache miss: it starts from
/// an image.
pub fn steps(output: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    // BuildKit's steps by their `#N` label, which its later lines repeat.
    let mut labels: Vec<(String, usize)> = Vec::new();
    for line in output.lines().map(str::trim) {
        let after_step = line
            .split_once("STEP ")
            .filter(|(before, _)| before.is_empty() || before.ends_with("] "))
            .or_else(|| line.split_once("Step ").filter(|(before, _)| before.is_empty()))
            .and_then(|(_, rest)| rest.split_once(':'))
            .filter(|(count, _)| is_step_count(count.trim()));
        if let Some((_, instruction)) = after_step {
            let instruction = instruction.trim().to_string();
            let cached = is_from(&instruction);
            steps.push(Step { instruction, cached });
        } else if line.contains("Using cache") {
            if let Some(last) = steps.last_mut() {
                last.cached = true;
            }
        } else if let Some((label, rest)) = line.strip_prefix('#').and_then(|l| l.split_once(' ')) {
            if let Some((count, instruction)) = rest.strip_prefix('[').and_then(|r| r.split_once("] ")) {
                let count = count.rsplit(' ').next().unwrap_or(count);
                if is_step_count(count) && !labels.iter().any(|(l, _)| l == label) {
                    labels.push((label.to_string(), steps.len()));
                    let instruction = instruction.trim().to_string();
                    let cached = is_from(&instruction);
                    steps.push(Step { instruction, cached });
                }
            } else if rest.trim() == "CACHED" {
                if let Some(&(_, index)) = labels.iter().find(|(l, _)| l == label) {
                    steps[index].cached = true;
                }
            }
        }
    }
    steps
}

/// `2/5`.
fn is_step_count(text: &str) -> bool {
    text.split_once('/').is_some_and(|(n, m)| {
        !n.is_empty() && !m.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && m.bytes().all(|b| b.is_ascii_digit())
    })
}

fn is_from(instruction: &str) -> bool {
    instruction.get(..5).is_some_and(|k| k.eq_ignore_ascii_case("from "))
}

/// What a command run in an image did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunResult {
    /// `None` when a signal ended it.
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Clone, Debug)]
pub struct Builder {
    pub kind: BuilderKind,
    /// Docker with the buildx plugin builds with `docker buildx build --load`.
    buildx: bool,
}

/// Why no builder could be used: each one looked for, and what was wrong with it.
#[derive(Debug)]
pub struct NoBuilder {
    pub tried: Vec<(BuilderKind, String)>,
}

impl fmt::Display for NoBuilder {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(f, "no image builder can run here; looked for:")?;
        for (kind, why) in &self.tried {
            writeln!(f, "  {}: {why}", kind.program())?;
        }
        write!(
            f,
            "help: start or install one of Docker Engine (https://docs.docker.com/engine/install/), Podman \
             (https://podman.io/docs/installation) or Buildah (`apt-get install buildah`), or pick one with --builder"
        )
    }
}

impl std::error::Error for NoBuilder {}

impl fmt::Display for Builder {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match (self.kind, self.buildx) {
            (BuilderKind::Docker, true) => f.write_str("docker buildx"),
            (kind, _) => f.write_str(kind.program()),
        }
    }
}

impl Builder {
    /// The first builder that works, or the one asked for if it works.
    pub fn detect(wanted: Option<BuilderKind>) -> Result<Builder, NoBuilder> {
        let candidates = wanted.map_or(BuilderKind::ALL.to_vec(), |kind| vec![kind]);
        let mut tried = Vec::new();
        for kind in candidates {
            match probe(kind) {
                Ok(builder) => return Ok(builder),
                Err(why) => tried.push((kind, why)),
            }
        }
        Err(NoBuilder { tried })
    }

    /// Builds `dockerfile` with `context` as the build context and tags the result; returns the wall time. No
    /// cache is used, so both builds of a comparison do all their work, and no base image is pulled (see
    /// [`Builder::ensure_image`]), so neither pays for a download.
    pub fn build(&self, dockerfile: &Path, context: &Path, tag: &str) -> Result<Duration> {
        self.run_build(dockerfile, context, tag, false).map(|(time, _)| time)
    }

    /// Builds again with the layer cache of earlier builds, as a developer's next build after an edit does;
    /// returns the wall time and the steps, each marked cached or run.
    pub fn rebuild(&self, dockerfile: &Path, context: &Path, tag: &str) -> Result<(Duration, Vec<Step>)> {
        let (time, output) = self.run_build(dockerfile, context, tag, true)?;
        Ok((time, steps(&output)))
    }

    fn run_build(&self, dockerfile: &Path, context: &Path, tag: &str, cached: bool) -> Result<(Duration, String)> {
        let program = self.kind.program();
        let mut command = Command::new(program);
        match (self.kind, self.buildx) {
            // Plain progress prints each step and whether it was cached.
            (BuilderKind::Docker, true) => command.args(["buildx", "build", "--load", "--progress=plain"]),
            // `--force-rm` removes the step containers of a failed build too.
            (BuilderKind::Docker, false) => command.args(["build", "--force-rm"]),
            (BuilderKind::Podman, _) => command.args(["build", "--layers", "--force-rm", "--pull=never"]),
            // `--layers` keeps one layer per instruction, as Docker does; without it Buildah squashes the build.
            (BuilderKind::Buildah, _) => command.args(["bud", "--layers", "--force-rm", "--pull=never"]),
        };
        if !cached {
            command.arg("--no-cache");
        }
        command.arg("-f").arg(dockerfile).arg("-t").arg(tag).arg(context);
        let before = self.image_ids();
        let started = Instant::now();
        match run(&mut command) {
            Ok(output) => {
                let text =
                    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
                Ok((started.elapsed(), text))
            }
            Err(e) => {
                if let Ok(before) = before {
                    self.remove_images_since(&before);
                }
                Err(e.context("the build failed"))
            }
        }
    }

    /// Every image in the store, intermediate ones included.
    fn image_ids(&self) -> Result<HashSet<String>> {
        let output = run(Command::new(self.kind.program()).args(["images", "--all", "--quiet", "--no-trunc"]))?;
        Ok(String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect())
    }

    /// A failed build keeps the untagged images of the steps that built, which nothing would ever remove; they
    /// are the images that appeared since it started. Removing a leaf also removes its untagged parents, and a
    /// parent still in use refuses, so each is simply tried.
    fn remove_images_since(&self, before: &HashSet<String>) {
        let Ok(after) = self.image_ids() else { return };
        for id in after.difference(before) {
            let _ = quiet(Command::new(self.kind.program()).args(["rmi", id]));
        }
    }

    /// Pulls an image unless it is already present, so that build times leave the download out.
    pub fn ensure_image(&self, image: &str) -> Result<()> {
        let program = self.kind.program();
        let present = match self.kind {
            BuilderKind::Docker => quiet(Command::new(program).args(["image", "inspect", image])),
            BuilderKind::Podman => quiet(Command::new(program).args(["image", "exists", image])),
            BuilderKind::Buildah => quiet(Command::new(program).args(["inspect", "--type", "image", image])),
        };
        if !present {
            run(Command::new(program).args(["pull", image])).with_context(|| format!("cannot pull {image}"))?;
        }
        Ok(())
    }

    /// Writes the image as a docker-archive, the format [`crate::measure::image::read_archive`] reads.
    pub fn save(&self, tag: &str, archive: &Path) -> Result<()> {
        let program = self.kind.program();
        let mut command = Command::new(program);
        match self.kind {
            BuilderKind::Docker => command.args(["save", "-o"]).arg(archive).arg(tag),
            BuilderKind::Podman => command.args(["save", "--format", "docker-archive", "-o"]).arg(archive).arg(tag),
            BuilderKind::Buildah => {
                command.args(["push", "--quiet", tag]).arg(format!("docker-archive:{}", archive.display()))
            }
        };
        run(&mut command).map(|_| ()).context("cannot export the image")
    }

    /// Runs `command` in a container of the image, with no network, in place of the image's ENTRYPOINT and CMD,
    /// as its USER, in its WORKDIR, with its ENV; the container is removed afterwards. A command that fails is a
    /// result, not an error: only a builder that cannot start it is.
    pub fn run(&self, tag: &str, command: &[String]) -> Result<RunResult> {
        let program = self.kind.program();
        let output = match self.kind {
            BuilderKind::Docker | BuilderKind::Podman => Command::new(program)
                .args(["run", "--rm", "--network", "none", "--entrypoint", "", tag])
                .args(command)
                .stdin(Stdio::null())
                .output(),
            BuilderKind::Buildah => {
                let container = run(Command::new(program).args(["from", "--pull=never", tag]))?;
                let container = String::from_utf8_lossy(&container.stdout).trim().to_string();
                let output = Command::new(program)
                    .args(["run", "--network", "none", &container, "--"])
                    .args(command)
                    .stdin(Stdio::null())
                    .output();
                // A container left behind does not change the result.
                let _ = quiet(Command::new(program).args(["rm", &container]));
                output
            }
        }
        .with_context(|| format!("cannot run {program}"))?;
        Ok(RunResult {
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Deletes a tagged image and the intermediate images only it used.
    pub fn remove(&self, tag: &str) -> Result<()> {
        run(Command::new(self.kind.program()).args(["rmi", tag])).map(|_| ())
    }
}

fn probe(kind: BuilderKind) -> Result<Builder, String> {
    let program = kind.program();
    let (args, needs): (&[&str], &str) = match kind {
        // The client alone is not enough: `docker version` fails unless an engine answers.
        BuilderKind::Docker => (&["version", "--format", "{{.Server.Version}}"], "a running Docker Engine"),
        BuilderKind::Podman => (&["version"], "a working podman"),
        BuilderKind::Buildah => (&["version"], "a working buildah"),
    };
    match Command::new(program).args(args).stdin(Stdio::null()).output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("not installed".into()),
        Err(e) => Err(format!("cannot run it: {e}")),
        Ok(output) if !output.status.success() => Err(format!("needs {needs}: {}", last_lines(&output, 1))),
        Ok(_) => {
            let buildx = kind == BuilderKind::Docker && quiet(Command::new(program).args(["buildx", "version"]));
            Ok(Builder { kind, buildx })
        }
    }
}

fn quiet(command: &mut Command) -> bool {
    command.stdin(Stdio::null()).output().is_ok_and(|output| output.status.success())
}

/// Runs a builder command, keeping its output to show when it fails.
fn run(command: &mut Command) -> Result<Output> {
    let output = command.stdin(Stdio::null()).output().with_context(|| format!("cannot run {command:?}"))?;
    if !output.status.success() {
        bail!("{:?} exited with {}:\n{}", command, output.status, last_lines(&output, 25));
    }
    Ok(output)
}

/// The end of a command's output, where builders say what went wrong.
fn last_lines(output: &Output, count: usize) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(output: &str) -> Vec<(String, bool)> {
        steps(output).into_iter().map(|s| (s.instruction, s.cached)).collect()
    }

    #[test]
    fn steps_are_read_from_each_builder_s_output() {
        let buildah = "STEP 1/4: FROM python:3.12-slim\nSTEP 2/4: WORKDIR /app\n--> Using cache 5f0c\n--> 5f0c\n\
                       STEP 3/4: COPY . /app\n--> 9a3b\nSTEP 4/4: RUN pip install -r requirements.txt\nCollecting flask\n";
        let expected = [("FROM python:3.12-slim", true), ("WORKDIR /app", true), ("COPY . /app", false)];
        let mut expected: Vec<(String, bool)> = expected.iter().map(|(s, c)| (s.to_string(), *c)).collect();
        expected.push(("RUN pip install -r requirements.txt".into(), false));
        assert_eq!(summary(buildah), expected);
        let multi_stage = "[1/2] STEP 1/2: FROM golang AS build\n[1/2] STEP 2/2: RUN go build -o /app .\n\
                           --> Using cache 1\n[2/2] STEP 1/2: FROM scratch\n[2/2] STEP 2/2: COPY --from=build /app /app\n";
        let cached: Vec<bool> = steps(multi_stage).iter().map(|s| s.cached).collect();
        assert_eq!(cached, [true, true, true, false]);
        let classic = "Step 1/3 : FROM node:20\n ---> 1234\nStep 2/3 : COPY . .\n ---> Using cache\n\
                       Step 3/3 : RUN npm ci\n ---> Running in 5678\n";
        let cached: Vec<bool> = steps(classic).iter().map(|s| s.cached).collect();
        assert_eq!(cached, [true, true, false]);
        let buildkit = "#5 [1/3] FROM docker.io/library/node:20\n#5 DONE 0.0s\n#6 [2/3] COPY . .\n#6 CACHED\n\
                        #7 [3/3] RUN npm ci\n#7 0.512 added 60 packages\n#7 DONE 3.1s\n";
        assert_eq!(summary(buildkit)[1..], [("COPY . .".to_string(), true), ("RUN npm ci".to_string(), false)]);
    }
}
