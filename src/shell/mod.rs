//! A lossless view of a POSIX sh script: the body of a shell-form RUN (its logical line) or a heredoc script.
//!
//! The lexer turns the text into words, operators, comments and newlines; whatever lies between tokens is
//! blank space, so the tokens and the gaps between them give the text back. On top of the tokens sit the simple
//! commands, each with its words, its nesting, and the operators around it, which is what the passes ask about.
//! Every range is a byte range in the text given to [`Script::parse`]; for a RUN, the instruction's
//! [`LogicalLine`](crate::syntax::LogicalLine) maps it back to the Dockerfile.

use std::ops::Range;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `&&`
    And,
    /// `||`
    Or,
    /// `;`
    Semi,
    /// `;;` in a case arm.
    DoubleSemi,
    /// `&`: runs the command in the background.
    Amp,
    /// `|` or `|&`
    Pipe,
    /// `(`
    Open,
    /// `)`
    Close,
    /// `>`, `>>`, `<`, `<<`, `2>&1`-style and other redirections.
    Redirect,
    /// A line break between commands.
    Newline,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Word,
    Op(Op),
    Comment,
    /// The body and delimiter line of a here-document inside the script.
    HeredocBody,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub range: Range<usize>,
}

/// A shell word: its range, and its value with quotes and escapes removed when it holds no expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub range: Range<usize>,
    /// `None` when the word contains `$…` or backticks outside single quotes: its value is known only at run
    /// time.
    pub literal: Option<String>,
}

impl Word {
    pub fn is(&self, value: &str) -> bool {
        self.literal.as_deref() == Some(value)
    }
}

/// What encloses a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// `( … )`: changes inside do not reach the enclosing shell.
    Subshell,
    /// `{ …; }`
    Group,
    /// `if`, `while`, `until`, `for`, `case`.
    Compound,
}

/// A simple command: optional `NAME=value` assignments, then words, with redirections set aside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub assignments: Vec<Word>,
    pub words: Vec<Word>,
    /// From the first assignment or word to the last word or redirection target.
    pub range: Range<usize>,
    /// The frames around the command, outermost first.
    pub frames: Vec<Frame>,
    /// Part of a pipeline, so it runs in a subshell of its own.
    pub piped: bool,
    /// The operator before the command (`None` at the start of the script or of a frame).
    pub before: Option<Op>,
    /// The operator after the command.
    pub after: Option<Op>,
    /// The program it runs through its wrappers, resolved once; see [`Command::invocation`].
    resolved: Option<Resolved>,
}

/// Where a command's program is among its words, once `sudo`, `env` and the like are looked through.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Resolved {
    program: String,
    /// Index of the first argument in `words`.
    args: usize,
    /// Indices in `words` of `NAME=value` arguments given to `env`.
    env: Vec<usize>,
}

impl Command {
    /// Top level: not inside a subshell, group, or compound command.
    pub fn is_top_level(&self) -> bool {
        self.frames.is_empty()
    }

    /// Its effects on variables, directory and options reach the commands after it.
    pub fn affects_shell(&self) -> bool {
        !self.piped && !self.frames.contains(&Frame::Subshell)
    }

    pub fn name(&self) -> Option<&str> {
        self.words.first().and_then(|w| w.literal.as_deref())
    }
}

#[derive(Clone, Debug)]
pub struct Script {
    pub tokens: Vec<Token>,
    pub commands: Vec<Command>,
    /// Brackets and compound commands all close, quotes all end, and here-documents all have bodies. Passes
    /// edit only balanced scripts.
    pub balanced: bool,
    /// Function definitions or `case` arms, whose commands dockopt does not list.
    pub opaque: bool,
    top_level_lists: bool,
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

impl Script {
    pub fn parse(text: &str) -> Script {
        let (tokens, literals, mut balanced) = lex(text);
        let grouped = commands(text, &tokens, literals);
        balanced &= grouped.closed;
        Script {
            tokens,
            commands: grouped.commands,
            balanced,
            opaque: grouped.opaque,
            top_level_lists: grouped.top_level_lists,
        }
    }

