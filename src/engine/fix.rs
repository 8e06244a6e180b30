//! Applying fixes to a fixpoint.
//!
//! A rule reports [`Finding`]s; a finding may carry a [`Fix`](super::finding::Fix): edits on the original text
//! with an [`Applicability`]. [`fix`] applies every applicable fix whose edits do not overlap another's, re-reads the
//! file, and repeats until nothing changes, so `fix(fix(x)) == fix(x)`. Bytes no edit touches never change.

use crate::engine::build_context::BuildContext;
use crate::engine::context::{Context, KnownScripts};
use crate::engine::finding::{Applicability, Edit, Finding, Fix, Safety};
use crate::engine::options::RuleOptions;
use crate::engine::rule::{check, Rule};
use crate::syntax::model::Dockerfile;
use crate::syntax::text::TextRange;
use crate::syntax::tree::SyntaxError;
use foldhash::HashSet;
use std::collections::BTreeMap;

/// The result of fixing one file.
#[derive(Debug)]
pub struct FixOutcome {
    pub text: String,
    /// How many fixes each rule applied.
    pub applied: BTreeMap<&'static str, usize>,
    /// Findings in the original text.
    pub initial: Vec<Finding>,
    /// Fixes applied only after other fixes made them possible (a cleanup that fits once RUNs are merged), and
    /// unsafe fixes left unapplied that only the applied fixes made possible (installs that a merge put in a row),
    /// as findings located in the original text. Their fixes have no edits of their own on that text.
    pub follow_ons: Vec<Finding>,
    /// Findings left in the fixed text: every one, or those [`Remaining`] asks for.
    pub remaining: Vec<Finding>,
    /// Layers (RUN, COPY and ADD instructions) in the original text.
    pub layers_before: usize,
    /// Layers in the fixed text.
    pub layers: usize,
}

/// Rounds are cheap, but a pair of passes that undo each other must not loop forever.
const MAX_ROUNDS: usize = 32;

/// How many rounds in a row share their readings. A round takes what it can from the reading before it, which
/// must live as long as the round does, and so on back: with no bound, a file whose fixes took every round held
/// all 33 readings at once. After this many, the next round reads its text afresh, as the first did, and the
/// readings before it are let go. 100,000 instructions of `RUN npm install` after `COPY . .`, whose fixes take
/// every round, with no bound: 1.83 GB; 4 in a row: 460 MB; 3: 375 MB; 2: 320 MB. But many files take a third
/// round, and reading it afresh cost 4.5% more instructions to check the corpus with 2; with 3, 0.2%.
const ROUNDS_SHARING_READINGS: usize = 3;
// The first round, whose findings are the file's, always hands its reading to the second.
const _: () = assert!(ROUNDS_SHARING_READINGS >= 2);

/// Which findings of the fixed text the caller reads in [`FixOutcome::remaining`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remaining {
    /// Every finding: what `fix` and `fix --diff` report as left.
    All,
    /// Only the findings of rules that may fix, safely or not: `check` reports the original text's findings and
    /// the fixes that follow on, and only these rules add to those.
    Fixable,
}

/// Applies fixes until none applies. Errors when the input is not a Dockerfile BuildKit accepts, or when a rule
/// meets something it cannot read (a source pattern it cannot compile): dockopt does not rewrite what it cannot
/// read the way BuildKit does.
pub fn fix(
    source: &str,
    build: Option<&BuildContext>,
    rules: &[&dyn Rule],
    unsafe_fixes: bool,
) -> Result<FixOutcome, Vec<SyntaxError>> {
    fix_with_options(source, build, rules, unsafe_fixes, &RuleOptions::DEFAULT, Remaining::All)
}

/// [`fix`] with the rules' options from a configuration, reading only the `remaining` findings the caller needs.
pub fn fix_with_options(
    source: &str,
    build: Option<&BuildContext>,
    rules: &[&dyn Rule],
    unsafe_fixes: bool,
    options: &RuleOptions,
    remaining: Remaining,
) -> Result<FixOutcome, Vec<SyntaxError>> {
    let mut fixing = Fixing {
        plan: RoundRules::new(rules, unsafe_fixes, remaining),
        rules,
        build,
        options,
        remaining,
        rounds: Rounds { applied: BTreeMap::new(), rejected: HashSet::default(), history: Vec::new(), unsafe_fixes },
        initial: None,
        layers_before: None,
    };
    let mut next = fixing.round(0, source.to_string(), None, None, &KnownScripts::default())?;
    loop {
        match next {
            Step::Done(outcome) => return Ok(outcome),
            Step::Afresh { number, text, unverified } => {
                next = fixing.round(number, text, unverified.as_deref(), None, &KnownScripts::default())?;
            }
        }
    }
}

