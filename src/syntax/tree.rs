//! The lossless syntax tree.
//!
//! Every byte of the input belongs to exactly one [`Node`]: one per blank line, comment line, parser directive, and
//! instruction (with its continuation lines, the comment lines inside them, and its heredoc bodies). Within nodes,
//! every byte belongs to exactly one [`Token`]; the tokens, in order, spell the input back byte for byte. Most
//! readers need only the nodes, the instructions and the comments, so the tokens are built the first time they are
//! asked for ([`SyntaxTree::tokens`]).
//!
//! Lines are grouped exactly as BuildKit's parser groups them, so that an instruction node holds precisely the
//! lines BuildKit reads as that instruction. Each instruction also keeps its *logical line*: the continuation
//! lines joined the way BuildKit joins them, with a map from every logical byte back to the source.

use crate::syntax::buildkit::{self, HeredocMarker, JsonArgs, SpannedWord};
use crate::syntax::text::TextRange;
use serde::Serialize;
use std::borrow::Cow;
use std::ops::Range;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// The UTF-8 byte-order mark at the start of the file.
    Bom,
    Whitespace,
    /// `\n`, `\r\n`, or any run of `\r` before a `\n`.
    Newline,
    Comment,
    /// A parser directive line, such as `# escape=``.
    Directive,
    /// The instruction word (`RUN`), and the instruction word under `ONBUILD`.
    Keyword,
    /// A `--name=value` word before the arguments.
    Flag,
    /// The arguments of an instruction on one physical line.
    Arguments,
    /// The escape character that continues a line, with any spaces and tabs after it.
    LineContinuation,
    /// One line of a heredoc body, without its newline.
    HeredocLine,
    /// The line that ends a heredoc.
    HeredocTerminator,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Token {
    pub kind: TokenKind,
    pub range: TextRange,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "index", rename_all = "snake_case")]
pub enum NodeKind {
    Bom,
    Blank,
    Comment,
    /// Index into [`SyntaxTree::directives`].
    Directive(usize),
    /// Index into [`SyntaxTree::instructions`].
    Instruction(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    /// Whole lines, each with its newline; the byte-order mark's node is its three bytes.
    pub range: TextRange,
}

/// A parser directive from the leading comment block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Directive {
    /// Lower-cased, as BuildKit compares it.
    pub name: String,
    pub value: String,
    pub range: TextRange,
    pub line: usize,
}

/// A problem with the input that BuildKit would reject, or that stops dockopt from reading it safely.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyntaxError {
    pub message: String,
    pub range: TextRange,
    /// What the user can do about it.
    pub help: String,
}

/// Continuation lines joined the way BuildKit joins them, with a map back to the source. A one-line
/// instruction borrows its text from the source; only joined lines are copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogicalLine<'src> {
    pub text: Cow<'src, str>,
    /// The source the text was joined from.
    source: &'src str,
    /// Source offset of logical offset 0.
    first: usize,
    /// `(logical offset, source offset)` where each further contiguous source segment starts.
    more: Vec<(usize, usize)>,
}

impl<'src> LogicalLine<'src> {
    /// The logical line of one line: `source[segment]`, borrowed.
    fn one(source: &'src str, segment: Range<usize>) -> Self {
        LogicalLine { first: segment.start, text: Cow::Borrowed(&source[segment]), source, more: Vec::new() }
    }

    /// The `segments` of `source` joined, in order. One segment is borrowed; several are copied into a string
    /// sized for all of them at once, since a RUN of many continuation lines would otherwise regrow it per line.
    fn join(source: &'src str, segments: impl Iterator<Item = Range<usize>> + Clone) -> Self {
        let (count, len) = segments.clone().fold((0, 0), |(count, len), r| (count + 1, len + r.len()));
        let mut segments = segments;
        let Some(first) = segments.next() else { return LogicalLine::default() };
        if count == 1 {
            return LogicalLine::one(source, first);
        }
        let mut text = String::with_capacity(len);
        let mut more = Vec::with_capacity(count - 1);
        let first_start = first.start;
        text.push_str(&source[first]);
        for segment in segments {
            more.push((text.len(), segment.start));
            text.push_str(&source[segment]);
        }
        LogicalLine { text: Cow::Owned(text), source, first: first_start, more }
    }

    /// The contiguous source segment that logical offset `logical` lies in: its logical start, its source start,
    /// and its logical end (where the next segment starts, or the end of the text).
    fn segment(&self, logical: usize) -> (usize, usize, usize) {
        let next = self.more.partition_point(|&(l, _)| l <= logical);
        let (start, source) = next.checked_sub(1).map_or((0, self.first), |k| self.more[k]);
        let end = self.more.get(next).map_or(self.text.len(), |&(l, _)| l);
        (start, source, end)
    }

