//! `--build-context NAME=URL` for a git repository or an https tarball:
//! fetched once, before the build, into a directory that then serves as
//! a directory context (`COPY --from=NAME`), as buildx does.
//!
//! Which URLs are git repositories follows BuildKit: `git://`, `git@`, and
//! `http(s)://` URLs whose path ends in `.git` (each with an optional
//! `#ref[:subdir]`); any other `http(s)://` URL is a tarball, extracted by
//! the layer engine's safe unpacker (gzip, zstd or plain tar; Linux hosts).

use crate::api::BaseResolver;
use crate::git_source::GitSource;
use std::path::{Path, PathBuf};
use wharf_store::Store;

/// A context that must be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteContext {
    Git(GitSource),
    Tarball(String),
}

impl RemoteContext {
    /// What `value` names, if it is a URL context.
    pub fn classify(value: &str) -> Option<RemoteContext> {
        let before_fragment = value.split('#').next().unwrap_or(value);
        let http = value.starts_with("https://") || value.starts_with("http://");
        if value.starts_with("git://")
            || value.starts_with("git@")
            || (http && before_fragment.trim_end_matches('/').ends_with(".git"))
        {
            return Some(RemoteContext::Git(GitSource::parse(value)));
        }
        http.then(|| RemoteContext::Tarball(value.to_string()))
    }

    /// Fetches the context into `into` (an empty directory that outlives
    /// the build); returns the directory to read.
    pub fn fetch(
        &self,
        resolver: &dyn BaseResolver,
        store: &Store,
        into: &Path,
    ) -> Result<PathBuf, String> {
        match self {
            RemoteContext::Git(g) => {
                let checkout = into.join("checkout");
                g.checkout(&checkout, false)?;
                g.root_in(&checkout)
            }
            #[cfg(not(target_os = "linux"))]
            RemoteContext::Tarball(_) => {
                let _ = (resolver, store, into);
                Err("tarball contexts are unpacked on Linux hosts only; extract it into a directory and give that".into())
            }
            #[cfg(target_os = "linux")]
            RemoteContext::Tarball(url) => {
                let digest = resolver
                    .download(url, None, store)
                    .map_err(|e| format!("downloading it: {e}"))?;
                let tree = into.join("tree");
                std::fs::create_dir(&tree).map_err(|e| format!("{}: {e}", tree.display()))?;
                wharf_layer::apply_layer_file(
                    &store.blob_path(&digest),
                    &tree,
                    &wharf_layer::ApplyOptions::default(),
                )
                .map_err(|e| {
                    format!(
                        "it is not a tar archive this build can unpack (gzip, zstd or plain): {e}"
                    )
                })?;
                Ok(tree)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_apart_as_buildkit_does() {
        let git = |v: &str| matches!(RemoteContext::classify(v), Some(RemoteContext::Git(_)));
        assert!(git("https://github.com/moby/buildkit.git#v0.12:docs"));
        assert!(git("git@github.com:moby/buildkit.git"));
        assert!(git("git://example.com/repo"));
        assert_eq!(
            RemoteContext::classify("https://example.com/src.tar.gz"),
            Some(RemoteContext::Tarball(
                "https://example.com/src.tar.gz".into()
            ))
        );
        assert_eq!(RemoteContext::classify("./dir"), None);
    }
}
