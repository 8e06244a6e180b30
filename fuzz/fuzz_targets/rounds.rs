//! Fix rounds after the first run only the rules that may carry a fix this run applies, and `check` reads fewer
//! findings of the fixed text than `fix` does. For any text dockopt can read, both find what running every rule in
//! every round finds: the fixed text, the fixes applied, the follow-ons and the findings left, with the safe
//! fixes and with every fix. The corpus test `fix_rounds_find_what_running_every_rule_in_every_round_finds` holds
//! the same on real Dockerfiles.
#![no_main]

use dockopt::engine::finding::Safety;
use dockopt::engine::fix::{self, Remaining};
use dockopt::engine::options::RuleOptions;
use dockopt::engine::rule::Rule;
use dockopt::syntax::diagnostic::decode;
use dockopt::transforms;
use libfuzzer_sys::fuzz_target;

// The wrapped rules that the corpus test of the fix rounds uses too.
#[path = "../../tests/common/every_round.rs"]
mod every_round;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = decode("fuzz", data.to_vec()) else { return };
    let rules = transforms::all();
    let every_round = every_round::every_round();
    for unsafe_fixes in [false, true] {
        let run = |rules: &[&dyn Rule], remaining| {
            fix::fix_with_options(&source, None, rules, unsafe_fixes, &RuleOptions::DEFAULT, remaining)
        };
        let mut expected = run(&every_round, Remaining::All);
        assert_eq!(
            format!("{:?}", run(&rules, Remaining::All)),
            format!("{expected:?}"),
            "fix found other than every rule in every round (unsafe fixes: {unsafe_fixes})"
        );
        // What `check` reads: everything but the findings of report-only rules in the fixed text.
        if let Ok(outcome) = &mut expected {
            outcome.remaining.retain(|f| f.rule.safety != Safety::ReportOnly);
        }
        assert_eq!(
            format!("{:?}", run(&rules, Remaining::Fixable)),
            format!("{expected:?}"),
            "check found other than every rule in every round (unsafe fixes: {unsafe_fixes})"
        );
    }
});
