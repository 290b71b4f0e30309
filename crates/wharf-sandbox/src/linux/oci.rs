//! The external OCI runtime path (`runc`): the same sandbox described as an OCI runtime
//! bundle and started with `<program> run --bundle <dir> <id>`.
//!
//! The overlay root and any `Layers` mounts are mounted in a private mount namespace
//! created for the runtime process (in its pre-exec hook, with the same prepared,
//! allocation-free steps as the embedded sandbox), so nothing is ever mounted in the
//! caller's namespace and everything disappears when the runtime exits. The runtime
//! creates the mount points itself; they are removed from the upper directory
//! afterwards exactly as for the embedded runtime.
//!
//! Limits: not available under [`crate::enter_rootless`] (runc's rootless mode needs its
//! own cgroup and uid-map setup), no copy fallback when overlayfs is refused, and a
//! command killed by signal N is reported as exit code 128+N, as runc reports it.
//! `crun` 1.x trips over hybrid cgroup hierarchies on some kernels; `runc` is tested.

use std::collections::HashSet;
use std::ffi::CString;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;

use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxDeviceCgroup,
    LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxResourcesBuilder, Mount as OciMount, MountBuilder, PosixRlimit, PosixRlimitBuilder,
    PosixRlimitType, ProcessBuilder, RootBuilder, Spec, UserBuilder,
};

use super::child::{run_op, Op};
use super::devices::ALLOWED;
use super::plan::{self, cstr};
use super::union::Union;
use super::{in_user_namespace, pump, registry, unregister, Running, RuntimeDir, NEXT_ID};
use crate::{ExitStatus, Mount, Network, SandboxError, SandboxSpec, Stream, DEFAULT_SHM_SIZE};

/// Docker's default capability set, which build steps expect (chown, setuid...),
/// without MKNOD (see `super::devices`).
const CAPABILITIES: [Capability; 13] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

fn runtime_error(program: &Path, what: impl Into<String>) -> SandboxError {
    SandboxError::ExternalRuntime {
        program: program.to_path_buf(),
        what: what.into(),
    }
}

fn oci_error(program: &Path, e: impl std::fmt::Display) -> SandboxError {
    runtime_error(
        program,
        format!("building the OCI runtime configuration: {e}"),
    )
}

fn cpath(path: &Path) -> Result<CString, SandboxError> {
    cstr(
        path.as_os_str().as_bytes(),
        &format!("path {}", path.display()),
    )
}

