use super::cleanup::{cleanup_finding, may_clean_unlisted, mount_instead, CacheMount};
use crate::engine::context::Context;
use crate::engine::finding::{Applicability, Edit, Finding, Fix, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::{Command, Invocation, Op, Programs};
use crate::syntax::model::{Kind, Stage};

pub struct AptListsCleanup;

static INFO: RuleInfo = RuleInfo {
    code: "DO201",
    name: "apt-lists-cleanup",
    summary: "apt package lists left in the layer",
    doc: "`apt-get update` downloads package lists into /var/lib/apt/lists, tens of megabytes that the image \
never uses again. They must be removed in the RUN that downloaded them: a later RUN's `rm` only hides them. \
dockopt appends `rm -rf /var/lib/apt/lists/*` to the RUN that runs `apt-get update`, unless that RUN already \
removes them (`rm` of the lists or of /var/lib/apt, or `apt-get dist-clean` in apt 2.7 and later; in a RUN with a \
`case` statement or a function, whose commands dockopt does not list, any mention of /var/lib/apt or dist-clean) \
or a cache or tmpfs mount holds them. When a later RUN installs with these lists, without an `apt-get update` of \
its own (or one run in between), they must stay, and then:\n\
- if only metadata stands between (ENV, ARG, LABEL, EXPOSE) and none of it can change what `apt-get update` \
does (DEBIAN_FRONTEND, TZ, LANG, LC_*, … but never PATH, proxies or APT_*), the update moves into the \
install's RUN, a safe fix; otherwise, or when the update's RUN has a `case` statement or a function, where an \
install may follow it unseen, that is only reported;\n\
- if the installs are in stages built on this one, an unsafe fix updates there and cleans here: the child then \
resolves packages against lists of its own.\n\
Under ONBUILD the fix is unsafe: a Dockerfile built FROM the image may install with those lists. With \
`--cache-mounts`, where the lists would be removed the fix mounts caches at /var/cache/apt and \
/var/lib/apt/lists instead (`sharing=locked`), and removes Debian images' docker-clean hook in that RUN so that \
apt keeps what it downloads: an unsafe fix, since the image then lacks the hook.\n\n\
Before:\n    RUN apt-get update && apt-get install -y curl\n\n\
After:\n    RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*",
    safety: Safety::Safe,
    severity: Severity::Warning,
    hadolint: &["DL3009"],
};

const APT: Programs = Programs::new(&["apt-get", "apt", "aptitude", "apt-cache"]);
const LISTS: &str = "/var/lib/apt/lists";

/// Variables that ENV and ARG may set between an `apt-get update` and its install without changing what the
/// update does, so the update can move past them. PATH, proxies, APT_CONFIG and the like are not among them.
const HARMLESS_VARIABLES: &[&str] = &[
    "DEBIAN_FRONTEND",
    "DEBCONF_NONINTERACTIVE_SEEN",
    "DEBCONF_NOWARNINGS",
    "TZ",
    "LANG",
    "LANGUAGE",
    "TERM",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "NODE_ENV",
];

fn harmless(name: &str) -> bool {
    HARMLESS_VARIABLES.contains(&name) || name.starts_with("LC_")
}

/// apt subcommands that do not read the package lists.
fn reads_lists(program: &str, subcommand: Option<&str>) -> bool {
    program == "apt-cache"
        || !matches!(
            subcommand,
            Some("update" | "clean" | "autoclean" | "dist-clean" | "autoremove" | "remove" | "purge")
        )
}

/// `rm` of the lists or of a directory holding them (`/var/lib/apt/*`), or `apt-get dist-clean` (apt 2.7 and
/// later), which removes them along with the archives.
fn removes_lists(invocation: &Invocation) -> bool {
    match invocation.program {
        "rm" => invocation.args.iter().filter_map(|w| w.literal.as_deref()).any(|arg| {
            let mut path = arg.trim_end_matches('/');
            while let Some(parent) = path.strip_suffix("/*") {
                path = parent.trim_end_matches('/');
            }
            path.len() > 1 && LISTS.strip_prefix(path).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        }),
        program => APT.contains(program) && invocation.subcommand() == Some("dist-clean"),
    }
}

/// What a statement does with the package lists it finds.
#[derive(PartialEq, Eq)]
enum ListsUse {
    /// It reads them before any `apt-get update` of its own (or dockopt cannot read it, and it mentions apt).
    Reads,
    /// It runs `apt-get update` first, so what it reads is its own.
    Refreshes,
    Neither,
}

fn lists_use(ctx: &Context, j: usize) -> ListsUse {
    let statement = ctx.statement(j);
    if statement.instruction.kind != Kind::Run {
        return ListsUse::Neither;
    }
    if ctx.script(j).is_none_or(|s| s.opaque) {
        if opens_with_update(ctx, j) {
            return ListsUse::Refreshes;
        }
        let text = &ctx.df.source()[statement.range.as_range()];
        let mentions = text.contains("apt") || ctx.df.heredocs(statement).iter().any(|h| h.content.contains("apt"));
        return if mentions { ListsUse::Reads } else { ListsUse::Neither };
    }
    if !ctx.runs_any_of(j, &APT) {
        return ListsUse::Neither;
    }
    for (_, inv) in ctx.invocations(j) {
        if APT.contains(inv.program) {
            let sub = inv.subcommand();
            if sub == Some("update") {
                return ListsUse::Refreshes;
            }
            if reads_lists(inv.program, sub) {
                return ListsUse::Reads;
            }
        }
    }
    ListsUse::Neither
}

/// The script of RUN `j` runs `apt-get update` before anything else, so that even the commands dockopt does not
/// list (in `case` arms) read lists of its own.
fn opens_with_update(ctx: &Context, j: usize) -> bool {
    let Some(start) = ctx.script(j).and_then(|s| s.content_start()) else { return false };
    ctx.invocations(j).first().is_some_and(|(command, inv)| {
        command.range.start == start
            && command.is_top_level()
            && !command.piped
            && APT.contains(inv.program)
            && inv.subcommand() == Some("update")
    })
}

/// The RUNs that read the lists left by the statement before `from` in `stage`: the first that reads them in
/// the stage unless an `apt-get update` comes first, else the first in each stage built on it, and so on down.
/// `derived` holds the stages built on each stage. The stages are walked with a stack rather than by recursion,
/// so that no chain of stages, however long, exhausts the thread's stack.
fn readers(ctx: &Context, derived: &[Vec<usize>], stage: &Stage, from: usize) -> Vec<usize> {
    let mut found = Vec::new();
    // The stages still to read, each with the statement to start at. The last one pushed is read first, so a
    // stage's children are pushed in reverse to be read in order.
    let mut pending = vec![(stage.index, from)];
    while let Some((s, from)) = pending.pop() {
        let statements = ctx.df.stages[s].statements.clone();
        match (from..statements.end).map(|j| (j, lists_use(ctx, j))).find(|(_, u)| *u != ListsUse::Neither) {
            Some((j, ListsUse::Reads)) => found.push(j),
            Some(_) => {}
            None => {
                let children = derived[s].iter().rev();
                pending.extend(children.map(|&child| (child, ctx.df.stages[child].statements.start)));
            }
        }
    }
    found
}

/// The stages built on each stage, by index, found once for a file rather than once for each RUN that asks.
fn derived_stages(stages: &[Stage]) -> Vec<Vec<usize>> {
    let mut derived = vec![Vec::new(); stages.len()];
    for stage in stages {
        if let Some(base) = stage.base_stage {
            derived[base].push(stage.index);
        }
    }
    derived
}

impl Rule for AptListsCleanup {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        let mut derived = None;
        for (i, _) in ctx.runs().filter(|&(i, _)| ctx.runs_any_of(i, &APT)) {
            let invocations = ctx.invocations(i);
            let Some((update, _)) =
                invocations.iter().find(|(_, inv)| APT.contains(inv.program) && inv.subcommand() == Some("update"))
            else {
                continue;
            };
            // The lists only come back with a command that reads them; `apt-get purge` after the cleanup does not.
            let last_apt = invocations
                .iter()
                .filter(|(_, inv)| {
                    APT.contains(inv.program)
                        && (inv.subcommand() == Some("update") || reads_lists(inv.program, inv.subcommand()))
                })
                .map(|(c, _)| c.range.start)
                .max();
            let cleaned = invocations.iter().any(|(c, inv)| Some(c.range.start) > last_apt && removes_lists(inv));
            // A script with a `case` statement that does not name the lists gets the clean-up at its end, after
            // every command it runs.
            if cleaned
                || may_clean_unlisted(ctx, i, &["/var/lib/apt", "dist-clean"])
                || ctx.mount_covers(i, LISTS)
                || ctx.mount_covers(i, "/var/lib/apt/lists/partial")
            {
                continue;
            }
            let sudo = if update.words.first().is_some_and(|w| w.is("sudo")) { "sudo " } else { "" };
            let cleanup = format!("{sudo}rm -rf /var/lib/apt/lists/*");
            let line = ctx.statement(i).start_line();
            if ctx.is_onbuild(i) {
                let message = format!(
                    "apt lists downloaded on line {line} stay in the layer of every image built FROM this one; remove \
                     /var/lib/apt/lists/* in the same RUN (unsafe: such a Dockerfile may install with them)"
                );
                let mut finding = cleanup_finding(ctx, i, &INFO, message, &cleanup);
                if let Some(fix) = &mut finding.fix {
                    fix.applicability = Applicability::Unsafe;
                }
                findings.push(finding);
                continue;
            }
            let Some(stage) = ctx.stage_of(i) else { continue };
            let derived = derived.get_or_insert_with(|| derived_stages(&ctx.df.stages));
            let readers = readers(ctx, derived, stage, i + 1);
            if readers.is_empty() {
                let message = format!(
                    "apt lists downloaded on line {line} stay in this layer; remove /var/lib/apt/lists/* in the same RUN"
                );
                let mut finding = cleanup_finding(ctx, i, &INFO, message, &cleanup);
                let mount = CacheMount {
                    targets: vec!["/var/cache/apt".into(), LISTS.into()],
                    locked: true,
                    first: Some("rm -f /etc/apt/apt.conf.d/docker-clean"),
                    changes_image: Some(
                        "it removes the Debian images' docker-clean hook, which deletes downloaded packages",
                    ),
                };
                mount_instead(ctx, i, &mut finding, mount);
                findings.push(finding);
            } else if readers.iter().all(|&j| ctx.stage_of(j).is_some_and(|s| s.index != stage.index)) {
                findings.extend(update_in_children(ctx, i, update, &readers, &cleanup));
            } else if let [j] = readers[..] {
                findings.extend(move_update(ctx, i, update, &invocations, j));
            }
        }
    }
}

