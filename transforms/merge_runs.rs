use crate::engine::context::Context;
use crate::engine::finding::{Applicability, Edit, Finding, Fix, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::engine::style::is_shell_blank;
use crate::shell::Op;
use crate::syntax::model::Kind;
use crate::syntax::text::TextRange;

pub struct MergeRuns;

static INFO: RuleInfo = RuleInfo {
    code: "DO101",
    name: "merge-runs",
    summary: "Consecutive RUN instructions make one layer each; merge them into one",
    doc: "Every RUN adds a layer, and files that one RUN creates and a later one deletes stay in the earlier \
layer. Consecutive shell-form RUNs with the same flags are joined with `&&` into one RUN, so a failure still \
fails the build. A RUN that changes the shell's state (`cd`, `export`, `set`, …) or may end it (`exit`, `exec`) \
is wrapped in a subshell so that the RUNs after it see what they saw before; a RUN whose own list has `;` or \
`||` at its top level is wrapped so that `&&` binds to all of it. Comments between the RUNs stay, as comment \
lines inside the continuation. RUNs in exec form, with heredocs, with background jobs (`&`) or with shell \
comments are left alone, and `# dockopt: ignore` above a RUN keeps it from joining the RUN before it.\n\n\
Before:\n    RUN apt-get update\n    # tools\n    RUN cd /src && make\n    RUN make install\n\n\
After:\n    RUN apt-get update \\\n    # tools\n     && ( cd /src && make ) \\\n     && make install",
    safety: Safety::Safe,
    severity: Severity::Warning,
    hadolint: &["DL3059"],
};

impl Rule for MergeRuns {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        let statements = &ctx.df.statements;
        let mut i = 0;
        while i < statements.len() {
            if !mergeable(ctx, i) {
                i += 1;
                continue;
            }
            let mut j = i;
            while j + 1 < statements.len()
                && mergeable(ctx, j + 1)
                && !ctx.is_suppressed(j + 1, &INFO)
                && ctx.df.flag_texts(&statements[j + 1].instruction).eq(ctx.df.flag_texts(&statements[i].instruction))
            {
                j += 1;
            }
            if j > i {
                findings.push(merge(ctx, i, j));
            }
            i = j + 1;
        }
    }
}

/// A shell-form RUN whose script dockopt can join without changing what it does.
fn mergeable(ctx: &Context, i: usize) -> bool {
    let Some(script) = ctx.script(i) else { return false };
    ctx.statement(i).instruction.kind == Kind::Run
        && !ctx.is_exec_form(i)
        && script.balanced
        && !script.has_background_job()
        && !script.has_comment()
        && !script.has_heredoc()
        && script.content_end().is_some()
}

