//! The passes over the whole corpus. For every file BuildKit accepts:
//! - the fixed text parses, and fixing it again changes nothing;
//! - applying any single fix leaves every instruction it does not name exactly as BuildKit saw it;
//! - every edit lies within the instructions its finding names (and the lines between them);
//! - the same with `--cache-mounts`, for the fixes that mount caches.
//!
//! - the fix rounds, which run only the rules whose fixes they may apply, find what running every rule in every
//!   round finds.
//!
//! It prints how many files change and the findings per rule.

mod common;

use dockopt::engine::build_context::BuildContext;
use dockopt::engine::context::Context;
use dockopt::engine::finding::{Applicability, Finding, Safety};
use dockopt::engine::options::RuleOptions;
use dockopt::engine::rule::Rule;
use dockopt::engine::{fix, rule};
use dockopt::syntax::model::{Dockerfile, Statement};
use dockopt::transforms;
use std::collections::BTreeMap;

/// What BuildKit sees in an instruction, without its position.
fn meaning(df: &Dockerfile, s: &Statement) -> String {
    let ins = &s.instruction;
    let heredocs: Vec<&str> = df.heredocs(s).iter().map(|h| h.content).collect();
    format!(
        "{} {:?} {} {:?} {:?} {:?}",
        df.text(&ins.cmd),
        df.flag_texts(ins).collect::<Vec<_>>(),
        ins.json,
        df.value_texts(ins).collect::<Vec<_>>(),
        ins.sub.as_ref().map(|s| (df.text(&s.cmd), df.value_texts(s).collect::<Vec<_>>())),
        heredocs
    )
}

/// Applies one finding's fix alone and checks what it may and may not change. Returns a problem, if any.
fn check_single_fix(source: &str, df: &Dockerfile, finding: &Finding) -> Option<String> {
    let edits = &finding.fix.as_ref()?.edits;
    let named: Vec<&Statement> = df.statements.iter().filter(|s| finding.instructions.contains(&s.index())).collect();
    let (first, last) = (named.first()?, named.last()?);
    let allowed = dockopt::syntax::text::TextRange::new(first.line_range.start, last.line_range.end);
    if let Some(e) = edits.iter().find(|e| !allowed.contains_range(e.range)) {
        return Some(format!(
            "{}: edit {:?} outside the instructions it names {allowed:?}",
            finding.rule.code, e.range
        ));
    }
    let fixed = fix::apply(source, edits);
    let after = Dockerfile::parse(&fixed);
    if !after.errors.is_empty() || !after.build_errors.is_empty() {
        return Some(format!("{}: the fix breaks the file: {:?}", finding.rule.code, after.errors));
    }
    let before_named: Vec<String> =
        df.statements.iter().filter(|s| s.line_range.end <= first.line_range.start).map(|s| meaning(df, s)).collect();
    let after_named: Vec<String> =
        df.statements.iter().filter(|s| s.line_range.start >= last.line_range.end).map(|s| meaning(df, s)).collect();
    let new: Vec<String> = after.statements.iter().map(|s| meaning(&after, s)).collect();
    let unchanged = new.len() >= before_named.len() + after_named.len()
        && new[..before_named.len()] == before_named[..]
        && new[new.len() - after_named.len()..] == after_named[..];
    (!unchanged).then(|| format!("{}: the fix changed instructions it does not name", finding.rule.code))
}

