use crate::engine::build_context::BuildContext;
use crate::engine::context::{Context, Variable};
use crate::engine::finding::{Applicability, Edit, Finding, Fix, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::Invocation;
use crate::syntax::model::Kind;
use crate::transforms::copy_paths::copy_paths;
use crate::transforms::stage_commands::resolve;

pub struct CopyManifestsFirst;

static INFO: RuleInfo = RuleInfo {
    code: "DO103",
    name: "copy-manifests-first",
    summary: "Dependencies install after copying all the source, so any change reinstalls them",
    doc:
        "`COPY . /app` followed by `RUN pip install -r requirements.txt` makes the install layer depend on every file \
of the build context: any edit reinstalls every dependency. When the install reads nothing but its requirements files, \
dockopt copies those first, installs, and copies the rest afterwards; the final image holds the same files. It reads \
the build context to be sure: requirements files are followed through `-r` and `-c`, and it refuses editable installs \
(`-e`), local paths, local `--find-links`, pip options that write into the copied directory, an installer's own \
variable that points into it (`GOPROXY=file:///src/proxy`, `PIP_FIND_LINKS=./wheels`), a `.dockerignore` that leaves a \
manifest out, a build context holding what the install writes there (a node_modules or .venv made on the developer's \
machine, which the COPY moved after the install would put over the installed one), a RUN that does more than install, \
and instructions between the COPY and the RUN that could read the copied files. The same holds for npm, yarn and pnpm \
(refused with lifecycle scripts, workspaces, local dependencies, pnpm's patches, yarn's offline mirror, or a \
.yarnrc.yml that names files outside .yarn), `go mod download` (not in a go.work workspace), bundler (not with a \
vendor/cache, nor a Gemfile that reaches files it does not name), composer (scripts off, no classmap or optimized \
autoloader, no path repositories), pipenv, `poetry install --no-root` and `uv sync --no-install-project` (no path \
dependencies), and `cargo fetch` (a single crate with explicit targets, and no .cargo/config.toml in the copied \
directory). The tools' own files go with the manifests when they are there: .npmrc, .yarnrc, .yarnrc.yml, .yarn, \
.env.yarn, .pnpmfile.cjs, .bundle/config, auth.json, pipenv's .env, poetry.toml, uv.toml, .python-version and \
rust-toolchain.toml, a pnpm-workspace.yaml of settings for the one project (a catalog of versions), and the files a \
Gemfile names (.ruby-version).\n\n\
Before:\n    COPY . /app\n    RUN pip install -r requirements.txt\n\n\
After:\n    COPY requirements.txt /app/\n    RUN pip install -r requirements.txt\n    COPY . /app",
    safety: Safety::Safe,
    severity: Severity::Warning,
    hadolint: &[],
};

/// Instructions that only set metadata, so a COPY may move across them.
const METADATA: &[Kind] = &[Kind::Env, Kind::Arg, Kind::Label, Kind::Expose, Kind::User];

/// pip options that make an install write somewhere the full COPY would then overwrite, or read local files.
const REFUSED_PIP_OPTIONS: &[&str] =
    &["-t", "--target", "--prefix", "--root", "--src", "-e", "--editable", "-f", "--find-links"];

impl Rule for CopyManifestsFirst {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        let Some(build) = ctx.build else { return };
        let df = ctx.df;
        for stage in &df.stages {
            let mut workdirs = Workdirs::new(stage.statements.start);
            for c in stage.statements.clone() {
                let copy = &ctx.statement(c).instruction;
                let values = df.values(copy);
                if copy.kind != Kind::Copy || values.len() != 2 || !df.heredocs(ctx.statement(c)).is_empty() {
                    continue;
                }
                if df
                    .flag_texts(copy)
                    .any(|f| !(f.starts_with("--chown=") || f.starts_with("--chmod=") || f == "--link"))
                {
                    continue;
                }
                let source = df.text(&values[0]).trim_end_matches('/');
                if source != "." && !source.is_empty() {
                    continue;
                }
                // The install RUN: the first non-metadata instruction after the COPY.
                let Some(r) =
                    (c + 1..stage.statements.end).find(|&j| !METADATA.contains(&ctx.statement(j).instruction.kind))
                else {
                    continue;
                };
                if ctx.statement(r).instruction.kind != Kind::Run {
                    continue;
                }
                let (workdir, stage_sets_workdir) = workdirs.before(ctx, c);
                let workdir = workdir.to_string();
                let dest = resolve(&workdir, df.text(&values[1]));
                if dest.contains('$') {
                    if plan(ctx, build, r, &workdir, &workdir).is_some() {
                        findings.push(Finding {
                            rule: &INFO,
                            range: ctx.statement(c).range,
                            message: "dependencies install after copying all the source, but dockopt cannot move them: the destination uses a variable".into(),
                            fix: None,
                            instructions: vec![ctx.statement(c).index()],
                        });
                    }
                    continue;
                }
                // With --chown or --chmod, the destination's own owner and mode could depend on which COPY creates
                // it; a WORKDIR of the stage has created it already.
                let sets_owner = df.flag_texts(copy).any(|f| f.starts_with("--chown=") || f.starts_with("--chmod="));
                let plan = if sets_owner && (dest != workdir || !stage_sets_workdir) {
                    plan(ctx, build, r, &workdir, &dest)
                        .map(|p| p.and(Err(format!("the COPY sets owner or mode and {dest} may not exist before it"))))
                } else {
                    plan(ctx, build, r, &workdir, &dest)
                };
                match plan.map(|plan| plan.and_then(|manifests| finding(ctx, c, r, &dest, &manifests))) {
                    Some(Ok(Some(finding))) => findings.push(finding),
                    Some(Err(reason)) => findings.push(Finding {
                        rule: &INFO,
                        range: ctx.statement(c).range,
                        message: format!(
                            "dependencies install after copying all the source, but dockopt cannot move them: {reason}"
                        ),
                        fix: None,
                        instructions: vec![ctx.statement(c).index()],
                    }),
                    Some(Ok(None)) | None => {}
                }
            }
        }
    }
}

/// The WORKDIRs of one stage, read forward as far as its COPYs ask: a stage of thousands of COPYs would otherwise
/// read the statements before each one again, and the WORKDIRs after the last COPY that asks are never resolved.
struct Workdirs {
    /// The first statement not read yet.
    next: usize,
    /// The WORKDIR in force there (the base image's is `/`).
    dir: String,
    /// Whether the stage has a WORKDIR before there, which creates the directory.
    set: bool,
}

impl Workdirs {
    fn new(stage_start: usize) -> Workdirs {
        Workdirs { next: stage_start, dir: "/".to_string(), set: false }
    }

    /// The WORKDIR in force before statement `upto`, and whether the stage sets one before it. `upto` only grows
    /// from one call to the next.
    fn before(&mut self, ctx: &Context, upto: usize) -> (&str, bool) {
        for j in self.next..upto {
            let ins = &ctx.statement(j).instruction;
            if ins.kind == Kind::Workdir {
                if let Some(path) = ctx.df.value_texts(ins).next() {
                    self.dir = resolve(&self.dir, path);
                }
                self.set = true;
            }
        }
        self.next = self.next.max(upto);
        (&self.dir, self.set)
    }
}

/// What one command of the install RUN needs from the copied directory.
enum Needs {
    /// Nothing: cache cleaning, `pip install` of named packages, `rm` of absolute paths.
    Nothing,
    /// These files, relative to the RUN's working directory; `optional` ones are copied when they exist.
    Manifests { required: Vec<String>, optional: Vec<String> },
    /// pip's requirements files, to be read and followed.
    Requirements(Vec<String>),
}

