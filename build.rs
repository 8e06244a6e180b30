//! `DOCKOPT_E2E=1` turns on the end-to-end image builds of tests/e2e.rs. Without it they are compiled as ignored,
//! so a plain `cargo test` reports them as ignored rather than as passed without having built anything.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(dockopt_e2e)");
    println!("cargo::rerun-if-env-changed=DOCKOPT_E2E");
    if std::env::var_os("DOCKOPT_E2E").is_some_and(|v| v == "1") {
        println!("cargo::rustc-cfg=dockopt_e2e");
    }
}
