use super::cleanup::{last_matching, may_clean_unlisted, tool_cleanup_finding};
use crate::engine::context::Context;
use crate::engine::finding::{Finding, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::Programs;

pub struct CondaClean;

static INFO: RuleInfo = RuleInfo {
    code: "DO208",
    name: "conda-clean",
    summary: "conda package cache left in the layer",
    doc: "conda keeps downloaded tarballs, extracted packages and index caches in its pkgs directory. \
Environments hold their own copies, so `conda clean -afy` at the end of the installing RUN removes only \
cache. It reports without a fix when conda may be gone or off PATH by then: installed in a subshell or a \
branch, or followed by a package removal or an `rm` of its files.\n\n\
Before:\n    RUN conda install -y numpy\n\n\
After:\n    RUN conda install -y numpy && conda clean -afy",
    safety: Safety::Safe,
    severity: Severity::Warning,
    hadolint: &[],
};

/// The programs that install conda packages and keep them in /opt/conda/pkgs.
const CONDA: Programs = Programs::new(&["conda", "mamba", "micromamba"]);

impl Rule for CondaClean {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        for (i, _) in ctx.runs().filter(|&(i, _)| ctx.runs_any_of(i, &CONDA)) {
            let invocations = ctx.invocations(i);
            let is_conda = |p: &str| CONDA.contains(p);
            let installs = |inv: &crate::shell::Invocation| {
                is_conda(inv.program) && matches!(inv.subcommand(), Some("install" | "create" | "update"))
            };
            let Some((last, installer)) = last_matching(&invocations, installs) else { continue };
            let (last_install, program) = (last.range.start, installer.program.to_string());
            let cleaned = invocations.iter().any(|(c, inv)| {
                c.range.start > last_install && is_conda(inv.program) && inv.subcommand() == Some("clean")
            });
            let may_clean = may_clean_unlisted(ctx, i, &["clean", "/pkgs"]);
            if cleaned || may_clean || ctx.mount_covers(i, "/opt/conda/pkgs") {
                continue;
            }
            let cleanup = format!("{program} clean -afy");
            let message = format!("{program} leaves its package cache in the layer; run `{cleanup}` in the same RUN");
            findings.push(tool_cleanup_finding(ctx, i, &INFO, message, &cleanup, (&invocations, last, &program)));
        }
    }
}
