use crate::build_context::BuildContext;
use crate::context::Context;
use crate::fix::{Applicability, Edit, Finding, Fix, Rule, RuleInfo, Safety};
use crate::model::Kind;
use crate::shell::Invocation;

pub struct CopyManifestsFirst;

static INFO: RuleInfo = RuleInfo {
    code: "DO103",
    name: "copy-manifests-first",
    summary: "Dependencies install after copying all the source, so any change reinstalls them",
    doc: "`COPY . /app` followed by `RUN pip install -r requirements.txt` makes the install layer depend on every \
file of the build context: any edit reinstalls every dependency. When the install reads nothing but its \
requirements files, dockopt copies those first, installs, and copies the rest afterwards; the final image holds \
the same files. It reads the build context to be sure: requirements files are followed through `-r` and `-c`, \
and it refuses editable installs (`-e`), local paths, local `--find-links`, pip options that write into the \
copied directory, a `.dockerignore` that leaves a requirements file out, a RUN that does more than install, and \
instructions between the COPY and the RUN that could read the copied files.\n\n\
Before:\n    COPY . /app\n    RUN pip install -r requirements.txt\n\n\
After:\n    COPY requirements.txt /app/\n    RUN pip install -r requirements.txt\n    COPY . /app",
    safety: Safety::Safe,
    hadolint: &[],
};

/// Instructions that only set metadata, so a COPY may move across them.
const METADATA: &[Kind] = &[Kind::Env, Kind::Arg, Kind::Label, Kind::Expose, Kind::User];

/// pip options that make an install write somewhere the full COPY would then overwrite, or read local files.
const REFUSED_PIP_OPTIONS: &[&str] =
    &["-t", "--target", "--prefix", "--root", "--src", "-e", "--editable", "-f", "--find-links"];

impl Rule for CopyManifestsFirst {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        let Some(build) = ctx.build else { return };
        for stage in &ctx.df.stages {
            for c in stage.statements.clone() {
                let copy = &ctx.statement(c).instruction;
                if copy.kind != Kind::Copy || copy.value.len() != 2 || !ctx.statement(c).heredocs.is_empty() {
                    continue;
                }
                if copy.flags.iter().any(|f| !(f.text.starts_with("--chown=") || f.text == "--link")) {
                    continue;
                }
                let source = copy.value[0].text.trim_end_matches('/');
                if source != "." && !source.is_empty() {
                    continue;
                }
                // The install RUN: the first non-metadata instruction after the COPY.
                let Some(r) =
                    (c + 1..stage.statements.end).find(|&j| !METADATA.contains(&ctx.statement(j).instruction.kind))
                else {
                    continue;
                };
                if ctx.statement(r).instruction.kind != Kind::Run {
                    continue;
                }
                let workdir = workdir_before(ctx, stage.statements.start, c);
                let dest = absolute(&workdir, &copy.value[1].text);
                match plan(ctx, build, r, &workdir, &dest) {
                    Some(Ok(manifests)) => findings.push(finding(ctx, c, r, &dest, &manifests)),
                    Some(Err(reason)) => findings.push(Finding {
                        rule: &INFO,
                        range: ctx.statement(c).range,
                        message: format!(
                            "dependencies install after copying all the source, but dockopt cannot move them: {reason}"
                        ),
                        fix: None,
                        instructions: vec![ctx.statement(c).index],
                    }),
                    None => {}
                }
            }
        }
    }
}

/// The WORKDIR in force before statement `upto`, from the stage's own WORKDIRs (the base image's is `/`).
fn workdir_before(ctx: &Context, from: usize, upto: usize) -> String {
    let mut dir = "/".to_string();
    for j in from..upto {
        let ins = &ctx.statement(j).instruction;
        if ins.kind == Kind::Workdir {
            if let Some(path) = ins.value.first() {
                dir = absolute(&dir, &path.text);
            }
        }
    }
    dir
}

