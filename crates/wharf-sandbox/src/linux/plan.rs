//! Turns a [`SandboxSpec`] into the prepared [`Plan`] the sandbox children execute, plus
//! a description of every step (for error messages) and the list of mount-point stubs
//! that will need removing from the upper directory.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::child::{Op, Plan};
use super::devices::{self, DeviceCgroup};
use super::stubs::Stubs;
use super::union::{Kind, Union};
use crate::{
    Mount, Network, RlimitResource, SandboxError, SandboxSpec, DEFAULT_PATH, DEFAULT_SHM_SIZE,
};

/// Where the container's root tree comes from.
pub(crate) enum RootSource<'a> {
    /// An overlay of the spec's lowers with its upper and work directories.
    Overlay { userxattr: bool },
    /// A prepared private directory (the copy fallback), bind-mounted.
    Copy { root: &'a Path },
}

/// A plan ready to run, and what the caller needs to interpret and clean up after it.
pub(crate) struct Prepared {
    pub plan: Plan,
    /// One description per op, naming its paths (never environment values).
    pub steps: Vec<String>,
    pub stubs: Stubs,
    // Storage behind `plan.argv` / `plan.envp`; moving a Vec of CStrings keeps their
    // heap buffers in place.
    _argv: Vec<CString>,
    _envp: Vec<CString>,
}

/// Host devices bind-mounted into the sandbox's `/dev` (with `/dev/pts/ptmx`, the nodes
/// of `super::devices::ALLOWED`).
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

pub(crate) fn cstr(bytes: &[u8], what: &str) -> Result<CString, SandboxError> {
    CString::new(bytes).map_err(|_| SandboxError::invalid(format!("{what} contains a NUL byte")))
}

fn cpath(path: &Path) -> Result<CString, SandboxError> {
    cstr(
        path.as_os_str().as_bytes(),
        &format!("path {}", path.display()),
    )
}

/// Components of an absolute container path, `.`/empty dropped; `..` is refused.
pub(crate) fn container_components(path: &str, what: &str) -> Result<Vec<String>, SandboxError> {
    if !path.starts_with('/') {
        return Err(SandboxError::invalid(format!(
            "{what} {path:?} must be an absolute container path"
        )));
    }
    let parts: Vec<String> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect();
    if parts.iter().any(|c| c == "..") {
        return Err(SandboxError::invalid(format!(
            "{what} {path:?} must not contain '..'"
        )));
    }
    Ok(parts)
}

struct Builder<'a> {
    ops: Vec<Op>,
    steps: Vec<String>,
    union: Union<'a>,
    root: PathBuf,
    stubs: Stubs,
    /// Resolved (relative) targets mounted so far: paths below them live in those mounts.
    mounted: Vec<PathBuf>,
}

