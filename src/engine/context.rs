//! What a rule can ask about a parsed Dockerfile beyond the model: the commands of each RUN (shell form, exec
//! form, or under ONBUILD), where a RUN's
//! text sits in the source, which comments silence a rule, what ENV and cache mounts are in force, and how to
//! add a command to a RUN in the file's own style.
//!
//! Statements are addressed by their position in [`Dockerfile::statements`]; rules only run on files BuildKit
//! accepts, where that position is also the instruction's index in the syntax tree.

use crate::engine::build_context::BuildContext;
use crate::engine::finding::{Edit, RuleInfo};
use crate::engine::options::RuleOptions;
use crate::engine::style::ContinuationStyle;
use crate::engine::suppression::{line_comment_silences, FileSuppressions};
use crate::shell::{Command, Invocation, Programs, Script};
use crate::syntax::buildkit::{is_re_whitespace, parse_json_array, JsonArgs};
use crate::syntax::model::{Dockerfile, Instruction, Kind, Stage, Statement};
use crate::syntax::text::TextRange;
use crate::syntax::tree::{CommandSyntax, NodeKind, SyntaxError};
use aho_corasick::AhoCorasick;
use foldhash::HashMap;
use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::sync::LazyLock;

pub struct Context<'a, 'src> {
    pub df: &'a Dockerfile<'src>,
    /// The build context, when the Dockerfile came from a file.
    pub build: Option<&'a BuildContext>,
    /// Per-rule options from the configuration.
    pub options: &'a RuleOptions,
    /// For each statement, its commands when it is a RUN (or `ONBUILD RUN`) dockopt can read.
    runs: Vec<Option<RunView<'a>>>,
    /// For each statement, the index of its node in the syntax tree.
    nodes: Vec<usize>,
    suppressions: FileSuppressions,
    /// What rules met that keeps dockopt from reading the file as BuildKit would, such as a source pattern it
    /// cannot compile. Rules run one after another on one thread, so a cell is enough.
    problems: RefCell<Vec<SyntaxError>>,
    /// How the file writes continued RUNs, found when first asked.
    style: OnceCell<ContinuationStyle>,
    /// Where each variable is defined by ENV or an ARG default, found when first asked.
    definitions: OnceCell<Definitions<'a>>,
    /// The names of [`Context::definitions`], sorted, found when first asked.
    defined_names: OnceCell<Vec<&'a str>>,
    /// For each statement, where commands are appended to it and what goes before them, found when first asked.
    append_points: Vec<OnceCell<Option<(usize, String)>>>,
    /// For each statement, the variables its shell assigns, found when first asked.
    shell_assignments: Vec<OnceCell<ShellAssignments<'src>>>,
    /// Whether a BuildKit or Buildah build is certain for the file, found when first asked.
    builder_certain: OnceCell<bool>,
    /// For each statement, the last USER before it in its stage, found when first asked.
    users_before: OnceCell<Vec<Option<usize>>>,
    /// The value a variable has at the end of a stage, by name and stage, kept as found.
    defined_at_stage_end: RefCell<HashMap<(&'a str, usize), Option<&'a str>>>,
}

/// Per variable name, where each command of a RUN's shell that assigns it ends, and the value it gives, in order.
type ShellAssignments<'src> = HashMap<&'src str, Vec<(usize, Variable)>>;

/// For each variable, the statements that define it (ENV, or ARG with a default) and the value, in order.
type Definitions<'a> = HashMap<&'a str, Vec<(usize, &'a str)>>;

fn definitions<'a>(df: &'a Dockerfile) -> Definitions<'a> {
    let mut out = Definitions::default();
    for (j, statement) in df.statements.iter().enumerate() {
        let ins = &statement.instruction;
        match ins.kind {
            Kind::Env => {
                for kv in df.values(ins).chunks(2).filter(|kv| kv.len() == 2) {
                    out.entry(df.text(&kv[0])).or_default().push((j, df.text(&kv[1])));
                }
            }
            Kind::Arg => {
                for (name, value) in df.values(ins).iter().filter_map(|w| df.text(w).split_once('=')) {
                    out.entry(name).or_default().push((j, value));
                }
            }
            _ => {}
        }
    }
    out
}

/// The `NAME=value` words a command sets for itself: before it, or given to `env`.
fn own_assignments<'c>(command: &'c Command) -> Vec<&'c crate::shell::Word<'c>> {
    match command.invocation() {
        Some(inv) => inv.env().collect(),
        None => command.assignments.iter().collect(),
    }
}

/// What a variable holds where a command runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Variable {
    Unset,
    Set(String),
    /// Set to something dockopt cannot read, such as another variable.
    Unknown,
}