/// Where a run of rounds that share their readings ends.
enum Step {
    Done(FixOutcome),
    /// Round `number` is to read `text` afresh; `unverified` is the text before the last round's fixes, until
    /// the parse of `text` shows they broke nothing.
    Afresh {
        number: usize,
        text: String,
        unverified: Option<String>,
    },
}

/// Fixing one file: what its rounds share.
struct Fixing<'r> {
    plan: RoundRules<'r>,
    rules: &'r [&'r dyn Rule],
    build: Option<&'r BuildContext>,
    options: &'r RuleOptions,
    remaining: Remaining,
    rounds: Rounds,
    /// The first round's findings: the file's.
    initial: Option<Vec<Finding>>,
    /// The first round's layer count: the file's.
    layers_before: Option<usize>,
}

impl Fixing<'_> {
    /// Round `number` on `text`: reads it, and applies the fixes found, if any, in the next round, which it calls,
    /// or leaves to the caller when the next round is to read afresh. Each round's reading outlives the rounds after
    /// it that it calls, so that they take from it instead of reading again: the `earlier` reading, with the edits
    /// that made `text` from its text, for the instructions the edits left alone, and the `known` scripts, the
    /// scripts their fixes left alone or joined. `unverified` is the text before the last round's fixes, until this
    /// round's parse shows they broke nothing.
    fn round(
        &mut self,
        number: usize,
        text: String,
        unverified: Option<&str>,
        earlier: Option<(&Dockerfile, &EditMap)>,
        known: &KnownScripts,
    ) -> Result<Step, Vec<SyntaxError>> {
        let df = match earlier {
            Some((earlier, edits)) => Dockerfile::parse_after_edits(&text, earlier, &|offset| edits.map_back(offset)),
            None => Dockerfile::parse(&text),
        };
        if !df.errors.is_empty() || !df.build_errors.is_empty() {
            let errors: Vec<SyntaxError> = df.errors.iter().chain(&df.build_errors).cloned().collect();
            return match unverified {
                Some(previous) => {
                    // The known scripts were placed in the text that broke: the recovered one is read afresh.
                    let recovered = self.rounds.recover(previous);
                    Ok(Step::Afresh { number: number + 1, text: recovered, unverified: None })
                }
                None => Err(errors),
            };
        }
        let ctx = Context::reading(&df, self.build, self.options, known);
        let mut findings = check(&ctx, if number == 0 { self.rules } else { &self.plan.fixing });
        problems(&ctx)?;
        let layers = df.layer_count();
        let layers_before = *self.layers_before.get_or_insert(layers);
        let chosen = if number >= MAX_ROUNDS { Vec::new() } else { self.rounds.choose(&findings) };
        if chosen.is_empty() {
            // A first round that applies nothing is also the last: its findings are both the file's and those left.
            let mut initial = self.initial.take().unwrap_or_else(|| findings.clone());
            if number > 0 && !self.plan.last.is_empty() {
                findings.extend(check(&ctx, &self.plan.last));
                findings.sort_by_key(|f| (f.range.start, f.rule.code));
                problems(&ctx)?;
            }
            if number == 0 && self.remaining == Remaining::Fixable {
                // The first round ran every rule.
                findings.retain(|f| f.rule.safety != Safety::ReportOnly);
            }
            let maps = self.rounds.maps();
            self.rounds.label_by_outcome(&maps, &mut initial, &findings);
            let follow_ons = self.rounds.follow_ons(&maps, &initial, &findings);
            // The text goes to the outcome: its reading ends here.
            drop(ctx);
            drop(df);
            return Ok(Step::Done(FixOutcome {
                text,
                applied: std::mem::take(&mut self.rounds.applied),
                initial,
                follow_ons,
                remaining: findings,
                layers_before,
                layers,
            }));
        }
        let fixed = self.rounds.apply(&text, &chosen);
        // Round 0, whose findings are kept below, is never the last of a run: see `ROUNDS_SHARING_READINGS`.
        if (number + 1) % ROUNDS_SHARING_READINGS == 0 {
            return Ok(Step::Afresh { number: number + 1, text: fixed, unverified: Some(text) });
        }
        let moved = EditMap::new(chosen.iter().flat_map(|f| edits(f)));
        let known = ctx.known_scripts(|offset| moved.map_forward(offset));
        if self.initial.is_none() {
            // The first round's findings are moved, not copied: the rounds after it read only their own.
            self.initial = Some(findings);
        }
        self.round(number + 1, fixed, Some(&text), Some((&df, &moved)), &known)
    }
}

