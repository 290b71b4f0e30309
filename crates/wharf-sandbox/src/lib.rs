//! Wharf's Linux namespace sandbox: runs one command on an overlayfs root whose lower
//! layers are unpacked layer snapshots, and leaves the command's changes in the overlay
//! upper directory for the layer engine to pack. It knows nothing of Dockerfiles, images
//! or registries.
//!
//! # How a run works (embedded runtime)
//!
//! [`run`] is called from a multi-threaded program (the builder runs a tokio runtime), so
//! the sandbox does **not** re-execute the current program. Instead:
//!
//! 1. The calling process prepares everything as plain data first: every path as a
//!    `CString`, the overlay options, `argv`/`envp` pointer arrays, the list of mount
//!    points to create, file contents for `/etc/hosts` and `/etc/resolv.conf`.
//! 2. It calls the raw `clone(2)` system call with new mount, PID, IPC and UTS namespaces
//!    (and a new network namespace for [`Network::None`]). The child is PID 1 of the new
//!    PID namespace. Between clone and exec the child only makes system calls on the
//!    prepared data: no allocation, no locks, no glibc functions with hidden state (the
//!    identity switch uses raw `setresuid`/`setresgid`/`setgroups` system calls because
//!    glibc's wrappers would try to signal the parent's threads).
//! 3. PID 1 makes `/` private, mounts a tmpfs over a private runtime directory, mounts
//!    the overlay there, builds `/dev`, `/proc`, `/sys`, `/etc/hosts`, `/etc/resolv.conf`
//!    and the extra mounts, then `pivot_root`s into it (chroot when pivot_root is refused)
//!    and detaches the old root.
//! 4. PID 1 clones the command as PID 2, which drops capabilities outside Docker's
//!    default set (and MKNOD), switches identity, resets signal dispositions, and execs. PID 1 reaps every process (orphans included) until PID 2
//!    exits, writes PID 2's exact wait status to a status pipe and exits; the kernel then
//!    kills whatever is left in the PID namespace, and the mount namespace (with every
//!    mount in it) disappears with its last process. Nothing is ever mounted in the
//!    caller's mount namespace, so a crash cannot leak mounts.
//! 5. The caller streams stdout and stderr from two pipes to the output callback as the
//!    bytes arrive, reaps PID 1, decodes the status pipe (setup failure, exec failure or
//!    exit status), and removes the mount-point stubs it had to create from the upper
//!    directory (see `linux::stubs`).
//!
//! Because nothing is re-executed, there is no `maybe_run_as_init()` hook: `run` works
//! from any program, test harnesses included.
//!
//! # Root filesystem
//!
//! overlayfs (with `userxattr` inside a user namespace; kernel 5.11 or later). When the
//! kernel refuses the overlay mount and [`RootfsMode::Auto`] is chosen, the run starts
//! over on a private copy of the lowers and the changes are computed into the upper
//! directory afterwards, in the same format (see `linux::copy`).
//!
//! # External runtime
//!
//! [`Runtime::External`] describes the same sandbox as an OCI runtime bundle and runs
//! `<program> run --bundle <dir> <id>` (tested with `runc`; `crun` 1.x fails on hosts
//! with hybrid cgroup hierarchies), then `<program> delete -f <id>`.
//!
//! # Rootless
//!
//! [`enter_rootless`] re-executes the program inside a new user and mount namespace whose
//! uid/gid maps come from `newuidmap`/`newgidmap` and `/etc/subuid`/`/etc/subgid`, the
//! model of `buildah unshare`. It must be called first in `main()`, before any thread
//! starts. Everything afterwards, including [`run`], runs as root of that namespace.
//!
//! # Host requirements
//!
//! Root (or [`enter_rootless`]), overlayfs, and for the tests Debian's `busybox-static`,
//! `runc` and `uidmap` packages. The command keeps Docker's default capability set
//! without MKNOD (the rest is dropped from its bounding set).
//!
//! # Devices
//!
//! A command opens only null, zero, full, random, urandom, tty, ptmx and its own
//! pseudo-terminals: no MKNOD, every mount it writes or that holds layer content is
//! `nodev`, and a cgroup v1 `devices` group denies the rest where the host has that
//! controller (runc gets the same list and applies it on cgroup v1 or v2). On a pure
//! cgroup v2 host the embedded runtime sets no BPF device filter; the first two
//! measures are the policy there (see `linux::devices`).
//!
//! # Limits
//!
//! `/dev/shm` is a tmpfs of [`SandboxSpec::shm_size`] (Docker's 64 MiB by
//! default); [`SandboxSpec::rlimits`] are set with `setrlimit` by PID 1
//! before the command starts, so the command and everything it starts
//! inherit them (an external runtime gets them as `process.rlimits`).
//! Raising a hard limit above the caller's needs `CAP_SYS_RESOURCE` in the
//! initial user namespace: under [`enter_rootless`] it fails with the
//! step named.
//!
//! Not done: seccomp filters, cgroup resource limits.
//!
//! # Other hosts
//!
//! On non-Linux hosts the types compile, [`run`] returns [`SandboxError::NotLinux`] and
//! [`enter_rootless`] does nothing.

