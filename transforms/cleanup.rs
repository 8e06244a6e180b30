//! What the cache-cleanup rules share: finding the command that installed, and a finding whose safe fix appends
//! the cleanup to the end of its RUN, withheld where the tool may be gone by then.

use crate::engine::context::Context;
use crate::engine::finding::{Applicability, Finding, Fix, RuleInfo};
use crate::shell::{Command, Invocation};

/// The start of the last command of a RUN that `matches`, with its invocation.
pub(super) fn last_matching<'a>(
    invocations: &'a [(&Command, Invocation<'_>)],
    matches: impl Fn(&Invocation) -> bool,
) -> Option<&'a (&'a Command, Invocation<'a>)> {
    invocations.iter().filter(|(_, inv)| matches(inv)).max_by_key(|(c, _)| c.range.start)
}

/// Whether the tool that ran `install` is still on hand at the end of the RUN, where [`cleanup_finding`] appends
/// the tool's own cleanup command. Not when the install ran nested: in a subshell, a sourced nvm or conda puts the
/// tool on PATH for that subshell only, and a branch may not run at all. Nor when a later command removes
/// packages or deletes a path that names the tool: `apk del .build-deps` can take npm with it, and a cleanup
/// that cannot find its tool fails the build.
fn tool_remains(invocations: &[(&Command, Invocation<'_>)], install: &Command, tool: &str) -> bool {
    install.is_top_level()
        && !invocations.iter().any(|(c, inv)| c.range.start > install.range.start && may_remove(inv, tool))
}

/// Package removals of any system package manager, nvm's, and `rm` of a path naming `tool` (or Node.js, which
/// npm, yarn and pnpm live in) or of a path dockopt cannot read.
fn may_remove(invocation: &Invocation, tool: &str) -> bool {
    let first = invocation.args.first().and_then(|w| w.literal.as_deref());
    match (invocation.program, invocation.subcommand()) {
        ("apk", Some("del")) => true,
        ("apt-get" | "apt" | "aptitude", Some("remove" | "purge" | "autoremove")) => true,
        ("yum" | "dnf" | "microdnf" | "tdnf", Some("remove" | "erase" | "autoremove")) => true,
        ("zypper", Some("rm" | "remove")) => true,
        ("nvm", Some("uninstall" | "deactivate" | "unload")) => true,
        ("dpkg", _) => matches!(first, Some("-r" | "-P" | "--remove" | "--purge")),
        ("pacman", _) => first.is_some_and(|a| a.starts_with("-R")),
        ("rm", _) => invocation.args.iter().any(|w| {
            w.literal.as_deref().is_none_or(|a| !a.starts_with('-') && (a.contains(tool) || a.contains("node")))
        }),
        _ => false,
    }
}

/// A [`cleanup_finding`] whose cleanup is a command of the tool that ran `install`: without a fix when that tool
/// may be gone by the end of the RUN (see [`tool_remains`]).
pub(super) fn tool_cleanup_finding(
    ctx: &Context,
    i: usize,
    rule: &'static RuleInfo,
    message: String,
    cleanup: &str,
    (invocations, install, tool): (&[(&Command, Invocation<'_>)], &Command, &str),
) -> Finding {
    let mut finding = cleanup_finding(ctx, i, rule, message, cleanup);
    if !tool_remains(invocations, install, tool) {
        finding.fix = None;
    }
    finding
}

/// A finding on RUN `i` whose safe fix appends `cleanup` to it; without a fix when the RUN cannot take one.
pub(super) fn cleanup_finding(
    ctx: &Context,
    i: usize,
    rule: &'static RuleInfo,
    message: String,
    cleanup: &str,
) -> Finding {
    let statement = ctx.statement(i);
    Finding {
        rule,
        range: statement.range,
        message,
        fix: ctx.append_command(i, cleanup).map(|edit| Fix { applicability: Applicability::Safe, edits: vec![edit] }),
        instructions: vec![statement.index],
    }
}