fn merge(ctx: &Context, first: usize, last: usize) -> Finding {
    let script = |k: usize| ctx.script(k).expect("mergeable RUNs have scripts");
    let start = |k: usize| ctx.source_offset(k, script(k).content_start().unwrap_or(0));
    let end = |k: usize| ctx.source_range(k, 0..script(k).content_end().expect("mergeable")).end;
    let errexit = shared_errexit(ctx, first, last);
    // Wrap a RUN in a subshell when its effect on the shell would reach the RUNs after it, or when `&&` would
    // bind to only the last list of its script.
    let wrap = |k: usize| {
        let s = script(k);
        !errexit
            && ((k < last && (s.changes_shell_state() || s.may_end_shell()))
                || (k > first && s.has_top_level_list_operator()))
    };
    let escape = ctx.df.tree.escape;
    let newline = ctx.newline();
    let style = ctx.continuation_style();
    // The RUN's own indentation goes into the script, on the continuation lines: only when the shell reads it as
    // blanks.
    let own_indent = Some(ctx.indent(first)).filter(|indent| is_shell_blank(indent)).unwrap_or_default();
    let fallback_indent = format!("{own_indent} ");
    let mut edits = Vec::new();
    if wrap(first) {
        edits.push(Edit::insert(start(first), "( "));
    }
    for k in first..last {
        let between = TextRange::new(end(k), start(k + 1));
        let comments = comment_lines(ctx, k, between, newline);
        let mut joint = String::new();
        if wrap(k) {
            joint.push_str(" )");
        }
        if errexit {
            // No `&&` to align under the RUN's keyword: indent as a continued command.
            let indent = style.indent.clone().unwrap_or_else(|| format!("{own_indent}    "));
            joint.push_str(&format!("; {escape}{newline}{comments}{indent}"));
        } else {
            joint.push_str(&style.and_joint(escape, newline, &comments, &fallback_indent));
        }
        if wrap(k + 1) {
            joint.push_str("( ");
        }
        edits.push(Edit::replace(between, joint));
    }
    if wrap(last) {
        edits.push(Edit::insert(end(last), " )"));
    }
    let (a, b) = (ctx.statement(first), ctx.statement(last));
    // Reported at the first RUN that joins its predecessor, as hadolint reports DL3059, so an ignore comment
    // there (and only there) keeps the two apart.
    let joining = ctx.statement(first + 1);
    Finding {
        rule: &INFO,
        range: TextRange::new(joining.range.start, b.range.end),
        message: format!(
            "{} consecutive RUN instructions (lines {}-{}) make {} layers; merge them into one",
            last - first + 1,
            a.start_line(),
            b.end_line(),
            last - first + 1
        ),
        fix: Some(Fix { applicability: Applicability::Safe, edits }),
        instructions: (first..=last).map(|k| ctx.statement(k).index()).collect(),
    }
}

/// Every RUN from `first` to `last` opens with the same `set` turning on `-e` (`set -eux;`), changes no other
/// shell state, cannot end the shell and negates nothing, and every one but the last ends with a single pipeline.
/// Then `;` joins them as separate RUNs ran: under `set -e` a failing command stops the shell, so the commands
/// after it never run, and each RUN's options are the ones before it set anyway. No subshell is needed.
fn shared_errexit(ctx: &Context, first: usize, last: usize) -> bool {
    let opening = |k: usize| -> Option<Vec<&str>> {
        let script = ctx.script(k)?;
        let set = script.commands.first().filter(|c| c.is_top_level() && c.name() == Some("set"))?;
        let words: Vec<&str> = set.words.iter().map(|w| w.literal.as_deref()).collect::<Option<_>>()?;
        let errexit = words[1..].iter().any(|w| w.starts_with('-') && !w.starts_with("--") && w.contains('e'));
        errexit.then_some(words)
    };
    let Some(prefix) = opening(first) else { return false };
    (first..=last).all(|k| {
        // Asked first: a script may list no command (a `case` statement's, which dockopt does not read), and one
        // that opens with the `set` has it first.
        if opening(k).as_ref() != Some(&prefix) {
            return false;
        }
        let script = ctx.script(k).expect("mergeable RUNs have scripts");
        let negates = script.negates();
        let opening_set = &script.commands[0];
        let others_change_state =
            script.opaque || script.may_end_shell() || script.state_changes().any(|c| !std::ptr::eq(c, opening_set));
        let last_is_a_pipeline = k == last
            || script.commands.iter().rev().find(|c| c.is_top_level()).is_some_and(|c| {
                !matches!(c.before, Some(Op::And | Op::Or)) && !matches!(c.after, Some(Op::And | Op::Or))
            });
        !negates && !others_change_state && last_is_a_pipeline
    })
}

/// The comment lines in `range` (from the end of RUN `k` to the start of the next), each with its indentation, to
/// keep inside the merged RUN. Only the comments of the two RUNs and the lines between them are looked at.
fn comment_lines(ctx: &Context, k: usize, range: TextRange, newline: &str) -> String {
    let source = ctx.df.source();
    let mut out = String::new();
    for comment in ctx.comments_between(k, k + 1).iter().filter(|&&c| range.contains_range(c)) {
        let line_start = source[..comment.start].rfind('\n').map_or(0, |n| n + 1);
        out.push_str(&source[line_start..comment.end]);
        out.push_str(newline);
    }
    out
}
