//! RUN for Wharf. Today: the translation of Linux package-manager commands
//! into Chocolatey for Windows stages ([`choco`]). The executors (a Linux
//! namespace sandbox, an HCS compute system) implement
//! `wharf_build::RunExecutor` and will live here.

pub mod choco;

pub use choco::{translate, ChocoTable, Translation};