/// A RUN's commands as dockopt reads them: the shell script of the shell form, or the one command of the exec form.
struct RunView<'a> {
    /// Borrowed when an earlier round of fixes read the same text: see [`KnownScripts`].
    script: Cow<'a, Script<'a>>,
    /// Exec form (`RUN ["pip", "install", "x"]`): no shell, so no `&&` can be appended.
    exec: bool,
}

/// The shell-form scripts of an earlier round of fixes. A round reads again the whole file its fixes wrote, and
/// most of its RUNs are as they were, or are RUNs that a merge joined or a cleanup added to: a RUN that starts
/// where a known one was moved to takes its script from here, the same script when its text is the same, or one
/// joined from the known scripts that its text joins (see [`Script::joined`]), instead of parsing its text again.
#[derive(Default)]
pub struct KnownScripts<'a> {
    /// In order: each script's text and the script.
    scripts: Vec<(&'a str, &'a Script<'a>)>,
    /// In order: where a known script's RUN starts in the text the fixes wrote, when they left its start alone,
    /// and the script's index in `scripts`.
    starts: Vec<(usize, usize)>,
}

impl<'a> KnownScripts<'a> {
    /// The script of a RUN that starts at `start` with script `text`, when it can be taken from the known ones.
    fn get(&self, start: usize, text: &'a str) -> Option<Cow<'a, Script<'a>>> {
        let k = self.starts.binary_search_by_key(&start, |&(known_start, _)| known_start).ok()?;
        let from = self.starts[k].1;
        let (known_text, script) = self.scripts[from];
        if known_text == text {
            return Some(Cow::Borrowed(script));
        }
        Script::joined(text, &self.scripts[from..]).map(Cow::Owned)
    }
}

static DEFAULT_OPTIONS: RuleOptions = RuleOptions::DEFAULT;

/// Whether `reference` names a Windows image, whose default shell is `cmd /S /C` and whose users are Windows
/// accounts: by the names of Windows image families in it, in any case. Asked of every stage, so the names are
/// looked for in one pass, without lower-casing a copy.
pub fn is_windows_image(reference: &str) -> bool {
    static WINDOWS_IMAGES: LazyLock<AhoCorasick> = LazyLock::new(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(["windows", "nanoserver", "servercore", "mcr.microsoft.com/dotnet/framework"])
            .expect("plain strings make an automaton")
    });
    WINDOWS_IMAGES.is_match(reference)
}

/// Shells whose syntax dockopt reads. A stage whose SHELL is anything else gets no shell-level fixes.
const POSIX_SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"];

impl<'a, 'src> Context<'a, 'src> {
    pub fn new(df: &'a Dockerfile<'src>, build: Option<&'a BuildContext>) -> Self {
        Self::with_options(df, build, &DEFAULT_OPTIONS)
    }

    pub fn with_options(df: &'a Dockerfile<'src>, build: Option<&'a BuildContext>, options: &'a RuleOptions) -> Self {
        Self::reading(df, build, options, &KnownScripts::default())
    }

    /// [`Context::with_options`], taking from the `known` scripts of an earlier round of fixes the scripts it can,
    /// instead of parsing them again.
    pub fn reading(
        df: &'a Dockerfile<'src>,
        build: Option<&'a BuildContext>,
        options: &'a RuleOptions,
        known: &KnownScripts<'a>,
    ) -> Self {
        // The nodes of the instructions, which come in order: a statement's is that of its index.
        let instruction_nodes: Vec<usize> = (df.tree.nodes.iter().enumerate())
            .filter(|(_, node)| matches!(node.kind, NodeKind::Instruction(_)))
            .map(|(n, _)| n)
            .collect();
        let nodes = df.statements.iter().map(|s| instruction_nodes[s.index()]).collect();
        let suppressions = FileSuppressions::new(df);
        let mut ctx = Context {
            df,
            build,
            options,
            runs: Vec::new(),
            nodes,
            suppressions,
            problems: RefCell::default(),
            style: OnceCell::new(),
            definitions: OnceCell::new(),
            defined_names: OnceCell::new(),
            append_points: (0..df.statements.len()).map(|_| OnceCell::new()).collect(),
            shell_assignments: (0..df.statements.len()).map(|_| OnceCell::new()).collect(),
            builder_certain: OnceCell::new(),
            users_before: OnceCell::new(),
            defined_at_stage_end: RefCell::default(),
        };
        let posix = ctx.posix_shells();
        ctx.runs = (0..df.statements.len()).map(|i| ctx.read_run(i, posix[i], known)).collect();
        ctx
    }