/// The manifests (context-relative) that RUN `r` reads, when it reads nothing else. `None` when the RUN
/// installs nothing from manifests; `Some(Err(reason))` when it does but the move would not be safe.
fn plan(
    ctx: &Context,
    build: &BuildContext,
    r: usize,
    workdir: &str,
    dest: &str,
) -> Option<Result<Vec<String>, String>> {
    let script = ctx.script(r)?;
    let cwd = if workdir == dest {
        Some(String::new())
    } else {
        workdir.strip_prefix(dest).and_then(|rest| rest.strip_prefix('/')).map(str::to_string)
    };
    let mut needs = Vec::new();
    let mut refusal = None;
    let mut written = Vec::new();
    for command in &script.commands {
        let invocation = command.invocation();
        written.extend(invocation.as_ref().map_or(&[][..], written_in_place));
        match invocation.and_then(|inv| needs_of(&inv, build, cwd.as_deref().unwrap_or(""), dest)) {
            Some(Ok(n)) => needs.push(n),
            Some(Err(reason)) => refusal = refusal.or(Some(reason)),
            None => refusal = refusal.or(Some("the RUN does more than install dependencies".to_string())),
        }
    }
    if !needs.iter().any(|n| !matches!(n, Needs::Nothing)) {
        return refusal.map(Err).filter(|_| needs_manifest_words(script));
    }
    Some((|| {
        if let Some(reason) = refusal {
            return Err(reason);
        }
        if !script.balanced || script.opaque {
            return Err("dockopt cannot read the whole RUN".to_string());
        }
        if matches!(dest, "/" | "/root") || dest.starts_with("/etc") {
            return Err(format!("the source is copied to {dest}, where it may configure the tools"));
        }
        // Manifests named relative to the working directory must lie in the copied directory.
        let at = |file: &str| -> Result<String, String> {
            match &cwd {
                Some(cwd) if cwd.is_empty() => Ok(file.to_string()),
                Some(cwd) => Ok(format!("{cwd}/{file}")),
                None => Err(format!("the install runs in {workdir}, outside the copied directory {dest}")),
            }
        };
        let mut manifests = Vec::new();
        let mut requirements = Vec::new();
        for need in needs {
            match need {
                Needs::Nothing => {}
                Needs::Manifests { required, optional } => {
                    for file in required {
                        let file = at(&file)?;
                        if !build.contains(&file) {
                            return Err(format!("`{file}` is not in the build context"));
                        }
                        manifests.push(file);
                    }
                    for file in optional {
                        let file = at(&file)?;
                        // One that .dockerignore leaves out is not in the original build either.
                        if build.contains(&file) && !build.is_ignored(&file) {
                            manifests.push(file);
                        }
                    }
                }
                Needs::Requirements(files) => {
                    for arg in files {
                        let image_path = resolve(workdir, &arg);
                        let Some(relative) = image_path.strip_prefix(dest).and_then(|r| r.strip_prefix('/')) else {
                            return Err(format!("`{arg}` is not in the copied directory {dest}"));
                        };
                        requirements.push(relative.to_string());
                    }
                }
            }
        }
        manifests.extend(follow_requirements(build, requirements)?);
        for path in written {
            let path = at(path)?;
            if build.contains(&path) && !build.is_ignored(&path) {
                return Err(format!(
                    "the build context holds `{path}`, which the install writes: copied after the install, it \
                     would replace what the install made; leave it out with .dockerignore"
                ));
            }
        }
        if let Some(file) = manifests.iter().find(|m| build.is_ignored(m)) {
            return Err(format!("`{file}` is left out by .dockerignore"));
        }
        // Asked last, as it reads every variable of the file, once the manifests are known to be there.
        if let Some(name) = script.commands.iter().find_map(|command| tool_variable_into(ctx, r, command, dest)) {
            return Err(format!("`{name}` points the install at files in {dest}, which it would not find there yet"));
        }
        manifests.sort();
        manifests.dedup();
        // A directory (yarn's .yarn) is marked, to be copied to itself: see `finding`.
        for manifest in &mut manifests {
            if build.is_directory(manifest) {
                manifest.push('/');
            }
        }
        Ok(manifests)
    })())
}

/// What an install writes into its working directory, which is the copied directory. The original build copies
/// the context's own copy first and the install replaces it (`npm ci` starts node_modules afresh); moved after the
/// install, the COPY would put the context's copy over what the install made.
fn written_in_place(inv: &Invocation) -> &'static [&'static str] {
    match (inv.program, inv.subcommand()) {
        ("npm", Some("ci" | "install" | "i")) | ("pnpm", Some("install" | "i")) => &["node_modules"],
        // yarn 2 and later: Plug'n'Play's loader and the packages it unpacks, and the install's own state.
        ("yarn", None | Some("install")) => {
            &["node_modules", ".pnp.cjs", ".pnp.js", ".pnp.loader.mjs", ".yarn/install-state.gz", ".yarn/unplugged"]
        }
        // The virtual environment, where pipenv and poetry make it in the project.
        ("pipenv" | "poetry", Some("install")) | ("uv", Some("sync")) => &[".venv"],
        ("composer", Some("install")) => &["vendor"],
        ("bundle", Some("install")) => &["vendor/bundle"],
        _ => &[],
    }
}

/// composer's words ask for an optimized autoloader (`-o`, `--optimize-autoloader`, `-a`,
/// `--classmap-authoritative`): it lists the classes of the source it finds beside composer.json, so installed
/// before the source is copied, it lists none, and with `-a` the application's classes are not found at all (a
/// real build failed with `Class "App\Main" not found`). Short options may be bundled (`-noa`); the value of
/// `-d`, the one that takes one, ends a bundle.
fn optimizes_autoloader(words: &[&str]) -> bool {
    words.iter().any(|word| match word.strip_prefix("--") {
        Some(long) => matches!(long, "optimize-autoloader" | "classmap-authoritative"),
        None => word
            .strip_prefix('-')
            .is_some_and(|bundle| bundle.chars().take_while(|&c| c != 'd').any(|c| c == 'o' || c == 'a')),
    })
}

/// A RUN that mentions an install worth a report even when some other command keeps dockopt from moving it.
fn needs_manifest_words(script: &crate::shell::Script) -> bool {
    script.commands.iter().filter_map(|c| c.invocation()).any(|inv| {
        matches!(
            (inv.program, inv.subcommand()),
            ("pip", Some("install"))
                | ("npm", Some("ci" | "install" | "i"))
                | ("yarn", None | Some("install"))
                | ("pnpm", Some("install" | "i"))
                | ("go", Some("mod"))
                | ("bundle", Some("install"))
                | ("composer", Some("install"))
                | ("pipenv", Some("install"))
                | ("poetry", Some("install"))
                | ("uv", Some("sync"))
                | ("cargo", Some("fetch"))
        ) && (inv.program != "pip" || !requirement_files(&inv).is_empty())
    })
}

