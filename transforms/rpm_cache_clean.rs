use super::cleanup::{cleanup_finding, last_matching, may_clean_unlisted};
use crate::engine::context::Context;
use crate::engine::finding::{Finding, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::{Invocation, Programs};

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

/// A package manager whose downloads stay in a cache directory.
struct Manager {
    /// The names it runs under.
    programs: Programs,
    /// Subcommands, with their documented aliases, that download packages or repository metadata into the cache.
    fills: &'static [&'static str],
    /// Where its cache is: dnf 4 and dnf 5 keep theirs in different places.
    caches: &'static [&'static str],
    /// The cleanup command, with `{}` for the program as the RUN names it.
    cleanup: &'static str,
}

const DNF_FILLS: &[&str] = &[
    "install",
    "in",
    "reinstall",
    "rei",
    "update",
    "upgrade",
    "up",
    "update-minimal",
    "upgrade-minimal",
    "up-min",
    "downgrade",
    "distro-sync",
    "dsync",
    "distrosync",
    "distribution-synchronization",
    "swap",
    "groupinstall",
    "groupupdate",
    "group",
    "groups",
    "module",
    "localinstall",
    "builddep",
    "makecache",
    "mc",
    "install-n",
];

const MANAGERS: &[Manager] = &[
    Manager {
        programs: Programs::new(&["yum"]),
        fills: DNF_FILLS,
        caches: &["/var/cache/yum"],
        cleanup: "{} clean all && rm -rf /var/cache/yum",
    },
    Manager {
        programs: Programs::new(&["dnf", "dnf5"]),
        fills: DNF_FILLS,
        caches: &["/var/cache/dnf", "/var/cache/libdnf5"],
        cleanup: "{} clean all && rm -rf /var/cache/dnf",
    },
    Manager {
        programs: Programs::new(&["microdnf"]),
        fills: &["install", "reinstall", "update", "upgrade", "download", "makecache"],
        caches: &["/var/cache/yum", "/var/cache/dnf"],
        cleanup: "{} clean all",
    },
    Manager {
        programs: Programs::new(&["zypper"]),
        fills: &[
            "install",
            "in",
            "update",
            "up",
            "dist-upgrade",
            "dup",
            "patch",
            "source-install",
            "si",
            "refresh",
            "ref",
        ],
        caches: &["/var/cache/zypp"],
        cleanup: "{} clean -a",
    },
];

impl Rule for RpmCacheClean {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        for (i, _) in ctx.runs().filter(|&(i, _)| MANAGERS.iter().any(|m| ctx.runs_any_of(i, &m.programs))) {
            let invocations = ctx.invocations(i);
            for manager in MANAGERS {
                let fills = |inv: &Invocation| {
                    manager.programs.contains(inv.program)
                        && inv.subcommand().is_some_and(|s| manager.fills.contains(&s))
                };
                let Some((last, last_inv)) = last_matching(&invocations, fills) else { continue };
                let last_fill = last.range.start;
                let cleaned = invocations.iter().any(|(c, inv)| {
                    c.range.start > last_fill
                        && ((manager.programs.contains(inv.program)
                            && matches!(inv.subcommand(), Some("clean" | "cc")))
                            || (inv.program == "rm"
                                && inv.args.iter().any(|w| {
                                    w.literal
                                        .as_deref()
                                        .is_some_and(|a| manager.caches.iter().any(|c| a.starts_with(c)))
                                })))
                });
                let cache = manager.caches[0];
                let may_clean = may_clean_unlisted(ctx, i, &["clean", "/var/cache"]);
                if cleaned || may_clean || manager.caches.iter().any(|c| ctx.mount_covers(i, c)) {
                    continue;
                }
                let program = last_inv.program;
                findings.push(cleanup_finding(
                    ctx,
                    i,
                    &INFO,
                    format!("{program} leaves its cache in {cache}; clean it in the same RUN"),
                    &manager.cleanup.replace("{}", program),
                ));
            }
        }
    }
}
