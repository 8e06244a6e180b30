//! What an image holds: the file tree an image archive unpacks to, and how two such trees differ.
//!
//! The archive is what `docker save`, `podman save` and `buildah push IMAGE docker-archive:FILE` write: a tar of
//! uncompressed layer tars plus a `manifest.json` that stacks them. It is read as a stream, once: each layer's
//! changes are recorded as they pass, because the manifest that orders them may come last.

use anyhow::{anyhow, bail, Context as _, Result};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;

/// What sits at a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    Directory,
    File {
        sha256: String,
        size: u64,
    },
    Symlink {
        target: String,
    },
    /// A device or a FIFO, described as `character device 1:3`.
    Special(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub content: Content,
    /// Permission bits, with setuid, setgid and sticky.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

/// An image's final file tree, keyed by absolute path (`/etc/passwd`; the root is `/`).
pub struct Image {
    pub layers: usize,
    /// The bytes of all layers, uncompressed: what the image costs on disk, deleted files included.
    pub size: u64,
    pub files: BTreeMap<String, Entry>,
}

/// One layer as recorded from its tar, before it is stacked.
#[derive(Default)]
struct Layer {
    size: u64,
    /// Directories whose lower contents this layer hides (`.wh..wh..opq`).
    opaque: Vec<String>,
    /// Paths this layer deletes (`.wh.NAME`).
    whiteouts: Vec<String>,
    additions: Vec<Addition>,
}

enum Addition {
    Entry(String, Entry),
    /// A hard link: the path gets what its target holds when the layer is applied.
    HardLink {
        path: String,
        target: String,
    },
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const OPAQUE_MARKER: &str = ".wh..wh..opq";
const WHITEOUT_PREFIX: &str = ".wh.";

/// Reads an image archive into its final file tree.
pub fn read_archive(reader: impl Read) -> Result<Image> {
    let mut archive = tar::Archive::new(reader);
    let mut order: Option<Vec<String>> = None;
    let mut layers: HashMap<String, Result<Layer>> = HashMap::new();
    for entry in archive.entries().context("not a tar archive")? {
        let mut entry = entry.context("the archive is damaged")?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
        if name == "/manifest.json" {
            let mut text = String::new();
            entry.read_to_string(&mut text).context("cannot read manifest.json")?;
            order = Some(layer_order(&text)?);
            continue;
        }
        // Layers are told from configs and indexes by content, because an OCI layout names blobs by digest.
        let mut head = Vec::with_capacity(512);
        (&mut entry).take(512).read_to_end(&mut head)?;
        let is_tar = head.len() == 512 && (&head[257..262] == b"ustar" || head.iter().all(|&b| b == 0));
        let (is_gzip, is_zstd) = (head.starts_with(&GZIP_MAGIC), head.starts_with(&ZSTD_MAGIC));
        let whole = std::io::Cursor::new(head).chain(entry);
        let layer = if is_gzip {
            // Docker's containerd image store saves layers as they are stored: gzip-compressed.
            read_layer(flate2::read::GzDecoder::new(whole))
        } else if is_zstd {
            Err(anyhow!("the layer is zstd-compressed, which dockopt cannot read; export it uncompressed or with gzip"))
        } else if is_tar {
            read_layer(whole)
        } else {
            continue;
        };
        layers.insert(name, layer.context("cannot read a layer"));
    }
    let order = order.ok_or_else(|| anyhow!("the archive has no manifest.json; is it a docker-archive?"))?;
    let mut image = Image { layers: order.len(), size: 0, files: BTreeMap::new() };
    image.files.insert("/".into(), Entry { content: Content::Directory, mode: 0o755, uid: 0, gid: 0 });
    // Two steps that change the same bytes make one blob, which the manifest names twice.
    for name in &order {
        let layer = match layers.get(&normalize(name)) {
            Some(Ok(layer)) => layer,
            Some(Err(e)) => bail!("layer {name}: {e:#}"),
            None => bail!("manifest.json names the layer {name}, which the archive lacks"),
        };
        image.size += layer.size;
        apply(&mut image.files, layer).with_context(|| format!("layer {name}"))?;
    }
    Ok(image)
}

/// The layer paths of the first image in a docker-archive manifest, lowest first.
fn layer_order(manifest: &str) -> Result<Vec<String>> {
    let value: serde_json::Value = serde_json::from_str(manifest).context("manifest.json is not JSON")?;
    let layers = value
        .get(0)
        .and_then(|image| image.get("Layers"))
        .and_then(|layers| layers.as_array())
        .ok_or_else(|| anyhow!("manifest.json lists no image with Layers"))?;
    layers
        .iter()
        .map(|layer| layer.as_str().map(str::to_string).ok_or_else(|| anyhow!("manifest.json: a layer is not a path")))
        .collect()
}

/// Counts the bytes read through it: a layer's uncompressed size.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.count += read as u64;
        Ok(read)
    }
}