#[test]
#[cfg_attr(not(dockopt_corpus), ignore = "needs the shared corpus (DOCKOPT_CORPUS, by default ../shared/corpus)")]
fn fixes_hold_their_invariants_on_the_corpus() {
    let corpus = common::corpus();
    let rules = transforms::all();
    let mut files = 0;
    let mut changed = 0;
    let mut findings_per_rule: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut applied_per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    let mut mounts_per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    let cache_mounts = RuleOptions { cache_mounts: true, ..RuleOptions::DEFAULT };
    let mut problems = Vec::new();
    // DO102 and DO103 read the build context. The corpus holds Dockerfiles only, so most have none to read:
    // their outcomes are counted separately, with the refusals grouped by reason.
    let mut context_outcomes: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for (name, path) in common::files_under(&corpus) {
        let Ok(source) = std::fs::read_to_string(&path) else { continue };
        let df = Dockerfile::parse(&source);
        if !df.errors.is_empty() || !df.build_errors.is_empty() {
            continue;
        }
        files += 1;
        let build = BuildContext::for_dockerfile(&path, None);
        let with_context = Context::new(&df, Some(&build));
        for finding in rule::check(&with_context, &rules).iter().filter(|f| matches!(f.rule.code, "DO102" | "DO103")) {
            let outcome = if finding.fix.is_some() {
                "fixed".to_string()
            } else if finding.message.contains("is not in the build context") {
                "refused: no context".to_string()
            } else {
                let reason = finding.message.rsplit(": ").next().unwrap_or_default();
                // Group reasons that name a file or directory by their wording alone.
                let reason: String =
                    reason.split('`').enumerate().map(|(i, part)| if i % 2 == 1 { "…" } else { part }).collect();
                format!("refused: {}", reason.replace("/app", "…"))
            };
            *context_outcomes.entry((finding.rule.code, outcome)).or_default() += 1;
        }
        let ctx = Context::new(&df, None);
        for finding in rule::check(&ctx, &rules) {
            let entry = findings_per_rule.entry(finding.rule.code).or_default();
            entry.0 += 1;
            if finding.fix.as_ref().is_some_and(|f| f.applicability == Applicability::Safe) {
                entry.1 += 1;
                if let Some(problem) = check_single_fix(&source, &df, &finding) {
                    problems.push(format!("{name}: {problem}"));
                }
            }
        }
        // With --cache-mounts, the cache rules mount caches instead: the same invariants, for safe and unsafe
        // mounts alike, and fixing with every fix allowed settles in one run.
        let mounting = Context::with_options(&df, None, &cache_mounts);
        let mounts: Vec<Finding> = rule::check(&mounting, &rules)
            .into_iter()
            .filter(|f| {
                f.fix.as_ref().is_some_and(|fix| fix.edits.iter().any(|e| e.replacement.contains("--mount=type=cache")))
            })
            .collect();
        for finding in &mounts {
            *mounts_per_rule.entry(finding.rule.code).or_default() += 1;
            if let Some(problem) = check_single_fix(&source, &df, finding) {
                problems.push(format!("{name} (--cache-mounts): {problem}"));
            }
        }
        if !mounts.is_empty() {
            let once = fix::fix_with_options(&source, None, &rules, true, &cache_mounts, fix::Remaining::All)
                .expect("fixable");
            match fix::fix_with_options(&once.text, None, &rules, true, &cache_mounts, fix::Remaining::All) {
                Ok(again) if again.text == once.text => {}
                Ok(_) => problems.push(format!("{name}: fixing twice with --cache-mounts changes the file")),
                Err(e) => problems.push(format!("{name}: the file fixed with --cache-mounts does not parse: {e:?}")),
            }
        }
        let outcome = fix::fix(&source, None, &rules, false).expect("a file BuildKit accepts stays fixable");
        for (code, n) in &outcome.applied {
            *applied_per_rule.entry(code).or_default() += n;
        }
        if outcome.text != source {
            changed += 1;
            match fix::fix(&outcome.text, None, &rules, false) {
                Ok(again) if again.text == outcome.text => {}
                Ok(_) => problems.push(format!("{name}: fixing twice changes the file")),
                Err(e) => problems.push(format!("{name}: the fixed file does not parse: {e:?}")),
            }
        }
    }
    println!("corpus fixes: {files} files BuildKit accepts, {changed} changed by safe fixes");
    println!("{:<8} {:>9} {:>10} {:>9}", "rule", "findings", "safe fix", "applied");
    for (code, (found, fixable)) in &findings_per_rule {
        println!("{code:<8} {found:>9} {fixable:>10} {:>9}", applied_per_rule.get(code).copied().unwrap_or(0));
    }
    println!("cache mounts with --cache-mounts (safe or unsafe): {mounts_per_rule:?}");
    println!("build-context rules (each file's corpus directory as its context):");
    for ((code, outcome), n) in &context_outcomes {
        println!("  {code} {outcome}: {n}");
    }
    for p in problems.iter().take(40) {
        println!("PROBLEM {p}");
    }
    assert!(files > 0, "no corpus file was checked");
    assert!(problems.is_empty(), "{} invariant violations", problems.len());
}

