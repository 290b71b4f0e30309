//! The Linux RUN executor: runs a Linux stage's RUN in the namespace
//! sandbox (`wharf-sandbox`) on an overlay of the stage's layer snapshots,
//! and packs the overlay upper directory into the RUN's layer.
//!
//! Per RUN: the stage's layers are unpacked once each into the store
//! ([`wharf_build::LayerStore::snapshot`]) and used as overlay lower
//! directories; USER names are resolved from the stage's own
//! `/etc/passwd` and `/etc/group`; the environment is exactly the stage's
//! (ENV and the ARGs in scope), with Docker's default PATH when none is
//! set; the working directory is created when missing; mounts are set up
//! by [`crate::linux_mounts`]. Output is streamed line by line to the
//! build's progress; a failure names the exit code and repeats the last
//! lines of output.

use crate::command::command_line;
use crate::linux_mounts::{prepare, MountInputs};
use crate::output::LineSink;
use crate::users::resolve_user;
use std::path::PathBuf;
use wharf_build::{RunExecutor, RunOutcome, RunRequest, SnapshotXattrs};
use wharf_frontend::ast::{Instruction, Network as RunNetwork, Security};
use wharf_layer::{LinuxLayerOptions, LinuxLayerWriter};
use wharf_platform::Platform;
use wharf_sandbox::{ExitStatus, Ids, LowerKind, LowerView, Network, Runtime, SandboxSpec, Stream};

/// Choices that hold for every RUN of a build.
#[derive(Debug, Clone)]
pub struct LinuxRunSettings {
    /// The network of `RUN` without `--network` (and of `--network=default`).
    pub default_network: Network,
    /// The embedded sandbox, or an external OCI runtime.
    pub runtime: Runtime,
}

impl Default for LinuxRunSettings {
    fn default() -> Self {
        LinuxRunSettings {
            // As `buildah --isolation chroot` and BuildKit without CNI: the
            // host's network, so package managers can reach their mirrors.
            default_network: Network::Host,
            runtime: Runtime::Embedded,
        }
    }
}

/// Runs Linux RUN instructions on this (Linux) host.
#[derive(Debug, Clone, Default)]
pub struct LinuxRunExecutor {
    settings: LinuxRunSettings,
}

impl LinuxRunExecutor {
    pub fn new(settings: LinuxRunSettings) -> Self {
        LinuxRunExecutor { settings }
    }
}

/// Whether this process runs in a user namespace (a rootless build): its
/// overlays then read `user.overlay.*` xattrs.
fn in_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields != ["0", "0", "4294967295"]
        }
        Err(_) => false,
    }
}

fn read_small(path: &std::path::Path) -> Option<String> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let mut s = String::new();
    f.take(8 << 20).read_to_string(&mut s).ok()?;
    Some(s)
}

/// Creates a missing working directory in the upper directory, owned by
/// the RUN's user as BuildKit's WORKDIR makes it (so `USER app` +
/// `WORKDIR /home/app/work` can write there); missing parents are root's,
/// existing ones keep the metadata the lower layers give them (as an
/// overlay copy-up would). Symlinks on the way are followed inside the root.
fn create_workdir(
    view: &LowerView<'_>,
    upper: &std::path::Path,
    workdir: &str,
    (uid, gid): (u32, u32),
) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // An existing path, directory or not (the sandbox reports a file).
    if view.lookup(workdir).is_some() {
        return Ok(());
    }
    let path = view.resolve(workdir);
    let mkdir = |rel: &std::path::Path, mode: u32, (uid, gid): (u32, u32)| {
        let host = upper.join(rel);
        if host.is_dir() {
            return Ok(());
        }
        let fail =
            |e: std::io::Error| format!("creating the working directory {}: {e}", host.display());
        std::fs::create_dir(&host).map_err(fail)?;
        std::fs::set_permissions(&host, std::fs::Permissions::from_mode(mode)).map_err(fail)?;
        std::os::unix::fs::lchown(&host, Some(uid), Some(gid)).map_err(fail)
    };
    for rel in &path.existing_parents {
        match view.metadata(rel) {
            Some(meta) if meta.is_dir() => {
                mkdir(rel, meta.mode() & 0o7777, (meta.uid(), meta.gid()))?
            }
            // A file on the way: the sandbox reports it.
            _ => return Ok(()),
        }
    }
    let last = path.missing.len().saturating_sub(1);
    for (i, rel) in path.missing.iter().enumerate() {
        mkdir(rel, 0o755, if i == last { (uid, gid) } else { (0, 0) })?;
    }
    Ok(())
}

impl RunExecutor for LinuxRunExecutor {
    fn supports(&self, platform: &Platform) -> bool {
        let host = Platform::host();
        cfg!(target_os = "linux")
            && platform.os == "linux"
            && platform.architecture == host.architecture
    }