fn read_layer(reader: impl Read) -> Result<Layer> {
    let mut layer = Layer::default();
    let mut archive = tar::Archive::new(Counting { inner: reader, count: 0 });
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
        let (parent, base) = path.rsplit_once('/').unwrap_or(("", &path));
        let parent = if parent.is_empty() { "/" } else { parent };
        if base == OPAQUE_MARKER {
            layer.opaque.push(parent.to_string());
            continue;
        }
        if let Some(hidden) = base.strip_prefix(WHITEOUT_PREFIX) {
            layer.whiteouts.push(join(parent, hidden));
            continue;
        }
        let header = entry.header();
        let (mode, uid, gid) = (header.mode()? & 0o7777, header.uid()?, header.gid()?);
        let kind = header.entry_type();
        let content = match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut hasher = Sha256::new();
                let size = std::io::copy(&mut entry, &mut hasher)?;
                Content::File { sha256: format!("{:x}", hasher.finalize()), size }
            }
            tar::EntryType::Directory => Content::Directory,
            tar::EntryType::Symlink => {
                let target = entry.link_name_bytes().map(|t| String::from_utf8_lossy(&t).into_owned());
                Content::Symlink { target: target.unwrap_or_default() }
            }
            tar::EntryType::Link => {
                let target = entry.link_name_bytes().ok_or_else(|| anyhow!("{path}: a hard link without a target"))?;
                let target = normalize(&String::from_utf8_lossy(&target));
                layer.additions.push(Addition::HardLink { path, target });
                continue;
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                let what = if kind == tar::EntryType::Char { "character" } else { "block" };
                let (major, minor) = (header.device_major()?.unwrap_or(0), header.device_minor()?.unwrap_or(0));
                Content::Special(format!("{what} device {major}:{minor}"))
            }
            tar::EntryType::Fifo => Content::Special("fifo".into()),
            // Global PAX headers and vendor extensions describe the archive, not a file.
            _ => continue,
        };
        layer.additions.push(Addition::Entry(path, Entry { content, mode, uid, gid }));
    }
    // The size includes the end-of-archive blocks and padding after the last entry, as the builder stores them.
    let mut counting = archive.into_inner();
    std::io::copy(&mut counting, &mut std::io::sink())?;
    layer.size = counting.count;
    Ok(layer)
}

/// Stacks a layer on the tree. Whiteouts hide only what lower layers made, so they go first.
fn apply(files: &mut BTreeMap<String, Entry>, layer: &Layer) -> Result<()> {
    for dir in &layer.opaque {
        remove_below(files, dir);
    }
    for path in &layer.whiteouts {
        files.remove(path);
        remove_below(files, path);
    }
    for addition in &layer.additions {
        let (path, entry) = match addition {
            Addition::Entry(path, entry) => (path, entry.clone()),
            Addition::HardLink { path, target } => {
                let entry =
                    files.get(target).cloned().ok_or_else(|| anyhow!("{path} links to {target}, which is missing"))?;
                (path, entry)
            }
        };
        if entry.content != Content::Directory {
            remove_below(files, path);
        }
        files.insert(path.clone(), entry);
    }
    Ok(())
}

