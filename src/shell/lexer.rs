//! The shell lexer: words, operators, comments, newlines and here-document bodies, each with its byte range.
//! Whatever lies between tokens is blank space, so the tokens and the gaps between them give the text back.

use std::borrow::Cow;
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
pub struct Word<'t> {
    pub range: Range<usize>,
    /// `None` when the word contains `$…` or backticks outside single quotes: its value is known only at run
    /// time. Borrowed from the script's text when no quote or escape changes it, which is most words.
    pub literal: Option<Cow<'t, str>>,
}

impl Word<'_> {
    pub fn is(&self, value: &str) -> bool {
        self.literal.as_deref() == Some(value)
    }
}

/// What the passes ask of a script's tokens, noted as the lexer makes them. The tokens are not kept: a script
/// lives as long as its file's analysis, which every rule reads through again, and the tokens, as the lexer
/// reserves them, were a sixth of that analysis at its peak. Reading them again for this was 5% of a script's parse.
#[derive(Clone, Debug)]
pub(super) struct Outline {
    /// The start of the first word or `(`.
    pub content_start: Option<usize>,
    /// The end of the last word or `)`.
    pub content_end: Option<usize>,
    pub comment: bool,
    pub heredoc: bool,
    pub background_job: bool,
    /// Words alone: no operator, redirection, comment or here-document.
    pub only_words: bool,
    /// A `!` word, which negates a pipeline's status.
    pub negation: bool,
}

impl Outline {
    pub const EMPTY: Outline = Outline {
        content_start: None,
        content_end: None,
        comment: false,
        heredoc: false,
        background_job: false,
        only_words: true,
        negation: false,
    };

    /// The outline of an exec form: words alone, which no shell reads, so nothing negates.
    pub fn of_words(mut ranges: impl Iterator<Item = Range<usize>>) -> Outline {
        let Some(first) = ranges.next() else { return Outline::EMPTY };
        let end = ranges.last().map_or(first.end, |last| last.end);
        Outline { content_start: Some(first.start), content_end: Some(end), ..Outline::EMPTY }
    }

    fn word(&mut self, text: &str, range: &Range<usize>) {
        self.content_start.get_or_insert(range.start);
        self.content_end = Some(range.end);
        self.negation |= &text[range.clone()] == "!";
    }

    fn operator(&mut self, op: Op, range: &Range<usize>) {
        self.only_words = false;
        match op {
            Op::Open => _ = self.content_start.get_or_insert(range.start),
            Op::Close => self.content_end = Some(range.end),
            Op::Amp => self.background_job = true,
            _ => {}
        }
    }
}

/// A script's tokens, the literal value of each word token in order (`None` for a word with an expansion), whether
/// everything closed, and the outline.
pub(super) struct Lexed<'t> {
    pub tokens: Vec<Token>,
    pub literals: Vec<Option<Cow<'t, str>>>,
    pub balanced: bool,
    pub outline: Outline,
}

/// True for `NAME=…`, which the shell reads as an assignment before the command name.
pub(super) fn is_assignment(text: &str) -> bool {
    // Asked of the first word of every command: the name is read up to the first byte that cannot be in one, which
    // ends most command names at once, rather than searching the whole word for `=`.
    let bytes = text.as_bytes();
    let name_len = bytes.iter().position(|&b| !(b.is_ascii_alphanumeric() || b == b'_')).unwrap_or(bytes.len());
    name_len > 0 && bytes.get(name_len) == Some(&b'=') && !bytes[0].is_ascii_digit()
}

/// Bytes between tokens that only separate them.
pub(super) fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r')
}

