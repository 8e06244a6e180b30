//! The options of the rules that have some, as the configuration's `[rules.<name>]` tables spell them. Plain
//! data: the configuration reads them and the rule context hands them to the rules.

use serde::Deserialize;

/// Options of the rules that have some.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RuleOptions {
    pub slim_base_image: Option<SlimBaseImageOptions>,
    pub unpinned_base_image: Option<UnpinnedBaseImageOptions>,
    /// The cache rules keep caches out of layers with BuildKit cache mounts instead of deleting them: the
    /// configuration's top-level `cache-mounts`, or `--cache-mounts`, not a key of `[rules]`.
    #[serde(skip)]
    pub cache_mounts: bool,
}

impl RuleOptions {
    pub const DEFAULT: RuleOptions =
        RuleOptions { slim_base_image: None, unpinned_base_image: None, cache_mounts: false };
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlimBaseImageOptions {
    pub images: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnpinnedBaseImageOptions {
    pub allow: Vec<String>,
}
