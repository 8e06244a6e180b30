use super::cleanup::{
    cache_dir, cache_is_mounted, last_matching, may_clean_unlisted, mount_instead, tool_cleanup_finding, CacheMount,
};
use crate::engine::context::Context;
use crate::engine::finding::{Finding, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::Programs;

pub struct NodeCacheClean;

static INFO: RuleInfo = RuleInfo {
    code: "DO206",
    name: "node-cache-clean",
    summary: "npm, yarn or pnpm cache left in the layer",
    doc: "npm, yarn and pnpm keep every downloaded package in a cache under the home directory. dockopt \
cleans it at the end of the installing RUN (`npm cache clean --force`, `yarn cache clean`, `pnpm store \
prune`) unless a cache mount holds it. It reports without a fix when the tool may be gone by then: installed \
in a subshell or a branch, or followed by a package removal or an `rm` of its files. With `--cache-mounts`, \
the fix mounts a cache at the tool's cache directory (for npm its `_cacache`, where the downloads are) instead (`RUN --mount=type=cache,…`), which keeps it out of \
the image and for the next build.\n\n\
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

/// The names of [`TOOLS`].
const TOOL_NAMES: Programs = Programs::new(&["npm", "yarn", "pnpm"]);

impl Rule for NodeCacheClean {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        for (i, _) in ctx.runs().filter(|&(i, _)| ctx.runs_any_of(i, &TOOL_NAMES)) {
            let invocations = ctx.invocations(i);
            for Tool { name: tool, installs, root_cache, cache_ending, cleanup } in TOOLS {
                let Some((last, _)) =
                    last_matching(&invocations, |inv| inv.program == *tool && installs.contains(&inv.subcommand()))
                else {
                    continue;
                };
                let last_install = last.range.start;
                let cache = cache_dir(ctx, i, last, tool);
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
                let mounted = cache_is_mounted(ctx, i, last, tool)
                    || ctx.mount_covers(i, root_cache)
                    || ctx.mount_covers(i, &target);
                if cleaned || mounted || may_clean_unlisted(ctx, i, &["cache", "store", cache_ending]) {
                    continue;
                }
                let message = format!("{tool} leaves its package cache in the layer; run `{cleanup}` in the same RUN");
                let mut finding = tool_cleanup_finding(ctx, i, &INFO, message, cleanup, (&invocations, last, tool));
                mount_instead(ctx, i, &mut finding, CacheMount::at(target));
                findings.push(finding);
            }
        }
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
