//! What the base-image rules share: a FROM reference split into repository and tag.

/// An image reference as written after FROM, split at its tag.
pub(super) struct ImageReference<'a> {
    /// Everything before the tag, registry and namespace included, as written.
    pub repository: &'a str,
    /// `None` when the reference has no tag.
    pub tag: Option<&'a str>,
}

impl<'a> ImageReference<'a> {
    pub fn parse(reference: &'a str) -> ImageReference<'a> {
        // The tag is after the last `:` that follows the last `/` (a registry may have a port).
        let name_start = reference.rfind('/').map_or(0, |n| n + 1);
        match reference[name_start..].split_once(':') {
            Some((name, tag)) => ImageReference { repository: &reference[..name_start + name.len()], tag: Some(tag) },
            None => ImageReference { repository: reference, tag: None },
        }
    }

    /// The repository without `docker.io/` and `library/`, as Docker Hub's official images are named.
    pub fn short_name(&self) -> &'a str {
        let name = self.repository.strip_prefix("docker.io/").unwrap_or(self.repository);
        name.strip_prefix("library/").unwrap_or(name)
    }
}
