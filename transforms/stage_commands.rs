//! What the rules about a whole stage share: every program a run of statements runs (RUNs, CMD, ENTRYPOINT,
//! HEALTHCHECK and the scripts they hand to `sh -c`), the packages an apt install names, the paths its WORKDIRs
//! make absolute, and the edits that split it into a builder and a runtime stage.

use super::copy_paths::copy_paths;
use crate::engine::context::Context;
use crate::engine::finding::Edit;
use crate::shell::{Command, Invocation, Script};
use crate::syntax::model::{Kind, Stage};
use std::borrow::Cow;
use std::ops::Range;

/// Instructions that set up the image rather than its files: the runtime stage repeats them.
pub(super) const CONFIG_KINDS: &[Kind] = &[
    Kind::Arg,
    Kind::Env,
    Kind::Label,
    Kind::Maintainer,
    Kind::Expose,
    Kind::Workdir,
    Kind::User,
    Kind::Volume,
    Kind::Stopsignal,
    Kind::Healthcheck,
    Kind::Shell,
    Kind::Entrypoint,
    Kind::Cmd,
    Kind::Onbuild,
];

/// Debian and Alpine packages that only build software, by name; every `*-dev` package is one too.
const BUILD_ONLY: &[&str] = &[
    "build-essential",
    "build-base",
    "linux-headers",
    "gcc",
    "g++",
    "cpp",
    "make",
    "cmake",
    "clang",
    "gfortran",
    "pkg-config",
    "pkgconf",
    "autoconf",
    "automake",
    "libtool",
    "bison",
    "flex",
];

/// Shells whose `-c` script is read for the commands it runs.
const SHELLS: &[&str] = &["sh", "bash", "dash", "ash"];

/// The Debian packages an `apt-get install` or `apt install` names, without versions or architectures.
pub(super) fn apt_packages<'a>(inv: &Invocation<'a>) -> Vec<&'a str> {
    if !matches!(inv.program, "apt-get" | "apt") || inv.subcommand() != Some("install") {
        return Vec::new();
    }
    // The words after the subcommand that are not options.
    let words = inv.args.iter().filter_map(|w| w.literal.as_deref()).skip_while(|w| *w != "install").skip(1);
    let words = words.filter(|w| !w.starts_with('-'));
    words.map(|w| w.split(['=', ':']).next().unwrap_or(w)).collect()
}

/// Calls `visit` with each program the statements run, in order, and the line it is on: the commands of RUNs
/// (ONBUILD ones too, which run in the images built on this one), CMD, ENTRYPOINT and HEALTHCHECK, and of the
/// scripts those hand to `sh -c`. A program is given by its base name, with its invocation when dockopt reads
/// one (`python app.py` has none). Stops at the first `Some`.
pub(super) fn find_in_statements<T>(
    ctx: &Context,
    statements: Range<usize>,
    mut visit: impl FnMut(&str, Option<Invocation>, usize) -> Option<T>,
) -> Option<T> {
    for i in statements {
        let line = ctx.statement(i).start_line();
        for script in scripts(ctx, i) {
            for command in &script.commands {
                let Some(program) = program_name(command) else { continue };
                let inv = command.invocation();
                let nested = inv.as_ref().and_then(shell_c_script);
                if let Some(found) = visit(program, inv, line) {
                    return Some(found);
                }
                for command in nested.iter().flat_map(|s| &s.commands) {
                    if let Some(found) = program_name(command).and_then(|p| visit(p, command.invocation(), line)) {
                        return Some(found);
                    }
                }
            }
        }
    }
    None
}

/// The scripts statement `i` runs: a RUN's, or the command of CMD, ENTRYPOINT or HEALTHCHECK in either form.
fn scripts<'c>(ctx: &'c Context, i: usize) -> Vec<Cow<'c, Script<'c>>> {
    let ins = &ctx.statement(i).instruction;
    let values = match ins.kind {
        Kind::Run | Kind::Onbuild => return ctx.script(i).map(Cow::Borrowed).into_iter().collect(),
        Kind::Cmd | Kind::Entrypoint => ctx.df.values(ins),
        // `HEALTHCHECK CMD …`; the first value is `CMD` or `NONE`.
        Kind::Healthcheck => ctx.df.values(ins).get(1..).unwrap_or_default(),
        _ => return Vec::new(),
    };
    let script = if ins.json {
        Script::exec(values.iter().map(|w| (Cow::Borrowed(ctx.df.text(w)), 0..0)).collect())
    } else {
        match values.first() {
            Some(text) => Script::parse(ctx.df.text(text)),
            None => return Vec::new(),
        }
    };
    vec![Cow::Owned(script)]
}

/// The base name of the program a command runs: its invocation's, or the first word's when dockopt reads no
/// invocation (`python app.py`).
fn program_name<'c>(command: &'c Command) -> Option<&'c str> {
    match command.invocation() {
        Some(inv) => Some(inv.program),
        None => command.name().map(|name| name.rsplit('/').next().unwrap_or(name)),
    }
}

/// The script of `sh -c 'script'` (or bash, dash, ash, with options such as `-ec` before it).
fn shell_c_script<'c>(inv: &Invocation<'c>) -> Option<Script<'c>> {
    if !SHELLS.contains(&inv.program) {
        return None;
    }
    let c = inv.args.iter().position(|w| {
        w.literal.as_deref().is_some_and(|a| a.starts_with('-') && !a.starts_with("--") && a.ends_with('c'))
    })?;
    Some(Script::parse(inv.args.get(c + 1)?.literal.as_deref()?))
}

