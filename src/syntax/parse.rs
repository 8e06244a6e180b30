//! Reading a Dockerfile: one pass over its lines that builds the lossless tree and the model together.
//!
//! Lines are grouped into the tree's nodes as BuildKit's parser groups them, and each instruction is read as
//! BuildKit reads it the moment its lines are known, straight into the model's flat records: its words go to the
//! file's one list of words, as source ranges, and only a text BuildKit rewrote is copied. A second pass over
//! per-instruction records, or a list of words per instruction, cost a quarter more time than this.

use crate::syntax::buildkit::{self, JsonArgs, JsonString, PlainJson};
use crate::syntax::model::{
    self, Dockerfile, Heredoc, Instruction, JoinedLine, Kind, Logical, Span, StageNames, Statement, Text, Word,
};
use crate::syntax::text::TextRange;
use crate::syntax::tree::{
    ceil_char_boundary, continuation_lines, directive_parts, line_text, split_command, Directive, InstructionLine,
    Lines, LogicalLine, Node, NodeKind, PhysicalLine, SyntaxError, SyntaxTree, MAX_LINE_LEN, MAX_ONBUILD_DEPTH,
};
use std::borrow::Cow;
use std::ops::Range;
use std::sync::OnceLock;

const KNOWN_DIRECTIVES: [&str; 3] = ["syntax", "escape", "check"];

/// The longest source [`Dockerfile::parse`] reads, 2 GiB: the model counts words in 32 bits, and a file has at
/// most twice as many words as bytes (`ENV =` has two).
pub const MAX_SOURCE_LEN: usize = (u32::MAX / 2) as usize;

impl<'src> Dockerfile<'src> {
    /// Reads a whole Dockerfile. Never fails: problems are listed in [`Dockerfile::errors`] and
    /// [`Dockerfile::build_errors`], and the tree still holds every byte.
    ///
    /// # Panics
    ///
    /// When `source` is longer than [`MAX_SOURCE_LEN`]; the command line refuses such files before reading them.
    pub fn parse(source: &'src str) -> Dockerfile<'src> {
        assert!(source.len() <= MAX_SOURCE_LEN, "a Dockerfile of 2 GiB or more");
        Parser::new(source, None).run()
    }

    /// [`Dockerfile::parse`] of `source`, a text that edits made from the text of `earlier`; `offset_before` says
    /// where an offset of `source` was in that text, and may be wrong inside the text the edits wrote. Each
    /// instruction whose lines are those of an instruction of `earlier`, byte for byte, where the edits moved it,
    /// is taken from there, moved, instead of being read again: its reading depends on nothing but its lines and
    /// the escape character. So are the instructions after it that are still as they were, moved as far, with the
    /// comment and blank lines between them, at once. A round of fixes rewrites a few instructions of a file, and
    /// the next round reads all of it.
    pub fn parse_after_edits(
        source: &'src str,
        earlier: &Dockerfile<'_>,
        offset_before: &dyn Fn(usize) -> usize,
    ) -> Dockerfile<'src> {
        assert!(source.len() <= MAX_SOURCE_LEN, "a Dockerfile of 2 GiB or more");
        // In a file BuildKit rejects, a statement may be missing, or an instruction read past what it holds.
        let earlier = (earlier.errors.is_empty() && earlier.build_errors.is_empty())
            .then_some(Earlier { df: earlier, offset_before });
        Parser::new(source, earlier).run()
    }
}

/// The reading of a text that edits made the text being read from: see [`Dockerfile::parse_after_edits`].
struct Earlier<'e> {
    df: &'e Dockerfile<'e>,
    offset_before: &'e dyn Fn(usize) -> usize,
}

struct Parser<'src, 'e> {
    source: &'src str,
    earlier: Option<Earlier<'e>>,
    lines: Lines<'src>,
    escape: char,
    nodes: Vec<Node>,
    comments: Vec<TextRange>,
    directives: Vec<Directive>,
    heredoc_terminators: Vec<TextRange>,
    /// Problems with the lines: directives, line lengths, heredocs.
    errors: Vec<SyntaxError>,
    /// Instructions BuildKit's parser rejects.
    rejected: Vec<SyntaxError>,
    build_errors: Vec<SyntaxError>,
    /// How many instructions have been read, those rejected included.
    instruction_count: usize,
    statements: Vec<Statement>,
    words: Words,
    joined: Vec<JoinedLine>,
    heredocs: Vec<Heredoc<'src>>,
    /// Scratch buffer, reused from one instruction to the next.
    parts: Vec<InstructionLine>,
}