    /// Its shell-form scripts, for the next round of fixes to take from, which reads the text this round's fixes
    /// wrote: `moved` tells where an offset here lies there, or `None` when a fix replaced it.
    pub fn known_scripts(&self, moved: impl Fn(usize) -> Option<usize>) -> KnownScripts<'_> {
        let mut known = KnownScripts::default();
        for i in (0..self.runs.len()).filter(|&i| !self.is_exec_form(i)) {
            let (Some(text), Some(script)) = (self.script_text(i), self.script(i)) else { continue };
            if let Some(start) = moved(self.statement(i).range.start) {
                known.starts.push((start, known.scripts.len()));
            }
            known.scripts.push((text, script));
        }
        known
    }

    /// The commands of statement `i` when it is a RUN, or an `ONBUILD RUN`, without heredocs: the shell form in a
    /// POSIX-shell stage, or the exec form in any stage.
    fn read_run(&self, i: usize, posix: bool, known: &KnownScripts<'a>) -> Option<RunView<'a>> {
        let s = &self.df.statements[i];
        let run = run_instruction(&s.instruction)?;
        if !self.df.heredocs(s).is_empty() {
            return None;
        }
        let text = self.script_text(i)?;
        if !run.json {
            if !posix {
                return None;
            }
            let script = known.get(s.range.start, text).unwrap_or_else(|| Cow::Owned(Script::parse(text)));
            return Some(RunView { script, exec: false });
        }
        match parse_json_array(text) {
            JsonArgs::Strings(strings) => Some(RunView { script: Cow::Owned(Script::exec(strings)), exec: true }),
            JsonArgs::NotJson | JsonArgs::NotStringArray => None,
        }
    }

    /// The arguments of RUN (or `ONBUILD RUN`) `i` in its logical line: its script. Borrowed from the Dockerfile,
    /// which outlives this context, as the script's words are.
    fn script_text(&self, i: usize) -> Option<&'a str> {
        let df = self.df;
        let s = &df.statements[i];
        Some(&df.logical(s).text[run_instruction(&s.instruction)?.args()])
    }

    /// The RUN instruction of statement `i`: itself, or the one ONBUILD wraps.
    fn run_instruction(&self, i: usize) -> Option<&Instruction> {
        run_instruction(&self.statement(i).instruction)
    }

    /// Records a problem at `range` that keeps dockopt from fixing the file: it is reported as an error.
    pub fn report_problem(&self, range: TextRange, message: String, help: &str) {
        self.problems.borrow_mut().push(SyntaxError { message, range, help: help.to_string() });
    }

    /// The problems rules reported, in the order met.
    pub fn take_problems(&self) -> Vec<SyntaxError> {
        self.problems.take()
    }

    pub fn statement(&self, i: usize) -> &Statement {
        &self.df.statements[i]
    }

    /// The commands of RUN (or `ONBUILD RUN`) `i`: the shell script of a shell-form RUN without heredocs in a
    /// POSIX-shell stage, or the one command of an exec-form RUN.
    pub fn script(&self, i: usize) -> Option<&Script<'_>> {
        Some(&self.runs.get(i)?.as_ref()?.script)
    }

    /// RUN `i` is in exec form: its script is one command, and only arguments can be added to it.
    pub fn is_exec_form(&self, i: usize) -> bool {
        self.runs.get(i).and_then(Option::as_ref).is_some_and(|r| r.exec)
    }

    /// Statement `i` is an `ONBUILD RUN`: it runs when another Dockerfile builds FROM this image.
    pub fn is_onbuild(&self, i: usize) -> bool {
        self.statement(i).instruction.kind == Kind::Onbuild
    }

    /// The RUNs (and `ONBUILD RUN`s) dockopt can read, with their scripts.
    pub fn runs(&self) -> impl Iterator<Item = (usize, &Script<'a>)> + '_ {
        self.runs.iter().enumerate().filter_map(|(i, r)| r.as_ref().map(|r| (i, &*r.script)))
    }

    /// Some command of RUN `i` runs one of `programs`. Rules about one tool ask this first: most scripts are told
    /// apart from the tool by the summary of their programs, where [`Context::invocations`] gathers every command.
    pub fn runs_any_of(&self, i: usize, programs: &Programs) -> bool {
        self.script(i).is_some_and(|s| s.runs_any_of(programs))
    }

    /// The commands of RUN `i` with the programs they run, in order.
    pub fn invocations(&self, i: usize) -> Vec<(&Command<'_>, Invocation<'_>)> {
        let Some(script) = self.script(i) else { return Vec::new() };
        // Room for every command at once: collected from a filter, the list grew and was copied a dozen times for
        // a RUN of ten thousand commands, for each rule that asked.
        let mut invocations = Vec::with_capacity(script.commands.len());
        invocations.extend(script.commands.iter().filter_map(|c| Some((c, c.invocation()?))));
        invocations
    }

    /// Where statement `i`'s script starts in its logical line: the arguments of the RUN, or of the RUN under
    /// ONBUILD.
    fn script_base(&self, i: usize) -> usize {
        self.run_instruction(i).unwrap_or(&self.statement(i).instruction).args().start
    }

    /// The source offset where a flag added to statement `i`, an instruction not under ONBUILD, goes: after its
    /// flags, before its arguments, and before the `--` that may end its flags, after which BuildKit reads a flag
    /// as an argument, a command for the shell.
    pub fn flag_insertion_offset(&self, i: usize) -> usize {
        let statement = self.statement(i);
        let logical = self.df.logical(statement);
        let command = CommandSyntax::read(logical.text);
        let flags_end = command.flags.last().map_or(command.keyword.end, |(_, range)| range.end);
        // Between the flags and the arguments there is only whitespace, or the `--` that ends the flags.
        let gap = &logical.text[flags_end..command.args.start];
        let at = match gap.find("--") {
            Some(k) => flags_end + k,
            // BuildKit reads a flag only up to the first byte after the ASCII blanks that is not one: a flag written
            // after other whitespace (`RUN \u{a0} apk add`) is an argument, and fixing again would add it again.
            None => flags_end + gap.bytes().take_while(|&b| is_re_whitespace(char::from(b))).count(),
        };
        logical.source_offset(at)
    }

    /// The source offset of an offset in statement `i`'s script.
    pub fn source_offset(&self, i: usize, offset: usize) -> usize {
        self.df.logical(self.statement(i)).source_offset(self.script_base(i) + offset)
    }

    /// The source range of a range in statement `i`'s script.
    pub fn source_range(&self, i: usize, range: std::ops::Range<usize>) -> TextRange {
        let base = self.script_base(i);
        self.df.logical(self.statement(i)).source_range(base + range.start..base + range.end)
    }

    pub fn stage_of(&self, i: usize) -> Option<&Stage> {
        self.df.stage_of(i)
    }

    /// A BuildKit or Buildah build is certain for the file: it has a `# syntax` directive, or a RUN that mounts,
    /// which the classic builder rejects. Asked for every fix that mounts a cache, so it is found once.
    pub fn builder_certain(&self) -> bool {
        *self.builder_certain.get_or_init(|| {
            self.df.tree.directives.iter().any(|d| d.name == "syntax")
                || self
                    .df
                    .statements
                    .iter()
                    .any(|s| self.df.flag_texts(&s.instruction).any(|f| f.starts_with("--mount")))
        })
    }

    /// The last USER before statement `i` in its stage, if any. Found for every statement at once, the first time
    /// it is asked: asked of every RUN, a search back to the start of the stage made a stage of thousands of RUNs
    /// take time that grew with the square of their number.
    pub fn user_before(&self, i: usize) -> Option<usize> {
        let users = self.users_before.get_or_init(|| {
            let mut users = vec![None; self.df.statements.len()];
            for stage in &self.df.stages {
                let mut last = None;
                for j in stage.statements.clone() {
                    users[j] = last;
                    if self.statement(j).instruction.kind == Kind::User {
                        last = Some(j);
                    }
                }
            }
            users
        });
        users.get(i).copied().flatten()
    }

    /// What variable `name` is for `command` of RUN `i`, as its shell sees it: from the command's own `NAME=value`
    /// (or `env NAME=value`), else an `export NAME=value` or bare `NAME=value` earlier in the RUN's shell, else an
    /// ENV (or an ARG default) before the RUN.
    pub fn variable(&self, i: usize, command: &Command, name: &str) -> Variable {
        if let Some(found) = self.assigned(i, &own_assignments(command), name) {
            return found;
        }
        let in_shell = self.run_shell_assignments(i).get(name);
        if let Some(assignments) = in_shell {
            let before = assignments.partition_point(|(end, _)| *end <= command.range.start);
            if let Some((_, value)) = before.checked_sub(1).map(|k| &assignments[k]) {
                return value.clone();
            }
        }
        match self.defined_before(i, name) {
            Some(value) => crate::shell::word_value(value).map_or(Variable::Unknown, Variable::Set),
            None => Variable::Unset,
        }
    }

    /// The names that start with one of `prefixes` of the variables `command` of RUN `i` may see set, each worth
    /// asking [`Context::variable`] about: its own `NAME=value` words, those the RUN's shell assigns, and those of
    /// every ENV and ARG of the file. Each name once, in order.
    pub fn variable_names<'c>(&'c self, i: usize, command: &'c Command, prefixes: &[&str]) -> Vec<&'c str> {
        let wanted = |name: &&str| prefixes.iter().any(|prefix| name.starts_with(prefix));
        // Read from the words' values: one with an expansion has a value dockopt cannot read anyway.
        let mut names: Vec<&str> = own_assignments(command)
            .into_iter()
            .filter_map(|w| Some(w.literal.as_deref()?.split_once('=')?.0))
            .filter(wanted)
            .collect();
        names.extend(self.run_shell_assignments(i).keys().copied().filter(wanted));
        // The file's names of a prefix are a run of them in order, found by a binary search: read whole for each
        // command that asked, a file of thousands of ENVs and installs took time that grew with the square of its
        // length.
        let defined = self.defined_names.get_or_init(|| {
            let mut names: Vec<&str> = self.file_definitions().keys().copied().collect();
            names.sort_unstable();
            names
        });
        for prefix in prefixes {
            let first = defined.partition_point(|name| name < prefix);
            names.extend(defined[first..].iter().take_while(|name| name.starts_with(prefix)));
        }
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The variables RUN `i`'s shell assigns, read the first time they are asked about.
    fn run_shell_assignments(&self, i: usize) -> &ShellAssignments<'src> {
        self.shell_assignments[i].get_or_init(|| self.read_shell_assignments(i))
    }

    /// Every ENV and ARG default of the file, by name, read the first time they are asked about.
    fn file_definitions(&self) -> &Definitions<'a> {
        self.definitions.get_or_init(|| definitions(self.df))
    }

    /// The value an ENV (or an ARG default) gives `name` before statement `i`, in its stage or the stages it is
    /// built on, nearest first; as written.
    fn defined_before(&self, i: usize, name: &str) -> Option<&'a str> {
        let (name, definitions) = self.file_definitions().get_key_value(name)?;
        let stage = self.stage_of(i)?;
        // The last definition in [stage start, i).
        let before = definitions.partition_point(|&(j, _)| j < i);
        match before.checked_sub(1).map(|k| definitions[k]) {
            Some((j, value)) if j >= stage.statements.start => Some(value),
            _ => stage.base_stage.and_then(|base| self.defined_at_end(base, name, definitions)),
        }
    }

    /// The value `name` has at the end of stage `stage`: from its last definition there, else from the stage it is
    /// built on, and so on. Each answer is kept for the stages it passed through, so that the RUNs of a chain of
    /// thousands of stages do not each walk the chain again.
    fn defined_at_end(&self, stage: usize, name: &'a str, definitions: &[(usize, &'a str)]) -> Option<&'a str> {
        let mut answers = self.defined_at_stage_end.borrow_mut();
        let mut passed = Vec::new();
        let mut current = Some(stage);
        let value = loop {
            let Some(s) = current else { break None };
            if let Some(&known) = answers.get(&(name, s)) {
                break known;
            }
            passed.push(s);
            let statements = &self.df.stages[s].statements;
            let before = definitions.partition_point(|&(j, _)| j < statements.end);
            match before.checked_sub(1).map(|k| definitions[k]) {
                Some((j, value)) if j >= statements.start => break Some(value),
                _ => current = self.df.stages[s].base_stage,
            }
        };
        answers.extend(passed.into_iter().map(|s| ((name, s), value)));
        value
    }

    /// The last of `words` (`NAME=value` words of RUN `i`) that assigns `name`, if any.
    fn assigned(&self, i: usize, words: &[&crate::shell::Word], name: &str) -> Option<Variable> {
        words.iter().rev().find_map(|w| {
            let (assigned, value) = self.assignment(i, w)?;
            (assigned == name).then_some(value)
        })
    }

    /// The name a `NAME=value` word of RUN `i` assigns, as written, and the value it gives it.
    fn assignment(&self, i: usize, word: &crate::shell::Word) -> Option<(&'src str, Variable)> {
        let text = &self.df.source()[self.source_range(i, word.range.clone()).as_range()];
        let value = match &word.literal {
            Some(literal) => Variable::Set(literal.split_once('=').map_or("", |(_, v)| v).to_string()),
            None => Variable::Unknown,
        };
        Some((text.split_once('=')?.0, value))
    }

    /// The variables RUN `i`'s shell assigns for the commands after: by `export NAME=value`, or by a bare
    /// `NAME=value` outside a subshell and a pipeline. Per name, where each assigning command ends and the value,
    /// in order, so that a question about one command is a binary search, however many commands the RUN has.
    fn read_shell_assignments(&self, i: usize) -> ShellAssignments<'src> {
        let mut out = ShellAssignments::default();
        for c in self.script(i).into_iter().flat_map(|s| &s.commands).filter(|c| c.affects_shell()) {
            let words = match c.name() {
                Some("export") => &c.words[1..],
                None if c.words.is_empty() => &c.assignments[..],
                _ => continue,
            };
            for (name, value) in words.iter().filter_map(|w| self.assignment(i, w)) {
                out.entry(name).or_default().push((c.range.end, value));
            }
        }
        // Commands do not overlap, so they end in the order they come; a stable sort keeps the words of one
        // command in order, the last of them winning.
        for assignments in out.values_mut() {
            assignments.sort_by_key(|(end, _)| *end);
        }
        out
    }

    /// For each statement, whether the SHELL in force is a POSIX shell. A stage starts with its base stage's
    /// shell; without SHELL, Windows images run `cmd /S /C`.
    fn posix_shells(&self) -> Vec<bool> {
        let mut posix = vec![true; self.df.statements.len()];
        let mut at_end: Vec<bool> = Vec::with_capacity(self.df.stages.len());
        for stage in &self.df.stages {
            let mut current = match stage.base_stage {
                Some(b) => at_end[b],
                None => !is_windows_image(self.df.base(stage)),
            };
            for i in stage.statements.clone() {
                let ins = &self.statement(i).instruction;
                if ins.kind == Kind::Shell {
                    current = self.df.value_texts(ins).next().is_some_and(|shell| {
                        let program = shell.rsplit(['/', '\\']).next().unwrap_or(shell);
                        POSIX_SHELLS.contains(&program.trim_end_matches(".exe"))
                    });
                }
                posix[i] = current;
            }
            at_end.push(current);
        }
        posix
    }

    /// The targets of the cache and tmpfs mounts of RUN (or `ONBUILD RUN`) `i`.
    pub fn cache_mounts(&self, i: usize) -> Vec<&str> {
        let run = self.run_instruction(i).unwrap_or(&self.statement(i).instruction);
        self.df
            .flag_texts(run)
            .filter_map(|flag| {
                let spec = flag.strip_prefix("--mount=")?;
                let mut kind = "bind";
                let mut target = None;
                for field in spec.split(',') {
                    let (k, v) = field.split_once('=').unwrap_or((field, ""));
                    match k {
                        "type" => kind = v,
                        "target" | "dst" | "destination" => target = Some(v.trim_end_matches('/')),
                        _ => {}
                    }
                }
                target.filter(|_| matches!(kind, "cache" | "tmpfs"))
            })
            .collect()
    }

    /// Statement `i` is a RUN with a cache or tmpfs mount whose target holds `path`.
    pub fn mount_covers(&self, i: usize, path: &str) -> bool {
        self.cache_mounts(i)
            .iter()
            .any(|t| path == *t || path.strip_prefix(t).is_some_and(|rest| rest.starts_with('/')))
    }

    /// A comment silences `rule` at statement `i`: on the lines directly above it, or for the whole file. See
    /// [`crate::engine::suppression`] for the forms.
    pub fn is_suppressed(&self, i: usize, rule: &RuleInfo) -> bool {
        if self.suppressions.silences(rule) {
            return true;
        }
        let Some(&node) = self.nodes.get(i) else { return false };
        let tree = &self.df.tree;
        tree.nodes[..node]
            .iter()
            .rev()
            .take_while(|n| n.kind == NodeKind::Comment)
            .flat_map(|n| tree.comments_in(n.range))
            .any(|&comment| line_comment_silences(tree.text(comment), rule))
    }

    /// The comment lines from the start of statement `first` to the end of statement `last`, with those on the
    /// lines between them.
    pub fn comments_between(&self, first: usize, last: usize) -> &[TextRange] {
        let tree = &self.df.tree;
        tree.comments_in(tree.nodes[self.nodes[first]].range.cover(tree.nodes[self.nodes[last]].range))
    }

    /// The newline the file uses: that of its first line.
    pub fn newline(&self) -> &'static str {
        let source = self.df.source().as_bytes();
        match memchr::memchr(b'\n', source) {
            Some(n) if n > 0 && source[n - 1] == b'\r' => "\r\n",
            _ => "\n",
        }
    }

    /// How the file writes RUNs that span lines.
    pub fn continuation_style(&self) -> &ContinuationStyle {
        self.style.get_or_init(|| ContinuationStyle::of_file(self.df))
    }

    /// The whitespace before statement `i`'s keyword.
    pub fn indent(&self, i: usize) -> &'src str {
        let s = self.statement(i);
        &self.df.source()[s.line_range.start..s.range.start]
    }

    /// Appends `&& command` to RUN `i`, after its last command and before any trailing `;` or comment: on the
    /// same line for a one-line RUN, else on a continuation line of its own, in the RUN's own style (`&&` at the
    /// end of lines or at their start). `None` when the script could not take it safely: unbalanced, or with a
    /// background job.
    pub fn append_command(&self, i: usize, command: &str) -> Option<Edit> {
        let (end, joint) = self.append_points[i].get_or_init(|| self.append_point(i)).as_ref()?;
        // Joined, not formatted, here and in `insert_after`: most fixes' edits are made here, and `format!` made
        // them cost 0.45% more of `check`'s instructions.
        Some(Edit::insert(*end, [joint, command].concat()))
    }

    /// Where [`Context::append_command`] appends to RUN `i`, and what it writes before the command. Reading the
    /// RUN's style takes the whole RUN, so it is done once per RUN, however many rules append to it.
    fn append_point(&self, i: usize) -> Option<(usize, String)> {
        let script = self.script(i)?;
        // After a script that may end the shell, an appended command may never run: its fix would do nothing.
        if self.is_exec_form(i) || !script.balanced || script.has_background_job() || script.may_end_shell_on_success()
        {
            return None;
        }
        let end = self.source_range(i, 0..script.content_end()?).end;
        let s = self.statement(i);
        if s.start_line() == s.end_line() {
            return Some((end, " && ".to_string()));
        }
        let source = self.df.source();
        let escape = self.df.tree.escape;
        if let Some(style) = ContinuationStyle::of_text(&source[s.line_range.start..end], escape) {
            if style.operator_at_end {
                return Some((end, style.and_joint(escape, self.newline(), "", "    ")));
            }
        }
        // Align with the continuation lines that start with an operator, else with the first continuation line.
        let lines: Vec<&str> = source[s.line_range.start..end].lines().skip(1).collect();
        let indent_of = |line: &str| line[..line.len() - line.trim_start().len()].to_string();
        let indent = lines
            .iter()
            .rev()
            .find(|l| l.trim_start().starts_with("&&") || l.trim_start().starts_with("||"))
            .or(lines.first())
            .map(|l| indent_of(l))
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| " ".to_string());
        Some((end, format!(" {escape}{}{indent}&& ", self.newline())))
    }

    /// Inserts the argument `text` right after a word of RUN `i`, such as an option after `install`: ` text` in a
    /// script, `, "text"` in an exec-form array. `None` when the script is unbalanced: after a quote that does not
    /// end, the word runs to the end of the script, and text inserted after it would join the quoted string
    /// instead of the command's arguments.
    pub fn insert_after(&self, i: usize, word: &crate::shell::Word, text: &str) -> Option<Edit> {
        let end = self.source_range(i, word.range.clone()).end;
        if self.is_exec_form(i) {
            return Some(Edit::insert(end, format!(", {}", serde_json::Value::from(text))));
        }
        self.script(i)?.balanced.then(|| Edit::insert(end, [" ", text].concat()))
    }

    /// Deletes a whole top-level command from RUN `i` together with the operator that joins it to its
    /// neighbour. `None` when that would also delete a comment line or anything but the operator between the
    /// two (a `case` statement, whose commands are not listed, or a `!`), the command is not top-level, or the
    /// script is unbalanced.
    pub fn delete_command(&self, i: usize, command: &Command) -> Option<Edit> {
        let script = self.script(i)?;
        if self.is_exec_form(i) || !script.balanced || !command.is_top_level() {
            return None;
        }
        let index = script.commands.iter().position(|c| c == command)?;
        let joins = |op| matches!(op, Some(crate::shell::Op::And | crate::shell::Op::Semi));
        let next = script.commands.get(index + 1).filter(|n| n.is_top_level() && joins(command.after));
        let command_range = self.source_range(i, command.range.clone());
        let (range, joint) = match next {
            Some(next) => {
                let next_start = self.source_offset(i, next.range.start);
                (command_range.start..next_start, command_range.end..next_start)
            }
            None => {
                let previous = index
                    .checked_sub(1)
                    .map(|p| &script.commands[p])
                    .filter(|p| p.is_top_level() && joins(command.before))?;
                let previous_end = self.source_range(i, previous.range.clone()).end;
                (previous_end..command_range.end, previous_end..command_range.start)
            }
        };
        let source = self.df.source();
        let escape = self.df.tree.escape;
        let operator_only = source[joint].chars().all(|c| c.is_whitespace() || c == '&' || c == ';' || c == escape);
        if !operator_only || source[range.clone()].contains('#') {
            return None;
        }
        Some(Edit::delete(TextRange::new(range.start, range.end)))
    }
}

