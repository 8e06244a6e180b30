//! What BuildKit sees in a Dockerfile: instructions with their keyword, flags, arguments and heredocs, and the
//! stages they form. Built over the [`SyntaxTree`]; every value keeps the source range it was read from.

use crate::syntax::buildkit::{self, JsonArgs};
use crate::syntax::text::TextRange;
use crate::syntax::tree::{CommandSyntax, LogicalLine, SyntaxError, SyntaxTree};
use std::borrow::Cow;
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
        let (keyword, kind) = KEYWORD_SLOTS[keyword_slot(lower[0], lower[1], word.len())];
        if keyword == u128::from_le_bytes(lower) {
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
/// them too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word<'src> {
    /// Borrowed from the source when it is verbatim source text. Read through [`Dockerfile::text`].
    text: Cow<'src, str>,
    pub range: TextRange,
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
pub struct Instruction<'src> {
    /// The keyword as written (BuildKit keeps the spelling).
    pub cmd: Word<'src>,
    pub kind: Kind,
    /// Flags as BuildKit reads them: `--from=build`, quotes and escapes resolved. Read through
    /// [`Dockerfile::flags`].
    flags: Vec<Word<'src>>,
    /// Exec form: the arguments were a JSON array of strings.
    pub json: bool,
    /// The arguments, split the way BuildKit splits this instruction's arguments. Read through
    /// [`Dockerfile::values`].
    value: Vec<Word<'src>>,
    /// ENV and LABEL: the legacy `KEY value` form rather than `KEY=value`.
    pub legacy_key_value: bool,
    /// The arguments after the flags, unsplit, in logical-line offsets.
    pub args: Range<usize>,
    /// The instruction under ONBUILD.
    pub sub: Option<Box<Instruction<'src>>>,
}

/// One instruction of the file with everything that locates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement<'src> {
    pub instruction: Instruction<'src>,
    /// Read through [`Dockerfile::heredocs`].
    heredocs: Vec<Heredoc<'src>>,
    pub range: TextRange,
    pub line_range: TextRange,
    pub start_line: usize,
    pub end_line: usize,
    /// Index into [`SyntaxTree::instructions`].
    pub index: usize,
}

/// A build stage: a FROM and the instructions after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    pub index: usize,
    /// Lower-cased, as BuildKit matches stage names.
    pub name: Option<String>,
    /// The image or stage reference after FROM, as written.
    pub base: String,
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
    pub statements: Vec<Statement<'src>>,
    pub stages: Vec<Stage>,
    /// Input BuildKit's parser rejects.
    pub errors: Vec<SyntaxError>,
    /// Input BuildKit's parser accepts but its next stage rejects, such as an unknown instruction.
    pub build_errors: Vec<SyntaxError>,
    stage_names: StageNames,
}

impl<'src> Dockerfile<'src> {
    pub fn parse(source: &'src str) -> Dockerfile<'src> {
        let tree = SyntaxTree::parse(source);
        let mut errors = tree.errors.clone();
        let mut build_errors = Vec::new();
        let mut statements = Vec::with_capacity(tree.instructions.len());
        for (index, syntax) in tree.instructions.iter().enumerate() {
            let instruction = match interpret(&syntax.logical, &syntax.command, tree.escape) {
                Ok(instruction) => instruction,
                Err((message, help)) => {
                    errors.push(SyntaxError { message, range: syntax.range, help });
                    continue;
                }
            };
            if let Some(error) = unknown_instruction(&instruction) {
                build_errors.push(error);
            }
            // Few instructions have heredocs, and collecting from an empty iterator still costs a call.
            let heredocs = if syntax.heredocs.is_empty() {
                Vec::new()
            } else {
                syntax
                    .heredocs
                    .iter()
                    .map(|h| Heredoc {
                        name: h.marker.name.clone(),
                        file_descriptor: h.marker.file_descriptor,
                        chomp: h.marker.chomp,
                        expand: h.marker.expand,
                        content: tree.text(h.body),
                        body: h.body,
                    })
                    .collect()
            };
            statements.push(Statement {
                instruction,
                heredocs,
                range: syntax.range,
                line_range: syntax.line_range,
                start_line: syntax.start_line,
                end_line: syntax.end_line,
                index,
            });
        }
        errors.sort_by_key(|e| e.range.start);
        let (stages, stage_names) = stages(&statements, &mut build_errors);
        Dockerfile { tree, statements, stages, errors, build_errors, stage_names }
    }

    pub fn source(&self) -> &'src str {
        self.tree.source()
    }