/// The file's words and the texts that are not their source as it stands, which instructions' words are added to.
struct Words {
    words: Vec<Word>,
    texts: Vec<Text>,
    /// The last joined line added, that of the instruction being read when it has one: where a value that spans
    /// its lines is read.
    joined_line: u32,
}

impl<'src, 'e> Parser<'src, 'e> {
    fn new(source: &'src str, earlier: Option<Earlier<'e>>) -> Self {
        // Room for a node per 20 bytes and an instruction per 40, which holds the nodes of 94% of the corpus's files
        // and the instructions of 85%; a list that regrows copies every record read so far. Room for a comment per
        // 64 bytes and a word per 20 likewise.
        Parser {
            source,
            earlier,
            lines: Lines::new(source, 0..source.len()),
            escape: '\\',
            nodes: Vec::with_capacity(source.len() / 20 + 1),
            comments: Vec::with_capacity(source.len() / 64 + 1),
            directives: Vec::new(),
            heredoc_terminators: Vec::new(),
            errors: Vec::new(),
            rejected: Vec::new(),
            build_errors: Vec::new(),
            instruction_count: 0,
            statements: Vec::with_capacity(source.len() / 40 + 1),
            words: Words { words: Vec::with_capacity(source.len() / 20 + 1), texts: Vec::new(), joined_line: 0 },
            joined: Vec::with_capacity(source.len() / 256 + 1),
            heredocs: Vec::new(),
            // Room for the lines of most instructions, so that it seldom regrows.
            parts: Vec::with_capacity(16),
        }
    }

    fn node(&mut self, kind: NodeKind, start: usize, end: usize) {
        if start < end {
            self.nodes.push(Node { kind, range: TextRange::new(start, end) });
        }
    }

