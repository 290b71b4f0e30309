//! The Host Compute Service DLLs, loaded on first use rather than at
//! process start: `computecore.dll` (the documented compute calls),
//! `vmcompute.dll` (the legacy storage calls) and `computenetwork.dll`
//! (the Host Compute Network calls, loaded only by a RUN with a network).
//!
//! Both exist only where the Windows Containers feature is enabled. Linked
//! as ordinary imports, they would stop `wharf.exe` before `main` on every
//! other Windows machine (status `0xC0000135`), although most builds (COPY,
//! ADD, configuration, Linux stages) never touch HCS. So each DLL is
//! loaded from System32 only (`LOAD_LIBRARY_SEARCH_SYSTEM32`: never from
//! the current directory or `PATH`) the first time a RUN needs it, every
//! function Wharf calls is looked up at once, and the table (or the
//! failure) is kept for the life of the process. A missing DLL or function
//! is an [`ApiError`] with `ERROR_MOD_NOT_FOUND` / `ERROR_PROC_NOT_FOUND`,
//! which `hcs_error` explains (enable the Containers feature).

use crate::api::ApiError;
use crate::hcs_error::{E_MOD_NOT_FOUND, E_PROC_NOT_FOUND};
use std::ffi::c_void;
use std::sync::OnceLock;
use windows::core::{GUID, HRESULT, PCSTR, PCWSTR, PWSTR};
use windows::Win32::Foundation::HMODULE;
use windows::Win32::Security::SECURITY_DESCRIPTOR;
use windows::Win32::System::HostComputeSystem::{
    HCS_OPERATION, HCS_OPERATION_COMPLETION, HCS_PROCESS, HCS_PROCESS_INFORMATION, HCS_SYSTEM,
};
use windows::Win32::System::LibraryLoader::{
    GetProcAddress, LoadLibraryExW, LOAD_LIBRARY_SEARCH_SYSTEM32,
};

/// `DriverInfo` of the legacy storage calls (hcsshim's `driverInfo`,
/// whose `Flavour` is a Go `int`: pointer-sized).
#[repr(C)]
pub(crate) struct DriverInfo {
    pub flavour: isize,
    pub home_dir: PCWSTR,
}

/// `WC_LAYER_DESCRIPTOR`.
#[repr(C)]
pub(crate) struct WcLayerDescriptor {
    pub layer_id: GUID,
    pub flags: u32,
    pub path: PCWSTR,
}

/// Loads `dll` (a NUL-terminated name) from System32.
fn load(call: &'static str, dll: &str) -> Result<HMODULE, ApiError> {
    let name: Vec<u16> = dll.encode_utf16().collect();
    // SAFETY: a NUL-terminated UTF-16 name; no file handle.
    unsafe { LoadLibraryExW(PCWSTR(name.as_ptr()), None, LOAD_LIBRARY_SEARCH_SYSTEM32) }
        .map_err(|_| ApiError::new(call, E_MOD_NOT_FOUND))
}

/// The address of `function` (NUL-terminated) in `module`.
fn symbol(
    module: HMODULE,
    call: &'static str,
    function: &str,
) -> Result<unsafe extern "system" fn() -> isize, ApiError> {
    // SAFETY: a loaded module (never unloaded) and a NUL-terminated name.
    unsafe { GetProcAddress(module, PCSTR(function.as_ptr())) }
        .ok_or_else(|| ApiError::new(call, E_PROC_NOT_FOUND))
}

