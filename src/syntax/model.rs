//! What BuildKit sees in a Dockerfile: instructions with their keyword, flags, arguments and heredocs, and the
//! stages they form, beside the lossless [`SyntaxTree`]. Every value keeps the source range it was read from.
//!
//! The records are flat, so that reading a file allocates little: an instruction's flags and values are ranges
//! into one list of [`Word`]s for the file, and a word's text is the source it spans unless BuildKit rewrote it.
//! Read them through the [`Dockerfile`]: [`Dockerfile::values`], [`Dockerfile::flags`], [`Dockerfile::text`].

use crate::syntax::text::TextRange;
use crate::syntax::tree::{LogicalLine, SyntaxError, SyntaxTree};
use std::cmp::Ordering;
use std::ops::Range;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    From,
    Run,
    Cmd,
    Label,
    Maintainer,
    Expose,
    Env,
    Add,
    Copy,
    Entrypoint,
    Volume,
    User,
    Workdir,
    Arg,
    Onbuild,
    Stopsignal,
    Healthcheck,
    Shell,
    /// A word BuildKit's parser keeps but its next stage rejects.
    Unknown,
}

const KINDS: [(&str, Kind); 18] = [
    ("from", Kind::From),
    ("run", Kind::Run),
    ("cmd", Kind::Cmd),
    ("label", Kind::Label),
    ("maintainer", Kind::Maintainer),
    ("expose", Kind::Expose),
    ("env", Kind::Env),
    ("add", Kind::Add),
    ("copy", Kind::Copy),
    ("entrypoint", Kind::Entrypoint),
    ("volume", Kind::Volume),
    ("user", Kind::User),
    ("workdir", Kind::Workdir),
    ("arg", Kind::Arg),
    ("onbuild", Kind::Onbuild),
    ("stopsignal", Kind::Stopsignal),
    ("healthcheck", Kind::Healthcheck),
    ("shell", Kind::Shell),
];

/// A keyword of at most 16 bytes as the little-endian number of its bytes, zero-padded.
const fn pack(keyword: &str) -> u128 {
    let bytes = keyword.as_bytes();
    let mut padded = [0u8; 16];
    let mut i = 0;
    while i < bytes.len() {
        padded[i] = bytes[i];
        i += 1;
    }
    u128::from_le_bytes(padded)
}

/// A keyword's slot in [`KEYWORD_SLOTS`], from its first two bytes and its length: no two keywords share one, so a
/// word is told by one comparison, with no search whose length depends on which keyword it is.
const fn keyword_slot(first: u8, second: u8, len: usize) -> usize {
    (((first as usize) << 1) ^ second as usize ^ len) % 64
}

/// Each keyword, packed, with its kind, at its slot; the other slots hold `(0, Unknown)`, so a word that lands on
/// one is unknown whatever it packs to.
const KEYWORD_SLOTS: [(u128, Kind); 64] = {
    let mut slots = [(0, Kind::Unknown); 64];
    let mut i = 0;
    while i < KINDS.len() {
        let keyword = KINDS[i].0.as_bytes();
        let slot = keyword_slot(keyword[0], keyword[1], keyword.len());
        assert!(slots[slot].0 == 0, "two keywords share a slot: change keyword_slot");
        slots[slot] = (pack(KINDS[i].0), KINDS[i].1);
        i += 1;
    }
    slots
};

impl Kind {
    pub fn from_keyword(word: &str) -> Kind {
        // Every instruction has a keyword, so this runs once per instruction: the word, lower-cased, is compared
        // as one 16-byte number with the keyword at its slot.
        if word.is_empty() || word.len() > 16 {
            return Kind::Unknown;
        }
        let mut lower = [0u8; 16];
        for (l, b) in lower.iter_mut().zip(word.bytes()) {
            *l = b.to_ascii_lowercase();
        }
        Kind::from_lowered(u128::from_le_bytes(lower), word.len())
    }

