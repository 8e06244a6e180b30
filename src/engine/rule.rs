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
    for rule in rules {
        let start = findings.len();
        rule.check(ctx, &mut findings);
        let mut i = start;
        while i < findings.len() {
            if anchor(ctx, &findings[i]).is_some_and(|s| ctx.is_suppressed(s, rule.info())) {
                findings.remove(i);
            } else {
                i += 1;
            }
        }
    }
    findings.sort_by_key(|f| (f.range.start, f.rule.code));
    findings
}

/// The instruction a finding is reported at: where it starts. An ignore comment above that instruction silences
/// it.
fn anchor(ctx: &Context, finding: &Finding) -> Option<usize> {
    ctx.df.statements.iter().position(|s| s.range.start <= finding.range.start && finding.range.start <= s.range.end)
}
