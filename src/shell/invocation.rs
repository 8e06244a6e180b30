//! Commands seen through their wrappers: which program a command runs once `sudo`, `env`, `nice` and the like
//! are looked through, with versioned names folded (`pip3.11`, `python3 -m pip`).

use crate::shell::lexer::{is_assignment, Word};
use std::borrow::Cow;

/// A command seen through its wrappers: `sudo -E env FOO=1 /usr/bin/pip3 install x` runs `pip` with
/// `install x` and `FOO=1` set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation<'a> {
    /// The program by base name, with versions folded: `pip3.11` and `python3 -m pip` are both `pip`.
    pub program: &'a str,
    /// The words after the program.
    pub args: &'a [Word<'a>],
    /// The command's own `NAME=value` prefix.
    assignments: &'a [Word<'a>],
    /// The command's words, and which of them are `NAME=value` arguments given to `env`.
    words: &'a [Word<'a>],
    env_arguments: &'a [usize],
}

impl<'a> Invocation<'a> {
    /// `NAME=value` words set for this command, before it or through `env`. Rules ask for them rarely, so they
    /// are gathered only when asked for.
    pub fn env(&self) -> impl Iterator<Item = &'a Word<'a>> + '_ {
        self.assignments.iter().chain(self.env_arguments.iter().map(|&i| &self.words[i]))
    }

    /// The first argument that is neither an option nor an option's value: `install` in `apt-get -y install x`
    /// and in `apt-get -t bookworm-backports -o Dpkg::Options::=--force-confold install x`.
    pub fn subcommand(&self) -> Option<&str> {
        let mut words = self.args.iter();
        while let Some(word) = words.next() {
            let text = word.literal.as_deref()?;
            if !text.starts_with('-') {
                return Some(text);
            }
            if text == "--" {
                return words.next()?.literal.as_deref();
            }
            if takes_value(self.program, text) {
                words.next();
            }
        }
        None
    }

    pub fn has_option(&self, option: &str) -> bool {
        self.args.iter().any(|w| {
            w.literal
                .as_deref()
                .and_then(|a| a.strip_prefix(option))
                .is_some_and(|r| r.is_empty() || r.starts_with('='))
        })
    }

    pub fn sets_env(&self, name: &str) -> bool {
        self.env()
            .any(|w| w.literal.as_deref().is_some_and(|a| a.strip_prefix(name).is_some_and(|r| r.starts_with('='))))
    }
}

/// Program names a rule asks about, with a one-word summary of the set: a script keeps the same summary of the
/// programs its commands run, so that one AND tells most scripts apart from the tools a rule is about. Rules ask
/// it of every RUN: walking every script's commands for each rule that asked cost 1.6% more of `check`'s
/// instructions over the corpus.
#[derive(Clone, Copy, Debug)]
pub struct Programs {
    names: &'static [&'static str],
    summary: u64,
}

impl Programs {
    pub const fn new(names: &'static [&'static str]) -> Programs {
        let mut summary = 0;
        let mut i = 0;
        while i < names.len() {
            summary |= program_bit(names[i]);
            i += 1;
        }
        Programs { names, summary }
    }

    pub fn contains(&self, program: &str) -> bool {
        self.names.contains(&program)
    }

    /// Some program of a summary made with [`program_bit`] may be one of these; `false` when none is.
    pub(super) fn may_meet(&self, summary: u64) -> bool {
        self.summary & summary != 0
    }
}

/// The bit that stands for `program` in a summary of programs, from its length and its first and last bytes,
/// which tell apart the names rules ask about. Two names that share a bit only cost the look at the commands that
/// the summary would have spared.
pub(super) const fn program_bit(program: &str) -> u64 {
    let bytes = program.as_bytes();
    let (first, last) = match bytes {
        [] => (0, 0),
        [first, .., last] => (*first, *last),
        [only] => (*only, *only),
    };
    let mixed = (first as u64).wrapping_mul(31) ^ (last as u64).wrapping_mul(7) ^ (bytes.len() as u64);
    1 << (mixed % 64)
}

/// Where a command's program is among its words, once `sudo`, `env` and the like are looked through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Resolved<'t> {
    /// Borrowed from the script's text when the program's word is.
    program: Cow<'t, str>,
    /// Index of the first argument in `words`.
    args: usize,
    /// Indices in `words` of `NAME=value` arguments given to `env`.
    env: Vec<usize>,
}

impl Resolved<'_> {
    /// The invocation of the command whose assignments and words these are.
    pub(super) fn invocation<'a>(&'a self, assignments: &'a [Word<'a>], words: &'a [Word<'a>]) -> Invocation<'a> {
        Invocation { program: &self.program, args: &words[self.args..], assignments, words, env_arguments: &self.env }
    }
}