fn remove_below(files: &mut BTreeMap<String, Entry>, dir: &str) {
    let prefix = if dir == "/" { "/".to_string() } else { format!("{dir}/") };
    let below: Vec<String> = files
        .range(prefix.clone()..)
        .map(|(path, _)| path)
        .take_while(|path| path.starts_with(&prefix))
        .cloned()
        .collect();
    for path in below {
        if path != "/" {
            files.remove(&path);
        }
    }
}

/// `./usr/bin/` and `usr/bin` are both `/usr/bin`; `.` is `/`.
fn normalize(path: &str) -> String {
    let trimmed = path.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/');
    if trimmed.is_empty() || trimmed == "." {
        "/".into()
    } else {
        format!("/{trimmed}")
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// How a path differs between two images.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    pub path: String,
    /// `only in original`, `only in fixed`, `type`, `content`, `mode` or `owner`.
    pub change: &'static str,
    pub original: Option<String>,
    pub fixed: Option<String>,
    /// The bytes of the path's file content in the original and in the fixed image (0 when not a file there),
    /// for a report that sums what a fix dropped.
    #[serde(skip)]
    pub sizes: (u64, u64),
}

/// Which paths a comparison leaves out, and which it compares without their content.
pub struct Comparison<'a> {
    /// Left out entirely, with everything below.
    pub ignored: &'a dyn Fn(&str) -> bool,
    /// Compared by type, mode and owner only, because their bytes record when they were built.
    pub content_varies: &'a dyn Fn(&str) -> bool,
    /// Directories that a cache mount's target needs, which a builder leaves behind, empty, where the target was.
    pub mount_parent: &'a dyn Fn(&str) -> bool,
}

/// Every path whose type, content, mode or owner differs, in path order.
pub fn differences(original: &Image, fixed: &Image, comparison: &Comparison) -> Vec<Difference> {
    let mut found = Vec::new();
    let paths: std::collections::BTreeSet<&String> = original.files.keys().chain(fixed.files.keys()).collect();
    for path in paths {
        if (comparison.ignored)(path) {
            continue;
        }
        let (before, after) = (original.files.get(path), fixed.files.get(path));
        let sizes = (before.map_or(0, file_size), after.map_or(0, file_size));
        let difference = |change, original: Option<String>, fixed: Option<String>| Difference {
            path: path.clone(),
            change,
            original,
            fixed,
            sizes,
        };
        match (before, after) {
            (Some(a), None) if !holds_only_ignored(original, path, comparison) => {
                found.push(difference("only in original", Some(describe(a)), None))
            }
            (None, Some(b))
                if !holds_only_ignored(fixed, path, comparison) && !left_by_a_mount(fixed, path, comparison) =>
            {
                found.push(difference("only in fixed", None, Some(describe(b))))
            }
            (Some(a), Some(b)) => {
                let same_kind = std::mem::discriminant(&a.content) == std::mem::discriminant(&b.content);
                if !same_kind {
                    found.push(difference("type", Some(describe(a)), Some(describe(b))));
                } else if a.content != b.content && !(comparison.content_varies)(path) {
                    found.push(difference("content", Some(describe(a)), Some(describe(b))));
                }
                if a.mode != b.mode {
                    found.push(difference("mode", Some(format!("{:04o}", a.mode)), Some(format!("{:04o}", b.mode))));
                }
                if (a.uid, a.gid) != (b.uid, b.gid) {
                    found.push(difference(
                        "owner",
                        Some(format!("{}:{}", a.uid, a.gid)),
                        Some(format!("{}:{}", b.uid, b.gid)),
                    ));
                }
            }
            _ => {}
        }
    }
    found
}

