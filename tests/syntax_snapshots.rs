//! Snapshots of the syntax tree and model for the inputs that are easy to get wrong.
//! Each snapshot shows the input, every node with its tokens, BuildKit's view, and the errors.

mod common;

use dockopt::cli::dump;
use dockopt::syntax::diagnostic::{decode, Diagnostic};
use dockopt::syntax::model::Dockerfile;
use dockopt::syntax::text::LineIndex;
use dockopt::syntax::tree::NodeKind;
use std::fmt::Write;

fn render(input: &str) -> String {
    let df = Dockerfile::parse(input);
    let tree = &df.tree;
    assert_eq!(tree.print(), input, "the tree must print the input back");
    let mut out = format!("input: {input:?}\nescape: {:?}\n\n", tree.escape);
    for node in &tree.nodes {
        let kind = match node.kind {
            NodeKind::Bom => "bom".to_string(),
            NodeKind::Blank => "blank".to_string(),
            NodeKind::Comment => "comment".to_string(),
            NodeKind::Directive(i) => format!("directive {}={:?}", tree.directives[i].name, tree.directives[i].value),
            NodeKind::Instruction(i) => match df.statements.iter().find(|s| s.index() == i) {
                Some(s) => {
                    format!("instruction lines {}-{} logical {:?}", s.start_line(), s.end_line(), df.logical(s).text)
                }
                None => {
                    let line = |offset: usize| LineIndex::new(input).line_col(input, offset).0;
                    format!("instruction lines {}-{} rejected", line(node.range.start), line(node.range.end - 1))
                }
            },
        };
        writeln!(out, "{kind}").unwrap();
        for token in tree.node_tokens(node) {
            writeln!(out, "    {:?} {:?}", token.kind, tree.text(token.range)).unwrap();
        }
    }
    writeln!(out, "\nbuildkit:\n{}", dump::buildkit_ast(&df)).unwrap();
    for s in &df.statements {
        for h in df.heredocs(s) {
            writeln!(
                out,
                "heredoc line {} {:?} fd={} chomp={} expand={} content={:?}",
                s.start_line(),
                h.name,
                h.file_descriptor,
                h.chomp,
                h.expand,
                h.content
            )
            .unwrap();
        }
    }
    let lines = LineIndex::new(input);
    for e in df.errors.iter().chain(&df.build_errors) {
        writeln!(out, "{}", Diagnostic::from_syntax_error("Dockerfile", input, &lines, e)).unwrap();
    }
    out
}

macro_rules! case {
    ($name:ident, $input:expr) => {
        #[test]
        fn $name() {
            common::snapshot_settings().bind(|| insta::assert_snapshot!(stringify!($name), render($input)));
        }
    };
}

case!(directives_set_the_escape, "# syntax=docker/dockerfile:1\n#  ESCAPE = `\nFROM a\nRUN echo `\n  hi\n");
case!(directives_end_at_a_comment, "# hello\n# escape=`\nFROM a\nRUN a \\\n  b\n");
case!(directives_end_at_a_blank_line, "# syntax=x\n\n# escape=`\nFROM a\n");
case!(directives_end_at_an_unknown_key, "# foo=bar\n# escape=`\nFROM a\n");
case!(repeated_directive_is_rejected, "# escape=`\n# escape=\\\nFROM a\n");
case!(invalid_escape_is_rejected, "# escape=x\nFROM a\n");
case!(check_directive, "# check=skip=JSONArgsRecommended\nFROM a\n");
case!(bom_and_crlf, "\u{feff}# escape=`\r\nFROM a\r\nRUN a `\r\n  b\r\n");
case!(mixed_line_endings_without_final_newline, "FROM a\r\nRUN a\nRUN b\r\r\nCMD c");
case!(continuation_with_trailing_whitespace, "FROM a\nRUN a \\ \t\n  b\n");
case!(escaped_escape_ends_the_line, "FROM a\nRUN echo \\\\\nRUN b\n");
case!(continuation_at_end_of_file, "FROM a\nRUN a \\\n");
case!(lone_escape_starts_an_instruction, "FROM a\n\\\nRUN b\n");
case!(comments_and_blank_lines_inside_continuation, "FROM a\nRUN a \\\n  # comment\n\n    && b \\\n# last\n  && c\n");
case!(blank_line_in_continuation_joins_the_next_instruction, "FROM a\nRUN a \\\n\nRUN b\n");
case!(keywords_are_case_insensitive_and_unknown_words_kept, "from a\nRun b\nFRUM c\ncopy x y\n");
case!(flags, "FROM --platform=$BUILDPLATFORM a\nRUN --mount=type=cache,target=/root/.cache --mount=\"type=secret,id=x y\" --network=none make\nCOPY --chmod=755 -- --weird /dst\nCOPY --from=a --link src dst\n");
case!(exec_and_shell_forms, "FROM a\nCMD [\"a\", \"b c\"]\nENTRYPOINT [ \"x\" ] \nRUN ['single', 'quotes']\nCMD [\"a\"] trailing\nSHELL [\"/bin/sh\", \"-c\"]\n");
case!(non_string_json_array_is_rejected, "FROM a\nCMD [\"a\", 1]\n");
case!(heredocs, "FROM a\nRUN <<EOF\necho hi\nEOF\nRUN <<-'END' bash\n\techo $HOME\n\tEND\nCOPY <<A 3<<\"B\" /dst/\na\nA\nb\nB\nONBUILD RUN <<X\nx\nX\nRUN cat<<NOT\n");
case!(heredoc_in_exec_form_is_not_a_heredoc, "FROM a\nRUN [\"sh\", \"-c\", \"cat <<EOF\"]\nEOF\n");
case!(unterminated_heredoc, "FROM a\nRUN <<EOF\necho hi\n");
case!(empty_file, "");
case!(comment_only_file, "# just a comment\n");
case!(tabs_and_trailing_whitespace, "\tFROM\ta  \nRUN\t\techo  hi \t\n");
case!(env_and_label_forms, "FROM a\nENV A b c\nENV A=1 B=\"2 3\" C=x\\ y\nLABEL a=b \"c d\"=e\nARG X Y=1\n");
case!(env_without_value_is_rejected, "FROM a\nENV A\n");
case!(env_word_without_equals_is_rejected, "FROM a\nENV A=1 B\n");
case!(healthcheck_and_onbuild, "FROM a\nHEALTHCHECK --interval=5s CMD [\"curl\", \"-f\", \"x\"]\nHEALTHCHECK NONE\nONBUILD COPY --chown=1:1 . /app\nONBUILD\n");
case!(stages, "ARG V=1\nFROM golang:$V AS Build\nRUN go build\nFROM build AS test\nFROM alpine\nCOPY --from=Build /a /a\nCOPY --from=0 /b /b\nFROM a b\n");
case!(multibyte_text, "FROM a\nLABEL café=\"naïve ☃\"\nRUN echo ünïcödé \\\n  ☃\n");

#[test]
fn non_utf8_input_is_refused_with_a_location() {
    let error: Diagnostic = decode("Dockerfile", b"FROM a\nRUN echo caf\xe9\n".to_vec()).unwrap_err();
    common::snapshot_settings().bind(|| insta::assert_snapshot!("non_utf8_input_is_refused", error.to_string()));
}
