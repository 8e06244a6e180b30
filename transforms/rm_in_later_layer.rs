use crate::engine::context::Context;
use crate::engine::finding::{Finding, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::syntax::model::Kind;

pub struct RmInLaterLayer;

static INFO: RuleInfo = RuleInfo {
    code: "DO303",
    name: "rm-in-later-layer",
    summary: "Removing files in a later layer does not shrink the image",
    doc: "Layers only add: a RUN that deletes files an earlier instruction created hides them, but their bytes \
stay in the earlier layer. Delete them in the RUN that creates them, or build them in another stage and copy \
only what you need. dockopt reports a RUN that only removes paths an earlier instruction of the stage wrote.\n\n\
Before:\n    RUN curl -o /tmp/big.tar.gz $URL && tar -xzf /tmp/big.tar.gz -C /opt\n    RUN rm /tmp/big.tar.gz\n\n\
After:\n    RUN curl -o /tmp/big.tar.gz $URL && tar -xzf /tmp/big.tar.gz -C /opt && rm /tmp/big.tar.gz",
    safety: Safety::ReportOnly,
    severity: Severity::Advice,
    hadolint: &[],
};

impl Rule for RmInLaterLayer {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        for (i, _) in ctx.runs() {
            let invocations = ctx.invocations(i);
            if invocations.is_empty() || invocations.iter().any(|(_, inv)| inv.program != "rm") {
                continue;
            }
            let paths: Vec<&str> = invocations
                .iter()
                .flat_map(|(_, inv)| inv.args.iter())
                .filter_map(|w| w.literal.as_deref())
                .filter(|a| a.starts_with('/') && a.len() > 1)
                .collect();
            let Some(stage) = ctx.stage_of(i) else { continue };
            let written_earlier = |path: &str| {
                let stem = path.trim_end_matches(['*', '/']);
                (stage.statements.start..i).any(|j| {
                    let ins = &ctx.statement(j).instruction;
                    match ins.kind {
                        Kind::Run => ctx
                            .invocations(j)
                            .iter()
                            .flat_map(|(_, inv)| inv.args.iter())
                            .any(|w| w.literal.as_deref().is_some_and(|a| a.contains(stem))),
                        Kind::Copy | Kind::Add => ins.value.last().is_some_and(|dest| {
                            stem.starts_with(dest.text.trim_end_matches('/')) && dest.text.starts_with('/')
                        }),
                        _ => false,
                    }
                })
            };
            let Some(path) = paths.into_iter().find(|p| written_earlier(p)) else { continue };
            let statement = ctx.statement(i);
            findings.push(Finding {
                rule: &INFO,
                range: statement.range,
                message: format!(
                    "`rm {path}` in its own layer does not shrink the image; delete it in the RUN that creates it"
                ),
                fix: None,
                instructions: vec![statement.index],
            });
        }
    }
}