/// The problems the rules met in a text they could not read, as the run's error.
fn problems(ctx: &Context) -> Result<(), Vec<SyntaxError>> {
    let problems = ctx.take_problems();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The rules each round runs. The first runs them all: its findings are the file's. The rounds after it look for
/// fixes to apply, so they run only the rules that may carry one this run applies; the last round, which applies
/// nothing, runs the rest that `remaining` asks for, so that its findings are the fixed text's. A rule's findings
/// never bear on which fixes a round chooses unless their fixes apply, and `rule::check` holds each rule's fixes to
/// its [`Safety`]: the rounds find what running every rule in every round would, which a corpus test compares.
struct RoundRules<'r> {
    fixing: Vec<&'r dyn Rule>,
    last: Vec<&'r dyn Rule>,
}

impl<'r> RoundRules<'r> {
    fn new(rules: &[&'r dyn Rule], unsafe_fixes: bool, remaining: Remaining) -> RoundRules<'r> {
        let mut plan = RoundRules { fixing: Vec::new(), last: Vec::new() };
        for &rule in rules {
            let safety = rule.info().safety;
            if safety.allows(Applicability::Safe) || (unsafe_fixes && safety.allows(Applicability::Unsafe)) {
                plan.fixing.push(rule);
            } else if remaining == Remaining::All || safety.allows(Applicability::Unsafe) {
                // Unsafe fixes left unapplied are reported as follow-ons: see `Rounds::follow_ons`.
                plan.last.push(rule);
            }
        }
        plan
    }
}

/// The state of fixing one file, round after round.
struct Rounds {
    /// How many fixes each rule applied.
    applied: BTreeMap<&'static str, usize>,
    /// Fixes that produced a file BuildKit would reject: a bug in a rule, kept from applying again.
    rejected: HashSet<(&'static str, String)>,
    /// The findings whose fixes each round applied, first round first.
    history: Vec<Vec<Finding>>,
    unsafe_fixes: bool,
}

impl Rounds {
    /// Whether this run applies a fix of this applicability.
    fn applicable(&self, applicability: Applicability) -> bool {
        applicability == Applicability::Safe || (self.unsafe_fixes && applicability == Applicability::Unsafe)
    }

    /// The findings whose fixes were applied, each with the round that applied it: its range is in the text that
    /// round read.
    fn applied(&self) -> impl Iterator<Item = (usize, &Finding)> {
        self.history.iter().enumerate().flat_map(|(round, fixes)| fixes.iter().map(move |f| (round, f)))
    }

    /// Each round's edits as a map from the text after them to the text before, first round first.
    fn maps(&self) -> Vec<EditMap> {
        self.history.iter().map(|fixes| EditMap::new(fixes.iter().flat_map(edits))).collect()
    }

    /// The fixes to apply this round: applicable, not rejected before, and not clashing with one chosen earlier.
    /// Fixes that shape layers (DO1xx) are taken first, in source order, then cache cleanups (DO2xx), then the
    /// rewrites that shrink the image (DO3xx): a cleanup waits for a merge it clashes with, and lands once, at the
    /// end of the merged RUN; a purge of packages waits for the cleanup it clashes with, which it could otherwise
    /// withhold by removing the tool that cleans. A rewrite also waits for any fix chosen before it that names one
    /// of its instructions, even where their edits do not touch: it reads the whole stage, as it was before that
    /// fix (a multi-stage split that moves pip into a virtual environment and a purge that keeps only what the
    /// files outside it link against break the image together).
    fn choose<'f>(&self, findings: &'f [Finding]) -> Vec<&'f Finding> {
        let mut ordered: Vec<&Finding> = findings.iter().collect();
        let family = |code: &str| match code.get(..3) {
            Some("DO1") => 0,
            Some("DO2") => 1,
            _ => 2,
        };
        ordered.sort_by_key(|f| (family(f.rule.code), f.range.start, f.rule.code));
        let mut chosen: Vec<&Finding> = Vec::new();
        let mut taken = TakenEdits::default();
        // Marks the instructions that the fixes chosen so far name. Instruction indices are dense and few.
        let mut named: Vec<bool> = Vec::new();
        for finding in ordered {
            let Some(fix) = &finding.fix else { continue };
            if !self.applicable(fix.applicability) || fix.edits.is_empty() {
                continue;
            }
            // Nearly always empty: the lookup's key copies the message.
            if !self.rejected.is_empty() && self.rejected.contains(&(finding.rule.code, finding.message.clone())) {
                continue;
            }
            let rewrite = family(finding.rule.code) == 2;
            if rewrite && finding.instructions.iter().any(|&i| named.get(i) == Some(&true)) {
                continue;
            }
            if !fix.edits.iter().any(|e| taken.clashes(e)) {
                taken.add(&fix.edits);
                for &i in &finding.instructions {
                    if named.len() <= i {
                        named.resize(i + 1, false);
                    }
                    named[i] = true;
                }
                chosen.push(finding);
            }
        }
        chosen
    }

    /// `text` with the chosen fixes applied, to be verified by the next round's parse.
    fn apply(&mut self, text: &str, chosen: &[&Finding]) -> String {
        for f in chosen {
            *self.applied.entry(f.rule.code).or_default() += 1;
        }
        self.history.push(chosen.iter().map(|&f| f.clone()).collect());
        apply(text, chosen.iter().flat_map(|f| edits(f)))
    }

    /// The last round's fixes broke the file: go back to the `previous` text and keep the longest run of them, in
    /// the order they were chosen, that reads cleanly, found by halving in a few parses. The fix after that run is
    /// set aside if it breaks the file on its own, and the next round chooses the ones after it again. Keeping only
    /// the first fix that read cleanly took two rounds a fix: where the fix that broke the file came late in a
    /// round of many, the rounds ran out before reaching it, and fixing the fixed file changed it again (found by
    /// the `fix` fuzz target).
    fn recover(&mut self, previous: &str) -> String {
        let fixes = self.history.pop().expect("the unverified fixes are the last applied");
        for fix in &fixes {
            *self.applied.get_mut(fix.rule.code).expect("counted when applied") -= 1;
        }
        // The first `kept` fixes read cleanly together (none, at first) and the first `broken` do not (all of
        // them, which broke the file): halve the difference until they are one apart.
        let (mut kept, mut broken, mut kept_text) = (0, fixes.len(), None);
        while broken - kept > 1 {
            let middle = (kept + broken) / 2;
            let text = apply(previous, fixes[..middle].iter().flat_map(edits));
            if reads_cleanly(&text) {
                (kept, kept_text) = (middle, Some(text));
            } else {
                broken = middle;
            }
        }
        // With none kept, the first fix is the one that broke the file alone.
        let breaking = &fixes[kept];
        if kept == 0 || !reads_cleanly(&apply(previous, edits(breaking))) {
            self.rejected.insert((breaking.rule.code, breaking.message.clone()));
        }
        let Some(text) = kept_text else { return previous.to_string() };
        // Verified here, by the parse that `reads_cleanly` made.
        for fix in &fixes[..kept] {
            *self.applied.entry(fix.rule.code).or_default() += 1;
        }
        self.history.push(fixes[..kept].to_vec());
        text
    }

    /// Labels the original text's findings as `fix` leaves them, in their messages, so that `check` says what
    /// `fix` would do. A finding counts as fixed when a fix of the same rule applied, in any round, to a range that
    /// overlaps it in the original text (a cleanup withheld for a merge lands once, on the merged RUN, which spans
    /// both), and as left when a finding of the same rule in the fixed text overlaps it there.
    ///
    /// - A fix that this run could apply but no round did, where the finding is left, is taken off: another fix
    ///   changed what it would edit first (a merge that brings a later RUN's `apt-get install` into the RUN whose
    ///   lists it would remove), or the rounds ran out. A finding neither fixed nor left was resolved by the other
    ///   fixes (a merge that brings in a RUN that cleans), as its label already says.
    /// - A finding with no fix this run applies, of a rule that may fix, that is neither fixed nor left was resolved
    ///   by the other fixes (a yum cache left by `yum update; exit 0`, once a merge brings in the RUN that cleans;
    ///   build-only packages that a merge leaves the RUN's cleanup to remove): `fix` takes care of it, and an
    ///   unsafe fix is not needed. One that a fix of its rule reaches once the other fixes apply is reported as a
    ///   follow-on.
    fn label_by_outcome(&self, maps: &[EditMap], initial: &mut [Finding], remaining: &[Finding]) {
        // Each round in the history applied at least one fix.
        let Some(first_round) = self.history.first() else { return };
        let fixable_here = |f: &Finding| f.fix.as_ref().is_some_and(|x| self.applicable(x.applicability));
        let unfixed = |f: &Finding| !fixable_here(f) && f.rule.safety != Safety::ReportOnly;
        // The first round chooses among the findings fixable here: when it applied as many fixes as they carry, it
        // applied them all, as it does in most files.
        let all_applied = initial.iter().filter(|f| fixable_here(f)).count() == first_round.len();
        if all_applied && !initial.iter().any(unfixed) {
            return;
        }
        let original = |(round, f): (usize, &Finding)| (f.rule.code, in_original(maps, round, f.range));
        let fixed = RangesByRule::new(self.applied().map(original));
        let left = RangesByRule::new(remaining.iter().map(|f| original((maps.len(), f))));
        for finding in initial.iter_mut() {
            let (code, range) = (finding.rule.code, finding.range);
            if fixed.overlaps(code, range) {
                continue;
            }
            if !all_applied && fixable_here(finding) && left.overlaps(code, range) {
                finding.fix = None;
                finding.message.push_str(" (no fix once the other fixes apply)");
            } else if unfixed(finding) && !left.overlaps(code, range) {
                finding.message.push_str(" (resolved once the other fixes apply)");
            }
        }
    }

    /// What the applied fixes made possible that no finding of the original text foretold, located in the
    /// original: the fixes of the second round on, and then the unsafe fixes of the fixed text that this run
    /// leaves to `--unsafe-fixes`.
    fn follow_ons(&self, maps: &[EditMap], initial: &[Finding], remaining: &[Finding]) -> Vec<Finding> {
        let applied = self.applied().filter(|&(round, _)| round > 0);
        let left_unsafe = remaining
            .iter()
            .filter(|f| !self.unsafe_fixes && f.fix.as_ref().is_some_and(|x| x.applicability == Applicability::Unsafe))
            .map(|f| (maps.len(), f));
        // A finding of the original text foretells one that starts where it does, of its rule, whose fix it labels
        // alike: one with no fix does not foretell a fix that the merge of its RUN into an earlier one makes
        // possible. `check` sorts the original text's findings by start and code, so they are looked up by binary
        // search rather than hashed, all of them, for the few follow-ons there are.
        let foretold = |code: &str, start: usize, applicability: Applicability| {
            let first = initial.partition_point(|f| (f.range.start, f.rule.code) < (start, code));
            initial[first..]
                .iter()
                .take_while(|f| (f.range.start, f.rule.code) == (start, code))
                .any(|f| f.fix.as_ref().is_some_and(|x| x.applicability == applicability))
        };
        let mut found: HashSet<(&str, usize)> = HashSet::default();
        let mut out: Vec<Finding> = Vec::new();
        for (round, finding) in applied.chain(left_unsafe) {
            let range = in_original(maps, round, finding.range);
            let applicability = finding.fix.as_ref().map_or(Applicability::Safe, |f| f.applicability);
            if foretold(finding.rule.code, range.start, applicability)
                || !found.insert((finding.rule.code, range.start))
            {
                continue;
            }
            out.push(Finding {
                range,
                message: format!("{} (applies after the other fixes)", finding.message),
                fix: Some(Fix { applicability, edits: Vec::new() }),
                instructions: Vec::new(),
                ..finding.clone()
            });
        }
        out
    }
}

/// Where `range`, in the text that the first `round` rounds of fixes made, lies in the original text.
fn in_original(maps: &[EditMap], round: usize, range: TextRange) -> TextRange {
    let back = |offset| maps[..round].iter().rev().fold(offset, |at, earlier: &EditMap| earlier.map_back(at));
    TextRange::new(back(range.start), back(range.end))
}

/// Findings' ranges in the original text, by rule and start, each with the furthest end of those of its rule
/// before it: whether any overlaps a range is then one binary search, not a scan, however many fixes a file takes.
struct RangesByRule<'f> {
    ranges: Vec<(&'f str, TextRange)>,
    furthest: Vec<usize>,
}

impl<'f> RangesByRule<'f> {
    fn new(ranges: impl Iterator<Item = (&'f str, TextRange)>) -> RangesByRule<'f> {
        let mut ranges: Vec<(&str, TextRange)> = ranges.collect();
        ranges.sort_by_key(|&(code, range)| (code, range.start));
        let mut furthest: Vec<usize> = Vec::with_capacity(ranges.len());
        for (k, &(code, range)) in ranges.iter().enumerate() {
            let before = k.checked_sub(1).filter(|&j| ranges[j].0 == code).map_or(0, |j| furthest[j]);
            furthest.push(range.end.max(before));
        }
        RangesByRule { ranges, furthest }
    }

    /// Whether a range of rule `code` shares a byte with `range`.
    fn overlaps(&self, code: &str, range: TextRange) -> bool {
        let k = self.ranges.partition_point(|&(c, r)| (c, r.start) < (code, range.end));
        k.checked_sub(1).is_some_and(|j| self.ranges[j].0 == code && self.furthest[j] > range.start)
    }
}

/// One round's edits, sorted once, for mapping offsets between the text before them and the text after them by
/// binary search: a file with a hundred thousand follow-on fixes costs as many lookups, not their square.
pub struct EditMap {
    /// Per edit, by position: where it starts after the round's edits, its replacement's length, where it starts
    /// and ends before, and how far the text after it has moved.
    edits: Vec<MappedEdit>,
}

struct MappedEdit {
    start_after: usize,
    replacement_len: usize,
    start_before: usize,
    end_before: usize,
    shift_after: isize,
}

impl EditMap {
    pub fn new<'e>(edits: impl Iterator<Item = &'e Edit>) -> EditMap {
        let mut all: Vec<&Edit> = edits.collect();
        all.sort_by_key(|e| (e.range.start, e.range.end));
        let mut shift: isize = 0;
        let edits = all
            .into_iter()
            .map(|edit| {
                let start_after = (edit.range.start as isize + shift) as usize;
                shift += edit.replacement.len() as isize - edit.range.len() as isize;
                MappedEdit {
                    start_after,
                    replacement_len: edit.replacement.len(),
                    start_before: edit.range.start,
                    end_before: edit.range.end,
                    shift_after: shift,
                }
            })
            .collect();
        EditMap { edits }
    }

    /// Where an offset in the text after the edits lies in the text before them: text an edit inserted maps to
    /// where the edit was made. Edits do not overlap, so their starts after the round are in order too.
    fn map_back(&self, offset: usize) -> usize {
        let before = self.edits.partition_point(|e| e.start_after <= offset);
        let Some(edit) = before.checked_sub(1).map(|k| &self.edits[k]) else { return offset };
        if offset < edit.start_after + edit.replacement_len {
            return edit.start_before;
        }
        (offset as isize - edit.shift_after).max(0) as usize
    }

    /// Where an offset in the text before the edits lies in the text after them: moved by the edits before it, or
    /// `None` inside an edit's range. An offset where an edit inserts moves past the insertion. Edits do not
    /// overlap, so their ends are in order too.
    pub fn map_forward(&self, offset: usize) -> Option<usize> {
        let passed = self.edits.partition_point(|e| e.end_before <= offset);
        if self.edits.get(passed).is_some_and(|e| e.start_before < offset) {
            return None;
        }
        let shift = passed.checked_sub(1).map_or(0, |k| self.edits[k].shift_after);
        Some(offset.checked_add_signed(shift).expect("an edit removes no more than the text before it"))
    }
}

/// The edits chosen so far in a round, by start, so that a new edit is checked against its neighbours only: a file
/// with a hundred thousand fixes costs as many lookups, not their square. Edits taken do not conflict, so they do
/// not overlap: only the last one starting at or before a new edit can reach into it from the left.
#[derive(Default)]
struct TakenEdits {
    by_start: std::collections::BTreeMap<usize, Vec<TextRange>>,
}

impl TakenEdits {
    fn clashes(&self, edit: &Edit) -> bool {
        let before = self.by_start.range(..=edit.range.start).next_back();
        // An insertion has nothing inside it; a replacement clashes with whatever starts inside it.
        let within = (!edit.range.is_empty()).then(|| self.by_start.range(edit.range.start + 1..edit.range.end));
        before
            .into_iter()
            .chain(within.into_iter().flatten())
            .flat_map(|(_, ranges)| ranges)
            .any(|&range| conflicts(edit.range, range))
    }

