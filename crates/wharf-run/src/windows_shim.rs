//! The Windows-only shim of the host half: the real [`LayerFolderOps`]
//! ([`WindowsFolders`]) and the entry points that pair it with the HCS
//! shim (`wharf_hcs::WindowsHcs`). Everything it decides is in
//! `windows_host` and `wharf_layer::plan_base_layer`.
//!
//! The base layer writer makes the calls hcsshim's `baselayerwriter.go`
//! makes: each entry created with `GENERIC_READ | GENERIC_WRITE |
//! WRITE_DAC | WRITE_OWNER | ACCESS_SYSTEM_SECURITY` (without them
//! `BackupWrite` silently drops the security descriptor), new only
//! (`CREATE_NEW`; directories with `CreateDirectoryW`, which fails on an
//! existing name), opened with `FILE_FLAG_OPEN_REPARSE_POINT` so that a
//! reparse point is never followed (the planner guarantees no parent is
//! one); `SetFileInformationByHandle(FileBasicInfo)`; `BackupWrite` of the
//! planner's stream bytes with `bProcessSecurity`; `CreateHardLinkW`;
//! directory information set again at the end. The privileges
//! `SeBackupPrivilege`, `SeRestorePrivilege` and `SeSecurityPrivilege` are
//! enabled first.
//!
//! Under Wine (`scripts/wine-test.sh`) the tests of this module run
//! `CreateDirectoryW`, `CreateFileW`, `SetFileInformationByHandle`,
//! `CreateHardLinkW` and `CloseHandle` for real; Wine's `BackupWrite` is a
//! stub, so there the stream bytes go to a recording [`BackupStreams`]
//! instead, and `ProcessBaseImage` (in `vmcompute.dll`, which Wine lacks)
//! is not called. On a real Windows host none of this has run.

use crate::layer_folders::{host_fs, LayerFolderOps};
use crate::seam::{LowerLayer, RunChange, RunError, RunSpec};
use std::ffi::c_void;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wharf_hcs::{ProcessParameters, WindowsHcs};
use wharf_layer::{BaseLayerSink, BasicInfo};
use windows::core::PCWSTR;
use windows::Win32::Foundation::{CloseHandle, GENERIC_READ, GENERIC_WRITE, HANDLE};
use windows::Win32::Storage::FileSystem::{
    BackupWrite, CreateDirectoryW, CreateFileW, CreateHardLinkW, FileBasicInfo,
    SetFileInformationByHandle, CREATE_NEW, FILE_BASIC_INFO, FILE_FLAG_BACKUP_SEMANTICS,
    FILE_FLAG_OPEN_REPARSE_POINT, FILE_SHARE_READ, OPEN_EXISTING, WRITE_DAC, WRITE_OWNER,
};

/// `ACCESS_SYSTEM_SECURITY`: the right to write the system ACL.
const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;

/// Imports `layer` with the real HCS and file operations.
pub fn import_lower(layer: &LowerLayer<'_>) -> Result<(), RunError> {
    // First: on a host without the Containers feature this says so.
    let mut api = WindowsHcs::open().map_err(|e| RunError::Sandbox(e.to_string()))?;
    crate::windows_host::import_lower(&mut api, &mut WindowsFolders, layer)
}

/// Runs `process` with the real HCS.
pub fn run_on_host(
    spec: &RunSpec<'_>,
    process: ProcessParameters,
    timeout: Duration,
    with_network: bool,
) -> Result<RunChange, RunError> {
    let mut api = WindowsHcs::open().map_err(|e| RunError::Sandbox(e.to_string()))?;
    if !with_network {
        return crate::windows_host::run_on_host(&mut api, spec, process, timeout);
    }
    let mut hcn = wharf_hcs::WindowsHcn::open().map_err(|e| RunError::Sandbox(e.to_string()))?;
    crate::windows_host::run_on_host_with_nat(&mut api, &mut hcn, spec, process, timeout)
}

/// The real layer-folder operations.
pub struct WindowsFolders;

impl LayerFolderOps for WindowsFolders {
    type BaseWriter = BaseWriter<Win32Backup>;

