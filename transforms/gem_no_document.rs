use crate::engine::context::Context;
use crate::engine::finding::{Applicability, Finding, Fix, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::Programs;

pub struct GemNoDocument;

static INFO: RuleInfo = RuleInfo {
    code: "DO207",
    name: "gem-no-document",
    summary: "gem install generates documentation",
    doc: "`gem install` generates ri and rdoc documentation for every gem, which images rarely need. \
`--no-document` skips it. The fix is unsafe because the documentation files are part of the image: a tool \
that reads them would find nothing.\n\n\
Before:\n    RUN gem install bundler\n\n\
After:\n    RUN gem install --no-document bundler",
    safety: Safety::Unsafe,
    severity: Severity::Warning,
    hadolint: &[],
};

const GEM: Programs = Programs::new(&["gem"]);

impl Rule for GemNoDocument {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        for (i, _) in ctx.runs().filter(|&(i, _)| ctx.runs_any_of(i, &GEM)) {
            for (command, inv) in ctx.invocations(i) {
                if inv.program != "gem" || inv.subcommand() != Some("install") {
                    continue;
                }
                if ["--no-document", "-N", "--no-rdoc", "--no-ri"].iter().any(|o| inv.has_option(o)) {
                    continue;
                }
                let install = inv.args.iter().find(|w| w.is("install")).expect("subcommand is install");
                findings.push(Finding {
                    rule: &INFO,
                    range: ctx.source_range(i, command.range.clone()),
                    message: "`gem install` without `--no-document` generates documentation".into(),
                    fix: ctx
                        .insert_after(i, install, "--no-document")
                        .map(|edit| Fix { applicability: Applicability::Unsafe, edits: vec![edit] }),
                    instructions: vec![ctx.statement(i).index()],
                });
            }
        }
    }
}
