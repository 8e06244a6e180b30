//! What dockopt found and did, per file and for a whole run, and the formats that print it: [`text`] for people,
//! [`json`] for tools, [`sarif`] for code scanning, [`github`] workflow commands, [`rdjson`] for reviewdog and
//! [`gitlab`] Code Quality.

pub mod github;
pub mod gitlab;
pub mod json;
pub mod rdjson;
pub mod sarif;
pub mod text;

use crate::engine::finding::{Applicability, Finding, Severity};
use crate::syntax::diagnostic::Diagnostic;
use crate::syntax::text::LineIndex;
use similar::{Algorithm, DiffOp, DiffTag};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, Instant};

/// Whether dockopt could read a file as BuildKit would.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FileStatus {
    #[default]
    Checked,
    /// It could not be read: missing, not a regular file, too big, not UTF-8, or its configuration is wrong.
    Unreadable,
    /// It was read, but BuildKit would reject it, or its build context could not be read.
    Unparseable,
    /// dockopt met a bug in itself while checking or fixing it, and left it as it was.
    Failed,
}

/// What dockopt found and did in one file.
#[derive(Default)]
pub struct FileReport {
    /// The path as the user named or the walk found it.
    pub path: String,
    pub status: FileStatus,
    /// The text the findings' ranges refer to: the file after fixing, when `fix` wrote it.
    pub source: String,
    pub findings: Vec<Finding>,
    /// Problems that stopped dockopt from reading or fixing the file.
    pub errors: Vec<Diagnostic>,
    /// What the user should know about how the file was written, such as a hard link split.
    pub warnings: Vec<Diagnostic>,
    /// The file was rewritten, or (with `check` and `--diff`) would be.
    pub changed: bool,
    /// Fixes applied per rule: by `fix`, or by `check` and `--diff` had they been `fix`.
    pub applied: BTreeMap<&'static str, usize>,
    /// The lines the fixes change, for the formats that carry fixes (`--diff` with a machine format).
    pub hunks: Vec<Hunk>,
    /// RUN, COPY and ADD instructions (one layer each) before and after fixing.
    pub layers: Option<(usize, usize)>,
    /// What goes to standard output for this file, in path order: its diff, or the fixed standard input.
    pub stdout: Option<String>,
    /// Advice fails the run for this file (`--fail-on-advice` or the configuration's `fail-on-advice`).
    pub advice_fails: bool,
}

/// A run of whole lines that fixing replaces: lines `start_line..=end_line` of the original (1-based; an
/// insertion before line `start_line` has `end_line == start_line - 1`), bytes `start..end`, and the new lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hunk {
    pub start_line: usize,
    pub end_line: usize,
    pub start: usize,
    pub end: usize,
    pub replacement: String,
    /// The rules whose fixes change these lines.
    pub rules: Vec<&'static str>,
}

/// How long a line diff may search for the smallest one before it shows the rest of a file as one replaced block:
/// a correct diff, only a coarser one. Only input built to defeat [`MAX_SEARCHED_CHANGES`] gets near it.
const DIFF_DEADLINE: Duration = Duration::from_millis(500);

/// The most changed lines (lines deleted plus lines inserted) a line diff searches for the smallest diff. Myers'
/// search costs about the square of that number, so past it the diff shows the changed part, between the lines
/// the files start and end with alike, as one replaced block. Merging the RUNs of a file of thousands changes all
/// its lines: this keeps that diff linear, and the same on any machine, where a deadline alone would make it
/// depend on the machine's load.
const MAX_SEARCHED_CHANGES: usize = 4096;

/// Two texts cut into lines, for a line diff between them: for `--diff` and the hunks of the machine formats.
/// A line ends after each `\n`, as BuildKit, git and `patch` count lines; a lone `\r` ends none. `similar`'s own
/// line splitting ends a line at a lone `\r` too: the diff's line numbers were off the file's, `patch` could not
/// apply it, and the hunks of the machine formats indexed past the lines. It also reads a character at a time,
/// which was 12% of `fix --diff` over the first 1,938 corpus files.
pub struct Lines<'t> {
    old: Vec<&'t str>,
    new: Vec<&'t str>,
}

