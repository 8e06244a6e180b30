use super::cleanup::{
    cache_dir, cache_is_mounted, last_matching, may_clean_unlisted, mount_instead, tool_cleanup_finding, CacheMount,
};
use super::yarn_settings::ProjectSettings;
use crate::engine::context::Context;
use crate::engine::finding::{Finding, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::{Invocation, Programs};
use crate::syntax::model::Kind;
use std::cell::OnceCell;

pub struct NodeCacheClean;

static INFO: RuleInfo = RuleInfo {
    code: "DO206",
    name: "node-cache-clean",
    summary: "npm, yarn or pnpm cache left in the layer",
    doc: "npm, yarn and pnpm keep every downloaded package in a cache under the home directory. dockopt \
cleans it at the end of the installing RUN (`npm cache clean --force`, `yarn cache clean`, `pnpm store \
prune`) unless a cache mount holds it. It reports without a fix when the tool may be gone by then: installed \
in a subshell or a branch, or followed by a package removal or an `rm` of its files. yarn 2 and later are left \
alone unless their settings say they lay out `node_modules`: under Plug'n'Play, their default, the packages are the \
zip files of their cache, so cleaning it deletes the install. yarn is taken for one of them when `install` has their \
options (`--immutable`), corepack or `yarn set version` ran before, or a COPY brings a .yarnrc.yml or .yarn. Such a \
yarn gets `yarn cache clean --all` (which yarn 1 takes too) when `YARN_NODE_LINKER=node-modules` is set, or the \
.yarnrc.yml that a COPY from the build context puts in the directory of the install says `nodeLinker: \
node-modules`, and its cache is in the global folder: yarn 4's default, by the `yarnPath` of the .yarnrc.yml or the \
`packageManager` of the package.json copied beside it, or `enableGlobalCache: true`. Nothing may move the cache \
(`cacheFolder`, `globalFolder`), commit it to the project (a `.yarn/cache` beside the .yarnrc.yml), or change the \
directory. yarn 1 (`packageManager: yarn@1…`) gets the same cleanup, of its own cache. \
With `--cache-mounts`, the fix mounts a cache at the tool's cache directory (for npm its `_cacache`, where the \
downloads are) instead (`RUN --mount=type=cache,…`), which keeps it out of the image and for the next build; for \
yarn 2 and later it stays the cleanup.\n\n\
Before:\n    RUN npm ci\n\n\
After:\n    RUN npm ci && npm cache clean --force",
    safety: Safety::Safe,
    severity: Severity::Warning,
    hadolint: &["DL3060"],
};

/// A Node.js package manager and its cache.
struct Tool {
    name: &'static str,
    /// The subcommands that fill the cache; `None` is the bare tool (`yarn`).
    installs: &'static [Option<&'static str>],
    /// Where root's cache is, for cache mounts.
    root_cache: &'static str,
    /// How the cache directory's path ends under any home, for `rm -rf ~/.npm`.
    cache_ending: &'static str,
    cleanup: &'static str,
}

const TOOLS: &[Tool] = &[
    Tool {
        name: "npm",
        installs: &[Some("install"), Some("i"), Some("ci"), Some("add")],
        root_cache: "/root/.npm",
        cache_ending: "/.npm",
        cleanup: "npm cache clean --force",
    },
    Tool {
        name: "yarn",
        installs: &[None, Some("install"), Some("add")],
        root_cache: "/usr/local/share/.cache/yarn",
        cache_ending: "/.cache/yarn",
        cleanup: "yarn cache clean",
    },
    Tool {
        name: "pnpm",
        installs: &[Some("install"), Some("i"), Some("add")],
        root_cache: "/root/.local/share/pnpm/store",
        cache_ending: "/pnpm/store",
        cleanup: "pnpm store prune",
    },
];

/// The cleanup of yarn 2 and later, when they lay out `node_modules` with their cache in the global folder (see
/// [`ProjectSettings::cache_holds_only_downloads`]): `--all` cleans the global cache and the mirror beside it. yarn 1
/// takes it too, and cleans its own cache.
const LATER_YARN_CLEANUP: &str = "yarn cache clean --all";

/// Where yarn 2 and later keep their global cache under a home directory, and under root's.
const LATER_YARN_CACHE_ENDING: &str = "/.yarn/berry/cache";
const LATER_YARN_ROOT_CACHE: &str = "/root/.yarn/berry/cache";

