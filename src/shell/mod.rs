//! A lossless view of a POSIX sh script: the body of a shell-form RUN (its logical line) or a heredoc script.
//!
//! The lexer turns the text into words, operators, comments and newlines; whatever lies between tokens is
//! blank space, so the tokens and the gaps between them give the text back. On top of the tokens sit the simple
//! commands, each with its words, its nesting, and the operators around it, which is what the passes ask about.
//! Every range is a byte range in the text given to [`Script::parse`]; for a RUN, the instruction's
//! [`LogicalLine`](crate::syntax::tree::LogicalLine) maps it back to the Dockerfile.
//!
//! - [`lexer`]: tokens with their ranges;
//! - [`commands`]: simple commands with their frames and operators;
//! - [`invocation`]: the program a command runs, seen through `sudo`, `env` and versioned names;
//! - `join`: the script of a text that joins known scripts, as a merge of RUNs or an appended cleanup writes it,
//!   parsing only what is new.
//!
//! Uses nothing but the standard library: the text it reads is handed over by the rule engine.

pub mod commands;
pub mod invocation;
mod join;
pub mod lexer;

pub use commands::{Command, Frames};
pub use invocation::{Invocation, Programs};
use lexer::Outline;
pub use lexer::{Op, Word};
use std::borrow::Cow;
use std::ops::Range;

/// The value of `text` as one shell word, quotes and backslash escapes removed, as BuildKit reads COPY and ADD
/// sources: `"my file"` is `my file`. `None` when it holds an expansion (`$VAR`), is more than one word, or a
/// quote does not close.
pub fn word_value(text: &str) -> Option<String> {
    let (end, literal, closed) = lexer::scan_word(text, 0);
    (end == text.len() && closed).then_some(literal).flatten().map(Cow::into_owned)
}

/// Borrows from the text it was read from, or, joined ([`Script::joined`]), from its parts' texts: words keep their
/// values as slices of them where they can.
#[derive(Clone, Debug)]
pub struct Script<'t> {
    pub commands: Vec<Command<'t>>,
    /// Brackets and compound commands all close, quotes all end, and here-documents all have bodies. Passes
    /// edit only balanced scripts.
    pub balanced: bool,
    /// Function definitions or `case` arms, whose commands dockopt does not list.
    pub opaque: bool,
    top_level_lists: bool,
    outline: Outline,
    /// The programs its commands run, summed up by [`invocation::program_bit`].
    programs: u64,
}

/// The summary of the programs `commands` run, for [`Script::runs_any_of`].
fn programs_run(commands: &[Command]) -> u64 {
    commands
        .iter()
        .filter_map(Command::invocation)
        .fold(0, |summary, inv| summary | invocation::program_bit(inv.program))
}

/// Commands whose effect on the shell (variables, directory, options, traps) outlives them.
const STATE_CHANGING: &[&str] = &[
    "cd",
    "pushd",
    "popd",
    "export",
    "unset",
    "set",
    "umask",
    "source",
    ".",
    "alias",
    "unalias",
    "trap",
    "shopt",
    "ulimit",
    "declare",
    "typeset",
    "local",
    "readonly",
    "hash",
    "enable",
    "eval",
    "read",
    "getopts",
    "shift",
    "builtin",
    "exec",
    "mapfile",
    "readarray",
];

/// Commands that end the shell, so nothing after them runs.
const SHELL_ENDING: &[&str] = &["exit", "exec", "return", "logout"];

