//! The seam between the builder and a RUN executor: the executor is told
//! only what to run and on what, and returns the change the command made.
//!
//! The builder decides everything Dockerfile-shaped (the command line,
//! the environment, the user's ids, what each `--mount` is on the host,
//! where in the store each lower layer lives); an executor knows nothing
//! of the syntax tree, the plan or the store. It prepares lower layers in
//! the form its host needs ([`RunExecutor::prepare_lower`]: an unpacked
//! snapshot for overlayfs, an imported layer folder for HCS), runs one
//! command over them, and hands back where the changes are
//! ([`RunChange`]); the builder packs them into a layer.

use std::path::{Path, PathBuf};
use wharf_oci::{Digest, Platform};

/// One line the command wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLine<'a> {
    /// Written to standard error (else standard output).
    pub stderr: bool,
    /// The line, without its newline (invalid UTF-8 replaced).
    pub text: &'a str,
}

/// What the command runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// An argument vector (Linux).
    Argv(Vec<String>),
    /// A Windows command line, quoted as the program expects.
    CommandLine(String),
}

/// Who the command runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunUser {
    /// Numeric ids (Linux), resolved by the builder from the stage's files.
    Ids {
        uid: u32,
        gid: u32,
        additional_gids: Vec<u32>,
    },
    /// A Windows account name (`ContainerUser`, `ContainerAdministrator`).
    Name(String),
}

/// The network of the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunNetwork {
    /// The executor's default (`RUN` without `--network`).
    Default,
    /// The host's network.
    Host,
    /// No network but loopback.
    None,
}

/// A mount, resolved to paths on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMount {
    /// A host file or directory at `target`.
    Bind {
        source: PathBuf,
        target: String,
        readonly: bool,
    },
    /// A read-only stack of directories (top first) at `target`; writes,
    /// when `writable`, go to a throwaway layer.
    Layers {
        lower_dirs: Vec<PathBuf>,
        target: String,
        writable: bool,
    },
    /// A memory file system.
    Tmpfs { target: String, size: Option<u64> },
    /// A read-only file holding `data` (a secret), kept in memory private
    /// to the run: never written where a killed build could leave it.
    File {
        target: String,
        data: wharf_sandbox::FileData,
        mode: u32,
        owner: (u32, u32),
    },
}

/// A layer an executor prepares for use as a lower layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowerLayer<'a> {
    /// The layer blob (possibly compressed).
    pub blob: &'a Path,
    /// Its media type.
    pub media_type: &'a str,
    /// Its digest, for messages and verification.
    pub digest: &'a Digest,
    /// Where the prepared layer must end up (missing on entry).
    pub dest: &'a Path,
    /// A directory on the same file system as `dest`, for staging.
    pub staging: &'a Path,
    /// The prepared layers under it, immediate parent first.
    pub parents: &'a [PathBuf],
}

/// The form of lower layer an executor runs on; the builder asks the
/// store for the matching location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LowerForm {
    /// An unpacked tree whose deletions overlayfs reads through
    /// `trusted.overlay.*` xattrs.
    SnapshotTrusted,
    /// The same for overlays in a user namespace (`user.overlay.*`).
    SnapshotUser,
    /// A Windows layer folder imported through HCS.
    WindowsFolder,
}

/// Settings of every Linux RUN of a build (`--add-host`, `--shm-size`,
/// `--ulimit`). Like BuildKit's ExecOp fields, they change what a command
/// may see or do, so they are part of the RUN's cache key
/// ([`RunOptions::key_text`]). Windows RUN has no counterpart: the builder
/// says so in the step's output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Lines added to `/etc/hosts`, in order.
    pub extra_hosts: Vec<wharf_sandbox::HostEntry>,
    /// Size of `/dev/shm` in bytes (`None`: 64 MiB, Docker's default).
    pub shm_size: Option<u64>,
    /// Resource limits the command starts with.
    pub rlimits: Vec<wharf_sandbox::Rlimit>,
}

impl RunOptions {
    /// True when nothing is set (the key of a RUN stays as without them).
    pub fn is_default(&self) -> bool {
        *self == RunOptions::default()
    }

    /// The options as text for a cache key: one `name=value` line each.
    pub fn key_text(&self) -> String {
        let mut text = String::new();
        for h in &self.extra_hosts {
            text.push_str(&format!("add-host={}={}\n", h.name, h.ip));
        }
        if let Some(size) = self.shm_size {
            text.push_str(&format!("shm-size={size}\n"));
        }
        for l in &self.rlimits {
            text.push_str(&format!("ulimit={l}\n"));
        }
        text
    }
}

/// Everything one RUN needs.
pub struct RunSpec<'a> {
    /// The stage's platform.
    pub platform: &'a Platform,
    pub command: Command,
    /// The environment, exactly (the builder adds defaults such as PATH).
    pub env: Vec<(String, String)>,
    /// The working directory inside the container (created when missing).
    pub cwd: String,
    pub user: RunUser,
    /// The prepared lower layers, top (immediate parent) first.
    pub lowers: Vec<PathBuf>,
    pub mounts: Vec<RunMount>,
    pub network: RunNetwork,
    /// Hosts, `/dev/shm` size and limits (Linux RUN).
    pub options: RunOptions,
    /// A directory the executor may use for this run (upper and work
    /// directories, the export folder); the builder removes it afterwards.
    pub scratch: &'a Path,
    /// Receives the command's output, one line at a time.
    pub output: &'a dyn Fn(OutputLine<'_>),
}

/// Where the command's changes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunChange {
    /// The command changed nothing.
    Nothing,
    /// An overlayfs upper directory (whiteouts as 0/0 character devices,
    /// opaque directories by xattr).
    Upper(PathBuf),
    /// A folder as HCS exports a layer (tombstones, backup streams).
    ExportFolder(PathBuf),
}

/// Why a RUN failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The command ran and failed: its status and its last lines of output.
    #[error("{0}")]
    Failed(String),
    /// The executor cannot do what was asked (here, or at all).
    #[error("{0}")]
    Unsupported(String),
    /// The sandbox could not be set up or the command not started.
    #[error("{0}")]
    Sandbox(String),
    /// Preparing a lower layer failed.
    #[error("preparing layer {digest}: {reason}")]
    Lower { digest: String, reason: String },
    /// A file operation on the host failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl RunError {
    pub(crate) fn io(what: &'static str, path: &Path, source: std::io::Error) -> Self {
        RunError::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Runs RUN commands for some platforms on this host.
pub trait RunExecutor: Send + Sync {
    /// Whether this executor can run commands for `platform` here.
    fn supports(&self, platform: &Platform) -> bool;

    /// Why a RUN in a stage of `platform` (which [`supports`](Self::supports)
    /// accepts) cannot run on this host, as a sentence naming what to
    /// change; `Ok` when it can. Asked for every RUN before the build
    /// fetches or runs anything, so that nothing is downloaded for a
    /// build that would stop at its first RUN.
    fn check_platform(&self, platform: &Platform) -> Result<(), String> {
        let _ = platform;
        Ok(())
    }

    /// The form of lower layer [`run`](Self::run) wants.
    fn lower_form(&self) -> LowerForm;

    /// Makes `layer.dest` the prepared form of `layer` (atomically: a
    /// half-prepared layer is never left at `dest`).
    fn prepare_lower(&self, layer: &LowerLayer<'_>) -> Result<(), RunError>;

    /// Runs the command of `spec`.
    fn run(&self, spec: &RunSpec<'_>) -> Result<RunChange, RunError>;

    /// Stops every command this executor is running (Ctrl-C); each of
    /// their `run`s then returns an error.
    fn cancel_all(&self);
}
