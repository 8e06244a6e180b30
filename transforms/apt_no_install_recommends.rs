use crate::engine::context::Context;
use crate::engine::finding::{Applicability, Finding, Fix, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::Programs;

pub struct AptNoInstallRecommends;

static INFO: RuleInfo = RuleInfo {
    code: "DO202",
    name: "apt-no-install-recommends",
    summary: "apt installs recommended packages too",
    doc: "`apt-get install` also installs each package's recommended packages, which images rarely need. \
`--no-install-recommends` skips them. The fix is unsafe: it changes what is installed, and a program may rely \
on a recommended package (Debian's curl recommends ca-certificates, without which HTTPS fails).\n\n\
Before:\n    RUN apt-get install -y curl\n\n\
After:\n    RUN apt-get install -y --no-install-recommends curl",
    safety: Safety::Unsafe,
    severity: Severity::Warning,
    hadolint: &["DL3015"],
};

const APT: Programs = Programs::new(&["apt-get", "apt"]);

impl Rule for AptNoInstallRecommends {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        for (i, _) in ctx.runs().filter(|&(i, _)| ctx.runs_any_of(i, &APT)) {
            for (command, inv) in ctx.invocations(i) {
                if !APT.contains(inv.program) || inv.subcommand() != Some("install") {
                    continue;
                }
                let off = inv.has_option("--no-install-recommends")
                    || inv.args.iter().any(|w| w.literal.as_deref().is_some_and(|a| a.contains("Install-Recommends")));
                if off {
                    continue;
                }
                let install = inv.args.iter().find(|w| w.is("install")).expect("subcommand is install");
                findings.push(Finding {
                    rule: &INFO,
                    range: ctx.source_range(i, command.range.clone()),
                    message: "`apt-get install` without `--no-install-recommends` installs recommended packages too"
                        .into(),
                    fix: ctx
                        .insert_after(i, install, "--no-install-recommends")
                        .map(|edit| Fix { applicability: Applicability::Unsafe, edits: vec![edit] }),
                    instructions: vec![ctx.statement(i).index()],
                });
            }
        }
    }
}