/// `text` cut after each `\n`; the last line may have none. One memchr pass finds every line end, where
/// `split_inclusive` searched afresh from each line: it cost 2.7% more of `fix --diff`'s instructions.
fn lines_of(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', text.as_bytes()) {
        lines.push(&text[start..=end]);
        start = end + 1;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

impl<'t> Lines<'t> {
    pub fn new(before: &'t str, after: &'t str) -> Lines<'t> {
        Lines { old: lines_of(before), new: lines_of(after) }
    }

    /// The line diff from the old lines to the new: its operations, in order. Each is placed in both files by the
    /// lengths of those before it: `similar`'s Myers diff can place a deletion wrongly in the new lines
    /// (mitsuhiko/similar#78), and a hunk then took the new lines backwards from there.
    pub fn diff(&self) -> Vec<DiffOp> {
        let (old, new) = self.numbered();
        let deadline = if too_many_changes_to_search(&old, &new) {
            // A deadline already passed: the search stops before it starts, after the common first and last lines.
            Instant::now().checked_sub(Duration::from_secs(1)).unwrap_or_else(Instant::now)
        } else {
            Instant::now() + DIFF_DEADLINE
        };
        let found =
            similar::capture_diff_deadline(Algorithm::Myers, &old, 0..old.len(), &new, 0..new.len(), Some(deadline));
        let (mut old_index, mut new_index) = (0, 0);
        let mut ops = Vec::with_capacity(found.len());
        for op in &found {
            let (old_len, new_len) = (op.old_range().len(), op.new_range().len());
            ops.push(match op.tag() {
                DiffTag::Equal => DiffOp::Equal { old_index, new_index, len: old_len },
                DiffTag::Delete => DiffOp::Delete { old_index, old_len, new_index },
                DiffTag::Insert => DiffOp::Insert { old_index, new_index, new_len },
                DiffTag::Replace => DiffOp::Replace { old_index, old_len, new_index, new_len },
            });
            (old_index, new_index) = (old_index + old_len, new_index + new_len);
        }
        ops
    }

    /// The unified diff from the old lines to the new, with three lines of context, as `git diff` and `patch` read
    /// it. A last line without a `\n` is marked so; `similar`'s own writer takes a lone `\r` for a line end and
    /// left the mark out, which `patch` then refused.
    pub fn unified_diff(&self, name: &str) -> String {
        let mut out = String::new();
        for ops in similar::group_diff_ops(self.diff(), 3).iter().filter(|ops| !ops.is_empty()) {
            if out.is_empty() {
                writeln!(out, "--- {name}\n+++ {name}").unwrap();
            }
            writeln!(out, "{}", similar::udiff::UnifiedHunkHeader::new(ops)).unwrap();
            for op in ops {
                let (tag, old, new) = op.as_tag_tuple();
                // A replacement shows its old lines, then its new ones.
                let (context, deleted, inserted) = match tag {
                    DiffTag::Equal => (&self.old[old], &[][..], &[][..]),
                    _ => (&[][..], &self.old[old], &self.new[new]),
                };
                let changes = (context.iter().map(|line| (' ', line)))
                    .chain(deleted.iter().map(|line| ('-', line)))
                    .chain(inserted.iter().map(|line| ('+', line)));
                for (sign, line) in changes {
                    write!(out, "{sign}{line}").unwrap();
                    if !line.ends_with('\n') {
                        out.push_str("\n\\ No newline at end of file\n");
                    }
                }
            }
        }
        out
    }

    /// Each line of both files as a number, the same for lines that are the same, which the diff compares in their
    /// stead. `similar` numbers the lines of files of more than 100 lines itself, but with the standard library's
    /// hash, which cost 2.5% more of `fix --diff`'s instructions. Numbering only the lines between those both files
    /// start and end with alike would not do: `similar` slides a change over lines like it, into those, and two
    /// corpus files' diffs changed.
    fn numbered(&self) -> (Vec<u32>, Vec<u32>) {
        let mut numbers: foldhash::HashMap<&str, u32> =
            foldhash::HashMap::with_capacity_and_hasher(self.old.len(), Default::default());
        let mut number = |line: &'t str| {
            let next = numbers.len() as u32;
            *numbers.entry(line).or_insert(next)
        };
        let old = self.old.iter().map(|&line| number(line)).collect();
        let new = self.new.iter().map(|&line| number(line)).collect();
        (old, new)
    }
}

