//! `--build-context NAME=VALUE` (buildx's syntax): an image
//! (`docker-image://REF`, or `oci-layout://PATH[:TAG|@DIGEST]` from a
//! layout on disk), a directory, a git repository or an https
//! tarball (both fetched into a directory before the build) that
//! `FROM NAME`, `COPY --from=NAME` and `--mount from=NAME` read instead of
//! a stage or an image of that name.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use wharf_build::layout_images::LayoutImage;
use wharf_build::remote_context::RemoteContext;
use wharf_frontend::plan::NamedContext;
use wharf_oci::Reference;

/// Where a named context's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextFiles {
    /// An image: the plan names it, the resolver finds it.
    Image,
    /// An image of an OCI layout on disk.
    Layout(LayoutImage),
    Directory(PathBuf),
    /// A URL fetched into a directory when the build starts.
    Remote(RemoteContext),
}

/// The named contexts of the command line, by lowercase name, with where
/// the files of each are.
pub fn parse(raw: &[String]) -> Result<BTreeMap<String, (NamedContext, ContextFiles)>> {
    let mut out = BTreeMap::new();
    for spec in raw {
        let (name, value) = spec
            .split_once('=')
            .filter(|(n, v)| !n.is_empty() && !v.is_empty())
            .with_context(|| {
                format!("--build-context {spec}: write NAME=DIR, NAME=docker-image://REF, NAME=oci-layout://PATH[:TAG], NAME=<git URL> or NAME=<https tarball URL>")
            })?;
        let context = if let Some(r) = value.strip_prefix("docker-image://") {
            Reference::parse(r).with_context(|| {
                format!("--build-context {spec}: {r} is not an image reference")
            })?;
            (NamedContext::Image(r.to_string()), ContextFiles::Image)
        } else if let Some(layout) = value.strip_prefix("oci-layout://") {
            let image = LayoutImage::parse(name, layout)
                .map_err(|e| anyhow::anyhow!("--build-context {spec}: {e}"))?;
            (
                NamedContext::Image(image.reference.to_string()),
                ContextFiles::Layout(image),
            )
        } else if let Some(remote) = RemoteContext::classify(value) {
            (
                NamedContext::Directory(value.to_string()),
                ContextFiles::Remote(remote),
            )
        } else {
            let dir = PathBuf::from(value);
            if !dir.is_dir() {
                bail!("--build-context {spec}: {value} is not a directory");
            }
            let dir = dir
                .canonicalize()
                .with_context(|| format!("--build-context {spec}: cannot resolve {value}"))?;
            (
                NamedContext::Directory(dir.display().to_string()),
                ContextFiles::Directory(dir),
            )
        };
        if out.insert(name.to_ascii_lowercase(), context).is_some() {
            bail!("--build-context {spec}: {name} is given twice");
        }
    }
    Ok(out)
}
