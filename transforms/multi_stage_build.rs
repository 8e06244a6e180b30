use crate::engine::build_context::BuildContext;
use crate::engine::context::{is_root_user, Context, Variable};
use crate::engine::finding::{Applicability, Edit, Finding, Fix, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::{Command, Invocation, Script};
use crate::syntax::model::{Kind, Stage, Statement};
use crate::transforms::image_reference::ImageReference;
use crate::transforms::multi_stage_node;
use crate::transforms::multi_stage_python;
use crate::transforms::stage_commands::{
    absolute, append_stage, builder_name, copy_from, normalize, workdir, CONFIG_KINDS,
};

pub struct MultiStageBuild;

static INFO: RuleInfo = RuleInfo {
    code: "DO306",
    name: "multi-stage-build",
    summary: "A single-stage Go, Rust, Node.js or Python build ships its build tools with what it runs",
    doc: "A Dockerfile that builds a program `FROM golang` or `FROM rust` and runs it in the same stage keeps the \
toolchain, its caches and the source in the image: many hundreds of megabytes to run a binary of a few. The fix \
splits it: the stage becomes the builder (`AS build`), and a runtime stage copies in the binary that the CMD or \
ENTRYPOINT runs and that `go build -o`, `cargo build` (under `target/release` or `target/debug`) or \
`cargo install --root` made. For Go with cgo off (`CGO_ENABLED=0`, or no `import \"C\"` in the build \
context's Go files, and then the fix sets `CGO_ENABLED=0` on the build) the runtime stage is `FROM scratch`, \
with the builder's CA bundle, time zones (Debian releases up to bookworm, where tzdata is always installed) and, \
for a named USER, its `/etc/passwd` and `/etc/group`; otherwise, and always for Rust, whose binaries link \
glibc, it is the slim image of the builder's Debian release, with the CA bundle. The runtime stage keeps the \
original's ARG, ENV, LABEL, EXPOSE, WORKDIR, USER, VOLUME, STOPSIGNAL, HEALTHCHECK, ENTRYPOINT and CMD, in \
order, and repeats each COPY of files that are not source code. It is unsafe: files the binary opens at run time \
that came with the source, tools it runs and libraries it loads are not there; the message names what to check \
(OpenSSL, when `openssl-sys` is in Cargo.lock), and `dockopt measure --unsafe-fixes --run 'CMD'` builds both \
images and runs a command in each. No fix, with the reason, when the binary's path, the command that runs it or \
the runtime image is not certain. Files that are already multi-stage are left alone.\n\n\
A single-stage `FROM node` build that runs `npm run build` keeps its devDependencies (the compilers and bundlers \
of the build) in the image. The fix prunes them in the builder once its last npm command has run \
(`npm prune --omit=dev`, `--production` for Node.js 14 and older) and copies the app's directory, the WORKDIR \
of the build, into a runtime stage on the same image, after the same configuration. It gives no fix when the \
stage runs anything but npm and `mkdir` in the app's directory (what apt or a download leaves elsewhere would \
be lost), builds as a user other than root or copies with `--chown` (the copy would change owners), or when the \
script CMD starts (`npm start`) runs a devDependency, as package.json in the build context shows.\n\n\
A single-stage `FROM python` build (not Alpine) that installs compilers or headers with apt for a pip install \
keeps them in the image. The fix makes a virtual environment in /opt/venv right after FROM, so that every pip of \
the builder installs into it, and lists after the last pip install the Debian packages owning the libraries its \
files link against (ldd and `dpkg-query --search`, as DO307 does). The runtime stage, on the same image, copies \
the environment, installs the listed packages it lacks, puts the environment first on PATH, and repeats the \
COPYs and the configuration, the installs of packages that are not build tools, and the RUNs that only make \
directories, users and permissions. It gives no fix when the stage runs anything else, removes packages, or \
runs pip by a path, with `--user`, `--target` or `--prefix`, or as a user other than root.\n\n\
Before:\n    FROM golang:1.22-bookworm\n    WORKDIR /src\n    COPY . .\n    RUN go build -o /app .\n    \
CMD [\"/app\"]\n\n\
After:\n    FROM golang:1.22-bookworm AS build\n    WORKDIR /src\n    COPY . .\n    \
RUN CGO_ENABLED=0 go build -o /app .\n    CMD [\"/app\"]\n\n    FROM scratch\n    \
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/\n    \
COPY --from=build /usr/share/zoneinfo /usr/share/zoneinfo\n    WORKDIR /src\n    \
COPY --from=build /app /app\n    CMD [\"/app\"]",
    safety: Safety::Unsafe,
    severity: Severity::Advice,
    hadolint: &[],
};

/// Debian releases whose images always hold tzdata (its priority was `required` until trixie).
const RELEASES_WITH_TZDATA: &[&str] = &["buster", "bullseye", "bookworm"];
const DEBIAN_RELEASES: &[&str] = &["buster", "bullseye", "bookworm", "trixie", "forky"];

/// The directories of the PATH a container gets when its image sets none.
const DEFAULT_PATH: &[&str] = &["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// What a build reads rather than the program: a COPY of these is the build's input.
const SOURCE_FILES: &[&str] = &[".go", "go.mod", "go.sum", ".rs", "Cargo.toml", "Cargo.lock"];

/// How many context entries the rule reads to classify COPY sources and look for cgo, at most.
const CONTEXT_LIMIT: usize = 20_000;

impl Rule for MultiStageBuild {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        let [stage] = ctx.df.stages.as_slice() else { return };
        let base = ctx.df.base(stage);
        if base.contains('$') {
            return;
        }
        let reference = ImageReference::parse(base.split('@').next().unwrap_or_default());
        let tag = reference.tag.unwrap_or("latest");
        // Windows images have no scratch and no Debian slim counterpart.
        if tag.contains("windows") || tag.contains("nanoserver") {
            return;
        }
        let toolchain = match reference.short_name() {
            "golang" => Toolchain::Go,
            "rust" => Toolchain::Rust,
            "node" => {
                findings.extend(node_finding(ctx, stage, tag));
                return;
            }
            "python" if !tag.contains("alpine") => {
                findings.extend(python_finding(ctx, stage));
                return;
            }
            _ => return,
        };
        let builds = builds(ctx, stage, toolchain);
        if builds.is_empty() {
            return;
        }
        // An image that runs nothing of its own is a build environment, not an application's image.
        let Some(command) = run_command(ctx, stage) else { return };
        let name = toolchain.name();
        let problem = format!(
            "a single-stage {name} build: the image keeps the {name} toolchain, its caches and the source to run one \
             binary"
        );
        let outcome = plan(ctx, stage, toolchain, &builds, command, tag).map(|plan| {
            let does = format!(
                "the fix runs `{}` from a runtime stage `FROM {}`. Check what it opens at run time: {}",
                plan.binary, plan.runtime, plan.caveat
            );
            (does, plan.edits)
        });
        let instead = "build it in a stage of its own and copy the binary into a small one";
        findings.push(split_finding(ctx, stage, problem, outcome, instead));
    }
}

/// DO306's finding on `stage`: the problem, then what the unsafe fix does, or what to do instead and why there is
/// no fix.
fn split_finding(
    ctx: &Context,
    stage: &Stage,
    problem: String,
    outcome: Result<(String, Vec<Edit>), String>,
    instead: &str,
) -> Finding {
    let (message, fix) = match outcome {
        Ok((does, edits)) => (format!("{problem}; {does}"), Some(Fix { applicability: Applicability::Unsafe, edits })),
        Err(why) => (format!("{problem}; {instead} ({why})"), None),
    };
    let range = ctx.statement(stage.statements.start).range;
    Finding { rule: &INFO, range, message, fix, instructions: stage_instructions(ctx, stage) }
}

/// Every instruction of the stage, which a split rewrites as a whole.
fn stage_instructions(ctx: &Context, stage: &Stage) -> Vec<usize> {
    stage.statements.clone().map(|i| ctx.statement(i).index()).collect()
}

/// The finding for a single-stage Node.js build that runs `npm run build`, and an image that runs something.
fn node_finding(ctx: &Context, stage: &Stage, tag: &str) -> Option<Finding> {
    let build = multi_stage_node::build_statement(ctx, stage)?;
    run_command(ctx, stage)?;
    let problem = "a single-stage Node.js build: the image keeps the devDependencies the build needed".to_string();
    let outcome = multi_stage_node::plan(ctx, stage, tag, build).map(|plan| {
        let does = format!(
            "the fix drops the devDependencies in the builder and copies {} into a runtime stage on the same image. \
             Check what the app needs at run time: {}",
            plan.app, plan.caveat
        );
        (does, plan.edits)
    });
    let instead = "build in a stage of its own and copy the app into a clean one";
    Some(split_finding(ctx, stage, problem, outcome, instead))
}

/// The finding for a single-stage Python build that installs compilers and headers for pip, in an image that
/// runs something.
fn python_finding(ctx: &Context, stage: &Stage) -> Option<Finding> {
    if !multi_stage_python::compiles_for_pip(ctx, stage) {
        return None;
    }
    run_command(ctx, stage)?;
    let problem =
        "a single-stage Python build: the image keeps the compilers and headers that pip's build needed".to_string();
    let outcome = multi_stage_python::plan(ctx, stage).map(|plan| {
        let does = format!(
            "the fix installs into a virtual environment in a builder stage and copies it into a runtime stage on \
             the same image without {}, which installs the packages whose libraries the built files link against. \
             Check what the app needs at run time: tools that came with those packages, files pip wrote outside \
             the environment",
            plan.packages.join(", ")
        );
        (does, plan.edits)
    });
    let instead = "build in a stage of its own and copy a virtual environment into a clean one";
    Some(split_finding(ctx, stage, problem, outcome, instead))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Toolchain {
    Go,
    Rust,
}

impl Toolchain {
    fn name(self) -> &'static str {
        match self {
            Toolchain::Go => "Go",
            Toolchain::Rust => "Rust",
        }
    }
}

/// Where a build writes its binary, as an absolute path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Output {
    /// `go build -o /app`.
    File(String),
    /// `cargo build` writes each binary of the package into a directory (ending in `/`), named as the package says.
    Directory(String),
}

