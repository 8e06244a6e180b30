//! What a safe fix must keep: the same files, with the same content, owners and modes, outside the package caches
//! a fix is meant to remove, comparing the files whose bytes record when they were built without their content.

use crate::measure::image::{self, Comparison, Difference, Image};
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::sync::OnceLock;

/// Package-manager caches and indexes (DESIGN.md, "What makes a fix safe"): removing them is what the fixes are
/// for. The directories themselves are listed where a fix may keep them from being made at all.
const CACHE_PATHS: &[&str] = &[
    "/var/lib/apt/lists/**",
    "/var/cache/apt/**",
    "/var/cache/apk/**",
    "/var/cache/{yum,dnf,zypp}",
    "/var/cache/{yum,dnf,zypp}/**",
    "/{root,home/*}/.cache/{pip,uv,yarn,pnpm,go-build}",
    "/{root,home/*}/.cache/{pip,uv,yarn,pnpm,go-build}/**",
    // virtualenv's seed wheels, which it refreshes in the background while it makes an environment (pipenv's,
    // Poetry's): two builds of one `pipenv install` kept different downloads there.
    "/{root,home/*}/.cache/virtualenv/**",
    "/{root,home/*}/.npm/_cacache",
    "/{root,home/*}/.npm/_cacache/**",
    "/usr/local/share/.cache/yarn/**",
    // yarn 2 and later: the global cache, which `yarn cache clean` deletes whole.
    "/{root,home/*}/.yarn/berry/cache",
    "/{root,home/*}/.yarn/berry/cache/**",
    "/{root,home/*}/.local/share/pnpm/store/**",
    "/opt/conda/pkgs/**",
    // Go's module cache and Cargo's registry: downloads, kept in the layer unless a cache mount holds them.
    "/go/pkg/mod",
    "/go/pkg/mod/**",
    "/{root,home/*}/go/pkg/mod",
    "/{root,home/*}/go/pkg/mod/**",
    "/usr/local/cargo/{registry,git}",
    "/usr/local/cargo/{registry,git}/**",
    "/{root,home/*}/.cargo/{registry,git}",
    "/{root,home/*}/.cargo/{registry,git}/**",
    "/tmp/**",
    // npm names its logs by the time of the build, so no two builds share them.
    "/{root,home/*}/.npm/_logs",
    "/{root,home/*}/.npm/_logs/**",
];

/// The directories above the cache mount targets dockopt writes (`--cache-mounts`): a builder makes them for the
/// mount and leaves them, empty, in the layer.
const MOUNT_PARENTS: &[&str] = &[
    "/{root,home/*}/.cache",
    "/{root,home/*}/.local",
    "/{root,home/*}/.local/share",
    "/{root,home/*}/.local/share/pnpm",
    "/{root,home/*}/.npm",
    "/usr/local/share/.cache",
    "/go/pkg",
    "/{root,home/*}/go",
    "/{root,home/*}/go/pkg",
    "/{root,home/*}/.cargo",
];

/// Files whose bytes record when they were written, so two builds of the same Dockerfile differ in them. Measured
/// by building one Dockerfile twice without cache: these were the only paths, caches aside, that differed.
const TIME_STAMPED: &[&str] = &[
    "/var/log/**",
    // ldconfig's cache of library modification times.
    "/var/cache/ldconfig/aux-cache",
    // Python's byte code records its source file's modification time, which is when pip installed it; the source
    // files themselves are compared.
    "**/__pycache__/*.pyc",
    // Cargo's record of what rustc answered, keyed by hashes that change from build to build: four builds of one
    // Dockerfile wrote three different ones.
    "**/target/.rustc_info.json",
    // rpm's database records when each package was installed, and dnf's history when each transaction ran: two
    // builds of one `dnf install` differ in both, and in the SQLite journals beside them. The database is in
    // /var/lib/rpm or /usr/lib/sysimage/rpm on Fedora and its kin, and in ~/.rpmdb under Debian's rpm.
    "**/rpmdb.sqlite*",
    "/var/lib/dnf/history.sqlite*",
    // pnpm records when it last looked for a newer pnpm and when it installed (`lastUpdateCheck`, `prunedAt`):
    // two builds of one `pnpm install` differ in both.
    "/{root,home/*}/.local/state/pnpm/pnpm-state.json",
    "**/node_modules/.modules.yaml",
    // pnpm 10 records when it last checked the workspace's settings (`lastValidatedTimestamp`): two installs of one
    // project differed in that alone. The node_modules it lays out by those settings are compared.
    "**/node_modules/.pnpm-workspace-state-v1.json",
    // yarn 2 and later keep a serialized record of the install: two builds of one Dockerfile of yarn 4.5.3 wrote
    // 1,314 and 1,290 bytes. Its loader (.pnp.cjs) and the packages are compared.
    "**/.yarn/install-state.gz",
    // zypper's identity of the system, made at random by its first run.
    "/var/lib/zypp/AnonymousUniqueId",
    // A package's list of its files. virtualenv seeds pip and setuptools into a new environment in the order the
    // file system lists its own copy: two builds of one `poetry install` listed them in different orders. The
    // files themselves are compared.
    "**/*.dist-info/RECORD",
    // uv records, beside a package it installed from a file (a wheel it found with `find-links`), the file's change
    // time, which is when the build copied it in: two installs from two copies of one wheel differed in that alone.
    "**/*.dist-info/uv_cache.json",
    // composer names the class that loads the autoloader with a random suffix unless configured with one
    // (`autoloader-suffix`): two builds of one `composer install` (composer 2.5) named it differently in these
    // three files. The autoloader's maps of classes to files are compared.
    "**/vendor/autoload.php",
    "**/vendor/composer/autoload_real.php",
    "**/vendor/composer/autoload_static.php",
];