/// The update of RUN `i` is read only by RUN `j` after metadata: move the update there (a safe fix, when the
/// metadata cannot change what the update does and RUN `i` runs no apt command after its update), or report it.
fn move_update(
    ctx: &Context,
    i: usize,
    update: &Command,
    invocations: &[(&Command, Invocation)],
    j: usize,
) -> Option<Finding> {
    let between = i + 1..j;
    // RUNs next to each other are DO101's to merge.
    let kinds_ok = !between.is_empty()
        && between
            .clone()
            .all(|k| matches!(ctx.statement(k).instruction.kind, Kind::Env | Kind::Arg | Kind::Label | Kind::Expose));
    if !kinds_ok {
        return None;
    }
    let blocking = between.clone().find_map(|k| {
        let ins = &ctx.statement(k).instruction;
        let names: Vec<&str> = match ins.kind {
            Kind::Env => ctx.df.values(ins).chunks(2).map(|kv| ctx.df.text(&kv[0])).collect(),
            Kind::Arg => ctx.df.value_texts(ins).map(|w| w.split('=').next().unwrap_or_default()).collect(),
            _ => Vec::new(),
        };
        names.into_iter().find(|n| !harmless(n)).map(|n| (k, n.to_string()))
    });
    let (line, install_line) = (ctx.statement(i).start_line(), ctx.statement(j).start_line());
    let mut finding = Finding {
        rule: &INFO,
        range: ctx.statement(i).range,
        message: String::new(),
        fix: None,
        instructions: (i..=j).map(|k| ctx.statement(k).index()).collect(),
    };
    if let Some((k, name)) = blocking {
        finding.message = format!(
            "apt lists downloaded on line {line} stay in this layer for the install on line {install_line}; run the \
             update in that RUN and clean there (dockopt does not move it past {name}, set on line {})",
            ctx.statement(k).start_line()
        );
        return Some(finding);
    }
    finding.message = format!(
        "apt lists downloaded on line {line} stay in this layer for the install on line {install_line}, after \
         metadata only; run the update in that RUN and clean there"
    );
    finding.fix =
        move_edits(ctx, i, update, invocations, j).map(|edits| Fix { applicability: Applicability::Safe, edits });
    Some(finding)
}

