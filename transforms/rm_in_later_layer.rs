use crate::engine::context::Context;
use crate::engine::finding::{Finding, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::syntax::model::Kind;
use foldhash::HashSet;
use std::collections::BTreeSet;

pub struct RmInLaterLayer;

static INFO: RuleInfo = RuleInfo {
    code: "DO303",
    name: "rm-in-later-layer",
    summary: "Removing files in a later layer does not shrink the image",
    doc: "Layers only add: a RUN that deletes files an earlier instruction created hides them, but their bytes \
stay in the earlier layer. Delete them in the RUN that creates them, or build them in another stage and copy \
only what you need. dockopt reports a RUN that only removes paths an earlier instruction of the stage wrote.\n\n\
Before:\n    RUN curl -o /tmp/big.tar.gz $URL && tar -xzf /tmp/big.tar.gz -C /opt\n    RUN rm /tmp/big.tar.gz\n\n\
After:\n    RUN curl -o /tmp/big.tar.gz $URL && tar -xzf /tmp/big.tar.gz -C /opt && rm /tmp/big.tar.gz",
    safety: Safety::ReportOnly,
    severity: Severity::Advice,
    hadolint: &[],
};

impl Rule for RmInLaterLayer {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        for stage in &ctx.df.stages {
            // Most stages remove nothing on its own; only those need the index of what came before.
            let removals: Vec<(usize, Vec<&str>)> = stage
                .statements
                .clone()
                .map(|i| (i, removed_only(ctx, i)))
                .filter(|(_, paths)| !paths.is_empty())
                .collect();
            let mut written = WrittenPaths::default();
            let mut recorded = stage.statements.start;
            for (i, paths) in removals {
                for earlier in recorded..i {
                    written.record(ctx, earlier);
                }
                recorded = i;
                if let Some(path) = paths.into_iter().find(|p| written.contains(p)) {
                    let statement = ctx.statement(i);
                    findings.push(Finding {
                        rule: &INFO,
                        range: statement.range,
                        message: format!(
                            "`rm {path}` in its own layer does not shrink the image; delete it in the RUN that \
                             creates it"
                        ),
                        fix: None,
                        instructions: vec![statement.index()],
                    });
                }
            }
        }
    }
}

/// The absolute paths RUN `i` removes, when removing is all it does.
fn removed_only<'c>(ctx: &'c Context, i: usize) -> Vec<&'c str> {
    let invocations = ctx.invocations(i);
    if invocations.is_empty() || invocations.iter().any(|(_, inv)| inv.program != "rm") {
        return Vec::new();
    }
    invocations
        .iter()
        .flat_map(|(_, inv)| inv.args.iter())
        .filter_map(|w| w.literal.as_deref())
        .filter(|a| a.starts_with('/') && a.len() > 1)
        .collect()
}

/// What the statements of a stage so far may have written, indexed so that each question costs a lookup, not a
/// scan of every earlier statement: a stage of a hundred thousand RUNs stays linear.
#[derive(Default)]
struct WrittenPaths<'c> {
    /// Every tail of an earlier RUN argument that starts at a `/`: an argument mentions a path when one of its
    /// tails starts with the path.
    run_tails: BTreeSet<&'c str>,
    /// An earlier RUN had an argument at all.
    any_run_argument: bool,
    /// The absolute destinations of earlier COPY and ADD instructions, without a trailing `/`.
    copied_to: HashSet<&'c str>,
}

impl<'c> WrittenPaths<'c> {
    fn record(&mut self, ctx: &'c Context, i: usize) {
        let ins = &ctx.statement(i).instruction;
        match ins.kind {
            Kind::Run => {
                for (_, inv) in ctx.invocations(i) {
                    for arg in inv.args.iter().filter_map(|w| w.literal.as_deref()) {
                        self.any_run_argument = true;
                        self.run_tails.extend(arg.match_indices('/').map(|(at, _)| &arg[at..]));
                    }
                }
            }
            Kind::Copy | Kind::Add => {
                if let Some(dest) = ctx.df.value_texts(ins).next_back().filter(|d| d.starts_with('/')) {
                    self.copied_to.insert(dest.trim_end_matches('/'));
                }
            }
            _ => {}
        }
    }

    /// An earlier RUN mentions `path` (a glob stands for the directory it lists), or an earlier COPY or ADD wrote
    /// to it or to a directory above it.
    fn contains(&self, path: &str) -> bool {
        let stem = path.trim_end_matches(['*', '/']);
        if stem.is_empty() {
            return self.any_run_argument || !self.copied_to.is_empty();
        }
        let mentioned = self.run_tails.range(stem..).next().is_some_and(|tail| tail.starts_with(stem));
        let under_a_copy = stem
            .match_indices('/')
            .map(|(at, _)| &stem[..at])
            .chain([stem])
            .any(|directory| self.copied_to.contains(directory));
        mentioned || under_a_copy
    }
}