    fn run(mut self) -> Dockerfile<'src> {
        let mut directives_done = false;
        while let Some(mut line) = self.lines.next() {
            if self.lines.count == 1 && self.source.starts_with('\u{feff}') {
                self.node(NodeKind::Bom, 0, 3);
                line.start = 3;
            }
            // An empty line is blank and ends the directives, as the tests below would find. Told by one test
            // before them: each of them tested for an empty line first, and the processor mispredicted each where
            // blank lines and others alternate.
            if line.content_end == line.start {
                directives_done = true;
                self.node(NodeKind::Blank, line.start, line.end);
                continue;
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
            if !self.take_earlier(line) {
                self.instruction(line, text, continues);
            }
        }
        if let Some(line) = self.lines.too_long {
            self.errors.push(SyntaxError {
                message: format!("dockerfile line greater than max allowed size of {MAX_LINE_LEN}"),
                range: TextRange::empty(line.start),
                help: "split the line with continuation lines: BuildKit reads no line longer than 64 KiB".into(),
            });
        }
        if self.instruction_count == 0 {
            self.errors.push(SyntaxError {
                message: "file with no instructions".into(),
                range: TextRange::empty(self.source.len()),
                help: "a Dockerfile needs at least one instruction, such as `FROM image`".into(),
            });
        }
        let mut errors = self.errors;
        errors.append(&mut self.rejected);
        errors.sort_by_key(|e| e.range.start);
        let tree = SyntaxTree {
            source: self.source,
            tokens: OnceLock::new(),
            nodes: self.nodes,
            comments: self.comments,
            directives: self.directives,
            escape: self.escape,
            heredoc_terminators: self.heredoc_terminators,
        };
        let mut df = Dockerfile {
            tree,
            statements: self.statements,
            stages: Vec::new(),
            errors,
            build_errors: Vec::new(),
            words: self.words.words,
            texts: self.words.texts,
            joined: self.joined,
            heredocs: self.heredocs,
            stage_names: StageNames::default(),
        };
        let mut build_errors = self.build_errors;
        (df.stages, df.stage_names) = model::stages(&df, &mut build_errors);
        df.build_errors = build_errors;
        df
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

    /// Takes the instruction whose first line, just read, is `first_line` from the earlier reading, when it has one
    /// whose lines are these, byte for byte, where the edits moved it, and with it the instructions after it that
    /// are here as they were, the lines between them included, moved as far: a round of fixes edits a few places,
    /// and leaves the text between them as it was. True when something was taken.
    fn take_earlier(&mut self, first_line: PhysicalLine) -> bool {
        let Some(Earlier { df: earlier, offset_before }) = self.earlier else { return false };
        if earlier.tree.escape != self.escape {
            return false;
        }
        let (to, from) = (first_line.start, offset_before(first_line.start));
        let statements = &earlier.statements;
        let Ok(first) = statements.binary_search_by_key(&from, |s| s.line_range.start) else { return false };
        let (source, before) = (self.source.as_bytes(), earlier.source().as_bytes());
        let shift = |offset: usize| offset - from + to;
        // Statement `k`, and the lines from `region_start` up to it, are here as they were. Read from where an
        // instruction ends, such lines read as they did, since nothing before them bears on how they read but the
        // escape character. One that ran to the end of its text could run on into what follows it here, unless
        // nothing does.
        let unchanged = |k: usize, region_start: usize| {
            let end = statements[k].line_range.end;
            (end != before.len() || shift(end) == source.len())
                && source.get(shift(region_start)..shift(end)) == Some(&before[region_start..end])
        };
        if !unchanged(first, from) {
            return false;
        }
        let mut last = first;
        while last + 1 < statements.len() && unchanged(last + 1, statements[last].line_range.end) {
            last += 1;
        }
        let region = TextRange::new(from, statements[last].line_range.end);
        let moved = |range: TextRange| TextRange::new(shift(range.start), shift(range.end));
        // The lines and instructions before the region are counted afresh; those in it keep their distances.
        let (first_line_number, first_index) = (statements[first].start_line(), statements[first].index());
        let (line_number, index) = (self.lines.count, self.instruction_count);
        let nodes = &earlier.tree.nodes;
        let first_node = nodes.partition_point(|n| n.range.start < region.start);
        for node in nodes[first_node..].iter().take_while(|n| n.range.end <= region.end) {
            let kind = match node.kind {
                NodeKind::Instruction(i) => NodeKind::Instruction(i - first_index + index),
                kind => kind,
            };
            self.nodes.push(Node { kind, range: moved(node.range) });
        }
        self.comments.extend(earlier.tree.comments_in(region).iter().map(|&c| moved(c)));
        self.heredoc_terminators.extend(earlier.tree.heredoc_terminators_in(region).iter().map(|&t| moved(t)));
        for taken in &statements[first..=last] {
            // The joined line first: the words that span its lines are read from it.
            let logical = match taken.logical {
                Logical::Line { end } => Logical::Line { end: shift(end as usize) as u32 },
                Logical::Joined(j) => {
                    let joined = &earlier.joined[j as usize];
                    let more = joined.more.iter().map(|&(logical, source)| (logical, shift(source))).collect();
                    Logical::Joined(self.push_joined(JoinedLine {
                        text: joined.text.clone(),
                        first: shift(joined.first),
                        more,
                    }))
                }
            };
            let instruction = self.words.moved(earlier, &taken.instruction, &moved);
            let heredocs_start = self.heredocs.len();
            for heredoc in earlier.heredocs(taken) {
                let body = moved(heredoc.body);
                self.heredocs.push(Heredoc {
                    name: heredoc.name.clone(),
                    content: &self.source[body.as_range()],
                    body,
                    ..*heredoc
                });
            }
            push_statement(
                &mut self.statements,
                instruction,
                (Span::new(heredocs_start, self.heredocs.len()), logical),
                (moved(taken.range), moved(taken.line_range)),
                [
                    taken.start_line() - first_line_number + line_number,
                    taken.end_line() - first_line_number + line_number,
                    taken.index() - first_index + index,
                ],
            );
        }
        self.instruction_count += last - first + 1;
        self.lines.skip_to(moved(region).end, statements[last].end_line() - first_line_number);
        true
    }

    /// Reads the continuation lines of an instruction whose first line, just read, continues, noting their comment
    /// lines, and adds that line's `text` joined with theirs to the joined lines.
    fn join_lines(&mut self, first_line: PhysicalLine, text: Range<usize>) {
        let mut parts = std::mem::take(&mut self.parts);
        parts.clear();
        parts.push(InstructionLine::Text { line: first_line, text: text.clone() });
        continuation_lines(self.source, self.escape, true, &mut self.lines, &mut parts);
        // Sized at once, a RUN of many continuation lines would otherwise regrow its text line after line: for the
        // source its lines span, which holds their texts, their escapes and indentation, and any comment lines among
        // them. The instructions of a file span no more than its source. Summing the texts' lengths first was a loop
        // more, whose end the processor mispredicted.
        let span = self.lines.last.content_end - text.start;
        let mut joined = JoinedLine {
            text: String::with_capacity(span),
            first: text.start,
            more: Vec::with_capacity(parts.len() - 1),
        };
        for (k, part) in parts.iter().enumerate() {
            match part {
                InstructionLine::Text { text, .. } => {
                    // The first line is where the logical line starts; each later one starts a segment.
                    if k > 0 {
                        joined.more.push((joined.text.len(), text.start));
                    }
                    joined.text.push_str(&self.source[text.clone()]);
                }
                InstructionLine::Comment { text, .. } => self.comments.push(TextRange::new(text.start, text.end)),
                InstructionLine::Blank(_) => {}
            }
        }
        self.push_joined(joined);
        self.parts = parts;
    }

    /// Adds the joined line of the instruction being read, which its words that span lines are read from.
    fn push_joined(&mut self, joined: JoinedLine) -> u32 {
        self.joined.push(joined);
        self.words.joined_line = self.joined.len() as u32 - 1;
        self.words.joined_line
    }

    /// Reads the instruction whose first line, just read, is `first_line`, and whose joining text is `text`.
    fn instruction(&mut self, first_line: PhysicalLine, text: Range<usize>, continues: bool) {
        let source = self.source;
        let start_line = self.lines.count;
        let index = self.instruction_count;
        self.instruction_count += 1;
        if continues {
            self.join_lines(first_line, text.clone());
        }
        // Most instructions are one line, which is its own logical line.
        let logical = if let (true, Some(joined)) = (continues, self.joined.last()) {
            LogicalLine::new(&joined.text, joined.first, &joined.more)
        } else {
            LogicalLine::new(&source[text.clone()], text.start, &[])
        };
        let (words_before, texts_before) = (self.words.words.len(), self.words.texts.len());
        let instruction = interpret(&logical, 0..logical.text.len(), self.escape, &mut self.words, 0);
        // BuildKit reads heredocs for RUN, COPY and ADD in shell form, also under ONBUILD, when there is a `<<`.
        let takes_heredocs = instruction.as_ref().is_ok_and(|ins| {
            let ins = ins.sub.as_deref().unwrap_or(ins);
            matches!(ins.kind, Kind::Run | Kind::Copy | Kind::Add) && !ins.json
        }) && buildkit::has_heredoc_operator(logical.text);
        let markers = if takes_heredocs { buildkit::heredoc_markers(logical.text) } else { Vec::new() };
        let logical_end = logical.text.len() + text.start;

        let heredocs_start = self.heredocs.len();
        for marker in markers {
            let body_start = self.lines.next_start();
            let mut terminator = None;
            for line in self.lines.by_ref() {
                let content = &source[line.start..line.content_end];
                let candidate = if marker.chomp { content.trim_start_matches('\t') } else { content };
                if candidate == marker.name {
                    terminator = Some(line);
                    break;
                }
            }
            let body_end = terminator.map_or(source.len(), |l| l.start);
            match terminator {
                Some(l) => self.heredoc_terminators.push(TextRange::new(l.start, l.content_end)),
                None => self.errors.push(SyntaxError {
                    message: format!("unterminated heredoc: no line `{}` ends it", marker.name),
                    range: TextRange::new(text.start, first_line.content_end),
                    help: format!("add a line holding only `{}` after the heredoc body", marker.name),
                }),
            }
            self.heredocs.push(Heredoc {
                name: marker.name,
                file_descriptor: marker.file_descriptor,
                chomp: marker.chomp,
                expand: marker.expand,
                content: &source[body_start..body_end],
                body: TextRange::new(body_start, body_end),
            });
        }

        let last = self.lines.last;
        let range = TextRange::new(text.start, last.content_end.max(text.start));
        self.node(NodeKind::Instruction(index), first_line.start, last.end);
        let instruction = match instruction {
            Ok(instruction) => instruction,
            Err((message, help)) => {
                // A rejected instruction is in the tree only: it leaves nothing in the model.
                self.words.words.truncate(words_before);
                self.words.texts.truncate(texts_before);
                if continues {
                    self.joined.pop();
                }
                self.rejected.push(SyntaxError { message, range, help });
                return;
            }
        };
        let inner = instruction.sub.as_deref().unwrap_or(&instruction);
        if inner.kind == Kind::Unknown {
            let keyword = inner.cmd.text_in(source, &self.words.texts, &self.joined);
            self.build_errors.push(model::unknown_instruction(keyword, inner.cmd.range));
        }
        let logical =
            if continues { Logical::Joined(self.words.joined_line) } else { Logical::Line { end: logical_end as u32 } };
        push_statement(
            &mut self.statements,
            instruction,
            (Span::new(heredocs_start, self.heredocs.len()), logical),
            (range, TextRange::new(first_line.start, last.end)),
            [start_line, self.lines.count, index],
        );
    }
}

/// Appends a statement to `statements`, each of its parts written straight into the list's next slot: its heredocs
/// and logical line, its range and its lines' range, and its first line, last line and index.
///
/// Built as one value and then pushed, a statement was put together on the stack with narrow stores and copied into
/// the list with 16-byte loads, which had to wait for those stores to complete, as a processor forwards one store
/// to a load but not several: perf put 8% of `Parser::run`'s samples on that copy. Written in place, parsing the
/// corpus takes 1.5% less time.
#[inline(always)]
fn push_statement(
    statements: &mut Vec<Statement>,
    instruction: Instruction,
    (heredocs, logical): (Span, Logical),
    (range, line_range): (TextRange, TextRange),
    [start_line, end_line, index]: [usize; 3],
) {
    statements.reserve(1);
    let slot = statements.spare_capacity_mut()[0].as_mut_ptr();
    // SAFETY: `reserve` made room for a statement at `slot`. Every field is written, through pointers that read
    // nothing, before the list's length takes the slot in.
    unsafe {
        (&raw mut (*slot).instruction).write(instruction);
        (&raw mut (*slot).heredocs).write(heredocs);
        (&raw mut (*slot).logical).write(logical);
        (&raw mut (*slot).range).write(range);
        (&raw mut (*slot).line_range).write(line_range);
        (&raw mut (*slot).start_line).write(start_line as u32);
        (&raw mut (*slot).end_line).write(end_line as u32);
        (&raw mut (*slot).index).write(index as u32);
        statements.set_len(statements.len() + 1);
    }
}

type Failure = (String, String);

impl Words {
    fn len(&self) -> usize {
        self.words.len()
    }

