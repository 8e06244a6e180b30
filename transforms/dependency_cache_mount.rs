use super::cleanup::{cache_dir, mount_edits, mount_fix, CacheMount};
use crate::engine::context::Context;
use crate::engine::finding::{Finding, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::Invocation;
use crate::syntax::model::Kind;

pub struct DependencyCacheMount;

static INFO: RuleInfo = RuleInfo {
    code: "DO210",
    name: "dependency-cache-mount",
    summary: "Go modules or Cargo crates downloaded into the image (with --cache-mounts)",
    doc: "Go keeps the modules it downloads in its module cache (`$GOMODCACHE`, `/go/pkg/mod` in the golang \
image) and Cargo the crates it fetches in its registry (`$CARGO_HOME/registry` and `git`, `/usr/local/cargo` in the \
rust image). Both stay in the image, yet every later RUN that builds reads them, so no cleanup can remove them \
where they were made. This rule fires only with `--cache-mounts` (or `cache-mounts = true`): its fix mounts the \
cache on every RUN of the stage that runs the tool, and on those of the stages built FROM it, so each of them \
finds what an earlier one downloaded and the image keeps none of it. Cargo's target directory is not mounted: \
it holds the binary that later instructions copy.\n\n\
There is no fix when a RUN that runs the tool cannot take the mount (ONBUILD, a user other than root), when \
dockopt cannot tell where the cache is (a variable it cannot read, an image named by a variable), when the \
image still needs the cache (CMD or ENTRYPOINT runs the tool, or a COPY --from takes files from it), and when \
the RUNs do not agree on where it is.\n\n\
Before:\n    RUN go mod download\n    COPY . .\n    RUN go build -o /app .\n\n\
After:\n    RUN --mount=type=cache,target=/go/pkg/mod go mod download\n    COPY . .\n    \
RUN --mount=type=cache,target=/go/pkg/mod go build -o /app .",
    safety: Safety::Safe,
    severity: Severity::Warning,
    hadolint: &[],
};

/// A tool whose downloads later RUNs build from.
struct Downloader {
    /// The program, as the invocation names it.
    program: &'static str,
    /// The name [`cache_dir`] knows its cache by.
    cache: &'static str,
    /// The directories under the cache that hold the downloads.
    under: &'static [&'static str],
    /// The subcommands that read or fill the cache.
    reads: fn(&str) -> bool,
}

static DOWNLOADERS: [Downloader; 2] = [
    Downloader {
        program: "go",
        cache: "go-modules",
        under: &[""],
        reads: |sub| {
            matches!(sub, "mod" | "build" | "install" | "test" | "vet" | "run" | "get" | "list" | "generate" | "work")
        },
    },
    Downloader {
        program: "cargo",
        cache: "cargo",
        under: &["/registry", "/git"],
        reads: |sub| !matches!(sub, "new" | "init" | "clean" | "help" | "version" | "locate-project"),
    },
];

impl Rule for DependencyCacheMount {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        if !ctx.options.cache_mounts {
            return;
        }
        for family in stage_families(ctx) {
            for tool in &DOWNLOADERS {
                if let Some(finding) = check_family(ctx, &family, tool) {
                    findings.push(finding);
                }
            }
        }
    }
}

/// Stages grouped with the stages built FROM them, directly or not: a cache one of them leaves in its image is
/// in theirs too. A family is the stages that share a root; each lists its stages in order.
fn stage_families(ctx: &Context) -> Vec<Vec<usize>> {
    let mut by_root: Vec<Vec<usize>> = vec![Vec::new(); ctx.df.stages.len()];
    for stage in &ctx.df.stages {
        by_root[stage.root].push(stage.index);
    }
    by_root.retain(|family| !family.is_empty());
    by_root
}

