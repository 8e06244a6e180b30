//! Any text dockopt can read: fixing it gives a file that reads, and fixing that file again changes nothing, with
//! the safe fixes, with every fix, and with every fix and cache mounts.
#![no_main]

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
        let again = fix(&once.text).expect("a fixed file reads");
        assert_eq!(again.text, once.text, "fixing twice changed the file (unsafe fixes: {unsafe_fixes}, {options:?})");
    }
});
