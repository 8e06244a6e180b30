//! Every rule, wrapped so that it says its fixes may be safe, whatever they are: then every fix round runs it, as
//! every round ran every rule before the rounds left some out. The corpus test of the fix rounds and the `rounds`
//! fuzz target (which includes this file) compare the rounds with it.

use dockopt::engine::context::Context;
use dockopt::engine::finding::{Finding, RuleInfo, Safety};
use dockopt::engine::rule::Rule;
use dockopt::transforms;
use std::sync::OnceLock;

struct EveryRound {
    rule: &'static dyn Rule,
    info: &'static RuleInfo,
}

impl Rule for EveryRound {
    fn info(&self) -> &'static RuleInfo {
        self.info
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        self.rule.check(ctx, findings)
    }
}

/// Every rule, wrapped. Made once: the wrappers' infos live as long as the process.
pub fn every_round() -> Vec<&'static dyn Rule> {
    static RULES: OnceLock<Vec<EveryRound>> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        transforms::all()
            .into_iter()
            .map(|rule| {
                let info = RuleInfo { safety: Safety::Safe, ..*rule.info() };
                EveryRound { rule, info: Box::leak(Box::new(info)) }
            })
            .collect()
    });
    rules.iter().map(|r| r as &dyn Rule).collect()
}