    /// The source offset of a logical offset. The end of the text maps to the end of the last segment.
    pub fn source_offset(&self, logical: usize) -> usize {
        let (start, source, _) = self.segment(logical);
        source + (logical - start)
    }

    /// The source range that a logical range was read from; it spans any continuation lines in between.
    pub fn source_range(&self, logical: Range<usize>) -> TextRange {
        let start = self.source_offset(logical.start);
        if logical.is_empty() {
            return TextRange::empty(start);
        }
        TextRange::new(start, self.source_offset(logical.end - 1) + 1)
    }

    /// The slice of the logical text at `range`, and the source range it was read from. The text is borrowed from
    /// the source when it lies on one line, as nearly every word does; only a value that spans a continuation is
    /// copied.
    // Every value of every instruction is read through here. Inlined, a one-line instruction's value is made where
    // it is used; returned through memory, it was read back before its last bytes were written, which stalls.
    #[inline]
    pub fn slice(&self, range: Range<usize>) -> (Cow<'src, str>, TextRange) {
        // Most instructions are one line: their logical text is a slice of the source, with no segments to find.
        if self.more.is_empty() {
            let start = self.first + range.start;
            let end = start + range.len();
            return (Cow::Borrowed(&self.source[start..end]), TextRange::new(start, end));
        }
        self.slice_across(range)
    }

    /// [`LogicalLine::slice`] of an instruction with continuation lines.
    fn slice_across(&self, range: Range<usize>) -> (Cow<'src, str>, TextRange) {
        let (segment_start, segment_source, segment_end) = self.segment(range.start);
        if range.end > segment_end {
            return (Cow::Owned(self.text[range.clone()].to_string()), self.source_range(range));
        }
        let start = segment_source + (range.start - segment_start);
        let end = start + range.len();
        (Cow::Borrowed(&self.source[start..end]), TextRange::new(start, end))
    }
}

/// The keyword, flags and arguments of one instruction, in logical-line offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandSyntax {
    pub keyword: Range<usize>,
    /// Each flag as BuildKit reads it (`--from=build`), with the range of the word it came from.
    pub flags: Vec<SpannedWord>,
    /// The arguments after the flags, with surrounding whitespace trimmed.
    pub args: Range<usize>,
    /// The instruction under `ONBUILD`.
    pub sub: Option<Box<CommandSyntax>>,
}

/// A heredoc attached to a RUN, COPY or ADD instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeredocSyntax {
    pub marker: HeredocMarker,
    /// The body lines, each with its newline, exactly as written.
    pub body: TextRange,
    /// The line that ends the heredoc, without its newline; `None` when the file ends first.
    pub terminator: Option<TextRange>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstructionSyntax<'src> {
    /// From the keyword to the end of the last line (continuation or heredoc terminator), without its newline.
    pub range: TextRange,
    /// Whole lines: from the start of the first line to the end of the last, with its newline.
    pub line_range: TextRange,
    /// 1-based, as BuildKit counts them.
    pub start_line: usize,
    pub end_line: usize,
    pub logical: LogicalLine<'src>,
    pub command: CommandSyntax,
    pub heredocs: Vec<HeredocSyntax>,
}

#[derive(Clone, Debug)]
pub struct SyntaxTree<'src> {
    source: &'src str,
    /// Built from the nodes on first use: see [`SyntaxTree::tokens`].
    tokens: OnceLock<Vec<Token>>,
    pub nodes: Vec<Node>,
    /// Every comment line, from its `#` to the end of the line, without the newline: the lines that are nodes of
    /// their own and those among an instruction's continuation lines, in order.
    pub comments: Vec<TextRange>,
    pub directives: Vec<Directive>,
    pub instructions: Vec<InstructionSyntax<'src>>,
    /// The escape character in force: `\` or `` ` ``.
    pub escape: char,
    pub errors: Vec<SyntaxError>,
}

/// ONBUILD may wrap ONBUILD; BuildKit rejects that later, and dockopt stops descending here so that no input can
/// exhaust the stack.
const MAX_ONBUILD_DEPTH: usize = 8;

/// The longest line BuildKit's parser reads, newline aside (Go's `bufio.MaxScanTokenSize` - 1); a longer one is an
/// error there, and so here.
pub const MAX_LINE_LEN: usize = 65535;

