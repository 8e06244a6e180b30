use crate::engine::context::{is_root_user, Context};
use crate::engine::finding::{Finding, RuleInfo, Safety};
use crate::engine::rule::Rule;
use crate::syntax::model::Kind;

pub struct RootUser;

static INFO: RuleInfo = RuleInfo {
    code: "DO301",
    name: "root-user",
    summary: "The image runs as root",
    doc: "The last USER of the final stage decides who the container runs as. Running as root gives a process \
that escapes the application full control of the container. dockopt cannot pick a user for you: create one \
and switch to it at the end.\n\n\
Before:\n    USER root\n    CMD [\"app\"]\n\n\
After:\n    RUN useradd --system app\n    USER app\n    CMD [\"app\"]",
    safety: Safety::ReportOnly,
    hadolint: &["DL3002"],
};

impl Rule for RootUser {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        let Some(last_stage) = ctx.df.stages.last() else { return };
        let last_user = last_stage.statements.clone().rev().find(|&i| ctx.statement(i).instruction.kind == Kind::User);
        let Some(i) = last_user else { return };
        let statement = ctx.statement(i);
        if statement.instruction.value.first().is_some_and(|u| is_root_user(&u.text)) {
            findings.push(Finding {
                rule: &INFO,
                range: statement.range,
                message: "the final stage's last USER is root; switch to an unprivileged user".into(),
                fix: None,
                instructions: vec![statement.index],
            });
        }
    }
}
