//! The device policy of a RUN: which device nodes a command may open.
//!
//! Three layers, as Docker and BuildKit do, so that no single missing one opens a host
//! device (a node shipped in a base layer, say `c 10 232`, is `/dev/kvm`):
//!
//! 1. `CAP_MKNOD` is not in the command's capability set: it cannot make device nodes.
//! 2. Every filesystem the command can write or that comes from layers (the root
//!    overlay, `/dev`'s tmpfs, bind and layer mounts) is mounted `nodev`; only the
//!    allowed host nodes are bind-mounted into `/dev`, and devpts brings its own.
//! 3. A cgroup v1 `devices` controller, where the host has one and the caller may write
//!    it (root in the initial user namespace), denies everything but [`ALLOWED`]. The
//!    external runtime gets the same list in its bundle and applies it itself (cgroup v1
//!    or its BPF filter on cgroup v2). On a pure cgroup v2 host the embedded runtime
//!    loads no BPF device filter: there, layers 1 and 2 are the policy. In rootless mode
//!    the kernel itself refuses device nodes to a user namespace and marks its mounts
//!    `nodev`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::SandboxError;

/// A character device a command may read, write (never create): the runc/Docker
/// defaults without `/dev/console` and tun (a build has no console nor tun device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AllowedDevice {
    pub major: u32,
    /// `None`: every minor (the pseudo-terminals of the sandbox's own devpts).
    pub minor: Option<u32>,
}

/// null, zero, full, random, urandom, tty, ptmx and the devpts pseudo-terminals.
pub(crate) const ALLOWED: [AllowedDevice; 8] = [
    AllowedDevice::one(1, 3),
    AllowedDevice::one(1, 5),
    AllowedDevice::one(1, 7),
    AllowedDevice::one(1, 8),
    AllowedDevice::one(1, 9),
    AllowedDevice::one(5, 0),
    AllowedDevice::one(5, 2),
    AllowedDevice {
        major: 136,
        minor: None,
    },
];

impl AllowedDevice {
    const fn one(major: u32, minor: u32) -> AllowedDevice {
        AllowedDevice {
            major,
            minor: Some(minor),
        }
    }

    /// The cgroup v1 `devices.allow` line: read and write, no mknod.
    fn cgroup_v1_rule(&self) -> String {
        match self.minor {
            Some(minor) => format!("c {}:{minor} rw", self.major),
            None => format!("c {}:* rw", self.major),
        }
    }
}

static NEXT_CGROUP: AtomicU64 = AtomicU64::new(1);

/// Group names: the prefix, the creating process id, a counter.
const GROUP_PREFIX: &str = "wharf-sandbox-";

/// Removes the (empty) groups that processes killed before their `Drop` ran
/// left below `parent`: those whose creating process is gone. A group of a
/// live process is never touched, so a concurrent sandbox is safe.
fn remove_orphans(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(GROUP_PREFIX))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            // Fails harmlessly (EBUSY) if something still runs in it.
            let _ = fs::remove_dir(entry.path());
        }
    }
}

/// A cgroup v1 `devices` group holding one sandbox, removed on drop.
pub(crate) struct DeviceCgroup {
    dir: PathBuf,
    /// `cgroup.procs`, opened for the sandbox's PID 1 to write `0` (itself) into.
    procs: File,
}

impl DeviceCgroup {
    /// A fresh group below the caller's own `devices` group, denying every device but
    /// [`ALLOWED`]; `None` when the host has no writable cgroup v1 `devices` controller
    /// (cgroup v2 only, a user namespace, a read-only cgroupfs).
    pub fn create() -> Result<Option<DeviceCgroup>, SandboxError> {
        let Some(parent) = own_devices_group() else {
            return Ok(None);
        };
        remove_orphans(&parent);
        let dir = parent.join(format!(
            "{GROUP_PREFIX}{}-{}",
            std::process::id(),
            NEXT_CGROUP.fetch_add(1, Ordering::Relaxed)
        ));
        match fs::create_dir(&dir) {
            Ok(()) => {}
            // Not ours to write (a container's read-only cgroupfs, no permission).
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EROFS | libc::EACCES | libc::EPERM)
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(SandboxError::io("creating the device cgroup", &dir, e)),
        }
        let group = DeviceCgroup {
            procs: match OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))
            {
                Ok(f) => f,
                Err(e) => {
                    let _ = fs::remove_dir(&dir);
                    return Err(SandboxError::io("opening", dir.join("cgroup.procs"), e));
                }
            },
            dir,
        };
        group.write_rule("devices.deny", "a")?;
        for device in ALLOWED {
            group.write_rule("devices.allow", &device.cgroup_v1_rule())?;
        }
        Ok(Some(group))
    }

    fn write_rule(&self, file: &str, rule: &str) -> Result<(), SandboxError> {
        let path = self.dir.join(file);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| f.write_all(rule.as_bytes()))
            .map_err(|e| SandboxError::io("writing the device cgroup's rules", path, e))
    }

    /// The descriptor PID 1 writes `0` into to join the group.
    pub fn procs_fd(&self) -> RawFd {
        self.procs.as_raw_fd()
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for DeviceCgroup {
    fn drop(&mut self) {
        // Every process of the sandbox has been reaped when this runs; the kernel may
        // still be releasing the last one's membership, so a busy group is retried a
        // few times without waiting (rmdir of an empty group is what frees it).
        for _ in 0..1000 {
            match fs::remove_dir(&self.dir) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => std::thread::yield_now(),
                _ => return,
            }
        }
    }
}

