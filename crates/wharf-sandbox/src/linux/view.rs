//! The merged view of a stack of lower directories, for callers: the same
//! lookup the sandbox uses to place its mount points (overlayfs whiteouts
//! and opaque directories honoured, symlinks followed inside the root),
//! so a builder can read a stage's `/etc/passwd` or narrow a stage to a
//! subdirectory without mounting anything.

use super::union::{Kind, Union};
use std::fs;
use std::path::{Path, PathBuf};

/// What a path is in the merged view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LowerKind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A device, socket or fifo (or a symlink that could not be followed).
    Other,
}

/// A path found in the merged view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowerEntry {
    /// What the path is.
    pub kind: LowerKind,
    /// The path relative to the root, symlinks resolved.
    pub rel: PathBuf,
    /// For a directory, every layer copy that contributes to it (top
    /// first, as overlayfs merges them); otherwise the one visible copy.
    pub layers: Vec<PathBuf>,
}

/// A path resolved as far as the merged view has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowerPath {
    /// Existing ancestors (relative, symlinks resolved), shallowest first;
    /// the root and the path itself are not included.
    pub existing_parents: Vec<PathBuf>,
    /// Components that do not exist, shallowest first (the path itself
    /// last, when missing).
    pub missing: Vec<PathBuf>,
}

/// The merged view of lower directories (top first).
pub struct LowerView<'a> {
    union: Union<'a>,
}

impl<'a> LowerView<'a> {
    /// The view of `lowers`, top first.
    pub fn new(lowers: &'a [PathBuf]) -> Self {
        LowerView {
            union: Union::new(lowers),
        }
    }

    /// The entry at the absolute container path `path`, if it exists.
    pub fn lookup(&self, path: &str) -> Option<LowerEntry> {
        let r = self.union.resolve(path);
        if r.existing < r.components.len() {
            return None;
        }
        let (kind, layers) = self.union.entry(&r.components)?;
        Some(LowerEntry {
            kind: match kind {
                Kind::Dir => LowerKind::Dir,
                Kind::File => LowerKind::File,
                Kind::Other => LowerKind::Other,
            },
            rel: r.rel(),
            layers,
        })
    }

    /// How much of `path` exists.
    pub fn resolve(&self, path: &str) -> LowerPath {
        let r = self.union.resolve(path);
        LowerPath {
            existing_parents: r.existing_dirs(),
            missing: r.missing(),
        }
    }

    /// Metadata of the visible copy of the relative path `rel` (not followed).
    pub fn metadata(&self, rel: &Path) -> Option<fs::Metadata> {
        self.union.metadata(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whiteout(p: &Path) {
        let ok = std::process::Command::new("mknod")
            .arg(p)
            .args(["c", "0", "0"])
            .status()
            .unwrap()
            .success();
        assert!(ok, "mknod {}", p.display());
    }

    #[test]
    fn top_copy_wins_whiteouts_hide_and_directories_merge() {
        let t = tempfile::tempdir().unwrap();
        let (top, mid, base) = (
            t.path().join("top"),
            t.path().join("mid"),
            t.path().join("base"),
        );
        for d in [&top, &mid, &base] {
            fs::create_dir_all(d.join("etc")).unwrap();
        }
        fs::write(base.join("etc/passwd"), "base").unwrap();
        fs::write(mid.join("etc/passwd"), "mid").unwrap();
        fs::write(base.join("etc/group"), "g").unwrap();
        whiteout(&mid.join("etc/group"));
        std::os::unix::fs::symlink("etc", base.join("conf")).unwrap();
        let lowers = vec![top.clone(), mid.clone(), base.clone()];
        let v = LowerView::new(&lowers);

        let passwd = v.lookup("/etc/passwd").unwrap();
        assert_eq!(passwd.kind, LowerKind::File);
        assert_eq!(passwd.layers, [mid.join("etc/passwd")]);
        // Through a symlink inside the root.
        assert_eq!(
            v.lookup("conf/passwd").unwrap().rel,
            PathBuf::from("etc/passwd")
        );
        assert_eq!(v.lookup("/etc/group"), None);
        let etc = v.lookup("/etc").unwrap();
        assert_eq!(etc.kind, LowerKind::Dir);
        assert_eq!(
            etc.layers,
            [top.join("etc"), mid.join("etc"), base.join("etc")]
        );
        assert_eq!(v.lookup("/").unwrap().layers, lowers);

        let p = v.resolve("/etc/app/work");
        assert_eq!(p.existing_parents, [PathBuf::from("etc")]);
        assert_eq!(
            p.missing,
            [PathBuf::from("etc/app"), PathBuf::from("etc/app/work")]
        );
        assert!(v.metadata(Path::new("etc")).unwrap().is_dir());

        // Deleting /etc in the middle layer hides the base's copy.
        fs::remove_dir_all(mid.join("etc")).unwrap();
        whiteout(&mid.join("etc"));
        assert_eq!(v.lookup("/etc").unwrap().layers, [top.join("etc")]);
        assert_eq!(v.lookup("/etc/passwd"), None);
    }
}
