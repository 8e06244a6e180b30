//! Comments that silence rules.
//!
//! On the line above an instruction (a run of comment lines directly above it):
//! - `# dockopt: ignore` silences every rule there;
//! - `# dockopt: ignore=DO101,apk-no-cache` silences the rules named, by code or name;
//! - `# hadolint ignore=DL3059` silences the dockopt rules that mean the same as the hadolint rules named.
//!
//! Anywhere in the file:
//! - `# dockopt: global ignore=…` and `# hadolint global ignore=…` silence rules in the whole file;
//! - the parser directive `# check=skip=…` silences the dockopt rules it names, so one directive can quiet both
//!   BuildKit's checks and dockopt.
//!
//! Any text after the list, such as `# dockopt: ignore=DO101  # we need two layers`, is a reason and is ignored.

use crate::engine::finding::RuleInfo;
use crate::syntax::model::Dockerfile;

/// The rule lists a file silences everywhere.
#[derive(Clone, Debug, Default)]
pub struct FileSuppressions {
    lists: Vec<String>,
}

impl FileSuppressions {
    pub fn new(df: &Dockerfile) -> FileSuppressions {
        let tree = &df.tree;
        let mut lists = Vec::new();
        for &comment in &tree.comments {
            let body = comment_body(tree.text(comment));
            let global = body
                .strip_prefix("dockopt:")
                .and_then(|r| r.trim_start().strip_prefix("global"))
                .or_else(|| body.strip_prefix("hadolint").and_then(|r| r.trim_start().strip_prefix("global")));
            if let Some(list) = global.and_then(|r| r.trim_start().strip_prefix("ignore")).and_then(list_after_equals) {
                lists.push(list.to_string());
            }
        }
        for directive in tree.directives.iter().filter(|d| d.name == "check") {
            let skip = directive.value.split(';').find_map(|part| part.trim().strip_prefix("skip="));
            lists.extend(skip.map(str::to_string));
        }
        FileSuppressions { lists }
    }

    pub fn silences(&self, rule: &RuleInfo) -> bool {
        self.lists.iter().any(|list| names(list, rule))
    }
}

/// A comment line directly above an instruction silences `rule` there.
pub fn line_comment_silences(comment: &str, rule: &RuleInfo) -> bool {
    let body = comment_body(comment);
    if let Some(rest) = body.strip_prefix("dockopt:") {
        let Some(rest) = rest.trim_start().strip_prefix("ignore") else { return false };
        // `# dockopt: ignore` alone, or followed by a reason.
        if rest.is_empty() || rest.starts_with(char::is_whitespace) && !rest.trim_start().starts_with('=') {
            return true;
        }
        return list_after_equals(rest).is_some_and(|list| names(list, rule));
    }
    if let Some(rest) = body.strip_prefix("hadolint") {
        let rest = rest.trim_start();
        return rest.strip_prefix("ignore").and_then(list_after_equals).is_some_and(|list| names(list, rule));
    }
    false
}

fn comment_body(comment: &str) -> &str {
    comment.trim_start().trim_start_matches('#').trim()
}

/// `=A,B` followed by anything: `A,B`.
fn list_after_equals(rest: &str) -> Option<&str> {
    let list = rest.trim_start().strip_prefix('=')?.trim_start();
    Some(list.split(|c: char| c.is_whitespace() || c == '#').next().unwrap_or(""))
}

/// A comma-separated list names `rule` by dockopt code, dockopt name, or an equivalent hadolint code.
fn names(list: &str, rule: &RuleInfo) -> bool {
    list.split(',').map(str::trim).any(|item| {
        item.eq_ignore_ascii_case(rule.code)
            || item == rule.name
            || rule.hadolint.iter().any(|h| h.eq_ignore_ascii_case(item))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::finding::{Safety, Severity};

    static RULE: RuleInfo = RuleInfo {
        code: "DO101",
        name: "merge-runs",
        summary: "",
        doc: "",
        safety: Safety::Safe,
        severity: Severity::Warning,
        hadolint: &["DL3059"],
    };

    #[test]
    fn line_comments() {
        for yes in [
            "# dockopt: ignore",
            "# dockopt: ignore  # reason",
            "#dockopt:ignore=DO101",
            "# dockopt: ignore=DO102,merge-runs we need two layers",
            "# dockopt: ignore=do101 # reason",
            "# hadolint ignore=DL3008,DL3059",
        ] {
            assert!(line_comment_silences(yes, &RULE), "{yes}");
        }
        for no in [
            "# dockopt: ignore=DO102",
            "# hadolint ignore=DL3008",
            "# ignore",
            "# dockopt: ignored",
            "# dockopt: global ignore=DO101",
        ] {
            assert!(!line_comment_silences(no, &RULE), "{no}");
        }
    }

    #[test]
    fn file_wide_forms() {
        for (source, silenced) in [
            ("FROM a\n# dockopt: global ignore=DO101 # reason\n", true),
            ("FROM a\n# hadolint global ignore=DL3059\n", true),
            ("# check=skip=JSONArgsRecommended,merge-runs\nFROM a\n", true),
            ("# check=error=true;skip=DO101\nFROM a\n", true),
            ("FROM a\n# dockopt: global ignore=DO201\n", false),
            ("FROM a\n# check=skip=DO101\n", false),
        ] {
            let df = Dockerfile::parse(source);
            assert_eq!(FileSuppressions::new(&df).silences(&RULE), silenced, "{source}");
        }
    }
}