    /// [`Kind::from_keyword`] of `text[keyword]`, reading the 16 bytes from the keyword's start as one number when
    /// `text` has them. Copying the keyword byte by byte, a loop as long as the keyword, mispredicted its end at
    /// nearly every instruction.
    #[inline]
    pub fn from_keyword_in(text: &str, keyword: std::ops::Range<usize>) -> Kind {
        let len = keyword.len();
        match text.as_bytes().get(keyword.start..).and_then(<[u8]>::first_chunk::<16>) {
            Some(bytes) if (1..=16).contains(&len) => {
                // Setting 0x20 lower-cases an ASCII letter. It changes other bytes too, but makes none of them a
                // lower-case letter, and keywords are nothing else: a word compares equal to a keyword only when
                // it is that keyword in some case. The bytes after the word are cleared.
                let word =
                    (u128::from_le_bytes(*bytes) | u128::from_le_bytes([0x20; 16])) & (u128::MAX >> (8 * (16 - len)));
                Kind::from_lowered(word, len)
            }
            _ => Kind::from_keyword(&text[keyword]),
        }
    }

    /// The kind of a word of `len` bytes, 1 to 16, packed as [`pack`] packs a keyword, its letters lower-cased.
    #[inline]
    fn from_lowered(word: u128, len: usize) -> Kind {
        let (keyword, kind) = KEYWORD_SLOTS[keyword_slot(word as u8, (word >> 8) as u8, len)];
        if keyword == word {
            kind
        } else {
            Kind::Unknown
        }
    }

    /// The upper-case keyword; empty for [`Kind::Unknown`].
    pub fn keyword(self) -> &'static str {
        match self {
            Kind::From => "FROM",
            Kind::Run => "RUN",
            Kind::Cmd => "CMD",
            Kind::Label => "LABEL",
            Kind::Maintainer => "MAINTAINER",
            Kind::Expose => "EXPOSE",
            Kind::Env => "ENV",
            Kind::Add => "ADD",
            Kind::Copy => "COPY",
            Kind::Entrypoint => "ENTRYPOINT",
            Kind::Volume => "VOLUME",
            Kind::User => "USER",
            Kind::Workdir => "WORKDIR",
            Kind::Arg => "ARG",
            Kind::Onbuild => "ONBUILD",
            Kind::Stopsignal => "STOPSIGNAL",
            Kind::Healthcheck => "HEALTHCHECK",
            Kind::Shell => "SHELL",
            Kind::Unknown => "",
        }
    }
}

/// A value and the source range it was read from. For a value that spans continuation lines, the range covers
/// them too. Its text is read through [`Dockerfile::text`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Word {
    pub range: TextRange,
    /// Index into [`Dockerfile`]'s texts, or [`VERBATIM`] or [`UNQUOTED`] when the text is the source.
    text: u32,
}

/// The text of a [`Word`] that is not its source as it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Text {
    /// What BuildKit rewrote: quotes removed, escapes resolved, JSON decoded.
    Rewritten(String),
    /// A value that spans continuation lines, read where BuildKit reads it, in the line they join into:
    /// `joined[line].text[start..end]`.
    Joined { line: u32, start: u32, end: u32 },
}

/// A [`Word`] whose text is its source.
const VERBATIM: u32 = u32::MAX;
/// A [`Word`] whose text is its source without the quotes around it: a JSON string with no escape.
const UNQUOTED: u32 = u32::MAX - 1;

/// A run of consecutive items of one of [`Dockerfile`]'s lists: an instruction's words, a statement's heredocs.
/// 32 bits hold any index of a file [`Dockerfile::parse`] reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    pub(super) fn new(start: usize, end: usize) -> Span {
        Span { start: start as u32, end: end as u32 }
    }

    fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heredoc<'src> {
    pub name: String,
    pub file_descriptor: u64,
    /// `<<-`: BuildKit strips leading tabs from the body when it uses it.
    pub chomp: bool,
    /// False when the delimiter was quoted, so variables in the body are not expanded.
    pub expand: bool,
    /// The body exactly as written, each line with its newline.
    pub content: &'src str,
    pub body: TextRange,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// The keyword as written (BuildKit keeps the spelling).
    pub cmd: Word,
    pub kind: Kind,
    /// Exec form: the arguments were a JSON array of strings.
    pub json: bool,
    /// ENV and LABEL: the legacy `KEY value` form rather than `KEY=value`.
    pub legacy_key_value: bool,
    /// Flags as BuildKit reads them: `--from=build`, quotes and escapes resolved. Read through
    /// [`Dockerfile::flags`].
    pub(super) flags: Span,
    /// The arguments, split the way BuildKit splits this instruction's arguments. Read through
    /// [`Dockerfile::values`].
    pub(super) values: Span,
    /// The arguments after the flags, unsplit, in logical-line offsets. Read through [`Instruction::args`].
    pub(super) args: Span,
    /// The instruction under ONBUILD.
    pub sub: Option<Box<Instruction>>,
}