#[test]
#[cfg_attr(not(dockopt_corpus), ignore = "needs the shared corpus (DOCKOPT_CORPUS, by default ../shared/corpus)")]
fn fix_rounds_find_what_running_every_rule_in_every_round_finds() {
    let corpus = common::corpus();
    let rules = transforms::all();
    let every_round = common::every_round::every_round();
    let options = RuleOptions::DEFAULT;
    let (mut files, mut differences) = (0, Vec::new());
    for (name, path) in common::files_under(&corpus) {
        let Ok(source) = std::fs::read_to_string(&path) else { continue };
        files += 1;
        let build = BuildContext::for_dockerfile(&path, None);
        for unsafe_fixes in [false, true] {
            let run = |rules: &[&dyn Rule], remaining| {
                fix::fix_with_options(&source, Some(&build), rules, unsafe_fixes, &options, remaining)
            };
            let mut expected = run(&every_round, fix::Remaining::All);
            if format!("{:?}", run(&rules, fix::Remaining::All)) != format!("{expected:?}") {
                differences.push(format!("{name}: fix, unsafe fixes {unsafe_fixes}"));
            }
            // What `check` reads: everything but the findings of report-only rules in the fixed text.
            if let Ok(outcome) = &mut expected {
                outcome.remaining.retain(|f| f.rule.safety != Safety::ReportOnly);
            }
            if format!("{:?}", run(&rules, fix::Remaining::Fixable)) != format!("{expected:?}") {
                differences.push(format!("{name}: check, unsafe fixes {unsafe_fixes}"));
            }
        }
    }
    println!("fix rounds: {files} files, {} differences from running every rule in every round", differences.len());
    for d in differences.iter().take(20) {
        println!("DIFFERENT {d}");
    }
    assert!(files > 0, "no corpus file was checked");
    assert!(differences.is_empty(), "{} files fixed differently", differences.len());
}

