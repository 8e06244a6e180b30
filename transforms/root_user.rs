use crate::engine::context::{is_root_user, is_windows_image, Context};
use crate::engine::finding::{Finding, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::syntax::model::Kind;

pub struct RootUser;

static INFO: RuleInfo = RuleInfo {
    code: "DO301",
    name: "root-user",
    summary: "The image runs as root",
    doc: "The last USER of the final stage (or of the stages it is built on) decides who the container runs as; \
with none, the base image's user, which is root for most images. Running as root gives a process that escapes \
the application full control of the container. dockopt cannot pick a user for you: create one and switch to it \
at the end. Images that run unprivileged already (a `nonroot` tag) and Windows images are left alone.\n\n\
Before:\n    USER root\n    CMD [\"app\"]\n\n\
After:\n    RUN useradd --system app\n    USER app\n    CMD [\"app\"]",
    safety: Safety::ReportOnly,
    severity: Severity::Advice,
    hadolint: &["DL3002"],
};

impl Rule for RootUser {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        let Some(last_stage) = ctx.df.stages.last() else { return };
        let finding = |i: usize, message: String| Finding {
            rule: &INFO,
            range: ctx.statement(i).range,
            message,
            fix: None,
            instructions: vec![ctx.statement(i).index()],
        };
        match last_user(ctx, last_stage) {
            // A user named by a variable may be anyone: dockopt cannot tell.
            Some((_, None)) => {}
            Some((_, Some(user))) if !is_root_user(user) => {}
            Some((i, _)) if ctx.stage_of(i).is_some_and(|s| s.index == last_stage.index) => {
                findings.push(finding(i, "the final stage's last USER is root; switch to an unprivileged user".into()))
            }
            Some((i, _)) => {
                let line = ctx.statement(i).start_line();
                let message = format!(
                    "the final stage inherits USER root from the stage it is built on (line {line}); add a USER \
                     with an unprivileged user"
                );
                findings.push(finding(last_stage.statements.start, message));
            }
            None if runs_unprivileged(ctx.df.base(last_stage)) || is_windows_image(ctx.df.base(last_stage)) => {}
            None => {
                let message = format!(
                    "no USER in the final stage or the stages it is built on: the container runs as {}'s user, \
                     root for most images; add a USER with an unprivileged user",
                    ctx.df.base(last_stage)
                );
                findings.push(finding(last_stage.statements.start, message));
            }
        }
    }
}

/// The last USER in force at the end of `stage`: its own, else that of the stage it is built on, and so on;
/// with the user it names, unless that is a variable dockopt cannot read. `None` when no stage sets one.
fn last_user<'c>(ctx: &'c Context, stage: &crate::syntax::model::Stage) -> Option<(usize, Option<&'c str>)> {
    let mut current = Some(stage);
    while let Some(s) = current {
        let user = s.statements.clone().rev().find(|&i| ctx.statement(i).instruction.kind == Kind::User);
        if let Some(i) = user {
            let name = ctx.df.value_texts(&ctx.statement(i).instruction).next();
            return Some((i, name.filter(|n| !n.contains('$'))));
        }
        current = s.base_stage.map(|b| &ctx.df.stages[b]);
    }
    None
}

/// Images that run as an unprivileged user unless told otherwise: distroless `:nonroot` tags and the like.
fn runs_unprivileged(image: &str) -> bool {
    let image = image.to_ascii_lowercase();
    image.contains("nonroot") || image.contains("rootless")
}
