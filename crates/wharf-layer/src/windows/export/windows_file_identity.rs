//! Which names in an export folder are one file, on a Windows host:
//! `GetFileInformationByHandle`'s volume serial number and file index, as
//! hcsshim's legacy layer reader tells hard links apart. Windows-only;
//! type-checked (`wincheck.sh`), never run on a Windows host.

use ::windows::Win32::Foundation::HANDLE;
use ::windows::Win32::Storage::FileSystem::{
    GetFileInformationByHandle, BY_HANDLE_FILE_INFORMATION,
};
use std::fs::File;
use std::io;
use std::os::windows::io::AsRawHandle;

/// `(volume serial, file index)` of `file` when it has more than one name.
pub fn link_key(file: &File) -> io::Result<Option<(u64, u64)>> {
    let mut info = BY_HANDLE_FILE_INFORMATION::default();
    // SAFETY: an open handle owned by `file`, a writable out structure.
    unsafe { GetFileInformationByHandle(HANDLE(file.as_raw_handle()), &mut info) }
        .map_err(|e| io::Error::from_raw_os_error(e.code().0 & 0xFFFF))?;
    let index = (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow);
    Ok((info.nNumberOfLinks > 1).then_some((u64::from(info.dwVolumeSerialNumber), index)))
}