impl Instruction {
    /// The arguments after the flags, unsplit, in logical-line offsets.
    pub fn args(&self) -> Range<usize> {
        self.args.range()
    }
}

/// Where a statement's logical line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Logical {
    /// A one-line instruction's logical line is its source up to offset `end`, from the keyword.
    Line { end: u32 },
    /// Index into [`Dockerfile`]'s joined lines.
    Joined(u32),
}

/// One instruction of the file with everything that locates it.
///
/// The parser writes each record into the file's list a field at a time. Its line numbers and index are 32 bits
/// wide, which hold those of any file [`Dockerfile::parse`] reads, and are read through methods: that keeps the
/// record to 128 bytes, two cache lines, which is what every instruction read costs in memory written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub instruction: Instruction,
    /// Read through [`Dockerfile::heredocs`].
    pub(super) heredocs: Span,
    pub(super) logical: Logical,
    pub range: TextRange,
    pub line_range: TextRange,
    /// Read through [`Statement::start_line`].
    pub(super) start_line: u32,
    /// Read through [`Statement::end_line`].
    pub(super) end_line: u32,
    /// Read through [`Statement::index`].
    pub(super) index: u32,
}

const _: () = assert!(std::mem::size_of::<Statement>() <= 128, "a Statement is two cache lines: see its doc");

impl Statement {
    /// The 1-based line the instruction starts on.
    pub fn start_line(&self) -> usize {
        self.start_line as usize
    }

    /// The 1-based line the instruction ends on, its heredocs' included.
    pub fn end_line(&self) -> usize {
        self.end_line as usize
    }

    /// The instruction's position among the file's instructions, those BuildKit rejects included: its node in the
    /// tree is [`NodeKind::Instruction`](crate::syntax::tree::NodeKind::Instruction) of it.
    pub fn index(&self) -> usize {
        self.index as usize
    }
}

/// Continuation lines joined as BuildKit joins them: the text, where it starts in the source, and `(logical
/// offset, source offset)` where each further contiguous source segment starts.
#[derive(Clone, Debug)]
pub(super) struct JoinedLine {
    pub(super) text: String,
    pub(super) first: usize,
    pub(super) more: Vec<(usize, usize)>,
}

/// A build stage: a FROM and the instructions after it. Its name and base are words of the file, read through the
/// [`Dockerfile`], which copies no text but what BuildKit rewrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    pub index: usize,
    /// The word after `AS`: read through [`Dockerfile::stage_name`].
    name: Option<Word>,
    /// The image or stage reference after FROM: read through [`Dockerfile::base`].
    base: Option<Word>,
    /// Set when `base` names an earlier stage.
    pub base_stage: Option<usize>,
    /// The stage at the top of the chain of base stages this one is built on: the first that is built FROM an
    /// image rather than a stage. Itself when `base` names no stage.
    pub root: usize,
    /// Statement indices, the FROM included.
    pub statements: Range<usize>,
    /// Earlier stages this one reads: its base, `COPY --from` and `RUN --mount=from=`.
    pub depends_on: Vec<usize>,
}

#[derive(Clone, Debug)]
pub struct Dockerfile<'src> {
    pub tree: SyntaxTree<'src>,
    /// The instructions BuildKit's parser accepts, in order; one it rejects is listed in `errors` instead.
    pub statements: Vec<Statement>,
    pub stages: Vec<Stage>,
    /// Input BuildKit's parser rejects.
    pub errors: Vec<SyntaxError>,
    /// Input BuildKit's parser accepts but its next stage rejects, such as an unknown instruction.
    pub build_errors: Vec<SyntaxError>,
    pub(super) words: Vec<Word>,
    /// The texts BuildKit rewrote (quotes removed, JSON decoded, continuation lines joined): see
    /// [`Dockerfile::text`].
    pub(super) texts: Vec<Text>,
    pub(super) joined: Vec<JoinedLine>,
    pub(super) heredocs: Vec<Heredoc<'src>>,
    pub(super) stage_names: StageNames,
}

impl Word {
    /// A word whose text is the source at `range`.
    pub(super) fn verbatim(range: TextRange) -> Word {
        Word { range, text: VERBATIM }
    }

    /// A word whose text is the source at `range` without its first and last byte, its quotes.
    pub(super) fn unquoted(range: TextRange) -> Word {
        Word { range, text: UNQUOTED }
    }

