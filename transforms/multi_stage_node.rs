//! DO306's split of a single-stage Node.js build, one that runs `npm run build` after installing its
//! dependencies: the stage becomes the builder, which drops its devDependencies once it has built and tested
//! (`npm prune --omit=dev`), and a runtime stage on the same image copies the app's directory from it. The
//! runtime stage never has npm's cache, the devDependencies, or the files the builder's other commands wrote
//! outside the app's directory, so a build that runs anything but npm gets no fix.

use super::stage_commands::{absolute, append_stage, builder_name, copy_from, read_whole_run, workdir, CONFIG_KINDS};
use crate::engine::context::{is_root_user, Context};
use crate::engine::finding::Edit;
use crate::shell::{Invocation, Script};
use crate::syntax::model::{Kind, Stage};

/// The npm subcommands a Node build runs in the app's directory, which write nothing outside it but npm's cache.
const NPM_IN_PLACE: &[&str] = &["ci", "install", "i", "run", "run-script", "test", "t", "prune", "cache", "audit"];

/// Programs that devDependencies provide under another name than their package's.
const DEV_PROGRAMS: &[(&str, &str)] = &[("tsc", "typescript"), ("nest", "@nestjs/cli")];

/// The rewrite, once every part of it is certain.
pub(super) struct NodePlan {
    /// The app's directory, which the runtime stage copies.
    pub app: String,
    /// What the user should check, for the message.
    pub caveat: String,
    pub edits: Vec<Edit>,
}

/// The RUN that runs `npm run build`: the sign of a build whose output the image runs. `None` when the stage
/// has none.
pub(super) fn build_statement(ctx: &Context, stage: &Stage) -> Option<usize> {
    stage.statements.clone().find(|&i| {
        ctx.statement(i).instruction.kind == Kind::Run
            && ctx.invocations(i).iter().any(|(_, inv)| inv.program == "npm" && npm_script(inv) == Some("build"))
    })
}

/// The script `npm run NAME` (or `npm start`, `npm test`) runs.
fn npm_script<'a>(inv: &'a Invocation) -> Option<&'a str> {
    let mut words = inv.args.iter().filter_map(|w| w.literal.as_deref()).filter(|w| !w.starts_with('-'));
    match words.next()? {
        "run" | "run-script" | "run-scripts" => words.next(),
        "start" => Some("start"),
        "test" | "t" => Some("test"),
        _ => None,
    }
}

pub(super) fn plan(ctx: &Context, stage: &Stage, tag: &str, build: usize) -> Result<NodePlan, String> {
    let app = workdir(ctx, stage, build)
        .filter(|dir| dir != "/")
        .ok_or("the build runs in the base image's directory, not in a WORKDIR the Dockerfile sets")?;
    let mut last_npm = None;
    for i in stage.statements.clone() {
        let statement = ctx.statement(i);
        let line = statement.start_line();
        let ins = &statement.instruction;
        match ins.kind {
            Kind::Run => {
                read_whole_run(ctx, i)?;
                let mut runs_npm = false;
                for (_, inv) in ctx.invocations(i) {
                    if runs_npm_in_place(&inv) {
                        runs_npm = true;
                    } else if !makes_directories_in(ctx, stage, i, &inv, &app) {
                        return Err(format!(
                            "line {line} runs `{}`, and what it leaves outside {app} would not reach the runtime \
                             stage",
                            inv.program
                        ));
                    }
                }
                if runs_npm && workdir(ctx, stage, i).as_deref() != Some(app.as_str()) {
                    return Err(format!("line {line} runs npm outside {app}"));
                }
                if runs_npm {
                    last_npm = Some(i);
                }
            }
            Kind::User if !ctx.df.value_texts(ins).next().is_some_and(is_root_user) && runs_later(ctx, stage, i) => {
                return Err(format!(
                    "line {line} builds as another user, whose files the copy from the builder would give to root"
                ));
            }
            Kind::Copy | Kind::Add if ctx.df.flag_texts(ins).any(|f| f.starts_with("--chown")) => {
                return Err(format!("line {line} sets owners, which the copy from the builder would not keep"));
            }
            _ => {}
        }
    }
    let last_npm = last_npm.ok_or("the stage runs no npm")?;

    let mut edits = Vec::new();
    let builder = builder_name(ctx, stage, &mut edits)?;
    let prune = if npm_before_7(tag) { "npm prune --production" } else { "npm prune --omit=dev" };
    let line = ctx.statement(last_npm).start_line();
    edits.push(ctx.append_command(last_npm, prune).ok_or(format!("line {line} cannot take another command"))?);

    let from = ctx.statement(stage.statements.start);
    let image = ctx.df.value_texts(&from.instruction).next().ok_or("the FROM has no image")?;
    let mut lines = vec![format!("FROM {image}")];
    for i in stage.statements.start + 1..stage.statements.end {
        let statement = ctx.statement(i);
        let ins = &statement.instruction;
        if CONFIG_KINDS.contains(&ins.kind) {
            lines.push(ctx.df.tree.text(statement.range).to_string());
        } else if i == last_npm {
            lines.push(copy_from(&builder, &app)?);
        } else if matches!(ins.kind, Kind::Copy | Kind::Add) {
            let line = statement.start_line();
            if ctx.df.flag_texts(ins).any(|f| f.starts_with("--from")) || !ctx.df.heredocs(statement).is_empty() {
                return Err(format!("line {line} copies from elsewhere than the build context"));
            }
            let destination = ctx.df.value_texts(ins).next_back().ok_or(format!("line {line} has no destination"))?;
            let destination = absolute(ctx, stage, i, destination)
                .ok_or(format!("line {line} copies to a destination dockopt cannot read"))?;
            // Files copied into the app's directory come with it; files copied elsewhere come from the context.
            if destination != app && !destination.starts_with(&format!("{app}/")) {
                lines.push(ctx.df.tree.text(statement.range).to_string());
            }
        }
    }
    edits.push(append_stage(ctx, &lines));
    let mut caveats = vec![format!("files the build writes outside {app}")];
    caveats.extend(start_script_needs(ctx, stage)?);
    Ok(NodePlan { app, caveat: caveats.join(", "), edits })
}

