use crate::engine::context::Context;
use crate::engine::finding::{Applicability, Finding, Fix, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::Invocation;
use crate::syntax::model::{Kind, Stage};
use crate::transforms::stage_commands::{apt_packages, find_in_statements};

pub struct BuildOnlyPackages;

static INFO: RuleInfo = RuleInfo {
    code: "DO307",
    name: "build-only-packages",
    summary: "Compilers and headers installed to build something stay in the final image",
    doc: "A RUN that installs compilers and headers (`build-essential`, `gcc`, `make`, `*-dev`, …) with apt to \
build something in the same RUN (a `pip install`, `gem install`, `npm install`, `make install`, …) leaves them in \
the image, often a few hundred megabytes that the application never uses. The fix removes them at the end of that \
RUN the way the official Docker images do: it marks them as automatically installed, marks as manual the \
packages that own the shared libraries the built files under `/usr/local` (and the WORKDIR) link against, found \
with `ldd` and `dpkg-query --search` at build time, and runs `apt-get purge -y --auto-remove`, which takes out \
the build-only packages and whatever only they needed. It is unsafe: a library loaded by name at run time \
(`dlopen`) is invisible to `ldd`, and `--auto-remove` also removes automatically installed packages that nothing \
needs any more. A final stage without a CMD or ENTRYPOINT of its own makes a base image or a build \
environment, where the compilers are the point, and is not reported. No fix, with the reason, when a later instruction of the stage runs a compiler or builds again, \
or when the build-only packages are named by variables. `dockopt measure --unsafe-fixes --run 'CMD'` builds both \
images and runs a command in each.\n\n\
Before:\n    RUN apt-get update && apt-get install -y gcc libpq-dev \\\n     && pip install psycopg2 \\\n     \
&& rm -rf /var/lib/apt/lists/*\n\n\
After:\n    RUN apt-get update && apt-get install -y gcc libpq-dev \\\n     && pip install psycopg2 \\\n     \
&& rm -rf /var/lib/apt/lists/* \\\n     && apt-mark auto gcc libpq-dev > /dev/null \\\n     \
&& { find /usr/local -type f \\( -executable -o -name '*.so*' \\) -exec ldd '{}' ';' 2> /dev/null | awk … | \
xargs -r apt-mark manual > /dev/null; } \\\n     && apt-get purge -y --auto-remove",
    safety: Safety::Unsafe,
    severity: Severity::Advice,
    hadolint: &[],
};

/// Debian packages that only build software, by name; every `*-dev` package is one too.
const BUILD_ONLY: &[&str] = &[
    "build-essential",
    "gcc",
    "g++",
    "cpp",
    "make",
    "cmake",
    "clang",
    "gfortran",
    "pkg-config",
    "pkgconf",
    "autoconf",
    "automake",
    "libtool",
    "bison",
    "flex",
];

/// The programs a build-only package provides: a later use of one keeps the package.
const PROGRAMS: &[(&str, &[&str])] = &[
    ("build-essential", &["gcc", "cc", "g++", "c++", "make", "cpp"]),
    ("gcc", &["gcc", "cc"]),
    ("g++", &["g++", "c++"]),
    ("cpp", &["cpp"]),
    ("make", &["make"]),
    ("cmake", &["cmake"]),
    ("clang", &["clang", "clang++", "cc"]),
    ("gfortran", &["gfortran"]),
    ("pkg-config", &["pkg-config"]),
    ("pkgconf", &["pkg-config", "pkgconf"]),
    ("autoconf", &["autoconf", "autoreconf"]),
    ("automake", &["automake", "aclocal"]),
    ("libtool", &["libtool", "libtoolize"]),
    ("bison", &["bison", "yacc"]),
    ("flex", &["flex", "lex"]),
];

fn is_build_only(package: &str) -> bool {
    let versioned = |name: &str| {
        package
            .strip_prefix(name)
            .and_then(|v| v.strip_prefix('-'))
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit()))
    };
    BUILD_ONLY.contains(&package) || package.ends_with("-dev") || versioned("gcc") || versioned("g++")
}

impl Rule for BuildOnlyPackages {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        let Some(stage) = ctx.df.stages.last() else { return };
        // A final stage with no CMD or ENTRYPOINT of its own makes a base image or a build environment, where the
        // compilers are the point.
        let runs_an_app =
            stage.statements.clone().any(|i| matches!(ctx.statement(i).instruction.kind, Kind::Cmd | Kind::Entrypoint));
        if !runs_an_app {
            return;
        }
        for i in stage.statements.clone() {
            if ctx.statement(i).instruction.kind != Kind::Run {
                continue;
            }
            // Most RUNs install nothing with apt: look before gathering their commands.
            let installs = |script: &crate::shell::Script| {
                script.commands.iter().any(|c| c.invocation().is_some_and(|inv| is_apt_install(&inv)))
            };
            if !ctx.script(i).is_some_and(installs) {
                continue;
            }
            let invocations = ctx.invocations(i);
            let Some(install) = invocations.iter().position(|(_, inv)| is_apt_install(inv)) else { continue };
            let packages: Vec<String> = invocations[install..]
                .iter()
                .filter(|(_, inv)| is_apt_install(inv))
                .flat_map(|(_, inv)| apt_packages(inv.clone()))
                .filter(|p| is_build_only(p))
                .collect();
            let Some(build) = invocations[install..].iter().find_map(|(_, inv)| builds_with(inv)) else { continue };
            if packages.is_empty() {
                continue;
            }
            // Packages may be removed only when nothing uses them once this RUN is done.
            let already_removed = invocations[install..].iter().any(|(_, inv)| removes_packages(inv));
            if already_removed {
                continue;
            }
            findings.push(finding(ctx, stage, i, &packages, build));
        }
    }
}