impl Output {
    /// The output is, or holds, `binary`.
    fn holds(&self, binary: &str) -> bool {
        match self {
            Output::File(file) => file == binary,
            Output::Directory(dir) => binary.strip_prefix(dir.as_str()).is_some_and(|name| !name.contains('/')),
        }
    }
}

/// One build command of the stage.
struct Build<'c> {
    statement: usize,
    command: &'c Command<'c>,
    /// `None` when dockopt cannot tell where it writes.
    output: Option<Output>,
}

fn builds<'c>(ctx: &'c Context, stage: &Stage, toolchain: Toolchain) -> Vec<Build<'c>> {
    let mut builds = Vec::new();
    for i in stage.statements.clone() {
        if ctx.statement(i).instruction.kind != Kind::Run {
            continue;
        }
        for (command, inv) in ctx.invocations(i) {
            let output = match (toolchain, inv.program, inv.subcommand()) {
                (Toolchain::Go, "go", Some("build")) => {
                    let output = option_value(&inv, &["-o", "--o"]);
                    output
                        .flatten()
                        .filter(|o| !o.ends_with('/'))
                        .and_then(|o| absolute(ctx, stage, i, &o))
                        .map(Output::File)
                }
                (Toolchain::Rust, "cargo", Some("build")) => cargo_build_output(ctx, stage, i, command, &inv),
                (Toolchain::Rust, "cargo", Some("install")) => match option_value(&inv, &["--root"]) {
                    Some(root) => {
                        root.and_then(|r| absolute(ctx, stage, i, &r)).map(|r| Output::Directory(format!("{r}/bin/")))
                    }
                    // The official images set CARGO_HOME to /usr/local/cargo.
                    None => Some(Output::Directory("/usr/local/cargo/bin/".into())),
                },
                _ => continue,
            };
            builds.push(Build { statement: i, command, output });
        }
    }
    builds
}