fn glob_set(patterns: &[&str]) -> GlobSet {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        // The patterns are constants of this file; the unit test below builds them all.
        set.add(Glob::new(pattern).expect("a valid cache path glob"));
    }
    set.build().expect("valid cache path globs")
}

fn cache_paths() -> &'static GlobSet {
    static SET: OnceLock<GlobSet> = OnceLock::new();
    SET.get_or_init(|| glob_set(CACHE_PATHS))
}

fn mount_parents() -> &'static GlobSet {
    static SET: OnceLock<GlobSet> = OnceLock::new();
    SET.get_or_init(|| glob_set(MOUNT_PARENTS))
}

fn time_stamped() -> &'static GlobSet {
    static SET: OnceLock<GlobSet> = OnceLock::new();
    SET.get_or_init(|| glob_set(TIME_STAMPED))
}

/// The comparison a safe fix must pass: the same files outside caches, time stamps aside.
pub fn compare(original: &Image, fixed: &Image) -> Vec<Difference> {
    let ignored = |path: &str| cache_paths().is_match(path);
    let content_varies = |path: &str| time_stamped().is_match(path);
    let mount_parent = |path: &str| mount_parents().is_match(path);
    let comparison = Comparison { ignored: &ignored, content_varies: &content_varies, mount_parent: &mount_parent };
    image::differences(original, fixed, &comparison)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_paths_match_what_the_fixes_remove() {
        for cached in [
            "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
            "/var/cache/apt/pkgcache.bin",
            "/root/.cache/pip",
            "/root/.cache/pip/http-v2/a/b",
            "/root/.cache/go-build/00/0011-d",
            "/root/.cache/virtualenv/wheel/house/pypi/setuptools-84.2.1-py3-none-any.whl",
            "/home/app/.cache/pip/wheels/x.whl",
            "/root/.npm/_cacache/index-v5/00/11",
            "/root/.npm/_logs/2026-11-22T10_00_00_000Z-debug-0.log",
            "/var/cache/dnf",
            "/tmp/build/x",
            "/go/pkg/mod/cache/download/golang.org/x/text/@v/v0.14.0.zip",
            "/root/go/pkg/mod/golang.org/x/text@v0.14.0/LICENSE",
            "/usr/local/cargo/registry/cache/index.crates.io-6f17d22bba15001f/libc-0.2.150.crate",
            "/root/.cargo/git/checkouts/x",
            "/root/.yarn/berry/cache",
            "/root/.yarn/berry/cache/is-number-npm-7.0.0-060086935c-10c0.zip",
        ] {
            assert!(cache_paths().is_match(cached), "{cached}");
        }
        for kept in [
            "/var/lib/apt/lists",
            "/var/lib/apt/extended_states",
            "/root/.cache",
            "/usr/bin/pip",
            "/tmp",
            "/go/bin/app",
            "/usr/local/cargo/bin/cargo",
            // yarn 2's index of the global folder, which `yarn cache clean` leaves.
            "/root/.yarn/berry/index/00",
        ] {
            assert!(!cache_paths().is_match(kept), "{kept}");
        }
        assert!(time_stamped().is_match("/usr/lib/python3/dist-packages/flask/__pycache__/app.cpython-311.pyc"));
        assert!(time_stamped().is_match("/var/log/apt/history.log"));
        assert!(time_stamped().is_match("/app/target/.rustc_info.json"));
        assert!(time_stamped().is_match("/usr/lib/sysimage/rpm/rpmdb.sqlite"));
        assert!(time_stamped().is_match("/var/lib/rpm/rpmdb.sqlite-shm"));
        assert!(time_stamped().is_match("/var/lib/dnf/history.sqlite-wal"));
        assert!(!time_stamped().is_match("/var/lib/dnf/repos"));
        assert!(time_stamped().is_match("/root/.local/state/pnpm/pnpm-state.json"));
        assert!(time_stamped().is_match("/var/lib/zypp/AnonymousUniqueId"));
        assert!(time_stamped().is_match("/srv/app/node_modules/.modules.yaml"));
        assert!(time_stamped().is_match("/srv/node_modules/.pnpm-workspace-state-v1.json"));
        assert!(time_stamped().is_match("/app/.yarn/install-state.gz"));
        assert!(!time_stamped().is_match("/app/.pnp.cjs"));
        assert!(!time_stamped().is_match("/srv/app/node_modules/is-number/index.js"));
        assert!(time_stamped().is_match("/app/.venv/lib/python3.11/site-packages/pip-26.0.1.dist-info/RECORD"));
        assert!(!time_stamped().is_match("/app/.venv/lib/python3.11/site-packages/pip-26.0.1.dist-info/METADATA"));
        assert!(time_stamped().is_match("/app/.venv/lib/python3.11/site-packages/greet-1.0.0.dist-info/uv_cache.json"));
        assert!(!time_stamped().is_match("/usr/lib/python3/dist-packages/flask/app.py"));
        assert!(time_stamped().is_match("/app/vendor/composer/autoload_static.php"));
        assert!(!time_stamped().is_match("/app/vendor/composer/autoload_classmap.php"));
    }
}
