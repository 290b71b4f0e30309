//! The Linux RUN executor: one command in the namespace sandbox
//! (`wharf-sandbox`) on an overlay of the stage's unpacked layers; the
//! overlay's upper directory is the change.
//!
//! Lower layers are unpacked snapshots ([`LinuxRunExecutor::prepare_lower`]):
//! each layer applied once into its own directory, its deletions kept as
//! overlayfs reads them (0/0 character devices, an `overlay.opaque`
//! xattr), so a stage's root is the overlay of its layers' snapshots, top
//! first, with nothing merged or copied. A snapshot is unpacked into a
//! staging directory and renamed into place, so a half-unpacked tree is
//! never used, and two builds unpacking one layer at once both end with
//! the same tree. Overlays mounted in a user namespace (rootless builds)
//! read `user.` xattrs instead of `trusted.` ones.
//!
//! Per RUN, the working directory is created in the upper directory when
//! the layers lack it, owned by the RUN's user, as BuildKit's executor does.
//!
//! A layer need not list the parents of its entries (Wharf's COPY layers
//! do not, so that `/tmp` keeps its 1777). Unpacked alone, such a parent
//! becomes a 0755 root directory in the layer's snapshot, and an overlay
//! shows the topmost copy of a directory's owner and mode: it would hide
//! the real `/tmp` below. The unpacker lists those directories beside the
//! snapshot (`<snapshot>.implicit`), and each RUN gets one more lower on
//! top holding just those directories with the owner, mode and time of
//! the layer below that really has them.

use crate::output::LineSink;
use crate::seam::{
    Command, LowerForm, LowerLayer, RunChange, RunError, RunExecutor, RunMount, RunNetwork,
    RunSpec, RunUser,
};
use std::fs;
use std::path::Path;
use wharf_oci::Platform;
use wharf_sandbox::{ExitStatus, Ids, LowerView, Network, Runtime, SandboxSpec, Stream};

/// Choices that hold for every RUN of a build.
#[derive(Debug, Clone)]
pub struct LinuxRunSettings {
    /// The network of `RUN` without `--network` (and of `--network=default`).
    pub default_network: Network,
    /// The embedded sandbox, or an external OCI runtime.
    pub runtime: Runtime,
    /// Why no command can run here (a plain user without user
    /// namespaces), as the sentence every Linux RUN is refused with at
    /// plan time; `None` where commands run.
    pub unavailable: Option<String>,
}

impl Default for LinuxRunSettings {
    fn default() -> Self {
        LinuxRunSettings {
            // As `buildah --isolation chroot` and BuildKit without CNI: the
            // host's network, so package managers can reach their mirrors.
            default_network: Network::Host,
            runtime: Runtime::Embedded,
            unavailable: None,
        }
    }
}

/// Runs Linux RUN commands on this (Linux) host.
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
    match fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields != ["0", "0", "4294967295"]
        }
        Err(_) => false,
    }
}

