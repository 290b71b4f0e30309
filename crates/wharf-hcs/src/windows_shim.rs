//! [`HcsApi`] on a Windows host: each method is one call into
//! `computecore.dll` (documented; types from the `windows` crate) or into
//! the legacy storage functions of `vmcompute.dll` (undocumented), both
//! through the function tables `windows_dlls` loads on first use, plus the
//! conversion of strings and handles. Nothing is decided here: the
//! orchestrator chooses what to call and when.
//!
//! **Type-checked and linted only** (`wincheck.sh`): no Windows host is
//! available to run this code, so it has never been executed. The
//! `vmcompute.dll` signatures follow hcsshim's `internal/wclayer`
//! declarations (a driver info `{Flavour: 1, HomeDir: ""}`, the layer's
//! full folder path as its id, `WC_LAYER_DESCRIPTOR` arrays with their
//! length as a pointer-sized integer).
//!
//! Why the legacy storage calls: creating, mounting, importing and
//! exporting container layers through `vmcompute.dll` is what Docker,
//! containerd and hcsshim's layer reader and writer do; the documented
//! `computestorage.dll` route for mounting a writable layer on the host is
//! used by no one (hcsshim issue 1076), and mixing the two on one scratch
//! is untested anywhere.
//!
//! Output: `HcsCreateProcess` hands back pipe handles; one thread per pipe
//! reads them into a channel, which [`HcsApi::read_output`] waits on.
//!
//! Handles: a compute system or process whose creation operation failed
//! after HCS handed out its handle is closed here, so that a failed call
//! leaves nothing open.

use crate::api::{ApiError, Guid, HcsApi, LayerDescriptor, OutputEvent, OutputStream};
use crate::windows_dlls::{Computecore, DriverInfo, Vmcompute, WcLayerDescriptor};
use std::ffi::OsStr;
use std::os::windows::ffi::OsStrExt;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::Duration;
use windows::core::{GUID, HRESULT, PCWSTR, PWSTR};
use windows::Win32::Foundation::{
    CloseHandle, GetLastError, LocalFree, ERROR_NOT_ALL_ASSIGNED, HANDLE, HLOCAL, LUID,
};
use windows::Win32::Security::{
    AdjustTokenPrivileges, LookupPrivilegeValueW, LUID_AND_ATTRIBUTES, SE_PRIVILEGE_ENABLED,
    TOKEN_ADJUST_PRIVILEGES, TOKEN_PRIVILEGES, TOKEN_QUERY,
};
use windows::Win32::Storage::FileSystem::ReadFile;
use windows::Win32::System::HostComputeSystem::{
    HCS_OPERATION, HCS_PROCESS, HCS_PROCESS_INFORMATION, HCS_SYSTEM,
};
use windows::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// The HCS of this host: its two DLLs, loaded.
pub struct WindowsHcs {
    compute: &'static Computecore,
    storage: &'static Vmcompute,
}

/// An open compute system.
pub struct WindowsSystem(HCS_SYSTEM);

/// An open process and the receiving end of its output.
pub struct WindowsProcess {
    handle: HCS_PROCESS,
    output: Receiver<(OutputStream, Vec<u8>)>,
}

impl WindowsHcs {
    /// Loads `computecore.dll` and `vmcompute.dll` (once per process); an
    /// error, explained by `hcs_error`, on a host without the Containers
    /// feature.
    pub fn open() -> Result<Self, ApiError> {
        let (compute, storage) = crate::windows_dlls::available()?;
        Ok(WindowsHcs { compute, storage })
    }
}

/// A NUL-terminated UTF-16 copy of `text`.
fn wide(text: impl AsRef<OsStr>) -> Vec<u16> {
    text.as_ref().encode_wide().chain(Some(0)).collect()
}

fn check(call: &'static str, hresult: HRESULT) -> Result<(), ApiError> {
    if hresult.is_ok() {
        Ok(())
    } else {
        Err(ApiError::new(call, hresult.0 as u32))
    }
}