    /// `instruction` of `earlier`, its words added here with their ranges `moved`.
    fn moved(
        &mut self,
        earlier: &Dockerfile,
        instruction: &Instruction,
        moved: &impl Fn(TextRange) -> TextRange,
    ) -> Instruction {
        let cmd = self.moved_word(earlier, &instruction.cmd, moved);
        let flags_start = self.words.len();
        for word in earlier.flags(instruction) {
            let word = self.moved_word(earlier, word, moved);
            self.words.push(word);
        }
        let values_start = self.words.len();
        for word in earlier.values(instruction) {
            let word = self.moved_word(earlier, word, moved);
            self.words.push(word);
        }
        let values = Span::new(values_start, self.words.len());
        let sub = instruction.sub.as_ref().map(|sub| Box::new(self.moved(earlier, sub, moved)));
        Instruction {
            cmd,
            kind: instruction.kind,
            json: instruction.json,
            legacy_key_value: instruction.legacy_key_value,
            flags: Span::new(flags_start, values_start),
            values,
            args: instruction.args,
            sub,
        }
    }

    /// `word` of `earlier`, with its range `moved`. A word that spans lines is read from the joined line taken with
    /// its instruction.
    fn moved_word(&mut self, earlier: &Dockerfile, word: &Word, moved: &impl Fn(TextRange) -> TextRange) -> Word {
        match word.text_index() {
            None => word.moved_to(moved(word.range)),
            Some(k) => {
                let text = match &earlier.texts[k] {
                    Text::Rewritten(text) => Text::Rewritten(text.clone()),
                    &Text::Joined { start, end, .. } => Text::Joined { line: self.joined_line, start, end },
                };
                self.texts.push(text);
                Word::rewritten(moved(word.range), self.texts.len() - 1)
            }
        }
    }

