//! `dockopt measure`'s report of one Dockerfile, as text and as JSON.

use crate::measure::{Build, Measurement, Outcome};
use serde_json::{json, Value};

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn percent(before: f64, after: f64) -> f64 {
    if before == 0.0 {
        0.0
    } else {
        (after - before) / before * 100.0
    }
}

/// How much of a difference list the text report shows before it summarises the rest.
const SHOWN_DIFFERENCES: usize = 20;

pub fn text(m: &Measurement) -> String {
    let mut out = String::new();
    match &m.outcome {
        Outcome::Unchanged => out.push_str(&format!("{}: no fixes apply, nothing to measure\n", m.path)),
        Outcome::Measured { original, fixed, differences } => {
            out.push_str(&format!("{}: built with {}\n", m.path, m.builder));
            let layer_change = fixed.layers as i64 - original.layers as i64;
            out.push_str(&format!("  layers      {} → {} ({layer_change:+})\n", original.layers, fixed.layers));
            let (before, after) = (megabytes(original.size), megabytes(fixed.size));
            out.push_str(&format!(
                "  size        {before:.1} MB → {after:.1} MB ({:+.1} MB, {:+.1}%)\n",
                after - before,
                percent(before, after)
            ));
            let (before, after) = (original.time.as_secs_f64(), fixed.time.as_secs_f64());
            out.push_str(&format!("  build time  {before:.1} s → {after:.1} s ({:+.1}%)\n", percent(before, after)));
            if differences.is_empty() {
                out.push_str("  files       the same, package caches aside\n");
            } else {
                out.push_str(&format!("  files       {} differences outside package caches:\n", differences.len()));
                for d in differences.iter().take(SHOWN_DIFFERENCES) {
                    let side = |s: &Option<String>| s.clone().unwrap_or_else(|| "absent".into());
                    out.push_str(&format!(
                        "    {}: {}: {} → {}\n",
                        d.path,
                        d.change,
                        side(&d.original),
                        side(&d.fixed)
                    ));
                }
                if differences.len() > SHOWN_DIFFERENCES {
                    out.push_str(&format!(
                        "    … and {} more (--json lists all)\n",
                        differences.len() - SHOWN_DIFFERENCES
                    ));
                }
                out.push_str(
                    "  help: a safe fix must keep the image's files; please report this with the Dockerfile\n",
                );
            }
        }
        Outcome::OriginalFails(why) => {
            out.push_str(&format!("{}: the Dockerfile as written does not build with {}:\n", m.path, m.builder));
            out.push_str(&indent(why));
            out.push_str("  help: make it build first; dockopt can only compare images that build\n");
        }
        Outcome::FixedFails(why) => {
            out.push_str(&format!("{}: the original builds but the fixed Dockerfile does not:\n", m.path));
            out.push_str(&indent(why));
            out.push_str("  help: a safe fix must never break a build; please report this with the Dockerfile\n");
        }
        Outcome::Error(why) => {
            out.push_str(&format!("{}: cannot measure: {}\n", m.path, why.replace('\n', "\n  ")));
        }
    }
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    {line}\n")).collect()
}

fn build_json(build: &Build) -> Value {
    json!({"layers": build.layers, "size_bytes": build.size, "build_seconds": build.time.as_secs_f64()})
}

pub fn json(m: &Measurement) -> Value {
    let (outcome, details) = match &m.outcome {
        Outcome::Unchanged => ("unchanged", json!({})),
        Outcome::Measured { original, fixed, differences } => (
            "measured",
            json!({"original": build_json(original), "fixed": build_json(fixed), "differences": differences}),
        ),
        Outcome::OriginalFails(why) => ("original fails", json!({"message": why})),
        Outcome::FixedFails(why) => ("fixed fails", json!({"message": why})),
        Outcome::Error(why) => ("error", json!({"message": why})),
    };
    let mut value = json!({"path": m.path, "builder": m.builder, "outcome": outcome});
    if let (Value::Object(into), Value::Object(from)) = (&mut value, details) {
        into.extend(from);
    }
    value
}
