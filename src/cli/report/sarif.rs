//! SARIF 2.1.0, for GitHub code scanning and other tools: every rule's metadata, findings as results with their
//! fixes as replacements, and files dockopt could not read as tool notifications.

use crate::cli::report::{json_text, FileReport};
use crate::engine::finding::{Applicability, Safety, Severity};
use crate::engine::rule::Rule;
use crate::syntax::text::{LineIndex, TextRange};
use serde_json::{json, Value};

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Advice => "note",
        Severity::Warning => "warning",
    }
}

/// One file's results and tool notifications, each as JSON text.
pub fn file(r: &FileReport, rules: &[&'static dyn Rule]) -> (Vec<String>, Vec<String>) {
    let rule_index = |code: &str| rules.iter().position(|rule| rule.info().code == code);
    let lines = LineIndex::new(&r.source);
    let uri = r.path.trim_start_matches("./");
    let region = |range: TextRange| {
        let (start_line, start_column) = lines.line_col(&r.source, range.start);
        let (end_line, end_column) = lines.line_col(&r.source, range.end);
        json!({ "startLine": start_line, "startColumn": start_column, "endLine": end_line, "endColumn": end_column })
    };
    let mut results = Vec::new();
    for f in &r.findings {
        let mut result = json!({
            "ruleId": f.rule.code,
            "level": level(f.rule.severity),
            "message": { "text": f.message },
            "locations": [{ "physicalLocation": {
                "artifactLocation": { "uri": uri },
                "region": region(f.range),
            }}],
        });
        if let Some(index) = rule_index(f.rule.code) {
            result["ruleIndex"] = json!(index);
        }
        let edited =
            f.fix.as_ref().filter(|fix| fix.applicability != Applicability::DisplayOnly && !fix.edits.is_empty());
        if let Some(fix) = edited {
            let safety = if fix.applicability == Applicability::Safe { "safe" } else { "unsafe" };
            result["fixes"] = json!([{
                "description": { "text": format!("{} ({safety})", f.rule.summary) },
                "artifactChanges": [{
                    "artifactLocation": { "uri": uri },
                    "replacements": fix.edits.iter().map(|e| json!({
                        "deletedRegion": region(e.range),
                        "insertedContent": { "text": e.replacement },
                    })).collect::<Vec<_>>(),
                }],
            }]);
        }
        results.push(json_text(&result));
    }
    let notifications = r
        .errors
        .iter()
        .map(|e| {
            let mut location = json!({ "physicalLocation": { "artifactLocation": { "uri": uri } } });
            if let Some((line, column)) = e.position() {
                location["physicalLocation"]["region"] = json!({ "startLine": line, "startColumn": column });
            }
            json_text(&json!({
                "level": "error",
                "message": { "text": format!("{} ({})", e.message, e.help) },
                "locations": [location],
                "descriptor": { "id": "parse-error" },
            }))
        })
        .collect();
    (results, notifications)
}

/// SARIF up to the first result: the tool with the rules' metadata. Results follow, separated by commas, then
/// [`suffix`]. Columns count Unicode code points.
pub fn prefix(rules: &[&'static dyn Rule]) -> String {
    let descriptors: Vec<Value> = rules
        .iter()
        .map(|r| {
            let info = r.info();
            json!({
                "id": info.code,
                "name": info.name,
                "shortDescription": { "text": info.summary },
                "fullDescription": { "text": info.doc },
                "help": { "text": info.doc },
                "defaultConfiguration": { "level": level(info.severity) },
                "properties": {
                    "fix": match info.safety { Safety::Safe => "safe", Safety::Unsafe => "unsafe", Safety::ReportOnly => "none" },
                    "hadolint": info.hadolint,
                },
            })
        })
        .collect();
    let driver = json!({
        "name": "dockopt",
        "version": env!("CARGO_PKG_VERSION"),
        "informationUri": "https://github.com/dockopt/dockopt",
        "rules": descriptors,
    });
    format!(
        "{{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\",\"runs\":[{{\"tool\":{{\"driver\":{driver}}},\"columnKind\":\"unicodeCodePoints\",\"results\":["
    )
}

/// Closes a SARIF log after its results, with the notifications for files dockopt could not read.
pub fn suffix(notifications: &[String]) -> String {
    format!(
        "],\"invocations\":[{{\"executionSuccessful\":{},\"toolExecutionNotifications\":[{}]}}]}}]}}",
        notifications.is_empty(),
        notifications.join(",")
    )
}
