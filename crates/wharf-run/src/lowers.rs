//! Reading a stage's files straight from its unpacked layer snapshots (the
//! overlay lower directories, top first) without mounting them: finding
//! `/etc/passwd` to resolve USER, and narrowing a stage's layers to a
//! subdirectory for `--mount=from=<stage>,source=<dir>`.
//!
//! Snapshots record deletions the way overlayfs reads them: a 0/0
//! character device hides the name in every lower layer, and a directory
//! with an `overlay.opaque` xattr hides the directories below it.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Where a path is in a stack of snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The top-most copy of the path (not followed if it is a symlink).
    Found(PathBuf),
    /// Deleted by a layer above its last copy, or never there.
    Missing,
}

fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    ["trusted.overlay.opaque", "user.overlay.opaque"]
        .iter()
        .any(|name| {
            rustix::fs::lgetxattr(dir, *name, &mut [0u8; 4])
                .map(|n| n == 1)
                .unwrap_or(false)
        })
}

fn components(rel: &str) -> Vec<&str> {
    rel.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

/// The directories of `lowers` (top first) that contribute to the
/// directory `rel`, in the same order: what an overlay of `rel` in each
/// would show. Empty when `rel` is not a directory in the merged tree.
pub fn subdir_lowers(lowers: &[PathBuf], rel: &str) -> Vec<PathBuf> {
    let comps = components(rel);
    let mut out = Vec::new();
    for lower in lowers {
        let mut path = lower.clone();
        let mut hidden_below = false;
        let mut present = true;
        for c in &comps {
            path.push(c);
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => {
                    // An opaque directory hides deeper layers from here on.
                    hidden_below |= is_opaque(&path);
                }
                Ok(_) => {
                    // A whiteout or a non-directory hides every deeper layer.
                    present = false;
                    hidden_below = true;
                    break;
                }
                Err(_) => {
                    present = false;
                    break;
                }
            }
        }
        if present {
            out.push(path);
        }
        if hidden_below {
            break;
        }
    }
    out
}

/// The top-most copy of the file `rel` in `lowers` (top first).
pub fn find_file(lowers: &[PathBuf], rel: &str) -> Lookup {
    let comps = components(rel);
    let Some((leaf, parents)) = comps.split_last() else {
        return Lookup::Missing;
    };
    let dirs = subdir_lowers(lowers, &parents.join("/"));
    for dir in dirs {
        let p = dir.join(leaf);
        match fs::symlink_metadata(&p) {
            Ok(m) if is_whiteout(&m) => return Lookup::Missing,
            Ok(_) => return Lookup::Found(p),
            Err(_) => continue,
        }
    }
    Lookup::Missing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whiteout(p: &Path) {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            p,
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            rustix::fs::makedev(0, 0),
        )
        .unwrap();
    }

    #[test]
    fn top_copy_wins_and_whiteouts_hide() {
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
        let lowers = vec![top.clone(), mid.clone(), base.clone()];
        assert_eq!(
            find_file(&lowers, "etc/passwd"),
            Lookup::Found(mid.join("etc/passwd"))
        );
        assert_eq!(find_file(&lowers, "/etc/group"), Lookup::Missing);
        assert_eq!(find_file(&lowers, "etc/shadow"), Lookup::Missing);
        assert_eq!(
            subdir_lowers(&lowers, "etc"),
            vec![top.join("etc"), mid.join("etc"), base.join("etc")]
        );
        // Deleting the directory in the middle layer hides the base's copy.
        fs::remove_dir_all(mid.join("etc")).unwrap();
        whiteout(&mid.join("etc"));
        assert_eq!(subdir_lowers(&lowers, "etc"), vec![top.join("etc")]);
        assert_eq!(find_file(&lowers, "etc/passwd"), Lookup::Missing);
    }
}
