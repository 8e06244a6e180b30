//! What yarn 2 and later make of an install's packages, as far as its settings tell: whether it lays them out in
//! `node_modules` and keeps its cache in the global folder under the home directory, where a `yarn cache clean
//! --all` after the install deletes only downloads. Read from the `YARN_*` variables the install sees and from the
//! `.yarnrc.yml` that a COPY from the build context puts in the directory it runs in.
//!
//! Anything else dockopt cannot read for certain (a `.yarnrc.yml` from another stage or a RUN, a directory the
//! install changes to, a cache folder of the project's own) counts as not known: under Plug'n'Play, yarn 2's
//! default, the packages are the zip files of the cache, and cleaning it deletes the install.

use super::stage_commands::{normalize, resolve};
use crate::engine::context::{Context, Variable};
use crate::shell::{Command, Programs};
use crate::syntax::model::{Kind, Stage};

/// The settings that move the cache away from the global folder, as `.yarnrc.yml` keys and as the variables that
/// set them.
const CACHE_SETTINGS: [(&str, &str); 3] = [
    ("enableGlobalCache", "YARN_ENABLE_GLOBAL_CACHE"),
    ("cacheFolder", "YARN_CACHE_FOLDER"),
    ("globalFolder", "YARN_GLOBAL_FOLDER"),
];

/// The `.yarnrc.yml` in the working directory of each RUN of the file that runs yarn, read in one pass over each
/// stage: asked of each install in turn, a file of thousands of them took time that grew with the square of its
/// length.
pub(super) struct ProjectSettings {
    /// The RUNs that run yarn, in order, each with the settings file in its working directory.
    runs: Vec<(usize, Settings)>,
}

/// The `.yarnrc.yml` in an install's directory.
#[derive(Clone)]
enum Settings {
    /// No statement of the stage puts one there, and the stage is built on an image, not on another stage.
    None,
    /// A COPY from the build context put this text there; `zero_install` when the context holds a `.yarn/cache`
    /// beside it: the project's own packages, which the cleanup would delete.
    Copied { text: String, zero_install: bool },
    /// Something put one there, or may have, that dockopt cannot read; or the directory is not known.
    Unknown,
}

/// How many working directories of yarn's RUNs a stage's settings are followed in: each COPY is read for each of
/// them. The installs in the others count as not known.
const MAX_DIRECTORIES: usize = 16;

impl ProjectSettings {
    pub(super) fn read(ctx: &Context) -> ProjectSettings {
        const YARN: Programs = Programs::new(&["yarn"]);
        let mut runs = Vec::new();
        for stage in &ctx.df.stages {
            let runs_yarn = |j: usize| ctx.runs_any_of(j, &YARN);
            if stage.statements.clone().any(runs_yarn) {
                read_stage(ctx, stage, runs_yarn, &mut runs);
            }
        }
        ProjectSettings { runs }
    }

    /// Whether the yarn 2 or later that runs `install`, a command of RUN `i`, lays out `node_modules` and keeps
    /// its downloads in its global cache alone, for certain.
    pub(super) fn installs_node_modules(&self, ctx: &Context, i: usize, install: &Command) -> bool {
        let Ok(k) = self.runs.binary_search_by_key(&i, |&(run, _)| run) else { return false };
        if changes_directory(ctx, i) || install.invocation().is_some_and(|inv| inv.has_option("--cwd")) {
            return false;
        }
        // `YARN_RC_FILENAME` makes yarn read another file than `.yarnrc.yml`.
        let unset = |name: &str| matches!(ctx.variable(i, install, name), Variable::Unset);
        if !unset("YARN_RC_FILENAME") || !CACHE_SETTINGS.iter().all(|&(_, variable)| unset(variable)) {
            return false;
        }
        let keys = match &self.runs[k].1 {
            Settings::Unknown | Settings::Copied { zero_install: true, .. } => return false,
            Settings::None => Vec::new(),
            Settings::Copied { text, zero_install: false } => top_level_keys(text),
        };
        if CACHE_SETTINGS.iter().any(|&(key, _)| keys.iter().any(|(k, _)| *k == key)) {
            return false;
        }
        match ctx.variable(i, install, "YARN_NODE_LINKER") {
            Variable::Set(linker) => linker == "node-modules",
            Variable::Unknown => false,
            Variable::Unset => {
                let mut linkers = keys.iter().filter(|(k, _)| *k == "nodeLinker");
                matches!((linkers.next(), linkers.next()), (Some((_, "node-modules")), None))
            }
        }
    }
}

