//! Which RUN executor a build uses on this host, from the command line:
//! the Linux namespace sandbox on Linux hosts (optionally through an
//! external OCI runtime), HCS on Windows hosts (with the Chocolatey
//! translation, which the builder applies, unless
//! `--no-choco-translation`), none elsewhere (the plan
//! has already refused RUN in stages this host cannot run).

use crate::args::BuildArgs;
use anyhow::Result;
use std::sync::Arc;
use wharf_run::RunExecutor;

/// The executor for this build, if this host has one.
#[cfg(target_os = "linux")]
pub fn executor(a: &BuildArgs) -> Result<Option<Arc<dyn RunExecutor>>> {
    use crate::args::RunNetwork;
    use wharf_run::{LinuxRunExecutor, LinuxRunSettings};
    use wharf_sandbox::{Network, Runtime};
    let runtime = match &a.runtime {
        None => Runtime::Embedded,
        Some(p) => Runtime::External { program: p.clone() },
    };
    let settings = LinuxRunSettings {
        default_network: match a.network {
            RunNetwork::Host => Network::Host,
            RunNetwork::None => Network::None,
        },
        runtime,
        unavailable: no_linux_run(),
    };
    Ok(Some(Arc::new(LinuxRunExecutor::new(settings))))
}

/// The executor for this build: HCS on Windows hosts.
#[cfg(windows)]
pub fn executor(a: &BuildArgs) -> Result<Option<Arc<dyn RunExecutor>>> {
    use wharf_run::{host_windows_version, WindowsRunExecutor, WindowsRunSettings};
    let _ = (a.network, &a.runtime);
    Ok(Some(Arc::new(WindowsRunExecutor::new(
        WindowsRunSettings {
            host_version: host_windows_version(),
            ..WindowsRunSettings::default()
        },
    ))))
}

/// The executor for this build, if this host has one.
#[cfg(not(any(target_os = "linux", windows)))]
pub fn executor(a: &BuildArgs) -> Result<Option<Arc<dyn RunExecutor>>> {
    let _ = (a.network, &a.runtime);
    Ok(None)
}

/// Why this process cannot run Linux RUN steps (a plain user on a machine
/// without user namespaces), set once by [`enter_rootless_if_needed`].
static NO_LINUX_RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The sentence a Linux RUN is refused with at plan time when this process
/// has neither root nor a user namespace.
#[cfg(target_os = "linux")]
fn no_linux_run() -> Option<String> {
    NO_LINUX_RUN.get().map(|reason| {
        format!(
            "RUN in a Linux stage needs root or a user namespace, and this machine gives this user no user namespace ({reason}); build as root, allow unprivileged user namespaces (sysctl user.max_user_namespaces, kernel.apparmor_restrict_unprivileged_userns), or leave RUN out of Linux stages (COPY-only and Windows images build as a plain user); --runtime does not help, as wharf starts the runtime as root"
        )
    })
}

/// For a build by an unprivileged user: moves the process into a user
/// namespace (the model of `buildah unshare`) before any thread starts, so
/// layers can be unpacked with their owners and overlays mounted. Where
/// the machine gives no user namespace, the process stays a plain user:
/// builds without a Linux RUN work, and a Linux RUN is refused at plan
/// time saying what is missing.
pub fn enter_rootless_if_needed() -> Result<()> {
    use anyhow::Context;
    let state = wharf_sandbox::enter_rootless().context(
        "cannot enter a user namespace for a rootless build; install Debian's uidmap package and give the user a range in /etc/subuid and /etc/subgid, or build as root",
    )?;
    match state {
        wharf_sandbox::RootlessState::InUserNamespace { mapped_ids: 1 } => {
            eprintln!("note: rootless build without a subordinate id range (or without newuidmap): only root (0) exists in RUN steps; install Debian's uidmap and add the user to /etc/subuid and /etc/subgid to have more");
        }
        wharf_sandbox::RootlessState::Unavailable { reason } => {
            let _ = NO_LINUX_RUN.set(reason);
        }
        _ => {}
    }
    Ok(())
}
