//! The code that runs in the cloned children, between clone(2) and execve(2).
//!
//! The caller is multi-threaded, so the clone child inherits a copy of memory in which
//! another thread may have held the allocator's or stdio's lock. Everything here
//! therefore works on data prepared beforehand ([`Plan`]) and only makes system calls:
//! no allocation, no `format!`, no `std::io`, no glibc wrapper with process-wide state.
//! Failures are reported as fixed-size records on the status pipe and decoded by the
//! caller (`super::status`).

use std::ffi::{c_char, CString};

use super::status::{Record, TAG_CLONE, TAG_EXEC, TAG_EXIT, TAG_OVERLAY, TAG_SETUP};

/// Docker's default capabilities without MKNOD, as a bit set (`CapBnd:
/// 00000000a00425fb`): CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID,
/// SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, AUDIT_WRITE, SETFCAP. MKNOD is left
/// out so a command cannot make a node for a host device (see `super::devices`).
pub(crate) const DEFAULT_CAPABILITIES: u64 = (1 << 0)
    | (1 << 1)
    | (1 << 3)
    | (1 << 4)
    | (1 << 5)
    | (1 << 6)
    | (1 << 7)
    | (1 << 8)
    | (1 << 10)
    | (1 << 13)
    | (1 << 18)
    | (1 << 29)
    | (1 << 31);

/// One preparation step of PID 1, executed in order.
pub(crate) enum Op {
    /// mount(2); `overlay` marks the root overlay, whose failure may trigger the copy
    /// fallback.
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
        overlay: bool,
    },
    /// Remount a bind mount adding `flags` (`MS_RDONLY`, `MS_NODEV`), keeping the
    /// flags the kernel locks.
    Remount {
        target: CString,
        flags: libc::c_ulong,
    },
    /// Move PID 1 into a cgroup: write `0` (the writer itself) into its open
    /// `cgroup.procs`, then close it.
    JoinCgroup { procs: i32 },
    /// sysfs read-only, or a read-only recursive bind of the host's `/sys` when the
    /// kernel refuses sysfs (user namespace without its own network namespace).
    Sysfs { target: CString, host_sys: CString },
    /// devpts with a private ptmx; `fallback_data` drops the tty group when gid 5 is
    /// not mapped.
    Devpts {
        target: CString,
        data: CString,
        fallback_data: CString,
    },
    /// mkdir(2); an existing directory is fine.
    Mkdir { path: CString, mode: libc::mode_t },
    /// Create an empty file if missing (a mount point for a file).
    Touch { path: CString, mode: libc::mode_t },
    /// Create a file with this content, then give it `mode` and, when set, `owner`.
    WriteFile {
        path: CString,
        content: Vec<u8>,
        mode: libc::mode_t,
        owner: Option<(libc::uid_t, libc::gid_t)>,
    },
    /// symlink(2): `link` pointing at `target`.
    Symlink { target: CString, link: CString },
    /// chdir(2).
    Chdir { path: CString },
    /// sethostname(2).
    Hostname { name: Vec<u8> },
    /// Bring the loopback interface up.
    LoopbackUp,
    /// setrlimit(2) on PID 1, inherited by the command.
    Rlimit {
        resource: libc::c_int,
        soft: u64,
        hard: u64,
    },
    /// pivot_root into the current directory and detach the old root; chroot when the
    /// kernel refuses pivot_root (root on an initramfs).
    PivotRoot,
}

/// Everything the children need, prepared by the caller.
pub(crate) struct Plan {
    pub ops: Vec<Op>,
    /// `/dev/null` inside the container, opened as the command's stdin.
    pub dev_null: CString,
    pub exec_candidates: Vec<CString>,
    pub argv: Vec<*const c_char>,
    pub envp: Vec<*const c_char>,
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    pub groups: Vec<libc::gid_t>,
    /// The descriptor of [`Op::JoinCgroup`], or -1: PID 1 keeps it open until then.
    pub cgroup_procs: i32,
}

