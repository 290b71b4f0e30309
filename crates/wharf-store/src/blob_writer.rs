//! The one digest-verifying blob writer in Wharf.
//!
//! Content goes to a private temporary file under `<store>/ingest/` while it
//! is hashed and counted; [`BlobWriter::commit`] checks size and digest,
//! fsyncs, and renames the file into `blobs/<alg>/<hex>`. A crash or a
//! `kill -9` at any point leaves at most a stray temporary file, never a
//! partial blob under `blobs/`. Dropping a writer without committing deletes
//! its temporary file.

use crate::{Store, StoreError};
use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use wharf_oci::Digest;
use wharf_oci::Hasher;
use wharf_oci::WritebackFile;

/// What the caller knows about the blob being written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Its digest; also selects the hash algorithm.
    pub digest: Digest,
    /// Its size in bytes, when known.
    pub size: Option<u64>,
}

/// A committed blob: its digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedBlob {
    /// Digest of the content.
    pub digest: Digest,
    /// Size of the content in bytes.
    pub size: u64,
}

/// Streams content into the store, verifying it on [`commit`](Self::commit).
pub struct BlobWriter {
    store_root: PathBuf,
    tmp_path: PathBuf,
    file: Option<WritebackFile>,
    hasher: Hasher,
    written: u64,
    expected: Option<Expected>,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl BlobWriter {
    pub(crate) fn create(store: &Store, expected: Option<Expected>) -> Result<Self, StoreError> {
        let hasher = match &expected {
            Some(e) => Hasher::for_digest(&e.digest),
            None => Hasher::sha256(),
        };
        let ingest = store.root().join(crate::areas::INGEST);
        fs::create_dir_all(&ingest)
            .map_err(|e| StoreError::io("creating directory", &ingest, e))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!(
            "{}-{}-{}.tmp",
            std::process::id(),
            nanos,
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let tmp_path = ingest.join(name);
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp_path)
            .map_err(|e| StoreError::io("creating temporary blob file", &tmp_path, e))?;
        Ok(BlobWriter {
            store_root: store.root().to_path_buf(),
            tmp_path,
            file: Some(WritebackFile::new(file)),
            hasher,
            written: 0,
            expected,
        })
    }

    /// Bytes written so far (the offset to resume a download from).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The temporary file being written (to name it in errors).
    pub fn path(&self) -> &std::path::Path {
        &self.tmp_path
    }

    /// The expected digest and size given at creation, if any.
    pub fn expected(&self) -> Option<&Expected> {
        self.expected.as_ref()
    }

    /// Discards everything written so far, to restart a download from the
    /// beginning (e.g. a server that ignored a Range request).
    pub fn reset(&mut self) -> Result<(), StoreError> {
        let file = self.file_mut()?;
        file.truncate()
            .map_err(|e| StoreError::io("truncating temporary blob file", &self.tmp_path, e))?;
        self.hasher = match &self.expected {
            Some(e) => Hasher::for_digest(&e.digest),
            None => Hasher::sha256(),
        };
        self.written = 0;
        Ok(())
    }

    /// Verifies size and digest, makes the content durable and moves it into
    /// place. On a mismatch the content is discarded and nothing is stored.
    pub fn commit(mut self) -> Result<CommittedBlob, StoreError> {
        let file = self.file.take().ok_or_else(|| {
            StoreError::io(
                "committing blob",
                &self.tmp_path,
                io::Error::other("writer already failed"),
            )
        })?;
        let hasher = std::mem::replace(&mut self.hasher, Hasher::sha256());
        let actual = hasher.finish();
        if let Some(expected) = &self.expected {
            if let Some(size) = expected.size {
                if size != self.written {
                    return Err(StoreError::SizeMismatch {
                        digest: expected.digest.to_string(),
                        expected: size,
                        actual: self.written,
                    });
                }
            }
            if expected.digest != actual {
                return Err(StoreError::DigestMismatch {
                    expected: expected.digest.to_string(),
                    actual: actual.to_string(),
                    size: self.written,
                });
            }
        }
        let file = file.into_inner();
        file.sync_all()
            .map_err(|e| StoreError::io("syncing blob", &self.tmp_path, e))?;
        drop(file);
        let dest = crate::blob_path(&self.store_root, &actual);
        let dir = dest.parent().unwrap_or(&self.store_root).to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| StoreError::io("creating directory", &dir, e))?;
        if dest.exists() {
            // Same digest, same content: another writer got there first.
            let _ = fs::remove_file(&self.tmp_path);
        } else {
            match fs::rename(&self.tmp_path, &dest) {
                Ok(()) => crate::sync_dir(&dir),
                // On Windows a rename onto a blob that a concurrent writer
                // just committed (and someone may hold open) fails; the
                // content is the same, so theirs stands.
                Err(_) if dest.exists() => {
                    let _ = fs::remove_file(&self.tmp_path);
                }
                Err(e) => return Err(StoreError::io("moving blob into place", &dest, e)),
            }
        }
        self.tmp_path = PathBuf::new();
        Ok(CommittedBlob {
            digest: actual,
            size: self.written,
        })
    }

    fn file_mut(&mut self) -> Result<&mut WritebackFile, StoreError> {
        match self.file.as_mut() {
            Some(f) => Ok(f),
            None => Err(StoreError::io(
                "writing blob",
                &self.tmp_path,
                io::Error::other("writer already failed"),
            )),
        }
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(Expected {
            size: Some(size),
            digest,
        }) = &self.expected
        {
            if self.written + buf.len() as u64 > *size {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("blob {digest} is longer than its declared {size} bytes"),
                ));
            }
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("blob writer already failed"))?;
        let n = file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.tmp_path.as_os_str().is_empty() {
            self.file = None;
            let _ = fs::remove_file(&self.tmp_path);
        }
    }
}

impl std::fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobWriter")
            .field("tmp_path", &self.tmp_path)
            .field("written", &self.written)
            .field("expected", &self.expected)
            .finish()
    }
}
