//! Linux layers: writing them (from entries, a directory, an overlayfs upper
//! directory or the changes between two snapshots) and applying them safely
//! onto a directory.
//!
//! Whiteouts follow the OCI image spec: `<dir>/.wh.<name>` deletes `name` from
//! lower layers, `<dir>/.wh..wh..opq` hides everything the lower layers had in `dir`.

#[cfg(target_os = "linux")]
pub mod apply;
#[cfg(unix)]
pub mod changes;
#[cfg(unix)]
pub mod create;
pub mod names;
pub mod writer;

/// Prefix of a whiteout entry's file name.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// File name of an opaque-directory marker.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
