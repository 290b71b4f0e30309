//! The host's Windows version, read with `RtlGetVersion` (ntdll), which,
//! unlike `GetVersionEx`, reports the real build whatever the program's
//! manifest declares. Windows-only; type-checked, not run (no Windows host
//! where Wharf is developed). The revision (`UBR`) is not read: the rule
//! that uses the version (process-isolation compatibility, in `wharf-oci`)
//! ignores it.

use windows::Wdk::System::SystemServices::RtlGetVersion;
use windows::Win32::System::SystemInformation::OSVERSIONINFOW;

/// `major.minor.build` of a Windows version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostVersion {
    pub major: u32,
    pub minor: u32,
    pub build: u32,
}

/// This Windows' version; `None` if the call fails.
pub fn host_version() -> Option<HostVersion> {
    let mut info = OSVERSIONINFOW {
        dwOSVersionInfoSize: std::mem::size_of::<OSVERSIONINFOW>() as u32,
        ..Default::default()
    };
    // SAFETY: a correctly sized, writable OSVERSIONINFOW.
    let status = unsafe { RtlGetVersion(&mut info) };
    status.is_ok().then_some(HostVersion {
        major: info.dwMajorVersion,
        minor: info.dwMinorVersion,
        build: info.dwBuildNumber,
    })
}