    /// Instructions that add a layer to the final image: the RUN, COPY and ADD of the last stage and of the stages
    /// it is built `FROM`. A builder stage's layers stay behind when a later stage copies from it.
    pub fn layer_count(&self) -> usize {
        let mut count = 0;
        let mut stage = self.stages.last();
        while let Some(s) = stage {
            let statements = &self.statements[s.statements.clone()];
            count +=
                statements.iter().filter(|s| matches!(s.instruction.kind, Kind::Run | Kind::Copy | Kind::Add)).count();
            stage = s.base_stage.map(|b| &self.stages[b]);
        }
        count
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
        self.stage_names.find(&self.stages, own, reference)
    }

    /// The text BuildKit reads for `word`: the source it spans, or what BuildKit made of it (quotes removed, JSON
    /// decoded, continuation lines joined).
    pub fn text<'d>(&'d self, word: &'d Word<'src>) -> &'d str {
        &word.text
    }

    /// An instruction's arguments, split the way BuildKit splits that instruction's arguments.
    pub fn values<'d>(&'d self, instruction: &'d Instruction<'src>) -> &'d [Word<'src>] {
        &instruction.value
    }

    /// An instruction's flags as BuildKit reads them: `--from=build`, quotes and escapes resolved.
    pub fn flags<'d>(&'d self, instruction: &'d Instruction<'src>) -> &'d [Word<'src>] {
        &instruction.flags
    }

    /// The text of each of an instruction's values.
    pub fn value_texts<'d>(&'d self, instruction: &'d Instruction<'src>) -> impl DoubleEndedIterator<Item = &'d str> {
        self.values(instruction).iter().map(|w| self.text(w))
    }

    /// The text of each of an instruction's flags.
    pub fn flag_texts<'d>(&'d self, instruction: &'d Instruction<'src>) -> impl Iterator<Item = &'d str> {
        self.flags(instruction).iter().map(|w| self.text(w))
    }

    /// A statement's heredocs, in the order of their markers.
    pub fn heredocs<'d>(&'d self, statement: &'d Statement<'src>) -> &'d [Heredoc<'src>] {
        &statement.heredocs
    }

    /// The logical line of a statement: continuations joined as BuildKit joins them.
    pub fn logical(&self, statement: &Statement) -> &LogicalLine<'src> {
        &self.tree.instructions[statement.index].logical
    }
}

type Failure = (String, String);

/// A value that is verbatim logical-line text.
fn slice<'src>(line: &LogicalLine<'src>, logical: Range<usize>) -> Word<'src> {
    let (text, range) = line.slice(logical);
    Word { text, range }
}

/// A value BuildKit rewrote (quotes removed, JSON decoded), read from `logical`.
fn word<'src>(line: &LogicalLine<'src>, text: String, logical: Range<usize>) -> Word<'src> {
    Word { text: Cow::Owned(text), range: line.source_range(logical) }
}

fn words_at<'src>(line: &LogicalLine<'src>, base: usize, words: Vec<(String, Range<usize>)>) -> Vec<Word<'src>> {
    words.into_iter().map(|(w, r)| word(line, w, base + r.start..base + r.end)).collect()
}