    /// A word whose text is `texts[index]`.
    pub(super) fn rewritten(range: TextRange, index: usize) -> Word {
        Word { range, text: index as u32 }
    }

    /// The same word, read from `range`: where the edits of a round moved it.
    pub(super) fn moved_to(&self, range: TextRange) -> Word {
        Word { range, ..*self }
    }

    /// Where its text is among the rewritten texts; `None` when it is its source.
    pub(super) fn text_index(&self) -> Option<usize> {
        (self.text < UNQUOTED).then_some(self.text as usize)
    }

    /// Its text, in the file of `source` whose texts and joined lines are `texts` and `joined`.
    pub(super) fn text_in<'a>(&self, source: &'a str, texts: &'a [Text], joined: &'a [JoinedLine]) -> &'a str {
        match self.text {
            VERBATIM => &source[self.range.as_range()],
            UNQUOTED => &source[self.range.start + 1..self.range.end - 1],
            k => match &texts[k as usize] {
                Text::Rewritten(text) => text,
                &Text::Joined { line, start, end } => &joined[line as usize].text[start as usize..end as usize],
            },
        }
    }
}

/// `Dockerfile::parse` and `Dockerfile::parse_after_edits` are in [`crate::syntax::parse`], which builds the
/// records.
impl<'src> Dockerfile<'src> {
    pub fn source(&self) -> &'src str {
        self.tree.source()
    }

    /// Instructions that add a layer to the final image: the RUN, COPY and ADD of the last stage and of the stages
    /// it is built `FROM`. A builder stage's layers stay behind when a later stage copies from it.
    pub fn layer_count(&self) -> usize {
        let Some(last) = self.stages.last() else { return 0 };
        self.built_on(last)
            .flat_map(|s| &self.statements[s.statements.clone()])
            .filter(|s| matches!(s.instruction.kind, Kind::Run | Kind::Copy | Kind::Add))
            .count()
    }

    /// `stage` and the stages it is built `FROM`, one after another down to the one built on an image.
    pub fn built_on<'a>(&'a self, stage: &'a Stage) -> impl Iterator<Item = &'a Stage> {
        std::iter::successors(Some(stage), |s| s.base_stage.map(|b| &self.stages[b]))
    }

    /// The stage a statement belongs to; `None` for the ARGs before the first FROM.
    pub fn stage_of(&self, statement: usize) -> Option<&Stage> {
        // Stages are in order and their statements adjoin.
        let k = self.stages.partition_point(|s| s.statements.end <= statement);
        self.stages.get(k).filter(|s| s.statements.contains(&statement))
    }

    /// The stage that `reference` (the value of a `--from`: a stage's name or index) names in statement
    /// `statement`: one of the stages before the statement's own, as BuildKit resolves it.
    pub fn referenced_stage(&self, statement: usize, reference: &str) -> Option<usize> {
        let own = self.stage_of(statement)?.index;
        self.stage_names.find(self, &self.stages, own, reference)
    }

    /// The image or stage reference after a stage's FROM, as written; empty when the FROM has none.
    pub fn base(&self, stage: &Stage) -> &str {
        stage.base.as_ref().map_or("", |word| self.text(word))
    }

    /// The name a stage's FROM gives it after `AS`, as written: BuildKit matches it without ASCII case.
    pub fn stage_name(&self, stage: &Stage) -> Option<&str> {
        stage.name.as_ref().map(|word| self.text(word))
    }

    /// The text BuildKit reads for `word`: the source it spans, or what BuildKit made of it (quotes removed, JSON
    /// decoded, continuation lines joined).
    pub fn text(&self, word: &Word) -> &str {
        word.text_in(self.tree.source(), &self.texts, &self.joined)
    }

    /// An instruction's arguments, split the way BuildKit splits that instruction's arguments.
    pub fn values(&self, instruction: &Instruction) -> &[Word] {
        &self.words[instruction.values.range()]
    }

    /// An instruction's flags as BuildKit reads them: `--from=build`, quotes and escapes resolved.
    pub fn flags(&self, instruction: &Instruction) -> &[Word] {
        &self.words[instruction.flags.range()]
    }

    /// The text of each of an instruction's values.
    pub fn value_texts<'d>(&'d self, instruction: &Instruction) -> impl DoubleEndedIterator<Item = &'d str> {
        self.values(instruction).iter().map(|w| self.text(w))
    }

    /// The text of each of an instruction's flags.
    pub fn flag_texts<'d>(&'d self, instruction: &Instruction) -> impl Iterator<Item = &'d str> {
        self.flags(instruction).iter().map(|w| self.text(w))
    }

    /// A statement's heredocs, in the order of their markers.
    pub fn heredocs(&self, statement: &Statement) -> &[Heredoc<'src>] {
        &self.heredocs[statement.heredocs.range()]
    }

    /// The logical line of a statement: continuations joined as BuildKit joins them.
    pub fn logical(&self, statement: &Statement) -> LogicalLine<'_> {
        match statement.logical {
            Logical::Line { end } => {
                LogicalLine::new(&self.source()[statement.range.start..end as usize], statement.range.start, &[])
            }
            Logical::Joined(k) => {
                let joined = &self.joined[k as usize];
                LogicalLine::new(&joined.text, joined.first, &joined.more)
            }
        }
    }
}