impl Builder<'_> {
    fn push(&mut self, op: Op, step: String) {
        self.ops.push(op);
        self.steps.push(step);
    }

    fn mount(
        &mut self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: libc::c_ulong,
        data: Option<&str>,
        step: String,
    ) -> Result<(), SandboxError> {
        let op = Op::Mount {
            source: source.map(cpath).transpose()?,
            target: cpath(target)?,
            fstype: fstype
                .map(|f| cstr(f.as_bytes(), "filesystem type"))
                .transpose()?,
            flags,
            data: data
                .map(|d| cstr(d.as_bytes(), "mount options"))
                .transpose()?,
            overlay: false,
        };
        self.push(op, step);
        Ok(())
    }

    fn mkdir(&mut self, path: &Path, mode: libc::mode_t) -> Result<(), SandboxError> {
        let op = Op::Mkdir {
            path: cpath(path)?,
            mode,
        };
        self.push(op, format!("creating directory {}", path.display()));
        Ok(())
    }

    fn touch(&mut self, path: &Path, mode: libc::mode_t) -> Result<(), SandboxError> {
        let op = Op::Touch {
            path: cpath(path)?,
            mode,
        };
        self.push(op, format!("creating mount point {}", path.display()));
        Ok(())
    }

    fn symlink(&mut self, target: &Path, link: &Path) -> Result<(), SandboxError> {
        let op = Op::Symlink {
            target: cpath(target)?,
            link: cpath(link)?,
        };
        self.push(
            op,
            format!(
                "creating symlink {} -> {}",
                link.display(),
                target.display()
            ),
        );
        Ok(())
    }

    fn chdir(&mut self, path: &Path) -> Result<(), SandboxError> {
        let op = Op::Chdir { path: cpath(path)? };
        self.push(op, format!("changing directory to {}", path.display()));
        Ok(())
    }

    /// Makes sure `target` exists in the container tree as a `kind` (creating missing
    /// components and recording them as stubs) and returns its host path for mounting.
    fn mount_point(&mut self, target: &str, kind: Kind) -> Result<PathBuf, SandboxError> {
        let parts = container_components(target, "mount target")?;
        let lexical: PathBuf = parts.iter().collect();
        if lexical.as_os_str().is_empty() {
            return Err(SandboxError::invalid(
                "a mount target cannot be the container root /",
            ));
        }
        // Inside an earlier mount (a tmpfs, /dev...): nothing reaches the upper directory.
        if self.mounted.iter().any(|m| lexical.starts_with(m)) {
            let mut host = self.root.clone();
            for (n, part) in parts.iter().enumerate() {
                host.push(part);
                if n + 1 == parts.len() && kind != Kind::Dir {
                    self.touch(&host, 0o644)?;
                } else {
                    self.mkdir(&host, 0o755)?;
                }
            }
            self.mounted.push(lexical);
            return Ok(host);
        }
        let resolved = self.union.resolve(target);
        let missing = resolved.missing();
        if !missing.is_empty() {
            // Creating the first missing entry copies every existing ancestor up.
            self.stubs.copied_up.extend(resolved.existing_dirs());
        }
        for (n, rel) in missing.iter().enumerate() {
            let host = self.root.join(rel);
            let is_dir = n + 1 < missing.len() || kind == Kind::Dir;
            if is_dir {
                self.mkdir(&host, 0o755)?;
            } else {
                self.touch(&host, 0o644)?;
            }
            self.stubs.created.push((rel.clone(), is_dir));
        }
        let rel = resolved.rel();
        self.mounted.push(rel.clone());
        Ok(self.root.join(rel))
    }
}

/// Overlay options with every directory given as a short relative symlink name, so the
/// option string stays far below the kernel's one-page limit and needs no escaping.
pub(crate) fn overlay_options(
    lowers: usize,
    extra_lower: Option<&str>,
    upper: bool,
    userxattr: bool,
) -> String {
    let mut names: Vec<String> = (0..lowers).map(|i| i.to_string()).collect();
    if let Some(extra) = extra_lower {
        names.push(extra.to_string());
    }
    let mut data = format!("lowerdir={}", names.join(":"));
    if upper {
        data.push_str(",upperdir=u,workdir=w");
    }
    if userxattr {
        data.push_str(",userxattr");
    }
    data
}

