//! RUN for Wharf: the executors behind `wharf_build::RunExecutor`.
//!
//! - [`linux_executor`]: Linux stages on Linux hosts, in the namespace
//!   sandbox of `wharf-sandbox`, on an overlay of the stage's layer
//!   snapshots; [`linux_mounts`] sets up `RUN --mount` (reading stages
//!   through `wharf_sandbox::LowerView`), [`users`] resolves USER, [`command`] builds the argument
//!   vector.
//! - [`windows_executor`]: Windows stages on Windows hosts, through HCS
//!   (`wharf-hcs`), with the Chocolatey translation ([`choco`]) of Linux
//!   package-manager commands; its host half (`windows_host`) is
//!   Windows-only and type-checked, not run.

pub mod choco;
pub mod command;
#[cfg(target_os = "linux")]
pub mod linux_executor;
#[cfg(target_os = "linux")]
pub mod linux_mounts;
pub mod output;
pub mod users;
pub mod windows_executor;
#[cfg(windows)]
mod windows_host;

pub use choco::{translate, ChocoTable, Translation};
#[cfg(target_os = "linux")]
pub use linux_executor::{LinuxRunExecutor, LinuxRunSettings};
pub use windows_executor::{WindowsRunExecutor, WindowsRunSettings};