/// The scripts a fix round takes from the round before it, the same, or joined from those its fixes joined or
/// added to, are those that parsing its text gives. Every merge of the corpus is joined from its parts; and each
/// file is fixed for three rounds, with the safe fixes that do not touch one another, every script of each round
/// compared with its text parsed.
#[test]
#[cfg_attr(not(dockopt_corpus), ignore = "needs the shared corpus (DOCKOPT_CORPUS, by default ../shared/corpus)")]
fn scripts_taken_from_the_round_before_read_as_parsed() {
    let corpus = common::corpus();
    let rules = transforms::all();
    let merge_runs: Vec<&dyn Rule> = rules.iter().copied().filter(|r| r.info().code == "DO101").collect();
    let (mut merged_runs, mut joined) = (0, 0);
    let mut rounds = Rounds { scripts: 0, differences: Vec::new() };
    for (name, path) in common::files_under(&corpus) {
        let Ok(source) = std::fs::read_to_string(&path) else { continue };
        let df = Dockerfile::parse(&source);
        if !df.errors.is_empty() || !df.build_errors.is_empty() {
            continue;
        }
        let ctx = Context::new(&df, None);
        rounds.follow(&name, &source, &ctx, &rules, 1);
        // Each merged RUN, joined from the scripts of the RUNs it merges. The merges before it took their RUNs
        // but the first out of the statements.
        let merges = rule::check(&ctx, &merge_runs);
        let edits = merges.iter().flat_map(|f| &f.fix.as_ref().expect("merges fix").edits);
        let fixed = fix::apply(&source, edits);
        let fixed_df = Dockerfile::parse(&fixed);
        let mut merged_away = 0;
        for merge in &merges {
            let first = df.statements.iter().position(|s| s.index() == merge.instructions[0]).expect("named");
            let parts: Vec<(&str, &dockopt::shell::Script)> = (first..first + merge.instructions.len())
                .map(|k| {
                    let s = &df.statements[k];
                    (&df.logical(s).text[s.instruction.args()], ctx.script(k).expect("merged RUNs have scripts"))
                })
                .collect();
            let merged = &fixed_df.statements[first - merged_away];
            merged_away += merge.instructions.len() - 1;
            let text = &fixed_df.logical(merged).text[merged.instruction.args()];
            merged_runs += 1;
            if let Some(script) = dockopt::shell::Script::joined(text, &parts) {
                joined += 1;
                if format!("{script:?}") != format!("{:?}", dockopt::shell::Script::parse(text)) {
                    rounds.differences.push(format!("{name}: the RUN merged at line {}", merged.start_line()));
                }
            }
        }
    }
    println!(
        "scripts taken from the round before: {joined} of {merged_runs} merged RUNs joined from their parts; {} \
         scripts read in three rounds of fixes; {} differences from parsing",
        rounds.scripts,
        rounds.differences.len()
    );
    for d in rounds.differences.iter().take(20) {
        println!("DIFFERENT {d}");
    }
    assert!(joined > 0 && rounds.scripts > 0, "nothing was compared");
    assert!(rounds.differences.is_empty(), "{} scripts differ from their text parsed", rounds.differences.len());
}

/// Rounds of fixes whose scripts are compared with their text parsed.
struct Rounds {
    scripts: usize,
    differences: Vec<String>,
}

impl Rounds {
    /// Applies the safe fixes found in `ctx`, the reading of `text`, that touch no other fix, and compares the
    /// scripts the next round, round number `round`, takes from `ctx` with those parsed; and so on to the third.
    fn follow(&mut self, name: &str, text: &str, ctx: &Context, rules: &[&dyn Rule], round: usize) {
        if round > 3 {
            return;
        }
        let mut findings: Vec<Finding> = rule::check(ctx, rules)
            .into_iter()
            .filter(|f| f.fix.as_ref().is_some_and(|fix| fix.applicability == Applicability::Safe))
            .collect();
        findings.sort_by_key(|f| (&f.rule.code[..3], f.range.start));
        let mut edits: Vec<&dockopt::engine::finding::Edit> = Vec::new();
        for finding in &findings {
            let candidate = &finding.fix.as_ref().expect("kept with fixes").edits;
            let touches = |a: &dockopt::engine::finding::Edit| {
                edits.iter().any(|b| a.range.start <= b.range.end && b.range.start <= a.range.end)
            };
            if !candidate.iter().any(touches) {
                edits.extend(candidate);
            }
        }
        if edits.is_empty() {
            return;
        }
        let fixed = fix::apply(text, edits.iter().copied());
        let df = Dockerfile::parse(&fixed);
        if !df.errors.is_empty() || !df.build_errors.is_empty() {
            return;
        }
        let moved = fix::EditMap::new(edits.iter().copied());
        let known = ctx.known_scripts(|offset| moved.map_forward(offset));
        let taken = Context::reading(&df, None, &RuleOptions::DEFAULT, &known);
        let parsed = Context::new(&df, None);
        for i in 0..df.statements.len() {
            self.scripts += usize::from(parsed.script(i).is_some());
            if format!("{:?}", taken.script(i)) != format!("{:?}", parsed.script(i)) {
                self.differences.push(format!("{name}: statement {i} in round {round}"));
            }
        }
        self.follow(name, &fixed, &taken, rules, round + 1);
    }
}
