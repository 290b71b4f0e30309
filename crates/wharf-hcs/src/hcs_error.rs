//! Readable errors from HCS: the HRESULT of a failed call, named and
//! explained, plus the result document HCS attaches to failed operations
//! (`{"Error": <HRESULT>, "ErrorMessage": "...", "ErrorEvents": [...]}`,
//! hcsshim's `hcsResult`/`ErrorEvent`).

use serde::Deserialize;
use std::fmt;

/// The result document of a failed HCS operation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HcsResult {
    #[serde(default)]
    pub error: i32,
    #[serde(default)]
    pub error_message: String,
    #[serde(default)]
    pub error_events: Vec<ErrorEvent>,
}

/// One event of an [`HcsResult`]; only the members that help a reader.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorEvent {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub provider: String,
    #[serde(default, rename = "EventId")]
    pub event_id: u16,
    #[serde(default)]
    pub source: String,
}

impl HcsResult {
    /// Parses a result document; `None` when it is empty or not the
    /// expected shape (the raw text is then shown as it is).
    pub fn parse(document: &str) -> Option<Self> {
        if document.trim().is_empty() {
            return None;
        }
        serde_json::from_str(document).ok()
    }
}

impl fmt::Display for HcsResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error_message.trim())?;
        for event in &self.error_events {
            let message = event.message.trim();
            if message.is_empty() {
                continue;
            }
            write!(f, "; {message}")?;
            if !event.source.is_empty() {
                write!(f, " (source {})", event.source)?;
            }
        }
        Ok(())
    }
}

/// `HRESULT_FROM_WIN32(ERROR_NOT_READY)`: the scratch volume is not
/// mounted yet; asking again shortly succeeds.
pub const E_NOT_READY: u32 = 0x8007_0015;
/// `HCS_E_ACCESS_DENIED`: the caller is not an administrator.
pub const HCS_E_ACCESS_DENIED: u32 = 0x8037_011B;
/// `HCS_E_PROCESS_ALREADY_STOPPED`: terminating a process that has exited.
pub const HCS_E_PROCESS_ALREADY_STOPPED: u32 = 0x8037_011F;
/// `HCS_E_SYSTEM_ALREADY_STOPPED`: terminating a stopped compute system.
pub const HCS_E_SYSTEM_ALREADY_STOPPED: u32 = 0x8037_0110;

/// `HRESULT_FROM_WIN32(ERROR_DEVICE_NOT_CONNECTED)`: seen from
/// `PrepareLayer` under load; trying again helps (hcsshim).
pub const E_DEVICE_NOT_CONNECTED: u32 = 0x8007_048F;
/// `HRESULT_FROM_WIN32(ERROR_NOT_FOUND)`: HCS's answer for a process or
/// system that has exited or no longer exists.
pub const E_NOT_FOUND: u32 = 0x8007_0490;
/// `HCS_E_SYSTEM_NOT_FOUND`.
pub const HCS_E_SYSTEM_NOT_FOUND: u32 = 0x8037_010E;

/// HCS returns its `0x8037xxxx` codes with the severity bits set as well
/// (`0xC037xxxx`, e.g. hcsshim's `ErrVmcomputeAlreadyStopped` is
/// `0xC0370110`); both mean the same. This maps the second family onto
/// the first.
pub fn hcs_family(code: u32) -> u32 {
    if code & 0xFFFF_0000 == 0xC037_0000 {
        code & !0x4000_0000
    } else {
        code
    }
}

/// Whether stopping a process or compute system failed only because it
/// had already stopped or no longer exists (hcsshim's `IsAlreadyStopped`
/// and `IsNotExist`): `HCS_E_SYSTEM_ALREADY_STOPPED` and
/// `HCS_E_PROCESS_ALREADY_STOPPED` in both families, `HCS_E_SYSTEM_NOT_FOUND`
/// and `ERROR_NOT_FOUND`.
pub fn is_already_stopped(code: u32) -> bool {
    matches!(
        hcs_family(code),
        HCS_E_SYSTEM_ALREADY_STOPPED
            | HCS_E_PROCESS_ALREADY_STOPPED
            | HCS_E_SYSTEM_NOT_FOUND
            | E_NOT_FOUND
            | 0x490
    )
}