    /// The end of the last word or `)`, before any trailing `;`, `&`, blank or comment: where text appended to
    /// the script still belongs to its last command list.
    pub fn content_end(&self) -> Option<usize> {
        self.tokens
            .iter()
            .rev()
            .find(|t| matches!(t.kind, TokenKind::Word | TokenKind::Op(Op::Close)))
            .map(|t| t.range.end)
    }

    /// The first token that is a word or `(`.
    pub fn content_start(&self) -> Option<usize> {
        self.tokens.iter().find(|t| matches!(t.kind, TokenKind::Word | TokenKind::Op(Op::Open))).map(|t| t.range.start)
    }

    pub fn has_comment(&self) -> bool {
        self.tokens.iter().any(|t| t.kind == TokenKind::Comment)
    }

    pub fn has_heredoc(&self) -> bool {
        self.tokens.iter().any(|t| t.kind == TokenKind::HeredocBody)
    }

    /// A command runs in the background (`&`), which outlives a RUN in ways a merge cannot keep.
    pub fn has_background_job(&self) -> bool {
        self.tokens.iter().any(|t| t.kind == TokenKind::Op(Op::Amp))
    }

    /// Operators that join top-level command lists: `;`, `||`, `&` or a newline at the top level, followed by
    /// more commands. Appending `&& x` to such a script would bind to its last list only.
    pub fn has_top_level_list_operator(&self) -> bool {
        self.top_level_lists
    }

    /// Some command changes shell state that later commands in the same shell would see.
    pub fn changes_shell_state(&self) -> bool {
        self.opaque
            || self.commands.iter().any(|c| {
                c.affects_shell() && (c.words.is_empty() || c.name().is_none_or(|n| STATE_CHANGING.contains(&n)))
            })
    }

    /// Some command may end the shell early: `exit`, `exec`, `return`.
    pub fn may_end_shell(&self) -> bool {
        self.commands.iter().any(|c| c.affects_shell() && c.name().is_some_and(|n| SHELL_ENDING.contains(&n)))
    }
}

/// A command seen through its wrappers: `sudo -E env FOO=1 /usr/bin/pip3 install x` runs `pip` with
/// `install x` and `FOO=1` set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation<'a> {
    /// The program by base name, with versions folded: `pip3.11` and `python3 -m pip` are both `pip`.
    pub program: &'a str,
    /// The words after the program.
    pub args: &'a [Word],
    /// `NAME=value` words set for this command, before it or through `env`.
    pub env: Vec<&'a Word>,
}

impl Invocation<'_> {
    /// The first argument that is not an option: `install` in `apt-get -y install x`.
    pub fn subcommand(&self) -> Option<&str> {
        self.args.iter().find_map(|w| w.literal.as_deref().filter(|a| !a.starts_with('-')))
    }

    pub fn has_option(&self, option: &str) -> bool {
        self.args
            .iter()
            .any(|w| w.literal.as_deref().is_some_and(|a| a == option || a.starts_with(&format!("{option}="))))
    }

    pub fn sets_env(&self, name: &str) -> bool {
        self.env
            .iter()
            .any(|w| w.literal.as_deref().is_some_and(|a| a.strip_prefix(name).is_some_and(|r| r.starts_with('='))))
    }
}

