use crate::engine::context::Context;
use crate::engine::finding::{Applicability, Edit, Finding, Fix, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::syntax::model::Stage;
use crate::transforms::image_reference::ImageReference;
use crate::transforms::stage_commands::{apt_packages, find_in_statements};

pub struct SlimBaseImage;

static INFO: RuleInfo = RuleInfo {
    code: "DO304",
    name: "slim-base-image",
    summary: "The final image builds on a full image that has an official slim variant",
    doc: "The default tags of python, node, ruby, perl, rust and debian carry compilers, headers and tools \
that a running application rarely needs; their `-slim` variants, on the same Debian release, are hundreds of \
megabytes smaller. The fix switches the final stage to the slim tag in each image's own naming \
(`python:3.12-bookworm` → `python:3.12-slim-bookworm`, `node:20-bookworm` → `node:20-bookworm-slim`, \
`debian:bookworm` → `debian:bookworm-slim`), never to another libc such as `-alpine`. It is unsafe: the slim \
image lacks what the full one holds, and a build or a program may rely on it. dockopt withholds the fix, and says \
why, when the stage itself runs a tool only the full image has (`gcc`, `make`, `git`, `curl`, `wget`, …) \
without installing it first, in a RUN, CMD, ENTRYPOINT or HEALTHCHECK. What it cannot see it names: a \
`pip install` may compile a package from source, `npm install` a native module, `gem install` an extension, \
and each then needs compilers and headers. `dockopt measure --unsafe-fixes` builds both images and lists what \
the switch dropped. The option `images` under `[rules.slim-base-image]` replaces the list of images it knows; \
for an image not among the six, the slim tag is the tag followed by `-slim`.\n\n\
Before:\n    FROM python:3.12\n\n\
After:\n    FROM python:3.12-slim",
    safety: Safety::Unsafe,
    severity: Severity::Advice,
    hadolint: &[],
};

const WITH_SLIM: &[&str] = &["python", "node", "ruby", "perl", "rust", "debian"];

/// Tags that are already small, or that no slim variant exists for.
const LEAN_TAGS: &[&str] = &["slim", "alpine", "distroless", "minimal"];

/// Debian releases, which the official images name in their tags.
const DEBIAN_RELEASES: &[&str] = &["jessie", "stretch", "buster", "bullseye", "bookworm", "trixie", "forky"];

/// The other words the official images' tags are made of (besides versions and Debian releases): aliases,
/// Debian suites, perl's threaded builds and Node.js's LTS code names. A tag with any other word, such as
/// `windowsservercore`, has no slim variant dockopt knows of.
const TAG_WORDS: &[&str] = &[
    "latest",
    "lts",
    "current",
    "rc",
    "stable",
    "oldstable",
    "testing",
    "unstable",
    "sid",
    "threaded",
    "argon",
    "boron",
    "carbon",
    "dubnium",
    "erbium",
    "fermium",
    "gallium",
    "hydrogen",
    "iron",
    "jod",
    "krypton",
];

/// Commands the full images hold and their slim variants do not (the packages of Docker's `buildpack-deps`,
/// which the full images build on), each with the Debian packages that provide it: a stage that installs one
/// of those before it runs the command does not need the full image for it.
const FULL_IMAGE_COMMANDS: &[(&str, &[&str])] = &[
    ("gcc", &["gcc", "build-essential"]),
    ("cc", &["gcc", "build-essential", "clang"]),
    ("g++", &["g++", "build-essential"]),
    ("c++", &["g++", "build-essential", "clang"]),
    ("make", &["make", "build-essential"]),
    ("git", &["git"]),
    ("curl", &["curl"]),
    ("wget", &["wget"]),
    ("unzip", &["unzip"]),
    ("xz", &["xz-utils"]),
    ("bzip2", &["bzip2"]),
    ("patch", &["patch"]),
    ("file", &["file"]),
    ("ssh", &["openssh-client"]),
    ("scp", &["openssh-client"]),
    ("gpg", &["gnupg", "gpg"]),
    ("svn", &["subversion"]),
    ("hg", &["mercurial"]),
    ("pkg-config", &["pkg-config", "pkgconf"]),
    ("autoconf", &["autoconf"]),
    ("autoreconf", &["autoconf"]),
    ("automake", &["automake"]),
    ("libtoolize", &["libtool"]),
    ("convert", &["imagemagick"]),
    ("ps", &["procps"]),
    ("pgrep", &["procps"]),
    ("pkill", &["procps"]),
    ("python3", &["python3"]),
];

impl Rule for SlimBaseImage {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        let Some(stage) = ctx.df.stages.last() else { return };
        let base = ctx.df.base(stage);
        if stage.base_stage.is_some() || base.contains('$') || base.contains('@') {
            return;
        }
        let reference = ImageReference::parse(base);
        let (name, tag) = (reference.short_name(), reference.tag.unwrap_or("latest"));
        let configured = ctx.options.slim_base_image.as_ref().map(|o| &o.images);
        let known = configured.map_or(WITH_SLIM.contains(&name), |images| images.iter().any(|i| i == name));
        if !known {
            return;
        }
        let Some(slim_tag) = slim_tag(name, tag) else { return };
        let slim = format!("{}:{slim_tag}", reference.repository);
        let statement = ctx.statement(stage.statements.start);
        let mut message = format!("the final image builds on `{base}`; `{slim}` is much smaller");
        // Debian's full and slim tags hold the same packages (slim leaves out documentation and locales); the
        // other images' full tags add compilers, headers and tools.
        let adds_tools = name != "debian";
        let needed = adds_tools.then(|| needs_full_image(ctx, stage, name)).flatten();
        let fix = match needed {
            Some(need) => {
                message += &format!(
                    ", but it has no `{}`, which line {} runs: install it in this stage first, or build in \
                     another stage and copy the result",
                    need.command, need.line
                );
                None
            }
            None => {
                if let Some(caveat) = adds_tools.then(|| unseen_builds(ctx, stage)).flatten() {
                    message += &format!(
                        "; check the build: {} (line {}) {}, which needs compilers and headers only the full \
                         image has",
                        caveat.command, caveat.line, caveat.what
                    );
                }
                let image = ctx.df.values(&statement.instruction).first();
                image
                    .filter(|w| ctx.df.tree.text(w.range) == ctx.df.text(w))
                    .map(|w| Fix { applicability: Applicability::Unsafe, edits: vec![Edit::replace(w.range, slim)] })
            }
        };
        findings.push(Finding {
            rule: &INFO,
            range: statement.range,
            message,
            fix,
            instructions: vec![statement.index()],
        });
    }
}

