use crate::engine::context::Context;
use crate::engine::finding::{Finding, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;

pub struct SlimBaseImage;

static INFO: RuleInfo = RuleInfo {
    code: "DO304",
    name: "slim-base-image",
    summary: "The final image builds on a full image that has an official slim variant",
    doc: "The default tags of python, node, ruby, perl, rust and debian carry compilers, headers and tools \
that a running application rarely needs; their `-slim` variants are hundreds of megabytes smaller. Switching \
can break a build that relies on those tools, so dockopt reports it for the final stage only, and leaves the \
choice (or a multi-stage build) to you. The option `images` under `[rules.slim-base-image]` replaces the list of images it knows.\n\n\
Before:\n    FROM python:3.12\n\n\
After:\n    FROM python:3.12-slim",
    safety: Safety::ReportOnly,
    severity: Severity::Advice,
    hadolint: &[],
};

const WITH_SLIM: &[&str] = &["python", "node", "ruby", "perl", "rust", "debian"];

impl Rule for SlimBaseImage {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        let Some(stage) = ctx.df.stages.last() else { return };
        if stage.base_stage.is_some() || stage.base.contains('$') || stage.base.contains('@') {
            return;
        }
        let image = stage.base.strip_prefix("docker.io/").unwrap_or(&stage.base);
        let image = image.strip_prefix("library/").unwrap_or(image);
        let (name, tag) = image.split_once(':').unwrap_or((image, "latest"));
        let lean = ["slim", "alpine", "distroless", "minimal"].iter().any(|v| tag.contains(v));
        let configured = ctx.options.slim_base_image.as_ref().map(|o| &o.images);
        let has_slim = configured.map_or(WITH_SLIM.contains(&name), |images| images.iter().any(|i| i == name));
        if !has_slim || lean {
            return;
        }
        let suggestion = if tag == "latest" { format!("{name}:slim") } else { format!("{name}:{tag}-slim") };
        let statement = ctx.statement(stage.statements.start);
        findings.push(Finding {
            rule: &INFO,
            range: statement.range,
            message: format!("the final image builds on `{}`; `{suggestion}` is much smaller", stage.base),
            fix: None,
            instructions: vec![statement.index],
        });
    }
}