fn api_error(call: &'static str, error: &windows::core::Error) -> ApiError {
    ApiError::new(call, error.code().0 as u32)
}

/// The legacy driver info; `home_dir` must outlive the call.
fn driver_info(home_dir: &[u16]) -> DriverInfo {
    DriverInfo {
        flavour: crate::documents::LAYER_DRIVER_FLAVOUR_FILTER,
        home_dir: PCWSTR(home_dir.as_ptr()),
    }
}

/// Layer descriptors and the UTF-16 paths they point into.
struct Descriptors {
    _paths: Vec<Vec<u16>>,
    entries: Vec<WcLayerDescriptor>,
}

fn descriptors(parents: &[LayerDescriptor]) -> Descriptors {
    let paths: Vec<Vec<u16>> = parents.iter().map(|p| wide(&p.path)).collect();
    let entries = parents
        .iter()
        .zip(&paths)
        .map(|(parent, path)| WcLayerDescriptor {
            layer_id: GUID {
                data1: parent.id.data1,
                data2: parent.id.data2,
                data3: parent.id.data3,
                data4: parent.id.data4,
            },
            flags: 0,
            path: PCWSTR(path.as_ptr()),
        })
        .collect();
    Descriptors {
        _paths: paths,
        entries,
    }
}

/// Takes a result document from HCS, freeing its buffer.
///
/// # Safety
/// `document` is null or a string HCS allocated with `LocalAlloc`.
unsafe fn take_document(document: PWSTR) -> String {
    if document.is_null() {
        return String::new();
    }
    // SAFETY: HCS returned a NUL-terminated string it allocated.
    let text = String::from_utf16_lossy(unsafe { document.as_wide() });
    // SAFETY: freed once, as the HCS documentation asks.
    unsafe { LocalFree(Some(HLOCAL(document.0.cast()))) };
    text
}

/// [`crate::api::OPERATION_TIMEOUT`] in milliseconds: every wait is bounded
/// (a timed-out wait fails with `HCS_E_OPERATION_TIMEOUT`).
fn operation_timeout_ms() -> u32 {
    u32::try_from(crate::api::OPERATION_TIMEOUT.as_millis()).unwrap_or(u32::MAX - 1)
}

/// Creates an operation, starts the call with it, waits for its result
/// document and closes it.
fn with_operation(
    compute: &Computecore,
    call: &'static str,
    start: impl FnOnce(HCS_OPERATION) -> HRESULT,
) -> Result<String, ApiError> {
    // SAFETY: no context and no callback: the operation is waited on.
    let operation = unsafe { (compute.HcsCreateOperation)(std::ptr::null(), None) };
    if operation.is_invalid() {
        return Err(ApiError::new("HcsCreateOperation", 0x8007_000E));
    }
    let started = start(operation);
    let mut document = PWSTR::null();
    let waited = if started.is_ok() {
        // SAFETY: a live operation; `document` receives a LocalAlloc'd string.
        unsafe {
            (compute.HcsWaitForOperationResult)(operation, operation_timeout_ms(), &mut document)
        }
    } else {
        started
    };
    // SAFETY: `document` came from the wait above (or is null).
    let text = unsafe { take_document(document) };
    // SAFETY: the operation is no longer used.
    unsafe { (compute.HcsCloseOperation)(operation) };
    check(call, waited)
        .map(|()| text.clone())
        .map_err(|e| e.with_result_document(&text))
}

