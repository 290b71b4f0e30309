//! [`HcnApi`] on a Windows host, over `computenetwork.dll` (loaded on first
//! use by `windows_dlls`). Each method is one of hcsshim's `hcn` helpers:
//! open, act, read back, close; strings are converted, handles closed and
//! returned buffers freed here, nothing is decided.
//!
//! **Type-checked and linted only** (`wincheck.sh`): no Windows host is
//! available to run this code.

use crate::api::{ApiError, Guid};
use crate::network::HcnApi;
use crate::windows_dlls::Computenetwork;
use std::ffi::c_void;
use windows::core::{GUID, HRESULT, PCWSTR, PWSTR};
use windows::Win32::System::Com::CoTaskMemFree;

/// The HCN of this host.
pub struct WindowsHcn {
    network: &'static Computenetwork,
}

impl WindowsHcn {
    /// Loads `computenetwork.dll` (an error says to enable the Containers
    /// feature when it is missing).
    pub fn open() -> Result<Self, ApiError> {
        Ok(WindowsHcn {
            network: Computenetwork::get()?,
        })
    }
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(Some(0)).collect()
}

/// Takes a string HCN allocated, freeing it.
///
/// # Safety
/// `text` is null or a NUL-terminated string from `CoTaskMemAlloc`.
unsafe fn take(text: PWSTR) -> String {
    if text.is_null() {
        return String::new();
    }
    // SAFETY: a NUL-terminated string HCN returned.
    let owned = String::from_utf16_lossy(unsafe { text.as_wide() });
    // SAFETY: freed once, as HCN's documentation asks.
    unsafe { CoTaskMemFree(Some(text.0 as *const c_void)) };
    owned
}

/// Fails with the call's HRESULT and its error record.
fn check(call: &'static str, hresult: HRESULT, record: PWSTR) -> Result<(), ApiError> {
    // SAFETY: the record came from the call (or is null).
    let record = unsafe { take(record) };
    if hresult.is_ok() {
        return Ok(());
    }
    Err(ApiError::new(call, hresult.0 as u32).with_result_document(&record))
}

fn guid(call: &'static str, text: &str) -> Result<GUID, ApiError> {
    // E_INVALIDARG: an id HCN did not give.
    let g = Guid::parse(text).ok_or_else(|| ApiError::new(call, 0x8007_0057))?;
    Ok(GUID {
        data1: g.data1,
        data2: g.data2,
        data3: g.data3,
        data4: g.data4,
    })
}

/// hcsshim's `defaultQuery`: schema 2.0, no filter.
const DEFAULT_QUERY: &str = r#"{"SchemaVersion":{"Major":2,"Minor":0}}"#;

impl HcnApi for WindowsHcn {
    fn enumerate_networks(&mut self, query: &str) -> Result<String, ApiError> {
        let query = wide(query);
        let (mut networks, mut record) = (PWSTR::null(), PWSTR::null());
        // SAFETY: a NUL-terminated query and valid out pointers.
        let hr = unsafe {
            (self.network.HcnEnumerateNetworks)(PCWSTR(query.as_ptr()), &mut networks, &mut record)
        };
        // SAFETY: from the call above.
        let networks = unsafe { take(networks) };
        check("HcnEnumerateNetworks", hr, record).map(|()| networks)
    }

    fn create_namespace(&mut self, settings: &str) -> Result<String, ApiError> {
        let (settings, query) = (wide(settings), wide(DEFAULT_QUERY));
        let zero = GUID::zeroed();
        let mut namespace: *mut c_void = std::ptr::null_mut();
        let mut record = PWSTR::null();
        // SAFETY: a zero id (HCN assigns one), NUL-terminated settings and
        // valid out pointers.
        let hr = unsafe {
            (self.network.HcnCreateNamespace)(
                &zero,
                PCWSTR(settings.as_ptr()),
                &mut namespace,
                &mut record,
            )
        };
        check("HcnCreateNamespace", hr, record)?;
        let (mut properties, mut record) = (PWSTR::null(), PWSTR::null());
        // SAFETY: the namespace just opened, a NUL-terminated query.
        let hr = unsafe {
            (self.network.HcnQueryNamespaceProperties)(
                namespace,
                PCWSTR(query.as_ptr()),
                &mut properties,
                &mut record,
            )
        };
        // SAFETY: from the call above; the handle is closed once.
        let properties = unsafe { take(properties) };
        let _ = unsafe { (self.network.HcnCloseNamespace)(namespace) };
        check("HcnQueryNamespaceProperties", hr, record).map(|()| properties)
    }

