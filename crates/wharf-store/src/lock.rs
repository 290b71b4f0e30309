//! Advisory file locks that keep concurrent `wharf` processes from tripping
//! over each other.
//!
//! - `<store>/wharf.lock`: held *shared* by every operation that writes
//!   blobs and then references them (a pull, a build) through a
//!   [`StoreLease`], and *exclusive* by garbage collection, so a collection
//!   never deletes a blob that a running pull has written but not yet tagged.
//! - `<store>/index.lock`: held exclusive while `index.json` is
//!   read-modified-written.

use crate::StoreError;
use fs4::fs_std::FileExt;
use std::fs::{File, OpenOptions};
use std::path::Path;

/// A held lock; released on drop.
#[derive(Debug)]
pub(crate) struct FileLock {
    file: File,
}

impl FileLock {
    pub(crate) fn shared(path: &Path) -> Result<Self, StoreError> {
        let file = open(path)?;
        FileExt::lock_shared(&file).map_err(|e| StoreError::io("locking", path, e))?;
        Ok(FileLock { file })
    }

    pub(crate) fn exclusive(path: &Path) -> Result<Self, StoreError> {
        let file = open(path)?;
        FileExt::lock_exclusive(&file).map_err(|e| StoreError::io("locking", path, e))?;
        Ok(FileLock { file })
    }

    /// The exclusive lock if nobody holds the file; `None` if someone does.
    pub(crate) fn try_exclusive(path: &Path) -> Result<Option<Self>, StoreError> {
        let file = open(path)?;
        match FileExt::try_lock_exclusive(&file) {
            Ok(true) => Ok(Some(FileLock { file })),
            Ok(false) => Ok(None),
            Err(e) => Err(StoreError::io("locking", path, e)),
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = FileExt::unlock(&self.file);
    }
}

fn open(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| StoreError::io("opening lock file", path, e))
}

/// Keeps garbage collection from running while held: take one for the whole
/// of an operation that writes blobs and then tags or references them (a
/// build's output keeps its lease until delivered).
#[derive(Debug)]
pub struct StoreLease {
    _lock: FileLock,
}

impl StoreLease {
    pub(crate) fn new(lock: FileLock) -> Self {
        StoreLease { _lock: lock }
    }
}
