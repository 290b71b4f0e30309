//! Runs one command in a transient Windows process-isolated compute system
//! (the Host Compute Service, HCS), for `RUN` in Windows stages.
//!
//! This crate knows nothing of Dockerfiles or of the builder. It offers:
//! - [`documents`]: the JSON documents HCS takes and returns (compute
//!   system, process parameters, process status);
//! - [`command_line`]: the Windows command line for shell and exec form;
//! - [`hcs_error`]: HRESULTs and HCS result documents made readable;
//! - [`api`]: [`HcsApi`], the host calls one RUN needs, one method per
//!   Windows function;
//! - [`orchestrator`]: [`run`], [`import_layer`] and [`finish_base_layer`]:
//!   the call order, retries, timeout and an always-complete teardown,
//!   generic over [`HcsApi`];
//! - [`network`]: a RUN's network (an HCN namespace with an endpoint on
//!   `nat`) over the [`HcnApi`] trait; `windows_network` (Windows only)
//!   implements it over `computenetwork.dll`, loaded on first use.
//! - `windows_host_version` (Windows only): the host's Windows build.
//! - `windows_shim` (Windows only): [`HcsApi`] over `vmcompute.dll` and
//!   `computecore.dll`, which `windows_dlls` loads on first use, so that
//!   `wharf.exe` starts on hosts without the Containers feature.
//!
//! # What is tested where
//! Everything but the shim is portable and unit-tested on Linux: the
//! documents against golden JSON, the command lines against golden strings
//! and a round trip through a `CommandLineToArgvW` parser, the
//! orchestrator against a recording fake that fails at every step in turn.
//!
//! The Windows shim (`windows_shim`, `cfg(windows)`) is **type-checked and
//! linted only** (`wincheck.sh`, for `x86_64-pc-windows-msvc`): no Windows
//! host is available to run it, so its calls, struct layouts and the
//! undocumented `vmcompute.dll` signatures have not been exercised.

pub mod api;
pub mod command_line;
pub mod documents;
pub mod hcs_error;
pub mod network;
pub mod orchestrator;
pub mod run_error;
#[cfg(windows)]
mod windows_dlls;
#[cfg(windows)]
mod windows_host_version;
#[cfg(windows)]
mod windows_network;
#[cfg(windows)]
pub mod windows_shim;

pub use api::{ApiError, Guid, HcsApi, LayerDescriptor, OutputEvent, OutputStream};
pub use documents::{ComputeSystem, MappedDirectory, Network, ProcessParameters, ProcessStatus};
pub use network::{
    attach_nat, detach, run_on_nat, HcnApi, NatAttachment, NetworkError, NetworkFailure,
};
pub use orchestrator::{
    cancel_all, finish_base_layer, import_layer, run, MountRetry, RunResult, RunSpec,
    SHUTDOWN_TIMEOUT,
};
pub use run_error::{RunError, RunFailure, Step};
#[cfg(windows)]
pub use windows_host_version::{host_version, HostVersion};
#[cfg(windows)]
pub use windows_network::WindowsHcn;
#[cfg(windows)]
pub use windows_shim::WindowsHcs;