    /// The word of logical-line text `logical`: verbatim source when it lies on one line, else read from the line
    /// the instruction's lines join into, which is `line`.
    // Every keyword and most values are made here: a call each cost 13M of the 594M instructions that parsing the
    // corpus takes, and a hint did not inline it.
    #[inline(always)]
    fn located(&mut self, line: &LogicalLine, logical: Range<usize>) -> Word {
        let (range, verbatim) = line.locate(logical.clone());
        if verbatim {
            Word::verbatim(range)
        } else {
            let (start, end) = (logical.start as u32, logical.end as u32);
            self.texts.push(Text::Joined { line: self.joined_line, start, end });
            Word::rewritten(range, self.texts.len() - 1)
        }
    }

    /// Adds a value that is logical-line text.
    #[inline]
    fn slice(&mut self, line: &LogicalLine, logical: Range<usize>) {
        let word = self.located(line, logical);
        self.words.push(word);
    }

    /// Adds a value BuildKit rewrote (quotes removed, JSON decoded), read from `logical`.
    fn rewritten(&mut self, line: &LogicalLine, text: String, logical: Range<usize>) {
        self.texts.push(Text::Rewritten(text));
        self.words.push(Word::rewritten(line.source_range(logical), self.texts.len() - 1));
    }

    /// Adds the strings of a JSON array whose literals are at `base` of the logical line. A string without escapes
    /// whose literal lies on one line is its source without the quotes, so its text is not copied.
    fn json_strings(&mut self, line: &LogicalLine, base: usize, strings: Vec<JsonString>) {
        for (value, r) in strings {
            let logical = base + r.start..base + r.end;
            match (value, line.locate(logical.clone())) {
                (Cow::Borrowed(_), (range, true)) => self.words.push(Word::unquoted(range)),
                (value, _) => self.rewritten(line, value.into_owned(), logical),
            }
        }
    }

