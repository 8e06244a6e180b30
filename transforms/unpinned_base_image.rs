use crate::engine::context::Context;
use crate::engine::finding::{Finding, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::transforms::image_reference::ImageReference;

pub struct UnpinnedBaseImage;

static INFO: RuleInfo = RuleInfo {
    code: "DO302",
    name: "unpinned-base-image",
    summary: "Base image without a tag, or tagged latest (or `slim`, the latest release's slim variant)",
    doc: "`FROM image` and `FROM image:latest` build on whatever the registry serves that day, so the same \
Dockerfile gives different images and the layer cache breaks whenever upstream moves. Pin a version tag (or a \
digest). dockopt does not know which version you want, so it only reports. Images listed under `allow` in `[rules.unpinned-base-image]` may go untagged (an internal base image that is always rebuilt, say).\n\n\
Before:\n    FROM python\n\n\
After:\n    FROM python:3.12-slim",
    safety: Safety::ReportOnly,
    severity: Severity::Advice,
    hadolint: &["DL3006", "DL3007"],
};

impl Rule for UnpinnedBaseImage {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        for stage in &ctx.df.stages {
            let image = ctx.df.base(stage);
            if stage.base_stage.is_some()
                || image.eq_ignore_ascii_case("scratch")
                || image.contains('$')
                || image.contains('@')
            {
                continue;
            }
            let ImageReference { repository, tag } = ImageReference::parse(image);
            let allowed =
                ctx.options.unpinned_base_image.as_ref().is_some_and(|o| o.allow.iter().any(|a| a == repository));
            if allowed {
                continue;
            }
            let message = match tag {
                None => format!("`{image}` has no tag; pin a version"),
                Some("latest") => format!("`{image}` follows `latest`; pin a version"),
                // What DO304's fix makes of an untagged image follows the latest release just the same.
                Some("slim" | "stable-slim") => format!("`{image}` follows the latest release; pin a version"),
                Some(_) => continue,
            };
            let statement = ctx.statement(stage.statements.start);
            findings.push(Finding {
                rule: &INFO,
                range: statement.range,
                message,
                fix: None,
                instructions: vec![statement.index()],
            });
        }
    }
}
