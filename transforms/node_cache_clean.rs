use super::{cleanup_finding, last_matching, tool_remains};
use crate::context::Context;
use crate::fix::{Finding, Rule, RuleInfo, Safety};

pub struct NodeCacheClean;

static INFO: RuleInfo = RuleInfo {
    code: "DO206",
    name: "node-cache-clean",
    summary: "npm, yarn or pnpm cache left in the layer",
    doc: "npm, yarn and pnpm keep every downloaded package in a cache under the home directory. dockopt \
cleans it at the end of the installing RUN (`npm cache clean --force`, `yarn cache clean`, `pnpm store \
prune`) unless a cache mount holds it. It reports without a fix when the tool may be gone by then: installed \
in a subshell or a branch, or followed by a package removal or an `rm` of its files.\n\n\
Before:\n    RUN npm ci\n\n\
After:\n    RUN npm ci && npm cache clean --force",
    safety: Safety::Safe,
    hadolint: &["DL3060"],
};

/// (tool, installing subcommands, root's cache path, the cache directory's name under any home, cleanup command).
/// `None` as a subcommand is the bare tool.
const TOOLS: &[(&str, &[Option<&str>], &str, &str, &str)] = &[
    ("npm", &[Some("install"), Some("i"), Some("ci"), Some("add")], "/root/.npm", "/.npm", "npm cache clean --force"),
    ("yarn", &[None, Some("install"), Some("add")], "/usr/local/share/.cache/yarn", "/.cache/yarn", "yarn cache clean"),
    (
        "pnpm",
        &[Some("install"), Some("i"), Some("add")],
        "/root/.local/share/pnpm/store",
        "/pnpm/store",
        "pnpm store prune",
    ),
];

impl Rule for NodeCacheClean {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        for (i, script) in ctx.runs() {
            let invocations = ctx.invocations(i);
            for (tool, installs, cache, cache_dir, cleanup) in TOOLS {
                let Some((last, _)) =
                    last_matching(&invocations, |inv| inv.program == *tool && installs.contains(&inv.subcommand()))
                else {
                    continue;
                };
                let last_install = last.range.start;
                // Its own cleanup, or `rm -rf /root/.npm` and the like.
                let cleaned = invocations.iter().any(|(c, inv)| {
                    c.range.start > last_install
                        && ((inv.program == *tool && matches!(inv.subcommand(), Some("cache" | "store")))
                            || (inv.program == "rm"
                                && inv.args.iter().any(|w| {
                                    w.literal.as_deref().is_some_and(|a| a.trim_end_matches(['/', '*']).ends_with(cache_dir))
                                })))
                });
                let mounted = ctx.mount_covers(i, cache)
                    || ctx.mount_covers(i, "/root/.cache")
                    || ctx.mount_covers(i, "/root/.local/share/pnpm");
                if cleaned || mounted || script.opaque {
                    continue;
                }
                let message = format!("{tool} leaves its package cache in the layer; run `{cleanup}` in the same RUN");
                let mut finding = cleanup_finding(ctx, i, &INFO, message, cleanup);
                if !tool_remains(&invocations, last, tool) {
                    finding.fix = None;
                }
                findings.push(finding);
            }
        }
    }
}
