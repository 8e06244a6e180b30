//! Findings, fixes, and applying fixes to a fixpoint.
//!
//! A rule reports [`Finding`]s; a finding may carry a [`Fix`]: edits on the original text with an
//! [`Applicability`]. [`fix`] applies every applicable fix whose edits do not overlap another's, re-reads the
//! file, and repeats until nothing changes, so `fix(fix(x)) == fix(x)`. Bytes no edit touches never change.

use crate::build_context::BuildContext;
use crate::config::RuleOptions;
use crate::context::Context;
use crate::model::Dockerfile;
use crate::syntax::SyntaxError;
use crate::text::TextRange;
use std::collections::{BTreeMap, HashSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Applicability {
    /// The image keeps the same files, caches aside: applied by `dockopt fix`.
    Safe,
    /// May change what the image holds: applied only with `--unsafe-fixes`.
    Unsafe,
    /// Shown as a suggestion, never applied.
    DisplayOnly,
}

/// What a rule's fixes are, for its documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Safety {
    Safe,
    Unsafe,
    /// The rule reports and never fixes.
    ReportOnly,
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

    /// Edits conflict when they share bytes, or when both insert at the same place (their order would be a
    /// guess). An insertion where a replacement ends does not conflict.
    fn conflicts(&self, other: &Edit) -> bool {
        let (a, b) = (self.range, other.range);
        a.overlaps(b)
            || (a.is_empty() && b.is_empty() && a.start == b.start)
            || (a.is_empty() && b.start < a.start && a.start < b.end)
            || (b.is_empty() && a.start < b.start && b.start < a.end)
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

impl Finding {
    /// The instruction a finding is reported at: where it starts. An ignore comment above that instruction
    /// silences it.
    fn anchor(&self, ctx: &Context) -> Option<usize> {
        ctx.df.statements.iter().position(|s| s.range.start <= self.range.start && self.range.start <= s.range.end)
    }
}

pub trait Rule: Sync {
    fn info(&self) -> &'static RuleInfo;
    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>);
}

/// Runs the rules on one parsed file. Suppressed findings are left out.
pub fn check(ctx: &Context, rules: &[&dyn Rule]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for rule in rules {
        let start = findings.len();
        rule.check(ctx, &mut findings);
        let mut i = start;
        while i < findings.len() {
            if findings[i].anchor(ctx).is_some_and(|s| ctx.is_suppressed(s, rule.info())) {
                findings.remove(i);
            } else {
                i += 1;
            }
        }
    }
    findings.sort_by_key(|f| (f.range.start, f.rule.code));
    findings
}

/// The result of fixing one file.
#[derive(Debug)]
pub struct FixOutcome {
    pub text: String,
    /// How many fixes each rule applied.
    pub applied: BTreeMap<&'static str, usize>,
    /// Findings in the original text.
    pub initial: Vec<Finding>,
    /// Findings left in the fixed text.
    pub remaining: Vec<Finding>,
    /// Layers (RUN, COPY and ADD instructions) in the original text.
    pub layers_before: usize,
    /// Layers in the fixed text.
    pub layers: usize,
}

/// Rounds are cheap, but a pair of passes that undo each other must not loop forever.
const MAX_ROUNDS: usize = 32;

/// Applies fixes until none applies. Errors when the input is not a Dockerfile BuildKit accepts: dockopt does
/// not rewrite what it cannot read the way BuildKit does.
pub fn fix(
    source: &str,
    build: Option<&BuildContext>,
    rules: &[&dyn Rule],
    unsafe_fixes: bool,
) -> Result<FixOutcome, Vec<SyntaxError>> {
    fix_with_options(source, build, rules, unsafe_fixes, &RuleOptions::DEFAULT)
}

/// [`fix`] with the rules' options from a configuration.
pub fn fix_with_options(
    source: &str,
    build: Option<&BuildContext>,
    rules: &[&dyn Rule],
    unsafe_fixes: bool,
    options: &RuleOptions,
) -> Result<FixOutcome, Vec<SyntaxError>> {
    let mut text = source.to_string();
    let mut applied: BTreeMap<&'static str, usize> = BTreeMap::new();
    // Fixes that produced a file BuildKit would reject: a bug in a rule, kept from applying again.
    let mut rejected: HashSet<(&'static str, String)> = HashSet::new();
    // The text before the last round's fixes and those fixes, until the next parse shows they broke nothing.
    let mut unverified: Option<(String, Vec<RoundFix>)> = None;
    let mut initial = None;
    let applicable = |a: Applicability| a == Applicability::Safe || (unsafe_fixes && a == Applicability::Unsafe);
    for round in 0..=MAX_ROUNDS {
        let df = Dockerfile::parse(&text);
        if !df.errors.is_empty() || !df.build_errors.is_empty() {
            let Some((previous, fixes)) = unverified.take() else {
                let mut errors = df.errors.clone();
                errors.extend(df.build_errors.iter().cloned());
                return Err(errors);
            };
            // Some fix broke the file. Keep the first one that does not, set aside the ones that do.
            text = previous;
            for RoundFix { code, message, edits } in fixes {
                let one = apply(&text, &edits);
                if reads_cleanly(&one) {
                    *applied.entry(code).or_default() += 1;
                    unverified = Some((text.clone(), Vec::new()));
                    text = one;
                    break;
                }
                rejected.insert((code, message));
            }
            continue;
        }
        let ctx = Context::with_options(&df, build, options);
        let findings = check(&ctx, rules);
        let layers = df.layer_count();
        let (initial, layers_before) = initial.get_or_insert_with(|| (findings.clone(), layers));
        let mut chosen: Vec<&Finding> = Vec::new();
        for finding in &findings {
            let Some(fix) = &finding.fix else { continue };
            if !applicable(fix.applicability) || fix.edits.is_empty() || round == MAX_ROUNDS {
                continue;
            }
            if rejected.contains(&(finding.rule.code, finding.message.clone())) {
                continue;
            }
            let clashes = chosen
                .iter()
                .flat_map(|f| &f.fix.as_ref().expect("chosen findings have fixes").edits)
                .any(|e| fix.edits.iter().any(|n| n.conflicts(e)));
            if !clashes {
                chosen.push(finding);
            }
        }
        if chosen.is_empty() {
            return Ok(FixOutcome {
                text,
                applied,
                initial: std::mem::take(initial),
                remaining: findings,
                layers_before: *layers_before,
                layers,
            });
        }
        let candidate = apply(&text, chosen.iter().flat_map(|f| &f.fix.as_ref().expect("has fix").edits));
        for f in &chosen {
            *applied.entry(f.rule.code).or_default() += 1;
        }
        let fixes = chosen
            .iter()
            .map(|f| RoundFix {
                code: f.rule.code,
                message: f.message.clone(),
                edits: f.fix.as_ref().expect("has fix").edits.clone(),
            })
            .collect();
        unverified = Some((std::mem::replace(&mut text, candidate), fixes));
    }
    unreachable!("the last round applies nothing and returns")
}

/// A fix applied in a round, kept until the next round's parse confirms the file still reads.
struct RoundFix {
    code: &'static str,
    message: String,
    edits: Vec<Edit>,
}

fn reads_cleanly(text: &str) -> bool {
    let df = Dockerfile::parse(text);
    df.errors.is_empty() && df.build_errors.is_empty()
}

/// Applies non-conflicting edits in one pass.
pub fn apply<'e>(text: &str, edits: impl IntoIterator<Item = &'e Edit>) -> String {
    let mut edits: Vec<&Edit> = edits.into_iter().collect();
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    let mut out = String::with_capacity(text.len() + 64);
    let mut pos = 0;
    for edit in edits {
        out.push_str(&text[pos..edit.range.start.max(pos)]);
        out.push_str(&edit.replacement);
        pos = pos.max(edit.range.end);
    }
    out.push_str(&text[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_apply_in_order_and_keep_other_bytes() {
        let edits =
            [Edit::insert(3, "X"), Edit::replace(TextRange::new(5, 7), "yy"), Edit::delete(TextRange::new(0, 1))];
        assert_eq!(apply("abcdefgh", &edits), "bcXdeyyh");
    }

    #[test]
    fn conflicts() {
        let replace = Edit::replace(TextRange::new(2, 5), "");
        assert!(replace.conflicts(&Edit::insert(3, "x")));
        assert!(!replace.conflicts(&Edit::insert(5, "x")));
        assert!(!replace.conflicts(&Edit::insert(2, "x")));
        assert!(Edit::insert(4, "a").conflicts(&Edit::insert(4, "b")));
        assert!(replace.conflicts(&Edit::delete(TextRange::new(4, 6))));
    }
}
