//! Removal of the mount-point stubs the sandbox created in the upper directory.
//!
//! A mount needs an existing target. When the lower layers lack it (`/proc` in a
//! minimal image, a bind target, `/etc/hosts` in `scratch`), the sandbox creates it in
//! the merged tree, which puts it — and a copy-up of every existing ancestor — into the
//! upper directory. Afterwards, as BuildKit does, each stub is removed again if it is
//! still an empty directory or an empty file, and each copied-up ancestor is removed if
//! it is now empty, not opaque, and has the same mode and owner as in the lowers. What
//! the command itself changed stays.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::union::{xattr_is_y, Union};
use crate::SandboxError;

/// Stubs recorded while planning, as paths relative to the container root.
#[derive(Debug, Default)]
pub(crate) struct Stubs {
    /// Entries the sandbox creates, in creation order, with whether each is a directory.
    pub created: Vec<(PathBuf, bool)>,
    /// Existing directories that creating a stub copies up.
    pub copied_up: Vec<PathBuf>,
}

fn is_empty_dir(path: &Path) -> Result<bool, SandboxError> {
    let mut entries =
        fs::read_dir(path).map_err(|e| SandboxError::io("listing the upper directory", path, e))?;
    Ok(entries.next().is_none())
}

fn is_opaque(path: &Path) -> bool {
    xattr_is_y(path, "trusted.overlay.opaque") || xattr_is_y(path, "user.overlay.opaque")
}

impl Stubs {
    /// Removes the stubs from `upper`; `union` is the lower view they were planned on.
    pub fn remove(&self, upper: &Path, union: &Union<'_>) -> Result<(), SandboxError> {
        for (rel, is_dir) in self.created.iter().rev() {
            let path = upper.join(rel);
            let Ok(md) = fs::symlink_metadata(&path) else {
                continue;
            };
            if *is_dir && md.is_dir() && is_empty_dir(&path)? && !is_opaque(&path) {
                fs::remove_dir(&path)
                    .map_err(|e| SandboxError::io("removing the mount point stub", &path, e))?;
            } else if !*is_dir && md.is_file() && md.len() == 0 {
                fs::remove_file(&path)
                    .map_err(|e| SandboxError::io("removing the mount point stub", &path, e))?;
            }
        }
        let mut dirs = self.copied_up.clone();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        dirs.dedup();
        for rel in dirs {
            let path = upper.join(&rel);
            let Ok(md) = fs::symlink_metadata(&path) else {
                continue;
            };
            let Some(lower) = union.metadata(&rel) else {
                continue;
            };
            let same =
                md.mode() == lower.mode() && md.uid() == lower.uid() && md.gid() == lower.gid();
            if md.is_dir() && same && is_empty_dir(&path)? && !is_opaque(&path) {
                fs::remove_dir(&path)
                    .map_err(|e| SandboxError::io("removing a copied-up directory", &path, e))?;
            }
        }
        Ok(())
    }
}