const KNOWN_DIRECTIVES: [&str; 3] = ["syntax", "escape", "check"];

impl<'src> SyntaxTree<'src> {
    /// Reads a whole Dockerfile. Never fails: problems are listed in [`SyntaxTree::errors`] and the tree still
    /// holds every byte.
    pub fn parse(source: &'src str) -> SyntaxTree<'src> {
        Parser::new(source).run()
    }

    pub fn source(&self) -> &'src str {
        self.source
    }

    pub fn text(&self, range: TextRange) -> &'src str {
        &self.source[range.as_range()]
    }

    /// The text the tokens spell, which is the input.
    pub fn print(&self) -> String {
        let mut out = String::with_capacity(self.source.len());
        for token in self.tokens() {
            out.push_str(self.text(token.range));
        }
        out
    }

    /// Every token of the file, in order.
    pub fn tokens(&self) -> &[Token] {
        self.tokens.get_or_init(|| Tokenizer::new(self).run())
    }

    pub fn node_tokens(&self, node: &Node) -> &[Token] {
        let tokens = self.tokens();
        let start = tokens.partition_point(|t| t.range.start < node.range.start);
        let end = tokens.partition_point(|t| t.range.start < node.range.end);
        &tokens[start..end]
    }

    /// The comment lines that lie inside `range`.
    pub fn comments_in(&self, range: TextRange) -> &[TextRange] {
        let start = self.comments.partition_point(|c| c.start < range.start);
        let end = self.comments.partition_point(|c| c.end <= range.end);
        &self.comments[start..end.max(start)]
    }
}

#[derive(Clone, Copy)]
struct PhysicalLine {
    start: usize,
    /// Where the trailing run of `\r` and `\n` starts (BuildKit's `trimNewline`).
    content_end: usize,
    end: usize,
}

/// The physical lines of `source[range]`, where `range` starts at the start of a line, read one at a time.
struct Lines<'s> {
    bytes: &'s [u8],
    start: usize,
    /// One memchr pass over the whole range: a search per line pays the searcher's setup on every short line.
    newlines: memchr::Memchr<'s>,
    /// Where the range starts, which is where `newlines` counts from.
    base: usize,
    /// How many lines have been read.
    count: usize,
    /// The last line read.
    last: PhysicalLine,
    /// The first line read that is longer than BuildKit reads.
    too_long: Option<PhysicalLine>,
}

impl<'s> Lines<'s> {
    fn new(source: &'s str, range: Range<usize>) -> Self {
        let bytes = &source.as_bytes()[..range.end];
        Lines {
            bytes,
            start: range.start,
            newlines: memchr::memchr_iter(b'\n', &bytes[range.start..]),
            base: range.start,
            count: 0,
            last: PhysicalLine { start: range.start, content_end: range.start, end: range.start },
            too_long: None,
        }
    }

    /// Where the next line starts: the end of the range when there is none.
    fn next_start(&self) -> usize {
        self.start
    }
}

impl Iterator for Lines<'_> {
    type Item = PhysicalLine;

    fn next(&mut self) -> Option<PhysicalLine> {
        let start = self.start;
        if start >= self.bytes.len() {
            return None;
        }
        let newline = self.newlines.next().map(|i| self.base + i);
        let end = newline.map_or(self.bytes.len(), |i| i + 1);
        // The newline is the line's only `\n`: what may come before it is a run of `\r`.
        let mut content_end = newline.unwrap_or(end);
        let content = &self.bytes[start..content_end];
        // Nearly every line ends in a byte that is not `\r`: one look tells.
        if content.last() == Some(&b'\r') {
            content_end = start + content.iter().rposition(|&b| b != b'\r').map_or(0, |p| p + 1);
        }
        let line = PhysicalLine { start, content_end, end };
        if end - start - usize::from(newline.is_some()) > MAX_LINE_LEN && self.too_long.is_none() {
            self.too_long = Some(line);
        }
        self.start = end;
        self.count += 1;
        self.last = line;
        Some(line)
    }
}

/// A line's text without its indentation and without the continuation escape, if it has one: what it joins to
/// the logical line. The flag says whether it has the escape, so that the next line continues it.
fn line_text(source: &str, line: PhysicalLine, escape: char) -> (Range<usize>, bool) {
    let content = &source[line.start..line.content_end];
    let text_start = line.start + buildkit::leading_space_len(content);
    let marker = continuation_marker(&source[text_start..line.content_end], escape);
    (text_start..marker.map_or(line.content_end, |m| text_start + m), marker.is_some())
}

