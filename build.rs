//! Turns facts about the machine the tests build on into cfgs, so that tests which cannot run here are reported
//! as ignored, with the reason, rather than as passed without having checked anything:
//!
//! - `DOCKOPT_E2E=1` turns on the end-to-end image builds of tests/e2e.rs (`dockopt_e2e`);
//! - building as root turns on the tests that give files to other owners or run dockopt as another user
//!   (`dockopt_root`).

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
}

/// The effective user id, from the second field of `Uid:` in /proc/self/status (Linux).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