fn finding(ctx: &Context, stage: &Stage, i: usize, packages: &[String], build: &str) -> Finding {
    let statement = ctx.statement(i);
    let mut message = format!(
        "{} {} installed to build with {build} and left in the image",
        packages.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", "),
        if packages.len() == 1 { "is" } else { "are" },
    );
    let later = used_later(ctx, stage, i, packages);
    let fix = match later {
        Some(why) => {
            let pronoun = if packages.len() == 1 { "it" } else { "they" };
            message += &format!("; {pronoun} cannot be removed here: {why}");
            None
        }
        None => match purge_command(ctx, stage, i, packages).and_then(|command| ctx.append_command(i, &command)) {
            Some(edit) => {
                let pronoun = if packages.len() == 1 { "it" } else { "them" };
                message += &format!(
                    "; the fix purges {pronoun} at the end of this RUN and keeps the packages whose libraries the \
                     built files link against. Check libraries the app loads by name at run time"
                );
                Some(Fix { applicability: Applicability::Unsafe, edits: vec![edit] })
            }
            None => {
                message += "; purge them at the end of this RUN (dockopt cannot add to it: an exec form, a \
                            background job, unclosed quotes or a WORKDIR it cannot read)";
                None
            }
        },
    };
    Finding { rule: &INFO, range: statement.range, message, fix, instructions: vec![statement.index] }
}

fn is_apt_install(inv: &Invocation) -> bool {
    matches!(inv.program, "apt-get" | "apt") && inv.subcommand() == Some("install")
}

/// `apt-get purge`/`remove`/`autoremove`: the RUN already takes packages out, and its author decided which.
fn removes_packages(inv: &Invocation) -> bool {
    matches!(inv.program, "apt-get" | "apt") && matches!(inv.subcommand(), Some("purge" | "remove" | "autoremove"))
}

/// What compiles with the build-only packages: a package installer that builds native code, or a make install.
fn builds_with(inv: &Invocation) -> Option<&'static str> {
    Some(match (inv.program, inv.subcommand()) {
        ("pip" | "uv", Some("install" | "wheel")) => "`pip install`",
        ("gem", Some("install")) | ("bundle", None | Some("install")) => "the gem install",
        ("npm", Some("install" | "i" | "ci" | "rebuild"))
        | ("yarn", None | Some("install"))
        | ("pnpm", Some("install" | "i")) => "the Node.js install",
        ("make", _) => "`make`",
        ("cmake", _) => "`cmake`",
        ("cargo", Some("build" | "install")) => "`cargo`",
        ("python" | "python3", Some("setup.py")) => "`setup.py`",
        _ => return None,
    })
}

/// Why the packages must stay: a later instruction of the stage runs one of their programs, or builds again.
fn used_later(ctx: &Context, stage: &Stage, i: usize, packages: &[String]) -> Option<String> {
    let provided: Vec<&str> = PROGRAMS
        .iter()
        .filter(|(package, _)| packages.iter().any(|p| p == package || p.starts_with(&format!("{package}-"))))
        .flat_map(|(_, programs)| programs.iter().copied())
        .collect();
    find_in_statements(ctx, i + 1..stage.statements.end, |program, inv, line| {
        if provided.contains(&program) {
            return Some(format!("line {line} runs `{program}`"));
        }
        let build = inv.as_ref().and_then(builds_with)?;
        Some(format!("line {line} builds again with {build}, which may need them"))
    })
}

/// The commands that purge `packages` and keep what the built files link against, in the official images' way.
/// `None` when the stage's WORKDIR is a variable, so the files to scan are not known.
fn purge_command(ctx: &Context, stage: &Stage, i: usize, packages: &[String]) -> Option<String> {
    let mut roots = vec!["/usr/local".to_string()];
    let workdir = stage.statements.clone().take_while(|&j| j < i).filter_map(|j| {
        let ins = &ctx.statement(j).instruction;
        (ins.kind == Kind::Workdir).then(|| ins.value.first().map(|w| w.text.to_string()))
    });
    if let Some(dir) = workdir.last() {
        let dir = dir?;
        if dir.contains('$') || !dir.starts_with('/') {
            return None;
        }
        if dir != "/" && !dir.starts_with("/usr/local") {
            roots.push(dir);
        }
    }
    Some(format!(
        "apt-mark auto {} > /dev/null && {{ find {} -type f \\( -executable -o -name '*.so*' \\) -exec ldd '{{}}' ';' \
         2> /dev/null | awk '/=>/ {{ so = $(NF-1); if (index(so, \"/usr/local/\") == 1) next; gsub(\"^/(usr/)?\", \"\", \
         so); print \"*\" so }}' | sort -u | xargs -r dpkg-query --search 2> /dev/null | cut -d: -f1 | sort -u | \
         xargs -r apt-mark manual > /dev/null; }} && apt-get purge -y --auto-remove",
        packages.join(" "),
        roots.join(" ")
    ))
}
