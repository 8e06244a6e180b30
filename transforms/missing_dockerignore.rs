use crate::context::Context;
use crate::fix::{Finding, Rule, RuleInfo, Safety};
use crate::model::Kind;

pub struct MissingDockerignore;

static INFO: RuleInfo = RuleInfo {
    code: "DO305",
    name: "missing-dockerignore",
    summary: "COPY . sends the whole build context, and there is no .dockerignore",
    doc: "`COPY .` copies everything in the build context: `.git`, local virtualenvs, `node_modules`, build \
output. Without a `.dockerignore` each of those invalidates the layer cache when it changes and may end up in \
the image. Add a `.dockerignore` beside the Dockerfile (or `<name>.dockerignore` for a named Dockerfile).\n\n\
Before:\n    COPY . /app          # and no .dockerignore\n\n\
After:\n    COPY . /app          # with a .dockerignore listing .git, node_modules, …",
    safety: Safety::ReportOnly,
    hadolint: &[],
};

impl Rule for MissingDockerignore {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        let Some(path) = ctx.path else { return };
        let Some(dir) = path.parent() else { return };
        let copies_all: Vec<usize> = (0..ctx.df.statements.len())
            .filter(|&i| {
                let ins = &ctx.statement(i).instruction;
                let from_context = !ins.flags.iter().any(|f| f.text.starts_with("--from="));
                matches!(ins.kind, Kind::Copy | Kind::Add)
                    && from_context
                    && ins.value.len() >= 2
                    && ins.value[..ins.value.len() - 1].iter().any(|w| matches!(w.text.as_ref(), "." | "./"))
            })
            .collect();
        // Look at the file system only for a file that copies its whole context.
        if copies_all.is_empty() {
            return;
        }
        let own = path.file_name().map(|n| dir.join(format!("{}.dockerignore", n.to_string_lossy())));
        if dir.join(".dockerignore").exists() || own.is_some_and(|o| o.exists()) {
            return;
        }
        for i in copies_all {
            let statement = ctx.statement(i);
            findings.push(Finding {
                rule: &INFO,
                range: statement.range,
                message: format!(
                    "`{} .` sends the whole build context, and {} has no .dockerignore",
                    statement.instruction.cmd.text,
                    dir.display()
                ),
                fix: None,
                instructions: vec![statement.index],
            });
        }
    }
}
