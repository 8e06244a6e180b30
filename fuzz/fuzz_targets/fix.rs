//! Any text dockopt can read: fixing it gives a file that reads, and fixing that file again changes nothing, with
//! the safe fixes, with every fix, and with every fix and cache mounts. The line hunks that `fix --diff` shows in
//! its machine formats give the fixed file back.
#![no_main]

use dockopt::cli::report::hunks;
use dockopt::engine::fix::{self, Remaining};
use dockopt::engine::options::RuleOptions;
use dockopt::syntax::diagnostic::decode;
use dockopt::transforms;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = decode("fuzz", data.to_vec()) else { return };
    let rules = transforms::all();
    let mounts = RuleOptions { cache_mounts: true, ..RuleOptions::DEFAULT };
    for (unsafe_fixes, options) in [(false, &RuleOptions::DEFAULT), (true, &RuleOptions::DEFAULT), (true, &mounts)] {
        let fix = |text: &str| fix::fix_with_options(text, None, &rules, unsafe_fixes, options, Remaining::All);
        let Ok(once) = fix(&source) else { continue };
        let mut patched = source.clone();
        for hunk in hunks(&source, &once.text, &[]).iter().rev() {
            patched.replace_range(hunk.start..hunk.end, &hunk.replacement);
        }
        assert_eq!(
            patched, once.text,
            "the hunks do not give the fixed file (unsafe fixes: {unsafe_fixes}, {options:?})"
        );
        let again = fix(&once.text).expect("a fixed file reads");
        assert_eq!(again.text, once.text, "fixing twice changed the file (unsafe fixes: {unsafe_fixes}, {options:?})");
    }
});
