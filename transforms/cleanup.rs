//! What the cache-cleanup rules share: finding the command that installed, where its tool keeps its cache, and a
//! finding whose safe fix appends the cleanup to the end of its RUN, withheld where the tool may be gone by then.

use super::image_reference::ImageReference;
use crate::engine::context::{is_root_user, Context, Variable};
use crate::engine::finding::{Applicability, Edit, Finding, Fix, RuleInfo};
use crate::shell::{Command, Invocation};

/// Where `tool` (pip, uv, npm, yarn, pnpm, go for its build cache, go-modules for Go's module cache, or cargo
/// for its home, which holds its registry) keeps its cache when `command` of RUN `i` runs it: from its own option
/// (`--cache-dir`, `--cache`, `--cache-folder`, `--store-dir`), else the variables that move it (`PIP_CACHE_DIR`,
/// `UV_CACHE_DIR`, `npm_config_cache`, `YARN_CACHE_FOLDER`, `PNPM_STORE_DIR`, `PNPM_HOME`, `GOCACHE`,
/// `GOMODCACHE`, `GOPATH`, `CARGO_HOME`, `XDG_CACHE_HOME`, `XDG_DATA_HOME`, `HOME`), else the default of the
/// stage's image: the official golang and rust images set `GOPATH=/go` and `CARGO_HOME=/usr/local/cargo`, and
/// elsewhere root's default applies. `None` when dockopt cannot tell.
pub(super) fn cache_dir(ctx: &Context, i: usize, command: &Command, tool: &str) -> Option<String> {
    let inv = command.invocation()?;
    let option = match tool {
        "pip" | "uv" => "--cache-dir",
        "npm" => "--cache",
        "yarn" => "--cache-folder",
        // go and cargo take no option that moves their caches.
        "go" | "go-modules" | "cargo" => "",
        _ => "--store-dir",
    };
    let words: Vec<Option<&str>> = inv.args.iter().map(|w| w.literal.as_deref()).collect();
    for (k, word) in words.iter().enumerate().filter(|_| !option.is_empty()) {
        match word {
            Some(w) if *w == option => return words.get(k + 1).copied().flatten().map(str::to_string),
            Some(w) => {
                if let Some(value) = w.strip_prefix(option).and_then(|r| r.strip_prefix('=')) {
                    return Some(value.to_string());
                }
            }
            None => {}
        }
    }
    let var = |name: &str| match ctx.variable(i, command, name) {
        Variable::Unset => Some(None),
        Variable::Set(value) => Some(Some(value)),
        Variable::Unknown => None,
    };
    let home = var("HOME")?.unwrap_or_else(|| "/root".to_string());
    let xdg_cache_home = var("XDG_CACHE_HOME")?;
    // `name` in the XDG cache directory, made only for a tool that no variable of its own moves. Joined, not
    // formatted: this is asked of every install command in every round of fixes.
    let in_xdg_cache = |name: &str| match &xdg_cache_home {
        Some(dir) => [dir, "/", name].concat(),
        None => [&home, "/.cache/", name].concat(),
    };
    let first_set = |names: &[&str]| -> Option<Option<String>> {
        for name in names {
            if let Some(value) = var(name)? {
                return Some(Some(value));
            }
        }
        Some(None)
    };
    Some(match tool {
        "pip" => first_set(&["PIP_CACHE_DIR"])?.unwrap_or_else(|| in_xdg_cache("pip")),
        "uv" => first_set(&["UV_CACHE_DIR"])?.unwrap_or_else(|| in_xdg_cache("uv")),
        "go" => first_set(&["GOCACHE"])?.unwrap_or_else(|| in_xdg_cache("go-build")),
        "go-modules" => match (first_set(&["GOMODCACHE"])?, var("GOPATH")?) {
            (Some(cache), _) => cache,
            (None, Some(path)) => format!("{}/pkg/mod", path.split(':').next().unwrap_or_default()),
            (None, None) => match root_image(ctx, i)? {
                "golang" => "/go/pkg/mod".to_string(),
                _ => format!("{home}/go/pkg/mod"),
            },
        },
        "cargo" => match first_set(&["CARGO_HOME"])? {
            Some(cargo_home) => cargo_home,
            None => match root_image(ctx, i)? {
                "rust" => "/usr/local/cargo".to_string(),
                _ => format!("{home}/.cargo"),
            },
        },
        "npm" => first_set(&["npm_config_cache", "NPM_CONFIG_CACHE"])?.unwrap_or_else(|| format!("{home}/.npm")),
        // Yarn 1 keeps root's cache out of /root.
        "yarn" => first_set(&["YARN_CACHE_FOLDER"])?.unwrap_or_else(|| {
            if home == "/root" {
                "/usr/local/share/.cache/yarn".to_string()
            } else {
                in_xdg_cache("yarn")
            }
        }),
        _ => match first_set(&["PNPM_STORE_DIR", "npm_config_store_dir"])? {
            Some(store) => store,
            None => match first_set(&["PNPM_HOME"])? {
                Some(pnpm_home) => format!("{pnpm_home}/store"),
                None => {
                    let data = var("XDG_DATA_HOME")?.unwrap_or_else(|| format!("{home}/.local/share"));
                    format!("{data}/pnpm/store")
                }
            },
        },
    })
}

