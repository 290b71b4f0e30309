//! The export error type.

use std::path::PathBuf;
use wharf_store::StoreError;

/// Why an export failed. Each variant names the image, blob or file.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the output failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The output file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A blob an exported image needs is not in the store.
    #[error("cannot export {image}: blob {digest} is not in the store; pull the image with its layers first (wharf pull)")]
    MissingBlob {
        /// The image being exported.
        image: String,
        /// The missing blob.
        digest: String,
    },
    /// The output specification does not parse.
    #[error("invalid --output {spec:?}: {reason}; expected type=oci,dest=DIR, type=oci,dest=FILE.tar or type=docker,dest=FILE.tar")]
    BadOutputSpec {
        /// The specification as given.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// The output's destination cannot take what the output writes (found
    /// before the build, so no work is lost).
    #[error("--output dest={path}: {reason}")]
    BadDestination {
        /// The destination as given.
        path: PathBuf,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// A docker-archive holds one platform per image; none matches.
    #[error("cannot export {image} as docker-archive: {source}")]
    NoMatchingPlatform {
        /// The image.
        image: String,
        /// The matcher's explanation.
        #[source]
        source: wharf_oci::NoMatchingPlatform,
    },
    /// The image is neither an image manifest nor an index.
    #[error("cannot export {image}: unsupported media type {media_type}")]
    UnsupportedMediaType {
        /// The image.
        image: String,
        /// Its media type.
        media_type: String,
    },
    /// Nothing to export.
    #[error("nothing to export: no images were given")]
    NoImages,
}