/// Any line diff between the numbered lines `old` and `new` (see [`Lines::numbered`]) deletes and inserts more
/// than [`MAX_SEARCHED_CHANGES`] lines: so many lines of each are missing from the other, counting repeated lines
/// as often as they repeat. The numbers run from 0 up, one per distinct line, so they index the counts.
fn too_many_changes_to_search(old: &[u32], new: &[u32]) -> bool {
    let lines = old.len() + new.len();
    if lines <= MAX_SEARCHED_CHANGES {
        return false;
    }
    let mut counts = vec![0usize; lines];
    for &line in old {
        counts[line as usize] += 1;
    }
    let mut shared = 0;
    for &line in new {
        if counts[line as usize] > 0 {
            counts[line as usize] -= 1;
            shared += 1;
        }
    }
    lines - 2 * shared > MAX_SEARCHED_CHANGES
}

/// The line hunks that turn `before` into `after`, each credited to the rules of `fixes` (findings in `before`
/// whose fixes were applied) that touch its lines.
pub fn hunks(before: &str, after: &str, fixes: &[&Finding]) -> Vec<Hunk> {
    let lines = Lines::new(before, after);
    // Where each old line starts, and one past the last.
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(lines.old.iter().scan(0, |at, line| {
            *at += line.len();
            Some(*at)
        }))
        .collect();
    let mut out: Vec<Hunk> = Vec::new();
    // The 0-based old lines each hunk touches; an insertion touches the lines on either side of it.
    let mut touched: Vec<(usize, usize)> = Vec::new();
    for group in similar::group_diff_ops(lines.diff(), 0) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else { continue };
        let old = first.old_range().start..last.old_range().end;
        let new = first.new_range().start..last.new_range().end;
        touched.push(if old.is_empty() { (old.start.saturating_sub(1), old.start) } else { (old.start, old.end - 1) });
        out.push(Hunk {
            start_line: old.start + 1,
            end_line: old.end,
            start: line_starts[old.start],
            end: line_starts[old.end],
            replacement: lines.new[new].concat(),
            rules: Vec::new(),
        });
    }
    // Hunks are in line order and apart, so the ones a fix's lines reach are found by a search, not a scan.
    let index = LineIndex::new(before);
    for fix in fixes {
        let (first, _) = index.line_col(before, fix.range.start);
        let (last, _) = index.line_col(before, fix.range.end);
        let from = touched.partition_point(|&(_, hi)| hi + 1 < first);
        for (hunk, &(lo, _)) in out.iter_mut().zip(&touched).skip(from) {
            if lo >= last {
                break;
            }
            hunk.rules.push(fix.rule.code);
        }
    }
    for hunk in &mut out {
        hunk.rules.sort_unstable();
        hunk.rules.dedup();
    }
    out
}

/// A report entry as compact JSON text. Not `Value`'s own `to_string`: it goes through `Display`, which hands the
/// text to a formatter a piece at a time, and was a third of `check --format sarif` over the first 1,938 corpus
/// files.
pub fn json_text(entry: &impl serde::Serialize) -> String {
    serde_json::to_string(entry).expect("a report serializes: its maps have string keys")
}

/// The first `bytes` bytes of the SHA-256 of `parts`, each followed by a NUL, in lower-case hex: a name for what a
/// report item says that stays the same while it does (GitLab's fingerprints, the review's markers).
pub fn digest(parts: &[&str], bytes: usize) -> String {
    use sha2::{Digest, Sha256};
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    // Two table lookups a byte: formatting each byte was a string allocated and dropped per byte.
    let mut hex = String::with_capacity(2 * bytes);
    for b in hash.finalize().iter().take(bytes) {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 15)]));
    }
    hex
}

/// How a finding can be fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FixKind {
    Safe,
    Unsafe,
    DisplayOnly,
    None,
}

impl FixKind {
    pub fn of(finding: &Finding) -> FixKind {
        match finding.fix.as_ref().map(|f| f.applicability) {
            Some(Applicability::Safe) => FixKind::Safe,
            Some(Applicability::Unsafe) => FixKind::Unsafe,
            Some(Applicability::DisplayOnly) => FixKind::DisplayOnly,
            None => FixKind::None,
        }
    }

    /// How the text report labels a finding.
    pub fn label(self, severity: Severity) -> &'static str {
        match (self, severity) {
            (FixKind::Safe, _) => "[safe fix]",
            (FixKind::Unsafe, Severity::Advice) => "[advice, unsafe fix]",
            (FixKind::Unsafe, Severity::Warning) => "[unsafe fix]",
            (FixKind::DisplayOnly, _) => "[suggestion]",
            (FixKind::None, Severity::Advice) => "[advice]",
            (FixKind::None, Severity::Warning) => "",
        }
    }
}

/// One finding, as the summary and the statistics count it.
#[derive(Clone, Copy, Debug)]
pub struct FindingCount {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub fix: FixKind,
    /// It fails the run.
    pub fails: bool,
}