    fn run(&self, req: &RunRequest<'_>) -> Result<RunOutcome, String> {
        let ins = req.instruction;
        let Instruction::Run(run) = &ins.instruction else {
            return Err("not a RUN instruction".into());
        };
        if run.security == Some(Security::Insecure) {
            return Err(
                "--security=insecure is not supported: wharf runs every RUN without extra privileges".into(),
            );
        }
        let xattrs = if in_user_namespace() {
            SnapshotXattrs::User
        } else {
            SnapshotXattrs::Trusted
        };
        let snapshot = |l: &wharf_build::LayerRef| {
            req.layer_store
                .snapshot(l, xattrs)
                .map_err(|e| format!("unpacking layer {}: {e}", l.descriptor.digest))
        };
        let mut lowers = Vec::with_capacity(req.layers.len());
        for l in req.layers.iter().rev() {
            lowers.push(snapshot(l)?);
        }
        let mut sources: Vec<Option<Vec<PathBuf>>> = Vec::new();
        for s in req.mount_sources {
            sources.push(match s {
                Some(layers) => Some(
                    layers
                        .iter()
                        .rev()
                        .map(snapshot)
                        .collect::<Result<_, _>>()?,
                ),
                None => None,
            });
        }

        // Identity, from the stage's own user database.
        let user = ins
            .user
            .clone()
            .unwrap_or_else(|| req.config.config.user.clone());
        let view = LowerView::new(&lowers);
        let read = |p: &str| {
            let e = view.lookup(p).filter(|e| e.kind == LowerKind::File)?;
            read_small(e.layers.first()?)
        };
        let ids = if user.is_empty() || user == "root" || user == "0" {
            Default::default()
        } else {
            resolve_user(
                &user,
                read("etc/passwd").as_deref(),
                read("etc/group").as_deref(),
            )?
        };

        let shell = ins
            .shell
            .clone()
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
        let cmd = command_line(&run.command, &run.heredocs, &shell)?;

        let workdir = if ins.workdir.is_empty() {
            "/".to_string()
        } else {
            ins.workdir.clone()
        };
        let tmp = req
            .layer_store
            .temp_dir()
            .map_err(|e| format!("creating the sandbox's directories: {e}"))?;
        let upper = tmp.path().join("upper");
        let work = tmp.path().join("work");
        for d in [&upper, &work] {
            std::fs::create_dir(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
        }
        create_workdir(&view, &upper, &workdir, (ids.uid, ids.gid))?;
        let mut prepared = prepare(&MountInputs {
            mounts: &run.mounts,
            sources: &sources,
            context: req.context,
            secrets: req.secrets,
            store_root: req.layer_store.store().root(),
            temp_root: tmp.path(),
            workdir: &workdir,
        })?;
        if let Some((path, content)) = &cmd.script {
            let file = tmp.path().join("script");
            std::fs::write(&file, content)
                .map_err(|e| format!("writing the here-document script: {e}"))?;
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .map_err(|e| format!("writing the here-document script: {e}"))?;
            prepared.mounts.push(wharf_sandbox::Mount::Bind {
                source: file,
                target: path.clone(),
                readonly: true,
            });
        }

        let mut env: Vec<(String, String)> =
            ins.env.clone().unwrap_or_default().into_iter().collect();
        if !env.iter().any(|(k, _)| k == "PATH") {
            env.push(("PATH".into(), wharf_sandbox::DEFAULT_PATH.into()));
        }
        env.append(&mut prepared.env);

        let mut spec = SandboxSpec::new(lowers, upper.clone(), work, cmd.args);
        spec.env = env;
        spec.cwd = workdir;
        spec.user = Ids {
            uid: ids.uid,
            gid: ids.gid,
            additional_gids: ids.additional_gids,
        };
        spec.network = match run.network {
            Some(RunNetwork::None) => Network::None,
            Some(RunNetwork::Host) => Network::Host,
            Some(RunNetwork::Default) | None => self.settings.default_network,
        };
        spec.mounts = std::mem::take(&mut prepared.mounts);
        spec.runtime = self.settings.runtime.clone();

        let mut sink = LineSink::new(req.output);
        let status = wharf_sandbox::run(&spec, &mut |s, b| sink.push(s == Stream::Stderr, b));
        sink.finish();
        drop(prepared);
        let status = status.map_err(|e| e.to_string())?;
        if status != ExitStatus::Code(0) {
            return Err(sink.failure(&status.to_string()));
        }

        if std::fs::read_dir(&upper)
            .map_err(|e| format!("reading {}: {e}", upper.display()))?
            .next()
            .is_none()
        {
            return Ok(RunOutcome::default());
        }
        let opts = LinuxLayerOptions {
            source_date_epoch: req.source_date_epoch,
            owner: None,
            skip_xattrs: false,
        };
        let layer = req
            .layer_store
            .write_layer(|w| {
                let mut lw = LinuxLayerWriter::new(w, opts);
                lw.add_overlay_upper(&upper)?;
                lw.finish()
            })
            .map_err(|e| format!("packing the command's changes: {e}"))?
            .map_err(|e: wharf_layer::Error| format!("packing the command's changes: {e}"))?;
        Ok(RunOutcome {
            layer: Some(layer),
            ran_instead: None,
        })
    }
}