/// The tag of the slim variant of `name:tag`, in the image's own naming; `None` when the tag is already lean
/// or has no slim variant dockopt knows of. For an image outside the six official ones (from the configuration's
/// list) the rule is the tag followed by `-slim`.
fn slim_tag(name: &str, tag: &str) -> Option<String> {
    let words: Vec<&str> = tag.split('-').collect();
    if words.iter().any(|w| LEAN_TAGS.iter().any(|lean| w.contains(lean))) {
        return None;
    }
    let official = WITH_SLIM.contains(&name);
    if official && !words.iter().all(|w| is_version(w) || DEBIAN_RELEASES.contains(w) || TAG_WORDS.contains(w)) {
        return None;
    }
    match (name, tag) {
        ("debian", "latest") => Some("stable-slim".into()),
        ("debian", _) if words.iter().any(|w| matches!(*w, "backports" | "experimental" | "rc")) => None,
        (_, "latest") => Some("slim".into()),
        // These put `slim` before the release and perl's `threaded`: `3.12-slim-bookworm`, `5.38-slim-threaded`.
        ("python" | "ruby" | "rust" | "perl", _) => {
            let at = words.iter().position(|w| DEBIAN_RELEASES.contains(w) || *w == "threaded").unwrap_or(words.len());
            let mut slim = words.clone();
            slim.insert(at, "slim");
            Some(slim.join("-"))
        }
        _ => Some(format!("{tag}-slim")),
    }
}

/// `3`, `3.12`, `3.12.1`, `3.13.0rc1`, `20240722`.
fn is_version(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_digit()) && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
}

/// A command of the final stage, and the line it is on.
struct Use {
    command: &'static str,
    line: usize,
    /// What it may do that needs the full image.
    what: &'static str,
}

/// The first command of `stage` that only the full image provides and that no earlier install in the stage
/// put there.
fn needs_full_image(ctx: &Context, stage: &Stage, image: &str) -> Option<Use> {
    // Owned: a CMD's script is read for the visit and gone after it.
    let mut installed: Vec<String> = Vec::new();
    find_in_statements(ctx, stage.statements.clone(), |program, inv, line| {
        let slim_has = match image {
            "python" => program == "python3",
            // The Rust images' slim variant keeps gcc, which rustc links with.
            "rust" => matches!(program, "gcc" | "cc"),
            _ => false,
        };
        let missing = FULL_IMAGE_COMMANDS.iter().find(|(command, packages)| {
            *command == program && !packages.iter().any(|p| installed.iter().any(|i| i == p))
        });
        if let (Some(&(command, _)), false) = (missing, slim_has) {
            return Some(Use { command, line, what: "" });
        }
        installed.extend(inv.iter().flat_map(apt_packages).map(str::to_string));
        None
    })
}

/// The first command of `stage` that may build native code dockopt cannot see: a package installer that compiles
/// what has no prebuilt binary for the platform.
fn unseen_builds(ctx: &Context, stage: &Stage) -> Option<Use> {
    find_in_statements(ctx, stage.statements.clone(), |_, inv, line| {
        let inv = inv?;
        let (command, what) = match (inv.program, inv.subcommand()) {
            ("pip", Some("install")) => ("`pip install`", "may compile a package from source"),
            ("npm", Some("install" | "i" | "ci"))
            | ("yarn", None | Some("install"))
            | ("pnpm", Some("install" | "i")) => ("the Node.js install", "may compile a native module with node-gyp"),
            ("gem", Some("install")) | ("bundle", None | Some("install")) => {
                ("the gem install", "may compile a native extension")
            }
            ("cargo", Some("build" | "install")) => ("`cargo`", "may compile C code through a build script"),
            _ => return None,
        };
        Some(Use { command, line, what })
    })
}
