//! RUN executors: one command over a stack of prepared lower layers,
//! returning the change it made. The builder (`wharf-build`) decides what
//! to run; an executor knows nothing of Dockerfiles or the store.
//!
//! - [`seam`]: the [`RunExecutor`] trait and what crosses it ([`RunSpec`]
//!   in, [`RunChange`] or a typed [`RunError`] out).
//! - [`linux_executor`]: Linux stages on Linux hosts, in the namespace
//!   sandbox of `wharf-sandbox` on an overlay of unpacked layer snapshots;
//!   other architectures under emulation where [`binfmt`] finds a
//!   registered handler (QEMU user mode), refused with the fix otherwise.
//! - [`windows_executor`]: Windows stages on Windows hosts, through HCS
//!   (`wharf-hcs`); its host half ([`windows_host`]: layer imports and the
//!   run) is portable, generic over the HCS calls and the layer-folder file
//!   operations ([`layer_folders`]), and tested on Linux with fakes; only
//!   `windows_shim` (the real file calls and the pairing with the HCS
//!   shim) is Windows-only.
//! - [`output`]: a command's output split into lines, with the tail kept
//!   for failure messages; [`choco`]: the Chocolatey translation of Linux
//!   package-manager commands (table `data/choco-packages.tsv`), which the
//!   builder applies to Windows RUN lines.

pub mod binfmt;
pub mod choco;
pub mod layer_folders;
#[cfg(target_os = "linux")]
pub mod linux_executor;
pub mod output;
pub mod seam;
pub mod windows_executor;
pub mod windows_host;
#[cfg(windows)]
pub mod windows_shim;

pub use choco::{translate, ChocoTable, Translation};
#[cfg(target_os = "linux")]
pub use linux_executor::{LinuxRunExecutor, LinuxRunSettings};
pub use seam::{
    Command, LowerForm, LowerLayer, OutputLine, RunChange, RunError, RunExecutor, RunMount,
    RunNetwork, RunOptions, RunSpec, RunUser,
};
pub use windows_executor::{
    host_platform, host_windows_version, WindowsRunExecutor, WindowsRunSettings,
};
