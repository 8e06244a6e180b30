//! Property tests: for any input, parsing never panics, the tree prints the input back, and every range the
//! model reports lies inside the input on character boundaries.

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn dockerfile_like_input_round_trips(source in dockerfile_like()) {
        check(&source);
    }

    #[test]
    fn arbitrary_text_round_trips(source in any::<String>()) {
        check(&source);
    }
}