/// npm in place: an install of the manifests' dependencies (no package named), a script, a test, a prune, or
/// its cache.
fn runs_npm_in_place(inv: &Invocation) -> bool {
    if inv.program != "npm" || inv.has_option("-g") || inv.has_option("--global") {
        return false;
    }
    let mut words = inv.args.iter().map(|w| w.literal.as_deref()).filter(|w| w.is_none_or(|w| !w.starts_with('-')));
    match words.next().flatten() {
        Some("install" | "i" | "ci") => words.next().is_none(),
        Some(subcommand) => NPM_IN_PLACE.contains(&subcommand),
        None => false,
    }
}

/// A RUN of the stage comes after statement `i`.
fn runs_later(ctx: &Context, stage: &Stage, i: usize) -> bool {
    (i + 1..stage.statements.end).any(|j| ctx.statement(j).instruction.kind == Kind::Run)
}

/// `mkdir` of directories in the app's directory, which the copy takes along.
fn makes_directories_in(ctx: &Context, stage: &Stage, i: usize, inv: &Invocation, app: &str) -> bool {
    let mut paths = inv.args.iter().map(|w| w.literal.as_deref()).filter(|w| w.is_none_or(|w| !w.starts_with('-')));
    inv.program == "mkdir"
        && paths.all(|path| {
            path.and_then(|path| absolute(ctx, stage, i, path))
                .is_some_and(|dir| dir == app || dir.starts_with(&format!("{app}/")))
        })
}

/// npm 6 and older, in the images of Node.js 14 and older, know `--production` and not `--omit=dev`.
fn npm_before_7(tag: &str) -> bool {
    let major: String = tag.chars().take_while(char::is_ascii_digit).collect();
    major.parse::<u32>().is_ok_and(|major| major <= 14)
}

/// What to check about the script the image starts with (`npm start`, `npm run NAME`): an error when the build
/// context's package.json shows it runs a devDependency, which the runtime stage does not have; a caveat when
/// dockopt cannot read it.
fn start_script_needs(ctx: &Context, stage: &Stage) -> Result<Option<String>, String> {
    let last_of = |kind: Kind| stage.statements.clone().rev().find(|&i| ctx.statement(i).instruction.kind == kind);
    let Some(i) = last_of(Kind::Entrypoint).or_else(|| last_of(Kind::Cmd)) else { return Ok(None) };
    let ins = &ctx.statement(i).instruction;
    let script = if ins.json {
        let words: Vec<&str> = ctx.df.value_texts(ins).collect();
        match words.as_slice() {
            ["npm", "start", ..] => "start".to_string(),
            ["npm", "run" | "run-script", name, ..] => name.to_string(),
            _ => return Ok(None),
        }
    } else {
        let Some(command) = ctx.df.value_texts(ins).next().map(Script::parse) else { return Ok(None) };
        let named = command.commands.first().and_then(|c| c.invocation()).filter(|inv| inv.program == "npm");
        match named.as_ref().and_then(npm_script) {
            Some(name) => name.to_string(),
            None => return Ok(None),
        }
    };
    let manifest = ctx.build.and_then(|context| context.read_text("package.json"));
    let manifest: Option<serde_json::Value> = manifest.and_then(|text| serde_json::from_str(&text).ok());
    let Some(manifest) = manifest else {
        return Ok(Some(format!("that the `{script}` script needs no devDependency")));
    };
    let Some(command) = manifest["scripts"][&script].as_str() else { return Ok(None) };
    let dev = manifest["devDependencies"].as_object();
    let is_dev = |package: &str| dev.is_some_and(|d| d.contains_key(package));
    for word in command.split(|c: char| c.is_whitespace() || matches!(c, '&' | ';' | '|')) {
        let package = DEV_PROGRAMS.iter().find(|(program, _)| *program == word).map_or(word, |(_, package)| package);
        if !word.is_empty() && is_dev(package) {
            return Err(format!(
                "the `{script}` script runs `{word}` from the devDependencies, which the runtime stage drops"
            ));
        }
    }
    Ok(None)
}
