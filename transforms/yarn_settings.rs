//! What yarn 2 and later make of an install's packages, as far as its settings tell: whether it lays them out in
//! `node_modules` and keeps its cache in the global folder under the home directory, where a `yarn cache clean
//! --all` after the install deletes only downloads. Read from the `YARN_*` variables the install sees, and from the
//! `.yarnrc.yml` and `package.json` that COPYs from the build context put in the directory it runs in.
//!
//! yarn 4 keeps its cache in the global folder unless told otherwise; yarn 2 and 3 keep it in the project
//! (`.yarn/cache`) unless `enableGlobalCache` says otherwise, and their version is read from the `yarnPath` of the
//! settings or the `packageManager` of the manifest. Anything dockopt cannot read for certain (a file from another
//! stage or a RUN, a directory the install changes to, a version it cannot tell) counts as not known: under
//! Plug'n'Play, yarn 2's default, the packages are the zip files of the cache, and cleaning it deletes the install.

use super::stage_commands::{normalize, resolve, workdirs};
use crate::engine::context::{Context, Variable};
use crate::shell::{Command, Programs};
use crate::syntax::model::{Kind, Stage};

/// The settings that move the cache from where yarn keeps it by default, as `.yarnrc.yml` keys and as the
/// variables that set them.
const MOVING_SETTINGS: [(&str, &str); 2] =
    [("cacheFolder", "YARN_CACHE_FOLDER"), ("globalFolder", "YARN_GLOBAL_FOLDER")];

/// The files read in the working directory of each install: yarn's settings and the project's manifest.
const FILES: [&str; 2] = [".yarnrc.yml", "package.json"];

/// The `.yarnrc.yml` and `package.json` in the working directory of each RUN of the file that runs yarn, read in
/// one pass over each stage: asked of each install in turn, a file of thousands of them took time that grew with the
/// square of its length.
pub(super) struct ProjectSettings {
    /// The RUNs that run yarn, in order, each with the files of [`FILES`] in its working directory.
    runs: Vec<(usize, [Copied; 2])>,
}

/// A file in an install's directory.
#[derive(Clone)]
enum Copied {
    /// No statement of the stage puts one there, and the stage is built on an image, not on another stage.
    Absent,
    /// A COPY from the build context put this text there; `yarn_cache_beside` when the context holds a
    /// `.yarn/cache` beside it: a zero-install project's own packages, which the cleanup would delete.
    Text { text: String, yarn_cache_beside: bool },
    /// Something put one there, or may have, that dockopt cannot read; or the directory is not known.
    Unknown,
}

/// How many working directories of yarn's RUNs a stage's files are followed in: each COPY is read for each of
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

    /// Whether the yarn that runs `install`, a command of RUN `i`, keeps nothing but downloads in the caches that
    /// `yarn cache clean --all` deletes, for certain: yarn 1, or a later one that lays out `node_modules` with its
    /// cache in the global folder.
    pub(super) fn cache_holds_only_downloads(&self, ctx: &Context, i: usize, install: &Command) -> bool {
        let Ok(k) = self.runs.binary_search_by_key(&i, |&(run, _)| run) else { return false };
        if changes_directory(ctx, i) || install.invocation().is_some_and(|inv| inv.has_option("--cwd")) {
            return false;
        }
        let variable = |name: &str| ctx.variable(i, install, name);
        // `YARN_RC_FILENAME` makes yarn read another file than `.yarnrc.yml`.
        let unset = |name: &str| matches!(variable(name), Variable::Unset);
        if !unset("YARN_RC_FILENAME") || !MOVING_SETTINGS.iter().all(|&(_, name)| unset(name)) {
            return false;
        }
        let [settings, manifest] = &self.runs[k].1;
        let keys = match settings {
            Copied::Unknown | Copied::Text { yarn_cache_beside: true, .. } => return false,
            Copied::Absent => Vec::new(),
            Copied::Text { text, yarn_cache_beside: false } => top_level_keys(text),
        };
        let key = |name: &str| -> Option<&str> {
            let mut values = keys.iter().filter(|(k, _)| *k == name).map(|&(_, value)| value);
            // A key given twice is not read.
            match (values.next(), values.next()) {
                (Some(value), None) => Some(value),
                (None, None) => None,
                _ => Some(""),
            }
        };
        if MOVING_SETTINGS.iter().any(|&(name, _)| key(name).is_some()) {
            return false;
        }
        let major = match key("yarnPath") {
            Some(path) => release_major(path),
            None => match manifest {
                Copied::Text { text, .. } => manifest_major(text),
                Copied::Absent | Copied::Unknown => None,
            },
        };
        // yarn 1 has its own cache, which the cleanup cleans, and always lays out node_modules.
        if major == Some(1) {
            return true;
        }
        // Told to use the global cache, any version does, and yarn 1 has its own; yarn 4 does by default.
        let global_cache = match (variable("YARN_ENABLE_GLOBAL_CACHE"), key("enableGlobalCache")) {
            (Variable::Set(value), _) => matches!(value.as_str(), "true" | "1"),
            (Variable::Unknown, _) => false,
            (Variable::Unset, Some(value)) => value == "true",
            (Variable::Unset, None) => major.is_some_and(|major| major >= 4),
        };
        global_cache
            && match variable("YARN_NODE_LINKER") {
                Variable::Set(linker) => linker == "node-modules",
                Variable::Unknown => false,
                Variable::Unset => key("nodeLinker") == Some("node-modules"),
            }
    }
}