/// The official image (by short name: `golang`, `rust`) that the stage of statement `i` is built on, through the
/// stages it is built FROM; `None` when a variable names it.
fn root_image<'c>(ctx: &'c Context, i: usize) -> Option<&'c str> {
    let base = ctx.df.base(&ctx.df.stages[ctx.stage_of(i)?.root]);
    if base.contains('$') {
        return None;
    }
    Some(ImageReference::parse(base.split('@').next().unwrap_or_default()).short_name())
}

/// A cache mount of RUN `i` holds a tool's cache, whose directory is `cache` ([`cache_dir`]), so the cache must not
/// be cleaned or avoided: the mount keeps it out of the image and between builds on purpose. Where dockopt cannot
/// tell the cache's place, any cache mount counts.
pub(super) fn cache_is_mounted(ctx: &Context, i: usize, cache: Option<&str>) -> bool {
    match cache {
        Some(dir) => ctx.mount_covers(i, dir),
        None => !ctx.cache_mounts(i).is_empty(),
    }
}

/// The start of the last command of a RUN that `matches`, with its invocation.
pub(super) fn last_matching<'a>(
    invocations: &'a [(&Command, Invocation<'_>)],
    matches: impl Fn(&Invocation) -> bool,
) -> Option<&'a (&'a Command<'a>, Invocation<'a>)> {
    invocations.iter().filter(|(_, inv)| matches(inv)).max_by_key(|(c, _)| c.range.start)
}

