//! Unpacked layer snapshots: each Linux layer unpacked once into the store
//! and shared by every RUN (of every build) that runs on top of it, as an
//! overlayfs lower directory.
//!
//! A snapshot keeps the layer's deletions as overlayfs reads them (0/0
//! character devices, an `overlay.opaque` xattr), so a stage's root is the
//! overlay of its layers' snapshots, top first, with nothing merged or
//! copied. Snapshots live under `<store>/wharf-snapshots/<diff_id hex>`;
//! overlays mounted in a user namespace (rootless builds) read `user.`
//! xattrs instead of `trusted.` ones, so their snapshots sit beside, with a
//! `-user` suffix. A snapshot is unpacked into a temporary directory and
//! renamed into place, so a half-unpacked tree is never used, and two
//! builds unpacking the same layer at once both end with the same tree.

#[cfg(target_os = "linux")]
use crate::layer_store::LayerStore;
#[cfg(target_os = "linux")]
use crate::layer_store::{LayerRef, LayerStoreError};
#[cfg(target_os = "linux")]
use std::fs;
#[cfg(target_os = "linux")]
use std::path::PathBuf;

/// Which xattr namespace the overlay that reads the snapshot uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotXattrs {
    /// `trusted.overlay.*`: overlays mounted by real root.
    Trusted,
    /// `user.overlay.*`: overlays mounted with `userxattr` in a user namespace.
    User,
}

impl SnapshotXattrs {
    /// The xattr name prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            SnapshotXattrs::Trusted => "trusted.",
            SnapshotXattrs::User => "user.",
        }
    }
}

#[cfg(target_os = "linux")]
impl LayerStore {
    /// The unpacked snapshot of `layer` (a Linux layer in the store),
    /// unpacking it on first use.
    pub fn snapshot(
        &self,
        layer: &LayerRef,
        xattrs: SnapshotXattrs,
    ) -> Result<PathBuf, LayerStoreError> {
        let root = self.store().root().join("wharf-snapshots");
        let hex = layer.diff_id.trim_start_matches("sha256:");
        let name = match xattrs {
            SnapshotXattrs::Trusted => hex.to_string(),
            SnapshotXattrs::User => format!("{hex}-user"),
        };
        let dest = root.join(&name);
        if dest.is_dir() {
            return Ok(dest);
        }
        fs::create_dir_all(&root).map_err(|source| LayerStoreError::Io {
            path: root.display().to_string(),
            source,
        })?;
        let tmp = tempfile::Builder::new()
            .prefix(".unpacking-")
            .tempdir_in(&root)
            .map_err(|source| LayerStoreError::Io {
                path: root.display().to_string(),
                source,
            })?;
        let tree = tmp.path().join("tree");
        fs::create_dir(&tree).map_err(|source| LayerStoreError::Io {
            path: tree.display().to_string(),
            source,
        })?;
        let blob = self.store().blob_path(&layer.descriptor.digest);
        let opts = wharf_layer::ApplyOptions {
            whiteouts: wharf_layer::WhiteoutStyle::Overlay {
                xattr_prefix: xattrs.prefix().to_string(),
            },
            ..Default::default()
        };
        wharf_layer::apply_layer_file(&blob, &tree, &opts)?;
        match fs::rename(&tree, &dest) {
            Ok(()) => Ok(dest),
            // Another build finished the same snapshot first.
            Err(_) if dest.is_dir() => Ok(dest),
            Err(source) => Err(LayerStoreError::Io {
                path: dest.display().to_string(),
                source,
            }),
        }
    }
}