/// The major version of a yarn release file that `yarnPath` names, as `yarn set version` names it
/// (`.yarn/releases/yarn-4.5.3.cjs`).
fn release_major(path: &str) -> Option<u32> {
    let name = path.rsplit('/').next()?;
    name.strip_prefix("yarn-")?.split('.').next()?.parse().ok()
}

/// The major version of yarn that a manifest's `packageManager` asks corepack for (`yarn@4.5.3+sha512.…`).
fn manifest_major(text: &str) -> Option<u32> {
    let manifest: serde_json::Value = serde_json::from_str(text).ok()?;
    let version = manifest.get("packageManager")?.as_str()?.strip_prefix("yarn@")?;
    version.split('.').next()?.parse().ok()
}

/// Adds to `runs` the files at the working directory of each RUN of `stage` that `runs_yarn`, in order.
fn read_stage(ctx: &Context, stage: &Stage, runs_yarn: impl Fn(usize) -> bool, runs: &mut Vec<(usize, [Copied; 2])>) {
    let workdirs = workdirs(ctx, stage);
    let at = |j: usize| workdirs[j - stage.statements.start].as_deref();
    // The directories followed, by their paths, each with the paths of its files.
    let mut directories: Vec<String> = Vec::new();
    for j in stage.statements.clone().filter(|&j| runs_yarn(j)) {
        if let Some(dir) = at(j).filter(|d| !directories.iter().any(|f| f == d) && directories.len() < MAX_DIRECTORIES)
        {
            directories.push(dir.to_string());
        }
    }
    let paths: Vec<[String; 2]> =
        directories.iter().map(|dir| FILES.map(|file| format!("{}/{file}", dir.trim_end_matches('/')))).collect();
    // A stage built on another may have its files.
    let first = if stage.base_stage.is_some() { Copied::Unknown } else { Copied::Absent };
    let mut files: Vec<[Copied; 2]> = vec![[first.clone(), first]; directories.len()];
    for j in stage.statements.clone() {
        let statement = ctx.statement(j);
        match statement.instruction.kind {
            // A RUN that names the settings may write them, and `yarn config set` and `yarn set version` do; the
            // installing RUN too, before the install. The manifest changes with `yarn add`, but not its
            // `packageManager`, which only `yarn set version` writes.
            Kind::Run => {
                let text = &ctx.df.source()[statement.range.as_range()];
                let configures = ctx.invocations(j).iter().any(|(_, inv)| {
                    inv.program == "yarn" && matches!(inv.subcommand(), Some("config" | "set" | "policies"))
                });
                if text.contains(".yarnrc") || text.contains("packageManager") || configures {
                    files.iter_mut().for_each(|f| *f = [Copied::Unknown, Copied::Unknown]);
                }
                if runs_yarn(j) {
                    let k = at(j).and_then(|dir| directories.iter().position(|d| d == dir));
                    runs.push((j, k.map_or([Copied::Unknown, Copied::Unknown], |k| files[k].clone())));
                }
            }
            Kind::Copy | Kind::Add => {
                for (paths, files) in paths.iter().zip(files.iter_mut()) {
                    for (target, file) in paths.iter().zip(files.iter_mut()) {
                        if let Some(copied) = copied_file(ctx, j, at(j), target) {
                            *file = copied;
                        }
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
fn copied_file(ctx: &Context, j: usize, workdir: Option<&str>, target: &str) -> Option<Copied> {
    let df = ctx.df;
    let statement = ctx.statement(j);
    let ins = &statement.instruction;
    let values: Vec<&str> = df.value_texts(ins).collect();
    let (Some((dest, sources)), true) = (values.split_last(), df.heredocs(statement).is_empty()) else {
        return Some(Copied::Unknown);
    };
    let dest_dir = match (dest.contains('$'), dest.starts_with('/'), workdir) {
        (false, true, _) => normalize(dest),
        (false, false, Some(workdir)) => resolve(workdir, dest),
        _ => return Some(Copied::Unknown),
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
    let Some(build) = ctx.build.filter(|_| plain) else { return Some(Copied::Unknown) };
    let into_directory = sources.len() > 1 || dest.ends_with('/');
    let mut found = None;
    for &source in sources {
        if source.contains(['$', '*', '?', '[']) || source.contains("://") {
            return Some(Copied::Unknown);
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
        let yarn_cache_beside = build.contains(&cache);
        found = Some(match build.read_text(&file) {
            Some(text) => Copied::Text { text, yarn_cache_beside },
            None => Copied::Unknown,
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
    fn versions_are_read_from_release_files_and_manifests() {
        assert_eq!(release_major(".yarn/releases/yarn-4.5.3.cjs"), Some(4));
        assert_eq!(release_major("/opt/yarn-3.8.7.js"), Some(3));
        assert_eq!(release_major(".yarn/releases/yarn-berry.cjs"), None);
        assert_eq!(manifest_major(r#"{"packageManager": "yarn@4.5.3+sha512.abc"}"#), Some(4));
        assert_eq!(manifest_major(r#"{"packageManager": "yarn@1.22.22"}"#), Some(1));
        assert_eq!(manifest_major(r#"{"packageManager": "pnpm@9.0.0"}"#), None);
        assert_eq!(manifest_major(r#"{"name": "x"}"#), None);
        assert_eq!(manifest_major("not json"), None);
    }

    #[test]
    fn top_level_keys_are_read_unquoted_without_comments() {
        let text = "nodeLinker: \"node-modules\" # flat\npackageExtensions:\n  nodeLinker: pnp\n'cacheFolder': ./c\n";
        assert_eq!(
            top_level_keys(text),
            [("nodeLinker", "node-modules"), ("packageExtensions", ""), ("cacheFolder", "./c")]
        );
    }
}
