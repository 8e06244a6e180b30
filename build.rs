//! Turns facts about the machine the tests build on into cfgs, so that tests which cannot run here are reported
//! as ignored, with the reason, rather than as passed without having checked anything:
//!
//! - `DOCKOPT_E2E=1` turns on the end-to-end image builds of tests/e2e.rs (`dockopt_e2e`);
//! - building as root turns on the tests that give files to other owners or run dockopt as another user
//!   (`dockopt_root`);
//! - the shared corpus (`DOCKOPT_CORPUS`, by default `../shared/corpus`) and conformance data
//!   (`DOCKOPT_CONFORMANCE`, by default `../shared/conformance`) turn on the tests that read them
//!   (`dockopt_corpus`, `dockopt_conformance`). `DOCKOPT_REQUIRE_CORPUS=1`, which CI sets, turns them on whatever
//!   is there, so that missing data fails those tests instead of skipping them.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(dockopt_e2e)");
    println!("cargo::rustc-check-cfg=cfg(dockopt_root)");
    println!("cargo::rerun-if-env-changed=DOCKOPT_E2E");
    if std::env::var_os("DOCKOPT_E2E").is_some_and(|v| v == "1") {
        println!("cargo::rustc-cfg=dockopt_e2e");
    }
    if effective_uid() == Some(0) {
        println!("cargo::rustc-cfg=dockopt_root");
    }
    println!("cargo::rustc-check-cfg=cfg(dockopt_corpus)");
    println!("cargo::rustc-check-cfg=cfg(dockopt_conformance)");
    println!("cargo::rerun-if-env-changed=DOCKOPT_REQUIRE_CORPUS");
    let required = std::env::var_os("DOCKOPT_REQUIRE_CORPUS").is_some_and(|v| v == "1");
    for (cfg, var, default, marker) in [
        ("dockopt_corpus", "DOCKOPT_CORPUS", "../shared/corpus", "MANIFEST.tsv"),
        ("dockopt_conformance", "DOCKOPT_CONFORMANCE", "../shared/conformance", "official-parser-buildkit.jsonl"),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        let dir = std::env::var_os(var).map_or_else(|| std::path::PathBuf::from(default), std::path::PathBuf::from);
        let marker = dir.join(marker);
        // A missing marker makes Cargo run this script again on the next build, so data that appears is seen.
        println!("cargo::rerun-if-changed={}", marker.display());
        if required || marker.exists() {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}

/// The effective user id, from the second field of `Uid:` in /proc/self/status (Linux).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