/// The error for an instruction of unknown keyword `word`, at `range`, with the keyword it may be a typo of.
pub(super) fn unknown_instruction(word: &str, range: TextRange) -> SyntaxError {
    const KNOWN: &str = "Dockerfile instructions are FROM, RUN, COPY, ADD, ENV, ARG, WORKDIR, USER, LABEL, EXPOSE, \
                         VOLUME, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, STOPSIGNAL, ONBUILD and MAINTAINER";
    let lower = word.to_ascii_lowercase();
    // Words whose length differs from a keyword's by more than 2 are more than 2 edits away from it.
    let suggestion = KINDS
        .iter()
        .filter(|(k, _)| lower.len().abs_diff(k.len()) <= 2)
        .filter_map(|(k, _)| Some((edit_distance_up_to_2(&lower, k)?, k)))
        .min();
    let help = match suggestion {
        Some((_, keyword)) => format!("did you mean `{}`? {KNOWN}", keyword.to_ascii_uppercase()),
        None => KNOWN.to_string(),
    };
    SyntaxError { message: ["unknown instruction: ", word].concat(), range, help }
}

/// The edit distance between `word` and `keyword`, one of [`KINDS`], when it is at most 2: a suggestion is never
/// further. `keyword` is at most 11 ASCII letters, so the one row of distances fits on the stack. The corpus has
/// tens of thousands of unknown instructions, from templates, whose words are mostly nothing like a keyword: once
/// a row has no distance of 2 or less, none that follows has, and the search stops.
fn edit_distance_up_to_2(word: &str, keyword: &str) -> Option<usize> {
    // An edit brings in at most one character and takes away at most one: a word that lacks more than 2 of the
    // keyword's letters, or holds more than 2 kinds of character the keyword lacks, is more than 2 edits away.
    // Comparing the two sets costs a fraction of one row of distances, and most unknown words stop here.
    let (in_word, in_keyword) = (letters(word), letters(keyword));
    if (in_keyword & !in_word).count_ones() > 2 || (in_word & !in_keyword).count_ones() > 2 {
        return None;
    }
    let keyword = keyword.as_bytes();
    let mut row = [0usize; 12];
    for (j, distance) in row.iter_mut().enumerate() {
        *distance = j;
    }
    let row = &mut row[..=keyword.len()];
    for (i, c) in word.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &k) in keyword.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(c != char::from(k))).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
        if row.iter().all(|&distance| distance > 2) {
            return None;
        }
    }
    Some(row[keyword.len()]).filter(|&distance| distance <= 2)
}

/// The set of lower-case ASCII letters in `word`, one bit each, and one more bit for any other character: lumping
/// those together can only make two words look closer than they are, never further.
fn letters(word: &str) -> u32 {
    word.chars().fold(0, |set, c| set | if c.is_ascii_lowercase() { 1 << (c as u32 - 'a' as u32) } else { 1 << 26 })
}

