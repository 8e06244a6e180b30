//! `dockopt rules` and `dockopt rule CODE`: the rule catalogue.

use crate::engine::finding::Safety;
use crate::transforms;
use anyhow::{bail, Result};
use std::io::Write;
use std::process::ExitCode;

fn safety_label(safety: Safety) -> &'static str {
    match safety {
        Safety::Safe => "safe fix",
        Safety::Unsafe => "unsafe fix",
        Safety::ReportOnly => "report only",
    }
}

pub fn rules_command() -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    for rule in transforms::all() {
        let info = rule.info();
        writeln!(out, "{}  {:<26} {:<12} {}", info.code, info.name, safety_label(info.safety), info.summary)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rule_command(wanted: &str) -> Result<ExitCode> {
    let rules = transforms::all();
    let Some(rule) = rules.iter().find(|r| r.info().code.eq_ignore_ascii_case(wanted) || r.info().name == wanted)
    else {
        bail!("no rule `{wanted}`; `dockopt rules` lists them");
    };
    let info = rule.info();
    let hadolint =
        if info.hadolint.is_empty() { String::new() } else { format!("; hadolint {}", info.hadolint.join(", ")) };
    writeln!(
        std::io::stdout().lock(),
        "{} {} ({}{hadolint})\n\n{}\n\n{}",
        info.code,
        info.name,
        safety_label(info.safety),
        info.summary,
        info.doc
    )?;
    Ok(ExitCode::SUCCESS)
}