/// A parser directive (`# key = value`) as BuildKit recognises it: name and value ranges within `text`.
fn directive_parts(text: &str) -> Option<(Range<usize>, Range<usize>)> {
    use nom::bytes::complete::take_while;
    use nom::character::complete::{char, satisfy};
    use nom::combinator::recognize;
    use nom::sequence::{pair, preceded, terminated, tuple};
    type E<'a> = nom::error::Error<&'a str>;
    let is_re_s = |c: char| matches!(c, '\t' | '\n' | '\u{0c}' | '\r' | ' ');
    let name = recognize(pair(satisfy(|c| c.is_ascii_alphabetic()), take_while(|c: char| c.is_ascii_alphanumeric())));
    let (after_eq, (_, name)) = tuple((
        preceded(char::<&str, E>('#'), take_while(buildkit::is_space)),
        terminated(name, pair(take_while(is_re_s), char('='))),
    ))(text)
    .ok()?;
    let name_start = name.as_ptr() as usize - text.as_ptr() as usize;
    let eq_end = text.len() - after_eq.len();
    // `\s*(.+?)\s*$`: the value is trimmed, but when nothing but whitespace follows `=` the lazy group keeps
    // the last whitespace character.
    let value = after_eq.trim_matches(is_re_s);
    let value_range = if value.is_empty() {
        let last = after_eq.chars().next_back()?;
        text.len() - last.len_utf8()..text.len()
    } else {
        let start = eq_end + (after_eq.len() - after_eq.trim_start_matches(is_re_s).len());
        start..start + value.len()
    };
    Some((name_start..name_start + name.len(), value_range))
}