/// The value of the first of `names` among the arguments: `Some(None)` when it is there but not literal.
fn option_value(inv: &Invocation, names: &[&str]) -> Option<Option<String>> {
    let mut args = inv.args.iter();
    let mut found = None;
    while let Some(word) = args.next() {
        let Some(text) = word.literal.as_deref() else { continue };
        if names.contains(&text) {
            found = Some(args.next().and_then(|w| w.literal.as_deref().map(str::to_string)));
        } else if let Some((name, value)) = text.split_once('=') {
            if names.contains(&name) {
                found = Some(Some(value.to_string()));
            }
        }
    }
    found
}

/// `cargo build`'s output directory: `target/release/` (or `debug/`) under the WORKDIR, the `--target-dir` or
/// `CARGO_TARGET_DIR`, with the `--target` triple between. `None` for a profile of its own or another manifest,
/// which can move it.
fn cargo_build_output(ctx: &Context, stage: &Stage, i: usize, command: &Command, inv: &Invocation) -> Option<Output> {
    if option_value(inv, &["--profile", "--manifest-path"]).is_some() {
        return None;
    }
    let profile = if inv.has_option("--release") || inv.has_option("-r") { "release" } else { "debug" };
    let target_dir = match option_value(inv, &["--target-dir"]) {
        Some(dir) => absolute(ctx, stage, i, &dir?)?,
        None => match ctx.variable(i, command, "CARGO_TARGET_DIR") {
            Variable::Set(dir) => absolute(ctx, stage, i, &dir)?,
            Variable::Unset => absolute(ctx, stage, i, "target")?,
            Variable::Unknown => return None,
        },
    };
    let triple = match option_value(inv, &["--target"]) {
        Some(triple) => format!("{}/", triple?),
        None => String::new(),
    };
    Some(Output::Directory(format!("{target_dir}/{triple}{profile}/")))
}

