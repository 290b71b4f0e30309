//! The Linux implementation: the embedded namespace runtime (this module drives it),
//! the copy fallback, the external OCI runtime and rootless mode.

mod child;
mod copy;
mod devices;
mod oci;
mod plan;
pub(crate) mod rootless;
mod status;
mod stubs;
mod union;
pub(crate) mod view;

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use child::ChildFds;
use plan::RootSource;
use status::{Record, TAG_CLONE, TAG_EXEC, TAG_EXIT, TAG_OVERLAY, TAG_SETUP};
use union::Union;

use crate::{ExitStatus, RootfsMode, Runtime, SandboxError, SandboxSpec, Stream};

/// A running sandbox, as `cancel_all` sees it.
enum Running {
    /// PID 1 of an embedded sandbox (killing it kills the whole PID namespace).
    Embedded { pid: libc::pid_t },
    /// An external runtime's container.
    External { program: PathBuf, id: String },
}

struct Registry {
    running: Vec<(u64, Running)>,
    cancelled: Vec<u64>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    running: Vec::new(),
    cancelled: Vec::new(),
});
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes a run from the registry; true when `cancel_all` hit it.
fn unregister(id: u64) -> bool {
    let mut reg = registry();
    reg.running.retain(|(i, _)| *i != id);
    let cancelled = reg.cancelled.contains(&id);
    reg.cancelled.retain(|i| *i != id);
    cancelled
}

pub(crate) fn cancel_all() {
    let mut reg = registry();
    let running = std::mem::take(&mut reg.running);
    for (id, run) in &running {
        reg.cancelled.push(*id);
        match run {
            // SAFETY: kill(2) on a child we started and have not reaped yet (the entry is
            // removed before reaping, under this lock), so the pid cannot be reused.
            Running::Embedded { pid } => unsafe {
                libc::kill(*pid, libc::SIGKILL);
            },
            Running::External { program, id } => oci::kill(program, id),
        }
    }
    reg.running = running;
}

/// True when this process runs in a user namespace other than the initial one.
pub(crate) fn in_user_namespace() -> bool {
    match fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields != ["0", "0", "4294967295"]
        }
        Err(_) => false,
    }
}

pub(crate) fn run(
    spec: &SandboxSpec,
    output: &mut dyn FnMut(Stream, &[u8]),
) -> Result<ExitStatus, SandboxError> {
    for (what, dir) in [("upper_dir", &spec.upper_dir), ("work_dir", &spec.work_dir)] {
        if !dir.is_dir() {
            return Err(SandboxError::invalid(format!(
                "{what} {} must be an existing directory",
                dir.display()
            )));
        }
    }
    match &spec.runtime {
        Runtime::External { program } => oci::run(spec, program, output),
        Runtime::Embedded => match spec.rootfs {
            RootfsMode::Copy => copy::run(spec, output),
            mode => {
                let source = RootSource::Overlay {
                    userxattr: in_user_namespace(),
                };
                match run_in_namespaces(spec, &source, output) {
                    // Nothing ran and nothing reached the upper directory: start over.
                    Err(Failure::Overlay { .. }) if mode == RootfsMode::Auto => {
                        copy::run(spec, output)
                    }
                    Err(Failure::Overlay { step, source }) => {
                        Err(SandboxError::OverlayUnavailable { step, source })
                    }
                    Err(Failure::Other(e)) => Err(e),
                    Ok(status) => Ok(status),
                }
            }
        },
    }
}

/// Why a run in namespaces failed: the overlay mount (which the caller may answer by
/// falling back to a copy) or anything else.
pub(crate) enum Failure {
    Overlay { step: String, source: io::Error },
    Other(SandboxError),
}

impl From<SandboxError> for Failure {
    fn from(e: SandboxError) -> Self {
        Failure::Other(e)
    }
}

/// A private host directory for one run, removed on drop. The children mount a tmpfs
/// over it in their own mount namespace, so it stays empty on the host.
pub(crate) struct RuntimeDir {
    pub path: PathBuf,
}

