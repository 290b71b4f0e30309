//! Errors of the sandbox, each naming the path or command involved and what to do.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while preparing, running or cleaning up a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The host is not Linux.
    #[error(
        "RUN in a Linux stage needs a Linux host (this host is {host_os}); \
         build this stage on Linux or remove its RUN instructions"
    )]
    NotLinux {
        /// `std::env::consts::OS` of this host.
        host_os: &'static str,
    },
    /// The spec is unusable as given.
    #[error("invalid sandbox spec: {what}")]
    InvalidSpec {
        /// What is wrong, naming the field.
        what: String,
    },
    /// A host file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The host path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The namespaces could not be created.
    #[error(
        "creating the sandbox namespaces failed: {source}; run as root, or call \
         wharf_sandbox::enter_rootless() at the start of main() to run rootless"
    )]
    Namespaces {
        /// The OS error from clone(2).
        #[source]
        source: io::Error,
    },
    /// A step preparing the container (a mount, a directory) failed.
    #[error("preparing the sandbox failed while {step}: {source}")]
    Setup {
        /// The step, naming its paths.
        step: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// overlayfs could not be mounted and the copy fallback was not allowed.
    #[error(
        "overlayfs not available ({step}): {source}; use RootfsMode::Auto or \
         RootfsMode::Copy to fall back to copying the layers into a private root"
    )]
    OverlayUnavailable {
        /// The failed mount, naming its directories.
        step: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The command was not found in the container.
    #[error("command {command:?} not found in the container (looked in {searched})")]
    CommandNotFound {
        /// `args[0]`.
        command: String,
        /// The directories searched, or the path tried.
        searched: String,
    },
    /// The command exists but could not be executed.
    #[error("executing {command:?} in the container failed: {source}")]
    Exec {
        /// `args[0]`.
        command: String,
        /// The OS error from execve(2).
        #[source]
        source: io::Error,
    },
    /// The run was stopped by [`crate::cancel_all`].
    #[error("the command was cancelled (its processes were killed)")]
    Cancelled,
    /// Rootless mode could not be set up.
    #[error("rootless mode: {what}")]
    Rootless {
        /// What failed and what to do about it.
        what: String,
    },
    /// The external OCI runtime failed or is unusable.
    #[error("OCI runtime {}: {what}", program.display())]
    ExternalRuntime {
        /// The runtime program.
        program: PathBuf,
        /// What failed and what to do about it.
        what: String,
    },
}

// Only the Linux implementation builds errors from parts.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
impl SandboxError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        SandboxError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        SandboxError::InvalidSpec { what: what.into() }
    }
}
