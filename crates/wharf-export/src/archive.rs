//! Deterministic tar output: fixed ownership, modes and timestamps, so the
//! same images always give the same archive bytes. Blobs are streamed from
//! the store, never read whole into memory.

use crate::ExportError;
use std::io::Write;
use std::path::Path;
use wharf_oci::Digest;
use wharf_store::Store;

pub(crate) struct ArchiveWriter<W: Write> {
    builder: tar::Builder<W>,
    /// Names the output in errors.
    label: std::path::PathBuf,
}

impl<W: Write> ArchiveWriter<W> {
    pub(crate) fn new(out: W, label: &Path) -> Self {
        let mut builder = tar::Builder::new(out);
        builder.mode(tar::HeaderMode::Deterministic);
        ArchiveWriter {
            builder,
            label: label.to_path_buf(),
        }
    }

    fn io(&self, source: std::io::Error) -> ExportError {
        ExportError::Io {
            path: self.label.clone(),
            source,
        }
    }

    fn header(size: u64, dir: bool) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_size(size);
        h.set_mode(if dir { 0o755 } else { 0o644 });
        h.set_entry_type(if dir {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    pub(crate) fn dir(&mut self, name: &str) -> Result<(), ExportError> {
        let mut h = Self::header(0, true);
        self.builder
            .append_data(&mut h, name, std::io::empty())
            .map_err(|e| self.io(e))
    }

    pub(crate) fn file(&mut self, name: &str, bytes: &[u8]) -> Result<(), ExportError> {
        let mut h = Self::header(bytes.len() as u64, false);
        self.builder
            .append_data(&mut h, name, bytes)
            .map_err(|e| self.io(e))
    }

    /// Streams a blob from the store into the archive under `name`.
    pub(crate) fn blob(
        &mut self,
        store: &Store,
        name: &str,
        digest: &Digest,
        size: u64,
    ) -> Result<(), ExportError> {
        let file = store.open_blob(digest)?;
        let mut h = Self::header(size, false);
        // `take` guards against a blob that grew since it was sized.
        self.builder
            .append_data(&mut h, name, std::io::Read::take(file, size))
            .map_err(|e| self.io(e))
    }

    pub(crate) fn finish(self) -> Result<W, ExportError> {
        let label = self.label.clone();
        self.builder.into_inner().map_err(|source| ExportError::Io {
            path: label,
            source,
        })
    }
}

/// `blobs/<alg>/<hex>`, the path of a blob in an OCI layout.
pub(crate) fn blob_name(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm().name(), digest.hex())
}