    fn base_writer(&mut self, root: &Path) -> io::Result<Self::BaseWriter> {
        for privilege in [
            "SeBackupPrivilege",
            "SeRestorePrivilege",
            "SeSecurityPrivilege",
        ] {
            wharf_hcs::windows_shim::enable_privilege(privilege)
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
        BaseWriter::new(root, Win32Backup::default())
    }
    fn create_folder(&mut self, path: &Path) -> io::Result<()> {
        host_fs::create_folder(path)
    }
    fn remove_folder(&mut self, path: &Path) -> io::Result<()> {
        host_fs::remove_folder(path)
    }
    fn remove_relative(&mut self, root: &Path, path: &str) -> io::Result<()> {
        host_fs::remove_relative(root, path)
    }
    fn link_relative(
        &mut self,
        target_root: &Path,
        target: &str,
        root: &Path,
        path: &str,
    ) -> io::Result<()> {
        host_fs::link_relative(target_root, target, root, path)
    }
    fn exists_relative(&mut self, root: &Path, path: &str) -> io::Result<bool> {
        host_fs::exists_relative(root, path)
    }
    fn write_marker(&mut self, folder: &Path) -> io::Result<()> {
        host_fs::write_marker(folder)
    }
    fn remove_marker(&mut self, folder: &Path) -> io::Result<()> {
        host_fs::remove_marker(folder)
    }
    fn is_complete(&mut self, folder: &Path) -> io::Result<bool> {
        host_fs::is_complete(folder)
    }
}

/// Where a file's backup stream bytes go.
pub trait BackupStreams {
    /// Writes bytes of `file`'s stream sequence.
    fn write(&mut self, file: HANDLE, bytes: &[u8]) -> io::Result<()>;
    /// Ends `file`'s sequence (frees what the writes kept).
    fn finish(&mut self, file: HANDLE) -> io::Result<()>;
}

/// `BackupWrite`, with its context kept between calls for one file.
#[derive(Default)]
pub struct Win32Backup {
    context: *mut c_void,
}

impl BackupStreams for Win32Backup {
    fn write(&mut self, file: HANDLE, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let chunk = &bytes[..bytes.len().min(1 << 30)];
            let mut written = 0u32;
            // SAFETY: `file` is an open handle with write access; the
            // context is the one BackupWrite gave for this file (or null
            // at its start).
            unsafe { BackupWrite(file, chunk, &mut written, false, true, &mut self.context) }
                .map_err(io::Error::from)?;
            if written == 0 {
                return Err(io::Error::other("BackupWrite wrote nothing"));
            }
            bytes = &bytes[written as usize..];
        }
        Ok(())
    }

    fn finish(&mut self, file: HANDLE) -> io::Result<()> {
        if self.context.is_null() {
            return Ok(());
        }
        let mut written = 0u32;
        // SAFETY: bAbort=TRUE only frees the context of this file.
        let result = unsafe { BackupWrite(file, &[], &mut written, true, true, &mut self.context) };
        self.context = std::ptr::null_mut();
        result.map_err(io::Error::from)
    }
}

/// Writes a base layer folder, entry by entry.
pub struct BaseWriter<B: BackupStreams> {
    /// `\\?\`-prefixed absolute folder path.
    root: PathBuf,
    open: Option<HANDLE>,
    backup: B,
}

fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain(Some(0)).collect()
}

fn close(handle: HANDLE) {
    // SAFETY: the handle came from CreateFileW and is closed once.
    let _ = unsafe { CloseHandle(handle) };
}

fn set_basic_info(handle: HANDLE, info: &BasicInfo) -> io::Result<()> {
    let basic = FILE_BASIC_INFO {
        CreationTime: info.creation_time,
        LastAccessTime: info.last_access_time,
        LastWriteTime: info.last_write_time,
        ChangeTime: info.change_time,
        FileAttributes: info.attributes,
    };
    // SAFETY: `basic` lives across the call and its size is passed.
    unsafe {
        SetFileInformationByHandle(
            handle,
            FileBasicInfo,
            std::ptr::from_ref(&basic).cast(),
            std::mem::size_of::<FILE_BASIC_INFO>() as u32,
        )
    }
    .map_err(io::Error::from)
}

impl<B: BackupStreams> BaseWriter<B> {
    /// A writer into the existing folder `root`.
    pub fn new(root: &Path, backup: B) -> io::Result<Self> {
        let absolute = std::path::absolute(root)?;
        let text = absolute.as_os_str().to_string_lossy();
        let root = if text.starts_with(r"\\?\") {
            absolute
        } else {
            PathBuf::from(format!(r"\\?\{text}"))
        };
        Ok(BaseWriter {
            root,
            open: None,
            backup,
        })
    }

    /// The backup stream sink, for tests.
    pub fn backup(&self) -> &B {
        &self.backup
    }

    fn full(&self, path: &str) -> PathBuf {
        let mut full = self.root.clone();
        for c in path.split('/') {
            full.push(c);
        }
        full
    }

    fn open(&self, path: &Path, access: u32, disposition: u32) -> io::Result<HANDLE> {
        let name = wide(path);
        // SAFETY: `name` is NUL-terminated and outlives the call.
        unsafe {
            CreateFileW(
                PCWSTR(name.as_ptr()),
                access,
                FILE_SHARE_READ,
                None,
                windows::Win32::Storage::FileSystem::FILE_CREATION_DISPOSITION(disposition),
                FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT,
                None,
            )
        }
        .map_err(io::Error::from)
    }

    fn close_open(&mut self) -> io::Result<()> {
        if let Some(handle) = self.open.take() {
            let result = self.backup.finish(handle);
            close(handle);
            result?;
        }
        Ok(())
    }
}