/// Where the line-continuation escape starts in `text`, following BuildKit's
/// `([^E])E[ \t]*$|^E[ \t]*$`: an escaped escape at the end of a line does not continue it.
/// The escape is ASCII, so bytes are compared: no byte of a multi-byte character equals it.
fn continuation_marker(text: &str, escape: char) -> Option<usize> {
    let escape = escape as u8;
    let bytes = text.as_bytes();
    let mut end = bytes.len();
    while end > 0 && matches!(bytes[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    if end == 0 || bytes[end - 1] != escape {
        return None;
    }
    let marker = end - 1;
    (marker == 0 || bytes[marker - 1] != escape).then_some(marker)
}

/// BuildKit's `splitCommand`, on `line[range]`: the keyword, the flags and the trimmed arguments.
fn split_command(line: &str, range: Range<usize>, depth: usize) -> CommandSyntax {
    let trimmed = buildkit::trim_space(line, range);
    // The keyword ends at the first run of `reWhitespace`, an ASCII class, so bytes are compared.
    let bytes = &line.as_bytes()[..trimmed.end];
    let is_separator = |b: &u8| buildkit::is_re_whitespace(char::from(*b));
    let keyword_end = bytes[trimmed.start..].iter().position(is_separator).map_or(trimmed.end, |i| trimmed.start + i);
    let keyword = trimmed.start..keyword_end;
    // The arguments start after the separators; a separator is always followed by more text, since `trimmed`
    // ends in none of its characters.
    let rest_start = bytes[keyword_end..].iter().position(|b| !is_separator(b)).map(|i| keyword_end + i);
    let (flags, args) = match rest_start {
        // After a separator, a text that does not start with `--` has no flags: `extractBuilderFlags` would stop
        // at its first byte. `trimmed` ends in no space, so when that byte is ASCII and no space either, the
        // arguments are the rest as it is.
        Some(rest_start) if !bytes[rest_start..].starts_with(b"--") => {
            let first = bytes[rest_start];
            let args = if first.is_ascii() && !buildkit::is_byte_space(first) {
                rest_start..trimmed.end
            } else {
                buildkit::trim_space(line, rest_start..trimmed.end)
            };
            (Vec::new(), args)
        }
        Some(rest_start) => {
            let rest = rest_start..trimmed.end;
            let (flags, args_start) = buildkit::extract_builder_flags(&line[rest.clone()]);
            let flags = flags
                .into_iter()
                .map(|(flag, r)| (flag, snap_to_chars(line, rest.start + r.start..rest.start + r.end)))
                .collect();
            let args_start = ceil_char_boundary(line, rest.start + args_start);
            (flags, buildkit::trim_space(line, args_start..rest.end))
        }
        None => (Vec::new(), trimmed.end..trimmed.end),
    };
    let sub = (line[keyword.clone()].eq_ignore_ascii_case("onbuild") && !args.is_empty() && depth < MAX_ONBUILD_DEPTH)
        .then(|| Box::new(split_command(line, args.clone(), depth + 1)));
    CommandSyntax { keyword, flags, args, sub }
}

fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i.min(s.len())
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// BuildKit walks flags byte by byte, so a flag may end inside a multi-byte character; tokens must not.
fn snap_to_chars(s: &str, r: Range<usize>) -> Range<usize> {
    floor_char_boundary(s, r.start)..ceil_char_boundary(s, r.end)
}

/// True when BuildKit reads heredocs for this instruction: RUN, COPY or ADD (also under ONBUILD) in shell form,
/// with a `<<` somewhere. One memchr for `<<` spares most lines reading JSON, and the heredoc lexer.
fn takes_heredocs(line: &str, command: &CommandSyntax) -> bool {
    let command = match &command.sub {
        Some(sub) if line[command.keyword.clone()].eq_ignore_ascii_case("onbuild") => sub,
        _ => command,
    };
    let keyword = &line[command.keyword.clone()];
    ["run", "copy", "add"].iter().any(|k| keyword.eq_ignore_ascii_case(k))
        && buildkit::has_heredoc_operator(line)
        && buildkit::parse_json_array(&line[command.args.clone()]) == JsonArgs::NotJson
}

/// One physical line of an instruction.
enum InstructionLine {
    /// Text that joins the logical line: before `text` is dropped indentation, after it the continuation escape
    /// and the newline.
    Text {
        line: PhysicalLine,
        text: Range<usize>,
    },
    /// A comment line among continuation lines, and its text from the `#`.
    Comment {
        line: PhysicalLine,
        text: Range<usize>,
    },
    Blank(PhysicalLine),
}

/// Reads the continuation lines that follow an instruction's first line, when it `continues`, from `lines` into
/// `parts`: comment and blank lines, and text lines until one that does not end in the escape.
fn continuation_lines(
    source: &str,
    escape: char,
    mut continues: bool,
    lines: &mut impl Iterator<Item = PhysicalLine>,
    parts: &mut Vec<InstructionLine>,
) {
    while continues {
        let Some(line) = lines.next() else { return };
        let content = &source[line.start..line.content_end];
        let text_start = line.start + buildkit::leading_space_len(content);
        if source[text_start..].starts_with('#') {
            parts.push(InstructionLine::Comment { line, text: text_start..line.content_end });
        } else if text_start == line.content_end {
            parts.push(InstructionLine::Blank(line));
        } else {
            let marker = continuation_marker(content, escape);
            continues = marker.is_some();
            let end = line.start + marker.unwrap_or(content.len());
            parts.push(InstructionLine::Text { line, text: line.start..end });
        }
    }
}

struct Parser<'src> {
    source: &'src str,
    lines: Lines<'src>,
    nodes: Vec<Node>,
    comments: Vec<TextRange>,
    directives: Vec<Directive>,
    instructions: Vec<InstructionSyntax<'src>>,
    errors: Vec<SyntaxError>,
    escape: char,
    /// Scratch buffer, reused from one instruction to the next.
    parts: Vec<InstructionLine>,
}

impl<'src> Parser<'src> {
    fn new(source: &'src str) -> Self {
        // Room for a node per 20 bytes and an instruction per 40, which holds the nodes of 94% of the corpus's files
        // and the instructions of 85%. With an instruction per 96 bytes, 60% of the files regrew the list, copying
        // every instruction read so far. Reserving for comments, which half the files have none of, cost more than
        // it saved.
        Parser {
            nodes: Vec::with_capacity(source.len() / 20 + 1),
            instructions: Vec::with_capacity(source.len() / 40 + 1),
            lines: Lines::new(source, 0..source.len()),
            source,
            comments: Vec::new(),
            directives: Vec::new(),
            errors: Vec::new(),
            escape: '\\',
            // Room for the lines of most instructions, so that it seldom regrows.
            parts: Vec::with_capacity(16),
        }
    }

    fn node(&mut self, kind: NodeKind, start: usize, end: usize) {
        if start < end {
            self.nodes.push(Node { kind, range: TextRange::new(start, end) });
        }
    }

    fn run(mut self) -> SyntaxTree<'src> {
        let mut directives_done = false;
        while let Some(mut line) = self.lines.next() {
            if self.lines.count == 1 && self.source.starts_with('\u{feff}') {
                self.node(NodeKind::Bom, 0, 3);
                line.start = 3;
            }
            let (text, continues) = line_text(self.source, line, self.escape);
            let unindented = &self.source[text.start..line.content_end];
            if !directives_done {
                match directive_parts(unindented) {
                    Some((name, value))
                        if KNOWN_DIRECTIVES.iter().any(|k| unindented[name.clone()].eq_ignore_ascii_case(k)) =>
                    {
                        self.directive(line, text.start, name, value);
                        continue;
                    }
                    _ => directives_done = true,
                }
            }
            if unindented.starts_with('#') {
                self.comments.push(TextRange::new(text.start, line.content_end));
                self.node(NodeKind::Comment, line.start, line.end);
                continue;
            }
            if !continues && unindented.is_empty() {
                self.node(NodeKind::Blank, line.start, line.end);
                continue;
            }
            self.instruction(line, text, continues);
        }
        if let Some(line) = self.lines.too_long {
            self.errors.push(SyntaxError {
                message: format!("dockerfile line greater than max allowed size of {MAX_LINE_LEN}"),
                range: TextRange::empty(line.start),
                help: "split the line with continuation lines: BuildKit reads no line longer than 64 KiB".into(),
            });
        }
        if self.instructions.is_empty() {
            self.errors.push(SyntaxError {
                message: "file with no instructions".into(),
                range: TextRange::empty(self.source.len()),
                help: "a Dockerfile needs at least one instruction, such as `FROM image`".into(),
            });
        }
        SyntaxTree {
            source: self.source,
            tokens: OnceLock::new(),
            nodes: self.nodes,
            comments: self.comments,
            directives: self.directives,
            instructions: self.instructions,
            escape: self.escape,
            errors: self.errors,
        }
    }

    fn directive(&mut self, line: PhysicalLine, text_start: usize, name: Range<usize>, value: Range<usize>) {
        let name = self.source[text_start + name.start..text_start + name.end].to_ascii_lowercase();
        let value = self.source[text_start + value.start..text_start + value.end].to_string();
        let range = TextRange::new(text_start, line.content_end);
        if self.directives.iter().any(|d| d.name == name) {
            self.errors.push(SyntaxError {
                message: format!("only one {name} parser directive can be used"),
                range,
                help: format!("remove all but one `# {name}=` line"),
            });
        } else if name == "escape" {
            match value.as_str() {
                "\\" => self.escape = '\\',
                "`" => self.escape = '`',
                _ => self.errors.push(SyntaxError {
                    message: format!("invalid escape token '{value}' does not match ` or \\"),
                    range,
                    help: "write `# escape=\\` or `# escape=``".into(),
                }),
            }
        }
        self.directives.push(Directive { name, value, range, line: self.lines.count });
        self.node(NodeKind::Directive(self.directives.len() - 1), line.start, line.end);
    }

    /// The logical line of an instruction whose first line, just read, continues: that line's `text` joined with
    /// the text of the continuation lines, which are read, their comment lines noted.
    fn joined_lines(&mut self, first_line: PhysicalLine, text: Range<usize>) -> LogicalLine<'src> {
        let mut parts = std::mem::take(&mut self.parts);
        parts.clear();
        parts.push(InstructionLine::Text { line: first_line, text });
        continuation_lines(self.source, self.escape, true, &mut self.lines, &mut parts);
        let logical = LogicalLine::join(
            self.source,
            parts.iter().filter_map(|part| match part {
                InstructionLine::Text { text, .. } => Some(text.clone()),
                _ => None,
            }),
        );
        self.comments.extend(parts.iter().filter_map(|part| match part {
            InstructionLine::Comment { text, .. } => Some(TextRange::new(text.start, text.end)),
            _ => None,
        }));
        self.parts = parts;
        logical
    }

    /// Reads the instruction whose first line, just read, is `first_line`, and whose joining text is `text`.
    fn instruction(&mut self, first_line: PhysicalLine, text: Range<usize>, continues: bool) {
        let source = self.source;
        let start_line = self.lines.count;
        // Most instructions are one line, which is its own logical line.
        let logical = if continues {
            self.joined_lines(first_line, text.clone())
        } else {
            LogicalLine::one(source, text.clone())
        };
        let command = split_command(&logical.text, 0..logical.text.len(), 0);
        let markers =
            if takes_heredocs(&logical.text, &command) { buildkit::heredoc_markers(&logical.text) } else { Vec::new() };

        let mut heredocs = Vec::with_capacity(markers.len());
        for marker in markers {
            let body_start = self.lines.next_start();
            let mut terminator = None;
            for line in self.lines.by_ref() {
                let content = &self.source[line.start..line.content_end];
                let candidate = if marker.chomp { content.trim_start_matches('\t') } else { content };
                if candidate == marker.name {
                    terminator = Some(line);
                    break;
                }
            }
            let body_end = terminator.map_or(self.source.len(), |l| l.start);
            if terminator.is_none() {
                self.errors.push(SyntaxError {
                    message: format!("unterminated heredoc: no line `{}` ends it", marker.name),
                    range: TextRange::new(text.start, first_line.content_end),
                    help: format!("add a line holding only `{}` after the heredoc body", marker.name),
                });
            }
            heredocs.push(HeredocSyntax {
                marker,
                body: TextRange::new(body_start, body_end),
                terminator: terminator.map(|l| TextRange::new(l.start, l.content_end)),
            });
        }

        let last = self.lines.last;
        self.instructions.push(InstructionSyntax {
            range: TextRange::new(text.start, last.content_end.max(text.start)),
            line_range: TextRange::new(first_line.start, last.end),
            start_line,
            end_line: self.lines.count,
            logical,
            command,
            heredocs,
        });
        self.node(NodeKind::Instruction(self.instructions.len() - 1), first_line.start, last.end);
    }
}

