//! `dockopt measure`'s report of one Dockerfile, as text and as JSON.

use crate::measure::builder::RunResult;
use crate::measure::image::Difference;
use crate::measure::{Build, Measurement, Outcome, Rebuild, Rebuilds};
use serde_json::{json, Value};
use std::collections::BTreeMap;

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
        Outcome::Measured { original, fixed, safe_only, differences, runs, rebuilds } => {
            out.push_str(&format!("{}: built with {}\n", m.path, m.builder));
            let layer_change = fixed.layers as i64 - original.layers as i64;
            out.push_str(&format!("  layers      {} → {} ({layer_change:+})\n", original.layers, fixed.layers));
            let (before, after) = (megabytes(original.size), megabytes(fixed.size));
            out.push_str(&format!(
                "  size        {before:.1} MB → {after:.1} MB ({:+.1} MB, {:+.1}%)\n",
                after - before,
                percent(before, after)
            ));
            if let Some(safe) = safe_only {
                let (before, after) = (megabytes(original.size), megabytes(safe.size));
                out.push_str(&format!(
                    "  safe only   {} layers, {after:.1} MB ({:+.1} MB, {:+.1}%): what the safe fixes alone save\n",
                    safe.layers,
                    after - before,
                    percent(before, after)
                ));
            }
            let (before, after) = (original.time.as_secs_f64(), fixed.time.as_secs_f64());
            out.push_str(&format!("  build time  {before:.1} s → {after:.1} s ({:+.1}%)\n", percent(before, after)));
            if differences.is_empty() {
                out.push_str("  files       the same, package caches aside\n");
            } else if differences.len() <= SHOWN_DIFFERENCES {
                out.push_str(&format!("  files       {} differences outside package caches:\n", differences.len()));
                for d in differences {
                    let side = |s: &Option<String>| s.clone().unwrap_or_else(|| "absent".into());
                    out.push_str(&format!(
                        "    {}: {}: {} → {}\n",
                        d.path,
                        d.change,
                        side(&d.original),
                        side(&d.fixed)
                    ));
                }
            } else {
                out.push_str(&format!(
                    "  files       {} differences outside package caches, by directory:\n",
                    differences.len()
                ));
                out.push_str(&directories(differences));
            }
            if !differences.is_empty() {
                out.push_str(if m.unsafe_fixes {
                    "  help: unsafe fixes change what the image holds; check that the app needs none of what they \
                     dropped (--json lists every file)\n"
                } else {
                    "  help: a safe fix must keep the image's files; please report this with the Dockerfile\n"
                });
            }
            if let Some((original, fixed)) = runs.as_deref() {
                out.push_str(&run_text(original, fixed));
            }
            match rebuilds {
                Some(Ok(rebuilds)) => out.push_str(&rebuild_text(rebuilds)),
                Some(Err(why)) => out.push_str(&format!("  rebuild     not measured: {why}\n")),
                None => {}
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

/// What changed under one directory.
#[derive(Default)]
struct DirectoryChanges {
    only_in_original: (usize, u64),
    only_in_fixed: (usize, u64),
    changed: usize,
}

/// Differences summed by the directory holding them, cut to its first three components, largest first: two
/// thousand headers dropped from `/usr/include` read as one line, with their count and size.
fn directories(differences: &[Difference]) -> String {
    let mut by_directory: BTreeMap<&str, DirectoryChanges> = BTreeMap::new();
    for d in differences {
        let parent = &d.path[..d.path.rfind('/').unwrap_or(0)];
        let cut = parent.match_indices('/').nth(3).map_or(parent, |(at, _)| &parent[..at]);
        let changes = by_directory.entry(if cut.is_empty() { "/" } else { cut }).or_default();
        match d.change {
            "only in original" => {
                changes.only_in_original.0 += 1;
                changes.only_in_original.1 += d.sizes.0;
            }
            "only in fixed" => {
                changes.only_in_fixed.0 += 1;
                changes.only_in_fixed.1 += d.sizes.1;
            }
            _ => changes.changed += 1,
        }
    }
    let mut ordered: Vec<(&str, DirectoryChanges)> = by_directory.into_iter().collect();
    ordered.sort_by_key(|(dir, c)| {
        let count = c.only_in_original.0 + c.only_in_fixed.0 + c.changed;
        (std::cmp::Reverse(c.only_in_original.1 + c.only_in_fixed.1), std::cmp::Reverse(count), *dir)
    });
    let mut out = String::new();
    for (dir, c) in ordered.iter().take(SHOWN_DIFFERENCES) {
        let mut parts = Vec::new();
        for (image, (count, bytes)) in [("original", c.only_in_original), ("fixed", c.only_in_fixed)] {
            if count > 0 {
                parts.push(format!("{count} only in {image} ({:.1} MB)", megabytes(bytes)));
            }
        }
        if c.changed > 0 {
            parts.push(format!("{} changed", c.changed));
        }
        out.push_str(&format!("    {dir}: {}\n", parts.join(", ")));
    }
    if ordered.len() > SHOWN_DIFFERENCES {
        out.push_str(&format!(
            "    … and {} more directories (--json lists every file)\n",
            ordered.len() - SHOWN_DIFFERENCES
        ));
    }
    out
}

/// The rebuilds after a source change: times, and where each started running again.
fn rebuild_text(r: &Rebuilds) -> String {
    let (before, after) = (r.original.time.as_secs_f64(), r.fixed.time.as_secs_f64());
    let mut out = format!(
        "  rebuild     after a change to {}: {before:.1} s → {after:.1} s ({:+.1}%)\n",
        r.touched,
        percent(before, after)
    );
    for (image, rebuild) in [("original", &r.original), ("fixed", &r.fixed)] {
        let run = rebuild.steps.iter().filter(|s| !s.cached).count();
        let from = match rebuild.first_miss() {
            Some(k) => format!(", from step {} `{}`", k + 1, rebuild.steps[k].instruction),
            None => String::new(),
        };
        out.push_str(&format!("    {image:<9}{run} of {} steps run again{from}\n", rebuild.steps.len()));
    }
    out
}

fn rebuild_json(rebuild: &Rebuild) -> Value {
    let steps: Vec<Value> =
        rebuild.steps.iter().map(|s| json!({"instruction": s.instruction, "cached": s.cached})).collect();
    json!({"seconds": rebuild.time.as_secs_f64(), "first_miss": rebuild.first_miss(), "steps": steps})
}

fn exit_status(status: Option<i32>) -> String {
    status.map_or("ended by a signal".into(), |code| format!("exit status {code}"))
}

/// The command run in both images: "the same", or what each printed.
fn run_text(original: &RunResult, fixed: &RunResult) -> String {
    if original == fixed {
        let bytes = original.stdout.len() + original.stderr.len();
        return format!(
            "  run         the same in both images: {}, {bytes} bytes of output\n",
            exit_status(original.status)
        );
    }
    let mut out = String::from("  run         differs:\n");
    for (image, result) in [("original", original), ("fixed", fixed)] {
        out.push_str(&format!("    {image}: {}\n", exit_status(result.status)));
        for (stream, text) in [("stdout", &result.stdout), ("stderr", &result.stderr)] {
            if !text.is_empty() {
                out.push_str(&format!("      {stream}:\n"));
                out.push_str(&indent(&indent(text)));
            }
        }
    }
    out.push_str(
        "  help: the fixed image does not run the command as the original does; check what the fixes dropped\n",
    );
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
        Outcome::Measured { original, fixed, safe_only, differences, runs, rebuilds } => {
            let mut details =
                json!({"original": build_json(original), "fixed": build_json(fixed), "differences": differences});
            if let Some(safe) = safe_only {
                details["safe_only"] = build_json(safe);
            }
            if let Some((original, fixed)) = runs.as_deref() {
                let ran = |r: &RunResult| json!({"status": r.status, "stdout": r.stdout, "stderr": r.stderr});
                details["run"] = json!({"same": original == fixed, "original": ran(original), "fixed": ran(fixed)});
            }
            match rebuilds {
                Some(Ok(r)) => {
                    let touched = &r.touched;
                    let (original, fixed) = (rebuild_json(&r.original), rebuild_json(&r.fixed));
                    details["rebuild"] = json!({"touched": touched, "original": original, "fixed": fixed});
                }
                Some(Err(why)) => details["rebuild"] = json!({"error": why}),
                None => {}
            }
            ("measured", details)
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn dropped(path: &str, bytes: u64) -> Difference {
        Difference {
            path: path.into(),
            change: "only in original",
            original: Some(format!("file of {bytes} bytes, sha256 0123456789ab")),
            fixed: None,
            sizes: (bytes, 0),
        }
    }

    fn measured(differences: Vec<Difference>, unsafe_fixes: bool) -> Measurement {
        let build = |size| Build { time: Duration::from_secs(10), layers: 3, size };
        Measurement {
            path: "Dockerfile".into(),
            builder: "buildah".into(),
            outcome: Outcome::Measured {
                original: build(500_000_000),
                fixed: build(300_000_000),
                safe_only: None,
                differences,
                runs: None,
                rebuilds: None,
            },
            unsafe_fixes,
        }
    }

    #[test]
    fn many_differences_are_summed_by_directory_largest_first() {
        let mut differences: Vec<Difference> =
            (0..22).map(|n| dropped(&format!("/usr/include/h{n}.h"), 1_000)).collect();
        differences.push(dropped("/usr/lib/gcc/x86_64-linux-gnu/12/cc1", 30_000_000));
        differences.push(dropped("/usr/lib/gcc/x86_64-linux-gnu/12/lto1", 29_000_000));
        differences.push(Difference {
            path: "/etc/ld.so.cache".into(),
            change: "content",
            original: Some("file of 9 bytes, sha256 0123456789ab".into()),
            fixed: Some("file of 8 bytes, sha256 ba9876543210".into()),
            sizes: (9, 8),
        });
        let text = text(&measured(differences, true));
        let listing = "  files       25 differences outside package caches, by directory:\n    \
                       /usr/lib/gcc: 2 only in original (59.0 MB)\n    \
                       /usr/include: 22 only in original (0.0 MB)\n    \
                       /etc: 1 changed\n  \
                       help: unsafe fixes change what the image holds; check that the app needs none of what they \
                       dropped (--json lists every file)\n";
        assert!(text.ends_with(listing), "{text}");
    }

    #[test]
    fn a_few_differences_are_listed_one_by_one() {
        let text = text(&measured(vec![dropped("/usr/bin/gcc", 1_000)], false));
        assert!(text.contains("    /usr/bin/gcc: only in original: file of 1000 bytes, sha256 0123456789ab → absent\n"));
        assert!(
            text.ends_with("  help: a safe fix must keep the image's files; please report this with the Dockerfile\n")
        );
    }
}
