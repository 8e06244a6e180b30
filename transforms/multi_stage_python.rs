//! DO306's split of a single-stage Python build that installs compilers and headers for pip: the stage becomes
//! the builder, where pip installs into a virtual environment, and a runtime stage on the same image copies the
//! environment, installs the Debian packages whose libraries the built files link against (as the builder found
//! them with ldd), and repeats the stage's COPYs, configuration, the installs of packages that are not build
//! tools, and the RUNs that only make directories, users and permissions. A stage that runs anything else gets no
//! fix: what it made would be lost.

use super::stage_commands::{
    append_stage, apt_packages, builder_name, is_build_only, linked_packages, read_whole_run, CONFIG_KINDS,
};
use crate::engine::context::{is_root_user, Context};
use crate::engine::finding::Edit;
use crate::shell::Invocation;
use crate::syntax::model::{Kind, Stage};

/// Where the builder makes the virtual environment.
const VENV: &str = "/opt/venv";

/// The file in the environment that lists the Debian packages the runtime stage must have.
const RUNTIME_PACKAGES: &str = "/opt/venv/runtime-packages.txt";

/// Programs that set up directories, users and permissions, which a runtime stage can run again as they are.
const SETUP_PROGRAMS: &[&str] =
    &["mkdir", "useradd", "groupadd", "adduser", "addgroup", "usermod", "chown", "chmod", "ln", "set", "true"];

/// pip options that install outside the environment.
const OUTSIDE_THE_VENV: &[&str] = &["--user", "--target", "-t", "--prefix", "--root", "--system"];

/// The rewrite, once every part of it is certain.
pub(super) struct PythonPlan {
    /// The build-only packages the runtime stage leaves out.
    pub packages: Vec<String>,
    pub edits: Vec<Edit>,
}

/// A RUN installs build-only packages with apt, and a pip install runs in it or after it: the sign of a build
/// that compiles for pip.
pub(super) fn compiles_for_pip(ctx: &Context, stage: &Stage) -> bool {
    let installs_build_only =
        |i: usize| ctx.invocations(i).into_iter().any(|(_, inv)| apt_packages(&inv).iter().any(|p| is_build_only(p)));
    let runs_pip = |i: usize| ctx.invocations(i).iter().any(|(_, inv)| is_pip_install(inv));
    let runs = || stage.statements.clone().filter(|&i| ctx.statement(i).instruction.kind == Kind::Run);
    runs().find(|&i| installs_build_only(i)).is_some_and(|first| runs().any(|i| i >= first && runs_pip(i)))
}

fn is_pip_install(inv: &Invocation) -> bool {
    inv.program == "pip" && inv.subcommand() == Some("install")
}

