//! `RUN --mount` in Linux stages: what each Dockerfile mount becomes on
//! the host (a [`RunMount`] for the executor), and the resources that must
//! live until the command ends.
//!
//! - `bind` from the context: the context directory itself (read-only), or
//!   a tree of hard links (copies across filesystems) of what
//!   `.dockerignore` leaves visible; `rw` writes go to a throwaway overlay
//!   upper, never to the context.
//! - `bind` from a stage or image: that chain's snapshots narrowed
//!   to `source`, as a read-only (or throwaway-writable) overlay.
//! - `cache`: a directory per id in the store (`Store::run_cache_dir`),
//!   kept between builds (`wharf prune --cache` empties them);
//!   `sharing=locked` holds an exclusive lock for the run,
//!   `private` uses a fresh directory when another build holds it.
//! - `tmpfs`: a tmpfs.
//! - `secret`: a read-only file of mode `mode` (default 0400) at the
//!   target (default `/run/secrets/<id>`) that the executor keeps in memory
//!   private to the run (a tmpfs of the sandbox's own mount namespace), or
//!   the environment variable `env=`. The value never reaches a disk, the
//!   layer, the configuration, the history, the cache key or the log, and
//!   a killed build leaves no copy behind.
//! - `ssh`: a socket at the target (default `/run/buildkit/ssh_agent.<n>`,
//!   `n` counting ssh mounts) owned by `uid`/`gid` with `mode` (default
//!   0600) that forwards to the agent socket given for the id (`--ssh`,
//!   id `default` when none); the first one's target becomes
//!   `SSH_AUTH_SOCK` unless the stage sets it, as in BuildKit. A missing
//!   agent is an error when `required`, else the mount is left out. Only
//!   the id is in the cache key (the mount's text), never the socket.

use crate::context::{BuildContext, EntryKind};
use crate::secrets::SecretSource;
use std::fs::{self, File};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use wharf_frontend::ast::{CacheSharing, Mount};
use wharf_run::RunMount as SandboxMount;
use wharf_sandbox::{LowerKind, LowerView};
use wharf_store::Store;

/// Mounts ready for the sandbox, and what keeps them valid.
#[derive(Default)]
pub struct PreparedMounts {
    pub mounts: Vec<SandboxMount>,
    /// Secret environment variables (`--mount=type=secret,env=...`).
    pub env: Vec<(String, String)>,
    /// `SSH_AUTH_SOCK` for the command: the first ssh mount's target.
    pub ssh_auth_sock: Option<String>,
    /// Agent forwarders of ssh mounts, stopped after the run.
    agents: Vec<crate::ssh_forward::AgentForward>,
    /// Temporary trees, removed after the run.
    temp_dirs: Vec<tempfile::TempDir>,
    /// Cache locks, released after the run.
    locks: Vec<File>,
}

/// Inputs for [`prepare`].
pub struct MountInputs<'a> {
    pub mounts: &'a [Mount],
    /// Snapshots (top first) of what each mount's `from=` names.
    pub sources: &'a [Option<Vec<PathBuf>>],
    pub context: &'a BuildContext,
    pub secrets: &'a std::collections::BTreeMap<String, SecretSource>,
    /// SSH agent sockets by id (`--ssh`).
    pub ssh_agents: &'a std::collections::BTreeMap<String, PathBuf>,
    /// The store (cache mounts live in it).
    pub store: &'a Store,
    /// Where to make temporary trees (in the store, beside the snapshots).
    pub temp_root: &'a Path,
    /// The working directory, for relative targets.
    pub workdir: &'a str,
}

