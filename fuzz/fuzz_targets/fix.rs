//! Any text dockopt can read: fixing it gives a file that reads as cleanly as the input did, and fixing that
//! file again changes nothing, with the safe fixes and with every fix.
#![no_main]

use dockopt::engine::fix;
use dockopt::syntax::diagnostic::decode;
use dockopt::transforms;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = decode("fuzz", data.to_vec()) else { return };
    let rules = transforms::all();
    for unsafe_fixes in [false, true] {
        let Ok(once) = fix::fix(&source, None, &rules, unsafe_fixes) else { continue };
        let again = fix::fix(&once.text, None, &rules, unsafe_fixes).expect("a fixed file reads");
        assert_eq!(again.text, once.text, "fixing twice changed the file (unsafe fixes: {unsafe_fixes})");
    }
});