/// Finds the program among a command's words, looking through `sudo`, `env`, `nice`, `time`, `command` and
/// `nohup`. `None` when the program name is not literal.
pub(super) fn resolve<'t>(words: &[Word<'t>]) -> Option<Resolved<'t>> {
    let mut env = Vec::new();
    let mut i = 0;
    loop {
        let name = words.get(i)?.literal.as_deref()?;
        let base = base_name(name);
        match base {
            "sudo" | "env" | "nice" | "time" | "command" | "nohup" => {
                i += 1;
                while let Some(word) = words.get(i) {
                    let text = word.literal.as_deref().unwrap_or("");
                    if base == "env" && is_assignment(text) {
                        env.push(i);
                    } else if text.starts_with('-') {
                        // Options of sudo and env that take a separate value.
                        if matches!(
                            (base, text),
                            ("sudo", "-u" | "-g" | "-C" | "-p" | "-r" | "-t" | "-U" | "-h")
                                | ("env", "-u" | "-C")
                                | ("nice", "-n")
                        ) {
                            i += 1;
                        }
                    } else {
                        break;
                    }
                    i += 1;
                }
            }
            _ => {
                // `base` ends `name`; taken again from the borrowed word, it lives as long as the script's text.
                let program = match &words[i].literal {
                    Some(Cow::Borrowed(name)) => Cow::Borrowed(normalize_program(&name[name.len() - base.len()..])),
                    _ => Cow::Owned(normalize_program(base).to_string()),
                };
                let args = &words[i + 1..];
                if program == "python" {
                    // `python [-u …] -m pip …`
                    let m = args.iter().position(|w| w.is("-m") || w.is("-mpip"))?;
                    let skip = if args[m].is("-mpip") {
                        m + 1
                    } else if args.get(m + 1)?.is("pip") {
                        m + 2
                    } else {
                        return None;
                    };
                    return Some(Resolved { program: Cow::Borrowed("pip"), args: i + 1 + skip, env });
                }
                return Some(Resolved { program, args: i + 1, env });
            }
        }
    }
}

/// Options that come before a package manager's subcommand and take the next word as their value, from each
/// manager's documentation; `--option=value` is one word and needs no entry.
fn takes_value(program: &str, option: &str) -> bool {
    let options: &[&str] = match program {
        "apt-get" | "apt" | "apt-cache" | "aptitude" => &[
            "-o",
            "--option",
            "-c",
            "--config-file",
            "-t",
            "--target-release",
            "--default-release",
            "-a",
            "--host-architecture",
        ],
        "yum" | "dnf" | "dnf5" | "microdnf" | "tdnf" => &[
            "-c",
            "--config",
            "--installroot",
            "--releasever",
            "--setopt",
            "--enablerepo",
            "--disablerepo",
            "--repo",
            "--repoid",
            "-x",
            "--exclude",
            "-d",
            "--debuglevel",
            "-e",
            "--errorlevel",
            "--forcearch",
            "--downloaddir",
            "--destdir",
            "--color",
            "--rpmverbosity",
            "--comment",
            "--setvar",
            "--installroot",
            "--use-host-config",
        ],
        "zypper" => &[
            "-c",
            "--config",
            "-R",
            "--root",
            "--reposd-dir",
            "-D",
            "--cache-dir",
            "-C",
            "--raw-cache-dir",
            "--solv-cache-dir",
            "--pkg-cache-dir",
            "--userdata",
        ],
        "apk" => &["-X", "--repository", "-p", "--root", "--cache-dir", "--arch", "--keys-dir", "--repositories-file"],
        "pip" => &[
            "--log",
            "--proxy",
            "--retries",
            "--timeout",
            "--exists-action",
            "--trusted-host",
            "--cert",
            "--client-cert",
            "--cache-dir",
            "--python",
        ],
        "npm" => {
            &["--prefix", "--cache", "--registry", "--userconfig", "--globalconfig", "--loglevel", "-w", "--workspace"]
        }
        "yarn" => &["--cwd", "--cache-folder", "--modules-folder", "--network-timeout", "--mutex", "--registry"],
        "pnpm" => &["-C", "--dir", "-F", "--filter", "--store-dir", "--reporter", "--registry"],
        _ => &[],
    };
    options.contains(&option)
}

/// `pip3.11` → `pip`, `pip-3.2` → `pip`, `python3.12` → `python`.
fn normalize_program(base: &str) -> &str {
    let versionless = base.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.').trim_end_matches('-');
    match versionless {
        "pip" | "python" if versionless.len() < base.len() => versionless,
        _ => base,
    }
}

/// The last element of a command's path: `pip3` in `/usr/bin/pip3`. Most names have no `/`: a byte loop finds
/// that for less than a string search.
fn base_name(name: &str) -> &str {
    match name.bytes().rposition(|b| b == b'/') {
        Some(slash) => &name[slash + 1..],
        None => name,
    }
}
