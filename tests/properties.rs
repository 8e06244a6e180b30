//! Property tests: for any input, parsing never panics, the tree prints the input back, and every range the
//! model reports lies inside the input on character boundaries; and reading a text after edits, taking what the
//! edits left alone from the reading before them, reads it as reading it afresh does.

mod common;

use dockopt::syntax::model::{Dockerfile, Instruction};
use dockopt::syntax::tree::TokenKind;
use proptest::prelude::*;

/// Pieces that make the parser's hard cases likely when strung together at random.
const FRAGMENTS: &[&str] = &[
    "FROM ",
    "RUN ",
    "COPY ",
    "ADD ",
    "ENV ",
    "LABEL ",
    "ARG ",
    "ONBUILD ",
    "HEALTHCHECK ",
    "CMD ",
    "SHELL ",
    "from ",
    "FROOM ",
    "a",
    "b=c",
    "é",
    "☃",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "\\",
    "`",
    "\\\n",
    "`\n",
    "# escape=`\n",
    "# syntax=x\n",
    "#",
    "# c\n",
    "<<EOF",
    "<<-EOF",
    "<<'EOF'",
    "3<<\"E\"",
    "EOF\n",
    "\tEOF\n",
    "E\n",
    "[\"a\",",
    "\"b\"]",
    "[1]",
    "[",
    "]",
    "'",
    "\"",
    "--mount=type=cache,target=/x ",
    "--from=a ",
    "-- ",
    "--",
    "=",
    "$",
    "${",
    "}",
    "\u{feff}",
    "\u{a0}",
    "\u{85}",
    "\u{2150}",
];

fn dockerfile_like() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..48).prop_map(|parts| parts.concat())
}

fn check_instruction(source: &str, df: &Dockerfile, ins: &Instruction) {
    for word in std::iter::once(&ins.cmd).chain(df.flags(ins)).chain(df.values(ins)) {
        assert!(word.range.end <= source.len(), "{word:?} out of bounds");
        assert!(source.get(word.range.as_range()).is_some(), "{word:?} not on char boundaries");
    }
    if let Some(sub) = &ins.sub {
        check_instruction(source, df, sub);
    }
}

fn check(source: &str) {
    let df = Dockerfile::parse(source);
    assert_eq!(df.tree.print(), source);
    let mut end = 0;
    for token in df.tree.tokens() {
        assert_eq!(token.range.start, end, "tokens must be contiguous");
        end = token.range.end;
    }
    assert_eq!(end, source.len());
    let comment_tokens: Vec<_> =
        df.tree.tokens().iter().filter(|t| t.kind == TokenKind::Comment).map(|t| t.range).collect();
    assert_eq!(df.tree.comments, comment_tokens, "the comment list is the comment tokens");
    for statement in &df.statements {
        check_instruction(source, &df, &statement.instruction);
        assert!(source.get(statement.range.as_range()).is_some());
        for heredoc in df.heredocs(statement) {
            assert_eq!(heredoc.content, &source[heredoc.body.as_range()]);
        }
    }
    for error in df.errors.iter().chain(&df.build_errors) {
        assert!(source.get(error.range.as_range()).is_some(), "{error:?}");
    }
}

/// `source` with `source[start..end]` replaced by `insert`, where `start` and `end` are fractions of its length.
fn edited(source: &str, start: f64, end: f64, insert: &str) -> (String, usize, usize) {
    let at = |fraction: f64| {
        let mut k = (source.len() as f64 * fraction) as usize;
        while !source.is_char_boundary(k) {
            k -= 1;
        }
        k
    };
    let (start, end) = (at(start.min(end)), at(start.max(end)));
    (format!("{}{insert}{}", &source[..start], &source[end..]), start, end)
}

fn check_reading_after_edits(source: &str, start: f64, end: f64, insert: &str) {
    let (text, start, end) = edited(source, start, end, insert);
    check_reading_after_edit(source, &text, start, end, insert);
}

/// `text` is `source` with `source[start..end]` replaced by `insert`.
fn check_reading_after_edit(source: &str, text: &str, start: usize, end: usize, insert: &str) {
    // Where an offset of the new text was before the edit; the inserted text maps to where it was made.
    let offset_before = |offset: usize| match offset {
        _ if offset < start => offset,
        _ if offset < start + insert.len() => start,
        _ => offset - insert.len() + (end - start),
    };
    let earlier = Dockerfile::parse(source);
    let after = Dockerfile::parse_after_edits(text, &earlier, &offset_before);
    // Everything, the private lists included, is in the debug form.
    assert_eq!(format!("{after:?}"), format!("{:?}", Dockerfile::parse(text)), "{source:?} became {text:?}");
}

#[test]
#[cfg_attr(not(dockopt_corpus), ignore = "needs the shared corpus (DOCKOPT_CORPUS, by default ../shared/corpus)")]
fn reading_after_edits_reads_the_corpus_as_afresh() {
    let files = common::files_under(&common::corpus());
    let mut read = 0;
    for (_, path) in &files {
        let Ok(source) = std::fs::read_to_string(path) else { continue };
        // A RUN inserted at the start of the middle line, and the first line deleted, as fixes do.
        let middle = source.as_bytes()[..source.len() / 2].iter().rposition(|&b| b == b'\n').map_or(0, |k| k + 1);
        let inserted = "RUN inserted\n";
        let text = format!("{}{inserted}{}", &source[..middle], &source[middle..]);
        check_reading_after_edit(&source, &text, middle, middle, inserted);
        let first_line = source.find('\n').map_or(source.len(), |k| k + 1);
        check_reading_after_edit(&source, &source[first_line..], 0, first_line, "");
        read += 1;
    }
    println!("read after edits: {read} files");
    assert!(read > 0, "the corpus is empty");
}

#[test]
fn reading_after_edits_takes_what_they_left_alone_as_it_was() {
    let source = "# escape=\\
FROM a AS b
RUN x \\
  # note
  && y
COPY <<EOF /f
body
EOF
ONBUILD RUN [\"a\", \"b\"]
                  ENV A=\"1 2\" B=3
# between instructions

RUN --mount=type=cache,target=/c z
LABEL x=y";
    for (start, end, insert) in
        [(0.5, 0.5, "RUN new\n"), (0.2, 0.4, ""), (0.0, 0.0, "\n"), (0.9, 1.0, "\\\n"), (1.0, 1.0, " z\nRUN appended")]
    {
        check_reading_after_edits(source, start, end, insert);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn reading_after_edits_reads_as_afresh(
        source in dockerfile_like(),
        start in 0.0..1.0f64,
        end in 0.0..1.0f64,
        insert in dockerfile_like(),
    ) {
        check_reading_after_edits(&source, start, end, &insert);
    }

    #[test]
    fn dockerfile_like_input_round_trips(source in dockerfile_like()) {
        check(&source);
    }

    #[test]
    fn arbitrary_text_round_trips(source in any::<String>()) {
        check(&source);
    }
}