/// Adds to `runs` the settings at the working directory of each RUN of `stage` that `runs_yarn`, in order.
fn read_stage(ctx: &Context, stage: &Stage, runs_yarn: impl Fn(usize) -> bool, runs: &mut Vec<(usize, Settings)>) {
    // The working directory at each statement, as BuildKit resolves WORKDIR: `None` once one is not known.
    let mut workdirs: Vec<Option<String>> = Vec::with_capacity(stage.statements.len());
    let mut workdir: Option<String> = None;
    let mut known = true;
    for j in stage.statements.clone() {
        workdirs.push(workdir.clone().filter(|_| known));
        let ins = &ctx.statement(j).instruction;
        if ins.kind == Kind::Workdir && known {
            let value = ctx.df.value_texts(ins).next().unwrap_or_default();
            workdir = match (value.contains('$'), value.starts_with('/'), workdir.take()) {
                (false, true, _) => Some(normalize(value)),
                (false, false, Some(dir)) => Some(resolve(&dir, value)),
                _ => None,
            };
            known = workdir.is_some();
        }
    }
    let at = |j: usize| workdirs[j - stage.statements.start].as_deref();
    let settings_file = |j: usize| at(j).map(|dir| format!("{}/.yarnrc.yml", dir.trim_end_matches('/')));
    // The settings files followed: each directory's, by its path.
    let mut targets: Vec<String> = Vec::new();
    for j in stage.statements.clone().filter(|&j| runs_yarn(j)) {
        if let Some(target) = settings_file(j).filter(|t| !targets.contains(t) && targets.len() < MAX_DIRECTORIES) {
            targets.push(target);
        }
    }
    // A stage built on another may have its files.
    let first = if stage.base_stage.is_some() { Settings::Unknown } else { Settings::None };
    let mut settings: Vec<Settings> = vec![first; targets.len()];
    for j in stage.statements.clone() {
        let statement = ctx.statement(j);
        match statement.instruction.kind {
            // A RUN that names the file may write it, and `yarn config set` does; the installing RUN too, before
            // the install.
            Kind::Run => {
                let text = &ctx.df.source()[statement.range.as_range()];
                let configures = ctx.invocations(j).iter().any(|(_, inv)| {
                    inv.program == "yarn" && matches!(inv.subcommand(), Some("config" | "set" | "policies"))
                });
                if text.contains(".yarnrc") || configures {
                    settings.fill(Settings::Unknown);
                }
                if runs_yarn(j) {
                    let k = settings_file(j).and_then(|t| targets.iter().position(|followed| *followed == t));
                    runs.push((j, k.map_or(Settings::Unknown, |k| settings[k].clone())));
                }
            }
            Kind::Copy | Kind::Add => {
                for (target, settings) in targets.iter().zip(settings.iter_mut()) {
                    if let Some(copied) = copied_settings(ctx, j, at(j), target) {
                        *settings = copied;
                    }
                }
            }
            _ => {}
        }
    }
}

/// RUN `i` changes its directory: `cd`, `pushd` or `popd`, before the install or after it, where a cleanup appended
/// to the RUN would run another yarn, or none.
fn changes_directory(ctx: &Context, i: usize) -> bool {
    ctx.invocations(i).iter().any(|(_, inv)| matches!(inv.program, "cd" | "pushd" | "popd"))
}

