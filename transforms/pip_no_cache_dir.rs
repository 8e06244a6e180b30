use super::cleanup::{cache_dir, cache_is_mounted, mount_instead, CacheMount};
use crate::engine::context::{Context, Variable};
use crate::engine::finding::{Applicability, Finding, Fix, RuleInfo, Safety, Severity};
use crate::engine::rule::Rule;
use crate::shell::Programs;

pub struct PipNoCacheDir;

static INFO: RuleInfo = RuleInfo {
    code: "DO205",
    name: "pip-no-cache-dir",
    summary: "pip or uv keeps its download cache in the layer",
    doc: "`pip install` keeps every downloaded wheel in ~/.cache/pip, which the image never uses again. \
dockopt adds `--no-cache-dir` to pip (`pip`, `pip3`, `python -m pip`, `python3.X -m pip`) and `--no-cache` to \
`uv pip install` and `uv sync`, unless PIP_NO_CACHE_DIR or UV_NO_CACHE is set or a cache mount holds the \
cache. `pip download` and `pip wheel` are left alone: their output is what they are run for. With \
`--cache-mounts`, the fix mounts a cache at the cache's directory instead (`RUN --mount=type=cache,…`), which \
keeps it out of the image and for the next build.\n\n\
Before:\n    RUN pip install -r requirements.txt\n\n\
After:\n    RUN pip install --no-cache-dir -r requirements.txt",
    safety: Safety::Safe,
    severity: Severity::Warning,
    hadolint: &["DL3042"],
};

const PIP: Programs = Programs::new(&["pip", "uv"]);

impl Rule for PipNoCacheDir {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, ctx: &Context, findings: &mut Vec<Finding>) {
        for (i, _) in ctx.runs().filter(|&(i, _)| ctx.runs_any_of(i, &PIP)) {
            for (command, inv) in ctx.invocations(i) {
                let (subcommand_word, option, variable, cache) = match inv.program {
                    "pip" if inv.subcommand() == Some("install") => (
                        inv.args.iter().find(|w| w.is("install")),
                        "--no-cache-dir",
                        "PIP_NO_CACHE_DIR",
                        "/root/.cache/pip",
                    ),
                    "uv" => {
                        let words: Vec<&str> = inv
                            .args
                            .iter()
                            .filter_map(|w| w.literal.as_deref())
                            .filter(|a| !a.starts_with('-'))
                            .take(2)
                            .collect();
                        let word = match words.as_slice() {
                            ["pip", "install" | "sync", ..] => inv.args.iter().find(|w| w.is(words[1])),
                            ["sync" | "add", ..] => inv.args.iter().find(|w| w.is(words[0])),
                            _ => continue,
                        };
                        (word, "--no-cache", "UV_NO_CACHE", "/root/.cache/uv")
                    }
                    _ => continue,
                };
                let Some(subcommand_word) = subcommand_word else { continue };
                let tool = if option == "--no-cache" { "uv" } else { "pip" };
                // Any value turns the cache off: pip reads `PIP_NO_CACHE_DIR=off` as an option that is set.
                if inv.has_option(option) || ctx.variable(i, command, variable) != Variable::Unset {
                    continue;
                }
                let dir = cache_dir(ctx, i, command, tool);
                if cache_is_mounted(ctx, i, dir.as_deref()) {
                    continue;
                }
                let cache = dir.unwrap_or_else(|| cache.to_string());
                let mut finding = Finding {
                    rule: &INFO,
                    range: ctx.source_range(i, command.range.clone()),
                    message: format!("{tool} keeps downloaded packages in {cache}; add `{option}`"),
                    fix: ctx
                        .insert_after(i, subcommand_word, option)
                        .map(|edit| Fix { applicability: Applicability::Safe, edits: vec![edit] }),
                    instructions: vec![ctx.statement(i).index()],
                };
                mount_instead(ctx, i, &mut finding, CacheMount::at(cache));
                findings.push(finding);
            }
        }
    }
}