/// BuildKit's dispatch table: how each instruction's arguments become values.
fn interpret<'src>(
    line: &LogicalLine<'src>,
    command: &CommandSyntax,
    escape: char,
) -> Result<Instruction<'src>, Failure> {
    let text: &str = &line.text;
    let cmd = slice(line, command.keyword.clone());
    let kind = Kind::from_keyword(&cmd.text);
    let args = command.args.clone();
    let rest = &text[args.clone()];
    // Most instructions have no flags.
    let flags = if command.flags.is_empty() {
        Vec::new()
    } else {
        command.flags.iter().map(|(f, r)| word(line, f.clone(), r.clone())).collect()
    };
    let mut instruction = Instruction {
        cmd,
        kind,
        flags,
        json: false,
        value: Vec::new(),
        legacy_key_value: false,
        args: args.clone(),
        sub: None,
    };
    match kind {
        Kind::From | Kind::Expose => instruction.value = whitespace_words(line, args),
        Kind::Maintainer | Kind::Stopsignal | Kind::User | Kind::Workdir => {
            if !rest.is_empty() {
                instruction.value = vec![slice(line, args)];
            }
        }
        Kind::Run | Kind::Cmd | Kind::Entrypoint | Kind::Shell => {
            (instruction.json, instruction.value) = maybe_json(line, args)?;
        }
        Kind::Add | Kind::Copy | Kind::Volume => match buildkit::parse_json_array(rest) {
            JsonArgs::Strings(strings) => {
                instruction.json = true;
                instruction.value = words_at(line, args.start, strings);
            }
            JsonArgs::NotStringArray => return Err(not_string_array()),
            JsonArgs::NotJson => instruction.value = whitespace_words(line, args),
        },
        Kind::Arg => {
            instruction.value = buildkit::parse_words(rest, escape)
                .map(|r| slice(line, args.start + r.start..args.start + r.end))
                .collect();
        }
        Kind::Env | Kind::Label => {
            (instruction.legacy_key_value, instruction.value) = key_values(line, args, kind.keyword(), escape)?;
        }
        Kind::Healthcheck => {
            let bytes = rest.as_bytes();
            let sep = bytes.iter().position(|&b| buildkit::is_byte_space(b)).unwrap_or(bytes.len());
            if sep > 0 {
                let next =
                    bytes[sep..].iter().position(|&b| !buildkit::is_byte_space(b)).map_or(bytes.len(), |i| sep + i);
                let sep = ceil_boundary(rest, sep);
                let next = ceil_boundary(rest, next.max(sep));
                let (json, cmd) = maybe_json(line, args.start + next..args.end)?;
                instruction.json = json;
                instruction.value = std::iter::once(slice(line, args.start..args.start + sep)).chain(cmd).collect();
            }
        }
        Kind::Onbuild => {
            if let Some(sub) = &command.sub {
                let sub = interpret(line, sub, escape)?;
                instruction.json = sub.json;
                instruction.sub = Some(Box::new(sub));
            }
        }
        // BuildKit keeps an unknown instruction as one empty value.
        Kind::Unknown => instruction.value = vec![slice(line, args.start..args.start)],
    }
    Ok(instruction)
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i.min(s.len())
}

fn not_string_array() -> Failure {
    (
        "when using JSON array syntax, arrays must be comprised of strings only".into(),
        "quote every element of the JSON array, or write the arguments in shell form".into(),
    )
}

/// BuildKit's `parseMaybeJSON`: exec form when the arguments are a JSON array of strings, else one shell string.
fn maybe_json<'src>(line: &LogicalLine<'src>, args: Range<usize>) -> Result<(bool, Vec<Word<'src>>), Failure> {
    let rest = &line.text[args.clone()];
    if rest.is_empty() {
        return Ok((false, Vec::new()));
    }
    match buildkit::parse_json_array(rest) {
        JsonArgs::Strings(strings) => Ok((true, words_at(line, args.start, strings))),
        JsonArgs::NotStringArray => Err(not_string_array()),
        JsonArgs::NotJson => Ok((false, vec![slice(line, args)])),
    }
}

/// BuildKit's `parseStringsWhitespaceDelimited`.
fn whitespace_words<'src>(line: &LogicalLine<'src>, args: Range<usize>) -> Vec<Word<'src>> {
    let rest = &line.text[args.clone()];
    if rest.is_empty() {
        return Vec::new();
    }
    buildkit::split_re_whitespace(rest, None).map(|r| slice(line, args.start + r.start..args.start + r.end)).collect()
}

