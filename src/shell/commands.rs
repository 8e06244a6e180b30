//! Simple commands on top of the tokens: each with its words, the frames around it (subshells, groups, compound
//! commands), and the operators before and after it.

use crate::shell::invocation::{resolve, Invocation, Resolved};
use crate::shell::lexer::{is_assignment, Op, Token, TokenKind, Word};
use std::borrow::Cow;
use std::ops::Range;

/// What encloses a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Frame {
    /// `( … )`: changes inside do not reach the enclosing shell.
    Subshell,
    /// `{ …; }`
    Group,
    /// `if`, `while`, `until`, `for`, `case`.
    Compound,
}

/// A simple command: optional `NAME=value` assignments, then words, with redirections set aside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command<'t> {
    pub assignments: Vec<Word<'t>>,
    pub words: Vec<Word<'t>>,
    /// From the first assignment or word to the last word or redirection target.
    pub range: Range<usize>,
    /// The frames around the command.
    pub frames: Frames,
    /// Part of a pipeline, so it runs in a subshell of its own.
    pub piped: bool,
    /// The operator before the command (`None` at the start of the script or of a frame).
    pub before: Option<Op>,
    /// The operator after the command.
    pub after: Option<Op>,
    /// The program it runs through its wrappers, resolved once; see [`Command::invocation`].
    pub(super) resolved: Option<Resolved<'t>>,
}

/// The frames around a command (subshells, groups and compound commands), summed up as what is asked of them: how
/// many there are, and whether one is a subshell. The list of them, copied into every command, made a script of
/// thousands of nested `if`s take memory that grew with the square of their number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Frames {
    pub depth: usize,
    pub in_subshell: bool,
    /// One of them runs on some paths only: an `if`, a loop or a `case`, or a group or subshell after `||`
    /// (`make || { echo failed; exit 1; }`). A group opened otherwise runs whenever the commands before it do.
    pub conditional: bool,
}

impl Frames {
    /// These frames inside one more subshell.
    pub fn within_subshell(self) -> Frames {
        Frames { depth: self.depth + 1, in_subshell: true, ..self }
    }
}

impl Command<'_> {
    /// Top level: not inside a subshell, group, or compound command.
    pub fn is_top_level(&self) -> bool {
        self.frames.depth == 0
    }

    /// Its effects on variables, directory and options reach the commands after it.
    pub fn affects_shell(&self) -> bool {
        !self.piped && !self.frames.in_subshell
    }

    pub fn name(&self) -> Option<&str> {
        self.words.first().and_then(|w| w.literal.as_deref())
    }

    /// The program this command runs once `sudo`, `env`, `nice`, `time` and `command` prefixes are looked
    /// through. `None` when the program name is not literal.
    pub fn invocation(&self) -> Option<Invocation<'_>> {
        self.resolved.as_ref().map(|r| r.invocation(&self.assignments, &self.words))
    }
}

/// The one command of an exec-form RUN (`RUN ["pip", "install", "x"]`): its strings as words, run without a
/// shell. `None` for an empty array.
pub(super) fn exec_command(words: Vec<Word<'_>>) -> Option<Command<'_>> {
    let range = words.first()?.range.start..words.last()?.range.end;
    let resolved = resolve(&words);
    Some(Command {
        assignments: Vec::new(),
        words,
        range,
        frames: Frames::default(),
        piped: false,
        before: None,
        after: None,
        resolved,
    })
}

pub(super) struct Grouped<'t> {
    pub commands: Vec<Command<'t>>,
    /// Some construct was skipped.
    pub opaque: bool,
    /// Every frame closed.
    pub closed: bool,
    /// `;`, `||`, `&` or a newline joins command lists at the top level.
    pub top_level_lists: bool,
}

/// Groups tokens into simple commands. `literals` holds the literal value of each word token, in order.
pub(super) fn group<'t>(text: &'t str, tokens: &[Token], literals: Vec<Option<Cow<'t, str>>>) -> Grouped<'t> {
    // A command starts the script and after each operator other than a redirection, at most: room for them all
    // at once, where a list grown by doubling copied every command again, and kept twice the room it needed.
    let most = 1 + tokens.iter().filter(|t| matches!(t.kind, TokenKind::Op(op) if op != Op::Redirect)).count();
    let mut grouper = Grouper {
        text,
        tokens,
        literals: literals.into_iter(),
        out: Vec::with_capacity(most),
        frames: Vec::new(),
        subshells: 0,
        conditionals: 0,
        reading: false,
        before: None,
        opaque: false,
        closed: true,
        after_redirect: false,
        piped_next: false,
        skip_until_do: false,
        case_depth: 0,
        list_operator_pending: false,
        top_level_lists: false,
    };
    for index in 0..tokens.len() {
        grouper.token(index);
    }
    grouper.finish()
}

