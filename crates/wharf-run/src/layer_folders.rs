//! The file operations that importing Windows layers needs besides HCS,
//! behind [`LayerFolderOps`], so that the import sequence
//! (`windows_host`) is portable and tested on Linux with a fake; the
//! Windows implementation is `windows_shim::WindowsFolders`.
//!
//! Most operations are plain standard-library calls that behave the same
//! on every host ([`host_fs`]); only writing a base layer folder
//! ([`LayerFolderOps::base_writer`]: `CreateFileW` with the security
//! rights, `SetFileInformationByHandle`, `BackupWrite`, `CreateHardLinkW`)
//! is Windows-only.
//!
//! Each layer folder `<hex>` has two siblings: `<hex>.imported`, the
//! completion marker, written last (a folder without it is not trusted: it
//! is removed and imported again), and `<hex>.lock`, held while a build
//! checks or imports the folder, so that concurrent builds share one
//! import ([`ImportLock`]).

use fs4::fs_std::FileExt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use wharf_layer::BaseLayerSink;

/// File operations on layer folders. Relative paths are `/`-separated,
/// relative to a layer folder (`Files/Windows/a.dll`).
pub trait LayerFolderOps {
    /// Writes a base layer's entries into a folder.
    type BaseWriter: BaseLayerSink;

    /// A writer of the base layer folder `root` (created already), with
    /// the privileges it needs enabled.
    fn base_writer(&mut self, root: &Path) -> io::Result<Self::BaseWriter>;
    /// Creates a folder (its parent exists; the folder must not).
    fn create_folder(&mut self, path: &Path) -> io::Result<()>;
    /// Removes a folder and everything in it; a missing one is no error.
    fn remove_folder(&mut self, path: &Path) -> io::Result<()>;
    /// Removes `path` (a file or a whole directory) under `root` without
    /// following reparse points; a missing one is no error.
    fn remove_relative(&mut self, root: &Path, path: &str) -> io::Result<()>;
    /// Creates `root/path` as a hard link to `target_root/target`.
    fn link_relative(
        &mut self,
        target_root: &Path,
        target: &str,
        root: &Path,
        path: &str,
    ) -> io::Result<()>;
    /// Whether `root/path` exists (not following a final reparse point).
    fn exists_relative(&mut self, root: &Path, path: &str) -> io::Result<bool>;
    /// Writes the completion marker of `folder`.
    fn write_marker(&mut self, folder: &Path) -> io::Result<()>;
    /// Removes the completion marker of `folder`; a missing one is no error.
    fn remove_marker(&mut self, folder: &Path) -> io::Result<()>;
    /// Whether `folder` exists and has its completion marker.
    fn is_complete(&mut self, folder: &Path) -> io::Result<bool>;
}

/// `<folder>.<suffix>`, beside the folder.
pub fn sibling(folder: &Path, suffix: &str) -> PathBuf {
    let mut name = folder.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// The completion marker of a layer folder.
pub fn marker_path(folder: &Path) -> PathBuf {
    sibling(folder, "imported")
}

/// Held while a build checks or imports one layer folder; released on drop.
#[derive(Debug)]
pub struct ImportLock {
    file: File,
}

impl ImportLock {
    /// Waits for and takes the lock of `folder` (`<folder>.lock`).
    pub fn acquire(folder: &Path) -> io::Result<Self> {
        let path = sibling(folder, "lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        FileExt::lock_exclusive(&file)?;
        Ok(ImportLock { file })
    }
}

impl Drop for ImportLock {
    fn drop(&mut self) {
        let _ = FileExt::unlock(&self.file);
    }
}

/// The portable operations, with the standard library.
pub mod host_fs {
    use super::marker_path;
    use std::io;
    use std::path::{Path, PathBuf};

    fn not_found_ok(result: io::Result<()>) -> io::Result<()> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// `root/path`, refusing a path whose parents include a reparse point
    /// (symbolic link or junction: the standard library reports both as
    /// symlinks), so that nothing outside `root` is touched.
    pub fn resolve(root: &Path, path: &str) -> io::Result<PathBuf> {
        let comps: Vec<&str> = path.split('/').collect();
        if comps
            .iter()
            .any(|c| c.is_empty() || *c == "." || *c == ".." || c.contains(['\\', ':']))
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{path:?} is not a clean relative path"),
            ));
        }
        let mut at = root.to_path_buf();
        for (i, c) in comps.iter().enumerate() {
            at.push(c);
            if i + 1 < comps.len() {
                match std::fs::symlink_metadata(&at) {
                    Ok(m) if m.file_type().is_symlink() => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("{} is a reparse point", at.display()),
                        ))
                    }
                    _ => {}
                }
            }
        }
        Ok(at)
    }

    pub fn create_folder(path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    pub fn remove_folder(path: &Path) -> io::Result<()> {
        not_found_ok(std::fs::remove_dir_all(path))
    }

    pub fn remove_relative(root: &Path, path: &str) -> io::Result<()> {
        let at = resolve(root, path)?;
        match std::fs::symlink_metadata(&at) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
            // remove_dir_all does not follow links inside the tree.
            Ok(m) if m.is_dir() => not_found_ok(std::fs::remove_dir_all(&at)),
            Ok(_) => not_found_ok(std::fs::remove_file(&at)),
        }
    }

    pub fn link_relative(
        target_root: &Path,
        target: &str,
        root: &Path,
        path: &str,
    ) -> io::Result<()> {
        std::fs::hard_link(resolve(target_root, target)?, resolve(root, path)?)
    }

    pub fn exists_relative(root: &Path, path: &str) -> io::Result<bool> {
        match std::fs::symlink_metadata(resolve(root, path)?) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn write_marker(folder: &Path) -> io::Result<()> {
        let marker = marker_path(folder);
        std::fs::write(&marker, b"")?;
        // The marker must outlive a crash that the folder survives.
        std::fs::File::open(&marker)?.sync_all()
    }

    pub fn remove_marker(folder: &Path) -> io::Result<()> {
        not_found_ok(std::fs::remove_file(marker_path(folder)))
    }

    pub fn is_complete(folder: &Path) -> io::Result<bool> {
        Ok(folder.is_dir() && marker_path(folder).is_file())
    }
}