/// `path` resolved against `base` by name, as BuildKit resolves COPY destinations and WORKDIR.
fn absolute(base: &str, path: &str) -> String {
    let joined = if path.starts_with('/') { path.to_string() } else { format!("{base}/{path}") };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The requirements files (context-relative) that RUN `r` reads, when it reads nothing else. `None` when the
/// RUN is not a pip install from requirements files at all; `Some(Err(reason))` when it is but the move would
/// not be safe.
fn plan(
    ctx: &Context,
    build: &BuildContext,
    r: usize,
    workdir: &str,
    dest: &str,
) -> Option<Result<Vec<String>, String>> {
    let script = ctx.script(r)?;
    let invocations = ctx.invocations(r);
    let installs: Vec<&Invocation> = invocations
        .iter()
        .map(|(_, inv)| inv)
        .filter(|inv| inv.program == "pip" && inv.subcommand() == Some("install"))
        .collect();
    let requirement_args: Vec<String> = installs.iter().flat_map(|inv| requirement_files(inv)).collect();
    if requirement_args.is_empty() {
        return None;
    }
    Some((|| {
        if !script.balanced
            || script.opaque
            || invocations.len() != installs.len()
            || script.commands.len() != installs.len()
        {
            return Err("the RUN does more than `pip install`".to_string());
        }
        if let Some(option) = installs.iter().flat_map(|inv| inv.args).find_map(|w| {
            let a = w.literal.as_deref()?;
            REFUSED_PIP_OPTIONS.iter().find(|o| a == **o || a.starts_with(&format!("{o}="))).copied()
        }) {
            return Err(format!("pip runs with `{option}`"));
        }
        // Every other argument must be an option or a package name, not a local path.
        let local = installs
            .iter()
            .flat_map(|inv| inv.args)
            .map(|w| w.literal.as_deref().unwrap_or("$"))
            .filter(|a| !requirement_args.iter().any(|r| a.ends_with(r.as_str())))
            .find(|a| is_local_path(a));
        if let Some(path) = local {
            return Err(format!("pip installs the local path `{path}`"));
        }
        if matches!(dest, "/" | "/root") || dest.starts_with("/etc") {
            return Err(format!("the source is copied to {dest}, where it may configure pip"));
        }
        let mut manifests = Vec::new();
        let mut queue: Vec<String> = Vec::new();
        for arg in &requirement_args {
            let image_path = absolute(workdir, arg);
            let Some(relative) = image_path.strip_prefix(dest).and_then(|r| r.strip_prefix('/')) else {
                return Err(format!("`{arg}` is not in the copied directory {dest}"));
            };
            queue.push(relative.to_string());
        }
        while let Some(file) = queue.pop() {
            if manifests.contains(&file) {
                continue;
            }
            if build.is_ignored(&file) {
                return Err(format!("`{file}` is left out by .dockerignore"));
            }
            let Ok(text) = std::fs::read_to_string(build.root.join(&file)) else {
                return Err(format!("`{file}` is not in the build context"));
            };
            let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
            for line in text.lines() {
                let line = line.split(" #").next().unwrap_or(line).trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let mut words = line.split_whitespace();
                let first = words.next().unwrap_or_default();
                let nested = match first {
                    "-r" | "--requirement" | "-c" | "--constraint" => words.next().map(str::to_string),
                    _ => ["-r", "--requirement=", "-c", "--constraint="].iter().find_map(|p| {
                        first
                            .strip_prefix(p)
                            .filter(|rest| !rest.is_empty())
                            .map(|r| r.trim_start_matches('=').to_string())
                    }),
                };
                if let Some(nested) = nested {
                    queue.push(absolute(&format!("/{dir}"), &nested).trim_start_matches('/').to_string());
                    continue;
                }
                if ["-e", "--editable"].iter().any(|o| first == *o || first.starts_with(&format!("{o}="))) {
                    return Err(format!("`{file}` installs `{line}` in editable mode, which reads the source"));
                }
                if ["-f", "--find-links"].iter().any(|o| first == *o || first.starts_with(&format!("{o}="))) {
                    let target = words.next().unwrap_or(first);
                    if !target.contains("://") {
                        return Err(format!("`{file}` finds packages in the local `{line}`"));
                    }
                    continue;
                }
                if is_local_path(first) {
                    return Err(format!("`{file}` installs the local path `{first}`"));
                }
            }
            manifests.push(file);
        }
        manifests.sort();
        Ok(manifests)
    })())
}

/// The files given to `-r`/`--requirement` (and `-c`/`--constraint`) on a pip command line, in any of the
/// spellings pip accepts: `-r file`, `-rfile`, `--requirement file`, `--requirement=file`.
fn requirement_files(inv: &Invocation) -> Vec<String> {
    let args: Vec<&str> = inv.args.iter().map(|w| w.literal.as_deref().unwrap_or("$")).collect();
    let mut files = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        if matches!(a, "-r" | "--requirement" | "-c" | "--constraint") {
            files.extend(args.get(i + 1).map(|f| f.to_string()));
            i += 2;
            continue;
        }
        let long = a.strip_prefix("--requirement=").or_else(|| a.strip_prefix("--constraint="));
        let short =
            || a.strip_prefix("-r").or_else(|| a.strip_prefix("-c")).filter(|f| !f.is_empty() && !a.starts_with("--"));
        files.extend(long.or_else(short).map(str::to_string));
        i += 1;
    }
    files
}