/// Enables one privilege on this process's token (left enabled: the
/// builder imports and exports layers throughout its life). Also used by
/// the base layer writer of `wharf-run`.
pub fn enable_privilege(name: &str) -> Result<(), ApiError> {
    const CALL: &str = "AdjustTokenPrivileges";
    let name = wide(name);
    let mut luid = LUID::default();
    // SAFETY: valid NUL-terminated name, valid out pointer.
    unsafe { LookupPrivilegeValueW(PCWSTR::null(), PCWSTR(name.as_ptr()), &mut luid) }
        .map_err(|e| api_error("LookupPrivilegeValueW", &e))?;
    let mut token = HANDLE::default();
    // SAFETY: the pseudo-handle of this process, a valid out pointer.
    unsafe {
        OpenProcessToken(
            GetCurrentProcess(),
            TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY,
            &mut token,
        )
    }
    .map_err(|e| api_error("OpenProcessToken", &e))?;
    let privileges = TOKEN_PRIVILEGES {
        PrivilegeCount: 1,
        Privileges: [LUID_AND_ATTRIBUTES {
            Luid: luid,
            Attributes: SE_PRIVILEGE_ENABLED,
        }],
    };
    // SAFETY: an open token and a valid TOKEN_PRIVILEGES.
    let adjusted = unsafe { AdjustTokenPrivileges(token, false, Some(&privileges), 0, None, None) };
    // It "succeeds" without granting what the token lacks.
    // SAFETY: read right after the call, on this thread.
    let not_assigned = unsafe { GetLastError() } == ERROR_NOT_ALL_ASSIGNED;
    // SAFETY: the token is ours and used no more.
    let _ = unsafe { CloseHandle(token) };
    adjusted.map_err(|e| api_error(CALL, &e))?;
    if not_assigned {
        // HRESULT_FROM_WIN32(ERROR_PRIVILEGE_NOT_HELD)
        return Err(ApiError::new(CALL, 0x8007_0522));
    }
    Ok(())
}

/// Reads one pipe to its end into `sink`, then closes it.
fn pump(pipe: HANDLE, stream: OutputStream, sink: Sender<(OutputStream, Vec<u8>)>) {
    /// The pipe handle, moved to its reader thread.
    struct Pipe(HANDLE);
    // SAFETY: a pipe handle may be used from any thread; only this
    // thread uses it from now on.
    unsafe impl Send for Pipe {}

    let pipe = Pipe(pipe);
    thread::spawn(move || {
        let pipe = pipe;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let mut read = 0u32;
            // SAFETY: an open pipe handle, a valid buffer and count.
            let ok = unsafe { ReadFile(pipe.0, Some(&mut buffer), Some(&mut read), None) };
            if ok.is_err() || read == 0 {
                break;
            }
            let chunk = buffer[..read as usize].to_vec();
            if sink.send((stream, chunk)).is_err() {
                break;
            }
        }
        // SAFETY: the handle is ours and used no more.
        let _ = unsafe { CloseHandle(pipe.0) };
    });
}

impl HcsApi for WindowsHcs {
    type System = WindowsSystem;
    type Process = WindowsProcess;

    fn name_to_guid(&mut self, name: &str) -> Result<Guid, ApiError> {
        let name = wide(name);
        let mut guid = GUID::zeroed();
        // SAFETY: a NUL-terminated name and a valid out pointer.
        check("NameToGuid", unsafe {
            (self.storage.NameToGuid)(PCWSTR(name.as_ptr()), &mut guid)
        })?;
        Ok(Guid {
            data1: guid.data1,
            data2: guid.data2,
            data3: guid.data3,
            data4: guid.data4,
        })
    }

    fn import_layer(
        &mut self,
        layer: &Path,
        source: &Path,
        parents: &[LayerDescriptor],
    ) -> Result<(), ApiError> {
        enable_privilege("SeBackupPrivilege")?;
        enable_privilege("SeRestorePrivilege")?;
        let (home, id, source) = (wide(""), wide(layer), wide(source));
        let parents = descriptors(parents);
        let info = driver_info(&home);
        // SAFETY: every pointer refers to a live, NUL-terminated buffer.
        check("ImportLayer", unsafe {
            (self.storage.ImportLayer)(
                &info,
                PCWSTR(id.as_ptr()),
                PCWSTR(source.as_ptr()),
                parents.entries.as_ptr(),
                parents.entries.len(),
            )
        })
    }