/// The state of grouping, token by token.
struct Grouper<'t, 'k> {
    text: &'t str,
    tokens: &'k [Token],
    /// The literal values of the word tokens not read yet.
    literals: std::vec::IntoIter<Option<Cow<'t, str>>>,
    out: Vec<Command<'t>>,
    /// The frames open where the grouping is, outermost first, each with whether it runs on some paths only.
    frames: Vec<(Frame, bool)>,
    /// How many of `frames` are subshells.
    subshells: usize,
    /// How many of `frames` run on some paths only: see [`Frames::conditional`].
    conditionals: usize,
    /// The last command in `out` is still being read. It is built where it stays: a command is 152 bytes.
    reading: bool,
    /// The operator seen last, for the next command's `before`.
    before: Option<Op>,
    opaque: bool,
    closed: bool,
    /// The next word is a redirection's target, not an argument.
    after_redirect: bool,
    /// The next command is the right side of a pipe.
    piped_next: bool,
    /// Inside a `for NAME in …` or `select` header: words are not commands until `do`.
    skip_until_do: bool,
    /// Nesting of `case … esac`, whose arms dockopt does not list.
    case_depth: usize,
    list_operator_pending: bool,
    top_level_lists: bool,
}

impl<'t> Grouper<'t, '_> {
    fn token(&mut self, index: usize) {
        let token = &self.tokens[index];
        match token.kind {
            TokenKind::Comment | TokenKind::HeredocBody => {}
            TokenKind::Word => self.word(index),
            TokenKind::Op(Op::Redirect) => self.redirect(index),
            TokenKind::Op(op) => self.operator(op),
        }
    }

    fn word(&mut self, index: usize) {
        self.top_level_lists |= self.list_operator_pending;
        let range = self.tokens[index].range.clone();
        // Every word token comes here once, in order, so the next literal is this word's.
        let word = Word { range: range.clone(), literal: self.literals.next().flatten() };
        if self.after_redirect {
            self.after_redirect = false;
            if let Some(c) = self.current() {
                c.range.end = range.end;
            }
            return;
        }
        if self.case_depth > 0 {
            self.case_word(&word);
            return;
        }
        if self.skip_until_do {
            if word.is("do") {
                self.skip_until_do = false;
                self.before = None;
            }
            return;
        }
        if !self.reading {
            if self.reserved_word(&word) {
                return;
            }
            if self.starts_function_definition(index) {
                self.opaque = true;
            }
            self.start_command(index);
        }
        let raw = &self.text[range.clone()];
        let command = self.current().expect("started above");
        command.range.end = range.end;
        if command.words.is_empty() && is_assignment(raw) {
            command.assignments.push(word);
        } else {
            command.words.push(word);
        }
    }

    /// A reserved word where a command would start opens or closes a frame, or only resets the operator before
    /// the next command. Returns whether the word was one.
    fn reserved_word(&mut self, word: &Word) -> bool {
        match word.literal.as_deref() {
            Some("if" | "while" | "until") => {
                self.push_frame(Frame::Compound);
                self.before = None;
            }
            Some("for" | "select") => {
                self.push_frame(Frame::Compound);
                self.skip_until_do = true;
            }
            Some("case") => {
                self.push_frame(Frame::Compound);
                self.case_depth = 1;
                self.opaque = true;
            }
            Some("{") => {
                self.push_frame(Frame::Group);
                self.before = None;
            }
            Some("then" | "else" | "elif" | "do" | "!") => self.before = None,
            Some("fi" | "done" | "}") => self.closed &= self.pop_frame().is_some(),
            _ => return false,
        }
        true
    }

    /// Inside `case`, only nested `case` and `esac` count.
    fn case_word(&mut self, word: &Word) {
        match word.literal.as_deref() {
            Some("case") => self.case_depth += 1,
            Some("esac") => {
                self.case_depth -= 1;
                if self.case_depth == 0 {
                    self.pop_frame();
                }
            }
            _ => {}
        }
    }

    /// `name()` starts a function definition.
    fn starts_function_definition(&self, index: usize) -> bool {
        let kind = |i: usize| self.tokens.get(i).map(|t| t.kind);
        matches!(kind(index + 1), Some(TokenKind::Op(Op::Open)))
            && matches!(kind(index + 2), Some(TokenKind::Op(Op::Close)))
    }

    fn redirect(&mut self, index: usize) {
        if self.case_depth > 0 || self.skip_until_do {
            return;
        }
        self.after_redirect = true;
        if !self.reading {
            self.start_command(index);
        }
        let range = self.tokens[index].range.clone();
        let text = self.text;
        if let Some(c) = self.current() {
            // A redirection number such as `2>` was lexed as a word of digits right before it.
            if c.words.last().is_some_and(|w| {
                w.range.end == range.start && text[w.range.clone()].bytes().all(|b| b.is_ascii_digit())
            }) {
                c.words.pop();
            }
            c.range.end = range.end;
        }
    }

    fn operator(&mut self, op: Op) {
        if self.case_depth > 0 || (self.skip_until_do && matches!(op, Op::Semi | Op::Newline)) {
            return;
        }
        if self.frames.is_empty() && matches!(op, Op::Or | Op::Semi | Op::Amp | Op::Newline) {
            self.list_operator_pending = true;
        }
        self.finish_command(Some(op));
        if let Some(last) = self.out.last_mut() {
            if op == Op::Pipe {
                last.piped = true;
            }
        }
        self.piped_next = op == Op::Pipe;
        match op {
            Op::Open => {
                self.push_frame(Frame::Subshell);
                self.before = None;
            }
            Op::Close => {
                self.closed &= self.pop_frame() == Some(Frame::Subshell);
                self.before = None;
            }
            _ => self.before = Some(op),
        }
    }

    /// Opens `frame`, before `self.before` is reset: a frame after `||` runs only where the command before it
    /// failed.
    fn push_frame(&mut self, frame: Frame) {
        let conditional = frame == Frame::Compound || self.before == Some(Op::Or);
        self.subshells += usize::from(frame == Frame::Subshell);
        self.conditionals += usize::from(conditional);
        self.frames.push((frame, conditional));
    }

    fn pop_frame(&mut self) -> Option<Frame> {
        let (frame, conditional) = self.frames.pop()?;
        self.subshells -= usize::from(frame == Frame::Subshell);
        self.conditionals -= usize::from(conditional);
        Some(frame)
    }

    /// A command starts at token `index`, inside the current frames, after the operator seen last.
    fn start_command(&mut self, index: usize) {
        // Its words are among the word tokens up to the next operator other than a redirection: room for them all
        // at once, where growing the list one word at a time took a reallocation per doubling.
        let words = self.tokens[index..]
            .iter()
            .take_while(|t| matches!(t.kind, TokenKind::Word | TokenKind::Op(Op::Redirect)))
            .filter(|t| t.kind == TokenKind::Word)
            .count();
        self.out.push(Command {
            assignments: Vec::new(),
            words: Vec::with_capacity(words),
            range: self.tokens[index].range.clone(),
            frames: Frames {
                depth: self.frames.len(),
                in_subshell: self.subshells > 0,
                conditional: self.conditionals > 0,
            },
            piped: std::mem::take(&mut self.piped_next),
            before: self.before.take(),
            after: None,
            resolved: None,
        });
        self.reading = true;
    }

    /// The command being read.
    fn current(&mut self) -> Option<&mut Command<'t>> {
        if self.reading {
            self.out.last_mut()
        } else {
            None
        }
    }

    fn finish_command(&mut self, after: Option<Op>) {
        if let Some(command) = self.current() {
            command.after = after;
            self.reading = false;
        }
    }

    fn finish(mut self) -> Grouped<'t> {
        self.finish_command(None);
        for command in &mut self.out {
            command.resolved = resolve(&command.words);
        }
        let closed = self.closed && self.frames.is_empty() && self.case_depth == 0 && !self.skip_until_do;
        Grouped { commands: self.out, opaque: self.opaque, closed, top_level_lists: self.top_level_lists }
    }
}