impl Command {
    /// The program this command runs once `sudo`, `env`, `nice`, `time` and `command` prefixes are looked
    /// through. `None` when the program name is not literal.
    pub fn invocation(&self) -> Option<Invocation<'_>> {
        let resolved = self.resolved.as_ref()?;
        let env = self.assignments.iter().chain(resolved.env.iter().map(|&i| &self.words[i])).collect();
        Some(Invocation { program: &resolved.program, args: &self.words[resolved.args..], env })
    }

    fn resolve(&self) -> Option<Resolved> {
        let mut env = Vec::new();
        let mut i = 0;
        loop {
            let name = self.words.get(i)?.literal.as_deref()?;
            let base = name.rsplit('/').next().unwrap_or(name);
            match base {
                "sudo" | "env" | "nice" | "time" | "command" | "nohup" => {
                    i += 1;
                    while let Some(word) = self.words.get(i) {
                        let text = word.literal.as_deref().unwrap_or("");
                        if base == "env" && is_assignment(text) {
                            env.push(i);
                        } else if text.starts_with('-') {
                            // Options of sudo and env that take a separate value.
                            if matches!(
                                (base, text),
                                ("sudo", "-u" | "-g" | "-C" | "-p" | "-r" | "-t" | "-U" | "-h")
                                    | ("env", "-u" | "-C")
                                    | ("nice", "-n")
                            ) {
                                i += 1;
                            }
                        } else {
                            break;
                        }
                        i += 1;
                    }
                }
                _ => {
                    let program = normalize_program(base);
                    let args = &self.words[i + 1..];
                    if program == "python" {
                        // `python [-u …] -m pip …`
                        let m = args.iter().position(|w| w.is("-m") || w.is("-mpip"))?;
                        let skip = if args[m].is("-mpip") {
                            m + 1
                        } else if args.get(m + 1)?.is("pip") {
                            m + 2
                        } else {
                            return None;
                        };
                        return Some(Resolved { program: "pip".into(), args: i + 1 + skip, env });
                    }
                    return Some(Resolved { program, args: i + 1, env });
                }
            }
        }
    }
}

/// `pip3.11` → `pip`, `python3.12` → `python`.
fn normalize_program(base: &str) -> String {
    let versionless = base.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    match versionless {
        "pip" | "python" if versionless.len() < base.len() => versionless.to_string(),
        _ => base.to_string(),
    }
}

/// True for `NAME=…`, which the shell reads as an assignment before the command name.
fn is_assignment(text: &str) -> bool {
    match text.find('=') {
        Some(eq) if eq > 0 => {
            let name = &text[..eq];
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !name.as_bytes()[0].is_ascii_digit()
        }
        _ => false,
    }
}

/// Tokens, each word's literal value (`None` for other tokens and for words with expansions), and whether
/// everything closed.
fn lex(text: &str) -> (Vec<Token>, Vec<Option<String>>, bool) {
    let b = text.as_bytes();
    let mut tokens = Vec::with_capacity(text.len() / 4);
    let mut literals = Vec::with_capacity(text.len() / 4);
    let mut balanced = true;
    let mut pending_heredocs: Vec<(String, bool)> = Vec::new();
    let mut expect_delimiter: Option<bool> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' => i += 1,
            b'\\' if b.get(i + 1) == Some(&b'\n') => i += 2,
            b'\n' => {
                tokens.push(Token { kind: TokenKind::Op(Op::Newline), range: i..i + 1 });
                i += 1;
                for (delimiter, strip_tabs) in std::mem::take(&mut pending_heredocs) {
                    let start = i;
                    let mut found = false;
                    while i < b.len() {
                        let line_end = text[i..].find('\n').map_or(b.len(), |n| i + n);
                        let line = &text[i..line_end];
                        let line = if strip_tabs { line.trim_start_matches('\t') } else { line };
                        i = (line_end + 1).min(b.len());
                        if line.trim_end_matches('\r') == delimiter {
                            found = true;
                            break;
                        }
                    }
                    balanced &= found;
                    tokens.push(Token { kind: TokenKind::HeredocBody, range: start..i });
                }
            }
            b'#' => {
                let end = text[i..].find('\n').map_or(b.len(), |n| i + n);
                tokens.push(Token { kind: TokenKind::Comment, range: i..end });
                i = end;
            }
            b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>' => {
                let two = &b[i..(i + 2).min(b.len())];
                let three = &b[i..(i + 3).min(b.len())];
                let (op, len) = match (c, two, three) {
                    (_, _, b"<<-") => (Op::Redirect, 3),
                    (_, _, b"<<<") => (Op::Redirect, 3),
                    (_, _, b"&>>") => (Op::Redirect, 3),
                    (_, b"&&", _) => (Op::And, 2),
                    (_, b"||", _) => (Op::Or, 2),
                    (_, b";;", _) => (Op::DoubleSemi, 2),
                    (_, b"|&", _) => (Op::Pipe, 2),
                    (_, b"<<" | b">>" | b">|" | b"<&" | b">&" | b"<>" | b"&>", _) => (Op::Redirect, 2),
                    (b';', _, _) => (Op::Semi, 1),
                    (b'&', _, _) => (Op::Amp, 1),
                    (b'|', _, _) => (Op::Pipe, 1),
                    (b'(', _, _) => (Op::Open, 1),
                    (b')', _, _) => (Op::Close, 1),
                    _ => (Op::Redirect, 1),
                };
                if matches!(three, b"<<-") || (two == b"<<" && three != b"<<<") {
                    expect_delimiter = Some(three == b"<<-");
                }
                tokens.push(Token { kind: TokenKind::Op(op), range: i..i + len });
                i += len;
            }
            _ => {
                let (end, literal, closed) = scan_word(text, i);
                balanced &= closed;
                if let Some(strip_tabs) = expect_delimiter.take() {
                    let delimiter = literal.clone().unwrap_or_else(|| unquote_loosely(&text[i..end]));
                    pending_heredocs.push((delimiter, strip_tabs));
                }
                tokens.push(Token { kind: TokenKind::Word, range: i..end });
                literals.resize(tokens.len() - 1, None);
                literals.push(literal);
                i = end.max(i + 1);
            }
        }
    }
    balanced &= pending_heredocs.is_empty();
    literals.resize(tokens.len(), None);
    (tokens, literals, balanced)
}