/// A pip argument or requirement line that names something on the local file system.
fn is_local_path(arg: &str) -> bool {
    !arg.starts_with('-')
        && (arg == "."
            || arg.starts_with("./")
            || arg.starts_with("../")
            || arg.starts_with('/')
            || arg.starts_with("file:")
            || arg.contains('$')
            || (arg.contains('/') && !arg.contains("://") && !arg.contains('@')))
}

fn finding(ctx: &Context, c: usize, r: usize, dest: &str, manifests: &[String]) -> Finding {
    let copy = ctx.statement(c);
    let run = ctx.statement(r);
    let source = ctx.df.source();
    let newline = ctx.newline();
    let indent = ctx.indent(c);
    let flags: String = copy.instruction.flags.iter().map(|f| format!("{} ", f.text)).collect();
    let keyword = &copy.instruction.cmd.text;
    // One COPY per directory of manifests, to the matching directory under the destination.
    let mut lines = String::new();
    let mut dirs: Vec<&str> = manifests.iter().map(|m| m.rsplit_once('/').map_or("", |(d, _)| d)).collect();
    dirs.dedup();
    for dir in dirs {
        let files: Vec<&str> =
            manifests.iter().filter(|m| m.rsplit_once('/').map_or("", |(d, _)| d) == dir).map(String::as_str).collect();
        let target = if dir.is_empty() {
            format!("{}/", dest.trim_end_matches('/'))
        } else {
            format!("{}/{dir}/", dest.trim_end_matches('/'))
        };
        lines.push_str(&format!("{indent}{keyword} {flags}{} {target}{newline}", files.join(" ")));
    }
    // The full COPY moves, whole lines and all, to after the install.
    let copy_text = &source[copy.line_range.as_range()];
    let mut moved = copy_text.to_string();
    if !moved.ends_with('\n') {
        moved.push_str(newline);
    }
    let mut after = String::new();
    if !source[..run.line_range.end].ends_with('\n') {
        after.push_str(newline);
    }
    after.push_str(&moved);
    let edits = vec![
        Edit::delete(copy.line_range),
        Edit::insert(run.line_range.start, lines),
        Edit::insert(run.line_range.end, after),
    ];
    Finding {
        rule: &INFO,
        range: copy.range,
        message: format!(
            "the install on line {} reruns whenever any source file changes; copy {} first and the rest after it",
            run.start_line,
            manifests.join(", ")
        ),
        fix: Some(Fix { applicability: Applicability::Safe, edits }),
        instructions: (c..=r).map(|k| ctx.statement(k).index).collect(),
    }
}
