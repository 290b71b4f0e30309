//! Rootless mode: re-execute the program inside a new user and mount namespace, the
//! model of `buildah unshare`.
//!
//! The original process (the "outer" one) starts a copy of itself with a marker in the
//! environment. The copy unshares a user and a mount namespace while it is still
//! single-threaded, tells the outer process through a pipe, and waits. The outer process,
//! still holding the user's privileges in the initial namespace, writes the id maps with
//! `newuidmap`/`newgidmap` (setuid helpers from Debian's `uidmap`, which check
//! `/etc/subuid` and `/etc/subgid`), then lets the copy continue as root of the new
//! namespace and waits for it, exiting with its status.
//!
//! Maps: container 0 → the user's own id, container 1..=N → the subordinate range. With
//! no range for the user (or no `newuidmap`/`newgidmap`), the outer process writes a
//! single-id map (0 → user) itself; then only id 0 exists in the container and `chown`
//! to any other id fails.
//!
//! Before any of this, a child is cloned into a new user namespace to see whether the
//! kernel allows one; when it does not, nothing is re-executed and the caller learns
//! why ([`RootlessState::Unavailable`]), so builds that run no Linux command still work
//! as the plain user.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;

use crate::{RootlessState, SandboxError};

/// Environment marker of the re-executed copy: `<ready fd>,<go fd>,<mapped ids>`.
const CHILD_ENV: &str = "_WHARF_SANDBOX_ROOTLESS_CHILD";

fn rootless(what: impl Into<String>) -> SandboxError {
    SandboxError::Rootless { what: what.into() }
}

pub(crate) fn enter_rootless() -> Result<RootlessState, SandboxError> {
    if let Some(marker) = std::env::var_os(CHILD_ENV) {
        // Not inherited by anything this process starts later.
        std::env::remove_var(CHILD_ENV);
        return inner(&marker.to_string_lossy());
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return Ok(RootlessState::AlreadyRoot);
    }
    if let Err(reason) = probe_user_namespace() {
        return Ok(RootlessState::Unavailable { reason });
    }
    outer()
}

/// Whether this process may create a user namespace: a child cloned into
/// one exits at once. Asked before re-executing, so that a machine without
/// user namespaces leaves the program running as the plain user it is.
fn probe_user_namespace() -> Result<(), String> {
    // SAFETY: the child only calls _exit; the caller is single-threaded
    // (enter_rootless runs first in main()).
    let pid = unsafe { super::child::raw_fork(libc::CLONE_NEWUSER) };
    if pid < 0 {
        return Err(format!(
            "creating a user namespace: {}",
            io::Error::last_os_error()
        ));
    }
    if pid == 0 {
        // SAFETY: leaving the probe child without running any Rust code.
        unsafe { libc::_exit(0) }
    }
    let mut status = 0;
    // SAFETY: reaping our own child with a valid status pointer.
    while unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) } < 0
        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
    {}
    Ok(())
}

/// Whether `tool` is an executable in `PATH`.
fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            use std::os::unix::fs::PermissionsExt;
            fs::metadata(dir.join(tool))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// A subordinate id range from /etc/subuid or /etc/subgid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubRange {
    pub start: u32,
    pub count: u32,
}

/// Finds the first range for the user (by name or numeric id) in a subid file's text.
pub(crate) fn find_range(text: &str, name: Option<&str>, id: u32) -> Option<SubRange> {
    let id = id.to_string();
    text.lines().find_map(|line| {
        let mut fields = line.trim().split(':');
        let owner = fields.next()?;
        if owner != id && Some(owner) != name {
            return None;
        }
        let start = fields.next()?.parse().ok()?;
        let count: u32 = fields.next()?.parse().ok()?;
        (count > 0).then_some(SubRange { start, count })
    })
}

/// The user's login name from /etc/passwd, if listed.
fn user_name(uid: u32) -> Option<String> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        (fields.next()? == uid.to_string()).then(|| name.to_string())
    })
}

fn range_from(file: &str, name: Option<&str>, id: u32) -> Option<SubRange> {
    find_range(&fs::read_to_string(file).ok()?, name, id)
}

fn pipe() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fresh descriptors, owned from here on.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(rootless(format!(
            "creating a pipe: {}",
            io::Error::last_os_error()
        )));
    }
    // SAFETY: see above.
    unsafe { Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))) }
}

fn inheritable(fd: &OwnedFd) {
    // SAFETY: clearing FD_CLOEXEC on a descriptor we own.
    unsafe {
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0);
    }
}

