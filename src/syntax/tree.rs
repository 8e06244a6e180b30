//! The lossless syntax tree.
//!
//! Every byte of the input belongs to exactly one [`Node`]: one per blank line, comment line, parser directive, and
//! instruction (with its continuation lines, the comment lines inside them, and its heredoc bodies). Within nodes,
//! every byte belongs to exactly one [`Token`]; the tokens, in order, spell the input back byte for byte. Most
//! readers need only the nodes and the comments, so the tokens are built the first time they are asked for
//! ([`SyntaxTree::tokens`]).
//!
//! Lines are grouped exactly as BuildKit's parser groups them, so that an instruction node holds precisely the
//! lines BuildKit reads as that instruction. The tree is built in the same pass over the lines as the model (see
//! [`crate::syntax::parse`]); this module holds the line reading they share.

use crate::syntax::buildkit::{self, SpannedWord};
use crate::syntax::scan::BytePositions;
use crate::syntax::text::TextRange;
use serde::Serialize;
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
    /// The instruction's position among the file's instructions, those BuildKit rejects included: see
    /// [`crate::syntax::model::Statement::index`].
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

/// An instruction's logical line: its continuation lines joined the way BuildKit joins them, with a map from every
/// logical byte back to the source. A one-line instruction's is a slice of the source.
#[derive(Clone, Copy, Debug)]
pub struct LogicalLine<'a> {
    pub text: &'a str,
    /// Source offset of logical offset 0.
    first: usize,
    /// `(logical offset, source offset)` where each further contiguous source segment starts.
    more: &'a [(usize, usize)],
}

impl<'a> LogicalLine<'a> {
    pub(super) fn new(text: &'a str, first: usize, more: &'a [(usize, usize)]) -> Self {
        LogicalLine { text, first, more }
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
        if self.more.is_empty() {
            return self.first + logical;
        }
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

    /// The source range of a logical range, and whether the source there is the logical text itself: true when
    /// the range lies on one line, as nearly every word does, false when it spans a continuation.
    // Every value of every instruction is located through here. Inlined, a one-line instruction's value is made
    // where it is used.
    #[inline]
    pub(super) fn locate(&self, range: Range<usize>) -> (TextRange, bool) {
        // Most instructions are one line: their logical text is a slice of the source, with no segments to find.
        if self.more.is_empty() {
            let start = self.first + range.start;
            return (TextRange::new(start, start + range.len()), true);
        }
        let (segment_start, segment_source, segment_end) = self.segment(range.start);
        if range.end > segment_end {
            return (self.source_range(range), false);
        }
        let start = segment_source + (range.start - segment_start);
        (TextRange::new(start, start + range.len()), true)
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

impl CommandSyntax {
    /// BuildKit's `splitCommand` of a logical line.
    pub fn read(line: &str) -> CommandSyntax {
        CommandSyntax::of(line, 0..line.len(), 0)
    }

    fn of(line: &str, range: Range<usize>, depth: usize) -> CommandSyntax {
        let (keyword, flags, args) = split_command(line, range);
        let sub =
            (line[keyword.clone()].eq_ignore_ascii_case("onbuild") && !args.is_empty() && depth < MAX_ONBUILD_DEPTH)
                .then(|| Box::new(CommandSyntax::of(line, args.clone(), depth + 1)));
        CommandSyntax { keyword, flags, args, sub }
    }
}

#[derive(Clone, Debug)]
pub struct SyntaxTree<'src> {
    pub(super) source: &'src str,
    /// Built from the nodes on first use: see [`SyntaxTree::tokens`].
    pub(super) tokens: OnceLock<Vec<Token>>,
    pub nodes: Vec<Node>,
    /// Every comment line, from its `#` to the end of the line, without the newline: the lines that are nodes of
    /// their own and those among an instruction's continuation lines, in order.
    pub comments: Vec<TextRange>,
    pub directives: Vec<Directive>,
    /// The escape character in force: `\` or `` ` ``.
    pub escape: char,
    /// The lines that end heredocs, without their newlines, in order: the tokens tell them from body lines.
    pub(super) heredoc_terminators: Vec<TextRange>,
}

/// ONBUILD may wrap ONBUILD; BuildKit rejects that later, and dockopt stops descending here so that no input can
/// exhaust the stack.
pub(super) const MAX_ONBUILD_DEPTH: usize = 8;

/// The longest line BuildKit's parser reads, newline aside (Go's `bufio.MaxScanTokenSize` - 1); a longer one is an
/// error there, and so here.
pub const MAX_LINE_LEN: usize = 65535;

impl<'src> SyntaxTree<'src> {
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
        ranges_within(&self.comments, range)
    }

    /// The heredoc terminator lines that lie inside `range`.
    pub(super) fn heredoc_terminators_in(&self, range: TextRange) -> &[TextRange] {
        ranges_within(&self.heredoc_terminators, range)
    }
}

/// The ranges of `ranges`, in order and apart, that lie inside `range`.
fn ranges_within(ranges: &[TextRange], range: TextRange) -> &[TextRange] {
    let start = ranges.partition_point(|r| r.start < range.start);
    let end = ranges.partition_point(|r| r.end <= range.end);
    &ranges[start..end.max(start)]
}

#[derive(Clone, Copy)]
pub(super) struct PhysicalLine {
    pub(super) start: usize,
    /// Where the trailing run of `\r` and `\n` starts (BuildKit's `trimNewline`).
    pub(super) content_end: usize,
    pub(super) end: usize,
}

/// The physical lines of `source[range]`, where `range` starts at the start of a line, read one at a time.
pub(super) struct Lines<'s> {
    bytes: &'s [u8],
    start: usize,
    newlines: BytePositions<'s>,
    /// How many lines have been read.
    pub(super) count: usize,
    /// The last line read.
    pub(super) last: PhysicalLine,
    /// The first line read that is longer than BuildKit reads.
    pub(super) too_long: Option<PhysicalLine>,
}