/// BuildKit's `parseNameVal` for ENV and LABEL: `KEY value` or `KEY=value ...`, flattened to key, value, ….
fn key_values<'src>(
    line: &LogicalLine<'src>,
    args: Range<usize>,
    keyword: &str,
    escape: char,
) -> Result<(bool, Vec<Word<'src>>), Failure> {
    let rest = &line.text[args.clone()];
    let mut words = buildkit::parse_words(rest, escape);
    let Some(first) = words.next() else {
        return Ok((false, Vec::new()));
    };
    if !rest[first.clone()].contains('=') {
        let parts: Vec<Range<usize>> = buildkit::split_re_whitespace(rest, Some(2)).collect();
        if parts.len() < 2 {
            return Err((format!("{keyword} must have two arguments"), format!("write `{keyword} name=value`")));
        }
        let at = |r: &Range<usize>| args.start + r.start..args.start + r.end;
        return Ok((true, vec![slice(line, at(&parts[0])), slice(line, at(&parts[1]))]));
    }
    let mut values = Vec::new();
    for r in std::iter::once(first).chain(words) {
        let w = &rest[r.clone()];
        let Some(eq) = w.find('=') else {
            return Err((
                format!("Syntax error - can't find = in {}. Must be of the form: name=value", buildkit::go_quote(w)),
                format!("write every {keyword} item as `name=value`, quoting values that hold spaces"),
            ));
        };
        let start = args.start + r.start;
        values.push(slice(line, start..start + eq));
        values.push(slice(line, start + eq + 1..args.start + r.end));
    }
    Ok((false, values))
}

fn unknown_instruction(instruction: &Instruction) -> Option<SyntaxError> {
    let instruction = match &instruction.sub {
        Some(sub) => sub,
        None => instruction,
    };
    if instruction.kind != Kind::Unknown {
        return None;
    }
    let word = &instruction.cmd.text;
    let lower = word.to_ascii_lowercase();
    // Words whose length differs from a keyword's by more than 2 are more than 2 edits away from it.
    let suggestion = KINDS
        .iter()
        .filter(|(k, _)| lower.len().abs_diff(k.len()) <= 2)
        .map(|(k, _)| (edit_distance(&lower, k), k))
        .filter(|&(d, _)| d <= 2)
        .min()
        .map(|(_, k)| format!("did you mean `{}`? ", k.to_ascii_uppercase()))
        .unwrap_or_default();
    Some(SyntaxError {
        message: format!("unknown instruction: {word}"),
        range: instruction.cmd.range,
        help: format!("{suggestion}Dockerfile instructions are FROM, RUN, COPY, ADD, ENV, ARG, WORKDIR, USER, LABEL, EXPOSE, VOLUME, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, STOPSIGNAL, ONBUILD and MAINTAINER"),
    })
}

/// The edit distance between `word` and `keyword`, one of [`KINDS`]: at most 11 ASCII letters, so the one row
/// of distances fits on the stack. The corpus has tens of thousands of unknown instructions, from templates.
fn edit_distance(word: &str, keyword: &str) -> usize {
    let keyword = keyword.as_bytes();
    let mut row = [0usize; 12];
    for (j, distance) in row.iter_mut().enumerate() {
        *distance = j;
    }
    for (i, c) in word.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &k) in keyword.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(c != char::from(k))).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[keyword.len()]
}