    fn process_base_layer(&mut self, layer: &Path) -> Result<(), ApiError> {
        let path = wide(layer);
        // SAFETY: a NUL-terminated path.
        check("ProcessBaseImage", unsafe {
            (self.storage.ProcessBaseImage)(PCWSTR(path.as_ptr()))
        })
    }

    fn process_utility_vm(&mut self, utility_vm: &Path) -> Result<(), ApiError> {
        let path = wide(utility_vm);
        // SAFETY: a NUL-terminated path.
        check("ProcessUtilityImage", unsafe {
            (self.storage.ProcessUtilityImage)(PCWSTR(path.as_ptr()))
        })
    }

    fn create_scratch_layer(
        &mut self,
        scratch: &Path,
        parents: &[LayerDescriptor],
    ) -> Result<(), ApiError> {
        let (home, id) = (wide(""), wide(scratch));
        let parents = descriptors(parents);
        let info = driver_info(&home);
        // SAFETY: as above; no parent id (hcsshim passes 0).
        check("CreateSandboxLayer", unsafe {
            (self.storage.CreateSandboxLayer)(
                &info,
                PCWSTR(id.as_ptr()),
                PCWSTR::null(),
                parents.entries.as_ptr(),
                parents.entries.len(),
            )
        })
    }

    fn activate_layer(&mut self, layer: &Path) -> Result<(), ApiError> {
        let (home, id) = (wide(""), wide(layer));
        let info = driver_info(&home);
        // SAFETY: live buffers.
        check("ActivateLayer", unsafe {
            (self.storage.ActivateLayer)(&info, PCWSTR(id.as_ptr()))
        })
    }

    fn prepare_layer(&mut self, layer: &Path, parents: &[LayerDescriptor]) -> Result<(), ApiError> {
        let (home, id) = (wide(""), wide(layer));
        let parents = descriptors(parents);
        let info = driver_info(&home);
        // SAFETY: live buffers.
        check("PrepareLayer", unsafe {
            (self.storage.PrepareLayer)(
                &info,
                PCWSTR(id.as_ptr()),
                parents.entries.as_ptr(),
                parents.entries.len(),
            )
        })
    }

    fn layer_mount_path(&mut self, layer: &Path) -> Result<String, ApiError> {
        let (home, id) = (wide(""), wide(layer));
        let info = driver_info(&home);
        let mut length = 0usize;
        // SAFETY: first call asks for the length only.
        check("GetLayerMountPath", unsafe {
            (self.storage.GetLayerMountPath)(
                &info,
                PCWSTR(id.as_ptr()),
                &mut length,
                std::ptr::null_mut(),
            )
        })?;
        if length == 0 {
            return Ok(String::new());
        }
        let mut buffer = vec![0u16; length];
        // SAFETY: a buffer of the length the first call gave.
        check("GetLayerMountPath", unsafe {
            (self.storage.GetLayerMountPath)(
                &info,
                PCWSTR(id.as_ptr()),
                &mut length,
                buffer.as_mut_ptr(),
            )
        })?;
        let end = buffer.iter().position(|&c| c == 0).unwrap_or(buffer.len());
        Ok(String::from_utf16_lossy(&buffer[..end]))
    }

    fn create_compute_system(
        &mut self,
        id: &str,
        document: &str,
    ) -> Result<WindowsSystem, ApiError> {
        let (id, document) = (wide(id), wide(document));
        let mut system = HCS_SYSTEM::default();
        let compute = self.compute;
        let created = with_operation(compute, "HcsCreateComputeSystem", |operation| {
            // SAFETY: NUL-terminated id and document, a live operation, a
            // valid out pointer; no security descriptor.
            unsafe {
                (compute.HcsCreateComputeSystem)(
                    PCWSTR(id.as_ptr()),
                    PCWSTR(document.as_ptr()),
                    operation,
                    std::ptr::null(),
                    &mut system,
                )
            }
        });
        match created {
            Ok(_) => Ok(WindowsSystem(system)),
            Err(e) => {
                if !system.is_invalid() {
                    // SAFETY: a handle HCS gave us, not used again.
                    unsafe { (compute.HcsCloseComputeSystem)(system) };
                }
                Err(e)
            }
        }
    }