/// Splits the statements into stages and records which earlier stages each one reads.
pub(super) fn stages(df: &Dockerfile, build_errors: &mut Vec<SyntaxError>) -> (Vec<Stage>, StageNames) {
    let statements = &df.statements;
    let mut stages: Vec<Stage> = Vec::new();
    for (i, statement) in statements.iter().enumerate() {
        let ins = &statement.instruction;
        if ins.kind != Kind::From {
            continue;
        }
        let name = match df.values(ins) {
            [_] => None,
            &[_, as_, name] if df.text(&as_).eq_ignore_ascii_case("as") => Some(name),
            _ => {
                build_errors.push(SyntaxError {
                    message: "FROM requires either one or three arguments".into(),
                    range: statement.range,
                    help: "write `FROM image` or `FROM image AS name`".into(),
                });
                None
            }
        };
        let base = df.values(ins).first().copied();
        if let Some(last) = stages.last_mut() {
            last.statements.end = i;
        }
        stages.push(Stage {
            index: stages.len(),
            name,
            base,
            base_stage: None,
            root: stages.len(),
            statements: i..statements.len(),
            depends_on: Vec::new(),
        });
    }
    let names = StageNames::new(df, &stages);
    // For each stage, the last stage that listed it among what it reads: a stage that copies from the same stage
    // a thousand times lists it once, without searching its list a thousand times. Made at the first flag that
    // names a stage, which most files do not have.
    let mut listed_by: Option<Vec<Option<usize>>> = None;
    for k in 0..stages.len() {
        let base_stage = names.find(df, &stages, k, df.base(&stages[k]));
        let mut depends_on: Vec<usize> = base_stage.into_iter().collect();
        for ins in statements[stages[k].statements.clone()].iter().map(|s| &s.instruction) {
            for flag in df.flag_texts(ins) {
                let reference = match (ins.kind, flag.strip_prefix("--from=")) {
                    (Kind::Copy | Kind::Add, Some(from)) => Some(from),
                    (Kind::Run, None) => {
                        flag.strip_prefix("--mount=").and_then(|m| m.split(',').find_map(|kv| kv.strip_prefix("from=")))
                    }
                    _ => None,
                };
                if let Some(found) = reference.and_then(|r| names.find(df, &stages, k, r)) {
                    let listed_by = listed_by.get_or_insert_with(|| vec![None; stages.len()]);
                    // The base, listed first, is not marked in `listed_by`.
                    if base_stage != Some(found) && listed_by[found] != Some(k) {
                        listed_by[found] = Some(k);
                        depends_on.push(found);
                    }
                }
            }
        }
        stages[k].base_stage = base_stage;
        // A base stage comes before the stage, so its root is known.
        stages[k].root = base_stage.map_or(k, |b| stages[b].root);
        stages[k].depends_on = depends_on;
    }
    (stages, names)
}

/// The named stages, sorted by name and then by index, so that a reference is found by a binary search rather
/// than by reading every stage before it: a file of thousands of stages took time that grew with the square of
/// their number.
#[derive(Clone, Debug, Default)]
pub(super) struct StageNames {
    /// Stage indices. Names are compared without ASCII case, as BuildKit matches them.
    sorted: Vec<usize>,
}

/// The order of stage names, which BuildKit matches without ASCII case: that of their lower-cased bytes, compared
/// as they are read, so that no name is copied to be lower-cased.
fn cmp_names(a: &str, b: &str) -> Ordering {
    let lower = |byte: u8| byte.to_ascii_lowercase();
    a.bytes().map(lower).cmp(b.bytes().map(lower))
}

impl StageNames {
    fn new(df: &Dockerfile, stages: &[Stage]) -> StageNames {
        let mut sorted: Vec<usize> = stages.iter().filter(|s| s.name.is_some()).map(|s| s.index).collect();
        let name = |i: usize| df.stage_name(&stages[i]).unwrap_or_default();
        // Stable: the stages of one name stay in order of index.
        sorted.sort_by(|&a, &b| cmp_names(name(a), name(b)));
        StageNames { sorted }
    }