/// A directory that exists in one image only to hold ignored paths (`/root/.cache` around pip's cache) is part
/// of what is ignored.
fn holds_only_ignored(image: &Image, dir: &str, comparison: &Comparison) -> bool {
    let prefix = format!("{dir}/");
    let mut below = image.files.range(prefix.clone()..).map(|(path, _)| path).take_while(|p| p.starts_with(&prefix));
    let Some(first) = below.next() else { return false };
    std::iter::once(first).chain(below).all(|path| (comparison.ignored)(path))
}

/// An empty directory of the fixed image where a cache mount's target was made.
fn left_by_a_mount(image: &Image, dir: &str, comparison: &Comparison) -> bool {
    let prefix = format!("{dir}/");
    let empty = image.files.range(prefix.clone()..).next().is_none_or(|(path, _)| !path.starts_with(&prefix));
    empty
        && matches!(image.files.get(dir).map(|e| &e.content), Some(Content::Directory))
        && (comparison.mount_parent)(dir)
}

fn file_size(entry: &Entry) -> u64 {
    match entry.content {
        Content::File { size, .. } => size,
        _ => 0,
    }
}

fn describe(entry: &Entry) -> String {
    match &entry.content {
        Content::Directory => "directory".into(),
        Content::File { sha256, size } => format!("file of {size} bytes, sha256 {}", &sha256[..12]),
        Content::Symlink { target } => format!("symlink to {target}"),
        Content::Special(what) => what.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    enum Item<'a> {
        Dir(&'a str),
        File(&'a str, &'a str),
        HardLink(&'a str, &'a str),
    }

    fn layer(items: &[Item]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for item in items {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o644);
            header.set_uid(0);
            header.set_gid(0);
            let (path, data): (&str, &[u8]) = match item {
                Item::Dir(path) => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    (path, b"")
                }
                Item::File(path, text) => (path, text.as_bytes()),
                Item::HardLink(path, target) => {
                    header.set_entry_type(tar::EntryType::Link);
                    header.set_link_name(target).unwrap();
                    (path, b"")
                }
            };
            header.set_size(data.len() as u64);
            builder.append_data(&mut header, path, data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    /// A docker-archive whose manifest lists the layers in order, with the layers stored in reverse, as nothing
    /// promises the manifest or the layers come in any order.
    fn archive(layers: &[Vec<u8>]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let names: Vec<String> = (0..layers.len()).map(|i| format!("layer{i}/layer.tar")).collect();
        for (name, data) in names.iter().zip(layers).rev() {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, name, data.as_slice()).unwrap();
        }
        let manifest = serde_json::json!([{"Config": "config.json", "Layers": names}]).to_string();
        let mut header = tar::Header::new_gnu();
        header.set_size(manifest.len() as u64);
        builder.append_data(&mut header, "manifest.json", manifest.as_bytes()).unwrap();
        builder.into_inner().unwrap()
    }

    fn read(layers: &[Vec<u8>]) -> Image {
        read_archive(archive(layers).as_slice()).unwrap()
    }

    fn paths(image: &Image) -> Vec<&str> {
        image.files.keys().map(String::as_str).collect()
    }

    #[test]
    fn layers_stack_with_whiteouts_opaque_directories_and_hard_links() {
        let image = read(&[
            layer(&[Item::Dir("etc/"), Item::File("etc/a", "1"), Item::Dir("cache/"), Item::File("cache/x", "x")]),
            layer(&[
                Item::File("etc/.wh.a", ""),
                Item::File("cache/.wh..wh..opq", ""),
                Item::File("cache/y", "y"),
                Item::File("etc/b", "2"),
                Item::HardLink("etc/c", "etc/b"),
            ]),
        ]);
        assert_eq!(image.layers, 2);
        assert_eq!(paths(&image), ["/", "/cache", "/cache/y", "/etc", "/etc/b", "/etc/c"]);
        assert_eq!(image.files["/etc/b"], image.files["/etc/c"]);
        assert!(matches!(image.files["/etc/b"].content, Content::File { size: 1, .. }));
    }

    #[test]
    fn a_layer_the_manifest_names_twice_counts_twice() {
        let mut builder = tar::Builder::new(Vec::new());
        let data = layer(&[Item::File("a", "1")]);
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        builder.append_data(&mut header, "same.tar", data.as_slice()).unwrap();
        let manifest = serde_json::json!([{"Layers": ["same.tar", "same.tar"]}]).to_string();
        let mut header = tar::Header::new_gnu();
        header.set_size(manifest.len() as u64);
        builder.append_data(&mut header, "manifest.json", manifest.as_bytes()).unwrap();
        let image = read_archive(builder.into_inner().unwrap().as_slice()).unwrap();
        assert_eq!((image.layers, image.size), (2, 2 * data.len() as u64));
        assert_eq!(paths(&image), ["/", "/a"]);
    }

    #[test]
    fn a_whiteout_hides_only_lower_layers() {
        // A layer that deletes a directory and makes it again keeps what it made.
        let image = read(&[
            layer(&[Item::Dir("d/"), Item::File("d/old", "o")]),
            layer(&[Item::File(".wh.d", ""), Item::Dir("d/"), Item::File("d/new", "n")]),
        ]);
        assert_eq!(paths(&image), ["/", "/d", "/d/new"]);
    }

    #[test]
    fn differences_leave_out_ignored_paths_directories_that_only_hold_them_and_mount_parents() {
        let original = read(&[layer(&[
            Item::Dir("root/"),
            Item::Dir("root/.cache/"),
            Item::Dir("root/.cache/pip/"),
            Item::File("root/.cache/pip/wheel", "w"),
            Item::File("app.pyc", "stamp 1"),
            Item::File("kept", "same"),
            Item::File("lost", "gone"),
            Item::File("changed", "before"),
        ])]);
        // A cache mount leaves its target's parent behind, empty; another empty directory is a difference.
        let fixed = read(&[layer(&[
            Item::Dir("root/"),
            Item::Dir("root/.cache/"),
            Item::Dir("srv/"),
            Item::File("app.pyc", "stamp 2"),
            Item::File("kept", "same"),
            Item::File("changed", "after"),
        ])]);
        let ignored = |path: &str| path.starts_with("/root/.cache/pip");
        let content_varies = |path: &str| path.ends_with(".pyc");
        let mount_parent = |path: &str| path == "/root/.cache";
        let comparison = Comparison { ignored: &ignored, content_varies: &content_varies, mount_parent: &mount_parent };
        let found = differences(&original, &fixed, &comparison);
        let found: Vec<(&str, &str)> = found.iter().map(|d| (d.path.as_str(), d.change)).collect();
        assert_eq!(found, [("/changed", "content"), ("/lost", "only in original"), ("/srv", "only in fixed")]);
    }

    #[test]
    fn gzip_layers_are_read_and_sized_uncompressed() {
        let plain = layer(&[Item::File("etc/a", &"x".repeat(5000))]);
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gzip, &plain).unwrap();
        let compressed = gzip.finish().unwrap();
        let (from_plain, from_gzip) = (read(std::slice::from_ref(&plain)), read(&[compressed]));
        assert_eq!(from_gzip.size, plain.len() as u64);
        assert_eq!(from_plain.size, plain.len() as u64);
        assert_eq!(from_gzip.files, from_plain.files);
    }

    #[test]
    fn zstd_layers_and_missing_manifests_are_errors() {
        let mut zstd_layer = vec![0x28, 0xb5, 0x2f, 0xfd];
        zstd_layer.resize(1024, 0);
        let error = read_archive(archive(&[zstd_layer]).as_slice()).err().unwrap();
        assert!(format!("{error:#}").contains("zstd-compressed"), "{error:#}");
        let error = read_archive(layer(&[Item::File("x", "y")]).as_slice()).err().unwrap();
        assert!(format!("{error:#}").contains("no manifest.json"), "{error:#}");
    }
}