/// Deletes the update from RUN `i` (the whole RUN when that is all it does) and starts RUN `j` with it.
fn move_edits(
    ctx: &Context,
    i: usize,
    update: &Command,
    invocations: &[(&Command, Invocation)],
    j: usize,
) -> Option<Vec<Edit>> {
    let script = ctx.script(i)?;
    // An apt command after the update reads its lists here. In an unbalanced or opaque script the commands
    // listed are not all the script runs: an install may follow unseen, in a `case` arm or after a quote that
    // does not end, and the update must stay.
    let after_update =
        invocations.iter().any(|(c, inv)| c.range.start > update.range.start && APT.contains(inv.program));
    if after_update || ctx.is_exec_form(i) || !script.balanced || script.opaque {
        return None;
    }
    let removal = if script.commands.len() == 1 {
        Edit::delete(ctx.statement(i).line_range)
    } else {
        ctx.delete_command(i, update)?
    };
    let text = &ctx.df.source()[ctx.source_range(i, update.range.clone()).as_range()];
    Some(vec![removal, prepend(ctx, j, text)?])
}

/// `command && ` at the start of RUN `j`, when `&&` would bind to all of its script.
fn prepend(ctx: &Context, j: usize, command: &str) -> Option<Edit> {
    let script = ctx.script(j)?;
    if ctx.is_exec_form(j) || !script.balanced || script.has_top_level_list_operator() || script.has_background_job() {
        return None;
    }
    let first = script.commands.first()?;
    if matches!(first.before, Some(Op::Open)) || !first.is_top_level() {
        return None;
    }
    Some(Edit::insert(ctx.source_offset(j, script.content_start()?), format!("{command} && ")))
}