    fn start_compute_system(&mut self, system: &mut WindowsSystem) -> Result<(), ApiError> {
        with_operation(self.compute, "HcsStartComputeSystem", |operation| {
            // SAFETY: an open system and a live operation; no options.
            unsafe { (self.compute.HcsStartComputeSystem)(system.0, operation, PCWSTR::null()) }
        })
        .map(drop)
    }

    fn create_process(
        &mut self,
        system: &mut WindowsSystem,
        parameters: &str,
    ) -> Result<WindowsProcess, ApiError> {
        const CALL: &str = "HcsCreateProcess";
        let parameters = wide(parameters);
        let compute = self.compute;
        // SAFETY: no context and no callback: the operation is waited on.
        let operation = unsafe { (compute.HcsCreateOperation)(std::ptr::null(), None) };
        if operation.is_invalid() {
            return Err(ApiError::new("HcsCreateOperation", 0x8007_000E));
        }
        let mut process = HCS_PROCESS::default();
        // SAFETY: an open system, NUL-terminated parameters, a live
        // operation, a valid out pointer; no security descriptor.
        let created = unsafe {
            (compute.HcsCreateProcess)(
                system.0,
                PCWSTR(parameters.as_ptr()),
                operation,
                std::ptr::null(),
                &mut process,
            )
        };
        let mut info = HCS_PROCESS_INFORMATION::default();
        let mut document = PWSTR::null();
        let waited = if created.is_ok() {
            // SAFETY: a live operation and valid out pointers.
            unsafe {
                (compute.HcsWaitForOperationResultAndProcessInfo)(
                    operation,
                    operation_timeout_ms(),
                    &mut info,
                    &mut document,
                )
            }
        } else {
            created
        };
        if waited.is_err() && !process.is_invalid() {
            // SAFETY: a handle HCS gave us, not used again.
            unsafe { (compute.HcsCloseProcess)(process) };
        }
        // SAFETY: `document` came from the wait above (or is null).
        let text = unsafe { take_document(document) };
        // SAFETY: the operation is no longer used.
        unsafe { (compute.HcsCloseOperation)(operation) };
        check(CALL, waited).map_err(|e| e.with_result_document(&text))?;
        let handle = process;
        let (sink, output) = mpsc::channel();
        pump(info.StdOutput, OutputStream::Stdout, sink.clone());
        pump(info.StdError, OutputStream::Stderr, sink);
        if !info.StdInput.is_invalid() {
            // SAFETY: no stdin pipe was asked for; close one if given.
            let _ = unsafe { CloseHandle(info.StdInput) };
        }
        Ok(WindowsProcess { handle, output })
    }

    fn read_output(
        &mut self,
        process: &mut WindowsProcess,
        wait: Duration,
    ) -> Result<OutputEvent, ApiError> {
        Ok(match process.output.recv_timeout(wait) {
            Ok((stream, bytes)) => OutputEvent::Output(stream, bytes),
            Err(RecvTimeoutError::Timeout) => OutputEvent::Idle,
            Err(RecvTimeoutError::Disconnected) => OutputEvent::Closed,
        })
    }

    fn process_status(&mut self, process: &mut WindowsProcess) -> Result<String, ApiError> {
        with_operation(self.compute, "HcsGetProcessProperties", |operation| {
            // SAFETY: an open process and a live operation; no query.
            unsafe {
                (self.compute.HcsGetProcessProperties)(process.handle, operation, PCWSTR::null())
            }
        })
    }

    fn terminate_process(&mut self, process: &mut WindowsProcess) -> Result<(), ApiError> {
        with_operation(self.compute, "HcsTerminateProcess", |operation| {
            // SAFETY: an open process and a live operation; no options.
            unsafe { (self.compute.HcsTerminateProcess)(process.handle, operation, PCWSTR::null()) }
        })
        .map(drop)
    }