/// The rewrite, once every part of it is certain.
struct Plan {
    binary: String,
    runtime: String,
    /// What the user should check, for the message.
    caveat: String,
    edits: Vec<Edit>,
}

fn plan(
    ctx: &Context,
    stage: &Stage,
    toolchain: Toolchain,
    builds: &[Build],
    command: RunCommand,
    tag: &str,
) -> Result<Plan, String> {
    if let Some(build) = builds.iter().find(|b| b.output.is_none()) {
        let line = ctx.statement(build.statement).start_line();
        return Err(match toolchain {
            Toolchain::Go => {
                format!("the `go build` of line {line} writes where dockopt cannot tell: no `-o` with a literal path")
            }
            Toolchain::Rust => format!(
                "the `cargo` build of line {line} writes where dockopt cannot tell: a profile, a manifest path or a \
                 target directory it cannot read"
            ),
        });
    }
    let build_command = match toolchain {
        Toolchain::Go => "`go build -o`",
        Toolchain::Rust => "`cargo build` or `cargo install --root`",
    };
    let RunCommand { program, line: program_line, shell_form } = command;
    let last = stage.statements.end - 1;
    let binary = if program.starts_with('/') {
        normalize(&program)
    } else if program.contains('/') {
        let dir = workdir(ctx, stage, last + 1).ok_or("the command runs a relative path and the WORKDIR is not set")?;
        normalize(&format!("{dir}/{program}"))
    } else {
        let in_path = DEFAULT_PATH.iter().map(|dir| format!("{dir}/{program}"));
        in_path
            .into_iter()
            .find(|candidate| builds.iter().any(|b| b.output.as_ref().is_some_and(|o| o.holds(candidate))))
            .ok_or_else(|| {
                format!(
                "line {program_line} runs `{program}`, which is not what a {build_command} writes in a directory of \
                 the default PATH"
            )
            })?
    };
    if !builds.iter().any(|b| b.output.as_ref().is_some_and(|o| o.holds(&binary))) {
        return Err(format!("line {program_line} runs `{program}`, which no {build_command} writes"));
    }

    let words: Vec<&str> = tag.split('-').collect();
    let release = words.iter().find(|w| DEBIAN_RELEASES.contains(w)).copied();
    let alpine = words.iter().any(|w| w.starts_with("alpine"));
    let needs_shell = shell_form || healthcheck_needs_shell(ctx, stage);
    // The context's Go files are read once, for every build that leaves cgo to its default.
    let context_imports_c = std::cell::OnceCell::new();
    let cgo_states: Vec<Cgo> = match toolchain {
        Toolchain::Go => builds.iter().map(|b| cgo_state(ctx, b, &context_imports_c)).collect(),
        // Rust binaries link glibc dynamically, as cgo builds do.
        Toolchain::Rust => vec![Cgo::Used; builds.len()],
    };
    let cgo = cgo_states.iter().copied().max().unwrap_or(Cgo::Off);
    let scratch = !needs_shell && cgo != Cgo::Used;
    let runtime = match (scratch, release) {
        (true, _) => "scratch".to_string(),
        (false, Some(release)) => format!("debian:{release}-slim"),
        (false, None) if alpine => return Err("a build that links libc on Alpine has no certain runtime image".into()),
        (false, None) => {
            let why = match (toolchain, cgo) {
                (Toolchain::Rust, _) => "a Rust binary links the builder's glibc",
                (Toolchain::Go, Cgo::Used) => "the build may use cgo",
                (Toolchain::Go, _) => "a shell-form command needs a shell",
            };
            return Err(format!(
                "{why}, so the binary needs the builder's Debian release, which the tag `{tag}` does not name"
            ));
        }
    };

    let mut edits = Vec::new();
    let builder_name = builder_name(ctx, stage, &mut edits)?;
    if scratch {
        for (build, _) in builds.iter().zip(&cgo_states).filter(|(_, state)| **state == Cgo::Unseen) {
            if ctx.is_exec_form(build.statement) {
                return Err("cgo must be off for a scratch image, and an exec-form RUN takes no variables".into());
            }
            let first = build.command.assignments.first().or(build.command.words.first());
            let first = first.ok_or("the go build has no words")?;
            edits.push(Edit::insert(ctx.source_range(build.statement, first.range.clone()).start, "CGO_ENABLED=0 "));
        }
    }

    let mut caveats = Vec::new();
    let mut lines = vec![format!("FROM {runtime}")];
    lines.push(format!("COPY --from={builder_name} /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/"));
    if scratch {
        match release {
            Some(r) if RELEASES_WITH_TZDATA.contains(&r) => {
                lines.push(format!("COPY --from={builder_name} /usr/share/zoneinfo /usr/share/zoneinfo"))
            }
            None if !alpine => {
                lines.push(format!("COPY --from={builder_name} /usr/share/zoneinfo /usr/share/zoneinfo"))
            }
            _ => caveats.push(
                "time zones (the builder's release may have no tzdata; `-tags timetzdata` embeds them)".to_string(),
            ),
        }
    }
    if named_user(ctx, stage) {
        lines.push(format!("COPY --from={builder_name} /etc/passwd /etc/group /etc/"));
        caveats.push("the user's home directory and files".to_string());
    }
    let mut source_lines = Vec::new();
    for i in stage.statements.start + 1..stage.statements.end {
        let statement = ctx.statement(i);
        let kind = statement.instruction.kind;
        // The builds are in statement order, so those of this statement are found by binary search, not by
        // reading them all for every statement of a stage that may hold thousands.
        let later = &builds[builds.partition_point(|b| b.statement < i)..];
        let here = &later[..later.partition_point(|b| b.statement == i)];
        if CONFIG_KINDS.contains(&kind) {
            lines.push(ctx.df.tree.text(statement.range).to_string());
        } else if !here.is_empty() {
            for output in here.iter().filter_map(|b| b.output.as_ref()) {
                match output {
                    Output::File(file) => lines.push(copy_from(&builder_name, file)?),
                    Output::Directory(_) if output.holds(&binary) => lines.push(copy_from(&builder_name, &binary)?),
                    Output::Directory(_) => {}
                }
            }
        } else if matches!(kind, Kind::Copy | Kind::Add) {
            match copies_runtime_files(ctx, statement) {
                Some(true) => lines.push(ctx.df.tree.text(statement.range).to_string()),
                Some(false) => source_lines.push(statement.start_line().to_string()),
                None => {
                    caveats.push(format!("the files of line {}, which dockopt cannot read", statement.start_line()))
                }
            }
        }
    }
    match source_lines.as_slice() {
        [] => {}
        [line] => caveats.insert(0, format!("files the source brings in (line {line})")),
        lines => caveats.insert(0, format!("files the source brings in (lines {})", lines.join(", "))),
    }
    if toolchain == Toolchain::Rust && links_openssl(ctx) {
        let library = if matches!(release, Some("buster" | "bullseye")) { "libssl1.1" } else { "libssl3" };
        caveats
            .push(format!("OpenSSL, which `openssl-sys` in Cargo.lock links: install {library} in the runtime stage"));
    }
    if !scratch {
        caveats.push("tools and libraries the builder installed".to_string());
    }
    if cgo == Cgo::Unseen && scratch {
        caveats.push("that the build works with cgo off".to_string());
    }
    let caveat = if caveats.is_empty() { "nothing dockopt can see".to_string() } else { caveats.join(", ") };

    edits.push(append_stage(ctx, &lines));
    Ok(Plan { binary, runtime, caveat, edits })
}