/// What a file contributes to the summary and the statistics, kept once its output is rendered.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub status: FileStatus,
    pub changed: bool,
    pub errors: usize,
    pub warnings: usize,
    pub layers: Option<(usize, usize)>,
    pub applied: Vec<(&'static str, usize)>,
    pub findings: Vec<FindingCount>,
}

impl Counts {
    pub fn of(report: &FileReport) -> Counts {
        Counts {
            status: report.status,
            changed: report.changed,
            errors: report.errors.len(),
            warnings: report.warnings.len(),
            layers: report.layers,
            applied: report.applied.iter().map(|(&code, &n)| (code, n)).collect(),
            findings: report
                .findings
                .iter()
                .map(|f| FindingCount {
                    code: f.rule.code,
                    name: f.rule.name,
                    severity: f.rule.severity,
                    fix: FixKind::of(f),
                    fails: f.rule.severity == Severity::Warning || report.advice_fails,
                })
                .collect(),
        }
    }
}

/// A whole run, for the summary at its end and its exit status.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files read and checked.
    pub files: usize,
    pub unreadable: usize,
    pub unparseable: usize,
    /// Files dockopt met a bug on (see [`FileStatus::Failed`]).
    pub failed: usize,
    /// Files the walk saw and did not take (see `--show-files`).
    pub passed_over: usize,
    pub changed: usize,
    pub findings: usize,
    /// Findings that fail the run: warnings, and advice where it is asked to fail.
    pub failing: usize,
    pub advice: usize,
    pub fixable: usize,
    /// Findings whose fix applies with `--unsafe-fixes`.
    pub unsafe_fixable: usize,
    pub errors: usize,
    pub warnings: usize,
    pub layers_before: usize,
    pub layers_after: usize,
    /// Fixes applied (or, for `check` and `--diff`, to apply) per rule.
    pub applied: BTreeMap<&'static str, usize>,
    /// Findings per rule.
    pub by_rule: BTreeMap<&'static str, usize>,
}

impl Summary {
    /// Counts one more file in.
    pub fn add(&mut self, c: &Counts) {
        match c.status {
            FileStatus::Checked => self.files += 1,
            FileStatus::Unreadable => self.unreadable += 1,
            FileStatus::Unparseable => self.unparseable += 1,
            FileStatus::Failed => self.failed += 1,
        }
        self.changed += usize::from(c.changed);
        self.errors += c.errors;
        self.warnings += c.warnings;
        for &(code, n) in &c.applied {
            *self.applied.entry(code).or_default() += n;
        }
        for f in &c.findings {
            self.findings += 1;
            self.failing += usize::from(f.fails);
            self.advice += usize::from(f.severity == Severity::Advice);
            self.fixable += usize::from(f.fix == FixKind::Safe);
            self.unsafe_fixable += usize::from(f.fix == FixKind::Unsafe);
            *self.by_rule.entry(f.code).or_default() += 1;
        }
        if let Some((before, after)) = c.layers {
            self.layers_before += before;
            self.layers_after += after;
        }
    }

    /// The summary for standard error: a first line with files, changes, findings and layers, then the fixes
    /// per rule, the findings per rule, and the files not checked, each when there are any. `mode` is `check`,
    /// `fix` or `diff`: for `fix` the fixes were applied, for `diff` they would be, and both count the findings
    /// left after them.
    pub fn text(&self, mode: &str) -> String {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let (changed, left) = match mode {
            "fix" => ("fixed", " left"),
            "diff" => ("would change", " left"),
            _ => ("would change", ""),
        };
        let mut out = format!(
            "{} checked, {} {changed}, {}{left}",
            plural(self.files, "file"),
            self.changed,
            plural(self.findings, "finding"),
        );
        let mut kinds = vec![format!("{} fixable", self.fixable)];
        if self.unsafe_fixable > 0 {
            kinds.push(format!("{} more with --unsafe-fixes", self.unsafe_fixable));
        }
        if self.advice > 0 {
            kinds.push(format!("{} advice", self.advice));
        }
        write!(out, " ({})", kinds.join(", ")).unwrap();
        if self.errors > 0 {
            write!(out, ", {}", plural(self.errors, "error")).unwrap();
        }
        if self.warnings > 0 {
            write!(out, ", {}", plural(self.warnings, "warning")).unwrap();
        }
        writeln!(out, "; layers {} → {}", self.layers_before, self.layers_after).unwrap();
        if !self.applied.is_empty() {
            let label = if mode == "fix" { "fixes applied" } else { "fixes to apply" };
            writeln!(out, "{label}: {}", per_rule(&self.applied)).unwrap();
        }
        if !self.by_rule.is_empty() {
            writeln!(out, "findings{left}: {}", per_rule(&self.by_rule)).unwrap();
        }
        let mut not_checked = Vec::new();
        if self.unreadable > 0 {
            not_checked.push(format!("{} could not be read", self.unreadable));
        }
        if self.unparseable > 0 {
            not_checked.push(format!("{} could not be parsed", self.unparseable));
        }
        if self.failed > 0 {
            not_checked.push(format!("{} met a bug in dockopt", self.failed));
        }
        if self.passed_over > 0 {
            not_checked.push(format!("{} passed over by the walk (--show-files lists them)", self.passed_over));
        }
        if !not_checked.is_empty() {
            writeln!(out, "not checked: {}", not_checked.join(", ")).unwrap();
        }
        out
    }
}