    fn close_process(&mut self, process: WindowsProcess) {
        // SAFETY: the handle is open and used no more.
        unsafe { (self.compute.HcsCloseProcess)(process.handle) };
    }

    fn terminate_compute_system(&mut self, system: &mut WindowsSystem) -> Result<(), ApiError> {
        with_operation(self.compute, "HcsTerminateComputeSystem", |operation| {
            // SAFETY: an open system and a live operation; no options.
            unsafe { (self.compute.HcsTerminateComputeSystem)(system.0, operation, PCWSTR::null()) }
        })
        .map(drop)
    }

    fn close_compute_system(&mut self, system: WindowsSystem) {
        // SAFETY: the handle is open and used no more.
        unsafe { (self.compute.HcsCloseComputeSystem)(system.0) };
    }

    fn unprepare_layer(&mut self, layer: &Path) -> Result<(), ApiError> {
        let (home, id) = (wide(""), wide(layer));
        let info = driver_info(&home);
        // SAFETY: live buffers.
        check("UnprepareLayer", unsafe {
            (self.storage.UnprepareLayer)(&info, PCWSTR(id.as_ptr()))
        })
    }

    fn export_layer(
        &mut self,
        layer: &Path,
        destination: &Path,
        parents: &[LayerDescriptor],
    ) -> Result<(), ApiError> {
        enable_privilege("SeBackupPrivilege")?;
        let (home, id, destination) = (wide(""), wide(layer), wide(destination));
        let parents = descriptors(parents);
        let info = driver_info(&home);
        // SAFETY: live buffers.
        check("ExportLayer", unsafe {
            (self.storage.ExportLayer)(
                &info,
                PCWSTR(id.as_ptr()),
                PCWSTR(destination.as_ptr()),
                parents.entries.as_ptr(),
                parents.entries.len(),
            )
        })
    }

    fn deactivate_layer(&mut self, layer: &Path) -> Result<(), ApiError> {
        let (home, id) = (wide(""), wide(layer));
        let info = driver_info(&home);
        // SAFETY: live buffers.
        check("DeactivateLayer", unsafe {
            (self.storage.DeactivateLayer)(&info, PCWSTR(id.as_ptr()))
        })
    }

    fn destroy_layer(&mut self, layer: &Path) -> Result<(), ApiError> {
        let (home, id) = (wide(""), wide(layer));
        let info = driver_info(&home);
        // SAFETY: live buffers.
        check("DestroyLayer", unsafe {
            (self.storage.DestroyLayer)(&info, PCWSTR(id.as_ptr()))
        })
    }

    // ---- Stopping a compute system gracefully ----

    fn shutdown_compute_system(&mut self, system: &mut WindowsSystem) -> Result<(), ApiError> {
        with_operation(self.compute, "HcsShutDownComputeSystem", |operation| {
            // SAFETY: an open system and a live operation; no options.
            unsafe { (self.compute.HcsShutDownComputeSystem)(system.0, operation, PCWSTR::null()) }
        })
        .map(drop)
    }

    fn create_directory(&mut self, path: &str) -> Result<(), ApiError> {
        std::fs::create_dir_all(path).map_err(|e| {
            // HRESULT_FROM_WIN32 of the error code.
            let code = e.raw_os_error().unwrap_or(1) as u32 & 0xFFFF;
            ApiError::new("CreateDirectoryW", 0x8007_0000 | code)
        })
    }

    fn compute_system_properties(
        &mut self,
        system: &mut WindowsSystem,
    ) -> Result<String, ApiError> {
        with_operation(self.compute, "HcsGetComputeSystemProperties", |operation| {
            // SAFETY: an open system and a live operation; no query.
            unsafe {
                (self.compute.HcsGetComputeSystemProperties)(system.0, operation, PCWSTR::null())
            }
        })
    }
}