    /// BuildKit's `parseStringsWhitespaceDelimited`.
    fn whitespace_words(&mut self, line: &LogicalLine, args: Range<usize>) {
        let rest = &line.text[args.clone()];
        if rest.is_empty() {
            return;
        }
        for r in buildkit::split_re_whitespace(rest, None) {
            self.slice(line, args.start + r.start..args.start + r.end);
        }
    }

    /// Adds the strings of the arguments at `args` of the logical line as values when they are a JSON array of
    /// strings, the exec form. True when they are; false, adding nothing, when they are not JSON.
    fn json_values(&mut self, line: &LogicalLine, args: Range<usize>) -> Result<bool, Failure> {
        let rest = &line.text[args.clone()];
        let (words_before, texts_before) = (self.words.len(), self.texts.len());
        // Most arrays are plain strings: each is added as it is read, with no list of them made first.
        let plain = buildkit::plain_json_strings(rest, |text, r| {
            let logical = args.start + r.start..args.start + r.end;
            match line.locate(logical.clone()) {
                (range, true) => self.words.push(Word::unquoted(range)),
                _ => self.rewritten(line, text.to_string(), logical),
            }
        });
        match plain {
            PlainJson::NotJson => Ok(false),
            PlainJson::Plain => Ok(true),
            PlainJson::Other => {
                self.words.truncate(words_before);
                self.texts.truncate(texts_before);
                match buildkit::decoded_json_array(rest) {
                    JsonArgs::Strings(strings) => {
                        self.json_strings(line, args.start, strings);
                        Ok(true)
                    }
                    JsonArgs::NotStringArray => Err(not_string_array()),
                    JsonArgs::NotJson => Ok(false),
                }
            }
        }
    }