/// What a command needs from the copied directory, or why dockopt cannot move the COPY past it. `None` for a
/// command dockopt does not know.
fn needs_of(inv: &Invocation, build: &BuildContext, cwd: &str, dest: &str) -> Option<Result<Needs, String>> {
    let words: Vec<&str> = inv.args.iter().map(|w| w.literal.as_deref().unwrap_or("$")).collect();
    let positional: Vec<&str> = words.iter().copied().filter(|w| !w.starts_with('-')).collect();
    let at = |file: &str| if cwd.is_empty() { file.to_string() } else { format!("{cwd}/{file}") };
    let read = |file: &str| build.read_text(&at(file));
    let exists = |path: &str| build.contains(&at(path));
    let manifests = |required: &[&str], optional: &[&str]| {
        Ok(Needs::Manifests {
            required: required.iter().map(|s| s.to_string()).collect(),
            optional: optional.iter().map(|s| s.to_string()).collect(),
        })
    };
    Some(match (inv.program, positional.first().copied()) {
        ("pip", Some("install")) => {
            if let Some(option) = REFUSED_PIP_OPTIONS.iter().find(|o| inv.has_option(o)) {
                return Some(Err(format!("pip runs with `{option}`")));
            }
            let files = requirement_files(inv);
            if let Some(path) =
                words.iter().filter(|a| !files.iter().any(|f| a.ends_with(f.as_str()))).find(|a| is_local_path(a))
            {
                return Some(Err(format!("pip installs the local path `{path}`")));
            }
            Ok(if files.is_empty() { Needs::Nothing } else { Needs::Requirements(files) })
        }
        ("pip", Some("cache")) | ("npm" | "yarn", Some("cache")) | ("pnpm", Some("store")) => Ok(Needs::Nothing),
        ("rm", _) if positional.iter().all(|p| p.starts_with('/') && !p.starts_with(dest)) => Ok(Needs::Nothing),
        ("npm", Some("ci" | "install" | "i")) if positional.len() == 1 => node_project(read("package.json"))
            .and_then(|_| manifests(&["package.json"], &["package-lock.json", "npm-shrinkwrap.json", ".npmrc"])),
        ("npm", Some("install" | "i")) => Err("`npm install <package>` rewrites package.json".to_string()),
        ("yarn", None | Some("install")) => {
            if read(".yarnrc").is_some_and(|yarnrc| yarnrc.contains("offline-mirror")) {
                return Some(Err("yarn installs from an offline mirror, which may be in the copied directory".into()));
            }
            if let Some(path) = read(".yarnrc.yml").as_deref().and_then(yarnrc_path_outside_yarn) {
                return Some(Err(format!("`.yarnrc.yml` names `{path}`, which the install would not find yet")));
            }
            // yarn 4 reads the variables of a `.env.yarn` beside package.json.
            node_project(read("package.json")).and_then(|_| {
                manifests(&["package.json"], &["yarn.lock", ".yarnrc.yml", ".yarnrc", ".yarn", ".npmrc", ".env.yarn"])
            })
        }
        ("pnpm", Some("install" | "i")) if positional.len() == 1 => {
            // pnpm keeps settings in pnpm-workspace.yaml, catalogs among them, and reads it for one project too.
            let workspace = read("pnpm-workspace.yaml").map(|yaml| pnpm_workspace_of_one(&yaml)).transpose();
            node_project(read("package.json")).and(workspace).and_then(|workspace| {
                let mut required = vec!["package.json"];
                required.extend(workspace.map(|()| "pnpm-workspace.yaml"));
                manifests(&required, &["pnpm-lock.yaml", ".npmrc", ".pnpmfile.cjs"])
            })
        }
        ("go", Some("mod")) if positional.get(1) == Some(&"download") => match read("go.mod") {
            Some(gomod)
                if gomod.lines().any(|l| {
                    l.contains("=>") && (l.contains("=> ./") || l.contains("=> ../") || l.contains("=> /"))
                }) =>
            {
                Err("go.mod replaces a module with a local directory".to_string())
            }
            _ if exists("go.work") => Err("a Go workspace (go.work) needs every module it uses".to_string()),
            _ => manifests(&["go.mod"], &["go.sum"]),
        },
        ("bundle", Some("install")) => match read("Gemfile") {
            Some(gemfile)
                if gemfile.contains("path:")
                    || gemfile.contains(":path")
                    || gemfile.lines().any(|l| l.trim_start().starts_with("gemspec")) =>
            {
                Err("the Gemfile installs gems from local paths".to_string())
            }
            // Bundler installs from a vendor/cache it finds beside the Gemfile before it downloads anything.
            _ if exists("vendor/cache") => Err("bundler installs the gems in vendor/cache".to_string()),
            Some(gemfile) => gemfile_reads(&gemfile, dest).map(|read| {
                let mut required = vec!["Gemfile".to_string()];
                required.extend(read);
                Needs::Manifests { required, optional: vec!["Gemfile.lock".into(), ".bundle/config".into()] }
            }),
            None => manifests(&["Gemfile"], &["Gemfile.lock", ".bundle/config"]),
        },
        ("composer", Some("install")) => {
            let json: Option<serde_json::Value> = read("composer.json").and_then(|t| serde_json::from_str(&t).ok());
            let scripts = json
                .as_ref()
                .is_some_and(|j| j.get("scripts").is_some_and(|s| s.as_object().is_some_and(|o| !o.is_empty())));
            let classmap = json
                .as_ref()
                .is_some_and(|j| j.pointer("/autoload/classmap").is_some() || j.pointer("/autoload/files").is_some());
            // Asked only when composer.json is there: when it is not, that is the reason to give.
            let optimized = json.as_ref().is_some_and(|j| {
                optimizes_autoloader(&words)
                    || ["/config/optimize-autoloader", "/config/classmap-authoritative"]
                        .iter()
                        .any(|key| j.pointer(key).and_then(serde_json::Value::as_bool) == Some(true))
            });
            let path_repository = json.as_ref().and_then(|j| j.get("repositories")).is_some_and(|repositories| {
                let listed: Vec<&serde_json::Value> = match repositories {
                    serde_json::Value::Array(list) => list.iter().collect(),
                    serde_json::Value::Object(map) => map.values().collect(),
                    _ => Vec::new(),
                };
                listed.iter().any(|r| r.get("type").and_then(|t| t.as_str()) == Some("path"))
            });
            if path_repository {
                Err("composer.json installs packages from local paths".to_string())
            } else if scripts && !inv.has_option("--no-scripts") {
                Err("composer.json has scripts; add --no-scripts to install without them".to_string())
            } else if classmap && !inv.has_option("--no-autoloader") {
                Err("composer's autoloader scans source files (classmap); add --no-autoloader and run \
                     `composer dump-autoload` after the source is copied"
                    .to_string())
            } else if optimized && !inv.has_option("--no-autoloader") {
                Err("composer's optimized autoloader lists the source's classes; add --no-autoloader and run \
                     `composer dump-autoload --optimize` after the source is copied"
                    .to_string())
            } else {
                manifests(&["composer.json"], &["composer.lock", "auth.json"])
            }
        }
        ("pipenv", Some("install")) => match read("Pipfile").as_deref().and_then(pipfile_local) {
            Some(why) => Err(why),
            // pipenv reads the variables of a `.env` beside the Pipfile.
            None => manifests(&["Pipfile"], &["Pipfile.lock", ".env"]),
        },
        ("poetry", Some("install")) if inv.has_option("--no-root") || inv.has_option("--only-root") => {
            match read("pyproject.toml").as_deref().and_then(local_dependency) {
                Some(why) => Err(why),
                // poetry.toml holds the project's own settings, such as a virtual environment in the project.
                None => manifests(&["pyproject.toml"], &["poetry.lock", "poetry.toml"]),
            }
        }
        ("poetry", Some("install")) => {
            Err("`poetry install` also installs the project from its source; add --no-root".to_string())
        }
        ("uv", Some("sync")) if inv.has_option("--no-install-project") || inv.has_option("--no-install-workspace") => {
            let pyproject = read("pyproject.toml").unwrap_or_default();
            if pyproject.contains("[tool.uv.workspace]") {
                Err("a uv workspace needs every member's pyproject.toml".to_string())
            } else if let Some(why) = local_dependency(&pyproject).or_else(|| {
                // A uv.toml that is not TOML stops uv in both builds.
                uv_reads_local("uv.toml", &read("uv.toml")?.parse::<toml::Table>().ok()?)
            }) {
                Err(why)
            } else {
                // uv.toml holds the project's own settings, and .python-version the Python it installs for.
                manifests(&["pyproject.toml"], &["uv.lock", "uv.toml", ".python-version"])
            }
        }
        ("uv", Some("sync")) => {
            Err("`uv sync` also installs the project from its source; add --no-install-project".to_string())
        }
        ("cargo", Some("fetch")) => {
            let manifest: Option<toml::Table> = read("Cargo.toml").and_then(|t| toml::from_str(&t).ok());
            let Some(manifest) = manifest else {
                return Some(Err("Cargo.toml is missing or not valid TOML".to_string()));
            };
            let path_dependency = cargo_path_dependency(&manifest);
            if manifest.contains_key("workspace") {
                Err("a cargo workspace needs every member's Cargo.toml".to_string())
            } else if exists(".cargo/config.toml") || exists(".cargo/config") {
                // It may replace crates.io with vendored sources or a local registry in the copied directory.
                Err("cargo reads .cargo/config.toml in the copied directory, which may name files there".to_string())
            } else if let Some(name) = path_dependency {
                Err(format!("Cargo.toml takes `{name}` from a local path"))
            } else if !manifest.contains_key("lib") && !manifest.contains_key("bin") {
                // Without explicit targets cargo looks for src/main.rs or src/lib.rs, which would not be there yet.
                Err("`cargo fetch` needs src/main.rs or src/lib.rs unless Cargo.toml declares [lib] or [[bin]]"
                    .to_string())
            } else {
                // The toolchain file picks the toolchain that rustup runs for cargo.
                manifests(&["Cargo.toml"], &["Cargo.lock", "rust-toolchain.toml", "rust-toolchain"])
            }
        }
        _ => return None,
    })
}

