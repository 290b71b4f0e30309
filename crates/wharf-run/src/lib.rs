//! RUN for Wharf: the executors behind `wharf_build::RunExecutor`.
//!
//! - [`linux_executor`]: Linux stages on Linux hosts, in the namespace
//!   sandbox of `wharf-sandbox`, on an overlay of the stage's layer
//!   snapshots; [`linux_mounts`] sets up `RUN --mount`, [`lowers`] reads
//!   the snapshots, [`users`] resolves USER, [`command`] builds the argument
//!   vector.
//! - [`choco`]: the translation of Linux package-manager commands into
//!   Chocolatey for Windows stages.

pub mod choco;
pub mod command;
#[cfg(target_os = "linux")]
pub mod linux_executor;
#[cfg(target_os = "linux")]
pub mod linux_mounts;
#[cfg(target_os = "linux")]
pub mod lowers;
pub mod users;

pub use choco::{translate, ChocoTable, Translation};
#[cfg(target_os = "linux")]
pub use linux_executor::{LinuxRunExecutor, LinuxRunSettings};