/// Builds the plan for one run. `runtime` is the caller's private, empty host directory
/// (canonical path); the children mount a tmpfs over it. PID 1 first joins `cgroup`,
/// when there is one. Every mount the command can write or that holds layer content is
/// `nodev` (see `super::devices`).
// Long: the mount plan is an ordered list (root, /dev, /proc, /sys,
// hosts, extra mounts, pivot): written top to bottom it reads as the
// order the child performs it, which is what has to be right.
pub(crate) fn prepare(
    spec: &SandboxSpec,
    runtime: &Path,
    source: &RootSource<'_>,
    cgroup: Option<&DeviceCgroup>,
) -> Result<Prepared, SandboxError> {
    let root = runtime.join("root");
    let union_lowers: Vec<PathBuf> = match source {
        RootSource::Overlay { .. } => spec.lower_dirs.clone(),
        RootSource::Copy { root } => vec![root.to_path_buf()],
    };
    let userxattr = matches!(source, RootSource::Overlay { userxattr: true });
    let mut b = Builder {
        ops: Vec::new(),
        steps: Vec::new(),
        union: Union::new(&union_lowers),
        root: root.clone(),
        stubs: Stubs::default(),
        mounted: Vec::new(),
    };
    if let Some(group) = cgroup {
        let op = Op::JoinCgroup {
            procs: group.procs_fd(),
        };
        b.push(op, devices::join_step(group));
    }
    let slash = Path::new("/");
    b.mount(
        None,
        slash,
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
        "making the sandbox's mounts private".into(),
    )?;
    b.mount(
        Some(Path::new("tmpfs")),
        runtime,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("mode=700"),
        format!("mounting a private tmpfs on {}", runtime.display()),
    )?;
    b.mkdir(&root, 0o755)?;
    b.mkdir(&runtime.join("empty"), 0o755)?;

    match source {
        RootSource::Overlay { userxattr } => {
            for (i, lower) in spec.lower_dirs.iter().enumerate() {
                b.symlink(lower, &runtime.join(i.to_string()))?;
            }
            b.symlink(&spec.upper_dir, &runtime.join("u"))?;
            b.symlink(&spec.work_dir, &runtime.join("w"))?;
            b.chdir(runtime)?;
            let extra = spec.lower_dirs.is_empty().then_some("empty");
            let data = overlay_options(spec.lower_dirs.len(), extra, true, *userxattr);
            let op = Op::Mount {
                source: Some(c"overlay".into()),
                target: cpath(&root)?,
                fstype: Some(c"overlay".into()),
                flags: libc::MS_NODEV,
                data: Some(cstr(data.as_bytes(), "overlay options")?),
                overlay: true,
            };
            let lowers: Vec<String> = spec
                .lower_dirs
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            b.push(
                op,
                format!(
                    "mounting overlayfs (lower {}, upper {}, work {})",
                    if lowers.is_empty() {
                        "none".to_string()
                    } else {
                        lowers.join(":")
                    },
                    spec.upper_dir.display(),
                    spec.work_dir.display()
                ),
            );
        }
        RootSource::Copy { root: copy_root } => {
            b.mount(
                Some(copy_root),
                &root,
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
                format!("bind-mounting the private root {}", copy_root.display()),
            )?;
            let op = Op::Remount {
                target: cpath(&root)?,
                flags: libc::MS_NODEV,
            };
            b.push(op, "making the private root nodev".into());
        }
    }

    add_dev(&mut b, spec.shm_size.unwrap_or(DEFAULT_SHM_SIZE))?;
    let proc = b.mount_point("/proc", Kind::Dir)?;
    b.mount(
        Some(Path::new("proc")),
        &proc,
        Some("proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
        "mounting /proc".into(),
    )?;
    let sys = b.mount_point("/sys", Kind::Dir)?;
    let op = Op::Sysfs {
        target: cpath(&sys)?,
        host_sys: c"/sys".into(),
    };
    b.push(op, "mounting /sys read-only".into());

    let hosts = hosts_file(spec);
    let resolv = resolv_conf(spec);
    for (name, content) in [("hosts", hosts), ("resolv.conf", resolv)] {
        let file = runtime.join(name);
        let op = Op::WriteFile {
            path: cpath(&file)?,
            content: content.into_bytes(),
            mode: 0o644,
            owner: None,
        };
        b.push(op, format!("writing {}", file.display()));
        let target = b.mount_point(&format!("/etc/{name}"), Kind::File)?;
        b.mount(
            Some(&file),
            &target,
            None,
            libc::MS_BIND,
            None,
            format!("bind-mounting /etc/{name}"),
        )?;
    }

    for (k, mount) in spec.mounts.iter().enumerate() {
        add_mount(&mut b, runtime, k, mount, userxattr)?;
    }

    let hostname = spec.hostname.as_bytes().to_vec();
    b.push(
        Op::Hostname { name: hostname },
        format!("setting the host name to {:?}", spec.hostname),
    );
    if spec.network == Network::None {
        b.push(Op::LoopbackUp, "bringing up the loopback interface".into());
    }
    b.chdir(&root)?;
    b.push(
        Op::PivotRoot,
        format!("switching the root to {}", root.display()),
    );

    let cwd_parts = container_components(&spec.cwd, "working directory")?;
    let mut cwd = PathBuf::from("/");
    for part in &cwd_parts {
        cwd.push(part);
        let op = Op::Mkdir {
            path: cpath(&cwd)?,
            mode: 0o755,
        };
        b.push(
            op,
            format!("creating the working directory {}", cwd.display()),
        );
    }
    b.chdir(&cwd)?;
    // Inherited by the command (PID 2) across fork and exec.
    for limit in &spec.rlimits {
        let op = Op::Rlimit {
            resource: resource_number(limit.resource),
            soft: limit.soft,
            hard: limit.hard,
        };
        b.push(op, format!("setting the limit --ulimit {limit}"));
    }

    let (argv_store, envp_store, exec_candidates) = command(spec)?;
    let mut argv: Vec<*const libc::c_char> = argv_store.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = envp_store.iter().map(|c| c.as_ptr()).collect();
    envp.push(std::ptr::null());
    let plan = Plan {
        ops: b.ops,
        dev_null: c"/dev/null".into(),
        exec_candidates,
        argv,
        envp,
        uid: spec.user.uid,
        gid: spec.user.gid,
        groups: spec.user.additional_gids.clone(),
        cgroup_procs: cgroup.map_or(-1, DeviceCgroup::procs_fd),
    };
    Ok(Prepared {
        plan,
        steps: b.steps,
        stubs: b.stubs,
        _argv: argv_store,
        _envp: envp_store,
    })
}

/// `/etc/hosts`: the spec's (else localhost and the host name), then the
/// extra entries.
pub(crate) fn hosts_file(spec: &SandboxSpec) -> String {
    let mut text = spec
        .hosts
        .clone()
        .unwrap_or_else(|| default_hosts(&spec.hostname));
    for entry in &spec.extra_hosts {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("{}\t{}\n", entry.ip, entry.name));
    }
    text
}

