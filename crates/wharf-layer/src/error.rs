//! The one error type of the layer engine. Every variant names the file, layer or
//! entry involved and, where the fix is not obvious, what to do about it.

use std::io;
use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while creating, applying, viewing or converting layers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation on a named file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("reading", "creating", ...).
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A layer entry tries to do something unsafe (escape the target, absurd size...).
    /// Layers come from registries: such a layer is refused, never repaired.
    #[error("refusing layer entry {entry:?}: {reason}")]
    HostileEntry {
        /// The entry name as found in the tar.
        entry: String,
        /// Why it is refused.
        reason: String,
    },
    /// The tar stream itself is malformed.
    #[error("malformed layer tar {layer}: {reason}")]
    MalformedTar {
        /// The layer (file path or description).
        layer: String,
        /// What is wrong.
        reason: String,
    },
    /// More data came out of decompression than the configured cap allows.
    #[error(
        "layer {layer} expands beyond the cap of {cap} bytes (possible decompression bomb); \
         raise the cap in the options if the layer is trusted"
    )]
    TooLarge {
        /// The layer involved.
        layer: String,
        /// The configured cap in bytes.
        cap: u64,
    },
    /// An SDDL string outside the supported subset, or malformed.
    #[error("cannot encode SDDL {sddl:?}: {reason}")]
    Sddl {
        /// The SDDL text.
        sddl: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A Windows layer rule would be violated by the requested entry.
    #[error("Windows layer entry {path:?}: {reason}")]
    WindowsLayer {
        /// The container path (relative to `C:\`).
        path: String,
        /// The rule involved.
        reason: String,
    },
    /// A Linux name that NTFS cannot hold, reported as an error in strict mode.
    #[error(
        "{path:?} cannot be stored in a Windows layer: {reason}; rename it in the source stage, \
         or turn strict mode off to skip and list such names"
    )]
    NtfsName {
        /// The Linux path.
        path: String,
        /// Which NTFS rule it breaks.
        reason: String,
    },
    /// A requested path does not exist in a stage view.
    #[error("{path:?} does not exist in the stage view")]
    NotFound {
        /// The path looked up.
        path: String,
    },
    /// A feature not available for this target or input.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl Error {
    /// Wraps an I/O error with the action and path involved.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Builds a [`Error::HostileEntry`].
    pub fn hostile(entry: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::HostileEntry {
            entry: entry.into(),
            reason: reason.into(),
        }
    }
}
