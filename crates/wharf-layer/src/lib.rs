//! Wharf's layer engine: layer tars for Linux and Windows images.
//!
//! This crate knows nothing about registries or Dockerfiles. It
//! - writes layer blobs in one streaming pass, computing the blob digest and the
//!   diff_id together ([`LayerBlobWriter`], [`LayerBlob`], [`Compression`]);
//! - decompresses any layer, recognising gzip/zstd/plain from magic bytes
//!   ([`decompress`]).
#![deny(missing_docs)]

pub mod blob;
pub mod compress;
pub mod digest;
pub mod error;
pub mod pgzip;

pub use blob::{LayerBlob, LayerBlobWriter};
pub use compress::{decompress, Compression, Format};
pub use digest::Digest;
pub use error::{Error, Result};
pub mod linux;
pub mod tarfmt;
pub mod transform;
pub mod view;
pub mod windows;

#[cfg(target_os = "linux")]
pub use linux::apply::{apply_layer, apply_layer_file, ApplyOptions, ApplyReport, DevicePolicy};
pub use linux::writer::{LinuxLayerOptions, LinuxLayerWriter};
pub use tarfmt::{EntryKind, TarEntry};
pub use transform::to_linux::{windows_to_linux, ToLinuxOptions, ToLinuxReport};
pub use transform::to_windows::{linux_to_windows, ToWindowsOptions, ToWindowsReport};
pub use view::{LayerOs, StageView, ViewEntry, ViewKind, ViewOptions};
pub use windows::writer::{NoBase, WindowsBase, WindowsLayerOptions, WindowsLayerWriter};