/// Builds the tokens of a parsed tree, node by node, reading each node's lines again.
struct Tokenizer<'t, 'src> {
    tree: &'t SyntaxTree<'src>,
    tokens: Vec<Token>,
    /// Scratch buffers, reused from one instruction to the next.
    parts: Vec<InstructionLine>,
    spans: Vec<(usize, TokenKind)>,
}

impl<'t, 'src> Tokenizer<'t, 'src> {
    fn new(tree: &'t SyntaxTree<'src>) -> Self {
        Tokenizer { tree, tokens: Vec::with_capacity(tree.nodes.len() * 4), parts: Vec::new(), spans: Vec::new() }
    }

    fn token(&mut self, kind: TokenKind, start: usize, end: usize) {
        if start < end {
            self.tokens.push(Token { kind, range: TextRange::new(start, end) });
        }
    }

    fn run(mut self) -> Vec<Token> {
        let tree = self.tree;
        for node in &tree.nodes {
            let mut lines = Lines::new(tree.source, node.range.as_range());
            match node.kind {
                NodeKind::Bom => self.token(TokenKind::Bom, node.range.start, node.range.end),
                NodeKind::Blank => self.line(TokenKind::Whitespace, lines.next()),
                NodeKind::Comment => self.line(TokenKind::Comment, lines.next()),
                NodeKind::Directive(_) => self.line(TokenKind::Directive, lines.next()),
                NodeKind::Instruction(i) => self.instruction(&tree.instructions[i], &mut lines),
            }
        }
        debug_assert!(self.tokens.windows(2).all(|w| w[0].range.end == w[1].range.start));
        self.tokens
    }