    fn add(&mut self, edits: &[Edit]) {
        for edit in edits {
            self.by_start.entry(edit.range.start).or_default().push(edit.range);
        }
    }
}

/// The edits of a finding whose fix a round applied.
fn edits(finding: &Finding) -> &[Edit] {
    &finding.fix.as_ref().expect("chosen findings have fixes").edits
}

fn reads_cleanly(text: &str) -> bool {
    let df = Dockerfile::parse(text);
    df.errors.is_empty() && df.build_errors.is_empty()
}

/// Edits conflict when they share bytes, when both insert at the same place (their order would be a guess), or
/// when one inserts where the other's replacement starts: text appended to the end of a RUN that a merge is about
/// to join to the next would land in the middle of the merged RUN. An insertion where a replacement ends does not
/// conflict.
fn conflicts(a: TextRange, b: TextRange) -> bool {
    a.overlaps(b)
        || (a.is_empty() && b.is_empty() && a.start == b.start)
        || (a.is_empty() && b.start <= a.start && a.start < b.end)
        || (b.is_empty() && a.start <= b.start && b.start < a.end)
}

/// Applies non-conflicting edits in one pass.
pub fn apply<'e>(text: &str, edits: impl IntoIterator<Item = &'e Edit>) -> String {
    let mut edits: Vec<&Edit> = edits.into_iter().collect();
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    // Sized exactly: each round's text lives through the next round's analysis, and a text that outgrew a guess
    // doubled its room, so that on a large file the texts were nearly a third of the memory at its peak.
    let mut len = text.len();
    let mut pos = 0;
    for edit in &edits {
        let removed = edit.range.end.max(pos) - edit.range.start.max(pos);
        len = len - removed + edit.replacement.len();
        pos = pos.max(edit.range.end);
    }
    let mut out = String::with_capacity(len);
    let mut pos = 0;
    for edit in edits {
        out.push_str(&text[pos..edit.range.start.max(pos)]);
        out.push_str(&edit.replacement);
        pos = pos.max(edit.range.end);
    }
    out.push_str(&text[pos..]);
    debug_assert_eq!(out.len(), len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::finding::{RuleInfo, Severity};
    use crate::syntax::text::TextRange;

    #[test]
    fn edits_apply_in_order_and_keep_other_bytes() {
        let edits =
            [Edit::insert(3, "X"), Edit::replace(TextRange::new(5, 7), "yy"), Edit::delete(TextRange::new(0, 1))];
        let fixed = apply("abcdefgh", &edits);
        assert_eq!(fixed, "bcXdeyyh");
        assert_eq!(fixed.capacity(), fixed.len(), "sized exactly");
    }

    #[test]
    fn edits_conflict_when_they_share_bytes_or_an_insertion_point() {
        let taken_after = |first: &Edit| {
            let mut taken = TakenEdits::default();
            taken.add(std::slice::from_ref(first));
            taken
        };
        let replace = Edit::replace(TextRange::new(2, 5), "");
        let cases = [
            (Edit::insert(3, "x"), true),
            (Edit::insert(5, "x"), false),
            (Edit::insert(2, "x"), true),
            (Edit::delete(TextRange::new(4, 6)), true),
            (Edit::delete(TextRange::new(0, 3)), true),
            (Edit::delete(TextRange::new(0, 2)), false),
            (Edit::delete(TextRange::new(5, 9)), false),
            (Edit::delete(TextRange::new(0, 9)), true),
        ];
        for (other, clash) in cases {
            // Whichever was taken first, the other clashes with it or not.
            assert_eq!(taken_after(&replace).clashes(&other), clash, "{other:?} after {replace:?}");
            assert_eq!(taken_after(&other).clashes(&replace), clash, "{replace:?} after {other:?}");
        }
        assert!(taken_after(&Edit::insert(4, "a")).clashes(&Edit::insert(4, "b")));
    }

    /// On `FROM a\nRUN b\n`, a fix that breaks the file (a FROM of two words) beside one that does not.
    struct BreaksOneFixesOne;

    static BREAKS_ONE: RuleInfo = RuleInfo {
        code: "DO999",
        name: "breaks-one-fixes-one",
        summary: "",
        doc: "",
        safety: Safety::Safe,
        severity: Severity::Warning,
        hadolint: &[],
    };

    impl Rule for BreaksOneFixesOne {
        fn info(&self) -> &'static RuleInfo {
            &BREAKS_ONE
        }

        fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
            let source = ctx.df.source();
            let mut fix = |at: &str, by: &str, message: &str| {
                if let Some(start) = source.find(at) {
                    let range = TextRange::new(start, start + at.len());
                    findings.push(Finding {
                        rule: &BREAKS_ONE,
                        range,
                        message: message.to_string(),
                        fix: Some(Fix { applicability: Applicability::Safe, edits: vec![Edit::replace(range, by)] }),
                        instructions: Vec::new(),
                    });
                }
            };
            fix("FROM a\n", "FROM a b\n", "breaks");
            fix("RUN b\n", "RUN b c\n", "fixes");
        }
    }