/// File descriptors the children use (the caller's ends are close-on-exec).
pub(crate) struct ChildFds {
    pub stdout_w: i32,
    pub stderr_w: i32,
    pub status_w: i32,
    /// `cgroup.procs` of the device cgroup PID 1 joins, or -1.
    pub cgroup_procs: i32,
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn report(fd: i32, record: Record) {
    let bytes = record.encode();
    // SAFETY: writing a stack buffer of its own length; a short or failed write leaves
    // the caller with a truncated record, which it reports as an unknown failure.
    unsafe {
        libc::write(fd, bytes.as_ptr().cast(), bytes.len());
    }
}

fn ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

/// Runs one op; returns the errno on failure.
// Long: one arm per operation, run in the cloned child where only
// async-signal-safe system calls may happen; keeping every arm in one
// match keeps that rule visible in one place.
pub(crate) fn run_op(op: &Op) -> Result<(), i32> {
    // SAFETY (whole function): every pointer comes from a live CString or buffer of the
    // plan, and every call is a plain system call wrapper.
    unsafe {
        let rc = match op {
            Op::Mount {
                source,
                target,
                fstype,
                flags,
                data,
                ..
            } => libc::mount(
                ptr(source),
                target.as_ptr(),
                ptr(fstype),
                *flags,
                data.as_ref()
                    .map_or(std::ptr::null(), |d| d.as_ptr().cast()),
            ),
            Op::Remount { target, flags } => return remount(target, *flags),
            Op::JoinCgroup { procs } => {
                let written = libc::write(*procs, c"0".as_ptr().cast(), 1);
                let e = errno();
                libc::close(*procs);
                if written != 1 {
                    return Err(e);
                }
                0
            }
            Op::Sysfs { target, host_sys } => {
                let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
                let sysfs = c"sysfs";
                if libc::mount(
                    sysfs.as_ptr(),
                    target.as_ptr(),
                    sysfs.as_ptr(),
                    flags,
                    std::ptr::null(),
                ) == 0
                {
                    return Ok(());
                }
                if libc::mount(
                    host_sys.as_ptr(),
                    target.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ) != 0
                {
                    return Err(errno());
                }
                return remount(target, libc::MS_RDONLY);
            }
            Op::Devpts {
                target,
                data,
                fallback_data,
            } => {
                let devpts = c"devpts";
                let flags = libc::MS_NOSUID | libc::MS_NOEXEC;
                if libc::mount(
                    devpts.as_ptr(),
                    target.as_ptr(),
                    devpts.as_ptr(),
                    flags,
                    data.as_ptr().cast(),
                ) == 0
                {
                    return Ok(());
                }
                libc::mount(
                    devpts.as_ptr(),
                    target.as_ptr(),
                    devpts.as_ptr(),
                    flags,
                    fallback_data.as_ptr().cast(),
                )
            }
            Op::Mkdir { path, mode } => {
                if libc::mkdir(path.as_ptr(), *mode) == 0 {
                    0
                } else {
                    let e = errno();
                    if e != libc::EEXIST {
                        return Err(e);
                    }
                    0
                }
            }
            Op::Touch { path, mode } => {
                let fd = libc::open(
                    path.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                    *mode,
                );
                if fd < 0 {
                    return Err(errno());
                }
                libc::close(fd)
            }
            Op::WriteFile {
                path,
                content,
                mode,
                owner,
            } => {
                let fd = libc::open(
                    path.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC | libc::O_CLOEXEC,
                    0o600,
                );
                if fd < 0 {
                    return Err(errno());
                }
                let mut off = 0;
                while off < content.len() {
                    let n = libc::write(fd, content[off..].as_ptr().cast(), content.len() - off);
                    if n <= 0 {
                        let e = errno();
                        libc::close(fd);
                        return Err(e);
                    }
                    off += n as usize;
                }
                let owned = owner.is_none_or(|(uid, gid)| libc::fchown(fd, uid, gid) == 0);
                if !owned || libc::fchmod(fd, *mode) != 0 {
                    let e = errno();
                    libc::close(fd);
                    return Err(e);
                }
                libc::close(fd)
            }
            Op::Symlink { target, link } => libc::symlink(target.as_ptr(), link.as_ptr()),
            Op::Chdir { path } => libc::chdir(path.as_ptr()),
            Op::Hostname { name } => libc::sethostname(name.as_ptr().cast(), name.len()),
            Op::LoopbackUp => return loopback_up(),
            Op::Rlimit {
                resource,
                soft,
                hard,
            } => {
                let limit = libc::rlimit {
                    rlim_cur: *soft,
                    rlim_max: *hard,
                };
                libc::setrlimit(*resource as _, &limit)
            }
            Op::PivotRoot => return pivot_root(),
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(errno())
        }
    }
}

/// Remounts the bind mount `target` adding `extra` flags, keeping nosuid/nodev/noexec/
/// atime flags the kernel locks for mounts inherited from a more privileged namespace.
fn remount(target: &CString, extra: libc::c_ulong) -> Result<(), i32> {
    // SAFETY: statvfs fills the zeroed struct; the path is a live CString. glibc takes
    // the flags straight from statfs(2) (ST_VALID is set by every current kernel), so
    // this neither allocates nor reads /proc/mounts.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(target.as_ptr(), &mut st) != 0 {
            return Err(errno());
        }
        let mut flags = libc::MS_BIND | libc::MS_REMOUNT | extra;
        let f = st.f_flag as libc::c_ulong;
        for (st_flag, ms_flag) in [
            (libc::ST_RDONLY, libc::MS_RDONLY),
            (libc::ST_NOSUID, libc::MS_NOSUID),
            (libc::ST_NODEV, libc::MS_NODEV),
            (libc::ST_NOEXEC, libc::MS_NOEXEC),
            (libc::ST_NOATIME, libc::MS_NOATIME),
            (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
            (libc::ST_RELATIME, libc::MS_RELATIME),
        ] {
            if f & st_flag != 0 {
                flags |= ms_flag;
            }
        }
        if libc::mount(
            std::ptr::null(),
            target.as_ptr(),
            std::ptr::null(),
            flags,
            std::ptr::null(),
        ) != 0
        {
            return Err(errno());
        }
    }
    Ok(())
}