    /// The stage that `reference` names among the first `count` of `stages`: the last one of that name, compared
    /// without case, as BuildKit resolves it, or the one at that index, as `COPY --from=0` allows.
    fn find(&self, df: &Dockerfile, stages: &[Stage], count: usize, reference: &str) -> Option<usize> {
        // The first FROM of every file asks, with no stage before it.
        if count == 0 {
            return None;
        }
        // Most references are image names, which cannot be indices: only what starts like a number is parsed as
        // one.
        if matches!(reference.as_bytes().first(), Some(b'0'..=b'9' | b'+')) {
            if let Ok(index) = reference.parse::<usize>() {
                return (index < count).then_some(index);
            }
        }
        if self.sorted.is_empty() {
            return None;
        }
        let name = |i: usize| df.stage_name(&stages[i]).unwrap_or_default();
        // Past the stages named before `reference`, and those of its name from `count` on, the one just before is
        // the last stage of its name before `count`, if it has its name.
        let end = self.sorted.partition_point(|&i| cmp_names(name(i), reference).then(i.cmp(&count)).is_lt());
        let &found = self.sorted[..end].last()?;
        name(found).eq_ignore_ascii_case(reference).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(src: &str) -> Vec<Vec<String>> {
        let df = Dockerfile::parse(src);
        df.statements.iter().map(|s| df.value_texts(&s.instruction).map(str::to_string).collect()).collect()
    }

    #[test]
    fn every_value_points_at_its_source() {
        let df =
            Dockerfile::parse("FROM alpine AS build\nENV A=1 \\\n  B=\"x y\"\nCOPY --from=build [\"a\", \"b\"] /\n");
        for s in &df.statements {
            for w in df.values(&s.instruction) {
                let (source, text) = (df.tree.text(w.range), df.text(w));
                assert!(source.contains(text.trim_matches('"')) || text.is_empty(), "{w:?} vs {source:?}");
            }
        }
        assert_eq!(df.stage_name(&df.stages[0]), Some("build"));
    }

    #[test]
    fn json_strings_are_read_from_their_source_or_decoded() {
        // Without escapes, on one line, across lines, with an escape, and a literal split by a continuation.
        let src = "CMD [\"a b\", \\\n  \"c\"]\nCMD [\"d\\\"e\", \"\\u0066\"]\nCMD [\"g\\\nh\"]\n";
        assert_eq!(values(src), [vec!["a b", "c"], vec!["d\"e", "f"], vec!["gh"]]);
        // The same words when a later round takes the instructions from the earlier reading.
        let df = Dockerfile::parse(src);
        let edited = format!("# new\n{src}");
        let again = Dockerfile::parse_after_edits(&edited, &df, &|offset| offset.saturating_sub(6));
        let texts = |df: &Dockerfile| -> Vec<String> {
            df.statements.iter().flat_map(|s| df.value_texts(&s.instruction).map(str::to_string)).collect()
        };
        assert_eq!(texts(&again), texts(&df));
    }

    #[test]
    fn env_forms() {
        assert_eq!(values("ENV a b c\nENV a=1 b=\"2 3\"\n"), [vec!["a", "b c"], vec!["a", "1", "b", "\"2 3\""]]);
        assert_eq!(Dockerfile::parse("ENV a\n").errors[0].message, "ENV must have two arguments");
    }

    #[test]
    fn stages_know_their_dependencies() {
        let df = Dockerfile::parse("FROM golang AS build\nRUN go build\nFROM build AS test\nFROM alpine\nCOPY --from=build /a /a\nRUN --mount=type=bind,from=test,target=/t true\n");
        assert_eq!(df.stages.len(), 3);
        assert_eq!(df.stages[1].base_stage, Some(0));
        assert_eq!(df.stages[2].depends_on, vec![0, 1]);
        assert_eq!(df.stages[0].statements, 0..2);
    }

    #[test]
    fn a_reference_names_the_last_earlier_stage_of_that_name_in_any_case() {
        let df = Dockerfile::parse(
            "FROM a AS x\nFROM b AS X\nFROM x AS y\nCOPY --from=X /a /a\nFROM y AS x\nCOPY --from=x /b /b\n\
             COPY --from=0 /c /c\nCOPY --from=0 /d /d\nCOPY --from=4 /e /e\nCOPY --from=z /f /f\n",
        );
        let bases: Vec<_> = df.stages.iter().map(|s| s.base_stage).collect();
        assert_eq!(bases, [None, None, Some(1), Some(2)]);
        let roots: Vec<_> = df.stages.iter().map(|s| s.root).collect();
        assert_eq!(roots, [0, 1, 1, 1]);
        // Its own name names an earlier stage; an index names one only when it is earlier, and each is listed once.
        assert_eq!(df.stages[2].depends_on, [1]);
        assert_eq!(df.stages[3].depends_on, [2, 1, 0]);
        assert_eq!(df.referenced_stage(5, "X"), Some(1));
        assert_eq!(df.referenced_stage(5, "x"), Some(1));
        assert_eq!(df.referenced_stage(3, "x"), Some(1));
        assert_eq!(df.referenced_stage(3, "y"), None);
        assert_eq!(df.referenced_stage(8, "4"), None);
        assert_eq!(df.referenced_stage(8, "z"), None);
        // An index is read as Go's `strconv.Atoi` reads it, a sign included; a name that starts with a digit is a
        // name.
        assert_eq!(df.referenced_stage(8, "+2"), Some(2));
        assert_eq!(df.referenced_stage(8, "2x"), None);
    }

    #[test]
    fn keywords_are_told_in_any_case_and_nothing_else_is_one() {
        for (keyword, kind) in KINDS {
            assert_eq!(Kind::from_keyword(keyword), kind);
            assert_eq!(Kind::from_keyword(&keyword.to_ascii_uppercase()), kind);
            assert_eq!(kind.keyword(), keyword.to_ascii_uppercase());
            // One byte more, one less, or one changed: not a keyword.
            assert_eq!(Kind::from_keyword(&format!("{keyword}s")), Kind::Unknown);
            assert_eq!(Kind::from_keyword(&keyword[1..]), Kind::Unknown);
            assert_eq!(Kind::from_keyword(&format!("x{}", &keyword[1..])), Kind::Unknown);
        }
        for word in ["", "r", "rün", "healthcheckhealthcheck", "\u{0}"] {
            assert_eq!(Kind::from_keyword(word), Kind::Unknown, "{word:?}");
        }
        // Read in a text with 16 bytes or more from the word's start, and in one with fewer: the same answers,
        // for keywords in any case, words a byte off them, and words of bytes that setting 0x20 changes.
        let mut words: Vec<String> = ["", "r", "rün", "healthcheckhealthcheck", "\u{0}", "@", "RU[", "ru~", "EN\u{6}"]
            .map(String::from)
            .to_vec();
        for (keyword, _) in KINDS {
            words.extend([
                keyword.to_string(),
                keyword.to_ascii_uppercase(),
                format!("{keyword}s"),
                keyword[1..].into(),
            ]);
        }
        for word in &words {
            for text in [format!("{word} --flag=value and the rest"), word.clone()] {
                assert_eq!(Kind::from_keyword_in(&text, 0..word.len()), Kind::from_keyword(word), "{text:?}");
            }
        }
    }

    #[test]
    fn edit_distance_counts_characters_up_to_2() {
        assert_eq!(edit_distance_up_to_2("expost", "expose"), Some(1));
        assert_eq!(edit_distance_up_to_2("", "healthcheck"), None);
        assert_eq!(edit_distance_up_to_2("rün", "run"), Some(1));
        assert_eq!(edit_distance_up_to_2("maintanerr", "maintainer"), Some(2));
        assert_eq!(edit_distance_up_to_2("form", "from"), Some(2));
        assert_eq!(edit_distance_up_to_2("copy", "copy"), Some(0));
        // Three edits: one more than a suggestion may be, found at the last character or long before it.
        assert_eq!(edit_distance_up_to_2("fxxx", "from"), None);
        assert_eq!(edit_distance_up_to_2("{{ru", "run"), None);
        assert_eq!(edit_distance_up_to_2("xxxxxun", "run"), None);
    }

    #[test]
    fn stopping_early_finds_what_the_whole_search_finds() {
        fn edit_distance(word: &str, keyword: &str) -> usize {
            let (word, keyword): (Vec<char>, Vec<char>) = (word.chars().collect(), keyword.chars().collect());
            let mut row: Vec<usize> = (0..=keyword.len()).collect();
            for (i, &c) in word.iter().enumerate() {
                let mut prev = row[0];
                row[0] = i + 1;
                for (j, &k) in keyword.iter().enumerate() {
                    let cur = row[j + 1];
                    row[j + 1] = (prev + usize::from(c != k)).min(row[j] + 1).min(cur + 1);
                    prev = cur;
                }
            }
            row[keyword.len()]
        }
        let pieces = ["", "r", "u", "n", "x", "ü", "{", "un", "ro", "fr", "om", "ea", "th"];
        for (keyword, _) in KINDS {
            for a in pieces {
                for b in pieces {
                    for word in [format!("{a}{keyword}{b}"), format!("{a}{b}"), format!("{}{a}{b}", &keyword[1..])] {
                        let whole = edit_distance(&word, keyword);
                        assert_eq!(edit_distance_up_to_2(&word, keyword), (whole <= 2).then_some(whole), "{word}");
                    }
                }
            }
        }
    }

    #[test]
    fn unknown_instruction_is_a_build_error_with_a_suggestion() {
        let df = Dockerfile::parse("FROM a\nRUNN x\n");
        assert!(df.errors.is_empty());
        assert!(df.build_errors[0].help.starts_with("did you mean `RUN`?"));
    }
}