impl<'s> Lines<'s> {
    pub(super) fn new(source: &'s str, range: Range<usize>) -> Self {
        let bytes = &source.as_bytes()[..range.end];
        Lines {
            bytes,
            start: range.start,
            newlines: BytePositions::new(bytes, range.start, b'\n'),
            count: 0,
            last: PhysicalLine { start: range.start, content_end: range.start, end: range.start },
            too_long: None,
        }
    }

    /// Where the next line starts: the end of the range when there is none.
    pub(super) fn next_start(&self) -> usize {
        self.start
    }

    /// Passes over the `lines` lines that end at `end`, as if they were read, without reading them.
    pub(super) fn skip_to(&mut self, end: usize, lines: usize) {
        self.start = end;
        self.newlines = BytePositions::new(self.bytes, end, b'\n');
        self.count += lines;
    }
}

impl Iterator for Lines<'_> {
    type Item = PhysicalLine;

    // Every line of every file is read here: called rather than inlined, each line cost 20 more instructions.
    // Since the mask of newlines, the compiler no longer inlines it on a hint: parse + model took 3.7% more
    // instructions and 2% more time.
    #[inline(always)]
    fn next(&mut self) -> Option<PhysicalLine> {
        let start = self.start;
        if start >= self.bytes.len() {
            return None;
        }
        let newline = self.newlines.next();
        let end = newline.map_or(self.bytes.len(), |i| i + 1);
        // The newline is the line's only `\n`: what may come before it is a run of `\r`.
        let mut content_end = newline.unwrap_or(end);
        // Nearly every line ends in a byte that is not `\r`: one look tells. An empty line's look is at its newline,
        // with no test for an empty line: a branch on that, the processor mispredicted where blank lines and
        // others alternate.
        if self.bytes.get(content_end.max(start + 1) - 1) == Some(&b'\r') {
            let content = &self.bytes[start..content_end];
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
pub(super) fn line_text(source: &str, line: PhysicalLine, escape: char) -> (Range<usize>, bool) {
    let content = &source[line.start..line.content_end];
    let text_start = line.start + buildkit::leading_space_len(content);
    let marker = continuation_marker(&source[text_start..line.content_end], escape);
    (text_start..marker.map_or(line.content_end, |m| text_start + m), marker.is_some())
}

/// A parser directive (`# key = value`) as BuildKit recognises it: name and value ranges within `text`.
pub(super) fn directive_parts(text: &str) -> Option<(Range<usize>, Range<usize>)> {
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

/// Where the first `reWhitespace` byte of `bytes` is. Keywords are short and of every length, so a byte loop
/// mispredicts its exit on nearly every instruction: the first eight bytes are tested at once instead.
fn keyword_len(bytes: &[u8]) -> Option<usize> {
    let is_separator = |b: &u8| buildkit::is_re_whitespace(char::from(*b));
    if let Some(chunk) = bytes.get(..8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        // The high bit of each byte below 0x21; above the lowest such byte, a borrow may set it too.
        let low = word.wrapping_sub(0x2121_2121_2121_2121) & !word & 0x8080_8080_8080_8080;
        if low != 0 {
            let first = low.trailing_zeros() as usize / 8;
            if is_separator(&bytes[first]) {
                return Some(first);
            }
        }
    }
    bytes.iter().position(is_separator)
}

/// BuildKit's `splitCommand`, on `line[range]`: the keyword, the flags and the trimmed arguments. An instruction
/// under ONBUILD is in the arguments, for the caller to split in turn.
pub(super) fn split_command(line: &str, range: Range<usize>) -> (Range<usize>, Vec<SpannedWord>, Range<usize>) {
    let trimmed = buildkit::trim_space(line, range);
    // The keyword ends at the first run of `reWhitespace`, an ASCII class, so bytes are compared.
    let bytes = &line.as_bytes()[..trimmed.end];
    let is_separator = |b: &u8| buildkit::is_re_whitespace(char::from(*b));
    let keyword_end = keyword_len(&bytes[trimmed.start..]).map_or(trimmed.end, |i| trimmed.start + i);
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
    (keyword, flags, args)
}

pub(super) fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
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
/// One physical line of an instruction.
pub(super) enum InstructionLine {
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
pub(super) fn continuation_lines(
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

/// Builds the tokens of a parsed tree, node by node, reading each node's lines again: an instruction's keyword,
/// flags and arguments are found again in its logical line.
struct Tokenizer<'t, 'src> {
    tree: &'t SyntaxTree<'src>,
    tokens: Vec<Token>,
    /// Scratch buffers, reused from one instruction to the next.
    parts: Vec<InstructionLine>,
    spans: Vec<(usize, TokenKind)>,
    logical: String,
}

impl<'t, 'src> Tokenizer<'t, 'src> {
    fn new(tree: &'t SyntaxTree<'src>) -> Self {
        Tokenizer {
            tree,
            tokens: Vec::with_capacity(tree.nodes.len() * 4),
            parts: Vec::new(),
            spans: Vec::new(),
            logical: String::new(),
        }
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
                NodeKind::Instruction(_) => self.instruction(&mut lines),
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
    fn instruction(&mut self, lines: &mut impl Iterator<Item = PhysicalLine>) {
        let source = self.tree.source;
        let escape = self.tree.escape;
        let Some(first) = lines.next() else { return };
        let (text, continues) = line_text(source, first, escape);
        let mut parts = std::mem::take(&mut self.parts);
        parts.clear();
        parts.push(InstructionLine::Text { line: first, text });
        continuation_lines(source, escape, continues, lines, &mut parts);
        self.logical.clear();
        for part in &parts {
            if let InstructionLine::Text { text, .. } = part {
                self.logical.push_str(&source[text.clone()]);
            }
        }
        let mut spans = std::mem::take(&mut self.spans);
        classify(&self.logical, &CommandSyntax::read(&self.logical), &mut spans);
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
            let ends_heredoc = self.tree.heredoc_terminators.binary_search_by_key(&content.start, |t| t.start).is_ok();
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
    fn lines_end_after_each_newline() {
        let text = format!("{}\r\n\n{}\nlast", "a".repeat(70), "b\n".repeat(40));
        let lines: Vec<&str> = Lines::new(&text, 0..text.len()).map(|l| &text[l.start..l.end]).collect();
        assert_eq!(lines, text.split_inclusive('\n').collect::<Vec<_>>());
        // From the middle of the text, as the tokens of one node read it.
        let from = text.find('b').unwrap();
        let lines: Vec<&str> = Lines::new(&text, from..from + 6).map(|l| &text[l.start..l.end]).collect();
        assert_eq!(lines, ["b\n", "b\n", "b\n"]);
    }

    #[test]
    fn keyword_ends_at_the_first_re_whitespace_byte() {
        let byte_loop = |text: &str| text.bytes().position(|b| buildkit::is_re_whitespace(char::from(b)));
        // Short and long keywords, each separator, bytes below 0x21 that are not separators (the first such byte
        // is not always the end), non-ASCII bytes, which the eight-byte test must not take for separators, and
        // texts shorter than eight bytes.
        for text in [
            "RUN x",
            "COPY\ta b",
            "FROM\u{0b}x",
            "ENV\u{0c}A=1",
            "ARG\r",
            "HEALTHCHECK NONE",
            "ENTRYPOINT [\"a\"]",
            "RU\nN x",
            "R\u{1}UN\tx",
            "R\u{0}\u{1f}\u{0}\u{0}\u{0}\u{0} x",
            "RÜN x",
            "ÉÉÉÉ\tx",
            "\u{a0}\u{85}RUN x",
            "RUN",
            "",
            " ",
            "ABCDEFG ",
            "ABCDEFGH ",
            "ABCDEFGHI",
            "!\"#$%&' x",
        ] {
            assert_eq!(keyword_len(text.as_bytes()), byte_loop(text), "{text:?}");
        }
    }

    #[test]
    fn directive_value_is_trimmed_and_lazy() {
        let text = "#  escape = ` ";
        let (name, value) = directive_parts(text).unwrap();
        assert_eq!((&text[name], &text[value]), ("escape", "`"));
        assert!(directive_parts("# not a directive").is_none());
    }
}