/// The kernel's number of a resource limit.
fn resource_number(resource: RlimitResource) -> libc::c_int {
    (match resource {
        RlimitResource::Core => libc::RLIMIT_CORE,
        RlimitResource::Cpu => libc::RLIMIT_CPU,
        RlimitResource::Data => libc::RLIMIT_DATA,
        RlimitResource::Fsize => libc::RLIMIT_FSIZE,
        RlimitResource::Locks => libc::RLIMIT_LOCKS,
        RlimitResource::Memlock => libc::RLIMIT_MEMLOCK,
        RlimitResource::Msgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitResource::Nice => libc::RLIMIT_NICE,
        RlimitResource::Nofile => libc::RLIMIT_NOFILE,
        RlimitResource::Nproc => libc::RLIMIT_NPROC,
        RlimitResource::Rss => libc::RLIMIT_RSS,
        RlimitResource::Rtprio => libc::RLIMIT_RTPRIO,
        RlimitResource::Rttime => libc::RLIMIT_RTTIME,
        RlimitResource::Sigpending => libc::RLIMIT_SIGPENDING,
        RlimitResource::Stack => libc::RLIMIT_STACK,
    }) as libc::c_int
}

/// `/etc/hosts` when the spec gives none: localhost and the sandbox's host name.
pub(crate) fn default_hosts(hostname: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback {hostname}\n"
    )
}

/// `/etc/resolv.conf`: the spec's, else the host's for host networking, else empty.
pub(crate) fn resolv_conf(spec: &SandboxSpec) -> String {
    match (&spec.resolv_conf, spec.network) {
        (Some(content), _) => content.clone(),
        (None, Network::Host) => std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        (None, Network::None) => String::new(),
    }
}

