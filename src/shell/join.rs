//! A script read from the scripts it joins, instead of parsed: a merge of RUNs writes their scripts one after
//! another, `&&` (or `;`) between them and some of them in a subshell each, a cleanup appends a command to a
//! script, and the fix round after them would otherwise read every one of those scripts again. [`Script::joined`]
//! gives what [`Script::parse`] would, parsing only what was added.

use crate::shell::lexer::{is_blank, Outline};
use crate::shell::{Op, Script};

/// Where one part lies in the joined text, and what the text puts around it.
struct Placed {
    /// Where its content starts in the joined text.
    at: usize,
    /// In a subshell of its own: `( content )`.
    wrapped: bool,
    /// The operator after it, before the next part: `None` for the last.
    then: Option<Op>,
}

/// Where the parts lie in the joined text, and where the rest of it starts, if a part was not found there.
struct Placement {
    placed: Vec<Placed>,
    /// Where the text goes on, after an operator, with something other than the next part: a command a fix
    /// appended, or a part a fix changed. It is read alone.
    rest: Option<usize>,
}

impl<'t> Script<'t> {
    /// The script of `text` when it joins the contents of `parts` (each with its text), the first of them first,
    /// by `&&` or `;`, each part alone or in a subshell of its own (`( part )`), with blanks between them, and
    /// perhaps more text after the last of them found, after an operator. `None` when it does not, or a part
    /// could read otherwise once joined.
    ///
    /// A part joins as it reads alone: it is balanced, with no comment, here-document or background job, and no
    /// token outside its content, so that the lexer starts its first word, and ends its last, as it does alone.
    /// What joining changes is what the grouper sees around it: the operator before its first command, the one
    /// after its last, and the subshell around it. The rest of the text is parsed alone, and joins as a part.
    pub fn joined(text: &'t str, parts: &[(&str, &Script<'t>)]) -> Option<Script<'t>> {
        let Placement { mut placed, rest } = place(text, parts)?;
        let parts = &parts[..placed.len()];
        let rest = match rest {
            Some(at) => {
                let script = Script::parse(&text[at..]);
                readable_content(&text[at..], &script)?;
                placed.push(Placed { at: at + script.content_start()?, wrapped: false, then: None });
                Some(script)
            }
            None => None,
        };
        let pieces = parts.iter().map(|&(_, part)| part).chain(rest.as_ref());
        let mut script = Script {
            commands: Vec::with_capacity(pieces.clone().map(|s| s.commands.len()).sum()),
            balanced: true,
            opaque: false,
            top_level_lists: false,
            outline: Outline {
                content_start: Some(blanks_from(text, 0)),
                content_end: Some(text.len() - text.bytes().rev().take_while(|&b| is_blank(b)).count()),
                only_words: false,
                ..Outline::EMPTY
            },
            programs: 0,
        };
        let mut before = None;
        for (part, place) in pieces.zip(&placed) {
            let content_start = part.content_start().expect("placed parts have content");
            let moved = |range: &std::ops::Range<usize>| {
                range.start - content_start + place.at..range.end - content_start + place.at
            };
            let first = script.commands.len();
            script.commands.extend(part.commands.iter().map(|command| {
                let mut command = command.clone();
                command.range = moved(&command.range);
                for word in command.assignments.iter_mut().chain(&mut command.words) {
                    word.range = moved(&word.range);
                }
                if place.wrapped {
                    command.frames = command.frames.within_subshell();
                }
                command
            }));
            let commands = &mut script.commands[first..];
            // A command that starts the part, rather than a subshell, group or compound command, follows the
            // operator before the part; after the `(` of a subshell around the part, none does.
            if let Some(command) = commands.first_mut().filter(|c| !place.wrapped && c.range.start == place.at) {
                command.before = before;
            }
            // The command the part ends with, if it does not end with a frame, is followed by what follows the part:
            // the `)` of the subshell around it, or the operator.
            if let Some(command) = commands.last_mut().filter(|c| c.after.is_none()) {
                command.after = if place.wrapped { Some(Op::Close) } else { place.then };
            }
            // Inside a subshell, a part's `;` and `||` no longer join lists at the top level; a `;` between parts
            // does.
            script.top_level_lists |= (!place.wrapped && part.top_level_lists) || place.then == Some(Op::Semi);
            script.opaque |= part.opaque;
            script.outline.negation |= part.negates();
            script.programs |= part.programs;
            before = place.then;
        }
        Some(script)
    }
}

/// Where each part lies in `text`, in order, when `text` joins two or more of `parts`, the first first, or one or
/// more of them and then the rest of the text.
fn place(text: &str, parts: &[(&str, &Script)]) -> Option<Placement> {
    let mut placed = Vec::new();
    let mut at = blanks_from(text, 0);
    for &(part_text, part) in parts {
        match place_part(text, at, part_text, part) {
            Some((part, None)) => {
                placed.push(part);
                return (placed.len() >= 2).then_some(Placement { placed, rest: None });
            }
            Some((part, Some(next))) => {
                placed.push(part);
                at = next;
            }
            None => break,
        }
    }
    (!placed.is_empty()).then_some(Placement { placed, rest: Some(at) })
}