    fn create_endpoint(&mut self, network: &str, settings: &str) -> Result<String, ApiError> {
        let id = guid("HcnOpenNetwork", network)?;
        let (settings, query) = (wide(settings), wide(DEFAULT_QUERY));
        let mut handle: *mut c_void = std::ptr::null_mut();
        let mut record = PWSTR::null();
        // SAFETY: a valid id and out pointers.
        let hr = unsafe { (self.network.HcnOpenNetwork)(&id, &mut handle, &mut record) };
        check("HcnOpenNetwork", hr, record)?;
        let zero = GUID::zeroed();
        let mut endpoint: *mut c_void = std::ptr::null_mut();
        let mut record = PWSTR::null();
        // SAFETY: an open network, a zero id, NUL-terminated settings.
        let hr = unsafe {
            (self.network.HcnCreateEndpoint)(
                handle,
                &zero,
                PCWSTR(settings.as_ptr()),
                &mut endpoint,
                &mut record,
            )
        };
        // SAFETY: the network handle is used no more.
        let _ = unsafe { (self.network.HcnCloseNetwork)(handle) };
        check("HcnCreateEndpoint", hr, record)?;
        let (mut properties, mut record) = (PWSTR::null(), PWSTR::null());
        // SAFETY: the endpoint just created, a NUL-terminated query.
        let hr = unsafe {
            (self.network.HcnQueryEndpointProperties)(
                endpoint,
                PCWSTR(query.as_ptr()),
                &mut properties,
                &mut record,
            )
        };
        // SAFETY: from the call above; the handle is closed once.
        let properties = unsafe { take(properties) };
        let _ = unsafe { (self.network.HcnCloseEndpoint)(endpoint) };
        check("HcnQueryEndpointProperties", hr, record).map(|()| properties)
    }

    fn modify_namespace(&mut self, namespace: &str, request: &str) -> Result<(), ApiError> {
        let id = guid("HcnOpenNamespace", namespace)?;
        let request = wide(request);
        let mut handle: *mut c_void = std::ptr::null_mut();
        let mut record = PWSTR::null();
        // SAFETY: a valid id and out pointers.
        let hr = unsafe { (self.network.HcnOpenNamespace)(&id, &mut handle, &mut record) };
        check("HcnOpenNamespace", hr, record)?;
        let mut record = PWSTR::null();
        // SAFETY: an open namespace and a NUL-terminated request.
        let hr = unsafe {
            (self.network.HcnModifyNamespace)(handle, PCWSTR(request.as_ptr()), &mut record)
        };
        // SAFETY: the handle is used no more.
        let _ = unsafe { (self.network.HcnCloseNamespace)(handle) };
        check("HcnModifyNamespace", hr, record)
    }

    fn delete_endpoint(&mut self, endpoint: &str) -> Result<(), ApiError> {
        let id = guid("HcnDeleteEndpoint", endpoint)?;
        let mut record = PWSTR::null();
        // SAFETY: a valid id and out pointer.
        let hr = unsafe { (self.network.HcnDeleteEndpoint)(&id, &mut record) };
        check("HcnDeleteEndpoint", hr, record)
    }

    fn delete_namespace(&mut self, namespace: &str) -> Result<(), ApiError> {
        let id = guid("HcnDeleteNamespace", namespace)?;
        let mut record = PWSTR::null();
        // SAFETY: a valid id and out pointer.
        let hr = unsafe { (self.network.HcnDeleteNamespace)(&id, &mut record) };
        check("HcnDeleteNamespace", hr, record)
    }
}
