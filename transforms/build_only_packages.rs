use crate::engine::context::Context;
use crate::engine::finding::{Applicability, Edit, Finding, Fix, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::{Command, Invocation, Programs};
use crate::syntax::model::{Kind, Stage};
use crate::transforms::stage_commands::{apt_packages, find_in_statements, is_build_only, linked_packages};

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
or when the build-only packages are named by variables. On Alpine, where no build here can prove a fix, the \
rule shows the official images' form as a suggestion it never applies: the packages added as the virtual \
package `.build-deps`, the libraries the built files link against added as `so:` dependencies of `.rundeps`, and \
`apk del .build-deps` at the end of the RUN. `dockopt measure --unsafe-fixes --run 'CMD'` builds both \
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

/// The programs a build-only package provides: a later use of one keeps the package.
const PROGRAMS: &[(&str, &[&str])] = &[
    ("build-essential", &["gcc", "cc", "g++", "c++", "make", "cpp"]),
    ("build-base", &["gcc", "cc", "g++", "c++", "make", "cpp"]),
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
            // Most RUNs run no package manager: the summary of their programs says so before their commands are
            // gathered.
            if !ctx.runs_any_of(i, &MANAGERS) {
                continue;
            }
            let invocations = ctx.invocations(i);
            let Some(install) = invocations.iter().position(|(_, inv)| installer(inv).is_some()) else { continue };
            // Asked before the packages are gathered: most installs build nothing after them.
            let Some(build) = invocations[install..].iter().find_map(|(_, inv)| builds_with(inv)) else { continue };
            let manager = installer(&invocations[install].1).expect("an install");
            let packages: Vec<&str> = invocations[install..]
                .iter()
                .filter(|(_, inv)| installer(inv) == Some(manager))
                .flat_map(|(_, inv)| manager.packages(inv))
                .filter(|p| is_build_only(p))
                .collect();
            if packages.is_empty() {
                continue;
            }
            // Packages may be removed only when nothing uses them once this RUN is done.
            let already_removed = invocations[install..].iter().any(|(_, inv)| removes_packages(inv));
            if already_removed {
                continue;
            }
            let finding = match manager {
                Manager::Apt => finding(ctx, stage, i, &packages, build),
                Manager::Apk => alpine_finding(ctx, stage, i, &invocations, &packages, build),
            };
            findings.push(finding);
        }
    }
}

/// The start of every finding: what is installed, and with what it builds.
fn left_in_the_image(packages: &[&str], build: &str) -> String {
    format!(
        "{} {} installed to build with {build} and left in the image",
        packages.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", "),
        if packages.len() == 1 { "is" } else { "are" },
    )
}

/// Why the packages must stay, for the message, when a later instruction needs them.
fn cannot_remove(ctx: &Context, stage: &Stage, i: usize, packages: &[&str]) -> Option<String> {
    let why = used_later(ctx, stage, i, packages)?;
    let pronoun = if packages.len() == 1 { "it" } else { "they" };
    Some(format!("; {pronoun} cannot be removed here: {why}"))
}

fn finding(ctx: &Context, stage: &Stage, i: usize, packages: &[&str], build: &str) -> Finding {
    let statement = ctx.statement(i);
    let mut message = left_in_the_image(packages, build);
    let fix = match cannot_remove(ctx, stage, i, packages) {
        Some(why) => {
            message += &why;
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
    Finding { rule: &INFO, range: statement.range, message, fix, instructions: vec![statement.index()] }
}

/// Alpine's form: the build-only packages as a virtual package, deleted at the end of the RUN once the libraries
/// the built files link against are added as a virtual package of their own. Shown, never applied: no Alpine image
/// can be built here to prove it.
fn alpine_finding(
    ctx: &Context,
    stage: &Stage,
    i: usize,
    invocations: &[(&Command, Invocation)],
    packages: &[&str],
    build: &str,
) -> Finding {
    let statement = ctx.statement(i);
    let mut message = left_in_the_image(packages, build);
    let with_build_only: Vec<&Invocation> = invocations
        .iter()
        .map(|(_, inv)| inv)
        .filter(|inv| {
            installer(inv) == Some(Manager::Apk) && Manager::Apk.packages(inv).iter().any(|p| is_build_only(p))
        })
        .collect();
    let fix = match (cannot_remove(ctx, stage, i, packages), with_build_only.as_slice()) {
        (Some(why), _) => {
            message += &why;
            None
        }
        (None, [add]) if Manager::Apk.packages(add).iter().all(|p| is_build_only(p)) => {
            let word = add.args.iter().find(|w| w.is("add")).expect("an apk add");
            let edits = [ctx.insert_after(i, word, "--virtual .build-deps"), ctx.append_command(i, APK_REMOVAL)];
            message += "; suggested (not applied: no Alpine build here proves it): add them as the virtual package \
                        `.build-deps`, keep the libraries the built files link against as `.rundeps`, and delete \
                        `.build-deps` at the end of this RUN";
            edits
                .into_iter()
                .collect::<Option<Vec<Edit>>>()
                .map(|edits| Fix { applicability: Applicability::DisplayOnly, edits })
        }
        _ => {
            message += "; add them with `apk add --virtual .build-deps`, apart from the packages the app needs, and \
                        `apk del .build-deps` at the end of this RUN";
            None
        }
    };
    Finding { rule: &INFO, range: statement.range, message, fix, instructions: vec![statement.index()] }
}

/// `path` as one shell word: as it is when the shell reads it so, else in single quotes. A WORKDIR of `/srv/my
/// app` written as it is had `find` scan `/srv/my` and `app`, and one holding `;` or `<<` ran or read more than a
/// path.
fn shell_word(path: &str) -> String {
    if path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+@%,:=".contains(&b)) {
        path.to_string()
    } else {
        format!("'{}'", path.replace('\'', r"'\''"))
    }
}

/// What Alpine's official images run after a build: the shared libraries the files under /usr/local link
/// against, as `so:` dependencies of a virtual package, and the build-only packages deleted.
const APK_REMOVAL: &str = "runDeps=\"$(find /usr/local -type f -exec ldd '{}' ';' 2> /dev/null | awk '/=>/ { print $1 }' \
| sort -u | awk 'system(\"[ -e /usr/local/lib/\" $1 \" ]\") == 0 { next } { print \"so:\" $1 }')\" && { [ -z \"$runDeps\" ] \
|| apk add --no-cache --virtual .rundeps $runDeps; } && apk del --no-network .build-deps";

/// The package managers whose build-only packages the rule knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Manager {
    Apt,
    Apk,
}

