//! The store's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the store. Each variant names the file or
/// digest involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. "writing blob".
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Written content did not hash to the expected digest; nothing was stored.
    #[error("blob digest mismatch: expected {expected}, got {actual} ({size} bytes); the content was discarded, fetch it again")]
    DigestMismatch {
        /// The digest the caller asked for.
        expected: String,
        /// The digest of what was written.
        actual: String,
        /// Bytes written.
        size: u64,
    },
    /// Written content had the wrong length; nothing was stored.
    #[error("blob {digest} size mismatch: expected {expected} bytes, got {actual}; the content was discarded, fetch it again")]
    SizeMismatch {
        /// The digest the caller asked for.
        digest: String,
        /// The size the caller asked for.
        expected: u64,
        /// Bytes written.
        actual: u64,
    },
    /// A blob that was expected to exist is not in the store.
    #[error("blob {digest} is not in the store at {root}; pull the image again")]
    BlobNotFound {
        /// The missing digest.
        digest: String,
        /// The store root.
        root: PathBuf,
    },
    /// A JSON document in the store could not be parsed.
    #[error("{what} {path} is not valid: {source}")]
    BadJson {
        /// What the document should be, e.g. "image manifest".
        what: &'static str,
        /// Its path (blob path or index.json).
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A JSON blob is larger than the limit for documents read into memory.
    #[error("{what} {digest} is {size} bytes, over the {limit}-byte limit for JSON documents")]
    DocumentTooLarge {
        /// What the document should be.
        what: &'static str,
        /// Its digest.
        digest: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// No image is tagged with this name.
    #[error("no image named {name} in the store at {root}; `wharf images` lists what is there")]
    ImageNotFound {
        /// The name looked up.
        name: String,
        /// The store root.
        root: PathBuf,
    },
    /// A stored manifest has a media type the store does not understand.
    #[error("{digest} has unsupported manifest media type {media_type}")]
    UnsupportedMediaType {
        /// The manifest's digest.
        digest: String,
        /// Its media type.
        media_type: String,
    },
    /// The directory is not a Wharf store / OCI layout.
    #[error("{root} is not an OCI image layout: {reason}")]
    NotALayout {
        /// The directory.
        root: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No store directory was given and the user's data directory is unknown.
    #[error("cannot find the user's data directory for the default store; set WHARF_STORE or pass a store path")]
    NoDefaultRoot,
}

impl StoreError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        StoreError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