/// Kills and deletes a container (for `cancel_all`).
pub(crate) fn kill(program: &Path, id: &str) {
    let _ = Command::new(program)
        .args(["delete", "-f", id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn bind(destination: &str, source: &Path, options: &[&str]) -> Result<OciMount, String> {
    MountBuilder::default()
        .destination(destination)
        .typ("bind")
        .source(source)
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(|e| e.to_string())
}

fn fs_mount(destination: &str, typ: &str, options: &[&str]) -> Result<OciMount, String> {
    MountBuilder::default()
        .destination(destination)
        .typ(typ)
        .source(typ)
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(|e| e.to_string())
}

/// Mounts of the container: the usual /proc, /dev, /sys set, /etc/hosts and
/// /etc/resolv.conf, then the spec's mounts (`Layers` mounts come from `layer_roots`).
fn mounts(
    spec: &SandboxSpec,
    runtime: &Path,
    layer_roots: &[PathBuf],
) -> Result<Vec<OciMount>, String> {
    let mut out = vec![
        fs_mount("/proc", "proc", &["nosuid", "noexec", "nodev"])?,
        fs_mount(
            "/dev",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        fs_mount(
            "/dev/pts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        fs_mount(
            "/dev/shm",
            "tmpfs",
            &[
                "nosuid",
                "noexec",
                "nodev",
                "mode=1777",
                &format!("size={}", spec.shm_size.unwrap_or(DEFAULT_SHM_SIZE)),
            ],
        )?,
        fs_mount("/dev/mqueue", "mqueue", &["nosuid", "noexec", "nodev"])?,
        fs_mount("/sys", "sysfs", &["nosuid", "noexec", "nodev", "ro"])?,
        bind("/etc/hosts", &runtime.join("hosts"), &["rbind", "rw"])?,
        bind(
            "/etc/resolv.conf",
            &runtime.join("resolv.conf"),
            &["rbind", "rw"],
        )?,
    ];
    let mut layers = layer_roots.iter();
    for (k, mount) in spec.mounts.iter().enumerate() {
        out.push(match mount {
            Mount::File { target, .. } => bind(
                target,
                &memory_file(runtime, k),
                &["bind", "ro", "nodev", "nosuid"],
            )?,
            Mount::Bind {
                source,
                target,
                readonly,
            } => bind(
                target,
                source,
                &["rbind", "nodev", if *readonly { "ro" } else { "rw" }],
            )?,
            Mount::Tmpfs { target, size, mode } => {
                let mut options = vec!["nosuid".to_string(), "nodev".to_string()];
                options.push(format!("mode={:o}", mode.unwrap_or(0o1777)));
                if let Some(size) = size {
                    options.push(format!("size={size}"));
                }
                MountBuilder::default()
                    .destination(target)
                    .typ("tmpfs")
                    .source("tmpfs")
                    .options(options)
                    .build()
                    .map_err(|e| e.to_string())?
            }
            Mount::Layers {
                target, writable, ..
            } => {
                let root = layers.next().ok_or("internal: missing layer root")?;
                bind(
                    target,
                    root,
                    &["rbind", "nodev", if *writable { "rw" } else { "ro" }],
                )?
            }
        });
    }
    Ok(out)
}

/// The device cgroup rules: deny everything, then read and write (no mknod) on the
/// allowed devices; the runtime applies them (cgroup v1, or a BPF filter on v2).
fn device_rules() -> Result<Vec<LinuxDeviceCgroup>, String> {
    let deny = LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()
        .map_err(|e| e.to_string())?;
    let mut rules = vec![deny];
    for device in ALLOWED {
        let mut rule = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(i64::from(device.major))
            .access("rw");
        if let Some(minor) = device.minor {
            rule = rule.minor(i64::from(minor));
        }
        rules.push(rule.build().map_err(|e| e.to_string())?);
    }
    Ok(rules)
}

/// `process.rlimits`: the spec's limits by their OCI names.
fn rlimits(spec: &SandboxSpec) -> Result<Vec<PosixRlimit>, String> {
    spec.rlimits
        .iter()
        .map(|l| {
            let typ: PosixRlimitType = l
                .resource
                .oci_name()
                .parse()
                .map_err(|e| format!("{}: {e}", l.resource.oci_name()))?;
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(l.soft)
                .hard(l.hard)
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// The OCI runtime configuration for the spec, with `rootfs` as the root.
fn config(
    spec: &SandboxSpec,
    runtime: &Path,
    rootfs: &Path,
    layer_roots: &[PathBuf],
) -> Result<Spec, String> {
    let caps: HashSet<Capability> = CAPABILITIES.into_iter().collect();
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .build()
        .map_err(|e| e.to_string())?;
    let user = UserBuilder::default()
        .uid(spec.user.uid)
        .gid(spec.user.gid)
        .additional_gids(spec.user.additional_gids.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let process = ProcessBuilder::default()
        .terminal(false)
        .user(user)
        .args(spec.args.clone())
        .env(
            spec.env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
        )
        .cwd(&spec.cwd)
        .capabilities(capabilities)
        .rlimits(rlimits(spec)?)
        .no_new_privileges(false)
        .build()
        .map_err(|e| e.to_string())?;
    let mut kinds = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
    ];
    if spec.network == Network::None {
        kinds.push(LinuxNamespaceType::Network);
    }
    let namespaces = kinds
        .into_iter()
        .map(|typ| {
            LinuxNamespaceBuilder::default()
                .typ(typ)
                .build()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let resources = LinuxResourcesBuilder::default()
        .devices(device_rules()?)
        .build()
        .map_err(|e| e.to_string())?;
    let linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .resources(resources)
        .masked_paths(oci_spec::runtime::get_default_maskedpaths())
        .readonly_paths(oci_spec::runtime::get_default_readonly_paths())
        .build()
        .map_err(|e| e.to_string())?;
    let root = RootBuilder::default()
        .path(rootfs)
        .readonly(false)
        .build()
        .map_err(|e| e.to_string())?;
    let mut config = Spec::default();
    config.set_version("1.0.2".to_string());
    config.set_process(Some(process));
    config.set_root(Some(root));
    config.set_hostname(Some(spec.hostname.clone()));
    config.set_mounts(Some(mounts(spec, runtime, layer_roots)?));
    config.set_linux(Some(linux));
    config.set_annotations(None);
    Ok(config)
}

/// Where the content of the `File` mount number `k` is written: in the tmpfs the
/// runtime's private mount namespace has at `<runtime>/t`, so it never reaches a disk
/// and disappears with the runtime process.
fn memory_file(runtime: &Path, k: usize) -> PathBuf {
    runtime.join("t").join(format!("f{k}"))
}

/// Mount steps for the runtime's private namespace: the overlay root and the merged
/// trees of `Layers` mounts, under a tmpfs at `<runtime>/t`, and the files of `File`
/// mounts.
struct MountOps {
    ops: Vec<Op>,
    userxattr: bool,
}

impl MountOps {
    /// Adds an overlay of `lowers` (with an upper and work directory when writable)
    /// mounted at `<dir>/merged`, and returns that path.
    fn overlay(
        &mut self,
        dir: &Path,
        lowers: &[PathBuf],
        upper: Option<(&Path, &Path)>,
    ) -> Result<PathBuf, SandboxError> {
        self.ops.push(Op::Mkdir {
            path: cpath(dir)?,
            mode: 0o755,
        });
        for (i, lower) in lowers.iter().enumerate() {
            self.ops.push(Op::Symlink {
                target: cpath(lower)?,
                link: cpath(&dir.join(i.to_string()))?,
            });
        }
        if let Some((u, w)) = upper {
            self.ops.push(Op::Symlink {
                target: cpath(u)?,
                link: cpath(&dir.join("u"))?,
            });
            self.ops.push(Op::Symlink {
                target: cpath(w)?,
                link: cpath(&dir.join("w"))?,
            });
        }
        let merged = dir.join("merged");
        self.ops.push(Op::Mkdir {
            path: cpath(&merged)?,
            mode: 0o755,
        });
        self.ops.push(Op::Chdir { path: cpath(dir)? });
        // overlayfs needs one lower at least, and two when it has no upper.
        let extra =
            (lowers.is_empty() || (upper.is_none() && lowers.len() == 1)).then_some("../empty");
        let data = plan::overlay_options(lowers.len(), extra, upper.is_some(), self.userxattr);
        self.ops.push(Op::Mount {
            source: Some(c"overlay".into()),
            target: cpath(&merged)?,
            fstype: Some(c"overlay".into()),
            // The runtime's bind of the root keeps this: layer device nodes never open.
            flags: libc::MS_NODEV,
            data: Some(cstr(data.as_bytes(), "overlay options")?),
            overlay: true,
        });
        Ok(merged)
    }
}

/// The steps, the root filesystem path and the merged root of each `Layers` mount.
type Mounted = (Vec<Op>, PathBuf, Vec<PathBuf>);

fn mount_ops(spec: &SandboxSpec, runtime: &Path, userxattr: bool) -> Result<Mounted, SandboxError> {
    let t = runtime.join("t");
    std::fs::create_dir(&t).map_err(|e| SandboxError::io("creating", &t, e))?;
    let ops = vec![
        Op::Mount {
            source: None,
            target: c"/".into(),
            fstype: None,
            flags: libc::MS_REC | libc::MS_PRIVATE,
            data: None,
            overlay: false,
        },
        Op::Mount {
            source: Some(c"tmpfs".into()),
            target: cpath(&t)?,
            fstype: Some(c"tmpfs".into()),
            flags: libc::MS_NOSUID | libc::MS_NODEV,
            data: Some(c"mode=700".into()),
            overlay: false,
        },
        Op::Mkdir {
            path: cpath(&t.join("empty"))?,
            mode: 0o755,
        },
    ];
    let mut m = MountOps { ops, userxattr };
    let rootfs = m.overlay(
        &t.join("root"),
        &spec.lower_dirs,
        Some((&spec.upper_dir, &spec.work_dir)),
    )?;
    let mut layer_roots = Vec::new();
    for (k, mount) in spec.mounts.iter().enumerate() {
        if let Mount::File {
            data, mode, owner, ..
        } = mount
        {
            m.ops.push(Op::WriteFile {
                path: cpath(&memory_file(runtime, k))?,
                content: data.0.clone(),
                mode: mode & 0o7777,
                owner: Some(*owner),
            });
        }
        if let Mount::Layers {
            lower_dirs,
            writable,
            ..
        } = mount
        {
            let dir = t.join(format!("m{k}"));
            let root = if *writable {
                // The throwaway upper lives in the runtime's tmpfs and vanishes with it.
                let (su, sw) = (t.join(format!("m{k}-upper")), t.join(format!("m{k}-work")));
                m.ops.push(Op::Mkdir {
                    path: cpath(&su)?,
                    mode: 0o755,
                });
                m.ops.push(Op::Mkdir {
                    path: cpath(&sw)?,
                    mode: 0o700,
                });
                m.overlay(&dir, lower_dirs, Some((&su, &sw)))?
            } else {
                m.overlay(&dir, lower_dirs, None)?
            };
            layer_roots.push(root);
        }
    }
    Ok((m.ops, rootfs, layer_roots))
}

pub(crate) fn run(
    spec: &SandboxSpec,
    program: &Path,
    output: &mut dyn FnMut(Stream, &[u8]),
) -> Result<ExitStatus, SandboxError> {
    let userxattr = in_user_namespace();
    if userxattr {
        return Err(runtime_error(
            program,
            "external runtimes are not supported in rootless mode; use the embedded runtime",
        ));
    }
    let runtime = RuntimeDir::new()?;
    let (ops, rootfs, layer_roots) = mount_ops(spec, &runtime.path, userxattr)?;
    let hosts = plan::hosts_file(spec);
    let resolv = plan::resolv_conf(spec);
    for (name, content) in [("hosts", hosts), ("resolv.conf", resolv)] {
        let path = runtime.path.join(name);
        std::fs::write(&path, content).map_err(|e| SandboxError::io("writing", &path, e))?;
    }
    let bundle = runtime.path.join("bundle");
    std::fs::create_dir(&bundle)
        .map_err(|e| SandboxError::io("creating the bundle directory", &bundle, e))?;
    let config =
        config(spec, &runtime.path, &rootfs, &layer_roots).map_err(|e| oci_error(program, e))?;
    let config_path = bundle.join("config.json");
    let json = serde_json::to_vec_pretty(&config).map_err(|e| oci_error(program, e))?;
    std::fs::write(&config_path, json).map_err(|e| SandboxError::io("writing", &config_path, e))?;

    let stubs = plan::stubs_for_runtime(spec)?;
    let id = format!(
        "wharf-{}-{}",
        std::process::id(),
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    );
    let mut command = Command::new(program);
    command
        .arg("run")
        .arg("--bundle")
        .arg(&bundle)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the hook runs between fork and exec and only makes system calls on the
    // prepared ops (no allocation), as in the embedded sandbox.
    unsafe {
        command.pre_exec(move || {
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return Err(io::Error::last_os_error());
            }
            for op in &ops {
                run_op(op).map_err(io::Error::from_raw_os_error)?;
            }
            Ok(())
        });
    }
    let run_id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut child = {
        let mut reg = registry();
        let child = command.spawn().map_err(|e| {
            runtime_error(
                program,
                format!("starting `run` failed: {e}; install it (Debian package runc) or check the overlay directories"),
            )
        })?;
        reg.running.push((
            run_id,
            Running::External {
                program: program.to_path_buf(),
                id: id.clone(),
            },
        ));
        child
    };
    let stdout: OwnedFd = child
        .stdout
        .take()
        .map(Into::into)
        .ok_or_else(|| runtime_error(program, "no stdout pipe"))?;
    let stderr: OwnedFd = child
        .stderr
        .take()
        .map(Into::into)
        .ok_or_else(|| runtime_error(program, "no stderr pipe"))?;
    let pumped = pump(stdout, stderr, output);
    let status = child.wait();
    let cancelled = unregister(run_id);
    kill(program, &id);
    stubs.remove(&spec.upper_dir, &Union::new(&spec.lower_dirs))?;
    pumped.map_err(|e| SandboxError::io("reading the command's output", "pipe", e))?;
    let status = status.map_err(|e| runtime_error(program, format!("waiting for `run`: {e}")))?;
    if cancelled {
        return Err(SandboxError::Cancelled);
    }
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => Ok(ExitStatus::Code(code)),
        (None, Some(sig)) => Err(runtime_error(
            program,
            format!("the runtime itself was killed by signal {sig}"),
        )),
        _ => Err(runtime_error(program, "the runtime ended without a status")),
    }
}