pub(super) fn plan(ctx: &Context, stage: &Stage) -> Result<PythonPlan, String> {
    let mut packages: Vec<String> = Vec::new();
    // RUNs that only set up directories, users and permissions: the runtime stage runs them again.
    let mut setup = Vec::new();
    // The packages an install names that are not build tools, with whether it left out recommended packages: the
    // runtime stage installs them again, as the app may use them.
    let mut runtime_installs: Vec<(usize, Vec<String>, bool)> = Vec::new();
    let mut last_pip = None;
    for i in stage.statements.clone() {
        let statement = ctx.statement(i);
        let line = statement.start_line();
        let ins = &statement.instruction;
        match ins.kind {
            Kind::Run => {
                read_whole_run(ctx, i)?;
                let invocations = ctx.invocations(i);
                if invocations.iter().all(|(_, inv)| SETUP_PROGRAMS.contains(&inv.program)) {
                    setup.push(i);
                    continue;
                }
                for (command, inv) in invocations {
                    if is_pip_install(&inv) {
                        let program = command.name().unwrap_or_default();
                        if program.contains('/') {
                            return Err(format!("line {line} runs pip by its path, outside the environment"));
                        }
                        if let Some(option) = OUTSIDE_THE_VENV.iter().find(|o| inv.has_option(o)) {
                            return Err(format!("line {line} installs with `{option}`, outside the environment"));
                        }
                        last_pip = Some(i);
                        continue;
                    }
                    let installed = apt_packages(&inv);
                    let (build_only, others): (Vec<String>, Vec<String>) =
                        installed.iter().map(|p| p.to_string()).partition(|p| is_build_only(p));
                    if !others.is_empty() {
                        runtime_installs.push((i, others, inv.has_option("--no-install-recommends")));
                    }
                    if removes_packages(&inv) {
                        return Err(format!(
                            "line {line} removes packages, which may take libraries the environment's files link \
                             against"
                        ));
                    }
                    if installed.is_empty() && !is_housekeeping(&inv) {
                        return Err(format!(
                            "line {line} runs `{}`, and what it makes would not reach the runtime stage",
                            inv.program
                        ));
                    }
                    packages.extend(build_only);
                }
            }
            Kind::User if !ctx.df.value_texts(ins).next().is_some_and(is_root_user) && pip_later(ctx, stage, i) => {
                return Err(format!("line {line} switches to another user before pip runs, who cannot write to it"));
            }
            Kind::Copy | Kind::Add
                if ctx.df.flag_texts(ins).any(|f| f.starts_with("--from"))
                    || !ctx.df.heredocs(statement).is_empty() =>
            {
                return Err(format!("line {line} copies from elsewhere than the build context"));
            }
            _ => {}
        }
    }
    let Some(last_pip) = last_pip else { return Err("no pip install".into()) };

    let mut edits = Vec::new();
    let builder = builder_name(ctx, stage, &mut edits)?;
    let newline = ctx.newline();
    // Right after FROM, so that every pip of the stage installs into the environment.
    let from = ctx.statement(stage.statements.start);
    edits.push(Edit::insert(
        from.line_range.end,
        format!(
            "{}RUN python -m venv {VENV}{newline}ENV PATH={VENV}/bin:$PATH{newline}",
            line_break(ctx, from.line_range.end)
        ),
    ));
    let last = ctx.statement(last_pip);
    edits.push(Edit::insert(
        last.line_range.end,
        format!("{}RUN {} > {RUNTIME_PACKAGES}{newline}", line_break(ctx, last.line_range.end), linked_packages(VENV)),
    ));

    let image = ctx.df.value_texts(&from.instruction).next().ok_or("the FROM has no image")?;
    let mut lines = vec![format!("FROM {image}")];
    for i in stage.statements.start + 1..stage.statements.end {
        let statement = ctx.statement(i);
        let kind = statement.instruction.kind;
        if CONFIG_KINDS.contains(&kind) || matches!(kind, Kind::Copy | Kind::Add) || setup.contains(&i) {
            lines.push(ctx.df.tree.text(statement.range).to_string());
        }
        for (_, others, no_recommends) in runtime_installs.iter().filter(|(j, _, _)| *j == i) {
            let no_recommends = if *no_recommends { " --no-install-recommends" } else { "" };
            lines.push(format!(
                "RUN apt-get update && apt-get install -y{no_recommends} {} && rm -rf /var/lib/apt/lists/*",
                others.join(" ")
            ));
        }
        if i == last_pip {
            lines.push(format!("COPY --from={builder} {VENV} {VENV}"));
            lines.push(install_runtime_packages());
            lines.push(format!("ENV PATH={VENV}/bin:$PATH"));
        }
    }
    edits.push(append_stage(ctx, &lines));
    packages.sort();
    packages.dedup();
    Ok(PythonPlan { packages, edits })
}

/// Commands that install nothing and that the runtime stage does not need: apt's index and its cleanup,
/// deletions, and the shell's own `set` and `cd`.
fn is_housekeeping(inv: &Invocation) -> bool {
    matches!(
        (inv.program, inv.subcommand()),
        ("apt-get" | "apt", Some("update" | "clean")) | ("rm" | "set" | "cd" | "true", _) | ("pip", Some("cache"))
    )
}

/// A pip install runs after statement `i`.
fn pip_later(ctx: &Context, stage: &Stage, i: usize) -> bool {
    (i + 1..stage.statements.end).any(|j| ctx.invocations(j).iter().any(|(_, inv)| is_pip_install(inv)))
}

/// apt's removals, and `apt-mark`, which readies one.
fn removes_packages(inv: &Invocation) -> bool {
    match inv.program {
        "apt-get" | "apt" => matches!(inv.subcommand(), Some("purge" | "remove" | "autoremove")),
        "apt-mark" | "dpkg" => true,
        _ => false,
    }
}

/// The RUN of the runtime stage that installs, from the list the builder wrote, the packages its image lacks.
fn install_runtime_packages() -> String {
    format!(
        "RUN missing=\"$(for package in $(cat {RUNTIME_PACKAGES}); do dpkg-query --show --showformat='${{Status}}\\n' \
         \"$package\" 2> /dev/null | grep -q ' installed$' || echo \"$package\"; done)\"; if [ -n \"$missing\" ]; then \
         apt-get update && apt-get install -y --no-install-recommends $missing && rm -rf /var/lib/apt/lists/*; fi"
    )
}

/// A newline when the file's last line, which `end` is the end of, has none.
fn line_break(ctx: &Context, end: usize) -> &'static str {
    let source = ctx.df.source();
    if source[..end].ends_with('\n') {
        ""
    } else {
        ctx.newline()
    }
}