/// A RUN instruction itself, or the RUN that an ONBUILD wraps.
fn run_instruction(ins: &Instruction) -> Option<&Instruction> {
    match ins.kind {
        Kind::Run => Some(ins),
        Kind::Onbuild => ins.sub.as_deref().filter(|sub| sub.kind == Kind::Run),
        _ => None,
    }
}

pub fn is_root_user(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or(user);
    name == "root" || name == "0"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_takes_the_scripts_of_the_runs_the_fixes_left_alone() {
        let text = "FROM a\nRUN apt-get update\nRUN make\nRUN make install\n";
        let df = Dockerfile::parse(text);
        let ctx = Context::new(&df, None);
        // " -q" inserted after `apt-get`, and " -j2" at the end of the last RUN.
        let fixed = "FROM a\nRUN apt-get -q update\nRUN make\nRUN make install -j2\n";
        let first_insertion = text.find(" update").unwrap();
        let known = ctx.known_scripts(|offset| Some(if offset > first_insertion { offset + 3 } else { offset }));
        let fixed_df = Dockerfile::parse(fixed);
        let next = Context::reading(&fixed_df, None, &RuleOptions::DEFAULT, &known);
        let same = |i: usize| std::ptr::eq(next.script(i).unwrap(), ctx.script(i).unwrap());
        assert_eq!([same(1), same(2), same(3)], [false, true, false], "only `make` is as it was");
        let words = |i: usize| -> Vec<&str> {
            next.script(i).unwrap().commands[0].words.iter().map(|w| w.literal.as_deref().unwrap()).collect()
        };
        assert_eq!(words(1), ["apt-get", "-q", "update"], "read afresh");
        assert_eq!(words(3), ["make", "install", "-j2"], "read afresh");
    }

    #[test]
    fn shell_words_map_back_across_continuations_and_comment_lines() {
        let source = "FROM debian:12\nRUN apt-get \\\n  # a comment line inside the continuation\n    install -y \\\n\tcurl && echo \"a b\"\n";
        let df = Dockerfile::parse(source);
        let ctx = Context::new(&df, None);
        let script = ctx.script(1).unwrap();
        let words: Vec<&str> = script
            .commands
            .iter()
            .flat_map(|c| &c.words)
            .map(|w| &source[ctx.source_range(1, w.range.clone()).as_range()])
            .collect();
        assert_eq!(words, ["apt-get", "install", "-y", "curl", "echo", "\"a b\""]);
    }

    #[test]
    fn a_variable_comes_from_the_nearest_definition_up_the_chain_of_stages() {
        let df = Dockerfile::parse(
            "FROM alpine:3 AS s0\nENV A=1\nFROM s0 AS s1\nRUN echo\nFROM s1 AS s2\nRUN echo\nENV A=2\nRUN echo\n\
             FROM s1 AS s3\nRUN echo\nFROM alpine:3\nRUN echo\n",
        );
        let ctx = Context::new(&df, None);
        let a = |i: usize| {
            let command = &ctx.script(i).unwrap().commands[0];
            ctx.variable(i, command, "A")
        };
        let set = |value: &str| Variable::Set(value.to_string());
        // Asked in this order, the later questions find what the first ones passed through.
        assert_eq!(a(9), set("1"));
        assert_eq!(a(5), set("1"));
        assert_eq!(a(7), set("2"));
        assert_eq!(a(3), set("1"));
        assert_eq!(a(11), Variable::Unset);
    }

    #[test]
    fn windows_images_are_told_by_name_in_any_case() {
        for windows in [
            "mcr.microsoft.com/windows/nanoserver:ltsc2022",
            "MCR.Microsoft.com/Windows/ServerCore:ltsc2019",
            "python:3.12-windowsservercore-ltsc2022",
            "mcr.microsoft.com/dotnet/framework/sdk:4.8",
        ] {
            assert!(is_windows_image(windows), "{windows}");
        }
        for other in ["debian:12", "mcr.microsoft.com/dotnet/sdk:8.0", "ghcr.io/acme/window-cleaner:1"] {
            assert!(!is_windows_image(other), "{other}");
        }
    }

    #[test]
    fn windows_and_powershell_stages_get_no_shell_view() {
        let df = Dockerfile::parse("FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nRUN dir\nFROM alpine:3\nSHELL [\"pwsh\", \"-c\"]\nRUN ls\nFROM alpine:3\nSHELL [\"/bin/bash\", \"-c\"]\nRUN ls\n");
        let ctx = Context::new(&df, None);
        assert!(ctx.script(1).is_none() && ctx.script(4).is_none() && ctx.script(7).is_some());
    }
}
