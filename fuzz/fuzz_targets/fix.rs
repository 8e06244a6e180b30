//! Any text dockopt can read: fixing it gives a file that reads, and fixing that file again changes nothing, with
//! the safe fixes, with every fix, and with every fix and cache mounts. The unified diff that `fix --diff` prints,
//! applied as `patch` applies it, and the line hunks of its machine formats give the fixed file back.
#![no_main]

use dockopt::cli::report::{hunks, Lines};
use dockopt::engine::fix::{self, Remaining};
use dockopt::engine::options::RuleOptions;
use dockopt::syntax::diagnostic::decode;
use dockopt::transforms;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = decode("fuzz", data.to_vec()) else { return };
    let rules = transforms::all();
    let mounts = RuleOptions { cache_mounts: true, ..RuleOptions::DEFAULT };
    // What `fix --diff` prints does not depend on which fixes made the change: it is checked once, on the last
    // text fixed, the one every fix and cache mounts give where that reads. Diffing every mode tripled the time
    // an input takes.
    let mut fixed = None;
    for (unsafe_fixes, options) in [(false, &RuleOptions::DEFAULT), (true, &RuleOptions::DEFAULT), (true, &mounts)] {
        let fix = |text: &str| fix::fix_with_options(text, None, &rules, unsafe_fixes, options, Remaining::All);
        let Ok(once) = fix(&source) else { continue };
        let again = fix(&once.text).expect("a fixed file reads");
        assert_eq!(again.text, once.text, "fixing twice changed the file (unsafe fixes: {unsafe_fixes}, {options:?})");
        fixed = Some(once.text);
    }
    let Some(fixed) = fixed else { return };
    let mut patched = source.clone();
    for hunk in hunks(&source, &fixed, &[]).iter().rev() {
        patched.replace_range(hunk.start..hunk.end, &hunk.replacement);
    }
    assert_eq!(patched, fixed, "the hunks do not give the fixed file");
    let diff = Lines::new(&source, &fixed).unified_diff("Dockerfile");
    assert_eq!(patch(&source, &diff), fixed, "the diff does not give the fixed file:\n{diff}");
});

/// `diff` applied to `old` as `patch` applies a unified diff: each hunk's context and deleted lines are taken from
/// `old` at the hunk's place and its context and inserted lines written instead, and a line followed by the
/// "No newline" mark loses its line end.
fn patch(old: &str, diff: &str) -> String {
    let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let mut out = String::new();
    let mut next_old = 0;
    let mut lines = diff.split_inclusive('\n').skip(2).peekable();
    while let Some(line) = lines.next() {
        if let Some(header) = line.strip_prefix("@@ -") {
            let range = header.split(' ').next().expect("an old range");
            let (start, len) = range.split_once(',').map_or((range, 1), |(s, l)| (s, l.parse().unwrap()));
            let start: usize = start.parse().unwrap();
            let first = if len == 0 { start } else { start - 1 };
            out.extend(old_lines[next_old..first].iter().copied());
            next_old = first;
            continue;
        }
        let (tag, text) = line.split_at(1);
        let unterminated = lines.peek().is_some_and(|l| l.starts_with('\\'));
        let text = if unterminated { text.strip_suffix('\n').unwrap() } else { text };
        if unterminated {
            lines.next();
        }
        match tag {
            " " | "-" => {
                assert_eq!(old_lines[next_old], text, "the diff's context or deletion is not the file's line");
                next_old += 1;
                if tag == " " {
                    out.push_str(text);
                }
            }
            "+" => out.push_str(text),
            other => panic!("a diff line starts with {other:?}"),
        }
    }
    out.extend(old_lines[next_old..].iter().copied());
    out
}
