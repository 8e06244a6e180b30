use crate::engine::context::Context;
use crate::engine::finding::{Finding, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::syntax::model::Kind;

pub struct MissingDockerignore;

static INFO: RuleInfo = RuleInfo {
    code: "DO305",
    name: "missing-dockerignore",
    summary: "COPY . sends the whole build context, and there is no .dockerignore",
    doc: "`COPY .` copies everything in the build context: `.git`, local virtualenvs, `node_modules`, build \
output, logs. Without a `.dockerignore` each of those invalidates the layer cache when it changes and may end up \
in the image. dockopt names what the context holds that rarely belongs in an image and offers the lines to put \
in a `.dockerignore` beside the Dockerfile (or `<name>.dockerignore` for a named Dockerfile).\n\n\
Before:\n    COPY . /app          # and no .dockerignore, beside .git and node_modules\n\n\
After:\n    COPY . /app          # with a .dockerignore holding .git and node_modules",
    safety: Safety::ReportOnly,
    severity: Severity::Advice,
    hadolint: &[],
};

/// What a build context often holds and an image rarely needs, as `.dockerignore` lines.
const USUAL_SUSPECTS: &[&str] = &[".git", "node_modules", "__pycache__", ".venv", "venv", "target", "*.log"];

impl Rule for MissingDockerignore {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        let Some(build) = ctx.build else { return };
        let copies_all: Vec<usize> = (0..ctx.df.statements.len())
            .filter(|&i| {
                let ins = &ctx.statement(i).instruction;
                let from_context = !ctx.df.flag_texts(ins).any(|f| f.starts_with("--from="));
                let values = ctx.df.values(ins);
                matches!(ins.kind, Kind::Copy | Kind::Add)
                    && from_context
                    && values.len() >= 2
                    && values[..values.len() - 1].iter().any(|w| matches!(ctx.df.text(w), "." | "./"))
            })
            .collect();
        // Look at the file system only for a file that copies its whole context.
        if copies_all.is_empty() || build.ignore_file().is_some() {
            return;
        }
        let top_level = build.top_level();
        let present: Vec<&str> = USUAL_SUSPECTS
            .iter()
            .copied()
            .filter(|&suspect| match suspect.strip_prefix("*.") {
                Some(extension) => top_level.has_extension(extension),
                None => top_level.contains(suspect),
            })
            .collect();
        let context = build.root.display();
        let message = if present.is_empty() {
            format!("sends the whole build context {context}, which has no .dockerignore")
        } else {
            format!(
                "sends the whole build context {context} with {}, and there is no .dockerignore; add one holding: {}",
                present.join(", "),
                present.join(" ")
            )
        };
        for i in copies_all {
            let statement = ctx.statement(i);
            findings.push(Finding {
                rule: &INFO,
                range: statement.range,
                message: format!("`{} .` {message}", ctx.df.text(&statement.instruction.cmd)),
                fix: None,
                instructions: vec![statement.index()],
            });
        }
    }
}
