//! The [`Rule`] trait every pass in `transforms/` implements, and [`check`], which runs rules on one file and
//! leaves out what a comment silences.

use crate::engine::context::Context;
use crate::engine::finding::{Finding, RuleInfo};

pub trait Rule: Sync {
    fn info(&self) -> &'static RuleInfo;
    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>);
}

/// Runs the rules on one parsed file. Suppressed findings are left out.
pub fn check(ctx: &Context, rules: &[&dyn Rule]) -> Vec<Finding> {
    let mut findings = Vec::new();
    // One list for what each rule finds, emptied into `findings` after each, rather than a new one per rule.
    let mut found = Vec::new();
    for rule in rules {
        rule.check(ctx, &mut found);
        // The fix rounds leave out the rules whose fixes they cannot apply, going by the rule's safety.
        debug_assert!(
            found.iter().filter_map(|f| f.fix.as_ref()).all(|fix| rule.info().safety.allows(fix.applicability)),
            "{} carries a fix its safety, {:?}, does not allow",
            rule.info().code,
            rule.info().safety
        );
        findings.extend(found.drain(..).filter(|f| anchor(ctx, f).is_none_or(|s| !ctx.is_suppressed(s, rule.info()))));
    }
    findings.sort_by_key(|f| (f.range.start, f.rule.code));
    findings
}

/// The instruction a finding is reported at: where it starts. An ignore comment above that instruction silences
/// it.
fn anchor(ctx: &Context, finding: &Finding) -> Option<usize> {
    let statements = &ctx.df.statements;
    // Statements are in source order and do not overlap: the last one starting at or before the finding.
    let k = statements.partition_point(|s| s.range.start <= finding.range.start).checked_sub(1)?;
    (finding.range.start <= statements[k].range.end).then_some(k)
}
