use super::cleanup::{cleanup_finding, last_matching};
use crate::engine::context::Context;
use crate::engine::finding::{Finding, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::Invocation;

pub struct RpmCacheClean;

static INFO: RuleInfo = RuleInfo {
    code: "DO204",
    name: "rpm-cache-clean",
    summary: "yum, dnf, microdnf or zypper cache left in the layer",
    doc: "yum, dnf, microdnf and zypper keep downloaded metadata and packages under /var/cache. dockopt \
cleans them at the end of the RUN that installs: `yum clean all && rm -rf /var/cache/yum`, `dnf clean all && \
rm -rf /var/cache/dnf`, `microdnf clean all`, `zypper clean -a`. Later installs fetch fresh metadata, so no \
later RUN depends on the cache.\n\n\
Before:\n    RUN yum install -y httpd\n\n\
After:\n    RUN yum install -y httpd && yum clean all && rm -rf /var/cache/yum",
    safety: Safety::Safe,
    severity: Severity::Warning,
    hadolint: &["DL3032", "DL3036", "DL3040"],
};

/// (package manager, subcommands that fill the cache, subcommand that cleans it, cleanup command)
const MANAGERS: &[(&str, &[&str], &str, &str)] = &[
    (
        "yum",
        &["install", "groupinstall", "localinstall", "update", "upgrade", "reinstall"],
        "clean",
        "yum clean all && rm -rf /var/cache/yum",
    ),
    (
        "dnf",
        &["install", "groupinstall", "update", "upgrade", "reinstall", "builddep"],
        "clean",
        "dnf clean all && rm -rf /var/cache/dnf",
    ),
    ("microdnf", &["install", "update", "upgrade", "reinstall"], "clean", "microdnf clean all"),
    ("zypper", &["install", "in", "update", "up", "dist-upgrade", "dup", "patch"], "clean", "zypper clean -a"),
];

impl Rule for RpmCacheClean {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        for (i, script) in ctx.runs() {
            let invocations = ctx.invocations(i);
            for (manager, fills, clean, cleanup) in MANAGERS {
                let fills =
                    |inv: &Invocation| inv.program == *manager && inv.subcommand().is_some_and(|s| fills.contains(&s));
                let Some((last, _)) = last_matching(&invocations, fills) else { continue };
                let last_fill = last.range.start;
                let cleaned = invocations.iter().any(|(c, inv)| {
                    c.range.start > last_fill
                        && ((inv.program == *manager
                            && matches!(inv.subcommand(), Some(s) if s == *clean || s == "cc"))
                            || (inv.program == "rm"
                                && inv.args.iter().any(|w| {
                                    w.literal
                                        .as_deref()
                                        .is_some_and(|a| a.starts_with(&format!("/var/cache/{manager}")))
                                })))
                });
                let cache =
                    if *manager == "zypper" { "/var/cache/zypp".to_string() } else { format!("/var/cache/{manager}") };
                if cleaned || script.opaque || ctx.mount_covers(i, &cache) {
                    continue;
                }
                findings.push(cleanup_finding(
                    ctx,
                    i,
                    &INFO,
                    format!("{manager} leaves its cache in {cache}; clean it in the same RUN"),
                    cleanup,
                ));
            }
        }
    }
}
