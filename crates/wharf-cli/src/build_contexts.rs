//! `--build-context NAME=VALUE` (buildx's syntax): an image
//! (`docker-image://REF`) or a directory that `FROM NAME`,
//! `COPY --from=NAME` and `--mount from=NAME` read instead of a stage or
//! an image of that name.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use wharf_frontend::plan::NamedContext;
use wharf_oci::Reference;

/// The named contexts of the command line, by lowercase name, with the
/// directory of each directory context.
pub fn parse(raw: &[String]) -> Result<BTreeMap<String, (NamedContext, Option<PathBuf>)>> {
    let mut out = BTreeMap::new();
    for spec in raw {
        let (name, value) = spec
            .split_once('=')
            .filter(|(n, v)| !n.is_empty() && !v.is_empty())
            .with_context(|| {
                format!("--build-context {spec}: write NAME=DIR or NAME=docker-image://REF")
            })?;
        let context = if let Some(r) = value.strip_prefix("docker-image://") {
            Reference::parse(r).with_context(|| {
                format!("--build-context {spec}: {r} is not an image reference")
            })?;
            (NamedContext::Image(r.to_string()), None)
        } else if let Some(scheme) = ["oci-layout://", "git://", "git@", "http://", "https://"]
            .iter()
            .find(|s| value.starts_with(*s))
        {
            bail!(
                "--build-context {spec}: {scheme} contexts are not supported; give a directory or docker-image://REF (for a git repository or an archive, fetch it into a directory first)"
            );
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
                Some(dir),
            )
        };
        if out.insert(name.to_ascii_lowercase(), context).is_some() {
            bail!("--build-context {spec}: {name} is given twice");
        }
    }
    Ok(out)
}
