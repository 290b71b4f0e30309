//! The OCI vocabulary every Wharf crate speaks: platforms and the one
//! platform matcher, content digests, descriptors, image manifests and
//! indexes, image references, the image configuration, and media types;
//! and the two writers every blob goes through (`HashingWriter`,
//! `WritebackFile`).
//!
//! A leaf crate: it knows nothing of Dockerfiles, layers, stores or
//! registries, so each of those can depend on it. Values are parsed and
//! validated once, where they enter (JSON, arguments, file names), and
//! travel typed from there.

pub mod config;
pub mod digest;
mod layer;
pub mod manifest;
mod matcher;
pub mod media_types;
mod platform;
pub mod reference;
mod windows_compat;
mod windows_version;
mod writeback;

pub use config::{ContainerConfig, Empty, HealthConfig, History, ImageConfig, RootFs};
pub use digest::{Digest, DigestAlgorithm, DigestError, Hasher, HashingWriter};
pub use layer::{chain_ids, LayerRef};
pub use manifest::{Descriptor, ImageIndex, ImageManifest};
pub use matcher::{select, NoMatchingPlatform, Selection};
pub use media_types::*;
pub use platform::{Platform, PlatformError};
pub use reference::{Reference, ReferenceError};
pub use windows_compat::{check_process_isolation, WindowsVersionMismatch, STABLE_ABI_LTSC_BUILDS};
pub use windows_version::{WindowsVersion, WINDOWS_RELEASES};
pub use writeback::WritebackFile;