/// `path` as an absolute path at statement `i`, through the stage's WORKDIRs; `None` when it depends on the
/// base image's own WORKDIR, which the Dockerfile does not show, or on a variable.
pub(super) fn absolute(ctx: &Context, stage: &Stage, i: usize, path: &str) -> Option<String> {
    if path.contains('$') {
        return None;
    }
    if path.starts_with('/') {
        return Some(normalize(path));
    }
    Some(resolve(&workdir(ctx, stage, i)?, path))
}

/// `path` resolved against the directory `base` by name, as BuildKit resolves COPY destinations and WORKDIR.
pub(super) fn resolve(base: &str, path: &str) -> String {
    if path.starts_with('/') {
        normalize(path)
    } else {
        normalize(&format!("{base}/{path}"))
    }
}

/// The WORKDIR in force at statement `i`, when the stage sets it to a literal path before then.
pub(super) fn workdir(ctx: &Context, stage: &Stage, i: usize) -> Option<String> {
    let mut dir: Option<String> = None;
    for j in stage.statements.start..i {
        dir = workdir_after(ctx, j, dir)?;
    }
    dir
}

/// [`workdir`] at each statement of `stage`, in one pass.
pub(super) fn workdirs(ctx: &Context, stage: &Stage) -> Vec<Option<String>> {
    let mut out = Vec::with_capacity(stage.statements.len());
    let mut dir: Option<Option<String>> = Some(None);
    for j in stage.statements.clone() {
        out.push(dir.clone().flatten());
        dir = dir.and_then(|before| workdir_after(ctx, j, before));
    }
    out
}

/// The WORKDIR in force after statement `j`, given the one before it (`None` before any): `None` when it is no
/// literal path from then on, as after a WORKDIR with a variable, or a relative one before any.
fn workdir_after(ctx: &Context, j: usize, dir: Option<String>) -> Option<Option<String>> {
    let ins = &ctx.statement(j).instruction;
    if ins.kind != Kind::Workdir {
        return Some(dir);
    }
    let value = ctx.df.value_texts(ins).next()?;
    if value.contains('$') {
        return None;
    }
    Some(Some(match (value.starts_with('/'), dir) {
        (true, _) => normalize(value),
        (false, Some(d)) => resolve(&d, value),
        (false, None) => return None,
    }))
}

/// `/a/./b//c/../d` → `/a/b/d`.
pub(super) fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The name the runtime stage copies from: the stage's own, or `build`, which `edits` then give it.
pub(super) fn builder_name(ctx: &Context, stage: &Stage, edits: &mut Vec<Edit>) -> Result<String, String> {
    // Lower-cased, as BuildKit matches it.
    if let Some(name) = ctx.df.stage_name(stage) {
        return Ok(name.to_ascii_lowercase());
    }
    let from = ctx.statement(stage.statements.start);
    let image = ctx.df.values(&from.instruction).first().ok_or("the FROM has no image")?;
    edits.push(Edit::insert(image.range.end, " AS build"));
    Ok("build".to_string())
}

/// The runtime stage's copy of `path`, which the builder made, to the same place.
pub(super) fn copy_from(builder: &str, path: &str) -> Result<String, String> {
    Ok(format!("COPY --from={builder} {}", copy_paths(&[path, path])?))
}

/// The edit that appends a stage of `lines` to the file, after a blank line, in the file's own newlines.
pub(super) fn append_stage(ctx: &Context, lines: &[String]) -> Edit {
    let newline = ctx.newline();
    let source = ctx.df.source();
    let mut text = String::new();
    if !source.is_empty() && !source.ends_with('\n') {
        text.push_str(newline);
    }
    text.push_str(newline);
    for line in lines {
        text.push_str(line);
        text.push_str(newline);
    }
    Edit::insert(source.len(), text)
}

/// Whether an apt or apk package only builds software: compilers, build tools and every `*-dev` package.
pub(super) fn is_build_only(package: &str) -> bool {
    let versioned = |name: &str| {
        package
            .strip_prefix(name)
            .and_then(|v| v.strip_prefix('-'))
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit()))
    };
    BUILD_ONLY.contains(&package) || package.ends_with("-dev") || versioned("gcc") || versioned("g++")
}

/// A shell pipeline that prints the Debian packages owning the shared libraries that the files under `roots` link
/// against, one per line: what must stay installed for them to run. Libraries under /usr/local (Python's own, in
/// the official images) belong to no package.
pub(super) fn linked_packages(roots: &str) -> String {
    format!(
        "find {roots} -type f \\( -executable -o -name '*.so*' \\) -exec ldd '{{}}' ';' 2> /dev/null | awk '/=>/ {{ \
         so = $(NF-1); if (index(so, \"/usr/local/\") == 1) next; gsub(\"^/(usr/)?\", \"\", so); print \"*\" so }}' \
         | sort -u | xargs -r dpkg-query --search 2> /dev/null | cut -d: -f1 | sort -u"
    )
}

/// A split reads every command of RUN `i`: an error, for the finding's message, when dockopt cannot.
pub(super) fn read_whole_run(ctx: &Context, i: usize) -> Result<(), String> {
    if ctx.script(i).is_none_or(|s| s.opaque) {
        return Err(format!("line {} is shell that dockopt cannot read", ctx.statement(i).start_line()));
    }
    Ok(())
}