/// Where a part lies when the text has it at `at`, and where the next part starts: `None` when the text ends with
/// it.
fn place_part(text: &str, mut at: usize, part_text: &str, part: &Script) -> Option<(Placed, Option<usize>)> {
    let content = readable_content(part_text, part)?;
    let wrapped = !text[at..].starts_with(content);
    if wrapped {
        if !text[at..].strip_prefix("( ").is_some_and(|rest| rest.starts_with(content)) {
            return None;
        }
        at += 2;
    }
    let mut end = at + content.len();
    if wrapped {
        if !text[end..].starts_with(" )") {
            return None;
        }
        end += 2;
    }
    let next = blanks_from(text, end);
    let (then, width) = match &text.as_bytes()[next..] {
        [] => return Some((Placed { at, wrapped, then: None }, None)),
        [b'&', b'&', ..] => (Op::And, 2),
        [b';', ..] => (Op::Semi, 1),
        _ => return None,
    };
    Some((Placed { at, wrapped, then: Some(then) }, Some(blanks_from(text, next + width))))
}

/// The content of a part that reads the same joined as alone: balanced, with no comment, here-document or
/// background job, and nothing but blanks around its content.
fn readable_content<'p>(text: &'p str, script: &Script) -> Option<&'p str> {
    let (start, end) = (script.content_start()?, script.content_end()?);
    let blank = |s: &str| s.bytes().all(is_blank);
    let readable = script.balanced && !script.has_comment() && !script.has_heredoc() && !script.has_background_job();
    (readable && blank(&text[..start]) && blank(&text[end..])).then(|| &text[start..end])
}

/// The offset of the first byte from `at` on that is not blank.
fn blanks_from(text: &str, at: usize) -> usize {
    at + text.as_bytes()[at..].iter().take_while(|&&b| is_blank(b)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` joined from `parts`, and what parsing it gives, to compare.
    fn joined_and_parsed(text: &str, parts: &[&str]) -> Option<(String, String)> {
        let scripts: Vec<Script> = parts.iter().map(|p| Script::parse(p)).collect();
        let known: Vec<(&str, &Script)> = parts.iter().copied().zip(&scripts).collect();
        let joined = Script::joined(text, &known)?;
        Some((format!("{joined:?}"), format!("{:?}", Script::parse(text))))
    }

    #[test]
    fn joined_scripts_read_as_parsed() {
        let cases: &[(&str, &[&str])] = &[
            ("apt-get update && apt-get install -y x", &["apt-get update", "apt-get install -y x"]),
            ("a  &&     b\t&&  c  ", &["a", "  b ", "c  "]),
            ("( cd /src && make ) && make install", &["cd /src && make", "make install"]),
            ("a && ( b; c || d )", &["a", "b; c || d"]),
            ("a || b && ( c; d )", &["a || b", "c; d"]),
            ("set -eux; apt-get update; set -eux; make", &["set -eux; apt-get update", "set -eux; make"]),
            (
                "(cd x && make) && if [ -f y ]; then rm y; fi && ! grep -q z f",
                &["(cd x && make)", "if [ -f y ]; then rm y; fi", "! grep -q z f"],
            ),
            ("{ a; b; } && 2>/dev/null c | tee log && X=1 d", &["{ a; b; }", "2>/dev/null c | tee log", "X=1 d"]),
            (
                "for p in a b; do make $p; done && f() { g; } && h",
                &["for p in a b; do make $p; done", "f() { g; }", "h"],
            ),
            (
                "( export A=1 ) && ( exit 0 ) && sudo -E pip install \"a b\"",
                &["export A=1", "exit 0", "sudo -E pip install \"a b\""],
            ),
            ("( (cd x; make) ) && case $x in a) y;; esac && z", &["(cd x; make)", "case $x in a) y;; esac", "z"]),
        ];
        for &(text, parts) in cases {
            let (joined, parsed) = joined_and_parsed(text, parts).unwrap_or_else(|| panic!("{text:?} joins {parts:?}"));
            assert_eq!(joined, parsed, "{text:?}");
        }
    }

    #[test]
    fn text_after_the_parts_found_is_read_alone_and_joined() {
        let cases: &[(&str, &[&str])] = &[
            // A command appended, as a cleanup is.
            ("apt-get update && rm -rf /var/lib/apt/lists/*", &["apt-get update"]),
            ("( cd x && make ) && b && rm -rf /tmp/*", &["cd x && make", "b"]),
            // A part changed, or one that is not next.
            ("a && b -q", &["a", "b"]),
            ("a && c", &["a", "b", "c"]),
            ("a && (b)", &["a", "b"]),
            // A part that could read otherwise joined is read as the rest.
            ("a && b", &["a", "b # c"]),
            ("a && b", &["a", "'b"]),
            // The parts run out before the text does.
            ("a; b && c || d", &["a", "b"]),
        ];
        for &(text, parts) in cases {
            let (joined, parsed) = joined_and_parsed(text, parts).unwrap_or_else(|| panic!("{text:?} joins {parts:?}"));
            assert_eq!(joined, parsed, "{text:?}");
        }
    }

    #[test]
    fn a_text_that_does_not_join_the_parts_is_left_to_the_parser() {
        let cases: &[(&str, &[&str])] = &[
            // One part is not a joining.
            ("a", &["a", "b"]),
            // The first part is not there as it was.
            ("a -q && b", &["a", "b"]),
            ("b && a", &["a", "b"]),
            // No `&&` or `;` after a part.
            ("a || b", &["a", "b"]),
            ("a & b", &["a", "b"]),
            // A first part with tokens outside its content, or with a comment, could read otherwise joined.
            ("a && b", &["a;", "b"]),
            ("a && b", &["a # c", "b"]),
            // The rest could read otherwise alone, or is missing.
            ("a && b # c", &["a", "x"]),
            ("a && 'b", &["a", "x"]),
            ("a &&", &["a", "x"]),
        ];
        for &(text, parts) in cases {
            assert!(joined_and_parsed(text, parts).is_none(), "{text:?} from {parts:?}");
        }
    }
}