fn check_family(ctx: &Context, family: &[usize], tool: &Downloader) -> Option<Finding> {
    let statements = || family.iter().flat_map(|&s| ctx.df.stages[s].statements.clone());
    let runs_tool = |inv: &Invocation| inv.program == tool.program && inv.subcommand().is_some_and(tool.reads);
    let runs: Vec<usize> = statements()
        .filter(|&i| ctx.statement(i).instruction.kind == Kind::Run && !ctx.is_onbuild(i))
        .filter(|&i| ctx.invocations(i).iter().any(|(_, inv)| runs_tool(inv)))
        .collect();
    let first = *runs.first()?;
    let mut caches = runs.iter().map(|&i| {
        let invocations = ctx.invocations(i);
        let (command, _) = invocations.iter().find(|(_, inv)| runs_tool(inv))?;
        cache_dir(ctx, i, command, tool.cache).filter(|dir| dir.starts_with('/'))
    });
    let cache = caches.next()??;
    let targets: Vec<String> = tool.under.iter().map(|under| format!("{cache}{under}")).collect();
    let unmounted: Vec<usize> =
        runs.iter().copied().filter(|&i| !targets.iter().all(|t| ctx.mount_covers(i, t))).collect();
    if unmounted.is_empty() {
        return None;
    }
    let statement = ctx.statement(first);
    let count = match runs.len() {
        1 => "its RUN".to_string(),
        n => format!("{n} RUNs"),
    };
    let mut finding = Finding {
        rule: &INFO,
        range: statement.range,
        message: format!(
            "{} keeps its downloads in {}, in the layers of {count}; mount a cache there",
            tool.program,
            targets.join(" and ")
        ),
        fix: None,
        instructions: runs.iter().map(|&i| ctx.statement(i).index()).collect(),
    };
    // `runs` is in statement order, so membership is a binary search: a family may hold thousands of RUNs.
    let driver = statements()
        .filter(|&i| i > first && ctx.statement(i).instruction.kind == Kind::Run && runs.binary_search(&i).is_err())
        .find(|&i| may_run_tools(ctx, i));
    let why_not = if caches.any(|other| other.as_deref() != Some(cache.as_str())) {
        Some("the RUNs do not agree on where the cache is".to_string())
    } else if let Some(i) = driver {
        let line = ctx.statement(i).start_line();
        Some(format!("line {line} runs a script or build tool that may run {} without the mount", tool.program))
    } else if image_runs(ctx, family, tool.program) {
        Some(format!("the image runs {}, which would look for them", tool.program))
    } else if copied_out(ctx, family, &targets) {
        Some("a COPY --from takes files from it".to_string())
    } else {
        None
    };
    if let Some(why) = why_not {
        finding.message += &format!(" (no fix: {why})");
        return Some(finding);
    }
    let mount = CacheMount { targets, locked: false, first: None, changes_image: None };
    let mut edits = Vec::new();
    for &i in &unmounted {
        match mount_edits(ctx, i, &mount) {
            Some(more) => edits.extend(more),
            None => {
                finding.message +=
                    &format!(" (no fix: line {} cannot take a cache mount)", ctx.statement(i).start_line());
                return Some(finding);
            }
        }
    }
    mount_fix(ctx, &mut finding, &mount, edits);
    Some(finding)
}

/// RUN `i` runs something that may run go or cargo out of dockopt's sight: a script, a shell, a build tool, or
/// shell code dockopt cannot read. A RUN like that without the mount would find no downloads, and a build that
/// may not download (no network, `GOPROXY=off`, a secret only the first RUN mounts) would fail.
fn may_run_tools(ctx: &Context, i: usize) -> bool {
    const DRIVERS: [&str; 14] = [
        "make",
        "gmake",
        "cmake",
        "just",
        "task",
        "mage",
        "goreleaser",
        "bazel",
        "sh",
        "bash",
        "ash",
        "zsh",
        ".",
        "source",
    ];
    ctx.script(i).is_none_or(|script| script.opaque)
        || ctx.invocations(i).iter().any(|(command, inv)| {
            DRIVERS.contains(&inv.program) || command.name().is_none_or(|name| name.contains('/'))
        })
}

/// A CMD or ENTRYPOINT of the family names `program` as a word: the image runs it, and it would look for its
/// downloads.
fn image_runs(ctx: &Context, family: &[usize], program: &str) -> bool {
    family.iter().flat_map(|&s| ctx.df.stages[s].statements.clone()).any(|i| {
        let ins = &ctx.statement(i).instruction;
        matches!(ins.kind, Kind::Cmd | Kind::Entrypoint)
            && ctx
                .df
                .value_texts(ins)
                .flat_map(str::split_whitespace)
                .any(|word| word.rsplit('/').next() == Some(program))
    })
}

/// A `COPY --from` of a stage of the family takes a path under a cache directory, or above it.
fn copied_out(ctx: &Context, family: &[usize], targets: &[String]) -> bool {
    ctx.df.statements.iter().enumerate().any(|(i, statement)| {
        let ins = &statement.instruction;
        let Some(from) = ctx.df.flag_texts(ins).find_map(|f| f.strip_prefix("--from=")) else { return false };
        // A family lists its stages in order, so membership is a binary search.
        let names_family = ctx.df.referenced_stage(i, from).is_some_and(|s| family.binary_search(&s).is_ok());
        let sources = ctx.df.values(ins).split_last().map_or(&[][..], |(_, sources)| sources);
        ins.kind == Kind::Copy
            && names_family
            && sources.iter().any(|source| {
                let path = ctx.df.text(source).trim_end_matches(['/', '*']);
                path.is_empty()
                    || path.contains(['$', '*', '?', '['])
                    || targets.iter().any(|target| {
                        target == path
                            || target.starts_with(&format!("{path}/"))
                            || path.starts_with(&format!("{target}/"))
                    })
            })
    })
}