/// `HRESULT_FROM_WIN32(ERROR_MOD_NOT_FOUND)`: a DLL could not be loaded
/// (the HCS DLLs, on a host without the Containers feature).
pub const E_MOD_NOT_FOUND: u32 = 0x8007_007E;
/// `HRESULT_FROM_WIN32(ERROR_PROC_NOT_FOUND)`: a DLL lacks a function.
pub const E_PROC_NOT_FOUND: u32 = 0x8007_007F;

/// The symbolic name of an HRESULT and what to do about it, for the codes
/// a build can meet.
pub fn describe_hresult(code: u32) -> Option<(&'static str, &'static str)> {
    let known = match hcs_family(code) {
        HCS_E_ACCESS_DENIED => ("HCS_E_ACCESS_DENIED", "run Wharf as an administrator (an elevated prompt): creating containers needs it"),
        0x8007_0005 => ("E_ACCESSDENIED", "run Wharf as an administrator; importing and exporting layers needs the backup and restore privileges"),
        0x8007_0522 => ("ERROR_PRIVILEGE_NOT_HELD", "run Wharf as an administrator: it needs the backup and restore privileges"),
        E_MOD_NOT_FOUND => ("ERROR_MOD_NOT_FOUND", "this host has no Host Compute Service, which RUN in a Windows stage needs: enable the Windows Containers feature (Enable-WindowsOptionalFeature -Online -FeatureName Containers, or Install-WindowsFeature Containers on Windows Server) and restart; builds without a Windows RUN do not need it"),
        E_PROC_NOT_FOUND => ("ERROR_PROC_NOT_FOUND", "this host's Host Compute Service lacks a function RUN needs: use Windows Server 2019 / Windows 10 1809 or later with the Containers feature enabled"),
        E_NOT_READY => ("ERROR_NOT_READY", "the layer's volume is not mounted yet; retry"),
        E_DEVICE_NOT_CONNECTED => ("ERROR_DEVICE_NOT_CONNECTED", "the layer's virtual disk went away while mounting, usually under load; retry with fewer builds at once"),
        E_NOT_FOUND => ("ERROR_NOT_FOUND", "the process or compute system no longer exists"),
        0x8007_0002 => ("ERROR_FILE_NOT_FOUND", "a layer folder or file is missing: check that every layer of the chain was imported"),
        0x8007_0003 => ("ERROR_PATH_NOT_FOUND", "a layer folder is missing: check that every layer of the chain was imported"),
        0x8007_00B7 => ("ERROR_ALREADY_EXISTS", "a folder or compute system of that name exists: remove what a previous run left behind"),
        0x8037_0100 => ("HCS_E_TERMINATED_DURING_START", "the container stopped while starting: check the Windows event log (Hyper-V-Compute)"),
        0x8037_0101 => ("HCS_E_IMAGE_MISMATCH", "the base image's Windows build cannot run process-isolated on this host (below build 20348 only the host's own build runs; from 20348 on, builds from the previous LTSC up to the host's): use a base image whose os.version fits this host's build"),
        0x8037_0102 => ("HCS_E_HYPERV_NOT_INSTALLED", "enable the Containers feature (and Hyper-V for Hyper-V isolation) and reboot"),
        0x8037_0105 => ("HCS_E_INVALID_STATE", "the compute system is not in a state for this operation; a previous run may have left it behind (hcsdiag list)"),
        0x8037_0106 => ("HCS_E_UNEXPECTED_EXIT", "the container exited unexpectedly: check the Windows event log (Hyper-V-Compute)"),
        0x8037_0107 => ("HCS_E_TERMINATED", "the container was terminated"),
        0x8037_010D => ("HCS_E_INVALID_JSON", "this Windows version does not understand the document: it needs Windows Server 2019 (1809) or later"),
        HCS_E_SYSTEM_NOT_FOUND => ("HCS_E_SYSTEM_NOT_FOUND", "the compute system no longer exists"),
        0x8037_010F => ("HCS_E_SYSTEM_ALREADY_EXISTS", "a compute system with this id exists: remove it (hcsdiag kill) or retry"),
        HCS_E_SYSTEM_ALREADY_STOPPED => ("HCS_E_SYSTEM_ALREADY_STOPPED", "the compute system has already stopped"),
        0x8037_0112 => ("HCS_E_INVALID_LAYER", "a layer folder is not a valid imported layer: import the layer again"),
        0x8037_0114 => ("HCS_E_SERVICE_NOT_AVAILABLE", "start the Hyper-V Host Compute Service (vmcompute) and enable the Containers feature"),
        0x8037_0118 => ("HCS_E_OPERATION_TIMEOUT", "HCS did not answer in time: retry, and check the host's load"),
        HCS_E_PROCESS_ALREADY_STOPPED => ("HCS_E_PROCESS_ALREADY_STOPPED", "the process has already exited"),
        0x8037_011E => ("HCS_E_SERVICE_DISCONNECT", "the Host Compute Service went away: check that it is running (vmcompute) and retry"),
        _ => return None,
    };
    Some(known)
}

