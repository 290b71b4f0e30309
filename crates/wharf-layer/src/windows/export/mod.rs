//! The Windows layer *folder* format, which `HcsExportLayer` (legacy
//! `ExportLayer`) writes when a container's scratch is committed and which
//! `HcsImportLayer` reads, converted to and from the Windows layer tar of
//! docs/windows-layer-format.md. Tarring the folder as it is would produce
//! an invalid layer.
//!
//! - [`export_folder_to_layer`]: export folder → layer tar, through
//!   [`crate::WindowsLayerWriter`] (so every importer rule holds).
//! - [`layer_to_import_folder`]: layer tar → folder in the same format;
//!   [`layer_to_staging_folder`]: the same without deletions and hard links,
//!   for `ImportLayer` on a Windows host.
//! - [`plan_base_layer`]: a *base* layer tar → the ordered file operations
//!   that write it as a base layer folder (which `ImportLayer` cannot).
//!
//! The folder holds:
//! - `tombstones.txt`: a UTF-8 byte-order mark and `Version 1.0`, then one
//!   `\path` (relative to `Files`) per deleted entry, CRLF line ends. Each
//!   becomes a whiteout `Files/<dir>/.wh.<name>`.
//! - `Files\...`: every file starts with its 4-byte little-endian Win32
//!   attribute word, followed by the Win32 `BackupRead` stream sequence of
//!   the file ([`backup`]): data, security descriptor (`MSWINDOWS.rawsd`),
//!   extended attributes (`MSWINDOWS.xattr.*`, [`ea`]), reparse data (a
//!   symlink with a backslashed `Linkname`, or a junction with
//!   `MSWINDOWS.mountpoint=1`, [`reparse`]), alternate data streams
//!   (`<file>:<stream>` entries), sparse blocks. Times are the folder file's
//!   own times.
//! - a `<dir>.$wcidirs$` file beside each directory, in the same format,
//!   describing the directory (and holding the reparse data of directory
//!   symlinks and junctions).
//! - `Hives\*_Delta`: registry hive deltas, plain files, under `Hives/`.
//! - Files with several names are hard links of one another in the folder;
//!   the first name in walk order is written as a file, the others as tar
//!   hardlinks with `Files/...` link names.
//!
//! Where these facts come from: hcsshim (`internal/wclayer/legacy.go`, the
//! legacy layer reader and writer; `internal/wclayer/importlayer.go`;
//! `pkg/ociwclayer`) and go-winio (`backup.go`, `reparse.go`, `ea.go`,
//! `backuptar/tar.go`), plus the Win32 documentation of `WIN32_STREAM_ID`
//! and `REPARSE_DATA_BUFFER`. The code is written from those facts, not
//! translated. No crate implements this format, hence the hand-written
//! parsers.
//!
//! **No Windows host is available where this is developed**: the tests build
//! synthetic folders to the documented format (see
//! `tests/windows_export*.rs`) and check every produced tar with the
//! independent checker `tests/check_windows_layer.py`. Not verified against
//! a folder written by Windows itself. Known limits:
//! - On hosts other than Windows a folder file has no settable creation
//!   time, so the decoder uses the last write time as creation time there,
//!   and the encoder can only store the last write time.
//! - Hard links are recognised by device and inode on Unix hosts
//!   ([`HostFileIdentity`]). On Windows the file id needs
//!   `GetFileInformationByHandle`, which the standard library does not
//!   expose: a caller with Windows bindings passes its own [`FileIdentity`]
//!   to [`export_folder_to_layer_with`]; without one, hard-linked files
//!   become separate files (correct content, more bytes).
//! - The payload of `BACKUP_LINK` streams is undocumented; like go-winio,
//!   such streams (and property, object-id and TxF streams) are skipped and
//!   counted.

pub mod backup;
pub mod base_layer;
pub mod decode;
pub mod ea;
pub mod encode;
pub mod reparse;
pub mod tombstones;
#[cfg(windows)]
mod windows_file_identity;

pub use base_layer::{plan_base_layer, BaseLayerPlan, BaseLayerSink, BaseOp, BasicInfo};
pub use decode::{
    export_folder_to_layer, export_folder_to_layer_with, ExportSummary, FileIdentity,
    HostFileIdentity,
};
pub use encode::{layer_to_import_folder, layer_to_staging_folder, ImportSummary};

use crate::error::Error;
use std::path::Path;

/// Suffix of the file describing a directory of the folder.
pub const WCIDIRS_SUFFIX: &str = ".$wcidirs$";

/// True for `<dir>.$wcidirs$` names, which the walk never turns into entries.
fn is_wcidirs(name: &str) -> bool {
    name.ends_with(WCIDIRS_SUFFIX)
}

/// The stream name of an alternate data stream: `:Zone.Identifier:$DATA` →
/// `Zone.Identifier`.
fn parse_stream_name(raw: &str) -> Result<String, String> {
    let name = raw
        .strip_prefix(':')
        .and_then(|r| r.strip_suffix(":$DATA"))
        .ok_or_else(|| format!("alternate stream name {raw:?} is not of the form :name:$DATA"))?;
    if let Some(p) = crate::windows::names::ntfs_name_problem(name) {
        return Err(format!("alternate stream name {raw:?}: {p}"));
    }
    Ok(name.to_string())
}

/// A refused folder file or tar entry, named by its path.
fn hostile(path: &Path, reason: impl Into<String>) -> Error {
    Error::hostile(path.display().to_string(), reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names() {
        assert_eq!(
            parse_stream_name(":Zone.Identifier:$DATA").unwrap(),
            "Zone.Identifier"
        );
        for bad in ["Zone:$DATA", ":x", "::$DATA", ":a:b:$DATA", ":a\\b:$DATA"] {
            assert!(parse_stream_name(bad).is_err(), "{bad}");
        }
        assert!(is_wcidirs("dir.$wcidirs$") && !is_wcidirs("dir"));
    }
}