/// Creates a missing working directory in the upper directory, owned by
/// the RUN's user as BuildKit's WORKDIR makes it (so `USER app` +
/// `WORKDIR /home/app/work` can write there); missing parents are root's,
/// existing ones keep the metadata the lower layers give them (as an
/// overlay copy-up would). Symlinks on the way are followed inside the root.
fn create_workdir(
    view: &LowerView<'_>,
    upper: &Path,
    workdir: &str,
    (uid, gid): (u32, u32),
) -> Result<(), RunError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // An existing path, directory or not (the sandbox reports a file).
    if view.lookup(workdir).is_some() {
        return Ok(());
    }
    let path = view.resolve(workdir);
    let mkdir = |rel: &Path, mode: u32, (uid, gid): (u32, u32)| {
        let host = upper.join(rel);
        if host.is_dir() {
            return Ok(());
        }
        let fail = |e| RunError::io("creating the working directory", &host, e);
        fs::create_dir(&host).map_err(fail)?;
        fs::set_permissions(&host, fs::Permissions::from_mode(mode)).map_err(fail)?;
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

/// Where the list of `snapshot`'s implicit directories is kept.
fn implicit_list_path(snapshot: &Path) -> std::path::PathBuf {
    let mut name = snapshot.as_os_str().to_os_string();
    name.push(".implicit");
    name.into()
}

/// Makes `into` a lower that gives every directory some snapshot of
/// `lowers` (top first) holds only as a parent the owner, mode and time of
/// the lower below that really has it. `false` when nothing needed it.
fn restore_implicit_dirs(
    lowers: &[std::path::PathBuf],
    view: &LowerView<'_>,
    into: &Path,
) -> Result<bool, RunError> {
    use std::collections::{HashMap, HashSet};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let lists: Vec<HashSet<Vec<u8>>> = lowers
        .iter()
        .map(|l| {
            fs::read(implicit_list_path(l))
                .map(|b| b.split(|c| *c == 0).map(<[u8]>::to_vec).collect())
                .unwrap_or_default()
        })
        .collect();
    let mut wanted: Vec<Vec<u8>> = lists.iter().flatten().cloned().collect();
    wanted.sort_by_key(|p| (p.iter().filter(|b| **b == b'/').count(), p.clone()));
    wanted.dedup();
    // (mode, uid, gid, mtime) per directory made in `into`.
    let mut made: HashMap<Vec<u8>, (u32, u32, u32, i64)> = HashMap::new();
    for rel in wanted {
        let path = Path::new(std::ffi::OsStr::from_bytes(&rel));
        // Only where the topmost copy is an implicit one.
        let holders: Vec<usize> = (0..lowers.len())
            .filter(|i| fs::symlink_metadata(lowers[*i].join(path)).is_ok_and(|m| m.is_dir()))
            .collect();
        let Some(&top) = holders.first() else {
            continue;
        };
        if !lists[top].contains(&rel) {
            continue;
        }
        let Some(real) = holders
            .iter()
            .find(|i| !lists[**i].contains(&rel))
            .and_then(|i| fs::symlink_metadata(lowers[*i].join(path)).ok())
        else {
            continue;
        };
        // Parents in `into` show the metadata the view gives them.
        let mut prefix = std::path::PathBuf::new();
        for c in path.parent().into_iter().flat_map(Path::components) {
            prefix.push(c);
            let key = prefix.as_os_str().as_bytes().to_vec();
            if made.contains_key(&key) {
                continue;
            }
            let Some(m) = view.metadata(&prefix) else {
                break;
            };
            let meta = (m.mode() & 0o7777, m.uid(), m.gid(), m.mtime());
            make_dir_as(&into.join(&prefix), meta)?;
            made.insert(key, meta);
        }
        let meta = (real.mode() & 0o7777, real.uid(), real.gid(), real.mtime());
        make_dir_as(&into.join(path), meta)?;
        made.insert(rel, meta);
    }
    // Times last: making children changes a directory's mtime.
    for (rel, (.., mtime)) in &made {
        let p = into.join(std::ffi::OsStr::from_bytes(rel));
        let t = fs::FileTimes::new().set_modified(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs((*mtime).max(0) as u64),
        );
        if let Ok(f) = fs::File::open(&p) {
            let _ = f.set_times(t);
        }
    }
    Ok(!made.is_empty())
}

fn make_dir_as(path: &Path, (mode, uid, gid, _): (u32, u32, u32, i64)) -> Result<(), RunError> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |e| RunError::io("making a lower directory", path, e);
    match fs::create_dir_all(path) {
        Ok(()) => {}
        Err(e) => return Err(fail(e)),
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(fail)?;
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(fail)
}

impl RunExecutor for LinuxRunExecutor {
    fn supports(&self, platform: &Platform) -> bool {
        platform.os == "linux"
    }

    /// Refused where this host gives no way to run a sandbox (a plain user
    /// without user namespaces); another architecture runs under emulation
    /// when binfmt_misc has a usable handler for it (`binfmt`), otherwise
    /// the build is refused with the fix named.
    fn check_platform(&self, platform: &Platform) -> Result<(), String> {
        if let Some(reason) = &self.settings.unavailable {
            return Err(reason.clone());
        }
        crate::binfmt::check_emulation(platform, std::path::Path::new(crate::binfmt::BINFMT_DIR))
    }

    fn lower_form(&self) -> LowerForm {
        if in_user_namespace() {
            LowerForm::SnapshotUser
        } else {
            LowerForm::SnapshotTrusted
        }
    }

    fn prepare_lower(&self, layer: &LowerLayer<'_>) -> Result<(), RunError> {
        let lower_err = |reason: String| RunError::Lower {
            digest: layer.digest.to_string(),
            reason,
        };
        let tmp = tempfile::Builder::new()
            .prefix(".unpacking-")
            .tempdir_in(layer.staging)
            .map_err(|e| RunError::io("creating a directory in", layer.staging, e))?;
        let tree = tmp.path().join("tree");
        fs::create_dir(&tree).map_err(|e| RunError::io("creating", &tree, e))?;
        let prefix = match self.lower_form() {
            LowerForm::SnapshotUser => "user.",
            _ => "trusted.",
        };
        let opts = wharf_layer::ApplyOptions {
            whiteouts: wharf_layer::WhiteoutStyle::Overlay {
                xattr_prefix: prefix.to_string(),
            },
            ..Default::default()
        };
        let report = wharf_layer::apply_layer_file(layer.blob, &tree, &opts)
            .map_err(|e| lower_err(e.to_string()))?;
        // The list is in place before the snapshot: a snapshot without one
        // has no implicit directories.
        if !report.implicit_dirs.is_empty() {
            let list = tmp.path().join("implicit");
            fs::write(&list, report.implicit_dirs.join(&0u8))
                .map_err(|e| RunError::io("writing", &list, e))?;
            let to = implicit_list_path(layer.dest);
            fs::rename(&list, &to).map_err(|e| RunError::io("renaming into place", &to, e))?;
        }
        match fs::rename(&tree, layer.dest) {
            Ok(()) => Ok(()),
            // Another build finished the same snapshot first.
            Err(_) if layer.dest.is_dir() => Ok(()),
            Err(e) => Err(RunError::io("renaming into place", layer.dest, e)),
        }
    }

    fn run(&self, spec: &RunSpec<'_>) -> Result<RunChange, RunError> {
        if let Some(reason) = &self.settings.unavailable {
            return Err(RunError::Unsupported(reason.clone()));
        }
        let Command::Argv(args) = &spec.command else {
            return Err(RunError::Unsupported(
                "a Linux RUN takes an argument vector, not a Windows command line".into(),
            ));
        };
        let RunUser::Ids {
            uid,
            gid,
            additional_gids,
        } = &spec.user
        else {
            return Err(RunError::Unsupported(
                "a Linux RUN runs as numeric ids, not a Windows account".into(),
            ));
        };
        let upper = spec.scratch.join("upper");
        let work = spec.scratch.join("work");
        for d in [&upper, &work] {
            fs::create_dir(d).map_err(|e| RunError::io("creating", d, e))?;
        }
        let view = LowerView::new(&spec.lowers);
        create_workdir(&view, &upper, &spec.cwd, (*uid, *gid))?;
        let mut lowers = spec.lowers.clone();
        let parents = spec.scratch.join("parents");
        if restore_implicit_dirs(&spec.lowers, &view, &parents)? {
            lowers.insert(0, parents);
        }

        let mut sandbox = SandboxSpec::new(lowers, upper.clone(), work, args.clone());
        sandbox.env = spec.env.clone();
        sandbox.cwd = spec.cwd.clone();
        sandbox.user = Ids {
            uid: *uid,
            gid: *gid,
            additional_gids: additional_gids.clone(),
        };
        sandbox.network = match spec.network {
            RunNetwork::None => Network::None,
            RunNetwork::Host => Network::Host,
            RunNetwork::Default => self.settings.default_network,
        };
        sandbox.mounts = spec.mounts.iter().map(sandbox_mount).collect();
        sandbox.extra_hosts = spec.options.extra_hosts.clone();
        sandbox.shm_size = spec.options.shm_size;
        sandbox.rlimits = spec.options.rlimits.clone();
        sandbox.runtime = self.settings.runtime.clone();

        let mut sink = LineSink::new(spec.output);
        let status = wharf_sandbox::run(&sandbox, &mut |s, b| sink.push(s == Stream::Stderr, b));
        sink.finish();
        let status = status.map_err(|e| RunError::Sandbox(e.to_string()))?;
        if status != ExitStatus::Code(0) {
            return Err(sink.failure(&status.to_string()));
        }
        let empty = fs::read_dir(&upper)
            .map_err(|e| RunError::io("reading", &upper, e))?
            .next()
            .is_none();
        Ok(if empty {
            RunChange::Nothing
        } else {
            RunChange::Upper(upper)
        })
    }

    fn cancel_all(&self) {
        wharf_sandbox::cancel_all();
    }
}

fn sandbox_mount(m: &RunMount) -> wharf_sandbox::Mount {
    match m {
        RunMount::Bind {
            source,
            target,
            readonly,
        } => wharf_sandbox::Mount::Bind {
            source: source.clone(),
            target: target.clone(),
            readonly: *readonly,
        },
        RunMount::Layers {
            lower_dirs,
            target,
            writable,
        } => wharf_sandbox::Mount::Layers {
            lower_dirs: lower_dirs.clone(),
            target: target.clone(),
            writable: *writable,
        },
        RunMount::Tmpfs { target, size } => wharf_sandbox::Mount::Tmpfs {
            target: target.clone(),
            size: *size,
            mode: None,
        },
        RunMount::File {
            target,
            data,
            mode,
            owner,
        } => wharf_sandbox::Mount::File {
            target: target.clone(),
            data: data.clone(),
            mode: *mode,
            owner: *owner,
        },
    }
}