/// Formats an HRESULT as Windows shows it, with its name and advice when
/// known: `0x8037011B HCS_E_ACCESS_DENIED (run Wharf as an administrator ...)`.
pub fn format_hresult(code: u32) -> String {
    match describe_hresult(code) {
        Some((name, advice)) => format!("0x{code:08X} {name} ({advice})"),
        None => format!("0x{code:08X}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_says_run_as_administrator() {
        let text = format_hresult(0x8037_011B);
        assert!(text.starts_with("0x8037011B HCS_E_ACCESS_DENIED"), "{text}");
        assert!(text.contains("administrator"), "{text}");
    }

    #[test]
    fn a_missing_hcs_dll_says_enable_the_containers_feature() {
        let text = format_hresult(0x8007_007E);
        assert!(text.starts_with("0x8007007E ERROR_MOD_NOT_FOUND"), "{text}");
        assert!(text.contains("Containers feature"), "{text}");
        let missing = crate::ApiError::new("LoadLibraryExW(vmcompute.dll)", E_MOD_NOT_FOUND);
        assert!(
            missing
                .to_string()
                .starts_with("LoadLibraryExW(vmcompute.dll) failed: 0x8007007E"),
            "{missing}"
        );
        assert!(format_hresult(E_PROC_NOT_FOUND).contains("Containers feature"));
    }

    #[test]
    fn both_hcs_families_are_known() {
        let text = format_hresult(0xC037_0101);
        assert!(
            text.starts_with("0xC0370101 HCS_E_IMAGE_MISMATCH"),
            "{text}"
        );
        assert!(text.contains("os.version"), "{text}");
        assert_eq!(describe_hresult(0xC037_011B), describe_hresult(0x8037_011B));
        assert_eq!(hcs_family(0x8007_0005), 0x8007_0005);
    }

    #[test]
    fn already_stopped_codes() {
        for code in [
            0x8037_0110,
            0xC037_0110,
            0x8037_011F,
            0xC037_011F,
            0x8037_010E,
            0xC037_010E,
            0x8007_0490,
            0x490,
        ] {
            assert!(is_already_stopped(code), "{code:#x}");
        }
        for code in [0x8037_0105, 0x8000_4005, 0] {
            assert!(!is_already_stopped(code), "{code:#x}");
        }
    }

    #[test]
    fn unknown_codes_are_shown_in_hex() {
        assert_eq!(format_hresult(0x8000_4005), "0x80004005");
        assert_eq!(describe_hresult(0), None);
    }

    #[test]
    fn parses_result_documents() {
        let document = r#"{
            "Error": -2143878885,
            "ErrorMessage": "Access is denied.",
            "ErrorEvents": [
                {"Message": "The caller is not an administrator.", "Provider": "17103e3f-3c6e-4677-bb17-3b267eb5be57", "EventId": 11, "Source": "vmcompute"},
                {"Message": "   "}
            ]
        }"#;
        let result = HcsResult::parse(document).expect("parses");
        assert_eq!(result.error as u32, HCS_E_ACCESS_DENIED);
        assert_eq!(result.error_events[0].event_id, 11);
        assert_eq!(
            result.to_string(),
            "Access is denied.; The caller is not an administrator. (source vmcompute)"
        );
    }

    #[test]
    fn odd_result_documents_give_none_not_a_panic() {
        assert_eq!(HcsResult::parse(""), None);
        assert_eq!(HcsResult::parse("  "), None);
        assert_eq!(HcsResult::parse("<html>"), None);
        assert_eq!(HcsResult::parse(r#"{"Error":"x"}"#), None);
        assert_eq!(HcsResult::parse("{}"), Some(HcsResult::default()));
    }
}
