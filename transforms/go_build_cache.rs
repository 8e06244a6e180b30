use super::cleanup::{cache_dir, last_matching, may_clean_unlisted, mount_instead, tool_cleanup_finding, CacheMount};
use crate::engine::context::Context;
use crate::engine::finding::{Finding, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::{Invocation, Programs};

pub struct GoBuildCache;

static INFO: RuleInfo = RuleInfo {
    code: "DO209",
    name: "go-build-cache",
    summary: "Go's build cache left in the layer",
    doc: "`go build`, `go install`, `go test`, `go vet` and `go run` keep compiled packages in the build cache \
(`$GOCACHE`, by default ~/.cache/go-build), often hundreds of megabytes that the image never uses: the next \
build in the image would only be faster. dockopt runs `go clean -cache` at the end of the RUN that filled it, \
unless that RUN already cleans it or a cache mount holds it; with `--cache-mounts` the fix mounts a cache there \
instead, which also keeps it for the next build. The module cache (`go mod download`) is left alone: later RUNs \
build from it, and with `--cache-mounts` DO210 mounts it on all of them. It reports without a fix when go may be \
gone or off PATH by the end of the RUN.\n\n\
Before:\n    RUN go build -o /app .\n\n\
After:\n    RUN go build -o /app . && go clean -cache",
    safety: Safety::Safe,
    severity: Severity::Warning,
    hadolint: &[],
};

const GO: Programs = Programs::new(&["go"]);

impl Rule for GoBuildCache {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        for (i, _) in ctx.runs().filter(|&(i, _)| ctx.runs_any_of(i, &GO)) {
            let invocations = ctx.invocations(i);
            let builds = |inv: &Invocation| {
                inv.program == "go" && matches!(inv.subcommand(), Some("build" | "install" | "test" | "vet" | "run"))
            };
            let Some((last, _)) = last_matching(&invocations, builds) else { continue };
            // `GOCACHE=off` (refused since Go 1.12) or a relative path: nothing dockopt can place.
            let cache = cache_dir(ctx, i, last, "go").filter(|dir| dir != "off" && dir.starts_with('/'));
            let Some(cache) = cache else { continue };
            let last_build = last.range.start;
            let cleaned = invocations.iter().any(|(c, inv)| {
                c.range.start > last_build
                    && ((inv.program == "go"
                        && inv.subcommand() == Some("clean")
                        && inv.args.iter().any(|w| w.is("-cache")))
                        || (inv.program == "rm" && inv.args.iter().any(|w| removes(w.literal.as_deref(), &cache))))
            });
            if cleaned || may_clean_unlisted(ctx, i, &["clean", &cache]) || ctx.mount_covers(i, &cache) {
                continue;
            }
            let cleanup = "go clean -cache";
            let message = format!("go leaves its build cache in {cache}; run `{cleanup}` in the same RUN");
            let mut finding = tool_cleanup_finding(ctx, i, &INFO, message, cleanup, (&invocations, last, "go"));
            mount_instead(ctx, i, &mut finding, CacheMount::at(cache));
            findings.push(finding);
        }
    }
}

/// An `rm` argument that deletes the build cache: the cache itself, its contents, or a directory above it.
fn removes(argument: Option<&str>, cache: &str) -> bool {
    let Some(path) = argument.map(|a| a.trim_end_matches(['*', '/'])) else { return false };
    !path.is_empty() && (cache == path || cache.starts_with(&format!("{path}/")))
}