impl<B: BackupStreams> BaseLayerSink for BaseWriter<B> {
    fn create(&mut self, path: &str, directory: bool, info: &BasicInfo) -> io::Result<()> {
        self.close_open()?;
        let full = self.full(path);
        let access =
            GENERIC_READ.0 | GENERIC_WRITE.0 | WRITE_DAC.0 | WRITE_OWNER.0 | ACCESS_SYSTEM_SECURITY;
        let handle = if directory {
            let name = wide(&full);
            // SAFETY: `name` is NUL-terminated and outlives the call.
            unsafe { CreateDirectoryW(PCWSTR(name.as_ptr()), None) }.map_err(io::Error::from)?;
            self.open(&full, access, OPEN_EXISTING.0)?
        } else {
            self.open(&full, access, CREATE_NEW.0)?
        };
        if let Err(e) = set_basic_info(handle, info) {
            close(handle);
            return Err(e);
        }
        self.open = Some(handle);
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let handle = self
            .open
            .ok_or_else(|| io::Error::other("stream bytes without a created file"))?;
        self.backup.write(handle, bytes)
    }

    fn end_file(&mut self) -> io::Result<()> {
        self.close_open()
    }

    fn link(&mut self, path: &str, target: &str) -> io::Result<()> {
        self.close_open()?;
        let (new, existing) = (wide(&self.full(path)), wide(&self.full(target)));
        // SAFETY: both names are NUL-terminated and outlive the call.
        unsafe { CreateHardLinkW(PCWSTR(new.as_ptr()), PCWSTR(existing.as_ptr()), None) }
            .map_err(io::Error::from)
    }

    fn set_directory_info(&mut self, path: &str, info: &BasicInfo) -> io::Result<()> {
        self.close_open()?;
        let handle = self.open(
            &self.full(path),
            GENERIC_READ.0 | GENERIC_WRITE.0,
            OPEN_EXISTING.0,
        )?;
        let result = set_basic_info(handle, info);
        close(handle);
        result
    }
}

impl<B: BackupStreams> Drop for BaseWriter<B> {
    fn drop(&mut self) {
        let _ = self.close_open();
    }
}

#[cfg(test)]
mod tests {
    //! Run under Wine by `scripts/wine-test.sh`: the real file calls, with
    //! `BackupWrite` (a stub in Wine) replaced by a recorder.
    use super::*;
    use wharf_layer::windows::export::base_layer::filetime;
    use wharf_layer::windows::meta::Timestamp;
    use wharf_layer::{plan_base_layer, BaseOp};

    #[derive(Default)]
    struct Recorder {
        streams: Vec<u8>,
        finished: usize,
    }

    impl BackupStreams for Recorder {
        fn write(&mut self, _file: HANDLE, bytes: &[u8]) -> io::Result<()> {
            self.streams.extend_from_slice(bytes);
            Ok(())
        }
        fn finish(&mut self, _file: HANDLE) -> io::Result<()> {
            self.finished += 1;
            Ok(())
        }
    }

    fn layer() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, link, data) in [
            ("Files/", tar::EntryType::Directory, None, &b""[..]),
            ("Files/Windows/", tar::EntryType::Directory, None, b""),
            ("Files/Windows/a.dll", tar::EntryType::Regular, None, b"MZ"),
            (
                "Files/Windows/b.dll",
                tar::EntryType::Link,
                Some("Files/Windows/a.dll"),
                b"",
            ),
            ("Hives/", tar::EntryType::Directory, None, b""),
            ("Hives/SYSTEM", tar::EntryType::Regular, None, b"regf"),
        ] {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(kind);
            h.set_mtime(1_700_000_000);
            h.set_size(data.len() as u64);
            h.set_path(name).unwrap();
            if let Some(link) = link {
                h.set_link_name(link).unwrap();
            }
            h.set_cksum();
            b.append(&h, data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn base_layer_folder_is_written_with_the_real_file_calls() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("base");
        std::fs::create_dir(&root).unwrap();
        let mut writer = BaseWriter::new(&root, Recorder::default()).unwrap();
        let plan = plan_base_layer(&layer()[..], &mut writer).unwrap();
        assert_eq!(plan.links, 1);
        let (ops, _) = BaseOp::record(&layer()[..]).unwrap();
        let expected: Vec<u8> = ops
            .iter()
            .filter_map(|o| match o {
                BaseOp::Streams(b) => Some(b.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(writer.backup().streams, expected);
        drop(writer);
        // Created by CreateDirectoryW / CreateFileW(CREATE_NEW); the link
        // by CreateHardLinkW. Data goes through BackupWrite, faked here, so
        // the files are empty.
        assert!(root.join("Files/Windows").is_dir());
        assert!(root.join("Hives/SYSTEM").is_file());
        assert!(root.join("Files/Windows/b.dll").is_file());
        // Directory times set after the children, from the tar.
        let modified = std::fs::metadata(root.join("Files/Windows"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(
            modified,
            std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        );
        assert_eq!(filetime(Timestamp::from_secs(0)), 116_444_736_000_000_000);
        // CREATE_NEW: nothing is overwritten.
        let mut again = BaseWriter::new(&root, Recorder::default()).unwrap();
        assert!(plan_base_layer(&layer()[..], &mut again).is_err());
    }
}