    /// Indentation, text and newline of a line that is a node of its own.
    fn line(&mut self, text_kind: TokenKind, line: Option<PhysicalLine>) {
        let Some(line) = line else { return };
        let content = &self.tree.source[line.start..line.content_end];
        let text_start = line.start + buildkit::leading_space_len(content);
        self.token(TokenKind::Whitespace, line.start, text_start);
        self.token(text_kind, text_start, line.content_end);
        self.token(TokenKind::Newline, line.content_end, line.end);
    }

    /// Keyword, flags and arguments where the logical line says they are, and indentation, continuation escapes,
    /// comment lines, heredoc lines and newlines around them.
    fn instruction(&mut self, syntax: &InstructionSyntax, lines: &mut impl Iterator<Item = PhysicalLine>) {
        let source = self.tree.source;
        let escape = self.tree.escape;
        let Some(first) = lines.next() else { return };
        let (text, continues) = line_text(source, first, escape);
        let mut parts = std::mem::take(&mut self.parts);
        parts.clear();
        parts.push(InstructionLine::Text { line: first, text });
        continuation_lines(source, escape, continues, lines, &mut parts);
        let mut spans = std::mem::take(&mut self.spans);
        classify(&syntax.logical.text, &syntax.command, &mut spans);
        let mut span_index = 0;
        let mut logical_pos = 0;
        for part in &parts {
            match *part {
                InstructionLine::Text { line, ref text } => {
                    self.token(TokenKind::Whitespace, line.start, text.start);
                    let logical_end = logical_pos + text.len();
                    while logical_pos < logical_end {
                        let (span_end, kind) = spans[span_index];
                        let end = span_end.min(logical_end);
                        let source_start = text.start + (logical_pos - (logical_end - text.len()));
                        self.token(kind, source_start, source_start + (end - logical_pos));
                        logical_pos = end;
                        if end == span_end {
                            span_index += 1;
                        }
                    }
                    self.token(TokenKind::LineContinuation, text.end, line.content_end);
                    self.token(TokenKind::Newline, line.content_end, line.end);
                }
                InstructionLine::Comment { line, ref text } => {
                    self.token(TokenKind::Whitespace, line.start, text.start);
                    self.token(TokenKind::Comment, text.start, text.end);
                    self.token(TokenKind::Newline, line.content_end, line.end);
                }
                InstructionLine::Blank(line) => {
                    self.token(TokenKind::Whitespace, line.start, line.content_end);
                    self.token(TokenKind::Newline, line.content_end, line.end);
                }
            }
        }
        self.parts = parts;
        self.spans = spans;
        // The lines left are the heredocs' bodies and terminators.
        for line in lines {
            let content = TextRange::new(line.start, line.content_end);
            let ends_heredoc = syntax.heredocs.iter().any(|h| h.terminator == Some(content));
            let kind = if ends_heredoc { TokenKind::HeredocTerminator } else { TokenKind::HeredocLine };
            self.token(kind, line.start, line.content_end);
            self.token(TokenKind::Newline, line.content_end, line.end);
        }
    }
}