    /// BuildKit's `parseMaybeJSON`: exec form when the arguments are a JSON array of strings, else one shell
    /// string. True for the exec form.
    fn maybe_json(&mut self, line: &LogicalLine, args: Range<usize>) -> Result<bool, Failure> {
        if args.is_empty() {
            return Ok(false);
        }
        let json = self.json_values(line, args.clone())?;
        if !json {
            self.slice(line, args);
        }
        Ok(json)
    }

    /// BuildKit's `parseNameVal` for ENV and LABEL: `KEY value` or `KEY=value ...`, flattened to key, value, ….
    /// True for the legacy `KEY value` form.
    fn key_values(
        &mut self,
        line: &LogicalLine,
        args: Range<usize>,
        keyword: &str,
        escape: char,
    ) -> Result<bool, Failure> {
        let rest = &line.text[args.clone()];
        let mut words = buildkit::parse_words(rest, escape);
        let Some(first) = words.next() else {
            return Ok(false);
        };
        let at = |r: Range<usize>| args.start + r.start..args.start + r.end;
        if !rest[first.clone()].contains('=') {
            let mut parts = buildkit::split_re_whitespace(rest, Some(2));
            let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
                return Err((format!("{keyword} must have two arguments"), format!("write `{keyword} name=value`")));
            };
            self.slice(line, at(key));
            self.slice(line, at(value));
            return Ok(true);
        }
        for r in std::iter::once(first).chain(words) {
            let w = &rest[r.clone()];
            let Some(eq) = w.find('=') else {
                return Err((
                    format!(
                        "Syntax error - can't find = in {}. Must be of the form: name=value",
                        buildkit::go_quote(w)
                    ),
                    format!("write every {keyword} item as `name=value`, quoting values that hold spaces"),
                ));
            };
            let start = args.start + r.start;
            self.slice(line, start..start + eq);
            self.slice(line, start + eq + 1..args.start + r.end);
        }
        Ok(false)
    }
}

/// BuildKit's dispatch table: how the instruction at `range` of a logical line, nested `depth` deep in ONBUILDs,
/// is split into keyword, flags and arguments, and its arguments into values, added to `words`.
fn interpret(
    line: &LogicalLine,
    range: Range<usize>,
    escape: char,
    words: &mut Words,
    depth: usize,
) -> Result<Instruction, Failure> {
    let text = line.text;
    let (keyword, flags, args) = split_command(text, range);
    let cmd = words.located(line, keyword.clone());
    let kind = Kind::from_keyword_in(text, keyword);
    let rest = &text[args.clone()];
    let flags_start = words.len();
    for (flag, range) in flags {
        // Most flags are written without quotes or escapes: their text is their source.
        if flag == line.text[range.clone()] {
            words.slice(line, range);
        } else {
            words.rewritten(line, flag, range);
        }
    }
    let flags = Span::new(flags_start, words.len());
    let values_start = words.len();
    let args_span = Span::new(args.start, args.end);
    let (mut json, mut legacy_key_value, mut sub) = (false, false, None);
    match kind {
        Kind::From | Kind::Expose => words.whitespace_words(line, args),
        Kind::Maintainer | Kind::Stopsignal | Kind::User | Kind::Workdir => {
            if !rest.is_empty() {
                words.slice(line, args);
            }
        }
        Kind::Run | Kind::Cmd | Kind::Entrypoint | Kind::Shell => json = words.maybe_json(line, args)?,
        Kind::Add | Kind::Copy | Kind::Volume => {
            json = words.json_values(line, args.clone())?;
            if !json {
                words.whitespace_words(line, args);
            }
        }
        Kind::Arg => {
            for r in buildkit::parse_words(rest, escape) {
                words.slice(line, args.start + r.start..args.start + r.end);
            }
        }
        Kind::Env | Kind::Label => {
            legacy_key_value = words.key_values(line, args, kind.keyword(), escape)?;
        }
        Kind::Healthcheck => {
            let bytes = rest.as_bytes();
            let sep = bytes.iter().position(|&b| buildkit::is_byte_space(b)).unwrap_or(bytes.len());
            if sep > 0 {
                let next =
                    bytes[sep..].iter().position(|&b| !buildkit::is_byte_space(b)).map_or(bytes.len(), |i| sep + i);
                let sep = ceil_char_boundary(rest, sep);
                let next = ceil_char_boundary(rest, next.max(sep));
                words.slice(line, args.start..args.start + sep);
                json = words.maybe_json(line, args.start + next..args.end)?;
            }
        }
        Kind::Onbuild => {
            if !args.is_empty() && depth < MAX_ONBUILD_DEPTH {
                let instruction = interpret(line, args.clone(), escape, words, depth + 1)?;
                json = instruction.json;
                sub = Some(Box::new(instruction));
            }
        }
        // BuildKit keeps an unknown instruction as one empty value.
        Kind::Unknown => words.slice(line, args.start..args.start),
    }
    // The values are the words read since the flags; an ONBUILD's are its instruction's. The record is made here,
    // whole, and written straight to where it is returned: made before the arguments were read and then changed,
    // its copy there waited for the stores that changed it (see `push_statement`), and parsing the corpus took 2%
    // more time.
    let values = Span::new(values_start, if sub.is_none() { words.len() } else { values_start });
    Ok(Instruction { cmd, kind, json, legacy_key_value, flags, values, args: args_span, sub })
}

