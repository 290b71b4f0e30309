//! Rootless sandbox test (its own `main`, because `enter_rootless` must run first in a
//! single-threaded process).
//!
//! Run as root (CI), it creates the unprivileged user `wharf-rootless` with a
//! subordinate id range if missing, copies this binary where that user can run it, and
//! re-runs it under `setpriv` as that user. Run as that user, it calls
//! `enter_rootless()` and runs commands that create files owned by non-root container
//! ids, delete lower files and replace directories. It skips, with the reason printed,
//! only when the machine forbids unprivileged user namespaces.

#[cfg(target_os = "linux")]
mod common;
#[cfg(target_os = "linux")]
#[path = "rootless/linux.rs"]
mod linux;

fn main() {
    #[cfg(target_os = "linux")]
    linux::main();
    #[cfg(not(target_os = "linux"))]
    println!("rootless: skipped: the sandbox runs on Linux only");
}