/// The lists of RUN `i` are read only in stages built on its stage: an unsafe fix cleans them here and runs the
/// update in each of those RUNs, which then resolve packages against lists of their own.
fn update_in_children(ctx: &Context, i: usize, update: &Command, readers: &[usize], cleanup: &str) -> Option<Finding> {
    let line = ctx.statement(i).start_line();
    let lines: Vec<String> = readers.iter().map(|&j| ctx.statement(j).start_line().to_string()).collect();
    let message = format!(
        "apt lists downloaded on line {line} stay in this layer for the stages built on it (the install on line {}); \
         update there and clean here (unsafe: the install then resolves packages against lists of its own)",
        lines.join(", ")
    );
    let update_text = &ctx.df.source()[ctx.source_range(i, update.range.clone()).as_range()];
    let mut edits = vec![ctx.append_command(i, cleanup)?];
    for &j in readers {
        edits.push(prepend(ctx, j, update_text)?);
    }
    let statement = ctx.statement(i);
    Some(Finding {
        rule: &INFO,
        range: statement.range,
        message,
        fix: Some(Fix { applicability: Applicability::Unsafe, edits }),
        instructions: std::iter::once(i).chain(readers.iter().copied()).map(|k| ctx.statement(k).index()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_the_lists_or_a_directory_above_them() {
        let script = crate::shell::Script::parse(
            "rm -rf /var/lib/apt/lists/* ; rm -rf /var/lib/apt ; rm -rf /var/lib/apt/* ; rm -r /var/lib/apt/lists/ ; \
             rm -rf /var/lib/apt/lists/partial ; rm -rf /var/lib ; rm -rf /",
        );
        let removes: Vec<bool> = script.commands.iter().map(|c| removes_lists(&c.invocation().unwrap())).collect();
        assert_eq!(removes, [true, true, true, true, false, true, false]);
    }
}
