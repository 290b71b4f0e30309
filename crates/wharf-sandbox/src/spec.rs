//! What to run and how: the portable description of one sandboxed command.
//!
//! These types carry no behaviour and compile on every host, so callers can build a
//! [`SandboxSpec`] anywhere and only [`crate::run`] needs a Linux kernel.

use std::path::PathBuf;

use crate::limits::{HostEntry, Rlimit};

/// Everything needed to run one command in a fresh sandbox.
///
/// The command sees the union of `lower_dirs` as its root filesystem; every change it
/// makes lands in `upper_dir` in overlayfs format (0/0 character-device whiteouts,
/// `trusted.overlay.opaque` or, inside a user namespace, `user.overlay.opaque` xattrs).
/// Mount points the sandbox itself had to create are removed again afterwards, so the
/// upper directory holds only what the command did.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    /// Read-only unpacked layer snapshots, top first and base last (overlayfs
    /// `lowerdir` order). May be empty for a `scratch` root.
    pub lower_dirs: Vec<PathBuf>,
    /// Caller-created empty directory; after the run it holds the command's changes.
    pub upper_dir: PathBuf,
    /// Caller-created empty directory on the same filesystem as `upper_dir`, used by
    /// overlayfs for its own bookkeeping (and by the copy fallback for the private root).
    pub work_dir: PathBuf,
    /// The command line. `args[0]` is looked up in the container's `PATH` (taken from
    /// `env`, or the Docker default path when `env` has none) unless it contains a `/`.
    pub args: Vec<String>,
    /// The exact environment of the command; nothing is inherited from the host.
    /// Values are never logged or put into error messages, because secrets travel here.
    pub env: Vec<(String, String)>,
    /// Absolute working directory inside the container; created with mode 0755 (owned by
    /// root) when missing, as Docker does.
    pub cwd: String,
    /// Numeric user and groups the command runs as; the caller resolves names.
    pub user: Ids,
    /// Host name seen inside the sandbox.
    pub hostname: String,
    /// Network namespace choice.
    pub network: Network,
    /// Extra mounts, applied in order after `/dev`, `/proc` and `/sys`.
    pub mounts: Vec<Mount>,
    /// Content for `/etc/hosts`; `None` writes `localhost` lines plus `hostname`.
    pub hosts: Option<String>,
    /// Lines added to `/etc/hosts` after `hosts` (`--add-host`).
    pub extra_hosts: Vec<HostEntry>,
    /// Size of the `/dev/shm` tmpfs in bytes; `None` is Docker's 64 MiB.
    pub shm_size: Option<u64>,
    /// Resource limits the command starts with (`--ulimit`); the rest are
    /// inherited from the caller.
    pub rlimits: Vec<Rlimit>,
    /// Content for `/etc/resolv.conf`; `None` copies the host's file for
    /// [`Network::Host`] and writes an empty file for [`Network::None`].
    pub resolv_conf: Option<String>,
    /// Which runtime starts the command.
    pub runtime: Runtime,
    /// How the root filesystem is assembled (overlayfs, or the copy-based fallback).
    pub rootfs: RootfsMode,
}

impl SandboxSpec {
    /// A spec with the defaults a `RUN` starts from: root user, `/` as working directory,
    /// host name `wharf`, no network, no extra mounts, the embedded runtime and
    /// automatic choice of overlayfs or the copy fallback.
    pub fn new(
        lower_dirs: Vec<PathBuf>,
        upper_dir: PathBuf,
        work_dir: PathBuf,
        args: Vec<String>,
    ) -> SandboxSpec {
        SandboxSpec {
            lower_dirs,
            upper_dir,
            work_dir,
            args,
            env: vec![("PATH".to_string(), DEFAULT_PATH.to_string())],
            cwd: "/".to_string(),
            user: Ids::default(),
            hostname: "wharf".to_string(),
            network: Network::None,
            mounts: Vec::new(),
            hosts: None,
            extra_hosts: Vec::new(),
            shm_size: None,
            rlimits: Vec::new(),
            resolv_conf: None,
            runtime: Runtime::Embedded,
            rootfs: RootfsMode::Auto,
        }
    }
}