/// Whether the tool that ran `install` is still on hand at the end of the RUN, where [`cleanup_finding`] appends
/// the tool's own cleanup command. Not when the install ran nested: in a subshell, a sourced nvm or conda puts the
/// tool on PATH for that subshell only, and a branch may not run at all. Nor when a later command removes
/// packages or deletes a path that names the tool: `apk del .build-deps` can take npm with it, and a cleanup
/// that cannot find its tool fails the build.
fn tool_remains(invocations: &[(&Command, Invocation<'_>)], install: &Command, tool: &str) -> bool {
    install.is_top_level()
        && !invocations.iter().any(|(c, inv)| c.range.start > install.range.start && may_remove(inv, tool))
}

/// Package removals of any system package manager, nvm's, and `rm` of a path naming `tool` (or Node.js, which
/// npm, yarn and pnpm live in) or of a path dockopt cannot read.
fn may_remove(invocation: &Invocation, tool: &str) -> bool {
    let first = invocation.args.first().and_then(|w| w.literal.as_deref());
    match (invocation.program, invocation.subcommand()) {
        ("apk", Some("del")) => true,
        ("apt-get" | "apt" | "aptitude", Some("remove" | "purge" | "autoremove")) => true,
        ("yum" | "dnf" | "microdnf" | "tdnf", Some("remove" | "erase" | "autoremove")) => true,
        ("zypper", Some("rm" | "remove")) => true,
        ("nvm", Some("uninstall" | "deactivate" | "unload")) => true,
        ("dpkg", _) => matches!(first, Some("-r" | "-P" | "--remove" | "--purge")),
        ("pacman", _) => first.is_some_and(|a| a.starts_with("-R")),
        ("rm", _) => invocation.args.iter().any(|w| {
            w.literal.as_deref().is_none_or(|a| !a.starts_with('-') && (a.contains(tool) || a.contains("node")))
        }),
        _ => false,
    }
}

/// The text of RUN `i` when its script has a `case` statement or a function, whose commands dockopt does not list:
/// the text is all that tells what they may do.
fn unlisted_text<'s>(ctx: &Context<'_, 's>, i: usize) -> Option<&'s str> {
    let opaque = ctx.script(i).is_some_and(|script| script.opaque);
    opaque.then(|| &ctx.df.source()[ctx.statement(i).range.as_range()])
}

/// RUN `i`'s script has a `case` statement or a function and its text names one of `cleanups` (a clean-up command
/// or the cache's path): one of the commands dockopt does not list may clean the cache already, so the cleanup
/// rules leave such a RUN alone. Any other script with a `case` statement gets its finding: merging a RUN that
/// installs with one that holds a `case` makes such a script.
pub(super) fn may_clean_unlisted(ctx: &Context, i: usize, cleanups: &[&str]) -> bool {
    unlisted_text(ctx, i).is_some_and(|text| cleanups.iter().any(|cleanup| text.contains(cleanup)))
}

/// The words that name a command [`may_remove`] counts, programs or subcommands.
const REMOVAL_WORDS: &[&str] =
    &["del", "remove", "purge", "autoremove", "erase", "rm", "uninstall", "deactivate", "unload", "dpkg", "pacman"];

/// RUN `i` has a `case` statement or a function, and its text has a word that may belong to a command that
/// removes a tool.
fn unlisted_may_remove(ctx: &Context, i: usize) -> bool {
    unlisted_text(ctx, i)
        .is_some_and(|text| text.split(|c: char| !c.is_ascii_alphanumeric()).any(|word| REMOVAL_WORDS.contains(&word)))
}

/// A [`cleanup_finding`] whose cleanup is a command of the tool that ran `install`: without a fix when that tool
/// may be gone by the end of the RUN (see [`tool_remains`]), also by a command that dockopt does not list.
pub(super) fn tool_cleanup_finding(
    ctx: &Context,
    i: usize,
    rule: &'static RuleInfo,
    message: String,
    cleanup: &str,
    (invocations, install, tool): (&[(&Command, Invocation<'_>)], &Command, &str),
) -> Finding {
    let mut finding = cleanup_finding(ctx, i, rule, message, cleanup);
    if unlisted_may_remove(ctx, i) || !tool_remains(invocations, install, tool) {
        finding.fix = None;
    }
    finding
}

/// A finding on RUN `i` whose safe fix appends `cleanup` to it; without a fix when the RUN cannot take one.
pub(super) fn cleanup_finding(
    ctx: &Context,
    i: usize,
    rule: &'static RuleInfo,
    message: String,
    cleanup: &str,
) -> Finding {
    let statement = ctx.statement(i);
    Finding {
        rule,
        range: statement.range,
        message,
        fix: ctx.append_command(i, cleanup).map(|edit| Fix { applicability: Applicability::Safe, edits: vec![edit] }),
        instructions: vec![statement.index()],
    }
}

/// A cache mount that takes the place of a cleanup with `--cache-mounts`.
pub(super) struct CacheMount<'a> {
    /// The directories to mount a cache at.
    pub targets: Vec<String>,
    /// `sharing=locked`, for a tool that cannot share its cache with a parallel build (apt).
    pub locked: bool,
    /// A command to run first in the RUN, so that the tool keeps what it downloads in the mount.
    pub first: Option<&'a str>,
    /// Why the mount changes the image beyond its caches, which makes the fix unsafe whatever the builder.
    pub changes_image: Option<&'a str>,
}

impl CacheMount<'_> {
    /// A mount of one directory, shared, that changes nothing else in the image.
    pub fn at(target: String) -> Self {
        CacheMount { targets: vec![target], locked: false, first: None, changes_image: None }
    }
}

/// With `--cache-mounts`, the finding's fix becomes a cache mount on RUN `i` (`--mount=type=cache,target=…`)
/// instead of a deletion, even where no deletion could be added: BuildKit keeps the cache out of the image and for
/// the next build. See [`mount_fix`] for when it is safe.
pub(super) fn mount_instead(ctx: &Context, i: usize, finding: &mut Finding, mount: CacheMount) {
    if !ctx.options.cache_mounts {
        return;
    }
    if let Some(edits) = mount_edits(ctx, i, &mount) {
        mount_fix(ctx, finding, &mount, edits);
    }
}

/// The edits that mount `mount` on RUN `i`; `None` where it cannot take one. The deletion stays for an ONBUILD
/// RUN, whose builder dockopt cannot see, for a RUN as a user other than root, who cannot write a cache mount
/// root owns, and for a target the flag cannot hold as it is.
pub(super) fn mount_edits(ctx: &Context, i: usize, mount: &CacheMount) -> Option<Vec<Edit>> {
    if ctx.is_onbuild(i) || !runs_as_root(ctx, i) || !mount.targets.iter().all(|t| writes_verbatim(t)) {
        return None;
    }
    let mut edits = Vec::new();
    if let Some(first) = mount.first {
        let start = ctx.script(i).filter(|_| !ctx.is_exec_form(i)).and_then(|s| s.content_start())?;
        edits.push(Edit::insert(ctx.source_offset(i, start), format!("{first} && ")));
    }
    let sharing = if mount.locked { ",sharing=locked" } else { "" };
    let flags: String = mount.targets.iter().map(|t| format!("--mount=type=cache,target={t}{sharing} ")).collect();
    edits.insert(0, Edit::insert(ctx.flag_insertion_offset(i), flags));
    Some(edits)
}

/// `target` reads back as itself in `--mount=type=cache,target=…`: BuildKit splits the flag's fields at commas,
/// unquotes and unescapes them, and expands variables, and a blank or a line break would end the flag. It also
/// reads a flag a byte at a time, each byte a character of its own, so `é` would mount at `Ã©`. A target read back
/// otherwise would not cover the directory, and each round would mount it again.
fn writes_verbatim(target: &str) -> bool {
    target.is_ascii()
        && !target
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | '"' | '\'' | '\\' | '`' | '$'))
}

/// Makes `edits`, which mount `mount`, the finding's fix, and says so in its message. It is safe in a file that a
/// BuildKit or Buildah build is certain for (a `# syntax` directive, or a RUN that mounts already) and unsafe
/// elsewhere, where a classic builder would fail on it.
pub(super) fn mount_fix(ctx: &Context, finding: &mut Finding, mount: &CacheMount, edits: Vec<Edit>) {
    let builder_certain = ctx.builder_certain();
    // The rule's message says what is left in the layer, then what to do, which the mount replaces.
    let problem = finding.message.split_once("; ").map_or(finding.message.as_str(), |(problem, _)| problem);
    let (caches, keep) = if mount.targets.len() == 1 { ("a cache", "keeps it") } else { ("caches", "keep them") };
    let mut message = format!(
        "{problem}; the fix mounts {caches} at {}, which {keep} out of the image and for the next build",
        mount.targets.join(" and ")
    );
    if !builder_certain {
        message += " (unsafe: it needs BuildKit or Buildah, and nothing in the file says it is built with one)";
    }
    if let Some(why) = mount.changes_image {
        message += &format!(" (unsafe: {why})");
    }
    finding.message = message;
    let applicability =
        if builder_certain && mount.changes_image.is_none() { Applicability::Safe } else { Applicability::Unsafe };
    finding.fix = Some(Fix { applicability, edits });
}

/// RUN `i` runs as root: no USER before it in its stage, or the last one names root.
fn runs_as_root(ctx: &Context, i: usize) -> bool {
    let user = ctx.user_before(i).and_then(|j| ctx.df.value_texts(&ctx.statement(j).instruction).next());
    user.is_none_or(is_root_user)
}