/// A pnpm-workspace.yaml that needs no other file: its `packages` are the project alone (pnpm 9 wants the key),
/// and its other keys are settings that name no file, such as a catalog of versions (a real build of the fix,
/// with the file copied along, installed from one). Any other key keeps the fix back, as do `link:` and `file:`
/// specifiers anywhere in it.
fn pnpm_workspace_of_one(yaml: &str) -> Result<(), String> {
    const SETTINGS: [&str; 24] = [
        "allowedDeprecatedVersions",
        "autoInstallPeers",
        "catalog",
        "catalogs",
        "dedupePeerDependents",
        "engineStrict",
        "hoist",
        "hoistPattern",
        "ignoredBuiltDependencies",
        "linkWorkspacePackages",
        "minimumReleaseAge",
        "minimumReleaseAgeExclude",
        "neverBuiltDependencies",
        "nodeLinker",
        "onlyBuiltDependencies",
        "overrides",
        "packageExtensions",
        "peerDependencyRules",
        "publicHoistPattern",
        "resolutionMode",
        "saveExact",
        "savePrefix",
        "shamefullyHoist",
        "strictPeerDependencies",
    ];
    if yaml.contains("link:") || yaml.contains("file:") {
        return Err("pnpm-workspace.yaml names local packages".to_string());
    }
    let mut key = "";
    for line in yaml.lines() {
        let code = line.split(" #").next().unwrap_or_default().trim_end();
        if code.trim_start().is_empty() || code.trim_start().starts_with('#') || code == "---" {
            continue;
        }
        let item = if code.starts_with([' ', '\t', '-']) {
            code.trim_start().strip_prefix('-').map(str::trim)
        } else {
            let Some((name, value)) = code.split_once(':') else {
                return Err("pnpm-workspace.yaml is not what dockopt can read".to_string());
            };
            key = name.trim();
            let value = value.trim();
            if key == "packages" {
                // A flow list: `packages: ["."]`.
                let items = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(value);
                if !items.split(',').map(str::trim).all(|i| i.is_empty() || is_this_project(i)) {
                    return Err("a pnpm workspace needs every member's package.json".to_string());
                }
            } else if !SETTINGS.contains(&key) {
                return Err(format!("pnpm-workspace.yaml sets `{key}`, which may name files"));
            }
            None
        };
        if let Some(item) = item.filter(|_| key == "packages") {
            if !is_this_project(item) {
                return Err("a pnpm workspace needs every member's package.json".to_string());
            }
        }
    }
    Ok(())
}

/// A relative path that a `.yarnrc.yml` (yarn 2 and later's settings) gives a setting that names a file or folder,
/// not under `.yarn`, which goes with the manifests: a `yarnPath` to a release kept elsewhere, a plugin's `path`, a
/// `cacheFolder`, another lockfile. Absolute paths and those under the home directory are not the copied directory's.
fn yarnrc_path_outside_yarn(yarnrc: &str) -> Option<&str> {
    const PATH_SETTINGS: [&str; 10] = [
        "yarnPath",
        "cacheFolder",
        "installStatePath",
        "patchFolder",
        "pnpUnpluggedFolder",
        "virtualFolder",
        "deferredVersionFolder",
        "pnpDataPath",
        "lockfileFilename",
        // A plugin's, in the list of `plugins`.
        "path",
    ];
    yarnrc.lines().find_map(|line| {
        let code = line.split(" #").next().unwrap_or_default().trim();
        let (key, value) = code.strip_prefix("- ").unwrap_or(code).split_once(':')?;
        let value = value.trim().trim_matches(['"', '\'']);
        let copied = value.trim_start_matches("./").starts_with(".yarn/") || value == "yarn.lock";
        let elsewhere = !value.starts_with(['/', '~', '$']) && !copied;
        (PATH_SETTINGS.contains(&key.trim()) && !value.is_empty() && elsewhere).then_some(value)
    })
}

/// A workspace's list item that names only the project at its root: `.`, `"."`, `'./'`.
fn is_this_project(item: &str) -> bool {
    matches!(item.trim_matches(['"', '\'']), "." | "./")
}

/// The first crate a Cargo.toml takes from a path, which `cargo fetch` reads: among its dependencies of every
/// kind, those for some targets only (`[target.'cfg(unix)'.dependencies]`, which a real build of the fix failed
/// on), and its patches and replacements.
fn cargo_path_dependency(manifest: &toml::Table) -> Option<&str> {
    const KINDS: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];
    let targets = table(manifest.get("target")).into_iter().flat_map(|t| t.values().filter_map(toml::Value::as_table));
    let mut tables: Vec<&toml::Table> =
        targets.chain([manifest]).flat_map(|t| KINDS.iter().filter_map(|kind| table(t.get(*kind)))).collect();
    tables.extend(table(manifest.get("patch")).into_iter().flat_map(|p| p.values().filter_map(toml::Value::as_table)));
    tables.extend(table(manifest.get("replace")));
    tables.iter().flat_map(|deps| deps.iter()).find(|(_, d)| d.get("path").is_some()).map(|(name, _)| name.as_str())
}

/// How the variables of the installers start: pip's, Go's, npm's, yarn's, pnpm's, bundler's, composer's, pipenv's,
/// poetry's, uv's and cargo's own settings.
const TOOL_VARIABLES: &[&str] = &[
    "PIP_",
    "GO",
    "NPM_CONFIG_",
    "npm_config_",
    "YARN_",
    "PNPM_",
    "BUNDLE_",
    "COMPOSER",
    "PIPENV_",
    "POETRY_",
    "UV_",
    "CARGO_",
];

/// An installer's variable that `command` of RUN `r` sees set to a path in `dest`, the copied directory, or to a
/// relative path, which the install resolves there: `GOPROXY=file:///src/proxy`, `PIP_FIND_LINKS=./wheels`. Moved
/// ahead of the full COPY, the install would find nothing there. Its name, if there is one.
fn tool_variable_into<'c>(
    ctx: &'c Context,
    r: usize,
    command: &'c crate::shell::Command,
    dest: &str,
) -> Option<&'c str> {
    ctx.variable_names(r, command, TOOL_VARIABLES).into_iter().find(|name| match ctx.variable(r, command, name) {
        Variable::Set(value) => names_a_path_in(&value, dest),
        Variable::Unset | Variable::Unknown => false,
    })
}