/// Splits the statements into stages and records which earlier stages each one reads.
fn stages(statements: &[Statement<'_>], build_errors: &mut Vec<SyntaxError>) -> (Vec<Stage>, StageNames) {
    let mut stages: Vec<Stage> = Vec::new();
    for (i, statement) in statements.iter().enumerate() {
        let ins = &statement.instruction;
        if ins.kind != Kind::From {
            continue;
        }
        let name = match ins.value.as_slice() {
            [_] => None,
            [_, as_, name] if as_.text.eq_ignore_ascii_case("as") => Some(name.text.to_ascii_lowercase()),
            _ => {
                build_errors.push(SyntaxError {
                    message: "FROM requires either one or three arguments".into(),
                    range: statement.range,
                    help: "write `FROM image` or `FROM image AS name`".into(),
                });
                None
            }
        };
        let base = ins.value.first().map_or_else(String::new, |w| w.text.to_string());
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
    let names = StageNames::new(&stages);
    // For each stage, the last stage that listed it among what it reads: a stage that copies from the same stage
    // a thousand times lists it once, without searching its list a thousand times. Made at the first flag that
    // names a stage, which most files do not have.
    let mut listed_by: Option<Vec<Option<usize>>> = None;
    for k in 0..stages.len() {
        let base_stage = names.find(&stages, k, &stages[k].base);
        let mut depends_on: Vec<usize> = base_stage.into_iter().collect();
        for ins in statements[stages[k].statements.clone()].iter().map(|s| &s.instruction) {
            for flag in &ins.flags {
                let reference = match (ins.kind, flag.text.strip_prefix("--from=")) {
                    (Kind::Copy | Kind::Add, Some(from)) => Some(from),
                    (Kind::Run, None) => flag
                        .text
                        .strip_prefix("--mount=")
                        .and_then(|m| m.split(',').find_map(|kv| kv.strip_prefix("from="))),
                    _ => None,
                };
                if let Some(found) = reference.and_then(|r| names.find(&stages, k, r)) {
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
#[derive(Clone, Debug)]
struct StageNames {
    /// Stage indices. Stage names are lower-cased, so byte order is the order of names.
    sorted: Vec<usize>,
}

impl StageNames {
    fn new(stages: &[Stage]) -> StageNames {
        let mut sorted: Vec<usize> = stages.iter().filter(|s| s.name.is_some()).map(|s| s.index).collect();
        // Stable: the stages of one name stay in order of index.
        sorted.sort_by(|&a, &b| stages[a].name.cmp(&stages[b].name));
        StageNames { sorted }
    }

    /// The stage that `reference` names among the first `count` of `stages`: the last one of that name, compared
    /// without case, as BuildKit resolves it, or the one at that index, as `COPY --from=0` allows.
    fn find(&self, stages: &[Stage], count: usize, reference: &str) -> Option<usize> {
        // The first FROM of every file asks, with no stage before it.
        if count == 0 {
            return None;
        }
        if let Ok(index) = reference.parse::<usize>() {
            return (index < count).then_some(index);
        }
        if self.sorted.is_empty() {
            return None;
        }
        // Stage names are lower-cased; most references already are.
        let reference: Cow<str> = if reference.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(reference.to_ascii_lowercase())
        } else {
            Cow::Borrowed(reference)
        };
        let name = |i: usize| stages[i].name.as_deref().unwrap_or_default();
        // Past the stages named before `reference`, and those of its name from `count` on, the one just before is
        // the last stage of its name before `count`, if it has its name.
        let end = self.sorted.partition_point(|&i| (name(i), i) < (&*reference, count));
        let &found = self.sorted[..end].last()?;
        (name(found) == reference).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(src: &str) -> Vec<Vec<String>> {
        Dockerfile::parse(src)
            .statements
            .iter()
            .map(|s| s.instruction.value.iter().map(|w| w.text.to_string()).collect())
            .collect()
    }

    #[test]
    fn every_value_points_at_its_source() {
        let df =
            Dockerfile::parse("FROM alpine AS build\nENV A=1 \\\n  B=\"x y\"\nCOPY --from=build [\"a\", \"b\"] /\n");
        for s in &df.statements {
            for w in &s.instruction.value {
                let source = df.tree.text(w.range);
                assert!(source.contains(w.text.trim_matches('"')) || w.text.is_empty(), "{w:?} vs {source:?}");
            }
        }
        assert_eq!(df.stages[0].name.as_deref(), Some("build"));
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
    }

    #[test]
    fn edit_distance_counts_characters() {
        assert_eq!(edit_distance("expost", "expose"), 1);
        assert_eq!(edit_distance("", "healthcheck"), 11);
        assert_eq!(edit_distance("rün", "run"), 1);
        assert_eq!(edit_distance("maintanerr", "maintainer"), 2);
        assert_eq!(edit_distance("form", "from"), 2);
    }

    #[test]
    fn unknown_instruction_is_a_build_error_with_a_suggestion() {
        let df = Dockerfile::parse("FROM a\nRUNN x\n");
        assert!(df.errors.is_empty());
        assert!(df.build_errors[0].help.starts_with("did you mean `RUN`?"));
    }
}