/// A here-document delimiter with quotes removed even when it holds `$`, which the shell does not expand there.
fn unquote_loosely(word: &str) -> String {
    word.chars().filter(|c| !matches!(c, '\'' | '"' | '\\')).collect()
}

/// Scans one word from `start`. Returns its end, its literal value (if it has no expansion), and whether every
/// quote and substitution in it was closed.
fn scan_word(text: &str, start: usize) -> (usize, Option<String>, bool) {
    let b = text.as_bytes();
    let mut i = start;
    let mut value = String::new();
    let mut literal = true;
    let mut closed = true;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\r' | b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>' => break,
            b'\\' => {
                match text[i + 1..].chars().next() {
                    Some('\n') => {}
                    Some(c) => value.push(c),
                    None => {}
                }
                i += 1 + text[i + 1..].chars().next().map_or(0, char::len_utf8);
            }
            b'\'' => match text[i + 1..].find('\'') {
                Some(n) => {
                    value.push_str(&text[i + 1..i + 1 + n]);
                    i += n + 2;
                }
                None => {
                    closed = false;
                    i = b.len();
                }
            },
            b'"' => {
                i += 1;
                let mut ended = false;
                while i < b.len() {
                    match b[i] {
                        b'"' => {
                            i += 1;
                            ended = true;
                            break;
                        }
                        b'\\' => {
                            let next = text[i + 1..].chars().next();
                            match next {
                                Some(c @ ('"' | '\\' | '$' | '`')) => value.push(c),
                                Some('\n') => {}
                                Some(c) => {
                                    value.push('\\');
                                    value.push(c);
                                }
                                None => {}
                            }
                            i += 1 + next.map_or(0, char::len_utf8);
                        }
                        b'$' | b'`' => i = expansion(text, i, &mut literal, &mut closed),
                        _ => i = plain_run(text, i, |c| matches!(c, b'"' | b'\\' | b'$' | b'`'), &mut value),
                    }
                }
                closed &= ended;
            }
            b'$' | b'`' => i = expansion(text, i, &mut literal, &mut closed),
            _ => i = plain_run(text, i, ends_plain_run, &mut value),
        }
    }
    (i, literal.then_some(value), closed)
}

/// An expansion in a word: the word has no literal value. Returns where the expansion ends.
fn expansion(text: &str, i: usize, literal: &mut bool, closed: &mut bool) -> usize {
    *literal = false;
    let (end, ok) = scan_expansion(text, i);
    *closed &= ok;
    end
}

/// Bytes that end a run of ordinary characters outside quotes: what ends a word, quotes, escapes and expansions.
fn ends_plain_run(c: u8) -> bool {
    matches!(
        c,
        b' ' | b'\t'
            | b'\r'
            | b'\n'
            | b';'
            | b'&'
            | b'|'
            | b'('
            | b')'
            | b'<'
            | b'>'
            | b'\\'
            | b'\''
            | b'"'
            | b'$'
            | b'`'
    )
}