/// The stubs an external runtime will create for the spec's mounts (it creates missing
/// mount points itself, with the same in-root symlink resolution).
pub(crate) fn stubs_for_runtime(spec: &SandboxSpec) -> Result<Stubs, SandboxError> {
    let mut b = Builder {
        ops: Vec::new(),
        steps: Vec::new(),
        union: Union::new(&spec.lower_dirs),
        root: PathBuf::from("/"),
        stubs: Stubs::default(),
        mounted: Vec::new(),
    };
    for target in ["/proc", "/dev", "/sys"] {
        b.mount_point(target, Kind::Dir)?;
    }
    b.mount_point("/etc/hosts", Kind::File)?;
    b.mount_point("/etc/resolv.conf", Kind::File)?;
    for mount in &spec.mounts {
        let kind = match mount {
            Mount::Bind { source, .. } if !source.is_dir() => Kind::File,
            Mount::File { .. } => Kind::File,
            _ => Kind::Dir,
        };
        b.mount_point(mount.target(), kind)?;
    }
    Ok(b.stubs)
}

fn add_dev(b: &mut Builder<'_>, shm_size: u64) -> Result<(), SandboxError> {
    let dev = b.mount_point("/dev", Kind::Dir)?;
    b.mount(
        Some(Path::new("tmpfs")),
        &dev,
        Some("tmpfs"),
        // nodev: only the bind-mounted host nodes below (their own mounts) open.
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
        "mounting a tmpfs on /dev".into(),
    )?;
    for name in DEVICES {
        let node = dev.join(name);
        b.touch(&node, 0o666)?;
        let host = Path::new("/dev").join(name);
        b.mount(
            Some(&host),
            &node,
            None,
            libc::MS_BIND,
            None,
            format!("bind-mounting {}", host.display()),
        )?;
    }
    let pts = dev.join("pts");
    b.mkdir(&pts, 0o755)?;
    let op = Op::Devpts {
        target: cpath(&pts)?,
        data: c"newinstance,ptmxmode=0666,mode=0620,gid=5".into(),
        fallback_data: c"newinstance,ptmxmode=0666,mode=0620".into(),
    };
    b.push(op, "mounting /dev/pts".into());
    b.symlink(Path::new("pts/ptmx"), &dev.join("ptmx"))?;
    let shm = dev.join("shm");
    b.mkdir(&shm, 0o755)?;
    b.mount(
        Some(Path::new("shm")),
        &shm,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        Some(&format!("mode=1777,size={shm_size}")),
        format!("mounting /dev/shm ({shm_size} bytes)"),
    )?;
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        b.symlink(Path::new(target), &dev.join(link))?;
    }
    Ok(())
}