/// `ifreq` for SIOC[GS]IFFLAGS: interface name then the flags word, padded to the
/// kernel's 40-byte union.
#[repr(C)]
struct IfreqFlags {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

fn loopback_up() -> Result<(), i32> {
    // SAFETY: socket/ioctl/close on a fresh descriptor with a properly sized ifreq.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(errno());
        }
        let mut req = IfreqFlags {
            name: [0; 16],
            flags: 0,
            _pad: [0; 22],
        };
        req.name[..2].copy_from_slice(b"lo");
        let mut rc = libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req);
        if rc == 0 {
            req.flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            rc = libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req);
        }
        let e = errno();
        libc::close(fd);
        if rc != 0 {
            return Err(e);
        }
    }
    Ok(())
}

fn pivot_root() -> Result<(), i32> {
    let dot = c".";
    let slash = c"/";
    // SAFETY: system calls on static C strings.
    unsafe {
        if libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) == 0 {
            if libc::umount2(dot.as_ptr(), libc::MNT_DETACH) != 0 {
                return Err(errno());
            }
        } else if libc::chroot(dot.as_ptr()) != 0 {
            return Err(errno());
        }
        if libc::chdir(slash.as_ptr()) != 0 {
            return Err(errno());
        }
    }
    Ok(())
}