fn not_string_array() -> Failure {
    (
        "when using JSON array syntax, arrays must be comprised of strings only".into(),
        "quote every element of the JSON array, or write the arguments in shell form".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_line_maps_back_across_continuations() {
        let df = Dockerfile::parse("RUN a \\\n  # note\n  b\n");
        let statement = &df.statements[0];
        let logical = df.logical(statement);
        assert_eq!(logical.text, "RUN a   b");
        let b = logical.text.find('b').unwrap();
        assert_eq!(logical.source_range(b..b + 1), TextRange::new(19, 20));
        assert_eq!(df.tree.print(), df.source());
        assert_eq!((statement.start_line, statement.end_line), (1, 3));
    }

    #[test]
    fn a_value_on_one_line_is_its_source_and_one_across_lines_is_read_from_the_joined_line() {
        let df = Dockerfile::parse("RUN a \\\n  bc\nRUN de\n");
        let logical = df.logical(&df.statements[0]);
        assert_eq!(logical.text, "RUN a   bc");
        assert_eq!(logical.locate(8..10), (TextRange::new(10, 12), true));
        assert_eq!(logical.locate(4..10), (TextRange::new(4, 12), false));
        assert_eq!(logical.locate(10..10), (TextRange::empty(12), true));
        let script = df.values(&df.statements[0].instruction)[0];
        assert_eq!((df.text(&script), script.range), ("a   bc", TextRange::new(4, 12)));
        assert_eq!(df.texts, [Text::Joined { line: 0, start: 4, end: 10 }], "the value that spans lines is not copied");
        let one_line = df.values(&df.statements[1].instruction)[0];
        assert_eq!((df.text(&one_line), one_line.range), ("de", TextRange::new(17, 19)));
        // Taken by a later round, after an edit that joins a line of its own before it: the value is read from
        // the joined line taken with it, which is the second.
        let edited = "RUN x \\\n  y\nRUN a \\\n  bc\nRUN de\n";
        let again = Dockerfile::parse_after_edits(edited, &df, &|offset| offset.saturating_sub(12));
        let script = again.values(&again.statements[1].instruction)[0];
        assert_eq!((again.text(&script), script.range), ("a   bc", TextRange::new(16, 24)));
        assert_eq!(again.texts[1], Text::Joined { line: 1, start: 4, end: 10 });
    }

    #[test]
    fn a_rejected_instruction_leaves_no_words_behind() {
        let df = Dockerfile::parse("FROM a\nENV A=1 B\nENV C=2\n");
        assert_eq!(df.errors.len(), 1);
        assert_eq!(df.statements.len(), 2);
        assert_eq!(df.value_texts(&df.statements[1].instruction).collect::<Vec<_>>(), ["C", "2"]);
        assert_eq!(df.words.len(), 3, "FROM's image and ENV C=2's name and value");
        let continued = Dockerfile::parse("FROM a\nENV A=1 \\\n  B\nRUN x \\\n  y\n");
        assert_eq!(continued.joined.len(), 1, "only the RUN's joined line is kept");
        assert_eq!(continued.logical(&continued.statements[1]).text, "RUN x   y");
        assert_eq!(df.statements[1].index, 2, "the rejected instruction keeps its place in the count");
    }
}
