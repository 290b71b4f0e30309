//! [`HcsApi`]: the host calls one RUN needs, one method per Windows call,
//! with no decisions in them. The orchestrator drives it; the Windows shim
//! implements it over `vmcompute.dll` and `computecore.dll`; tests
//! implement it with a recording fake.

use crate::hcs_error::{format_hresult, HcsResult, E_DEVICE_NOT_CONNECTED, E_NOT_READY};
use std::fmt;
use std::path::Path;
use std::time::Duration;
use thiserror::Error;

/// The longest wait for one HCS operation (create, start, shutdown,
/// terminate, process creation, properties); hcsshim bounds its waits at
/// 4 minutes too. No wait is unbounded.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(240);

/// A Windows GUID (`NameToGuid`'s result, a layer's id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Guid {
    pub data1: u32,
    pub data2: u16,
    pub data3: u16,
    pub data4: [u8; 8],
}

impl Guid {
    /// The GUID written `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` as one number.
    pub const fn from_u128(value: u128) -> Self {
        let bytes = value.to_be_bytes();
        Guid {
            data1: (value >> 96) as u32,
            data2: (value >> 80) as u16,
            data3: (value >> 64) as u16,
            data4: [
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14],
                bytes[15],
            ],
        }
    }
}

impl Guid {
    /// Parses the text form (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, any
    /// case, braces allowed), as HCN spells object ids.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().trim_start_matches('{').trim_end_matches('}');
        let groups: Vec<&str> = text.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        if lengths != [8, 4, 4, 4, 12] || !text.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit())
        {
            return None;
        }
        u128::from_str_radix(&groups.concat(), 16)
            .ok()
            .map(Guid::from_u128)
    }
}

/// Lowercase and hyphenated, as HCS documents spell layer ids.
impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.data4;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            self.data1, self.data2, self.data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
        )
    }
}

/// One read-only layer as the storage calls and documents take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDescriptor {
    /// `NameToGuid` of the folder's name.
    pub id: Guid,
    /// The layer's folder, as text (HCS takes UTF-16 strings).
    pub path: String,
}

/// Which output pipe bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// What [`HcsApi::read_output`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputEvent {
    /// Bytes from one pipe.
    Output(OutputStream, Vec<u8>),
    /// Nothing arrived within the wait.
    Idle,
    /// Both pipes have ended (said at once, without waiting).
    Closed,
}

/// A failed host call: which call, its HRESULT, and the result document
/// HCS attached, if any.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct ApiError {
    /// The Windows function, e.g. `HcsCreateComputeSystem`.
    pub call: &'static str,
    pub hresult: u32,
    /// The operation's result document, parsed when it has the usual
    /// shape, else as text (boxed: errors travel by value, documents are
    /// rare).
    pub result: Option<Box<ResultDocument>>,
}

/// The result document of a failed operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultDocument {
    Parsed(HcsResult),
    Raw(String),
}

impl ApiError {
    pub fn new(call: &'static str, hresult: u32) -> Self {
        ApiError {
            call,
            hresult,
            result: None,
        }
    }

    /// Attaches an operation's result document (ignored when empty).
    pub fn with_result_document(mut self, document: &str) -> Self {
        if !document.trim().is_empty() {
            self.result = Some(Box::new(match HcsResult::parse(document) {
                Some(parsed) => ResultDocument::Parsed(parsed),
                None => ResultDocument::Raw(document.to_owned()),
            }));
        }
        self
    }

    /// `ERROR_NOT_READY`, as an HRESULT or as the bare Win32 code that
    /// the legacy storage calls sometimes return.
    pub fn is_not_ready(&self) -> bool {
        self.hresult == E_NOT_READY || self.hresult == 21
    }

    /// The errors after which hcsshim tries `ActivateLayer` +
    /// `PrepareLayer` again: `ERROR_NOT_READY` and
    /// `ERROR_DEVICE_NOT_CONNECTED`, as HRESULTs or bare codes.
    pub fn is_transient_mount_error(&self) -> bool {
        self.is_not_ready() || self.hresult == E_DEVICE_NOT_CONNECTED || self.hresult == 1167
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.call, format_hresult(self.hresult))?;
        match self.result.as_deref() {
            Some(ResultDocument::Parsed(result)) => {
                let text = result.to_string();
                if !text.is_empty() {
                    write!(f, ": {text}")?;
                }
            }
            Some(ResultDocument::Raw(text)) => write!(f, ": {}", text.trim())?,
            None => {}
        }
        Ok(())
    }
}