    #[test]
    fn a_fix_that_breaks_the_file_is_set_aside_and_the_others_apply() {
        let outcome = fix("FROM a\nRUN b\n", None, &[&BreaksOneFixesOne], false).unwrap();
        assert_eq!(outcome.text, "FROM a\nRUN b c\n");
        assert_eq!(outcome.applied.get("DO999"), Some(&1));
        let left: Vec<&str> = outcome.remaining.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(left, ["breaks"], "the breaking fix is found again, and left");
        assert!(outcome.follow_ons.is_empty());
    }

    /// Appends ` c` to every `RUN b…` line, and turns the last line, `RUN z`, into an unterminated heredoc.
    struct BreaksTheLast;

    impl Rule for BreaksTheLast {
        fn info(&self) -> &'static RuleInfo {
            &BREAKS_ONE
        }

        fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
            let source = ctx.df.source();
            for s in &ctx.df.statements {
                let line = &source[s.range.as_range()];
                let (by, message) = match line {
                    "RUN z" => (" <<EOF", "breaks"),
                    _ if line.starts_with("RUN b") && !line.ends_with(" c") => (" c", "fixes"),
                    _ => continue,
                };
                findings.push(Finding {
                    rule: &BREAKS_ONE,
                    range: s.range,
                    message: message.to_string(),
                    fix: Some(Fix { applicability: Applicability::Safe, edits: vec![Edit::insert(s.range.end, by)] }),
                    instructions: Vec::new(),
                });
            }
        }
    }

    #[test]
    fn a_round_whose_last_fix_breaks_the_file_keeps_the_others_and_reaches_a_fixpoint() {
        // More fixes before the breaking one than there are rounds: keeping one of them a recovery left some out.
        let runs: String = (0..2 * MAX_ROUNDS).map(|k| format!("RUN b{k}\n")).collect();
        let source = format!("FROM a\n{runs}RUN z\n");
        let outcome = fix(&source, None, &[&BreaksTheLast], false).unwrap();
        let fixed: String = (0..2 * MAX_ROUNDS).map(|k| format!("RUN b{k} c\n")).collect();
        assert_eq!(outcome.text, format!("FROM a\n{fixed}RUN z\n"));
        assert_eq!(outcome.applied.get("DO999"), Some(&(2 * MAX_ROUNDS)));
        let left: Vec<&str> = outcome.remaining.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(left, ["breaks"]);
        assert_eq!(fix(&outcome.text, None, &[&BreaksTheLast], false).unwrap().text, outcome.text);
    }

    /// Appends ` c` to the first `RUN b…` line that lacks it, one line a round: each fix enables the next. The
    /// fix of [`BREAKING_LINE`] breaks the file instead, by making it a heredoc with no end.
    struct OneLineARound;

    /// The `RUN b…` line whose fix the last round of the first run of rounds applies.
    const BREAKING_LINE: usize = ROUNDS_SHARING_READINGS - 1;

    impl Rule for OneLineARound {
        fn info(&self) -> &'static RuleInfo {
            &BREAKS_ONE
        }

        fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
            let source = ctx.df.source();
            let lines = ctx.df.statements.iter().map(|s| (s.range, &source[s.range.as_range()]));
            let Some((range, line)) =
                lines.filter(|(_, line)| line.starts_with("RUN b")).find(|(_, l)| !l.ends_with(" c"))
            else {
                return;
            };
            let breaks = line.strip_prefix("RUN b").and_then(|n| n.parse().ok()) == Some(BREAKING_LINE);
            let (by, message) = if breaks { (" <<EOF", "breaks") } else { (" c", "fixes") };
            findings.push(Finding {
                rule: &BREAKS_ONE,
                range,
                message: message.to_string(),
                fix: Some(Fix { applicability: Applicability::Safe, edits: vec![Edit::insert(range.end, by)] }),
                instructions: Vec::new(),
            });
        }
    }

    #[test]
    fn rounds_after_a_run_that_shared_readings_read_afresh_and_fix_the_same() {
        let runs = |numbers: std::ops::Range<usize>, fixed: bool| -> String {
            numbers.map(|k| format!("RUN b{k}{}\n", if fixed { " c" } else { "" })).collect()
        };
        // One fix a round, over three runs of rounds.
        let many = 3 * ROUNDS_SHARING_READINGS;
        let outcome = fix(&format!("FROM a\n{}", runs(10..10 + many, false)), None, &[&OneLineARound], false).unwrap();
        assert_eq!(outcome.text, format!("FROM a\n{}", runs(10..10 + many, true)));
        assert_eq!(outcome.applied.get("DO999"), Some(&many));
        assert_eq!(outcome.initial.len(), 1, "the first round's findings are the file's");
        assert!(outcome.remaining.is_empty());
        // The fix that breaks the file is applied by the last round of a run: the round after it, which reads
        // afresh, goes back to the text before it and sets the fix aside.
        let end = BREAKING_LINE + 3;
        let outcome = fix(&format!("FROM a\n{}", runs(0..end, false)), None, &[&OneLineARound], false).unwrap();
        assert_eq!(
            outcome.text,
            format!("FROM a\n{}{}", runs(0..BREAKING_LINE, true), runs(BREAKING_LINE..end, false))
        );
        let left: Vec<&str> = outcome.remaining.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(left, ["breaks"]);
    }

    #[test]
    fn offsets_move_with_the_edits_before_them() {
        // "abcdefghijkl" with "x" inserted at 1 and "de" replaced by "yyy": "axbcyyyfghijkl".
        let edits = [Edit::insert(1, "x"), Edit::replace(TextRange::new(3, 5), "yyy")];
        let map = EditMap::new(edits.iter());
        let offsets: Vec<Option<usize>> = [0, 1, 3, 4, 5, 11].into_iter().map(|o| map.map_forward(o)).collect();
        assert_eq!(offsets, [Some(0), Some(2), Some(4), None, Some(7), Some(13)]);
    }

    #[test]
    fn offsets_after_a_round_map_back_to_the_text_before_it() {
        // "abcdefghijkl" with "cd" replaced by "xyz" and "ab" inserted before "k": "abxyzefghijabkl".
        let edits = [Edit::insert(10, "ab"), Edit::replace(TextRange::new(2, 4), "xyz")];
        assert_eq!(apply("abcdefghijkl", &edits), "abxyzefghijabkl");
        let map = EditMap::new(edits.iter());
        let mapped: Vec<usize> = (0..=15).map(|offset| map.map_back(offset)).collect();
        // Text an edit wrote maps to where the edit was made; text after it moves back by what the edits added.
        assert_eq!(mapped, [0, 1, 2, 2, 2, 4, 5, 6, 7, 8, 9, 10, 10, 10, 11, 12]);
    }
}