/// `value`, or one of the list it holds (`,`, `|`, `;` or blanks between them), is a path in `dest` or a relative
/// path: bare, after an option's `=` (`-modfile=./go.ci.mod`), or as a `file:` URL.
fn names_a_path_in(value: &str, dest: &str) -> bool {
    value.split([',', '|', ';', ' ', '\t']).any(|item| {
        let path = item.rsplit_once('=').map_or(item, |(_, path)| path);
        let path = path.strip_prefix("file://").or_else(|| path.strip_prefix("file:")).unwrap_or(path);
        path == "."
            || path.starts_with("./")
            || path.starts_with("../")
            || path.strip_prefix(dest).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// Why pipenv, installing from this Pipfile, would read more than the manifests: a package from a path, an
/// editable one, a `file` that is not a download (`mylib = {file = "dist/mylib.whl"}`, as `pipenv install` of a
/// local wheel writes it), or a package index in the file system. Any `path =` or `editable` counts, wherever it is.
fn pipfile_local(pipfile: &str) -> Option<String> {
    if pipfile.contains("path =") || pipfile.contains("editable") {
        return Some("the Pipfile installs local paths".into());
    }
    let Ok(toml) = pipfile.parse::<toml::Table>() else { return Some("the Pipfile is not valid TOML".into()) };
    let is_download = |url: &str| url.starts_with("https://") || url.starts_with("http://");
    // Every table but these lists packages: [packages], [dev-packages] and pipenv's own categories.
    let categories =
        toml.iter().filter(|(name, _)| !matches!(name.as_str(), "source" | "requires" | "pipenv" | "scripts"));
    for (name, package) in categories.filter_map(|(_, t)| t.as_table()).flatten() {
        if package.get("file").and_then(toml::Value::as_str).is_some_and(|file| !is_download(file)) {
            return Some(format!("the Pipfile installs `{name}` from a local file"));
        }
    }
    let sources = toml.get("source").and_then(toml::Value::as_array).into_iter().flatten();
    if sources.filter_map(|s| s.get("url")?.as_str()).any(|url| !is_download(url)) {
        return Some("the Pipfile names a package index in the file system".into());
    }
    None
}

/// Why poetry or uv, installing from this pyproject.toml, would read more than the manifests: a dependency from a
/// local path (`lib = { path = "libs/lib" }`, `lib @ file:///app/libs/lib`), a workspace member, or packages in
/// the file system (a package index, uv's `find-links`). Other tools' settings that name paths (pytest's
/// `pythonpath`, hatch's version `path`) do not count: a real build of uv's fix with pytest's set made the same
/// image. A file that is not TOML keeps the fix back too.
fn local_dependency(pyproject: &str) -> Option<String> {
    let Ok(toml) = pyproject.parse::<toml::Table>() else { return Some("pyproject.toml is not valid TOML".into()) };
    let tool = table(toml.get("tool"));
    let poetry = tool.and_then(|t| table(t.get("poetry")));
    let mut dependency_tables =
        vec![poetry.and_then(|p| table(p.get("dependencies"))), poetry.and_then(|p| table(p.get("dev-dependencies")))];
    if let Some(groups) = poetry.and_then(|p| table(p.get("group"))) {
        dependency_tables.extend(groups.values().map(|g| table(g.get("dependencies"))));
    }
    if let Some(name) = dependency_tables.into_iter().flatten().find_map(local_source) {
        return Some(format!("pyproject.toml installs `{name}` from a local path"));
    }
    if poetry.and_then(|p| p.get("source")).is_some_and(names_local_index) {
        return Some("pyproject.toml names a package index in the file system".into());
    }
    // PEP 508 requirements: the project's, its extras' and its dependency groups'.
    let project = table(toml.get("project"));
    let mut requirement_lists = vec![project.and_then(|p| p.get("dependencies"))];
    for lists in [project.and_then(|p| table(p.get("optional-dependencies"))), table(toml.get("dependency-groups"))] {
        requirement_lists.extend(lists.into_iter().flat_map(|t| t.values().map(Some)));
    }
    if let Some(local) = local_requirement(requirement_lists.into_iter().flatten()) {
        return Some(format!("pyproject.toml requires `{local}`, a local path"));
    }
    tool.and_then(|t| table(t.get("uv"))).and_then(|uv| uv_reads_local("pyproject.toml", uv))
}

/// Why uv, with these settings (pyproject.toml's `[tool.uv]`, or uv.toml), would install from the file system:
/// a source from a path or the workspace, an index or `find-links` there, or a local path among its own
/// dependency lists.
fn uv_reads_local(file: &str, uv: &toml::Table) -> Option<String> {
    if let Some(name) = table(uv.get("sources")).and_then(local_source) {
        return Some(format!("{file} installs `{name}` from a local path"));
    }
    let locations = ["find-links", "index-url", "extra-index-url"].iter().filter_map(|key| uv.get(*key));
    let mut urls = locations.flat_map(|value| match value {
        toml::Value::Array(items) => items.iter().filter_map(toml::Value::as_str).collect(),
        other => other.as_str().into_iter().collect::<Vec<_>>(),
    });
    if uv.get("index").is_some_and(names_local_index) || urls.any(is_local_path) {
        return Some(format!("{file} names packages in the file system"));
    }
    let lists = ["dev-dependencies", "constraint-dependencies", "override-dependencies"].map(|key| uv.get(key));
    local_requirement(lists.into_iter().flatten()).map(|local| format!("{file} requires `{local}`, a local path"))
}

fn table(value: Option<&toml::Value>) -> Option<&toml::Table> {
    value.and_then(toml::Value::as_table)
}

/// The first dependency of a table of them (poetry's dependencies, uv's sources) that comes from the file system:
/// its source, or each of a list of sources for different markers, names a path, a `file:` URL or the workspace.
fn local_source(dependencies: &toml::Table) -> Option<&str> {
    let local = |source: &toml::Table| {
        source.contains_key("path")
            || source.get("workspace").and_then(toml::Value::as_bool) == Some(true)
            || source.get("url").and_then(toml::Value::as_str).is_some_and(is_local_path)
    };
    dependencies.iter().find_map(|(name, value)| {
        let found = match value {
            toml::Value::Table(source) => local(source),
            toml::Value::Array(sources) => sources.iter().filter_map(toml::Value::as_table).any(local),
            _ => false,
        };
        found.then_some(name.as_str())
    })
}

/// A list of package indexes (poetry's `source`, uv's `index`) with one in the file system.
fn names_local_index(indexes: &toml::Value) -> bool {
    indexes.as_array().into_iter().flatten().filter_map(|i| i.get("url")?.as_str()).any(is_local_path)
}

/// The first PEP 508 requirement of these lists that is a local path.
fn local_requirement<'t>(lists: impl Iterator<Item = &'t toml::Value>) -> Option<&'t str> {
    let requirements = lists.filter_map(toml::Value::as_array).flatten().filter_map(toml::Value::as_str);
    requirements.into_iter().find(|r| is_local_direct_reference(r))
}

/// The files a Gemfile reads beside itself, which go with it: those it names with `ruby file: "..."` or reads
/// with `File.read("...")`, a relative path written out (`ruby File.read(".ruby-version").strip`, common in
/// Rails applications). A Gemfile is Ruby, and bundler fails on a file that is not there yet (a real build of the
/// fixed Dockerfile did), so any other way to reach a file (`eval_gemfile`, `File.exist?`, `require_relative`, a
/// path it computes) keeps the fix back, and so does a path in the copied directory `dest` or a relative one
/// anywhere in it (a gem source or git repository there).
fn gemfile_reads(gemfile: &str, dest: &str) -> Result<Vec<String>, String> {
    const READS: [&str; 2] = ["File.read", "file:"];
    const REACHES: [&str; 10] =
        ["eval", "require_relative", "load", "File", "IO.", "Dir", "Pathname", "__dir__", "__FILE__", "open("];
    let mut files = Vec::new();
    for (k, line) in gemfile.lines().enumerate() {
        let refused = |what: &str| Err(format!("line {} of the Gemfile reads {what}", k + 1));
        let mut code = ruby_code(line);
        if let Some(path) = ruby_strings(code).find(|text| names_a_path_in(text, dest)) {
            return refused(&format!("`{path}`, in the copied directory"));
        }
        let mut rest = String::new();
        while let Some((at, read)) = READS.iter().filter_map(|r| Some((code.find(r)?, r))).min() {
            // `file:` counts as `ruby`'s keyword only: a `file:///gems` source is a URL.
            if *read == "file:" && !line.trim_start().starts_with("ruby") {
                rest.push_str(&code[..at + read.len()]);
                code = &code[at + read.len()..];
                continue;
            }
            rest.push_str(&code[..at]);
            let after = code[at + read.len()..].trim_start_matches([' ', '(']);
            let Some((path, tail)) = ruby_literal(after) else { return refused("a file it names by a computed path") };
            if path.is_empty() || path.starts_with('/') || path.split('/').any(|part| part == "..") {
                return refused(&format!("`{path}`, outside the copied directory"));
            }
            files.push(path.to_string());
            code = tail;
        }
        rest.push_str(code);
        // Gem names and versions are strings: only the code between them is looked at.
        let rest = outside_strings(&rest);
        if let Some(at) = REACHES.iter().filter_map(|word| rest.find(word)).min() {
            // Named whole: `eval_gemfile`, `File.exist?`.
            let part_of_name = |c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '?' | '!');
            let start =
                rest[..at].char_indices().rev().find(|&(_, c)| !part_of_name(c)).map_or(0, |(i, c)| i + c.len_utf8());
            let end = rest[at..].find(|c| !part_of_name(c)).map_or(rest.len(), |i| at + i);
            return refused(&format!("other files with `{}`", &rest[start..end]));
        }
    }
    Ok(files)
}

