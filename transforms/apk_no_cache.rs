use super::cleanup::{mount_instead, CacheMount};
use crate::engine::context::Context;
use crate::engine::finding::{Applicability, Edit, Finding, Fix, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::{Invocation, Programs};

pub struct ApkNoCache;

static INFO: RuleInfo = RuleInfo {
    code: "DO203",
    name: "apk-no-cache",
    summary: "apk keeps its package index in the layer",
    doc: "`apk add` without `--no-cache` leaves the package index in /var/cache/apk. With `--no-cache`, apk \
fetches the index, uses it and keeps nothing, which also makes a preceding `apk update` and a following \
`rm -rf /var/cache/apk/*` redundant: dockopt removes those in the same RUN when they are whole commands joined \
with `&&` or `;`. A RUN whose adds all use `--no-cache` is reported only when an `apk update` leaves its index \
behind; a redundant `rm` alone saves nothing. With `--cache-mounts`, a RUN that adds without `--no-cache` and \
does not delete the cache gets a cache mount at /var/cache/apk instead, which keeps the index out of the image \
and for the next build (apk keeps the packages there too where /etc/apk/cache links to it).\n\n\
Before:\n    RUN apk update && apk add curl && rm -rf /var/cache/apk/*\n\n\
After:\n    RUN apk add --no-cache curl",
    safety: Safety::Safe,
    severity: Severity::Warning,
    hadolint: &["DL3019"],
};

const APK: Programs = Programs::new(&["apk"]);

impl Rule for ApkNoCache {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        for (i, _) in ctx.runs().filter(|&(i, _)| ctx.runs_any_of(i, &APK)) {
            if ctx.mount_covers(i, "/var/cache/apk") || ctx.mount_covers(i, "/etc/apk/cache") {
                continue;
            }
            let invocations = ctx.invocations(i);
            let apk: Vec<_> = invocations.iter().filter(|(_, inv)| inv.program == "apk").collect();
            let adds: Vec<_> = apk
                .iter()
                .filter(|(_, inv)| inv.subcommand() == Some("add") && !inv.has_option("--no-cache"))
                .collect();
            // `None` when the script is unbalanced, which takes no edit: its adds keep their finding, with no fix.
            let inserts: Option<Vec<Edit>> = adds
                .iter()
                .map(|(_, inv)| {
                    ctx.insert_after(i, inv.args.iter().find(|w| w.is("add")).expect("subcommand is add"), "--no-cache")
                })
                .collect();
            // Once every apk command that reads the index runs with --no-cache, updating the index and deleting
            // the cache do nothing.
            let only_adds = apk.iter().all(|(_, inv)| matches!(inv.subcommand(), Some("add" | "del" | "update")));
            let has_add = apk.iter().any(|(_, inv)| inv.subcommand() == Some("add"));
            let is_update = |inv: &Invocation| inv.program == "apk" && inv.subcommand() == Some("update");
            // An `rm` of the cache and nothing else: options alone (`rm -f`) remove nothing.
            let removes_cache = |inv: &Invocation| {
                let cache_path = |a: &str| a.starts_with("/var/cache/apk");
                inv.program == "rm"
                    && inv.args.iter().any(|w| w.literal.as_deref().is_some_and(cache_path))
                    && inv
                        .args
                        .iter()
                        .all(|w| w.literal.as_deref().is_some_and(|a| a.starts_with('-') || cache_path(a)))
            };
            // With every add already without a cache, a redundant `rm` (and an update whose index it removes)
            // cost nothing in the image: not worth a finding in a size optimizer. An update whose index stays is.
            let index_stays = !invocations.iter().any(|(_, inv)| removes_cache(inv));
            let mut deletions = Vec::new();
            if only_adds && has_add && (!adds.is_empty() || index_stays) {
                for (command, inv) in &invocations {
                    if is_update(inv) || (!adds.is_empty() && removes_cache(inv)) {
                        deletions.extend(ctx.delete_command(i, command));
                    }
                }
            }
            if adds.is_empty() && deletions.is_empty() {
                continue;
            }
            let message = if adds.is_empty() {
                "`apk update` leaves an index in /var/cache/apk that `apk add --no-cache` does not need".to_string()
            } else {
                "`apk add` without `--no-cache` leaves the package index in /var/cache/apk".to_string()
            };
            let statement = ctx.statement(i);
            let mut finding = Finding {
                rule: &INFO,
                range: statement.range,
                message,
                fix: inserts.map(|mut edits| {
                    edits.append(&mut deletions);
                    Fix { applicability: Applicability::Safe, edits }
                }),
                instructions: vec![statement.index()],
            };
            // A mount holds the index only where nothing in the RUN deletes it.
            if !adds.is_empty() && index_stays {
                let targets = vec!["/var/cache/apk".to_string()];
                mount_instead(
                    ctx,
                    i,
                    &mut finding,
                    CacheMount { targets, locked: true, first: None, changes_image: None },
                );
            }
            findings.push(finding);
        }
    }
}