/// The program the image runs: ENTRYPOINT's, or CMD's without one.
struct RunCommand {
    program: String,
    line: usize,
    /// Run through `/bin/sh -c`, which the runtime image must then have.
    shell_form: bool,
}

fn run_command(ctx: &Context, stage: &Stage) -> Option<RunCommand> {
    let last_of = |kind: Kind| stage.statements.clone().rev().find(|&i| ctx.statement(i).instruction.kind == kind);
    let i = last_of(Kind::Entrypoint).or_else(|| last_of(Kind::Cmd))?;
    let statement = ctx.statement(i);
    let ins = &statement.instruction;
    let first = ctx.df.value_texts(ins).next()?;
    if ins.json {
        let program = first.to_string();
        return Some(RunCommand { program, line: statement.start_line(), shell_form: false });
    }
    let script = Script::parse(first);
    let program = script.commands.first().and_then(Command::name).unwrap_or_default().to_string();
    Some(RunCommand { program, line: statement.start_line(), shell_form: true })
}

/// A shell-form HEALTHCHECK needs `/bin/sh` in the image.
fn healthcheck_needs_shell(ctx: &Context, stage: &Stage) -> bool {
    stage.statements.clone().any(|i| {
        let ins = &ctx.statement(i).instruction;
        ins.kind == Kind::Healthcheck
            && !ins.json
            && ctx.df.value_texts(ins).next().is_some_and(|w| w.eq_ignore_ascii_case("cmd"))
    })
}