/// The host calls for one RUN. Paths are layer folders (the legacy
/// storage calls take a layer's full folder path as its "id").
///
/// Implementations make exactly the one call each method names and report
/// its failure; ordering, retries, timeouts and teardown are the
/// orchestrator's.
pub trait HcsApi {
    /// An open compute system.
    type System;
    /// An open process in a compute system, with its output pipes.
    type Process;

    /// `NameToGuid`: a layer's id from its folder's name.
    fn name_to_guid(&mut self, name: &str) -> Result<Guid, ApiError>;

    /// `ImportLayer`: fills `layer` from a folder in the export format
    /// (`Files\`, `Hives\`; Wharf stages it without `tombstones.txt` and
    /// hard links, as hcsshim does), on top of `parents`.
    /// Needs the backup and restore privileges, which it enables.
    fn import_layer(
        &mut self,
        layer: &Path,
        source: &Path,
        parents: &[LayerDescriptor],
    ) -> Result<(), ApiError>;

    /// `ProcessBaseImage`: makes a folder whose `Files\` holds a base
    /// layer's files (written with their backup streams) usable as a
    /// base layer.
    fn process_base_layer(&mut self, layer: &Path) -> Result<(), ApiError>;

    /// `ProcessUtilityImage`: the same for a base layer's `UtilityVM`
    /// folder (needed for Hyper-V isolation only).
    fn process_utility_vm(&mut self, utility_vm: &Path) -> Result<(), ApiError>;

    /// `CreateSandboxLayer`: a new scratch layer at `scratch` on `parents`.
    fn create_scratch_layer(
        &mut self,
        scratch: &Path,
        parents: &[LayerDescriptor],
    ) -> Result<(), ApiError>;

    /// `ActivateLayer`.
    fn activate_layer(&mut self, layer: &Path) -> Result<(), ApiError>;

    /// `PrepareLayer`: mounts the layer's volume with `parents` beneath it.
    fn prepare_layer(&mut self, layer: &Path, parents: &[LayerDescriptor]) -> Result<(), ApiError>;

    /// `GetLayerMountPath`: `\\?\Volume{GUID}` of a prepared layer (may
    /// fail with `ERROR_NOT_READY` for a moment after preparing).
    fn layer_mount_path(&mut self, layer: &Path) -> Result<String, ApiError>;

    /// `HcsCreateComputeSystem` with the [`crate::documents::ComputeSystem`]
    /// document, waiting for the operation.
    fn create_compute_system(&mut self, id: &str, document: &str)
        -> Result<Self::System, ApiError>;

    /// `HcsStartComputeSystem`, waiting for the operation.
    fn start_compute_system(&mut self, system: &mut Self::System) -> Result<(), ApiError>;

    /// `HcsCreateProcess` with the [`crate::documents::ProcessParameters`]
    /// document; the process's output pipes are read from then on.
    fn create_process(
        &mut self,
        system: &mut Self::System,
        parameters: &str,
    ) -> Result<Self::Process, ApiError>;

    /// Waits up to `wait` for output from the process.
    fn read_output(
        &mut self,
        process: &mut Self::Process,
        wait: Duration,
    ) -> Result<OutputEvent, ApiError>;

    /// `HcsGetProcessProperties`: the `ProcessStatus` document.
    fn process_status(&mut self, process: &mut Self::Process) -> Result<String, ApiError>;

    /// `HcsTerminateProcess`.
    fn terminate_process(&mut self, process: &mut Self::Process) -> Result<(), ApiError>;

    /// `HcsCloseProcess` (and the pipes).
    fn close_process(&mut self, process: Self::Process);

    /// `HcsTerminateComputeSystem`, waiting for the operation.
    fn terminate_compute_system(&mut self, system: &mut Self::System) -> Result<(), ApiError>;

    /// `HcsCloseComputeSystem`.
    fn close_compute_system(&mut self, system: Self::System);

    /// `UnprepareLayer`: unmounts the layer's volume.
    fn unprepare_layer(&mut self, layer: &Path) -> Result<(), ApiError>;