/// The names of [`TOOLS`].
const TOOL_NAMES: Programs = Programs::new(&["npm", "yarn", "pnpm"]);

impl Rule for NodeCacheClean {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        let later_yarn_signs = OnceCell::new();
        let project_settings = OnceCell::new();
        for (i, _) in ctx.runs().filter(|&(i, _)| ctx.runs_any_of(i, &TOOL_NAMES)) {
            let invocations = ctx.invocations(i);
            for Tool { name: tool, installs, root_cache, cache_ending, cleanup } in TOOLS {
                let Some((last, install)) =
                    last_matching(&invocations, |inv| inv.program == *tool && installs.contains(&inv.subcommand()))
                else {
                    continue;
                };
                let later_yarn = *tool == "yarn"
                    && later_yarn_signs
                        .get_or_init(|| LaterYarnSigns::read(ctx))
                        .may_be_yarn_2_or_later(ctx, i, install);
                if later_yarn
                    && !project_settings
                        .get_or_init(|| ProjectSettings::read(ctx))
                        .cache_holds_only_downloads(ctx, i, last)
                {
                    continue;
                }
                let (cleanup, cache_ending, root_cache) = if later_yarn {
                    (LATER_YARN_CLEANUP, LATER_YARN_CACHE_ENDING, LATER_YARN_ROOT_CACHE)
                } else {
                    (*cleanup, *cache_ending, *root_cache)
                };
                let last_install = last.range.start;
                // yarn 2's cache is in the global folder, as `cache_holds_only_downloads` made sure, but not one
                // dockopt can name: any cache mount may hold it.
                let cache = if later_yarn { None } else { cache_dir(ctx, i, last, tool) };
                // Its own cleanup; `rm -rf` of its cache by path (`/root/.npm`, the directory a variable set) or
                // as the tool reports it (`"$(yarn cache dir)"`).
                let source = ctx.df.source();
                let removes_cache = |w: &crate::shell::Word| match w.literal.as_deref() {
                    Some(a) => {
                        let a = a.trim_end_matches(['/', '*']);
                        a.ends_with(cache_ending) || cache.as_deref().is_some_and(|c| c == a)
                    }
                    None => {
                        let raw = &source[ctx.source_range(i, w.range.clone()).as_range()];
                        [format!("{tool} cache dir"), "npm config get cache".into(), "pnpm store path".into()]
                            .iter()
                            .any(|asks| raw.contains(asks.as_str()))
                    }
                };
                let cleaned = invocations.iter().any(|(c, inv)| {
                    c.range.start > last_install
                        && ((inv.program == *tool && matches!(inv.subcommand(), Some("cache" | "store")))
                            || (inv.program == "rm" && inv.args.iter().any(removes_cache)))
                });
                let target = mount_target(tool, cache.as_deref().unwrap_or(root_cache));
                let mounted = cache_is_mounted(ctx, i, cache.as_deref())
                    || ctx.mount_covers(i, root_cache)
                    || ctx.mount_covers(i, &target);
                if cleaned || mounted || may_clean_unlisted(ctx, i, &["cache", "store", cache_ending]) {
                    continue;
                }
                let message = format!("{tool} leaves its package cache in the layer; run `{cleanup}` in the same RUN");
                let mut finding = tool_cleanup_finding(ctx, i, &INFO, message, cleanup, (&invocations, last, tool));
                // A mount for yarn 2's cache is not offered: no build has proven one.
                if !later_yarn {
                    mount_instead(ctx, i, &mut finding, CacheMount::at(target));
                }
                findings.push(finding);
            }
        }
    }
}