/// Cuts the logical line into consecutive spans `(end, kind)` covering it entirely: keywords, flags and
/// arguments where the command says they are, whitespace between them.
fn classify(line: &str, command: &CommandSyntax, spans: &mut Vec<(usize, TokenKind)>) {
    spans.clear();
    let mut pos = 0;
    let mut mark = |range: &Range<usize>, kind: TokenKind, spans: &mut Vec<(usize, TokenKind)>| {
        let start = range.start.max(pos);
        let end = range.end.max(start);
        if start > pos {
            spans.push((start, TokenKind::Whitespace));
        }
        if end > start {
            spans.push((end, kind));
        }
        pos = end;
    };
    let mut command = command;
    loop {
        mark(&command.keyword, TokenKind::Keyword, spans);
        for (_, range) in &command.flags {
            mark(range, TokenKind::Flag, spans);
        }
        match &command.sub {
            Some(sub) => command = sub,
            None => break,
        }
    }
    mark(&command.args, TokenKind::Arguments, spans);
    if pos < line.len() || spans.is_empty() {
        spans.push((line.len(), TokenKind::Whitespace));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_follows_buildkit_regex() {
        assert_eq!(continuation_marker("RUN a \\", '\\'), Some(6));
        assert_eq!(continuation_marker("RUN a \\  \t", '\\'), Some(6));
        assert_eq!(continuation_marker("RUN a \\\\", '\\'), None);
        assert_eq!(continuation_marker("\\", '\\'), Some(0));
        assert_eq!(continuation_marker("RUN a `", '`'), Some(6));
        assert_eq!(continuation_marker("RUN a \\", '`'), None);
    }

    #[test]
    fn directive_value_is_trimmed_and_lazy() {
        let text = "#  escape = ` ";
        let (name, value) = directive_parts(text).unwrap();
        assert_eq!((&text[name], &text[value]), ("escape", "`"));
        assert!(directive_parts("# not a directive").is_none());
    }

    #[test]
    fn logical_line_maps_back_across_continuations() {
        let tree = SyntaxTree::parse("RUN a \\\n  # note\n  b\n");
        let ins = &tree.instructions[0];
        assert_eq!(ins.logical.text, "RUN a   b");
        let b = ins.logical.text.find('b').unwrap();
        assert_eq!(ins.logical.source_range(b..b + 1), TextRange::new(19, 20));
        assert_eq!(tree.print(), tree.source());
        assert_eq!((ins.start_line, ins.end_line), (1, 3));
    }

    #[test]
    fn a_slice_on_one_line_is_borrowed_and_one_across_lines_copied() {
        let tree = SyntaxTree::parse("RUN a \\\n  bc\n");
        let ins = &tree.instructions[0];
        assert_eq!(ins.logical.text, "RUN a   bc");
        let (bc, range) = ins.logical.slice(8..10);
        assert!(matches!(bc, Cow::Borrowed("bc")));
        assert_eq!(range, TextRange::new(10, 12));
        let (args, range) = ins.logical.slice(4..10);
        assert!(matches!(args, Cow::Owned(_)));
        assert_eq!((args.as_ref(), range), ("a   bc", TextRange::new(4, 12)));
        let (end, range) = ins.logical.slice(10..10);
        assert_eq!((end.as_ref(), range), ("", TextRange::empty(12)));
    }
}
