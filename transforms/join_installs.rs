use crate::engine::context::Context;
use crate::engine::finding::{Applicability, Edit, Finding, Fix, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::{Command, Invocation, Op, Programs};
use crate::syntax::text::TextRange;

pub struct JoinInstalls;

static INFO: RuleInfo = RuleInfo {
    code: "DO104",
    name: "join-installs",
    summary: "Consecutive installs of one package manager with the same options; install the packages at once",
    doc: "`apt-get install -y curl && apt-get install -y ca-certificates` resolves dependencies twice and reads \
the package database twice. When two or more installs of the same package manager follow each other in one RUN, \
joined by `&&`, with the same program, subcommand, options and environment, and nothing between them, dockopt \
moves the packages into the first and removes the others: one resolution, as the guides write it.\n\n\
The fix is unsafe. The image is not the same file for file: a build proves that with apt one install leaves \
`/var/lib/dpkg/status-old` and the order of `/var/lib/apt/extended_states` different from two, and a resolver \
that sees the packages together may choose other versions of what they depend on. It applies to apt-get and apt (`install`), apk (`add`), yum, dnf and microdnf (`install`) \
and zypper (`install`). Installs with redirections, in pipelines, in subshells or with packages named by \
variables stay as they are.\n\n\
Before:\n    RUN apt-get update \\\n     && apt-get install -y curl \\\n     && apt-get install -y ca-certificates\n\n\
After:\n    RUN apt-get update \\\n     && apt-get install -y curl ca-certificates",
    safety: Safety::Unsafe,
    severity: Severity::Warning,
    hadolint: &[],
};

/// Package managers and the subcommand that installs.
const INSTALLS: &[(&str, &str)] = &[
    ("apt-get", "install"),
    ("apt", "install"),
    ("apk", "add"),
    ("yum", "install"),
    ("dnf", "install"),
    ("microdnf", "install"),
    ("zypper", "install"),
];

/// The managers of [`INSTALLS`].
const MANAGERS: Programs = Programs::new(&["apt-get", "apt", "apk", "yum", "dnf", "microdnf", "zypper"]);

/// An install split into what must match (everything but the packages, as written) and the packages.
struct Install<'c> {
    command: &'c Command<'c>,
    program: &'c str,
    shape: Vec<&'c str>,
    packages: Vec<TextRange>,
}

impl Rule for JoinInstalls {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        for (i, script) in ctx.runs().filter(|&(i, _)| ctx.runs_any_of(i, &MANAGERS)) {
            if ctx.is_exec_form(i) || !script.balanced {
                continue;
            }
            // Joining takes two installs in a row, which most RUNs do not have: looking costs less than reading
            // each install's shape.
            let is_install = |c: &Command| {
                c.invocation().and_then(|inv| Some(INSTALLS.contains(&(inv.program, inv.subcommand()?)))) == Some(true)
            };
            let in_a_row = script
                .commands
                .windows(2)
                .any(|w| w[1].before == Some(Op::And) && is_install(&w[0]) && is_install(&w[1]));
            if !in_a_row {
                continue;
            }
            let installs: Vec<Option<Install>> =
                script.commands.iter().map(|c| install(ctx, i, c, c.invocation()?)).collect();
            let mut k = 0;
            while k < installs.len() {
                let Some(first) = &installs[k] else {
                    k += 1;
                    continue;
                };
                let mut last = k;
                while let Some(Some(next)) = installs.get(last + 1) {
                    if next.shape != first.shape || next.command.before != Some(Op::And) {
                        break;
                    }
                    last += 1;
                }
                if last > k {
                    let joined: Vec<&Install> = installs[k..=last].iter().flatten().collect();
                    findings.extend(join(ctx, i, &joined));
                }
                k = last + 1;
            }
        }
    }
}

/// `command` as an install this rule can join: a top-level, unpiped install of a known manager whose packages are
/// plain words, with no redirection after them.
fn install<'c>(ctx: &'c Context, i: usize, command: &'c Command, inv: Invocation<'c>) -> Option<Install<'c>> {
    let subcommand = inv.subcommand()?;
    if !INSTALLS.contains(&(inv.program, subcommand)) || !command.is_top_level() || command.piped {
        return None;
    }
    let last_word = command.words.last()?;
    if last_word.range.end != command.range.end {
        return None;
    }
    let source = ctx.df.source();
    let text = |range: &std::ops::Range<usize>| &source[ctx.source_range(i, range.clone()).as_range()];
    let after = inv.args.iter().position(|w| w.is(subcommand))?;
    let mut shape: Vec<&str> = command.assignments.iter().map(|w| text(&w.range)).collect();
    shape.extend(command.words[..command.words.len() - inv.args.len()].iter().map(|w| text(&w.range)));
    shape.extend(inv.args[..=after].iter().map(|w| text(&w.range)));
    let mut packages = Vec::new();
    for word in &inv.args[after + 1..] {
        let value = word.literal.as_deref()?;
        if value.starts_with('-') {
            // Options after the packages must match too, and an option's value must not pass for a package.
            if !packages.is_empty() {
                return None;
            }
            shape.push(text(&word.range));
        } else {
            packages.push(ctx.source_range(i, word.range.clone()));
        }
    }
    (!packages.is_empty()).then_some(Install { command, program: inv.program, shape, packages })
}

/// One fix for installs in a row: their packages after the first's, and the others gone, with what joined them.
fn join(ctx: &Context, i: usize, installs: &[&Install]) -> Option<Finding> {
    let source = ctx.df.source();
    let first = installs.first()?;
    let last = installs.last()?;
    let start = *first.packages.last()?;
    let end = ctx.source_range(i, last.command.range.clone()).end;
    if source[start.end..end].contains('#') {
        return None;
    }
    let more: Vec<&str> = installs[1..].iter().flat_map(|x| &x.packages).map(|r| &source[r.as_range()]).collect();
    let edit = Edit::replace(TextRange::new(start.end, end), format!(" {}", more.join(" ")));
    let program = first.program;
    let statement = ctx.statement(i);
    Some(Finding {
        rule: &INFO,
        range: TextRange::new(ctx.source_range(i, first.command.range.clone()).start, end),
        message: format!(
            "{} `{program}` installs in a row with the same options; install the packages in one",
            installs.len()
        ),
        fix: Some(Fix { applicability: Applicability::Unsafe, edits: vec![edit] }),
        instructions: vec![statement.index()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managers_name_every_install() {
        assert!(INSTALLS.iter().all(|(program, _)| MANAGERS.contains(program)));
    }
}