// Long: one arm per mount kind, each the ordered steps the child performs
// for it; side by side they show that every kind ends read-only or nodev.
fn add_mount(
    b: &mut Builder<'_>,
    runtime: &Path,
    k: usize,
    mount: &Mount,
    userxattr: bool,
) -> Result<(), SandboxError> {
    match mount {
        Mount::Bind {
            source,
            target,
            readonly,
        } => {
            let md = std::fs::metadata(source)
                .map_err(|e| SandboxError::io("reading the bind mount source", source, e))?;
            let kind = if md.is_dir() { Kind::Dir } else { Kind::File };
            let host = b.mount_point(target, kind)?;
            b.mount(
                Some(source),
                &host,
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
                format!("bind-mounting {} at {target}", source.display()),
            )?;
            let flags = if *readonly {
                libc::MS_NODEV | libc::MS_RDONLY
            } else {
                libc::MS_NODEV
            };
            let op = Op::Remount {
                target: cpath(&host)?,
                flags,
            };
            let what = if *readonly {
                "read-only, nodev"
            } else {
                "nodev"
            };
            b.push(op, format!("making the bind mount at {target} {what}"));
        }
        Mount::Tmpfs { target, size, mode } => {
            let host = b.mount_point(target, Kind::Dir)?;
            let mut data = format!("mode={:o}", mode.unwrap_or(0o1777));
            if let Some(size) = size {
                data.push_str(&format!(",size={size}"));
            }
            b.mount(
                Some(Path::new("tmpfs")),
                &host,
                Some("tmpfs"),
                libc::MS_NOSUID | libc::MS_NODEV,
                Some(&data),
                format!("mounting a tmpfs at {target}"),
            )?;
        }
        Mount::File {
            target,
            data,
            mode,
            owner,
        } => {
            // In the private tmpfs over `runtime`: only this mount namespace has it.
            let file = runtime.join(format!("f{k}"));
            let op = Op::WriteFile {
                path: cpath(&file)?,
                content: data.0.clone(),
                mode: mode & 0o7777,
                owner: Some(*owner),
            };
            b.push(op, format!("writing the file for {target} in memory"));
            let host = b.mount_point(target, Kind::File)?;
            b.mount(
                Some(&file),
                &host,
                None,
                libc::MS_BIND,
                None,
                format!("bind-mounting the file at {target}"),
            )?;
            let op = Op::Remount {
                target: cpath(&host)?,
                flags: libc::MS_RDONLY | libc::MS_NODEV | libc::MS_NOSUID,
            };
            b.push(op, format!("making the file at {target} read-only"));
        }
        Mount::Layers {
            lower_dirs,
            target,
            writable,
        } => {
            let dir = runtime.join(format!("m{k}"));
            b.mkdir(&dir, 0o700)?;
            for (i, lower) in lower_dirs.iter().enumerate() {
                b.symlink(lower, &dir.join(i.to_string()))?;
            }
            if *writable {
                b.mkdir(&dir.join("u"), 0o755)?;
                b.mkdir(&dir.join("w"), 0o700)?;
            }
            // overlayfs needs two lowers when it has no upper, and one at least.
            let extra = (lower_dirs.is_empty() || (!*writable && lower_dirs.len() == 1))
                .then_some("../empty");
            let data = overlay_options(lower_dirs.len(), extra, *writable, userxattr);
            let host = b.mount_point(target, Kind::Dir)?;
            b.chdir(&dir)?;
            let flags = if *writable {
                libc::MS_NODEV
            } else {
                libc::MS_NODEV | libc::MS_RDONLY
            };
            b.mount(
                Some(Path::new("overlay")),
                &host,
                Some("overlay"),
                flags,
                Some(&data),
                format!("mounting layers at {target}"),
            )?;
        }
    }
    Ok(())
}

type Command = (Vec<CString>, Vec<CString>, Vec<CString>);

/// argv, envp and the paths to try for argv[0].
fn command(spec: &SandboxSpec) -> Result<Command, SandboxError> {
    let Some(arg0) = spec.args.first() else {
        return Err(SandboxError::invalid("the command line (args) is empty"));
    };
    if arg0.is_empty() {
        return Err(SandboxError::invalid("the command name (args[0]) is empty"));
    }
    let argv = spec
        .args
        .iter()
        .enumerate()
        .map(|(i, a)| cstr(a.as_bytes(), &format!("argument {i}")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut envp = Vec::with_capacity(spec.env.len());
    for (key, value) in &spec.env {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return Err(SandboxError::invalid(format!(
                "environment variable name {key:?} is empty or contains '=' or NUL"
            )));
        }
        // The value is a possible secret: name only the key.
        let entry = CString::new(format!("{key}={value}")).map_err(|_| {
            SandboxError::invalid(format!(
                "the value of environment variable {key} contains a NUL byte"
            ))
        })?;
        envp.push(entry);
    }
    let candidates = if arg0.contains('/') {
        vec![cstr(arg0.as_bytes(), "args[0]")?]
    } else {
        let path = spec
            .env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map_or(DEFAULT_PATH, |(_, v)| v.as_str());
        path.split(':')
            .map(|dir| {
                let dir = if dir.is_empty() { "." } else { dir };
                cstr(
                    Path::new(dir).join(arg0).as_os_str().as_bytes(),
                    "PATH entry",
                )
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok((argv, envp, candidates))
}

/// The directories searched for `args[0]`, for the not-found error.
pub(crate) fn searched(spec: &SandboxSpec) -> String {
    let arg0 = spec.args.first().map_or("", String::as_str);
    if arg0.contains('/') {
        return arg0.to_string();
    }
    spec.env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map_or(DEFAULT_PATH, |(_, v)| v.as_str())
        .to_string()
}