/// The flags of a COPY that change nothing of where its files land.
const PLAIN_COPY_FLAGS: [&str; 3] = ["--chown", "--chmod", "--link"];

/// What COPY or ADD `j`, in working directory `workdir`, leaves at `target`, an absolute path: `None` when it puts
/// nothing there.
fn copied_settings(ctx: &Context, j: usize, workdir: Option<&str>, target: &str) -> Option<Settings> {
    let df = ctx.df;
    let statement = ctx.statement(j);
    let ins = &statement.instruction;
    let values: Vec<&str> = df.value_texts(ins).collect();
    let (Some((dest, sources)), true) = (values.split_last(), df.heredocs(statement).is_empty()) else {
        return Some(Settings::Unknown);
    };
    let dest_dir = match (dest.contains('$'), dest.starts_with('/'), workdir) {
        (false, true, _) => normalize(dest),
        (false, false, Some(workdir)) => resolve(workdir, dest),
        _ => return Some(Settings::Unknown),
    };
    // Where the target is below the destination; the copied files land under it.
    let below = match dest_dir.as_str() {
        "/" => target.strip_prefix('/'),
        dir => target.strip_prefix(dir).and_then(|rest| rest.strip_prefix('/')),
    };
    if below.is_none() && target != dest_dir {
        return None;
    }
    let plain = ins.kind == Kind::Copy
        && df.flag_texts(ins).all(|f| PLAIN_COPY_FLAGS.iter().any(|p| f.split('=').next() == Some(*p)));
    let Some(build) = ctx.build.filter(|_| plain) else { return Some(Settings::Unknown) };
    let into_directory = sources.len() > 1 || dest.ends_with('/');
    let mut found = None;
    for &source in sources {
        if source.contains(['$', '*', '?', '[']) || source.contains("://") {
            return Some(Settings::Unknown);
        }
        let source = normalize(&format!("/{source}"));
        let source = source.trim_start_matches('/');
        // A directory's contents land under the destination; a file lands in it, or at it.
        let file = if source.is_empty() || build.is_directory(source) {
            let Some(below) = below else { continue };
            let file = if source.is_empty() { below.to_string() } else { format!("{source}/{below}") };
            if !build.contains(&file) || build.is_ignored(&file) {
                continue;
            }
            file
        } else {
            let name = source.rsplit('/').next().unwrap_or(source);
            let lands_at = match into_directory || below.is_some() {
                true => format!("{}/{name}", dest_dir.trim_end_matches('/')),
                false => dest_dir.clone(),
            };
            if lands_at != target {
                continue;
            }
            source.to_string()
        };
        // The project's own packages, which `yarn cache clean` would delete: a zero-install project commits them.
        let project = file.rsplit_once('/').map_or("", |(dir, _)| dir);
        let cache = if project.is_empty() { ".yarn/cache".to_string() } else { format!("{project}/.yarn/cache") };
        let zero_install = build.contains(&cache);
        found = Some(match build.read_text(&file) {
            Some(text) => Settings::Copied { text, zero_install },
            None => Settings::Unknown,
        });
    }
    found
}

/// The top-level `key: value` pairs of a YAML file, values unquoted and without a comment after them. Only what
/// yarn's settings use: a nested value or a list item is not at the top level.
fn top_level_keys(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .filter(|line| !line.starts_with([' ', '\t', '#', '-']))
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            let key = key.trim().trim_matches(['"', '\'']);
            let value = value.split(" #").next().unwrap_or_default().trim().trim_matches(['"', '\'']);
            Some((key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_keys_are_read_unquoted_without_comments() {
        let text = "nodeLinker: \"node-modules\" # flat\npackageExtensions:\n  nodeLinker: pnp\n'cacheFolder': ./c\n";
        assert_eq!(
            top_level_keys(text),
            [("nodeLinker", "node-modules"), ("packageExtensions", ""), ("cacheFolder", "./c")]
        );
    }
}
