//! The machine-readable views `dockopt parse` prints: the model as JSON (a superset of the fields of
//! `official-parser.jsonl`), the concrete syntax tree as JSON, and BuildKit's own AST dump format.

use crate::cli::args::ParseFormat;
use crate::cli::inputs::{read_input, Origin};
use crate::engine::files::DEFAULT_MAX_FILE_SIZE;
use crate::syntax::buildkit::go_quote;
use crate::syntax::diagnostic::Diagnostic;
use crate::syntax::model::{Dockerfile, Instruction, Kind, Stage, Statement, Word};
use crate::syntax::text::{LineIndex, TextRange};
use crate::syntax::tree::{NodeKind, SyntaxError, SyntaxTree};
use anyhow::Result;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// The model of one file. See the README for the schema.
pub fn model_json(file: &str, df: &Dockerfile) -> Value {
    let lines = LineIndex::new(df.source());
    let errors =
        |list: &[SyntaxError]| -> Vec<Value> { list.iter().map(|e| error_json(df.source(), &lines, e)).collect() };
    json!({
        "file": file,
        "ok": df.errors.is_empty(),
        "escape": df.tree.escape.to_string(),
        "bom": df.source().starts_with('\u{feff}'),
        "directives": df.tree.directives,
        "errors": errors(&df.errors),
        "build_errors": errors(&df.build_errors),
        "instructions": df.statements.iter().map(|s| statement_json(df, s)).collect::<Vec<_>>(),
        "stages": df.stages.iter().map(|stage| stage_json(df, stage)).collect::<Vec<_>>(),
    })
}

fn error_json(source: &str, lines: &LineIndex, e: &SyntaxError) -> Value {
    let (line, column) = lines.line_col(source, e.range.start);
    json!({ "message": e.message, "help": e.help, "line": line, "column": column, "range": e.range })
}

fn statement_json(df: &Dockerfile, s: &Statement) -> Value {
    let outer = &s.instruction;
    // For ONBUILD, BuildKit reports the sub-instruction's keyword, form and values, and the outer flags.
    let inner: &Instruction = outer.sub.as_deref().unwrap_or(outer);
    let texts = |words: &[Word]| words.iter().map(|w| df.text(w).to_string()).collect::<Vec<_>>();
    let ranges = |words: &[Word]| words.iter().map(|w| w.range).collect::<Vec<TextRange>>();
    json!({
        "cmd": df.text(&outer.cmd),
        "sub_cmd": outer.sub.as_ref().map(|sub| df.text(&sub.cmd)),
        "json": inner.json,
        "flags": texts(df.flags(outer)),
        "value": texts(df.values(inner)),
        "heredocs": df.heredocs(s).iter().map(|h| json!({
            "name": h.name,
            "file_descriptor": h.file_descriptor,
            "content": h.content,
            "chomp": h.chomp,
            "expand": h.expand,
            "body_range": h.body,
        })).collect::<Vec<_>>(),
        "start_line": s.start_line(),
        "end_line": s.end_line(),
        "range": s.range,
        "line_range": s.line_range,
        "cmd_range": outer.cmd.range,
        "flag_ranges": ranges(df.flags(outer)),
        "value_ranges": ranges(df.values(inner)),
        "sub_flags": outer.sub.as_ref().map(|sub| texts(df.flags(sub))),
    })
}

fn stage_json(df: &Dockerfile, stage: &Stage) -> Value {
    json!({
        "index": stage.index,
        // Lower-cased, as BuildKit matches it.
        "name": df.stage_name(stage).map(str::to_ascii_lowercase),
        "base": df.base(stage),
        "base_stage": stage.base_stage,
        "instructions": [stage.statements.start, stage.statements.end],
        "depends_on": stage.depends_on,
    })
}

/// Every token with its kind, byte range and text, grouped by node. Joining the texts gives the file back.
pub fn cst_json(file: &str, tree: &SyntaxTree) -> Value {
    let nodes: Vec<Value> = tree
        .nodes
        .iter()
        .map(|node| {
            let (kind, index) = match node.kind {
                NodeKind::Bom => ("bom", None),
                NodeKind::Blank => ("blank", None),
                NodeKind::Comment => ("comment", None),
                NodeKind::Directive(i) => ("directive", Some(i)),
                NodeKind::Instruction(i) => ("instruction", Some(i)),
            };
            let tokens: Vec<Value> = tree
                .node_tokens(node)
                .iter()
                .map(|t| json!({ "kind": t.kind, "range": t.range, "text": tree.text(t.range) }))
                .collect();
            json!({ "kind": kind, "index": index, "range": node.range, "tokens": tokens })
        })
        .collect();
    json!({ "file": file, "nodes": nodes })
}

/// The AST in the format of BuildKit's `Node.Dump`, as in its parser test `result` files.
pub fn buildkit_ast(df: &Dockerfile) -> String {
    let mut out = String::new();
    for s in &df.statements {
        out.push('(');
        out.push_str(&dump_instruction(df, &s.instruction));
        out.push_str(")\n");
    }
    out.trim_end().to_string()
}

fn dump_instruction(df: &Dockerfile, ins: &Instruction) -> String {
    let mut out = df.text(&ins.cmd).to_lowercase();
    if !df.flags(ins).is_empty() {
        let flags: Vec<String> = df.flag_texts(ins).map(go_quote).collect();
        out.push_str(&format!(" [{}]", flags.join(" ")));
    }
    if let Some(sub) = &ins.sub {
        out.push_str(&format!(" ({})", dump_instruction(df, sub)));
    }
    let separator = if ins.legacy_key_value { "" } else { "=" };
    for (i, value) in df.value_texts(ins).enumerate() {
        out.push(' ');
        out.push_str(&go_quote(value));
        // ENV and LABEL nodes carry a separator after each key and value pair.
        if matches!(ins.kind, Kind::Env | Kind::Label) && i % 2 == 1 {
            out.push(' ');
            out.push_str(&go_quote(separator));
        }
    }
    out.trim().to_string()
}

/// `dockopt parse`: the model, the syntax tree or BuildKit's AST dump of each file, one per line.
pub fn parse_command(files: &[PathBuf], cst: bool, format: ParseFormat) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut status = 0u8;
    for path in files {
        let (name, source) = match read_input(path, Origin::Named, DEFAULT_MAX_FILE_SIZE) {
            Ok(input) => input,
            Err(d) => {
                writeln!(std::io::stderr(), "{d}")?;
                status = 2;
                continue;
            }
        };
        let df = Dockerfile::parse(&source);
        let lines = LineIndex::new(df.source());
        for error in &df.errors {
            writeln!(std::io::stderr(), "{}", Diagnostic::from_syntax_error(&name, df.source(), &lines, error))?;
            status = status.max(1);
        }
        match (cst, format) {
            (true, _) => writeln!(out, "{}", cst_json(&name, &df.tree))?,
            (false, ParseFormat::Json) => writeln!(out, "{}", model_json(&name, &df))?,
            (false, ParseFormat::Buildkit) => writeln!(out, "{}", buildkit_ast(&df))?,
        }
    }
    Ok(ExitCode::from(status))
}
