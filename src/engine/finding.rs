//! What a rule reports: a [`Finding`] about a range of the file, and the [`Fix`] it may carry, made of [`Edit`]s on
//! the original text with an [`Applicability`]; and [`RuleInfo`], what a rule says about itself.
//!
//! These are plain data, so that suppression comments, the rule context and the configuration can all name
//! them without depending on each other.

use crate::syntax::text::TextRange;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Applicability {
    /// The image keeps the same files, caches aside: applied by `dockopt fix`.
    Safe,
    /// May change what the image holds: applied only with `--unsafe-fixes`.
    Unsafe,
    /// Shown as a suggestion, never applied.
    DisplayOnly,
}

/// How much a finding matters: whether it fails a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Advice (DO3xx): shown, but fails a run only with `--fail-on-advice`.
    Advice,
    /// Fails `check`, and `fix` when it is left after fixing.
    Warning,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Advice => "advice",
            Severity::Warning => "warning",
        }
    }
}

/// What a rule's fixes are, for its documentation, and for the fix rounds, which run only the rules whose fixes
/// they may apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Safety {
    /// Its fixes may be safe; some may be unsafe or only shown.
    Safe,
    /// Its fixes are unsafe or only shown, never safe.
    Unsafe,
    /// The rule reports, and at most shows a fix.
    ReportOnly,
}

impl Safety {
    /// Whether a rule of this safety may carry a fix of this applicability.
    pub fn allows(self, applicability: Applicability) -> bool {
        match self {
            Safety::Safe => true,
            Safety::Unsafe => applicability != Applicability::Safe,
            Safety::ReportOnly => applicability == Applicability::DisplayOnly,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub range: TextRange,
    pub replacement: String,
}

impl Edit {
    pub fn insert(at: usize, text: impl Into<String>) -> Edit {
        Edit { range: TextRange::empty(at), replacement: text.into() }
    }

    pub fn replace(range: TextRange, text: impl Into<String>) -> Edit {
        Edit { range, replacement: text.into() }
    }

    pub fn delete(range: TextRange) -> Edit {
        Edit { range, replacement: String::new() }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    pub applicability: Applicability,
    pub edits: Vec<Edit>,
}

/// Everything a user and the documentation need to know about a rule.
#[derive(Debug)]
pub struct RuleInfo {
    /// Stable code, such as `DO101`.
    pub code: &'static str,
    /// Stable kebab-case name, such as `merge-runs`.
    pub name: &'static str,
    /// One line.
    pub summary: &'static str,
    /// A paragraph with a before/after example.
    pub doc: &'static str,
    pub safety: Safety,
    pub severity: Severity,
    /// hadolint rules that mean the same thing; `# hadolint ignore=` with them silences this rule.
    pub hadolint: &'static [&'static str],
}

#[derive(Clone, Debug)]
pub struct Finding {
    pub rule: &'static RuleInfo,
    pub range: TextRange,
    pub message: String,
    pub fix: Option<Fix>,
    /// The instructions (indices into the syntax tree) the finding is about; its edits stay within them and
    /// the lines between them.
    pub instructions: Vec<usize>,
}