/// A line of Ruby without its comment: the text before a `#` outside quotes.
fn ruby_code(line: &str) -> &str {
    let end = ruby_chars(line).find(|&(_, c, in_string)| c == '#' && !in_string).map_or(line.len(), |(i, _, _)| i);
    &line[..end]
}

/// What the quotes of a line of Ruby hold.
fn ruby_strings(code: &str) -> impl Iterator<Item = String> + '_ {
    let mut chars = ruby_chars(code).peekable();
    std::iter::from_fn(move || {
        chars.find(|&(_, _, in_string)| in_string).map(|(_, first, _)| {
            let mut text = String::from(first);
            while let Some((_, c, true)) = chars.peek().copied() {
                text.push(c);
                chars.next();
            }
            text
        })
    })
}

/// Ruby code with what its quotes hold left out, each string a blank.
fn outside_strings(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    for (_, c, in_string) in ruby_chars(code) {
        match (in_string, c) {
            (false, '"' | '\'') => out.push(' '),
            (false, _) => out.push(c),
            (true, _) => {}
        }
    }
    out
}

/// Each character of a line of Ruby with its offset, and whether it is inside quotes (the quotes themselves are
/// not): a backslash in a string escapes the character after it, the quote that would end the string included.
fn ruby_chars(line: &str) -> impl Iterator<Item = (usize, char, bool)> + '_ {
    let (mut quote, mut escaped) = (None, false);
    line.char_indices().map(move |(i, c)| match quote {
        None if matches!(c, '"' | '\'') => {
            quote = Some(c);
            (i, c, false)
        }
        None => (i, c, false),
        Some(_) if escaped => {
            escaped = false;
            (i, c, true)
        }
        Some(_) if c == '\\' => {
            escaped = true;
            (i, c, true)
        }
        Some(q) if c == q => {
            quote = None;
            (i, c, false)
        }
        Some(_) => (i, c, true),
    })
}

/// A quoted string with nothing to interpolate at the start of `text`, and the text after it.
fn ruby_literal(text: &str) -> Option<(&str, &str)> {
    let quote = text.chars().next().filter(|c| matches!(c, '"' | '\''))?;
    let end = text[1..].find(quote)? + 1;
    let literal = &text[1..end];
    (!literal.contains(['\\', '#'])).then_some((literal, &text[end + 1..]))
}

/// A package.json that an install reads alone: no lifecycle scripts, workspaces or local dependencies.
fn node_project(package_json: Option<String>) -> Result<(), String> {
    let Some(text) = package_json else { return Err("package.json is not in the build context".to_string()) };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| "package.json is not valid JSON".to_string())?;
    const LIFECYCLE: [&str; 5] = ["preinstall", "install", "postinstall", "prepare", "prepublish"];
    if let Some(script) = LIFECYCLE.iter().find(|s| json.pointer(&format!("/scripts/{s}")).is_some()) {
        return Err(format!("package.json has a `{script}` script, which may read the source"));
    }
    if json.get("workspaces").is_some() {
        return Err("package.json declares workspaces, which need more files".to_string());
    }
    // pnpm applies patches kept in the source to the packages it installs.
    if json.pointer("/pnpm/patchedDependencies").is_some() {
        return Err("package.json patches dependencies with files from the source".to_string());
    }
    let local = ["dependencies", "devDependencies", "optionalDependencies"]
        .iter()
        .filter_map(|k| json.get(k)?.as_object())
        .flat_map(|deps| deps.values())
        .filter_map(|v| v.as_str())
        .find(|v| v.starts_with("file:") || v.starts_with("link:") || v.starts_with("./") || v.starts_with("../"));
    match local {
        Some(spec) => Err(format!("package.json depends on the local `{spec}`")),
        None => Ok(()),
    }
}

/// pip requirements files and the ones they name through `-r` and `-c`, refusing editable and local
/// requirements.
fn follow_requirements(build: &BuildContext, mut queue: Vec<String>) -> Result<Vec<String>, String> {
    let mut manifests: Vec<String> = Vec::new();
    while let Some(file) = queue.pop() {
        if manifests.contains(&file) {
            continue;
        }
        let Some(text) = build.read_text(&file) else {
            return Err(format!("`{file}` is not in the build context"));
        };
        let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
        for line in text.lines() {
            let line = line.split(" #").next().unwrap_or(line).trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let first = words.next().unwrap_or_default();
            let nested = match first {
                "-r" | "--requirement" | "-c" | "--constraint" => words.next().map(str::to_string),
                _ => ["--requirement=", "--constraint=", "-r", "-c"]
                    .iter()
                    .find_map(|p| {
                        first
                            .strip_prefix(p)
                            .filter(|rest| !rest.is_empty() && (p.starts_with("--") || !first.starts_with("--")))
                    })
                    .map(str::to_string),
            };
            if let Some(nested) = nested {
                queue.push(resolve(&format!("/{dir}"), &nested).trim_start_matches('/').to_string());
                continue;
            }
            if ["-e", "--editable"].iter().any(|o| first == *o || first.starts_with(&format!("{o}="))) {
                return Err(format!("`{file}` installs `{line}` in editable mode, which reads the source"));
            }
            let sources = ["-f", "--find-links", "-i", "--index-url", "--extra-index-url"];
            if sources.iter().any(|o| first == *o || first.starts_with(&format!("{o}="))) {
                let value = words.next().unwrap_or_else(|| first.split_once('=').map_or(first, |(_, v)| v));
                if !value.contains("://") || value.starts_with("file:") {
                    return Err(format!("`{file}` finds packages in the local `{line}`"));
                }
                continue;
            }
            if is_local_path(first) {
                return Err(format!("`{file}` installs the local path `{first}`"));
            }
            if is_local_direct_reference(line) {
                return Err(format!("`{file}` installs `{line}` from a local path"));
            }
        }
        manifests.push(file);
    }
    Ok(manifests)
}

/// The files given to `-r`/`--requirement` (and `-c`/`--constraint`) on a pip command line, in any of the
/// spellings pip accepts: `-r file`, `-rfile`, `--requirement file`, `--requirement=file`.
fn requirement_files(inv: &Invocation) -> Vec<String> {
    let args: Vec<&str> = inv.args.iter().map(|w| w.literal.as_deref().unwrap_or("$")).collect();
    let mut files = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        if matches!(a, "-r" | "--requirement" | "-c" | "--constraint") {
            files.extend(args.get(i + 1).map(|f| f.to_string()));
            i += 2;
            continue;
        }
        let long = a.strip_prefix("--requirement=").or_else(|| a.strip_prefix("--constraint="));
        let short =
            || a.strip_prefix("-r").or_else(|| a.strip_prefix("-c")).filter(|f| !f.is_empty() && !a.starts_with("--"));
        files.extend(long.or_else(short).map(str::to_string));
        i += 1;
    }
    files
}

