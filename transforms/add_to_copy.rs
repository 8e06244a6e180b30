use crate::engine::build_context::Sources;
use crate::engine::context::Context;
use crate::engine::finding::{Applicability, Edit, Finding, Fix, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::word_value;
use crate::syntax::model::Kind;

pub struct AddToCopy;

static INFO: RuleInfo = RuleInfo {
    code: "DO102",
    name: "add-to-copy",
    summary: "ADD of local files that are not archives; COPY says what it does",
    doc: "ADD also downloads URLs and unpacks local tar archives (recognised by their content, whatever their \
name), so a reader must check the build context to know what an ADD does, and a file that later turns into an \
archive changes the image. COPY only copies. dockopt rewrites ADD to COPY when every source is in the build \
context, is not left out by .dockerignore, and is a directory or a file that is not an archive; URLs, git \
sources, variables, ADD-only flags and ONBUILD are left alone.\n\n\
Before:\n    ADD app.py requirements.txt /app/\n\n\
After:\n    COPY app.py requirements.txt /app/",
    safety: Safety::Safe,
    severity: Severity::Warning,
    hadolint: &["DL3020"],
};

/// Flags COPY takes as well; any other flag means ADD-only behaviour.
const SHARED_FLAGS: &[&str] = &["--chown", "--chmod", "--link"];

/// A source as BuildKit reads it: exec-form strings as they are; shell-form words with their quotes and escapes
/// removed (`ADD "my file" /x/`). `None` when dockopt cannot tell: a variable, or quotes under another escape
/// character than `\`.
fn source_value(text: &str, json: bool, escape: char) -> Option<String> {
    match (json, escape) {
        (true, _) => Some(text.to_string()),
        (false, '\\') => word_value(text),
        (false, _) => (!text.contains(['"', '\'', escape])).then(|| text.to_string()),
    }
}

impl Rule for AddToCopy {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        let Some(build) = ctx.build else { return };
        let df = ctx.df;
        for (i, statement) in df.statements.iter().enumerate() {
            let ins = &statement.instruction;
            let values = df.values(ins);
            if ins.kind != Kind::Add || !df.heredocs(statement).is_empty() || values.len() < 2 {
                continue;
            }
            let flags_shared = df
                .flag_texts(ins)
                .all(|flag| SHARED_FLAGS.iter().any(|s| flag == *s || flag.starts_with(&format!("{s}="))));
            let sources = &values[..values.len() - 1];
            let local = sources
                .iter()
                .map(|w| df.text(w))
                .all(|w| !w.contains("://") && !w.starts_with("git@") && !w.contains('$'));
            if !flags_shared || !local {
                continue;
            }
            let plain = sources.iter().all(|source| {
                let Some(value) = source_value(df.text(source), ins.json, df.tree.escape) else { return false };
                match build.resolve(&value) {
                    Sources::Found(found) => {
                        !found.is_empty()
                            && found.iter().all(|entry| !build.is_ignored(entry))
                            && build.all_plain(&found)
                    }
                    Sources::Unknown => false,
                    Sources::Invalid(why) => {
                        ctx.report_problem(source.range, format!("invalid source pattern: {why}"), "fix the pattern");
                        false
                    }
                }
            });
            if !plain {
                continue;
            }
            let copy = if df.text(&ins.cmd).chars().all(|c| c.is_ascii_lowercase()) { "copy" } else { "COPY" };
            findings.push(Finding {
                rule: &INFO,
                range: ins.cmd.range,
                message: "ADD of local files that are not archives; COPY does the same and says so".into(),
                fix: Some(Fix { applicability: Applicability::Safe, edits: vec![Edit::replace(ins.cmd.range, copy)] }),
                instructions: vec![ctx.statement(i).index()],
            });
        }
    }
}