fn absolute(workdir: &str, target: &str) -> String {
    if target.starts_with('/') {
        target.to_string()
    } else {
        format!("{}/{}", workdir.trim_end_matches('/'), target)
    }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> String {
    format!("{what} {}: {e}", path.display())
}

/// Turns the RUN's mounts into sandbox mounts.
pub fn prepare(inp: &MountInputs<'_>) -> Result<PreparedMounts, String> {
    let mut out = PreparedMounts::default();
    let mut ssh_count = 0;
    for (i, m) in inp.mounts.iter().enumerate() {
        let from = inp.sources.get(i).and_then(|s| s.as_ref());
        match m {
            Mount::Bind {
                target,
                source,
                from: _,
                readwrite,
            } => {
                let target = absolute(inp.workdir, target);
                let rel = source.as_deref().unwrap_or("");
                match from {
                    Some(lowers) => out
                        .mounts
                        .push(stage_mount(lowers, rel, &target, *readwrite)?),
                    None => bind_context(inp, rel, &target, *readwrite, &mut out)?,
                }
            }
            Mount::Cache {
                target,
                id,
                sharing,
                readonly,
                from,
                source: _,
                mode,
                uid,
                gid,
            } => {
                if from.is_some() {
                    return Err(format!(
                        "--mount=type=cache,from={}: seeding a cache from a stage is not supported; drop from= (the cache starts empty) or use type=bind",
                        from.as_deref().unwrap_or_default()
                    ));
                }
                let target = absolute(inp.workdir, target);
                let id = id.clone().unwrap_or_else(|| target.clone());
                let dir = cache_dir(inp, &id, *sharing, (*mode, *uid, *gid), &mut out)?;
                out.mounts.push(SandboxMount::Bind {
                    source: dir,
                    target,
                    readonly: *readonly,
                });
            }
            Mount::Tmpfs { target, size } => out.mounts.push(SandboxMount::Tmpfs {
                target: absolute(inp.workdir, target),
                size: *size,
            }),
            Mount::Secret {
                id,
                target,
                env,
                required,
                mode,
                uid,
                gid,
            } => {
                let id = match (id, target) {
                    (Some(id), _) => id.clone(),
                    (None, Some(t)) => t.rsplit('/').next().unwrap_or(t).to_string(),
                    (None, None) => {
                        return Err("--mount=type=secret needs id= (or target=)".into());
                    }
                };
                let Some(src) = inp.secrets.get(&id) else {
                    if *required {
                        return Err(format!(
                            "secret {id} is required but was not given; pass --secret id={id},src=<file> (or env=<VAR>)"
                        ));
                    }
                    continue;
                };
                let value = src.read(&id)?;
                if let Some(var) = env {
                    let text = String::from_utf8(value.clone())
                        .map_err(|_| format!("secret {id}: env={var} needs a UTF-8 value"))?;
                    out.env.push((var.clone(), text));
                    if target.is_none() {
                        continue;
                    }
                }
                let target = match target {
                    Some(t) => absolute(inp.workdir, t),
                    None => format!("/run/secrets/{id}"),
                };
                out.mounts.push(SandboxMount::File {
                    target,
                    data: wharf_sandbox::FileData(value),
                    mode: mode.unwrap_or(0o400),
                    owner: (uid.unwrap_or(0), gid.unwrap_or(0)),
                });
            }
            Mount::Ssh {
                id,
                target,
                required,
                mode,
                uid,
                gid,
            } => {
                let id = id.as_deref().unwrap_or("default");
                let target = match target {
                    Some(t) => absolute(inp.workdir, t),
                    None => format!("/run/buildkit/ssh_agent.{ssh_count}"),
                };
                ssh_count += 1;
                if out.ssh_auth_sock.is_none() {
                    out.ssh_auth_sock = Some(target.clone());
                }
                let Some(agent) = inp.ssh_agents.get(id) else {
                    if *required {
                        let given = if id == "default" {
                            "--ssh default".to_string()
                        } else {
                            format!("--ssh {id}=SOCKET")
                        };
                        return Err(format!(
                            "--mount=type=ssh,id={id} is required but no agent was given for it; start ssh-agent, ssh-add your key, and pass {given}"
                        ));
                    }
                    continue;
                };
                let forward = crate::ssh_forward::AgentForward::start(
                    agent,
                    mode.unwrap_or(0o600),
                    (uid.unwrap_or(0), gid.unwrap_or(0)),
                )
                .map_err(|e| format!("--mount=type=ssh,id={id}: {e}"))?;
                out.mounts.push(SandboxMount::Bind {
                    source: forward.socket.clone(),
                    target,
                    readonly: false,
                });
                out.agents.push(forward);
            }
        }
    }
    Ok(out)
}

/// A stage's tree (or one file of it) at `target`.
fn stage_mount(
    lowers: &[PathBuf],
    rel: &str,
    target: &str,
    writable: bool,
) -> Result<SandboxMount, String> {
    let target = target.to_string();
    match LowerView::new(lowers).lookup(rel) {
        Some(e) if e.kind == LowerKind::Dir => Ok(SandboxMount::Layers {
            lower_dirs: e.layers,
            target,
            writable,
        }),
        Some(e) if e.kind == LowerKind::File => Ok(SandboxMount::Bind {
            source: e.layers.into_iter().next().unwrap_or_default(),
            target,
            readonly: !writable,
        }),
        Some(_) => Err(format!(
            "--mount source={rel}: not a file or directory in the stage or image named by from="
        )),
        None => Err(format!(
            "--mount source={rel}: not found in the stage or image named by from="
        )),
    }
}

fn bind_context(
    inp: &MountInputs<'_>,
    rel: &str,
    target: &str,
    readwrite: bool,
    out: &mut PreparedMounts,
) -> Result<(), String> {
    let clean = inp
        .context
        .resolve(if rel.is_empty() { "." } else { rel }, true)
        .map_err(|e| e.to_string())?;
    let kind = inp.context.kind(&clean).map_err(|e| e.to_string())?;
    let host = inp.context.host_path(&clean);
    let is_dir = kind == EntryKind::Dir;
    let tree = if is_dir && inp.context.has_ignore_rules() {
        // Only what .dockerignore leaves visible.
        let tmp = tempfile::Builder::new()
            .prefix("bind-")
            .tempdir_in(inp.temp_root)
            .map_err(|e| io("creating a directory in", inp.temp_root, e))?;
        let root = tmp.path().to_path_buf();
        for e in inp
            .context
            .walk(&clean, &|_| false)
            .map_err(|e| e.to_string())?
        {
            let sub = e
                .rel
                .strip_prefix(&clean)
                .unwrap_or(&e.rel)
                .trim_start_matches('/');
            let dst = root.join(sub);
            let src = inp.context.host_path(&e.rel);
            match e.kind {
                EntryKind::Dir => {
                    fs::create_dir_all(&dst).map_err(|er| io("creating", &dst, er))?
                }
                EntryKind::Symlink => {
                    let t = fs::read_link(&src).map_err(|er| io("reading", &src, er))?;
                    std::os::unix::fs::symlink(t, &dst).map_err(|er| io("creating", &dst, er))?
                }
                EntryKind::File => {
                    if fs::hard_link(&src, &dst).is_err() {
                        fs::copy(&src, &dst).map_err(|er| io("copying", &src, er))?;
                    }
                }
                EntryKind::Other => {}
            }
        }
        out.temp_dirs.push(tmp);
        root
    } else {
        host
    };
    out.mounts.push(if is_dir {
        // Through an overlay, so `rw` writes are thrown away and hard
        // links into the context can never be written through.
        SandboxMount::Layers {
            lower_dirs: vec![tree],
            target: target.to_string(),
            writable: readwrite,
        }
    } else if readwrite {
        return Err(format!(
            "--mount=type=bind,source={rel},rw: a single file can only be bound read-only; bind its directory instead"
        ));
    } else {
        SandboxMount::Bind {
            source: tree,
            target: target.to_string(),
            readonly: true,
        }
    });
    Ok(())
}

fn cache_dir(
    inp: &MountInputs<'_>,
    id: &str,
    sharing: CacheSharing,
    (mode, uid, gid): (Option<u32>, Option<u32>, Option<u32>),
    out: &mut PreparedMounts,
) -> Result<PathBuf, String> {
    let base = inp.store.run_cache_dir(id).map_err(|e| e.to_string())?;
    let data = base.join("data");
    let init = |dir: &Path| -> Result<(), String> {
        if !dir.exists() {
            fs::create_dir(dir).map_err(|e| io("creating", dir, e))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(mode.unwrap_or(0o755)))
                .map_err(|e| io("setting the mode of", dir, e))?;
            if uid.is_some() || gid.is_some() {
                std::os::unix::fs::chown(dir, uid, gid).map_err(|e| io("chown", dir, e))?;
            }
        }
        Ok(())
    };
    match sharing {
        CacheSharing::Shared => {}
        CacheSharing::Locked | CacheSharing::Private => {
            let lock_path = base.join("lock");
            let lock = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(&lock_path)
                .map_err(|e| io("opening", &lock_path, e))?;
            let flags = if sharing == CacheSharing::Locked {
                rustix::fs::FlockOperation::LockExclusive
            } else {
                rustix::fs::FlockOperation::NonBlockingLockExclusive
            };
            if rustix::fs::flock(&lock, flags).is_err() {
                // Private and in use: this run gets a fresh, throwaway cache.
                let tmp = tempfile::Builder::new()
                    .prefix("cache-")
                    .tempdir_in(inp.temp_root)
                    .map_err(|e| io("creating a directory in", inp.temp_root, e))?;
                let dir = tmp.path().join("data");
                init(&dir)?;
                out.temp_dirs.push(tmp);
                return Ok(dir);
            }
            out.locks.push(lock);
        }
    }
    init(&data)?;
    Ok(data)
}
