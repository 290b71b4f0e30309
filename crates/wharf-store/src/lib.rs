//! Wharf's local store: a content-addressed blob store on disk that is at the
//! same time a valid [OCI image layout], so `skopeo`, `umoci` and other OCI
//! tools can read it directly (`skopeo inspect oci:<store>:<name>`).
//!
//! ```text
//! <root>/oci-layout              {"imageLayoutVersion":"1.0.0"}
//! <root>/index.json              tagged images (org.opencontainers.image.ref.name)
//! <root>/blobs/sha256/<hex>      content, written atomically and verified
//! <root>/ingest/                 temporary files of writes in progress
//! <root>/wharf.lock, index.lock  advisory locks (see the `lock` module)
//! ```
//!
//! Blobs are written only through [`BlobWriter`]; several processes may
//! share one store. The default root is `$WHARF_STORE`, else the user's data
//! directory (`$XDG_DATA_HOME/wharf`, `~/.local/share/wharf`,
//! `%LOCALAPPDATA%\wharf` on Windows).
//!
//! [OCI image layout]: https://github.com/opencontainers/image-spec/blob/main/image-layout.md

mod areas;
mod blob_writer;
mod error;
mod gc;
mod inspect;
mod lock;
mod replace;
mod tags;

pub use areas::{IngestFile, RecordKind, RecordSpace, SnapshotXattrs};
pub use blob_writer::{BlobWriter, CommittedBlob, Expected};
pub use error::StoreError;
pub use gc::{GcOptions, GcReport};
pub use inspect::{ImageDetails, ImageSummary, LayerInfo, ManifestDetails};
pub use lock::StoreLease;
pub use replace::replace_file;
use wharf_oci::{Digest, ImageIndex};

use lock::FileLock;
use serde::de::DeserializeOwned;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest JSON document (manifest, index, config) read into memory.
pub const MAX_DOCUMENT_SIZE: u64 = 16 * 1024 * 1024;

const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// A handle on a store directory. Cheap to clone; holds no open files.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        // Absolute, so paths derived from it stay valid for processes
        // working elsewhere (the RUN sandbox's overlay mounts).
        let root = std::path::absolute(&root)
            .map_err(|e| StoreError::io("resolving the store path", &root, e))?;
        let blobs = root.join("blobs").join("sha256");
        fs::create_dir_all(&blobs).map_err(|e| StoreError::io("creating store", &blobs, e))?;
        let layout = root.join("oci-layout");
        match fs::read(&layout) {
            Ok(bytes) => check_layout_version(&root, &bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                write_atomic(&root, &layout, OCI_LAYOUT.as_bytes())?
            }
            Err(e) => return Err(StoreError::io("reading", &layout, e)),
        }
        let store = Store { root };
        let index = store.root.join("index.json");
        if !index.exists() {
            let _guard = FileLock::exclusive(&store.root.join("index.lock"))?;
            if !index.exists() {
                store.write_index(&ImageIndex::empty())?;
            }
        }
        Ok(store)
    }

    /// Opens the default store: `$WHARF_STORE`, else `<data dir>/wharf`.
    pub fn open_default() -> Result<Self, StoreError> {
        Store::open(default_root()?)
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Holds off garbage collection until dropped (see [`StoreLease`]).
    pub fn lease(&self) -> Result<StoreLease, StoreError> {
        Ok(StoreLease::new(FileLock::shared(
            &self.root.join("wharf.lock"),
        )?))
    }

    /// Where the blob with this digest lives (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        blob_path(&self.root, digest)
    }

    /// The blob's size if it is in the store.
    pub fn blob_size(&self, digest: &Digest) -> Option<u64> {
        fs::metadata(self.blob_path(digest))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// Opens a stored blob for streaming.
    pub fn open_blob(&self, digest: &Digest) -> Result<File, StoreError> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StoreError::BlobNotFound {
                    digest: digest.to_string(),
                    root: self.root.clone(),
                }
            } else {
                StoreError::io("opening blob", path, e)
            }
        })
    }

    /// Reads a stored blob of at most [`MAX_DOCUMENT_SIZE`] bytes into memory.
    pub fn read_document(
        &self,
        digest: &Digest,
        what: &'static str,
    ) -> Result<Vec<u8>, StoreError> {
        let file = self.open_blob(digest)?;
        let path = self.blob_path(digest);
        let size = file
            .metadata()
            .map_err(|e| StoreError::io("reading", &path, e))?
            .len();
        if size > MAX_DOCUMENT_SIZE {
            return Err(StoreError::DocumentTooLarge {
                what,
                digest: digest.to_string(),
                size,
                limit: MAX_DOCUMENT_SIZE,
            });
        }
        let mut buf = Vec::with_capacity(size as usize);
        file.take(MAX_DOCUMENT_SIZE)
            .read_to_end(&mut buf)
            .map_err(|e| StoreError::io("reading", &path, e))?;
        Ok(buf)
    }

    /// Reads and parses a stored JSON blob.
    pub fn read_json<T: DeserializeOwned>(
        &self,
        digest: &Digest,
        what: &'static str,
    ) -> Result<T, StoreError> {
        let bytes = self.read_document(digest, what)?;
        serde_json::from_slice(&bytes).map_err(|source| StoreError::BadJson {
            what,
            path: self.blob_path(digest),
            source,
        })
    }

    /// Starts writing a blob. With `expected`, the commit fails unless the
    /// content matches it.
    pub fn blob_writer(&self, expected: Option<Expected>) -> Result<BlobWriter, StoreError> {
        BlobWriter::create(self, expected)
    }

    /// Stores a small in-memory blob (a manifest or config), verifying it
    /// against `expected` when given.
    pub fn put_bytes(
        &self,
        bytes: &[u8],
        expected: Option<&Digest>,
    ) -> Result<CommittedBlob, StoreError> {
        let mut w = self.blob_writer(expected.map(|d| Expected {
            digest: d.clone(),
            size: Some(bytes.len() as u64),
        }))?;
        std::io::Write::write_all(&mut w, bytes).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => StoreError::SizeMismatch {
                digest: expected.map(|d| d.to_string()).unwrap_or_default(),
                expected: bytes.len() as u64,
                actual: w.written(),
            },
            _ => StoreError::io("writing blob", self.root.join(areas::INGEST), e),
        })?;
        w.commit()
    }
}

