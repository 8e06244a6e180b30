use crate::engine::context::Context;
use crate::engine::finding::{Applicability, Finding, Fix, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;

pub struct ApkNoCache;

static INFO: RuleInfo = RuleInfo {
    code: "DO203",
    name: "apk-no-cache",
    summary: "apk keeps its package index in the layer",
    doc: "`apk add` without `--no-cache` leaves the package index in /var/cache/apk. With `--no-cache`, apk \
fetches the index, uses it and keeps nothing, which also makes a preceding `apk update` and a following \
`rm -rf /var/cache/apk/*` redundant: dockopt removes those in the same RUN when they are whole commands joined \
with `&&` or `;`.\n\n\
Before:\n    RUN apk update && apk add curl && rm -rf /var/cache/apk/*\n\n\
After:\n    RUN apk add --no-cache curl",
    safety: Safety::Safe,
    severity: Severity::Warning,
    hadolint: &["DL3019"],
};

impl Rule for ApkNoCache {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        for (i, _) in ctx.runs() {
            if ctx.mount_covers(i, "/var/cache/apk") || ctx.mount_covers(i, "/etc/apk/cache") {
                continue;
            }
            let invocations = ctx.invocations(i);
            let apk: Vec<_> = invocations.iter().filter(|(_, inv)| inv.program == "apk").collect();
            let adds: Vec<_> = apk
                .iter()
                .filter(|(_, inv)| inv.subcommand() == Some("add") && !inv.has_option("--no-cache"))
                .collect();
            let mut edits: Vec<_> = adds
                .iter()
                .map(|(_, inv)| {
                    ctx.insert_after(i, inv.args.iter().find(|w| w.is("add")).expect("subcommand is add"), "--no-cache")
                })
                .collect();
            // Once every apk command that reads the index runs with --no-cache, updating the index and deleting
            // the cache do nothing.
            let only_adds = apk.iter().all(|(_, inv)| matches!(inv.subcommand(), Some("add" | "del" | "update")));
            let has_add = apk.iter().any(|(_, inv)| inv.subcommand() == Some("add"));
            if only_adds && has_add {
                for (command, inv) in &invocations {
                    let redundant = (inv.program == "apk" && inv.subcommand() == Some("update"))
                        || (inv.program == "rm"
                            && !inv.args.is_empty()
                            && inv.args.iter().all(|w| {
                                w.literal
                                    .as_deref()
                                    .is_some_and(|a| a.starts_with('-') || a.starts_with("/var/cache/apk"))
                            }));
                    if redundant {
                        edits.extend(ctx.delete_command(i, command));
                    }
                }
            }
            if edits.is_empty() {
                continue;
            }
            let message = if adds.is_empty() {
                "`apk add --no-cache` keeps no index, so `apk update` and removing /var/cache/apk do nothing here"
                    .to_string()
            } else {
                "`apk add` without `--no-cache` leaves the package index in /var/cache/apk".to_string()
            };
            let statement = ctx.statement(i);
            findings.push(Finding {
                rule: &INFO,
                range: statement.range,
                message,
                fix: Some(Fix { applicability: Applicability::Safe, edits }),
                instructions: vec![statement.index],
            });
        }
    }
}