/// Declares a table of one DLL's functions, filled on first use.
macro_rules! dll_table {
    (
        $(#[$meta:meta])*
        $table:ident in $dll:literal {
            $( fn $name:ident ( $( $arg:ident : $ty:ty ),* $(,)? ) $( -> $ret:ty )?; )*
        }
    ) => {
        $(#[$meta])*
        #[allow(non_snake_case)]
        pub(crate) struct $table {
            $( pub $name: unsafe extern "system" fn( $( $ty ),* ) $( -> $ret )?, )*
        }

        impl $table {
            /// The table, loading the DLL the first time; a failure is
            /// remembered and returned again.
            pub(crate) fn get() -> Result<&'static $table, ApiError> {
                static TABLE: OnceLock<Result<$table, ApiError>> = OnceLock::new();
                TABLE
                    .get_or_init(|| {
                        let module = load(concat!("LoadLibraryExW(", $dll, ")"), concat!($dll, "\0"))?;
                        Ok($table {
                            $(
                                // SAFETY: the export of that name has this
                                // signature (the Windows SDK's, or hcsshim's
                                // for the undocumented storage calls).
                                $name: unsafe {
                                    std::mem::transmute::<
                                        unsafe extern "system" fn() -> isize,
                                        unsafe extern "system" fn( $( $ty ),* ) $( -> $ret )?,
                                    >(symbol(
                                        module,
                                        concat!("GetProcAddress(", $dll, "!", stringify!($name), ")"),
                                        concat!(stringify!($name), "\0"),
                                    )?)
                                },
                            )*
                        })
                    })
                    .as_ref()
                    .map_err(Clone::clone)
            }
        }
    };
}

dll_table! {
    /// The documented compute calls (`computecore.dll`, Windows 10 1809 on).
    Computecore in "computecore.dll" {
        fn HcsCreateOperation(context: *const c_void, callback: HCS_OPERATION_COMPLETION) -> HCS_OPERATION;
        fn HcsCloseOperation(operation: HCS_OPERATION);
        fn HcsWaitForOperationResult(operation: HCS_OPERATION, timeout_ms: u32, document: *mut PWSTR) -> HRESULT;
        fn HcsWaitForOperationResultAndProcessInfo(
            operation: HCS_OPERATION,
            timeout_ms: u32,
            info: *mut HCS_PROCESS_INFORMATION,
            document: *mut PWSTR,
        ) -> HRESULT;
        fn HcsCreateComputeSystem(
            id: PCWSTR,
            configuration: PCWSTR,
            operation: HCS_OPERATION,
            security: *const SECURITY_DESCRIPTOR,
            system: *mut HCS_SYSTEM,
        ) -> HRESULT;
        fn HcsStartComputeSystem(system: HCS_SYSTEM, operation: HCS_OPERATION, options: PCWSTR) -> HRESULT;
        fn HcsTerminateComputeSystem(system: HCS_SYSTEM, operation: HCS_OPERATION, options: PCWSTR) -> HRESULT;
        fn HcsCloseComputeSystem(system: HCS_SYSTEM);
        fn HcsCreateProcess(
            system: HCS_SYSTEM,
            parameters: PCWSTR,
            operation: HCS_OPERATION,
            security: *const SECURITY_DESCRIPTOR,
            process: *mut HCS_PROCESS,
        ) -> HRESULT;
        fn HcsGetProcessProperties(process: HCS_PROCESS, operation: HCS_OPERATION, query: PCWSTR) -> HRESULT;
        fn HcsTerminateProcess(process: HCS_PROCESS, operation: HCS_OPERATION, options: PCWSTR) -> HRESULT;
        fn HcsCloseProcess(process: HCS_PROCESS);
        fn HcsShutDownComputeSystem(system: HCS_SYSTEM, operation: HCS_OPERATION, options: PCWSTR) -> HRESULT;
        fn HcsGetComputeSystemProperties(system: HCS_SYSTEM, operation: HCS_OPERATION, query: PCWSTR) -> HRESULT;
    }
}

dll_table! {
    /// The legacy storage calls (`vmcompute.dll`, undocumented; signatures
    /// as hcsshim's `internal/wclayer` declares them).
    Vmcompute in "vmcompute.dll" {
        fn NameToGuid(name: PCWSTR, guid: *mut GUID) -> HRESULT;
        fn ImportLayer(
            info: *const DriverInfo,
            id: PCWSTR,
            path: PCWSTR,
            descriptors: *const WcLayerDescriptor,
            count: usize,
        ) -> HRESULT;
        fn CreateSandboxLayer(
            info: *const DriverInfo,
            id: PCWSTR,
            parent: PCWSTR,
            descriptors: *const WcLayerDescriptor,
            count: usize,
        ) -> HRESULT;
        fn ActivateLayer(info: *const DriverInfo, id: PCWSTR) -> HRESULT;
        fn PrepareLayer(
            info: *const DriverInfo,
            id: PCWSTR,
            descriptors: *const WcLayerDescriptor,
            count: usize,
        ) -> HRESULT;
        fn GetLayerMountPath(info: *const DriverInfo, id: PCWSTR, length: *mut usize, buffer: *mut u16) -> HRESULT;
        fn UnprepareLayer(info: *const DriverInfo, id: PCWSTR) -> HRESULT;
        fn ExportLayer(
            info: *const DriverInfo,
            id: PCWSTR,
            path: PCWSTR,
            descriptors: *const WcLayerDescriptor,
            count: usize,
        ) -> HRESULT;
        fn DeactivateLayer(info: *const DriverInfo, id: PCWSTR) -> HRESULT;
        fn DestroyLayer(info: *const DriverInfo, id: PCWSTR) -> HRESULT;
        fn ProcessBaseImage(path: PCWSTR) -> HRESULT;
        fn ProcessUtilityImage(path: PCWSTR) -> HRESULT;
    }
}

dll_table! {
    /// The Host Compute Network calls (`computenetwork.dll`; signatures as
    /// hcsshim's `hcn` package declares them). Handles are opaque pointers;
    /// returned strings are `CoTaskMemAlloc`'d.
    Computenetwork in "computenetwork.dll" {
        fn HcnEnumerateNetworks(query: PCWSTR, networks: *mut PWSTR, error_record: *mut PWSTR) -> HRESULT;
        fn HcnOpenNetwork(id: *const GUID, network: *mut *mut c_void, error_record: *mut PWSTR) -> HRESULT;
        fn HcnCloseNetwork(network: *mut c_void) -> HRESULT;
        fn HcnCreateNamespace(id: *const GUID, settings: PCWSTR, namespace: *mut *mut c_void, error_record: *mut PWSTR) -> HRESULT;
        fn HcnOpenNamespace(id: *const GUID, namespace: *mut *mut c_void, error_record: *mut PWSTR) -> HRESULT;
        fn HcnModifyNamespace(namespace: *mut c_void, settings: PCWSTR, error_record: *mut PWSTR) -> HRESULT;
        fn HcnQueryNamespaceProperties(namespace: *mut c_void, query: PCWSTR, properties: *mut PWSTR, error_record: *mut PWSTR) -> HRESULT;
        fn HcnCloseNamespace(namespace: *mut c_void) -> HRESULT;
        fn HcnDeleteNamespace(id: *const GUID, error_record: *mut PWSTR) -> HRESULT;
        fn HcnCreateEndpoint(network: *mut c_void, id: *const GUID, settings: PCWSTR, endpoint: *mut *mut c_void, error_record: *mut PWSTR) -> HRESULT;
        fn HcnQueryEndpointProperties(endpoint: *mut c_void, query: PCWSTR, properties: *mut PWSTR, error_record: *mut PWSTR) -> HRESULT;
        fn HcnCloseEndpoint(endpoint: *mut c_void) -> HRESULT;
        fn HcnDeleteEndpoint(id: *const GUID, error_record: *mut PWSTR) -> HRESULT;
    }
}

/// Both DLLs, loaded now: what a RUN checks before doing any work.
pub(crate) fn available() -> Result<(&'static Computecore, &'static Vmcompute), ApiError> {
    Ok((Computecore::get()?, Vmcompute::get()?))
}