/// Refuses layouts of another version than the one Wharf writes.
fn check_layout_version(root: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Layout {
        image_layout_version: String,
    }
    match serde_json::from_slice::<Layout>(bytes) {
        Ok(l) if l.image_layout_version == "1.0.0" => Ok(()),
        Ok(l) => Err(StoreError::NotALayout {
            root: root.to_path_buf(),
            reason: format!(
                "its oci-layout says version {:?}; Wharf reads version 1.0.0",
                l.image_layout_version
            ),
        }),
        Err(e) => Err(StoreError::NotALayout {
            root: root.to_path_buf(),
            reason: format!("its oci-layout file is not valid JSON ({e}); use another directory"),
        }),
    }
}

/// The default store directory: `$WHARF_STORE`, else `<user data dir>/wharf`.
pub fn default_root() -> Result<PathBuf, StoreError> {
    if let Some(dir) = std::env::var_os("WHARF_STORE").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    // Windows: %LOCALAPPDATA% (layers are large and machine-specific, so not
    // the roaming profile); elsewhere the platform's data directory.
    let base = if cfg!(windows) {
        dirs::data_local_dir()
    } else {
        dirs::data_dir()
    };
    base.map(|d| d.join("wharf"))
        .ok_or(StoreError::NoDefaultRoot)
}

pub(crate) fn blob_path(root: &Path, digest: &Digest) -> PathBuf {
    root.join("blobs")
        .join(digest.algorithm().name())
        .join(digest.hex())
}

/// Writes a small file atomically (temp file, fsync, rename).
pub(crate) fn write_atomic(root: &Path, dest: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let ingest = root.join(areas::INGEST);
    fs::create_dir_all(&ingest).map_err(|e| StoreError::io("creating directory", &ingest, e))?;
    let mut tmp = tempfile_in(&ingest)?;
    std::io::Write::write_all(&mut tmp.1, bytes)
        .and_then(|_| tmp.1.sync_all())
        .map_err(|e| StoreError::io("writing", &tmp.0, e))?;
    drop(tmp.1);
    replace_file(&tmp.0, dest).map_err(|e| {
        let _ = fs::remove_file(&tmp.0);
        StoreError::io("replacing", dest, e)
    })?;
    if let Some(dir) = dest.parent() {
        sync_dir(dir);
    }
    Ok(())
}

fn tempfile_in(dir: &Path) -> Result<(PathBuf, File), StoreError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let path = dir.join(format!(
        "{}-{}.doc.tmp",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(|e| StoreError::io("creating temporary file", &path, e))?;
    Ok((path, file))
}

/// Makes a rename durable. Directories cannot be opened for syncing on
/// Windows, where NTFS journals the rename itself.
pub(crate) fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests;
