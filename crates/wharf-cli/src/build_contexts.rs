//! `--build-context NAME=VALUE` (buildx's syntax): an image
//! (`docker-image://REF`), a directory, a git repository or an https
//! tarball (both fetched into a directory before the build) that
//! `FROM NAME`, `COPY --from=NAME` and `--mount from=NAME` read instead of
//! a stage or an image of that name.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use wharf_build::remote_context::RemoteContext;
use wharf_frontend::plan::NamedContext;
use wharf_oci::Reference;

/// Where a named context's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextFiles {
    /// An image: the plan names it, the resolver finds it.
    Image,
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
                format!("--build-context {spec}: write NAME=DIR, NAME=docker-image://REF, NAME=<git URL> or NAME=<https tarball URL>")
            })?;
        let context = if let Some(r) = value.strip_prefix("docker-image://") {
            Reference::parse(r).with_context(|| {
                format!("--build-context {spec}: {r} is not an image reference")
            })?;
            (NamedContext::Image(r.to_string()), ContextFiles::Image)
        } else if value.starts_with("oci-layout://") {
            bail!(
                "--build-context {spec}: oci-layout:// contexts are not supported; push the layout's image to a registry (skopeo copy oci:PATH:TAG docker://REF) and give docker-image://REF"
            );
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