    /// `ExportLayer`: writes the changes of an activated, unprepared
    /// `layer` over `parents` into the folder `destination`. Needs the
    /// backup privilege, which it enables.
    fn export_layer(
        &mut self,
        layer: &Path,
        destination: &Path,
        parents: &[LayerDescriptor],
    ) -> Result<(), ApiError>;

    /// `DeactivateLayer`.
    fn deactivate_layer(&mut self, layer: &Path) -> Result<(), ApiError>;

    /// `DestroyLayer`: removes the layer folder.
    fn destroy_layer(&mut self, layer: &Path) -> Result<(), ApiError>;

    // ---- Stopping a compute system gracefully ----

    /// `HcsShutDownComputeSystem`, waiting (bounded) for the operation:
    /// asks the container's OS to shut down.
    fn shutdown_compute_system(&mut self, system: &mut Self::System) -> Result<(), ApiError>;

    /// `HcsGetComputeSystemProperties` with no query: the schema 2
    /// `Properties` document (`State`, `Stopped`).
    fn compute_system_properties(&mut self, system: &mut Self::System) -> Result<String, ApiError>;

    // ---- Preparing the container's files ----

    /// `CreateDirectoryW` for `path` and each missing parent (a folder in
    /// the mounted scratch volume, `\\?\Volume{GUID}\...`).
    fn create_directory(&mut self, path: &str) -> Result<(), ApiError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_display_matches_windows_text_form() {
        let guid = Guid::from_u128(0x6b29fc40_ca47_1067_b31d_00dd010662da);
        assert_eq!(guid.data1, 0x6b29fc40);
        assert_eq!(guid.data2, 0xca47);
        assert_eq!(guid.data3, 0x1067);
        assert_eq!(guid.data4, [0xb3, 0x1d, 0x00, 0xdd, 0x01, 0x06, 0x62, 0xda]);
        assert_eq!(guid.to_string(), "6b29fc40-ca47-1067-b31d-00dd010662da");
        assert_eq!(
            Guid::default().to_string(),
            "00000000-0000-0000-0000-000000000000"
        );
    }

    #[test]
    fn guid_text_round_trip() {
        let text = "6b29fc40-ca47-1067-b31d-00dd010662da";
        assert_eq!(Guid::parse(text).unwrap().to_string(), text);
        assert_eq!(
            Guid::parse("{6B29FC40-CA47-1067-B31D-00DD010662DA}")
                .unwrap()
                .to_string(),
            text
        );
        assert_eq!(Guid::parse("6b29fc40-ca47-1067-b31d-00dd010662d"), None);
        assert_eq!(Guid::parse("6b29fc40ca47-1067-b31d-00dd010662da"), None);
        assert_eq!(Guid::parse("+b29fc40-ca47-1067-b31d-00dd010662da"), None);
    }

    #[test]
    fn api_error_text_names_call_code_and_result() {
        let error = ApiError::new("HcsCreateComputeSystem", 0x8037_011B)
            .with_result_document(r#"{"Error":-2143878885,"ErrorMessage":"Access is denied."}"#);
        let text = error.to_string();
        assert!(
            text.starts_with("HcsCreateComputeSystem failed: 0x8037011B HCS_E_ACCESS_DENIED"),
            "{text}"
        );
        assert!(text.contains("administrator"), "{text}");
        assert!(text.ends_with(": Access is denied."), "{text}");

        let raw =
            ApiError::new("HcsStartComputeSystem", 0x8000_4005).with_result_document("oops\n");
        assert_eq!(
            raw.to_string(),
            "HcsStartComputeSystem failed: 0x80004005: oops"
        );
        let none = ApiError::new("ActivateLayer", 0x8000_4005).with_result_document("  ");
        assert_eq!(none.result, None);
    }

    #[test]
    fn transient_mount_errors() {
        for code in [0x8007_0015, 21, 0x8007_048F, 1167] {
            assert!(ApiError::new("PrepareLayer", code).is_transient_mount_error());
        }
        assert!(!ApiError::new("PrepareLayer", 0x8007_0005).is_transient_mount_error());
    }

    #[test]
    fn not_ready_in_both_spellings() {
        assert!(ApiError::new("GetLayerMountPath", 0x8007_0015).is_not_ready());
        assert!(ApiError::new("GetLayerMountPath", 21).is_not_ready());
        assert!(!ApiError::new("GetLayerMountPath", 0x8007_0005).is_not_ready());
    }
}
