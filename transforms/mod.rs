//! The rules, one per file. Each holds its documentation, its detection, and its fix.
//!
//! Codes: DO1xx shape layers, DO2xx keep package caches out of layers, DO3xx report what dockopt cannot fix.

use crate::engine::rule::Rule;

mod add_to_copy;
mod apk_no_cache;
mod apt_lists_cleanup;
mod apt_no_install_recommends;
mod build_only_packages;
mod cleanup;
mod conda_clean;
mod copy_manifests_first;
mod copy_paths;
mod dependency_cache_mount;
mod gem_no_document;
mod go_build_cache;
mod image_reference;
mod join_installs;
mod merge_runs;
mod missing_dockerignore;
mod multi_stage_build;
mod multi_stage_node;
mod multi_stage_python;
mod node_cache_clean;
mod pip_no_cache_dir;
mod rm_in_later_layer;
mod root_user;
mod rpm_cache_clean;
mod slim_base_image;
mod stage_commands;
mod unpinned_base_image;
mod yarn_settings;

/// Every rule, in code order.
pub fn all() -> Vec<&'static dyn Rule> {
    let mut rules: Vec<&'static dyn Rule> = vec![
        &merge_runs::MergeRuns,
        &join_installs::JoinInstalls,
        &add_to_copy::AddToCopy,
        &copy_manifests_first::CopyManifestsFirst,
        &apt_lists_cleanup::AptListsCleanup,
        &apt_no_install_recommends::AptNoInstallRecommends,
        &apk_no_cache::ApkNoCache,
        &rpm_cache_clean::RpmCacheClean,
        &pip_no_cache_dir::PipNoCacheDir,
        &node_cache_clean::NodeCacheClean,
        &gem_no_document::GemNoDocument,
        &conda_clean::CondaClean,
        &go_build_cache::GoBuildCache,
        &dependency_cache_mount::DependencyCacheMount,
        &root_user::RootUser,
        &unpinned_base_image::UnpinnedBaseImage,
        &rm_in_later_layer::RmInLaterLayer,
        &slim_base_image::SlimBaseImage,
        &build_only_packages::BuildOnlyPackages,
        &missing_dockerignore::MissingDockerignore,
        &multi_stage_build::MultiStageBuild,
    ];
    rules.sort_by_key(|r| r.info().code);
    rules
}
