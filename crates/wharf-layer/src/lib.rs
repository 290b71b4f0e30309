//! Wharf's layer engine: layer tars for Linux and Windows images — writing,
//! applying, viewing, converting across OSes, compressing and digesting.
//!
//! This crate knows nothing about registries or Dockerfiles. The main entry points:
//!
//! | need | API |
//! |---|---|
//! | stage a layer blob with digest, diff_id, size and media type in one pass | [`LayerBlobWriter`] → [`LayerBlob`], [`Compression`] |
//! | write a Linux layer (entries, a directory, an overlayfs upper dir, a change set) | [`LinuxLayerWriter`] |
//! | write a Windows layer (`Files/`, `Hives/`, PAX metadata, whiteouts) | [`WindowsLayerWriter`], [`windows::sddl`] |
//! | Windows export folder (`HcsExportLayer`) → layer, layer → import or staging folder | [`export_folder_to_layer`], [`layer_to_import_folder`], [`layer_to_staging_folder`] |
//! | base layer → the file operations that write a base layer folder | [`plan_base_layer`], [`BaseLayerSink`] |
//! | apply a Linux layer onto a directory, safely | [`apply_layer`], [`apply_layer_file`] (Linux hosts) |
//! | read a stage's merged files (`COPY --from`) | [`StageView`] over layer tars or a snapshot |
//! | Linux stage → Windows layer, Windows stage → Linux layer | [`linux_to_windows`], [`windows_to_linux`] |
//! | copy from a stage into a layer of the same OS | [`copy_linux`], [`copy_windows`] |
//! | open any layer, whatever its compression | [`decompress`] |
//!
//! Output is deterministic: the same input and settings give byte-identical
//! layers (sorted entries, PAX headers, fixed gzip header, block-parallel gzip
//! whose output does not depend on the thread count).
//!
//! Platform notes: applying layers needs Linux (`openat2`); zstd is not built
//! for Windows targets (see [`compress`]). Windows layers are verified here by
//! the tests and an independent Python checker; no Windows host imports them.
#![deny(missing_docs)]

pub mod archive;
pub mod blob;
pub mod compress;
pub mod error;
pub mod linux;
pub mod pax;
pub mod pgzip;
pub mod tarfmt;
pub mod transform;
pub mod view;
pub mod windows;

pub use blob::{LayerBlob, LayerBlobWriter};
pub use compress::{decompress, Compression, Format};
pub use error::{Error, Result};
#[cfg(target_os = "linux")]
pub use linux::apply::{
    apply_layer, apply_layer_file, ApplyOptions, ApplyReport, DevicePolicy, IdMapping, IdRange,
    WhiteoutStyle,
};
pub use linux::writer::{LinuxLayerOptions, LinuxLayerWriter};
pub use tarfmt::{EntryKind, TarEntry};
pub use transform::same_os::{copy_linux, copy_windows};
pub use transform::to_linux::{windows_to_linux, ToLinuxOptions, ToLinuxReport};
pub use transform::to_windows::{linux_to_windows, ToWindowsOptions, ToWindowsReport};
pub use transform::{Mapping, Skipped};
pub use view::{LayerOs, StageView, ViewEntry, ViewKind, ViewOptions};
pub use windows::dir_index::WindowsDirIndex;
pub use windows::export::{
    export_folder_to_layer, layer_to_import_folder, layer_to_staging_folder, plan_base_layer,
    BaseLayerPlan, BaseLayerSink, BaseOp, BasicInfo, ExportSummary, ImportSummary,
};
pub use windows::meta::{Timestamp, WinMeta};
pub use windows::writer::{NoBase, WindowsBase, WindowsLayerOptions, WindowsLayerWriter};