impl<'t> Script<'t> {
    pub fn parse(text: &'t str) -> Script<'t> {
        let lexed = lexer::lex(text);
        let grouped = commands::group(text, &lexed.tokens, lexed.literals);
        Script {
            balanced: lexed.balanced && grouped.closed,
            outline: lexed.outline,
            programs: programs_run(&grouped.commands),
            commands: grouped.commands,
            opaque: grouped.opaque,
            top_level_lists: grouped.top_level_lists,
        }
    }

    /// The view of an exec-form RUN: one command whose words are the array's strings, each with the range of its
    /// string literal (quotes included) and its decoded value.
    pub fn exec(strings: Vec<(Cow<'t, str>, Range<usize>)>) -> Script<'t> {
        let words: Vec<Word> = strings.into_iter().map(|(value, range)| Word { range, literal: Some(value) }).collect();
        let outline = Outline::of_words(words.iter().map(|w| w.range.clone()));
        let commands: Vec<Command> = commands::exec_command(words).into_iter().collect();
        Script {
            outline,
            programs: programs_run(&commands),
            commands,
            balanced: true,
            opaque: false,
            top_level_lists: false,
        }
    }

    /// The end of the last word or `)`, before any trailing `;`, `&`, blank or comment: where text appended to
    /// the script still belongs to its last command list.
    pub fn content_end(&self) -> Option<usize> {
        self.outline.content_end
    }

    /// The start of the first word or `(`.
    pub fn content_start(&self) -> Option<usize> {
        self.outline.content_start
    }

    pub fn has_comment(&self) -> bool {
        self.outline.comment
    }

    pub fn has_heredoc(&self) -> bool {
        self.outline.heredoc
    }

    /// A command runs in the background (`&`), which outlives a RUN in ways a merge cannot keep.
    pub fn has_background_job(&self) -> bool {
        self.outline.background_job
    }

    /// The script is words alone: no operator, redirection, comment or here-document.
    pub fn is_only_words(&self) -> bool {
        self.outline.only_words
    }

    /// Some pipeline's status is negated (`! cmd`); never in exec form, which no shell reads.
    pub fn negates(&self) -> bool {
        self.outline.negation
    }

    /// Operators that join top-level command lists: `;`, `||`, `&` or a newline at the top level, followed by
    /// more commands. Appending `&& x` to such a script would bind to its last list only.
    pub fn has_top_level_list_operator(&self) -> bool {
        self.top_level_lists
    }

    /// Some command changes shell state that later commands in the same shell would see.
    pub fn changes_shell_state(&self) -> bool {
        self.opaque || self.state_changes().next().is_some()
    }

    /// The commands that change shell state later commands in the same shell would see: `cd`, `export`, `set`,
    /// bare assignments and the like, outside subshells and pipelines.
    pub fn state_changes(&self) -> impl Iterator<Item = &Command<'t>> {
        self.commands.iter().filter(|c| {
            c.affects_shell() && (c.words.is_empty() || c.name().is_none_or(|n| STATE_CHANGING.contains(&n)))
        })
    }

    /// Some command runs one of `programs`, seen through its wrappers as [`Command::invocation`] sees it.
    pub fn runs_any_of(&self, programs: &Programs) -> bool {
        programs.may_meet(self.programs)
            && self.commands.iter().any(|c| c.invocation().is_some_and(|inv| programs.contains(inv.program)))
    }

    /// Some command may end the shell early: `exit`, `exec`, `return`.
    pub fn may_end_shell(&self) -> bool {
        self.shell_ending().next().is_some()
    }

    /// Some command may end the shell where the commands before it succeeded, so that a command appended to the
    /// script with `&&` may never run: one at the top level or in a group that runs with it (`{ make; exit 0; }`),
    /// unless it follows `||`, which runs it only when the command before failed (`make || exit 1`). One in an
    /// `if`, a loop, or a group after `||` runs on some paths only, in the corpus those that fail
    /// (`if [ -z "$x" ]; then echo missing; exit 1; fi`, `make || { echo failed; exit 1; }`).
    pub fn may_end_shell_on_success(&self) -> bool {
        self.shell_ending().any(|c| !c.frames.conditional && c.before != Some(Op::Or))
    }

    /// The commands that may end the shell: those named so whose effects reach the commands after them.
    fn shell_ending(&self) -> impl Iterator<Item = &Command<'t>> {
        self.commands.iter().filter(|c| c.affects_shell() && c.name().is_some_and(|n| SHELL_ENDING.contains(&n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(script: &Script) -> Vec<String> {
        script.commands.iter().map(|c| c.name().unwrap_or("?").to_string()).collect()
    }

    #[test]
    fn commands_with_operators_and_nesting() {
        let s = Script::parse("set -ex; apt-get update && (cd /x && make) || { echo no; } | tee log &");
        assert_eq!(names(&s), ["set", "apt-get", "cd", "make", "echo", "tee"]);
        assert!(
            s.commands[2].frames == Frames { depth: 1, in_subshell: true, conditional: false }
                && !s.commands[2].affects_shell()
        );
        assert_eq!(s.commands[1].before, Some(Op::Semi));
        assert_eq!(s.commands[1].after, Some(Op::And));
        assert!(s.has_background_job());
        assert!(s.balanced);
    }

    #[test]
    fn a_shell_may_end_on_success_where_an_exit_runs_with_the_commands_before_it() {
        let ends = |text: &str| Script::parse(text).may_end_shell_on_success();
        for text in
            ["make; exit 0", "make && exec true", "{ make; exit 0; }", "make && { echo; exit 0; }", "{ { exit; }; }"]
        {
            assert!(ends(text), "{text}");
        }
        for text in [
            "make || exit 1",
            "make || { echo failed; exit 1; }",
            "make || { { exit 1; }; }",
            "if true; then exit 1; fi",
            "while true; do exit; done",
            "(exit 0)",
            "{ make || exit 1; }",
            "echo | exit",
        ] {
            assert!(!ends(text), "{text}");
        }
    }

    #[test]
    fn words_unquote_and_mark_expansions() {
        let s = Script::parse(r#"pip install "a b" 'c$d' e\ f $HOME "x$(id -u)y""#);
        let lits: Vec<Option<&str>> = s.commands[0].words.iter().map(|w| w.literal.as_deref()).collect();
        assert_eq!(lits, [Some("pip"), Some("install"), Some("a b"), Some("c$d"), Some("e f"), None, None]);
    }

    #[test]
    fn word_values_borrow_the_text_unless_quotes_join_or_escapes_change_it() {
        let s = Script::parse(r#"plain "quoted" ''x x'' 'a'b a\ b "a\$b""#);
        let values: Vec<(&str, bool)> = s.commands[0]
            .words
            .iter()
            .map(|w| match w.literal.as_ref().unwrap() {
                Cow::Borrowed(v) => (*v, true),
                Cow::Owned(v) => (v.as_str(), false),
            })
            .collect();
        assert_eq!(
            values,
            [
                ("plain", true),
                ("quoted", true),
                ("x", true),
                ("x", false),
                ("ab", false),
                ("a b", false),
                ("a$b", false)
            ]
        );
    }

    #[test]
    fn assignments_and_redirections_are_not_words() {
        let s = Script::parse("DEBIAN_FRONTEND=noninteractive apt-get install -y x > /dev/null 2>&1");
        let c = &s.commands[0];
        assert_eq!(c.assignments.len(), 1);
        let words: Vec<&str> = c.words.iter().map(|w| w.literal.as_deref().unwrap()).collect();
        assert_eq!(words, ["apt-get", "install", "-y", "x"]);
    }

    #[test]
    fn an_assignment_is_a_name_then_equals() {
        for (word, assigns) in [
            ("A=1", true),
            ("_a1=", true),
            ("A==", true),
            ("1A=x", false),
            ("=x", false),
            ("A-B=x", false),
            ("A", false),
            ("", false),
            ("é=1", false),
        ] {
            assert_eq!(lexer::is_assignment(word), assigns, "{word}");
        }
    }

    #[test]
    fn invocations_look_through_wrappers() {
        let s = Script::parse("sudo -E env PIP_NO_CACHE_DIR=1 /usr/bin/pip3.11 install -r r.txt && python3 -u -m pip wheel . && apt-get -y install x");
        let pip = s.commands[0].invocation().unwrap();
        assert_eq!((pip.program, pip.subcommand()), ("pip", Some("install")));
        assert!(pip.sets_env("PIP_NO_CACHE_DIR"));
        let wheel = s.commands[1].invocation().unwrap();
        assert_eq!((wheel.program, wheel.subcommand()), ("pip", Some("wheel")));
        let apt = s.commands[2].invocation().unwrap();
        assert_eq!((apt.program, apt.subcommand()), ("apt-get", Some("install")));
        assert!(apt.has_option("-y"));
    }

    #[test]
    fn scripts_tell_which_programs_they_run() {
        let s = Script::parse("sudo -E /usr/bin/pip3 install x && echo done");
        assert!(s.runs_any_of(&Programs::new(&["pip"])));
        assert!(s.runs_any_of(&Programs::new(&["apt-get", "echo"])));
        assert!(!s.runs_any_of(&Programs::new(&["apt-get", "sudo"])), "sudo is looked through");
        // `pap` shares `pip`'s bit in the summary: the commands decide.
        assert_eq!(invocation::program_bit("pap"), invocation::program_bit("pip"));
        assert!(!s.runs_any_of(&Programs::new(&["pap"])));
        let exec = Script::exec(vec![("apk".into(), 1..6), ("add".into(), 8..13)]);
        assert!(exec.runs_any_of(&Programs::new(&["apk"])));
        assert!(!Script::parse("$TOOL install x").runs_any_of(&Programs::new(&["apk"])));
    }

    #[test]
    fn compound_commands() {
        let s = Script::parse("if [ -f x ]; then cd /y; fi; for p in a b; do apt-get install $p; done");
        assert_eq!(names(&s), ["[", "cd", "apt-get"]);
        assert!(s.commands[1].affects_shell() && !s.commands[1].is_top_level());
        assert!(s.changes_shell_state());
        assert!(s.balanced);
    }

    #[test]
    fn content_end_skips_trailing_separators_and_comments() {
        let text = "apt-get install -y x; # done";
        let s = Script::parse(text);
        assert_eq!(&text[..s.content_end().unwrap()], "apt-get install -y x");
        assert!(s.has_comment());
    }

    #[test]
    fn the_outline_keeps_what_the_tokens_said() {
        let text = "( ! grep -q x f ) & # in the background";
        let s = Script::parse(text);
        assert_eq!(s.content_start(), Some(0));
        assert_eq!(&text[..s.content_end().unwrap()], "( ! grep -q x f )");
        assert!(s.negates() && s.has_background_job() && s.has_comment() && !s.is_only_words());
        let quoted = Script::parse("echo '!' done");
        assert!(!quoted.negates() && quoted.is_only_words() && !quoted.has_background_job());
        let exec = Script::exec(vec![("!".into(), 1..4), ("x".into(), 6..9)]);
        assert!(!exec.negates() && exec.is_only_words() && !exec.has_comment());
        assert_eq!((exec.content_start(), exec.content_end()), (Some(1), Some(9)));
        let none = Script::exec(Vec::new());
        assert_eq!((none.content_start(), none.content_end()), (None, None));
    }

    #[test]
    fn heredocs_inside_scripts_are_skipped() {
        let s = Script::parse("cat <<'EOF' > /etc/x\nrm -rf /\nEOF\necho ok\n");
        assert_eq!(names(&s), ["cat", "echo"]);
        assert!(s.balanced && s.has_heredoc());
    }

    #[test]
    fn unbalanced_input_is_flagged_not_panicked_on() {
        for text in ["echo 'x", "echo \"$(x", "( a", "if a; then b", "a; }", "cat <<EOF", "`", "$(", "${"] {
            assert!(!Script::parse(text).balanced, "{text}");
        }
    }

    #[test]
    fn list_operators_at_top_level() {
        assert!(Script::parse("a; b").has_top_level_list_operator());
        assert!(Script::parse("a || b").has_top_level_list_operator());
        assert!(!Script::parse("a && b | c;").has_top_level_list_operator());
        assert!(!Script::parse("(a; b) && c").has_top_level_list_operator());
        assert!(Script::parse("a; if b; then c; fi").has_top_level_list_operator());
        assert!(!Script::parse("if b; then c; d; fi").has_top_level_list_operator());
    }
}