/// `DO101 ×2, DO201 ×1`.
pub fn per_rule(counts: &BTreeMap<&'static str, usize>) -> String {
    counts.iter().map(|(code, n)| format!("{code} ×{n}")).collect::<Vec<_>>().join(", ")
}

/// Findings per rule, most frequent first, each with how its rule is fixed: a rule that fixes some of its
/// findings and not others is labelled by the best fix it has.
pub fn per_rule_counts<'c>(files: impl IntoIterator<Item = &'c Counts>) -> Vec<(usize, FindingCount)> {
    let mut counts: BTreeMap<&str, (usize, FindingCount)> = BTreeMap::new();
    for f in files.into_iter().flat_map(|c| &c.findings) {
        let entry = counts.entry(f.code).or_insert((0, *f));
        entry.0 += 1;
        entry.1.fix = entry.1.fix.min(f.fix);
    }
    let mut rows: Vec<(usize, FindingCount)> = counts.into_values().collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.code.cmp(b.1.code)));
    rows
}

/// `--statistics` as text: a line per rule, most frequent first.
pub fn statistics<'c>(files: impl IntoIterator<Item = &'c Counts>) -> String {
    let mut out = String::new();
    for (count, f) in per_rule_counts(files) {
        let label = f.fix.label(f.severity);
        writeln!(out, "{count:>6}  {}  {}{}{label}", f.code, f.name, if label.is_empty() { "" } else { "  " }).unwrap();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(before: &str, after: &str) -> Vec<(DiffTag, usize, usize)> {
        let lines = Lines::new(before, after);
        lines.diff().iter().map(|op| (op.tag(), op.old_range().len(), op.new_range().len())).collect()
    }

    #[test]
    fn lines_end_after_each_newline_as_split_inclusive_ends_them() {
        for text in ["", "\n", "a", "a\n", "a\nb", "a\r\nb\r\n", "a\rb\n\n", "é\nü"] {
            assert_eq!(lines_of(text), text.split_inclusive('\n').collect::<Vec<_>>(), "{text:?}");
        }
    }

    #[test]
    fn too_many_changes_count_repeated_lines_as_often_as_they_repeat() {
        let changes = |old: Vec<String>, new: Vec<String>| {
            let (old, new) = (old.concat(), new.concat());
            let (old, new) = Lines::new(&old, &new).numbered();
            too_many_changes_to_search(&old, &new)
        };
        let numbered = |from: usize, to: usize| (from..to).map(|k| format!("{k}\n")).collect::<Vec<_>>();
        assert!(!changes(numbered(0, 5000), numbered(0, 5000)));
        // 2,100 lines each: 4,200 changed lines with nothing shared, 4,080 with 60 shared.
        assert!(changes(numbered(0, 2100), numbered(2100, 4200)));
        assert!(!changes(numbered(0, 2100), numbered(2040, 4140)));
        // A line repeated 3,000 times in one file and once in the other is shared once.
        assert!(changes(vec!["a\n".to_string(); 3000], [vec!["a\n".to_string()], numbered(0, 2000)].concat()));
    }

    #[test]
    fn numbering_the_lines_leaves_the_diff_as_similar_finds_it() {
        // `similar` compares the lines of a file of up to 100 lines and numbers those of a longer one: both are
        // covered, and so is a change beside a line like it, which its compaction slides over.
        for len in [3, 26, 150] {
            let base: Vec<String> = (0..len).map(|i| format!("RUN step {}\n", i % 7)).collect();
            let edited = |edit: &dyn Fn(&mut Vec<String>)| {
                let mut lines = base.clone();
                edit(&mut lines);
                lines.concat()
            };
            let before = base.concat();
            let afters = [
                before.clone(),
                String::new(),
                edited(&|l| l[0] = "RUN first\n".into()),
                edited(&|l| *l.last_mut().unwrap() = "RUN last".into()),
                edited(&|l| l.insert(len / 2, "RUN inserted\n".into())),
                edited(&|l| l[len / 2] = l[len / 2 + 1].clone()),
                edited(&|l| _ = l.remove(len / 2)),
                edited(&|l| l.truncate(1)),
                edited(&|l| l.iter_mut().skip(1).step_by(2).for_each(|line| line.insert(0, '#'))),
            ];
            for after in afters {
                for (old, new) in [(&before, &after), (&after, &before)] {
                    let (old_lines, new_lines) = (lines_of(old), lines_of(new));
                    let expected: Vec<_> = (similar::TextDiff::configure().diff_slices(&old_lines, &new_lines).ops())
                        .iter()
                        .map(|op| (op.tag(), op.old_range().len(), op.new_range().len()))
                        .collect();
                    assert_eq!(tags(old, new), expected, "{old:?} -> {new:?}");
                }
            }
        }
    }

    #[test]
    fn digests_are_the_sha256_of_the_parts_each_ended_by_a_nul_in_hex() {
        // GitLab keeps the fingerprints and the review finds its earlier comments by the markers: they must not
        // change from one version to the next.
        let parts = ["Dockerfile", "DO101", "RUN a"];
        assert_eq!(digest(&parts, 16), "694b6983b10f7b8113095c9abb10760d");
        assert_eq!(digest(&parts, 12), "694b6983b10f7b8113095c9a");
    }

    #[test]
    fn hunks_and_diffs_take_the_new_lines_from_where_they_are() {
        // `similar`'s Myers diff of these (a file that a fuzzed Dockerfile's fixes rewrote, a letter for each
        // line) places the deletion of the last old line at new line 23, before the lines it follows
        // (mitsuhiko/similar#78): a hunk sliced the new lines from 25 back to 22, and panicked.
        let lines = |letters: &str| -> String { letters.chars().map(|c| format!("{c}\n")).collect() };
        let (before, after) = (lines("abcdbefghibjkbefl"), lines("mbcdbefghibjnbefobpdefqef"));
        let mut patched = before.clone();
        for hunk in hunks(&before, &after, &[]).iter().rev() {
            patched.replace_range(hunk.start..hunk.end, &hunk.replacement);
        }
        assert_eq!(patched, after);
        let diff = Lines::new(&before, &after).unified_diff("f");
        let headers: Vec<&str> = diff.lines().filter(|line| line.starts_with("@@")).collect();
        assert_eq!(headers, ["@@ -1,4 +1,4 @@", "@@ -10,8 +10,16 @@"], "{diff}");
    }

    #[test]
    fn a_large_file_with_few_changes_gets_the_smallest_diff() {
        let before: String = (0..5000).map(|i| format!("RUN step {i}\n")).collect();
        let after = before.replace("RUN step 2500\n", "RUN step 2500 && clean\n").replace("RUN step 10\n", "");
        assert_eq!(
            tags(&before, &after),
            [
                (DiffTag::Equal, 10, 10),
                (DiffTag::Delete, 1, 0),
                (DiffTag::Equal, 2489, 2489),
                (DiffTag::Replace, 1, 1),
                (DiffTag::Equal, 2499, 2499),
            ]
        );
    }

    #[test]
    fn a_change_of_more_lines_than_are_searched_is_one_block_between_the_common_ends() {
        // Every other line changes: 5,000 lines deleted and inserted, past the 4,096 searched, so the diff does not
        // pair the lines that stay but replaces everything after the common first line.
        let lines =
            |changed: &str| -> String { (0..2500).map(|i| format!("RUN keep {i}\nRUN {changed} {i}\n")).collect() };
        assert_eq!(tags(&lines("old"), &lines("new")), [(DiffTag::Equal, 1, 1), (DiffTag::Replace, 4999, 4999)]);
        // Below the limit the same kind of change is diffed line by line.
        let few =
            |changed: &str| -> String { (0..100).map(|i| format!("RUN keep {i}\nRUN {changed} {i}\n")).collect() };
        assert_eq!(tags(&few("old"), &few("new")).len(), 200);
    }
}