/// yarn 2 and later, under Plug'n'Play (their default), load the installed packages from the zip files of their
/// cache: `yarn cache clean` deletes the install (a real build of it lost the cache's packages, and a Plug'n'Play
/// install cleaned so stops at its first `require` with "Required package missing from disk"). yarn 1, which the
/// official Node.js images carry, is the one this rule cleans after, so yarn is taken for a later one when anything
/// says it may be: `install`'s options that only yarn 2 and later have; corepack or `yarn set version` (or yarn 1's
/// `policies set-version`) in this RUN or one before it in its stage or the stages it is built on; or a .yarnrc.yml,
/// yarn 2's settings file, or a .yarn directory, that a COPY or ADD before it names, or a .yarnrc.yml in a directory
/// it copies from the build context, in any stage (a stage's files may come to another with `COPY --from`).
///
/// The signs in the file's RUNs, COPYs and stages are read once for all its yarn installs: read again for each, a
/// file of many RUNs that run yarn, or of a long chain of stages, took time that grew with the square of its length.
struct LaterYarnSigns {
    /// The RUNs that run corepack, `yarn set version` or `yarn policies`, in order.
    switches: Vec<usize>,
    /// For each stage, whether one of those RUNs is in a stage it is built on, below it in its chain.
    switched_below: Vec<bool>,
    /// The first COPY or ADD that brings a .yarnrc.yml or a .yarn directory from the build context.
    settings_copy: Option<usize>,
}

impl LaterYarnSigns {
    fn read(ctx: &Context) -> LaterYarnSigns {
        const SWITCHERS: Programs = Programs::new(&["corepack", "yarn"]);
        let switches_yarn = |inv: &Invocation| {
            inv.program == "corepack" || (inv.program == "yarn" && matches!(inv.subcommand(), Some("set" | "policies")))
        };
        let switches: Vec<usize> = ctx
            .runs()
            .filter(|&(j, _)| ctx.runs_any_of(j, &SWITCHERS))
            .filter(|&(j, _)| ctx.invocations(j).iter().any(|(_, inv)| switches_yarn(inv)))
            .map(|(j, _)| j)
            .collect();
        let df = ctx.df;
        let mut holds_switch = vec![false; df.stages.len()];
        for stage in switches.iter().filter_map(|&j| ctx.stage_of(j)) {
            holds_switch[stage.index] = true;
        }
        // A stage is built on earlier stages only, so theirs are known when it is reached.
        let mut switched_below = vec![false; df.stages.len()];
        for stage in &df.stages {
            switched_below[stage.index] = stage.base_stage.is_some_and(|b| holds_switch[b] || switched_below[b]);
        }
        // Without the build context, only a COPY that names the file tells.
        let in_context = |path: &str| ctx.build.is_some_and(|build| build.contains(path));
        let settings_copy = (0..df.statements.len()).find(|&j| {
            let s = ctx.statement(j);
            let from_context = matches!(s.instruction.kind, Kind::Copy | Kind::Add)
                && df.heredocs(s).is_empty()
                && !df.flag_texts(&s.instruction).any(|f| f.starts_with("--from"));
            let values = df.values(&s.instruction);
            let sources = &values[..values.len().saturating_sub(1)];
            from_context
                && sources.iter().any(|source| {
                    let source = df.text(source).trim_end_matches('/');
                    let settings = match source {
                        "" | "." => ".yarnrc.yml".to_string(),
                        dir => format!("{dir}/.yarnrc.yml"),
                    };
                    matches!(source.rsplit('/').next(), Some(".yarnrc.yml" | ".yarn")) || in_context(&settings)
                })
        });
        LaterYarnSigns { switches, switched_below, settings_copy }
    }

    /// Whether the yarn that runs `install` in RUN `i` may be yarn 2 or later.
    fn may_be_yarn_2_or_later(&self, ctx: &Context, i: usize, install: &Invocation) -> bool {
        const LATER_OPTIONS: [&str; 5] =
            ["--immutable", "--immutable-cache", "--check-cache", "--mode", "--inline-builds"];
        if LATER_OPTIONS.iter().any(|option| install.has_option(option)) {
            return true;
        }
        // The first switch in `i`'s own stage, found among the switches in order, runs before it or with it.
        let switched = ctx.stage_of(i).is_some_and(|stage| {
            let first_in_stage = self.switches.partition_point(|&j| j < stage.statements.start);
            self.switched_below[stage.index] || self.switches.get(first_in_stage).is_some_and(|&j| j <= i)
        });
        switched || self.settings_copy.is_some_and(|j| j < i)
    }
}

/// Where a cache mount for `tool` goes, given its cache directory. npm keeps its downloads in `_cacache` and its own
/// state beside it (logs, the update notifier's mark), which the image keeps as the original has it.
fn mount_target(tool: &str, cache: &str) -> String {
    match tool {
        "npm" => format!("{cache}/_cacache"),
        _ => cache.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_name_every_tool() {
        assert!(TOOLS.iter().all(|t| TOOL_NAMES.contains(t.name)));
    }
}