fn map_ids(tool: &str, pid: u32, own: u32, range: SubRange) -> Result<(), SandboxError> {
    let out = Command::new(tool)
        .arg(pid.to_string())
        .args([
            "0",
            &own.to_string(),
            "1",
            "1",
            &range.start.to_string(),
            &range.count.to_string(),
        ])
        .output()
        .map_err(|e| {
            rootless(format!(
                "running {tool}: {e}; install Debian's uidmap package (newuidmap/newgidmap)"
            ))
        })?;
    if !out.status.success() {
        return Err(rootless(format!(
            "{tool} failed ({}): {}; check the user's entries in /etc/subuid and /etc/subgid",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Writes a single-id map for `pid` directly (allowed for one's own ids).
fn map_single(pid: u32, uid: u32, gid: u32) -> Result<(), SandboxError> {
    let write = |file: &str, text: String| {
        let path = format!("/proc/{pid}/{file}");
        fs::write(&path, text).map_err(|e| rootless(format!("writing {path}: {e}")))
    };
    write("uid_map", format!("0 {uid} 1\n"))?;
    write("setgroups", "deny\n".into())?;
    write("gid_map", format!("0 {gid} 1\n"))
}

/// The outer process: start the copy, map its ids, wait for it, exit with its status.
fn outer() -> Result<RootlessState, SandboxError> {
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let name = user_name(uid);
    // Subordinate ranges need the setuid helpers; without them, the user alone.
    let ranges = if on_path("newuidmap") && on_path("newgidmap") {
        (
            range_from("/etc/subuid", name.as_deref(), uid),
            range_from("/etc/subgid", name.as_deref(), gid)
                .or_else(|| range_from("/etc/subgid", name.as_deref(), uid)),
        )
    } else {
        (None, None)
    };
    let mapped = match ranges {
        (Some(u), Some(g)) => 1 + u.count.min(g.count),
        _ => 1,
    };
    let (ready_r, ready_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    inheritable(&ready_w);
    inheritable(&go_r);
    let exe = fs::read_link("/proc/self/exe")
        .map_err(|e| rootless(format!("reading /proc/self/exe: {e}")))?;
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    let mut child = Command::new(&exe)
        .arg0(arg0)
        .args(args)
        .env(
            CHILD_ENV,
            format!("{},{},{mapped}", ready_w.as_raw_fd(), go_r.as_raw_fd()),
        )
        .spawn()
        .map_err(|e| rootless(format!("re-executing {}: {e}", exe.display())))?;
    drop((ready_w, go_r));
    let pid = child.id();
    let mut byte = [0u8; 1];
    let unshared = File::from(ready_r).read(&mut byte).unwrap_or(0) == 1;
    if unshared {
        let mapping = match ranges {
            (Some(u), Some(g)) => {
                map_ids("newuidmap", pid, uid, u).and_then(|()| map_ids("newgidmap", pid, gid, g))
            }
            _ => map_single(pid, uid, gid),
        };
        match mapping {
            Ok(()) => {
                let _ = File::from(go_w).write_all(b"g");
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        }
    } else {
        drop(go_w);
    }
    // The terminal sends Ctrl-C to both processes; only the copy should act on it.
    // SAFETY: ignoring signals in this process, which only waits from here on.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
    }
    let status = child
        .wait()
        .map_err(|e| rootless(format!("waiting for the re-executed program: {e}")))?;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    std::process::exit(code)
}

/// The re-executed copy: unshare, wait for the maps, become root of the namespace.
fn inner(marker: &str) -> Result<RootlessState, SandboxError> {
    let fields: Vec<i32> = marker.split(',').filter_map(|f| f.parse().ok()).collect();
    let [ready, go, mapped] = fields[..] else {
        return Err(rootless(format!("malformed {CHILD_ENV} marker {marker:?}")));
    };
    // SAFETY: the outer process passed these descriptors to us and nobody else owns them.
    let (ready, go) = unsafe { (File::from_raw_fd(ready), File::from_raw_fd(go)) };
    // SAFETY: unshare with constant flags.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) } != 0 {
        let e = io::Error::last_os_error();
        let hint = if e.raw_os_error() == Some(libc::EINVAL) {
            "call enter_rootless() first in main(), before any thread starts"
        } else {
            "this machine forbids unprivileged user namespaces (see /proc/sys/user/max_user_namespaces and kernel.apparmor_restrict_unprivileged_userns)"
        };
        return Err(rootless(format!("creating a user namespace: {e}; {hint}")));
    }
    (&ready)
        .write_all(b"r")
        .map_err(|e| rootless(format!("signalling the outer process: {e}")))?;
    drop(ready);
    let mut byte = [0u8; 1];
    if (&go).read(&mut byte).unwrap_or(0) != 1 {
        return Err(rootless(
            "the outer process could not write the id maps (see its error)",
        ));
    }
    drop(go);
    // SAFETY: single-threaded; plain id and mount system calls.
    unsafe {
        if mapped > 1 {
            libc::setgroups(0, std::ptr::null());
        }
        if libc::setresgid(0, 0, 0) != 0 || libc::setresuid(0, 0, 0) != 0 {
            return Err(rootless(format!(
                "becoming root of the user namespace: {}",
                io::Error::last_os_error()
            )));
        }
        let root = c"/";
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(rootless(format!(
                "making mounts private: {}",
                io::Error::last_os_error()
            )));
        }
    }
    Ok(RootlessState::InUserNamespace {
        mapped_ids: mapped as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subordinate_ranges_match_by_name_or_id() {
        let text = "alice:100000:65536\n1001:300000:1000\nbob:5:0\n";
        assert_eq!(
            find_range(text, Some("alice"), 1000),
            Some(SubRange {
                start: 100000,
                count: 65536
            })
        );
        assert_eq!(
            find_range(text, Some("carol"), 1001),
            Some(SubRange {
                start: 300000,
                count: 1000
            })
        );
        // A zero-sized range is no range; garbage lines are skipped.
        assert_eq!(find_range(text, Some("bob"), 7), None);
        assert_eq!(find_range("x:y:z\n", Some("x"), 1), None);
    }
}