/// A run of ordinary characters of a word, taken whole rather than a character at a time. Every byte that ends a
/// run is ASCII, so the run ends on a character boundary. Returns where the run ends.
fn plain_run(text: &str, i: usize, ends_run: impl Fn(u8) -> bool, value: &mut String) -> usize {
    let rest = &text.as_bytes()[i..];
    let n = rest.iter().skip(1).position(|&c| ends_run(c)).map_or(rest.len(), |n| n + 1);
    value.push_str(&text[i..i + n]);
    i + n
}

/// Scans `$name`, `${…}`, `$(…)`, `$((…))` or a backquoted command from `start`. Returns the end and whether it
/// was closed.
fn scan_expansion(text: &str, start: usize) -> (usize, bool) {
    let b = text.as_bytes();
    if b[start] == b'`' {
        let mut i = start + 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'`' => return (i + 1, true),
                _ => i += 1,
            }
        }
        return (b.len(), false);
    }
    let Some(&next) = b.get(start + 1) else { return (start + 1, true) };
    let (open, close) = match next {
        b'(' => (b'(', b')'),
        b'{' => (b'{', b'}'),
        c if c.is_ascii_alphanumeric() || c == b'_' => {
            let n = b[start + 1..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
            return (start + 1 + n, true);
        }
        b'@' | b'*' | b'#' | b'?' | b'-' | b'$' | b'!' => return (start + 2, true),
        _ => return (start + 1, true),
    };
    let mut depth = 0usize;
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return (i + 1, true);
                }
            }
            b'\\' => i += 1,
            b'\'' if open == b'(' => match text[i + 1..].find('\'') {
                Some(n) => i += n + 1,
                None => return (b.len(), false),
            },
            b'"' => {
                let (end, _, ok) = scan_word(text, i);
                if !ok {
                    return (b.len(), false);
                }
                i = end.max(i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    (b.len(), false)
}

struct Grouped {
    commands: Vec<Command>,
    /// Some construct was skipped.
    opaque: bool,
    /// Every frame closed.
    closed: bool,
    top_level_lists: bool,
}

/// Groups tokens into simple commands.
fn commands(text: &str, tokens: &[Token], mut literals: Vec<Option<String>>) -> Grouped {
    let mut out: Vec<Command> = Vec::new();
    let mut frames: Vec<Frame> = Vec::new();
    let mut current: Option<Command> = None;
    let mut before: Option<Op> = None;
    let mut opaque = false;
    let mut closed = true;
    let mut after_redirect = false;
    let mut piped_next = false;
    // Inside `for NAME in …` or `case WORD in` headers, and inside case arms, words are not commands.
    let mut skip_until_do = false;
    let mut case_depth = 0usize;
    let mut list_operator_pending = false;
    let mut top_level_lists = false;

    // A command starts at `range`, inside `frames`, after the operator seen last.
    fn start_command(range: Range<usize>, frames: &[Frame], piped: &mut bool, before: &mut Option<Op>) -> Command {
        Command {
            assignments: Vec::new(),
            words: Vec::new(),
            range,
            frames: frames.to_vec(),
            piped: std::mem::take(piped),
            before: before.take(),
            after: None,
            resolved: None,
        }
    }

    let finish = |current: &mut Option<Command>, out: &mut Vec<Command>, after: Option<Op>| {
        if let Some(mut command) = current.take() {
            command.after = after;
            out.push(command);
        }
    };

    let mut index = 0;
    while index < tokens.len() {
        let token = &tokens[index];
        index += 1;
        let range = token.range.clone();
        match token.kind {
            TokenKind::Comment | TokenKind::HeredocBody => {}
            TokenKind::Word => {
                top_level_lists |= list_operator_pending;
                let raw = &text[range.clone()];
                let word = Word { range: range.clone(), literal: literals[index - 1].take() };
                if after_redirect {
                    after_redirect = false;
                    if let Some(c) = current.as_mut() {
                        c.range.end = range.end;
                    }
                    continue;
                }
                if case_depth > 0 {
                    match word.literal.as_deref() {
                        Some("case") => case_depth += 1,
                        Some("esac") => {
                            case_depth -= 1;
                            if case_depth == 0 {
                                frames.pop();
                            }
                        }
                        _ => {}
                    }
                    continue;
                }
                if skip_until_do {
                    if word.is("do") {
                        skip_until_do = false;
                        before = None;
                    }
                    continue;
                }
                if current.is_none() {
                    match word.literal.as_deref() {
                        Some("if" | "while" | "until") => {
                            frames.push(Frame::Compound);
                            before = None;
                            continue;
                        }
                        Some("for" | "select") => {
                            frames.push(Frame::Compound);
                            skip_until_do = true;
                            continue;
                        }
                        Some("case") => {
                            frames.push(Frame::Compound);
                            case_depth = 1;
                            opaque = true;
                            continue;
                        }
                        Some("{") => {
                            frames.push(Frame::Group);
                            before = None;
                            continue;
                        }
                        Some("then" | "else" | "elif" | "do" | "!") => {
                            before = None;
                            continue;
                        }
                        Some("fi" | "done" | "}") => {
                            closed &= frames.pop().is_some();
                            continue;
                        }
                        _ => {}
                    }
                    // `name()` starts a function definition.
                    if matches!(tokens.get(index).map(|t| t.kind), Some(TokenKind::Op(Op::Open)))
                        && matches!(tokens.get(index + 1).map(|t| t.kind), Some(TokenKind::Op(Op::Close)))
                    {
                        opaque = true;
                    }
                    current = Some(start_command(range.clone(), &frames, &mut piped_next, &mut before));
                }
                let command = current.as_mut().expect("created above");
                command.range.end = range.end;
                if command.words.is_empty() && is_assignment(raw) {
                    command.assignments.push(word);
                } else {
                    command.words.push(word);
                }
            }
            TokenKind::Op(Op::Redirect) => {
                if case_depth > 0 || skip_until_do {
                    continue;
                }
                after_redirect = true;
                if current.is_none() {
                    current = Some(start_command(range.clone(), &frames, &mut piped_next, &mut before));
                }
                // A redirection number such as `2>` was lexed as a word of digits right before it.
                if let Some(c) = current.as_mut() {
                    if c.words.last().is_some_and(|w| {
                        w.range.end == range.start && text[w.range.clone()].bytes().all(|b| b.is_ascii_digit())
                    }) {
                        c.words.pop();
                    }
                    c.range.end = range.end;
                }
            }
            TokenKind::Op(op) => {
                if case_depth > 0 {
                    continue;
                }
                if skip_until_do && matches!(op, Op::Semi | Op::Newline) {
                    continue;
                }
                if frames.is_empty() && matches!(op, Op::Or | Op::Semi | Op::Amp | Op::Newline) {
                    list_operator_pending = true;
                }
                finish(&mut current, &mut out, Some(op));
                if let Some(last) = out.last_mut() {
                    if op == Op::Pipe {
                        last.piped = true;
                    }
                }
                piped_next = op == Op::Pipe;
                match op {
                    Op::Open => {
                        frames.push(Frame::Subshell);
                        before = None;
                    }
                    Op::Close => {
                        closed &= frames.pop() == Some(Frame::Subshell);
                        before = None;
                    }
                    _ => before = Some(op),
                }
            }
        }
    }
    finish(&mut current, &mut out, None);
    for command in &mut out {
        command.resolved = command.resolve();
    }
    closed &= frames.is_empty() && case_depth == 0 && !skip_until_do;
    Grouped { commands: out, opaque, closed, top_level_lists }
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
        assert!(s.commands[2].frames == [Frame::Subshell] && !s.commands[2].affects_shell());
        assert_eq!(s.commands[1].before, Some(Op::Semi));
        assert_eq!(s.commands[1].after, Some(Op::And));
        assert!(s.has_background_job());
        assert!(s.balanced);
    }

    #[test]
    fn words_unquote_and_mark_expansions() {
        let s = Script::parse(r#"pip install "a b" 'c$d' e\ f $HOME "x$(id -u)y""#);
        let lits: Vec<Option<&str>> = s.commands[0].words.iter().map(|w| w.literal.as_deref()).collect();
        assert_eq!(lits, [Some("pip"), Some("install"), Some("a b"), Some("c$d"), Some("e f"), None, None]);
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