mod error;
mod limits;
mod spec;

#[cfg(target_os = "linux")]
mod linux;

pub use error::SandboxError;
pub use limits::{HostEntry, Rlimit, RlimitResource, UNLIMITED};
#[cfg(target_os = "linux")]
pub use linux::view::{LowerEntry, LowerKind, LowerPath, LowerView};
pub use spec::{
    ExitStatus, FileData, Ids, Mount, Network, RootfsMode, Runtime, SandboxSpec, Stream,
    DEFAULT_PATH, DEFAULT_SHM_SIZE,
};

/// Runs `spec.args` in a fresh sandbox and returns how it ended.
///
/// `output` receives stdout and stderr chunks as they arrive. A non-zero exit is not an
/// error: it is returned as the [`ExitStatus`]. Errors mean the sandbox could not be
/// built, the command could not be started, or the run was cancelled. Every mount and
/// process of the sandbox is gone when this returns.
pub fn run(
    spec: &SandboxSpec,
    output: &mut dyn FnMut(Stream, &[u8]),
) -> Result<ExitStatus, SandboxError> {
    #[cfg(target_os = "linux")]
    {
        linux::run(spec, output)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (spec, output);
        Err(SandboxError::NotLinux {
            host_os: std::env::consts::OS,
        })
    }
}

/// Kills every running sandbox's processes (their mounts vanish with them) and makes the
/// pending [`run`] calls return [`SandboxError::Cancelled`]. Meant for a Ctrl-C handler.
pub fn cancel_all() {
    #[cfg(target_os = "linux")]
    linux::cancel_all();
}

/// What [`enter_rootless`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootlessState {
    /// The process already runs as root (or this is not Linux): nothing was done.
    AlreadyRoot,
    /// The process is not root and this machine gives it no user namespace
    /// (`user.max_user_namespaces` is 0, an unprivileged CI container...):
    /// nothing was done. Everything but [`run`] still works; `reason`
    /// says what failed, for the caller's messages.
    Unavailable {
        /// The failure, e.g. "creating a user namespace: No space left on
        /// device (os error 28)".
        reason: String,
    },
    /// The process now runs as root of a user namespace.
    InUserNamespace {
        /// Number of ids mapped: 1 when no subordinate range exists for the user (then
        /// only container id 0 exists and files owned by other ids cannot be created),
        /// otherwise 1 + the size of the subordinate range.
        mapped_ids: u32,
    },
}

/// When the process is not root, re-executes the current program inside a new user and
/// mount namespace (container 0 → the user, 1..=N → the user's `/etc/subuid` and
/// `/etc/subgid` ranges, mapped with `newuidmap`/`newgidmap` from Debian's `uidmap`), and
/// returns in the re-executed copy. The original process waits for the copy and exits
/// with its status; it never returns from this call.
///
/// Call it first in `main()`, before any thread is started. Without a subordinate range
/// (or without `newuidmap`/`newgidmap`) the map holds the user alone (0 → user) and
/// files owned by other ids cannot be represented: `chown` to them fails inside the
/// sandbox. When the kernel refuses the process a user namespace, nothing is
/// re-executed and [`RootlessState::Unavailable`] says why.
pub fn enter_rootless() -> Result<RootlessState, SandboxError> {
    #[cfg(target_os = "linux")]
    {
        linux::rootless::enter_rootless()
    }
    #[cfg(not(target_os = "linux"))]
    {
        Ok(RootlessState::AlreadyRoot)
    }
}
