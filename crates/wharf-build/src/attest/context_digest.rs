//! The context's digest for provenance: SHA-256 over the sorted list of
//! what a build may read from its context (`.dockerignore` applied), one
//! record per entry: kind, path and the SHA-256 of the content (files) or
//! the link target (symlinks). Modes and times are left out, so a fresh
//! checkout of the same tree gives the same digest.

use crate::context::{BuildContext, EntryKind};
use std::io::Read;
use wharf_oci::{Digest, Hasher};

/// The digest of `context`'s files (see the module docs).
pub fn context_digest(context: &BuildContext) -> Result<Digest, String> {
    let entries = context.walk("", &|_| false).map_err(|e| e.to_string())?;
    let mut list = Hasher::sha256();
    for e in entries {
        let host = context.host_path(&e.rel);
        let (kind, what) = match e.kind {
            EntryKind::File => {
                let mut f = std::fs::File::open(&host)
                    .map_err(|err| format!("reading {}: {err}", host.display()))?;
                let mut h = Hasher::sha256();
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    let n = f
                        .read(&mut buf)
                        .map_err(|err| format!("reading {}: {err}", host.display()))?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
                ("f", h.finish().to_string())
            }
            EntryKind::Symlink => (
                "l",
                std::fs::read_link(&host)
                    .map_err(|err| format!("reading {}: {err}", host.display()))?
                    .to_string_lossy()
                    .to_string(),
            ),
            EntryKind::Dir => ("d", String::new()),
            EntryKind::Other => continue,
        };
        list.update(format!("{kind}\0{}\0{what}\n", e.rel).as_bytes());
    }
    Ok(list.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_changes_the_digest_and_ignored_files_do_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "one").unwrap();
        std::fs::write(dir.path().join(".dockerignore"), "skip.txt\n").unwrap();
        let ignore =
            wharf_frontend::dockerignore::DockerIgnore::parse(".dockerignore", "skip.txt\n")
                .unwrap();
        let ctx = BuildContext::new(dir.path(), Some(ignore));
        let first = context_digest(&ctx).unwrap();
        std::fs::write(dir.path().join("skip.txt"), "x").unwrap();
        assert_eq!(context_digest(&ctx).unwrap(), first);
        std::fs::write(dir.path().join("a.txt"), "two").unwrap();
        assert_ne!(context_digest(&ctx).unwrap(), first);
    }
}