/// fork(2) without glibc: no atfork handlers, no locks taken.
///
/// # Safety
/// The child must only make system calls on prepared data until it execs or exits.
pub(crate) unsafe fn raw_fork(extra_flags: libc::c_int) -> libc::c_long {
    // SAFETY: clone with a null stack behaves like fork; the caller upholds the rest.
    unsafe {
        libc::syscall(
            libc::SYS_clone,
            (extra_flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    }
}

/// PID 1 of the sandbox: prepares the root, starts the command as PID 2, reaps, and
/// reports. Never returns.
pub(crate) fn init_main(plan: &Plan, fds: &ChildFds) -> ! {
    close_other_fds(fds);
    default_signals();
    // SAFETY: prctl and umask with constant arguments.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        // Docker's umask, whatever the caller's: stubs, the working directory and the
        // command's files get the modes images expect.
        libc::umask(0o022);
    }
    for (index, op) in plan.ops.iter().enumerate() {
        if let Err(errno) = run_op(op) {
            let tag = match op {
                Op::Mount { overlay: true, .. } => TAG_OVERLAY,
                _ => TAG_SETUP,
            };
            report(
                fds.status_w,
                Record {
                    tag,
                    index: index as u32,
                    errno,
                    value: 0,
                },
            );
            exit(1);
        }
    }
    // SAFETY: the command child only runs `command_main`, which makes system calls.
    let pid = unsafe { raw_fork(0) };
    if pid < 0 {
        report(
            fds.status_w,
            Record {
                tag: TAG_CLONE,
                index: 0,
                errno: errno(),
                value: 0,
            },
        );
        exit(1);
    }
    if pid == 0 {
        command_main(plan, fds);
    }
    // SAFETY: closing our copies of the output pipes so only the command holds them.
    unsafe {
        libc::close(fds.stdout_w);
        libc::close(fds.stderr_w);
    }
    loop {
        let mut status = 0;
        // SAFETY: waitpid on any child with a valid status pointer.
        let reaped = unsafe { libc::waitpid(-1, &mut status, 0) };
        if reaped == pid as libc::pid_t {
            report(
                fds.status_w,
                Record {
                    tag: TAG_EXIT,
                    index: 0,
                    errno: 0,
                    value: status,
                },
            );
            exit(0);
        }
        if reaped < 0 && errno() != libc::EINTR {
            exit(1);
        }
    }
}

/// Closes every descriptor above stderr except the sandbox's own. PID 1 never execs, so
/// close-on-exec does not help: without this it would keep, say, another concurrent
/// sandbox's output pipe open and delay that sandbox's end of output.
fn close_other_fds(fds: &ChildFds) {
    let mut keep = [fds.stdout_w, fds.stderr_w, fds.status_w, fds.cgroup_procs];
    keep.sort_unstable();
    let mut low: u32 = 3;
    for fd in keep.into_iter().filter(|fd| *fd >= 0) {
        let fd = fd as u32;
        if fd > low {
            // SAFETY: close_range on descriptors nobody in this process uses.
            unsafe { libc::syscall(libc::SYS_close_range, low, fd - 1, 0u32) };
        }
        low = low.max(fd + 1);
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, low, u32::MAX, 0u32) };
}

/// Empties the signal mask and restores default dispositions: handlers inherited from
/// the caller (a Ctrl-C handler, say) must not run in the sandbox. PID 1 with default
/// dispositions ignores everything but SIGKILL, which is how the caller stops it.
fn default_signals() {
    // SAFETY: signal mask and disposition changes in a single-threaded child.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        for sig in 1..=libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit skips atexit handlers and stdio flushing, as a forked child must.
    unsafe { libc::_exit(code) }
}

/// PID 2: becomes the command.
fn command_main(plan: &Plan, fds: &ChildFds) -> ! {
    // SAFETY (whole function): system calls on prepared data; raw id-switching syscalls
    // because glibc's setuid family would signal the caller's (absent) threads.
    default_signals();
    unsafe {
        libc::setsid();
        let null = libc::open(plan.dev_null.as_ptr(), libc::O_RDONLY);
        let ok = null >= 0
            && libc::dup2(null, 0) == 0
            && libc::dup2(fds.stdout_w, 1) == 1
            && libc::dup2(fds.stderr_w, 2) == 2;
        if !ok {
            fail_exec(fds, errno());
        }
        // Everything else the caller had open must not reach the command.
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        // Docker's default capability set: everything else leaves the bounding set, so
        // a root command cannot regain it at exec (EINVAL past the kernel's last cap).
        for cap in 0..64 {
            if DEFAULT_CAPABILITIES & (1u64 << cap) == 0 {
                libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0);
            }
        }
        // A user namespace with a single-id map denies setgroups; with no supplementary
        // groups asked for there is nothing to drop then.
        let groups_ok = libc::syscall(libc::SYS_setgroups, plan.groups.len(), plan.groups.as_ptr())
            == 0
            || (plan.groups.is_empty() && errno() == libc::EPERM);
        if !groups_ok
            || libc::syscall(libc::SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0
            || libc::syscall(libc::SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0
        {
            fail_exec(fds, errno());
        }
        let mut worst = libc::ENOENT;
        for candidate in &plan.exec_candidates {
            libc::execve(candidate.as_ptr(), plan.argv.as_ptr(), plan.envp.as_ptr());
            let e = errno();
            // As execvp does: keep looking past missing entries, remember real failures.
            if e != libc::ENOENT && e != libc::ENOTDIR {
                worst = e;
                if e != libc::EACCES {
                    break;
                }
            }
        }
        fail_exec(fds, worst)
    }
}

fn fail_exec(fds: &ChildFds, errno: i32) -> ! {
    report(
        fds.status_w,
        Record {
            tag: TAG_EXEC,
            index: 0,
            errno,
            value: 0,
        },
    );
    exit(127)
}