/// Reads `text` into tokens, noting its outline as they are made.
pub(super) fn lex(text: &str) -> Lexed<'_> {
    let b = text.as_bytes();
    let mut tokens = Vec::with_capacity(text.len() / 4);
    // Words and the blanks around them take six bytes or more, more often than not.
    let mut literals = Vec::with_capacity(text.len() / 6);
    let mut balanced = true;
    // Here-documents whose bodies start after the next newline: their delimiters, and whether `<<-` strips tabs.
    let mut pending_heredocs: Vec<(String, bool)> = Vec::new();
    let mut expect_delimiter: Option<bool> = None;
    let mut outline = Outline::EMPTY;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            c if is_blank(c) => i += 1,
            b'\\' if b.get(i + 1) == Some(&b'\n') => i += 2,
            b'\n' => {
                tokens.push(Token { kind: TokenKind::Op(Op::Newline), range: i..i + 1 });
                outline.operator(Op::Newline, &(i..i + 1));
                i += 1;
                for (delimiter, strip_tabs) in std::mem::take(&mut pending_heredocs) {
                    let (end, found) = heredoc_body(text, i, &delimiter, strip_tabs);
                    balanced &= found;
                    outline.heredoc = true;
                    outline.only_words = false;
                    // Any token that is `!` alone negates: here, a body that is only its `!` delimiter line, at the
                    // end of the text.
                    outline.negation |= &text[i..end] == "!";
                    tokens.push(Token { kind: TokenKind::HeredocBody, range: i..end });
                    i = end;
                }
            }
            b'#' => {
                let end = text[i..].find('\n').map_or(b.len(), |n| i + n);
                tokens.push(Token { kind: TokenKind::Comment, range: i..end });
                outline.comment = true;
                outline.only_words = false;
                i = end;
            }
            b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>' => {
                let (op, len) = operator(&b[i..]);
                if matches!(&b[i..(i + 3).min(b.len())], b"<<-") {
                    expect_delimiter = Some(true);
                } else if b[i..].starts_with(b"<<") && !b[i..].starts_with(b"<<<") {
                    expect_delimiter = Some(false);
                }
                tokens.push(Token { kind: TokenKind::Op(op), range: i..i + len });
                outline.operator(op, &(i..i + len));
                i += len;
            }
            _ => {
                let (end, literal, closed) = scan_word(text, i);
                balanced &= closed;
                if let Some(strip_tabs) = expect_delimiter.take() {
                    let delimiter = literal.as_deref().map_or_else(|| unquote_loosely(&text[i..end]), str::to_string);
                    pending_heredocs.push((delimiter, strip_tabs));
                }
                outline.word(text, &(i..end));
                tokens.push(Token { kind: TokenKind::Word, range: i..end });
                literals.push(literal);
                i = end.max(i + 1);
            }
        }
    }
    balanced &= pending_heredocs.is_empty();
    Lexed { tokens, literals, balanced, outline }
}

/// The operator at the start of `rest`, which starts with one of `;&|()<>`, and its length.
fn operator(rest: &[u8]) -> (Op, usize) {
    let two = &rest[..rest.len().min(2)];
    let three = &rest[..rest.len().min(3)];
    match (rest[0], two, three) {
        (_, _, b"<<-" | b"<<<" | b"&>>") => (Op::Redirect, 3),
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
    }
}

/// A here-document body from `start` up to and including its delimiter line. Returns where it ends and whether
/// the delimiter was found.
fn heredoc_body(text: &str, start: usize, delimiter: &str, strip_tabs: bool) -> (usize, bool) {
    let mut i = start;
    while i < text.len() {
        let line_end = text[i..].find('\n').map_or(text.len(), |n| i + n);
        let line = &text[i..line_end];
        let line = if strip_tabs { line.trim_start_matches('\t') } else { line };
        i = (line_end + 1).min(text.len());
        if line.trim_end_matches('\r') == delimiter {
            return (i, true);
        }
    }
    (i, false)
}

/// A here-document delimiter with quotes removed even when it holds `$`, which the shell does not expand there.
fn unquote_loosely(word: &str) -> String {
    word.chars().filter(|c| !matches!(c, '\'' | '"' | '\\')).collect()
}

/// A word's value as it is read: a range of the text while it is the text verbatim, an owned string from the
/// first quote or escape that changes it.
enum Value {
    Verbatim(Range<usize>),
    Owned(String),
}

impl Value {
    fn owned(&mut self, text: &str) -> &mut String {
        if let Value::Verbatim(range) = self {
            *self = Value::Owned(text[range.clone()].to_string());
        }
        match self {
            Value::Owned(value) => value,
            Value::Verbatim(_) => unreachable!("made owned above"),
        }
    }

    /// Appends `text[range]`, staying a range of the text when it continues it.
    fn push_text(&mut self, text: &str, range: Range<usize>) {
        match self {
            Value::Verbatim(verbatim) if verbatim.start == verbatim.end => *verbatim = range,
            Value::Verbatim(verbatim) if verbatim.end == range.start => verbatim.end = range.end,
            _ => self.owned(text).push_str(&text[range]),
        }
    }

    fn push(&mut self, text: &str, c: char) {
        self.owned(text).push(c);
    }

    fn into_cow(self, text: &str) -> Cow<'_, str> {
        match self {
            Value::Verbatim(range) => Cow::Borrowed(&text[range]),
            Value::Owned(value) => Cow::Owned(value),
        }
    }
}