/// The `PATH` Docker uses when an image sets none; also used to look up `args[0]` when
/// the spec's environment has no `PATH`.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The size of `/dev/shm` when the spec gives none: Docker's default.
pub const DEFAULT_SHM_SIZE: u64 = 64 << 20;

/// Numeric identity of the command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids {
    /// User id inside the container.
    pub uid: u32,
    /// Primary group id inside the container.
    pub gid: u32,
    /// Supplementary group ids inside the container.
    pub additional_gids: Vec<u32>,
}

/// Network namespace of the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// A new, empty network namespace with only the loopback interface, brought up.
    None,
    /// The host's network namespace, shared.
    Host,
}

/// One extra mount inside the sandbox. Targets are absolute container paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// A host file or directory bind-mounted (recursively) at `target`.
    Bind {
        /// Host path of the file or directory.
        source: PathBuf,
        /// Absolute container path.
        target: String,
        /// Mount it read-only.
        readonly: bool,
    },
    /// A fresh tmpfs at `target`; its content never reaches the upper directory.
    Tmpfs {
        /// Absolute container path.
        target: String,
        /// Size limit in bytes (the kernel default, half of RAM, when `None`).
        size: Option<u64>,
        /// Permission bits of the tmpfs root (`0o1777` when `None`).
        mode: Option<u32>,
    },
    /// Another stage's layer chain (top first), merged at `target`.
    Layers {
        /// Unpacked layer snapshots, top first.
        lower_dirs: Vec<PathBuf>,
        /// Absolute container path.
        target: String,
        /// Allow writes; they go to a throwaway upper directory that is discarded.
        writable: bool,
    },
    /// A read-only file holding `data` at `target` (a secret). It is written into a
    /// tmpfs that exists only in the sandbox's own mount namespace, so it never
    /// touches a disk or the caller's namespace and vanishes with the sandbox, even
    /// when the caller is killed.
    File {
        /// Absolute container path.
        target: String,
        /// The content (never shown by `Debug`).
        data: FileData,
        /// Permission bits.
        mode: u32,
        /// Owner user and group ids inside the sandbox.
        owner: (u32, u32),
    },
}

/// The content of a [`Mount::File`]; `Debug` shows its length only, as it is
/// usually a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct FileData(pub Vec<u8>);

impl std::fmt::Debug for FileData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileData({} bytes)", self.0.len())
    }
}

impl Mount {
    /// The container path this mount covers.
    pub fn target(&self) -> &str {
        match self {
            Mount::Bind { target, .. }
            | Mount::Tmpfs { target, .. }
            | Mount::Layers { target, .. }
            | Mount::File { target, .. } => target,
        }
    }
}

/// Which program creates the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// Wharf's own namespace code (the default; needs nothing installed).
    Embedded,
    /// An external OCI runtime such as `runc`, driven through a generated bundle.
    /// `crun` 1.x fails on hosts with hybrid cgroup hierarchies (such as the kernel
    /// Wharf's CI runs on); `runc` works there.
    External {
        /// Path or name of the runtime binary.
        program: PathBuf,
    },
}

/// How the container's root filesystem is assembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootfsMode {
    /// overlayfs, falling back to [`RootfsMode::Copy`] when the kernel refuses it.
    Auto,
    /// overlayfs only; an error when it is unavailable.
    Overlay,
    /// Copy the lower layers into a private root, run there, and compute the changes
    /// into the upper directory afterwards. Slower; for hosts without overlayfs.
    Copy,
}

/// Which output stream a chunk of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The command's standard output.
    Stdout,
    /// The command's standard error.
    Stderr,
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal number.
    Signal(i32),
}

impl ExitStatus {
    /// True for `Code(0)`.
    pub fn success(self) -> bool {
        self == ExitStatus::Code(0)
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit code {c}"),
            ExitStatus::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}
