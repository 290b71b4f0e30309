//! `--output` values, parsed and checked before any work starts.

use anyhow::{bail, Result};
use std::path::PathBuf;

/// Where a build's result goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// OCI image layout directory.
    OciDir(PathBuf),
    /// OCI image layout in a tar archive.
    OciArchive(PathBuf),
    /// docker-archive tarball (`docker load`).
    DockerArchive(PathBuf),
    /// Push every tag to its registry.
    Registry,
}

/// Parses `type=oci,dest=out` and friends.
pub fn parse_output(spec: &str) -> Result<Output> {
    let mut kind = None;
    let mut dest = None;
    for field in spec.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k.trim() {
            "type" => kind = Some(v.trim().to_string()),
            "dest" => dest = Some(PathBuf::from(v.trim())),
            "push" if kind.as_deref() == Some("image") => {}
            other => bail!(
                "--output {spec}: unknown field {other:?}; use type=oci|docker|registry and dest=PATH"
            ),
        }
    }
    let kind = match kind {
        Some(k) => k,
        // `-o DIR` is buildx shorthand for a local export; we have no
        // plain-directory exporter, so say what exists.
        None => bail!(
            "--output {spec}: missing type=; use type=oci,dest=DIR, type=oci,dest=FILE.tar, type=docker,dest=FILE.tar or type=registry"
        ),
    };
    let need_dest = |d: Option<PathBuf>| -> Result<PathBuf> {
        d.filter(|p| !p.as_os_str().is_empty())
            .ok_or_else(|| anyhow::anyhow!("--output {spec}: type={kind} needs dest=PATH"))
    };
    Ok(match kind.as_str() {
        "oci" => {
            let d = need_dest(dest)?;
            if d.extension().is_some_and(|e| e == "tar") {
                Output::OciArchive(d)
            } else {
                Output::OciDir(d)
            }
        }
        "docker" => Output::DockerArchive(need_dest(dest)?),
        "registry" | "image" => Output::Registry,
        other => bail!("--output {spec}: unknown type {other:?}; use oci, docker or registry"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs() {
        assert_eq!(
            parse_output("type=oci,dest=out").unwrap(),
            Output::OciDir("out".into())
        );
        assert_eq!(
            parse_output("type=oci,dest=img.tar").unwrap(),
            Output::OciArchive("img.tar".into())
        );
        assert_eq!(
            parse_output("type=docker,dest=d.tar").unwrap(),
            Output::DockerArchive("d.tar".into())
        );
        assert_eq!(parse_output("type=registry").unwrap(), Output::Registry);
        assert!(parse_output("type=oci")
            .unwrap_err()
            .to_string()
            .contains("dest=PATH"));
        assert!(parse_output("type=zip,dest=x")
            .unwrap_err()
            .to_string()
            .contains("unknown type"));
        assert!(parse_output("dest=x")
            .unwrap_err()
            .to_string()
            .contains("missing type"));
        assert!(parse_output("type=oci,dst=x")
            .unwrap_err()
            .to_string()
            .contains("unknown field"));
    }
}