/// Ordered from the least to the most the runtime image must provide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Cgo {
    /// `CGO_ENABLED=0` for the build.
    Off,
    /// Not turned off, and no Go file of the context imports "C": turning it off changes nothing the code asks for.
    Unseen,
    /// On, or possibly used: a Go file imports "C", or dockopt cannot read the context.
    Used,
}

/// `context_imports_c` holds, once read, whether a Go file of the build context may import "C".
fn cgo_state(ctx: &Context, build: &Build, context_imports_c: &std::cell::OnceCell<bool>) -> Cgo {
    match ctx.variable(build.statement, build.command, "CGO_ENABLED") {
        Variable::Set(v) if v == "0" => return Cgo::Off,
        Variable::Unset => {}
        _ => return Cgo::Used,
    }
    let imports_c = context_imports_c.get_or_init(|| {
        let Some(context) = ctx.build else { return true };
        context
            .files_under(".", CONTEXT_LIMIT)
            .is_none_or(|files| files.iter().any(|f| f.ends_with(".go") && imports_c(context, f)))
    });
    if *imports_c {
        Cgo::Used
    } else {
        Cgo::Unseen
    }
}

/// The Go file imports the pseudo-package "C", in an import line or an import block.
fn imports_c(context: &BuildContext, file: &str) -> bool {
    let Some(text) = context.read_text(file) else { return true };
    text.lines().map(str::trim).any(|l| l == "import \"C\"" || l == "\"C\"" || l.starts_with("import \"C\" "))
}

/// The build context's Cargo.lock has `openssl-sys`, so the binary links the system's OpenSSL.
fn links_openssl(ctx: &Context) -> bool {
    let lock = ctx.build.and_then(|context| context.read_text("Cargo.lock"));
    lock.is_some_and(|text| text.lines().any(|line| line.trim() == "name = \"openssl-sys\""))
}

/// The final USER is a name other than root, which the runtime stage must be able to look up.
fn named_user(ctx: &Context, stage: &Stage) -> bool {
    let user = stage.statements.clone().rev().find(|&i| ctx.statement(i).instruction.kind == Kind::User);
    user.and_then(|i| ctx.df.value_texts(&ctx.statement(i).instruction).next()).is_some_and(|user| {
        let name = user.split(':').next().unwrap_or_default();
        !is_root_user(name) && !name.chars().all(|c| c.is_ascii_digit())
    })
}

/// A COPY or ADD whose sources hold no Go or Rust code: files the program reads at run time, which the runtime
/// stage needs too. `Some(false)` for the build's inputs; `None` when dockopt cannot read the sources.
fn copies_runtime_files(ctx: &Context, statement: &Statement) -> Option<bool> {
    let ins = &statement.instruction;
    if ctx.df.flag_texts(ins).any(|f| f.starts_with("--from")) || !ctx.df.heredocs(statement).is_empty() {
        return None;
    }
    let context = ctx.build?;
    let sources = ctx.df.values(ins).split_last()?.1;
    for source in sources {
        let text = ctx.df.text(source);
        if text.contains("://") {
            return None;
        }
        for entry in context.resolve(text).entries()? {
            let files = context.files_under(&entry, CONTEXT_LIMIT)?;
            if files.iter().any(|f| SOURCE_FILES.iter().any(|suffix| f.ends_with(suffix))) {
                return Some(false);
            }
        }
    }
    Some(true)
}
