use super::cleanup::cleanup_finding;
use crate::engine::context::Context;
use crate::engine::finding::{Finding, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::Invocation;
use crate::syntax::model::Kind;

pub struct AptListsCleanup;

static INFO: RuleInfo = RuleInfo {
    code: "DO201",
    name: "apt-lists-cleanup",
    summary: "apt package lists left in the layer",
    doc: "`apt-get update` downloads package lists into /var/lib/apt/lists, tens of megabytes that the image \
never uses again. They must be removed in the RUN that downloaded them: a later RUN's `rm` only hides them. \
dockopt appends `rm -rf /var/lib/apt/lists/*` to the RUN that runs `apt-get update`, unless that RUN already \
removes them (`rm`, or `apt-get dist-clean` in apt 2.7 and later), a later RUN in the stage, or in a stage \
built on it, installs without its own `apt-get update`, or a cache or tmpfs mount holds the lists.\n\n\
Before:\n    RUN apt-get update && apt-get install -y curl\n\n\
After:\n    RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*",
    safety: Safety::Safe,
    severity: Severity::Warning,
    hadolint: &["DL3009"],
};

const APT: &[&str] = &["apt-get", "apt", "aptitude", "apt-cache"];
const LISTS: &str = "/var/lib/apt/lists";

/// apt subcommands that do not read the package lists.
fn reads_lists(program: &str, subcommand: Option<&str>) -> bool {
    program == "apt-cache"
        || !matches!(
            subcommand,
            Some("update" | "clean" | "autoclean" | "dist-clean" | "autoremove" | "remove" | "purge")
        )
}

/// `rm` of the lists, or `apt-get dist-clean` (apt 2.7 and later), which removes them along with the archives.
fn removes_lists(invocation: &Invocation) -> bool {
    match invocation.program {
        "rm" => invocation.args.iter().any(|w| w.literal.as_deref().is_some_and(|a| a.starts_with(LISTS))),
        program => APT.contains(&program) && invocation.subcommand() == Some("dist-clean"),
    }
}

/// RUN `j` reads package lists before any `apt-get update` of its own. A RUN dockopt cannot read counts when it
/// mentions apt at all.
fn needs_lists_from_before(ctx: &Context, j: usize) -> bool {
    let statement = ctx.statement(j);
    if statement.instruction.kind != Kind::Run {
        return false;
    }
    if ctx.script(j).is_none_or(|s| s.opaque) {
        let text = &ctx.df.source()[statement.range.as_range()];
        return text.contains("apt") || statement.heredocs.iter().any(|h| h.content.contains("apt"));
    }
    for (_, inv) in ctx.invocations(j) {
        if APT.contains(&inv.program) {
            let sub = inv.subcommand();
            if sub == Some("update") {
                return false;
            }
            if reads_lists(inv.program, sub) {
                return true;
            }
        }
    }
    false
}

impl Rule for AptListsCleanup {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        for (i, script) in ctx.runs() {
            let invocations = ctx.invocations(i);
            let Some((update, _)) =
                invocations.iter().find(|(_, inv)| APT.contains(&inv.program) && inv.subcommand() == Some("update"))
            else {
                continue;
            };
            // The lists only come back with a command that reads them; `apt-get purge` after the cleanup does not.
            let last_apt = invocations
                .iter()
                .filter(|(_, inv)| {
                    APT.contains(&inv.program)
                        && (inv.subcommand() == Some("update") || reads_lists(inv.program, inv.subcommand()))
                })
                .map(|(c, _)| c.range.start)
                .max();
            let cleaned = invocations.iter().any(|(c, inv)| Some(c.range.start) > last_apt && removes_lists(inv));
            if cleaned
                || script.opaque
                || ctx.mount_covers(i, LISTS)
                || ctx.mount_covers(i, "/var/lib/apt/lists/partial")
            {
                continue;
            }
            if ctx.later_statements(i).into_iter().any(|j| needs_lists_from_before(ctx, j)) {
                continue;
            }
            let sudo = if update.words.first().is_some_and(|w| w.is("sudo")) { "sudo " } else { "" };
            let statement = ctx.statement(i);
            let message = format!(
                "apt lists downloaded on line {} stay in this layer; remove /var/lib/apt/lists/* in the same RUN",
                statement.start_line
            );
            findings.push(cleanup_finding(ctx, i, &INFO, message, &format!("{sudo}rm -rf /var/lib/apt/lists/*")));
        }
    }
}