/// The caller's own group in a mounted cgroup v1 hierarchy with the `devices`
/// controller, from `/proc/self/mountinfo` and `/proc/self/cgroup`.
fn own_devices_group() -> Option<PathBuf> {
    if super::in_user_namespace() {
        return None;
    }
    let cgroups = fs::read_to_string("/proc/self/cgroup").ok()?;
    let own = cgroups.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        controllers
            .split(',')
            .any(|c| c == "devices")
            .then(|| path.to_string())
    })?;
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let (root, mount_point) = mountinfo.lines().find_map(devices_mount)?;
    let rel = Path::new(&own).strip_prefix(&root).ok()?;
    let dir = mount_point.join(rel);
    dir.join("devices.allow").exists().then_some(dir)
}

/// `(root, mount point)` of a mountinfo line for a cgroup v1 mount with `devices`.
fn devices_mount(line: &str) -> Option<(PathBuf, PathBuf)> {
    let (before, after) = line.split_once(" - ")?;
    let mut after = after.split(' ');
    let (fstype, _source, options) = (after.next()?, after.next()?, after.next()?);
    if fstype != "cgroup" || !options.split(',').any(|o| o == "devices") {
        return None;
    }
    let fields: Vec<&str> = before.split(' ').collect();
    let unescape = |s: &str| s.replace("\\040", " ");
    Some((
        PathBuf::from(unescape(fields.get(3)?)),
        PathBuf::from(unescape(fields.get(4)?)),
    ))
}

/// The step description of joining a group, for error messages.
pub(crate) fn join_step(group: &DeviceCgroup) -> String {
    format!("joining the device cgroup {}", group.path().display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::io;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    #[test]
    fn mountinfo_lines_for_the_devices_controller() {
        let v1 =
            "35 27 0:31 / /sys/fs/cgroup/devices rw,relatime shared:12 - cgroup cgroup rw,devices";
        assert_eq!(
            devices_mount(v1),
            Some((PathBuf::from("/"), PathBuf::from("/sys/fs/cgroup/devices")))
        );
        let v2 = "36 27 0:32 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw";
        assert_eq!(devices_mount(v2), None);
        let other = "37 27 0:33 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu";
        assert_eq!(devices_mount(other), None);
    }

    #[test]
    fn rules_allow_read_write_only() {
        let rules: Vec<String> = ALLOWED.iter().map(|d| d.cgroup_v1_rule()).collect();
        assert!(rules.contains(&"c 1:3 rw".to_string()));
        assert!(rules.contains(&"c 136:* rw".to_string()));
        assert!(rules
            .iter()
            .all(|r| !r.contains('m') && r.starts_with("c ")));
    }

    /// A group a killed process left (its pid cannot exist) goes with the next
    /// sandbox; one of a live process stays.
    #[test]
    fn groups_of_dead_processes_are_removed() {
        let Some(parent) = own_devices_group() else {
            eprintln!("skipped: no writable cgroup v1 devices controller on this host");
            return;
        };
        let orphan = parent.join(format!("{GROUP_PREFIX}999999999-1"));
        let live = parent.join(format!("{GROUP_PREFIX}{}-999999", std::process::id()));
        fs::create_dir(&orphan).unwrap();
        fs::create_dir(&live).unwrap();
        let group = DeviceCgroup::create().unwrap().unwrap();
        assert!(!orphan.exists());
        assert!(live.exists());
        fs::remove_dir(&live).unwrap();
        drop(group);
    }

    /// A process in the group opens `/dev/null` but not a host device outside the
    /// list, here a node of `/dev/kmsg` made on the (not `nodev`) host temp directory.
    /// Needs root on a host with a cgroup v1 `devices` controller; says so otherwise.
    #[test]
    fn a_process_in_the_group_opens_only_allowed_devices() {
        let Some(group) = DeviceCgroup::create().unwrap() else {
            eprintln!("skipped: no writable cgroup v1 devices controller on this host");
            return;
        };
        let listed = fs::read_to_string(group.path().join("devices.list")).unwrap();
        let mut listed: Vec<&str> = listed.lines().collect();
        listed.sort_unstable();
        let mut expected: Vec<String> = ALLOWED.iter().map(|d| d.cgroup_v1_rule()).collect();
        expected.sort_unstable();
        assert_eq!(listed, expected);

        let dir = tempfile::tempdir().unwrap();
        let node = dir.path().join("kmsg");
        let c = CString::new(node.to_str().unwrap()).unwrap();
        // SAFETY: mknod on a fresh path with a constant device number.
        let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 11)) };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        assert!(File::open(&node).is_ok(), "the host itself opens it");

        let fd = group.procs_fd();
        let script = format!(
            "exec 3>/dev/null && echo null-ok; (exec 4<{}) 2>/dev/null && echo OPENED; true",
            node.display()
        );
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", &script]);
        // SAFETY: write(2) on a descriptor we own, between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = cmd.output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "null-ok\n");
    }
}