impl RuntimeDir {
    pub fn new() -> Result<RuntimeDir, SandboxError> {
        let base = std::env::temp_dir();
        let name = format!(
            "wharf-sandbox-{}-{}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        );
        let path = base.join(name);
        fs::create_dir(&path)
            .map_err(|e| SandboxError::io("creating the sandbox runtime directory", &path, e))?;
        let path = fs::canonicalize(&path)
            .map_err(|e| SandboxError::io("resolving the sandbox runtime directory", &path, e))?;
        Ok(RuntimeDir { path })
    }
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors, which we own from here on.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(SandboxError::io(
            "creating a pipe",
            "pipe2",
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: both descriptors are fresh and owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((above_stdio(r)?, above_stdio(w)?))
}

/// Moves a descriptor to 3 or above: a caller that closed its stdin would otherwise get
/// a pipe on 0, 1 or 2, which the command's dup2 calls would overwrite.
fn above_stdio(fd: OwnedFd) -> Result<OwnedFd, SandboxError> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: duplicating a descriptor we own; the copy is owned by the result.
    let copy = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if copy < 0 {
        let e = io::Error::last_os_error();
        return Err(SandboxError::io("duplicating a pipe", "fcntl", e));
    }
    // SAFETY: `copy` is a fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// Runs the sandbox once on an overlay root and removes its stubs from the upper
/// directory.
pub(crate) fn run_in_namespaces(
    spec: &SandboxSpec,
    source: &RootSource<'_>,
    output: &mut dyn FnMut(Stream, &[u8]),
) -> Result<ExitStatus, Failure> {
    let runtime = RuntimeDir::new()?;
    let cgroup = devices::DeviceCgroup::create()?;
    let prepared = plan::prepare(spec, &runtime.path, source, cgroup.as_ref())?;
    let result = spawn_and_wait(spec, &prepared, output);
    if let RootSource::Overlay { .. } = source {
        prepared
            .stubs
            .remove(&spec.upper_dir, &Union::new(&spec.lower_dirs))?;
    }
    result
}

/// Runs the sandbox on the copy fallback's private root. The stubs it created are
/// returned rather than removed: they reach the upper directory only with the copy's
/// diff, and the fallback removes them after that.
pub(crate) fn run_copy_root(
    spec: &SandboxSpec,
    root: &Path,
    output: &mut dyn FnMut(Stream, &[u8]),
) -> Result<(ExitStatus, stubs::Stubs), SandboxError> {
    let runtime = RuntimeDir::new()?;
    let source = RootSource::Copy { root };
    let cgroup = devices::DeviceCgroup::create()?;
    let prepared = plan::prepare(spec, &runtime.path, &source, cgroup.as_ref())?;
    let result = spawn_and_wait(spec, &prepared, output);
    match result {
        Ok(status) => Ok((status, prepared.stubs)),
        Err(Failure::Other(e)) => Err(e),
        Err(Failure::Overlay { step, source }) => Err(SandboxError::Setup { step, source }),
    }
}

fn spawn_and_wait(
    spec: &SandboxSpec,
    prepared: &plan::Prepared,
    output: &mut dyn FnMut(Stream, &[u8]),
) -> Result<ExitStatus, Failure> {
    let (stdout_r, stdout_w) = pipe()?;
    let (stderr_r, stderr_w) = pipe()?;
    let (status_r, status_w) = pipe()?;
    let fds = ChildFds {
        stdout_w: stdout_w.as_raw_fd(),
        stderr_w: stderr_w.as_raw_fd(),
        status_w: status_w.as_raw_fd(),
        cgroup_procs: prepared.plan.cgroup_procs,
    };
    let mut flags =
        libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
    if spec.network == crate::Network::None {
        flags |= libc::CLONE_NEWNET;
    }
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let pid = {
        let mut reg = registry();
        // SAFETY: the child runs only `init_main`, which makes system calls on the
        // prepared plan and never returns.
        let pid = unsafe { child::raw_fork(flags) };
        if pid == 0 {
            child::init_main(&prepared.plan, &fds);
        }
        if pid < 0 {
            return Err(SandboxError::Namespaces {
                source: io::Error::last_os_error(),
            }
            .into());
        }
        let pid = pid as libc::pid_t;
        reg.running.push((id, Running::Embedded { pid }));
        pid
    };
    drop((stdout_w, stderr_w, status_w));
    let pumped = pump(stdout_r, stderr_r, output);
    let wait = reap(pid, id);
    let cancelled = wait?;
    pumped.map_err(|e| SandboxError::io("reading the command's output", "pipe", e))?;
    let mut bytes = Vec::new();
    File::from(status_r)
        .read_to_end(&mut bytes)
        .map_err(|e| SandboxError::io("reading the sandbox status", "pipe", e))?;
    if cancelled {
        return Err(SandboxError::Cancelled.into());
    }
    interpret(spec, prepared, &Record::decode_all(&bytes))
}

/// Waits for PID 1 and reaps it; returns whether it was cancelled.
///
/// The run leaves the registry while PID 1 is a zombie (waited for with `WNOWAIT`), so
/// `cancel_all` can never signal a reused pid.
fn reap(pid: libc::pid_t, id: u64) -> Result<bool, SandboxError> {
    loop {
        // SAFETY: waitid fills a zeroed siginfo; WNOWAIT leaves the zombie in place.
        let rc = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            unregister(id);
            return Err(SandboxError::io(
                "waiting for the sandbox",
                format!("pid {pid}"),
                e,
            ));
        }
    }
    let cancelled = unregister(id);
    loop {
        let mut status = 0;
        // SAFETY: reaping our own zombie child with a valid status pointer.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            break;
        }
    }
    Ok(cancelled)
}

/// Turns the status records into the run's result.
fn interpret(
    spec: &SandboxSpec,
    prepared: &plan::Prepared,
    records: &[Record],
) -> Result<ExitStatus, Failure> {
    let step = |index: u32| {
        prepared
            .steps
            .get(index as usize)
            .cloned()
            .unwrap_or_else(|| format!("step {index}"))
    };
    let command = spec.args.first().cloned().unwrap_or_default();
    if let Some(r) = records.iter().find(|r| r.tag == TAG_EXEC) {
        return Err(if r.errno == libc::ENOENT || r.errno == libc::ENOTDIR {
            SandboxError::CommandNotFound {
                command,
                searched: plan::searched(spec),
            }
        } else {
            SandboxError::Exec {
                command,
                source: io::Error::from_raw_os_error(r.errno),
            }
        }
        .into());
    }
    for r in records {
        match r.tag {
            TAG_OVERLAY => {
                return Err(Failure::Overlay {
                    step: step(r.index),
                    source: io::Error::from_raw_os_error(r.errno),
                })
            }
            TAG_SETUP => {
                return Err(SandboxError::Setup {
                    step: step(r.index),
                    source: io::Error::from_raw_os_error(r.errno),
                }
                .into())
            }
            TAG_CLONE => {
                return Err(SandboxError::Setup {
                    step: "starting the command process".into(),
                    source: io::Error::from_raw_os_error(r.errno),
                }
                .into())
            }
            TAG_EXIT => {
                let status = r.value;
                return Ok(if libc::WIFSIGNALED(status) {
                    ExitStatus::Signal(libc::WTERMSIG(status))
                } else {
                    ExitStatus::Code(libc::WEXITSTATUS(status))
                });
            }
            _ => {}
        }
    }
    Err(SandboxError::Setup {
        step: "running the sandbox's init process".into(),
        source: io::Error::other("it ended without reporting a status (killed from outside?)"),
    }
    .into())
}

/// Copies both output pipes to `output` as data arrives, until both reach end of file.
fn pump(stdout: OwnedFd, stderr: OwnedFd, output: &mut dyn FnMut(Stream, &[u8])) -> io::Result<()> {
    let mut files = [Some(File::from(stdout)), Some(File::from(stderr))];
    let streams = [Stream::Stdout, Stream::Stderr];
    let mut buf = vec![0u8; 64 * 1024];
    while files.iter().any(Option::is_some) {
        let mut pollfds: Vec<libc::pollfd> = files
            .iter()
            .map(|f| libc::pollfd {
                fd: f.as_ref().map_or(-1, |f| f.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: poll on a valid array of pollfd structures.
        let rc = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, -1) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for (i, pfd) in pollfds.iter().enumerate() {
            if pfd.revents == 0 {
                continue;
            }
            let Some(file) = files[i].as_mut() else {
                continue;
            };
            match file.read(&mut buf) {
                Ok(0) => files[i] = None,
                Ok(n) => output(streams[i], &buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
