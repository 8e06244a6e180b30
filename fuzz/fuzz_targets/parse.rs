//! Any bytes: decoding either refuses them with a location or yields text whose tree prints it back, and
//! building the model and reading its words never panic.
#![no_main]

use dockopt::syntax::diagnostic::decode;
use dockopt::syntax::model::Dockerfile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = decode("fuzz", data.to_vec()) else { return };
    let df = Dockerfile::parse(&source);
    assert_eq!(df.tree.print(), source);
    for statement in &df.statements {
        for word in df.values(&statement.instruction).iter().chain(df.flags(&statement.instruction)) {
            assert!(source.get(word.range.as_range()).is_some());
            std::hint::black_box(df.text(word));
        }
    }
});