/// A requirement line that is a direct reference, `name @ url` (blanks around `@` optional), to a path or a `file:`
/// URL. A VCS URL's own `@` comes after the first.
fn is_local_direct_reference(line: &str) -> bool {
    line.split_once('@').is_some_and(|(_, url)| url.trim().starts_with("file:") || is_local_path(url.trim()))
}

/// A pip argument or requirement line that names something on the local file system.
fn is_local_path(arg: &str) -> bool {
    !arg.starts_with('-')
        && (arg == "."
            || arg.starts_with("./")
            || arg.starts_with("../")
            || arg.starts_with('/')
            || arg.starts_with("file:")
            || arg.contains('$')
            || (arg.contains('/') && !arg.contains("://") && !arg.contains('@')))
}

/// The finding, with its fix, of COPY `c` of the whole context to `dest` before install `r`, which needs
/// `manifests` from it: `None` when it needs none, an error when a COPY of them cannot be written.
fn finding(ctx: &Context, c: usize, r: usize, dest: &str, manifests: &[String]) -> Result<Option<Finding>, String> {
    if manifests.is_empty() {
        return Ok(None);
    }
    let copy = ctx.statement(c);
    let run = ctx.statement(r);
    let source = ctx.df.source();
    let newline = ctx.newline();
    let indent = ctx.indent(c);
    // The flags as written, which read as they did in the COPY they come from; as BuildKit read them, a quoted
    // value would lose its quotes.
    let mut flags = String::new();
    for flag in ctx.df.flags(&copy.instruction) {
        let written = ctx.df.tree.text(flag.range);
        if written.contains('\n') {
            return Err(format!("the COPY's flag {:?} runs over more than one line", ctx.df.text(flag)));
        }
        flags.push_str(written);
        flags.push(' ');
    }
    let keyword = ctx.df.text(&copy.instruction.cmd);
    // One COPY per directory the manifest files are in, to the matching directory under the destination, and one
    // per directory copied whole (marked `.yarn/`), to itself there: a COPY of a directory copies what it holds,
    // not the directory, so beside other sources `.yarn` would spill its files into the destination.
    let mut groups: Vec<(&str, bool, Vec<&str>)> = Vec::new();
    for manifest in manifests {
        let (source, whole) = manifest.strip_suffix('/').map_or((manifest.as_str(), false), |dir| (dir, true));
        let dir = if whole { source } else { source.rsplit_once('/').map_or("", |(dir, _)| dir) };
        match groups.iter_mut().find(|(d, w, _)| *d == dir && !*w && !whole) {
            Some((_, _, sources)) => sources.push(source),
            None => groups.push((dir, whole, vec![source])),
        }
    }
    let mut lines = String::new();
    for (dir, _, sources) in groups {
        let target = if dir.is_empty() {
            format!("{}/", dest.trim_end_matches('/'))
        } else {
            format!("{}/{dir}/", dest.trim_end_matches('/'))
        };
        let paths: Vec<&str> = sources.into_iter().chain([target.as_str()]).collect();
        lines.push_str(&format!("{indent}{keyword} {flags}{}{newline}", copy_paths(&paths)?));
    }
    // The full COPY moves, whole lines and all, to after the install.
    let copy_text = &source[copy.line_range.as_range()];
    let mut moved = copy_text.to_string();
    if !moved.ends_with('\n') {
        moved.push_str(newline);
    }
    let mut after = String::new();
    if !source[..run.line_range.end].ends_with('\n') {
        after.push_str(newline);
    }
    after.push_str(&moved);
    let edits = vec![
        Edit::delete(copy.line_range),
        Edit::insert(run.line_range.start, lines),
        Edit::insert(run.line_range.end, after),
    ];
    Ok(Some(Finding {
        rule: &INFO,
        range: copy.range,
        message: format!(
            "the install on line {} reruns whenever any source file changes; copy {} first and the rest after it",
            run.start_line(),
            manifests.join(", ")
        ),
        fix: Some(Fix { applicability: Applicability::Safe, edits }),
        instructions: (c..=r).map(|k| ctx.statement(k).index()).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::{
        cargo_path_dependency, gemfile_reads, is_local_direct_reference, local_dependency, names_a_path_in,
        optimizes_autoloader, pipfile_local, pnpm_workspace_of_one, yarnrc_path_outside_yarn,
    };

    #[test]
    fn direct_references_to_paths_and_file_urls_are_local_and_vcs_urls_are_not() {
        for line in ["lib @ file:///app/libs/lib", "lib@file:///app/libs/lib", "lib @ ./libs/lib"] {
            assert!(is_local_direct_reference(line), "{line}");
        }
        for line in ["six==1.16.0", "lib @ git+https://example.com/x/lib@v1", "lib @ https://example.com/lib.whl"] {
            assert!(!is_local_direct_reference(line), "{line}");
        }
    }

    #[test]
    fn a_pnpm_workspace_file_of_one_project_with_settings_is_read_alone() {
        for yaml in [
            "packages:\n  - \".\"\ncatalog:\n  is-number: 7.0.0\n",
            "packages: ['.']\nonlyBuiltDependencies:\n  - esbuild # its postinstall\n",
            "# settings\nonlyBuiltDependencies:\n- esbuild\nminimumReleaseAge: 1440\n",
            "---\npackages:\n  - ./\ncatalogs:\n  react18:\n    react: ^18.3.1\n",
        ] {
            assert_eq!(pnpm_workspace_of_one(yaml), Ok(()), "{yaml}");
        }
        for yaml in [
            "packages:\n  - \"packages/*\"\n",
            "packages: [\".\", \"tools\"]\n",
            "packages:\n  - \".\"\npatchedDependencies:\n  is-number: patches/is-number.patch\n",
            "overrides:\n  is-number: link:../is-number\n",
            "catalog:\n  lib: file:./lib.tgz\n",
            "onlyBuiltDependenciesFile: node_modules/x/allow.json\n",
            "packages\n",
        ] {
            assert!(pnpm_workspace_of_one(yaml).is_err(), "{yaml}");
        }
    }

    #[test]
    fn yarn_settings_that_name_files_outside_dot_yarn_are_found() {
        for (yarnrc, found) in [
            ("yarnPath: .yarn/releases/yarn-4.5.3.cjs\nnodeLinker: node-modules\n", None),
            ("cacheFolder: ./.yarn/cache\nglobalFolder: /usr/local/share/yarn\nlockfileFilename: yarn.lock\n", None),
            ("plugins:\n  - path: .yarn/plugins/@yarnpkg/plugin-x.cjs\n    spec: \"@yarnpkg/plugin-x\"\n", None),
            ("npmRegistryServer: \"https://registry.npmjs.org\"\nenableTelemetry: false # off\n", None),
            ("yarnPath: tools/yarn-4.5.3.cjs\n", Some("tools/yarn-4.5.3.cjs")),
            ("plugins:\n  - path: \"plugins/x.cjs\"\n", Some("plugins/x.cjs")),
            ("lockfileFilename: custom.lock\n", Some("custom.lock")),
        ] {
            assert_eq!(yarnrc_path_outside_yarn(yarnrc), found, "{yarnrc}");
        }
    }

    #[test]
    fn cargo_path_dependencies_are_found_for_every_target_and_among_patches() {
        let path_dependency =
            |manifest: &str| cargo_path_dependency(&manifest.parse::<toml::Table>().unwrap()).map(str::to_string);
        for (manifest, name) in [
            ("[dependencies]\nhelper = { path = \"libs/helper\" }\n", "helper"),
            ("[build-dependencies]\ngen = { path = \"gen\", version = \"1\" }\n", "gen"),
            ("[target.'cfg(unix)'.dependencies]\nhelper = { path = \"libs/helper\" }\n", "helper"),
            ("[target.x86_64-pc-windows-msvc.dev-dependencies]\nwin = { path = \"win\" }\n", "win"),
            ("[patch.crates-io]\nitoa = { path = \"vendor/itoa\" }\n", "itoa"),
            ("[replace]\n\"itoa:1.0.0\" = { path = \"vendor/itoa\" }\n", "itoa:1.0.0"),
        ] {
            assert_eq!(path_dependency(manifest).as_deref(), Some(name), "{manifest}");
        }
        for manifest in [
            "[dependencies]\nitoa = \"1\"\nserde = { version = \"1\", features = [\"derive\"] }\n",
            "[target.'cfg(unix)'.dependencies]\nlibc = \"0.2\"\n\
             [patch.crates-io]\nitoa = { git = \"https://example.com/itoa\" }\n",
            "[[bin]]\nname = \"x\"\npath = \"src/main.rs\"\n",
        ] {
            assert_eq!(path_dependency(manifest), None, "{manifest}");
        }
    }

    #[test]
    fn pipfile_local_files_and_indexes_are_found_and_downloads_are_not() {
        for pipfile in [
            "[packages]\nmylib = {file = \"dist/mylib-1.0-py3-none-any.whl\"}\n",
            "[dev-packages]\nmylib = {file = \"file:///app/dist/mylib.whl\"}\n",
            "[docs]\nlib = {path = \"./lib\"}\n",
            "[packages]\nlib = {editable = true, git = \"https://example.com/lib.git\"}\n",
            "[[source]]\nname = \"wheels\"\nurl = \"./wheels\"\nverify_ssl = false\n",
            "[packages\n",
        ] {
            assert!(pipfile_local(pipfile).is_some(), "{pipfile}");
        }
        let downloads = "[[source]]\nname = \"pypi\"\nurl = \"https://pypi.org/simple\"\nverify_ssl = true\n\n\
             [packages]\nflask = \"*\"\nsix = {version = \"==1.16.0\"}\n\
             lib = {file = \"https://example.com/lib-1.0.tar.gz\"}\n\n[requires]\npython_version = \"3.12\"\n";
        assert_eq!(pipfile_local(downloads), None, "{downloads}");
    }

    #[test]
    fn pyproject_local_dependencies_are_found_where_poetry_and_uv_read_them_and_only_there() {
        for pyproject in [
            "[tool.poetry.dependencies]\nlib = { path = \"libs/lib\", develop = true }\n",
            "[tool.poetry.group.dev.dependencies]\n\
             lib = [{ path = \"libs/lib\", markers = \"python_version >= '3.12'\" }]\n",
            "[tool.poetry.dependencies]\nlib = { url = \"file:///app/dist/lib-1.0.tar.gz\" }\n",
            "[project]\ndependencies = [\"lib\"]\n[tool.uv.sources]\nlib = { path = \"libs/lib\" }\n",
            "[project]\ndependencies = [\"lib\"]\n[tool.uv.sources]\nlib = { workspace = true }\n",
            "[project]\ndependencies = [\"lib @ file:///app/libs/lib\"]\n",
            "[project.optional-dependencies]\nextra = [\"lib @ ./libs/lib\"]\n",
            "[dependency-groups]\ndev = [\"lib @ file:///app/libs/lib\"]\n",
            "[[tool.uv.index]]\nname = \"wheels\"\nurl = \"./wheels\"\n",
            "[[tool.poetry.source]]\nname = \"wheels\"\nurl = \"file:///app/wheels\"\n",
            "[tool.uv]\nfind-links = [\"./wheels\"]\n",
            "[tool.uv]\nindex-url = \"file:///app/simple\"\n",
            "[tool.uv]\ndev-dependencies = [\"lib @ ./libs/lib\"]\n",
            "[project\nname = ",
        ] {
            assert!(local_dependency(pyproject).is_some(), "{pyproject}");
        }
        for pyproject in [
            "[project]\nname = \"app\"\ndependencies = [\"six==1.16.0\", \"lib @ git+https://example.com/lib@v1\"]\n",
            "[tool.pytest.ini_options]\npythonpath = [\".\"]\n[tool.mypy]\nmypy_path = \"src\"\n",
            "[tool.hatch.version]\npath = \"app/__init__.py\"\n",
            "[tool.poetry.dependencies]\npython = \"^3.12\"\n\
             requests = { version = \"^2.31\", extras = [\"socks\"] }\n",
            "[[tool.uv.index]]\nname = \"internal\"\nurl = \"https://pypi.example.com/simple\"\n",
        ] {
            assert_eq!(local_dependency(pyproject), None, "{pyproject}");
        }
    }

    #[test]
    fn a_gemfile_reads_the_files_it_names_written_out_and_nothing_it_reaches_otherwise() {
        let reads = |gemfile: &str| gemfile_reads(gemfile, "/app").ok();
        let ruby_version = Some(vec![".ruby-version".to_string()]);
        assert_eq!(
            reads("source \"https://rubygems.org\"\nruby File.read(\".ruby-version\").strip\ngem \"rails\"\n"),
            ruby_version
        );
        assert_eq!(reads("ruby file: \".ruby-version\"\n"), ruby_version);
        assert_eq!(reads("ruby(file: '.ruby-version')\n"), ruby_version);
        assert_eq!(
            reads("source \"file:///gems\"\ngem \"payload\" # eval_gemfile \"x\"\ngem \"x\", \"it's\"\n"),
            Some(vec![])
        );
        for gemfile in [
            "eval_gemfile \"Gemfile.local\"\n",
            "gem \"x\"\neval_gemfile \"Gemfile.local\" if File.exist?(\"Gemfile.local\")\n",
            "ruby File.read(File.join(__dir__, \".ruby-version\")).strip\n",
            "ruby File.read(\"/etc/ruby-version\")\n",
            "ruby File.read(\"../.ruby-version\")\n",
            "ruby File.read(\"#{root}/.ruby-version\")\n",
            "require_relative \"lib/gems\"\n",
            "gem \"a\\\"b\"; eval_gemfile \"y\"\n",
            "gem \"x\", \"it's\"; instance_eval(IO.read(\"y\"))\n",
            "source \"file:///app/vendor/gems\"\n",
            "gem \"lib\", git: \"./vendor/lib.git\"\n",
        ] {
            assert_eq!(reads(gemfile), None, "{gemfile}");
        }
    }

    #[test]
    fn composer_optimizes_the_autoloader_with_long_short_and_bundled_options() {
        for words in [
            &["install", "--optimize-autoloader"][..],
            &["install", "--no-dev", "--classmap-authoritative"],
            &["install", "-o"],
            &["install", "-a"],
            &["install", "-noq"],
            &["install", "-na", "--no-dev"],
        ] {
            assert!(optimizes_autoloader(words), "{words:?}");
        }
        for words in [
            &["install", "--no-dev"][..],
            &["install", "--no-autoloader", "-n"],
            &["install", "-d/opt/app"],
            &["install", "-nd", "/opt/app"],
            &["install", "-vvv", "--"],
        ] {
            assert!(!optimizes_autoloader(words), "{words:?}");
        }
    }

    #[test]
    fn paths_in_the_copied_directory_and_relative_paths_are_found_in_lists_options_and_urls() {
        for value in [
            "file:///src/proxy",
            "https://proxy.golang.org|file:///src/proxy,direct",
            "/src",
            "/src/wheels /opt/wheels",
            "./wheels",
            "-mod=mod -modfile=../go.ci.mod",
            "file:./vendor",
        ] {
            assert!(names_a_path_in(value, "/src"), "{value}");
        }
        for value in ["https://proxy.golang.org,direct", "/srcs/wheels", "/opt/src", "1", "off", "-mod=mod"] {
            assert!(!names_a_path_in(value, "/src"), "{value}");
        }
    }
}