impl Manager {
    /// The packages an install names, without versions, architectures or options' values.
    fn packages<'a>(self, inv: &Invocation<'a>) -> Vec<&'a str> {
        match self {
            Manager::Apt => apt_packages(inv),
            Manager::Apk => {
                let mut words = inv.args.iter().filter_map(|w| w.literal.as_deref());
                let mut packages = Vec::new();
                while let Some(word) = words.next() {
                    if matches!(word, "-X" | "--repository" | "-t" | "--virtual" | "-p" | "--root" | "--arch") {
                        words.next();
                    } else if !word.starts_with('-') && word != "add" {
                        packages.push(word.split(['=', '<', '>', '~']).next().unwrap_or(word));
                    }
                }
                packages
            }
        }
    }
}

/// The programs [`installer`] knows.
const MANAGERS: Programs = Programs::new(&["apt-get", "apt", "apk"]);

/// The package manager of an install that leaves what it installs in the world: `apt-get install`, or an
/// `apk add` that is not already a virtual package of its own.
fn installer(inv: &Invocation) -> Option<Manager> {
    match (inv.program, inv.subcommand()) {
        ("apt-get" | "apt", Some("install")) => Some(Manager::Apt),
        ("apk", Some("add")) if !inv.has_option("--virtual") && !inv.has_option("-t") => Some(Manager::Apk),
        _ => None,
    }
}

/// `apt-get purge`/`remove`/`autoremove`, `apk del`: the RUN already takes packages out, and its author decided
/// which.
fn removes_packages(inv: &Invocation) -> bool {
    match inv.program {
        "apt-get" | "apt" => matches!(inv.subcommand(), Some("purge" | "remove" | "autoremove")),
        "apk" => inv.subcommand() == Some("del"),
        _ => false,
    }
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
fn used_later(ctx: &Context, stage: &Stage, i: usize, packages: &[&str]) -> Option<String> {
    let provided: Vec<&str> = PROGRAMS
        .iter()
        // The package itself, or a version of it (`gcc-12`).
        .filter(|(package, _)| {
            packages
                .iter()
                .any(|p| p.strip_prefix(package).is_some_and(|rest| rest.is_empty() || rest.starts_with('-')))
        })
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
/// `None` when the stage's WORKDIR is a variable, so the files to scan are not known, or holds a NUL, which no
/// shell word can.
fn purge_command(ctx: &Context, stage: &Stage, i: usize, packages: &[&str]) -> Option<String> {
    let mut roots = vec!["/usr/local".to_string()];
    let workdir = stage.statements.clone().take_while(|&j| j < i).filter_map(|j| {
        let ins = &ctx.statement(j).instruction;
        (ins.kind == Kind::Workdir).then(|| ctx.df.value_texts(ins).next().map(str::to_string))
    });
    if let Some(dir) = workdir.last() {
        let dir = dir?;
        if dir.contains(['$', '\0']) || !dir.starts_with('/') {
            return None;
        }
        if dir != "/" && !dir.starts_with("/usr/local") {
            roots.push(shell_word(&dir));
        }
    }
    Some(format!(
        "apt-mark auto {} > /dev/null && {{ {} | xargs -r apt-mark manual > /dev/null; }} && apt-get purge -y \
         --auto-remove",
        packages.join(" "),
        linked_packages(&roots.join(" "))
    ))
}