/// How deep quoted words may nest in substitutions (`"$(… "$(…)" …)"`) before a word counts as one dockopt cannot
/// read, as an unclosed one does. Each level is a call: a script nested ten thousand deep overflowed the stack, where
/// real scripts nest a few deep.
const MAX_NESTING: usize = 500;

/// Scans one word from `start`. Returns its end, its literal value (if it has no expansion), and whether every
/// quote and substitution in it was closed.
pub(super) fn scan_word(text: &str, start: usize) -> (usize, Option<Cow<'_, str>>, bool) {
    scan_nested_word(text, start, 0)
}

/// [`scan_word`] of a word inside `nesting` quoted words in substitutions.
fn scan_nested_word(text: &str, start: usize, nesting: usize) -> (usize, Option<Cow<'_, str>>, bool) {
    let b = text.as_bytes();
    // Most words are plain: ordinary characters up to what ends the word, their value the text itself.
    let plain_end = b[start..].iter().position(|&c| ends_plain_run(c)).map_or(b.len(), |n| start + n);
    if b.get(plain_end).is_none_or(|&c| ends_word(c)) {
        return (plain_end, Some(Cow::Borrowed(&text[start..plain_end])), true);
    }
    let mut i = plain_end;
    let mut value = Value::Verbatim(start..plain_end);
    let mut literal = true;
    let mut closed = true;
    while i < b.len() {
        match b[i] {
            c if ends_word(c) => break,
            b'\\' => {
                match text[i + 1..].chars().next() {
                    Some('\n') => {}
                    Some(c) => value.push(text, c),
                    None => {}
                }
                i += 1 + text[i + 1..].chars().next().map_or(0, char::len_utf8);
            }
            b'\'' => match text[i + 1..].find('\'') {
                Some(n) => {
                    value.push_text(text, i + 1..i + 1 + n);
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
                                Some(c @ ('"' | '\\' | '$' | '`')) => value.push(text, c),
                                Some('\n') => {}
                                Some(c) => {
                                    value.push(text, '\\');
                                    value.push(text, c);
                                }
                                None => {}
                            }
                            i += 1 + next.map_or(0, char::len_utf8);
                        }
                        b'$' | b'`' => i = expansion(text, i, nesting, &mut literal, &mut closed),
                        _ => i = plain_run(text, i, |c| matches!(c, b'"' | b'\\' | b'$' | b'`'), &mut value),
                    }
                }
                closed &= ended;
            }
            b'$' | b'`' => i = expansion(text, i, nesting, &mut literal, &mut closed),
            _ => i = plain_run(text, i, ends_plain_run, &mut value),
        }
    }
    (i, literal.then(|| value.into_cow(text)), closed)
}

/// An expansion in a word: the word has no literal value. Returns where the expansion ends.
fn expansion(text: &str, i: usize, nesting: usize, literal: &mut bool, closed: &mut bool) -> usize {
    *literal = false;
    let (end, ok) = scan_expansion(text, i, nesting);
    *closed &= ok;
    end
}

/// Bytes that end a word outside quotes: blanks and the bytes operators start with.
fn ends_word(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>')
}

/// Bytes that end a run of ordinary characters outside quotes: what ends a word, quotes, escapes and expansions.
fn ends_plain_run(c: u8) -> bool {
    // A table: this is asked of nearly every byte of every script.
    const ENDS: [bool; 256] = {
        let mut ends = [false; 256];
        let bytes = b" \t\r\n;&|()<>\\'\"$`";
        let mut k = 0;
        while k < bytes.len() {
            ends[bytes[k] as usize] = true;
            k += 1;
        }
        ends
    };
    ENDS[c as usize]
}

/// A run of ordinary characters of a word, taken whole rather than a character at a time. Every byte that ends a
/// run is ASCII, so the run ends on a character boundary. Returns where the run ends.
fn plain_run(text: &str, i: usize, ends_run: impl Fn(u8) -> bool, value: &mut Value) -> usize {
    let rest = &text.as_bytes()[i..];
    let n = rest.iter().skip(1).position(|&c| ends_run(c)).map_or(rest.len(), |n| n + 1);
    value.push_text(text, i..i + n);
    i + n
}

/// Scans `$name`, `${…}`, `$(…)`, `$((…))` or a backquoted command from `start`, in a word inside `nesting` quoted
/// words in substitutions. Returns the end and whether it was closed.
fn scan_expansion(text: &str, start: usize, nesting: usize) -> (usize, bool) {
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
                if nesting == MAX_NESTING {
                    return (b.len(), false);
                }
                let (end, _, ok) = scan_nested_word(text, i, nesting + 1);
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
